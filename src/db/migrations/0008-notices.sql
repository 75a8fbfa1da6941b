-- 0008 notices and diffusions (INTERPOL-style alerts between states; src/notices/README.md).
-- A notice is requested by a state's node, reviewed by the federation's secretariat and, once
-- published, sent to every node. A diffusion goes from a state straight to the states it names and
-- is reviewed by the secretariat right after (before, while the state is under supervision). Every
-- node keeps one row per notice or diffusion it holds: as its requester, as the secretariat, or as a
-- recipient. A deleted diffusion (or a cancelled notice at a recipient) leaves no row, only a
-- tombstone without personal data, so that a late message cannot bring it back.

-- entity_id of a published notice: "<year>/<number>", as INTERPOL's public notices use.
create sequence notice_entity_number;

create table notices (
  id uuid primary key,
  kind text not null check (kind in ('notice', 'diffusion')),
  type text not null check (type in ('red', 'yellow', 'blue', 'black', 'green', 'orange', 'purple', 'un')),
  held_as text not null check (held_as in ('requester', 'secretariat', 'recipient')),
  requesting_state char(2) not null check (requesting_state ~ '^[A-Z]{2}$'),
  -- The requesting state's own reference of the request.
  reference text not null,
  -- requester (notice):    draft → submitted → published | returned (→ submitted again) | refused; withdrawn; cancelled
  -- requester (diffusion): draft → issued | held → compliant | released | refused; withdrawn; deleted
  -- secretariat:           pending-review → published | returned | refused; cancelled
  --                        (diffusion) under-review | held → compliant | released | refused; withdrawn; deleted
  -- recipient:             published (notice) | active (diffusion); the row goes when cancelled or deleted
  status text not null check (status in ('draft', 'submitted', 'pending-review', 'returned', 'refused', 'published',
    'withdrawn', 'cancelled', 'issued', 'held', 'under-review', 'compliant', 'released', 'active', 'deleted')),
  -- Incremented at each submission (requester) and each publication or correction (secretariat).
  version integer not null default 0,
  -- The request: subject, judicial data, facts, attachments (src/notices/model.ts). Null once deleted.
  content jsonb,
  -- Folded family name and forenames, for the reviewer's "earlier refused requests for the same person".
  name_key text,
  birth_date text,
  -- The requesting state agreed to publish the public extract (red, yellow and UN notices only).
  public_extract boolean not null default false,
  -- Diffusions: the states named by the requesting state (a JSON array of codes).
  recipients jsonb,
  entity_id text unique,
  submitted_at timestamptz,
  decided_at timestamptz,
  published_at timestamptz,
  -- Published notices: valid five years; a review task six months before.
  expires_at timestamptz,
  review_due_at timestamptz,
  closed_at timestamptz,
  -- The last decision of the secretariat: decision, reason codes, note, justification, reviewer,
  -- and the review assistance shown when it was taken.
  decision jsonb,
  -- What happened to the request, in order ({at, event, by, ...}); no personal data.
  history jsonb not null default '[]',
  officer_id bigint references officers(id),
  officer_reference text,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default clock_timestamp()
);
create index notices_status on notices (held_as, status, created_at);
create index notices_name_key on notices (name_key) where name_key is not null;
create index notices_expiry on notices (expires_at) where status = 'published';

create table notice_tombstones (
  id uuid primary key,
  kind text not null,
  requesting_state char(2) not null,
  reason text not null,
  deleted_at timestamptz not null default clock_timestamp()
);

-- The review assistance, edited by the secretariat: each change is a new version; the newest applies.
create table notice_review_rules (
  version serial primary key,
  rules jsonb not null,
  note text not null,
  changed_by text not null,
  changed_at timestamptz not null default clock_timestamp()
);

