/**
 * Peers countersign each other's tree heads; a node that rewrites its log, or shows two histories to
 * two peers, is caught by the witnesses (RFC 9162 §8.2). Two nodes in one process; the network
 * wiring comes with the federation.
 */
import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../test/support/test-node.ts';
import type { Schema } from '../db/schema.ts';
import { verifyAuditExport } from './export-verify.ts';
import type { AuditExportFile } from './export-format.ts';
import { openExport } from './export.ts';
import { cosignTreeHead, logIdToString, Witness, type SignedTreeHead } from './merkle/index.ts';
import { writeRecord, type RecordEntry } from './records.ts';
import { sealBatchIn, sealLog } from './sequencer.ts';
import { consistencyProof, latestHead, nodeLogId } from './store.ts';
import { cosignPeerHead, PersistentWitness, storeCosignature } from './witness.ts';

let nl: TestNode; // the log
let de: TestNode; // a peer witnessing it
const rec = (i: number): RecordEntry => ({
  action: 'vehicle.search',
  direction: 'incoming',
  searchingBody: 'DE NCP',
  administeringBody: 'NL vehicle register',
  reason: `Ermittlung ${i}`,
  query: { registrationNumber: `NL-${i}` },
  outcome: 'no-hit',
});

async function grow(n: number): Promise<SignedTreeHead> {
  for (let i = 0; i < n; i++) await writeRecord(nl.node.db, rec(i));
  return (await sealLog(nl.node)).head!;
}

const logs = () => new Map([[logIdToString(nodeLogId(nl.node)), nl.node.keys.publicKey]]);
const fromNl = (a: number, b: number) => consistencyProof(nl.node.db, a, b);

class Rollback extends Error {}

/**
 * The operator of NL rewrites its history (one record changed, the log rebuilt and re-signed with
 * the node key), inside a transaction that is rolled back; returns what NL could then show peers.
 */
async function rewrittenHistory(extra: number): Promise<{ sameSize: SignedTreeHead; larger: SignedTreeHead; proofFrom: (size: number) => Promise<Uint8Array[]> }> {
  let out: Awaited<ReturnType<typeof rewrittenHistory>> | undefined;
  await nl.node.db
    .transaction()
    .execute(async (trx: Transaction<Schema>) => {
      for (const table of ['records', 'audit_log_entries', 'audit_nodes', 'audit_log_state']) await sql.raw(`alter table ${table} disable trigger user`).execute(trx);
      await sql`update records set reason = 'rewritten' where id = (select min(id) from records)`.execute(trx);
      await sql`delete from audit_log_entries`.execute(trx);
      await sql`delete from audit_nodes`.execute(trx);
      await sql`update audit_log_state set tree_size = 0, last_record_id = 0`.execute(trx);
      const node = { ...nl.node, db: trx as never };
      let sameSize: SignedTreeHead | undefined;
      for (;;) {
        const r = await sealBatchIn(trx, node, { forceHead: true, now: () => Date.now() + 1000 });
        sameSize = r.head;
        if (!r.full) break;
      }
      for (let i = 0; i < extra; i++) await writeRecord(trx, rec(100 + i));
      const larger = (await sealBatchIn(trx, node, { forceHead: true, now: () => Date.now() + 2000 })).head!;
      const proofs = new Map<number, Uint8Array[]>();
      for (const s of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) if (s <= larger.treeSize) proofs.set(s, await consistencyProof(trx, s, larger.treeSize));
      out = { sameSize: sameSize!, larger, proofFrom: async (s) => proofs.get(s)! };
      throw new Rollback();
    })
    .catch((e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
    });
  return out!;
}

beforeAll(async () => {
  [nl, de] = await Promise.all([createTestNode('NL'), createTestNode('DE')]);
});
afterAll(async () => Promise.all([nl.close(), de.close()]));

