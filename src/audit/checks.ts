/**
 * Random checks on the lawfulness of supplies (Prüm Decision Art. 30(5): "these authorities ... shall
 * carry out random checks on the lawfulness of supply, based on the files involved. The results of
 * such checks shall be kept for inspection for 18 months by the independent data protection
 * authorities. After this period, they shall be immediately deleted.").
 *
 * The supervisor draws a sample with the node's CSPRNG (the draw itself is recorded, so a sample
 * cannot be quietly redrawn until it looks good), examines the records, and records a result per
 * record. Results are never changed; the retention purge deletes them after 18 months
 * (retention.ts, guarded in the database by migration 0002).
 */
import { randomInt } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { toStoredRecord, writeRecord, type StoredRecord } from './records.ts';
import { readLogState, type Db } from './store.ts';

export const CHECK_RESULTS = ['lawful', 'unlawful', 'inconclusive'] as const;
export type CheckOutcome = (typeof CHECK_RESULTS)[number];

export interface CheckInput {
  readonly recordId: number;
  readonly result: CheckOutcome;
  /** What was examined and found; may name the files involved. */
  readonly findings?: string | undefined;
}

export interface CheckResult {
  readonly id: number;
  readonly recordId: number;
  readonly logIndex: number | null;
  readonly result: CheckOutcome;
  readonly findings: string;
  readonly supervisorId: number;
  readonly supervisorReference: string;
  readonly checkedAt: string;
}

interface CheckRow {
  id: number;
  record_id: number;
  log_index: number | null;
  result: CheckOutcome;
  findings: string;
  supervisor_id: number;
  supervisor_reference: string;
  checked_at: string;
}

function toCheck(r: CheckRow): CheckResult {
  return {
    id: Number(r.id),
    recordId: Number(r.record_id),
    logIndex: r.log_index === null ? null : Number(r.log_index),
    result: r.result,
    findings: r.findings,
    supervisorId: Number(r.supervisor_id),
    supervisorReference: r.supervisor_reference,
    checkedAt: r.checked_at,
  };
}

/** Records the result of checking one record. Supervisors only. */
export async function recordCheck(db: Kysely<Schema>, caller: OfficerCaller, input: CheckInput): Promise<CheckResult> {
  requireRole(caller, 'supervisor');
  if (!(CHECK_RESULTS as readonly string[]).includes(input.result)) {
    throw new OpenPrumError('input-invalid', `result must be one of ${CHECK_RESULTS.join(', ')}`, { field: 'result' });
  }
  const findings = (input.findings ?? '').trim();
  if (findings.length > 4000) throw new OpenPrumError('input-invalid', 'findings is longer than 4000 characters', { field: 'findings' });
  const found = await sql<{ id: number | null; log_index: number | null }>`
    select r.id, e.log_index from (select ${input.recordId}::bigint as id) q
    left join records r on r.id = q.id left join audit_log_entries e on e.record_id = q.id`.execute(db);
  const row = found.rows[0];
  if (!row || (row.id === null && row.log_index === null)) throw new OpenPrumError('not-found', `No record ${input.recordId}`, { recordId: input.recordId });
  const inserted = await sql<CheckRow>`insert into audit_checks (record_id, log_index, result, findings, supervisor_id, supervisor_reference)
    values (${input.recordId}, ${row.log_index}, ${input.result}, ${findings}, ${caller.officerId}, ${caller.reference})
    returning *`.execute(db);
  return toCheck(inserted.rows[0] as CheckRow);
}

export interface CheckFilter {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly recordId?: number | undefined;
  readonly after?: number | undefined;
  readonly limit?: number | undefined;
}

/** Check results kept for inspection (Art. 30(5)), oldest first, keyset-paged by id. Supervisors only. */
export async function listChecks(db: Kysely<Schema>, caller: OfficerCaller, filter: CheckFilter = {}): Promise<CheckResult[]> {
  requireRole(caller, 'supervisor');
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
  const rows = await sql<CheckRow>`select * from audit_checks
    where (${filter.from ?? null}::timestamptz is null or checked_at >= ${filter.from ?? null}::timestamptz)
      and (${filter.to ?? null}::timestamptz is null or checked_at < ${filter.to ?? null}::timestamptz)
      and (${filter.recordId ?? null}::bigint is null or record_id = ${filter.recordId ?? null}::bigint)
      and id > ${filter.after ?? 0}
    order by id limit ${limit}`.execute(db);
  return rows.rows.map(toCheck);
}

