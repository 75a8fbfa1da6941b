/**
 * The audit log's Merkle tree (RFC 9162 §2.1): incremental append, root at any past size,
 * inclusion proofs (§2.1.3) and consistency proofs (§2.1.4), over a pluggable node store.
 *
 * Storage model. The store keeps the hash of every *complete* subtree: node (level L, index i)
 * is MTH(D[i·2^L : (i+1)·2^L]), level 0 being the leaf hashes. These nodes never change once
 * written (the log is append-only), so they can live in an append-only SQL table
 * (level, idx, hash). Every hash in a proof or root is either such a node or the hash of an
 * incomplete subtree on the tree's right border, which is a right fold of at most log2(n)
 * complete nodes. Hence proofs and roots need O(log n) stored nodes and O(log n) hashing, never a
 * pass over the leaves: that is what keeps an inclusion proof in a 10 M-entry log well under 1 ms.
 *
 * Two ways to use it:
 *
 *  - Plan, fetch, build (for a SQL store: one round trip). `inclusionProofNodes`,
 *    `consistencyProofNodes` and `rootNodes` say which nodes are needed; the caller fetches them
 *    in one query, in any order, and passes the hashes, aligned with the refs, to
 *    `buildInclusionProof`, `buildConsistencyProof` or `rootFromNodes`.
 *
 *  - `MerkleTree` over a synchronous `NodeStore` (the in-memory `MemoryNodeStore`, or a cache):
 *    `append` writes the O(1) amortised new nodes to the store and keeps the right border
 *    (the "frontier") in memory, so appending never reads the store.
 *
 * All sizes and indices are JavaScript numbers, exact up to 2^53; shifts are written as
 * divisions because `>>` truncates to 32 bits.
 */
import { OpenPrumError } from '../../errors/index.ts';
import { HASH_SIZE, bytesEqual, emptyRoot, isSafeNonNegativeInteger, nodeHash } from './hash.ts';

/** A stored node: the complete subtree over leaves [index·2^level, (index+1)·2^level). */
export interface NodeRef {
  readonly level: number;
  readonly index: number;
}

/** A node and its hash, e.g. one row of the (level, idx, hash) table. */
export interface NodeWrite extends NodeRef {
  readonly hash: Uint8Array;
}

/**
 * Where the tree keeps its complete-subtree hashes. `get` answers `undefined` for a node not
 * (yet) stored. Returned arrays must not be mutated. Nodes are written once and never change;
 * within a level they are written in increasing index order.
 */
export interface NodeStore {
  get(level: number, index: number): Uint8Array | undefined;
  put(level: number, index: number, hash: Uint8Array): void;
}

/** A stable string key for a node, for Maps built from a batch query. */
export function nodeKey(level: number, index: number): string {
  return `${level}/${index}`;
}

// --- arithmetic -----------------------------------------------------------------------------

function half(n: number): number {
  return Math.floor(n / 2);
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

/** The largest power of two strictly below n (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function checkSize(n: unknown, what: string): asserts n is number {
  if (!isSafeNonNegativeInteger(n)) {
    throw new OpenPrumError('input-invalid', `${what} must be a non-negative safe integer.`, { [what]: n });
  }
}

// --- planning: which complete subtrees make up which hash ------------------------------------

/** A run of leaves [lo, hi) whose Merkle Tree Hash is one element of a proof or the root. */
type Span = readonly [lo: number, hi: number];

/**
 * The complete subtrees covering [lo, hi), largest first, appended to `out`. Every span the RFC
 * algorithms produce starts at a multiple of a power of two at least as large as its biggest
 * piece, so the pieces are exactly the binary decomposition of hi − lo, each aligned, and
 * MTH(D[lo:hi]) is their right fold (RFC 9162 §2.1.1, applying the split rule repeatedly).
 */
function spanNodes(lo: number, hi: number, out: NodeRef[]): void {
  while (lo < hi) {
    let size = 1;
    let level = 0;
    while (size * 2 <= hi - lo) {
      size *= 2;
      level++;
    }
    out.push({ level, index: lo / size });
    lo += size;
  }
}

/** How many complete subtrees `spanNodes` gives for a span of n leaves: the 1-bits of n. */
function pieces(n: number): number {
  let count = 0;
  while (n > 0) {
    if (isOdd(n)) count++;
    n = half(n);
  }
  return count;
}

/**
 * The spans of PATH(m, D[0:n]) (RFC 9162 §2.1.3.1), in proof order (leaf's sibling first). The
 * recursion descends from the root, taking the sibling of the half that holds leaf m at each
 * split; walking it top-down and reversing gives the RFC's bottom-up order.
 */
function inclusionSpans(m: number, n: number): Span[] {
  const spans: Span[] = [];
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (m < lo + k) {
      spans.push([lo + k, hi]);
      hi = lo + k;
    } else {
      spans.push([lo, lo + k]);
      lo += k;
    }
  }
  return spans.reverse();
}

