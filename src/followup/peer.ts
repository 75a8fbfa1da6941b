/**
 * The follow-up messages at the peer interface (mutual TLS 1.3, like the searches of inbox.ts):
 *
 *   POST /peer/v1/follow-ups         a signed follow-up-request → a signed follow-up-receipt
 *   POST /peer/v1/follow-up-answers  a signed follow-up-answer  → a signed follow-up-ack
 *
 * Checks in the order of inbox.ts: the signature over the bytes received, the signer's state against
 * the TLS client's, the message's shape, its sender and addressee states against the TLS client and
 * this node, the replay window; then what the message is about (the hit this node answered to that
 * state; the follow-up this node sent to that state). A message id is handled once: a retry receives
 * the stored signed reply, other content under a used id is a conflict (409). Every refusal of an
 * authenticated state is recorded; refusals of believable messages are kept like replies, so that a
 * retry gets the same refusal.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { TSchema, Static } from 'typebox';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { isOpenPrumError, OpenPrumError, type ErrorCode } from '../errors/index.ts';
import { NCP, type ExchangeContext, type SignedMessage, type TlsPeer } from '../exchange/context.ts';
import { signedProblem } from '../exchange/inbox.ts';
import { JWS_HEADER, signDetached } from '../exchange/jws.ts';
import { MessageId, type SearchAnswer, type SearchRequest } from '../exchange/messages.ts';
import { openPeerMessage } from '../exchange/peer-message.ts';
import { check } from '../util/validate.ts';
import { checkConditions, summariseConditions } from './conditions.ts';
import { followUpLegalBasis, hitReferences } from './hits.ts';
import { ANSWER_DUE_MS, FollowUpAnswer, FollowUpRequest, MAX_SUPPLIED_BYTES, messageDigest, PROTOCOL, suppliedBytes, type FollowUpAck, type FollowUpReceipt } from './messages.ts';
import { isOffenceCode } from './offences.ts';

type Db = Kysely<Schema>;

export const FOLLOW_UP_PEER_ROUTES = ['POST /peer/v1/follow-ups', 'POST /peer/v1/follow-up-answers'];

interface Refusal extends OpenPrumError {
  request?: { messageId: string };
  recorded?: boolean;
}

function refuse(code: ErrorCode, message: string, messageId?: string, details?: Record<string, unknown>): never {
  throw Object.assign(new OpenPrumError(code, message, details), messageId ? { request: { messageId } } : {});
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

interface Checked<T> {
  readonly message: T;
  readonly signer: string;
}

/**
 * Authenticates and parses a message (src/exchange/peer-message.ts): signature, signer = TLS client,
 * shape, sender field = TLS client, addressee = this node, replay window. A refusal after the shape
 * check names the message id, so that its answer and record can quote it.
 */
function checkMessage<S extends TSchema>(
  ctx: ExchangeContext,
  tls: TlsPeer,
  raw: string,
  jws: string | undefined,
  schema: S,
  what: string,
  sender: 'requestingState' | 'requestedState',
): Checked<Static<S>> {
  return openPeerMessage(ctx, tls, raw, jws, schema, what, {
    fields: sender === 'requestingState' ? { sender, addressee: 'requestedState' } : { sender, addressee: 'requestingState' },
    quote: (e, json) => {
      const id = (json as { messageId?: unknown } | null)?.messageId;
      return typeof id === 'string' && check(MessageId, id) && (json as Record<string, unknown>)[sender] === tls.country ? Object.assign(e, { request: { messageId: id } }) : e;
    },
  });
}

function signed(ctx: ExchangeContext, body: object): SignedMessage {
  const text = JSON.stringify(body);
  return { status: 200, contentType: 'application/json', body: text, jws: signDetached(text, ctx.signer()) };
}

export interface Received extends SignedMessage {
  readonly repeated: boolean;
}

interface Kept {
  readonly type: string;
  readonly digest: string;
  readonly raw: string;
  readonly jws: string;
  readonly signer: string;
  readonly followUpId: string | null;
  readonly recordId: number;
}

