import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { emptyRoot, fromHex, leafHash, nodeHash, toHex } from './hash.ts';
import {
  MemoryNodeStore,
  MerkleTree,
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofNodes,
  fetchNodes,
  inclusionProofNodes,
  nodeKey,
  rootFromInclusionProof,
  rootFromNodes,
  rootNodes,
  verifyConsistency,
  verifyInclusion,
  type NodeRef,
} from './tree.ts';

interface Vectors {
  emptyRoot: string;
  leaves: string[];
  roots: string[];
  inclusionProofs: { leafIndex: number; treeSize: number; proof: string[] }[];
  consistencyProofs: { size1: number; size2: number; proof: string[] }[];
}
interface NodeVectors {
  inclusion: { treeSize: number; leafIndex: number; nodes: [number, number][] }[];
  consistency: { size1: number; size2: number; nodes: [number, number][] }[];
}

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8')) as T;
const vectors = load<Vectors>('rfc6962-vectors.json');
const nodeVectors = load<NodeVectors>('proof-nodes.json');
const hex = (h: string): Uint8Array => fromHex(h, 'vector');
const hexes = (hs: readonly Uint8Array[]): string[] => hs.map(toHex);

function vectorTree(): MerkleTree {
  const tree = new MerkleTree(new MemoryNodeStore());
  for (const leaf of vectors.leaves) tree.append(leafHash(hex(leaf)));
  return tree;
}

/** Leaf hashes of `n` distinct leaves. */
function leavesOf(n: number, seed = 0): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`leaf ${seed}/${i}`)));
}

function treeOf(leaves: readonly Uint8Array[]): MerkleTree {
  const tree = new MerkleTree(new MemoryNodeStore());
  for (const l of leaves) tree.append(l);
  return tree;
}

// --- a reference written straight from the recursive definitions of RFC 9162 §2.1 -------------

function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}
function refMth(d: readonly Uint8Array[]): Uint8Array {
  if (d.length === 0) return emptyRoot();
  if (d.length === 1) return d[0] as Uint8Array;
  const s = k(d.length);
  return nodeHash(refMth(d.slice(0, s)), refMth(d.slice(s)));
}
function refPath(m: number, d: readonly Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s ? [...refPath(m, d.slice(0, s)), refMth(d.slice(s))] : [...refPath(m - s, d.slice(s)), refMth(d.slice(0, s))];
}
function refSubproof(m: number, d: readonly Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const s = k(d.length);
  return m <= s
    ? [...refSubproof(m, d.slice(0, s), b), refMth(d.slice(s))]
    : [...refSubproof(m - s, d.slice(s), false), refMth(d.slice(0, s))];
}

/** Every way of spoiling a proof that must make verification fail. */
function corruptions(proof: readonly Uint8Array[], extra: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[...proof, extra], [extra, ...proof], [...proof, new Uint8Array(0)], [new Uint8Array(0), ...proof]];
  if (proof.length > 0) out.push(proof.slice(0, -1), proof.slice(1));
  if (proof.length > 1) out.push([proof[0] as Uint8Array, extra, ...proof.slice(1)], [...proof].reverse());
  proof.forEach((_, i) => {
    const flipped = proof.map((p) => new Uint8Array(p));
    const target = flipped[i] as Uint8Array;
    target.set([(target[0] ?? 0) ^ 8], 0);
    out.push(flipped);
  });
  return out;
}

const sortedRefs = (refs: readonly NodeRef[]): string[] => refs.map((r) => nodeKey(r.level, r.index)).sort();

