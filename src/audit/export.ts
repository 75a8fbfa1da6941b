/**
 * Writing an export of the audit log for the data-protection authority (Prüm Decision Art. 30(3),
 * (5)): the records of a period with their log entries, leaf hashes, the latest signed tree head and
 * the proofs that tie them to it. Streamed page by page, so a period of millions of records never
 * sits in memory. The format is described in export-format.ts; the export is itself recorded.
 */
import { sql, type ControlledTransaction, type Kysely, type Selectable } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { OfficerCaller } from '../identity/caller.ts';
import { signedTreeHeadToJson, toHex, type ExportEntryJson, type SignedTreeHead } from './merkle/index.ts';
import { EXPORT_FORMAT, ERASURE_ORDER_ACTION, RETENTION_ACTION, type AuditExportFile, type ContextEntryJson, type ContextRole } from './export-format.ts';
import { rangeProofNodes } from './range.ts';
import { toStoredRecord, writeRecord } from './records.ts';
import { consistencyProof, fetchNodeHashes, inclusionProof, latestHead, type AuditNode, type Db } from './store.ts';

export interface ExportRequest {
  /** Recorded at or after (ISO 8601). */
  readonly from?: string | undefined;
  /** Recorded before (ISO 8601). */
  readonly to?: string | undefined;
  /** Earlier tree sizes to prove the current log consistent with (the supervisor's last heads). */
  readonly sinceSizes?: readonly number[] | undefined;
}

export interface ExportPlan {
  readonly head: SignedTreeHead;
  readonly period: { from: string | null; to: string | null };
  readonly range: { from: number; to: number };
  readonly unsealed: number;
  readonly exportedAt: string;
  readonly rangeProof: AuditExportFile['rangeProof'];
  readonly consistency: AuditExportFile['consistency'];
  readonly context: ContextEntryJson[];
}

type JoinedRow = Selectable<Schema['records']> & {
  log_index: number;
  salt: Uint8Array | null;
  content_digest: Uint8Array | null;
  commitment: Uint8Array;
};

const u8 = (v: Uint8Array): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(v as ArrayLike<number>));

/**
 * An entry as exported: live with its record; withheld (salt and digest only) when the log entry is
 * live but its record is gone, which the verifier reports as a record deleted outside any erasure;
 * or erased (index and commitment only).
 */
function entryJson(row: JoinedRow): ExportEntryJson {
  const index = Number(row.log_index);
  if (row.salt === null || row.content_digest === null) return { index, redacted: true, commitment: toHex(u8(row.commitment)) };
  const entry: ExportEntryJson = { index, salt: toHex(u8(row.salt)), contentDigest: toHex(u8(row.content_digest)) };
  if (row.id !== null && row.id !== undefined) entry.content = toStoredRecord(row);
  return entry;
}

async function entriesPage(db: Db, lo: number, hi: number, limit: number): Promise<JoinedRow[]> {
  const r = await sql<JoinedRow>`select e.log_index, e.salt, e.content_digest, e.commitment, r.*
    from audit_log_entries e left join records r on r.id = e.record_id
    where e.log_index >= ${lo} and e.log_index < ${hi} order by e.log_index limit ${limit}`.execute(db);
  return r.rows;
}

function checkTime(what: string, v: string | undefined): string | null {
  if (v === undefined) return null;
  if (Number.isNaN(Date.parse(v))) throw new OpenPrumError('input-invalid', `${what} must be a date and time (ISO 8601), not ${JSON.stringify(v)}`, { field: what });
  return new Date(v).toISOString();
}

async function contextEntry(db: Db, role: ContextRole, index: number, treeSize: number): Promise<ContextEntryJson | undefined> {
  const [row] = await entriesPage(db, index, index + 1, 1);
  if (!row) return undefined; // a deleted entry: the verifier finds the hole in the range or the erasure unexplained
  const proof = await inclusionProof(db, index, treeSize);
  return { role, entry: { ...entryJson(row), inclusionProof: proof.proof.map(toHex) } };
}

/**
 * Plans an export: fixes the signed head it is verified against, the range of log indices holding
 * the period's records, the range proof, the context entries and the consistency proofs. Reads
 * through `db` (a snapshot transaction on PostgreSQL, see openExport).
 */
