/**
 * Range proofs: the leaves of entries [from, to) of a log of `treeSize` entries, plus the few
 * complete subtrees outside the range, fold to the root (RFC 9162 §2.1.1). An export of a period
 * (Prüm Decision Art. 30(3): the records of any period, for the data-protection authority) then
 * carries the leaf hashes of that period and at most ~2·log2(n) other nodes, instead of the leaf
 * hashes of the whole log (10 M entries = 320 MB) or one inclusion proof per entry (~1.5 kB each).
 * The verifier rebuilds the root from them and so authenticates every leaf of the range at once;
 * each exported entry is then checked against the leaf at its index.
 *
 * The nodes outside the range are exactly the subtrees of MTH's recursion (split at the largest
 * power of two below the size) that lie wholly outside [from, to) and are complete, i.e. stored
 * nodes (level, index) of the node table. Nothing here is specific to one storage.
 */
import { OpenPrumError } from '../errors/index.ts';
import { emptyRoot, HASH_SIZE, isSafeNonNegativeInteger, nodeHash, nodeKey, type NodeRef } from './merkle/index.ts';

function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function log2IfPowerOfTwo(n: number): number | undefined {
  let level = 0;
  let size = 1;
  while (size < n) {
    size *= 2;
    level++;
  }
  return size === n ? level : undefined;
}

function checkRange(from: number, to: number, treeSize: number): void {
  if (!isSafeNonNegativeInteger(from) || !isSafeNonNegativeInteger(to) || !isSafeNonNegativeInteger(treeSize) || from > to || to > treeSize) {
    throw new OpenPrumError('input-invalid', `A range of entries [${from}, ${to}) must lie within the log's ${treeSize} entries.`, { from, to, treeSize });
  }
}

/** The stored nodes that, with the leaves of [from, to), give the root of the tree of `treeSize`. */
export function rangeProofNodes(from: number, to: number, treeSize: number): NodeRef[] {
  checkRange(from, to, treeSize);
  const out: NodeRef[] = [];
  const walk = (lo: number, hi: number): void => {
    if (lo >= from && hi <= to) return; // inside: the leaves give it
    const size = hi - lo;
    if (hi <= from || lo >= to) {
      const level = log2IfPowerOfTwo(size);
      if (level !== undefined) {
        out.push({ level, index: lo / size });
        return;
      }
    }
    const k = splitPoint(size);
    walk(lo, lo + k);
    walk(lo + k, hi);
  };
  if (treeSize > 0) walk(0, treeSize);
  return out;
}

/**
 * The root of the tree of `treeSize` from the leaf hashes of [from, to) (in order) and the hashes of
 * `rangeProofNodes(from, to, treeSize)` (by `nodeKey`). `undefined` when something is missing or
 * malformed: the caller reports that the range cannot be authenticated. Never throws on bad input.
 */
export function rootFromRange(from: number, to: number, treeSize: number, leaves: readonly Uint8Array[], nodes: ReadonlyMap<string, Uint8Array>): Uint8Array | undefined {
  if (!isSafeNonNegativeInteger(from) || !isSafeNonNegativeInteger(to) || !isSafeNonNegativeInteger(treeSize) || from > to || to > treeSize) return undefined;
  if (leaves.length !== to - from || leaves.some((l) => l.length !== HASH_SIZE)) return undefined;
  if (treeSize === 0) return emptyRoot();
  const mth = (lo: number, hi: number): Uint8Array | undefined => {
    const size = hi - lo;
    if (size === 1 && lo >= from && hi <= to) return leaves[lo - from];
    if (hi <= from || lo >= to) {
      const level = log2IfPowerOfTwo(size);
      if (level !== undefined) {
        const h = nodes.get(nodeKey(level, lo / size));
        return h !== undefined && h.length === HASH_SIZE ? h : undefined;
      }
    }
    const k = splitPoint(size);
    const left = mth(lo, lo + k);
    if (left === undefined) return undefined;
    const right = mth(lo + k, hi);
    return right === undefined ? undefined : nodeHash(left, right);
  };
  return mth(0, treeSize);
}
