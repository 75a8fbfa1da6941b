/**
 * Incoming searches from other states' nodes, answered automatically (Prüm Decision Arts. 3, 4, 9 and
 * 12): authenticate, check, search, record, sign the answer, keep it for retries, in one transaction.
 *
 * The order of checks matters: the signature and the sender's identity first (2008/616/JHA Art. 8:
 * the requesting state's code must be the sender's), then the message's shape and time, then the
 * declaration (file open, capacity), then the search. A message id is answered once: a retry (same
 * id, same content) receives the stored signed answer again, a different message under a used id is
 * a conflict (409). Every refusal of an authenticated state is recorded (Art. 30(2)(b)).
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { isOpenPrumError, OpenPrumError, type ErrorCode } from '../errors/index.ts';
import { problemFrom } from '../http/problem.ts';
import type { PeerCaller } from '../identity/caller.ts';
import { check, validate } from '../util/validate.ts';
import { NCP, type ExchangeContext, type SignedMessage, type TlsPeer } from './context.ts';
import { capacityFor, latestDeclaration, opens, usageDay, usedToday, type SignedDeclaration } from './declarations.ts';
import { signDetached } from './jws.ts';
import { openPeerMessage } from './peer-message.ts';
import { PROTOCOL, requestDigest, SearchRequest, type SearchAnswer } from './messages.ts';
import type { SearchKind } from './search-kinds.ts';

/** Signs a problem answer of this node (refusals are signed like answers, so they prove who refused). */
export function signedProblem(ctx: ExchangeContext, error: OpenPrumError, inReplyTo?: string): SignedMessage {
  const problem = problemFrom(error.code, error.message, error.details);
  const body = JSON.stringify({ ...problem, state: ctx.country, at: ctx.now().toISOString(), ...(inReplyTo ? { inReplyTo } : {}) });
  return { status: problem.status, contentType: 'application/problem+json', body, jws: signDetached(body, ctx.signer()) };
}

/**
 * Records a refusal of an authenticated state's message on this (the administering) side. The record
 * keeps what was refused and why; nothing of an unchecked body (Art. 30(2)(b)).
 */
export async function recordRefusal(db: Kysely<Schema>, ctx: ExchangeContext, peerCountry: string, error: OpenPrumError, request?: SearchRequest, kind?: SearchKind): Promise<number> {
  const r = await writeRecord(db, {
    action: request ? `${request.kind}.search` : 'peer.message',
    direction: 'incoming',
    searchingBody: NCP(peerCountry),
    administeringBody: NCP(ctx.country),
    ...(kind ? { legalBasis: kind.legalBasis } : {}),
    query: request ? { messageId: request.messageId, reference: request.reference, kind: request.kind } : {},
    supplied: { refused: error.code, detail: error.message },
    outcome: error.code === 'internal' ? 'failed' : 'refused',
    requestId: request?.messageId ?? null,
  });
  return r.id;
}

function refuse(code: ErrorCode, message: string, request?: SearchRequest, details?: Record<string, unknown>): never {
  throw Object.assign(new OpenPrumError(code, message, details), { request });
}

/** The request a refusal is about, when it was believable enough to quote. */
export function requestOf(e: unknown): SearchRequest | undefined {
  return (e as { request?: SearchRequest }).request;
}

