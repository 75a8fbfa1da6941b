/**
 * The tables of the bulk comparison (migration 0006), merged into the node's `Schema` by module
 * augmentation, so that src/db/schema.ts needs no edit.
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<string, string | Date | undefined, string | Date>;
type NullableTimestamp = ColumnType<string | null, string | Date | null | undefined, string | Date | null>;
type Json<T = unknown> = ColumnType<T, string, string>;
type NullableJson<T = unknown> = ColumnType<T | null, string | null | undefined, string | null>;

/** The status an API shows: while in progress (`pending` in the table), its phase. */
export type BulkStatus = 'opening' | 'running' | 'completed' | 'incomplete' | 'refused' | 'failed';
/** The table's status: `pending` is what the durable-queue loop claims (queue-worker.ts). */
export type BulkRowStatus = 'pending' | 'completed' | 'incomplete' | 'refused' | 'failed';
export type BulkChunkStatus = 'pending' | 'answered' | 'refused' | 'failed' | 'cancelled';
export type BulkMode = 'all' | 'new';
export type BulkOrigin = 'admin' | 'schedule';

/** A profile as stored in a chunk and sent (this node's own unidentified profile). */
export interface WireProfile {
  readonly ref: string;
  readonly kind: 'unidentified';
  readonly loci: Record<string, [string, string]>;
}

export interface DnaBulkComparisonsTable {
  id: string;
  state: string;
  reference: string;
  mode: BulkMode;
  status: BulkRowStatus;
  phase: ColumnType<'opening' | 'running', 'opening' | 'running' | undefined, 'opening' | 'running'>;
  origin: BulkOrigin;
  scheduled_day: string | null;
  officer_id: number | null;
  officer_reference: string | null;
  reason: string;
  ordered_by: string;
  watermark_from: ColumnType<number, number | undefined, number>;
  watermark_to: number;
  profiles: number;
  chunk_count: number;
  chunk_size: number;
  open_message_id: string;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  claimed_until: NullableTimestamp;
  last_attempt_at: NullableTimestamp;
  last_error_code: string | null;
  last_error: string | null;
  created_at: Generated<string>;
  opened_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  request_id: string | null;
}

export interface DnaBulkChunksTable {
  id: Generated<number>;
  comparison_id: string;
  idx: number;
  message_id: string;
  refs: Json<string[]>;
  profiles: NullableJson<WireProfile[]>;
  status: ColumnType<BulkChunkStatus, BulkChunkStatus | undefined, BulkChunkStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_attempt_at: NullableTimestamp;
  last_error_code: string | null;
  last_error: string | null;
  answered_at: NullableTimestamp;
  compared: number | null;
  hits: number | null;
  answer_status: number | null;
  answer_body: string | null;
  answer_jws: string | null;
  record_id: number | null;
}

export interface DnaBulkHitsTable {
  id: Generated<number>;
  comparison_id: string;
  chunk_idx: number;
  state: string;
  own_ref: string;
  peer_ref: string;
  peer_kind: 'reference' | 'unidentified';
  quality: 'match' | 'wildcard-match' | 'near-match';
  matching_loci: number;
  compared_loci: number;
  mismatches: number;
  rmp: number;
  peer_profile: Json<{ ref: string; kind: 'reference' | 'unidentified'; loci: Record<string, [string, string]> }>;
  answer_reference: string;
  record_id: number | null;
  found_at: Generated<string>;
}

declare module '../db/schema.ts' {
  interface Schema {
    dna_bulk_comparisons: DnaBulkComparisonsTable;
    dna_bulk_chunks: DnaBulkChunksTable;
    dna_bulk_hits: DnaBulkHitsTable;
  }
}