describe('RFC 6962 / 9162 reference vectors', () => {
  it('gives the empty-tree hash for size 0', () => {
    expect(toHex(new MerkleTree(new MemoryNodeStore()).root())).toBe(vectors.emptyRoot);
    expect(toHex(rootFromNodes(0, []))).toBe(vectors.emptyRoot);
  });

  it('gives the published root after each of the 8 reference leaves, and at every past size', () => {
    const tree = new MerkleTree(new MemoryNodeStore());
    vectors.leaves.forEach((leaf, i) => {
      tree.append(leafHash(hex(leaf)));
      expect(toHex(tree.root())).toBe(vectors.roots[i]);
      for (let s = 1; s <= i + 1; s++) expect(toHex(tree.rootAt(s))).toBe(vectors.roots[s - 1]);
      expect(toHex(tree.rootAt(0))).toBe(vectors.emptyRoot);
    });
  });

  it('generates the published inclusion proofs, which verify, and rejects every corruption', () => {
    const tree = vectorTree();
    for (const v of vectors.inclusionProofs) {
      const leaf = leafHash(hex(vectors.leaves[v.leafIndex] as string));
      const root = hex(vectors.roots[v.treeSize - 1] as string);
      const proof = tree.inclusionProof(v.leafIndex, v.treeSize);
      expect(hexes(proof)).toEqual(v.proof);
      expect(verifyInclusion(v.leafIndex, v.treeSize, leaf, proof, root)).toBe(true);
      expect(toHex(rootFromInclusionProof(v.leafIndex, v.treeSize, leaf, proof))).toBe(toHex(root));

      const wrong = [
        [v.leafIndex - 1, v.treeSize],
        [v.leafIndex + 1, v.treeSize],
        [v.leafIndex ^ 2, v.treeSize],
        [v.leafIndex, v.treeSize * 2],
        [v.leafIndex, Math.floor(v.treeSize / 2)],
      ] as const;
      for (const [i, s] of wrong) expect(verifyInclusion(i, s, leaf, proof, root), `index ${i} size ${s}`).toBe(false);
      expect(verifyInclusion(v.leafIndex, v.treeSize, leafHash(new TextEncoder().encode('WrongLeaf')), proof, root)).toBe(false);
      expect(verifyInclusion(v.leafIndex, v.treeSize, leaf, proof, emptyRoot())).toBe(false);
      for (const bad of corruptions(proof, root)) expect(verifyInclusion(v.leafIndex, v.treeSize, leaf, bad, root)).toBe(false);
    }
  });

  it('generates the published consistency proofs, which verify, and rejects every corruption', () => {
    const tree = vectorTree();
    for (const v of vectors.consistencyProofs) {
      const r1 = hex(vectors.roots[v.size1 - 1] as string);
      const r2 = hex(vectors.roots[v.size2 - 1] as string);
      const proof = tree.consistencyProof(v.size1, v.size2);
      expect(hexes(proof)).toEqual(v.proof);
      expect(verifyConsistency(v.size1, v.size2, r1, r2, proof)).toBe(true);
      if (proof.length === 0) continue;
      const wrong = [
        [v.size1 - 1, v.size2],
        [v.size1 + 1, v.size2],
        [v.size1 ^ 2, v.size2],
        [v.size1, v.size2 * 2],
        [v.size1, Math.floor(v.size2 / 2)],
      ] as const;
      for (const [a, b] of wrong) expect(verifyConsistency(a, b, r1, r2, proof), `sizes ${a}→${b}`).toBe(false);
      expect(verifyConsistency(v.size1, v.size2, r2, r1, proof)).toBe(false);
      expect(verifyConsistency(v.size1, v.size2, emptyRoot(), r2, proof)).toBe(false);
      expect(verifyConsistency(v.size1, v.size2, r1, emptyRoot(), proof)).toBe(false);
      expect(verifyConsistency(v.size1, v.size2, r1, r2, [])).toBe(false);
      for (const bad of corruptions(proof, r1)) expect(verifyConsistency(v.size1, v.size2, r1, r2, bad)).toBe(false);
      for (const bad of corruptions(proof, r2)) expect(verifyConsistency(v.size1, v.size2, r1, r2, bad)).toBe(false);
    }
  });

  it('asks for the same stored nodes as the transparency-dev proof planner', () => {
    for (const v of nodeVectors.inclusion) {
      expect(sortedRefs(inclusionProofNodes(v.leafIndex, v.treeSize)), `${v.leafIndex}@${v.treeSize}`).toEqual(
        sortedRefs(v.nodes.map(([level, index]) => ({ level, index }))),
      );
    }
    for (const v of nodeVectors.consistency) {
      expect(sortedRefs(consistencyProofNodes(v.size1, v.size2)), `${v.size1}→${v.size2}`).toEqual(
        sortedRefs(v.nodes.map(([level, index]) => ({ level, index }))),
      );
    }
  });
});