/** Checks an incoming request up to (not including) the declaration; returns it and its kind. */
function checkRequest(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): { request: SearchRequest; kind: SearchKind; signer: string } {
  // Signature, sender (2008/616/JHA Art. 8(1)(a)), shape, addressee and time (peer-message.ts); a
  // well-formed request of the sender's own state is quoted in the refusal's record.
  const { message: request, signer } = openPeerMessage(ctx, tls, raw, jws, SearchRequest, 'search request', {
    quote: (e, json) => (check(SearchRequest, json) && json.requestingState === tls.country ? Object.assign(e, { request: json }) : e),
  });
  const kind = ctx.kinds.get(request.kind);
  if (!kind) refuse('peer-search-kind-unknown', `Search kind ${JSON.stringify(request.kind)} is not known to the node of ${ctx.country}`, request);
  if (!check(kind.querySchema, request.query)) {
    try {
      validate(kind.querySchema, request.query, 'peer-message-invalid', `${kind.name} query`);
    } catch (e) {
      throw Object.assign(e as Error, { request });
    }
  }
  if (kind.items(request.query) > kind.maxItems) refuse('peer-message-invalid', `A ${kind.name} request holds at most ${kind.maxItems} items`, request);
  return { request, kind, signer };
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

async function storedAnswer(db: Kysely<Schema>, state: string, messageId: string) {
  return db.selectFrom('federation_inbox').selectAll().where('requesting_state', '=', state).where('message_id', '=', messageId).executeTakeFirst();
}

// This node's own declaration, read again at most once a second (and at once after this process
// publishes a new one, see forgetOwnDeclaration): every incoming search needs it.
const OWN_DECLARATION_MS = 1_000;
const ownDeclarations = new WeakMap<ExchangeContext, { at: number; value: Promise<SignedDeclaration | undefined> }>();

function ownDeclaration(ctx: ExchangeContext): Promise<SignedDeclaration | undefined> {
  const cached = ownDeclarations.get(ctx);
  if (cached && Date.now() - cached.at < OWN_DECLARATION_MS) return cached.value;
  const value = latestDeclaration(ctx.db, ctx.country);
  ownDeclarations.set(ctx, { at: Date.now(), value });
  value.catch(() => ownDeclarations.delete(ctx));
  return value;
}

/** Drops the cached declaration of this node (call after publishing one). */
export function forgetOwnDeclaration(ctx: ExchangeContext): void {
  ownDeclarations.delete(ctx);
}

// Capacity used today per requesting state and kind, as last counted by this process: the cheap
// look before a search. The count that decides is taken atomically with the answer (see below).
const usage = new WeakMap<ExchangeContext, Map<string, number>>();

function noteUsage(ctx: ExchangeContext, state: string, kind: string, day: string, used: number): void {
  let m = usage.get(ctx);
  if (!m) usage.set(ctx, (m = new Map()));
  if (m.size > 1_000) m.clear();
  m.set(`${day}|${state}|${kind}`, used);
}

async function usedLately(ctx: ExchangeContext, state: string, kind: string, day: string): Promise<number> {
  const known = usage.get(ctx)?.get(`${day}|${state}|${kind}`);
  if (known !== undefined) return known;
  const used = await usedToday(ctx.db, state, kind, day);
  noteUsage(ctx, state, kind, day, used);
  return used;
}

/** The outcome of an incoming message: the signed answer to send, and whether it repeats a stored one. */
export interface Received extends SignedMessage {
  readonly repeated: boolean;
}

/**
 * Answers one incoming search. Refusals of messages that cannot be believed (unsigned, forged, from
 * another state, malformed, stale) throw OpenPrumError for the server to record and sign; refusals of
 * believable requests (file closed, capacity used up, keys refused by the kind) are recorded and kept
 * like answers, so that a retry gets the same refusal.
 */
export async function receiveSearch(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Promise<Received> {
  const { request, kind, signer } = checkRequest(ctx, tls, raw, jws);
  const digest = requestDigest(request);
  const peer: PeerCaller = { kind: 'peer', country: tls.country, certificateFingerprint: tls.fingerprint };

  // A message id seen before: the same request is answered again from the store; another is a conflict.
  const repeat = async (): Promise<Received | undefined> => {
    const stored = await storedAnswer(ctx.db, tls.country, request.messageId);
    if (!stored) return undefined;
    if (stored.body_digest !== digest) {
      refuse('peer-message-conflict', `Message ${request.messageId} was received before with other content; a new request needs a new message id`, request);
    }
    await writeRecord(ctx.db, {
      action: `${kind.name}.search.repeat`,
      direction: 'incoming',
      searchingBody: NCP(tls.country),
      administeringBody: NCP(ctx.country),
      legalBasis: kind.legalBasis,
      query: { messageId: request.messageId, reference: request.reference },
      supplied: { repeatOfRecord: stored.record_id },
      outcome: 'done',
      requestId: request.messageId,
    });
    return { status: stored.answer_status, contentType: stored.answer_status < 300 ? 'application/json' : 'application/problem+json', body: stored.answer_body, jws: stored.answer_jws, repeated: true };
  };
  // A repeated message id is found when its answer is kept: the unique key of federation_inbox
  // refuses the second one, the transaction rolls back (nothing of it stays) and the stored answer is
  // sent again. Retries are rare; looking first would cost every search a query.
  const day = usageDay(ctx.now());
  const [own, usedBefore] = await Promise.all([ownDeclaration(ctx), usedLately(ctx, tls.country, kind.name, day)]);

  const keep = async (db: Kysely<Schema>, answer: SignedMessage, recordId: number) => {
    await db
      .insertInto('federation_inbox')
      .values({
        requesting_state: tls.country,
        message_id: request.messageId,
        kind: kind.name,
        body_digest: digest,
        request_body: raw,
        request_jws: jws!,
        signer_fingerprint: signer,
        answer_status: answer.status,
        answer_body: answer.body,
        answer_jws: answer.jws,
        record_id: recordId,
      })
      .execute();
  };

  try {
    const answered = await ctx.db.transaction().execute(async (trx) => {
      // Prüm Decision Arts. 2(3), 12 and 36: only files this node declared open, within the declared
      // daily capacity for the requesting state.
      if (!own || !opens(own.declaration, kind.files)) {
        refuse('peer-file-closed', `The node of ${ctx.country} has not opened ${kind.files.join(' or ')} to automated search`, request);
      }
      const capacity = capacityFor(own.declaration, kind.name, tls.country);
      const items = kind.items(request.query);
      const usedUp = () =>
        refuse('peer-capacity-exceeded', `The node of ${ctx.country} declared ${capacity} ${kind.name} searches a day for ${tls.country} (version ${own.declaration.version} of its declaration); they are used up for ${day} (UTC)`, request, {
          capacity,
          day,
        });
      // A cheap look first; the units are taken at the end, so that the row lock that serialises
      // concurrent searches of one state is held only for the commit.
      if (usedBefore + items > capacity) usedUp();
      const result = await kind.handle({ country: ctx.country, db: trx }, peer, request.query, {
        messageId: request.messageId,
        reference: request.reference,
        requestedAt: request.requestedAt,
        openFiles: own.declaration.files.map((d) => d.file),
      });
      const answeredAt = ctx.now().toISOString();
      const answer: SearchAnswer = {
        protocol: PROTOCOL,
        type: 'search-answer',
        messageId: randomUUID(),
        sentAt: answeredAt,
        inReplyTo: request.messageId,
        requestingState: request.requestingState,
        requestedState: ctx.country,
        request: { reference: request.reference, requestedAt: request.requestedAt },
        answer: { reference: `${ctx.country}-R${result.recordId}`, answeredAt },
        kind: kind.name,
        hit: result.hit,
        result: result.result,
      };
      const body = JSON.stringify(answer);
      const signed: SignedMessage = { status: 200, contentType: 'application/json', body, jws: signDetached(body, ctx.signer()) };
      // The declared capacity is taken and the answer kept in one statement, at the very end, so that
      // the row lock that serialises one state's concurrent searches is held only for the commit.
      if (items > capacity) usedUp();
      const used = await sql<{ used: number }>`
        with cap as (
          insert into federation_usage (day, requesting_state, kind, used) values (${day}::date, ${tls.country}, ${kind.name}, ${items})
          on conflict (day, requesting_state, kind) do update set used = federation_usage.used + excluded.used
            where federation_usage.used + excluded.used <= ${capacity}
          returning used
        ), kept as (
          insert into federation_inbox (requesting_state, message_id, kind, body_digest, request_body, request_jws, signer_fingerprint, answer_status, answer_body, answer_jws, record_id)
          select ${tls.country}, ${request.messageId}::uuid, ${kind.name}, ${digest}, ${raw}, ${jws!}, ${signer}, ${signed.status}, ${signed.body}, ${signed.jws}, ${result.recordId}::bigint
            from cap
          returning 1
        )
        select used from cap`.execute(trx);
      const now = used.rows[0]?.used;
      if (now === undefined) usedUp();
      noteUsage(ctx, tls.country, kind.name, day, Number(now));
      return signed;
    });
    return { ...answered, repeated: false };
  } catch (e) {
    if (isUniqueViolation(e)) {
      // The same message arrived twice at once; the other one's answer is the answer.
      const again = await repeat();
      if (again) return again;
    }
    if (!isOpenPrumError(e) || e.status >= 500) {
      // Nothing of the search was kept (the transaction rolled back); the requester may retry.
      const failure = isOpenPrumError(e) ? e : new OpenPrumError('internal', 'The search failed inside this node; retry later', undefined, { cause: e });
      await recordRefusal(ctx.db, ctx, tls.country, failure, request, kind);
      throw Object.assign(failure, { recorded: true, request });
    }
    // A refusal of a believable request: recorded and kept, so a retry receives the same refusal.
    const refusal = e;
    const signed = signedProblem(ctx, refusal, request.messageId);
    try {
      await ctx.db.transaction().execute(async (trx) => {
        const recordId = await recordRefusal(trx, ctx, tls.country, refusal, request, kind);
        await keep(trx, signed, recordId);
      });
    } catch (storeErr) {
      if (isUniqueViolation(storeErr)) {
        const again = await repeat();
        if (again) return again;
      }
      throw storeErr;
    }
    return { ...signed, repeated: false };
  }
}

