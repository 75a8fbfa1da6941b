/**
 * Forward-only migrations: numbered SQL files in ./migrations (`0001-foundation.sql`, ...), applied in
 * order at start, each in its own transaction, under an advisory lock so that two processes starting
 * against the same server do not apply the same file twice.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { OpenPrumError } from '../errors/index.ts';
import type { Schema } from './schema.ts';

const migrationsDir = new URL('./migrations/', import.meta.url);
// Any fixed number; it names "OpenPrüm migrations" among the server's advisory locks.
const LOCK_KEY = 0x6f70726d;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function listMigrations(): Migration[] {
  const files = readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort();
  return files.map((file) => {
    const m = /^(\d{4})-([a-z0-9-]+)\.sql$/.exec(file);
    if (!m) throw new OpenPrumError('internal', `Migration file name ${file} does not follow NNNN-name.sql`);
    return { version: Number(m[1]), name: m[2]!, sql: readFileSync(new URL(file, migrationsDir), 'utf8') };
  });
}

/** Applies every migration not yet applied; returns the versions it applied. */
export async function migrate(db: Kysely<Schema>): Promise<number[]> {
  await sql`create table if not exists openprum_migrations (
    version integer primary key,
    name text not null,
    applied_at timestamptz not null default now()
  )`.execute(db);
  const applied: number[] = [];
  for (const migration of listMigrations()) {
    const done = await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
      const exists = await trx.selectFrom('openprum_migrations').select('version').where('version', '=', migration.version).executeTakeFirst();
      if (exists) return false;
      await sql.raw(migration.sql).execute(trx);
      await trx.insertInto('openprum_migrations').values({ version: migration.version, name: migration.name }).execute();
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