export async function planExport(db: Db, request: ExportRequest): Promise<ExportPlan> {
  const period = { from: checkTime('from', request.from), to: checkTime('to', request.to) };
  if (period.from && period.to && period.from >= period.to) throw new OpenPrumError('input-invalid', 'from must be before to', { field: 'from' });
  const stored = await latestHead(db);
  if (!stored) throw new OpenPrumError('audit-log-empty', 'The audit log has no signed tree head yet; run openprum audit seal (or wait for the sequencer) and try again.');
  const head = stored.head;
  const n = head.treeSize;

  let range = { from: 0, to: n };
  if (period.from !== null || period.to !== null) {
    const inPeriod = sql`(${period.from}::timestamptz is null or r.recorded_at >= ${period.from}::timestamptz)
      and (${period.to}::timestamptz is null or r.recorded_at < ${period.to}::timestamptz)`;
    const r = await sql<{ lo: number | null; hi: number | null }>`select min(e.log_index) as lo, max(e.log_index) as hi
      from records r join audit_log_entries e on e.record_id = r.id where ${inPeriod} and e.log_index < ${n}`.execute(db);
    const lo = r.rows[0]?.lo;
    const hi = r.rows[0]?.hi;
    if (lo !== null && lo !== undefined && hi !== null && hi !== undefined) {
      range = { from: Number(lo), to: Number(hi) + 1 };
    } else {
      // No record of the period is in the log: an empty range where the period would be.
      const after = period.to === null ? null : await sql<{ at: number | null }>`select min(e.log_index) as at
        from records r join audit_log_entries e on e.record_id = r.id where r.recorded_at >= ${period.to}::timestamptz and e.log_index < ${n}`.execute(db);
      const at = after?.rows[0]?.at;
      const pos = at === null || at === undefined ? n : Number(at);
      range = { from: pos, to: pos };
    }
  }
  const unsealedRows = await sql<{ n: number }>`select count(*)::int as n from records r
    where (${period.from}::timestamptz is null or r.recorded_at >= ${period.from}::timestamptz)
      and (${period.to}::timestamptz is null or r.recorded_at < ${period.to}::timestamptz)
      and not exists (select 1 from audit_log_entries e where e.record_id = r.id and e.log_index < ${n})`.execute(db);

  const refs = range.from === 0 && range.to === n ? [] : rangeProofNodes(range.from, range.to, n);
  const hashes = await fetchNodeHashes(db, refs);
  const rangeProof = refs.map((r, i) => ({ level: r.level, index: r.index, hash: toHex(hashes[i] as Uint8Array) }));

  const context: ContextEntryJson[] = [];
  const inRange = (i: number): boolean => i >= range.from && i < range.to;
  if (range.from > 0) {
    const c = await contextEntry(db, 'before', range.from - 1, n);
    if (c) context.push(c);
  }
  if (range.to < n) {
    const c = await contextEntry(db, 'after', range.to, n);
    if (c) context.push(c);
  }
  // Why each erased entry was erased: the latest retention purge (it states the prefix of the log it
  // erased) and every erasure order still held. Outside a full export they are context entries.
  const events = await sql<{ log_index: number; action: string }>`
    (select e.log_index, r.action from records r join audit_log_entries e on e.record_id = r.id
      where r.action = ${RETENTION_ACTION} and e.log_index < ${n} order by e.log_index desc limit 1)
    union all
    (select e.log_index, r.action from records r join audit_log_entries e on e.record_id = r.id
      where r.action = ${ERASURE_ORDER_ACTION} and e.log_index < ${n})
    order by 1`.execute(db);
  for (const ev of events.rows) {
    const index = Number(ev.log_index);
    // Already exported as an entry or a neighbour: the verifier recognises erasures by their content.
    if (inRange(index) || context.some((c) => c.entry.index === index)) continue;
    const c = await contextEntry(db, ev.action === RETENTION_ACTION ? 'retention' : 'erasure-order', index, n);
    if (c) context.push(c);
  }

  const consistency: AuditExportFile['consistency'] = [];
  for (const s of new Set(request.sinceSizes ?? [])) {
    if (!Number.isSafeInteger(s) || s < 0 || s > n) {
      throw new OpenPrumError('input-invalid', `since ${s} must be a tree size from 0 to the current ${n}.`, { field: 'since' });
    }
    consistency.push({ fromSize: s, proof: (await consistencyProof(db, s, n)).map(toHex) });
  }

  return { head, period, range, unsealed: Number(unsealedRows.rows[0]?.n ?? 0), exportedAt: new Date().toISOString(), rangeProof, consistency, context };
}

const ENTRY_PAGE = 1000;
const LEAF_PAGE = 20_000;

