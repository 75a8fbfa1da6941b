/**
 * Signed tree heads, peer countersignatures, and the `Witness` that catches a node rewriting or
 * forking its audit log.
 *
 * A tree head says "my log of supplies and receipts had `treeSize` entries with root `rootHash`
 * at `timestamp`", signed with the node's Ed25519 key (RFC 8032, via node:crypto). It plays the
 * role of RFC 9162 §4.10's signed tree head, with a simpler, fixed binary encoding (below) instead
 * of TLS structures, since no CT client needs to read it.
 *
 * A signature alone does not stop a node from keeping two histories and showing each to different
 * peers (a "split view", RFC 9162 §8.2 and §11.3). Peers therefore act as witnesses: each keeps
 * the latest head it has seen of every other node and accepts a newer one only with a consistency
 * proof from the old one (RFC 9162 §2.1.4), then countersigns it. Heads travel between peers with
 * their countersignatures, so two validly signed heads of one log with the same size and different
 * roots meet at some witness: that pair is self-contained, non-repudiable evidence of a fork.
 */
import { createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { OpenPrumError } from '../../errors/index.ts';
import { HASH_SIZE, bytesEqual, fromHex, isSafeNonNegativeInteger, sha256, toHex, writeUint64 } from './hash.ts';
import { verifyConsistency } from './tree.ts';

/** Ed25519 signatures are 64 bytes (RFC 8032 §5.1.6). */
export const SIGNATURE_SIZE = 64;

/** Which log: the node's country (ISO 3166-1 alpha-2; EU usage, so Greece is EL) and key id. */
export interface LogId {
  readonly country: string;
  /** By default `keyIdOf(publicKey)`: hex SHA-256 of the key's SubjectPublicKeyInfo (RFC 6962 §3.2). */
  readonly keyId: string;
}

export interface TreeHead {
  readonly logId: LogId;
  readonly treeSize: number;
  /** Milliseconds since the Unix epoch, as RFC 6962 §3.5 timestamps. */
  readonly timestamp: number;
  readonly rootHash: Uint8Array;
}

/** A peer's countersignature over a tree head. */
export interface Cosignature {
  readonly witness: LogId;
  /** When the witness accepted the head (ms since the epoch). */
  readonly timestamp: number;
  readonly signature: Uint8Array;
}

export interface SignedTreeHead extends TreeHead {
  readonly signature: Uint8Array;
  readonly cosignatures: readonly Cosignature[];
}

/** JSON form of a signed tree head: binary fields as lowercase hex. */
export interface SignedTreeHeadJson {
  logId: { country: string; keyId: string };
  treeSize: number;
  timestamp: number;
  rootHash: string;
  signature: string;
  cosignatures: { witness: { country: string; keyId: string }; timestamp: number; signature: string }[];
}

const COUNTRY_RE = /^[A-Z]{2}$/;
const KEY_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const HEAD_TAG = new TextEncoder().encode('openprum/tree-head/v1\u0000');
const COSIGN_TAG = new TextEncoder().encode('openprum/cosignature/v1\u0000');

/** "DE/3f…": the key under which witnesses and verifiers file a log. */
export function logIdToString(id: LogId): string {
  return `${id.country}/${id.keyId}`;
}

function checkLogId(id: LogId, what: string): void {
  if (!COUNTRY_RE.test(id.country) || !KEY_ID_RE.test(id.keyId)) {
    throw new OpenPrumError('input-invalid', `${what} must be a two-letter country code and a key id of 1-64 letters, digits, '.', '_' or '-'.`, {
      field: what,
    });
  }
}

/** The key id of an Ed25519 public key: hex SHA-256 of its DER SubjectPublicKeyInfo (RFC 6962 §3.2). */
export function keyIdOf(publicKey: KeyObject): string {
  return toHex(sha256(publicKey.export({ format: 'der', type: 'spki' })));
}

/** The log id of a node of `country` with `publicKey`. */
export function logIdFor(country: string, publicKey: KeyObject): LogId {
  const id = { country, keyId: keyIdOf(publicKey) };
  checkLogId(id, 'logId');
  return id;
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): SEQUENCE { SEQUENCE { OID
// 1.3.101.112 }, BIT STRING (33 bytes) }, followed by the 32 raw key bytes.
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** An Ed25519 public key from its 32 raw bytes (RFC 8032 §5.1.5), e.g. from configuration. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) {
    throw new OpenPrumError('input-invalid', 'An Ed25519 public key is 32 bytes.', { length: raw.length });
  }
  const der = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
  der.set(ED25519_SPKI_PREFIX);
  der.set(raw, ED25519_SPKI_PREFIX.length);
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

function writeLogId(out: number[], id: LogId): void {
  // Length-prefixed (1 byte) like TLS opaque<1..2^8-1> (RFC 8446 §3.4): keeps the encoding
  // injective, so no two different heads share a signed message.
  const country = new TextEncoder().encode(id.country);
  const keyId = new TextEncoder().encode(id.keyId);
  out.push(country.length, ...country, keyId.length, ...keyId);
}

/**
 * The canonical bytes a tree head is signed over:
 *
 *   "openprum/tree-head/v1" 0x00
 *   u8 len || country (ASCII) || u8 len || keyId (ASCII)
 *   u64 treeSize || u64 timestamp || rootHash (32)          (integers big-endian)
 *
 * The tag is domain separation: a node's key signs tree heads and countersignatures (and maybe
 * more later); no signature made for one purpose can be replayed as another.
 */
export function encodeTreeHead(head: TreeHead): Uint8Array {
  checkLogId(head.logId, 'logId');
  if (!isSafeNonNegativeInteger(head.treeSize) || !isSafeNonNegativeInteger(head.timestamp)) {
    throw new OpenPrumError('input-invalid', 'A tree head needs a non-negative integer treeSize and timestamp.');
  }
  if (head.rootHash.length !== HASH_SIZE) {
    throw new OpenPrumError('input-invalid', `A tree head's root hash is ${HASH_SIZE} bytes.`);
  }
  const id: number[] = [];
  writeLogId(id, head.logId);
  const out = new Uint8Array(HEAD_TAG.length + id.length + 16 + HASH_SIZE);
  let at = 0;
  out.set(HEAD_TAG, at);
  at += HEAD_TAG.length;
  out.set(id, at);
  at += id.length;
  writeUint64(out, at, head.treeSize);
  writeUint64(out, at + 8, head.timestamp);
  out.set(head.rootHash, at + 16);
  return out;
}

/**
 * The bytes a witness signs: "openprum/cosignature/v1" 0x00 || witness log id || u64 timestamp ||
 * encodeTreeHead(head). The head's own encoding is inside unchanged; the distinct tag and the
 * witness's identity keep a countersignature from ever passing as the witness's own tree head.
 */
export function encodeCosigned(head: TreeHead, witness: LogId, timestamp: number): Uint8Array {
  checkLogId(witness, 'witness');
  if (!isSafeNonNegativeInteger(timestamp)) {
    throw new OpenPrumError('input-invalid', 'A countersignature timestamp must be a non-negative integer.');
  }
  const id: number[] = [];
  writeLogId(id, witness);
  const body = encodeTreeHead(head);
  const out = new Uint8Array(COSIGN_TAG.length + id.length + 8 + body.length);
  out.set(COSIGN_TAG, 0);
  out.set(id, COSIGN_TAG.length);
  writeUint64(out, COSIGN_TAG.length + id.length, timestamp);
  out.set(body, COSIGN_TAG.length + id.length + 8);
  return out;
}

function plainHead(head: TreeHead): TreeHead {
  return { logId: { country: head.logId.country, keyId: head.logId.keyId }, treeSize: head.treeSize, timestamp: head.timestamp, rootHash: head.rootHash };
}

/** Signs `head` with the node's Ed25519 private key. */
export function signTreeHead(head: TreeHead, privateKey: KeyObject): SignedTreeHead {
  const signature = new Uint8Array(edSign(null, encodeTreeHead(head), privateKey));
  return { ...plainHead(head), signature, cosignatures: [] };
}

function safeVerify(message: Uint8Array, publicKey: KeyObject, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_SIZE) return false;
  try {
    return edVerify(null, message, publicKey, signature);
  } catch {
    return false; // wrong key type and the like: for a verifier, simply "does not verify"
  }
}

/** Whether `sth` carries a valid signature by `publicKey`. Never throws on malformed heads. */
export function verifyTreeHead(sth: SignedTreeHead, publicKey: KeyObject): boolean {
  let message: Uint8Array;
  try {
    message = encodeTreeHead(sth);
  } catch {
    return false;
  }
  return safeVerify(message, publicKey, sth.signature);
}

/** A witness's countersignature over `head`. */
export function cosignTreeHead(head: TreeHead, witness: LogId, privateKey: KeyObject, timestamp: number = Date.now()): Cosignature {
  const signature = new Uint8Array(edSign(null, encodeCosigned(head, witness, timestamp), privateKey));
  return { witness: { country: witness.country, keyId: witness.keyId }, timestamp, signature };
}

/** Whether `cosig` is a valid countersignature of `head` by `witnessKey`. Never throws. */
export function verifyCosignature(head: TreeHead, cosig: Cosignature, witnessKey: KeyObject): boolean {
  let message: Uint8Array;
  try {
    message = encodeCosigned(head, cosig.witness, cosig.timestamp);
  } catch {
    return false;
  }
  return safeVerify(message, witnessKey, cosig.signature);
}

/** `sth` with `cosig` added, replacing an earlier one by the same witness. */
export function withCosignature(sth: SignedTreeHead, cosig: Cosignature): SignedTreeHead {
  const who = logIdToString(cosig.witness);
  return { ...sth, cosignatures: [...sth.cosignatures.filter((c) => logIdToString(c.witness) !== who), cosig] };
}

export function signedTreeHeadToJson(sth: SignedTreeHead): SignedTreeHeadJson {
  return {
    logId: { country: sth.logId.country, keyId: sth.logId.keyId },
    treeSize: sth.treeSize,
    timestamp: sth.timestamp,
    rootHash: toHex(sth.rootHash),
    signature: toHex(sth.signature),
    cosignatures: sth.cosignatures.map((c) => ({
      witness: { country: c.witness.country, keyId: c.witness.keyId },
      timestamp: c.timestamp,
      signature: toHex(c.signature),
    })),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseLogId(v: unknown, what: string): LogId {
  if (!isRecord(v) || typeof v.country !== 'string' || typeof v.keyId !== 'string') {
    throw new OpenPrumError('input-invalid', `${what} must be an object with a country and a keyId.`, { field: what });
  }
  const id = { country: v.country, keyId: v.keyId };
  checkLogId(id, what);
  return id;
}

function parseInteger(v: unknown, what: string): number {
  if (!isSafeNonNegativeInteger(v)) {
    throw new OpenPrumError('input-invalid', `${what} must be a non-negative integer.`, { field: what });
  }
  return v;
}

/** Parses and validates the JSON form; throws `input-invalid` naming the faulty field. */
export function signedTreeHeadFromJson(json: unknown, what = 'treeHead'): SignedTreeHead {
  if (!isRecord(json)) throw new OpenPrumError('input-invalid', `${what} must be an object.`, { field: what });
  const cosigs = json.cosignatures ?? [];
  if (!Array.isArray(cosigs)) throw new OpenPrumError('input-invalid', `${what}.cosignatures must be an array.`, { field: what });
  return {
    logId: parseLogId(json.logId, `${what}.logId`),
    treeSize: parseInteger(json.treeSize, `${what}.treeSize`),
    timestamp: parseInteger(json.timestamp, `${what}.timestamp`),
    rootHash: fromHex(json.rootHash, `${what}.rootHash`, HASH_SIZE),
    signature: fromHex(json.signature, `${what}.signature`, SIGNATURE_SIZE),
    cosignatures: cosigs.map((c: unknown, i) => {
      const at = `${what}.cosignatures[${i}]`;
      if (!isRecord(c)) throw new OpenPrumError('input-invalid', `${at} must be an object.`, { field: at });
      return {
        witness: parseLogId(c.witness, `${at}.witness`),
        timestamp: parseInteger(c.timestamp, `${at}.timestamp`),
        signature: fromHex(c.signature, `${at}.signature`, SIGNATURE_SIZE),
      };
    }),
  };
}

// --- comparing heads and witnessing -----------------------------------------------------------

/** How two heads of the same log relate. */
export type HeadRelation =
  /** Same size and root. */
  | 'identical'
  /** The smaller is proven a prefix of the larger. */
  | 'consistent'
  /** Same size, different roots: two histories. */
  | 'fork'
  /** A consistency proof was given and does not verify: the larger does not extend the smaller. */
  | 'inconsistent'
  /** Different sizes and no proof given: cannot tell yet. */
  | 'proof-required';

/**
 * Relates two heads of one log (signatures are the caller's business). `proof`, if any, must be
 * the consistency proof from the smaller to the larger head.
 */
export function compareTreeHeads(a: TreeHead, b: TreeHead, proof?: readonly Uint8Array[]): HeadRelation {
  if (a.treeSize === b.treeSize) return bytesEqual(a.rootHash, b.rootHash) ? 'identical' : 'fork';
  if (proof === undefined) return 'proof-required';
  const [small, large] = a.treeSize < b.treeSize ? [a, b] : [b, a];
  return verifyConsistency(small.treeSize, large.treeSize, small.rootHash, large.rootHash, proof) ? 'consistent' : 'inconsistent';
}

/** The outcome of showing a witness a tree head. Only 'accepted' advances the witness. */
export type WitnessVerdict =
  /** Newer than anything seen and proven consistent (or the first head seen of this log). */
  | { readonly kind: 'accepted'; readonly log: string; readonly head: SignedTreeHead; readonly previous: SignedTreeHead | undefined; readonly cosignature: Cosignature | undefined }
  /** Same size and root as a head already seen. */
  | { readonly kind: 'duplicate'; readonly log: string; readonly head: SignedTreeHead }
  /** Older than the latest head and proven a prefix of it. */
  | { readonly kind: 'stale'; readonly log: string; readonly head: SignedTreeHead; readonly latest: SignedTreeHead }
  /** Newer or older than the latest head, and no consistency proof from `fromSize` to `toSize` was given. */
  | { readonly kind: 'proof-required'; readonly log: string; readonly head: SignedTreeHead; readonly latest: SignedTreeHead; readonly fromSize: number; readonly toSize: number }
  /** Two validly signed heads, same size, different roots: proof that the log keeps two histories. */
  | { readonly kind: 'fork'; readonly log: string; readonly evidence: readonly [SignedTreeHead, SignedTreeHead] }
  /** The consistency proof between a seen head and this one fails: the log rewrote its history (or sent a corrupt proof). */
  | { readonly kind: 'rewrite'; readonly log: string; readonly earlier: SignedTreeHead; readonly later: SignedTreeHead; readonly proof: readonly Uint8Array[] }
  /** Not considered at all. */
  | { readonly kind: 'rejected'; readonly log: string; readonly reason: 'unknown-log' | 'bad-signature' | 'timestamp-regression'; readonly head: SignedTreeHead };

export interface WitnessOptions {
  /** Public keys of the logs this witness follows, filed by `logIdToString`. */
  readonly logs: ReadonlyMap<string, KeyObject>;
  /** When given, accepted heads are countersigned with this identity. */
  readonly signer?: { readonly id: LogId; readonly privateKey: KeyObject };
  /** Clock for countersignature timestamps (tests inject one). */
  readonly now?: () => number;
  /** Past heads remembered per log for fork detection; the oldest are forgotten first. Default 10 000. */
  readonly memory?: number;
}

interface LogState {
  latest: SignedTreeHead;
  /**
   * Heads proven to lie on one consistent history (accepted, or older and proven a prefix), by
   * size; Map keeps insertion order for eviction. Unproven heads are not kept: the log itself
   * could otherwise flush this memory with heads of its own making.
   */
  readonly bySize: Map<number, SignedTreeHead>;
}

/**
 * Keeps, per followed log, the latest accepted head and the heads proven consistent with it, and judges each new head
 * (from the log itself or gossiped by another peer) as accepted, duplicate, stale, needing a
 * proof, a fork, a rewrite, or rejected. State lives in memory; persist `latest()` heads and
 * replay them through `observe` on start.
 */
export class Witness {
  readonly #logs: ReadonlyMap<string, KeyObject>;
  readonly #signer: WitnessOptions['signer'];
  readonly #now: () => number;
  readonly #memory: number;
  readonly #state = new Map<string, LogState>();

  constructor(options: WitnessOptions) {
    this.#logs = options.logs;
    this.#signer = options.signer;
    this.#now = options.now ?? Date.now;
    this.#memory = Math.max(1, options.memory ?? 10_000);
  }

  /** The latest accepted head of `log` (a `logIdToString`), if any. */
  latest(log: string): SignedTreeHead | undefined {
    return this.#state.get(log)?.latest;
  }

  /**
   * Judges `head`. `proof` is the consistency proof between the witness's latest head of that log
   * and `head` (from the smaller to the larger size); fetch it from the log when the verdict is
   * 'proof-required' and call again.
   */
  observe(head: SignedTreeHead, proof?: readonly Uint8Array[]): WitnessVerdict {
    let log: string;
    try {
      checkLogId(head.logId, 'logId');
      log = logIdToString(head.logId);
    } catch {
      return { kind: 'rejected', log: '', reason: 'unknown-log', head };
    }
    const key = this.#logs.get(log);
    if (key === undefined) return { kind: 'rejected', log, reason: 'unknown-log', head };
    if (!verifyTreeHead(head, key)) return { kind: 'rejected', log, reason: 'bad-signature', head };

    const state = this.#state.get(log);
    if (state === undefined) {
      // Trust on first use: nothing to be consistent with yet.
      const fresh: LogState = { latest: head, bySize: new Map() };
      this.#state.set(log, fresh);
      this.#remember(fresh, head);
      return this.#accept(log, head, undefined);
    }

    // Any remembered head of the same size, not only the latest, can expose a fork.
    const same = state.bySize.get(head.treeSize) ?? (state.latest.treeSize === head.treeSize ? state.latest : undefined);
    if (same !== undefined) {
      return bytesEqual(same.rootHash, head.rootHash)
        ? { kind: 'duplicate', log, head }
        : { kind: 'fork', log, evidence: [same, head] };
    }

    const latest = state.latest;
    if (head.treeSize > latest.treeSize) {
      // A log's heads grow in size and time together; a larger tree stamped earlier is not a
      // head this log could honestly have produced after `latest`.
      if (head.timestamp < latest.timestamp) return { kind: 'rejected', log, reason: 'timestamp-regression', head };
      if (proof === undefined) {
        return { kind: 'proof-required', log, head, latest, fromSize: latest.treeSize, toSize: head.treeSize };
      }
      if (compareTreeHeads(latest, head, proof) !== 'consistent') {
        return { kind: 'rewrite', log, earlier: latest, later: head, proof };
      }
      this.#remember(state, head);
      state.latest = head;
      return this.#accept(log, head, latest);
    }

    // Older than the latest (e.g. gossiped by a peer that is behind): judged like a newer one,
    // by a consistency proof, here from it to the latest.
    if (proof === undefined) {
      return { kind: 'proof-required', log, head, latest, fromSize: head.treeSize, toSize: latest.treeSize };
    }
    if (compareTreeHeads(head, latest, proof) !== 'consistent') {
      return { kind: 'rewrite', log, earlier: head, later: latest, proof };
    }
    this.#remember(state, head);
    return { kind: 'stale', log, head, latest };
  }

  #remember(state: LogState, head: SignedTreeHead): void {
    state.bySize.set(head.treeSize, head);
    while (state.bySize.size > this.#memory) {
      const oldest = state.bySize.keys().next().value;
      if (oldest === undefined) break;
      state.bySize.delete(oldest); // the latest head stays in `state.latest` regardless
    }
  }

  #accept(log: string, head: SignedTreeHead, previous: SignedTreeHead | undefined): WitnessVerdict {
    const cosignature = this.#signer ? cosignTreeHead(head, this.#signer.id, this.#signer.privateKey, this.#now()) : undefined;
    return { kind: 'accepted', log, head, previous, cosignature };
  }
}
