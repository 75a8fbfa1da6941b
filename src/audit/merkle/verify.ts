/**
 * Offline verification of an audit-log export, for `openprum audit verify`: a supervisor holds the
 * node's public key and an export file, and learns whether the log as exported is the log the
 * node signed, and if not, exactly which entries were altered, deleted, renumbered or duplicated.
 *
 * Trust. Only the signed tree heads are trusted (they verify under the node's key, and peers'
 * countersignatures show the node published them, not a private variant). Everything else in the
 * export — entries, leaf hashes, proofs — is checked against them.
 *
 * Locating a change. A changed entry always changes the root (RFC 9162 §2.1.1), so tampering is
 * always detected; saying *which* entry needs more than the root. In order of precision:
 *
 *  1. `leafHashes` — all leaf hashes of the tree, 32 bytes per entry, taken from the node store
 *     (level 0). If they fold to the signed root they are authentic, and each entry is checked
 *     against the leaf at its index: mismatch = tampered; a commitment that hashes to the leaf at
 *     another index = renumbered ("misplaced"); an authentic leaf no entry accounts for = deleted.
 *  2. per-entry `inclusionProof`s (RFC 9162 §2.1.3) against the largest head: each entry is
 *     checked on its own; the way to export a selection of entries.
 *  3. several signed heads: the root is rebuilt at each head's size, so a change is bracketed
 *     between the last head that matches and the first that does not.
 *
 * Content whose digest disagrees with the stored digest is always pinpointed (the commitment
 * binds the digest, not the content).
 */
import type { KeyObject } from 'node:crypto';
import { OpenPrumError } from '../../errors/index.ts';
import { HASH_SIZE, bytesEqual, fromHex, isSafeNonNegativeInteger, toHex } from './hash.ts';
import { SALT_SIZE, contentDigest, entryCommitment, entryLeafHash } from './commitment.ts';
import {
  logIdToString,
  signedTreeHeadFromJson,
  verifyCosignature,
  verifyTreeHead,
  type SignedTreeHead,
  type SignedTreeHeadJson,
} from './tree-head.ts';
import { MemoryNodeStore, MerkleTree, verifyInclusion } from './tree.ts';

/**
 * One entry of an export. Live: `salt` with `content` and/or `contentDigest` (content withheld).
 * Erased: `redacted: true` with the `commitment` only (see commitment.ts).
 */
export interface ExportEntryJson {
  index: number;
  salt?: string;
  contentDigest?: string;
  content?: unknown;
  redacted?: boolean;
  commitment?: string;
  /** Inclusion proof of this entry in the tree of the largest head (hex hashes). */
  inclusionProof?: string[];
}

export interface AuditExportJson {
  /** Signed tree heads of the exporting node, at least one. The largest is the one verified against. */
  heads: SignedTreeHeadJson[];
  entries: ExportEntryJson[];
  /** 'full' (default): every entry of the largest head's tree; 'selection': some, each with its inclusion proof. */
  scope?: 'full' | 'selection';
  /** All leaf hashes of the largest head's tree, in index order (hex); lets tampering be located exactly. */
  leafHashes?: string[];
}

export interface VerifyOptions {
  /** The exporting node's Ed25519 public key. */
  readonly publicKey: KeyObject;
  /** Witness public keys by `logIdToString`, to check countersignatures. Unknown witnesses are ignored. */
  readonly witnesses?: ReadonlyMap<string, KeyObject>;
}