/** The export as JSON text, chunk by chunk (one page of entries or leaf hashes at a time). */
export async function* exportChunks(db: Db, plan: ExportPlan): AsyncGenerator<string> {
  const n = plan.head.treeSize;
  const header: Omit<AuditExportFile, 'leafHashes' | 'entries'> = {
    format: EXPORT_FORMAT,
    exportedAt: plan.exportedAt,
    period: plan.period,
    range: plan.range,
    scope: plan.range.from === 0 && plan.range.to === n ? 'full' : 'range',
    unsealed: plan.unsealed,
    heads: [signedTreeHeadToJson(plan.head)],
    rangeProof: plan.rangeProof,
    consistency: plan.consistency,
    context: plan.context,
  };
  const head = JSON.stringify(header);
  yield `${head.slice(0, -1)},\n"leafHashes":[`;
  let first = true;
  for (let lo = plan.range.from; lo < plan.range.to; lo += LEAF_PAGE) {
    const hi = Math.min(lo + LEAF_PAGE, plan.range.to);
    // Leaves sit at even positions 2·idx (see nodePosition): one range scan of the key.
    const rows = await sql<{ hash: Uint8Array }>`select hash from audit_nodes
      where pos >= ${2 * lo} and pos <= ${2 * (hi - 1)} and level = 0 order by pos`.execute(db);
    if (rows.rows.length === 0) continue;
    yield (first ? '' : ',') + rows.rows.map((r) => `"${toHex(u8(r.hash))}"`).join(',');
    first = false;
  }
  yield '],\n"entries":[\n';
  first = true;
  let next = plan.range.from;
  while (next < plan.range.to) {
    const rows = await entriesPage(db, next, plan.range.to, ENTRY_PAGE);
    if (rows.length === 0) break;
    yield (first ? '' : ',\n') + rows.map((r) => JSON.stringify(entryJson(r))).join(',\n');
    first = false;
    next = Number((rows[rows.length - 1] as JoinedRow).log_index) + 1;
  }
  yield '\n]}\n';
}

/** Records that the records of `plan` were communicated, to whom and why (Art. 30(3)). */
async function recordExport(db: Kysely<Schema>, country: string, plan: ExportPlan, caller?: OfficerCaller, requestId?: string): Promise<void> {
  await writeRecord(db, {
    action: 'audit.export',
    direction: 'local',
    searchingBody: caller ? `${country} data-protection authority` : `${country} NCP`,
    administeringBody: `${country} NCP`,
    officerId: caller?.officerId ?? null,
    officerReference: caller?.reference ?? null,
    reason: caller ? 'Export of the record for the data-protection authority' : 'openprum audit export (command line)',
    legalBasis: 'Prüm Decision Art. 30(3)',
    query: { from: plan.period.from, to: plan.period.to, range: plan.range, treeSize: plan.head.treeSize },
    outcome: 'done',
    requestId: requestId ?? null,
  });
}

export interface OpenedExport {
  readonly plan: ExportPlan;
  readonly chunks: AsyncIterableIterator<string>;
}

/**
 * Plans and streams an export. On PostgreSQL the whole export reads one REPEATABLE READ snapshot, so
 * a retention purge running meanwhile cannot make it inconsistent. PGlite has one connection, which a
 * long snapshot would hold from every other request; there, pages are read as they come (a purge
 * during an export may then show entries erased after the head was fixed).
 */
export async function openExport(node: AuditNode & { readonly database?: { readonly kind: string } }, request: ExportRequest, caller?: OfficerCaller, requestId?: string): Promise<OpenedExport> {
  const trx: ControlledTransaction<Schema> | undefined =
    node.database?.kind === 'postgres' ? await node.db.startTransaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute() : undefined;
  const db: Db = trx ?? node.db;
  let plan: ExportPlan;
  try {
    plan = await planExport(db, request);
    // Recorded on its own, before the first byte leaves: a supply that was interrupted was still a supply.
    await recordExport(node.db, node.country, plan, caller, requestId);
  } catch (e) {
    await trx?.rollback().execute();
    throw e;
  }
  // The snapshot ends when the export is read to the end, fails, or is abandoned (a client that
  // disconnects: the stream calls return()), even before its first chunk.
  let open = trx !== undefined;
  const end = async (): Promise<void> => {
    if (open) {
      open = false;
      await trx?.rollback().execute(); // read only: nothing to commit
    }
  };
  const inner = exportChunks(db, plan);
  const chunks: AsyncIterableIterator<string> = {
    async next() {
      try {
        const r = await inner.next();
        if (r.done) await end();
        return r;
      } catch (e) {
        await end();
        throw e;
      }
    },
    async return() {
      try {
        await inner.return(undefined);
      } finally {
        await end();
      }
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { plan, chunks };
}
