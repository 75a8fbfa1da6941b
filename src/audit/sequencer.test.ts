import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../test/support/test-node.ts';
import {
  bytesEqual,
  commitEntry,
  entryCommitment,
  contentDigest,
  entryLeafHash,
  MemoryNodeStore,
  MerkleTree,
  verifyConsistency,
  verifyInclusion,
  verifyTreeHead,
} from './merkle/index.ts';
import { listRecords, toStoredRecord, writeRecord, type RecordEntry } from './records.ts';
import { sealLog, startSequencer } from './sequencer.ts';
import { consistencyProof, inclusionProof, latestHead, readLogState, rootAt } from './store.ts';

let t: TestNode;
beforeAll(async () => {
  t = await createTestNode('BE');
});
afterAll(async () => t.close());

const entry = (i: number): RecordEntry => ({
  action: 'vehicle.search',
  direction: 'local',
  searchingBody: 'BE NCP',
  administeringBody: 'BE vehicle register',
  reason: `case ${i}`,
  purpose: 'criminal-offences',
  query: { registrationNumber: `1-ABC-${100 + i}` },
  supplied: i % 2 ? [{ vin: 'VF1RFB00X62345678', holder: { surname: 'Peeters', address: 'Rue 1' } }] : null,
  hit: i % 2 === 1,
  outcome: i % 2 ? 'hit' : 'no-hit',
});

async function entries() {
  return sql<{ log_index: number; record_id: number; salt: Uint8Array | null; content_digest: Uint8Array | null; commitment: Uint8Array }>`
    select log_index, record_id, salt, content_digest, commitment from audit_log_entries order by log_index`.execute(t.node.db).then((r) => r.rows);
}

/** Rebuilds the tree independently from the stored records and salts. */
async function recomputeRoot(): Promise<{ root: Uint8Array; size: number }> {
  const tree = new MerkleTree(new MemoryNodeStore());
  for (const e of await entries()) {
    const rec = await t.node.db.selectFrom('records').selectAll().where('id', '=', e.record_id).executeTakeFirst();
    const commitment = rec && e.salt ? commitEntry(Number(e.log_index), toStoredRecord(rec), new Uint8Array(e.salt)).commitment : new Uint8Array(e.commitment);
    tree.append(entryLeafHash(Number(e.log_index), commitment));
  }
  return { root: tree.root(), size: tree.size };
}