describe('peers countersigning tree heads', () => {
  let h1: SignedTreeHead;
  let h2: SignedTreeHead;

  it('a peer countersigns a head it accepts, and the log keeps the countersignature with its head', async () => {
    h1 = await grow(5);
    const witness = await PersistentWitness.open(de.node, { logs: logs() });
    const v = await cosignPeerHead(witness, h1, fromNl);
    expect(v.kind).toBe('accepted');
    const cosig = v.kind === 'accepted' ? v.cosignature! : undefined;
    await storeCosignature(nl.node, h1, cosig!, de.node.keys.publicKey);
    await storeCosignature(nl.node, h1, cosig!, de.node.keys.publicKey); // idempotent
    const stored = (await latestHead(nl.node.db))!.head;
    expect(stored.cosignatures).toHaveLength(1);
    // The countersignature travels in exports; a supervisor who knows DE's key sees it.
    const { chunks } = await openExport(nl.node, {});
    let text = '';
    for await (const c of chunks) text += c;
    const report = verifyAuditExport(JSON.parse(text) as AuditExportFile, {
      publicKey: nl.node.keys.publicKey,
      witnesses: new Map([[logIdToString(nodeLogId(de.node)), de.node.keys.publicKey]]),
    });
    expect(report).toMatchObject({ ok: true, cosignedBy: [logIdToString(nodeLogId(de.node))] });
  });

  it('refuses a countersignature that is not by that peer or not over that head', async () => {
    const witnessId = nodeLogId(de.node);
    const bad = cosignTreeHead({ ...h1, treeSize: h1.treeSize + 1 }, witnessId, de.node.keys.signingKey);
    await expect(storeCosignature(nl.node, h1, bad, de.node.keys.publicKey)).rejects.toMatchObject({ code: 'audit-cosignature-invalid' });
    const good = cosignTreeHead(h1, witnessId, de.node.keys.signingKey);
    await expect(storeCosignature(nl.node, h1, good, nl.node.keys.publicKey)).rejects.toMatchObject({ code: 'audit-cosignature-invalid' });
  });

  it('accepts a grown log only with a consistency proof, and keeps its state across restarts', async () => {
    h2 = await grow(4);
    const witness = await PersistentWitness.open(de.node, { logs: logs() });
    expect(witness.latest(logIdToString(nodeLogId(nl.node)))?.treeSize).toBe(h1.treeSize);
    const first = await witness.observe(h2);
    expect(first).toMatchObject({ kind: 'proof-required', fromSize: h1.treeSize, toSize: h2.treeSize });
    expect((await cosignPeerHead(witness, h2, fromNl)).kind).toBe('accepted');
    const reopened = await PersistentWitness.open(de.node, { logs: logs() });
    expect(reopened.latest(logIdToString(nodeLogId(nl.node)))?.treeSize).toBe(h2.treeSize);
    expect((await reopened.observe(h1, await fromNl(h1.treeSize, h2.treeSize))).kind).toBe('duplicate'); // remembered across the restart
  });

  it('catches a rewritten history: a second head for a size it has seen (fork), and a larger head that is not an extension (rewrite)', async () => {
    const rewritten = await rewrittenHistory(3);
    expect(rewritten.sameSize.treeSize).toBe(h2.treeSize);
    const witness = await PersistentWitness.open(de.node, { logs: logs() });
    const fork = await witness.observe(rewritten.sameSize);
    expect(fork.kind).toBe('fork');
    const rewrite = await cosignPeerHead(witness, rewritten.larger, (a) => rewritten.proofFrom(a));
    expect(rewrite.kind).toBe('rewrite');
    expect(witness.latest(logIdToString(nodeLogId(nl.node)))?.treeSize).toBe(h2.treeSize); // not advanced
    const alarms = await witness.alarms();
    expect(alarms.map((a) => a.kind)).toEqual(['fork', 'rewrite']);
    expect(alarms[0]!.evidence).toMatchObject({ heads: [{ treeSize: h2.treeSize }, { treeSize: h2.treeSize }] });
    await expect(sql`delete from audit_witness_alarms`.execute(de.node.db)).rejects.toThrow(/append-only/);
  });

  it('catches two histories shown to two peers when the peers compare countersigned heads', async () => {
    const rewritten = await rewrittenHistory(0);
    // NL shows the honest head to DE and the rewritten one, same size, to BE.
    const be = new Witness({ logs: logs() });
    expect(be.observe(rewritten.sameSize).kind).toBe('accepted');
    const witness = await PersistentWitness.open(de.node, { logs: logs() });
    const honest = (await latestHead(nl.node.db))!.head;
    expect(['accepted', 'duplicate']).toContain((await cosignPeerHead(witness, honest, fromNl)).kind);
    // Gossip: DE's head reaches BE, BE's reaches DE.
    expect(be.observe(honest).kind).toBe('fork');
    expect((await witness.observe(rewritten.sameSize)).kind).toBe('fork');
  });
});
