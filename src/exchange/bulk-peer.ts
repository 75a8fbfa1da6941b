/**
 * The requested side of the bulk comparison of DNA profiles (Prüm Decision Art. 4): another state's
 * node asks whether this node consents (`POST /peer/v1/bulk-comparisons`), then sends its
 * unidentified profiles chunk by chunk (`POST /peer/v1/bulk-chunks`); each chunk is compared with
 * the DNA files this node's declaration opens, under the matching rule of src/dna/README.md, and
 * answered at once with the hits and the matching reference data (Art. 4(2)).
 *
 * The same checks and guards as for searches (inbox.ts), in the same order: the signature and the
 * sender's identity first (the requesting state is the TLS client's and the signer's, 2008/616/JHA
 * Art. 8(1)(a)), then the message's shape and time (replay window), then the declaration: consent
 * ("by mutual consent", Art. 4(1): the declaration's `bulkComparison` names the requesting state),
 * open DNA files (Art. 2(3)) and the declared number of profiles a day. A malformed chunk (a bad
 * profile, too many profiles, too large) is refused whole, before anything is compared or kept.
 *
 * A message id is answered once: the signed answer is kept in federation_inbox with the signed
 * request, and a retry (same id, same content) gets it again, so a chunk retried after a crash on
 * either side is never compared or recorded twice. Refusals are recorded but not kept: a chunk
 * refused for capacity may be sent again under the same id the next day.
 *
 * Each answered chunk is one record (Art. 30(2)(b)): the profiles supplied and the hits answered, in
 * the transaction that keeps the answer. Nothing else of the supplied profiles is kept (Art. 26(2)):
 * they are compared in memory and dropped.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { TSchema } from 'typebox';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import type { NationalDnaFile } from '../dna/national-file.ts';
import { DNA_PURPOSE } from '../dna/national-file.ts';
import { inclusionOf, parseProfile, type DnaProfile, type ProfileKind } from '../dna/profile.ts';
import { isOpenPrumError, OpenPrumError, type ErrorCode } from '../errors/index.ts';
import { check } from '../util/validate.ts';
import {
  BULK_BODY_LIMIT, BULK_LEGAL_BASIS, BULK_MAX_CHUNK, BULK_MAX_HITS, BulkChunk, bulkDigest, BulkOpen,
  type BulkAnswer, type BulkHit, type BulkOpened,
} from './bulk-messages.ts';
import { NCP, type ExchangeContext, type SignedMessage, type TlsPeer } from './context.ts';
import { latestDeclaration, takeCapacity, usageDay, usedToday, type Declaration } from './declarations.ts';
import { JWS_HEADER, signDetached } from './jws.ts';
import { MessageId, PROTOCOL, Reference } from './messages.ts';
import { openPeerMessage } from './peer-message.ts';

/** The federation_usage kind of the bulk comparison's daily limit (profiles compared). */
export const BULK_USAGE_KIND = 'dna-bulk';
/** federation_inbox kinds of the two messages. */
const INBOX_OPEN = 'dna-bulk-open';
const INBOX_CHUNK = 'dna-bulk';

const ACTION_OPEN = 'dna.bulk-comparison.open';
const ACTION_CHUNK = 'dna.bulk-comparison';

/**
 * The consent a declaration gives a requesting state (Prüm Decision Art. 4(1)), or undefined. The
 * declaration's `bulkComparison` names the states (or "all") and the profiles a day.
 */
export function bulkConsent(declaration: Declaration, requestingState: string): { readonly maxProfilesPerDay: number } | undefined {
  const b = declaration.bulkComparison;
  if (!b) return undefined;
  if (b.states !== 'all' && !b.states.includes(requestingState)) return undefined;
  return { maxProfilesPerDay: b.maxProfilesPerDay };
}

const FILE_OF_KIND = { 'dna-reference': 'reference', 'dna-unidentified': 'unidentified' } as const;

/** The DNA files a declaration opens (Art. 2(3)): the profiles a chunk is compared with. */
function openDnaFiles(declaration: Declaration): Array<'dna-reference' | 'dna-unidentified'> {
  return declaration.files.map((f) => f.file).filter((f): f is 'dna-reference' | 'dna-unidentified' => f === 'dna-reference' || f === 'dna-unidentified');
}

type Envelope = BulkOpen | BulkChunk;

