/**
 * `openprum audit …` as a user runs it: seal, head, export, verify (offline, by a supervisor holding
 * only the node's public key), purge. Real child processes of bin/openprum.js.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedTreeHeadToJson } from '../../src/audit/merkle/index.ts';
import { writeRecord } from '../../src/audit/records.ts';
import { latestHead } from '../../src/audit/store.ts';
import { loadConfig } from '../../src/node/config.ts';
import { initNode, openNode } from '../../src/node/node.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-node.ts';

let dir: string;
let dataDir: string;
let testDb: TestDatabase | undefined;
let env: NodeJS.ProcessEnv;

const run = (args: string[]) => runCli(args, { env, cwd: dir });

/** Opens the node in this process (the CLI is not running meanwhile) to act on its database. */
async function withOpenNode(f: (node: Awaited<ReturnType<typeof openNode>>) => Promise<void>): Promise<void> {
  const node = await openNode(loadConfig(dataDir, { logLevel: 'silent' }, env));
  try {
    await f(node);
  } finally {
    await node.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openprum-audit-cli-'));
  dataDir = join(dir, 'se');
  env = { ...process.env };
  delete env.DATABASE_URL;
  if (process.env.DATABASE_URL) {
    testDb = await createTestDatabase();
    await testDb.database.close();
    env.DATABASE_URL = testDb.url;
  }
  await initNode({ country: 'SE', dataDir, databaseUrl: env.DATABASE_URL });
  await withOpenNode(async (node) => {
    for (let i = 0; i < 12; i++) {
      await writeRecord(node.db, { action: 'vehicle.search', direction: 'local', searchingBody: 'SE NCP', administeringBody: 'SE vehicle register', reason: `Ärende ${i}`, query: { registrationNumber: `ABC ${100 + i}` }, outcome: 'no-hit' });
    }
  });
}, 180_000);
afterAll(async () => {
  await testDb?.drop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

// Each command is a fresh process that opens the database: slow on two shared cores.
const SLOW = 300_000;

describe('openprum audit', () => {
  const pub = () => join(dataDir, 'keys', 'node-signing-key.pub.pem');

  it('seals, exports and verifies offline against the public key and a head kept earlier', { timeout: SLOW }, async () => {
    const seal = await run(['audit', 'seal', '--data-dir', dataDir]);
    expect(seal.stderr).toBe('');
    expect(JSON.parse(seal.stdout)).toMatchObject({ appended: 12, treeSize: 12, head: { treeSize: 12 } });
    await withOpenNode(async (node) => writeFileSync(join(dir, 'head.json'), JSON.stringify(signedTreeHeadToJson((await latestHead(node.db))!.head))));

    const out = join(dir, 'export.json');
    const exp = await run(['audit', 'export', '--data-dir', dataDir, '--out', out]);
    expect(exp.code).toBe(0);
    expect(JSON.parse(exp.stdout)).toMatchObject({ out, treeSize: 12, entries: 12 });
    expect(JSON.parse(readFileSync(out, 'utf8')).entries).toHaveLength(12);

    const ok = await run(['audit', 'verify', out, '--public-key', pub(), '--trusted-head', join(dir, 'head.json')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^VERIFIED/);
    expect(ok.stdout).toMatch(/12: 12 with their record/);
    // Not a public key: a usage problem with the input (65), not a verdict.
    expect((await run(['audit', 'verify', out, '--public-key', join(dir, 'head.json')])).code).toBe(65);
  });

  it('finds a record changed and one deleted in the database by an operator: exit code 1 and a clear report', { timeout: SLOW }, async () => {
    await withOpenNode(async (node) => {
      await sql`alter table records disable trigger records_guard`.execute(node.db);
      await sql`update records set reason = 'nothing here' where reason = 'Ärende 2'`.execute(node.db);
      await sql`delete from records where reason = 'Ärende 9'`.execute(node.db);
      await sql`alter table records enable trigger records_guard`.execute(node.db);
    });
    const out = join(dir, 'export2.json');
    expect((await run(['audit', 'export', '--data-dir', dataDir, '--out', out])).code).toBe(0);
    const r = await run(['audit', 'verify', out, '--public-key', pub()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^TAMPERING FOUND: 2 findings/);
    expect(r.stdout).toMatch(/entry 2: the record was altered/);
    expect(r.stdout).toMatch(/entry 9: its record was deleted, but not by the retention purge/);
    expect(r.stderr).toMatch(/\[audit-verification-failed\]/);
  });

  it('purges nothing younger than two years', { timeout: SLOW }, async () => {
    const r = await run(['audit', 'purge', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ records: 0, entries: 0, erasedBelow: 0 });
  });
});
