/**
 * The work of a bulk comparison (Prüm Decision Art. 4: every profile of one file against every
 * profile of another), cut into tasks that run in the main thread or in worker threads over shared
 * memory. index-keys.ts and README.md (section 3) explain why the two tiers together find every hit.
 *
 * Tier A task: one combo of parts (BULK_LAYOUT). Both files' keys for it are sorted and merged;
 * equal keys give candidates. A candidate is reported here only if its classes share enough intact
 * parts (covered) and this combo is the first of equal parts, so each covered hit is reported by
 * exactly one task.
 *
 * Tier B task: pairs whose classes are not covered. For each such pair of classes one side is
 * designated (the one with fewer triples in all): its profiles' triples go into tables, and the
 * other file's profiles are scanned against them in blocks (see buildTierB and runTierB).
 */
import { OpenPrumError } from '../errors/index.ts';
import { BULK_LAYOUT, finish, mix, popcount, reportingCombo } from './index-keys.ts';
import { FULL } from './store.ts';
import { OUT_COMPARED, OUT_MATCHING, OUT_MISMATCHES, OUT_WILDCARD, verifyRows } from './verify.ts';

const L = BULK_LAYOUT;
const CLASSES = L.classes;

/** One side of a comparison, in shared memory. */
export interface SideData {
  readonly rows: Uint16Array;
  readonly count: number;
  /** Class (intact parts) of each profile. */
  readonly cls: Uint8Array;
}

/** What every task needs; plain data so that it can be sent to a worker. */
export interface BulkData {
  readonly width: number;
  readonly amelSlot: number;
  readonly geno: Uint32Array[];
  /** Tier B group of each slot (0 or 1), 255 for amelogenin. */
  readonly groups: Uint8Array;
  /** Slots of each part. */
  readonly parts: number[][];
  /** Slots of each combo of parts (empty if a locus is missing from the table). */
  readonly comboSlots: Int32Array[];
  /**
   * For classes a (file A) and b (file B), `designated[a * CLASSES + b]` is 0 when tier A covers
   * the pair of classes (or no profile has one of them), 1 when tier B puts file A's profiles in the
   * table, 2 when it puts file B's.
   */
  readonly designated: Uint8Array;
  readonly a: SideData;
  readonly b: SideData;
}

export type BulkTask =
  | { readonly kind: 'tier-a'; readonly combo: number }
  | { readonly kind: 'tier-b'; readonly table: 'a' | 'b'; readonly from: number; readonly to: number };

/** Hits as flat records: a, b, mismatches, matching loci, compared loci, wildcard used. */
export const HIT_FIELDS = 6;

export interface TaskResult {
  readonly hits: Int32Array;
  readonly candidates: number;
}

