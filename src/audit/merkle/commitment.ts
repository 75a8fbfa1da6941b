/**
 * What one audit-log entry commits to, and how an entry's personal data can be erased later
 * without breaking the tree.
 *
 * The tension. The log must be tamper-evident: a supervisor re-derives every leaf hash and the
 * root (RFC 9162 §2.1). But entries about supplies and receipts of Prüm data hold personal data,
 * which must be erased when its retention period ends (Prüm Decision 2008/615/JHA Art. 30(4):
 * logged data are kept for two years and then deleted at once; Framework Decision 2008/977/JHA
 * Art. 4(2), now Directive (EU) 2016/680 Arts. 5 and 16: erasure when no longer needed). If a leaf
 * committed to the content directly, erasing the content would make that leaf, and so the whole
 * tree, unverifiable.
 *
 * The design: a two-step, salted (hiding) commitment.
 *
 *   contentDigest = SHA-256(UTF-8(canonicalJson(content)))          32 bytes
 *   commitment    = SHA-256("openprum/audit-commitment/v1" || 0x00 || salt || contentDigest)
 *   leaf data     = 0x01 (encoding version) || uint64 index || commitment        41 bytes
 *   leaf hash     = SHA-256(0x00 || leaf data)                      (RFC 9162 §2.1.1)
 *
 * with `salt` 32 fresh random bytes per entry. A live entry keeps (index, salt, content); the
 * content digest and commitment are recomputed from them. An erased entry keeps only
 * (index, commitment): content, digest and salt are all deleted. The leaf hash depends only on
 * (index, commitment), so the tree and every proof stay verifiable, and a redacted entry still
 * proves its place (its inclusion proof is unchanged).
 *
 * Why not keep (index, salt, contentDigest) after erasure, as a first sketch suggested: the digest
 * of low-entropy personal data (a plate number, a reference number and a date) is found again by
 * guessing and hashing candidates; a hash of personal data is pseudonymous, not anonymous (Article
 * 29 Working Party, Opinion 05/2014 on anonymisation techniques). Salting the *digest*
 * does not help if the salt is kept next to it. Only a commitment whose randomness (the 256-bit
 * salt) is destroyed hides the content; it stays binding because SHA-256 is collision resistant,
 * so the node cannot later claim another content for the same leaf.
 *
 * Why the index is in the leaf: the Merkle tree already fixes each leaf's position, but binding the
 * index into the leaf also makes an entry self-describing. A verifier holding the authentic leaf
 * hashes can then tell "this record was renumbered from 17 to 16" (its commitment hashes to the
 * leaf at 17) from "this record was altered", and a stored row whose index column was edited no
 * longer matches any leaf at its claimed position.
 *
 * The version byte and the text tag are domain separation: a future encoding, or another protocol
 * hashing the same 64 bytes, cannot produce colliding leaves or commitments.
 */
import { randomFillSync } from 'node:crypto';
import { OpenPrumError } from '../../errors/index.ts';
import { HASH_SIZE, isSafeNonNegativeInteger, sha256, writeUint64 } from './hash.ts';

/** Bytes of random salt per entry: 256 bits, so guessing the commitment's opening is hopeless. */
export const SALT_SIZE = 32;

/** First byte of the leaf data: the leaf encoding version. */
export const LEAF_VERSION = 0x01;

/** Length of the leaf data: version (1) + index (8) + commitment (32). */
export const LEAF_DATA_SIZE = 1 + 8 + HASH_SIZE;

const COMMITMENT_TAG = new TextEncoder().encode('openprum/audit-commitment/v1\u0000');
const utf8 = new TextEncoder();

// Salts come from the CSPRNG in blocks of 128: one randomFillSync call costs about as much as the
// rest of an append, and 32 bytes cut from a larger CSPRNG draw are just as unpredictable. Each
// salt is copied out, and each block is used once.
const SALT_POOL = new Uint8Array(SALT_SIZE * 128);
let saltPoolNext = SALT_POOL.length;