/** Something wrong with the export. `position` is the entry's place in the export's array. */
export type Finding =
  | { readonly kind: 'head-signature-invalid'; readonly head: number }
  | { readonly kind: 'head-log-mismatch'; readonly head: number }
  | { readonly kind: 'cosignature-invalid'; readonly head: number; readonly witness: string }
  /** Two signed heads with the same size and different roots. */
  | { readonly kind: 'head-fork'; readonly heads: readonly [number, number] }
  /** The entries do not give the root this head signed; a change lies in entries [since, treeSize). */
  | { readonly kind: 'head-root-mismatch'; readonly head: number; readonly treeSize: number; readonly since: number }
  /** The head could not be checked because entries below its size are missing. */
  | { readonly kind: 'head-unverifiable'; readonly head: number; readonly treeSize: number }
  | { readonly kind: 'leaf-hashes-invalid'; readonly reason: string }
  | { readonly kind: 'malformed'; readonly position: number; readonly reason: string }
  /**
   * The entry differs from what was logged: 'content' — its content does not match its digest;
   * 'leaf' — its index/salt/digest/commitment do not give the logged leaf;
   * 'inclusion-proof' — its proof does not place it in the signed tree.
   */
  | { readonly kind: 'tampered'; readonly index: number; readonly position: number; readonly how: 'content' | 'leaf' | 'inclusion-proof' }
  /** No entry for this index of the signed tree: deleted. */
  | { readonly kind: 'missing'; readonly index: number }
  /** The entry claims `index` but is the entry logged at `actualIndex`: renumbered. */
  | { readonly kind: 'misplaced'; readonly index: number; readonly actualIndex: number; readonly position: number }
  | { readonly kind: 'duplicate'; readonly index: number; readonly position: number }
  /** The export lists this entry before one with a smaller index. */
  | { readonly kind: 'reordered'; readonly index: number; readonly position: number };

export interface VerifyReport {
  /** True when nothing was found: every head verifies and the entries are exactly the signed log. */
  readonly ok: boolean;
  readonly log: string;
  /** Size and root of the largest validly signed head (or the largest head, if none verifies). */
  readonly treeSize: number;
  readonly rootHash: string;
  /** Whether every head's signature verifies under the given key. */
  readonly signatureValid: boolean;
  /** Witnesses whose countersignature on the largest head verifies. */
  readonly cosignedBy: readonly string[];
  /** What located changes: see the module comment. */
  readonly localisation: 'leaf-hashes' | 'inclusion-proofs' | 'tree-heads';
  readonly counts: { readonly entries: number; readonly live: number; readonly withheld: number; readonly redacted: number };
  /** Indices beyond the largest head: not yet covered by a signature, so not verified. */
  readonly uncovered: readonly number[];
  readonly findings: readonly Finding[];
}