class HitList {
  a = new Int32Array(6 * 64);
  n = 0;
  push(ia: number, ib: number, out: Int32Array): void {
    if (this.n + HIT_FIELDS > this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    const a = this.a;
    a[this.n] = ia;
    a[this.n + 1] = ib;
    a[this.n + 2] = out[OUT_MISMATCHES]!;
    a[this.n + 3] = out[OUT_MATCHING]!;
    a[this.n + 4] = out[OUT_COMPARED]!;
    a[this.n + 5] = out[OUT_WILDCARD]!;
    this.n += HIT_FIELDS;
  }
  result(): Int32Array {
    return this.a.slice(0, this.n);
  }
}

/** Sorts keys (unsigned 32-bit) with their ids, LSD radix in two 16-bit passes. */
export function radixSort(keys: Uint32Array, ids: Int32Array): void {
  const n = keys.length;
  if (n < 2) return;
  const k2 = new Uint32Array(n);
  const i2 = new Int32Array(n);
  const count = new Uint32Array(65537);
  for (let pass = 0; pass < 2; pass++) {
    const shift = pass * 16;
    const [src, srcIds, dst, dstIds] = pass === 0 ? [keys, ids, k2, i2] : [k2, i2, keys, ids];
    count.fill(0);
    for (let i = 0; i < n; i++) count[((src[i]! >>> shift) & 0xffff) + 1]!++;
    for (let i = 1; i <= 65536; i++) count[i]! += count[i - 1]!;
    for (let i = 0; i < n; i++) {
      const d = (src[i]! >>> shift) & 0xffff;
      const at = count[d]!++;
      dst[at] = src[i]!;
      dstIds[at] = srcIds[i]!;
    }
  }
}

function partsEqual(d: BulkData, both: number, ra: Uint16Array, offA: number, rb: Uint16Array, offB: number): number {
  let eq = 0;
  for (let p = 0; p < d.parts.length; p++) {
    if (((both >> p) & 1) === 0) continue;
    const ps = d.parts[p]!;
    let same = true;
    for (let k = 0; k < ps.length; k++) if (ra[offA + ps[k]!] !== rb[offB + ps[k]!]) same = false;
    if (same) eq |= 1 << p;
  }
  return eq;
}

function comboKeys(d: BulkData, side: SideData, combo: number): { keys: Uint32Array; ids: Int32Array } {
  const need = L.combos[combo]!.reduce((m, p) => m | (1 << p), 0);
  const slots = d.comboSlots[combo]!;
  let n = 0;
  for (let r = 0; r < side.count; r++) if ((side.cls[r]! & need) === need) n++;
  const keys = new Uint32Array(n);
  const ids = new Int32Array(n);
  if (slots.length === 0) return { keys: new Uint32Array(0), ids: new Int32Array(0) };
  const rows = side.rows;
  const w = d.width;
  let k = 0;
  const seed = mix(0x5bd1e995, combo);
  for (let r = 0; r < side.count; r++) {
    if ((side.cls[r]! & need) !== need) continue;
    let h = seed;
    const off = r * w;
    for (let s = 0; s < slots.length; s++) h = mix(h, rows[off + slots[s]!]!);
    keys[k] = finish(h);
    ids[k++] = r;
  }
  radixSort(keys, ids);
  return { keys, ids };
}

/** Tier A: the pairs found by the keys of one combo of parts. */
export function runTierA(d: BulkData, combo: number): TaskResult {
  const A = comboKeys(d, d.a, combo);
  const B = comboKeys(d, d.b, combo);
  const hits = new HitList();
  const out = new Int32Array(4);
  const w = d.width;
  let candidates = 0;
  let i = 0;
  let j = 0;
  const na = A.keys.length;
  const nb = B.keys.length;
  while (i < na && j < nb) {
    const ka = A.keys[i]!;
    const kb = B.keys[j]!;
    if (ka < kb) i++;
    else if (ka > kb) j++;
    else {
      let ie = i;
      while (ie < na && A.keys[ie] === ka) ie++;
      let je = j;
      while (je < nb && B.keys[je] === ka) je++;
      for (let x = i; x < ie; x++) {
        const ia = A.ids[x]!;
        const ca = d.a.cls[ia]!;
        for (let y = j; y < je; y++) {
          const ib = B.ids[y]!;
          const cb = d.b.cls[ib]!;
          const both = ca & cb;
          if (popcount(both) < L.cover) continue; // tier B's pair
          candidates++;
          if (reportingCombo(L, partsEqual(d, both, d.a.rows, ia * w, d.b.rows, ib * w)) !== combo) continue;
          if (verifyRows(d.geno, d.amelSlot, w, d.a.rows, ia * w, d.b.rows, ib * w, out)) hits.push(ia, ib, out);
        }
      }
      i = ie;
      j = je;
    }
  }
  return { hits: hits.result(), candidates };
}

/** Which classes of the table side go into the table, and which of the scan side must scan. */
function tierBClasses(d: BulkData, table: 'a' | 'b'): { tableCls: Uint8Array; scanCls: Uint8Array } {
  const tableCls = new Uint8Array(CLASSES);
  const scanCls = new Uint8Array(CLASSES);
  const mark = table === 'a' ? 1 : 2;
  for (let ca = 0; ca < CLASSES; ca++) {
    for (let cb = 0; cb < CLASSES; cb++) {
      if (d.designated[ca * CLASSES + cb] !== mark) continue;
      tableCls[table === 'a' ? ca : cb] = 1;
      scanCls[table === 'a' ? cb : ca] = 1;
    }
  }
  return { tableCls, scanCls };
}

/** Hash of the three gids of a triple (the triple itself is known from the sub-table). */
function tripleHash(a: number, b: number, c: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x632be5ab, 0x85ebca6b) ^ Math.imul(c + 0x2545f491, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h | 0;
}

/**
 * A table of triples. Entries are grouped by their triple of loci (slots i < j < k of one group);
 * within a triple they are sorted by the hash of the three gids and have a small bitmap in front, so
 * that scanning a block of profiles for one triple touches only a few kilobytes. A match adds
 * `weight` to the count of its pair; a pair is a candidate at 2.
 */
export interface TripleTable {
  /** Per entry: what a match adds to its pair's count (2: family entry, 1: any other). */
  readonly weights: Uint8Array;
  /** Per triple: its three slots. */
  readonly slots: Int32Array;
  /** Per triple: entry range [start[t], start[t + 1]). */
  readonly start: Int32Array;
  /** Per triple: offset of its bitmap (in 32-bit words) and its size (log2 of bits). */
  readonly bmOffset: Int32Array;
  readonly bmBits: Uint8Array;
  readonly bitmap: Int32Array;
  /** Per triple: an open-addressing table (offset, log2 size) of the first entry (+1) of each hash. */
  readonly hOffset: Int32Array;
  readonly hBits: Uint8Array;
  readonly hSlots: Int32Array;
  /** Entries: hash and table-local id, sorted by hash within each triple. */
  readonly keys: Int32Array;
  readonly ids: Int32Array;
  /**
   * Anchors of family entries (-1 for none): three more loci of the member, slots packed in bytes,
   * and their gids. A match counts only if the scanned profile has at least two of the three.
   */
  readonly anchorSlots: Int32Array;
  readonly anchorGids: Uint16Array;
}

/** A growable Int32Array. */
class IntList {
  a: Int32Array;
  n = 0;
  constructor(capacity = 1024) {
    this.a = new Int32Array(capacity);
  }
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

class TableBuilder {
  private readonly tripleOf = new Map<number, number>();
  /** Direct index of (i, j, k) → triple + 1 when the width allows it (≤ 64 slots). */
  private readonly direct: Int32Array | undefined;
  private readonly w: number;
  private readonly tripleSlots = new IntList(256);
  private hashes = new IntList();
  private locals = new IntList();
  private triples = new IntList();
  /** Per entry: anchor slots (-1 for none), weight; anchor gids three per entry. */
  private anchors = new IntList();
  private weightOf = new IntList();
  private anchorG = new IntList();

