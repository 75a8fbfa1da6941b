/** Kysely's view of the tables the migrations create. Keep in step with ./migrations. */
import type { ColumnType, Generated } from 'kysely';

/** A timestamptz: ISO 8601 string out (see type-parsers.ts), string or Date in. */
type Timestamp = ColumnType<string, string | Date | undefined, string | Date>;
type NullableTimestamp = ColumnType<string | null, string | Date | null | undefined, string | Date | null>;
/** jsonb: parsed value out; JSON text in (pg would turn a JS array into a PostgreSQL array). */
type Json<T = unknown> = ColumnType<T, string, string>;

export interface Schema {
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

export type { Json };
