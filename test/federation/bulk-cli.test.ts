/**
 * `openprum federation bulk start|status|hits` as an operator runs them (child processes of
 * bin/openprum.js): the comparison is stored with its chunks for the node's federation to send.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inclusionOf } from '../../src/dna/profile.ts';
import { randomProfiles } from '../../src/dna/test-helpers.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-node.ts';

let dir: string;
let testDb: TestDatabase | undefined;
let env: NodeJS.ProcessEnv;
const run = (args: string[]) => runCli(args, { env, cwd: dir });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openprum-bulk-cli-'));
  env = { ...process.env, OPENPRUM_LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  if (process.env.DATABASE_URL) {
    testDb = await createTestDatabase();
    await testDb.database.close();
    env.DATABASE_URL = testDb.url;
  }
});
afterAll(async () => {
  await testDb?.drop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('openprum federation bulk', () => {
  it('starts a comparison (stored with its chunks), refuses a second one with the same state, and shows its status', async () => {
    expect((await run(['init', '--country', 'NL', '--data-dir', 'nl'])).code).toBe(0);
    const stains = randomProfiles(41, 40, 'NL-S')
      .filter((p) => inclusionOf({ ...p, kind: 'unidentified' }).ok)
      .slice(0, 5)
      .map((p) => ({ ...p, kind: 'unidentified' }));
    writeFileSync(join(dir, 'stains.jsonl'), stains.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const imported = await run(['dna', 'import', 'stains.jsonl', '--data-dir', 'nl']);
    expect(imported.code, imported.stderr).toBe(0);
    expect((await run(['peer', 'add', '--data-dir', 'nl', '--country', 'DE', '--url', 'https://127.0.0.1:1'])).code).toBe(0);

    const started = await run(['federation', 'bulk', 'start', '--data-dir', 'nl', '--state', 'DE', '--officer', 'admin', '--chunk-size', '2']);
    expect(started.code, started.stderr).toBe(0);
    const view = JSON.parse(started.stdout) as { id: string; status: string; profiles: number; chunks: { total: number }; startedBy: string; mode: string };
    expect(view).toMatchObject({ status: 'opening', profiles: stains.length, chunks: { total: Math.ceil(stains.length / 2) }, startedBy: 'admin', mode: 'all' });

    const again = await run(['federation', 'bulk', 'start', '--data-dir', 'nl', '--state', 'DE', '--officer', 'admin', '--new-only']);
    expect(again.code).toBe(75);
    expect(again.stderr).toMatch(/in progress/);

    // (Each command is a process that opens the database: a few, to keep the test short.)
    const status = await run(['federation', 'bulk', 'status', '--data-dir', 'nl', '--id', view.id]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: view.id, chunks: { done: 0, pending: Math.ceil(stains.length / 2) } });
  }, 240_000);
});