async function keep(db: Db, tls: TlsPeer, messageId: string, k: Kept, reply: SignedMessage): Promise<void> {
  await db
    .insertInto('follow_up_inbox')
    .values({
      sender_state: tls.country,
      message_id: messageId,
      type: k.type,
      body_digest: k.digest,
      body: k.raw,
      jws: k.jws,
      signer_fingerprint: k.signer,
      reply_status: reply.status,
      reply_body: reply.body,
      reply_jws: reply.jws,
      follow_up_id: k.followUpId,
      record_id: k.recordId,
    })
    .execute();
}

/**
 * A message id seen before: the same message gets the stored reply again (recorded as a repeat),
 * another message under that id is a conflict.
 */
async function repeated(ctx: ExchangeContext, tls: TlsPeer, messageId: string, digest: string, record: { action: string; direction: 'incoming' | 'outgoing' }): Promise<Received | undefined> {
  const stored = await ctx.db.selectFrom('follow_up_inbox').selectAll().where('sender_state', '=', tls.country).where('message_id', '=', messageId).executeTakeFirst();
  if (!stored) return undefined;
  if (stored.body_digest !== digest) refuse('peer-message-conflict', `Message ${messageId} was received before with other content; a new message needs a new message id`, messageId);
  await writeRecord(ctx.db, {
    action: `${record.action}.repeat`,
    direction: record.direction,
    searchingBody: record.direction === 'incoming' ? NCP(tls.country) : NCP(ctx.country),
    administeringBody: record.direction === 'incoming' ? NCP(ctx.country) : NCP(tls.country),
    query: { messageId },
    supplied: { repeatOfRecord: stored.record_id },
    outcome: 'done',
    requestId: messageId,
  });
  return { status: stored.reply_status, contentType: stored.reply_status < 300 ? 'application/json' : 'application/problem+json', body: stored.reply_body, jws: stored.reply_jws, repeated: true };
}

/**
 * Handles a believable message: `act` stores and records it and returns the signed reply, in one
 * transaction. A refusal by `act` (hit unknown, follow-up unknown) is recorded and kept like a reply.
 */
async function handleOnce(
  ctx: ExchangeContext,
  tls: TlsPeer,
  checked: Checked<{ messageId: string; sentAt: string }>,
  raw: string,
  jws: string,
  type: string,
  record: { action: string; direction: 'incoming' | 'outgoing'; query: Record<string, unknown>; legalBasis?: string; officerId?: number | null; officerReference?: string | null },
  act: (trx: Db) => Promise<{ reply: SignedMessage; followUpId: string; recordId: number }>,
): Promise<Received> {
  const messageId = checked.message.messageId;
  const digest = messageDigest(checked.message);
  const first = await repeated(ctx, tls, messageId, digest, record);
  if (first) return first;
  const base = { type, digest, raw, jws, signer: checked.signer };
  try {
    const reply = await ctx.db.transaction().execute(async (trx) => {
      const done = await act(trx);
      await keep(trx, tls, messageId, { ...base, followUpId: done.followUpId, recordId: done.recordId }, done.reply);
      return done.reply;
    });
    return { ...reply, repeated: false };
  } catch (e) {
    if (isUniqueViolation(e)) {
      // The same message arrived twice at once: the other one's reply is the reply.
      const again = await repeated(ctx, tls, messageId, digest, record);
      if (again) return again;
    }
    if (!isOpenPrumError(e) || e.status >= 500) throw e;
    // A refusal of a believable message: recorded, kept, so that a retry receives the same refusal.
    const problem = signedProblem(ctx, e, messageId);
    try {
      await ctx.db.transaction().execute(async (trx) => {
        const recordId = await recordPeerRefusal(trx, ctx, tls.country, e, record);
        await keep(trx, tls, messageId, { ...base, followUpId: null, recordId }, problem);
      });
    } catch (storeErr) {
      if (isUniqueViolation(storeErr)) {
        const again = await repeated(ctx, tls, messageId, digest, record);
        if (again) return again;
      }
      throw storeErr;
    }
    return { ...problem, repeated: false };
  }
}