/**
 * The spans of PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true) (RFC 9162 §2.1.4.1), in proof order.
 * Walks the same recursion top-down: while m is inside the left half, the right half (only in
 * the new tree) is recorded; once m reaches into the right half, the left half (equal in both
 * trees) is recorded and the flag b drops, so the subtree finally equal to the old tree's last
 * part is recorded too — unless it is the whole old tree (b still true), whose root the verifier
 * already holds.
 */
function consistencySpans(m: number, n: number): Span[] {
  const spans: Span[] = [];
  let lo = 0;
  let hi = n;
  let wholeOldTree = true;
  while (m - lo < hi - lo) {
    const k = splitPoint(hi - lo);
    if (m - lo <= k) {
      spans.push([lo + k, hi]);
      hi = lo + k;
    } else {
      spans.push([lo, lo + k]);
      lo += k;
      wholeOldTree = false;
    }
  }
  if (!wholeOldTree) spans.push([lo, hi]);
  return spans.reverse();
}

function nodesOf(spans: readonly Span[]): NodeRef[] {
  const out: NodeRef[] = [];
  for (const [lo, hi] of spans) spanNodes(lo, hi, out);
  return out;
}

/** Folds `hashes`, aligned with the nodes of `spans`, into one MTH per span. */
function foldSpans(spans: readonly Span[], hashes: readonly Uint8Array[], what: string): Uint8Array[] {
  let expected = 0;
  for (const [lo, hi] of spans) expected += pieces(hi - lo);
  if (hashes.length !== expected) {
    throw new OpenPrumError('input-invalid', `${what} needs ${expected} node hashes, got ${hashes.length}.`, {
      expected,
      got: hashes.length,
    });
  }
  for (const h of hashes) {
    if (h.length !== HASH_SIZE) {
      throw new OpenPrumError('input-invalid', `${what}: every node hash must be ${HASH_SIZE} bytes.`);
    }
  }
  const result: Uint8Array[] = [];
  let next = 0;
  for (const [lo, hi] of spans) {
    const count = pieces(hi - lo);
    // Right fold: the smallest (right-most) subtree is hashed first, then each larger one is
    // prepended as a left child, mirroring MTH's split at the largest power of two.
    let acc = hashes[next + count - 1] as Uint8Array;
    for (let j = count - 2; j >= 0; j--) acc = nodeHash(hashes[next + j] as Uint8Array, acc);
    result.push(acc);
    next += count;
  }
  return result;
}

/** The nodes whose right fold is MTH(D[0:treeSize]); empty for the empty tree. */
export function rootNodes(treeSize: number): NodeRef[] {
  checkSize(treeSize, 'treeSize');
  return treeSize === 0 ? [] : nodesOf([[0, treeSize]]);
}

/** MTH(D[0:treeSize]) from the hashes of `rootNodes(treeSize)`, in that order. */
export function rootFromNodes(treeSize: number, hashes: readonly Uint8Array[]): Uint8Array {
  checkSize(treeSize, 'treeSize');
  if (treeSize === 0) {
    if (hashes.length !== 0) throw new OpenPrumError('input-invalid', 'The empty tree has no nodes.');
    return emptyRoot();
  }
  return foldSpans([[0, treeSize]], hashes, 'The root')[0] as Uint8Array;
}

function checkLeaf(leafIndex: number, treeSize: number): void {
  checkSize(leafIndex, 'leafIndex');
  checkSize(treeSize, 'treeSize');
  if (leafIndex >= treeSize) {
    throw new OpenPrumError('input-invalid', `Leaf ${leafIndex} is not in a tree of ${treeSize} leaves.`, {
      leafIndex,
      treeSize,
    });
  }
}

/** The stored nodes an inclusion proof of leaf `leafIndex` in the tree of `treeSize` needs. */
export function inclusionProofNodes(leafIndex: number, treeSize: number): NodeRef[] {
  checkLeaf(leafIndex, treeSize);
  return nodesOf(inclusionSpans(leafIndex, treeSize));
}

/** The inclusion proof (RFC 9162 §2.1.3.1) from the hashes of `inclusionProofNodes`, in order. */
export function buildInclusionProof(leafIndex: number, treeSize: number, hashes: readonly Uint8Array[]): Uint8Array[] {
  checkLeaf(leafIndex, treeSize);
  return foldSpans(inclusionSpans(leafIndex, treeSize), hashes, 'The inclusion proof');
}

