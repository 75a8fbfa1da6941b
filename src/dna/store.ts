/**
 * Compact storage of profiles. Each locus gets a slot; each genotype seen at a slot gets a 16-bit id
 * (gid, 0 = locus absent) whose two allele codes and flags sit in a per-slot dictionary. A profile is
 * then one row of `width` Uint16 values: a million profiles of 25 loci take 50 MB, and two rows are
 * compared without touching any object.
 */
import { OpenPrumError } from '../errors/index.ts';
import { WILDCARD, isNumericAllele } from './alleles.ts';
import type { LocusInfo } from './loci.ts';
import type { ProfileEncoder, ProfileKind } from './profile.ts';

/** Packed genotype: allele a in bits 0-11, allele b in bits 12-23, then flags. */
export const FULL = 1 << 24;
export const WILD = 1 << 25;
export const MAX_GID = 65535;
/** Slots are numbered in a byte in some structures; no real file comes near this. */
export const MAX_SLOTS = 250;

export function packGenotype(a: number, b: number): number {
  let p = a | (b << 12);
  if (isNumericAllele(a) && isNumericAllele(b)) p |= FULL;
  if (a === WILDCARD || b === WILDCARD) p |= WILD;
  return p;
}

/**
 * The slots and genotype dictionaries shared by every profile of one index or one comparison run.
 * A genotype is found through two small direct tables per slot (allele code → allele index, pair of
 * allele indexes → gid), which is several times faster than a hash map on a million profiles.
 * With `refcount`, a genotype id is freed when no profile uses it any more, and an allele value when
 * no genotype uses it, so that erasing a profile leaves no trace of what only that profile had.
 */
export class LocusTable {
  readonly infos: LocusInfo[] = [];
  /** Per slot: gid → packed genotype (0 for a free id). */
  readonly geno: Uint32Array[] = [];
  private readonly slotByKey = new Map<string, number>();
  /** Per slot: allele code (0..4095) → allele index + 1 (0 = not seen). */
  private readonly alleleIdx: Int16Array[] = [];
  /** Per slot: number of allele indexes handed out, and the free ones. */
  private readonly alleleNext: number[] = [];
  private readonly alleleFree: number[][] = [];
  /** Per slot: genotypes using each allele index (refcounting only). */
  private readonly alleleUse: Int32Array[] = [];
  /** Per slot: side of the square table below. */
  private readonly cap: number[] = [];
  /** Per slot: (index a) × cap + (index b) → gid. */
  private readonly pairs: Uint16Array[] = [];
  private readonly nextGid: number[] = [];
  private readonly freeGids: number[][] = [];
  private readonly refcount: Int32Array[] | undefined;

  constructor(options: { refcount?: boolean } = {}) {
    this.refcount = options.refcount ? [] : undefined;
  }

  get size(): number {
    return this.infos.length;
  }

  slotOf(key: string): number | undefined {
    return this.slotByKey.get(key);
  }

  /** The slot of a locus, created on first use. */
  ensureSlot(info: LocusInfo): number {
    const s = this.slotByKey.get(info.key);
    if (s !== undefined) return s;
    const slot = this.infos.length;
    if (slot >= MAX_SLOTS) throw new OpenPrumError('dna-file-invalid', `more than ${MAX_SLOTS} different loci; this is not a DNA profile file`);
    this.infos.push(info);
    this.slotByKey.set(info.key, slot);
    this.geno.push(new Uint32Array(64));
    this.alleleIdx.push(new Int16Array(4096));
    this.alleleNext.push(0);
    this.alleleFree.push([]);
    this.alleleUse.push(new Int32Array(16));
    this.cap.push(16);
    this.pairs.push(new Uint16Array(256));
    this.nextGid.push(1);
    this.freeGids.push([]);
    this.refcount?.push(new Int32Array(64));
    return slot;
  }

  private alleleIndex(slot: number, code: number): number {
    const idx = this.alleleIdx[slot]!;
    const known = idx[code]!;
    if (known !== 0) return known - 1;
    const free = this.alleleFree[slot]!;
    const i = free.length > 0 ? free.pop()! : this.alleleNext[slot]!++;
    idx[code] = i + 1;
    const cap = this.cap[slot]!;
    if (i >= cap) {
      // Double the square table, keeping every (a, b) → gid.
      const bigger = cap * 2;
      const old = this.pairs[slot]!;
      const next = new Uint16Array(bigger * bigger);
      for (let x = 0; x < cap; x++) next.set(old.subarray(x * cap, (x + 1) * cap), x * bigger);
      this.pairs[slot] = next;
      this.cap[slot] = bigger;
      const use = new Int32Array(bigger);
      use.set(this.alleleUse[slot]!);
      this.alleleUse[slot] = use;
    }
    return i;
  }

