/**
 * The in-memory index of a national DNA file: add, remove and search one profile at a time, for the
 * node's automated searches (Prüm Decision Art. 3) and its incremental imports.
 *
 * Search uses the two tiers of index-keys.ts: part keys (INDEX_LAYOUT) for the stored profiles whose
 * class shares at least three intact parts with the query, and per-locus genotype lists for all the
 * others: a hit needs ≥ 6 loci equal and fully designated in both, so a stored profile in fewer than
 * six of the query's n lists cannot be a hit. For a trace (n ≤ 10) the lists are intersected in
 * pairs (a hit misses at most n − 6 lists, so it is in both lists of one of n − 5 disjoint pairs);
 * for more loci they are counted. Every candidate is verified with the rule.
 *
 * Erasure is real: `remove` deletes the profile's row, keys, list entries and reference, and frees
 * the genotype ids only it used, so nothing derived from the profile stays in the index
 * (FD 2008/977 Art. 4(2): data no longer required are erased).
 */
import { OpenPrumError } from '../errors/index.ts';
import { checkTheta, DEFAULT_THETA, oneMismatchProbability, shippedFrequencyTable, type FrequencyTable } from './frequencies.ts';
import { Random } from '../util/random.ts';
import {
  INDEX_LAYOUT, comboKey, comboKeyFromGids, comboSlots, covered, partSlots, reportingCombo, rowClass,
} from './index-keys.ts';
import { alleleText } from './alleles.ts';
import { encodeProfile, ProfileEncoder, type DnaProfile, type ProfileKind } from './profile.ts';
import { QUALITY_RANK, MIN_MATCHING_LOCI, type HitQuality } from './rule.ts';
import { FULL, KIND_CODE, KIND_NAME, LocusTable, packGenotype } from './store.ts';
import { OUT_COMPARED, OUT_MATCHING, OUT_MISMATCHES, qualityOf, verifyQuery, type QueryRow } from './verify.ts';
import { HitWeigher } from './weight.ts';

/** One hit of a search. */
export interface DnaHit {
  /** Reference of the stored profile. */
  readonly ref: string;
  readonly kind: ProfileKind;
  readonly quality: HitQuality;
  /** Loci fully designated in both and equal. */
  readonly matchingLoci: number;
  /** Loci present in both (amelogenin not counted). */
  readonly comparedLoci: number;
  readonly mismatches: 0 | 1;
  /** Random match probability of the matching loci (weight.ts). */
  readonly rmp: number;
}

export interface DnaIndexOptions {
  /** Frequencies for the RMP of hits (default: the shipped NIST 1036 table). */
  readonly frequencies?: FrequencyTable;
  /** NRC II θ (default 0.01). */
  readonly theta?: number;
}

/** Open-addressing multimap from a 32-bit key to slots; deletion by backward shift leaves no trace. */
class KeyMap {
  private keys = new Int32Array(1 << 12);
  private vals = new Int32Array(1 << 12).fill(-1);
  private mask = (1 << 12) - 1;
  private n = 0;

  get size(): number {
    return this.n;
  }

  add(key: number, val: number): void {
    key |= 0;
    if ((this.n + 1) * 10 > this.vals.length * 6) this.grow();
    let i = key & this.mask;
    while (this.vals[i] !== -1) i = (i + 1) & this.mask;
    this.keys[i] = key;
    this.vals[i] = val;
    this.n++;
  }