/** An error about a message, carrying what the server needs: recorded already, and the id to reply to. */
function refusal(error: OpenPrumError, messageId?: string): OpenPrumError {
  return Object.assign(error, { recorded: true, ...(messageId ? { request: { messageId } } : {}) });
}

function refuse(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new OpenPrumError(code, message, details);
}

/** The identity of a message as a refusal's record may quote it: never a profile. */
type Quoted = { readonly messageId: string; readonly reference?: string | undefined };

/**
 * The id and reference of a signed message of the TLS client's own state whose content is refused,
 * so that the refusal's record and answer can name it; undefined when even that is not believable.
 */
function identityOf(json: unknown, tlsCountry: string): Quoted | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const o = json as Record<string, unknown>;
  if (o.requestingState !== tlsCountry || typeof o.messageId !== 'string' || !check(MessageId, o.messageId)) return undefined;
  return { messageId: o.messageId, reference: typeof o.reference === 'string' && check(Reference, o.reference) ? o.reference : undefined };
}

/**
 * Checks a bulk message up to the declaration: signature, sender, shape, addressee, time. Throws
 * OpenPrumError; one carrying `bulkMessage` names a message that may be quoted in the record.
 */
function checkEnvelope(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined, schema: TSchema, what: string): { message: Envelope; signer: string } {
  // From the shape check on, a message of the sender's own state is quoted by its identity (never its profiles).
  const opened = openPeerMessage(ctx, tls, raw, jws, schema, what, { quote: (e, json) => Object.assign(e, { bulkMessage: identityOf(json, tls.country) }) });
  return { message: opened.message as Envelope, signer: opened.signer };
}

/** What a record may quote of a message: its identity, never an unchecked profile. */
function quote(message: Envelope | Quoted | undefined): Record<string, unknown> {
  if (!message) return {};
  if (!('type' in message)) return { messageId: message.messageId, ...(message.reference ? { reference: message.reference } : {}) };
  if (message.type === 'bulk-open') return { messageId: message.messageId, reference: message.reference, mode: message.mode, profiles: message.profiles, chunks: message.chunks };
  return { messageId: message.messageId, reference: message.reference, chunk: message.chunk, profiles: message.profiles.length };
}

/** Records a refusal of an authenticated state's bulk message on this (the administering) side. */
async function recordRefusal(db: Kysely<Schema>, ctx: ExchangeContext, peer: string, error: OpenPrumError, message: Envelope | Quoted | undefined, type: 'bulk-open' | 'bulk-chunk'): Promise<number> {
  const r = await writeRecord(db, {
    action: type === 'bulk-open' ? ACTION_OPEN : ACTION_CHUNK,
    direction: 'incoming',
    searchingBody: NCP(peer),
    administeringBody: NCP(ctx.country),
    purpose: DNA_PURPOSE,
    legalBasis: BULK_LEGAL_BASIS,
    query: quote(message),
    supplied: { refused: error.code, detail: error.message },
    outcome: error.code === 'internal' ? 'failed' : 'refused',
    requestId: message?.messageId ?? null,
  });
  return r.id;
}

