import { describe, expect, it } from 'vitest';
import { bytesEqual, fetchNodes, leafHash, MemoryNodeStore, MerkleTree, nodeKey } from './merkle/index.ts';
import { rangeProofNodes, rootFromRange } from './range.ts';

function tree(n: number): { tree: MerkleTree; store: MemoryNodeStore; leaves: Uint8Array[] } {
  const store = new MemoryNodeStore();
  const t = new MerkleTree(store);
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const l = leafHash(new Uint8Array([i & 0xff, i >> 8]));
    leaves.push(l);
    t.append(l);
  }
  return { tree: t, store, leaves };
}

describe('range proofs', () => {
  it('rebuild the root from the leaves of any range and O(log n) stored nodes, for every range of small trees', () => {
    for (let n = 0; n <= 33; n++) {
      const { tree: t, store, leaves } = tree(n);
      for (let a = 0; a <= n; a++) {
        for (let b = a; b <= n; b++) {
          const refs = rangeProofNodes(a, b, n);
          expect(refs.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(Math.max(n, 2))) + 1);
          const nodes = new Map(refs.map((r, i) => [nodeKey(r.level, r.index), fetchNodes(store, refs)[i]!]));
          const root = rootFromRange(a, b, n, leaves.slice(a, b), nodes);
          expect(root && bytesEqual(root, t.root())).toBe(true);
        }
      }
    }
  });

  it('does not fold to the root when a leaf or a node is altered, missing or extra', () => {
    const n = 100;
    const { tree: t, store, leaves } = tree(n);
    const refs = rangeProofNodes(40, 60, n);
    const nodes = new Map(refs.map((r, i) => [nodeKey(r.level, r.index), fetchNodes(store, refs)[i]!]));
    expect(bytesEqual(rootFromRange(40, 60, n, leaves.slice(40, 60), nodes)!, t.root())).toBe(true);
    const altered = leaves.slice(40, 60);
    altered[3] = leaves[0]!;
    expect(bytesEqual(rootFromRange(40, 60, n, altered, nodes)!, t.root())).toBe(false);
    expect(rootFromRange(40, 60, n, leaves.slice(40, 59), nodes)).toBeUndefined();
    const fewer = new Map(nodes);
    fewer.delete(nodeKey(refs[0]!.level, refs[0]!.index));
    expect(rootFromRange(40, 60, n, leaves.slice(40, 60), fewer)).toBeUndefined();
    expect(rootFromRange(40, 60, n, leaves.slice(41, 61), nodes)).not.toEqual(t.root());
    expect(rootFromRange(60, 40, n, [], nodes)).toBeUndefined();
    expect(() => rangeProofNodes(0, 101, n)).toThrow(/within/);
  });

  it('needs about 2·log2(n) nodes in a large tree', () => {
    const refs = rangeProofNodes(3_333_333, 4_444_444, 10_000_000);
    expect(refs.length).toBeLessThanOrEqual(48);
  });
});
