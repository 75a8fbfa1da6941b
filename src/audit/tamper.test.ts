/**
 * Tampering with the stored record, as an operator with database access would (triggers disabled as
 * a superuser can), is found by the offline verification of an export. Each scenario runs inside a
 * transaction that is rolled back, so every scenario starts from the same honest log.
 */
import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../test/support/test-node.ts';
import type { Schema } from '../db/schema.ts';
import { formatAuditReport, verifyAuditExport, type AuditFinding } from './export-verify.ts';
import type { AuditExportFile } from './export-format.ts';
import { exportChunks, planExport, type ExportRequest } from './export.ts';
import { commitEntry, signTreeHead, signedTreeHeadFromJson, toHex } from './merkle/index.ts';
import { toStoredRecord } from './records.ts';
import { sealBatchIn, sealLog } from './sequencer.ts';
import { latestHead, nodeLogId } from './store.ts';

let t: TestNode;
const DAY = 86_400_000;
const base = Date.parse('2026-01-01T00:00:00Z');
const day = (i: number) => new Date(base + i * DAY).toISOString();
const ids: number[] = [];

class Rollback extends Error {}

/** Runs `f` in a transaction that is always rolled back. */
async function scenario(f: (trx: Transaction<Schema>) => Promise<void>): Promise<void> {
  await t.node.db
    .transaction()
    .execute(async (trx) => {
      await f(trx);
      throw new Rollback();
    })
    .catch((e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
    });
}

async function exportIn(db: Transaction<Schema> | TestNode['node']['db'], request: ExportRequest = {}): Promise<AuditExportFile> {
  const plan = await planExport(db, request);
  let text = '';
  for await (const chunk of exportChunks(db, plan)) text += chunk;
  return JSON.parse(text) as AuditExportFile;
}

const verify = (file: unknown, trusted: ReturnType<typeof signedTreeHeadFromJson>[] = []) =>
  verifyAuditExport(file, { publicKey: t.node.keys.publicKey, trustedHeads: trusted });
const kinds = (f: readonly AuditFinding[]) => f.map((x) => x.kind);
const at = (i: number) => i; // log index of record i: records were sealed in day order

beforeAll(async () => {
  t = await createTestNode('DE');
  for (let i = 0; i < 30; i++) {
    const r = await sql<{ id: number }>`insert into records (recorded_at, action, direction, searching_body, administering_body, reason, purpose, query, supplied, hit, outcome)
      values (${day(i)}, 'vehicle.search', 'local', 'DE NCP', 'DE vehicle register', ${`Case ${i}`}, 'criminal-offences',
        ${JSON.stringify({ registrationNumber: `B-XY-${1000 + i}` })}::jsonb,
        ${i % 3 === 0 ? JSON.stringify([{ vin: 'WVWZZZ1JZXW000001', holder: { surname: `Müller ${i}` } }]) : null}::jsonb, ${i % 3 === 0}, ${i % 3 === 0 ? 'hit' : 'no-hit'})
      returning id`.execute(t.node.db);
    ids.push(Number(r.rows[0]!.id));
  }
  await sealLog(t.node, { batchSize: 7 });
});
afterAll(async () => t.close());

describe('a faithful export', () => {
  it('of the whole log verifies, with a clear report', async () => {
    const file = await exportIn(t.node.db);
    expect(file.scope).toBe('full');
    expect(file.entries).toHaveLength(30);
    expect(file.leafHashes).toHaveLength(30);
    const r = verify(file);
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ ok: true, treeSize: 30, signatureValid: true, counts: { entries: 30, live: 30, redacted: 0, withheld: 0 } });
    expect(formatAuditReport(r)).toMatch(/^VERIFIED/);
  });

  it('of a period holds exactly its records, proven by a range proof and the neighbours', async () => {
    const file = await exportIn(t.node.db, { from: day(10), to: day(20) });
    expect(file.scope).toBe('range');
    expect(file.range).toEqual({ from: 10, to: 20 });
    expect(file.entries.map((e) => (e.content as { reason: string }).reason)).toEqual(Array.from({ length: 10 }, (_, i) => `Case ${10 + i}`));
    expect(file.leafHashes).toHaveLength(10);
    expect(file.rangeProof.length).toBeGreaterThan(0);
    expect(file.context.map((c) => c.role)).toEqual(['before', 'after']);
    const r = verify(file);
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ ok: true, scope: 'range', localisation: 'range-proof', counts: { entries: 10, live: 10 } });
  });

  it('of an empty period verifies, and a period at either end of the log too', async () => {
    for (const [from, to] of [[day(40), day(50)], [day(0), day(3)], [day(27), day(31)], [day(5) + 'x', day(6)]] as const) {
      if (from.endsWith('x')) {
        await expect(exportIn(t.node.db, { from, to })).rejects.toMatchObject({ code: 'input-invalid' });
        continue;
      }
      const r = verify(await exportIn(t.node.db, { from, to }));
      expect(r.findings).toEqual([]);
    }
  });
});

