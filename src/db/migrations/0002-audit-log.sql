-- 0002 audit log: the record of supplies and receipts (Prüm Decision Art. 30(2)(b)) becomes an
-- append-only Merkle-tree log as in RFC 9162, so that nobody can rewrite it unnoticed.
--
-- Capabilities keep inserting plain rows into `records` (one statement on the hot path). A sequencer
-- (src/audit/sequencer.ts) integrates them in batches: it gives each record a gap-free log index,
-- commits to the whole stored record with a random salt, appends the leaf to the tree, stores the
-- tree's complete-subtree hashes and signs a tree head with the node's Ed25519 key.
--
-- Every table here refuses update and delete by any client except the controlled paths named in
-- its guard, like `records` (migration 0001).

-- The log's state: one row, locked FOR UPDATE by the sequencer so that appends are serialised.
create table audit_log_state (
  id smallint primary key default 1 check (id = 1),
  -- Number of entries in the log (the next log index).
  tree_size bigint not null default 0 check (tree_size >= 0),
  -- Highest records.id integrated so far. Lower ids not yet visible are in audit_pending_records.
  last_record_id bigint not null default 0 check (last_record_id >= 0),
  -- Entries with a lower log index have been erased by the retention purge (Art. 30(4)), or are
  -- anomalies the purge reported.
  erased_below bigint not null default 0 check (erased_below >= 0)
);
insert into audit_log_state default values;

-- Record ids skipped by the sequencer: an id below the highest one integrated whose row is not
-- visible yet, because its transaction is still running (it commits later) or rolled back (the id
-- is lost; a sequence never gives it back). Kept until the row appears, or until every transaction
-- that was running when the gap was seen has ended (snapshot xmin >= seen_xmax).
create table audit_pending_records (
  record_id bigint primary key,
  seen_xmax bigint not null,
  seen_at timestamptz not null default now()
);

-- One row per log entry. The leaf of entry i is SHA-256(0x00 || 0x01 || uint64 i || commitment),
-- commitment = SHA-256(tag || salt || SHA-256(canonical JSON of the whole stored record)); see
-- src/audit/merkle/README.md. No foreign key to records: records are purged after two years
-- (Art. 30(4)) while their entry stays, erased.
create table audit_log_entries (
  log_index bigint primary key check (log_index >= 0),
  record_id bigint not null unique,
  salt bytea check (length(salt) = 32),
  content_digest bytea check (length(content_digest) = 32),
  commitment bytea not null check (length(commitment) = 32),
  sealed_at timestamptz not null default now(),
  -- Erasure (Art. 30(4) retention, or ordered): salt and digest are deleted with the record; the
  -- entry keeps only its index and commitment, which hide the content yet keep the tree verifiable.
  erased_at timestamptz,
  erasure text check (erasure in ('retention', 'order')),
  check ((salt is null) = (content_digest is null)),
  check ((salt is null) = (erased_at is not null)),
  check ((erased_at is null) = (erasure is null))
);
-- Erased entries beyond the purged prefix (late records, erasure orders) are looked up by index.
create index audit_log_entries_erased on audit_log_entries (log_index) where erasure is not null;

-- The hash of every complete subtree: node (level L, idx i) covers leaves [i*2^L, (i+1)*2^L);
-- level 0 holds the leaf hashes. Written once, never changed.
-- Keyed by the node's in-order position in the tree, (2i+1)*2^L - 1 (leaves at even positions, each
-- parent between its children): the lower-level nodes of an inclusion proof lie within 2^(L+1) of the
-- leaf's position, so they share a few index and heap pages instead of one descent per level, and
-- appends write one moving region of the index.
create table audit_nodes (
  level smallint not null check (level between 0 and 62),
  idx bigint not null check (idx >= 0),
  hash bytea not null check (length(hash) = 32),
  pos bigint generated always as ((2 * idx + 1) * (1::bigint << level) - 1) stored primary key
);