/** The outcome of an incoming message: the signed answer to send, and whether it repeats a stored one. */
export interface BulkReceived extends SignedMessage {
  readonly repeated: boolean;
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

interface Handling<M extends Envelope> {
  readonly type: M['type'];
  readonly inboxKind: string;
  readonly action: string;
  /** Checks that need no transaction (profiles); throws OpenPrumError to refuse. */
  prepare(message: M): Promise<void> | void;
  /** Inside the answer's transaction: checks the declaration, answers, records; returns the answer and record. */
  answer(trx: Kysely<Schema>, message: M, own: Declaration): Promise<{ answer: SignedMessage; recordId: number }>;
}

/**
 * The common path of both messages: check, answer a repeat from the store, answer a new message in
 * one transaction with its record and the kept answer, record refusals.
 */
async function receive<M extends Envelope>(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined, schema: TSchema, h: Handling<M>): Promise<BulkReceived> {
  let message: M | undefined;
  let signer: string;
  try {
    const checked = checkEnvelope(ctx, tls, raw, jws, schema, h.type === 'bulk-open' ? 'bulk-open message' : 'bulk chunk');
    message = checked.message as unknown as M;
    signer = checked.signer;
  } catch (e) {
    if (!isOpenPrumError(e)) throw e;
    const quoted = (e as { bulkMessage?: Quoted }).bulkMessage;
    await recordRefusal(ctx.db, ctx, tls.country, e, quoted, h.type);
    throw refusal(e, quoted?.messageId);
  }
  const m = message;
  const digest = bulkDigest(m);

  const repeat = async (): Promise<BulkReceived | undefined> => {
    const stored = await ctx.db.selectFrom('federation_inbox').selectAll().where('requesting_state', '=', tls.country).where('message_id', '=', m.messageId).executeTakeFirst();
    if (!stored) return undefined;
    if (stored.body_digest !== digest || stored.kind !== h.inboxKind) {
      throw new OpenPrumError('peer-message-conflict', `Message ${m.messageId} was received before with other content; a new message needs a new message id`);
    }
    // The answer is supplied again, not compared again: the repeat is recorded as such.
    await writeRecord(ctx.db, {
      action: `${h.action}.repeat`,
      direction: 'incoming',
      searchingBody: NCP(tls.country),
      administeringBody: NCP(ctx.country),
      purpose: DNA_PURPOSE,
      legalBasis: BULK_LEGAL_BASIS,
      query: { messageId: m.messageId, reference: m.reference },
      supplied: { repeatOfRecord: stored.record_id },
      outcome: 'done',
      requestId: m.messageId,
    });
    return { status: stored.answer_status, contentType: 'application/json', body: stored.answer_body, jws: stored.answer_jws, repeated: true };
  };

  try {
    const first = await repeat();
    if (first) return first;
    await h.prepare(m);
    const answered = await ctx.db.transaction().execute(async (trx) => {
      const own = await latestDeclaration(trx, ctx.country);
      // Prüm Decision Art. 4(1): by mutual consent only.
      const consent = own ? bulkConsent(own.declaration, tls.country) : undefined;
      if (!own || !consent) {
        refuse(
          'peer-bulk-not-consented',
          `The node of ${ctx.country} has not consented to a bulk comparison of DNA profiles with ${tls.country} (Prüm Decision Art. 4(1))${own ? `: version ${own.declaration.version} of its declaration does not name ${tls.country} in bulkComparison.states` : ': it has published no declaration'}`,
        );
      }
      if (openDnaFiles(own.declaration).length === 0) refuse('peer-file-closed', `The node of ${ctx.country} has not opened dna-reference or dna-unidentified to comparison`);
      const { answer, recordId } = await h.answer(trx, m, own.declaration);
      await trx
        .insertInto('federation_inbox')
        .values({
          requesting_state: tls.country,
          message_id: m.messageId,
          kind: h.inboxKind,
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
      return answer;
    });
    return { ...answered, repeated: false };
  } catch (e) {
    if (isUniqueViolation(e)) {
      // The same message arrived twice at once; the other one's answer is the answer.
      const again = await repeat().catch(() => undefined);
      if (again) return again;
    }
    const error = isOpenPrumError(e) ? e : new OpenPrumError('internal', 'The comparison failed inside this node; retry later', undefined, { cause: e });
    // Nothing of the message was kept (the transaction rolled back); the refusal is recorded.
    await recordRefusal(ctx.db, ctx, tls.country, error, m, h.type);
    throw refusal(error, m.messageId);
  }
}

/** The consent handshake: no profile is sent before the requested state says yes. */
export async function receiveBulkOpen(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Promise<BulkReceived> {
  return receive<BulkOpen>(ctx, tls, raw, jws, BulkOpen, {
    type: 'bulk-open',
    inboxKind: INBOX_OPEN,
    action: ACTION_OPEN,
    prepare: () => undefined,
    async answer(trx, m, own) {
      const consent = bulkConsent(own, tls.country)!;
      const day = usageDay(ctx.now());
      const used = await usedToday(trx, tls.country, BULK_USAGE_KIND, day);
      const files = openDnaFiles(own);
      const rec = await writeRecord(trx, {
        action: ACTION_OPEN,
        direction: 'incoming',
        searchingBody: NCP(tls.country),
        administeringBody: NCP(ctx.country),
        purpose: DNA_PURPOSE,
        legalBasis: BULK_LEGAL_BASIS,
        reason: `Bulk comparison ${m.reference} (mode ${m.mode}) announced by ${tls.country} NCP: ${m.profiles} profiles in ${m.chunks} chunks`,
        orderedBy: NCP(tls.country),
        query: quote(m),
        supplied: { accepted: true, maxProfilesPerDay: consent.maxProfilesPerDay, usedToday: used, files, declarationVersion: own.version },
        outcome: 'done',
        requestId: m.messageId,
      });
      const answeredAt = ctx.now().toISOString();
      const opened: BulkOpened = {
        protocol: PROTOCOL,
        type: 'bulk-opened',
        messageId: randomUUID(),
        sentAt: answeredAt,
        inReplyTo: m.messageId,
        requestingState: m.requestingState,
        requestedState: ctx.country,
        request: { reference: m.reference, requestedAt: m.requestedAt },
        answer: { reference: `${ctx.country}-R${rec.id}`, answeredAt },
        accepted: true,
        maxProfilesPerDay: consent.maxProfilesPerDay,
        usedToday: used,
        maxChunkProfiles: BULK_MAX_CHUNK,
        files,
      };
      const body = JSON.stringify(opened);
      return { answer: { status: 200, contentType: 'application/json', body, jws: signDetached(body, ctx.signer()) }, recordId: rec.id };
    },
  });
}

/** One chunk: every profile checked, compared with the open files, answered and recorded. */
export async function receiveBulkChunk(ctx: ExchangeContext, tls: TlsPeer, raw: string, jws: string | undefined): Promise<BulkReceived> {
  let profiles: DnaProfile[] = [];
  let file: NationalDnaFile | undefined;
  return receive<BulkChunk>(ctx, tls, raw, jws, BulkChunk, {
    type: 'bulk-chunk',
    inboxKind: INBOX_CHUNK,
    action: ACTION_CHUNK,
    async prepare(m) {
      if (m.chunk.index >= m.chunk.count) refuse('peer-message-invalid', `bulk chunk: chunk.index ${m.chunk.index} is not below chunk.count ${m.chunk.count}`);
      // Every profile is checked before any is compared: a chunk with one bad profile is refused whole.
      const seen = new Map<string, number>();
      profiles = m.profiles.map((p, i) => {
        let profile: DnaProfile;
        try {
          profile = parseProfile(p);
        } catch (e) {
          if (!isOpenPrumError(e)) throw e;
          return refuse('peer-message-invalid', `bulk chunk: profiles[${i}] (ref ${JSON.stringify(p.ref)}): ${e.message}`, { index: i, ref: p.ref, cause: e.code });
        }
        if (profile.kind !== 'unidentified') {
          refuse('peer-message-invalid', `bulk chunk: profiles[${i}] (ref ${JSON.stringify(p.ref)}) is a reference profile; a bulk comparison supplies unidentified profiles only (Prüm Decision Art. 4(1))`, { index: i, ref: p.ref });
        }
        const inclusion = inclusionOf(profile);
        if (!inclusion.ok) refuse('peer-message-invalid', `bulk chunk: profiles[${i}]: ${inclusion.reason}; such a profile cannot be compared`, { index: i, ref: p.ref });
        const earlier = seen.get(profile.ref);
        if (earlier !== undefined) refuse('peer-message-invalid', `bulk chunk: profiles[${i}] repeats the reference ${profile.ref} of profiles[${earlier}]`, { index: i, ref: p.ref });
        seen.set(profile.ref, i);
        return profile;
      });
      if (!ctx.dnaFile) refuse('peer-file-closed', `The node of ${ctx.country} keeps no national DNA file`);
      // Loaded (the first time: built from the table) outside the answer's transaction.
      file = await ctx.dnaFile();
    },
    async answer(trx, m, own) {
      const consent = bulkConsent(own, tls.country)!;
      const kinds: ProfileKind[] = openDnaFiles(own).map((f) => FILE_OF_KIND[f]);
      const day = usageDay(ctx.now());
      const n = profiles.length;
      const usedUp = (used: number) =>
        refuse(
          'peer-capacity-exceeded',
          `The node of ${ctx.country} declared ${consent.maxProfilesPerDay} profiles a day for bulk comparisons with ${tls.country} (version ${own.version} of its declaration); ${used} are used for ${day} (UTC) and this chunk holds ${n}`,
          { capacity: consent.maxProfilesPerDay, day, used },
        );
      const used = await usedToday(trx, tls.country, BULK_USAGE_KIND, day);
      if (used + n > consent.maxProfilesPerDay) usedUp(used);
      const matches = await file!.compareMany(profiles, { db: trx, kinds });
      const hits: BulkHit[] = [];
      matches.forEach((list, i) => {
        for (const h of list) {
          hits.push({
            requestRef: profiles[i]!.ref,
            ref: h.ref,
            kind: h.kind,
            quality: h.quality,
            matchingLoci: h.matchingLoci,
            comparedLoci: h.comparedLoci,
            mismatches: h.mismatches,
            rmp: h.rmp,
            profile: { ref: h.profile.ref, kind: h.profile.kind, loci: h.profile.loci as Record<string, [string, string]> },
          });
        }
      });
      if (hits.length > BULK_MAX_HITS) refuse('input-too-large', `This chunk of ${n} profiles gives ${hits.length} hits, more than the ${BULK_MAX_HITS} one answer may carry; send smaller chunks`);
      // Art. 30(2)(b): the data supplied (the profiles) and answered (the hits), the time, both bodies.
      const rec = await writeRecord(trx, {
        action: ACTION_CHUNK,
        direction: 'incoming',
        searchingBody: NCP(tls.country),
        administeringBody: `${ctx.country} DNA file`,
        purpose: DNA_PURPOSE,
        legalBasis: BULK_LEGAL_BASIS,
        reason: `Automated comparison (Prüm Decision Art. 4) requested by ${tls.country} NCP, ${m.reference}, chunk ${m.chunk.index + 1} of ${m.chunk.count}`,
        orderedBy: NCP(tls.country),
        query: { messageId: m.messageId, reference: m.reference, chunk: m.chunk, profiles },
        supplied: hits.length > 0 ? hits : null,
        hit: hits.length > 0,
        outcome: hits.length > 0 ? 'hit' : 'no-hit',
        requestId: m.messageId,
      });
      const answeredAt = ctx.now().toISOString();
      const answer: BulkAnswer = {
        protocol: PROTOCOL,
        type: 'bulk-answer',
        messageId: randomUUID(),
        sentAt: answeredAt,
        inReplyTo: m.messageId,
        requestingState: m.requestingState,
        requestedState: ctx.country,
        request: { reference: m.reference, requestedAt: m.requestedAt },
        answer: { reference: `${ctx.country}-R${rec.id}`, answeredAt },
        chunk: m.chunk,
        compared: n,
        hit: hits.length > 0,
        hits,
      };
      // The units are taken last, so that the row lock serialising one state's chunks is held only
      // for the commit (as in inbox.ts).
      if (!(await takeCapacity(trx, day, tls.country, BULK_USAGE_KIND, n, consent.maxProfilesPerDay))) usedUp(await usedToday(trx, tls.country, BULK_USAGE_KIND, day));
      const body = JSON.stringify(answer);
      // Dropped here: the profiles live on only in the record (Art. 26(2)).
      profiles = [];
      return { answer: { status: 200, contentType: 'application/json', body, jws: signDetached(body, ctx.signer()) }, recordId: rec.id };
    },
  });
}

function send(reply: FastifyReply, m: BulkReceived): FastifyReply {
  reply.code(m.status).header('content-type', m.contentType).header(JWS_HEADER, m.jws);
  if (m.repeated) reply.header('idempotent-replayed', 'true');
  return reply.send(m.body);
}

/**
 * The bulk comparison's routes of the peer interface; peer-server.ts calls this once. The server's
 * hooks (mutual TLS check), body parser (text, for the signature) and error handler (signed
 * problem+json) apply.
 */
export function registerBulkPeerRoutes(app: FastifyInstance, ctx: ExchangeContext): void {
  const body = (request: { body: unknown; headers: Record<string, unknown> }) => {
    if (typeof request.body !== 'string') throw new OpenPrumError('media-type-unsupported', 'Send the signed message as application/json');
    const jws = request.headers[JWS_HEADER];
    return { raw: request.body, jws: typeof jws === 'string' ? jws : undefined };
  };
  app.post('/peer/v1/bulk-comparisons', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    const { raw, jws } = body(request);
    return send(reply, await receiveBulkOpen(ctx, request.tlsPeer!, raw, jws));
  });
  app.post('/peer/v1/bulk-chunks', { bodyLimit: BULK_BODY_LIMIT }, async (request, reply) => {
    const { raw, jws } = body(request);
    return send(reply, await receiveBulkChunk(ctx, request.tlsPeer!, raw, jws));
  });
}

