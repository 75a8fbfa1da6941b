/**
 * Offline verification of an audit export, for `openprum audit verify`: the data-protection
 * authority (Prüm Decision Art. 30(5)) holds the node's public key and an export file, and learns
 * whether the records in it are the records the node signed into its log, and if not, which entries
 * were altered, deleted, renumbered or erased without cause.
 *
 * Built on the merkle core's `verifyExport` (src/audit/merkle/verify.ts): a whole-log export is
 * handed to it as it is; for an export of a period, the core checks the signed head and the context
 * entries (each with its inclusion proof), and the entries of the range are checked here against
 * leaf hashes authenticated by a range proof (src/audit/range.ts). Then checks that need the
 * meaning of the records, which the core does not know:
 *
 *  - a log entry that is live (salt kept) but whose record is gone: the record was deleted outside
 *    any erasure (`content-missing`);
 *  - every erased entry must be explained by the record of an erasure in the log: the retention
 *    purge (Art. 30(4)), which erases a prefix of the log and says up to where, or an erasure order
 *    that names the entry (`erasure-unexplained`); a live entry inside the purged prefix, or a purge
 *    whose cut-off is less than two years before it ran, contradicts it (`retention-*`). So deleting
 *    a record and erasing its log entry by hand is still caught;
 *  - the entries next to the range show that the range covers the period asked for;
 *  - heads the supervisor already trusts (from an earlier export or a peer) must be prefixes of the
 *    exported log (RFC 9162 §2.1.4): a node that rewrote and re-signed its history is caught too.
 */
import type { KeyObject } from 'node:crypto';
import { OpenPrumError } from '../errors/index.ts';
import {
  bytesEqual,
  contentDigest,
  entryCommitment,
  entryLeafHash,
  fromHex,
  HASH_SIZE,
  isSafeNonNegativeInteger,
  logIdToString,
  nodeKey,
  SALT_SIZE,
  signedTreeHeadFromJson,
  toHex,
  verifyConsistency,
  verifyExport,
  verifyTreeHead,
  type ExportEntryJson,
  type Finding,
  type SignedTreeHead,
} from './merkle/index.ts';
import { ERASURE_ORDER_ACTION, EXPORT_FORMAT, RETENTION_ACTION, type ContextRole } from './export-format.ts';
import { rootFromRange } from './range.ts';

export type AuditFinding =
  | Finding
  /** A context entry (neighbour or erasure record) does not verify. */
  | { readonly kind: 'context-tampered'; readonly role: ContextRole; readonly index: number; readonly reason: string }
  /** The log entry was not erased but its record is gone: deleted outside the retention purge or an erasure order. */
  | { readonly kind: 'content-missing'; readonly index: number }
  /** An erased entry that no retention purge or erasure order in the log accounts for. */
  | { readonly kind: 'erasure-unexplained'; readonly index: number }
  /** A live entry below the index up to which the retention purge says it erased everything. */
  | { readonly kind: 'retention-inconsistent'; readonly index: number; readonly erasedBelow: number }
  /** A retention purge record whose cut-off is less than two years before the purge (Art. 30(4)). */
  | { readonly kind: 'retention-premature'; readonly index: number }
  /** The neighbour of the range lies inside the period: the range does not cover the period. */
  | { readonly kind: 'period-not-covered'; readonly side: 'before' | 'after'; readonly index: number }
  /** The range's leaf hashes and proof nodes do not give the signed root. */
  | { readonly kind: 'range-proof-invalid'; readonly reason: string }
  /** A head the supervisor trusts is not a prefix of the exported log. */
  | { readonly kind: 'history-rewritten'; readonly trustedSize: number; readonly treeSize: number; readonly reason: string }
  | { readonly kind: 'consistency-proof-missing'; readonly trustedSize: number }
  | { readonly kind: 'trusted-head-invalid'; readonly position: number; readonly reason: string };

