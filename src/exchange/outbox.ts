/**
 * Outgoing federated searches: an officer searches one, several or all peer states in one call. The
 * search and one outbox row per state are stored first; a worker then sends each row, gathers the
 * answers as they arrive, and retries a peer that is down or slow with exponential back-off and jitter.
 * The outbox is in the database, so a restart loses nothing; each row keeps its message id across
 * retries, so the peer answers a retried request once (see inbox.ts).
 *
 * Answers are due within the kind's deadline (DNA: 15 minutes, 2008/616/JHA Annex ch. 1 section 3.1);
 * lateness is shown per state. Each outcome is recorded on this (the searching) side in the same
 * transaction that stores it (Prüm Decision Art. 30(2)(b)).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { FederationTargetsTable, Schema } from '../db/schema.ts';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import { hasRole, requireRole, type OfficerCaller } from '../identity/caller.ts';
import { check, describeProblems } from '../util/validate.ts';
import { NCP, type ExchangeContext } from './context.ts';
import { latestDeclaration, opens } from './declarations.ts';
import { signDetached, verifyDetached } from './jws.ts';
import { PeerProblem, PROTOCOL, SearchAnswer, type SearchRequest } from './messages.ts';
import type { PeerClient, PeerResponse } from './peer-client.ts';
import { backoffMs, QueueWorker, type QueueLog, type QueueWorkerOptions } from './queue-worker.ts';
import { getPeer, listPeers } from './peers.ts';
import type { SearchKind } from './search-kinds.ts';

export interface FederatedSearchInput {
  readonly kind: string;
  readonly targets: readonly string[] | 'all';
  readonly query: unknown;
  readonly purpose: string;
  readonly reason: string;
  readonly orderedBy: string;
}

export type TargetStatus = 'pending' | 'answered' | 'refused' | 'failed';

export interface TargetView {
  readonly state: string;
  readonly status: TargetStatus;
  readonly messageId: string;
  readonly attempts: number;
  readonly dueAt: string;
  /** The answer came (or is still missing) after its due time. */
  readonly late: boolean;
  readonly lateBySeconds: number;
  readonly nextAttemptAt: string | null;
  readonly lastAttemptAt: string | null;
  readonly answeredAt: string | null;
  readonly hit: boolean | null;
  readonly result: unknown;
  readonly answerReference: string | null;
  readonly error: { readonly code: string; readonly detail: string } | null;
  readonly recordId: number | null;
}

export interface FederatedSearchView {
  readonly id: string;
  readonly kind: string;
  readonly reference: string;
  readonly createdAt: string;
  readonly officerReference: string;
  readonly purpose: string;
  readonly reason: string;
  readonly orderedBy: string;
  readonly query: unknown;
  readonly complete: boolean;
  readonly targets: TargetView[];
}

const text = (field: string, v: unknown, max: number): string => {
  if (typeof v !== 'string' || v.trim().length === 0) throw new OpenPrumError('federation-search-invalid', `${field} is required: the record must say it (Prüm Decision Art. 30(2)(b))`, { field });
  if (v.length > max) throw new OpenPrumError('federation-search-invalid', `${field} is longer than ${max} characters`, { field });
  return v.trim();
};

/** The indication number of a request (2008/616/JHA Art. 8(1)(b)): state, date, random part. */
function newReference(country: string, now: Date): string {
  return `${country}-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(5).toString('hex').toUpperCase()}`;
}

/**
 * Stores a federated search and its outbox rows (nothing is sent yet: the worker does that). States
 * whose stored declaration keeps the file closed are refused here, without sending them anything.
 */
