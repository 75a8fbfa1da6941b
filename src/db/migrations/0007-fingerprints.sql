-- 0007 Fingerprints: the national file of dactyloscopic data opened to automated search (Prüm
-- Decision Arts. 8-9), the officers' searches of it and the examiners' decisions on their candidates
-- (Art. 9(2)). Reference data only: a reference number and minutiae templates, nothing that identifies
-- a person (Art. 8); unidentified data (latent marks) is recognisable as such (kind).

create table fingerprint_imports (
  id bigserial primary key,
  -- The files of one import, in order: [{"file": name, "sha256": hex}].
  files jsonb not null,
  mode text not null check (mode in ('upsert','replace','delete')),
  persons integer not null default 0,
  fingers integer not null default 0,
  deleted integer not null default 0,
  imported_at timestamptz not null default now()
);

create table fingerprint_persons (
  ref text primary key check (length(ref) between 1 and 64),
  kind text not null check (kind in ('reference','unidentified')),
  import_id bigint not null references fingerprint_imports(id),
  updated_at timestamptz not null default now()
);

-- One row per finger: an ISO/IEC 19794-2:2005 record of one view (the minutiae as the matcher will
-- use them; at most 128 minutiae).
create table fingerprint_fingers (
  ref text not null references fingerprint_persons(ref) on delete cascade,
  idx smallint not null check (idx between 1 and 10),
  position smallint not null check (position between 0 and 10),
  minutiae smallint not null check (minutiae between 1 and 255),
  source text not null check (source in ('image','type-9','iso19794-2','ansi378')),
  template bytea not null,
  primary key (ref, idx)
);

-- Every change to the file, in commit order (as dna_changes): each process's in-memory gallery
-- catches up with imports and deletions made by another process before it answers a search.
create table fingerprint_changes (
  seq bigserial primary key,
  ref text not null,
  op text not null check (op in ('put','delete')),
  changed_at timestamptz not null default now()
);

-- An officer's search of the national file, kept so that the examiner can record a decision on
-- each candidate (Art. 9(2)); the record of the search is records(record_id).
create table fingerprint_searches (
  id text primary key,
  record_id bigint not null,
  officer_id bigint not null,
  officer_reference text not null,
  probe_ref text not null,
  probe_kind text not null check (probe_kind in ('reference','unidentified')),
  -- Probe fingers searched: [{"position", "minutiae"}] (the templates are in the record).
  probe jsonb not null,
  hit boolean not null,
  candidates jsonb not null,
  created_at timestamptz not null default now()
);

-- The examiner's confirmation or rejection of a candidate (Prüm Decision Art. 9(2)): of this node's
-- own file (state = this node). A decision on another state's candidate (a federated search) is the
-- confirmation of that state's hit, kept in hit_confirmations (0005). One decision per candidate; the
-- record is records(record_id).
create table fingerprint_decisions (
  id bigserial primary key,
  search_id text not null,
  state text not null,
  ref text not null,
  decision text not null check (decision in ('confirmed','rejected')),
  note text,
  officer_id bigint not null,
  officer_reference text not null,
  record_id bigint not null,
  decided_at timestamptz not null default now(),
  unique (search_id, state, ref)
);
