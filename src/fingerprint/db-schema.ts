/**
 * The fingerprint tables of migration 0007, merged into Kysely's `Schema` (src/db/schema.ts) by
 * declaration merging, so that the shared schema file needs no edit.
 */
import type { ColumnType, Generated } from 'kysely';

/** jsonb: parsed value out; JSON text in. */
type Json<T> = ColumnType<T, string, string>;

export type FingerSource = 'image' | 'type-9' | 'iso19794-2' | 'ansi378';
export type FingerprintKind = 'reference' | 'unidentified';

export interface FingerprintImportsTable {
  id: Generated<number>;
  files: Json<Array<{ file: string; sha256: string }>>;
  mode: 'upsert' | 'replace' | 'delete';
  persons: Generated<number>;
  fingers: Generated<number>;
  deleted: Generated<number>;
  imported_at: Generated<string>;
}

export interface FingerprintPersonsTable {
  ref: string;
  kind: FingerprintKind;
  import_id: number;
  updated_at: Generated<string>;
}

export interface FingerprintFingersTable {
  ref: string;
  idx: number;
  position: number;
  minutiae: number;
  source: FingerSource;
  template: Uint8Array;
}

export interface FingerprintChangesTable {
  seq: Generated<number>;
  ref: string;
  op: 'put' | 'delete';
  changed_at: Generated<string>;
}

export interface FingerprintSearchesTable {
  id: string;
  record_id: number;
  officer_id: number;
  officer_reference: string;
  probe_ref: string;
  probe_kind: FingerprintKind;
  probe: Json<Array<{ position: number; minutiae: number }>>;
  hit: boolean;
  candidates: Json<unknown[]>;
  created_at: Generated<string>;
}

export interface FingerprintDecisionsTable {
  id: Generated<number>;
  search_id: string;
  state: string;
  ref: string;
  decision: 'confirmed' | 'rejected';
  note: string | null;
  officer_id: number;
  officer_reference: string;
  record_id: number;
  decided_at: Generated<string>;
}

declare module '../db/schema.ts' {
  interface Schema {
    fingerprint_imports: FingerprintImportsTable;
    fingerprint_persons: FingerprintPersonsTable;
    fingerprint_fingers: FingerprintFingersTable;
    fingerprint_changes: FingerprintChangesTable;
    fingerprint_searches: FingerprintSearchesTable;
    fingerprint_decisions: FingerprintDecisionsTable;
  }
}