  /** The gid of a genotype at a slot, created on first use (and counted, with refcounting). */
  intern(slot: number, a: number, b: number): number {
    const idx = this.alleleIdx[slot]!;
    let ia = idx[a]! - 1;
    let ib = idx[b]! - 1;
    if (ia < 0) ia = this.alleleIndex(slot, a);
    if (ib < 0) ib = this.alleleIndex(slot, b);
    const cap = this.cap[slot]!;
    const pairs = this.pairs[slot]!;
    let gid = pairs[ia * cap + ib]!;
    if (gid === 0) {
      const free = this.freeGids[slot]!;
      gid = free.length > 0 ? free.pop()! : this.nextGid[slot]!++;
      if (gid > MAX_GID) {
        throw new OpenPrumError('dna-file-invalid', `more than ${MAX_GID} different genotypes at locus ${this.infos[slot]!.name}; this is not real data`);
      }
      let g = this.geno[slot]!;
      if (gid >= g.length) {
        const bigger = new Uint32Array(Math.min(MAX_GID + 1, g.length * 2));
        bigger.set(g);
        this.geno[slot] = g = bigger;
        if (this.refcount) {
          const rc = new Int32Array(bigger.length);
          rc.set(this.refcount[slot]!);
          this.refcount[slot] = rc;
        }
      }
      g[gid] = packGenotype(a, b);
      pairs[ia * cap + ib] = gid;
      if (this.refcount) {
        const use = this.alleleUse[slot]!;
        use[ia]!++;
        use[ib]!++;
      }
    }
    if (this.refcount) this.refcount[slot]![gid]!++;
    return gid;
  }

  /** The gid of a genotype if some profile has it, else 0. */
  lookup(slot: number, a: number, b: number): number {
    const idx = this.alleleIdx[slot]!;
    const ia = idx[a]! - 1;
    const ib = idx[b]! - 1;
    if (ia < 0 || ib < 0) return 0;
    return this.pairs[slot]![ia * this.cap[slot]! + ib]!;
  }

  /** One profile stopped using a gid (refcounting only); the last one frees it. */
  release(slot: number, gid: number): void {
    if (!this.refcount) return;
    const rc = this.refcount[slot]!;
    if (--rc[gid]! > 0) return;
    const g = this.geno[slot]!;
    const packed = g[gid]!;
    const a = packed & 0xfff;
    const b = (packed >>> 12) & 0xfff;
    const idx = this.alleleIdx[slot]!;
    const ia = idx[a]! - 1;
    const ib = idx[b]! - 1;
    this.pairs[slot]![ia * this.cap[slot]! + ib] = 0;
    g[gid] = 0;
    this.freeGids[slot]!.push(gid);
    const use = this.alleleUse[slot]!;
    for (const [i, code] of ia === ib ? [[ia, a]] : [[ia, a], [ib, b]]) {
      use[i!] = use[i!]! - (ia === ib ? 2 : 1);
      if (use[i!]! <= 0) {
        use[i!] = 0;
        idx[code!] = 0;
        this.alleleFree[slot]!.push(i!);
      }
    }
  }

  /** Slot of amelogenin, or -1. */
  get amelSlot(): number {
    return this.slotByKey.get('AMEL') ?? -1;
  }
}

/**
 * Rows of a store being built, in chunks of CHUNK_ROWS rows: growing never copies the rows already
 * written (a doubling array would hold up to twice the memory at its peak).
 */
const CHUNK_ROWS = 1 << 16;

class RowChunks {
  readonly chunks: Uint16Array[] = [];
  width = 0;

  /** The chunk and offset of row `r`, creating the chunk if needed. */
  at(r: number): [Uint16Array, number] {
    const c = Math.floor(r / CHUNK_ROWS);
    while (this.chunks.length <= c) this.chunks.push(new Uint16Array(CHUNK_ROWS * this.width));
    return [this.chunks[c]!, (r - c * CHUNK_ROWS) * this.width];
  }

