/**
 * The messages between nodes. Their content is what 2008/616/JHA Art. 8 lets a request and an answer
 * contain, and no more:
 *
 * - a request (Art. 8(1)): the requesting state's code; the date, time and indication number
 *   (reference) of the request; the data searched (DNA profiles and their references, vehicle keys, ...)
 *   and their type (reference or unidentified), inside the kind's `query`;
 * - an answer (Art. 8(2)): hit or no hit; the date, time and reference of the request and of the
 *   answer; the codes of the requesting and requested states; the matched reference data and the
 *   quality of the match, inside the kind's `result`.
 *
 * `messageId` is unique per message and kept across retries of the same request, which makes retries
 * idempotent; `sentAt` is the time of this attempt and bounds replays to a short window. Every message
 * is signed by its sender (see jws.ts). The schemas of `query` and `result` belong to each search kind.
 */
import { createHash } from 'node:crypto';
import Type, { type Static } from 'typebox';

export const PROTOCOL = 'openprum/1';

export const Country = Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 state code (EL for Greece)' });
export const MessageId = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'UUID, lower case' });
/** An instant in UTC, ISO 8601 with optional fraction (up to microseconds, as the database keeps them). */
export const Instant = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?Z$' });
export const Reference = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]*$', description: 'Indication number of a request or answer' });
export const KindName = Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' });

export const SearchRequest = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('search-request'),
    messageId: MessageId,
    sentAt: Instant,
    requestingState: Country,
    requestedState: Country,
    reference: Reference,
    requestedAt: Instant,
    kind: KindName,
    query: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type SearchRequest = Static<typeof SearchRequest>;

export const SearchAnswer = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('search-answer'),
    messageId: MessageId,
    sentAt: Instant,
    inReplyTo: MessageId,
    requestingState: Country,
    requestedState: Country,
    request: Type.Object({ reference: Reference, requestedAt: Instant }, { additionalProperties: false }),
    answer: Type.Object({ reference: Reference, answeredAt: Instant }, { additionalProperties: false }),
    kind: KindName,
    hit: Type.Boolean(),
    result: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type SearchAnswer = Static<typeof SearchAnswer>;

/** A refusal by a peer: RFC 9457 problem details, signed like every answer, naming what it refuses. */
export const PeerProblem = Type.Object(
  {
    type: Type.String({ maxLength: 200 }),
    title: Type.String({ maxLength: 500 }),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.String({ maxLength: 2000 }),
    code: Type.String({ maxLength: 100 }),
    state: Country,
    at: Instant,
    inReplyTo: Type.Optional(MessageId),
  },
  { additionalProperties: true },
);
export type PeerProblem = Static<typeof PeerProblem>;

/** JSON with object keys sorted, for digests that do not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The identity of a request across its retries: everything but the time of the attempt. Two messages
 * with one id and different digests are a conflict, not a retry.
 */
export function requestDigest(request: SearchRequest): string {
  const { sentAt: _sentAt, ...rest } = request;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** Replays are bounded by this window around the receiver's clock. */
export const REPLAY_WINDOW_MS = 5 * 60_000;

export function isoNow(now: Date = new Date()): string {
  return now.toISOString();
}
