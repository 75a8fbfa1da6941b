/**
 * A node on a fresh database for tests: in-memory PGlite by default, or, when DATABASE_URL is set
 * (CI's PostgreSQL 15 run), a throwaway database created on that server and dropped afterwards.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/connect.ts';
import type { NodeConfig } from '../../src/node/config.ts';
import { nodeOn, prepareDatabase, type NodeContext } from '../../src/node/node.ts';

export interface TestDatabase {
  readonly database: Database;
  readonly url: string | undefined;
  drop(): Promise<void>;
}

/** A fresh, empty database on the server named by DATABASE_URL, or an in-memory PGlite. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const database = await openDatabase({});
    return { database, url: undefined, drop: () => database.close() };
  }
  const name = `openprum_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), poolSize: 5 });
  return {
    database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface TestNode {
  readonly node: NodeContext;
  readonly dataDir: string;
  readonly adminToken: string;
  /** Creates an officer with the roles and returns a token of theirs. */
  tokenFor(reference: string, roles: string[]): Promise<{ officerId: number; token: string }>;
  close(): Promise<void>;
}

export async function createTestNode(country = 'NL'): Promise<TestNode> {
  const testDb = await createTestDatabase();
  await prepareDatabase(testDb.database.db, country, true);
  const dataDir = mkdtempSync(join(tmpdir(), `openprum-test-${country}-`));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const config: NodeConfig = { country, dataDir, databaseUrl: testDb.url, host: '127.0.0.1', port: 0, logLevel: 'silent' };
  const node = nodeOn(config, testDb.database, { signingKey: privateKey, publicKey });
  const admin = await node.officers.create({ reference: 'admin', name: 'Administrator', roles: ['admin'] });
  const adminToken = (await node.officers.issueToken(admin.id)).token;
  return {
    node,
    dataDir,
    adminToken,
    tokenFor: async (reference, roles) => {
      const o = await node.officers.create({ reference, name: `Officer ${reference}`, roles });
      return { officerId: o.id, token: (await node.officers.issueToken(o.id)).token };
    },
    close: async () => {
      await testDb.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
