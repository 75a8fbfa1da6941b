/**
 * The requesting side of the bulk comparison of DNA profiles between states (Prüm Decision Art. 4):
 * "the Member States shall, by mutual consent, via their national contact points, compare the DNA
 * profiles of their unidentified DNA profiles with all DNA profiles from other national DNA analysis
 * files' reference data".
 *
 * An admin of this node starts a comparison with one peer state (or the nightly schedule does), in
 * mode `all` (every unidentified profile of the national file) or `new` (those put into the file
 * since the last completed comparison with that state: the `dna_changes` sequence is the watermark).
 * The set of profiles and its split into chunks are fixed in one transaction at start, so that a
 * resume sends the very same messages. A worker then
 *
 *   1. asks the state whether it consents (`bulk-open`, no profile in it; refused: the comparison
 *      ends as `refused`, recorded on both sides),
 *   2. sends the chunks one after the other, each a signed message with its own message id kept
 *      across retries (the peer answers an id once: a chunk retried after a crash on either side is
 *      neither compared nor recorded twice), and stores each chunk's hits with the chunk's record in
 *      one transaction (Art. 30(2)(b): the profiles supplied and the hits received),
 *   3. retries a state that is down with exponential back-off and jitter, waits for the next UTC day
 *      when the state's declared profiles a day are used up (429), and ends the comparison as
 *      `completed` (every chunk answered) or `incomplete` (a chunk refused or given up).
 *
 * A node that stops mid-run (or crashes: the claim is a lease) resumes at the first unanswered chunk.
 * The hits (this node's stain, the state's reference data, the quality) are kept with ids, so that
 * the follow-up request for further data (Art. 5) can name them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { DNA_PURPOSE } from '../dna/national-file.ts';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { check, describeProblems, requiredText } from '../util/validate.ts';
import {
  BULK_DEFAULT_CHUNK, BULK_LEGAL_BASIS, BULK_MAX_CHUNK, BulkAnswer, BulkOpened,
  type BulkChunk, type BulkOpen,
} from './bulk-messages.ts';
import type { BulkMode, BulkOrigin, BulkStatus, DnaBulkChunksTable, DnaBulkComparisonsTable, WireProfile } from './bulk-store.ts';
import { NCP, type ExchangeContext } from './context.ts';
import type { BulkNightlyConfig } from './federation-config.ts';
import { signDetached, verifyDetached } from './jws.ts';
import { PeerProblem, PROTOCOL } from './messages.ts';
import { QueueWorker, type QueueLog, type QueueWorkerOptions } from './queue-worker.ts';
import type { PeerClient, PeerResponse } from './peer-client.ts';
import { getPeer } from './peers.ts';

/** What the functions below need of a node: its state, its database, its clock. */
export interface BulkStore {
  readonly country: string;
  readonly db: Kysely<Schema>;
  now(): Date;
}

/** Who starts a comparison: an admin (HTTP, CLI) or the nightly schedule of the federation config. */
export type BulkStarter =
  | { readonly kind: 'officer'; readonly caller: OfficerCaller }
  | { readonly kind: 'schedule'; readonly day: string; readonly orderedBy: string };

export interface BulkStartInput {
  readonly state: string;
  readonly mode: BulkMode;
  readonly reason?: string | undefined;
  readonly orderedBy?: string | undefined;
}

export interface BulkChunkError {
  readonly index: number;
  readonly status: string;
  readonly attempts: number;
  readonly code: string;
  readonly detail: string;
}

export interface BulkComparisonView {
  readonly id: string;
  readonly state: string;
  /** The indication number of the comparison (2008/616/JHA Art. 8(1)(b)). */
  readonly reference: string;
  readonly mode: BulkMode;
  readonly status: BulkStatus;
  readonly origin: BulkOrigin;
  readonly startedBy: string | null;
  readonly reason: string;
  readonly orderedBy: string;
  readonly profiles: number;
  readonly chunkSize: number;
  readonly chunks: { readonly total: number; readonly done: number; readonly answered: number; readonly refused: number; readonly failed: number; readonly cancelled: number; readonly pending: number };
  readonly profilesCompared: number;
  readonly hits: number;
  /** Chunks refused or given up, and pending chunks whose last attempt failed (they are retried). */
  readonly errors: BulkChunkError[];
  /** The last problem of the comparison itself (consent handshake, refusal). */
  readonly error: { readonly code: string; readonly detail: string } | null;
  readonly watermark: { readonly from: number; readonly to: number };
  readonly startedAt: string;
  readonly openedAt: string | null;
  readonly finishedAt: string | null;
  readonly nextAttemptAt: string | null;
}

