/** Kysely's view of the tables the migrations create. Keep in step with ./migrations. */
import type { ColumnType, Generated } from 'kysely';

/** A timestamptz: ISO 8601 string out (see type-parsers.ts), string or Date in. */
type Timestamp = ColumnType<string, string | Date | undefined, string | Date>;
type NullableTimestamp = ColumnType<string | null, string | Date | null | undefined, string | Date | null>;
/** jsonb: parsed value out; JSON text in (pg would turn a JS array into a PostgreSQL array). */
type Json<T = unknown> = ColumnType<T, string, string>;

export interface Schema extends DnaSchema {
  openprum_migrations: { version: number; name: string; applied_at: Generated<string> };
  node_info: { id: Generated<number>; country: string; initialised_at: Generated<string> };
  officers: {
    id: Generated<number>;
    reference: string;
    name: string;
    unit: Generated<string>;
    roles: string[];
    created_at: Generated<string>;
    authorised_at: NullableTimestamp;
    deactivated_at: NullableTimestamp;
  };
  api_tokens: {
    id: Generated<number>;
    officer_id: number;
    label: Generated<string>;
    token_hash: string;
    created_at: Generated<string>;
    expires_at: NullableTimestamp;
    revoked_at: NullableTimestamp;
  };
  vehicle_imports: {
    id: Generated<number>;
    file_name: string;
    sha256: string;
    format: 'csv' | 'jsonl';
    mode: 'upsert' | 'replace';
    row_count: number;
    imported_at: Generated<string>;
  };
  vehicles: {
    id: Generated<number>;
    vin: string;
    registration_number: string;
    registration_display: string;
    make: string;
    model: string;
    vehicle_type: string;
    colour: string;
    first_registration: string;
    holder_type: 'natural' | 'legal';
    holder_surname: string | null;
    holder_first_names: string | null;
    holder_birth_date: string | null;
    holder_name: string | null;
    holder_address: string;
    import_id: number;
  };
  records: {
    id: Generated<number>;
    recorded_at: Timestamp;
    action: string;
    direction: 'local' | 'outgoing' | 'incoming';
    searching_body: string;
    administering_body: string;
    officer_id: number | null;
    officer_reference: string | null;
    ordered_by: string | null;
    reason: string | null;
    purpose: string | null;
    legal_basis: string | null;
    query: ColumnType<Record<string, unknown>, string | undefined, never>;
    supplied: ColumnType<unknown, string | null | undefined, never>;
    hit: boolean | null;
    outcome: 'hit' | 'no-hit' | 'refused' | 'failed' | 'done';
    request_id: string | null;
  };
}

export interface DnaSchema {
  dna_imports: {
    id: Generated<number>;
    file_name: string;
    sha256: string;
    format: 'csv' | 'jsonl' | 'refs';
    mode: 'upsert' | 'replace' | 'delete';
    profiles: Generated<number>;
    deleted: Generated<number>;
    refused: Generated<number>;
    imported_at: Generated<string>;
  };
  dna_profiles: {
    ref: string;
    kind: 'reference' | 'unidentified';
    loci: ColumnType<Record<string, [string, string]>, string, string>;
    import_id: number;
    updated_at: Generated<string>;
  };
  dna_changes: { seq: Generated<number>; ref: string; op: 'put' | 'delete'; changed_at: Generated<string> };
}

export type { Json };