export async function createFederatedSearch(ctx: ExchangeContext, caller: OfficerCaller, input: FederatedSearchInput, requestId?: string): Promise<FederatedSearchView> {
  // Only specially authorised officers search (Prüm Decision Art. 30(2)(a)).
  requireRole(caller, 'officer');
  const kind = ctx.kinds.require(input.kind, 'federation-search-invalid');
  const purpose = text('purpose', input.purpose, 100);
  const reason = text('reason', input.reason, 500);
  const orderedBy = text('orderedBy', input.orderedBy, 200);
  const query = kind.prepare({ query: input.query, purpose, reason, orderedBy });

  const peers = await listPeers(ctx.db);
  let states: string[];
  if (input.targets === 'all') {
    states = peers.map((p) => p.country);
    if (states.length === 0) throw new OpenPrumError('federation-search-invalid', 'No peer states are configured; add them with openprum peer add');
  } else {
    if (input.targets.length === 0) throw new OpenPrumError('federation-search-invalid', 'targets names no state; give state codes or "all"');
    states = [...new Set(input.targets.map((t) => t.toUpperCase()))];
    for (const s of states) {
      if (s === ctx.country) throw new OpenPrumError('federation-search-invalid', `${s} is this node's own state; search it with the local search`);
      if (!peers.some((p) => p.country === s)) throw new OpenPrumError('peer-unknown', `No peer node is configured for ${s}; configured: ${peers.map((p) => p.country).join(', ') || 'none'}`);
    }
  }

  const now = ctx.now();
  const id = randomUUID();
  const reference = newReference(ctx.country, now);
  const dueAt = new Date(now.getTime() + kind.answerDueMs);
  const closed: string[] = [];
  for (const s of states) {
    const d = await latestDeclaration(ctx.db, s);
    if (d && !opens(d.declaration, kind.files)) closed.push(s);
  }
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('federation_searches')
      .values({ id, kind: kind.name, reference, officer_id: caller.officerId, officer_reference: caller.reference, purpose, reason, ordered_by: orderedBy, query: JSON.stringify(query), request_id: requestId ?? null })
      .execute();
    for (const s of states) {
      const refused = closed.includes(s);
      const target = await trx
        .insertInto('federation_targets')
        .values({
          search_id: id,
          state: s,
          message_id: randomUUID(),
          status: refused ? 'refused' : 'pending',
          due_at: dueAt,
          ...(refused ? { last_error_code: 'peer-file-closed', last_error: `${s} has declared ${kind.files.join(' and ')} closed to automated search; nothing was sent` } : {}),
        })
        .returning(['id', 'message_id'])
        .executeTakeFirstOrThrow();
      if (refused) {
        const rec = await recordOutgoing(trx, ctx, kind, { state: s, messageId: target.message_id, reference }, { officerId: caller.officerId, officerReference: caller.reference, purpose, reason, orderedBy, query }, {
          outcome: 'refused',
          supplied: { refused: 'peer-file-closed', sent: false },
        });
        await trx.updateTable('federation_targets').set({ record_id: rec }).where('id', '=', target.id).execute();
      }
    }
  });
  return (await getFederatedSearch(ctx, id, caller))!;
}

interface SearchFacts {
  readonly officerId: number;
  readonly officerReference: string;
  readonly purpose: string;
  readonly reason: string;
  readonly orderedBy: string;
  readonly query: unknown;
}

/** The searching side's record of one state's part of a federated search (Art. 30(2)(b)). */
async function recordOutgoing(
  db: Kysely<Schema>,
  ctx: ExchangeContext,
  kind: SearchKind,
  target: { state: string; messageId: string; reference: string },
  search: SearchFacts,
  outcome: { outcome: 'hit' | 'no-hit' | 'refused' | 'failed'; supplied?: unknown; hit?: boolean },
): Promise<number> {
  const r = await writeRecord(db, {
    action: `${kind.name}.search`,
    direction: 'outgoing',
    searchingBody: NCP(ctx.country),
    administeringBody: NCP(target.state),
    officerId: search.officerId,
    officerReference: search.officerReference,
    orderedBy: search.orderedBy,
    reason: search.reason,
    purpose: search.purpose,
    legalBasis: kind.legalBasis,
    query: { ...(search.query as Record<string, unknown>), reference: target.reference },
    supplied: outcome.supplied,
    hit: outcome.hit ?? null,
    outcome: outcome.outcome,
    requestId: target.messageId,
  });
  return r.id;
}