export interface BulkHitView {
  readonly id: number;
  readonly comparisonId: string;
  readonly state: string;
  readonly chunk: number;
  /** This node's reference of its unidentified profile (the stain). */
  readonly ownRef: string;
  /** The requested state's reference of the matching profile, its type and the profile. */
  readonly peerRef: string;
  readonly peerKind: 'reference' | 'unidentified';
  readonly quality: 'match' | 'wildcard-match' | 'near-match';
  readonly matchingLoci: number;
  readonly comparedLoci: number;
  readonly mismatches: number;
  readonly rmp: number;
  readonly peerProfile: { ref: string; kind: 'reference' | 'unidentified'; loci: Record<string, [string, string]> };
  /** The requested state's indication number of its answer (2008/616/JHA Art. 8(2)(c)). */
  readonly answerReference: string;
  /** This node's record of the receipt (Prüm Decision Art. 30(2)(b)). */
  readonly recordId: number | null;
  readonly foundAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PAGE = 5000;
const ACTION = 'dna.bulk-comparison';

function newReference(country: string, now: Date): string {
  return `${country}-BULK-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(5).toString('hex').toUpperCase()}`;
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

/**
 * Starts a comparison: checks the starter and the state, fixes the profiles and their chunks in one
 * snapshot of the database, and records the start. Nothing is sent here (the worker does that).
 * Returns undefined when the schedule already started today's comparison with the state.
 */
export async function createBulkComparison(store: BulkStore, starter: BulkStarter, input: BulkStartInput, options: { chunkSize?: number; requestId?: string } = {}): Promise<BulkComparisonView | undefined> {
  // The admin of the national contact point starts it; the profiles then go to the state's node
  // through the contact points only (Prüm Decision Arts. 4(1), 6(1)).
  if (starter.kind === 'officer') requireRole(starter.caller, 'admin');
  const state = String(input.state ?? '').trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(state)) throw new OpenPrumError('bulk-comparison-invalid', `state must be a two-letter state code such as DE, not ${JSON.stringify(input.state)}`, { field: 'state' });
  if (state === store.country) throw new OpenPrumError('bulk-comparison-invalid', `${state} is this node's own state; a bulk comparison is with another state`, { field: 'state' });
  if (input.mode !== 'all' && input.mode !== 'new') throw new OpenPrumError('bulk-comparison-invalid', `mode must be "all" or "new", not ${JSON.stringify(input.mode)}`, { field: 'mode' });
  if (!(await getPeer(store.db, state))) throw new OpenPrumError('peer-unknown', `No peer node is configured for ${state}; add it with openprum peer add`);
  const chunkSize = options.chunkSize ?? BULK_DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > BULK_MAX_CHUNK) throw new OpenPrumError('bulk-comparison-invalid', `chunkSize must be 1 to ${BULK_MAX_CHUNK}, not ${chunkSize}`);
  const reason = requiredText('reason', input.reason ?? `Automated comparison of this node's unidentified DNA profiles with ${state} (Prüm Decision Art. 4(1)), mode ${input.mode}`, 500, 'bulk-comparison-invalid');
  const orderedBy = requiredText('orderedBy', input.orderedBy ?? (starter.kind === 'officer' ? starter.caller.reference : starter.orderedBy), 200, 'bulk-comparison-invalid');
  const now = store.now();
  const id = randomUUID();
  const reference = newReference(store.country, now);
  const officer = starter.kind === 'officer' ? starter.caller : undefined;

  try {
    // One snapshot: the log position and the profiles read must agree, or a profile put meanwhile
    // would be compared twice or never.
    const created = await store.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const running = await trx.selectFrom('dna_bulk_comparisons').select(['id', 'reference']).where('state', '=', state).where('status', '=', 'pending').executeTakeFirst();
        if (running) {
          if (starter.kind === 'schedule') return undefined;
          throw new OpenPrumError('conflict', `A bulk comparison with ${state} is in progress (${running.reference}, id ${running.id}); wait for it to end`, { id: running.id });
        }
        if (starter.kind === 'schedule') {
          const today = await trx.selectFrom('dna_bulk_comparisons').select('id').where('state', '=', state).where('scheduled_day', '=', starter.day).executeTakeFirst();
          if (today) return undefined;
        }
        const last = await trx
          .selectFrom('dna_bulk_comparisons')
          .select((eb) => eb.fn.max('watermark_to').as('w'))
          .where('state', '=', state)
          .where('status', '=', 'completed')
          .executeTakeFirst();
        const from = input.mode === 'new' ? Number(last?.w ?? 0) : 0;
        const top = await trx.selectFrom('dna_changes').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
        const to = Number(top?.seq ?? 0);
        const profiles: WireProfile[] = [];
        let after = '';
        for (;;) {
          let q = trx.selectFrom('dna_profiles').select(['ref', 'loci']).where('kind', '=', 'unidentified').where('ref', '>', after);
          // Mode new: the unidentified profiles put (added or changed) since the last completed comparison.
          if (input.mode === 'new') q = q.where('ref', 'in', trx.selectFrom('dna_changes').select('ref').where('seq', '>', from).where('seq', '<=', to).where('op', '=', 'put'));
          const rows = await q.orderBy('ref').limit(PAGE).execute();
          for (const r of rows) profiles.push({ ref: r.ref, kind: 'unidentified', loci: r.loci });
          if (rows.length < PAGE) break;
          after = rows[rows.length - 1]!.ref;
        }
        const chunkCount = Math.ceil(profiles.length / chunkSize);
        const empty = profiles.length === 0;
        await trx
          .insertInto('dna_bulk_comparisons')
          .values({
            id,
            state,
            reference,
            mode: input.mode,
            // Nothing to compare: done at once, nothing sent (and the watermark moves on).
            status: empty ? 'completed' : 'pending',
            phase: 'opening',
            origin: starter.kind === 'officer' ? 'admin' : 'schedule',
            scheduled_day: starter.kind === 'schedule' ? starter.day : null,
            officer_id: officer?.officerId ?? null,
            officer_reference: officer?.reference ?? null,
            reason,
            ordered_by: orderedBy,
            watermark_from: from,
            watermark_to: to,
            profiles: profiles.length,
            chunk_count: chunkCount,
            chunk_size: chunkSize,
            open_message_id: randomUUID(),
            request_id: options.requestId ?? null,
            ...(empty ? { finished_at: sql<string>`clock_timestamp()` } : {}),
          })
          .execute();
        const rows = [];
        for (let i = 0; i < chunkCount; i++) {
          const part = profiles.slice(i * chunkSize, (i + 1) * chunkSize);
          rows.push({ comparison_id: id, idx: i, message_id: randomUUID(), refs: JSON.stringify(part.map((p) => p.ref)), profiles: JSON.stringify(part) });
        }
        for (let i = 0; i < rows.length; i += 20) await trx.insertInto('dna_bulk_chunks').values(rows.slice(i, i + 20)).execute();
        // The start is recorded with who started it and why; what is supplied is recorded per chunk.
        await writeRecord(trx, {
          action: `${ACTION}.start`,
          direction: 'local',
          searchingBody: NCP(store.country),
          administeringBody: NCP(state),
          officerId: officer?.officerId ?? null,
          officerReference: officer?.reference ?? null,
          orderedBy,
          reason,
          purpose: DNA_PURPOSE,
          legalBasis: BULK_LEGAL_BASIS,
          query: { reference, state, mode: input.mode, profiles: profiles.length, chunks: chunkCount, chunkSize, watermark: { from, to }, origin: starter.kind === 'officer' ? 'admin' : 'schedule' },
          outcome: 'done',
          requestId: id,
        });
        return id;
      });
    if (!created) return undefined;
  } catch (e) {
    if (isUniqueViolation(e)) {
      if (starter.kind === 'schedule') return undefined;
      throw new OpenPrumError('conflict', `A bulk comparison with ${state} is in progress; wait for it to end`);
    }
    throw e;
  }
  return (await getBulkComparison(store.db, id))!;
}

