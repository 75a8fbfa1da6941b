-- 0005 follow-ups: the second step after a hit (Prüm Decision Arts. 5 and 10; FD 2008/977 Arts. 9, 12).
-- The searching officer confirms or rejects each matched reference; for a confirmed hit a follow-up
-- request goes to the requested state, whose approver grants it (with the data and the conditions of
-- use) or refuses it. Both sides keep the follow-up, the signed messages and the due time (48 hours
-- after receipt, as Regulation (EU) 2024/982 sets for core data after a confirmed match).

-- The searching officer's verdict on one matched reference of an answered federated search. Goes
-- with its search when that is purged after two years (Prüm Decision Art. 30(4)).
create table hit_confirmations (
  id bigserial primary key,
  search_id uuid not null references federation_searches(id) on delete cascade,
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  target_message_id uuid not null,
  answer_reference text not null,
  -- The reference of the searched item (the profile sent, the vehicle key) and of the matched one.
  request_reference text not null,
  requested_reference text not null,
  verdict text not null check (verdict in ('confirmed', 'rejected')),
  note text not null check (length(note) between 1 and 2000),
  officer_id bigint not null references officers(id),
  officer_reference text not null,
  confirmed_at timestamptz not null,
  record_id bigint,
  unique (search_id, state, request_reference, requested_reference)
);

-- A follow-up request, at the requesting node (direction 'outgoing') or at the requested node
-- ('incoming'). The search it refers to is copied (reference, message id, both references), so that
-- the follow-up stays readable after its search is purged.
create table follow_ups (
  id uuid primary key,
  direction text not null check (direction in ('outgoing', 'incoming')),
  -- The requesting state's indication number of the follow-up request.
  reference text not null,
  requesting_state char(2) not null check (requesting_state ~ '^[A-Z]{2}$'),
  requested_state char(2) not null check (requested_state ~ '^[A-Z]{2}$'),
  request_message_id uuid not null,
  -- outgoing: pending (not yet received) → received → granted | refused; or rejected (refused by
  -- the requested node's protocol checks) or failed (never delivered).
  -- incoming: open → granted | refused.
  status text not null check (status in ('pending', 'received', 'rejected', 'failed', 'open', 'granted', 'refused')),
  -- The hit.
  kind text not null,
  search_id uuid,
  search_reference text not null,
  search_message_id uuid not null,
  answer_reference text not null,
  request_reference text not null,
  requested_reference text not null,
  -- The request.
  legal_basis text not null,
  facts text not null,
  offence_category text not null,
  offence_description text,
  purpose text not null,
  case_reference text,
  officer_id bigint references officers(id),
  officer_reference text,
  requested_at timestamptz not null,
  -- The requested node's receipt: its reference, when it received the request, when the answer is due.
  receipt_reference text,
  received_at timestamptz,
  due_at timestamptz,
  -- The decision, taken at the requested node.
  decided_at timestamptz,
  decided_by_id bigint references officers(id),
  decided_by_reference text,
  supply_legal_basis text,
  refusal_reason text,
  supplied jsonb,
  -- FD 2008/977 Arts. 9 and 12: the supplier's conditions of use, as a structured list (see
  -- src/followup/conditions.ts); the time limits also as columns, for the checks that enforce them.
  conditions jsonb,
  delete_by date,
  review_by date,
  -- outgoing: when the answer arrived here.
  answer_received_at timestamptz,
  -- The signed messages, exactly as signed by their senders (the proof of who said what).
  request_body text,
  request_jws text,
  receipt_body text,
  receipt_jws text,
  answer_body text,
  answer_jws text,
  request_record_id bigint,
  decision_record_id bigint,
  created_at timestamptz not null default clock_timestamp(),
  unique (requesting_state, request_message_id)
);
create index follow_ups_list on follow_ups (direction, created_at);
create index follow_ups_officer on follow_ups (officer_id, created_at);
create index follow_ups_delete_by on follow_ups (delete_by) where delete_by is not null;
create index follow_ups_review_by on follow_ups (review_by) where review_by is not null;
-- One open follow-up per hit at a time at the requesting node.
create unique index follow_ups_open_per_hit on follow_ups (search_id, requested_state, request_reference, requested_reference)
  where direction = 'outgoing' and status in ('pending', 'received');

-- The durable outbox of follow-up messages (requests from the requesting node, answers from the
-- requested node). A worker sends due rows with back-off; the message id is kept across retries, so
-- the receiver handles a message once.
create table follow_up_deliveries (
  id bigserial primary key,
  follow_up_id uuid not null references follow_ups(id) on delete cascade,
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  message_id uuid not null unique,
  type text not null check (type in ('follow-up-request', 'follow-up-answer')),
  -- The message without its sentAt (set at each attempt), as JSON text.
  payload text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'refused', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default clock_timestamp(),
  claimed_until timestamptz,
  last_attempt_at timestamptz,
  last_error_code text,
  last_error text,
  delivered_at timestamptz,
  -- The last attempt as signed and sent, and the receiver's signed reply.
  sent_body text,
  sent_jws text,
  reply_status integer,
  reply_body text,
  reply_jws text,
  record_id bigint
);
create index follow_up_deliveries_due on follow_up_deliveries (next_attempt_at) where status = 'pending';
create index follow_up_deliveries_follow_up on follow_up_deliveries (follow_up_id);

-- Follow-up messages received from peers: the replay guard (a message id is handled once) and the
-- signed reply that a retry of the same message receives again.
create table follow_up_inbox (
  sender_state char(2) not null,
  message_id uuid not null,
  type text not null,
  body_digest text not null,
  body text not null,
  jws text not null,
  signer_fingerprint text not null,
  received_at timestamptz not null default clock_timestamp(),
  reply_status integer not null,
  reply_body text not null,
  reply_jws text not null,
  follow_up_id uuid,
  record_id bigint,
  primary key (sender_state, message_id)
);
