/**
 * Retention and erasure (Prüm Decision Art. 30(4), (5); Directive (EU) 2016/680 Art. 16): erased
 * content is nowhere in the database afterwards, and the log stays verifiable.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../test/support/test-node.ts';
import { drawSample, listChecks, recordCheck } from './checks.ts';
import { verifyAuditExport } from './export-verify.ts';
import type { AuditExportFile } from './export-format.ts';
import { openExport, type ExportRequest } from './export.ts';
import { toHex } from './merkle/index.ts';
import { eraseRecordsByOrder, purgeExpiredRecords } from './retention.ts';
import { sealLog } from './sequencer.ts';
import { latestHead, readLogState } from './store.ts';
import type { OfficerCaller } from '../identity/caller.ts';

let t: TestNode;
let supervisor: OfficerCaller;

async function exportFile(request: ExportRequest = {}): Promise<AuditExportFile> {
  const { chunks } = await openExport(t.node, request);
  let text = '';
  for await (const c of chunks) text += c;
  return JSON.parse(text) as AuditExportFile;
}
const verify = (f: unknown) => verifyAuditExport(f, { publicKey: t.node.keys.publicKey });

/** A record `age` ago, naming `marker` as personal data (a holder's name, a plate). */
async function recordAged(age: string, marker: string): Promise<number> {
  const r = await sql<{ id: number }>`insert into records (recorded_at, action, direction, searching_body, administering_body, reason, purpose, query, supplied, hit, outcome)
    values (now() - ${age}::interval, 'vehicle.search', 'local', 'AT NCP', 'AT vehicle register', ${`Case about ${marker}`}, 'criminal-offences',
      ${JSON.stringify({ registrationNumber: `W-${marker}` })}::jsonb, ${JSON.stringify([{ holder: { surname: marker } }])}::jsonb, true, 'hit')
    returning id`.execute(t.node.db);
  return Number(r.rows[0]!.id);
}

/** Rows of any table of the node whose text form contains `needle`. */
async function occurrences(needle: string): Promise<string[]> {
  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`.execute(t.node.db);
  const found: string[] = [];
  for (const { table_name } of tables.rows) {
    const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table_name)} x where x::text like ${`%${needle}%`}`.execute(t.node.db);
    if (r.rows[0]!.n > 0) found.push(table_name);
  }
  return found;
}

beforeAll(async () => {
  t = await createTestNode('AT');
  const s = await t.tokenFor('dpa-1', ['supervisor']);
  supervisor = { kind: 'officer', officerId: s.officerId, reference: 'dpa-1', name: 'DPA', roles: ['supervisor'], tokenId: 0 };
});
afterAll(async () => t.close());

describe('the retention purge (Art. 30(4))', () => {
  it('deletes records older than two years for real, erases their log entries, and the log still verifies', async () => {
    const old = [await recordAged('2 years 30 days', 'Zebedaeus-Alpha'), await recordAged('2 years 20 days', 'Zebedaeus-Beta'), await recordAged('2 years 1 day', 'Zebedaeus-Gamma')];
    const young = [await recordAged('1 year', 'Young-Delta'), await recordAged('1 day', 'Young-Epsilon')];
    // Written late with an old time, behind young records: due all the same.
    const straggler = await recordAged('2 years 5 days', 'Zebedaeus-Late');
    await sealLog(t.node);
    const before = verify(await exportFile());
    expect(before.findings).toEqual([]);
    const salts = await sql<{ salt: Uint8Array }>`select salt from audit_log_entries where record_id = any(${[...old, straggler]}::bigint[])`.execute(t.node.db);
    expect(salts.rows).toHaveLength(4);
    const headBefore = (await latestHead(t.node.db))!.head;

    const r = await purgeExpiredRecords(t.node);
    expect(r).toMatchObject({ erasedFrom: 0, erasedBelow: 3, alsoErased: [5], records: 4, entries: 4, anomalies: [] });
    expect(r.head!.treeSize).toBeGreaterThan(headBefore.treeSize); // the record of the purge is in the signed log

    // Real: the content, and the salts that could reopen the commitments, are nowhere in the database.
    for (const marker of ['Zebedaeus-Alpha', 'Zebedaeus-Beta', 'Zebedaeus-Gamma', 'Zebedaeus-Late', 'Zebedaeus']) expect(await occurrences(marker)).toEqual([]);
    for (const { salt } of salts.rows) expect(await occurrences(toHex(new Uint8Array(salt)))).toEqual([]);
    expect(await occurrences('Young-Delta')).toEqual(['records']);
    const remaining = await sql<{ id: number }>`select id from records where id = any(${[...old, ...young, straggler]}::bigint[]) order by id`.execute(t.node.db);
    expect(remaining.rows.map((x) => Number(x.id))).toEqual(young);
    const entries = await sql<{ log_index: number; salt: Uint8Array | null; erasure: string | null }>`select log_index, salt, erasure from audit_log_entries order by log_index`.execute(t.node.db);
    expect(entries.rows.slice(0, 6).map((e) => e.erasure)).toEqual(['retention', 'retention', 'retention', null, null, 'retention']);

    // The tree is untouched, and exports still verify: every erasure is accounted for by the record of the purge.
    const after = verify(await exportFile());
    expect(after.findings).toEqual([]);
    expect(after).toMatchObject({ ok: true, counts: { redacted: 4 }, erasures: { retentionBelow: 3, retentionLate: 1 } });
    const period = verify(await exportFile({ from: new Date(Date.now() - 400 * 86_400_000).toISOString() }));
    expect(period.findings).toEqual([]);
    expect(period.scope).toBe('range');

    // Nothing more is due: a second run changes nothing.
    const again = await purgeExpiredRecords(t.node);
    expect(again).toMatchObject({ records: 0, entries: 0, erasedBelow: 3 });
  });

  it('is refused by the database for anything younger, or outside the declared purge', async () => {
    const id = await recordAged('1 day', 'Young-Zeta');
    await sealLog(t.node);
    await expect(
      t.node.db.transaction().execute(async (trx) => {
        await sql`select set_config('openprum.audit_erase', 'on', true)`.execute(trx);
        await sql`update audit_log_entries set salt = null, content_digest = null, erased_at = now(), erasure = 'retention' where record_id = ${id}`.execute(trx);
      }),
    ).rejects.toThrow(/only erased with their record/);
  });
});

