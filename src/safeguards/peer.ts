/**
 * `POST /peer/v1/safeguards` at the peer interface (mutual TLS 1.3): consent requests and answers,
 * corrections of supplied data, notices of onward transfers (messages.ts).
 *
 * Checks in the order of the other peer routes: the signature over the bytes received, the signer's
 * state against the TLS client's, the message's shape, its sender and addressee against the TLS
 * client and this node, the replay window; then what the message is about. A message id is handled
 * once: a retry receives the stored signed reply, other content under a used id is a conflict (409).
 * Every refusal of an authenticated state is recorded; refusals of believable messages are kept like
 * replies, so that a retry receives the same refusal.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { isOpenPrumError, OpenPrumError, type ErrorCode } from '../errors/index.ts';
import { NCP, type ExchangeContext, type SignedMessage, type TlsPeer } from '../exchange/context.ts';
import { signedProblem } from '../exchange/inbox.ts';
import { JWS_HEADER, signDetached } from '../exchange/jws.ts';
import { openPeerMessage } from '../exchange/peer-message.ts';
import { check as checkShape } from '../util/validate.ts';
import { receiveConsentAnswer, receiveConsentRequest, suppliedTo } from './consent.ts';
import type { SafeguardsContext } from './context.ts';
import { receiveCorrection } from './corrections.ts';
import { messageDigest, PROTOCOL, SAFEGUARDS_PEER_PATH, SafeguardsMessage, type SafeguardsAck } from './messages.ts';
import { receiveTransferNotice } from './transfers.ts';

type Db = Kysely<Schema>;

interface Refusal extends OpenPrumError {
  messageId?: string;
  recorded?: boolean;
}

function refuse(code: ErrorCode, message: string, messageId?: string): never {
  throw Object.assign(new OpenPrumError(code, message), messageId ? { messageId } : {});
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

function contextOf(ctx: ExchangeContext): SafeguardsContext {
  return { country: ctx.country, db: ctx.db, now: () => ctx.now(), kick: () => (ctx as { safeguards?: { kick(): void } }).safeguards?.kick() };
}

function check(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): { message: SafeguardsMessage; signer: string } {
  return openPeerMessage(ctx, tls, raw, jws, SafeguardsMessage, 'safeguards message', {
    fields: { sender: 'from', addressee: 'to' },
    // A well-formed message of the sender's own state is named in the refusal.
    quote: (e, json) => (checkShape(SafeguardsMessage, json) && json.from === tls.country ? Object.assign(e, { messageId: json.messageId }) : e),
  });
}

function ack(ctx: ExchangeContext, to: string, inReplyTo: string, note: string): SignedMessage {
  const now = ctx.now().toISOString();
  const body: SafeguardsAck = { protocol: PROTOCOL, type: 'safeguards-ack', messageId: randomUUID(), sentAt: now, inReplyTo, from: ctx.country, to, receivedAt: now, note: note.slice(0, 500) };
  const text = JSON.stringify(body);
  return { status: 200, contentType: 'application/json', body: text, jws: signDetached(text, ctx.signer()) };
}

async function recordRefusal(db: Db, ctx: ExchangeContext, peer: string, e: OpenPrumError, messageId: string | undefined, type: string | undefined): Promise<number> {
  const r = await writeRecord(db, {
    action: `safeguards.${type ?? 'message'}`,
    direction: type === 'consent-answer' || type === 'supplied-data-correction' ? 'outgoing' : 'incoming',
    searchingBody: type === 'consent-answer' || type === 'supplied-data-correction' ? NCP(ctx.country) : NCP(peer),
    administeringBody: type === 'consent-answer' || type === 'supplied-data-correction' ? NCP(peer) : NCP(ctx.country),
    query: messageId ? { messageId } : {},
    supplied: { refused: e.code, detail: e.message },
    outcome: e.code === 'internal' ? 'failed' : 'refused',
    requestId: messageId ?? null,
  });
  return r.id;
}

interface Received extends SignedMessage {
  readonly repeated: boolean;
}

async function repeated(db: Db, tls: TlsPeer, messageId: string, digest: string): Promise<Received | undefined> {
  const stored = await db.selectFrom('safeguard_inbox').selectAll().where('sender_state', '=', tls.country).where('message_id', '=', messageId).executeTakeFirst();
  if (!stored) return undefined;
  if (stored.body_digest !== digest) refuse('peer-message-conflict', `Message ${messageId} was received before with other content; a new message needs a new message id`, messageId);
  return { status: stored.reply_status, contentType: stored.reply_status < 300 ? 'application/json' : 'application/problem+json', body: stored.reply_body, jws: stored.reply_jws, repeated: true };
}

/** Receives one safeguards message: authenticates it, acts on it, answers signed. */
export async function receiveSafeguardsMessage(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Promise<Received> {
  const { message: m, signer } = check(ctx, tls, raw, jws);
  const digest = messageDigest(m);
  const first = await repeated(ctx.db, tls, m.messageId, digest);
  if (first) return first;
  const sctx = contextOf(ctx);
  const keep = async (trx: Db, reply: SignedMessage, recordId: number, itemId: string | null) => {
    await trx
      .insertInto('safeguard_inbox')
      .values({ sender_state: tls.country, message_id: m.messageId, type: m.type, body_digest: digest, body: raw, jws: jws!, signer_fingerprint: signer, reply_status: reply.status, reply_body: reply.body, reply_jws: reply.jws, item_id: itemId, record_id: recordId })
      .execute();
  };
  try {
    const reply = await ctx.db.transaction().execute(async (trx) => {
      let done: { recordId: number; itemId: string | null; note: string };
      switch (m.type) {
        case 'consent-request':
          done = await receiveConsentRequest(trx, sctx, tls.country, m);
          break;
        case 'consent-answer':
          done = await receiveConsentAnswer(trx, sctx, tls.country, m);
          break;
        case 'supplied-data-correction':
          done = await receiveCorrection(trx, sctx, tls.country, m);
          break;
        case 'onward-transfer-notice':
          done = await receiveTransferNotice(trx, sctx, tls.country, m, (about) => suppliedTo(trx, tls.country, about));
          break;
      }
      const r = ack(ctx, tls.country, m.messageId, done.note);
      await keep(trx, r, done.recordId, done.itemId);
      return r;
    });
    return { ...reply, repeated: false };
  } catch (e) {
    if (isUniqueViolation(e)) {
      const again = await repeated(ctx.db, tls, m.messageId, digest);
      if (again) return again;
    }
    if (!isOpenPrumError(e) || e.status >= 500) throw e;
    // A refusal of a believable message: recorded and kept, so that a retry receives the same refusal.
    const problem = signedProblem(ctx, e, m.messageId);
    try {
      await ctx.db.transaction().execute(async (trx) => {
        const recordId = await recordRefusal(trx, ctx, tls.country, e, m.messageId, m.type);
        await keep(trx, problem, recordId, null);
      });
    } catch (storeErr) {
      if (isUniqueViolation(storeErr)) {
        const again = await repeated(ctx.db, tls, m.messageId, digest);
        if (again) return again;
      }
      throw storeErr;
    }
    return { ...problem, repeated: false };
  }
}

/** Adds POST /peer/v1/safeguards to the peer interface (called once by buildPeerServer). */
export function registerSafeguardsPeerRoutes(app: FastifyInstance, ctx: ExchangeContext): void {
  app.post(SAFEGUARDS_PEER_PATH, async (request, reply) => {
    if (typeof request.body !== 'string') throw new OpenPrumError('media-type-unsupported', 'Send the signed message as application/json');
    const jws = request.headers[JWS_HEADER];
    try {
      const received = await receiveSafeguardsMessage(ctx, request.tlsPeer!, request.body, typeof jws === 'string' ? jws : undefined);
      reply.code(received.status).header('content-type', received.contentType).header(JWS_HEADER, received.jws);
      if (received.repeated) reply.header('idempotent-replayed', 'true');
      return reply.send(received.body);
    } catch (e) {
      // Refused before the message was believable (signature, identity, shape, time): recorded here
      // with the TLS-authenticated state, then signed by the peer server's error handler.
      if (request.tlsPeer && isOpenPrumError(e) && !(e as Refusal).recorded) {
        await recordRefusal(ctx.db, ctx, request.tlsPeer.country, e, (e as Refusal).messageId, undefined).catch(() => undefined);
        (e as Refusal).recorded = true;
      }
      throw e;
    }
  });
}