  remove(key: number, val: number): void {
    key |= 0;
    const mask = this.mask;
    let i = key & mask;
    while (this.vals[i] !== -1 && !(this.keys[i] === key && this.vals[i] === val)) i = (i + 1) & mask;
    if (this.vals[i] === -1) return;
    // Backward-shift deletion: pull later entries of the same probe run into the gap.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (this.vals[j] === -1) break;
      const home = this.keys[j]! & mask;
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      this.keys[i] = this.keys[j]!;
      this.vals[i] = this.vals[j]!;
      i = j;
    }
    this.keys[i] = 0;
    this.vals[i] = -1;
    this.n--;
  }

  /** Calls `fn` for every slot stored under `key`. */
  forEach(key: number, fn: (val: number) => void): void {
    key |= 0;
    let i = key & this.mask;
    while (this.vals[i] !== -1) {
      if (this.keys[i] === key) fn(this.vals[i]!);
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Int32Array(keys.length * 2);
    this.vals = new Int32Array(keys.length * 2).fill(-1);
    this.mask = keys.length * 2 - 1;
    this.n = 0;
    for (let i = 0; i < vals.length; i++) if (vals[i] !== -1) this.add(keys[i]!, vals[i]!);
  }
}

/** A sorted list of slots (one per class, locus and genotype). */
class SlotList {
  a = new Int32Array(4);
  n = 0;

  insert(v: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    if (this.n === 0 || this.a[this.n - 1]! < v) {
      this.a[this.n++] = v;
      return;
    }
    const i = this.find(v);
    this.a.copyWithin(i + 1, i, this.n);
    this.a[i] = v;
    this.n++;
  }

  remove(v: number): void {
    const i = this.find(v);
    if (i < this.n && this.a[i] === v) {
      this.a.copyWithin(i, i + 1, this.n);
      this.n--;
      this.a[this.n] = 0;
    }
  }