  constructor(width: number) {
    this.w = width;
    this.direct = width <= 64 ? new Int32Array(width * width * width) : undefined;
  }

  add(i: number, j: number, k: number, hash: number, local: number, weight = 1, anchor = -1, g1 = 0, g2 = 0, g3 = 0): void {
    let t: number;
    if (this.direct) {
      const at = (i * this.w + j) * this.w + k;
      t = this.direct[at]! - 1;
      if (t < 0) {
        t = this.tripleSlots.n / 3;
        this.direct[at] = t + 1;
        this.tripleSlots.push(i);
        this.tripleSlots.push(j);
        this.tripleSlots.push(k);
      }
    } else {
      const id = (i << 16) | (j << 8) | k;
      const known = this.tripleOf.get(id);
      if (known === undefined) {
        t = this.tripleSlots.n / 3;
        this.tripleOf.set(id, t);
        this.tripleSlots.push(i);
        this.tripleSlots.push(j);
        this.tripleSlots.push(k);
      } else t = known;
    }
    this.triples.push(t);
    this.hashes.push(hash);
    this.locals.push(local);
    this.anchors.push(anchor);
    this.weightOf.push(weight);
    if (anchor !== -1) {
      this.anchorG.push(this.hashes.n - 1);
      this.anchorG.push(g1);
      this.anchorG.push(g2);
      this.anchorG.push(g3);
    }
  }

