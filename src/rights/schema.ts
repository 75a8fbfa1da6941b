/**
 * Kysely's view of the tables of migration 0010-rights.sql, merged into `Schema` (src/db/schema.ts)
 * by declaration merging, so that the shared schema file needs no edit.
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string, string | Date, string | Date>;
type NullableTimestamp = ColumnType<string | null, string | Date | null | undefined, string | Date | null>;
/** jsonb: parsed value out; JSON text in. */
type Json<T> = ColumnType<T, string, string>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;

export type SubjectRequestKind = 'access' | 'rectification' | 'erasure' | 'blocking';
export type SubjectRequestStatus = 'open' | 'granted' | 'partly-granted' | 'refused';
export type BlockTargetKind = 'vehicle' | 'dna-profile' | 'fingerprint-person';

export interface SubjectRequestsTable {
  id: string;
  reference: string;
  kind: SubjectRequestKind;
  channel: 'direct' | 'supervisory-authority';
  subject: Json<Record<string, unknown>>;
  identity_checked: string;
  details: string;
  contact: string;
  received_at: Timestamp;
  due_at: Timestamp;
  status: ColumnType<SubjectRequestStatus, SubjectRequestStatus | undefined, SubjectRequestStatus>;
  registered_by_id: number;
  registered_by_reference: string;
  decided_at: NullableTimestamp;
  decided_by_id: number | null;
  decided_by_reference: string | null;
  decision: NullableJson<Record<string, unknown>>;
  answer: NullableJson<Record<string, unknown>>;
  register_record_id: number | null;
  decision_record_id: number | null;
  created_at: Generated<string>;
}

export interface DataBlocksTable {
  id: string;
  reference: string;
  target_kind: BlockTargetKind;
  target_ref: string;
  data: NullableJson<Record<string, unknown>>;
  allowed_purpose: string;
  reason: string;
  order_reference: string | null;
  ordered_by: string;
  source: 'supervisor-order' | 'subject-request';
  subject_request_id: string | null;
  blocked_by_id: number | null;
  blocked_by_reference: string;
  blocked_at: Generated<string>;
  record_id: number | null;
  ended_at: NullableTimestamp;
  ended_how: 'lifted' | 'erased' | null;
  ended_by_reference: string | null;
  end_reason: string | null;
  end_record_id: number | null;
}

export interface AuditPeerLogsTable {
  country: string;
  key_id: string;
  public_key: Uint8Array;
  pinned_at: Generated<string>;
  last_checked_at: NullableTimestamp;
  last_verdict: string | null;
  last_tree_size: number | null;
  last_error: string | null;
}

export interface AuditWitnessLeaseTable {
  id: Generated<number>;
  holder: string | null;
  until: NullableTimestamp;
}

declare module '../db/schema.ts' {
  interface Schema {
    subject_requests: SubjectRequestsTable;
    data_blocks: DataBlocksTable;
    audit_peer_logs: AuditPeerLogsTable;
    audit_witness_lease: AuditWitnessLeaseTable;
  }
}