  /** Re-lays the first `count` rows with a new width (a new locus appeared). */
  widen(w: number, count: number): void {
    const old = this.chunks.splice(0);
    const ow = this.width;
    this.width = w;
    for (let r = 0; r < count; r++) {
      const src = old[Math.floor(r / CHUNK_ROWS)]!;
      const so = (r % CHUNK_ROWS) * ow;
      const [dst, off] = this.at(r);
      dst.set(src.subarray(so, so + ow), off);
    }
  }
}

/** A growable typed array of small integers. */
class Grow32 {
  a = new Int32Array(1 << 12);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

/** A refusal: a profile that is well formed but may not be compared (inclusion rule). */
export interface Refusal {
  readonly ref: string;
  readonly line: number;
  readonly reason: string;
}

/**
 * A read-only set of profiles in rows, in memory that worker threads can share. Built by
 * StoreBuilder from a file; used by the bulk comparison.
 */
export interface ProfileStore {
  readonly table: LocusTable;
  readonly count: number;
  readonly width: number;
  /** count × width gids, in a SharedArrayBuffer. */
  readonly rows: Uint16Array;
  readonly refs: readonly string[];
  readonly kinds: Uint8Array;
  /** Line of each profile in its file. */
  readonly lines: Int32Array;
}

export const KIND_CODE: Readonly<Record<ProfileKind, number>> = { reference: 0, unidentified: 1 };
export const KIND_NAME: readonly ProfileKind[] = ['reference', 'unidentified'];

/** Collects profiles into rows; the row width follows the table as new loci appear. */
export class StoreBuilder {
  readonly table: LocusTable;
  readonly refused: Refusal[] = [];
  private rows = new RowChunks();
  private count = 0;
  private refs: string[] = [];
  private kinds = new Grow32();
  private lines = new Grow32();
  // The loci of consecutive records come in the same order (always so in CSV): remember the slot
  // of the locus at each position instead of looking its name up again.
  private readonly lastInfo: (LocusInfo | undefined)[] = [];
  private readonly lastSlot: number[] = [];

  constructor(table: LocusTable) {
    this.table = table;
  }

  get size(): number {
    return this.count;
  }

  /** Adds the profile in the encoder, or records why it is refused. */
  add(enc: ProfileEncoder, ref: string, kind: ProfileKind, line: number): void {
    const problem = enc.inclusionProblem(kind);
    if (problem !== undefined) {
      this.refused.push({ ref, line, reason: `profile ${ref} ${problem}` });
      return;
    }
    const t = this.table;
    for (let i = 0; i < enc.count; i++) {
      const info = enc.loci[i]!.locus;
      if (this.lastInfo[i] !== info) {
        this.lastInfo[i] = info;
        this.lastSlot[i] = t.ensureSlot(info);
      }
    }
    if (t.size > this.rows.width) this.rows.widen(t.size, this.count);
    const [r, off] = this.rows.at(this.count);
    for (let i = 0; i < enc.count; i++) {
      const l = enc.loci[i]!;
      const s = this.lastSlot[i]!;
      r[off + s] = t.intern(s, l.a, l.b);
    }
    this.refs.push(ref);
    this.kinds.push(KIND_CODE[kind]);
    this.lines.push(line);
    this.count++;
  }

  /** The finished store, rows copied into shared memory with the table's final width. */
  finish(width = this.table.size): ProfileStore {
    const ow = this.rows.width;
    if (width < ow) throw new Error('store width cannot shrink');
    const rows = new Uint16Array(new SharedArrayBuffer(Math.max(2, this.count * width * 2)));
    for (let i = 0; i < this.count; i++) {
      const [src, off] = this.rows.at(i);
      rows.set(src.subarray(off, off + ow), i * width);
    }
    const kinds = new Uint8Array(new SharedArrayBuffer(Math.max(1, this.count)));
    kinds.set(this.kinds.a.subarray(0, this.count));
    const lines = new Int32Array(new SharedArrayBuffer(Math.max(4, this.count * 4)));
    lines.set(this.lines.a.subarray(0, this.count));
    const store: ProfileStore = { table: this.table, count: this.count, width, rows, refs: this.refs, kinds, lines };
    this.rows = new RowChunks();
    this.refs = [];
    this.kinds = new Grow32();
    this.lines = new Grow32();
    return store;
  }
}