  build(): TripleTable {
    const nt = this.tripleSlots.n / 3;
    const total = this.triples.n;
    const triples = this.triples.a;
    const start = new Int32Array(nt + 1);
    for (let e = 0; e < total; e++) start[triples[e]! + 1]!++;
    for (let t = 0; t < nt; t++) start[t + 1]! += start[t]!;
    // Entries in triple order, then each triple's range sorted by hash: each entry as one double,
    // hash (offset to unsigned) then its place in the range (below 2^21 per triple).
    const order = new Int32Array(total);
    const fill = start.slice(0, nt);
    for (let e = 0; e < total; e++) order[fill[triples[e]!]!++] = e;
    const packed = new Float64Array(total);
    const hashes = this.hashes.a;
    for (let t = 0; t < nt; t++) {
      if (start[t + 1]! - start[t]! >= 1 << 21) throw new OpenPrumError('input-too-large', `more than ${(1 << 21) - 1} profiles share one triple of loci in the partial-profile comparison; split the files`);
      for (let e = start[t]!; e < start[t + 1]!; e++) packed[e] = (hashes[order[e]!]! + 2_147_483_648) * 2_097_152 + (e - start[t]!);
    }
    // Anchor gids by entry number.
    const gByEntry = new Uint16Array(total * 3);
    for (let x = 0; x < this.anchorG.n; x += 4) {
      const e = this.anchorG.a[x]!;
      gByEntry[3 * e] = this.anchorG.a[x + 1]!;
      gByEntry[3 * e + 1] = this.anchorG.a[x + 2]!;
      gByEntry[3 * e + 2] = this.anchorG.a[x + 3]!;
    }
    const anchorSlots = new Int32Array(total);
    const anchorGids = new Uint16Array(total * 3);
    const weights = new Uint8Array(total);
    const keys = new Int32Array(total);
    const ids = new Int32Array(total);
    const bmOffset = new Int32Array(nt);
    const bmBits = new Uint8Array(nt);
    let words = 0;
    for (let t = 0; t < nt; t++) {
      packed.subarray(start[t]!, start[t + 1]!).sort();
      bmBits[t] = Math.max(6, Math.ceil(Math.log2(Math.max(1, start[t + 1]! - start[t]!))) + 3);
      bmOffset[t] = words;
      words += 1 << (bmBits[t]! - 5);
    }
    const bitmap = new Int32Array(words);
    for (let t = 0; t < nt; t++) {
      const shift = 32 - bmBits[t]!;
      for (let e = start[t]!; e < start[t + 1]!; e++) {
        const v = packed[e]!;
        const hi = Math.floor(v / 2_097_152);
        const src = order[start[t]! + (v - hi * 2_097_152)]!;
        keys[e] = hi - 2_147_483_648;
        ids[e] = this.locals.a[src]!;
        anchorSlots[e] = this.anchors.a[src]!;
        weights[e] = this.weightOf.a[src]!;
        anchorGids[3 * e] = gByEntry[3 * src]!;
        anchorGids[3 * e + 1] = gByEntry[3 * src + 1]!;
        anchorGids[3 * e + 2] = gByEntry[3 * src + 2]!;
        const b = keys[e]! >>> shift;
        bitmap[bmOffset[t]! + (b >>> 5)]! |= 1 << (b & 31);
      }
    }
    this.hashes = new IntList(1);
    this.locals = new IntList(1);
    this.triples = new IntList(1);
    this.anchors = new IntList(1);
    this.weightOf = new IntList(1);
    this.anchorG = new IntList(1);
    const hOffset = new Int32Array(nt);
    const hBits = new Uint8Array(nt);
    let hTotal = 0;
    for (let t = 0; t < nt; t++) {
      hBits[t] = Math.max(3, Math.ceil(Math.log2(Math.max(1, start[t + 1]! - start[t]!))) + 1);
      hOffset[t] = hTotal;
      hTotal += 1 << hBits[t]!;
    }
    const hSlots = new Int32Array(hTotal);
    for (let t = 0; t < nt; t++) {
      const mask = (1 << hBits[t]!) - 1;
      const base = hOffset[t]!;
      for (let e = start[t]!; e < start[t + 1]!; e++) {
        if (e > start[t]! && keys[e] === keys[e - 1]) continue; // only the first of equal hashes
        let pos = keys[e]! & mask;
        while (hSlots[base + pos] !== 0) pos = (pos + 1) & mask;
        hSlots[base + pos] = e + 1;
      }
    }
    return { weights, slots: this.tripleSlots.a.slice(0, this.tripleSlots.n), start, bmOffset, bmBits, bitmap, hOffset, hBits, hSlots, keys, ids, anchorSlots, anchorGids };
  }
}

/** Fully designated, non-amelogenin slots of a row, by group, ascending. Returns the two counts. */
function groupSlots(d: BulkData, rows: Uint16Array, off: number, g0: Int32Array, g1: Int32Array): number {
  let n0 = 0;
  let n1 = 0;
  for (let s = 0; s < d.width; s++) {
    const g = rows[off + s]!;
    if (g === 0) continue;
    const grp = d.groups[s]!;
    if (grp > 1 || (d.geno[s]![g]! & FULL) === 0) continue;
    if (grp === 0) g0[n0++] = s;
    else g1[n1++] = s;
  }
  return n0 | (n1 << 8);
}

/** The set of fully designated (non-amelogenin) slots of a row, as 32-bit words. */
function rowMask(d: BulkData, rows: Uint16Array, off: number, out: Uint32Array): void {
  out.fill(0);
  for (let s = 0; s < d.width; s++) {
    const g = rows[off + s]!;
    if (g !== 0 && d.groups[s]! <= 1 && (d.geno[s]![g]! & FULL) !== 0) out[s >>> 5]! |= 1 << (s & 31);
  }
}

const maskHas = (m: Uint32Array, s: number): boolean => ((m[s >>> 5]! >>> (s & 31)) & 1) === 1;

/** A Map key for a set of slots: a number while it fits in 53 bits, else text. */
function maskKey(m: Uint32Array): number | string {
  if (m.length === 1) return m[0]!;
  if (m.length === 2 && m[1]! < 1 << 21) return m[0]! + m[1]! * 4_294_967_296;
  return m.join(',');
}

/**
 * Tier B setup of one direction. Scanned profiles are sorted by their set of fully designated loci;
 * the most common sets ("kits", at most MAX_KITS) get their own tables.
 *
 * For a kit K and a table profile P, let C_K be P's loci that K has. Any scanned profile R whose
 * loci include K shares C_K with P, and at most one locus of their common loci is unequal; so if P
 * keeps a small family of its triples inside C_K such that every locus of C_K is left out by at
 * least one of them, one kept triple is clean in any hit, and one shared triple makes a candidate
 * (weight 2). The family is chosen greedily, rarest triples first, so that random matches are few;
 * a candidate then passes a cheap check on the block's columns before the full rule. A profile for which no such family exists (C_K too small) keeps all its triples
 * in the kit's full table (weight 1: two shared triples needed, as in index-keys.ts). Scanned
 * profiles that contain no kit use the generic table of all triples of all table profiles.
 */
export interface TierBSetup {
  /** Table-side profile index of each table-local id, and its class. */
  readonly members: Int32Array;
  readonly memberCls: Uint8Array;
  /** Fully designated loci of each member: slots and gids in [memberOff[p], memberOff[p + 1]). */
  readonly memberOff: Int32Array;
  readonly memberSlots: Uint8Array;
  readonly memberGids: Uint16Array;
  /** The kits: sets of slots as words, largest first. */
  readonly kits: Uint32Array[];
  /** Per kit: family entries (weight 2, anchored) and all triples of members without a family. */
  readonly perKit: TripleTable[];
  readonly generic: TripleTable;
}

const MAX_KITS = 12;

export function buildTierB(d: BulkData, table: 'a' | 'b', tableCls: Uint8Array, scanCls: Uint8Array): TierBSetup {
  const tSide = table === 'a' ? d.a : d.b;
  const sSide = table === 'a' ? d.b : d.a;
  const w = d.width;
  const words = Math.ceil(w / 32);
  const memberList: number[] = [];
  for (let r = 0; r < tSide.count; r++) if (tableCls[tSide.cls[r]!]) memberList.push(r);
  const members = Int32Array.from(memberList);
  const memberCls = new Uint8Array(members.length);
  for (let i = 0; i < members.length; i++) memberCls[i] = tSide.cls[members[i]!]!;
  const memberOff = new Int32Array(members.length + 1);
  const slotList: number[] = [];
  const gidList: number[] = [];
  for (let i = 0; i < members.length; i++) {
    const off = members[i]! * w;
    for (let s = 0; s < w; s++) {
      const g = tSide.rows[off + s]!;
      if (g !== 0 && d.groups[s]! <= 1 && (d.geno[s]![g]! & FULL) !== 0) {
        slotList.push(s);
        gidList.push(g);
      }
    }
    memberOff[i + 1] = slotList.length;
  }

  // Kits of the scanned side, and genotype counts there (for choosing rare triples).
  const maskCount = new Map<number | string, { mask: Uint32Array; n: number; size: number }>();
  const gcount: Int32Array[] = d.geno.map((g) => new Int32Array(g.length));
  const m = new Uint32Array(words);
  let scanned = 0;
  for (let r = 0; r < sSide.count; r++) {
    if (!scanCls[sSide.cls[r]!]) continue;
    scanned++;
    const off = r * w;
    rowMask(d, sSide.rows, off, m);
    for (let s = 0; s < w; s++) if (maskHas(m, s)) gcount[s]![sSide.rows[off + s]!]!++;
    const key = maskKey(m);
    const e = maskCount.get(key);
    if (e) e.n++;
    else maskCount.set(key, { mask: m.slice(), n: 1, size: m.reduce((x, v) => x + popcount(v), 0) });
  }
  const kits = [...maskCount.values()]
    .filter((k) => k.n >= Math.max(100, scanned * 0.005) && k.size >= 6)
    .sort((x, y) => y.n - x.n)
    .slice(0, MAX_KITS)
    .sort((x, y) => y.size - x.size)
    .map((k) => k.mask);

  const generic = new TableBuilder(w);
  const perKit = kits.map(() => new TableBuilder(w));
  const kitHas = kits.map((k) => {
    const has = new Uint8Array(w);
    for (let s = 0; s < w; s++) has[s] = maskHas(k, s) ? 1 : 0;
    return has;
  });
  const g0 = new Int32Array(256);
  const g1 = new Int32Array(256);
  const rows = tSide.rows;
  const freq = (s: number, g: number): number => (gcount[s]![g]! + 1) / (scanned + 1);
  // Scratch for the triples of one member: slots, rarity, hash; and the ones inside a kit.
  let cap = 1024;
  let ti = new Int32Array(cap);
  let tj = new Int32Array(cap);
  let tk = new Int32Array(cap);
  let tf = new Float64Array(cap);
  let th = new Int32Array(cap);
  let inKit = new Int32Array(cap);
  const loci = new Int32Array(256);
  const lociF = new Float64Array(256);
  const chosen: number[] = [];
  for (let local = 0; local < members.length; local++) {
    const off = members[local]! * w;
    const c = groupSlots(d, rows, off, g0, g1);
    const n0 = c & 0xff;
    const n1 = c >>> 8;
    const need = (n0 * (n0 - 1) * (n0 - 2) + n1 * (n1 - 1) * (n1 - 2)) / 6;
    if (need > cap) {
      while (cap < need) cap *= 2;
      ti = new Int32Array(cap);
      tj = new Int32Array(cap);
      tk = new Int32Array(cap);
      tf = new Float64Array(cap);
      th = new Int32Array(cap);
      inKit = new Int32Array(cap);
    }
    let nt = 0;
    for (let grp = 0; grp < 2; grp++) {
      const g = grp === 0 ? g0 : g1;
      const n = grp === 0 ? n0 : n1;
      for (let x = 0; x < n - 2; x++) {
        for (let y = x + 1; y < n - 1; y++) {
          for (let z = y + 1; z < n; z++) {
            const i = g[x]!;
            const j = g[y]!;
            const k = g[z]!;
            ti[nt] = i;
            tj[nt] = j;
            tk[nt] = k;
            tf[nt] = freq(i, rows[off + i]!) * freq(j, rows[off + j]!) * freq(k, rows[off + k]!);
            th[nt++] = tripleHash(rows[off + i]!, rows[off + j]!, rows[off + k]!);
          }
        }
      }
    }
    for (let x = 0; x < nt; x++) generic.add(ti[x]!, tj[x]!, tk[x]!, th[x]!, local);
    for (let ki = 0; ki < kits.length; ki++) {
      const has = kitHas[ki]!;
      // C_K: the member's loci that the kit has.
      let nl = 0;
      for (let x = 0; x < (c & 0xff); x++) if (has[g0[x]!]) loci[nl++] = g0[x]!;
      for (let x = 0; x < c >>> 8; x++) if (has[g1[x]!]) loci[nl++] = g1[x]!;
      let ok = false;
      if (nl >= 6) {
        let ni = 0;
        for (let x = 0; x < nt; x++) if (has[ti[x]!] && has[tj[x]!] && has[tk[x]!]) inKit[ni++] = x;
        // Rarest first (insertion sort: a few dozen triples).
        for (let a = 1; a < ni; a++) {
          const v = inKit[a]!;
          let b = a - 1;
          while (b >= 0 && tf[inKit[b]!]! > tf[v]!) {
            inKit[b + 1] = inKit[b]!;
            b--;
          }
          inKit[b + 1] = v;
        }
        ok = coverFamily(inKit, ni, ti, tj, tk, loci, nl, chosen);
      }
      if (ok) {
        // Anchors: the three rarest other loci of C_K. The bad locus, if any, is at most one of
        // them, so a hit has at least two of the three.
        for (let x = 0; x < nl; x++) lociF[x] = freq(loci[x]!, rows[off + loci[x]!]!);
        for (const t of chosen) {
          // The three rarest loci of C_K outside the triple (nl ≥ 6, so there are at least three).
          let a1 = -1;
          let a2 = -1;
          let a3 = -1;
          for (let x = 0; x < nl; x++) {
            const sl = loci[x]!;
            if (sl === ti[t] || sl === tj[t] || sl === tk[t]) continue;
            const f = lociF[x]!;
            if (a1 < 0 || f < lociF[a1]!) {
              a3 = a2;
              a2 = a1;
              a1 = x;
            } else if (a2 < 0 || f < lociF[a2]!) {
              a3 = a2;
              a2 = x;
            } else if (a3 < 0 || f < lociF[a3]!) a3 = x;
          }
          [a1, a2, a3] = [loci[a1]!, loci[a2]!, loci[a3]!];
          perKit[ki]!.add(ti[t]!, tj[t]!, tk[t]!, th[t]!, local, 2, a1 | (a2 << 8) | (a3 << 16), rows[off + a1]!, rows[off + a2]!, rows[off + a3]!);
        }
      } else for (let x = 0; x < nt; x++) perKit[ki]!.add(ti[x]!, tj[x]!, tk[x]!, th[x]!, local);
    }
  }
  return {
    members, memberCls, kits, memberOff, memberSlots: Uint8Array.from(slotList), memberGids: Uint16Array.from(gidList),
    perKit: perKit.map((b) => b.build()),
    generic: generic.build(),
  };
}

/**
 * A family of triples (indexes into ti/tj/tk, all inside the kit, rarest first in `order`) such that
 * every locus of `loci` is left out by at least one of them: greedy, each time the rarest of the
 * triples that leave out the most loci still uncovered. Writes it to `chosen`; false if none exists.
 */
function coverFamily(
  order: Int32Array, n: number, ti: Int32Array, tj: Int32Array, tk: Int32Array,
  loci: Int32Array, nl: number, chosen: number[],
): boolean {
  chosen.length = 0;
  if (n === 0) return false;
  let remaining: number[] = Array.from(loci.subarray(0, nl));
  while (remaining.length > 0) {
    let best = -1;
    let bestLeft = remaining.length + 1;
    for (let x = 0; x < n; x++) {
      const t = order[x]!;
      let left = 0;
      for (const b of remaining) if (b === ti[t] || b === tj[t] || b === tk[t]) left++;
      if (left < bestLeft) {
        best = t;
        bestLeft = left;
        if (left === 0) break;
      }
    }
    if (best < 0 || bestLeft === remaining.length) return false;
    chosen.push(best);
    const t = best;
    remaining = remaining.filter((b) => b === ti[t] || b === tj[t] || b === tk[t]);
  }
  return true;
}

/** Profiles scanned per block: the block's columns (2 bytes × loci × BLOCK) stay in the L2 cache. */
const BLOCK = 4096;

/** Tier B: scan profiles [from, to) of the other side against the tables of side `table`. */
export function runTierB(d: BulkData, table: 'a' | 'b', from: number, to: number, cache?: Map<string, TierBSetup>): TaskResult {
  const { tableCls, scanCls } = tierBClasses(d, table);
  let setup = cache?.get(table);
  if (!setup) {
    setup = buildTierB(d, table, tableCls, scanCls);
    cache?.set(table, setup);
  }
  const hits = new HitList();
  const { members, memberCls, kits, memberOff, memberSlots, memberGids } = setup;
  if (members.length === 0) return { hits: hits.result(), candidates: 0 };
  const sSide = table === 'a' ? d.b : d.a;
  const mark = table === 'a' ? 1 : 2;
  const w = d.width;
  const words = Math.ceil(w / 32);
  // designated[...] as [table class * CLASSES + scan class].
  const allowed = new Uint8Array(CLASSES * CLASSES);
  for (let tc = 0; tc < CLASSES; tc++) {
    for (let sc = 0; sc < CLASSES; sc++) allowed[tc * CLASSES + sc] = d.designated[table === 'a' ? tc * CLASSES + sc : sc * CLASSES + tc] === mark ? 1 : 0;
  }
  const cols = new Uint16Array(w * BLOCK);
  const blockCls = new Uint8Array(BLOCK);
  let pairR = new Int32Array(1 << 16);
  let pairP = new Int32Array(1 << 16);
  let pairW = new Uint8Array(1 << 16);
  const perR = new Int32Array(BLOCK + 1);
  const order = new Int32Array(BLOCK + 1);
  let sortedP = new Int32Array(1 << 16);
  let sortedW = new Uint8Array(1 << 16);
  const counts = new Uint8Array(members.length);
  const out = new Int32Array(4);
  const m = new Uint32Array(words);
  let candidates = 0;
  for (let b0 = from; b0 < to; b0 += BLOCK) {
    const n = Math.min(BLOCK, to - b0);
    // Columns of the block (gid if fully designated and the class is scanned, else 0), and the rows
    // grouped by their set of loci.
    cols.fill(0);
    const groupsOf = new Map<number | string, number[]>();
    for (let r = 0; r < n; r++) {
      const sc = sSide.cls[b0 + r]!;
      blockCls[r] = sc;
      if (!scanCls[sc]) continue;
      const off = (b0 + r) * w;
      rowMask(d, sSide.rows, off, m);
      for (let s = 0; s < w; s++) if (maskHas(m, s)) cols[s * BLOCK + r] = sSide.rows[off + s]!;
      const key = maskKey(m);
      const g = groupsOf.get(key);
      if (g) g.push(r);
      else groupsOf.set(key, [r]);
    }
    let np = 0;
    for (const rowsOfGroup of groupsOf.values()) {
      const r0 = rowsOfGroup[0]!;
      const list = Int32Array.from(rowsOfGroup);
      rowMask(d, sSide.rows, (b0 + r0) * w, m);
      // The largest kit inside this set of loci decides the tables.
      let kit = -1;
      for (let ki = 0; ki < kits.length && kit < 0; ki++) {
        const km = kits[ki]!;
        let inside = true;
        for (let x = 0; x < words; x++) if ((km[x]! & ~m[x]!) !== 0) inside = false;
        if (inside) kit = ki;
      }
      {
        const tt = kit >= 0 ? setup.perKit[kit]! : setup.generic;
        const { slots, start, bmOffset, bmBits, bitmap, hOffset, hBits, hSlots, keys, ids, weights, anchorSlots, anchorGids } = tt;
        const nTriples = start.length - 1;
        for (let t = 0; t < nTriples; t++) {
          const si = slots[3 * t]!;
          const sj = slots[3 * t + 1]!;
          const sk = slots[3 * t + 2]!;
          if (!maskHas(m, si) || !maskHas(m, sj) || !maskHas(m, sk)) continue;
          const ci = si * BLOCK;
          const cj = sj * BLOCK;
          const ck = sk * BLOCK;
          const shift = 32 - bmBits[t]!;
          const bo = bmOffset[t]!;
          const e1 = start[t + 1]!;
          const hb = hOffset[t]!;
          const hm = (1 << hBits[t]!) - 1;
          for (let q = 0; q < list.length; q++) {
            const r = list[q]!;
            const h = tripleHash(cols[ci + r]!, cols[cj + r]!, cols[ck + r]!);
            const v = h >>> shift;
            if ((bitmap[bo + (v >>> 5)]! & (1 << (v & 31))) === 0) continue;
            let pos = h & hm;
            let first = 0;
            for (;;) {
              const x = hSlots[hb + pos]!;
              if (x === 0 || keys[x - 1] === h) {
                first = x;
                break;
              }
              pos = (pos + 1) & hm;
            }
            if (first === 0) continue;
            const rClass = blockCls[r]!;
            for (let e = first - 1; e < e1 && keys[e] === h; e++) {
              const p = ids[e]!;
              if (allowed[memberCls[p]! * CLASSES + rClass] === 0) continue; // tier A's pair, or the other direction's
              const an = anchorSlots[e]!;
              if (an !== -1) {
                const ok = (cols[(an & 0xff) * BLOCK + r] === anchorGids[3 * e] ? 1 : 0)
                  + (cols[((an >>> 8) & 0xff) * BLOCK + r] === anchorGids[3 * e + 1] ? 1 : 0)
                  + (cols[(an >>> 16) * BLOCK + r] === anchorGids[3 * e + 2] ? 1 : 0);
                if (ok < 2) continue;
              }
              if (np === pairR.length) {
                const a2 = new Int32Array(np * 2);
                a2.set(pairR);
                pairR = a2;
                const b2 = new Int32Array(np * 2);
                b2.set(pairP);
                pairP = b2;
                const w2 = new Uint8Array(np * 2);
                w2.set(pairW);
                pairW = w2;
              }
              pairR[np] = r;
              pairP[np] = p;
              pairW[np++] = weights[e]!;
            }
          }
        }
      }
    }
    // Group the pairs by r; a pair whose weights add up to 2 is a candidate, once.
    perR.fill(0);
    for (let i = 0; i < np; i++) perR[pairR[i]! + 1]!++;
    for (let r = 0; r < n; r++) perR[r + 1]! += perR[r]!;
    order.set(perR.subarray(0, n + 1));
    if (sortedP.length < np) {
      sortedP = new Int32Array(pairR.length);
      sortedW = new Uint8Array(pairR.length);
    }
    for (let i = 0; i < np; i++) {
      const at = order[pairR[i]!]!++;
      sortedP[at] = pairP[i]!;
      sortedW[at] = pairW[i]!;
    }
    for (let r = 0; r < n; r++) {
      const a = perR[r]!;
      const z = perR[r + 1]!;
      for (let i = a; i < z; i++) {
        const p = sortedP[i]!;
        const c = counts[p]!;
        if (c >= 2) continue;
        const c2 = c + sortedW[i]!;
        counts[p] = c2;
        if (c2 < 2) continue;
        // Cheap check first: two fully designated loci that differ already rule the pair out.
        let bad = 0;
        for (let x = memberOff[p]!; x < memberOff[p + 1]! && bad < 2; x++) {
          const g = cols[memberSlots[x]! * BLOCK + r]!;
          if (g !== 0 && g !== memberGids[x]) bad++;
        }
        if (bad >= 2) continue;
        candidates++;
        const rScan = b0 + r;
        const pSide = members[p]!;
        const ia = table === 'a' ? pSide : rScan;
        const ib = table === 'a' ? rScan : pSide;
        if (verifyRows(d.geno, d.amelSlot, w, d.a.rows, ia * w, d.b.rows, ib * w, out)) hits.push(ia, ib, out);
      }
      for (let i = a; i < z; i++) counts[sortedP[i]!] = 0;
    }
  }
  return { hits: hits.result(), candidates };
}

/** Number of tier B triples of a row (as buildTripleTable would make). */
export function rowTriples(d: Pick<BulkData, 'width' | 'groups' | 'geno'>, rows: Uint16Array, off: number): number {
  let n0 = 0;
  let n1 = 0;
  for (let s = 0; s < d.width; s++) {
    const g = rows[off + s]!;
    if (g === 0 || d.groups[s]! > 1 || (d.geno[s]![g]! & FULL) === 0) continue;
    if (d.groups[s] === 0) n0++;
    else n1++;
  }
  return (n0 * (n0 - 1) * (n0 - 2) + n1 * (n1 - 1) * (n1 - 2)) / 6;
}

/**
 * Which side tier B puts in the table, for every pair of classes tier A does not cover. Every
 * scanned profile meets every table entry of its triples, whatever the entry's class, so the work
 * grows with the table's entries: the class with fewer triples in all (profiles × triples each)
 * goes in the table; partial traces, as a rule, and few profiles of an unusual class rather than
 * many of a common one.
 */
export function designate(countA: Int32Array, countB: Int32Array, triplesA: Float64Array, triplesB: Float64Array): Uint8Array {
  const d = new Uint8Array(CLASSES * CLASSES);
  for (let ca = 0; ca < CLASSES; ca++) {
    if (countA[ca] === 0) continue;
    const ta = triplesA[ca]!;
    for (let cb = 0; cb < CLASSES; cb++) {
      if (countB[cb] === 0 || popcount(ca & cb) >= L.cover) continue;
      const tb = triplesB[cb]!;
      d[ca * CLASSES + cb] = ta < tb || (ta === tb && countA[ca]! <= countB[cb]!) ? 1 : 2;
    }
  }
  return d;
}

export function runTask(d: BulkData, task: BulkTask, cache?: Map<string, TierBSetup>): TaskResult {
  return task.kind === 'tier-a' ? runTierA(d, task.combo) : runTierB(d, task.table, task.from, task.to, cache);
}