-- The secretariat's register of what it knows about persons that matters under Art. 3 of INTERPOL's
-- Constitution: recognised refugees (with the state they are protected from), politicians,
-- journalists, activists. Entries are ended (removed_at), never changed.
create table notice_subject_flags (
  id bigserial primary key,
  flag text not null check (flag in ('refugee', 'politician', 'journalist', 'activist', 'human-rights-defender', 'other')),
  family_name text not null,
  forenames text,
  birth_date text,
  name_key text not null,
  related_state char(2) check (related_state ~ '^[A-Z]{2}$'),
  source text not null,
  note text,
  created_by text not null,
  created_at timestamptz not null default clock_timestamp(),
  removed_at timestamptz,
  removed_by text,
  check (flag <> 'refugee' or related_state is not null)
);
create index notice_subject_flags_name on notice_subject_flags (name_key) where removed_at is null;

-- Supervision of a state: every measure (placed, changed, lifted) is a row; the newest per state is
-- in force. The secretariat writes them ('local') and sends them to every node ('received').
create table notice_supervision (
  id bigserial primary key,
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  measure text not null check (measure in ('placed', 'changed', 'lifted')),
  reason text not null,
  review_date date,
  decided_by text not null,
  decided_at timestamptz not null,
  version integer not null,
  origin text not null check (origin in ('local', 'received')),
  message_id uuid,
  recorded_at timestamptz not null default clock_timestamp(),
  unique (state, version)
);

-- The durable outbox of notice messages: one row per recipient state and message. A worker sends
-- due rows with back-off; the message id is kept across retries, so the receiver acts once.
create table notice_deliveries (
  id bigserial primary key,
  message_id uuid not null unique,
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  act text not null,
  notice_id uuid,
  -- The message without sentAt, as JSON text; emptied ('{}') when the notice data are deleted.
  payload text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'refused', 'failed', 'cancelled')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default clock_timestamp(),
  claimed_until timestamptz,
  last_attempt_at timestamptz,
  last_error_code text,
  last_error text,
  delivered_at timestamptz,
  reply_status integer,
  reply_body text,
  reply_jws text,
  record_id bigint,
  created_at timestamptz not null default clock_timestamp()
);
create index notice_deliveries_due on notice_deliveries (next_attempt_at) where status = 'pending';
create index notice_deliveries_notice on notice_deliveries (notice_id);

-- Notice messages received: the replay guard and the signed reply a retry receives again. The body
-- (signed by its sender) is emptied when the notice data it carries are deleted.
create table notice_inbox (
  sender_state char(2) not null,
  message_id uuid not null,
  act text not null,
  body_digest text not null,
  body text,
  jws text,
  signer_fingerprint text not null,
  received_at timestamptz not null default clock_timestamp(),
  reply_status integer not null,
  reply_body text not null,
  reply_jws text not null,
  notice_id uuid,
  record_id bigint,
  primary key (sender_state, message_id)
);
create index notice_inbox_notice on notice_inbox (notice_id) where notice_id is not null;

-- Requests of persons about notice data (the role of INTERPOL's Commission for the Control of
-- Files): access within four months, correction or deletion within nine (CCF Statute Art. 40).
create table notice_data_requests (
  id uuid primary key,
  kind text not null check (kind in ('access', 'correction', 'deletion')),
  applicant_family_name text not null,
  applicant_forenames text,
  applicant_birth_date text,
  name_key text not null,
  contact text not null,
  notice_id uuid,
  details text not null,
  received_at timestamptz not null,
  due_at timestamptz not null,
  status text not null check (status in ('open', 'granted', 'refused')),
  decision jsonb,
  decided_by text,
  decided_at timestamptz,
  registered_by text not null,
  created_at timestamptz not null default clock_timestamp()
);

-- Public notice feeds imported for screening (the JSON of INTERPOL's public notices web service):
-- an untrusted source, kept apart from the notices received through the federation.
create table notice_feed_imports (
  id bigserial primary key,
  source text not null,
  sha256 text not null,
  entries integer not null,
  imported_by text not null,
  imported_at timestamptz not null default clock_timestamp()
);
create table notice_screening_entries (
  id bigserial primary key,
  import_id bigint not null references notice_feed_imports(id) on delete cascade,
  type text not null,
  entity_id text not null,
  family_name text,
  forenames text,
  birth_date text,
  nationalities jsonb not null,
  name_key text not null,
  unique (import_id, type, entity_id)
);
create index notice_screening_entries_name on notice_screening_entries (name_key);
