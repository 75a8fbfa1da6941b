-- 0009 safeguards: the rules on personal data this node RECEIVED from other states, enforced
-- (FD 2008/977/JHA Arts. 3, 4, 8, 9, 11-14; Prüm Decision Arts. 14, 16(4), 26-28; src/safeguards/README.md).
--
-- The data stay where they arrived (follow_ups.supplied, federation_targets.result); received_items
-- indexes them with what governs their use: the purpose of supply, the supplier's conditions, the
-- time limits, blocking, the data subject's contest flag. Erasure deletes the data where they are;
-- blocking moves them into received_items.blocked_data, out of every other view.

create table received_items (
  -- For a follow-up: the follow-up's own id; for a search answer: a new id.
  id uuid primary key,
  source text not null check (source in ('follow-up', 'search-answer')),
  follow_up_id uuid unique,
  target_id bigint unique,
  supplying_state char(2) not null check (supplying_state ~ '^[A-Z]{2}$'),
  -- The search kind of the hit (dna, fingerprint, vehicle).
  kind text not null,
  -- The follow-up's reference, or the search's.
  reference text not null,
  -- The search request's message id (both nodes know it), and for follow-ups the request's.
  search_message_id uuid,
  request_message_id uuid,
  -- The purpose and legal basis of the supply (FD 2008/977 Art. 3(1); Prüm Decision Art. 26).
  purpose text not null,
  legal_basis text not null,
  -- The case the data were asked for; for a search answer the searching officer names it at first use.
  origin_case text,
  requested_by_id bigint,
  requested_by_reference text,
  received_at timestamptz not null,
  -- The supplier's conditions (src/followup/conditions.ts) and the time limits they set.
  conditions jsonb not null default '[]',
  delete_by date,
  review_due date,
  -- Prüm Decision Art. 14: supplied for this major event; erased at most one year after receipt.
  major_event text,
  status text not null default 'active' check (status in ('active', 'blocked', 'erased')),
  -- Prüm Decision Art. 28(3), FD 2008/977 Art. 4(3): erasure would prejudice the data subject; the
  -- data are blocked instead, usable only for this purpose.
  preserve_purpose text,
  preserve_reason text,
  preserve_by_reference text,
  blocked_at timestamptz,
  blocked_purpose text,
  blocked_data jsonb,
  erased_at timestamptz,
  erasure_reason text,
  -- Prüm Decision Art. 28(2): the data subject contests the accuracy.
  contested_at timestamptz,
  contested_note text,
  contested_source text check (contested_source in ('local', 'supplier')),
  -- The supplier's last correction (Prüm Decision Art. 28(1); FD 2008/977 Art. 8(2)).
  corrected_at timestamptz,
  correction_note text,
  registered_at timestamptz not null default clock_timestamp()
);
create index received_items_status on received_items (status, received_at);
create index received_items_delete_by on received_items (delete_by) where status <> 'erased' and delete_by is not null;
create index received_items_review_due on received_items (review_due) where status = 'active' and review_due is not null;
create index received_items_origin_case on received_items (origin_case) where origin_case is not null;
create index received_items_about on received_items (supplying_state, search_message_id);

-- Every lawful use of received data (FD 2008/977 Arts. 3, 11), with the case it was used in.
create table received_data_uses (
  id bigserial primary key,
  item_id uuid not null references received_items(id),
  used_at timestamptz not null,
  officer_id bigint,
  officer_reference text,
  purpose text not null,
  case_reference text not null,
  ground text not null,
  justification text,
  consent_id uuid,
  record_id bigint
);
create index received_data_uses_item on received_data_uses (item_id);
create index received_data_uses_case on received_data_uses (case_reference);

-- Cases closed by an officer: received data used only in closed cases are no longer needed
-- (FD 2008/977 Art. 4(2); Prüm Decision Art. 28(3)(a)).
create table safeguard_cases (
  case_reference text primary key,
  closed_at timestamptz not null,
  closed_by_id bigint,
  closed_by_reference text,
  reason text not null,
  record_id bigint
);

-- Reviews due (FD 2008/977 Arts. 5, 9(1)): a task for officers until one of them decides.
create table received_data_reviews (
  id bigserial primary key,
  item_id uuid not null references received_items(id),
  due date not null,
  created_at timestamptz not null,
  status text not null default 'open' check (status in ('open', 'done', 'void')),
  decided_at timestamptz,
  decided_by_id bigint,
  decided_by_reference text,
  decision text check (decision in ('keep', 'erase', 'block')),
  reason text,
  next_review date,
  record_id bigint
);
create unique index received_data_reviews_open on received_data_reviews (item_id) where status = 'open';