async function recordPeerRefusal(
  db: Db,
  ctx: ExchangeContext,
  peerState: string,
  error: OpenPrumError,
  record: { action: string; direction: 'incoming' | 'outgoing'; query: Record<string, unknown>; legalBasis?: string; officerId?: number | null; officerReference?: string | null },
): Promise<number> {
  const r = await writeRecord(db, {
    action: record.action,
    direction: record.direction,
    searchingBody: record.direction === 'incoming' ? NCP(peerState) : NCP(ctx.country),
    administeringBody: record.direction === 'incoming' ? NCP(ctx.country) : NCP(peerState),
    officerId: record.officerId ?? null,
    officerReference: record.officerReference ?? null,
    ...(record.legalBasis ? { legalBasis: record.legalBasis } : {}),
    query: record.query,
    supplied: { refused: error.code, detail: error.message },
    outcome: error.code === 'internal' ? 'failed' : 'refused',
    requestId: typeof record.query.messageId === 'string' ? record.query.messageId : null,
  });
  return r.id;
}

// --- at the requested node: a follow-up request ---------------------------------------------------

/**
 * Checks that this node answered the search the follow-up names, to that state, with a hit on the
 * references it names: from the signed request and answer kept in federation_inbox.
 */
async function checkAnsweredHit(db: Db, ctx: ExchangeContext, requestingState: string, request: FollowUpRequest): Promise<void> {
  const h = request.hit;
  const unknown = () =>
    refuse(
      'follow-up-hit-unknown',
      `The node of ${ctx.country} answered no search ${h.searchReference} (message ${h.searchMessageId}) of ${requestingState} with a hit of ${h.requestReference} on ${h.requestedReference} (answer ${h.answerReference})`,
      request.messageId,
    );
  const kept = await db.selectFrom('federation_inbox').selectAll().where('requesting_state', '=', requestingState).where('message_id', '=', h.searchMessageId).executeTakeFirst();
  if (!kept || kept.answer_status !== 200 || kept.kind !== h.kind) unknown();
  let search: SearchRequest;
  let answer: SearchAnswer;
  try {
    search = JSON.parse(kept!.request_body) as SearchRequest;
    answer = JSON.parse(kept!.answer_body) as SearchAnswer;
  } catch {
    return unknown();
  }
  if (!answer.hit || answer.answer.reference !== h.answerReference || search.reference !== h.searchReference || answer.requestingState !== requestingState) unknown();
  const hits = hitReferences(h.kind, search.query, answer.result);
  if (!hits.some((x) => x.requestReference === h.requestReference && x.requestedReference === h.requestedReference)) unknown();
}

