-- 0010 rights: data subjects' requests (Prüm Decision Art. 31; FD 2008/977 Arts. 17-18; Directive
-- (EU) 2016/680 Arts. 12-17), blocking of data in the national files (Prüm Decision Arts. 24(1)(d),
-- 28(3); FD 2008/977 Arts. 4(3), 25(2)(b)), and the network witnessing of audit tree heads (RFC 9162).
-- See src/rights/README.md and src/audit/README.md.

-- A data subject's request, registered by the contact point (or passed on by the supervisory
-- authority: indirect access, Directive (EU) 2016/680 Art. 17), with its statutory due time and the
-- written answer as given.
create table subject_requests (
  id uuid primary key,
  reference text not null unique,
  kind text not null check (kind in ('access', 'rectification', 'erasure', 'blocking')),
  channel text not null check (channel in ('direct', 'supervisory-authority')),
  -- The identifiers the node matches the person by (names, birth date, vehicle keys, references).
  subject jsonb not null,
  -- Prüm Decision Art. 31(1): "upon production of proof of his identity": how it was checked.
  identity_checked text not null check (length(identity_checked) between 1 and 500),
  details text not null check (length(details) between 1 and 4000),
  contact text not null check (length(contact) between 1 and 500),
  received_at timestamptz not null,
  due_at timestamptz not null,
  status text not null default 'open' check (status in ('open', 'granted', 'partly-granted', 'refused')),
  registered_by_id bigint not null references officers (id),
  registered_by_reference text not null,
  decided_at timestamptz,
  decided_by_id bigint references officers (id),
  decided_by_reference text,
  -- The decision as taken (internal: includes grounds withheld from the person) and the written
  -- answer as given to the person.
  decision jsonb,
  answer jsonb,
  register_record_id bigint,
  decision_record_id bigint,
  created_at timestamptz not null default clock_timestamp(),
  check ((status = 'open') = (decided_at is null))
);
create index subject_requests_due on subject_requests (due_at) where status = 'open';
create index subject_requests_created on subject_requests (created_at);

-- Blocked data (Prüm Decision Art. 24(1)(d): "the marking of stored personal data with the aim of
-- limiting their processing in future"; Art. 28(3); FD 2008/977 Art. 4(3)). The item is taken out of
-- its file (so automated searches no longer find it) and kept here with the one purpose it may still
-- be used for. Lifting puts it back; erasing deletes it for good.
create table data_blocks (
  id uuid primary key,
  reference text not null unique,
  target_kind text not null check (target_kind in ('vehicle', 'dna-profile', 'fingerprint-person')),
  -- vehicle: the VIN; dna-profile, fingerprint-person: the reference.
  target_ref text not null,
  -- The blocked data, as it was in the file (null once erased).
  data jsonb,
  allowed_purpose text not null check (length(allowed_purpose) between 1 and 500),
  reason text not null check (length(reason) between 1 and 2000),
  order_reference text,
  ordered_by text not null,
  source text not null check (source in ('supervisor-order', 'subject-request')),
  subject_request_id uuid references subject_requests (id),
  blocked_by_id bigint references officers (id),
  blocked_by_reference text not null,
  blocked_at timestamptz not null default clock_timestamp(),
  record_id bigint,
  ended_at timestamptz,
  ended_how text check (ended_how in ('lifted', 'erased')),
  ended_by_reference text,
  end_reason text,
  end_record_id bigint,
  check ((ended_at is null) = (ended_how is null)),
  check (ended_how is distinct from 'erased' or data is null)
);
create unique index data_blocks_active on data_blocks (target_kind, target_ref) where ended_at is null;

-- A blocked item stays out of its file even when the register or file is imported again: the row is
-- skipped (the import goes on), so that a routine import cannot undo a block.
create function openprum_blocked_skip() returns trigger language plpgsql as $$
declare
  k text := tg_argv[0];
  r text;
begin
  if tg_table_name = 'vehicles' then r := new.vin; else r := new.ref; end if;
  if exists (select 1 from data_blocks b where b.target_kind = k and b.target_ref = r and b.ended_at is null) then
    return null;
  end if;
  return new;
end $$;
create trigger vehicles_blocked before insert on vehicles
  for each row execute function openprum_blocked_skip('vehicle');
create trigger dna_profiles_blocked before insert on dna_profiles
  for each row execute function openprum_blocked_skip('dna-profile');
create trigger fingerprint_persons_blocked before insert on fingerprint_persons
  for each row execute function openprum_blocked_skip('fingerprint-person');
create trigger fingerprint_fingers_blocked before insert on fingerprint_fingers
  for each row execute function openprum_blocked_skip('fingerprint-person');

-- Network witnessing of tree heads (src/audit/witness-network.ts) ------------------------------------

-- The audit log key of each peer state, pinned when first seen (signed by that state's federation
-- certificate); a head under another key is not followed, and the change raises an alarm.
create table audit_peer_logs (
  country char(2) primary key check (country ~ '^[A-Z]{2}$'),
  key_id text not null,
  public_key bytea not null,
  pinned_at timestamptz not null default clock_timestamp(),
  last_checked_at timestamptz,
  last_verdict text,
  last_tree_size bigint,
  last_error text
);

-- One witnessing round at a time across the node's processes (a lease, as the outboxes use).
create table audit_witness_lease (
  id smallint primary key default 1 check (id = 1),
  holder text,
  until timestamptz
);
insert into audit_witness_lease (id) values (1);

-- Alarms: also a key change; and where the evidence came from (the log itself, or a peer's gossip).
alter table audit_witness_alarms drop constraint audit_witness_alarms_kind_check;
alter table audit_witness_alarms add constraint audit_witness_alarms_kind_check check (kind in ('fork', 'rewrite', 'key-change'));
alter table audit_witness_alarms add column source text;
alter table audit_witness_alarms add column record_id bigint;