function toView(t: Selectable<FederationTargetsTable>, now: Date): TargetView {
  const due = Date.parse(t.due_at);
  const end = t.answered_at ? Date.parse(t.answered_at) : t.status === 'pending' ? now.getTime() : Date.parse(t.last_attempt_at ?? t.due_at);
  const lateMs = Math.max(0, end - due);
  let answerReference: string | null = null;
  if (t.answer_body && t.status === 'answered') {
    try {
      answerReference = (JSON.parse(t.answer_body) as SearchAnswer).answer.reference;
    } catch {
      answerReference = null;
    }
  }
  return {
    state: t.state,
    status: t.status,
    messageId: t.message_id,
    attempts: t.attempts,
    dueAt: t.due_at,
    late: (t.status === 'pending' || t.status === 'answered') && lateMs > 0,
    lateBySeconds: (t.status === 'pending' || t.status === 'answered') ? Math.floor(lateMs / 1000) : 0,
    nextAttemptAt: t.status === 'pending' ? t.next_attempt_at : null,
    lastAttemptAt: t.last_attempt_at,
    answeredAt: t.answered_at,
    hit: t.hit,
    result: t.result ?? null,
    answerReference,
    error: t.last_error_code ? { code: t.last_error_code, detail: t.last_error ?? '' } : null,
    recordId: t.record_id,
  };
}

/** A federated search with each state's status and answer; undefined when the caller may not see it. */
export async function getFederatedSearch(ctx: ExchangeContext, id: string, caller: OfficerCaller): Promise<FederatedSearchView | undefined> {
  if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
  const s = await ctx.db.selectFrom('federation_searches').selectAll().where('id', '=', id).executeTakeFirst();
  if (!s) return undefined;
  // The searching officer sees the answers; a supervisor (the data-protection authority) may check.
  if (s.officer_id !== caller.officerId && !hasRole(caller, 'supervisor')) return undefined;
  const targets = await ctx.db.selectFrom('federation_targets').selectAll().where('search_id', '=', id).orderBy('state').execute();
  const now = ctx.now();
  return searchView(s, targets.map((t) => toView(t, now)));
}

/** One federated search with its states' views. */
function searchView(s: Selectable<Schema['federation_searches']>, views: ReturnType<typeof toView>[]): FederatedSearchView {
  return {
    id: s.id,
    kind: s.kind,
    reference: s.reference,
    createdAt: s.created_at,
    officerReference: s.officer_reference,
    purpose: s.purpose,
    reason: s.reason,
    orderedBy: s.ordered_by,
    query: s.query,
    complete: views.every((v) => v.status !== 'pending'),
    targets: views,
  };
}

/** The caller's federated searches (a supervisor's: everyone's), newest first, each with its states' statuses. */
export async function listFederatedSearches(ctx: ExchangeContext, caller: OfficerCaller, limit = 50): Promise<FederatedSearchView[]> {
  let q = ctx.db.selectFrom('federation_searches').selectAll();
  if (!hasRole(caller, 'supervisor')) q = q.where('officer_id', '=', caller.officerId);
  const searches = await q.orderBy('created_at', 'desc').limit(Math.min(Math.max(limit, 1), 500)).execute();
  if (searches.length === 0) return [];
  const targets = await ctx.db
    .selectFrom('federation_targets')
    .selectAll()
    .where(
      'search_id',
      'in',
      searches.map((s) => s.id),
    )
    .orderBy('state')
    .execute();
  const now = ctx.now();
  return searches.map((s) => {
    return searchView(
      s,
      targets.filter((t) => t.search_id === s.id).map((t) => toView(t, now)),
    );
  });
}

/**
 * Deletes this node's federated searches older than two years with their outbox rows (Prüm Decision
 * Art. 30(4): their records are purged at the same age; the search holds the keys searched and the
 * reason). Returns how many searches went.
 */
export async function purgeOldSearches(db: Kysely<Schema>, now: Date = new Date()): Promise<number> {
  const cutoff = new Date(now);
  cutoff.setUTCFullYear(cutoff.getUTCFullYear() - 2);
  return db.transaction().execute(async (trx) => {
    const old = trx.selectFrom('federation_searches').select('id').where('created_at', '<', cutoff.toISOString());
    await trx.deleteFrom('federation_targets').where('search_id', 'in', old).execute();
    const r = await trx.deleteFrom('federation_searches').where('created_at', '<', cutoff.toISOString()).executeTakeFirst();
    return Number(r.numDeletedRows);
  });
}

// --- the worker ----------------------------------------------------------------------------------

/** The outbox's options: those of every durable queue (queue-worker.ts). */
export type OutboxOptions = QueueWorkerOptions;

export { backoffMs };

type ClaimedTarget = Selectable<FederationTargetsTable>;