export interface SampleRequest {
  readonly n: number;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

export interface Sample {
  readonly drawnAt: string;
  /** Log entries sampled from: [from, to), of which `live` still hold their record. */
  readonly population: { readonly from: number; readonly to: number };
  readonly records: readonly { readonly logIndex: number; readonly record: StoredRecord }[];
}

type Joined = Selectable<Schema['records']> & { log_index: number };

async function liveAt(db: Db, indices: readonly number[]): Promise<Joined[]> {
  if (indices.length === 0) return [];
  const r = await sql<Joined>`select e.log_index, r.* from audit_log_entries e join records r on r.id = e.record_id
    where e.log_index = any(${indices}::bigint[]) and e.salt is not null`.execute(db);
  return r.rows;
}

/**
 * Draws `n` records uniformly at random (node:crypto CSPRNG) among the records of the period that
 * are in the log and not erased, and records the draw. Supervisors only.
 */
export async function drawSample(db: Kysely<Schema>, country: string, caller: OfficerCaller, request: SampleRequest, requestId?: string): Promise<Sample> {
  requireRole(caller, 'supervisor');
  if (!Number.isSafeInteger(request.n) || request.n < 1 || request.n > 100) throw new OpenPrumError('input-invalid', 'n must be 1 to 100', { field: 'n' });
  const from = request.from ?? null;
  const to = request.to ?? null;
  if (from !== null && to !== null && from >= to) throw new OpenPrumError('input-invalid', 'from must be before to', { field: 'from' });
  const { treeSize } = await readLogState(db);
  const bounds = await sql<{ lo: number | null; hi: number | null }>`select min(e.log_index) as lo, max(e.log_index) as hi
    from records r join audit_log_entries e on e.record_id = r.id
    where (${from}::timestamptz is null or r.recorded_at >= ${from}::timestamptz)
      and (${to}::timestamptz is null or r.recorded_at < ${to}::timestamptz) and e.log_index < ${treeSize}`.execute(db);
  const lo = bounds.rows[0]?.lo;
  const hi = bounds.rows[0]?.hi;
  const population = lo === null || lo === undefined || hi === null || hi === undefined ? { from: 0, to: 0 } : { from: Number(lo), to: Number(hi) + 1 };
  const inPeriod = (r: Joined): boolean => (from === null || Date.parse(r.recorded_at) >= Date.parse(from)) && (to === null || Date.parse(r.recorded_at) < Date.parse(to));
  const picked = new Map<number, Joined>();
  const size = population.to - population.from;
  if (size > 0 && size <= 20_000) {
    // Small population: list it and shuffle (Fisher-Yates with the CSPRNG), no rejection needed.
    const all = await sql<Joined>`select e.log_index, r.* from audit_log_entries e join records r on r.id = e.record_id
      where e.log_index >= ${population.from} and e.log_index < ${population.to} and e.salt is not null order by e.log_index`.execute(db);
    const candidates = all.rows.filter(inPeriod);
    for (let i = 0; i < Math.min(request.n, candidates.length); i++) {
      const j = randomInt(i, candidates.length);
      [candidates[i], candidates[j]] = [candidates[j] as Joined, candidates[i] as Joined];
      const c = candidates[i] as Joined;
      picked.set(Number(c.log_index), c);
    }
  } else if (size > 0) {
    // Large population: draw indices and keep those that are live records of the period.
    for (let round = 0; round < 50 && picked.size < request.n; round++) {
      const want = new Set<number>();
      while (want.size < 2 * (request.n - picked.size)) want.add(randomInt(population.from, population.to));
      for (const r of await liveAt(db, [...want].filter((i) => !picked.has(i)))) {
        if (picked.size < request.n && inPeriod(r)) picked.set(Number(r.log_index), r);
      }
    }
  }
  const records = [...picked.values()].sort((a, b) => Number(a.log_index) - Number(b.log_index)).map((r) => ({ logIndex: Number(r.log_index), record: toStoredRecord(r) }));
  const drawn = await writeRecord(db, {
    action: 'audit.check-sample',
    direction: 'local',
    searchingBody: `${country} data-protection authority`,
    administeringBody: `${country} NCP`,
    officerId: caller.officerId,
    officerReference: caller.reference,
    reason: 'Random check on the lawfulness of supplies',
    legalBasis: 'Prüm Decision Art. 30(5)',
    query: { n: request.n, from, to, population },
    supplied: { logIndices: records.map((r) => r.logIndex), recordIds: records.map((r) => r.record.id) },
    outcome: 'done',
    requestId: requestId ?? null,
  });
  return { drawnAt: drawn.recordedAt, population, records };
}