export async function receiveFollowUpRequest(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Promise<Received> {
  const checked = checkMessage(ctx, tls, raw, jws, FollowUpRequest, 'follow-up request', 'requestingState');
  const request = checked.message;
  const record = {
    action: 'follow-up.request',
    direction: 'incoming' as const,
    legalBasis: followUpLegalBasis(request.hit.kind),
    query: { messageId: request.messageId, reference: request.reference, hit: request.hit, offence: request.offence },
  };
  return handleOnce(ctx, tls, checked, raw, jws!, 'follow-up-request', record, async (trx) => {
    if (!isOffenceCode(request.offence.category) || (request.offence.category === 'other' && !request.offence.description)) {
      refuse('peer-message-invalid', 'offence.description is required when offence.category is "other"', request.messageId);
    }
    await checkAnsweredHit(trx, ctx, tls.country, request);
    const now = ctx.now();
    const receivedAt = now.toISOString();
    const dueAt = new Date(now.getTime() + ANSWER_DUE_MS).toISOString();
    const id = randomUUID();
    const receiptReference = `${ctx.country}-FR-${receivedAt.slice(0, 10).replace(/-/g, '')}-${randomBytes(5).toString('hex').toUpperCase()}`;
    // Prüm Decision Art. 30(1): the receipt of the request, with what it supplied (the facts).
    const rec = await writeRecord(trx, {
      action: 'follow-up.request',
      direction: 'incoming',
      searchingBody: NCP(tls.country),
      administeringBody: NCP(ctx.country),
      reason: request.purpose,
      purpose: request.purpose,
      legalBasis: `${followUpLegalBasis(request.hit.kind)}; ${request.legalBasis}`,
      query: record.query,
      supplied: { facts: request.facts, receiptReference, receivedAt, dueAt },
      hit: true,
      outcome: 'done',
      requestId: request.messageId,
    });
    await trx
      .insertInto('follow_ups')
      .values({
        id,
        direction: 'incoming',
        reference: request.reference,
        requesting_state: tls.country,
        requested_state: ctx.country,
        request_message_id: request.messageId,
        status: 'open',
        kind: request.hit.kind,
        search_id: null,
        search_reference: request.hit.searchReference,
        search_message_id: request.hit.searchMessageId,
        answer_reference: request.hit.answerReference,
        request_reference: request.hit.requestReference,
        requested_reference: request.hit.requestedReference,
        legal_basis: request.legalBasis,
        facts: request.facts,
        offence_category: request.offence.category,
        offence_description: request.offence.description ?? null,
        purpose: request.purpose,
        case_reference: request.caseReference ?? null,
        requested_at: request.requestedAt,
        receipt_reference: receiptReference,
        received_at: receivedAt,
        due_at: dueAt,
        request_body: raw,
        request_jws: jws!,
        request_record_id: rec.id,
      })
      .execute();
    const receipt: FollowUpReceipt = {
      protocol: PROTOCOL,
      type: 'follow-up-receipt',
      messageId: randomUUID(),
      sentAt: receivedAt,
      inReplyTo: request.messageId,
      requestingState: tls.country,
      requestedState: ctx.country,
      request: { reference: request.reference },
      receipt: { reference: receiptReference, receivedAt, dueAt },
    };
    return { reply: signed(ctx, receipt), followUpId: id, recordId: rec.id };
  });
}

// --- at the requesting node: the answer -----------------------------------------------------------

export async function receiveFollowUpAnswer(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Promise<Received> {
  const checked = checkMessage(ctx, tls, raw, jws, FollowUpAnswer, 'follow-up answer', 'requestedState');
  const answer = checked.message;
  const own = await ctx.db.selectFrom('follow_ups').selectAll().where('requesting_state', '=', ctx.country).where('request_message_id', '=', answer.request.messageId).executeTakeFirst();
  const record = {
    action: 'follow-up.answer',
    direction: 'outgoing' as const,
    query: { messageId: answer.messageId, request: answer.request, decision: answer.decision },
    officerId: own?.officer_id ?? null,
    officerReference: own?.officer_reference ?? null,
    ...(own ? { legalBasis: followUpLegalBasis(own.kind) } : {}),
  };
  return handleOnce(ctx, tls, checked, raw, jws!, 'follow-up-answer', record, async (trx) => {
    const row = await trx.selectFrom('follow_ups').selectAll().where('requesting_state', '=', ctx.country).where('request_message_id', '=', answer.request.messageId).forUpdate().executeTakeFirst();
    // Only the state the follow-up was sent to answers it.
    if (!row || row.direction !== 'outgoing' || row.requested_state !== tls.country || row.reference !== answer.request.reference) {
      refuse('follow-up-unknown', `The node of ${ctx.country} sent no follow-up request ${answer.request.reference} (message ${answer.request.messageId}) to ${tls.country}`, answer.messageId);
    }
    const r = row!;
    if (r.status === 'granted' || r.status === 'refused' || r.status === 'rejected') {
      refuse('follow-up-decided', `Follow-up ${r.reference} is ${r.status} already${r.decided_at ? ` (decided at ${r.decided_at})` : ''}; a decision is final`, answer.messageId);
    }
    if (answer.decision === 'granted') {
      const bytes = suppliedBytes(answer.supplied);
      if (bytes > MAX_SUPPLIED_BYTES) refuse('follow-up-supply-too-large', `The data supplied are ${bytes} bytes of JSON; at most ${MAX_SUPPLIED_BYTES} are accepted`, answer.messageId);
      // The shape and consistency only: the supplier set the dates; they are kept as signed.
      checkConditions(answer.conditions, 'peer-message-invalid');
    }
    const now = ctx.now();
    const late = Date.parse(answer.decidedAt) > Date.parse(answer.receipt.dueAt);
    const summary = answer.decision === 'granted' ? summariseConditions(answer.conditions) : null;
    // Prüm Decision Art. 30(1), FD 2008/977 Art. 10: the receipt of the data, with its conditions.
    const rec = await writeRecord(trx, {
      action: 'follow-up.answer',
      direction: 'outgoing',
      searchingBody: NCP(ctx.country),
      administeringBody: NCP(tls.country),
      officerId: r.officer_id,
      officerReference: r.officer_reference,
      reason: r.purpose,
      purpose: r.purpose,
      legalBasis: `${followUpLegalBasis(r.kind)}; ${answer.legalBasis}`,
      query: record.query,
      supplied:
        answer.decision === 'granted'
          ? { decision: 'granted', supplied: answer.supplied, conditions: answer.conditions, dueAt: answer.receipt.dueAt, decidedAt: answer.decidedAt, late }
          : { decision: 'refused', reason: answer.reason, dueAt: answer.receipt.dueAt, decidedAt: answer.decidedAt, late },
      hit: true,
      outcome: answer.decision === 'granted' ? 'done' : 'refused',
      requestId: answer.messageId,
    });
    await trx
      .updateTable('follow_ups')
      .set({
        status: answer.decision,
        decided_at: answer.decidedAt,
        supply_legal_basis: answer.legalBasis,
        refusal_reason: answer.decision === 'refused' ? answer.reason : null,
        supplied: answer.decision === 'granted' ? JSON.stringify(answer.supplied) : null,
        conditions: answer.decision === 'granted' ? JSON.stringify(answer.conditions) : null,
        delete_by: summary?.deleteBy ?? null,
        review_by: summary?.reviewBy ?? null,
        answer_received_at: now,
        answer_body: raw,
        answer_jws: jws!,
        decision_record_id: rec.id,
        // The answer repeats the receipt: it counts even if the receipt itself never reached us.
        receipt_reference: r.receipt_reference ?? answer.receipt.reference,
        received_at: r.received_at ?? answer.receipt.receivedAt,
        due_at: r.due_at ?? answer.receipt.dueAt,
      })
      .where('id', '=', r.id)
      .execute();
    const ack: FollowUpAck = {
      protocol: PROTOCOL,
      type: 'follow-up-ack',
      messageId: randomUUID(),
      sentAt: now.toISOString(),
      inReplyTo: answer.messageId,
      requestingState: ctx.country,
      requestedState: tls.country,
      receivedAt: now.toISOString(),
    };
    return { reply: signed(ctx, ack), followUpId: r.id, recordId: rec.id };
  });
}

// --- registration at the peer interface -----------------------------------------------------------

function send(reply: FastifyReply, m: SignedMessage, extra: Record<string, string> = {}): FastifyReply {
  reply.code(m.status).header('content-type', m.contentType).header(JWS_HEADER, m.jws);
  for (const [k, v] of Object.entries(extra)) reply.header(k, v);
  return reply.send(m.body);
}

/**
 * Refusals thrown before a message is believable (bad signature, another state, bad shape, stale):
 * recorded here with the TLS-authenticated sender, then signed and sent by the peer server's error
 * handler (marked recorded, so it does not record them again).
 */
async function recordedRefusal(ctx: ExchangeContext, tls: TlsPeer | undefined, e: unknown, action: string, direction: 'incoming' | 'outgoing'): Promise<never> {
  if (tls && isOpenPrumError(e) && !(e as Refusal).recorded) {
    const messageId = (e as Refusal).request?.messageId;
    await recordPeerRefusal(ctx.db, ctx, tls.country, e, { action, direction, query: messageId ? { messageId } : {} }).catch(() => undefined);
    (e as Refusal).recorded = true;
  }
  throw e;
}

/** Adds the follow-up routes to the peer interface (called once by buildPeerServer). */
export function registerFollowUpPeerRoutes(app: FastifyInstance, ctx: ExchangeContext): void {
  const route = (path: string, action: string, direction: 'incoming' | 'outgoing', receive: typeof receiveFollowUpRequest) => {
    app.post(path, async (request, reply) => {
      if (typeof request.body !== 'string') throw new OpenPrumError('media-type-unsupported', 'Send the signed message as application/json');
      const jws = request.headers[JWS_HEADER];
      try {
        const received = await receive(ctx, request.tlsPeer!, request.body, typeof jws === 'string' ? jws : undefined);
        return send(reply, received, received.repeated ? { 'idempotent-replayed': 'true' } : {});
      } catch (e) {
        return recordedRefusal(ctx, request.tlsPeer, e, action, direction);
      }
    });
  };
  route('/peer/v1/follow-ups', 'follow-up.request', 'incoming', receiveFollowUpRequest);
  route('/peer/v1/follow-up-answers', 'follow-up.answer', 'outgoing', receiveFollowUpAnswer);
}

