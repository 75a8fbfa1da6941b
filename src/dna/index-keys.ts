/**
 * The exact keys of the indexes and why together they never miss a hit (README.md, section 3, has
 * the full argument). Let C be the loci fully designated in both profiles of a hit and E ⊆ C the
 * loci equal in both: the rule allows at most one mismatched allele, so at most one locus of C is
 * unequal, and it needs |E| ≥ 6.
 *
 * Tier A (part keys): a layout splits common loci into parts; a part is intact when all its loci
 * are fully designated; a profile's class is its set of intact parts and it has one key per k of
 * them. Two profiles sharing k + 1 intact parts have at least k equal ones (the unequal locus is in
 * at most one), so they share a key.
 *
 * Tier B (triples): every locus is in one of two groups; a triple is three fully designated loci of
 * one group. E has ≥ 6 loci, so one group holds ≥ 3 of them, and the two profiles share at least
 * two triples ((3,3) gives 1 + 1, (4,2) gives 4, more loci more).
 *
 * Candidates are then checked with the full rule.
 */
import { locusInfo } from './loci.ts';
import type { LocusTable } from './store.ts';
import { FULL } from './store.ts';

/**
 * A layout of tier A: parts of loci, and keys made of `k` parts. With at most one unequal locus, two
 * profiles with m ≥ k + 1 intact parts in common have at least m − 1 ≥ k equal ones, so they share
 * the key of k of them: tier A covers a pair of classes sharing `cover` = k + 1 intact parts.
 */
export interface Layout {
  readonly name: string;
  readonly parts: readonly (readonly string[])[];
  /** Parts per key. */
  readonly k: number;
  /** Intact parts two classes must share to be covered (k + 1). */
  readonly cover: number;
  /** Number of classes (2 ^ parts). */
  readonly classes: number;
  /** Every set of k parts, in lexicographic order; a key belongs to one of them. */
  readonly combos: readonly (readonly number[])[];
  /** Bit mask of k parts → its index in `combos` (-1 for other masks). */
  readonly comboOfMask: Int16Array;
}

function makeLayout(name: string, parts: readonly (readonly string[])[], k: number): Layout {
  const combos: number[][] = [];
  const walk = (from: number, acc: number[]): void => {
    if (acc.length === k) {
      combos.push([...acc]);
      return;
    }
    for (let p = from; p < parts.length; p++) walk(p + 1, [...acc, p]);
  };
  walk(0, []);
  const comboOfMask = new Int16Array(1 << parts.length).fill(-1);
  combos.forEach((c, i) => {
    comboOfMask[c.reduce((m, p) => m | (1 << p), 0)] = i;
  });
  return { name, parts, k, cover: k + 1, classes: 1 << parts.length, combos, comboOfMask };
}

/**
 * Layout of the single-profile index: five parts, keys of two parts (10 keys per complete profile,
 * 5 to 7 loci each). Parts 1-3 are the ten loci of the old SGM Plus kit (the 7 ESS-1999 loci and
 * D16S539, D19S433, D2S1338), which Identifiler and every current European and U.S. kit also type;
 * parts 4-5 are the other five ESS-2009 loci.
 */
export const INDEX_LAYOUT: Layout = makeLayout('index', [
  ['D3S1358', 'vWA', 'D8S1179'],
  ['D21S11', 'D18S51', 'TH01'],
  ['FGA', 'D16S539', 'D19S433', 'D2S1338'],
  ['D1S1656', 'D12S391'],
  ['D2S441', 'D10S1248', 'D22S1045'],
], 2);

/**
 * Layout of the bulk comparison: the same ten loci in five parts of two, the five other ESS-2009
 * loci as a sixth part, keys of three parts (20 keys per complete profile, 6 to 9 loci each). Small
 * parts keep most profiles with one wildcard, old kits (SGM Plus, Identifiler: five parts; the
 * CODIS-13 kits: four) and current kits all covered by each other, so that tier B is left with
 * partial traces; keys of three parts keep chance candidates between a million profiles few.
 */
export const BULK_LAYOUT: Layout = makeLayout('bulk', [
  ['D3S1358', 'vWA'],
  ['D8S1179', 'D21S11'],
  ['D18S51', 'TH01'],
  ['FGA', 'D16S539'],
  ['D19S433', 'D2S1338'],
  ['D1S1656', 'D12S391', 'D2S441', 'D10S1248', 'D22S1045'],
], 3);

