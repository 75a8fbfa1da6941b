/**
 * The notice messages between nodes (protocol openprum/1, signed like the search messages of
 * src/exchange/messages.ts), all sent to `POST /peer/v1/notices/messages` and each answered with a
 * signed `notice-ack` (or a signed problem):
 *
 *   act                 from → to                         what
 *   notice-request      requesting state → secretariat    a notice request (again after a return, version + 1)
 *   notice-withdrawal   requesting state → secretariat    the requesting state withdraws its notice
 *   notice-decision     secretariat → requesting state    returned / refused (notice); compliant / released / refused (diffusion)
 *   notice-published    secretariat → every node          a published notice, or its new version (correction, renewal)
 *   notice-deletion     secretariat → every node holding it, or requesting state → recipients of its diffusion
 *   diffusion           requesting state → named states and the secretariat
 *   diffusion-release   secretariat → named states        a diffusion held for prior review, approved: the original signed diffusion inside
 *   supervision         secretariat → every node          a state placed under supervision, the measure changed or lifted
 *
 * Each message has its own `messageId`, kept across retries (only `sentAt` changes), so a retried
 * message is acted on once and receives the stored reply again.
 */
import { createHash } from 'node:crypto';
import Type, { type Static, type TSchema } from 'typebox';
import { canonicalJson, Country, Instant, MessageId, PROTOCOL, Reference } from '../exchange/messages.ts';
import { FullDate, NoticeContent } from './model.ts';

export { PROTOCOL };

export const ACTS = ['notice-request', 'notice-withdrawal', 'notice-decision', 'notice-published', 'notice-deletion', 'diffusion', 'diffusion-release', 'supervision'] as const;
export type Act = (typeof ACTS)[number];

/** Acts only the secretariat may send. */
export const SECRETARIAT_ACTS: readonly Act[] = ['notice-decision', 'notice-published', 'diffusion-release', 'supervision'];
/** Acts only the secretariat may receive. */
export const TO_SECRETARIAT_ACTS: readonly Act[] = ['notice-request', 'notice-withdrawal'];

const NoticeTypeName = Type.Union(['red', 'yellow', 'blue', 'black', 'green', 'orange', 'purple', 'un'].map((t) => Type.Literal(t)));
const ReasonCode = Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$', maxLength: 60 });

export const NoticeMessage = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('notice-message'),
    messageId: MessageId,
    sentAt: Instant,
    senderState: Country,
    recipientState: Country,
    act: Type.Union(ACTS.map((a) => Type.Literal(a))),
    noticeId: Type.Optional(MessageId),
    payload: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type NoticeMessage = Static<typeof NoticeMessage>;

export const NoticeRequestPayload = Type.Object(
  {
    type: NoticeTypeName,
    reference: Reference,
    version: Type.Integer({ minimum: 1 }),
    submittedAt: Instant,
    content: NoticeContent,
    publicExtract: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const WithdrawalPayload = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }), withdrawnAt: Instant }, { additionalProperties: false });

export const DecisionPayload = Type.Object(
  {
    decision: Type.Union([Type.Literal('returned'), Type.Literal('refused'), Type.Literal('compliant'), Type.Literal('released')]),
    reasons: Type.Array(ReasonCode, { maxItems: 20 }),
    note: Type.Optional(Type.String({ maxLength: 4000 })),
    decidedAt: Instant,
    version: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const PublishedPayload = Type.Object(
  {
    type: NoticeTypeName,
    requestingState: Country,
    reference: Reference,
    entityId: Type.String({ pattern: '^\\d{4}/\\d{5,9}$' }),
    version: Type.Integer({ minimum: 1 }),
    publishedAt: Instant,
    expiresAt: Instant,
    content: NoticeContent,
    publicExtract: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const DeletionPayload = Type.Object(
  {
    kind: Type.Union([Type.Literal('notice'), Type.Literal('diffusion')]),
    requestingState: Country,
    reason: Type.Union([Type.Literal('withdrawn'), Type.Literal('cancelled'), Type.Literal('non-compliant'), Type.Literal('expired'), Type.Literal('data-subject-request')]),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
    deletedAt: Instant,
  },
  { additionalProperties: false },
);

export const DiffusionPayload = Type.Object(
  {
    type: Type.Union(['red', 'yellow', 'blue', 'black', 'green'].map((t) => Type.Literal(t))),
    reference: Reference,
    issuedAt: Instant,
    recipients: Type.Array(Country, { minItems: 1, maxItems: 200 }),
    content: NoticeContent,
  },
  { additionalProperties: false },
);

/** The original diffusion as its requesting state signed it for the secretariat: its exact bytes and JWS. */
export const ReleasePayload = Type.Object(
  { original: Type.Object({ body: Type.String({ maxLength: 4 * 1024 * 1024 }), jws: Type.String({ maxLength: 20_000 }) }, { additionalProperties: false }), releasedAt: Instant },
  { additionalProperties: false },
);

export const SupervisionPayload = Type.Object(
  {
    state: Country,
    measure: Type.Union([Type.Literal('placed'), Type.Literal('changed'), Type.Literal('lifted')]),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    reviewDate: Type.Union([FullDate, Type.Null()]),
    decidedAt: Instant,
    version: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

export const PAYLOADS: Record<Act, TSchema> = {
  'notice-request': NoticeRequestPayload,
  'notice-withdrawal': WithdrawalPayload,
  'notice-decision': DecisionPayload,
  'notice-published': PublishedPayload,
  'notice-deletion': DeletionPayload,
  diffusion: DiffusionPayload,
  'diffusion-release': ReleasePayload,
  supervision: SupervisionPayload,
};

export type NoticeRequestPayload = Static<typeof NoticeRequestPayload>;
export type WithdrawalPayload = Static<typeof WithdrawalPayload>;
export type DecisionPayload = Static<typeof DecisionPayload>;
export type PublishedPayload = Static<typeof PublishedPayload>;
export type DeletionPayload = Static<typeof DeletionPayload>;
export type DiffusionPayload = Static<typeof DiffusionPayload>;
export type ReleasePayload = Static<typeof ReleasePayload>;
export type SupervisionPayload = Static<typeof SupervisionPayload>;

/** Acts that need a noticeId. */
export const NOTICE_ACTS: readonly Act[] = ACTS.filter((a) => a !== 'supervision');

export const NoticeAck = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('notice-ack'),
    messageId: MessageId,
    sentAt: Instant,
    inReplyTo: MessageId,
    senderState: Country,
    recipientState: Country,
    receivedAt: Instant,
  },
  { additionalProperties: false },
);
export type NoticeAck = Static<typeof NoticeAck>;

/** The identity of a message across its retries: everything but the time of the attempt. */
export function messageDigest(message: { sentAt: string }): string {
  const { sentAt: _sentAt, ...rest } = message;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** A digest of a notice's content, for records that must not keep the personal data themselves. */
export function contentDigest(content: unknown): string {
  return createHash('sha256').update(canonicalJson(content ?? null)).digest('hex');
}

/** Largest notice message accepted at the peer interface (attachments: 1 MiB decoded, as base64 with the rest). */
export const MAX_MESSAGE_BYTES = 3 * 1024 * 1024;
