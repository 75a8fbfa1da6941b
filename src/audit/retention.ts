/**
 * Erasure of records: the retention purge after two years (Prüm Decision Art. 30(4): "kept for two
 * years ... after the conservation period the recorded data shall be deleted immediately"), the
 * deletion of random-check results after 18 months (Art. 30(5)), and erasure ordered by the
 * data-protection authority (Directive (EU) 2016/680 Arts. 16(2) and 47(2)(b)).
 *
 * Erasure is real: the record row is deleted, and its log entry loses its salt and content digest,
 * keeping only (index, commitment). The commitment hides the content once the salt is gone, yet the
 * leaf and so the whole tree stay verifiable (src/audit/merkle/README.md §2). The database guards of
 * migrations 0001 and 0002 allow exactly these deletions and nothing else.
 *
 * Each erasure writes a record of itself, sealed into the log in the same transaction: the retention
 * purge erases a prefix of the log and says up to which index; an erasure order names the entries it
 * erased. An offline verifier (export-verify.ts) accepts an erased entry only when one of these
 * accounts for it, so deleting a record and erasing its entry by hand does not pass as an erasure.
 */
import { sql, type Transaction } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { signedTreeHeadToJson, type SignedTreeHeadJson } from './merkle/index.ts';
import { ERASURE_ORDER_ACTION, RETENTION_ACTION } from './export-format.ts';
import { writeRecord } from './records.ts';
import { sealBatchIn } from './sequencer.ts';
import { readLogState, type AuditNode } from './store.ts';

/** Integrates every record written so far, inside the caller's transaction (which then holds the sequencer lock). */
async function sealAllIn(trx: Transaction<Schema>, node: AuditNode): Promise<void> {
  for (;;) {
    const r = await sealBatchIn(trx, node, { lock: 'wait' });
    if (!r.full) return;
  }
}

export interface PurgeResult {
  /** Records recorded before this time were due (two years before the purge). */
  readonly cutoff: string;
  /** Log entries [erasedFrom, erasedBelow) were erased by this purge. */
  readonly erasedFrom: number;
  readonly erasedBelow: number;
  readonly records: number;
  readonly entries: number;
  /** Entries beyond the prefix whose records were due as well (committed late), erased too. */
  readonly alsoErased: readonly number[];
  /** Entries in the purged prefix that were live although their record was already gone: left as they are, as evidence. */
  readonly anomalies: readonly number[];
  /** Check results deleted (Art. 30(5): 18 months). */
  readonly checks: number;
  readonly head: SignedTreeHeadJson | undefined;
}

const WALK_PAGE = 5000;
const STRAGGLERS_PER_RUN = 10_000;

/**
 * The retention purge (Art. 30(4)): deletes every record older than two years and erases its log
 * entry, in log order, and deletes check results older than 18 months (Art. 30(5)). One transaction:
 * either all of it, with the record of the purge sealed into the log, or nothing. `now` (default: the
 * database's clock) can only move the cut-off back, never past the database's own two years.
 *
 * Records are purged in log order up to the first one still within its two years (the record of the
 * purge states that index), and any later record already past its two years is purged too and named.
 */