/** A fresh random salt for a new entry (32 bytes from node:crypto's CSPRNG). */
export function newSalt(): Uint8Array {
  if (saltPoolNext === SALT_POOL.length) {
    randomFillSync(SALT_POOL);
    saltPoolNext = 0;
  }
  const salt = SALT_POOL.slice(saltPoolNext, saltPoolNext + SALT_SIZE);
  saltPoolNext += SALT_SIZE;
  return salt;
}

/**
 * Canonical JSON in the style of RFC 8785 (JCS): object members sorted by the UTF-16 code units of
 * their names (§3.2.3), no whitespace, strings escaped as ECMAScript JSON.stringify does (§3.2.2.2)
 * and numbers in ECMAScript's shortest round-trip form (§3.2.2.3), which is what JSON.stringify
 * gives for finite numbers. The same content therefore always gives the same bytes, whichever
 * code, database (jsonb reorders keys) or language produced it.
 *
 * Rejected with `input-invalid`, because they have no single JSON form: non-finite numbers,
 * BigInt, functions, symbols, non-plain objects (Date, Map, class instances: convert them first,
 * a Date to its ISO string), strings with unpaired surrogates (not I-JSON, RFC 7493 §2.1, which
 * JCS requires), and `undefined` at the top level. As in JSON.stringify, object members whose
 * value is `undefined` are left out, so canonicalJson(x) equals canonicalJson(JSON.parse(...)) of
 * itself: a digest made before storing equals one made after reading back.
 *
 * Note: integers beyond 2^53 lose precision in any JSON parser of JavaScript; put them in strings.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) {
    throw new OpenPrumError('input-invalid', 'The content to digest is undefined; give a JSON value.', { path: '$' });
  }
  const out: string[] = [];
  writeCanonical(value, '$', out, new Set());
  return out.join('');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function writeCanonical(value: unknown, path: string, out: string[], seen: Set<object>): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new OpenPrumError('input-invalid', `The content has a non-finite number at ${path}; JSON has no form for it.`, { path });
      }
      out.push(JSON.stringify(value)); // -0 becomes "0", as RFC 8785 §3.2.2.3 requires
      return;
    case 'string':
      if (LONE_SURROGATE.test(value)) {
        throw new OpenPrumError('input-invalid', `The content has a string with an unpaired surrogate at ${path}.`, { path });
      }
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      throw new OpenPrumError('input-invalid', `The content has a ${typeof value} at ${path}; only JSON values can be digested.`, { path });
  }
  const obj = value as object;
  if (seen.has(obj)) {
    throw new OpenPrumError('input-invalid', `The content refers to itself at ${path}.`, { path });
  }
  seen.add(obj);
  if (Array.isArray(obj)) {
    out.push('[');
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out.push(',');
      const item: unknown = obj[i];
      // JSON.stringify writes undefined array items as null; do the same so that the round trip
      // through storage gives the same digest.
      if (item === undefined) out.push('null');
      else writeCanonical(item, `${path}[${i}]`, out, seen);
    }
    out.push(']');
  } else {
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new OpenPrumError(
        'input-invalid',
        `The content has a non-plain object at ${path}; convert it to plain JSON first (a Date to its ISO string).`,
        { path },
      );
    }
    const record = obj as Record<string, unknown>;
    // Default sort compares UTF-16 code units, exactly the order RFC 8785 §3.2.3 prescribes.
    const keys = Object.keys(record).sort();
    out.push('{');
    let first = true;
    for (const key of keys) {
      const member = record[key];
      if (member === undefined) continue;
      if (LONE_SURROGATE.test(key)) {
        throw new OpenPrumError('input-invalid', `The content has a member name with an unpaired surrogate at ${path}.`, { path });
      }
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(key), ':');
      writeCanonical(member, `${path}.${key}`, out, seen);
    }
    out.push('}');
  }
  seen.delete(obj);
}

/** SHA-256 of the UTF-8 canonical JSON of `content`. */
export function contentDigest(content: unknown): Uint8Array {
  return sha256(utf8.encode(canonicalJson(content)));
}

