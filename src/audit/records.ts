/**
 * The record of every supply and receipt of data (Prüm Decision Art. 30(2)(b)) and of every refusal.
 * Capabilities write a record in the same transaction as the answer it documents, so that there is
 * never an answer without its record nor a record of an answer that was not given. The table refuses
 * updates and deletes itself (migration 0001), whatever client touches it.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Schema } from '../db/schema.ts';

export interface RecordEntry {
  readonly action: string;
  readonly direction: 'local' | 'outgoing' | 'incoming';
  readonly searchingBody: string;
  readonly administeringBody: string;
  readonly officerId?: number | null;
  readonly officerReference?: string | null;
  readonly orderedBy?: string | null;
  readonly reason?: string | null;
  readonly purpose?: string | null;
  readonly legalBasis?: string | null;
  /** The data supplied in the request (the search keys). */
  readonly query: Record<string, unknown>;
  /** The data supplied in the answer. */
  readonly supplied?: unknown;
  readonly hit?: boolean | null;
  readonly outcome: 'hit' | 'no-hit' | 'refused' | 'failed' | 'done';
  readonly requestId?: string | null;
}

export interface StoredRecord {
  readonly id: number;
  readonly recordedAt: string;
  readonly action: string;
  readonly direction: string;
  readonly searchingBody: string;
  readonly administeringBody: string;
  readonly officerId: number | null;
  readonly officerReference: string | null;
  readonly orderedBy: string | null;
  readonly reason: string | null;
  readonly purpose: string | null;
  readonly legalBasis: string | null;
  readonly query: Record<string, unknown>;
  readonly supplied: unknown;
  readonly hit: boolean | null;
  readonly outcome: string;
  readonly requestId: string | null;
}

type Db = Kysely<Schema> | Transaction<Schema>;

/** The columns of a record as Kysely values (jsonb as JSON text). */
export function recordValues(entry: RecordEntry) {
  return {
    action: entry.action,
    direction: entry.direction,
    searching_body: entry.searchingBody,
    administering_body: entry.administeringBody,
    officer_id: entry.officerId ?? null,
    officer_reference: entry.officerReference ?? null,
    ordered_by: entry.orderedBy ?? null,
    reason: entry.reason ?? null,
    purpose: entry.purpose ?? null,
    legal_basis: entry.legalBasis ?? null,
    query: JSON.stringify(entry.query),
    supplied: entry.supplied === undefined ? null : JSON.stringify(entry.supplied),
    hit: entry.hit ?? null,
    outcome: entry.outcome,
    request_id: entry.requestId ?? null,
  };
}

export async function writeRecord(db: Db, entry: RecordEntry): Promise<{ id: number; recordedAt: string }> {
  const row = await db.insertInto('records').values(recordValues(entry)).returning(['id', 'recorded_at']).executeTakeFirstOrThrow();
  return { id: row.id, recordedAt: row.recorded_at };
}

export interface RecordFilter {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly officerId?: number | undefined;
  readonly outcome?: string | undefined;
  readonly action?: string | undefined;
  /** Keyset paging: records with id greater than this. */
  readonly after?: number | undefined;
  readonly limit?: number | undefined;
}

export async function listRecords(db: Db, filter: RecordFilter): Promise<StoredRecord[]> {
  let q = db.selectFrom('records').selectAll();
  if (filter.from) q = q.where('recorded_at', '>=', filter.from);
  if (filter.to) q = q.where('recorded_at', '<', filter.to);
  if (filter.officerId !== undefined) q = q.where('officer_id', '=', filter.officerId);
  if (filter.outcome) q = q.where('outcome', '=', filter.outcome as StoredRecord['outcome'] & Selectable<Schema['records']>['outcome']);
  if (filter.action) q = q.where('action', '=', filter.action);
  if (filter.after !== undefined) q = q.where('id', '>', filter.after);
  const rows = await q.orderBy('id').limit(Math.min(filter.limit ?? 100, 1000)).execute();
  return rows.map(toStoredRecord);
}

/**
 * A stored row as a record. This object, canonicalised (RFC 8785 style), is exactly what the audit
 * log commits to: the whole record as stored, including its id and recorded time, read back from
 * the database, so that the sequencer and an offline verifier hash the same thing.
 */
export function toStoredRecord(r: Selectable<Schema['records']>): StoredRecord {
  return {
    id: r.id,
    recordedAt: r.recorded_at,
    action: r.action,
    direction: r.direction,
    searchingBody: r.searching_body,
    administeringBody: r.administering_body,
    officerId: r.officer_id,
    officerReference: r.officer_reference,
    orderedBy: r.ordered_by,
    reason: r.reason,
    purpose: r.purpose,
    legalBasis: r.legal_basis,
    query: r.query,
    supplied: r.supplied,
    hit: r.hit,
    outcome: r.outcome,
    requestId: r.request_id,
  };
}