/** A set bit count of a class (how many intact parts). */
export function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}

export function covered(layout: Layout, classA: number, classB: number): boolean {
  return popcount(classA & classB) >= layout.cover;
}

/**
 * The key (combo) that reports a covered hit: the first k parts that are intact in both and equal
 * in both. `equalParts` has bit p set when part p is intact in both and equal. Returns -1 if fewer
 * than k such parts exist (then the pair cannot be a covered hit, see above).
 */
export function reportingCombo(layout: Layout, equalParts: number): number {
  let m = equalParts;
  let first = 0;
  for (let i = 0; i < layout.k; i++) {
    if (m === 0) return -1;
    const low = m & -m;
    first |= low;
    m &= m - 1;
  }
  return layout.comboOfMask[first]!;
}

/**
 * Loci in rough order of amplicon length in current kits. Tier B groups alternate along it, so that
 * a complete profile and a degraded trace (which keeps its short loci) both split about evenly
 * between the two groups: the number of triples, C(a,3) + C(b,3), is smallest for an even split.
 */
const TRIPLE_ORDER = [
  'D2S441', 'D22S1045', 'D10S1248', 'D3S1358', 'D8S1179', 'D19S433', 'D5S818', 'vWA', 'TH01', 'D1S1656',
  'D21S11', 'D7S820', 'D13S317', 'D12S391', 'TPOX', 'D16S539', 'D18S51', 'FGA', 'D2S1338', 'PentaD',
  'CSF1PO', 'SE33', 'PentaE', 'PentaC', 'PentaB', 'D6S1043', 'F13A01', 'F13B', 'FESFPS', 'LPL', 'HPRTB',
].map((n) => n.toUpperCase());

/** The group (0 or 1) of a locus for tier B triples: alternating along TRIPLE_ORDER, by name hash otherwise. */
export function tripleGroup(key: string): number {
  const i = TRIPLE_ORDER.indexOf(key);
  if (i >= 0) return i & 1;
  let h = 0;
  for (let k = 0; k < key.length; k++) h = (Math.imul(h, 31) + key.charCodeAt(k)) | 0;
  return h & 1;
}

/** Slots of the loci of each part in a table (-1 where the table has no such locus yet). */
export function partSlots(layout: Layout, table: LocusTable): number[][] {
  return layout.parts.map((part) => part.map((name) => table.slotOf(locusInfo(name).key) ?? -1));
}

/** For each combo, the slots of its loci in order (empty if a locus has no slot). */
export function comboSlots(layout: Layout, parts: readonly (readonly number[])[]): Int32Array[] {
  return layout.combos.map((combo) => {
    const s = combo.flatMap((p) => parts[p]!);
    return s.includes(-1) ? new Int32Array(0) : Int32Array.from(s);
  });
}

/** The class (intact parts) of the row at `off`. */
export function rowClass(rows: Uint16Array, off: number, parts: readonly (readonly number[])[], geno: readonly Uint32Array[]): number {
  let cls = 0;
  for (let p = 0; p < parts.length; p++) {
    const ps = parts[p]!;
    let ok = true;
    for (let k = 0; k < ps.length; k++) {
      const s = ps[k]!;
      if (s < 0) {
        ok = false;
        break;
      }
      const g = rows[off + s]!;
      if (g === 0 || (geno[s]![g]! & FULL) === 0) {
        ok = false;
        break;
      }
    }
    if (ok) cls |= 1 << p;
  }
  return cls;
}

// Murmur3-style mixing; keys are 32-bit hashes of gids. Collisions only add candidates that the
// full rule then rejects, they never hide a hit (equal genotypes always give equal keys).
export function mix(h: number, v: number): number {
  let k = Math.imul(v, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Tier A key of combo `combo` for the row at `off` (the caller knows its parts are intact). */
export function comboKey(combo: number, slots: Int32Array, rows: Uint16Array, off: number): number {
  let h = mix(0x5bd1e995, combo);
  for (let k = 0; k < slots.length; k++) h = mix(h, rows[off + slots[k]!]!);
  return finish(h);
}

/** The same key from a gid per slot (for a query that is not in a store). */
export function comboKeyFromGids(combo: number, slots: Int32Array, gids: Int32Array): number {
  let h = mix(0x5bd1e995, combo);
  for (let k = 0; k < slots.length; k++) h = mix(h, gids[slots[k]!]!);
  return finish(h);
}