function checkSizes(size1: number, size2: number): void {
  checkSize(size1, 'size1');
  checkSize(size2, 'size2');
  if (size1 > size2) {
    throw new OpenPrumError('input-invalid', `A consistency proof runs from a smaller to a larger tree; got ${size1} > ${size2}.`, {
      size1,
      size2,
    });
  }
}

/**
 * The stored nodes a consistency proof from `size1` to `size2` needs. Empty when size1 is 0 or
 * equal to size2: RFC 9162 §2.1.4.1 defines proofs for 0 < size1 < size2; the empty tree is a
 * prefix of every tree and a tree is consistent with itself, so there is nothing to prove.
 */
export function consistencyProofNodes(size1: number, size2: number): NodeRef[] {
  checkSizes(size1, size2);
  if (size1 === 0 || size1 === size2) return [];
  return nodesOf(consistencySpans(size1, size2));
}

/** The consistency proof (RFC 9162 §2.1.4.1) from the hashes of `consistencyProofNodes`, in order. */
export function buildConsistencyProof(size1: number, size2: number, hashes: readonly Uint8Array[]): Uint8Array[] {
  checkSizes(size1, size2);
  if (size1 === 0 || size1 === size2) {
    if (hashes.length !== 0) throw new OpenPrumError('input-invalid', 'This consistency proof has no nodes.');
    return [];
  }
  return foldSpans(consistencySpans(size1, size2), hashes, 'The consistency proof');
}

// --- verification (never throws on untrusted input) -----------------------------------------

/**
 * The root implied by an inclusion proof, by the algorithm of RFC 9162 §2.1.3.2, or `undefined`
 * when the proof is malformed for this index and size (too long, too short, wrong hash length).
 */
function rootFromPath(leafIndex: number, treeSize: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Uint8Array | undefined {
  if (!isSafeNonNegativeInteger(leafIndex) || !isSafeNonNegativeInteger(treeSize)) return undefined;
  if (leafIndex >= treeSize || leaf.length !== HASH_SIZE) return undefined; // step 1
  if (proof.some((p) => p.length !== HASH_SIZE)) return undefined;
  let fn = leafIndex; // step 2
  let sn = treeSize - 1;
  let r = leaf; // step 3
  for (const p of proof) {
    // step 4
    if (sn === 0) return undefined; // 4a: more proof than tree height
    if (isOdd(fn) || fn === sn) {
      // 4b: p is a left sibling (or we are on the right border, where the node has no right
      // sibling at this level and climbs until it is a right child).
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn); // 4c
    sn = half(sn);
  }
  return sn === 0 ? r : undefined; // step 5, first half: the proof reached the root
}

/**
 * The root an inclusion proof leads to (RFC 9162 §2.1.3.2). Throws `audit-proof-invalid` when the
 * proof cannot be a proof for this leaf index and tree size.
 */
export function rootFromInclusionProof(
  leafIndex: number,
  treeSize: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  const r = rootFromPath(leafIndex, treeSize, leaf, proof);
  if (!r) {
    throw new OpenPrumError('audit-proof-invalid', `The inclusion proof does not fit leaf ${leafIndex} of a tree of ${treeSize}.`, {
      leafIndex,
      treeSize,
      proofLength: proof.length,
    });
  }
  return r;
}

/** Whether `proof` shows `leaf` at `leafIndex` in the tree of `treeSize` with root `root`. */
export function verifyInclusion(
  leafIndex: number,
  treeSize: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const r = rootFromPath(leafIndex, treeSize, leaf, proof);
  return r !== undefined && bytesEqual(r, root);
}

/**
 * Whether `proof` shows the tree of `size1` with root `root1` to be a prefix of the tree of
 * `size2` with root `root2`, by the algorithm of RFC 9162 §2.1.4.2. Outside the RFC's
 * 0 < size1 < size2: equal sizes need equal roots and an empty proof; size1 = 0 needs root1 to
 * be the empty-tree hash and an empty proof.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSafeNonNegativeInteger(size1) || !isSafeNonNegativeInteger(size2) || size1 > size2) return false;
  if (root1.length !== HASH_SIZE || root2.length !== HASH_SIZE) return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  if (size1 === size2) return proof.length === 0 && bytesEqual(root1, root2);
  if (size1 === 0) return proof.length === 0 && bytesEqual(root1, emptyRoot());
  if (proof.length === 0) return false; // step 1
  // Step 2: when the old tree is a complete subtree its root is a node of the new tree and the
  // generator left it out (b = true); the verifier supplies it.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1; // step 3
  let sn = size2 - 1;
  while (isOdd(fn)) {
    // step 4: skip the levels where the old tree's last node is a right child of a node that
    // is itself entirely in the old tree
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array; // step 5
  let sr = fr;
  for (let i = 1; i < path.length; i++) {
    // step 6
    const c = path[i] as Uint8Array;
    if (sn === 0) return false; // 6a
    if (isOdd(fn) || fn === sn) {
      // 6b: c is a left sibling in both trees
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      // c is a right sibling that only the new tree has
      sr = nodeHash(sr, c);
    }
    fn = half(fn); // 6c
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(fr, root1) && bytesEqual(sr, root2); // step 7
}

// --- stores and the incremental tree ---------------------------------------------------------

const CHUNK_BITS = 15; // 32 768 hashes = 1 MiB per full chunk
const CHUNK_HASHES = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_HASHES - 1;
const FIRST_CAPACITY = 16;
const MAX_MEMORY_INDEX = 2 ** 32; // index arithmetic below uses 32-bit operators

interface Level {
  chunks: Uint8Array[];
  /** Nodes stored at this level: they are written in order, so [0, count) are present. */
  count: number;
}