describe('the sequencer (records → RFC 9162 log)', () => {
  it('integrates records with gap-free indices, commits to the whole stored record, and signs a head', async () => {
    for (let i = 0; i < 7; i++) await writeRecord(t.node.db, entry(i));
    const r = await sealLog(t.node);
    expect(r).toMatchObject({ appended: 7, treeSize: 7, busy: false });
    const rows = await entries();
    expect(rows.map((e) => Number(e.log_index))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // The commitment is over the canonical JSON of the record as stored, recorded time included.
    const recs = await listRecords(t.node.db, { limit: 10 });
    for (const [i, e] of rows.entries()) {
      const rec = recs[i]!;
      expect(Number(e.record_id)).toBe(rec.id);
      expect(bytesEqual(new Uint8Array(e.content_digest!), contentDigest(rec))).toBe(true);
      expect(bytesEqual(entryCommitment(new Uint8Array(e.salt!), contentDigest(rec)), new Uint8Array(e.commitment))).toBe(true);
    }
    const head = (await latestHead(t.node.db))!.head;
    expect(head.treeSize).toBe(7);
    expect(verifyTreeHead(head, t.node.keys.publicKey)).toBe(true);
    expect(head.logId.country).toBe('BE');
    const { root } = await recomputeRoot();
    expect(bytesEqual(root, head.rootHash)).toBe(true);
    expect(bytesEqual(await rootAt(t.node.db, 7), head.rootHash)).toBe(true);
  });

  it('answers inclusion and consistency proofs from the stored nodes', async () => {
    const h7 = (await latestHead(t.node.db))!.head;
    for (let i = 7; i < 20; i++) await writeRecord(t.node.db, entry(i));
    await sealLog(t.node, { batchSize: 4 }); // several batches
    const h20 = (await latestHead(t.node.db))!.head;
    expect(h20.treeSize).toBe(20);
    for (const [index, size] of [[0, 20], [6, 7], [19, 20], [13, 20], [3, 7]] as const) {
      const p = await inclusionProof(t.node.db, index, size);
      const root = size === 20 ? h20.rootHash : h7.rootHash;
      expect(verifyInclusion(index, size, p.leafHash, p.proof, root)).toBe(true);
    }
    const c = await consistencyProof(t.node.db, 7, 20);
    expect(verifyConsistency(7, 20, h7.rootHash, h20.rootHash, c)).toBe(true);
    await expect(inclusionProof(t.node.db, 3, 21)).rejects.toMatchObject({ code: 'input-invalid' });
    // Nothing new: no new entries, and no new head until the head is old.
    const again = await sealLog(t.node);
    expect(again).toMatchObject({ appended: 0, treeSize: 20 });
    expect(again.head!.timestamp).toBe(h20.timestamp);
    const forced = await sealLog(t.node, { forceHead: true, now: () => h20.timestamp + 5 });
    expect(forced.head!.timestamp).toBe(h20.timestamp + 5);
  });

  it('integrates a record that commits after a higher id, and forgets ids rolled back', async () => {
    const state = await readLogState(t.node.db);
    // Reserve three ids as concurrent transactions would: the highest commits first.
    const ids = await sql<{ id: number }>`select nextval('records_id_seq')::bigint as id from generate_series(1, 3)`.execute(t.node.db);
    const [a, b, c] = ids.rows.map((r) => Number(r.id)) as [number, number, number];
    const insertWithId = (id: number) =>
      sql`insert into records (id, action, direction, searching_body, administering_body, outcome) values (${id}, 'late', 'local', 'BE NCP', 'BE NCP', 'done')`.execute(t.node.db);
    await insertWithId(c);
    expect((await sealLog(t.node)).appended).toBe(1);
    const pending = await sql<{ record_id: number }>`select record_id from audit_pending_records order by 1`.execute(t.node.db);
    expect(pending.rows.map((r) => Number(r.record_id))).toEqual([a, b]);
    await insertWithId(a); // commits late
    const late = await sealLog(t.node);
    expect(late.appended).toBe(1);
    expect(late.treeSize).toBe(state.treeSize + 2);
    // b never commits (rolled back). While a transaction that was running when the gap was seen may
    // still run (snapshot xmin below the xmax of that moment), it is waited for...
    await sql`update audit_pending_records set seen_xmax = ${Number.MAX_SAFE_INTEGER}`.execute(t.node.db);
    await sealLog(t.node, { gapGraceMs: 0 });
    expect((await sql`select record_id from audit_pending_records`.execute(t.node.db)).rows).toHaveLength(1);
    // ...once they have all ended and the grace period passed, it is forgotten, not waited for forever.
    await sql`update audit_pending_records set seen_xmax = 0`.execute(t.node.db);
    await sealLog(t.node, { gapGraceMs: 60_000 });
    expect((await sql`select record_id from audit_pending_records`.execute(t.node.db)).rows).toHaveLength(1);
    await sealLog(t.node, { gapGraceMs: 0 });
    expect((await sql`select record_id from audit_pending_records`.execute(t.node.db)).rows).toEqual([]);
    const { root, size } = await recomputeRoot();
    const head = (await latestHead(t.node.db))!.head;
    expect(size).toBe(head.treeSize);
    expect(bytesEqual(root, head.rootHash)).toBe(true);
  });

  it('rolls a failing batch back whole: entries, nodes, state and head move together', async () => {
    const before = await readLogState(t.node.db);
    const heads = await sql<{ n: number }>`select count(*)::int as n from audit_tree_heads`.execute(t.node.db);
    await writeRecord(t.node.db, entry(99));
    await sql`create function test_fail() returns trigger language plpgsql as $$ begin raise exception 'disk full'; end $$`.execute(t.node.db);
    await sql`create trigger test_fail before insert on audit_tree_heads for each row execute function test_fail()`.execute(t.node.db);
    try {
      await expect(sealLog(t.node)).rejects.toThrow(/disk full/);
    } finally {
      await sql`drop trigger test_fail on audit_tree_heads`.execute(t.node.db);
      await sql`drop function test_fail()`.execute(t.node.db);
    }
    expect(await readLogState(t.node.db)).toEqual(before);
    expect((await sql<{ n: number }>`select count(*)::int as n from audit_tree_heads`.execute(t.node.db)).rows).toEqual(heads.rows);
    expect((await sql<{ n: number }>`select count(*)::int as n from audit_log_entries`.execute(t.node.db)).rows[0]!.n).toBe(before.treeSize);
    expect((await sealLog(t.node)).treeSize).toBe(before.treeSize + 1);
  });

  it('refuses to change or delete entries, nodes and heads, and the state only grows', async () => {
    const db = t.node.db;
    await expect(sql`update audit_log_entries set record_id = record_id + 1000 where log_index = 0`.execute(db)).rejects.toThrow(/cannot be changed/);
    await expect(sql`update audit_log_entries set salt = null, content_digest = null, erased_at = now(), erasure = 'order' where log_index = 0`.execute(db)).rejects.toThrow(/cannot be changed/);
    await expect(sql`delete from audit_log_entries where log_index = 0`.execute(db)).rejects.toThrow(/cannot be changed/);
    await expect(sql`update audit_nodes set hash = hash where level = 0 and idx = 0`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_nodes`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_tree_heads`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_nodes`.execute(db)).rejects.toThrow(/cannot be truncated/);
    await expect(sql`truncate audit_log_entries`.execute(db)).rejects.toThrow(/cannot be truncated/);
    await expect(sql`update audit_log_state set tree_size = 1`.execute(db)).rejects.toThrow(/only grows/);
    await expect(sql`delete from audit_log_state`.execute(db)).rejects.toThrow(/only grows/);
  });

  it('runs on a timer in the node process until stopped', async () => {
    const seals: number[] = [];
    const seq = startSequencer(t.node, { intervalMs: 50, onSeal: (r) => seals.push(r.appended) });
    await writeRecord(t.node.db, entry(200));
    for (let i = 0; i < 100 && !seals.some((n) => n > 0); i++) await new Promise((r) => setTimeout(r, 50));
    await seq.stop();
    expect(seals.some((n) => n > 0)).toBe(true);
    const state = await readLogState(t.node.db);
    expect((await latestHead(t.node.db))!.head.treeSize).toBe(state.treeSize);
  });
});
