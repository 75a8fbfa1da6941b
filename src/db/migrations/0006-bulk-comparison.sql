-- 0006 bulk comparison of DNA profiles between states (Prüm Decision Art. 4; 2008/616/JHA Art. 8).
-- The requesting side: a comparison of this node's unidentified profiles with one peer state, its
-- chunks fixed at start (so that a resume sends the same messages), and the hits received. The
-- requested side needs no table of its own: it answers from federation_inbox (replay guard and
-- stored signed answer) and writes its record (Art. 30); it keeps nothing else of the profiles.

create table dna_bulk_comparisons (
  id uuid primary key,
  state char(2) not null check (state ~ '^[A-Z]{2}$'),
  -- The indication number of the comparison (2008/616/JHA Art. 8(1)(b)), the same in every chunk.
  reference text not null unique,
  mode text not null check (mode in ('all', 'new')),
  -- 'pending' while in progress (the status the durable-queue loop claims, src/exchange/queue-worker.ts),
  -- in the phase of the consent handshake ('opening') or of the chunks ('running').
  status text not null check (status in ('pending', 'completed', 'incomplete', 'refused', 'failed')),
  phase text not null default 'opening' check (phase in ('opening', 'running')),
  origin text not null check (origin in ('admin', 'schedule')),
  -- The day of a scheduled (nightly) comparison: one a day per state, whichever process starts it.
  scheduled_day date,
  officer_id bigint references officers(id),
  officer_reference text,
  reason text not null,
  ordered_by text not null,
  -- dna_changes.seq: mode 'new' takes the unidentified profiles put after watermark_from (the
  -- watermark_to of the last completed comparison with the state) up to watermark_to (the log
  -- position when this one started).
  watermark_from bigint not null default 0,
  watermark_to bigint not null,
  profiles integer not null check (profiles >= 0),
  chunk_count integer not null check (chunk_count >= 0),
  chunk_size integer not null check (chunk_size > 0),
  -- The consent handshake (POST /peer/v1/bulk-comparisons): its message id, kept across retries.
  open_message_id uuid not null unique,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default clock_timestamp(),
  -- One sender at a time per comparison (chunk after chunk); a crashed sender's lease runs out.
  claimed_until timestamptz,
  last_attempt_at timestamptz,
  last_error_code text,
  last_error text,
  created_at timestamptz not null default clock_timestamp(),
  opened_at timestamptz,
  finished_at timestamptz,
  request_id text,
  unique (state, scheduled_day)
);
-- At most one comparison with a state in progress at a time.
create unique index dna_bulk_comparisons_running on dna_bulk_comparisons (state) where status = 'pending';
create index dna_bulk_comparisons_due on dna_bulk_comparisons (next_attempt_at) where status = 'pending';

create table dna_bulk_chunks (
  id bigserial primary key,
  comparison_id uuid not null references dna_bulk_comparisons(id),
  idx integer not null check (idx >= 0),
  message_id uuid not null unique,
  -- The references of the chunk's profiles (kept), and the profiles as sent (this node's own
  -- unidentified profiles, fixed at start; cleared once the chunk is answered or ends otherwise).
  refs jsonb not null,
  profiles jsonb,
  status text not null default 'pending' check (status in ('pending', 'answered', 'refused', 'failed', 'cancelled')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default clock_timestamp(),
  last_attempt_at timestamptz,
  last_error_code text,
  last_error text,
  answered_at timestamptz,
  compared integer,
  hits integer,
  -- The answer exactly as signed by the requested state (proof of what it supplied).
  answer_status integer,
  answer_body text,
  answer_jws text,
  -- The requesting side's record of this chunk (see federation_targets.record_id).
  record_id bigint,
  unique (comparison_id, idx)
);
create index dna_bulk_chunks_pending on dna_bulk_chunks (comparison_id, idx) where status = 'pending';
create index dna_bulk_chunks_record on dna_bulk_chunks (record_id);

-- Hits received (Prüm Decision Art. 4(2)): this node's stain and the requested state's reference data,
-- each with an id, so that the follow-up request for personal data (Art. 5) can name it.
create table dna_bulk_hits (
  id bigserial primary key,
  comparison_id uuid not null references dna_bulk_comparisons(id),
  chunk_idx integer not null,
  state char(2) not null,
  own_ref text not null,
  peer_ref text not null,
  peer_kind text not null check (peer_kind in ('reference', 'unidentified')),
  quality text not null check (quality in ('match', 'wildcard-match', 'near-match')),
  matching_loci integer not null,
  compared_loci integer not null,
  mismatches integer not null,
  rmp double precision not null,
  peer_profile jsonb not null,
  -- The requested state's indication number of the answer (2008/616/JHA Art. 8(2)(c)).
  answer_reference text not null,
  record_id bigint,
  found_at timestamptz not null default clock_timestamp(),
  unique (comparison_id, own_ref, peer_ref)
);
create index dna_bulk_hits_state on dna_bulk_hits (state, own_ref);
create index dna_bulk_hits_record on dna_bulk_hits (record_id);

-- When a record is erased (two-year purge, Art. 30(4), or an erasure order), what it documents goes
-- with it: the chunk's profiles and signed answer, and the hits it received. Named to run before the
-- record guard (triggers of one kind fire in name order).
create function openprum_bulk_unlink_record() returns trigger language plpgsql as $$
begin
  delete from dna_bulk_hits where record_id = old.id;
  update dna_bulk_chunks set record_id = null, profiles = null, answer_body = null, answer_jws = null where record_id = old.id;
  return old;
end $$;

create trigger records_bulk_unlink before delete on records
  for each row execute function openprum_bulk_unlink_record();
