/**
 * Audit tree heads countersigned across the federation (RFC 9162 §8.2; issue 7 item 8), three nodes
 * with real mutual TLS: each fetches the others' latest signed head and a consistency proof, verifies,
 * countersigns and sends the countersignature back; the federation's timer does it by itself. NL then
 * rewrites the tail of its history (its tables, by hand, re-signed with its own key) after DE saw it:
 * FR, which never saw the honest head, accepts the rewritten one from NL but catches it through DE's
 * gossip; DE catches it directly. Alarms are stored with their evidence, recorded, shown to
 * supervisors, and not repeated each round.
 */
import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditExportFile } from '../../src/audit/export-format.ts';
import { openExport } from '../../src/audit/export.ts';
import { verifyAuditExport } from '../../src/audit/export-verify.ts';
import { logIdToString } from '../../src/audit/merkle/index.ts';
import { writeRecord } from '../../src/audit/records.ts';
import { sealLog } from '../../src/audit/sequencer.ts';
import { nodeLogId } from '../../src/audit/store.ts';
import { runWitnessRound, type WitnessRound } from '../../src/audit/witness-network.ts';
import type { Schema } from '../../src/db/schema.ts';
import { createTestFederation, waitFor, type FedNode, type TestFederation } from '../federation/support.ts';

let f: TestFederation;
let NL: FedNode;
let DE: FedNode;
let FR: FedNode;
const dpa: Record<string, string> = {};

async function grow(n: FedNode, count: number): Promise<number> {
  for (let i = 0; i < count; i++) {
    await writeRecord(n.t.node.db, { action: 'vehicle.search', direction: 'local', searchingBody: `${n.country} NCP`, administeringBody: `${n.country} vehicle register`, reason: `test ${i}`, query: { vin: `TEST${i}` }, outcome: 'no-hit' });
  }
  return (await sealLog(n.t.node)).treeSize;
}

async function get(n: FedNode, url: string, token = dpa[n.country]!) {
  const r = await n.api.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as Record<string, unknown>;
}

type Cosigs = { cosignatures: Array<{ head: { treeSize: number; rootHash: string }; witness: { country: string } }> };
type Alarms = { alarms: Array<{ log: string; kind: string; source: string; recordId: number; evidence: unknown }> };

const logOf = (n: FedNode) => logIdToString(nodeLogId(n.t.node));
const verdictOf = (r: WitnessRound, state: string) => r.peers.find((p) => p.state === state);

beforeAll(async () => {
  f = await createTestFederation({ DE: [], FR: [], NL: [] });
  NL = f.nodes.NL!;
  DE = f.nodes.DE!;
  FR = f.nodes.FR!;
  for (const n of [NL, DE, FR]) {
    dpa[n.country] = (await n.t.tokenFor(`dpa-${n.country}`, ['supervisor'])).token;
    await grow(n, 3);
  }
}, 180_000);

afterAll(async () => {
  delete process.env.OPENPRUM_AUDIT_WITNESS_INTERVAL_MS;
  await f?.close();
});

describe('countersigned tree heads', () => {
  it('flow both ways: each node countersigns the others\' heads, and keeps and shows those it received', async () => {
    for (const n of [NL, DE, FR]) {
      const round = await runWitnessRound(n.fed);
      expect(round.ran).toBe(true);
      // A head learnt first from another peer's gossip is a duplicate when fetched: countersigned then.
      for (const p of round.peers) {
        expect(p, JSON.stringify(p)).toMatchObject({ cosigned: true });
        expect(['accepted', 'duplicate']).toContain(p.verdict);
      }
    }
    for (const n of [NL, DE, FR]) {
      const { cosignatures } = (await get(n, '/v1/audit/cosignatures')) as Cosigs;
      expect(new Set(cosignatures.map((c) => c.witness.country))).toEqual(new Set(['NL', 'DE', 'FR'].filter((c) => c !== n.country)));
      const { logs } = (await get(n, '/v1/audit/witness')) as { logs: Array<{ state: string; latest: { treeSize: number } | null; lastChecked: { verdict: string } }> };
      expect(logs.map((l) => l.state)).toEqual(['DE', 'FR', 'NL'].filter((c) => c !== n.country));
      for (const l of logs) expect(['accepted', 'duplicate']).toContain(l.lastChecked.verdict);
    }
    // Supervisors only.
    expect((await NL.api.inject({ method: 'GET', url: '/v1/audit/cosignatures', headers: { authorization: `Bearer ${NL.officer.token}` } })).statusCode).toBe(403);
    // The countersignatures travel in the export; a supervisor who knows the peers' keys checks them offline.
    const { chunks } = await openExport(NL.t.node, {});
    let text = '';
    for await (const c of chunks) text += c;
    const report = verifyAuditExport(JSON.parse(text) as AuditExportFile, {
      publicKey: NL.t.node.keys.publicKey,
      witnesses: new Map([DE, FR].map((n) => [logOf(n), n.t.node.keys.publicKey])),
    });
    expect(report.ok).toBe(true);
  }, 60_000);

  it('a grown log is accepted only with a consistency proof from the head seen before; the timer of the federation does it', async () => {
    const size = await grow(NL, 4);
    const round = await runWitnessRound(DE.fed);
    expect(verdictOf(round, 'NL')).toMatchObject({ verdict: 'accepted', treeSize: size, cosigned: true });
    const again = await runWitnessRound(DE.fed);
    expect(verdictOf(again, 'NL')).toMatchObject({ verdict: 'duplicate', cosigned: false }); // countersigned already
    expect(((await get(NL, '/v1/audit/cosignatures')) as Cosigs).cosignatures.some((c) => c.witness.country === 'DE' && c.head.treeSize === size)).toBe(true);

    // FR's federation restarted with a short interval: its timer witnesses by itself.
    process.env.OPENPRUM_AUDIT_WITNESS_INTERVAL_MS = '300';
    await f.stop('FR');
    await f.start('FR');
    const grown = await grow(DE, 2);
    await waitFor(
      async () => ((await get(DE, '/v1/audit/cosignatures')) as Cosigs).cosignatures,
      (cs) => cs.some((c) => c.witness.country === 'FR' && c.head.treeSize === grown),
      30_000,
    );
    delete process.env.OPENPRUM_AUDIT_WITNESS_INTERVAL_MS;
    await f.stop('FR');
    await f.start('FR');
  }, 90_000);
});