describe('an erasure ordered by the data-protection authority', () => {
  it('erases named records of any age, records the order in the log, and the log still verifies', async () => {
    const id = await recordAged('10 days', 'Ordered-Eta');
    const keep = await recordAged('9 days', 'Kept-Theta');
    const r = await eraseRecordsByOrder(t.node, { recordIds: [id], order: 'DSB-2026-0042', orderedBy: 'Datenschutzbehörde', reason: 'Unlawful search' });
    expect(r.logIndices).toHaveLength(1);
    expect(await occurrences('Ordered-Eta')).toEqual([]);
    expect(await occurrences('Kept-Theta')).toEqual(['records']);
    const order = await sql<{ query: { order: string; logIndices: number[] } }>`select query from records where action = 'audit.erasure-order'`.execute(t.node.db);
    expect(order.rows[0]!.query).toMatchObject({ order: 'DSB-2026-0042', logIndices: r.logIndices });
    const full = verify(await exportFile());
    expect(full.findings).toEqual([]);
    expect(full.erasures.orders).toBe(1);
    // An export of a later period carries the orders and the purge as context.
    // A period holding only the record of 'Young-Delta' (a year ago): the purge and the order are context.
    const year = Date.now() - 365 * 86_400_000;
    const later = await exportFile({ from: new Date(year - 3_600_000).toISOString(), to: new Date(year + 3_600_000).toISOString() });
    expect(later.entries).toHaveLength(1);
    expect(later.context.map((c) => c.role).sort()).toEqual(['after', 'before', 'erasure-order', 'retention']);
    expect(verify(later).findings).toEqual([]);
    // Right before the erased entry: its neighbour is erased by the order, which the context explains.
    const day = Date.now() - 86_400_000;
    const zeta = await exportFile({ from: new Date(day - 3_600_000).toISOString(), to: new Date(day + 3_600_000).toISOString() });
    expect(zeta.context.find((c) => c.role === 'after')!.entry.redacted).toBe(true);
    expect(verify(zeta).findings).toEqual([]);
    await expect(eraseRecordsByOrder(t.node, { recordIds: [id], order: 'x', orderedBy: 'y', reason: 'z' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(eraseRecordsByOrder(t.node, { recordIds: [99_999_999], order: 'x', orderedBy: 'y', reason: 'z' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(eraseRecordsByOrder(t.node, { recordIds: [keep], order: ' ', orderedBy: 'y', reason: 'z' })).rejects.toMatchObject({ code: 'input-invalid' });
  });
});

describe('random checks (Art. 30(5))', () => {
  it('draws a recorded random sample, keeps results unchangeable, and deletes them after 18 months', async () => {
    await sealLog(t.node);
    const sample = await drawSample(t.node.db, 'AT', supervisor, { n: 2 });
    expect(sample.records).toHaveLength(2);
    const drawn = await sql<{ supplied: { logIndices: number[] } }>`select supplied from records where action = 'audit.check-sample'`.execute(t.node.db);
    expect(drawn.rows[0]!.supplied.logIndices).toEqual(sample.records.map((s) => s.logIndex));
    const first = sample.records[0]!;
    const check = await recordCheck(t.node.db, supervisor, { recordId: first.record.id, result: 'lawful', findings: 'Order and reason match the case file' });
    expect(check).toMatchObject({ recordId: first.record.id, logIndex: first.logIndex, result: 'lawful', supervisorReference: 'dpa-1' });
    await expect(sql`update audit_checks set result = 'unlawful'`.execute(t.node.db)).rejects.toThrow(/cannot be changed/);
    await expect(sql`delete from audit_checks`.execute(t.node.db)).rejects.toThrow(/cannot be changed/);
    // A result from 19 months ago (written as if then; the guard only covers update and delete).
    await sql`insert into audit_checks (record_id, result, supervisor_id, supervisor_reference, checked_at)
      values (${first.record.id}, 'inconclusive', ${supervisor.officerId}, 'dpa-1', now() - interval '19 months')`.execute(t.node.db);
    expect(await listChecks(t.node.db, supervisor)).toHaveLength(2);
    const r = await purgeExpiredRecords(t.node);
    expect(r.checks).toBe(1);
    expect((await listChecks(t.node.db, supervisor)).map((c) => c.id)).toEqual([check.id]);
    await expect(recordCheck(t.node.db, supervisor, { recordId: 99_999_999, result: 'lawful' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(recordCheck(t.node.db, { ...supervisor, roles: ['officer'] }, { recordId: first.record.id, result: 'lawful' })).rejects.toMatchObject({ code: 'forbidden' });
    expect((await readLogState(t.node.db)).erasedBelow).toBe(3);
  });
});
