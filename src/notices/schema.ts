/**
 * Kysely's view of the notice tables (migration 0008-notices.sql), merged into `Schema`.
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string, string | Date, string | Date>;
type NullableTimestamp = ColumnType<string | null, string | Date | null | undefined, string | Date | null>;
/** jsonb: parsed value out; JSON text in. */
type Json<T = unknown> = ColumnType<T, string | undefined, string>;
type NullableJson<T = unknown> = ColumnType<T | null, string | null | undefined, string | null>;

export type NoticeKind = 'notice' | 'diffusion';
export type HeldAs = 'requester' | 'secretariat' | 'recipient';
export type NoticeStatus =
  | 'draft'
  | 'submitted'
  | 'pending-review'
  | 'returned'
  | 'refused'
  | 'published'
  | 'withdrawn'
  | 'cancelled'
  | 'issued'
  | 'held'
  | 'under-review'
  | 'compliant'
  | 'released'
  | 'active'
  | 'deleted';

export interface HistoryEntry {
  readonly at: string;
  readonly event: string;
  readonly by?: string;
  readonly [more: string]: unknown;
}

export interface NoticesTable {
  id: string;
  kind: NoticeKind;
  type: string;
  held_as: HeldAs;
  requesting_state: string;
  reference: string;
  status: NoticeStatus;
  version: ColumnType<number, number | undefined, number>;
  content: NullableJson<Record<string, unknown>>;
  name_key: string | null;
  birth_date: string | null;
  public_extract: ColumnType<boolean, boolean | undefined, boolean>;
  recipients: NullableJson<string[]>;
  entity_id: string | null;
  submitted_at: NullableTimestamp;
  decided_at: NullableTimestamp;
  published_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  review_due_at: NullableTimestamp;
  closed_at: NullableTimestamp;
  decision: NullableJson<Record<string, unknown>>;
  history: Json<HistoryEntry[]>;
  officer_id: number | null;
  officer_reference: string | null;
  created_at: Generated<string>;
  updated_at: ColumnType<string, string | Date | undefined, string | Date>;
}

export interface NoticeTombstonesTable {
  id: string;
  kind: string;
  requesting_state: string;
  reason: string;
  deleted_at: Generated<string>;
}

export interface NoticeReviewRulesTable {
  version: Generated<number>;
  rules: Json<unknown>;
  note: string;
  changed_by: string;
  changed_at: Generated<string>;
}

export interface NoticeSubjectFlagsTable {
  id: Generated<number>;
  flag: string;
  family_name: string;
  forenames: string | null;
  birth_date: string | null;
  name_key: string;
  related_state: string | null;
  source: string;
  note: string | null;
  created_by: string;
  created_at: Generated<string>;
  removed_at: NullableTimestamp;
  removed_by: string | null;
}

export interface NoticeSupervisionTable {
  id: Generated<number>;
  state: string;
  measure: 'placed' | 'changed' | 'lifted';
  reason: string;
  review_date: string | null;
  decided_by: string;
  decided_at: Timestamp;
  version: number;
  origin: 'local' | 'received';
  message_id: string | null;
  recorded_at: Generated<string>;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'refused' | 'failed' | 'cancelled';

export interface NoticeDeliveriesTable {
  id: Generated<number>;
  message_id: string;
  state: string;
  act: string;
  notice_id: string | null;
  payload: string;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<string, string | Date | undefined, string | Date>;
  claimed_until: NullableTimestamp;
  last_attempt_at: NullableTimestamp;
  last_error_code: string | null;
  last_error: string | null;
  delivered_at: NullableTimestamp;
  reply_status: number | null;
  reply_body: string | null;
  reply_jws: string | null;
  record_id: number | null;
  created_at: Generated<string>;
}

export interface NoticeInboxTable {
  sender_state: string;
  message_id: string;
  act: string;
  body_digest: string;
  body: string | null;
  jws: string | null;
  signer_fingerprint: string;
  received_at: Generated<string>;
  reply_status: number;
  reply_body: string;
  reply_jws: string;
  notice_id: string | null;
  record_id: number | null;
}

export interface NoticeDataRequestsTable {
  id: string;
  kind: 'access' | 'correction' | 'deletion';
  applicant_family_name: string;
  applicant_forenames: string | null;
  applicant_birth_date: string | null;
  name_key: string;
  contact: string;
  notice_id: string | null;
  details: string;
  received_at: Timestamp;
  due_at: Timestamp;
  status: 'open' | 'granted' | 'refused';
  decision: NullableJson<Record<string, unknown>>;
  decided_by: string | null;
  decided_at: NullableTimestamp;
  registered_by: string;
  created_at: Generated<string>;
}

export interface NoticeFeedImportsTable {
  id: Generated<number>;
  source: string;
  sha256: string;
  entries: number;
  imported_by: string;
  imported_at: Generated<string>;
}

export interface NoticeScreeningEntriesTable {
  id: Generated<number>;
  import_id: number;
  type: string;
  entity_id: string;
  family_name: string | null;
  forenames: string | null;
  birth_date: string | null;
  nationalities: Json<string[]>;
  name_key: string;
}

declare module '../db/schema.ts' {
  interface Schema {
    notices: NoticesTable;
    notice_tombstones: NoticeTombstonesTable;
    notice_review_rules: NoticeReviewRulesTable;
    notice_subject_flags: NoticeSubjectFlagsTable;
    notice_supervision: NoticeSupervisionTable;
    notice_deliveries: NoticeDeliveriesTable;
    notice_inbox: NoticeInboxTable;
    notice_data_requests: NoticeDataRequestsTable;
    notice_feed_imports: NoticeFeedImportsTable;
    notice_screening_entries: NoticeScreeningEntriesTable;
  }
}