export async function purgeExpiredRecords(node: AuditNode, now?: Date, options: { vacuum?: boolean } = {}): Promise<PurgeResult> {
  const nowIso = now ? now.toISOString() : null;
  const result = await node.db.transaction().execute(async (trx) => {
    await sealAllIn(trx, node);
    const state = await readLogState(trx, true);
    const c = await sql<{ cutoff: string; checks_cutoff: string }>`
      select least(coalesce(${nowIso}::timestamptz, now()), now()) - interval '2 years' as cutoff,
             least(coalesce(${nowIso}::timestamptz, now()), now()) - interval '18 months' as checks_cutoff`.execute(trx);
    const cutoff = c.rows[0]!.cutoff;
    const checksCutoff = c.rows[0]!.checks_cutoff;

    // Walk the log from the purged prefix to the first entry whose record is still within two years.
    let k = state.erasedBelow;
    const anomalies: number[] = [];
    walk: while (k < state.treeSize) {
      const page = await sql<{ log_index: number; erased: boolean; has_record: boolean; young: boolean | null }>`
        select e.log_index, e.salt is null as erased, r.id is not null as has_record, r.recorded_at >= ${cutoff}::timestamptz as young
        from audit_log_entries e left join records r on r.id = e.record_id
        where e.log_index >= ${k} and e.log_index < ${state.treeSize} order by e.log_index limit ${WALK_PAGE}`.execute(trx);
      if (page.rows.length === 0) break;
      for (const row of page.rows) {
        if (row.has_record && row.young) break walk;
        if (!row.erased && !row.has_record) anomalies.push(Number(row.log_index));
        k = Number(row.log_index) + 1;
      }
    }

    // Records past their two years behind the first young one (written by a transaction that
    // committed late, or imported with an earlier time): deleted now too, and named in the record of
    // the purge, since "deleted immediately" (Art. 30(4)) cannot wait for the prefix to reach them.
    const late = await sql<{ log_index: number }>`select e.log_index from records r join audit_log_entries e on e.record_id = r.id
      where r.recorded_at < ${cutoff}::timestamptz and e.log_index >= ${k} and e.salt is not null
      order by e.log_index limit ${STRAGGLERS_PER_RUN}`.execute(trx);
    const alsoErased = late.rows.map((r) => Number(r.log_index));

    let records = 0;
    let entries = 0;
    let head: SignedTreeHeadJson | undefined;
    if (k > state.erasedBelow || alsoErased.length > 0) {
      await sql`select set_config('openprum.records_purge', 'on', true), set_config('openprum.audit_erase', 'on', true)`.execute(trx);
      const deleted = await sql`delete from records r using audit_log_entries e
        where e.record_id = r.id and ((e.log_index >= ${state.erasedBelow} and e.log_index < ${k}) or e.log_index = any(${alsoErased}::bigint[]))`.execute(trx);
      records = Number(deleted.numAffectedRows ?? 0);
      const erased = await sql`update audit_log_entries e
        set salt = null, content_digest = null, erased_at = now(), erasure = 'retention'
        where ((e.log_index >= ${state.erasedBelow} and e.log_index < ${k}) or e.log_index = any(${alsoErased}::bigint[]))
          and e.salt is not null and e.log_index <> all(${anomalies}::bigint[])
          and not exists (select 1 from records r where r.id = e.record_id)`.execute(trx);
      entries = Number(erased.numAffectedRows ?? 0);
      // The record of the purge names every entry the retention purge erased beyond the prefix, these
      // and those of earlier runs, so that the latest record alone accounts for all of them.
      const beyondRows = await sql<{ log_index: number }>`select log_index from audit_log_entries
        where erasure = 'retention' and log_index >= ${k} order by log_index`.execute(trx);
      const beyond = beyondRows.rows.map((r) => Number(r.log_index));
      await sql`update audit_log_state set erased_below = ${k} where id = 1`.execute(trx);
      await writeRecord(trx, {
        action: RETENTION_ACTION,
        direction: 'local',
        searchingBody: `${node.country} NCP`,
        administeringBody: `${node.country} NCP`,
        reason: 'Retention period of two years ended: records deleted',
        legalBasis: 'Prüm Decision Art. 30(4)',
        // erasedBelow: every entry below it is erased (except the anomalies, listed). The verifier
        // relies on this to tell a purge from a record deleted by hand.
        query: { cutoff, erasedFrom: state.erasedBelow, erasedBelow: k, alsoErased: beyond, records, entries, anomalies },
        outcome: 'done',
      });
    }
    await sql`select set_config('openprum.checks_purge', 'on', true)`.execute(trx);
    const checks = await sql`delete from audit_checks where checked_at < ${checksCutoff}::timestamptz`.execute(trx);
    // Seal the record of the purge with the erasure it documents, and sign.
    const sealed = await sealBatchIn(trx, node, { lock: 'wait', forceHead: records > 0 });
    if (sealed.head) head = signedTreeHeadToJson(sealed.head);
    return { cutoff, erasedFrom: state.erasedBelow, erasedBelow: k, alsoErased, records, entries, anomalies, checks: Number(checks.numAffectedRows ?? 0), head };
  });
  if (options.vacuum !== false && (result.records > 0 || result.checks > 0)) await vacuumErased(node);
  return result;
}