-- Signed tree heads of this node's log (Ed25519 over the encoding of src/audit/merkle/tree-head.ts).
create table audit_tree_heads (
  id bigserial primary key,
  tree_size bigint not null check (tree_size >= 0),
  timestamp_ms bigint not null check (timestamp_ms >= 0),
  root_hash bytea not null check (length(root_hash) = 32),
  country text not null,
  key_id text not null,
  signature bytea not null check (length(signature) = 64),
  created_at timestamptz not null default now()
);
create index audit_tree_heads_size on audit_tree_heads (tree_size, id);

-- Countersignatures that peer nodes (witnesses) gave on this node's tree heads, verified on receipt.
create table audit_cosignatures (
  head_id bigint not null references audit_tree_heads (id),
  witness_country text not null,
  witness_key_id text not null,
  timestamp_ms bigint not null check (timestamp_ms >= 0),
  signature bytea not null check (length(signature) = 64),
  received_at timestamptz not null default now(),
  primary key (head_id, witness_country, witness_key_id)
);

-- This node as a witness of its peers' logs: every head it accepted (or found stale) with the
-- consistency proof it checked, in order, so that the witness state is rebuilt on start by replay.
create table audit_witness_observations (
  id bigserial primary key,
  log_id text not null,
  verdict text not null check (verdict in ('accepted', 'stale')),
  tree_size bigint not null check (tree_size >= 0),
  head jsonb not null,
  proof jsonb,
  cosignature jsonb,
  observed_at timestamptz not null default now()
);
create index audit_witness_observations_log on audit_witness_observations (log_id, id);

-- Evidence that a peer rewrote or forked its log: two validly signed heads, or a head and a failing
-- consistency proof. Non-repudiable; kept.
create table audit_witness_alarms (
  id bigserial primary key,
  log_id text not null,
  kind text not null check (kind in ('fork', 'rewrite')),
  evidence jsonb not null,
  detected_at timestamptz not null default now()
);

-- Results of the random checks on the lawfulness of supplies (Prüm Decision Art. 30(5)): kept for
-- inspection by the data-protection authority for 18 months, then deleted at once.
create table audit_checks (
  id bigserial primary key,
  -- No foreign key: the record may be purged first (Art. 30(4)) while the result is still kept.
  record_id bigint not null,
  log_index bigint,
  result text not null check (result in ('lawful', 'unlawful', 'inconclusive')),
  findings text not null default '' check (length(findings) <= 4000),
  supervisor_id bigint not null references officers (id),
  supervisor_reference text not null,
  checked_at timestamptz not null default clock_timestamp()
);
create index audit_checks_checked_at on audit_checks (checked_at);
create index audit_checks_record on audit_checks (record_id);

-- The records of erasures (src/audit/retention.ts) are looked up by every export, which shows why
-- each erased entry was erased; a partial index keeps that off the big records table.
create index audit_records_erasures on records (id) where action in ('audit.retention-purge', 'audit.erasure-order');

-- Guards ------------------------------------------------------------------------------------------

create function openprum_audit_append_only() returns trigger language plpgsql as $$
begin
  raise exception '% is append-only: rows cannot be changed or deleted (Prüm Decision Art. 30(4))', tg_table_name
    using errcode = 'OPR02';
end $$;

create function openprum_audit_no_truncate() returns trigger language plpgsql as $$
begin
  raise exception '% cannot be truncated (Prüm Decision Art. 30(4))', tg_table_name using errcode = 'OPR02';
end $$;

create trigger audit_nodes_guard before update or delete on audit_nodes
  for each row execute function openprum_audit_append_only();
create trigger audit_tree_heads_guard before update or delete on audit_tree_heads
  for each row execute function openprum_audit_append_only();
create trigger audit_cosignatures_guard before update or delete on audit_cosignatures
  for each row execute function openprum_audit_append_only();
create trigger audit_witness_observations_guard before update or delete on audit_witness_observations
  for each row execute function openprum_audit_append_only();
create trigger audit_witness_alarms_guard before update or delete on audit_witness_alarms
  for each row execute function openprum_audit_append_only();

create trigger audit_nodes_no_truncate before truncate on audit_nodes
  for each statement execute function openprum_audit_no_truncate();