/**
 * The hiding commitment to an entry: SHA-256(tag || salt || contentDigest). What survives erasure.
 */
export function entryCommitment(salt: Uint8Array, digest: Uint8Array): Uint8Array {
  if (salt.length !== SALT_SIZE) {
    throw new OpenPrumError('input-invalid', `An entry salt must be ${SALT_SIZE} bytes.`, { length: salt.length });
  }
  if (digest.length !== HASH_SIZE) {
    throw new OpenPrumError('input-invalid', `A content digest must be ${HASH_SIZE} bytes.`, { length: digest.length });
  }
  const buf = new Uint8Array(COMMITMENT_TAG.length + SALT_SIZE + HASH_SIZE);
  buf.set(COMMITMENT_TAG, 0);
  buf.set(salt, COMMITMENT_TAG.length);
  buf.set(digest, COMMITMENT_TAG.length + SALT_SIZE);
  return sha256(buf);
}

function writeLeafData(target: Uint8Array, offset: number, index: number, commitment: Uint8Array): void {
  if (!isSafeNonNegativeInteger(index)) {
    throw new OpenPrumError('input-invalid', 'An entry index must be a non-negative safe integer.', { index });
  }
  if (commitment.length !== HASH_SIZE) {
    throw new OpenPrumError('input-invalid', `An entry commitment must be ${HASH_SIZE} bytes.`, { length: commitment.length });
  }
  target[offset] = LEAF_VERSION;
  writeUint64(target, offset + 1, index);
  target.set(commitment, offset + 9);
}

/** The leaf data of entry `index`: 0x01 || uint64 index (big-endian) || commitment. */
export function encodeLeafData(index: number, commitment: Uint8Array): Uint8Array {
  const buf = new Uint8Array(LEAF_DATA_SIZE);
  writeLeafData(buf, 0, index, commitment);
  return buf;
}

/** The Merkle leaf hash of entry `index` with `commitment`: SHA-256(0x00 || leaf data). */
export function entryLeafHash(index: number, commitment: Uint8Array): Uint8Array {
  // The same bytes as leafHash(encodeLeafData(...)), built in one buffer since this runs per append.
  const buf = new Uint8Array(1 + LEAF_DATA_SIZE);
  buf[0] = 0x00; // RFC 9162 §2.1.1 leaf prefix
  writeLeafData(buf, 1, index, commitment);
  return sha256(buf);
}

/** Everything derived when an entry is appended. */
export interface CommittedEntry {
  readonly index: number;
  readonly salt: Uint8Array;
  readonly contentDigest: Uint8Array;
  readonly commitment: Uint8Array;
  readonly leafHash: Uint8Array;
}

/**
 * Commits to `content` as entry `index`. Store `index`, `salt`, the content and `commitment`
 * (or recompute it); append `leafHash` to the tree. `salt` is injectable for tests only.
 */
export function commitEntry(index: number, content: unknown, salt: Uint8Array = newSalt()): CommittedEntry {
  const digest = contentDigest(content);
  const commitment = entryCommitment(salt, digest);
  return { index, salt, contentDigest: digest, commitment, leafHash: entryLeafHash(index, commitment) };
}

/** What an erased entry keeps: its index and its commitment, nothing from which content follows. */
export interface RedactedEntry {
  readonly index: number;
  readonly commitment: Uint8Array;
}

/**
 * The erased form of an entry. The caller must delete the content, the salt and the content digest
 * from storage (and from backups, by rotation); this only computes what remains.
 */
export function redactEntry(index: number, salt: Uint8Array, digest: Uint8Array): RedactedEntry {
  return { index, commitment: entryCommitment(salt, digest) };
}