export class OutboxWorker extends QueueWorker<ClaimedTarget> {
  constructor(
    private readonly ctx: ExchangeContext,
    private readonly client: PeerClient,
    options: OutboxOptions = {},
    log: QueueLog = console,
  ) {
    super(ctx.db, 'federation_targets', 'outbox', options, log);
  }

  protected override describe(t: ClaimedTarget): object {
    return { state: t.state, messageId: t.message_id };
  }

  protected send(t: ClaimedTarget): Promise<void> {
    return this.sendOne(t);
  }

  private async sendOne(t: ClaimedTarget): Promise<void> {
    const ctx = this.ctx;
    const search = await ctx.db.selectFrom('federation_searches').selectAll().where('id', '=', t.search_id).executeTakeFirstOrThrow();
    const kind = ctx.kinds.get(search.kind);
    const facts: SearchFacts = { officerId: search.officer_id, officerReference: search.officer_reference, purpose: search.purpose, reason: search.reason, orderedBy: search.ordered_by, query: search.query };
    const target = { state: t.state, messageId: t.message_id, reference: search.reference };
    if (!kind) {
      await this.conclude(t, 'failed', { code: 'peer-search-kind-unknown', detail: `This node no longer knows search kind ${search.kind}` });
      return;
    }
    const peer = await getPeer(ctx.db, t.state);
    if (!peer) {
      await this.conclude(t, 'failed', { code: 'peer-unknown', detail: `No peer node is configured for ${t.state} any more` }, { kind, target, facts });
      return;
    }
    // The message is the same at every attempt but for sentAt (the replay window of the receiver).
    const message: SearchRequest = {
      protocol: PROTOCOL,
      type: 'search-request',
      messageId: t.message_id,
      sentAt: ctx.now().toISOString(),
      requestingState: ctx.country,
      requestedState: t.state,
      reference: search.reference,
      requestedAt: search.created_at,
      kind: kind.name,
      query: search.query,
    };
    const body = JSON.stringify(message);
    const jws = signDetached(body, ctx.signer());
    await ctx.db.updateTable('federation_targets').set({ request_body: body, request_jws: jws }).where('id', '=', t.id).execute();

    let response: PeerResponse;
    try {
      response = await this.client.exchange(t.state, `${peer.url}/peer/v1/searches`, 'POST', { body, jws });
    } catch (e) {
      await this.retryLater(t, e, { kind, target, facts });
      return;
    }
    try {
      if (response.status === 200) {
        const answer = this.checkAnswer(response, t, kind);
        await ctx.db.transaction().execute(async (trx) => {
          const recordId = await recordOutgoing(trx, ctx, kind, target, facts, { outcome: answer.hit ? 'hit' : 'no-hit', supplied: answer.result, hit: answer.hit });
          await trx
            .updateTable('federation_targets')
            .set({
              status: 'answered',
              answer_status: 200,
              answer_body: response.body,
              answer_jws: response.jws ?? null,
              answered_at: sql<string>`clock_timestamp()`,
              hit: answer.hit,
              result: JSON.stringify(answer.result),
              record_id: recordId,
              claimed_until: null,
              last_error_code: null,
              last_error: null,
            })
            .where('id', '=', t.id)
            .where('status', '=', 'pending')
            .execute();
        });
        return;
      }
      const problem = this.checkProblem(response, t);
      if (response.status >= 400 && response.status < 500) {
        // A refusal is final (file closed, capacity used up, keys refused): retrying would not change it.
        await this.conclude(t, 'refused', { code: problem.code, detail: problem.detail }, { kind, target, facts }, response);
        return;
      }
      await this.retryLater(t, new OpenPrumError('peer-unreachable', `The node of ${t.state} answered ${response.status}: ${problem.detail}`), { kind, target, facts });
    } catch (e) {
      if (isOpenPrumError(e) && e.code === 'peer-answer-invalid') {
        await this.retryLater(t, e, { kind, target, facts });
        return;
      }
      throw e;
    }
  }