  private find(v: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.a[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function listKey(cls: number, slot: number, gid: number): number {
  return cls * 16_777_216 + slot * 65_536 + gid;
}

const L = INDEX_LAYOUT;

export class DnaIndex {
  private readonly table = new LocusTable({ refcount: true });
  private readonly weigher: HitWeigher;
  private width = 0;
  private capacity = 0;
  private rows: Uint16Array = new Uint16Array(0);
  private cls: Uint8Array = new Uint8Array(0);
  private kinds: Uint8Array = new Uint8Array(0);
  private counts: Uint8Array = new Uint8Array(0);
  private refs: (string | undefined)[] = [];
  private readonly slotOfRef = new Map<string, number>();
  private readonly free: number[] = [];
  private used = 0;
  private readonly keys = new KeyMap();
  private readonly lists = new Map<number, SlotList>();
  private readonly classCount = new Int32Array(L.classes);
  private parts: number[][] = [];
  private combos: Int32Array[] = [];
  private readonly enc = new ProfileEncoder();
  private readonly out = new Int32Array(4);

  constructor(options: DnaIndexOptions = {}) {
    this.weigher = new HitWeigher(this.table, options.frequencies ?? shippedFrequencyTable(), checkTheta(options.theta ?? DEFAULT_THETA));
  }

  /** Number of profiles in the index. */
  get size(): number {
    return this.slotOfRef.size;
  }

  has(ref: string): boolean {
    return this.slotOfRef.has(ref);
  }

  /** The references in the index, in no particular order. */
  refList(): string[] {
    return [...this.slotOfRef.keys()];
  }

  /** The stored profile of a reference, rebuilt from its row. */
  get(ref: string): DnaProfile | undefined {
    const slot = this.slotOfRef.get(ref);
    if (slot === undefined) return undefined;
    const loci: Record<string, readonly [string, string]> = {};
    const off = slot * this.width;
    for (let s = 0; s < this.width; s++) {
      const g = this.rows[off + s]!;
      if (g === 0) continue;
      const p = this.table.geno[s]![g]!;
      loci[this.table.infos[s]!.name] = [alleleText(p & 0xfff), alleleText((p >>> 12) & 0xfff)];
    }
    return { ref, kind: KIND_NAME[this.kinds[slot]!]!, loci };
  }

  /**
   * Adds a profile. Throws `dna-profile-invalid` if the inclusion rule refuses it (with the reason)
   * and `conflict` if its reference is already in the index.
   */
  add(profile: DnaProfile): void {
    this.check(profile);
    this.insert(profile, true);
  }

  /** Adds several profiles, all or none: every profile is checked before the first is added. */
  addAll(profiles: readonly DnaProfile[]): void {
    const seen = new Set<string>();
    for (const p of profiles) {
      this.check(p);
      if (seen.has(p.ref)) throw new OpenPrumError('conflict', `profile ${p.ref} is given twice; give each reference once`, { ref: p.ref });
      seen.add(p.ref);
    }
    for (const p of profiles) this.insert(p);
  }

  /** Adds a profile, replacing the stored profile with the same reference if there is one. */
  put(profile: DnaProfile): void {
    encodeProfile(profile, this.enc);
    const problem = this.enc.inclusionProblem(profile.kind);
    if (problem !== undefined) throw new OpenPrumError('dna-profile-invalid', `profile ${profile.ref} ${problem}`, { ref: profile.ref });
    this.remove(profile.ref);
    this.insert(profile);
  }

  private check(profile: DnaProfile): void {
    encodeProfile(profile, this.enc);
    const problem = this.enc.inclusionProblem(profile.kind);
    if (problem !== undefined) throw new OpenPrumError('dna-profile-invalid', `profile ${profile.ref} ${problem}`, { ref: profile.ref });
    if (this.slotOfRef.has(profile.ref)) {
      throw new OpenPrumError('conflict', `profile ${profile.ref} is already in the index; remove it first or use put() to replace it`, { ref: profile.ref });
    }
  }

  /** Stores a checked profile; `encoded` says the encoder already holds it (from check). */
  private insert(profile: DnaProfile, encoded = false): void {
    const enc = this.enc;
    if (!encoded) encodeProfile(profile, enc);
    const t = this.table;
    const before = t.size;
    for (let i = 0; i < enc.count; i++) t.ensureSlot(enc.loci[i]!.locus);
    if (t.size !== before || this.width === 0) this.relayout(t.size, this.capacity);
    const slot = this.free.length > 0 ? this.free.pop()! : this.used++;
    if (slot >= this.capacity) this.relayout(this.width, Math.max(1024, this.capacity * 2));
    const off = slot * this.width;
    for (let i = 0; i < enc.count; i++) {
      const l = enc.loci[i]!;
      const s = t.slotOf(l.locus.key)!;
      this.rows[off + s] = t.intern(s, l.a, l.b);
    }
    const c = rowClass(this.rows, off, this.parts, t.geno);
    this.cls[slot] = c;
    this.kinds[slot] = KIND_CODE[profile.kind];
    this.refs[slot] = profile.ref;
    this.slotOfRef.set(profile.ref, slot);
    this.classCount[c]!++;
    this.eachKey(slot, (k) => this.keys.add(k, slot));
    this.eachList(slot, (k) => {
      let list = this.lists.get(k);
      if (!list) this.lists.set(k, (list = new SlotList()));
      list.insert(slot);
    });
  }

  /** Removes a profile and every trace of it. Returns false if the reference was not there. */
  remove(ref: string): boolean {
    const slot = this.slotOfRef.get(ref);
    if (slot === undefined) return false;
    this.eachKey(slot, (k) => this.keys.remove(k, slot));
    this.eachList(slot, (k) => {
      const list = this.lists.get(k)!;
      list.remove(slot);
      if (list.n === 0) this.lists.delete(k);
    });
    const off = slot * this.width;
    for (let s = 0; s < this.width; s++) {
      const g = this.rows[off + s]!;
      if (g !== 0) this.table.release(s, g);
      this.rows[off + s] = 0;
    }
    this.classCount[this.cls[slot]!]!--;
    this.cls[slot] = 0;
    this.kinds[slot] = 0;
    this.refs[slot] = undefined;
    this.slotOfRef.delete(ref);
    this.free.push(slot);
    return true;
  }

  /** Removes all profiles. */
  clear(): void {
    for (const ref of [...this.slotOfRef.keys()]) this.remove(ref);
  }

  /**
   * Every stored profile that is a hit with `query`, strongest first. Throws `dna-profile-invalid`
   * if the query itself fails the inclusion rule.
   */
  search(query: DnaProfile): DnaHit[] {
    const enc = this.enc;
    encodeProfile(query, enc);
    const problem = enc.inclusionProblem(query.kind);
    if (problem !== undefined) throw new OpenPrumError('dna-profile-invalid', `profile ${query.ref} ${problem}`, { ref: query.ref });
    if (this.slotOfRef.size === 0) return [];
    const t = this.table;
    const width = this.width;
    const q: QueryRow = { packed: new Int32Array(width), gids: new Int32Array(width) };
    for (let i = 0; i < enc.count; i++) {
      const l = enc.loci[i]!;
      const s = t.slotOf(l.locus.key);
      if (s === undefined) continue; // no stored profile has this locus
      q.packed[s] = packGenotype(l.a, l.b);
      q.gids[s] = t.lookup(s, l.a, l.b);
    }
    const qCls = this.queryClass(q);
    const found: DnaHit[] = [];
    const rows = this.rows;
    const out = this.out;
    const amel = t.amelSlot;
    const verify = (slot: number): void => {
      if (!verifyQuery(t.geno, amel, width, q, rows, slot * width, out)) return;
      found.push({
        ref: this.refs[slot]!,
        kind: KIND_NAME[this.kinds[slot]!]!,
        quality: qualityOf(out),
        matchingLoci: out[OUT_MATCHING]!,
        comparedLoci: out[OUT_COMPARED]!,
        mismatches: out[OUT_MISMATCHES] as 0 | 1,
        rmp: this.weigher.query(width, q, rows, slot * width),
      });
    };

    // Tier A: part keys, for stored classes that share ≥ 3 intact parts with the query.
    for (let p = 0; p < L.combos.length; p++) {
      if (!this.hasCombo(qCls, p)) continue;
      const slots = this.combos[p]!;
      let known = slots.length > 0;
      for (let k = 0; k < slots.length && known; k++) if (q.gids[slots[k]!] === 0) known = false;
      if (!known) continue; // a genotype no stored profile has: this key matches nothing
      this.keys.forEach(comboKeyFromGids(p, slots, q.gids), (slot) => {
        const c = this.cls[slot]!;
        if (!covered(L, qCls, c)) return;
        if (reportingCombo(L, this.equalParts(q, qCls & c, slot)) === p) verify(slot);
      });
    }

    // Tier B: the classes tier A does not cover. A stored profile of such a class is a hit only if
    // it is in at least 6 of the query's n lists (one per fully designated locus of the query, of
    // stored profiles with the same genotype there): it misses at most n - 6 of them.
    const counts = this.counts;
    const touched: number[] = [];
    const candidates: number[] = [];
    const qSlots: number[] = [];
    for (let s = 0; s < width; s++) if (s !== amel && (q.packed[s]! & FULL) !== 0) qSlots.push(s);
    const nq = enc.fullCount; // the query's fully designated loci, also those no stored profile has
    for (let c = 0; c < L.classes; c++) {
      if (this.classCount[c] === 0 || covered(L, qCls, c)) continue;
      const lists: SlotList[] = [];
      for (const s of qSlots) {
        const g = q.gids[s]!;
        const list = g === 0 ? undefined : this.lists.get(listKey(c, s, g));
        if (list) lists.push(list);
      }
      const empty = nq - lists.length; // lists no stored profile of this class is in
      if (nq <= 10) {
        // Few loci (a trace): pair up the 2(n-5) smallest lists; a hit misses at most n-6 lists,
        // so it is in both lists of at least one of the n-5 pairs. Intersect each pair.
        const pairs = nq - 5;
        if (empty >= 2 * pairs) continue; // every pair has an empty list: no hit in this class
        lists.sort((x, y) => x.n - y.n);
        const chosen: (SlotList | undefined)[] = [...new Array<undefined>(empty), ...lists].slice(0, 2 * pairs);
        for (let k = 0; k < pairs; k++) {
          const x = chosen[2 * k];
          const y = chosen[2 * k + 1];
          if (!x || !y) continue;
          let i = 0;
          let j = 0;
          while (i < x.n && j < y.n) {
            const u = x.a[i]!;
            const v = y.a[j]!;
            if (u < v) i++;
            else if (u > v) j++;
            else {
              if (counts[u] === 0) {
                counts[u] = 1;
                touched.push(u);
                candidates.push(u);
              }
              i++;
              j++;
            }
          }
        }
        continue;
      }
      // Many loci: count each stored profile's lists.
      for (const list of lists) {
        const a = list.a;
        for (let k = 0; k < list.n; k++) {
          const slot = a[k]!;
          const n = counts[slot]!;
          if (n === 0) touched.push(slot);
          if (n + 1 === MIN_MATCHING_LOCI) candidates.push(slot);
          counts[slot] = n + 1;
        }
      }
    }
    for (const slot of touched) counts[slot] = 0;
    for (const slot of candidates) verify(slot);

    return found.sort((x, y) => QUALITY_RANK[x.quality] - QUALITY_RANK[y.quality] || x.rmp - y.rmp || (x.ref < y.ref ? -1 : x.ref > y.ref ? 1 : 0));
  }

  /**
   * Expected number of stored profiles that would be a hit with `query` by chance alone, if they
   * were unrelated to it: the sum over stored profiles of h(query, stored) of chance.ts. Above
   * `sample` stored profiles, a fixed random sample of them is summed and scaled up.
   */
  expectedChanceHits(query: DnaProfile, sample = 100_000): number {
    const enc = this.enc;
    encodeProfile(query, enc);
    const t = this.table;
    const width = this.width;
    const m = new Float64Array(width);
    const n = new Float64Array(width);
    const use = new Uint8Array(width);
    for (let i = 0; i < enc.count; i++) {
      const l = enc.loci[i]!;
      const s = t.slotOf(l.locus.key);
      if (s === undefined || l.locus.amelogenin) continue;
      const packed = packGenotype(l.a, l.b);
      if ((packed & FULL) === 0) continue;
      use[s] = 1;
      const lf = this.weigher.locus(s);
      m[s] = this.weigher.genotype(s, packed);
      n[s] = lf ? oneMismatchProbability(lf, l.a, l.b) : 0;
    }
    const slots: number[] = [];
    for (const slot of this.slotOfRef.values()) slots.push(slot);
    let picked = slots;
    if (slots.length > sample) {
      const rng = new Random(slots.length);
      picked = Array.from({ length: sample }, () => slots[rng.int(slots.length)]!);
    }
    let sum = 0;
    for (const slot of picked) {
      const off = slot * width;
      let prod = 1;
      let ratio = 0;
      let c = 0;
      for (let s = 0; s < width; s++) {
        if (!use[s]) continue;
        const g = this.rows[off + s]!;
        if (g === 0 || (t.geno[s]![g]! & FULL) === 0) continue;
        c++;
        prod *= m[s]!;
        ratio += n[s]! / m[s]!;
      }
      if (c >= MIN_MATCHING_LOCI) sum += prod * (1 + (c > MIN_MATCHING_LOCI ? ratio : 0));
    }
    return picked.length === 0 ? 0 : (sum * slots.length) / picked.length;
  }

  /**
   * The same answer as `search`, by comparing the query with every stored profile (no index): the
   * baseline for benchmarks and tests.
   */
  searchExhaustive(query: DnaProfile): DnaHit[] {
    const enc = this.enc;
    encodeProfile(query, enc);
    const problem = enc.inclusionProblem(query.kind);
    if (problem !== undefined) throw new OpenPrumError('dna-profile-invalid', `profile ${query.ref} ${problem}`, { ref: query.ref });
    const t = this.table;
    const width = this.width;
    const q: QueryRow = { packed: new Int32Array(width), gids: new Int32Array(width) };
    for (let i = 0; i < enc.count; i++) {
      const l = enc.loci[i]!;
      const s = t.slotOf(l.locus.key);
      if (s === undefined) continue;
      q.packed[s] = packGenotype(l.a, l.b);
      q.gids[s] = t.lookup(s, l.a, l.b);
    }
    const found: DnaHit[] = [];
    const out = this.out;
    for (const slot of this.slotOfRef.values()) {
      if (!verifyQuery(t.geno, t.amelSlot, width, q, this.rows, slot * width, out)) continue;
      found.push({
        ref: this.refs[slot]!, kind: KIND_NAME[this.kinds[slot]!]!, quality: qualityOf(out), matchingLoci: out[OUT_MATCHING]!,
        comparedLoci: out[OUT_COMPARED]!, mismatches: out[OUT_MISMATCHES] as 0 | 1, rmp: this.weigher.query(width, q, this.rows, slot * width),
      });
    }
    return found.sort((x, y) => QUALITY_RANK[x.quality] - QUALITY_RANK[y.quality] || x.rmp - y.rmp || (x.ref < y.ref ? -1 : x.ref > y.ref ? 1 : 0));
  }

  private queryClass(q: QueryRow): number {
    let cls = 0;
    for (let p = 0; p < this.parts.length; p++) {
      const ps = this.parts[p]!;
      let ok = true;
      for (const s of ps) if (s < 0 || (q.packed[s]! & FULL) === 0) ok = false;
      if (ok) cls |= 1 << p;
    }
    return cls;
  }

  /** Bit p set when part p (intact in both, per `both`) has equal genotypes in query and row. */
  private equalParts(q: QueryRow, both: number, slot: number): number {
    let eq = 0;
    const off = slot * this.width;
    for (let p = 0; p < this.parts.length; p++) {
      if (((both >> p) & 1) === 0) continue;
      let same = true;
      for (const s of this.parts[p]!) if (q.gids[s] !== this.rows[off + s]) same = false;
      if (same) eq |= 1 << p;
    }
    return eq;
  }

  private hasCombo(cls: number, combo: number): boolean {
    for (const p of L.combos[combo]!) if (((cls >> p) & 1) === 0) return false;
    return true;
  }

  private eachKey(slot: number, fn: (key: number) => void): void {
    const c = this.cls[slot]!;
    const off = slot * this.width;
    for (let p = 0; p < L.combos.length; p++) {
      if (this.hasCombo(c, p)) fn(comboKey(p, this.combos[p]!, this.rows, off));
    }
  }

  private eachList(slot: number, fn: (key: number) => void): void {
    const c = this.cls[slot]!;
    const off = slot * this.width;
    const amel = this.table.amelSlot;
    for (let s = 0; s < this.width; s++) {
      const g = this.rows[off + s]!;
      if (g === 0 || s === amel || (this.table.geno[s]![g]! & FULL) === 0) continue;
      fn(listKey(c, s, g));
    }
  }

  /** New row width (a new locus appeared) or capacity; copies the rows once. */
  private relayout(width: number, capacity: number): void {
    const rows = new Uint16Array(width * capacity);
    if (width === this.width) rows.set(this.rows);
    else for (let i = 0; i < this.used && i < this.capacity; i++) rows.set(this.rows.subarray(i * this.width, (i + 1) * this.width), i * width);
    this.rows = rows;
    if (capacity !== this.capacity) {
      const grow = (a: Uint8Array): Uint8Array => {
        const b = new Uint8Array(capacity);
        b.set(a);
        return b;
      };
      this.cls = grow(this.cls);
      this.kinds = grow(this.kinds);
      this.counts = new Uint8Array(capacity);
    }
    this.width = width;
    this.capacity = capacity;
    this.parts = partSlots(L, this.table);
    this.combos = comboSlots(L, this.parts);
  }
}
