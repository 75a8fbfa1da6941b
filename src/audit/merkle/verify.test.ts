import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { toHex } from './hash.ts';
import { commitEntry, type CommittedEntry } from './commitment.ts';
import { cosignTreeHead, logIdFor, logIdToString, signTreeHead, signedTreeHeadToJson, withCosignature, type SignedTreeHeadJson } from './tree-head.ts';
import { MemoryNodeStore, MerkleTree } from './tree.ts';
import { liveEntryJson, redactedEntryJson, verifyExport, type AuditExportJson, type ExportEntryJson, type Finding } from './verify.ts';

const node = generateKeyPairSync('ed25519');
const witness = generateKeyPairSync('ed25519');
const logId = logIdFor('DE', node.publicKey);
const witnessId = logIdFor('NL', witness.publicKey);
const options = { publicKey: node.publicKey, witnesses: new Map([[logIdToString(witnessId), witness.publicKey]]) };

interface Built {
  readonly entries: CommittedEntry[];
  readonly contents: unknown[];
  readonly tree: MerkleTree;
  readonly heads: SignedTreeHeadJson[];
}

/** A node's log of `n` supplies/receipts, with signed heads at `headSizes`, the last cosigned. */
function buildLog(n: number, headSizes: readonly number[], variant = ''): Built {
  const tree = new MerkleTree(new MemoryNodeStore());
  const entries: CommittedEntry[] = [];
  const contents: unknown[] = [];
  const heads: SignedTreeHeadJson[] = [];
  for (let i = 0; i < n; i++) {
    const content = { kind: i % 2 ? 'receipt' : 'supply', peer: ['NL', 'BE', 'FR'][i % 3], ref: `${variant}DE-${1000 + i}`, plate: `B-XY ${i}` };
    const e = commitEntry(i, content);
    tree.append(e.leafHash);
    entries.push(e);
    contents.push(content);
    if (headSizes.includes(i + 1)) {
      let sth = signTreeHead({ logId, treeSize: i + 1, timestamp: 1_700_000_000_000 + i, rootHash: tree.root() }, node.privateKey);
      if (i + 1 === headSizes[headSizes.length - 1]) sth = withCosignature(sth, cosignTreeHead(sth, witnessId, witness.privateKey));
      heads.push(signedTreeHeadToJson(sth));
    }
  }
  return { entries, contents, tree, heads };
}

/** A fresh, deep-copied export, so a test may mutate it freely. */
function exportOf(b: Built, withLeafHashes: boolean, redacted: readonly number[] = []): AuditExportJson {
  return structuredClone({
    heads: b.heads,
    entries: b.entries.map((e, i) => (redacted.includes(i) ? redactedEntryJson(i, e.commitment) : liveEntryJson(i, e.salt, b.contents[i]))),
    ...(withLeafHashes ? { leafHashes: b.entries.map((e) => toHex(e.leafHash)) } : {}),
  });
}

const kinds = (findings: readonly Finding[]): string[] => findings.map((f) => f.kind);
const entry = (exp: AuditExportJson, i: number): ExportEntryJson => exp.entries[i] as ExportEntryJson;

const log = buildLog(100, [25, 50, 100]);

describe('verifyExport: a faithful export', () => {
  it('verifies, with signature, countersignature and counts', () => {
    for (const withLeaves of [true, false]) {
      const report = verifyExport(JSON.parse(JSON.stringify(exportOf(log, withLeaves, [3, 40]))), options);
      expect(report.findings).toEqual([]);
      expect(report).toMatchObject({
        ok: true,
        treeSize: 100,
        rootHash: toHex(log.tree.root()),
        signatureValid: true,
        cosignedBy: [logIdToString(witnessId)],
        localisation: withLeaves ? 'leaf-hashes' : 'tree-heads',
        counts: { entries: 100, live: 98, withheld: 0, redacted: 2 },
      });
    }
  });

  it('accepts withheld content (digest only) and entries beyond the head as uncovered', () => {
    const exp = exportOf(log, true);
    delete entry(exp, 7).content;
    const extra = commitEntry(100, { late: true });
    exp.entries.push(liveEntryJson(100, extra.salt, { late: true }));
    const report = verifyExport(exp, options);
    expect(report.ok).toBe(true);
    expect(report.counts.withheld).toBe(1);
    expect(report.uncovered).toEqual([100]);
  });
});