  /** Verifies a 200 answer: signed by the requested state, about our message, well-formed for its kind. */
  private checkAnswer(response: PeerResponse, t: ClaimedTarget, kind: SearchKind): SearchAnswer {
    const ctx = this.ctx;
    let signer;
    try {
      signer = verifyDetached(response.jws, response.body, ctx.trust(), ctx.now());
    } catch (e) {
      throw new OpenPrumError('peer-answer-invalid', `The answer of ${t.state} is refused: ${(e as Error).message}`);
    }
    if (signer.country !== t.state) throw new OpenPrumError('peer-answer-invalid', `The answer from ${t.state} is signed by ${signer.country}`);
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      throw new OpenPrumError('peer-answer-invalid', `The answer of ${t.state} is not JSON`);
    }
    if (!check(SearchAnswer, json)) throw new OpenPrumError('peer-answer-invalid', `The answer of ${t.state} does not match the protocol: ${describeProblems(SearchAnswer, json)[0]?.message ?? ''}`);
    const a = json;
    if (a.inReplyTo !== t.message_id || a.requestingState !== ctx.country || a.requestedState !== t.state || a.kind !== kind.name) {
      throw new OpenPrumError('peer-answer-invalid', `The answer of ${t.state} is not an answer to message ${t.message_id}`);
    }
    if (!check(kind.resultSchema, a.result)) throw new OpenPrumError('peer-answer-invalid', `The ${kind.name} result of ${t.state} is not valid: ${describeProblems(kind.resultSchema, a.result)[0]?.message ?? ''}`);
    return a;
  }

  /** Reads a refusal; its signature is checked and kept when present (it proves who refused). */
  private checkProblem(response: PeerResponse, t: ClaimedTarget): { code: string; detail: string } {
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      return { code: `http-${response.status}`, detail: `The node of ${t.state} answered ${response.status} without problem details` };
    }
    if (!check(PeerProblem, json)) return { code: `http-${response.status}`, detail: `The node of ${t.state} answered ${response.status}` };
    let verified = false;
    try {
      verified = verifyDetached(response.jws, response.body, this.ctx.trust(), this.ctx.now()).country === t.state;
    } catch {
      verified = false;
    }
    return { code: json.code, detail: `${json.detail}${verified ? '' : ' (the refusal is not signed by that state)'}` };
  }

  private async retryLater(t: ClaimedTarget, e: unknown, about: { kind: SearchKind; target: { state: string; messageId: string; reference: string }; facts: SearchFacts }): Promise<void> {
    const err = isOpenPrumError(e) ? e : new OpenPrumError('peer-unreachable', (e as Error).message);
    if (t.attempts >= this.o.maxAttempts) {
      await this.conclude(t, 'failed', { code: err.code, detail: `Given up after ${t.attempts} attempts: ${err.message}` }, about);
      return;
    }
    const delay = this.retryDelayMs(t.attempts);
    this.log.warn({ state: t.state, messageId: t.message_id, attempts: t.attempts, retryInMs: delay, code: err.code }, 'outbox: will retry');
    await this.ctx.db
      .updateTable('federation_targets')
      .set({
        next_attempt_at: new Date(Date.now() + delay),
        claimed_until: null,
        last_error_code: err.code,
        last_error: err.message.slice(0, 2000),
      })
      .where('id', '=', t.id)
      .where('status', '=', 'pending')
      .execute();
  }

  /** Ends a state's part (refused or failed) and records it, in one transaction. */
  private async conclude(
    t: ClaimedTarget,
    status: 'refused' | 'failed',
    error: { code: string; detail: string },
    about?: { kind: SearchKind; target: { state: string; messageId: string; reference: string }; facts: SearchFacts },
    response?: PeerResponse,
  ): Promise<void> {
    await this.ctx.db.transaction().execute(async (trx) => {
      const recordId = about
        ? await recordOutgoing(trx, this.ctx, about.kind, about.target, about.facts, { outcome: status, supplied: { [status]: error.code, detail: error.detail } })
        : null;
      await trx
        .updateTable('federation_targets')
        .set({
          status,
          claimed_until: null,
          last_error_code: error.code,
          last_error: error.detail.slice(0, 2000),
          record_id: recordId,
          ...(response ? { answer_status: response.status, answer_body: response.body.slice(0, 64 * 1024), answer_jws: response.jws ?? null, answered_at: sql<string>`clock_timestamp()` } : {}),
        })
        .where('id', '=', t.id)
        .where('status', '=', 'pending')
        .execute();
    });
  }
}
