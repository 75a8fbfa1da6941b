/**
 * Kysely's view of the safeguards tables (migration 0009-safeguards.sql), merged into `Schema`
 * (src/db/schema.ts) by declaration merging.
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string, string | Date, string | Date>;
type NullableTimestamp = ColumnType<string | null, string | Date | null | undefined, string | Date | null>;
/** jsonb: parsed value out; JSON text in. */
type Json<T> = ColumnType<T, string | undefined, string>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;

export type ItemSource = 'follow-up' | 'search-answer';
export type ItemStatus = 'active' | 'blocked' | 'erased';

export interface ReceivedItemsTable {
  id: string;
  source: ItemSource;
  follow_up_id: string | null;
  target_id: number | null;
  supplying_state: string;
  kind: string;
  reference: string;
  search_message_id: string | null;
  request_message_id: string | null;
  purpose: string;
  legal_basis: string;
  origin_case: string | null;
  requested_by_id: number | null;
  requested_by_reference: string | null;
  received_at: Timestamp;
  conditions: Json<unknown[]>;
  delete_by: string | null;
  review_due: string | null;
  major_event: string | null;
  status: ColumnType<ItemStatus, ItemStatus | undefined, ItemStatus>;
  preserve_purpose: string | null;
  preserve_reason: string | null;
  preserve_by_reference: string | null;
  blocked_at: NullableTimestamp;
  blocked_purpose: string | null;
  blocked_data: NullableJson<unknown>;
  erased_at: NullableTimestamp;
  erasure_reason: string | null;
  contested_at: NullableTimestamp;
  contested_note: string | null;
  contested_source: 'local' | 'supplier' | null;
  corrected_at: NullableTimestamp;
  correction_note: string | null;
  registered_at: Generated<string>;
}

export interface ReceivedDataUsesTable {
  id: Generated<number>;
  item_id: string;
  used_at: Timestamp;
  officer_id: number | null;
  officer_reference: string | null;
  purpose: string;
  case_reference: string;
  ground: string;
  justification: string | null;
  consent_id: string | null;
  record_id: number | null;
}

export interface SafeguardCasesTable {
  case_reference: string;
  closed_at: Timestamp;
  closed_by_id: number | null;
  closed_by_reference: string | null;
  reason: string;
  record_id: number | null;
}

export interface ReceivedDataReviewsTable {
  id: Generated<number>;
  item_id: string;
  due: string;
  created_at: Timestamp;
  status: ColumnType<'open' | 'done' | 'void', 'open' | 'done' | 'void' | undefined, 'open' | 'done' | 'void'>;
  decided_at: NullableTimestamp;
  decided_by_id: number | null;
  decided_by_reference: string | null;
  decision: 'keep' | 'erase' | 'block' | null;
  reason: string | null;
  next_review: string | null;
  record_id: number | null;
}

export type ConsentScope = 'further-processing' | 'onward-transfer';
export type ConsentStatus = 'pending' | 'open' | 'granted' | 'refused' | 'rejected' | 'failed';

export interface SafeguardConsentsTable {
  id: string;
  direction: 'outgoing' | 'incoming';
  source: 'supplying-state' | 'data-subject';
  item_id: string | null;
  asking_state: string;
  supplying_state: string;
  message_id: string;
  reference: string;
  about: Json<Record<string, unknown>>;
  scope: ConsentScope;
  purpose: string;
  case_reference: string | null;
  reason: string;
  recipient: NullableJson<Record<string, unknown>>;
  status: ConsentStatus;
  requested_at: Timestamp;
  requested_by_id: number | null;
  requested_by_reference: string | null;
  evidence: string | null;
  decided_at: NullableTimestamp;
  decided_by_id: number | null;
  decided_by_reference: string | null;
  decision_reason: string | null;
  request_record_id: number | null;
  decision_record_id: number | null;
  created_at: Generated<string>;
}

export interface SafeguardTransfersTable {
  id: string;
  item_id: string;
  transferred_at: Timestamp;
  recipient_type: 'third-state' | 'international-body' | 'private-party';
  recipient_name: string;
  recipient_country: string | null;
  purpose: string;
  case_reference: string;
  ground: 'consent' | 'immediate-threat';
  consent_id: string | null;
  justification: string;
  purpose_statement: string | null;
  officer_id: number | null;
  officer_reference: string | null;
  notice_message_id: string | null;
  record_id: number | null;
}

export interface SuppliedCorrectionsTable {
  id: string;
  corrected_at: Timestamp;
  subject: Json<Record<string, unknown>>;
  action: 'rectify' | 'erase' | 'flag-contested' | 'unflag-contested';
  reason: string;
  recipient_state: string;
  about: Json<Record<string, unknown>>;
  message_id: string;
  officer_id: number | null;
  officer_reference: string | null;
  record_id: number | null;
}

export type SafeguardMessageType = 'consent-request' | 'consent-answer' | 'supplied-data-correction' | 'onward-transfer-notice';
export type DeliveryStatus = 'pending' | 'delivered' | 'refused' | 'failed';

export interface SafeguardDeliveriesTable {
  id: Generated<number>;
  state: string;
  message_id: string;
  type: SafeguardMessageType;
  related_id: string | null;
  payload: string;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<string, string | Date | undefined, string | Date>;
  claimed_until: NullableTimestamp;
  last_attempt_at: NullableTimestamp;
  last_error_code: string | null;
  last_error: string | null;
  delivered_at: NullableTimestamp;
  sent_body: string | null;
  sent_jws: string | null;
  reply_status: number | null;
  reply_body: string | null;
  reply_jws: string | null;
  record_id: number | null;
}

export interface SafeguardInboxTable {
  sender_state: string;
  message_id: string;
  type: string;
  body_digest: string;
  body: string;
  jws: string;
  signer_fingerprint: string;
  received_at: Generated<string>;
  reply_status: number;
  reply_body: string;
  reply_jws: string;
  item_id: string | null;
  record_id: number | null;
}

declare module '../db/schema.ts' {
  interface Schema {
    received_items: ReceivedItemsTable;
    received_data_uses: ReceivedDataUsesTable;
    safeguard_cases: SafeguardCasesTable;
    received_data_reviews: ReceivedDataReviewsTable;
    safeguard_consents: SafeguardConsentsTable;
    safeguard_transfers: SafeguardTransfersTable;
    supplied_corrections: SuppliedCorrectionsTable;
    safeguard_deliveries: SafeguardDeliveriesTable;
    safeguard_inbox: SafeguardInboxTable;
  }
}