describe('verifyExport: tampering with one stored record', () => {
  it('pinpoints changed content even when only the content was edited', () => {
    for (const withLeaves of [true, false]) {
      const exp = exportOf(log, withLeaves);
      entry(exp, 42).content = { ...(log.contents[42] as object), plate: 'B-ZZ 999' };
      const report = verifyExport(exp, options);
      expect(report.ok).toBe(false);
      expect(report.findings).toEqual([{ kind: 'tampered', index: 42, position: 42, how: 'content' }]);
    }
  });

  it('pinpoints an entry whose content and digest were both rewritten, using the leaf hashes', () => {
    const exp = exportOf(log, true);
    const forged = liveEntryJson(42, log.entries[42]?.salt as Uint8Array, { ...(log.contents[42] as object), peer: 'XX' });
    exp.entries[42] = forged;
    expect(verifyExport(exp, options).findings).toEqual([{ kind: 'tampered', index: 42, position: 42, how: 'leaf' }]);
  });

  it('brackets it between signed heads without leaf hashes', () => {
    const exp = exportOf(log, false);
    exp.entries[72] = liveEntryJson(72, log.entries[72]?.salt as Uint8Array, { forged: true });
    const report = verifyExport(exp, options);
    expect(report.ok).toBe(false);
    expect(report.findings).toEqual([{ kind: 'head-root-mismatch', head: 2, treeSize: 100, since: 50 }]);
    // Earlier, between the heads of 25 and 50: both later heads fail, the first names the range.
    const early = exportOf(log, false);
    early.entries[42] = liveEntryJson(42, log.entries[42]?.salt as Uint8Array, { forged: true });
    expect(verifyExport(early, options).findings).toEqual([
      { kind: 'head-root-mismatch', head: 1, treeSize: 50, since: 25 },
      { kind: 'head-root-mismatch', head: 2, treeSize: 100, since: 25 },
    ]);
  });

  it('detects an altered erased entry and an erased entry that still carries data', () => {
    const exp = exportOf(log, true, [10, 11]);
    const bad = new Uint8Array(log.entries[10]?.commitment as Uint8Array);
    bad.set([(bad[0] ?? 0) ^ 1], 0);
    entry(exp, 10).commitment = toHex(bad);
    entry(exp, 11).salt = toHex(log.entries[11]?.salt as Uint8Array);
    expect(kinds(verifyExport(exp, options).findings)).toEqual(['malformed', 'tampered', 'missing']);
  });

  it('detects leaf hashes altered along with the entry, and falls back to the heads', () => {
    const exp = exportOf(log, true);
    exp.entries[60] = liveEntryJson(60, log.entries[60]?.salt as Uint8Array, { forged: true });
    (exp.leafHashes as string[])[60] = toHex(commitEntry(60, { forged: true }, log.entries[60]?.salt).leafHash);
    const report = verifyExport(exp, options);
    expect(kinds(report.findings)).toEqual(['leaf-hashes-invalid', 'head-root-mismatch']);
    expect(report.localisation).toBe('tree-heads');
  });
});

describe('verifyExport: deleting one record', () => {
  it('reports the gap as missing', () => {
    for (const withLeaves of [true, false]) {
      const exp = exportOf(log, withLeaves);
      exp.entries.splice(30, 1);
      const findings = verifyExport(exp, options).findings;
      expect(findings[0]).toEqual({ kind: 'missing', index: 30 });
      if (withLeaves) expect(findings).toHaveLength(1);
      else expect(kinds(findings)).toEqual(['missing', 'head-unverifiable', 'head-unverifiable']);
    }
  });

  it('sees through renumbering that closes the gap', () => {
    const exp = exportOf(log, true);
    exp.entries.splice(30, 1);
    exp.entries.forEach((e, p) => {
      e.index = p;
    });
    const findings = verifyExport(exp, options).findings;
    expect(findings.filter((f) => f.kind === 'misplaced')).toHaveLength(69);
    expect(findings).toContainEqual({ kind: 'misplaced', index: 30, actualIndex: 31, position: 30 });
    expect(findings.filter((f) => f.kind === 'missing')).toEqual([{ kind: 'missing', index: 30 }]);
  });

  it('also without leaf hashes: the last index goes missing and the root changes', () => {
    const exp = exportOf(log, false);
    exp.entries.splice(30, 1);
    exp.entries.forEach((e, p) => {
      e.index = p;
    });
    expect(kinds(verifyExport(exp, options).findings)).toEqual(['missing', 'head-root-mismatch', 'head-unverifiable']);
  });
});