describe('edge cases of verification (RFC 9162 §2.1.3.2, §2.1.4.2)', () => {
  const some = leafHash(new TextEncoder().encode('data'));
  it('accepts a 1-leaf tree with an empty proof and nothing else', () => {
    expect(verifyInclusion(0, 1, some, [], some)).toBe(true);
    expect(verifyInclusion(0, 1, some, [], emptyRoot())).toBe(false);
    expect(verifyInclusion(0, 1, new Uint8Array(0), [], new Uint8Array(0))).toBe(false);
  });
  it('rejects impossible index/size pairs without throwing', () => {
    for (const [i, s] of [[0, 0], [1, 0], [2, 1], [-1, 4], [0.5, 4], [Number.NaN, 4]] as const) {
      expect(verifyInclusion(i, s, some, [], emptyRoot())).toBe(false);
    }
    expect(() => rootFromInclusionProof(1, 1, some, [])).toThrow(OpenPrumError);
  });
  it('treats equal sizes and the empty tree as trivially consistent, but only with matching roots and no proof', () => {
    const r = emptyRoot();
    expect(verifyConsistency(0, 0, r, r, [])).toBe(true);
    expect(verifyConsistency(0, 5, r, some, [])).toBe(true);
    expect(verifyConsistency(0, 5, some, some, [])).toBe(false);
    expect(verifyConsistency(3, 3, some, some, [])).toBe(true);
    expect(verifyConsistency(3, 3, some, r, [])).toBe(false);
    expect(verifyConsistency(3, 3, some, some, [r])).toBe(false);
    expect(verifyConsistency(0, 1, r, some, [r])).toBe(false);
    expect(verifyConsistency(2, 1, some, some, [])).toBe(false);
    expect(verifyConsistency(1, 2, some, some, [])).toBe(false);
  });
  it('refuses to plan proofs that cannot exist', () => {
    expect(() => inclusionProofNodes(3, 3)).toThrow(OpenPrumError);
    expect(() => inclusionProofNodes(0, 0)).toThrow(OpenPrumError);
    expect(() => consistencyProofNodes(5, 4)).toThrow(OpenPrumError);
    expect(() => rootNodes(-1)).toThrow(OpenPrumError);
    expect(() => buildInclusionProof(0, 8, [])).toThrow(OpenPrumError);
    const tree = treeOf(leavesOf(4));
    expect(() => tree.inclusionProof(0, 5)).toThrow(OpenPrumError);
    expect(() => tree.rootAt(5)).toThrow(OpenPrumError);
  });
});

describe('against the recursive RFC definitions', () => {
  it('matches MTH, PATH and PROOF for every index and every pair of sizes up to 48', () => {
    const leaves = leavesOf(48);
    const tree = treeOf(leaves);
    for (let n = 1; n <= 48; n++) {
      const d = leaves.slice(0, n);
      const root = refMth(d);
      expect(toHex(tree.rootAt(n))).toBe(toHex(root));
      for (let m = 0; m < n; m++) {
        const proof = tree.inclusionProof(m, n);
        expect(hexes(proof)).toEqual(hexes(refPath(m, d)));
        expect(verifyInclusion(m, n, d[m] as Uint8Array, proof, root)).toBe(true);
      }
      for (let m = 1; m <= n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(hexes(proof)).toEqual(hexes(m === n ? [] : refSubproof(m, d, true)));
        expect(verifyConsistency(m, n, tree.rootAt(m), root, proof), `${m}→${n}`).toBe(true);
      }
    }
  });

  it('verifies random proofs in larger trees and rejects them for the wrong leaf, root or size', () => {
    const leaves = leavesOf(3000, 1);
    const tree = treeOf(leaves);
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let t = 0; t < 300; t++) {
      const n = 1 + rand(3000);
      const m = rand(n);
      const root = tree.rootAt(n);
      const proof = tree.inclusionProof(m, n);
      expect(verifyInclusion(m, n, leaves[m] as Uint8Array, proof, root)).toBe(true);
      if (n > 1) {
        expect(verifyInclusion(m, n, leaves[(m + 1) % n] as Uint8Array, proof, root)).toBe(false);
        // (A wrong size is not always caught by the proof alone, e.g. leaf 0 in 5 vs 6 leaves
        // has the same path shape: the signed head binds the size, RFC 9162 §2.1.3.2 step 1.)
        expect(verifyInclusion(m, n, leaves[m] as Uint8Array, proof, tree.rootAt(n === 1 ? 1 : n - 1))).toBe(n === 1);
      }
      const s1 = 1 + rand(n);
      const cproof = tree.consistencyProof(s1, n);
      const r1 = tree.rootAt(s1);
      expect(verifyConsistency(s1, n, r1, root, cproof)).toBe(true);
      if (s1 < n) {
        expect(verifyConsistency(s1, n, r1, tree.rootAt(n - 1), cproof)).toBe(false);
        const forked = treeOf([...leaves.slice(0, s1 - 1), leafHash(new Uint8Array([t])), ...leaves.slice(s1, n)]);
        expect(verifyConsistency(s1, n, r1, forked.root(), cproof)).toBe(false);
        expect(verifyConsistency(s1, n, r1, forked.root(), forked.consistencyProof(s1))).toBe(false);
      }
    }
  });
});