type ComparisonRow = Selectable<DnaBulkComparisonsTable>;
type ChunkRow = Selectable<DnaBulkChunksTable>;

interface ChunkStats {
  answered: number;
  refused: number;
  failed: number;
  cancelled: number;
  pending: number;
  compared: number;
  hits: number;
}

async function chunkStats(db: Kysely<Schema>, ids: readonly string[]): Promise<Map<string, ChunkStats>> {
  const out = new Map<string, ChunkStats>();
  if (ids.length === 0) return out;
  const rows = await db
    .selectFrom('dna_bulk_chunks')
    .select((eb) => ['comparison_id', 'status', eb.fn.countAll<number>().as('n'), eb.fn.coalesce(eb.fn.sum<number>('compared'), sql<number>`0`).as('compared'), eb.fn.coalesce(eb.fn.sum<number>('hits'), sql<number>`0`).as('hits')])
    .where('comparison_id', 'in', ids)
    .groupBy(['comparison_id', 'status'])
    .execute();
  for (const r of rows) {
    let s = out.get(r.comparison_id);
    if (!s) out.set(r.comparison_id, (s = { answered: 0, refused: 0, failed: 0, cancelled: 0, pending: 0, compared: 0, hits: 0 }));
    s[r.status] += Number(r.n);
    s.compared += Number(r.compared);
    s.hits += Number(r.hits);
  }
  return out;
}

function view(c: ComparisonRow, s: ChunkStats | undefined, errors: BulkChunkError[]): BulkComparisonView {
  const st = s ?? { answered: 0, refused: 0, failed: 0, cancelled: 0, pending: 0, compared: 0, hits: 0 };
  const open = c.status === 'pending';
  return {
    id: c.id,
    state: c.state,
    reference: c.reference,
    mode: c.mode,
    // In progress: the phase (the consent handshake, or the chunks).
    status: c.status === 'pending' ? c.phase : c.status,
    origin: c.origin,
    startedBy: c.officer_reference,
    reason: c.reason,
    orderedBy: c.ordered_by,
    profiles: c.profiles,
    chunkSize: c.chunk_size,
    chunks: { total: c.chunk_count, done: st.answered, answered: st.answered, refused: st.refused, failed: st.failed, cancelled: st.cancelled, pending: st.pending },
    profilesCompared: st.compared,
    hits: st.hits,
    errors,
    error: c.last_error_code ? { code: c.last_error_code, detail: c.last_error ?? '' } : null,
    watermark: { from: c.watermark_from, to: c.watermark_to },
    startedAt: c.created_at,
    openedAt: c.opened_at,
    finishedAt: c.finished_at,
    nextAttemptAt: open ? c.next_attempt_at : null,
  };
}

async function chunkErrors(db: Kysely<Schema>, id: string): Promise<BulkChunkError[]> {
  const rows = await db
    .selectFrom('dna_bulk_chunks')
    .select(['idx', 'status', 'attempts', 'last_error_code', 'last_error'])
    .where('comparison_id', '=', id)
    .where('last_error_code', 'is not', null)
    .orderBy('idx')
    .limit(100)
    .execute();
  return rows.map((r) => ({ index: r.idx, status: r.status, attempts: r.attempts, code: r.last_error_code!, detail: r.last_error ?? '' }));
}

/** One comparison with its progress, or undefined. */
export async function getBulkComparison(db: Kysely<Schema>, id: string): Promise<BulkComparisonView | undefined> {
  if (!UUID.test(id)) return undefined;
  const c = await db.selectFrom('dna_bulk_comparisons').selectAll().where('id', '=', id).executeTakeFirst();
  if (!c) return undefined;
  return view(c, (await chunkStats(db, [id])).get(id), await chunkErrors(db, id));
}