/**
 * Lets PostgreSQL reclaim the deleted rows at once, so that erased content does not linger in dead
 * row versions until autovacuum. (Copies in WAL segments and backups age out by rotation.)
 */
async function vacuumErased(node: AuditNode): Promise<void> {
  await sql`vacuum records, audit_log_entries, audit_checks`.execute(node.db);
}

export interface ErasureOrder {
  readonly recordIds: readonly number[];
  /** Reference of the authority's decision, recorded. */
  readonly order: string;
  /** Who ordered it (the authority), recorded. */
  readonly orderedBy: string;
  readonly reason: string;
}

export interface ErasureResult {
  readonly logIndices: readonly number[];
  readonly head: SignedTreeHeadJson | undefined;
}

function checkText(field: string, v: string, max: number): string {
  const t = v.trim();
  if (t.length === 0 || t.length > max) throw new OpenPrumError('input-invalid', `${field} must be 1 to ${max} characters: the erasure is recorded with it`, { field });
  return t;
}

/**
 * Erases the records named by an erasure order of the data-protection authority, whatever their age,
 * with their log entries, and records the order (its reference, who ordered it, the entries erased)
 * in the log in the same transaction.
 */
export async function eraseRecordsByOrder(node: AuditNode, order: ErasureOrder): Promise<ErasureResult> {
  const ids = [...new Set(order.recordIds)];
  if (ids.length === 0 || ids.length > 1000 || ids.some((id) => !Number.isSafeInteger(id) || id <= 0)) {
    throw new OpenPrumError('input-invalid', 'Name 1 to 1000 records to erase by their ids', { field: 'recordIds' });
  }
  const ref = checkText('order', order.order, 200);
  const orderedBy = checkText('orderedBy', order.orderedBy, 200);
  const reason = checkText('reason', order.reason, 500);
  const erased = await node.db.transaction().execute(async (trx) => {
    await sealAllIn(trx, node);
    const rows = await sql<{ log_index: number; record_id: number; erased: boolean }>`
      select log_index, record_id, salt is null as erased from audit_log_entries where record_id = any(${ids}::bigint[]) order by log_index`.execute(trx);
    const known = new Set(rows.rows.map((r) => Number(r.record_id)));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0) throw new OpenPrumError('not-found', `No record ${unknown.join(', ')} in the audit log`, { recordIds: unknown });
    const live = rows.rows.filter((r) => !r.erased);
    if (live.length === 0) throw new OpenPrumError('conflict', 'These records are erased already');
    const liveIds = live.map((r) => Number(r.record_id));
    await sql`select set_config('openprum.records_erase', ${liveIds.join(',')}, true), set_config('openprum.audit_erase', 'on', true)`.execute(trx);
    await sql`delete from records where id = any(${liveIds}::bigint[])`.execute(trx);
    await sql`update audit_log_entries set salt = null, content_digest = null, erased_at = now(), erasure = 'order'
      where record_id = any(${liveIds}::bigint[])`.execute(trx);
    const logIndices = live.map((r) => Number(r.log_index));
    await writeRecord(trx, {
      action: ERASURE_ORDER_ACTION,
      direction: 'local',
      searchingBody: `${node.country} NCP`,
      administeringBody: `${node.country} NCP`,
      orderedBy,
      reason,
      legalBasis: 'Directive (EU) 2016/680 Art. 16(2)',
      query: { order: ref, logIndices, records: liveIds.length },
      outcome: 'done',
    });
    const sealed = await sealBatchIn(trx, node, { lock: 'wait', forceHead: true });
    return { logIndices, head: sealed.head ? signedTreeHeadToJson(sealed.head) : undefined };
  });
  await vacuumErased(node);
  return erased;
}