describe('plan, fetch, build (the SQL path)', () => {
  it('builds the same roots and proofs from a batch of fetched nodes as the tree does', () => {
    const leaves = leavesOf(777, 2);
    const store = new MemoryNodeStore();
    const tree = new MerkleTree(store);
    for (const l of leaves) tree.append(l);
    // Simulate: SELECT level, idx, hash FROM audit_node WHERE (level, idx) IN (...), into a Map.
    const fetch = (refs: readonly NodeRef[]): Uint8Array[] => {
      const rows = new Map(refs.map((r) => [nodeKey(r.level, r.index), store.get(r.level, r.index)]));
      return refs.map((r) => rows.get(nodeKey(r.level, r.index)) as Uint8Array);
    };
    for (const n of [1, 2, 3, 255, 256, 257, 500, 777]) {
      expect(toHex(rootFromNodes(n, fetch(rootNodes(n))))).toBe(toHex(tree.rootAt(n)));
      for (const m of [0, Math.floor(n / 3), n - 1]) {
        expect(hexes(buildInclusionProof(m, n, fetch(inclusionProofNodes(m, n))))).toEqual(hexes(tree.inclusionProof(m, n)));
        const s1 = m + 1;
        expect(hexes(buildConsistencyProof(s1, n, fetch(consistencyProofNodes(s1, n))))).toEqual(hexes(tree.consistencyProof(s1, n)));
      }
    }
  });

  it('needs at most 2·log2(n) nodes for any inclusion proof', () => {
    for (const n of [1000, 65_535, 65_536, 10_000_000, 2 ** 40 + 12345]) {
      for (const m of [0, 1, Math.floor(n / 2), n - 2, n - 1]) {
        expect(inclusionProofNodes(m, n).length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)));
      }
    }
  });

  it('plans proofs beyond 2^32 leaves (no 32-bit shift truncation)', () => {
    const n = 2 ** 33 + 5;
    expect(inclusionProofNodes(n - 1, n).map((r) => nodeKey(r.level, r.index))).toEqual(['2/2147483648', '33/0']);
    expect(inclusionProofNodes(n - 2, n).map((r) => nodeKey(r.level, r.index))).toEqual([
      '0/8589934594',
      '1/4294967296',
      '0/8589934596',
      '33/0',
    ]);
    expect(rootNodes(n).map((r) => nodeKey(r.level, r.index))).toEqual(['33/0', '2/2147483648', '0/8589934596']);
  });
});

describe('MerkleTree over a store', () => {
  it('reopens at a stored size (frontier read from the store or passed in) and keeps appending consistently', () => {
    const leaves = leavesOf(300, 3);
    const store = new MemoryNodeStore();
    const first = new MerkleTree(store);
    for (const l of leaves.slice(0, 137)) first.append(l);
    const reopened = new MerkleTree(store, 137);
    const viaFrontier = new MerkleTree(store, 137, fetchNodes(store, rootNodes(137)));
    expect(toHex(reopened.root())).toBe(toHex(first.root()));
    for (const l of leaves.slice(137)) reopened.append(l);
    expect(toHex(reopened.root())).toBe(toHex(treeOf(leaves).root()));
    expect(toHex(viaFrontier.rootAt(137))).toBe(toHex(first.root()));
  });

  it('writes one leaf plus one node per completed subtree: 2n − popcount(n) nodes in all', () => {
    const writes: string[] = [];
    const inner = new MemoryNodeStore();
    const store = {
      get: (l: number, i: number) => inner.get(l, i),
      put: (l: number, i: number, h: Uint8Array) => {
        writes.push(nodeKey(l, i));
        inner.put(l, i, h);
      },
    };
    const tree = new MerkleTree(store);
    for (const l of leavesOf(100)) tree.append(l);
    expect(writes.length).toBe(2 * 100 - 3); // 100 = 0b1100100 has three 1-bits
    expect(new Set(writes).size).toBe(writes.length);
  });

  it('reports a store that lacks nodes as inconsistent', () => {
    const store = new MemoryNodeStore();
    expect(() => new MerkleTree(store, 5)).toThrow(expect.objectContaining({ code: 'audit-log-inconsistent' }));
    expect(() => store.put(0, 1, new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'audit-log-inconsistent' }));
    expect(() => store.put(0, 0, new Uint8Array(31))).toThrow(OpenPrumError);
    store.put(0, 0, new Uint8Array(32).fill(1));
    store.put(0, 1, new Uint8Array(32).fill(2));
    for (const bad of [0.5, -1, 2, Number.NaN, 2 ** 32]) expect(store.get(0, bad)).toBeUndefined();
    expect(store.get(0, 1)?.[0]).toBe(2);
    expect(store.get(7, 0)).toBeUndefined();
  });

  it('rejects leaf hashes of the wrong length', () => {
    expect(() => new MerkleTree(new MemoryNodeStore()).append(new Uint8Array(31))).toThrow(OpenPrumError);
  });
});
