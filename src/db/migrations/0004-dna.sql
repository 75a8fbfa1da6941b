-- 0004 DNA: the national DNA file opened to automated search (Prüm Decision Arts. 2-3).
-- Reference data only: a reference number and the profile, nothing that identifies a person (Art. 2(2)).

create table dna_imports (
  id bigserial primary key,
  file_name text not null,
  sha256 text not null,
  format text not null check (format in ('csv','jsonl','refs')),
  mode text not null check (mode in ('upsert','replace','delete')),
  profiles integer not null default 0,
  deleted integer not null default 0,
  refused integer not null default 0,
  imported_at timestamptz not null default now()
);

create table dna_profiles (
  ref text primary key check (length(ref) between 1 and 64),
  kind text not null check (kind in ('reference','unidentified')),
  -- Canonical locus name → [allele, allele], as the engine normalised it.
  loci jsonb not null,
  import_id bigint not null references dna_imports(id),
  updated_at timestamptz not null default now()
);

-- Every change to the file, in commit order, so that each process's in-memory index can catch up
-- with imports made by another process (the CLI while the server runs) before it answers a search.
create table dna_changes (
  seq bigserial primary key,
  ref text not null,
  op text not null check (op in ('put','delete')),
  changed_at timestamptz not null default now()
);