create trigger audit_tree_heads_no_truncate before truncate on audit_tree_heads
  for each statement execute function openprum_audit_no_truncate();
create trigger audit_cosignatures_no_truncate before truncate on audit_cosignatures
  for each statement execute function openprum_audit_no_truncate();
create trigger audit_witness_observations_no_truncate before truncate on audit_witness_observations
  for each statement execute function openprum_audit_no_truncate();
create trigger audit_witness_alarms_no_truncate before truncate on audit_witness_alarms
  for each statement execute function openprum_audit_no_truncate();
create trigger audit_log_entries_no_truncate before truncate on audit_log_entries
  for each statement execute function openprum_audit_no_truncate();
create trigger audit_log_state_no_truncate before truncate on audit_log_state
  for each statement execute function openprum_audit_no_truncate();
create trigger audit_checks_no_truncate before truncate on audit_checks
  for each statement execute function openprum_audit_no_truncate();

-- Log entries are never deleted. The one change allowed is erasure (Art. 30(4); Directive (EU)
-- 2016/680 Art. 16): in a transaction that declared it with set_config('openprum.audit_erase','on'),
-- after the record itself was deleted, salt and digest go (together), and nothing else changes.
create function openprum_audit_entries_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE'
     and coalesce(current_setting('openprum.audit_erase', true), '') = 'on'
     and old.salt is not null and new.salt is null and new.content_digest is null
     and new.erased_at is not null and new.erasure is not null
     and new.log_index = old.log_index and new.record_id = old.record_id
     and new.commitment = old.commitment and new.sealed_at = old.sealed_at
     and not exists (select 1 from records r where r.id = old.record_id) then
    return new;
  end if;
  raise exception 'audit log entries cannot be changed or deleted; only erased with their record (Prüm Decision Art. 30(4))'
    using errcode = 'OPR02';
end $$;
create trigger audit_log_entries_guard before update or delete on audit_log_entries
  for each row execute function openprum_audit_entries_guard();

-- The state only grows: a smaller tree would hide entries.
create function openprum_audit_state_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' and new.id = old.id
     and new.tree_size >= old.tree_size and new.last_record_id >= old.last_record_id
     and new.erased_below >= old.erased_below then
    return new;
  end if;
  raise exception 'the audit log state only grows (Prüm Decision Art. 30(4))' using errcode = 'OPR02';
end $$;
create trigger audit_log_state_guard before update or delete on audit_log_state
  for each row execute function openprum_audit_state_guard();

-- Check results are not changed; they are deleted 18 months after the check, and only by the purge
-- that declared it with set_config('openprum.checks_purge','on') (Art. 30(5)).
create function openprum_audit_checks_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE'
     and coalesce(current_setting('openprum.checks_purge', true), '') = 'on'
     and old.checked_at < now() - interval '18 months' then
    return old;
  end if;
  raise exception 'check results cannot be changed, and are deleted only 18 months after the check (Prüm Decision Art. 30(5))'
    using errcode = 'OPR02';
end $$;
create trigger audit_checks_guard before update or delete on audit_checks
  for each row execute function openprum_audit_checks_guard();

-- Records: besides the retention purge of migration 0001, an erasure ordered by the data-protection
-- authority (Directive (EU) 2016/680 Arts. 16(2) and 47(2)(b)) may delete records of any age, but
-- only those whose ids the transaction named with set_config('openprum.records_erase', '<id>,<id>,...').
-- The erasure is itself recorded, in the same transaction (src/audit/retention.ts).
create or replace function openprum_records_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE'
     and coalesce(current_setting('openprum.records_purge', true), '') = 'on'
     and old.recorded_at < now() - interval '2 years' then
    return old;
  end if;
  if tg_op = 'DELETE'
     and old.id = any (string_to_array(coalesce(nullif(current_setting('openprum.records_erase', true), ''), '-1'), ',')::bigint[]) then
    return old;
  end if;
  raise exception 'records cannot be changed or deleted (Prüm Decision Art. 30(4))'
    using errcode = 'OPR01';
end $$;