-- Consents: asked of the supplying state over the federation (FD 2008/977 Arts. 11(d), 13(1)(c),
-- 14(1)(a); Prüm Decision Arts. 26(1), 27), or given by the data subject and recorded here (Art. 11(d)).
-- direction 'outgoing': this node asked (or recorded a data subject's consent); 'incoming': asked of this node.
create table safeguard_consents (
  id uuid primary key,
  direction text not null check (direction in ('outgoing', 'incoming')),
  source text not null check (source in ('supplying-state', 'data-subject')),
  item_id uuid references received_items(id),
  asking_state char(2) not null,
  supplying_state char(2) not null,
  message_id uuid not null,
  reference text not null,
  about jsonb not null,
  scope text not null check (scope in ('further-processing', 'onward-transfer')),
  purpose text not null,
  case_reference text,
  reason text not null,
  recipient jsonb,
  status text not null check (status in ('pending', 'open', 'granted', 'refused', 'rejected', 'failed')),
  requested_at timestamptz not null,
  requested_by_id bigint,
  requested_by_reference text,
  evidence text,
  decided_at timestamptz,
  decided_by_id bigint,
  decided_by_reference text,
  decision_reason text,
  request_record_id bigint,
  decision_record_id bigint,
  created_at timestamptz not null default clock_timestamp(),
  unique (asking_state, message_id)
);
create index safeguard_consents_item on safeguard_consents (item_id);
create index safeguard_consents_list on safeguard_consents (direction, created_at);

-- Onward transfers of received data to third states, international bodies and private parties
-- (FD 2008/977 Arts. 13, 14). The data transferred are in the record, not here.
create table safeguard_transfers (
  id uuid primary key,
  item_id uuid not null references received_items(id),
  transferred_at timestamptz not null,
  recipient_type text not null check (recipient_type in ('third-state', 'international-body', 'private-party')),
  recipient_name text not null,
  recipient_country char(2),
  purpose text not null,
  case_reference text not null,
  ground text not null check (ground in ('consent', 'immediate-threat')),
  consent_id uuid,
  justification text not null,
  purpose_statement text,
  officer_id bigint,
  officer_reference text,
  notice_message_id uuid,
  record_id bigint
);
create index safeguard_transfers_item on safeguard_transfers (item_id);

-- Corrections of data this node supplied (Prüm Decision Art. 28(1); FD 2008/977 Art. 8(2)), one row
-- per recipient notified.
create table supplied_corrections (
  id uuid primary key,
  corrected_at timestamptz not null,
  subject jsonb not null,
  action text not null check (action in ('rectify', 'erase', 'flag-contested', 'unflag-contested')),
  reason text not null,
  recipient_state char(2) not null,
  about jsonb not null,
  message_id uuid not null unique,
  officer_id bigint,
  officer_reference text,
  record_id bigint
);

-- The durable queue of safeguards messages to peers (consent requests and answers, corrections,
-- notices of transfers), sent by src/safeguards/worker.ts like follow_up_deliveries.
create table safeguard_deliveries (
  id bigserial primary key,
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  message_id uuid not null unique,
  type text not null check (type in ('consent-request', 'consent-answer', 'supplied-data-correction', 'onward-transfer-notice')),
  -- What the message is about here: a consent's id, a correction's id, a transfer's id.
  related_id uuid,
  payload text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'refused', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default clock_timestamp(),
  claimed_until timestamptz,
  last_attempt_at timestamptz,
  last_error_code text,
  last_error text,
  delivered_at timestamptz,
  sent_body text,
  sent_jws text,
  reply_status integer,
  reply_body text,
  reply_jws text,
  record_id bigint
);
create index safeguard_deliveries_due on safeguard_deliveries (next_attempt_at) where status = 'pending';

-- Safeguards messages received: the replay guard and the signed reply a retry receives again. A
-- correction's body holds corrected personal data: it is blanked with the item it corrected.
create table safeguard_inbox (
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
  item_id uuid,
  record_id bigint,
  primary key (sender_state, message_id)
);
create index safeguard_inbox_item on safeguard_inbox (item_id) where item_id is not null;