interface Parsed {
  readonly position: number;
  readonly index: number;
  readonly commitment: Uint8Array;
  readonly leaf: Uint8Array;
  readonly proof: Uint8Array[] | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Builds the export form of a live entry (content may be left out to withhold it). */
export function liveEntryJson(index: number, salt: Uint8Array, content: unknown, withContent = true): ExportEntryJson {
  const entry: ExportEntryJson = { index, salt: toHex(salt), contentDigest: toHex(contentDigest(content)) };
  if (withContent) entry.content = content;
  return entry;
}

/** Builds the export form of an erased entry. */
export function redactedEntryJson(index: number, commitment: Uint8Array): ExportEntryJson {
  return { index, redacted: true, commitment: toHex(commitment) };
}

type Kind = 'live' | 'withheld' | 'redacted';

/** Parses one entry; pushes findings for content mismatch; throws OpenPrumError if malformed. */
function parseEntry(raw: unknown, position: number, findings: Finding[]): { parsed: Parsed; kind: Kind } {
  const at = `entries[${position}]`;
  if (!isRecord(raw)) throw new OpenPrumError('input-invalid', `${at} is not an object.`);
  const index = raw.index;
  if (!isSafeNonNegativeInteger(index)) throw new OpenPrumError('input-invalid', `${at}.index is not a non-negative integer.`);
  let proof: Uint8Array[] | undefined;
  if (raw.inclusionProof !== undefined) {
    if (!Array.isArray(raw.inclusionProof)) throw new OpenPrumError('input-invalid', `${at}.inclusionProof is not an array.`);
    proof = raw.inclusionProof.map((h: unknown, i) => fromHex(h, `${at}.inclusionProof[${i}]`, HASH_SIZE));
  }
  let commitment: Uint8Array;
  let kind: Kind;
  if (raw.redacted === true) {
    if (raw.salt !== undefined || raw.content !== undefined || raw.contentDigest !== undefined) {
      throw new OpenPrumError('input-invalid', `${at} is redacted but still carries salt, content or digest.`);
    }
    commitment = fromHex(raw.commitment, `${at}.commitment`, HASH_SIZE);
    kind = 'redacted';
  } else {
    if (raw.redacted !== undefined) throw new OpenPrumError('input-invalid', `${at}.redacted must be true or absent.`);
    const salt = fromHex(raw.salt, `${at}.salt`, SALT_SIZE);
    const given = raw.contentDigest === undefined ? undefined : fromHex(raw.contentDigest, `${at}.contentDigest`, HASH_SIZE);
    let digest: Uint8Array;
    if (raw.content !== undefined) {
      const actual = contentDigest(raw.content);
      if (given !== undefined && !bytesEqual(given, actual)) {
        findings.push({ kind: 'tampered', index, position, how: 'content' });
      }
      // With both present, commit with the stored digest: then the leaf check tells separately
      // whether the rest of the entry (salt, digest, index) is still the logged one.
      digest = given ?? actual;
      kind = 'live';
    } else if (given !== undefined) {
      digest = given;
      kind = 'withheld';
    } else {
      throw new OpenPrumError('input-invalid', `${at} has neither content nor contentDigest.`);
    }
    commitment = entryCommitment(salt, digest);
    if (raw.commitment !== undefined && !bytesEqual(fromHex(raw.commitment, `${at}.commitment`, HASH_SIZE), commitment)) {
      findings.push({ kind: 'tampered', index, position, how: 'leaf' });
    }
  }
  return { parsed: { position, index, commitment, leaf: entryLeafHash(index, commitment), proof }, kind };
}

/**
 * Verifies an export (parsed JSON) against the node's public key. Throws `input-invalid` only when
 * the file is not an export at all (no heads, or a head that cannot be read); every problem with
 * entries is reported as a finding.
 */
export function verifyExport(exported: unknown, options: VerifyOptions): VerifyReport {
  if (!isRecord(exported) || !Array.isArray(exported.heads) || !Array.isArray(exported.entries)) {
    throw new OpenPrumError('input-invalid', 'An audit export is an object with "heads" and "entries" arrays.');
  }
  if (exported.heads.length === 0) {
    throw new OpenPrumError('input-invalid', 'The audit export has no signed tree head to verify against.');
  }
  const scope = exported.scope ?? 'full';
  if (scope !== 'full' && scope !== 'selection') {
    throw new OpenPrumError('input-invalid', 'The audit export scope must be "full" or "selection".');
  }
  const findings: Finding[] = [];

  // --- heads ---
  const heads = exported.heads.map((h: unknown, i) => signedTreeHeadFromJson(h, `heads[${i}]`));
  const first = heads[0] as SignedTreeHead;
  const log = logIdToString(first.logId);
  const valid: { head: SignedTreeHead; at: number }[] = [];
  heads.forEach((head, at) => {
    if (logIdToString(head.logId) !== log) findings.push({ kind: 'head-log-mismatch', head: at });
    else if (!verifyTreeHead(head, options.publicKey)) findings.push({ kind: 'head-signature-invalid', head: at });
    else valid.push({ head, at });
  });
  const signatureValid = valid.length === heads.length;
  valid.sort((a, b) => a.head.treeSize - b.head.treeSize || a.at - b.at);
  for (let i = 1; i < valid.length; i++) {
    const a = valid[i - 1];
    const b = valid[i];
    if (a && b && a.head.treeSize === b.head.treeSize && !bytesEqual(a.head.rootHash, b.head.rootHash)) {
      findings.push({ kind: 'head-fork', heads: [a.at, b.at] });
    }
  }
  const mainEntry = valid[valid.length - 1] ?? { head: heads.reduce((x, y) => (y.treeSize > x.treeSize ? y : x)), at: -1 };
  const main = mainEntry.head;
  const n = main.treeSize;
  const cosignedBy: string[] = [];
  heads.forEach((head, at) => {
    for (const c of head.cosignatures) {
      const who = logIdToString(c.witness);
      const key = options.witnesses?.get(who);
      if (key === undefined) continue;
      if (!verifyCosignature(head, c, key)) findings.push({ kind: 'cosignature-invalid', head: at, witness: who });
      else if (head === main && !cosignedBy.includes(who)) cosignedBy.push(who);
    }
  });

  // --- entries ---
  const counts = { entries: exported.entries.length, live: 0, withheld: 0, redacted: 0 };
  const parsed: Parsed[] = [];
  const byIndex = new Map<number, Parsed>();
  const uncovered: number[] = [];
  let previousIndex = -1;
  exported.entries.forEach((raw: unknown, position) => {
    let result: { parsed: Parsed; kind: Kind };
    try {
      result = parseEntry(raw, position, findings);
    } catch (e) {
      findings.push({ kind: 'malformed', position, reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    const entry = result.parsed;
    counts[result.kind]++;
    if (entry.index < previousIndex) findings.push({ kind: 'reordered', index: entry.index, position });
    previousIndex = Math.max(previousIndex, entry.index);
    if (entry.index >= n) {
      uncovered.push(entry.index);
      return;
    }
    if (byIndex.has(entry.index)) {
      findings.push({ kind: 'duplicate', index: entry.index, position });
    } else {
      byIndex.set(entry.index, entry);
    }
    parsed.push(entry);
  });

  // --- inclusion proofs (any scope) ---
  // Without a validly signed head there is no root to prove against; the head findings say so.
  const withProof = valid.length > 0 ? parsed.filter((e) => e.proof !== undefined) : [];
  for (const e of withProof) {
    if (!verifyInclusion(e.index, n, e.leaf, e.proof as Uint8Array[], main.rootHash)) {
      findings.push({ kind: 'tampered', index: e.index, position: e.position, how: 'inclusion-proof' });
    }
  }

  let localisation: VerifyReport['localisation'] = withProof.length > 0 ? 'inclusion-proofs' : 'tree-heads';
  if (scope === 'selection') {
    for (const e of parsed) {
      if (e.proof === undefined) findings.push({ kind: 'malformed', position: e.position, reason: 'An entry of a selection needs its inclusionProof.' });
    }
  } else {
    const authentic = authenticLeaves(exported.leafHashes, main, valid.length > 0, findings);
    if (authentic) {
      localisation = 'leaf-hashes';
      checkOlderHeads(authentic.tree, valid, main, findings);
      locateAgainstLeaves(parsed, byIndex, authentic.leaves, findings);
    } else {
      rebuildAndBracket(byIndex, valid, n, findings);
    }
  }

  return {
    ok: findings.length === 0,
    log,
    treeSize: n,
    rootHash: toHex(main.rootHash),
    signatureValid,
    cosignedBy,
    localisation,
    counts,
    uncovered,
    findings,
  };
}

/** Parses `leafHashes` and accepts them when they fold to the signed root; else reports why not. */
function authenticLeaves(
  raw: unknown,
  main: SignedTreeHead,
  mainIsSigned: boolean,
  findings: Finding[],
): { leaves: Uint8Array[]; tree: MerkleTree } | undefined {
  if (raw === undefined) return undefined;
  if (!mainIsSigned) {
    findings.push({ kind: 'leaf-hashes-invalid', reason: 'No validly signed head to check them against.' });
    return undefined;
  }
  let leaves: Uint8Array[];
  try {
    if (!Array.isArray(raw)) throw new OpenPrumError('input-invalid', 'leafHashes is not an array.');
    leaves = raw.map((h: unknown, i) => fromHex(h, `leafHashes[${i}]`, HASH_SIZE));
  } catch (e) {
    findings.push({ kind: 'leaf-hashes-invalid', reason: e instanceof Error ? e.message : String(e) });
    return undefined;
  }
  if (leaves.length !== main.treeSize) {
    findings.push({ kind: 'leaf-hashes-invalid', reason: `${leaves.length} leaf hashes for a tree of ${main.treeSize}.` });
    return undefined;
  }
  const tree = new MerkleTree(new MemoryNodeStore());
  for (const leaf of leaves) tree.append(leaf);
  if (!bytesEqual(tree.root(), main.rootHash)) {
    findings.push({ kind: 'leaf-hashes-invalid', reason: 'They do not give the signed root; they were altered too.' });
    return undefined;
  }
  return { leaves, tree };
}

/** With authentic leaves, every older signed head must be the root of a prefix of them. */
function checkOlderHeads(tree: MerkleTree, valid: readonly { head: SignedTreeHead; at: number }[], main: SignedTreeHead, findings: Finding[]): void {
  let since = 0;
  for (const { head, at } of valid) {
    if (head === main) continue;
    if (bytesEqual(tree.rootAt(head.treeSize), head.rootHash)) since = head.treeSize;
    else findings.push({ kind: 'head-root-mismatch', head: at, treeSize: head.treeSize, since });
  }
}

// Renumbering moves entries by small amounts (a deletion shifts the rest by one), so try nearby
// indices first; try every unaccounted index only when there are few, to stay linear in the log.
const NEARBY = 8;
const EXHAUSTIVE_LIMIT = 256;

function locateAgainstLeaves(parsed: readonly Parsed[], byIndex: ReadonlyMap<number, Parsed>, leaves: readonly Uint8Array[], findings: Finding[]): void {
  const n = leaves.length;
  const accounted = new Uint8Array(n);
  const mismatched: Parsed[] = [];
  for (const e of parsed) {
    if (bytesEqual(e.leaf, leaves[e.index] as Uint8Array)) accounted[e.index] = 1;
    else mismatched.push(e);
  }
  const unaccounted: number[] = [];
  if (mismatched.length > 0) for (let j = 0; j < n; j++) if (!accounted[j]) unaccounted.push(j);
  const tamperedClaims = new Set<number>();
  for (const e of mismatched) {
    const candidates = new Set<number>([e.position]);
    for (let d = -NEARBY; d <= NEARBY; d++) candidates.add(e.index + d);
    if (unaccounted.length <= EXHAUSTIVE_LIMIT) for (const j of unaccounted) candidates.add(j);
    let actual: number | undefined;
    for (const j of candidates) {
      if (j < 0 || j >= n || j === e.index || accounted[j]) continue;
      if (bytesEqual(entryLeafHash(j, e.commitment), leaves[j] as Uint8Array)) {
        actual = j;
        break;
      }
    }
    if (actual !== undefined) {
      accounted[actual] = 1;
      findings.push({ kind: 'misplaced', index: e.index, actualIndex: actual, position: e.position });
    } else {
      tamperedClaims.add(e.index);
      findings.push({ kind: 'tampered', index: e.index, position: e.position, how: 'leaf' });
    }
  }
  for (let j = 0; j < n; j++) {
    // An index whose claimant was altered is reported as tampered, not also as missing.
    if (!accounted[j] && !(tamperedClaims.has(j) && byIndex.has(j))) findings.push({ kind: 'missing', index: j });
  }
}

/**
 * Without authentic leaf hashes: report gaps as missing, rebuild the tree from the contiguous
 * prefix of entries, and check every signed head it covers, bracketing any change between heads.
 */
function rebuildAndBracket(byIndex: ReadonlyMap<number, Parsed>, valid: readonly { head: SignedTreeHead; at: number }[], n: number, findings: Finding[]): void {
  let prefix = n;
  for (let j = 0; j < n; j++) {
    if (!byIndex.has(j)) {
      findings.push({ kind: 'missing', index: j });
      if (prefix === n) prefix = j;
    }
  }
  const tree = new MerkleTree(new MemoryNodeStore());
  for (let j = 0; j < prefix; j++) tree.append((byIndex.get(j) as Parsed).leaf);
  let since = 0;
  for (const { head, at } of valid) {
    if (head.treeSize > prefix) {
      findings.push({ kind: 'head-unverifiable', head: at, treeSize: head.treeSize });
    } else if (bytesEqual(tree.rootAt(head.treeSize), head.rootHash)) {
      since = head.treeSize;
    } else {
      findings.push({ kind: 'head-root-mismatch', head: at, treeSize: head.treeSize, since });
    }
  }
}
