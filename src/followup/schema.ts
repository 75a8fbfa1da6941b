/**
 * Kysely's view of the follow-up tables (migration 0005-follow-ups.sql), merged into `Schema`.
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string, string | Date, string | Date>;
type NullableTimestamp = ColumnType<string | null, string | Date | null | undefined, string | Date | null>;
/** jsonb: parsed value out; JSON text in. */
type NullableJson<T = unknown> = ColumnType<T | null, string | null | undefined, string | null>;

export type OutgoingStatus = 'pending' | 'received' | 'rejected' | 'failed' | 'granted' | 'refused';
export type IncomingStatus = 'open' | 'granted' | 'refused';
export type FollowUpStatus = OutgoingStatus | IncomingStatus;
export type DeliveryStatus = 'pending' | 'delivered' | 'refused' | 'failed';
export type DeliveryType = 'follow-up-request' | 'follow-up-answer';

export interface HitConfirmationsTable {
  id: Generated<number>;
  search_id: string;
  state: string;
  target_message_id: string;
  answer_reference: string;
  request_reference: string;
  requested_reference: string;
  verdict: 'confirmed' | 'rejected';
  note: string;
  officer_id: number;
  officer_reference: string;
  confirmed_at: Timestamp;
  record_id: number | null;
}

export interface FollowUpsTable {
  id: string;
  direction: 'outgoing' | 'incoming';
  reference: string;
  requesting_state: string;
  requested_state: string;
  request_message_id: string;
  status: FollowUpStatus;
  kind: string;
  search_id: string | null;
  search_reference: string;
  search_message_id: string;
  answer_reference: string;
  request_reference: string;
  requested_reference: string;
  legal_basis: string;
  facts: string;
  offence_category: string;
  offence_description: string | null;
  purpose: string;
  case_reference: string | null;
  officer_id: number | null;
  officer_reference: string | null;
  requested_at: Timestamp;
  receipt_reference: string | null;
  received_at: NullableTimestamp;
  due_at: NullableTimestamp;
  decided_at: NullableTimestamp;
  decided_by_id: number | null;
  decided_by_reference: string | null;
  supply_legal_basis: string | null;
  refusal_reason: string | null;
  supplied: NullableJson<Record<string, unknown>>;
  conditions: NullableJson<unknown[]>;
  delete_by: string | null;
  review_by: string | null;
  answer_received_at: NullableTimestamp;
  request_body: string | null;
  request_jws: string | null;
  receipt_body: string | null;
  receipt_jws: string | null;
  answer_body: string | null;
  answer_jws: string | null;
  request_record_id: number | null;
  decision_record_id: number | null;
  created_at: Generated<string>;
}

export interface FollowUpDeliveriesTable {
  id: Generated<number>;
  follow_up_id: string;
  state: string;
  message_id: string;
  type: DeliveryType;
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

export interface FollowUpInboxTable {
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
  follow_up_id: string | null;
  record_id: number | null;
}

declare module '../db/schema.ts' {
  interface Schema {
    hit_confirmations: HitConfirmationsTable;
    follow_ups: FollowUpsTable;
    follow_up_deliveries: FollowUpDeliveriesTable;
    follow_up_inbox: FollowUpInboxTable;
  }
}
