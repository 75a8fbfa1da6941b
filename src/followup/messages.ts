/**
 * The follow-up messages between nodes (protocol openprum/1, like the search messages of
 * src/exchange/messages.ts, signed the same way):
 *
 *   requesting node                                   requested node
 *   follow-up-request   POST /peer/v1/follow-ups  →   (checks the hit, stores, due = received + 48 h)
 *                       ←  follow-up-receipt          (its reference, receivedAt, dueAt)
 *                       ←  follow-up-answer   POST /peer/v1/follow-up-answers  (granted or refused)
 *   follow-up-ack       →                              (receivedAt)
 *
 * Every message has its own `messageId`, kept across retries (only `sentAt` changes), so a retried
 * message is handled once and receives the stored reply again.
 */
import { createHash } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { canonicalJson, Country, Instant, KindName, MessageId, PROTOCOL, Reference } from '../exchange/messages.ts';
import { Conditions } from './conditions.ts';
import { OFFENCE_CODES } from './offences.ts';

export { PROTOCOL };

/** Largest data object an approver may supply in one answer (its JSON text, in bytes). */
export const MAX_SUPPLIED_BYTES = 32 * 1024;

/** Regulation (EU) 2024/982 (Prüm II): the answer after a confirmed match within 48 hours of receipt. */
export const ANSWER_DUE_MS = 48 * 3_600_000;

const ItemReference = Type.String({ minLength: 1, maxLength: 64 });

/** The hit a follow-up refers to: the search (its reference and message id), its answer, both references. */
export const HitOfFollowUp = Type.Object(
  {
    kind: KindName,
    searchReference: Reference,
    searchMessageId: MessageId,
    answerReference: Reference,
    requestReference: ItemReference,
    requestedReference: ItemReference,
  },
  { additionalProperties: false },
);
export type HitOfFollowUp = Static<typeof HitOfFollowUp>;

export const Offence = Type.Object(
  {
    category: Type.Enum(OFFENCE_CODES as OffenceCodes, { description: 'A category of FD 2002/584/JHA Art. 2(2), or "other"' }),
    description: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Required for "other"' })),
  },
  { additionalProperties: false },
);
type OffenceCodes = [string, ...string[]];
export type Offence = Static<typeof Offence>;

export const FollowUpRequest = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('follow-up-request'),
    messageId: MessageId,
    sentAt: Instant,
    requestingState: Country,
    requestedState: Country,
    /** The requesting state's indication number of the follow-up. */
    reference: Reference,
    requestedAt: Instant,
    hit: HitOfFollowUp,
    /** The requesting state's legal basis for asking (its national law, the legal assistance instrument). */
    legalBasis: Type.String({ minLength: 1, maxLength: 500 }),
    /** A description of the facts. */
    facts: Type.String({ minLength: 1, maxLength: 4000 }),
    offence: Offence,
    purpose: Type.String({ minLength: 1, maxLength: 500 }),
    caseReference: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);
export type FollowUpRequest = Static<typeof FollowUpRequest>;

export const Receipt = Type.Object({ reference: Reference, receivedAt: Instant, dueAt: Instant }, { additionalProperties: false });

export const FollowUpReceipt = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('follow-up-receipt'),
    messageId: MessageId,
    sentAt: Instant,
    inReplyTo: MessageId,
    requestingState: Country,
    requestedState: Country,
    request: Type.Object({ reference: Reference }, { additionalProperties: false }),
    receipt: Receipt,
  },
  { additionalProperties: false },
);
export type FollowUpReceipt = Static<typeof FollowUpReceipt>;

const AnswerCommon = {
  protocol: Type.Literal(PROTOCOL),
  type: Type.Literal('follow-up-answer'),
  messageId: MessageId,
  sentAt: Instant,
  requestingState: Country,
  requestedState: Country,
  /** The follow-up request answered: its message id and reference. */
  request: Type.Object({ messageId: MessageId, reference: Reference }, { additionalProperties: false }),
  receipt: Receipt,
  decidedAt: Instant,
  /** The requested state's legal basis for the supply or the refusal (its national law). */
  legalBasis: Type.String({ minLength: 1, maxLength: 500 }),
};

export const GrantedAnswer = Type.Object(
  {
    ...AnswerCommon,
    decision: Type.Literal('granted'),
    /** The personal and case data supplied (Prüm Decision Arts. 5, 10), as an object. */
    supplied: Type.Object({}, { additionalProperties: true }),
    /** FD 2008/977 Arts. 9 and 12: the supplier's conditions of use. */
    conditions: Conditions,
  },
  { additionalProperties: false },
);

export const RefusedAnswer = Type.Object(
  {
    ...AnswerCommon,
    decision: Type.Literal('refused'),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
  },
  { additionalProperties: false },
);

export const FollowUpAnswer = Type.Union([GrantedAnswer, RefusedAnswer]);
export type FollowUpAnswer = Static<typeof FollowUpAnswer>;

export const FollowUpAck = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('follow-up-ack'),
    messageId: MessageId,
    sentAt: Instant,
    inReplyTo: MessageId,
    requestingState: Country,
    requestedState: Country,
    receivedAt: Instant,
  },
  { additionalProperties: false },
);
export type FollowUpAck = Static<typeof FollowUpAck>;

/** The identity of a message across its retries: everything but the time of the attempt. */
export function messageDigest(message: { sentAt: string }): string {
  const { sentAt: _sentAt, ...rest } = message;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

export function suppliedBytes(supplied: unknown): number {
  return Buffer.byteLength(JSON.stringify(supplied ?? null), 'utf8');
}
