/**
 * Notice messages at the peer interface (mutual TLS 1.3, like the searches of src/exchange/inbox.ts):
 *
 *   POST /peer/v1/notices/messages   a signed notice-message → a signed notice-ack (or a signed problem)
 *
 * Checks, in this order: the signature over the bytes received; the signer's state against the TLS
 * client's; the envelope; its sender against the TLS client and its addressee against this node;
 * the replay window; the act's payload (the same content checks as an officer's draft: shape, dates,
 * identifiers, attachments); then who may send it:
 *
 * - acts of the secretariat (decision, publication, release, supervision) only from the node of the
 *   secretariat's code (settings.ts) — any other state claiming them is refused (notice-not-secretariat);
 * - requests and withdrawals of notices only to the secretariat;
 * - a diffusion from a state under supervision only through the secretariat (notice-held-for-review);
 * - a deletion from the secretariat, or from the state that issued the diffusion.
 *
 * A message id is acted on once: a retry receives the stored signed reply, other content under a used
 * id is a conflict. Every receipt and every refusal of an authenticated state is recorded; refusals
 * of believable messages are kept like replies, so that a retry gets the same refusal. Nothing of a
 * refused message is stored but its refusal.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { isOpenPrumError, OpenPrumError, type ErrorCode } from '../errors/index.ts';
import type { ExchangeContext, SignedMessage, TlsPeer } from '../exchange/context.ts';
import { signedProblem } from '../exchange/inbox.ts';
import { JWS_HEADER, signDetached, verifyDetached } from '../exchange/jws.ts';
import { openPeerMessage } from '../exchange/peer-message.ts';
import { check, describeProblems, validate } from '../util/validate.ts';
import { checkContent, nameKey, type NoticeContent } from './model.ts';
import {
  DecisionPayload,
  DeletionPayload,
  DiffusionPayload,
  MAX_MESSAGE_BYTES,
  messageDigest,
  NOTICE_ACTS,
  NoticeMessage,
  NoticeRequestPayload,
  PAYLOADS,
  PROTOCOL,
  PublishedPayload,
  ReleasePayload,
  SECRETARIAT_ACTS,
  SupervisionPayload,
  TO_SECRETARIAT_ACTS,
  WithdrawalPayload,
  type Act,
  type NoticeAck,
} from './messages.ts';
import { supervisionOf } from './rules.ts';
import { endAtSecretariat } from './review.ts';
import { secretariatOf } from './settings.ts';
import { addHistory, contentSummary, deleteNoticeData, isTombstoned, recordNotice, type Db, type NoticeRow } from './store.ts';
import { noticeWorkerOf, startNoticeWorker } from './worker.ts';

export const NOTICE_PEER_ROUTES = ['POST /peer/v1/notices/messages'];

interface Refusal extends OpenPrumError {
  messageId?: string;
  act?: string;
  noticeId?: string;
  recorded?: boolean;
}

function refuse(code: ErrorCode, message: string, about?: { messageId?: string; act?: string; noticeId?: string | undefined }, details?: Record<string, unknown>): never {
  // `request.messageId` lets the peer server's error handler name the message it refuses (inReplyTo).
  throw Object.assign(new OpenPrumError(code, message, details), about ?? {}, about?.messageId ? { request: { messageId: about.messageId } } : {});
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

export interface Received extends SignedMessage {
  readonly repeated: boolean;
}

interface Checked {
  readonly message: NoticeMessage;
  readonly signer: string;
}

/** The authentication and the envelope: signature, signer = TLS client, shape, sender, addressee, time. */
function checkEnvelope(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Checked {
  const { message, signer } = openPeerMessage(ctx, tls, raw, jws, NoticeMessage, 'notice message', {
    fields: { sender: 'senderState', addressee: 'recipientState' },
    // A well-formed message of the sender's own state is named in the refusal (inReplyTo, record).
    quote: (e, json) => {
      if (!check(NoticeMessage, json) || json.senderState !== tls.country) return e;
      const about = { messageId: json.messageId, act: json.act, noticeId: json.noticeId };
      return Object.assign(e, about, { request: { messageId: json.messageId } });
    },
  });
  const about = { messageId: message.messageId, act: message.act, noticeId: message.noticeId };
  if (NOTICE_ACTS.includes(message.act) && !message.noticeId) refuse('peer-message-invalid', `A ${message.act} message names its notice (noticeId)`, about);
  return { message, signer };
}

/** The payload of an act, checked; content errors keep their own codes (dates, identifiers, attachments). */
function payloadOf<S extends TSchema>(schema: S, m: NoticeMessage): Static<S> {
  if (!check(schema, m.payload)) {
    const first = describeProblems(schema, m.payload)[0];
    refuse('peer-message-invalid', `${m.act} payload: ${first ? `${first.path === '(body)' ? '' : `field ${first.path} `}${first.message}` : 'does not match the protocol'}`, { messageId: m.messageId, act: m.act, noticeId: m.noticeId });
  }
  return m.payload as Static<S>;
}

function contentOf(ctx: ExchangeContext, m: NoticeMessage, kind: 'notice' | 'diffusion', type: string, content: unknown): NoticeContent {
  try {
    return checkContent(kind, type, content, ctx.now());
  } catch (e) {
    throw Object.assign(e as Error, { messageId: m.messageId, act: m.act, noticeId: m.noticeId, request: { messageId: m.messageId } });
  }
}

function ack(ctx: ExchangeContext, m: NoticeMessage): SignedMessage {
  const now = ctx.now().toISOString();
  const body: NoticeAck = { protocol: PROTOCOL, type: 'notice-ack', messageId: randomUUID(), sentAt: now, inReplyTo: m.messageId, senderState: ctx.country, recipientState: m.senderState, receivedAt: now };
  const text = JSON.stringify(body);
  return { status: 200, contentType: 'application/json', body: text, jws: signDetached(text, ctx.signer()) };
}

async function recordRefusal(db: Db, ctx: ExchangeContext, sender: string, e: OpenPrumError, about: { messageId?: string | undefined; act?: string | undefined; noticeId?: string | undefined }): Promise<number> {
  return recordNotice(db, ctx, {
    action: `notice.${about.act ?? 'message'}`,
    direction: 'incoming',
    supplier: sender,
    receiver: ctx.country,
    query: { ...(about.messageId ? { messageId: about.messageId } : {}), ...(about.noticeId ? { noticeId: about.noticeId } : {}) },
    supplied: { refused: e.code, detail: e.message },
    outcome: e.code === 'internal' ? 'failed' : 'refused',
    requestId: about.messageId ?? null,
  });
}

async function repeated(ctx: ExchangeContext, tls: TlsPeer, m: NoticeMessage, digest: string): Promise<Received | undefined> {
  const stored = await ctx.db.selectFrom('notice_inbox').selectAll().where('sender_state', '=', tls.country).where('message_id', '=', m.messageId).executeTakeFirst();
  if (!stored) return undefined;
  if (stored.body_digest !== digest) refuse('peer-message-conflict', `Message ${m.messageId} was received before with other content; a new message needs a new message id`, { messageId: m.messageId, act: m.act });
  await recordNotice(ctx.db, ctx, {
    action: `notice.${m.act}.repeat`,
    direction: 'incoming',
    supplier: tls.country,
    receiver: ctx.country,
    query: { messageId: m.messageId, ...(m.noticeId ? { noticeId: m.noticeId } : {}) },
    supplied: { repeatOfRecord: stored.record_id },
    outcome: 'done',
    requestId: m.messageId,
  });
  return { status: stored.reply_status, contentType: stored.reply_status < 300 ? 'application/json' : 'application/problem+json', body: stored.reply_body, jws: stored.reply_jws, repeated: true };
}

/** What an act did: the record of its receipt and whether the signed message is kept (it carries the notice). */
interface Done {
  readonly recordId: number;
  /** False when the act deleted the notice's data: the message's body is not kept either. */
  readonly keepBody: boolean;
}

export async function receiveNoticeMessage(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Promise<Received> {
  const checked = checkEnvelope(ctx, tls, raw, jws);
  const m = checked.message;
  const about = { messageId: m.messageId, act: m.act, noticeId: m.noticeId };
  const secretariat = secretariatOf(ctx);
  // Who may send and receive what (see the file comment): checked before the payload is believed.
  if (SECRETARIAT_ACTS.includes(m.act) && tls.country !== secretariat) {
    refuse('notice-not-secretariat', `A ${m.act} message is an act of the secretariat (the node of ${secretariat}); the node of ${tls.country} is not the secretariat`, about, { secretariat });
  }
  if (TO_SECRETARIAT_ACTS.includes(m.act) && ctx.country !== secretariat) {
    refuse('notice-not-secretariat', `A ${m.act} goes to the secretariat (the node of ${secretariat}); this is the node of ${ctx.country}`, about, { secretariat });
  }
  if (TO_SECRETARIAT_ACTS.includes(m.act) && tls.country === secretariat) refuse('peer-message-invalid', `The secretariat does not send ${m.act} messages`, about);
  validate(PAYLOADS[m.act], m.payload, 'peer-message-invalid', `${m.act} payload`);
  const digest = messageDigest(m);
  const first = await repeated(ctx, tls, m, digest);
  if (first) return first;

  const keep = async (db: Db, reply: SignedMessage, recordId: number, keepBody: boolean) => {
    await db
      .insertInto('notice_inbox')
      .values({
        sender_state: tls.country,
        message_id: m.messageId,
        act: m.act,
        body_digest: digest,
        body: keepBody ? raw : null,
        jws: keepBody ? jws! : null,
        signer_fingerprint: checked.signer,
        reply_status: reply.status,
        reply_body: reply.body,
        reply_jws: reply.jws,
        notice_id: m.noticeId ?? null,
        record_id: recordId,
      })
      .execute();
  };
  try {
    const reply = await ctx.db.transaction().execute(async (trx) => {
      const done = await act(trx, ctx, tls, m);
      const reply = ack(ctx, m);
      await keep(trx, reply, done.recordId, done.keepBody);
      return reply;
    });
    return { ...reply, repeated: false };
  } catch (e) {
    if (isUniqueViolation(e)) {
      const again = await repeated(ctx, tls, m, digest);
      if (again) return again;
    }
    if (!isOpenPrumError(e) || e.status >= 500) throw Object.assign(isOpenPrumError(e) ? e : new OpenPrumError('internal', 'The notice message failed inside this node; retry later', undefined, { cause: e }), about, { request: { messageId: m.messageId } });
    // A refusal of a believable message: recorded and kept, so that a retry receives the same refusal.
    const problem = signedProblem(ctx, e, m.messageId);
    try {
      await ctx.db.transaction().execute(async (trx) => {
        const recordId = await recordRefusal(trx, ctx, tls.country, e, about);
        await keep(trx, problem, recordId, false);
      });
    } catch (storeErr) {
      if (isUniqueViolation(storeErr)) {
        const again = await repeated(ctx, tls, m, digest);
        if (again) return again;
      }
      throw storeErr;
    }
    return { ...problem, repeated: false };
  }
}

async function rowOf(db: Db, id: string): Promise<NoticeRow | undefined> {
  return db.selectFrom('notices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Carries out one believable message, in the transaction that keeps it. */
async function act(trx: Db, ctx: ExchangeContext, tls: TlsPeer, m: NoticeMessage): Promise<Done> {
  const about = { messageId: m.messageId, act: m.act, noticeId: m.noticeId };
  const now = ctx.now();
  const id = m.noticeId!;
  const sender = tls.country;
  const received = (action: string, notice: Parameters<typeof recordNotice>[2]['notice'], extra: { query?: Record<string, unknown>; supplied?: unknown } = {}) =>
    recordNotice(trx, ctx, { action, direction: 'incoming', supplier: sender, receiver: ctx.country, notice, query: { messageId: m.messageId, ...(extra.query ?? {}) }, supplied: extra.supplied, outcome: 'done', requestId: m.messageId });

  switch (m.act as Act) {
    // --- at the secretariat ---------------------------------------------------------------------
    case 'notice-request': {
      const p = payloadOf(NoticeRequestPayload, m);
      const content = contentOf(ctx, m, 'notice', p.type, p.content);
      if (await isTombstoned(trx, id)) refuse('notice-deleted', `Notice ${id} was deleted at the secretariat; a new request needs a new id`, about);
      if (p.publicExtract && !['red', 'yellow', 'un'].includes(p.type)) refuse('notice-invalid', `publicExtract: no public extract for a ${p.type} notice`, about);
      const row = await rowOf(trx, id);
      const values = {
        type: p.type,
        reference: p.reference,
        content: JSON.stringify(content),
        name_key: nameKey(content.subject?.familyName, content.subject?.forenames),
        birth_date: content.subject?.dateOfBirth ?? null,
        public_extract: p.publicExtract,
        submitted_at: p.submittedAt,
      };
      if (!row) {
        await trx
          .insertInto('notices')
          .values({ id, kind: 'notice', held_as: 'secretariat', requesting_state: sender, status: 'pending-review', version: 0, ...values, history: JSON.stringify([{ at: now.toISOString(), event: 'received', version: p.version }]) })
          .execute();
      } else {
        if (row.requesting_state !== sender || row.kind !== 'notice') refuse('notice-state-conflict', `Notice ${id} is not a request of ${sender}`, about);
        if (row.status !== 'returned' && row.status !== 'pending-review') refuse('notice-state-conflict', `Notice ${row.reference} is ${row.status} at the secretariat; it cannot be submitted again`, about);
        const last = Math.max(0, ...row.history.filter((h) => h.event === 'received').map((h) => Number(h.version ?? 0)));
        if (p.version <= last) refuse('notice-state-conflict', `Version ${p.version} of notice ${row.reference} is not newer than version ${last}, received already`, about);
        await trx.updateTable('notices').set({ ...values, status: 'pending-review' }).where('id', '=', id).execute();
        await addHistory(trx, id, { at: now.toISOString(), event: 'received', version: p.version });
      }
      const recordId = await received('notice.request', { id, kind: 'notice', type: p.type, requesting_state: sender, reference: p.reference }, { query: { version: p.version }, supplied: contentSummary(content) });
      return { recordId, keepBody: true };
    }
    case 'notice-withdrawal': {
      const p = payloadOf(WithdrawalPayload, m);
      const row = await rowOf(trx, id);
      if (!row || row.held_as !== 'secretariat' || row.requesting_state !== sender || row.kind !== 'notice') refuse('notice-unknown', `The secretariat holds no notice ${id} of ${sender}`, about);
      if (!['pending-review', 'returned', 'published'].includes(row.status)) refuse('notice-state-conflict', `Notice ${row.reference} is ${row.status} already`, about);
      // A published notice is cancelled on every node; the requesting state knows already.
      const sent = await endAtSecretariat(trx, ctx, row, { reason: 'withdrawn', note: p.reason, by: `${sender} NCP`, wipe: false, skip: [sender] });
      const recordId = await received('notice.withdrawal', row, { query: { reason: p.reason, forwardedTo: sent } });
      return { recordId, keepBody: true };
    }

    // --- a diffusion: at the secretariat (for review) or at a state it names ---------------------
    case 'diffusion': {
      const p = payloadOf(DiffusionPayload, m);
      const content = contentOf(ctx, m, 'diffusion', p.type, p.content);
      if (await isTombstoned(trx, id)) refuse('notice-deleted', `Diffusion ${id} was deleted; it is not taken again`, about);
      if (p.recipients.includes(sender)) refuse('peer-message-invalid', `A diffusion of ${sender} does not name ${sender} among its recipients`, about);
      if (await rowOf(trx, id)) refuse('notice-state-conflict', `Diffusion ${id} is held here already`, about);
      const atSecretariat = ctx.country === secretariatOf(ctx);
      const supervised = await supervisionOf(trx, sender);
      if (!atSecretariat) {
        if (!p.recipients.includes(ctx.country)) refuse('peer-misdirected', `Diffusion ${p.reference} of ${sender} does not name ${ctx.country}`, about);
        // Supervision: every request of the state is reviewed before anyone receives it.
        if (supervised) refuse('notice-held-for-review', `${sender} is under supervision (since ${supervised.since}): its diffusions reach other states only when the secretariat releases them`, about);
      }
      const status = atSecretariat ? (supervised ? 'held' : 'under-review') : 'active';
      await trx
        .insertInto('notices')
        .values({
          id,
          kind: 'diffusion',
          type: p.type,
          held_as: atSecretariat ? 'secretariat' : 'recipient',
          requesting_state: sender,
          reference: p.reference,
          status,
          content: JSON.stringify(content),
          name_key: nameKey(content.subject?.familyName, content.subject?.forenames),
          birth_date: content.subject?.dateOfBirth ?? null,
          recipients: JSON.stringify(p.recipients),
          submitted_at: p.issuedAt,
          history: JSON.stringify([{ at: now.toISOString(), event: atSecretariat ? (supervised ? 'received-held-for-review' : 'received-for-review') : 'received' }]),
        })
        .execute();
      const recordId = await received('diffusion.receive', { id, kind: 'diffusion', type: p.type, requesting_state: sender, reference: p.reference }, { query: { recipients: p.recipients, status }, supplied: contentSummary(content) });
      return { recordId, keepBody: true };
    }

    // --- from the secretariat ---------------------------------------------------------------------
    case 'diffusion-release': {
      const p = payloadOf(ReleasePayload, m);
      // The original is believed only with its requesting state's signature, for this diffusion and this state.
      let inner: NoticeMessage;
      let innerSigner: string;
      try {
        innerSigner = verifyDetached(p.original.jws, p.original.body, ctx.trust(), now).country;
        inner = validate(NoticeMessage, JSON.parse(p.original.body), 'peer-message-invalid', 'released diffusion');
      } catch (e) {
        refuse('peer-message-invalid', `The released diffusion is not a diffusion signed by its state: ${(e as Error).message}`, about);
      }
      if (inner.act !== 'diffusion' || inner.noticeId !== id || inner.senderState !== innerSigner || inner.recipientState !== sender) {
        refuse('peer-message-invalid', `The released diffusion is not diffusion ${id} as its state sent it to the secretariat`, about);
      }
      const d = payloadOf(DiffusionPayload, inner);
      const content = contentOf(ctx, m, 'diffusion', d.type, d.content);
      if (!d.recipients.includes(ctx.country)) refuse('peer-misdirected', `Diffusion ${d.reference} of ${inner.senderState} does not name ${ctx.country}`, about);
      if (await isTombstoned(trx, id)) refuse('notice-deleted', `Diffusion ${id} was deleted; it is not taken again`, about);
      if (await rowOf(trx, id)) refuse('notice-state-conflict', `Diffusion ${id} is held here already`, about);
      await trx
        .insertInto('notices')
        .values({
          id,
          kind: 'diffusion',
          type: d.type,
          held_as: 'recipient',
          requesting_state: inner.senderState,
          reference: d.reference,
          status: 'active',
          content: JSON.stringify(content),
          name_key: nameKey(content.subject?.familyName, content.subject?.forenames),
          birth_date: content.subject?.dateOfBirth ?? null,
          recipients: JSON.stringify(d.recipients),
          submitted_at: d.issuedAt,
          decided_at: p.releasedAt,
          history: JSON.stringify([{ at: now.toISOString(), event: 'received', releasedBy: sender, releasedAt: p.releasedAt }]),
        })
        .execute();
      const recordId = await received('diffusion.receive', { id, kind: 'diffusion', type: d.type, requesting_state: inner.senderState, reference: d.reference }, { query: { releasedBy: sender, recipients: d.recipients }, supplied: contentSummary(content) });
      return { recordId, keepBody: true };
    }
    case 'notice-decision': {
      const p = payloadOf(DecisionPayload, m);
      const row = await rowOf(trx, id);
      if (!row || row.held_as !== 'requester') refuse('notice-unknown', `${ctx.country} requested no notice or diffusion ${id}`, about);
      const next: Record<string, NoticeRow['status'][]> = {
        returned: ['submitted'],
        refused: ['submitted', 'held', 'issued', 'compliant'],
        compliant: ['issued'],
        released: ['held'],
      };
      if (next[p.decision]!.includes(row.status)) {
        await trx.updateTable('notices').set({ status: p.decision, decided_at: p.decidedAt, decision: JSON.stringify({ decision: p.decision, reasons: p.reasons, ...(p.note ? { note: p.note } : {}), at: p.decidedAt, by: `${sender} (secretariat)` }) }).where('id', '=', id).execute();
        await addHistory(trx, id, { at: now.toISOString(), event: p.decision, by: `${sender} (secretariat)`, reasons: p.reasons });
      } else {
        // A decision on a request withdrawn in the meantime: kept in the history only.
        await addHistory(trx, id, { at: now.toISOString(), event: `decision-${p.decision}-not-applied`, by: `${sender} (secretariat)`, status: row.status });
      }
      const recordId = await received('notice.decision', row, { query: { decision: p.decision, reasons: p.reasons } });
      return { recordId, keepBody: true };
    }
    case 'notice-published': {
      const p = payloadOf(PublishedPayload, m);
      const content = contentOf(ctx, m, 'notice', p.type, p.content);
      if (await isTombstoned(trx, id)) refuse('notice-deleted', `Notice ${p.entityId} was deleted on this node; it is not taken again`, about);
      const row = await rowOf(trx, id);
      const values = {
        type: p.type,
        reference: p.reference,
        entity_id: p.entityId,
        content: JSON.stringify(content),
        name_key: nameKey(content.subject?.familyName, content.subject?.forenames),
        birth_date: content.subject?.dateOfBirth ?? null,
        public_extract: p.publicExtract,
        published_at: p.publishedAt,
        expires_at: p.expiresAt,
        version: p.version,
        status: 'published' as const,
      };
      let applied = true;
      if (!row) {
        if (p.requestingState === ctx.country) refuse('notice-unknown', `${ctx.country} requested no notice ${id}`, about);
        await trx.insertInto('notices').values({ id, kind: 'notice', held_as: 'recipient', requesting_state: p.requestingState, ...values, history: JSON.stringify([{ at: now.toISOString(), event: 'published', version: p.version }]) }).execute();
      } else {
        if (row.kind !== 'notice' || row.requesting_state !== p.requestingState || row.held_as === 'secretariat') refuse('notice-state-conflict', `Notice ${id} held here does not match the publication`, about);
        if (row.held_as === 'requester' && !['submitted', 'published'].includes(row.status)) {
          applied = false;
        } else if (row.status === 'published' && p.version <= row.version) {
          applied = false;
        } else {
          await trx.updateTable('notices').set(values).where('id', '=', id).execute();
        }
        await addHistory(trx, id, { at: now.toISOString(), event: applied ? (row.status === 'published' ? 'updated' : 'published') : 'publication-not-applied', version: p.version, entityId: p.entityId });
      }
      const recordId = await received('notice.published', { id, kind: 'notice', type: p.type, requesting_state: p.requestingState, reference: p.reference, entity_id: p.entityId }, { query: { version: p.version, applied }, supplied: contentSummary(content) });
      return { recordId, keepBody: applied };
    }
    case 'supervision': {
      const p = payloadOf(SupervisionPayload, m);
      const last = await trx.selectFrom('notice_supervision').select('version').where('state', '=', p.state).orderBy('version', 'desc').limit(1).executeTakeFirst();
      const applied = !last || p.version > last.version;
      if (applied) {
        await trx
          .insertInto('notice_supervision')
          .values({ state: p.state, measure: p.measure, reason: p.reason, review_date: p.reviewDate, decided_by: `${sender} (secretariat)`, decided_at: p.decidedAt, version: p.version, origin: 'received', message_id: m.messageId })
          .execute();
      }
      const recordId = await recordNotice(trx, ctx, { action: 'notice.supervision', direction: 'incoming', supplier: sender, receiver: ctx.country, reason: p.reason, query: { messageId: m.messageId, state: p.state, measure: p.measure, version: p.version, applied }, outcome: 'done', requestId: m.messageId });
      return { recordId, keepBody: true };
    }

    // --- a deletion: from the secretariat, or from the state of the diffusion ---------------------
    case 'notice-deletion': {
      const p = payloadOf(DeletionPayload, m);
      const secretariat = secretariatOf(ctx);
      const row = await rowOf(trx, id);
      const requestingState = row?.requesting_state ?? p.requestingState;
      if (row && (row.kind !== p.kind || row.requesting_state !== p.requestingState)) refuse('notice-state-conflict', `${row.kind} ${id} held here is not a ${p.kind} of ${p.requestingState}`, about);
      const mayDelete = sender === secretariat || (p.kind === 'diffusion' && sender === requestingState);
      if (!mayDelete) {
        refuse(
          'notice-not-secretariat',
          p.kind === 'notice'
            ? `Only the secretariat (the node of ${secretariat}) cancels a notice on other nodes; ${sender} withdraws its notice through the secretariat`
            : `Only the secretariat or ${requestingState}, which issued it, delete diffusion ${id}; not ${sender}`,
          about,
          { secretariat },
        );
      }
      let outcome: string;
      if (!row) {
        // Not (or not yet) held here: remember it, so that a late message cannot bring it in.
        await trx.insertInto('notice_tombstones').values({ id, kind: p.kind, requesting_state: requestingState, reason: p.reason }).onConflict((oc) => oc.column('id').doNothing()).execute();
        outcome = 'not-held';
      } else if (row.held_as === 'recipient') {
        await deleteNoticeData(trx, id, { removeRow: true, kind: row.kind, requestingState, reason: p.reason });
        outcome = 'deleted';
      } else if (row.held_as === 'requester') {
        // The requesting state's own file: the request ends; its data go only on a data subject's request.
        const status = row.status === 'withdrawn' ? 'withdrawn' : row.kind === 'notice' ? 'cancelled' : 'deleted';
        await trx.updateTable('notices').set({ status, closed_at: now }).where('id', '=', id).execute();
        await addHistory(trx, id, { at: now.toISOString(), event: status === 'withdrawn' ? 'deleted-everywhere' : status, by: `${sender}`, reason: p.reason });
        if (p.reason === 'data-subject-request') await deleteNoticeData(trx, id, { removeRow: false, kind: row.kind, requestingState, reason: p.reason });
        outcome = status;
      } else {
        // At the secretariat: the diffusion's state withdrew it.
        await trx.updateTable('notices').set({ status: 'withdrawn', closed_at: now }).where('id', '=', id).execute();
        await addHistory(trx, id, { at: now.toISOString(), event: 'withdrawn', by: sender, reason: p.reason });
        outcome = 'withdrawn';
      }
      const recordId = await recordNotice(trx, ctx, {
        action: `${p.kind}.deletion`,
        direction: 'incoming',
        supplier: sender,
        receiver: ctx.country,
        notice: row ?? { id, kind: p.kind, type: 'unknown', requesting_state: requestingState, reference: '-' },
        reason: p.note ?? p.reason,
        query: { messageId: m.messageId, reason: p.reason, outcome },
        outcome: 'done',
        requestId: m.messageId,
      });
      return { recordId, keepBody: true };
    }
    default:
      return refuse('peer-message-invalid', `Act ${m.act} is not known`, about);
  }
}

// --- registration at the peer interface -----------------------------------------------------------

function send(reply: FastifyReply, m: SignedMessage, extra: Record<string, string> = {}): FastifyReply {
  reply.code(m.status).header('content-type', m.contentType).header(JWS_HEADER, m.jws);
  for (const [k, v] of Object.entries(extra)) reply.header(k, v);
  return reply.send(m.body);
}

/**
 * Adds the notice route to the peer interface and runs the notice worker while the interface runs
 * (called once by buildPeerServer).
 */
export function registerNoticePeerRoutes(app: FastifyInstance, ctx: ExchangeContext): void {
  app.post('/peer/v1/notices/messages', { bodyLimit: MAX_MESSAGE_BYTES }, async (request, reply) => {
    if (typeof request.body !== 'string') throw new OpenPrumError('media-type-unsupported', 'Send the signed message as application/json');
    const jws = request.headers[JWS_HEADER];
    try {
      const received = await receiveNoticeMessage(ctx, request.tlsPeer!, request.body, typeof jws === 'string' ? jws : undefined);
      // An act may have queued messages (a withdrawal forwarded by the secretariat to every node).
      if (!received.repeated) noticeWorkerOf(ctx)?.kick();
      return send(reply, received, received.repeated ? { 'idempotent-replayed': 'true' } : {});
    } catch (e) {
      // Refusals before the message was believable: recorded here with the TLS-authenticated sender,
      // then signed and sent by the peer server's error handler (marked recorded).
      const r = e as Refusal;
      if (request.tlsPeer && isOpenPrumError(e) && !r.recorded) {
        await recordRefusal(ctx.db, ctx, request.tlsPeer.country, e, { messageId: r.messageId, act: r.act, noticeId: r.noticeId }).catch(() => undefined);
        r.recorded = true;
      }
      throw e;
    }
  });
  startNoticeWorker(app, ctx);
}
