/**
 * The messages of the bulk comparison of DNA profiles between states (Prüm Decision Art. 4): the
 * requesting node first asks whether the requested state consents (`bulk-open`, no profile in it),
 * then sends its unidentified profiles in chunks (`bulk-chunk`), each answered with the hits
 * (`bulk-answer`). Their content is what 2008/616/JHA Art. 8 lets a request and an answer hold:
 * the requesting state's code, date, time and indication number of the request (`reference`,
 * `requestedAt`, the same for every chunk of one comparison), the profiles with their references
 * and their type (always unidentified: Art. 4(1)); in the answer hit/no hit, the times and
 * references of request and answer, both states' codes, and per hit the references on both sides,
 * the type, the quality of the match and the matching profile.
 *
 * As for searches (messages.ts), `messageId` is kept across retries and only `sentAt` changes, every
 * message and answer is signed (jws.ts), and the receiver answers a message id once.
 */
import { createHash } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { DNA_PURPOSE } from '../dna/national-file.ts';
import { canonicalJson, Country, Instant, MessageId, PROTOCOL, Reference } from './messages.ts';

export const BULK_LEGAL_BASIS = 'Prüm Decision Art. 4(1)';
/** Profiles in one chunk: at most this many are accepted; requesting nodes send 500 by default. */
export const BULK_MAX_CHUNK = 1000;
export const BULK_DEFAULT_CHUNK = 500;
/** Largest chunk body accepted at the peer interface (1,000 profiles of 35 loci fit with room). */
export const BULK_BODY_LIMIT = 2 * 1024 * 1024;
/** Largest number of hits in one chunk's answer. */
export const BULK_MAX_HITS = 20_000;

const Loci = Type.Record(Type.String({ minLength: 1, maxLength: 40 }), Type.Array(Type.String({ minLength: 1, maxLength: 16 }), { minItems: 2, maxItems: 2 }), { maxProperties: 64 });
const ProfileRef = Type.String({ minLength: 1, maxLength: 64 });
const Kind = Type.Union([Type.Literal('reference'), Type.Literal('unidentified')]);
const Quality = Type.Union([Type.Literal('match'), Type.Literal('wildcard-match'), Type.Literal('near-match')]);
const Mode = Type.Union([Type.Literal('all'), Type.Literal('new')]);
const Count = (max: number) => Type.Integer({ minimum: 0, maximum: max });

/** Does the requested state consent to a comparison with the requesting one? (No profile in it.) */
export const BulkOpen = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('bulk-open'),
    messageId: MessageId,
    sentAt: Instant,
    requestingState: Country,
    requestedState: Country,
    reference: Reference,
    requestedAt: Instant,
    purpose: Type.Literal(DNA_PURPOSE),
    mode: Mode,
    profiles: Count(100_000_000),
    chunks: Count(1_000_000),
  },
  { additionalProperties: false },
);
export type BulkOpen = Static<typeof BulkOpen>;

export const BulkOpened = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('bulk-opened'),
    messageId: MessageId,
    sentAt: Instant,
    inReplyTo: MessageId,
    requestingState: Country,
    requestedState: Country,
    request: Type.Object({ reference: Reference, requestedAt: Instant }, { additionalProperties: false }),
    answer: Type.Object({ reference: Reference, answeredAt: Instant }, { additionalProperties: false }),
    accepted: Type.Literal(true),
    /** The requested state's daily limit for the requesting state, and what it used today (UTC). */
    maxProfilesPerDay: Count(100_000_000),
    usedToday: Count(100_000_000),
    maxChunkProfiles: Count(BULK_MAX_CHUNK),
    /** The files its profiles are compared with (Prüm Decision Art. 2(3)). */
    files: Type.Array(Type.Union([Type.Literal('dna-reference'), Type.Literal('dna-unidentified')]), { maxItems: 2 }),
  },
  { additionalProperties: false },
);
export type BulkOpened = Static<typeof BulkOpened>;

export const BulkChunk = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('bulk-chunk'),
    messageId: MessageId,
    sentAt: Instant,
    requestingState: Country,
    requestedState: Country,
    reference: Reference,
    requestedAt: Instant,
    purpose: Type.Literal(DNA_PURPOSE),
    chunk: Type.Object({ index: Count(1_000_000), count: Type.Integer({ minimum: 1, maximum: 1_000_001 }) }, { additionalProperties: false }),
    // Art. 4(1): only unidentified profiles are supplied for comparison (a reference profile is
    // refused with its own message by the receiver, bulk-peer.ts).
    profiles: Type.Array(Type.Object({ ref: ProfileRef, kind: Kind, loci: Loci }, { additionalProperties: false }), { minItems: 1, maxItems: BULK_MAX_CHUNK }),
  },
  { additionalProperties: false },
);
export type BulkChunk = Static<typeof BulkChunk>;

export const BulkHit = Type.Object(
  {
    /** The requesting state's reference of its profile (2008/616/JHA Art. 8(2)(e)). */
    requestRef: ProfileRef,
    /** The requested state's reference of the matching profile. */
    ref: ProfileRef,
    kind: Kind,
    quality: Quality,
    matchingLoci: Count(64),
    comparedLoci: Count(64),
    mismatches: Type.Integer({ minimum: 0, maximum: 1 }),
    rmp: Type.Number({ minimum: 0, maximum: 1 }),
    profile: Type.Object({ ref: ProfileRef, kind: Kind, loci: Loci }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type BulkHit = Static<typeof BulkHit>;

export const BulkAnswer = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('bulk-answer'),
    messageId: MessageId,
    sentAt: Instant,
    inReplyTo: MessageId,
    requestingState: Country,
    requestedState: Country,
    request: Type.Object({ reference: Reference, requestedAt: Instant }, { additionalProperties: false }),
    answer: Type.Object({ reference: Reference, answeredAt: Instant }, { additionalProperties: false }),
    chunk: BulkChunk.properties.chunk,
    compared: Count(BULK_MAX_CHUNK),
    hit: Type.Boolean(),
    hits: Type.Array(BulkHit, { maxItems: BULK_MAX_HITS }),
  },
  { additionalProperties: false },
);
export type BulkAnswer = Static<typeof BulkAnswer>;

/** The identity of a message across retries: all but the time of the attempt (see requestDigest). */
export function bulkDigest(message: BulkOpen | BulkChunk): string {
  const { sentAt: _sentAt, ...rest } = message;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}
