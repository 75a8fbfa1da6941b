import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../test/support/test-node.ts';
import { listRecords, writeRecord } from './records.ts';

let t: TestNode;
beforeAll(async () => {
  t = await createTestNode('FR');
});
afterAll(async () => t.close());

const entry = { action: 'vehicle.search', direction: 'local' as const, searchingBody: 'FR NCP', administeringBody: 'FR vehicle register', query: { vin: 'X' }, outcome: 'no-hit' as const };

describe('the record of supplies (Prüm Decision Art. 30)', () => {
  it('keeps the exact time and returns what was written', async () => {
    const { id, recordedAt } = await writeRecord(t.node.db, { ...entry, reason: 'r', hit: false });
    expect(recordedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    const [rec] = await listRecords(t.node.db, { after: id - 1, limit: 1 });
    expect(rec).toMatchObject({ id, recordedAt, reason: 'r', hit: false, query: { vin: 'X' } });
  });

  it('cannot be changed, deleted or truncated, by any client (enforced in the database)', async () => {
    const { id } = await writeRecord(t.node.db, entry);
    await expect(t.node.db.updateTable('records').set({ reason: 'rewritten' }).where('id', '=', id).execute()).rejects.toThrow(/cannot be changed or deleted/);
    await expect(t.node.db.deleteFrom('records').where('id', '=', id).execute()).rejects.toThrow(/cannot be changed or deleted/);
    await expect(sql`truncate records`.execute(t.node.db)).rejects.toThrow(/cannot be truncated/);
    const still = await t.node.db.selectFrom('records').select('reason').where('id', '=', id).executeTakeFirstOrThrow();
    expect(still.reason).toBeNull();
  });

  it('allows only the retention purge of records older than two years (Art. 30(4))', async () => {
    // A record two years and a day old, written as if by the node back then (the trigger only guards
    // update and delete, so an insert with an explicit time sets up the case).
    const old = await t.node.db
      .insertInto('records')
      .values({ ...{ action: 'vehicle.search', direction: 'local', searching_body: 'FR NCP', administering_body: 'FR vehicle register', outcome: 'no-hit' }, recorded_at: sql<string>`now() - interval '2 years 1 day'` as never })
      .returning('id')
      .executeTakeFirstOrThrow();
    const recent = await writeRecord(t.node.db, entry);
    // Without the declared purge, even the old one stays.
    await expect(t.node.db.deleteFrom('records').where('id', '=', old.id).execute()).rejects.toThrow();
    await t.node.db.transaction().execute(async (trx) => {
      await sql`select set_config('openprum.records_purge', 'on', true)`.execute(trx);
      await trx.deleteFrom('records').where('id', '=', old.id).execute();
    });
    expect(await t.node.db.selectFrom('records').select('id').where('id', '=', old.id).execute()).toEqual([]);
    // The purge setting does not open younger records.
    await expect(
      t.node.db.transaction().execute(async (trx) => {
        await sql`select set_config('openprum.records_purge', 'on', true)`.execute(trx);
        await trx.deleteFrom('records').where('id', '=', recent.id).execute();
      }),
    ).rejects.toThrow(/cannot be changed or deleted/);
  });
});