describe('tampering found by verify', () => {
  it('a record changed in SQL: its content no longer matches what was logged', async () => {
    await scenario(async (trx) => {
      await sql`alter table records disable trigger records_guard`.execute(trx);
      await sql`update records set reason = 'Case 12 (harmless)' where id = ${ids[12]!}`.execute(trx);
      for (const request of [{}, { from: day(10), to: day(20) }]) {
        const r = verify(await exportIn(trx, request));
        expect(r.ok).toBe(false);
        expect(r.findings).toEqual([expect.objectContaining({ kind: 'tampered', index: at(12), how: 'content' })]);
        expect(formatAuditReport(r)).toMatch(/TAMPERING FOUND: 1 finding\.[\s\S]*entry 12: the record was altered/);
      }
    });
  });

  it('a record changed together with its stored digest: the entry no longer gives the logged leaf', async () => {
    await scenario(async (trx) => {
      await sql`alter table records disable trigger records_guard`.execute(trx);
      await sql`alter table audit_log_entries disable trigger audit_log_entries_guard`.execute(trx);
      await sql`update records set hit = false, supplied = null, outcome = 'no-hit' where id = ${ids[15]!}`.execute(trx);
      const rec = await trx.selectFrom('records').selectAll().where('id', '=', ids[15]!).executeTakeFirstOrThrow();
      const salt = (await sql<{ salt: Uint8Array }>`select salt from audit_log_entries where record_id = ${ids[15]!}`.execute(trx)).rows[0]!.salt;
      const forged = commitEntry(at(15), toStoredRecord(rec), new Uint8Array(salt));
      await sql`update audit_log_entries set content_digest = decode(${toHex(forged.contentDigest)}, 'hex') where record_id = ${ids[15]!}`.execute(trx);
      for (const request of [{}, { from: day(10), to: day(20) }]) {
        const r = verify(await exportIn(trx, request));
        expect(kinds(r.findings)).toEqual(['tampered']);
        expect(r.findings[0]).toMatchObject({ index: at(15), how: 'leaf' });
      }
      // Recomputing the leaf and the tree's nodes does not help: they no longer fold to the signed root.
      await sql`alter table audit_nodes disable trigger audit_nodes_guard`.execute(trx);
      await sql`update audit_nodes set hash = decode(${toHex(forged.leafHash)}, 'hex') where level = 0 and idx = ${at(15)}`.execute(trx);
      const r = verify(await exportIn(trx, { from: day(10), to: day(20) }));
      expect(kinds(r.findings)).toContain('range-proof-invalid');
      expect(kinds(r.findings)).toContain('head-root-mismatch');
    });
  });

  it('a record deleted (its log entry left alone): the record is missing', async () => {
    await scenario(async (trx) => {
      await sql`alter table records disable trigger records_guard`.execute(trx);
      await sql`delete from records where id = ${ids[20]!}`.execute(trx);
      const r = verify(await exportIn(trx));
      expect(r.findings).toEqual([{ kind: 'content-missing', index: at(20) }]);
      // The first record of a period deleted: the period's range shrinks, its neighbour shows it.
      const p = verify(await exportIn(trx, { from: day(20), to: day(25) }));
      expect(p.findings).toEqual([{ kind: 'content-missing', index: at(20) }]);
    });
  });

  it('a record deleted with its log entry: the index is missing', async () => {
    await scenario(async (trx) => {
      await sql`alter table records disable trigger records_guard`.execute(trx);
      await sql`alter table audit_log_entries disable trigger audit_log_entries_guard`.execute(trx);
      await sql`delete from records where id = ${ids[7]!}`.execute(trx);
      await sql`delete from audit_log_entries where record_id = ${ids[7]!}`.execute(trx);
      expect(verify(await exportIn(trx)).findings).toEqual([{ kind: 'missing', index: at(7) }]);
      expect(verify(await exportIn(trx, { from: day(5), to: day(10) })).findings).toEqual([{ kind: 'missing', index: at(7) }]);
      // At the edge of the period the range shrinks past it; the missing neighbour is reported.
      expect(kinds(verify(await exportIn(trx, { from: day(7), to: day(10) })).findings)).toContain('missing');
    });
  });

  it('a record deleted and its entry erased by hand: an erasure nothing accounts for', async () => {
    await scenario(async (trx) => {
      await sql`alter table records disable trigger records_guard`.execute(trx);
      await sql`alter table audit_log_entries disable trigger audit_log_entries_guard`.execute(trx);
      await sql`delete from records where id = ${ids[3]!}`.execute(trx);
      await sql`update audit_log_entries set salt = null, content_digest = null, erased_at = now(), erasure = 'retention' where record_id = ${ids[3]!}`.execute(trx);
      expect(verify(await exportIn(trx)).findings).toEqual([{ kind: 'erasure-unexplained', index: at(3) }]);
      // Faking the record of a retention purge too: the purge would have erased every entry below.
      await sql`insert into records (action, direction, searching_body, administering_body, query, outcome)
        values ('audit.retention-purge', 'local', 'DE NCP', 'DE NCP',
          jsonb_build_object('cutoff', (now() - interval '2 years')::text, 'erasedBelow', 4), 'done')`.execute(trx);
      await sealBatchIn(trx, t.node, { forceHead: true });
      const r = verify(await exportIn(trx));
      expect(kinds(r.findings)).toEqual(['retention-inconsistent', 'retention-inconsistent', 'retention-inconsistent']);
    });
  });

  it('entries reordered or renumbered: each is recognised as the entry logged elsewhere', async () => {
    await scenario(async (trx) => {
      await sql`alter table audit_log_entries disable trigger audit_log_entries_guard`.execute(trx);
      await sql`update audit_log_entries set log_index = 1000 where log_index = 5`.execute(trx);
      await sql`update audit_log_entries set log_index = 5 where log_index = 6`.execute(trx);
      await sql`update audit_log_entries set log_index = 6 where log_index = 1000`.execute(trx);
      const r = verify(await exportIn(trx));
      expect(r.findings).toEqual([
        expect.objectContaining({ kind: 'misplaced', index: 5, actualIndex: 6 }),
        expect.objectContaining({ kind: 'misplaced', index: 6, actualIndex: 5 }),
      ]);
    });
    await scenario(async (trx) => {
      // Delete entry 8 and renumber the rest to close the gap.
      await sql`alter table records disable trigger records_guard`.execute(trx);
      await sql`alter table audit_log_entries disable trigger audit_log_entries_guard`.execute(trx);
      await sql`delete from records where id = ${ids[8]!}`.execute(trx);
      await sql`delete from audit_log_entries where log_index = 8`.execute(trx);
      for (let i = 9; i < 30; i++) await sql`update audit_log_entries set log_index = ${i - 1} where log_index = ${i}`.execute(trx);
      const r = verify(await exportIn(trx, { from: day(5), to: day(15) }));
      expect(r.ok).toBe(false);
      expect(kinds(r.findings)).toContain('misplaced');
      expect(kinds(r.findings)).toContain('missing');
    });
  });

  it('a history rewritten and re-signed with the node key: caught against a head the supervisor kept', async () => {
    const trusted = (await latestHead(t.node.db))!.head;
    await scenario(async (trx) => {
      // The operator changes a record and rebuilds the whole log from the records, then signs it.
      for (const table of ['audit_log_entries', 'audit_nodes', 'audit_log_state']) {
        await sql.raw(`alter table ${table} disable trigger user`).execute(trx);
      }
      await sql`alter table records disable trigger records_guard`.execute(trx);
      await sql`update records set reason = 'nothing to see' where id = ${ids[2]!}`.execute(trx);
      await sql`delete from audit_log_entries`.execute(trx);
      await sql`delete from audit_nodes`.execute(trx);
      await sql`update audit_log_state set tree_size = 0, last_record_id = 0`.execute(trx);
      await sealBatchIn(trx, t.node, { forceHead: true });
      const file = await exportIn(trx);
      // On its own the rewritten export is consistent: that is why the heads peers and supervisors hold matter.
      expect(verify(file).findings).toEqual([]);
      const r = verify(file, [trusted]);
      expect(r.findings).toEqual([expect.objectContaining({ kind: 'history-rewritten', trustedSize: 30, treeSize: 30 })]);
      expect(formatAuditReport(r)).toMatch(/not an extension of the trusted head/);
    });
  });

  it('a head not signed by the node, or signed for another size, is not trusted', async () => {
    const file = await exportIn(t.node.db);
    const forged = structuredClone(file);
    forged.heads[0]!.rootHash = '00'.repeat(32);
    expect(kinds(verify(forged).findings)).toContain('head-signature-invalid');
    // Signed by another key.
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('ed25519');
    const head = signedTreeHeadFromJson(file.heads[0]);
    const fake = signTreeHead({ logId: nodeLogId(t.node), treeSize: head.treeSize, timestamp: head.timestamp, rootHash: head.rootHash }, other.privateKey);
    expect(verifyAuditExport(file, { publicKey: other.publicKey }).ok).toBe(false);
    expect(verify(file, [fake]).findings).toEqual([expect.objectContaining({ kind: 'trusted-head-invalid' })]);
  });

  it('an export that leaves records of the period out: its neighbours show it', async () => {
    const file = await exportIn(t.node.db, { from: day(11), to: day(19) });
    expect(verify(file).findings).toEqual([]);
    const claimed = structuredClone(file);
    claimed.period = { from: day(10), to: day(20) }; // claims the period of days 10-19
    expect(verify(claimed).findings).toEqual([
      { kind: 'period-not-covered', side: 'before', index: 10 },
      { kind: 'period-not-covered', side: 'after', index: 19 },
    ]);
    const cut = structuredClone(file);
    cut.context = cut.context.filter((c) => c.role !== 'after');
    expect(verify(cut).findings).toEqual([{ kind: 'missing', index: 19 }]);
  });

  it('refuses a file that is not an export at all', () => {
    expect(() => verify({ hello: 'world' })).toThrow(/not an audit export/);
    expect(() => verify({ format: 'other/v9', heads: [], entries: [] })).toThrow(/format/);
  });
});