/** The audit log's tables (migration 0002); use with `db.withTables<AuditSchema>()`. */
export interface AuditSchema {
  audit_log_state: { id: Generated<number>; tree_size: number; last_record_id: number; erased_below: number };
  audit_pending_records: { record_id: number; seen_xmax: number; seen_at: Generated<string> };
  audit_log_entries: {
    log_index: number;
    record_id: number;
    salt: Uint8Array | null;
    content_digest: Uint8Array | null;
    commitment: Uint8Array;
    sealed_at: Generated<string>;
    erased_at: NullableTimestamp;
    erasure: 'retention' | 'order' | null;
  };
  audit_nodes: { level: number; idx: number; hash: Uint8Array };
  audit_tree_heads: {
    id: Generated<number>;
    tree_size: number;
    timestamp_ms: number;
    root_hash: Uint8Array;
    country: string;
    key_id: string;
    signature: Uint8Array;
    created_at: Generated<string>;
  };
  audit_cosignatures: {
    head_id: number;
    witness_country: string;
    witness_key_id: string;
    timestamp_ms: number;
    signature: Uint8Array;
    received_at: Generated<string>;
  };
  audit_witness_observations: {
    id: Generated<number>;
    log_id: string;
    verdict: 'accepted' | 'stale';
    tree_size: number;
    head: Json;
    proof: ColumnType<unknown, string | null, never>;
    cosignature: ColumnType<unknown, string | null, never>;
    observed_at: Generated<string>;
  };
  audit_witness_alarms: { id: Generated<number>; log_id: string; kind: 'fork' | 'rewrite'; evidence: Json; detected_at: Generated<string> };
  audit_checks: {
    id: Generated<number>;
    record_id: number;
    log_index: number | null;
    result: 'lawful' | 'unlawful' | 'inconclusive';
    findings: string;
    supervisor_id: number;
    supervisor_reference: string;
    checked_at: Generated<string>;
  };
}

// --- federation (migration 0003) ------------------------------------------------------------------
// Declared as a second `Schema` block, which TypeScript merges with the one above.

export interface FederationPeersTable {
  country: string;
  url: string;
  added_at: Generated<string>;
  updated_at: Timestamp;
}

export interface FederationDeclarationsTable {
  id: Generated<number>;
  state: string;
  version: number;
  body: string;
  jws: string;
  signer_fingerprint: string;
  issued_at: Timestamp;
  received_at: Generated<string>;
}

export interface FederationUsageTable {
  day: string;
  requesting_state: string;
  kind: string;
  used: number;
}

export interface FederationSearchesTable {
  id: string;
  kind: string;
  reference: string;
  officer_id: number;
  officer_reference: string;
  purpose: string;
  reason: string;
  ordered_by: string;
  query: ColumnType<Record<string, unknown>, string, never>;
  created_at: Generated<string>;
  request_id: string | null;
}

export interface FederationTargetsTable {
  id: Generated<number>;
  search_id: string;
  state: string;
  message_id: string;
  status: ColumnType<'pending' | 'answered' | 'refused' | 'failed', 'pending' | 'answered' | 'refused' | 'failed' | undefined>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  claimed_until: NullableTimestamp;
  due_at: Timestamp;
  last_attempt_at: NullableTimestamp;
  last_error_code: string | null;
  last_error: string | null;
  request_body: string | null;
  request_jws: string | null;
  answer_status: number | null;
  answer_body: string | null;
  answer_jws: string | null;
  answered_at: NullableTimestamp;
  hit: boolean | null;
  result: ColumnType<unknown, string | null | undefined, string | null>;
  record_id: number | null;
}

export interface FederationInboxTable {
  requesting_state: string;
  message_id: string;
  kind: string;
  body_digest: string;
  request_body: string;
  request_jws: string;
  signer_fingerprint: string;
  received_at: Generated<string>;
  answer_status: number;
  answer_body: string;
  answer_jws: string;
  record_id: number | null;
}

export interface FederationEventsTable {
  id: Generated<number>;
  at: Generated<string>;
  event: string;
  peer_state: string | null;
  remote_address: string | null;
  code: string | null;
  detail: string;
}

export interface Schema {
  federation_peers: FederationPeersTable;
  federation_declarations: FederationDeclarationsTable;
  federation_usage: FederationUsageTable;
  federation_searches: FederationSearchesTable;
  federation_targets: FederationTargetsTable;
  federation_inbox: FederationInboxTable;
  federation_events: FederationEventsTable;
}