/**
 * An in-memory store: per level, fixed 1 MiB typed-array chunks (32 768 hashes each), so a
 * 10 M-entry tree (~20 M nodes, 640 MB of hashes) costs almost nothing beyond the hashes
 * themselves, grows without copying, and stays outside the JavaScript heap limit. The first chunk
 * of each level starts small and doubles, so that thousands of small test trees stay cheap.
 */
export class MemoryNodeStore implements NodeStore {
  readonly #levels: Level[] = [];

  get(level: number, index: number): Uint8Array | undefined {
    const lv = this.#levels[level];
    // `index >>> 0 === index` admits exactly the integers in [0, 2^32), which the chunk
    // arithmetic below needs; anything else is simply not stored.
    if (lv === undefined || index >>> 0 !== index || index >= lv.count) return undefined;
    const chunk = lv.chunks[index >>> CHUNK_BITS];
    if (chunk === undefined) return undefined;
    const offset = (index & CHUNK_MASK) * HASH_SIZE;
    return chunk.subarray(offset, offset + HASH_SIZE);
  }

  put(level: number, index: number, hash: Uint8Array): void {
    if (!Number.isInteger(level) || level < 0 || level > 63 || !Number.isInteger(index) || index < 0 || index >= MAX_MEMORY_INDEX) {
      throw new OpenPrumError('input-invalid', 'A node position must be a level 0-63 and an index below 2^32.', { level, index });
    }
    if (hash.length !== HASH_SIZE) {
      throw new OpenPrumError('input-invalid', `A node hash must be ${HASH_SIZE} bytes.`, { length: hash.length });
    }
    let lv = this.#levels[level];
    if (lv === undefined) {
      while (this.#levels.length < level) this.#levels.push({ chunks: [], count: 0 });
      lv = { chunks: [], count: 0 };
      this.#levels[level] = lv;
    }
    if (index > lv.count) {
      throw new OpenPrumError('audit-log-inconsistent', `Node ${nodeKey(level, index)} written before node ${nodeKey(level, lv.count)}.`, {
        level,
        index,
      });
    }
    const c = index >>> CHUNK_BITS;
    const offset = (index & CHUNK_MASK) * HASH_SIZE;
    let chunk = lv.chunks[c];
    if (chunk === undefined) {
      chunk = new Uint8Array((c === 0 ? FIRST_CAPACITY : CHUNK_HASHES) * HASH_SIZE);
      lv.chunks[c] = chunk;
    } else if (offset >= chunk.length) {
      // Only chunk 0 grows; views handed out earlier keep the old buffer, whose bytes are final.
      const grown = new Uint8Array(Math.min(chunk.length * 2, CHUNK_HASHES * HASH_SIZE));
      grown.set(chunk);
      chunk = grown;
      lv.chunks[c] = chunk;
    }
    chunk.set(hash, offset);
    if (index === lv.count) lv.count++;
  }

  /** Bytes of hash storage allocated (for benchmarks and capacity planning). */
  get byteLength(): number {
    let total = 0;
    for (const lv of this.#levels) for (const chunk of lv.chunks) total += chunk.byteLength;
    return total;
  }
}

/** Looks up `refs` in `store`, throwing `audit-log-inconsistent` for a node that is missing. */
export function fetchNodes(store: NodeStore, refs: readonly NodeRef[]): Uint8Array[] {
  return refs.map(({ level, index }) => {
    const h = store.get(level, index);
    if (h === undefined) {
      throw new OpenPrumError('audit-log-inconsistent', `The audit tree lacks node ${nodeKey(level, index)}.`, { level, index });
    }
    return h;
  });
}

/**
 * An append-only Merkle tree over a `NodeStore`. Keeps the right border (one complete subtree
 * per 1-bit of the size, the "frontier") in memory: `append` costs one leaf write plus one hash
 * and one write per trailing 1-bit of the old size (2 on average) and never reads the store.
 */
export class MerkleTree {
  readonly #store: NodeStore;
  #size: number;
  /** #frontier[L]: hash of the complete level-L subtree on the right border, if the size has bit L. */
  readonly #frontier: (Uint8Array | undefined)[] = [];

  /**
   * Opens a tree of `size` leaves already in `store`. The frontier is read from the store, or
   * taken from `frontier` (the hashes of `rootNodes(size)`, in order) when the caller fetched
   * them in one batch.
   */
  constructor(store: NodeStore, size = 0, frontier?: readonly Uint8Array[]) {
    checkSize(size, 'size');
    this.#store = store;
    this.#size = size;
    const refs = rootNodes(size);
    const hashes = frontier ?? fetchNodes(store, refs);
    if (hashes.length !== refs.length || hashes.some((h) => h.length !== HASH_SIZE)) {
      throw new OpenPrumError('input-invalid', `A tree of ${size} leaves has ${refs.length} frontier nodes of ${HASH_SIZE} bytes.`);
    }
    refs.forEach((ref, i) => {
      this.#frontier[ref.level] = hashes[i];
    });
  }

  /** Number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** Appends a leaf hash (see `entryLeafHash`); returns its index. */
  append(leaf: Uint8Array): number {
    if (leaf.length !== HASH_SIZE) {
      throw new OpenPrumError('input-invalid', `A leaf hash must be ${HASH_SIZE} bytes.`, { length: leaf.length });
    }
    const index = this.#size;
    if (index + 1 > Number.MAX_SAFE_INTEGER) {
      throw new OpenPrumError('input-invalid', 'The audit tree is full.');
    }
    this.#store.put(0, index, leaf);
    let hash = leaf;
    let level = 0;
    let i = index;
    // Each trailing 1-bit of the old size is a complete left sibling on the frontier: merge it
    // with the new node into the parent, which is now complete too (RFC 9162 §2.1.1 structure).
    while (isOdd(i)) {
      hash = nodeHash(this.#frontier[level] as Uint8Array, hash);
      this.#frontier[level] = undefined;
      level++;
      i = half(i);
      this.#store.put(level, i, hash);
    }
    this.#frontier[level] = hash;
    this.#size = index + 1;
    return index;
  }

  /** The current root, MTH(D[0:size]), from the frontier alone. */
  root(): Uint8Array {
    let acc: Uint8Array | undefined;
    // Right fold from the smallest frontier subtree (lowest level) upward.
    for (let level = 0; level < this.#frontier.length; level++) {
      const h = this.#frontier[level];
      if (h !== undefined) acc = acc === undefined ? h : nodeHash(h, acc);
    }
    return acc ?? emptyRoot();
  }

  /** MTH(D[0:treeSize]) for any treeSize ≤ size, e.g. to sign or check an old tree head. */
  rootAt(treeSize: number): Uint8Array {
    this.#checkWithin(treeSize, 'treeSize');
    if (treeSize === this.#size) return this.root();
    return rootFromNodes(treeSize, fetchNodes(this.#store, rootNodes(treeSize)));
  }

  /** Inclusion proof of leaf `leafIndex` in the tree of `treeSize` (default: current size). */
  inclusionProof(leafIndex: number, treeSize: number = this.#size): Uint8Array[] {
    this.#checkWithin(treeSize, 'treeSize');
    return buildInclusionProof(leafIndex, treeSize, fetchNodes(this.#store, inclusionProofNodes(leafIndex, treeSize)));
  }

  /** Consistency proof from `size1` to `size2` (default: current size). */
  consistencyProof(size1: number, size2: number = this.#size): Uint8Array[] {
    this.#checkWithin(size2, 'size2');
    return buildConsistencyProof(size1, size2, fetchNodes(this.#store, consistencyProofNodes(size1, size2)));
  }

  #checkWithin(n: number, what: string): void {
    checkSize(n, what);
    if (n > this.#size) {
      throw new OpenPrumError('input-invalid', `${what} ${n} is beyond the tree's ${this.#size} leaves.`, { [what]: n, size: this.#size });
    }
  }
}
