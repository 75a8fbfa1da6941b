-- 0001 foundation: the node, its officers and tokens, the vehicle register, the record of supplies.

create table node_info (
  id smallint primary key default 1 check (id = 1),
  country char(2) not null check (country ~ '^[A-Z]{2}$'),
  initialised_at timestamptz not null default now()
);

-- Officers of this national contact point. Only those holding the role 'officer' are "specially
-- authorised officers" who may carry out automated searches (Prüm Decision Art. 30(2)(a)).
create table officers (
  id bigserial primary key,
  reference text not null unique check (length(reference) between 1 and 64),
  name text not null check (length(name) between 1 and 200),
  unit text not null default '' check (length(unit) <= 200),
  roles text[] not null check (roles <@ array['officer','approver','reviewer','supervisor','admin']::text[] and cardinality(roles) > 0),
  created_at timestamptz not null default now(),
  -- When the officer last received the role 'officer' (authorised since), for the Art. 30(2)(a) list.
  authorised_at timestamptz,
  deactivated_at timestamptz
);

-- API tokens, stored only as scrypt hashes; the secret is shown once when issued.
create table api_tokens (
  id bigserial primary key,
  officer_id bigint not null references officers(id),
  label text not null default '' check (length(label) <= 200),
  token_hash text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz
);
create index api_tokens_officer on api_tokens(officer_id);

-- Vehicle registration data opened to automated search (Prüm Decision Art. 12(1)(a) and (b)).
create table vehicle_imports (
  id bigserial primary key,
  file_name text not null,
  sha256 text not null,
  format text not null check (format in ('csv','jsonl')),
  mode text not null check (mode in ('upsert','replace')),
  row_count integer not null,
  imported_at timestamptz not null default now()
);

create table vehicles (
  id bigserial primary key,
  -- Normalised keys: upper case, no spaces or hyphens. Searches are exact on these (Art. 12(1):
  -- only a full chassis number or a full registration number).
  vin char(17) not null unique check (vin ~ '^[A-HJ-NPR-Z0-9]{17}$'),
  registration_number text not null unique,
  registration_display text not null,
  make text not null,
  model text not null,
  vehicle_type text not null,
  colour text not null,
  first_registration date not null,
  holder_type text not null check (holder_type in ('natural','legal')),
  holder_surname text,
  holder_first_names text,
  holder_birth_date date,
  holder_name text,
  holder_address text not null,
  import_id bigint not null references vehicle_imports(id),
  check (
    (holder_type = 'natural' and holder_surname is not null and holder_first_names is not null
       and holder_birth_date is not null and holder_name is null)
    or (holder_type = 'legal' and holder_name is not null and holder_surname is null
       and holder_first_names is null and holder_birth_date is null)
  )
);

-- The record of every supply and receipt (Prüm Decision Art. 30(2)(b)) and of every refusal.
create table records (
  id bigserial primary key,
  -- Art. 30(2)(b)(ii): the date and exact time; clock_timestamp() is the moment of writing, not the
  -- start of the transaction.
  recorded_at timestamptz not null default clock_timestamp(),
  action text not null,
  direction text not null check (direction in ('local','outgoing','incoming')),
  -- Art. 30(2)(b)(iii): the searching body and the body administering the file.
  searching_body text not null,
  administering_body text not null,
  -- Art. 30(2)(b), last sentence: the official who carried out the search and the one who ordered it.
  officer_id bigint references officers(id),
  officer_reference text,
  ordered_by text,
  reason text,
  purpose text,
  legal_basis text,
  -- Art. 30(2)(b)(i): the data supplied, in the request and in the answer.
  query jsonb not null default '{}'::jsonb,
  supplied jsonb,
  hit boolean,
  outcome text not null check (outcome in ('hit','no-hit','refused','failed','done')),
  request_id text
);
create index records_recorded_at on records(recorded_at);
create index records_officer on records(officer_id, recorded_at);
create index records_outcome on records(outcome, recorded_at);

-- Records cannot be changed or deleted through the application (Art. 30(4)): enforced here, in the
-- database, for every client. The only deletion allowed is the retention purge of records older than
-- two years, and only inside a transaction that declared it with set_config('openprum.records_purge','on').
create function openprum_records_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE'
     and coalesce(current_setting('openprum.records_purge', true), '') = 'on'
     and old.recorded_at < now() - interval '2 years' then
    return old;
  end if;
  raise exception 'records cannot be changed or deleted (Prüm Decision Art. 30(4))'
    using errcode = 'OPR01';
end $$;

create function openprum_records_no_truncate() returns trigger language plpgsql as $$
begin
  raise exception 'records cannot be truncated (Prüm Decision Art. 30(4))' using errcode = 'OPR01';
end $$;

create trigger records_guard before update or delete on records
  for each row execute function openprum_records_guard();
create trigger records_no_truncate before truncate on records
  for each statement execute function openprum_records_no_truncate();