/**
 * NL's operator rewrites the tail of its log: one record from `keep` on changed, the entries and
 * nodes from there removed, the state set back, and the log sealed and signed again with NL's key.
 * The first `keep` entries stay as they were, so the new history is consistent with every head of
 * at most `keep` entries: only a witness that saw a later head can tell.
 */
async function rewriteTail(keep: number): Promise<number> {
  await NL.t.node.db.transaction().execute(async (trx: Transaction<Schema>) => {
    for (const t of ['records', 'audit_log_entries', 'audit_nodes', 'audit_log_state']) await sql.raw(`alter table ${t} disable trigger user`).execute(trx);
    await sql`update records set reason = 'rewritten' where id = (select max(record_id) from audit_log_entries)`.execute(trx);
    await sql`update audit_log_state set tree_size = ${keep}, last_record_id = (select record_id from audit_log_entries where log_index = ${keep - 1})`.execute(trx);
    await sql`delete from audit_log_entries where log_index >= ${keep}`.execute(trx);
    await sql`delete from audit_nodes where (idx + 1) * (1::bigint << level) > ${keep}`.execute(trx);
    for (const t of ['records', 'audit_log_entries', 'audit_nodes', 'audit_log_state']) await sql.raw(`alter table ${t} enable trigger user`).execute(trx);
  });
  return (await sealLog(NL.t.node, { forceHead: true })).treeSize;
}

describe('a log that rewrites its history is caught by its peers', () => {
  it('FR, shown only the rewritten history, is warned by DE\'s countersigned head (gossip); DE catches it; supervisors see the alarms', async () => {
    // FR and DE both know NL at `keep` entries; then NL grows and only DE sees the honest head.
    const keep = (await sealLog(NL.t.node)).treeSize;
    for (const n of [FR, DE]) expect(verdictOf(await runWitnessRound(n.fed), 'NL')!.verdict).toMatch(/accepted|duplicate/);
    const honest = await grow(NL, 3);
    expect(verdictOf(await runWitnessRound(DE.fed), 'NL')).toMatchObject({ verdict: 'accepted', treeSize: honest });

    const rewritten = await rewriteTail(keep);
    expect(rewritten).toBe(honest);

    // FR: NL's rewritten head extends what FR saw (consistent), but DE's countersigned head of the
    // same size has another root.
    const fr = await runWitnessRound(FR.fed);
    expect(verdictOf(fr, 'DE')!.gossip.find((g) => g.log === logOf(NL))!.verdict).toMatch(/fork|rewrite/);
    const frAlarms = ((await get(FR, '/v1/audit/alarms')) as Alarms).alarms;
    expect(frAlarms).toHaveLength(1);
    expect(frAlarms[0]).toMatchObject({ log: logOf(NL), source: 'gossip:DE' });
    expect(['fork', 'rewrite']).toContain(frAlarms[0]!.kind);

    // DE: a second head of a size it has countersigned, from NL itself (and from FR's gossip, which
    // DE reads first: one alarm for the one piece of evidence).
    const de = await runWitnessRound(DE.fed);
    expect(verdictOf(de, 'NL')).toMatchObject({ verdict: 'fork', cosigned: false });
    const deAlarms = ((await get(DE, '/v1/audit/alarms')) as Alarms).alarms;
    expect(deAlarms).toEqual([expect.objectContaining({ log: logOf(NL), kind: 'fork' })]);
    expect(['direct', 'gossip:FR']).toContain(deAlarms[0]!.source);
    const heads = (deAlarms[0]!.evidence as { heads: Array<{ treeSize: number; rootHash: string }> }).heads;
    expect(heads.map((h) => h.treeSize)).toEqual([honest, honest]);
    expect(heads[0]!.rootHash).not.toBe(heads[1]!.rootHash);

    // Recorded, and shown with the state of the log.
    const rec = await DE.t.node.db.selectFrom('records').selectAll().where('id', '=', deAlarms[0]!.recordId).executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ action: 'audit.witness-alarm', administering_body: 'NL NCP', outcome: 'done' });
    expect(((await get(DE, '/v1/audit/witness')) as { alarms: number; logs: Array<{ state: string; lastChecked: { verdict: string } }> })).toMatchObject({ alarms: 1, logs: expect.arrayContaining([expect.objectContaining({ state: 'NL', lastChecked: expect.objectContaining({ verdict: 'fork' }) })]) });

    // Not one alarm per round: the same evidence is one alarm. The witness does not move on.
    await runWitnessRound(DE.fed);
    await runWitnessRound(FR.fed);
    expect(((await get(DE, '/v1/audit/alarms')) as Alarms).alarms).toHaveLength(1);
    expect(((await get(FR, '/v1/audit/alarms')) as Alarms).alarms.length).toBeLessThanOrEqual(2);
    // NL's rewritten head gets no countersignature from DE.
    const latestAtNl = ((await get(NL, '/v1/audit/cosignatures')) as Cosigs).cosignatures.filter((c) => c.witness.country === 'DE' && c.head.treeSize === honest);
    expect(new Set(latestAtNl.map((c) => c.head.rootHash)).size).toBe(1);
  }, 120_000);
});
