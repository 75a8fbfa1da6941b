/**
 * Opens the node's database: PGlite (embedded PostgreSQL, files under the data directory) when no
 * database URL is configured, a PostgreSQL server when one is. Both run the same migrations and the
 * same Kysely queries; only the driver differs.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { OpenPrumError } from '../errors/index.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import type { Schema } from './schema.ts';
import { typeParsers } from './type-parsers.ts';

export interface DatabaseOptions {
  /** postgres://… of a PostgreSQL server. When absent, PGlite is used. */
  readonly databaseUrl?: string | undefined;
  /** Folder of PGlite's files; absent means an in-memory database (tests). */
  readonly pgliteDir?: string | undefined;
  /** Largest number of pooled server connections (PostgreSQL only). */
  readonly poolSize?: number | undefined;
}

export interface Database {
  readonly db: Kysely<Schema>;
  readonly kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 10);
  return openPGlite(options.pgliteDir);
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OpenPrumError('config-invalid', 'DATABASE_URL is not a valid URL; expected postgres://user:password@host:port/database');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new OpenPrumError('config-invalid', `DATABASE_URL must start with postgres:// (got ${parsed.protocol}//)`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Every session in UTC: timestamptz values come back as ...Z strings (see type-parsers.ts).
    options: '-c TimeZone=UTC',
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        typeParsers[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // A server that is down should fail start-up with a clear message, not on the first request.
  try {
    const client = await pool.connect();
    client.release();
  } catch (e) {
    await pool.end();
    throw new OpenPrumError('unavailable', `Cannot connect to PostgreSQL at ${parsed.host}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', close: () => db.destroy() };
}

async function openPGlite(dir: string | undefined): Promise<Database> {
  if (dir) mkdirSync(dir, { recursive: true });
  const pglite = new PGlite({ ...(dir ? { dataDir: dir } : {}), parsers: typeParsers });
  try {
    await pglite.waitReady;
  } catch (e) {
    throw new OpenPrumError('unavailable', `Cannot open the embedded database in ${dir ?? 'memory'}: ${(e as Error).message}`, undefined, { cause: e });
  }
  await pglite.exec(`set time zone 'UTC'`);
  const db = new Kysely<Schema>({ dialect: new PGliteDialect(pglite) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}