export interface AuditVerifyOptions {
  /** The exporting node's Ed25519 public key. */
  readonly publicKey: KeyObject;
  /** Witness (peer) public keys by `logIdToString`, to check countersignatures. */
  readonly witnesses?: ReadonlyMap<string, KeyObject>;
  /** Heads obtained earlier (previous export, a peer): the exported log must extend each. */
  readonly trustedHeads?: readonly SignedTreeHead[];
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly log: string;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly headTimestamp: number;
  readonly signatureValid: boolean;
  readonly cosignedBy: readonly string[];
  readonly scope: 'full' | 'range';
  readonly range: { readonly from: number; readonly to: number };
  readonly period: { readonly from: string | null; readonly to: string | null };
  readonly exportedAt: string | null;
  readonly localisation: string;
  readonly counts: { readonly entries: number; readonly live: number; readonly withheld: number; readonly redacted: number };
  /** What the records of erasures in the export account for: the purged prefix, late records purged, erasure orders. */
  readonly erasures: { readonly retentionBelow: number | null; readonly retentionLate: number; readonly orders: number };
  readonly trustedHeadsChecked: number;
  readonly unsealed: number;
  readonly uncovered: readonly number[];
  readonly findings: readonly AuditFinding[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Parsed {
  readonly position: number;
  readonly index: number;
  readonly kind: 'live' | 'withheld' | 'redacted';
  readonly content: unknown;
  readonly commitment: Uint8Array;
  readonly leaf: Uint8Array;
}

/** One entry, as the core reads it (src/audit/merkle/verify.ts), for entries checked here. */
function parseEntry(raw: unknown, position: number, findings: AuditFinding[]): Parsed {
  const at = `entries[${position}]`;
  if (!isRecord(raw)) throw new OpenPrumError('input-invalid', `${at} is not an object.`);
  const index = raw.index;
  if (!isSafeNonNegativeInteger(index)) throw new OpenPrumError('input-invalid', `${at}.index is not a non-negative integer.`);
  if (raw.redacted === true) {
    if (raw.salt !== undefined || raw.content !== undefined || raw.contentDigest !== undefined) {
      throw new OpenPrumError('input-invalid', `${at} is redacted but still carries salt, content or digest.`);
    }
    const commitment = fromHex(raw.commitment, `${at}.commitment`, HASH_SIZE);
    return { position, index, kind: 'redacted', content: undefined, commitment, leaf: entryLeafHash(index, commitment) };
  }
  if (raw.redacted !== undefined) throw new OpenPrumError('input-invalid', `${at}.redacted must be true or absent.`);
  const salt = fromHex(raw.salt, `${at}.salt`, SALT_SIZE);
  const given = raw.contentDigest === undefined ? undefined : fromHex(raw.contentDigest, `${at}.contentDigest`, HASH_SIZE);
  let digest: Uint8Array;
  let kind: Parsed['kind'];
  if (raw.content !== undefined) {
    const actual = contentDigest(raw.content);
    if (given !== undefined && !bytesEqual(given, actual)) findings.push({ kind: 'tampered', index, position, how: 'content' });
    digest = given ?? actual;
    kind = 'live';
  } else if (given !== undefined) {
    digest = given;
    kind = 'withheld';
  } else {
    throw new OpenPrumError('input-invalid', `${at} has neither content nor contentDigest.`);
  }
  const commitment = entryCommitment(salt, digest);
  if (raw.commitment !== undefined && !bytesEqual(fromHex(raw.commitment, `${at}.commitment`, HASH_SIZE), commitment)) {
    findings.push({ kind: 'tampered', index, position, how: 'leaf' });
  }
  return { position, index, kind, content: raw.content, commitment, leaf: entryLeafHash(index, commitment) };
}

const NEARBY = 8;

/** Range entries against authenticated leaf hashes of [from, to): tampered, misplaced, missing. */
function locateInRange(parsed: readonly Parsed[], from: number, to: number, leaves: readonly Uint8Array[], findings: AuditFinding[]): Set<number> {
  const accounted = new Set<number>();
  const bad = new Set<number>();
  const mismatched: Parsed[] = [];
  for (const e of parsed) {
    if (bytesEqual(e.leaf, leaves[e.index - from] as Uint8Array)) accounted.add(e.index);
    else mismatched.push(e);
  }
  const claimedByTampered = new Set<number>();
  for (const e of mismatched) {
    let actual: number | undefined;
    for (let j = Math.max(from, e.index - NEARBY); j < Math.min(to, e.index + NEARBY + 1); j++) {
      if (j === e.index || accounted.has(j)) continue;
      if (bytesEqual(entryLeafHash(j, e.commitment), leaves[j - from] as Uint8Array)) {
        actual = j;
        break;
      }
    }
    bad.add(e.position);
    if (actual !== undefined) {
      accounted.add(actual);
      findings.push({ kind: 'misplaced', index: e.index, actualIndex: actual, position: e.position });
    } else {
      claimedByTampered.add(e.index);
      findings.push({ kind: 'tampered', index: e.index, position: e.position, how: 'leaf' });
    }
  }
  for (let j = from; j < to; j++) if (!accounted.has(j) && !claimedByTampered.has(j)) findings.push({ kind: 'missing', index: j });
  return bad;
}

/** '2026-01-02T03:04:05.123456Z' → comparable key, precise to the microsecond (Art. 30(2)(b)(ii)). */
function timeKey(iso: unknown): string | undefined {
  if (typeof iso !== 'string') return undefined;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(iso);
  if (m) return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : timeKey(new Date(ms).toISOString());
}

function twoYearsBefore(iso: string): string | undefined {
  const d = new Date(Date.parse(iso));
  if (Number.isNaN(d.getTime())) return undefined;
  d.setUTCFullYear(d.getUTCFullYear() - 2);
  return timeKey(d.toISOString());
}

/** Verifies an export (parsed JSON). Throws `input-invalid` only when the file is not an export at all. */
export function verifyAuditExport(file: unknown, options: AuditVerifyOptions): AuditVerifyReport {
  if (!isRecord(file) || !Array.isArray(file.heads) || !Array.isArray(file.entries)) {
    throw new OpenPrumError('input-invalid', 'This is not an audit export: it needs "heads" and "entries" arrays.');
  }
  if (file.format !== undefined && file.format !== EXPORT_FORMAT) {
    throw new OpenPrumError('input-invalid', `This export has format ${JSON.stringify(file.format)}; this version reads ${EXPORT_FORMAT}.`);
  }
  const coreOptions = { publicKey: options.publicKey, ...(options.witnesses ? { witnesses: options.witnesses } : {}) };
  const findings: AuditFinding[] = [];
  const rawRange = isRecord(file.range) ? file.range : undefined;
  const period = isRecord(file.period)
    ? { from: typeof file.period.from === 'string' ? file.period.from : null, to: typeof file.period.to === 'string' ? file.period.to : null }
    : { from: null, to: null };
  const context = Array.isArray(file.context) ? file.context : [];
  const contextEntries: { role: ContextRole; entry: unknown }[] = context.map((c: unknown, i) => {
    if (!isRecord(c) || typeof c.role !== 'string' || !['before', 'after', 'retention', 'erasure-order'].includes(c.role)) {
      throw new OpenPrumError('input-invalid', `context[${i}] is not a context entry.`);
    }
    return { role: c.role as ContextRole, entry: c.entry };
  });

  // The whole log, or a range of it?
  const headsParsed = file.heads.map((h: unknown, i) => signedTreeHeadFromJson(h, `heads[${i}]`));
  const largest = headsParsed.reduce<SignedTreeHead | undefined>((x, y) => (x === undefined || y.treeSize > x.treeSize ? y : x), undefined);
  const declaredFull = file.scope === 'full' || (rawRange === undefined && file.scope === undefined);
  let scope: 'full' | 'range' = declaredFull ? 'full' : 'range';
  let range = { from: 0, to: largest?.treeSize ?? 0 };
  if (!declaredFull) {
    if (!rawRange || !isSafeNonNegativeInteger(rawRange.from) || !isSafeNonNegativeInteger(rawRange.to) || rawRange.from > rawRange.to) {
      throw new OpenPrumError('input-invalid', 'A range export needs range.from ≤ range.to, both entry indices.');
    }
    range = { from: rawRange.from, to: rawRange.to };
    if (range.from === 0 && range.to === largest?.treeSize) scope = 'full';
  }

  // The merkle core: heads (signatures, forks, countersignatures) and, for a whole log, the entries.
  const sortedContext = contextEntries
    .map((c, i) => ({ ...c, i, index: isRecord(c.entry) && isSafeNonNegativeInteger(c.entry.index) ? c.entry.index : -1 }))
    .sort((x, y) => x.index - y.index);
  const core =
    scope === 'full'
      ? verifyExport({ heads: file.heads, scope: 'full', entries: file.entries, ...(file.leafHashes !== undefined ? { leafHashes: file.leafHashes } : {}) }, coreOptions)
      : verifyExport({ heads: file.heads, scope: 'selection', entries: sortedContext.map((c) => c.entry as ExportEntryJson) }, coreOptions);
  const untrustedContext = new Set<number>();
  for (const f of core.findings) {
    if (scope === 'range' && 'position' in f && f.kind !== 'misplaced') {
      const c = sortedContext[f.position];
      untrustedContext.add(f.position);
      findings.push({ kind: 'context-tampered', role: c?.role ?? 'before', index: c?.index ?? -1, reason: f.kind === 'malformed' ? f.reason : f.kind === 'tampered' ? f.how : f.kind });
    } else {
      findings.push(f);
    }
  }
  const n = core.treeSize;
  const mainHead = headsParsed.find((h) => h.treeSize === n && toHex(h.rootHash) === core.rootHash);

  // Parse every entry we hold (range entries and context) for the checks below.
  const all: { parsed: Parsed; trusted: boolean; role?: ContextRole }[] = [];
  const rangeFindings: AuditFinding[] = [];
  let counts = core.counts;
  let localisation: string = core.localisation;
  let uncovered: number[] = [...core.uncovered];
  if (scope === 'full') {
    const untrusted = new Set<number>();
    for (const f of core.findings) if ('position' in f) untrusted.add(f.position);
    file.entries.forEach((raw: unknown, position) => {
      try {
        all.push({ parsed: parseEntry(raw, position, []), trusted: !untrusted.has(position) });
      } catch {
        // reported by the core as malformed
      }
    });
  } else {
    counts = { entries: file.entries.length, live: 0, withheld: 0, redacted: 0 };
    uncovered = [];
    const parsed: Parsed[] = [];
    const byIndex = new Set<number>();
    let previous = -1;
    file.entries.forEach((raw: unknown, position) => {
      let p: Parsed;
      try {
        p = parseEntry(raw, position, rangeFindings);
      } catch (e) {
        rangeFindings.push({ kind: 'malformed', position, reason: (e as Error).message });
        return;
      }
      counts = { ...counts, [p.kind]: counts[p.kind] + 1 };
      if (p.index < previous) rangeFindings.push({ kind: 'reordered', index: p.index, position });
      previous = Math.max(previous, p.index);
      if (p.index >= n) {
        uncovered.push(p.index);
        return;
      }
      if (p.index < range.from || p.index >= range.to) {
        rangeFindings.push({ kind: 'malformed', position, reason: `Entry ${p.index} lies outside the exported range [${range.from}, ${range.to}).` });
        return;
      }
      if (byIndex.has(p.index)) {
        rangeFindings.push({ kind: 'duplicate', index: p.index, position });
        return;
      }
      byIndex.add(p.index);
      parsed.push(p);
    });
    const contentBad = new Set(rangeFindings.filter((f) => 'position' in f).map((f) => (f as { position: number }).position));
    if (core.signatureValid || mainHead) {
      const to = Math.min(range.to, n);
      let leaves: Uint8Array[] | undefined;
      try {
        leaves = (Array.isArray(file.leafHashes) ? file.leafHashes : []).map((h: unknown, i) => fromHex(h, `leafHashes[${i}]`, HASH_SIZE));
      } catch (e) {
        rangeFindings.push({ kind: 'range-proof-invalid', reason: (e as Error).message });
      }
      const nodes = new Map<string, Uint8Array>();
      try {
        for (const [i, r] of (Array.isArray(file.rangeProof) ? file.rangeProof : []).entries()) {
          if (!isRecord(r) || !isSafeNonNegativeInteger(r.level) || !isSafeNonNegativeInteger(r.index)) throw new OpenPrumError('input-invalid', `rangeProof[${i}] is not a node.`);
          nodes.set(nodeKey(r.level, r.index), fromHex(r.hash, `rangeProof[${i}].hash`, HASH_SIZE));
        }
      } catch (e) {
        rangeFindings.push({ kind: 'range-proof-invalid', reason: (e as Error).message });
      }
      const signedRoot = fromHex(core.rootHash, 'rootHash', HASH_SIZE);
      const root = leaves ? rootFromRange(range.from, to, n, leaves, nodes) : undefined;
      if (leaves && root && bytesEqual(root, signedRoot)) {
        localisation = 'range-proof';
        for (const pos of locateInRange(parsed, range.from, to, leaves, rangeFindings)) contentBad.add(pos);
      } else {
        localisation = 'tree-heads';
        rangeFindings.push({ kind: 'range-proof-invalid', reason: 'The leaf hashes and proof nodes of the range do not give the signed root.' });
        // Without authentic leaves: rebuild from the entries themselves; a change is detected, not located.
        const own = new Map(parsed.map((p) => [p.index, p.leaf]));
        const ownLeaves: Uint8Array[] = [];
        for (let j = range.from; j < to; j++) {
          const l = own.get(j);
          if (l) ownLeaves.push(l);
          else rangeFindings.push({ kind: 'missing', index: j });
        }
        const rebuilt = rootFromRange(range.from, to, n, ownLeaves, nodes);
        if (!rebuilt || !bytesEqual(rebuilt, signedRoot)) {
          rangeFindings.push({ kind: 'head-root-mismatch', head: 0, treeSize: n, since: range.from });
          for (const p of parsed) contentBad.add(p.position);
        }
      }
    }
    findings.push(...rangeFindings);
    for (const p of parsed) all.push({ parsed: p, trusted: !contentBad.has(p.position) });
  }
  sortedContext.forEach((c, pos) => {
    try {
      all.push({ parsed: parseEntry(c.entry, pos, []), trusted: !untrustedContext.has(pos), role: c.role });
    } catch {
      // reported by the core
    }
  });

  // Records deleted behind the log's back: the log entry keeps its salt, the record is gone.
  for (const { parsed } of all) if (parsed.kind === 'withheld') findings.push({ kind: 'content-missing', index: parsed.index });

  // Erasures must be explained by records of erasures in the log itself.
  let retentionBelow: number | null = null;
  const ordered = new Set<number>();
  let orders = 0;
  let stragglers = 0;
  for (const { parsed, trusted } of all) {
    if (!trusted || parsed.kind !== 'live' || !isRecord(parsed.content) || parsed.content.outcome !== 'done') continue;
    const c = parsed.content;
    const q = isRecord(c.query) ? c.query : {};
    if (c.action === RETENTION_ACTION && isSafeNonNegativeInteger(q.erasedBelow)) {
      const cutoff = timeKey(q.cutoff);
      const limit = typeof c.recordedAt === 'string' ? twoYearsBefore(c.recordedAt) : undefined;
      if (cutoff === undefined || limit === undefined || cutoff > limit) {
        findings.push({ kind: 'retention-premature', index: parsed.index });
        continue;
      }
      retentionBelow = Math.max(retentionBelow ?? 0, q.erasedBelow);
      if (Array.isArray(q.alsoErased)) {
        for (const i of q.alsoErased) {
          if (isSafeNonNegativeInteger(i) && i < parsed.index) {
            ordered.add(i);
            stragglers++;
          }
        }
      }
    } else if (c.action === ERASURE_ORDER_ACTION && Array.isArray(q.logIndices)) {
      orders++;
      for (const i of q.logIndices) if (isSafeNonNegativeInteger(i) && i < parsed.index) ordered.add(i);
    }
  }
  const seen = new Set<number>();
  for (const { parsed } of all) {
    if (seen.has(parsed.index)) continue;
    seen.add(parsed.index);
    if (parsed.kind === 'redacted' && !(retentionBelow !== null && parsed.index < retentionBelow) && !ordered.has(parsed.index)) {
      findings.push({ kind: 'erasure-unexplained', index: parsed.index });
    }
    if (parsed.kind === 'live' && retentionBelow !== null && parsed.index < retentionBelow && !ordered.has(parsed.index)) {
      findings.push({ kind: 'retention-inconsistent', index: parsed.index, erasedBelow: retentionBelow });
    }
  }

  // The range covers the period: its neighbours lie outside it.
  if (scope === 'range') {
    const before = all.find((a) => a.role === 'before');
    const after = all.find((a) => a.role === 'after');
    if (range.from > 0 && (!before || before.parsed.index !== range.from - 1)) findings.push({ kind: 'missing', index: range.from - 1 });
    if (range.to < n && (!after || after.parsed.index !== range.to)) findings.push({ kind: 'missing', index: range.to });
    const from = timeKey(period.from);
    const to = timeKey(period.to);
    // A neighbour recorded inside [from, to) belongs to the period and should have been in the range.
    const inside = (p: Parsed): boolean => {
      const t = isRecord(p.content) ? timeKey(p.content.recordedAt) : undefined;
      return p.kind === 'live' && t !== undefined && (from === undefined || t >= from) && (to === undefined || t < to);
    };
    for (const [side, neighbour] of [['before', before], ['after', after]] as const) {
      if (neighbour && inside(neighbour.parsed)) findings.push({ kind: 'period-not-covered', side, index: neighbour.parsed.index });
    }
  }

  // Heads the supervisor trusts must be prefixes of this log (RFC 9162 §2.1.4).
  const consistency = Array.isArray(file.consistency) ? file.consistency : [];
  let trustedHeadsChecked = 0;
  (options.trustedHeads ?? []).forEach((trusted, position) => {
    if (!verifyTreeHead(trusted, options.publicKey)) {
      findings.push({ kind: 'trusted-head-invalid', position, reason: 'its signature does not verify under this key' });
      return;
    }
    if (!mainHead) return; // the export's own head did not verify; already a finding
    trustedHeadsChecked++;
    if (logIdToString(trusted.logId) !== logIdToString(mainHead.logId)) {
      findings.push({ kind: 'trusted-head-invalid', position, reason: 'it is a head of another log' });
    } else if (trusted.treeSize > n) {
      findings.push({ kind: 'history-rewritten', trustedSize: trusted.treeSize, treeSize: n, reason: 'the node signed a larger log before than it exports now' });
    } else if (trusted.treeSize === n) {
      if (!bytesEqual(trusted.rootHash, mainHead.rootHash)) findings.push({ kind: 'history-rewritten', trustedSize: n, treeSize: n, reason: 'two different roots for the same size (a fork)' });
    } else {
      const c = consistency.find((x: unknown) => isRecord(x) && x.fromSize === trusted.treeSize);
      if (!isRecord(c) || !Array.isArray(c.proof)) {
        findings.push({ kind: 'consistency-proof-missing', trustedSize: trusted.treeSize });
        return;
      }
      let proof: Uint8Array[];
      try {
        proof = c.proof.map((h: unknown, i) => fromHex(h, `consistency proof [${i}]`, HASH_SIZE));
      } catch {
        proof = [];
      }
      if (!verifyConsistency(trusted.treeSize, n, trusted.rootHash, mainHead.rootHash, proof)) {
        findings.push({ kind: 'history-rewritten', trustedSize: trusted.treeSize, treeSize: n, reason: 'the consistency proof fails: the log does not extend the trusted head' });
      }
    }
  });

  return {
    ok: findings.length === 0,
    log: core.log,
    treeSize: n,
    rootHash: core.rootHash,
    headTimestamp: mainHead?.timestamp ?? largest?.timestamp ?? 0,
    signatureValid: core.signatureValid,
    cosignedBy: core.cosignedBy,
    scope,
    range,
    period,
    exportedAt: typeof file.exportedAt === 'string' ? file.exportedAt : null,
    localisation,
    counts,
    erasures: { retentionBelow, retentionLate: stragglers, orders },
    trustedHeadsChecked,
    unsealed: isSafeNonNegativeInteger(file.unsealed) ? file.unsealed : 0,
    uncovered,
    findings,
  };
}

/** One finding in words, for the supervisor. */
export function describeFinding(f: AuditFinding): string {
  switch (f.kind) {
    case 'tampered':
      return f.how === 'content'
        ? `entry ${f.index}: the record was altered after it was logged (its content no longer matches its digest)`
        : f.how === 'leaf'
          ? `entry ${f.index}: the entry is not the one logged at this index (record, salt or commitment altered)`
          : `entry ${f.index}: its inclusion proof does not lead to the signed root`;
    case 'missing':
      return `entry ${f.index}: missing from the export (deleted from the log)`;
    case 'misplaced':
      return `entry ${f.index}: it is the entry logged at index ${f.actualIndex} (entries renumbered or reordered)`;
    case 'duplicate':
      return `entry ${f.index}: listed twice`;
    case 'reordered':
      return `entry ${f.index}: listed out of order`;
    case 'malformed':
      return `entry at position ${f.position}: unreadable (${f.reason})`;
    case 'head-signature-invalid':
      return `tree head ${f.head}: the signature does not verify under the given public key`;
    case 'head-log-mismatch':
      return `tree head ${f.head}: a head of another log`;
    case 'cosignature-invalid':
      return `tree head ${f.head}: the countersignature of ${f.witness} does not verify`;
    case 'head-fork':
      return `tree heads ${f.heads[0]} and ${f.heads[1]}: two signed roots for one size (the node forked its log)`;
    case 'head-root-mismatch':
      return `the entries do not give the signed root of ${f.treeSize} entries: something in entries ${f.since}–${f.treeSize - 1} was changed`;
    case 'head-unverifiable':
      return `tree head ${f.head} (size ${f.treeSize}) cannot be checked: entries below it are missing`;
    case 'leaf-hashes-invalid':
      return `the leaf hashes are not authentic: ${f.reason}`;
    case 'context-tampered':
      return `${f.role} entry ${f.index}: does not verify (${f.reason})`;
    case 'content-missing':
      return `entry ${f.index}: its record was deleted, but not by the retention purge or an erasure order (the log entry was not erased)`;
    case 'erasure-unexplained':
      return `entry ${f.index}: erased, but no retention purge or erasure order in the log accounts for it (a record deleted and its entry erased by hand)`;
    case 'retention-inconsistent':
      return `entry ${f.index}: still holds its record although the retention purge erased every entry below ${f.erasedBelow}`;
    case 'retention-premature':
      return `entry ${f.index}: a retention purge that erased records younger than two years (Prüm Decision Art. 30(4))`;
    case 'period-not-covered':
      return `entry ${f.index} (${f.side} the exported range) lies inside the period: records of the period were left out`;
    case 'range-proof-invalid':
      return `the range proof does not verify: ${f.reason}`;
    case 'history-rewritten':
      return `the log is not an extension of the trusted head of ${f.trustedSize} entries: ${f.reason}`;
    case 'consistency-proof-missing':
      return `no consistency proof from the trusted head of ${f.trustedSize} entries; export again with --since-size ${f.trustedSize}`;
    case 'trusted-head-invalid':
      return `trusted head ${f.position}: ${f.reason}`;
  }
}

/** The report as text: a verdict line, what was checked, and every finding. */
export function formatAuditReport(r: AuditVerifyReport): string {
  const lines: string[] = [];
  lines.push(r.ok ? 'VERIFIED: the export is exactly the log the node signed.' : `TAMPERING FOUND: ${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}.`);
  lines.push(`  log           ${r.log}`);
  lines.push(`  signed head   ${r.treeSize} entries, root ${r.rootHash}, ${r.headTimestamp ? new Date(r.headTimestamp).toISOString() : '?'}; signature ${r.signatureValid ? 'valid' : 'INVALID'}`);
  lines.push(`  countersigned ${r.cosignedBy.length ? r.cosignedBy.join(', ') : 'by no known witness'}`);
  const period = r.period.from || r.period.to ? `, period ${r.period.from ?? '…'} to ${r.period.to ?? '…'}` : '';
  lines.push(`  exported      ${r.scope === 'full' ? 'the whole log' : `entries ${r.range.from}–${r.range.to - 1}`}${period}${r.exportedAt ? `, at ${r.exportedAt}` : ''}`);
  lines.push(`  entries       ${r.counts.entries}: ${r.counts.live} with their record, ${r.counts.redacted} erased, ${r.counts.withheld} without their record`);
  const purge = r.erasures.retentionBelow === null ? 'no retention purge' : `retention purge of entries below ${r.erasures.retentionBelow}${r.erasures.retentionLate ? ` and ${r.erasures.retentionLate} later` : ''}`;
  lines.push(`  erasures      ${purge}; ${r.erasures.orders} erasure order${r.erasures.orders === 1 ? '' : 's'}`);
  lines.push(`  checked by    ${r.localisation}${r.trustedHeadsChecked ? `; consistent with ${r.trustedHeadsChecked} trusted head(s) unless stated below` : ''}`);
  if (r.unsealed > 0) lines.push(`  note          ${r.unsealed} record(s) of the period were not yet in the signed log and are not in the export`);
  if (r.uncovered.length > 0) lines.push(`  note          ${r.uncovered.length} entr${r.uncovered.length === 1 ? 'y' : 'ies'} beyond the signed head were not verified`);
  if (r.findings.length > 0) {
    lines.push('findings:');
    const shown = r.findings.slice(0, 200);
    for (const f of shown) lines.push(`  - ${describeFinding(f)}`);
    if (r.findings.length > shown.length) lines.push(`  … and ${r.findings.length - shown.length} more (use --json for all)`);
  }
  return `${lines.join('\n')}\n`;
}
