/**
 * The safeguards messages between nodes (protocol openprum/1, signed like every message: detached
 * JWS, message id kept across retries, replay window), all to `POST /peer/v1/safeguards`:
 *
 *   consent-request           receiving node → supplying node   may we use/transfer your data for this? (FD 2008/977 Arts. 11(d), 13(1)(c), 14(1)(a); Prüm Decision Arts. 26(1), 27)
 *   consent-answer            supplying node → receiving node   granted or refused, by the supplier's approver
 *   supplied-data-correction  supplying node → receiving node   rectify, erase, flag or unflag data supplied (Prüm Decision Art. 28(1), (2); FD 2008/977 Art. 8(2))
 *   onward-transfer-notice    receiving node → supplying node   transferred without prior consent in an immediate and serious threat (FD 2008/977 Art. 13(2))
 *
 * Each is answered with a signed `safeguards-ack` or a signed problem+json refusal. The data a
 * message is about are named by references both nodes hold (`About`), never by local ids.
 */
import { createHash } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { canonicalJson, Country, Instant, KindName, MessageId, PROTOCOL, Reference } from '../exchange/messages.ts';

export { PROTOCOL };

const text = (max: number) => Type.String({ minLength: 1, maxLength: max });

/** The data a message is about: a follow-up answer, or one state's answer to a search. */
export const About = Type.Union([
  Type.Object(
    {
      source: Type.Literal('follow-up'),
      /** The follow-up request's message id (src/followup/messages.ts). */
      requestMessageId: MessageId,
      /** The follow-up's reference (the requesting state's). */
      reference: Reference,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      source: Type.Literal('search-answer'),
      /** The search request's message id (federation_targets.message_id at the searching node). */
      searchMessageId: MessageId,
      /** The search's reference. */
      reference: Reference,
      kind: KindName,
    },
    { additionalProperties: false },
  ),
]);
export type About = Static<typeof About>;

export const RECIPIENT_TYPES = ['third-state', 'international-body', 'private-party'] as const;
export type RecipientType = (typeof RECIPIENT_TYPES)[number];

export const Recipient = Type.Object(
  {
    type: Type.Union([Type.Literal('third-state'), Type.Literal('international-body'), Type.Literal('private-party')]),
    name: text(200),
    country: Type.Optional(Country),
  },
  { additionalProperties: false },
);
export type Recipient = Static<typeof Recipient>;

const envelope = {
  protocol: Type.Literal(PROTOCOL),
  messageId: MessageId,
  sentAt: Instant,
  /** The sending state (must be the TLS client's and the signer's). */
  from: Country,
  /** The receiving state (must be this node's). */
  to: Country,
};

export const ConsentRequest = Type.Object(
  {
    ...envelope,
    type: Type.Literal('consent-request'),
    reference: Reference,
    requestedAt: Instant,
    about: About,
    scope: Type.Union([Type.Literal('further-processing'), Type.Literal('onward-transfer')]),
    purpose: text(500),
    caseReference: Type.Optional(text(100)),
    reason: text(2000),
    recipient: Type.Optional(Recipient),
  },
  { additionalProperties: false },
);
export type ConsentRequest = Static<typeof ConsentRequest>;

export const ConsentAnswer = Type.Object(
  {
    ...envelope,
    type: Type.Literal('consent-answer'),
    request: Type.Object({ messageId: MessageId, reference: Reference }, { additionalProperties: false }),
    decision: Type.Union([Type.Literal('granted'), Type.Literal('refused')]),
    reason: text(2000),
    decidedAt: Instant,
  },
  { additionalProperties: false },
);
export type ConsentAnswer = Static<typeof ConsentAnswer>;

export const CORRECTION_ACTIONS = ['rectify', 'erase', 'flag-contested', 'unflag-contested'] as const;
export type CorrectionAction = (typeof CORRECTION_ACTIONS)[number];

export const SuppliedDataCorrection = Type.Object(
  {
    ...envelope,
    type: Type.Literal('supplied-data-correction'),
    reference: Reference,
    about: About,
    /** For a search answer: the matched item corrected (DNA, fingerprints: its ref; vehicles: the VIN). */
    item: Type.Optional(text(64)),
    action: Type.Union([Type.Literal('rectify'), Type.Literal('erase'), Type.Literal('flag-contested'), Type.Literal('unflag-contested')]),
    /** rectify: the corrected data (a follow-up's supplied object; a vehicle of the answer). */
    corrected: Type.Optional(Type.Unknown()),
    reason: text(2000),
    correctedAt: Instant,
  },
  { additionalProperties: false },
);
export type SuppliedDataCorrection = Static<typeof SuppliedDataCorrection>;

export const OnwardTransferNotice = Type.Object(
  {
    ...envelope,
    type: Type.Literal('onward-transfer-notice'),
    reference: Reference,
    about: About,
    recipient: Recipient,
    purpose: text(500),
    threat: text(2000),
    transferredAt: Instant,
  },
  { additionalProperties: false },
);
export type OnwardTransferNotice = Static<typeof OnwardTransferNotice>;

export const SafeguardsMessage = Type.Union([ConsentRequest, ConsentAnswer, SuppliedDataCorrection, OnwardTransferNotice]);
export type SafeguardsMessage = Static<typeof SafeguardsMessage>;

export const SafeguardsAck = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('safeguards-ack'),
    messageId: MessageId,
    sentAt: Instant,
    inReplyTo: MessageId,
    from: Country,
    to: Country,
    receivedAt: Instant,
    /** What the receiver did (e.g. "rectified", "nothing held any more"). */
    note: Type.Optional(text(500)),
  },
  { additionalProperties: false },
);
export type SafeguardsAck = Static<typeof SafeguardsAck>;

export const SAFEGUARDS_PEER_PATH = '/peer/v1/safeguards';

/** The identity of a message across its retries: everything but the time of the attempt. */
export function messageDigest(message: { sentAt: string }): string {
  const { sentAt: _sentAt, ...rest } = message;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}