/** The comparisons, newest first (optionally with one state). */
export async function listBulkComparisons(db: Kysely<Schema>, options: { state?: string | undefined; limit?: number | undefined } = {}): Promise<BulkComparisonView[]> {
  let q = db.selectFrom('dna_bulk_comparisons').selectAll();
  if (options.state) q = q.where('state', '=', options.state.toUpperCase());
  const rows = await q.orderBy('created_at', 'desc').limit(Math.min(Math.max(options.limit ?? 50, 1), 500)).execute();
  const stats = await chunkStats(db, rows.map((r) => r.id));
  const out: BulkComparisonView[] = [];
  for (const r of rows) out.push(view(r, stats.get(r.id), await chunkErrors(db, r.id)));
  return out;
}

type HitRow = Selectable<Schema['dna_bulk_hits']>;

function hitView(h: HitRow): BulkHitView {
  return {
    id: h.id,
    comparisonId: h.comparison_id,
    state: h.state,
    chunk: h.chunk_idx,
    ownRef: h.own_ref,
    peerRef: h.peer_ref,
    peerKind: h.peer_kind,
    quality: h.quality,
    matchingLoci: h.matching_loci,
    comparedLoci: h.compared_loci,
    mismatches: h.mismatches,
    rmp: h.rmp,
    peerProfile: h.peer_profile,
    answerReference: h.answer_reference,
    recordId: h.record_id,
    foundAt: h.found_at,
  };
}

/** The hits of a comparison, in id order (keyset paging with `after`). */
export async function listBulkHits(db: Kysely<Schema>, comparisonId: string, options: { after?: number | undefined; limit?: number | undefined } = {}): Promise<BulkHitView[] | undefined> {
  if (!UUID.test(comparisonId)) return undefined;
  const c = await db.selectFrom('dna_bulk_comparisons').select('id').where('id', '=', comparisonId).executeTakeFirst();
  if (!c) return undefined;
  let q = db.selectFrom('dna_bulk_hits').selectAll().where('comparison_id', '=', comparisonId);
  if (options.after !== undefined) q = q.where('id', '>', options.after);
  const rows = await q.orderBy('id').limit(Math.min(Math.max(options.limit ?? 100, 1), 1000)).execute();
  return rows.map(hitView);
}

export async function getBulkHit(db: Kysely<Schema>, id: number): Promise<BulkHitView | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const h = await db.selectFrom('dna_bulk_hits').selectAll().where('id', '=', id).executeTakeFirst();
  return h ? hitView(h) : undefined;
}

/**
 * Deletes the comparisons that ended more than two years ago, with their chunks and hits (Prüm
 * Decision Art. 30(4): their records are purged at that age). Returns how many went.
 */
export async function purgeOldBulkComparisons(db: Kysely<Schema>, now: Date = new Date()): Promise<number> {
  const cutoff = new Date(now);
  cutoff.setUTCFullYear(cutoff.getUTCFullYear() - 2);
  return db.transaction().execute(async (trx) => {
    const old = trx.selectFrom('dna_bulk_comparisons').select('id').where('finished_at', '<', cutoff.toISOString());
    await trx.deleteFrom('dna_bulk_hits').where('comparison_id', 'in', old).execute();
    await trx.deleteFrom('dna_bulk_chunks').where('comparison_id', 'in', old).execute();
    const r = await trx.deleteFrom('dna_bulk_comparisons').where('finished_at', '<', cutoff.toISOString()).executeTakeFirst();
    return Number(r.numDeletedRows);
  });
}

// --- the worker ----------------------------------------------------------------------------------

export interface BulkOptions extends QueueWorkerOptions {
  /** Profiles per chunk of new comparisons (default 500, at most 1,000). */
  readonly chunkSize?: number;
  /** A pause after each chunk, to spread the load on the requested node (default 0). */
  readonly pauseBetweenChunksMs?: number;
  /** The nightly schedule (federation.json `bulkComparison`). */
  readonly nightly?: BulkNightlyConfig | undefined;
  /** How often the schedule is looked at, in ms (default 1 minute). */
  readonly scheduleCheckMs?: number;
}

/** The first instant of the next UTC day (declared profiles a day are counted per UTC day). */
function nextUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 0, 0, 0));
}

/** Codes of a refusal that concern the whole comparison, not one chunk. */
const ENDS_COMPARISON = new Set(['peer-bulk-not-consented', 'peer-file-closed', 'peer-certificate-refused', 'peer-identity-mismatch']);
/** Codes after which the same message is tried again (a fresh sentAt, another moment). */
const TRANSIENT = new Set(['peer-message-expired', 'peer-unreachable', 'unavailable', 'internal']);

/**
 * The bulk comparisons of this node: the API the routes use, the nightly schedule, and the worker.
 * The worker is the shared durable-queue loop (queue-worker.ts) over `dna_bulk_comparisons`: a
 * claimed comparison (one sender at a time, under a lease) sends its handshake, then its chunks one
 * after the other, each chunk with its own attempts and back-off in `dna_bulk_chunks`.
 */
