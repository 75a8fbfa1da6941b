-- 0003 federation: peer nodes, declarations, the outbox of this node's searches in other states and
-- the inbox of other states' searches here (Prüm Decision Arts. 2(3), 12, 30 and 36; 2008/616/JHA
-- Art. 8 and the Annex).

-- Where each peer node is reached. Who a peer is, the federation CA says (its certificate names the
-- state); this table only says where to find it.
create table federation_peers (
  country char(2) primary key check (country ~ '^[A-Z]{2}$'),
  url text not null check (url ~ '^https://[^\s]+$' and length(url) <= 500),
  added_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Declarations (Prüm Decision Arts. 2(3) and 36; 2008/616/JHA Art. 18): which files a state opens to
-- automated search, on which conditions, with what daily capacity per requesting state, and its
-- contact point. This node's own and those received from peers, kept exactly as signed.
create table federation_declarations (
  id bigserial primary key,
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  version integer not null check (version > 0),
  body text not null,
  jws text not null,
  signer_fingerprint text not null,
  issued_at timestamptz not null,
  received_at timestamptz not null default clock_timestamp(),
  unique (state, version)
);

-- Declared capacity used, per day (UTC), requesting state and search kind. Counted in the same
-- transaction as the answer, so a refused or failed search uses none.
create table federation_usage (
  day date not null,
  requesting_state char(2) not null,
  kind text not null,
  used integer not null check (used >= 0),
  primary key (day, requesting_state, kind)
);

-- A federated search by one of this node's officers, sent to one or more states.
create table federation_searches (
  id uuid primary key,
  kind text not null,
  -- The indication number of the request (2008/616/JHA Art. 8(1)(b)).
  reference text not null unique,
  officer_id bigint not null references officers(id),
  officer_reference text not null,
  purpose text not null,
  reason text not null,
  ordered_by text not null,
  query jsonb not null,
  created_at timestamptz not null default clock_timestamp(),
  request_id text
);

-- The durable outbox: one row per requested state. A worker sends due rows, retries with back-off and
-- keeps the message id across retries, so that a retried request is the same request at the peer.
create table federation_targets (
  id bigserial primary key,
  search_id uuid not null references federation_searches(id),
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  message_id uuid not null unique,
  status text not null default 'pending' check (status in ('pending', 'answered', 'refused', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default clock_timestamp(),
  claimed_until timestamptz,
  -- When the answer is due (2008/616/JHA Annex, ch. 1 section 3.1: DNA within 15 minutes).
  due_at timestamptz not null,
  last_attempt_at timestamptz,
  last_error_code text,
  last_error text,
  -- The last request sent and the answer received, each exactly as signed by its sender.
  request_body text,
  request_jws text,
  answer_status integer,
  answer_body text,
  answer_jws text,
  answered_at timestamptz,
  hit boolean,
  result jsonb,
  -- The searching side's record (no foreign key: records must stay truncation- and erasure-proof on
  -- their own terms; the trigger at the end keeps this consistent when a record is erased).
  record_id bigint,
  unique (search_id, state)
);
create index federation_targets_due on federation_targets (next_attempt_at) where status = 'pending';

-- Messages received from peers: the replay guard (a message id is answered once) and the store of the
-- signed answer that a retry of the same message receives again. The signed request is kept as the
-- proof of what was supplied, alongside its record (Art. 30(2)(b)(i)); no supplied DNA profile or
-- fingerprint is kept anywhere else (Art. 26(2)).
create table federation_inbox (
  requesting_state char(2) not null,
  message_id uuid not null,
  kind text not null,
  body_digest text not null,
  request_body text not null,
  request_jws text not null,
  signer_fingerprint text not null,
  received_at timestamptz not null default clock_timestamp(),
  answer_status integer not null,
  answer_body text not null,
  answer_jws text not null,
  -- The administering side's record (see federation_targets.record_id).
  record_id bigint,
  primary key (requesting_state, message_id)
);

-- Refusals at the peer interface that name no authenticated state, so that they cannot go in the
-- record of supplies: TLS handshakes with unknown, revoked or foreign certificates, protocol errors.
create table federation_events (
  id bigserial primary key,
  at timestamptz not null default clock_timestamp(),
  event text not null,
  peer_state char(2),
  remote_address text,
  code text,
  detail text not null
);
create index federation_events_at on federation_events (at);

-- When a record is erased (the retention purge after two years, Prüm Decision Art. 30(4), or an
-- erasure order), the federation's copies of what it documents go with it: the signed request and
-- answer kept in the inbox, and the request and answer kept in the outbox. Runs before the row is
-- deleted (and before the record guard, by name); when the guard refuses the deletion, the statement
-- fails and this is undone with it.
create function openprum_federation_unlink_record() returns trigger language plpgsql as $$
begin
  delete from federation_inbox where record_id = old.id;
  update federation_targets
     set record_id = null, request_body = null, request_jws = null, answer_body = null, answer_jws = null, result = null
   where record_id = old.id;
  return old;
end $$;

create trigger records_federation_unlink before delete on records
  for each row execute function openprum_federation_unlink_record();

create index federation_inbox_record on federation_inbox (record_id);
create index federation_targets_record on federation_targets (record_id);
