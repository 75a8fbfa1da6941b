/**
 * The hashing of the audit log's Merkle tree, exactly as RFC 9162 §2.1.1 defines it for
 * Certificate Transparency v2 (unchanged from RFC 6962 §2.1), with SHA-256 as the hash:
 *
 *   MTH({})      = SHA-256()                         (the empty tree)
 *   leaf hash    = SHA-256(0x00 || leaf data)
 *   node hash    = SHA-256(0x01 || left || right)
 *
 * The distinct one-byte prefixes give second-preimage resistance between leaves and interior nodes
 * (RFC 9162 §2.1.1): without them a forger could present an interior node's 64-byte input as a
 * "leaf" and prove inclusion of something that was never appended.
 *
 * Also here: strict hex helpers, because every binary value of the log travels as lowercase hex in
 * JSON (exports, tree heads), and Buffer.from(x, 'hex') silently drops invalid characters, which a
 * verifier must never do.
 */
import * as nodeCrypto from 'node:crypto';
import { OpenPrumError } from '../../errors/index.ts';

/** Bytes in a SHA-256 digest, and so in every hash of the tree. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

// crypto.hash (one-shot, no Hash object) is about 1.5× faster than createHash on short inputs;
// it exists from Node 20.12. Fall back for earlier 20.x so the engines field (>=20) stays true.
const oneShot: ((data: Uint8Array) => Uint8Array) =
  typeof nodeCrypto.hash === 'function'
    ? (data) => nodeCrypto.hash('sha256', data, 'buffer')
    : (data) => nodeCrypto.createHash('sha256').update(data).digest();

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return oneShot(data);
}

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). A fresh copy: callers may mutate. */
export function emptyRoot(): Uint8Array {
  return oneShot(new Uint8Array(0));
}

/** Leaf hash: SHA-256(0x00 || data) (RFC 9162 §2.1.1). */
export function leafHash(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = LEAF_PREFIX;
  buf.set(data, 1);
  return oneShot(buf);
}

// One scratch buffer for interior nodes: the tree hashes two nodes per append on average and
// millions per bench; allocating 65 bytes each time is measurable. Safe because hashing is
// synchronous and JavaScript runs one call at a time per isolate.
const nodeScratch = new Uint8Array(1 + 2 * HASH_SIZE);
nodeScratch[0] = NODE_PREFIX;

/** Interior node hash: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1). Both inputs 32 bytes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    // Not reachable from verified data (proof elements are length-checked first); a wrong length
    // here is a programming error, and hashing it anyway would give a plausible-looking root.
    throw new OpenPrumError('input-invalid', `A Merkle node hash takes two ${HASH_SIZE}-byte hashes.`, {
      leftLength: left.length,
      rightLength: right.length,
    });
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return oneShot(nodeScratch);
}

/** Byte-wise equality. Tree hashes are public, so no constant-time comparison is needed. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/**
 * Strict hex decoding: lowercase only, even length, and, when `length` is given, exactly that many
 * bytes. Throws `input-invalid` naming `what`, so a CLI user learns which field was wrong.
 */
export function fromHex(hex: unknown, what: string, length?: number): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new OpenPrumError('input-invalid', `${what} must be lowercase hexadecimal.`, { field: what });
  }
  if (length !== undefined && hex.length !== 2 * length) {
    throw new OpenPrumError('input-invalid', `${what} must be ${length} bytes (${2 * length} hex digits).`, {
      field: what,
      length: hex.length / 2,
    });
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Writes `value` (a safe non-negative integer) as an unsigned 64-bit big-endian integer. */
export function writeUint64(target: Uint8Array, offset: number, value: number): void {
  // RFC 9162 uses uint64 for sizes, indices and timestamps; JavaScript numbers are exact to 2^53,
  // which no log of this project approaches, so split into two 32-bit halves instead of BigInt.
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(offset, Math.floor(value / 0x1_0000_0000));
  view.setUint32(offset + 4, value >>> 0);
}

/** True when `n` is an integer in [0, 2^53). */
export function isSafeNonNegativeInteger(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
