/**
 * `openprum safeguards run-deadlines` as an operator runs it: a real child process on a node's data
 * directory, erasing received data past the supplier's delete-by.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/http/server.ts';
import { loadConfig } from '../../src/node/config.ts';
import { initNode, openNode } from '../../src/node/node.ts';
import { waitFor } from '../federation/support.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-node.ts';

let dir: string;
let dataDir: string;
let testDb: TestDatabase | undefined;
let env: NodeJS.ProcessEnv;
const id = randomUUID();

async function withOpenNode<T>(f: (node: Awaited<ReturnType<typeof openNode>>) => Promise<T>): Promise<T> {
  const node = await openNode(loadConfig(dataDir, { logLevel: 'silent' }, env));
  try {
    return await f(node);
  } finally {
    await node.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openprum-safeguards-cli-'));
  dataDir = join(dir, 'nl');
  env = { ...process.env };
  delete env.DATABASE_URL;
  if (process.env.DATABASE_URL) {
    testDb = await createTestDatabase();
    await testDb.database.close();
    env.DATABASE_URL = testDb.url;
  }
  await initNode({ country: 'NL', dataDir, databaseUrl: env.DATABASE_URL });
  await withOpenNode((node) => insertGranted(node, id, '2099-01-01'));
}, 180_000);

/** A follow-up answer DE granted to this node, as the follow-up peer route stores it. */
async function insertGranted(node: Awaited<ReturnType<typeof openNode>>, followUpId: string, deleteBy: string): Promise<void> {
  await node.db
    .insertInto('follow_ups')
    .values({
      id: followUpId,
      direction: 'outgoing',
      reference: `NL-FU-20260101-${followUpId.slice(0, 8).toUpperCase()}`,
      requesting_state: 'NL',
      requested_state: 'DE',
      request_message_id: randomUUID(),
      status: 'granted',
      kind: 'vehicle',
      search_reference: 'NL-20260101-AAAAAAAAAA',
      search_message_id: randomUUID(),
      answer_reference: 'DE-R1',
      request_reference: 'WVWZZZ1KZAW000001',
      requested_reference: 'WVWZZZ1KZAW000001',
      legal_basis: 'Prüm Decision Art. 12',
      facts: 'A robbery',
      offence_category: 'organised-armed-robbery',
      purpose: 'Identify the driver',
      case_reference: 'NL-OM-1',
      requested_at: '2026-01-01T10:00:00Z',
      decided_at: '2026-01-01T11:00:00Z',
      answer_received_at: '2026-01-01T11:00:01Z',
      supply_legal_basis: '§ 27 BKAG',
      supplied: JSON.stringify({ person: { surname: 'Clitestname' } }),
      conditions: JSON.stringify([{ type: 'delete-by', date: deleteBy }]),
      delete_by: deleteBy,
      answer_body: '{"supplied":{"person":{"surname":"Clitestname"}}}',
    })
    .execute();
}

afterAll(async () => {
  await testDb?.drop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('openprum safeguards run-deadlines', () => {
  it('applies the time limits once, at the time given, and reports what it ended', async () => {
    const bad = await runCli(['safeguards', 'run-deadlines', '--data-dir', dataDir, '--now', 'tomorrow'], { env, cwd: dir });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--now must be an ISO 8601 instant');

    const early = await runCli(['safeguards', 'run-deadlines', '--data-dir', dataDir, '--now', '2098-12-31T12:00:00Z'], { env, cwd: dir });
    expect(early.code, early.stderr).toBe(0);
    expect(JSON.parse(early.stdout)).toMatchObject({ registered: 1, ended: [], records: { records: 0 } });

    const due = await runCli(['safeguards', 'run-deadlines', '--data-dir', dataDir, '--now', '2099-01-01T00:00:01Z'], { env, cwd: dir });
    expect(due.code, due.stderr).toBe(0);
    expect(JSON.parse(due.stdout).ended).toEqual([expect.objectContaining({ itemId: id, supplyingState: 'DE', outcome: 'erased', trigger: 'delete-by' })]);
    const row = await withOpenNode((node) => node.db.selectFrom('follow_ups').select(['supplied', 'answer_body']).where('id', '=', id).executeTakeFirstOrThrow());
    expect(row).toEqual({ supplied: null, answer_body: null });
  }, 300_000);

  it('runs by itself while the node serves, like the audit sequencer', async () => {
    const late = randomUUID();
    await withOpenNode(async (node) => {
      await insertGranted(node, late, '2026-01-02');
      const app = await buildServer(node, { logLevel: 'silent' });
      await app.listen({ host: '127.0.0.1', port: 0 });
      try {
        await waitFor(() => node.db.selectFrom('received_items').select(['status', 'erasure_reason']).where('id', '=', late).executeTakeFirst(), (r) => r?.status === 'erased', 30_000);
        expect((await node.db.selectFrom('follow_ups').select('supplied').where('id', '=', late).executeTakeFirstOrThrow()).supplied).toBeNull();
      } finally {
        await app.close();
      }
    });
  }, 120_000);
});