export class BulkComparisons extends QueueWorker<ComparisonRow> {
  private scheduleTimer: NodeJS.Timeout | undefined;
  /** Set by stop(): the comparison being sent lets go after its current chunk. */
  private halting = false;
  private readonly b: { chunkSize: number; pauseBetweenChunksMs: number; nightly: BulkNightlyConfig | undefined; scheduleCheckMs: number };

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly client: PeerClient,
    options: BulkOptions = {},
    log: QueueLog = console,
  ) {
    // A few comparisons (with different states) at once; each sends its chunks one by one.
    super(ctx.db, 'dna_bulk_comparisons', 'bulk comparisons', options, log, { batch: 4 });
    this.b = {
      chunkSize: options.chunkSize ?? BULK_DEFAULT_CHUNK,
      pauseBetweenChunksMs: options.pauseBetweenChunksMs ?? 0,
      nightly: options.nightly,
      scheduleCheckMs: options.scheduleCheckMs ?? 60_000,
    };
  }

  // --- the API of the node (routes, CLI of a running node) ---

  async create(caller: OfficerCaller, input: BulkStartInput, requestId?: string): Promise<BulkComparisonView> {
    const v = await createBulkComparison(this.ctx, { kind: 'officer', caller }, input, { chunkSize: this.b.chunkSize, ...(requestId ? { requestId } : {}) });
    this.kick();
    return v!;
  }

  get(id: string): Promise<BulkComparisonView | undefined> {
    return getBulkComparison(this.ctx.db, id);
  }

  list(options: { state?: string | undefined; limit?: number | undefined } = {}): Promise<BulkComparisonView[]> {
    return listBulkComparisons(this.ctx.db, options);
  }

  /**
   * Starts today's scheduled comparisons (mode new) that are due: once a UTC day per state, at the
   * first check after `nightlyAt`. Returns the comparisons started.
   */
  async runSchedule(now: Date = this.ctx.now()): Promise<BulkComparisonView[]> {
    const n = this.b.nightly;
    if (!n) return [];
    const [hh, mm] = n.nightlyAt.split(':').map(Number) as [number, number];
    if (now.getUTCHours() * 60 + now.getUTCMinutes() < hh * 60 + mm) return [];
    const day = now.toISOString().slice(0, 10);
    const started: BulkComparisonView[] = [];
    for (const state of n.states) {
      try {
        const v = await createBulkComparison(
          this.ctx,
          { kind: 'schedule', day, orderedBy: n.orderedBy ?? 'nightly schedule (federation.json bulkComparison)' },
          { state, mode: 'new', reason: `Nightly comparison of the unidentified DNA profiles new since the last completed comparison with ${state} (Prüm Decision Art. 4(1))` },
          { chunkSize: this.b.chunkSize },
        );
        if (v) started.push(v);
      } catch (e) {
        this.log.warn({ err: e, state }, 'bulk comparison: the nightly comparison could not start');
      }
    }
    if (started.length > 0) this.kick();
    return started;
  }

  // --- the worker ---

  override start(): void {
    this.halting = false;
    super.start();
    if (this.b.nightly && !this.scheduleTimer) {
      const check = () => void this.runSchedule().catch((e: unknown) => this.log.error({ err: e }, 'bulk comparison: schedule check failed'));
      check();
      this.scheduleTimer = setInterval(check, this.b.scheduleCheckMs);
      this.scheduleTimer.unref();
    }
  }

  /** Stops: the chunk being sent is finished and stored, then the comparison is let go (resumed at the next start). */
  override async stop(): Promise<void> {
    this.halting = true;
    if (this.scheduleTimer) clearInterval(this.scheduleTimer);
    this.scheduleTimer = undefined;
    await super.stop();
  }

  protected override describe(c: ComparisonRow): object {
    return { id: c.id, state: c.state, reference: c.reference };
  }

  private async update(id: string, set: Partial<Record<keyof DnaBulkComparisonsTable, unknown>>): Promise<void> {
    await this.ctx.db.updateTable('dna_bulk_comparisons').set(set as never).where('id', '=', id).execute();
  }

  /** Sends a claimed comparison's handshake and chunks, one after the other, until done, due later, or stopped. */
  protected async send(claimed: ComparisonRow): Promise<void> {
    let c = claimed;
    try {
      const peer = await getPeer(this.ctx.db, c.state);
      if (!peer) {
        await this.end(c, 'failed', { code: 'peer-unknown', detail: `No peer node is configured for ${c.state} any more` });
        return;
      }
      if (c.phase === 'opening') {
        const opened = await this.open(c, peer.url);
        if (!opened) return;
        c = { ...c, phase: 'running' };
      }
      for (;;) {
        if (this.halting) return;
        const next = await this.ctx.db
          .selectFrom('dna_bulk_chunks')
          .selectAll()
          .select(sql<boolean>`next_attempt_at <= clock_timestamp()`.as('due'))
          .where('comparison_id', '=', c.id)
          .where('status', '=', 'pending')
          .orderBy('idx')
          .limit(1)
          .executeTakeFirst();
        if (!next) {
          await this.finish(c);
          return;
        }
        if (!next.due) {
          // The first unanswered chunk waits (back-off, or the next day's capacity): so does the rest.
          await this.update(c.id, { next_attempt_at: next.next_attempt_at });
          return;
        }
        await this.update(c.id, { claimed_until: sql`clock_timestamp() + ${`${this.o.leaseMs} milliseconds`}::interval` });
        const outcome = await this.sendChunk(c, next, peer.url);
        if (outcome === 'stop') return;
        if (this.b.pauseBetweenChunksMs > 0) {
          await this.update(c.id, { next_attempt_at: new Date(Date.now() + this.b.pauseBetweenChunksMs) });
          const left = await this.ctx.db.selectFrom('dna_bulk_chunks').select('id').where('comparison_id', '=', c.id).where('status', '=', 'pending').limit(1).executeTakeFirst();
          if (left) return;
        }
      }
    } finally {
      await this.update(c.id, { claimed_until: null }).catch(() => undefined);
    }
  }

  /** The facts every record of this comparison repeats (Art. 30(2)(b): who, why, on whose order). */
  private recordBase(c: ComparisonRow) {
    return {
      direction: 'outgoing' as const,
      searchingBody: NCP(this.ctx.country),
      administeringBody: NCP(c.state),
      officerId: c.officer_id,
      officerReference: c.officer_reference,
      orderedBy: c.ordered_by,
      reason: c.reason,
      purpose: DNA_PURPOSE,
      legalBasis: BULK_LEGAL_BASIS,
    };
  }

  /** Verifies a signed 200 answer of the state: signature, shape, and that it answers our message. */
  private checkSigned<T extends { inReplyTo: string; requestingState: string; requestedState: string }>(response: PeerResponse, state: string, messageId: string, schema: typeof BulkAnswer | typeof BulkOpened): T {
    let signer;
    try {
      signer = verifyDetached(response.jws, response.body, this.ctx.trust(), this.ctx.now());
    } catch (e) {
      throw new OpenPrumError('peer-answer-invalid', `The answer of ${state} is refused: ${(e as Error).message}`);
    }
    if (signer.country !== state) throw new OpenPrumError('peer-answer-invalid', `The answer from ${state} is signed by ${signer.country}`);
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      throw new OpenPrumError('peer-answer-invalid', `The answer of ${state} is not JSON`);
    }
    if (!check(schema, json)) throw new OpenPrumError('peer-answer-invalid', `The answer of ${state} does not match the protocol: ${describeProblems(schema, json)[0]?.message ?? ''}`);
    const a = json as unknown as T;
    if (a.inReplyTo !== messageId || a.requestingState !== this.ctx.country || a.requestedState !== state) {
      throw new OpenPrumError('peer-answer-invalid', `The answer of ${state} is not an answer to message ${messageId}`);
    }
    return a;
  }

  /** Reads a refusal; whether the state signed it is said in the detail. */
  private readProblem(response: PeerResponse, state: string): { code: string; detail: string } {
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      return { code: `http-${response.status}`, detail: `The node of ${state} answered ${response.status} without problem details` };
    }
    if (!check(PeerProblem, json)) return { code: `http-${response.status}`, detail: `The node of ${state} answered ${response.status}` };
    let verified = false;
    try {
      verified = verifyDetached(response.jws, response.body, this.ctx.trust(), this.ctx.now()).country === state;
    } catch {
      verified = false;
    }
    return { code: json.code, detail: `${json.detail}${verified ? '' : ' (the refusal is not signed by that state)'}` };
  }

  /** Sends one signed message; the answer, or the transport error as an OpenPrumError. */
  private async exchange(state: string, url: string, message: BulkOpen | BulkChunk): Promise<PeerResponse | OpenPrumError> {
    const body = JSON.stringify(message);
    try {
      return await this.client.exchange(state, url, 'POST', { body, jws: signDetached(body, this.ctx.signer()) });
    } catch (e) {
      return isOpenPrumError(e) ? e : new OpenPrumError('peer-unreachable', (e as Error).message);
    }
  }

  /** The consent handshake. True when the state consented; otherwise the comparison waits or ended. */
  private async open(c: ComparisonRow, peerUrl: string): Promise<boolean> {
    // The claim counted this attempt (queue-worker.ts); while opening, attempts are handshake attempts.
    const attempts = c.attempts;
    const message: BulkOpen = {
      protocol: PROTOCOL,
      type: 'bulk-open',
      messageId: c.open_message_id,
      sentAt: this.ctx.now().toISOString(),
      requestingState: this.ctx.country,
      requestedState: c.state,
      reference: c.reference,
      requestedAt: c.created_at,
      purpose: DNA_PURPOSE,
      mode: c.mode,
      profiles: c.profiles,
      chunks: c.chunk_count,
    };
    const response = await this.exchange(c.state, `${peerUrl}/peer/v1/bulk-comparisons`, message);
    let error: OpenPrumError;
    if (!(response instanceof OpenPrumError)) {
      if (response.status === 200) {
        try {
          const opened = this.checkSigned<BulkOpened>(response, c.state, c.open_message_id, BulkOpened);
          await this.ctx.db.transaction().execute(async (trx) => {
            await writeRecord(trx, {
              ...this.recordBase(c),
              action: `${ACTION}.open`,
              query: { reference: c.reference, mode: c.mode, profiles: c.profiles, chunks: c.chunk_count },
              supplied: { accepted: true, answer: opened.answer, maxProfilesPerDay: opened.maxProfilesPerDay, usedToday: opened.usedToday, files: opened.files },
              outcome: 'done',
              requestId: c.open_message_id,
            });
            await trx
              .updateTable('dna_bulk_comparisons')
              .set({ phase: 'running', opened_at: sql<string>`clock_timestamp()`, next_attempt_at: sql<string>`clock_timestamp()`, last_error_code: null, last_error: null })
              .where('id', '=', c.id)
              .where('status', '=', 'pending')
              .execute();
          });
          return true;
        } catch (e) {
          if (!isOpenPrumError(e) || e.code !== 'peer-answer-invalid') throw e;
          error = e;
        }
      } else {
        const problem = this.readProblem(response, c.state);
        if (response.status >= 400 && response.status < 500 && !TRANSIENT.has(problem.code)) {
          // Refused (no consent, files closed, ...): final, recorded, nothing was supplied.
          await this.end(c, 'refused', problem, { action: `${ACTION}.open`, requestId: c.open_message_id, query: { reference: c.reference, mode: c.mode, profiles: c.profiles, chunks: c.chunk_count } });
          return false;
        }
        error = new OpenPrumError('peer-unreachable', `The node of ${c.state} answered ${response.status}: ${problem.detail}`);
      }
    } else error = response;
    if (attempts >= this.o.maxAttempts) {
      await this.end(c, 'failed', { code: error.code, detail: `Given up after ${attempts} attempts to reach ${c.state}: ${error.message}` }, { action: `${ACTION}.open`, requestId: c.open_message_id, query: { reference: c.reference } });
      return false;
    }
    const delay = this.retryDelayMs(attempts);
    this.log.warn({ state: c.state, id: c.id, attempts, retryInMs: delay, code: error.code }, 'bulk comparison: will retry the handshake');
    await this.update(c.id, { next_attempt_at: new Date(Date.now() + delay), last_error_code: error.code, last_error: error.message.slice(0, 2000) });
    return false;
  }

  /** Sends one chunk and stores its outcome. 'stop' when the comparison ended (refused). */
  private async sendChunk(c: ComparisonRow, chunk: ChunkRow, peerUrl: string): Promise<'next' | 'stop'> {
    const ctx = this.ctx;
    const attempts = chunk.attempts + 1;
    await ctx.db.updateTable('dna_bulk_chunks').set({ attempts, last_attempt_at: sql<string>`clock_timestamp()` }).where('id', '=', chunk.id).execute();
    if (!chunk.profiles) {
      await this.endChunk(c, chunk, 'failed', { code: 'internal', detail: 'The profiles of this chunk are no longer stored (erased); it cannot be sent' });
      return 'next';
    }
    const profiles = chunk.profiles;
    // The same message at every attempt but for sentAt: the peer answers it once (replay guard).
    const message: BulkChunk = {
      protocol: PROTOCOL,
      type: 'bulk-chunk',
      messageId: chunk.message_id,
      sentAt: ctx.now().toISOString(),
      requestingState: ctx.country,
      requestedState: c.state,
      reference: c.reference,
      requestedAt: c.created_at,
      purpose: DNA_PURPOSE,
      chunk: { index: chunk.idx, count: c.chunk_count },
      profiles,
    };
    const query = { reference: c.reference, chunk: message.chunk, profiles };
    const response = await this.exchange(c.state, `${peerUrl}/peer/v1/bulk-chunks`, message);
    let error: OpenPrumError;
    if (!(response instanceof OpenPrumError)) {
      if (response.status === 200) {
        try {
          const answer = this.checkSigned<BulkAnswer>(response, c.state, chunk.message_id, BulkAnswer);
          const sent = new Set(chunk.refs);
          if (answer.chunk.index !== chunk.idx || answer.hits.some((h) => !sent.has(h.requestRef))) {
            throw new OpenPrumError('peer-answer-invalid', `The answer of ${c.state} to chunk ${chunk.idx} names another chunk or profiles not in it`);
          }
          await this.storeAnswer(c, chunk, answer, response, query);
          return 'next';
        } catch (e) {
          if (!isOpenPrumError(e) || e.code !== 'peer-answer-invalid') throw e;
          error = e;
        }
      } else {
        const problem = this.readProblem(response, c.state);
        if (response.status === 429) {
          // The state's declared profiles a day are used up: this chunk (and so the rest) waits for
          // the next UTC day, with some jitter; the wait is no failed attempt.
          const at = new Date(nextUtcDay(ctx.now()).getTime() + Math.round(Math.random() * 5 * 60_000));
          await ctx.db.updateTable('dna_bulk_chunks').set({ attempts: 0, next_attempt_at: at, last_error_code: problem.code, last_error: problem.detail.slice(0, 2000) }).where('id', '=', chunk.id).execute();
          return 'next';
        }
        if (response.status >= 400 && response.status < 500 && !TRANSIENT.has(problem.code)) {
          if (ENDS_COMPARISON.has(problem.code)) {
            await this.endChunk(c, chunk, 'refused', problem, query);
            await this.end(c, 'refused', problem);
            return 'stop';
          }
          // This chunk is refused (malformed, ...); the others go on.
          await this.endChunk(c, chunk, 'refused', problem, query);
          return 'next';
        }
        error = new OpenPrumError('peer-unreachable', `The node of ${c.state} answered ${response.status}: ${problem.detail}`);
      }
    } else error = response;
    if (attempts >= this.o.maxAttempts) {
      await this.endChunk(c, chunk, 'failed', { code: error.code, detail: `Given up after ${attempts} attempts: ${error.message}` }, query);
      return 'next';
    }
    const delay = this.retryDelayMs(attempts);
    this.log.warn({ state: c.state, id: c.id, chunk: chunk.idx, attempts, retryInMs: delay, code: error.code }, 'bulk comparison: will retry the chunk');
    await ctx.db
      .updateTable('dna_bulk_chunks')
      .set({ next_attempt_at: new Date(Date.now() + delay), last_error_code: error.code, last_error: error.message.slice(0, 2000) })
      .where('id', '=', chunk.id)
      .where('status', '=', 'pending')
      .execute();
    return 'next';
  }

  /**
   * Stores a chunk's answer: its record (the profiles supplied and the hits received, Art. 30(2)(b)),
   * the hits, and the chunk as answered, in one transaction; a chunk answered already (by another
   * sender after a lease ran out) is left as it is, and a hit is stored once.
   */
  private async storeAnswer(c: ComparisonRow, chunk: ChunkRow, answer: BulkAnswer, response: PeerResponse, query: Record<string, unknown>): Promise<void> {
    const alreadyAnswered = new Error('chunk answered already');
    try {
      await this.ctx.db.transaction().execute(async (trx) => {
        const rec = await writeRecord(trx, {
          ...this.recordBase(c),
          action: ACTION,
          query,
          supplied: { answer: answer.answer, compared: answer.compared, hits: answer.hits },
          hit: answer.hit,
          outcome: answer.hit ? 'hit' : 'no-hit',
          requestId: chunk.message_id,
        });
        const r = await trx
          .updateTable('dna_bulk_chunks')
          .set({
            status: 'answered',
            answered_at: sql<string>`clock_timestamp()`,
            compared: answer.compared,
            hits: answer.hits.length,
            answer_status: 200,
            answer_body: response.body,
            answer_jws: response.jws ?? null,
            record_id: rec.id,
            // Sent and answered: the copy of the profiles is no longer needed (the record keeps them).
            profiles: null,
            last_error_code: null,
            last_error: null,
          })
          .where('id', '=', chunk.id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) throw alreadyAnswered;
        for (let i = 0; i < answer.hits.length; i += 500) {
          await trx
            .insertInto('dna_bulk_hits')
            .values(
              answer.hits.slice(i, i + 500).map((h) => ({
                comparison_id: c.id,
                chunk_idx: chunk.idx,
                state: c.state,
                own_ref: h.requestRef,
                peer_ref: h.ref,
                peer_kind: h.kind,
                quality: h.quality,
                matching_loci: h.matchingLoci,
                compared_loci: h.comparedLoci,
                mismatches: h.mismatches,
                rmp: h.rmp,
                peer_profile: JSON.stringify(h.profile),
                answer_reference: answer.answer.reference,
                record_id: rec.id,
              })),
            )
            .onConflict((oc) => oc.columns(['comparison_id', 'own_ref', 'peer_ref']).doNothing())
            .execute();
        }
      });
    } catch (e) {
      if (e !== alreadyAnswered) throw e;
    }
  }

  /** Ends one chunk (refused or failed), recorded when something was sent. */
  private async endChunk(c: ComparisonRow, chunk: ChunkRow, status: 'refused' | 'failed', error: { code: string; detail: string }, query?: Record<string, unknown>): Promise<void> {
    await this.ctx.db.transaction().execute(async (trx) => {
      const rec = query
        ? await writeRecord(trx, { ...this.recordBase(c), action: ACTION, query, supplied: { [status]: error.code, detail: error.detail }, outcome: status, requestId: chunk.message_id })
        : undefined;
      await trx
        .updateTable('dna_bulk_chunks')
        .set({ status, last_error_code: error.code, last_error: error.detail.slice(0, 2000), record_id: rec?.id ?? null, profiles: null })
        .where('id', '=', chunk.id)
        .where('status', '=', 'pending')
        .execute();
    });
  }

  /** Ends a comparison early (refused, failed): the remaining chunks are cancelled, never sent. */
  private async end(c: ComparisonRow, status: 'refused' | 'failed', error: { code: string; detail: string }, record?: { action: string; requestId: string; query: Record<string, unknown> }): Promise<void> {
    await this.ctx.db.transaction().execute(async (trx) => {
      if (record) {
        await writeRecord(trx, { ...this.recordBase(c), action: record.action, query: record.query, supplied: { [status]: error.code, detail: error.detail }, outcome: status, requestId: record.requestId });
      }
      await trx.updateTable('dna_bulk_chunks').set({ status: 'cancelled', profiles: null }).where('comparison_id', '=', c.id).where('status', '=', 'pending').execute();
      await trx
        .updateTable('dna_bulk_comparisons')
        .set({ status, finished_at: sql<string>`clock_timestamp()`, last_error_code: error.code, last_error: error.detail.slice(0, 2000) })
        .where('id', '=', c.id)
        .where('status', '=', 'pending')
        .execute();
    });
  }

  /** Every chunk ended: completed when all were answered, else incomplete (the errors say which). */
  private async finish(c: ComparisonRow): Promise<void> {
    const notAnswered = await this.ctx.db.selectFrom('dna_bulk_chunks').select('id').where('comparison_id', '=', c.id).where('status', '!=', 'answered').limit(1).executeTakeFirst();
    await this.ctx.db
      .updateTable('dna_bulk_comparisons')
      .set({ status: notAnswered ? 'incomplete' : 'completed', finished_at: sql<string>`clock_timestamp()` })
      .where('id', '=', c.id)
      .where('status', '=', 'pending')
      .execute();
  }
}