describe('verifyExport: reordering and duplicates', () => {
  it('reports out-of-order listing while the content itself still verifies', () => {
    const exp = exportOf(log, true);
    const [a, b] = [exp.entries[5] as ExportEntryJson, exp.entries[6] as ExportEntryJson];
    exp.entries[5] = b;
    exp.entries[6] = a;
    expect(verifyExport(exp, options).findings).toEqual([{ kind: 'reordered', index: 5, position: 6 }]);
  });

  it('reports two records whose indices were swapped as misplaced', () => {
    const exp = exportOf(log, true);
    entry(exp, 20).index = 70;
    entry(exp, 70).index = 20;
    const findings = verifyExport(exp, options).findings;
    expect(findings).toContainEqual({ kind: 'misplaced', index: 70, actualIndex: 20, position: 20 });
    expect(findings).toContainEqual({ kind: 'misplaced', index: 20, actualIndex: 70, position: 70 });
  });

  it('reports a duplicated record', () => {
    const exp = exportOf(log, true);
    exp.entries.splice(9, 0, { ...entry(exp, 8) });
    expect(verifyExport(exp, options).findings).toEqual([{ kind: 'duplicate', index: 8, position: 9 }]);
  });
});

describe('verifyExport: heads, forks and rewritten history', () => {
  it('reports a head not signed by the node key', () => {
    const exp = exportOf(log, true);
    const other = generateKeyPairSync('ed25519');
    const h = exp.heads[0] as SignedTreeHeadJson;
    exp.heads[0] = signedTreeHeadToJson(signTreeHead({ logId, treeSize: h.treeSize, timestamp: h.timestamp, rootHash: Buffer.from(h.rootHash, 'hex') }, other.privateKey));
    const report = verifyExport(exp, options);
    expect(report.signatureValid).toBe(false);
    expect(report.findings).toEqual([{ kind: 'head-signature-invalid', head: 0 }]);
  });

  it('reports an invalid countersignature of a known witness', () => {
    const exp = exportOf(log, true);
    const h = exp.heads[2] as SignedTreeHeadJson;
    (h.cosignatures[0] as { timestamp: number }).timestamp += 1;
    expect(verifyExport(exp, options).findings).toEqual([{ kind: 'cosignature-invalid', head: 2, witness: logIdToString(witnessId) }]);
  });

  it('reports two signed heads of the same size with different roots as a fork', () => {
    const other = buildLog(50, [50], 'other ');
    const exp = exportOf(log, true);
    exp.heads.push(other.heads[0] as SignedTreeHeadJson);
    expect(kinds(verifyExport(exp, options).findings)).toEqual(['head-fork', 'head-root-mismatch']);
  });

  it('detects a node that rewrote its history after signing an older head', () => {
    // The node signed 25 entries of one history, then rebuilt the log differently and re-signed.
    const original = buildLog(25, [25]);
    const rewritten = buildLog(100, [50, 100], 'rewritten ');
    const exp = exportOf(rewritten, true);
    exp.heads.unshift(original.heads[0] as SignedTreeHeadJson);
    expect(verifyExport(exp, options).findings).toEqual([{ kind: 'head-root-mismatch', head: 0, treeSize: 25, since: 0 }]);
  });
});

describe('verifyExport: a selection with inclusion proofs', () => {
  const selection = (indices: readonly number[]): AuditExportJson => ({
    heads: [structuredClone(log.heads[2] as SignedTreeHeadJson)],
    scope: 'selection',
    entries: indices.map((i) => ({ ...liveEntryJson(i, log.entries[i]?.salt as Uint8Array, log.contents[i]), inclusionProof: log.tree.inclusionProof(i, 100).map(toHex) })),
  });

  it('verifies each entry on its own', () => {
    const report = verifyExport(selection([0, 17, 99]), options);
    expect(report.findings).toEqual([]);
    expect(report.localisation).toBe('inclusion-proofs');
  });

  it('pinpoints a forged entry and one without a proof', () => {
    const exp = selection([0, 17, 99]);
    entry(exp, 1).contentDigest = toHex(new Uint8Array(32));
    delete entry(exp, 1).content;
    delete entry(exp, 2).inclusionProof;
    expect(verifyExport(exp, options).findings).toEqual([
      { kind: 'tampered', index: 17, position: 1, how: 'inclusion-proof' },
      { kind: 'malformed', position: 2, reason: 'An entry of a selection needs its inclusionProof.' },
    ]);
  });
});

describe('verifyExport: input that is not an export', () => {
  it('throws input-invalid', () => {
    for (const bad of [null, [], { heads: [], entries: [] }, { heads: [{}], entries: [] }, { heads: log.heads, entries: [], scope: 'some' }]) {
      expect(() => verifyExport(bad, options)).toThrow(OpenPrumError);
    }
  });

  it('reports malformed entries as findings, not exceptions', () => {
    const exp = exportOf(log, true);
    exp.entries[3] = { index: 3, salt: 'zz', content: {} };
    (exp.entries as unknown[])[4] = 'nonsense';
    const findings = verifyExport(exp, options).findings;
    expect(kinds(findings)).toEqual(['malformed', 'malformed', 'missing', 'missing']);
  });
});
