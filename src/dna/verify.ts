/**
 * The matching rule of rule.ts on packed rows: what every index candidate goes through. It stops as
 * soon as a second mismatched allele shows, which is where almost every false candidate ends.
 */
import { FULL, WILD } from './store.ts';
import { MAX_MISMATCHES, MIN_MATCHING_LOCI, type HitQuality } from './rule.ts';

const W = 4095;

/** Mismatched alleles between two packed genotypes: 2 minus the best pairing (`*` pairs with all). */
export function packedMismatch(p: number, q: number): number {
  const a1 = p & 0xfff;
  const a2 = (p >>> 12) & 0xfff;
  const b1 = q & 0xfff;
  const b2 = (q >>> 12) & 0xfff;
  const s = (a1 === b1 || a1 === W || b1 === W ? 1 : 0) + (a2 === b2 || a2 === W || b2 === W ? 1 : 0);
  const c = (a1 === b2 || a1 === W || b2 === W ? 1 : 0) + (a2 === b1 || a2 === W || b1 === W ? 1 : 0);
  return 2 - (s > c ? s : c);
}

/**
 * Result slots of a verification, written into a caller's Int32Array(4) to avoid allocation:
 * [mismatches, matchingLoci, comparedLoci, wildcardUsed].
 */
export const OUT_MISMATCHES = 0;
export const OUT_MATCHING = 1;
export const OUT_COMPARED = 2;
export const OUT_WILDCARD = 3;

/**
 * Compares two rows of the same table. Returns true for a hit; `out` then holds the figures.
 * `amelSlot` is skipped (amelogenin is never compared).
 */
export function verifyRows(
  geno: readonly Uint32Array[], amelSlot: number, width: number,
  rowsA: Uint16Array, offA: number, rowsB: Uint16Array, offB: number, out: Int32Array,
): boolean {
  let mism = 0;
  let exact = 0;
  let compared = 0;
  let wild = 0;
  for (let s = 0; s < width; s++) {
    const ga = rowsA[offA + s]!;
    const gb = rowsB[offB + s]!;
    if (ga === 0 || gb === 0 || s === amelSlot) continue;
    compared++;
    const g = geno[s]!;
    const pa = g[ga]!;
    if (ga === gb) {
      if ((pa & FULL) !== 0) exact++;
      else wild = 1; // the same genotype with a wildcard: pairs fully, and a wildcard was used
      continue;
    }
    const pb = g[gb]!;
    mism += packedMismatch(pa, pb);
    if (mism > MAX_MISMATCHES) return false;
    if (((pa | pb) & WILD) !== 0) wild = 1;
  }
  out[OUT_MISMATCHES] = mism;
  out[OUT_MATCHING] = exact;
  out[OUT_COMPARED] = compared;
  out[OUT_WILDCARD] = wild;
  return exact >= MIN_MATCHING_LOCI;
}

/**
 * A query profile laid out for verification against rows of a table it is not stored in: per slot
 * its packed genotype (0 = absent) and its gid in the table (0 when no stored profile has that
 * genotype, which then can only pair through wildcards).
 */
export interface QueryRow {
  readonly packed: Int32Array;
  readonly gids: Int32Array;
}

export function verifyQuery(
  geno: readonly Uint32Array[], amelSlot: number, width: number,
  q: QueryRow, rows: Uint16Array, off: number, out: Int32Array,
): boolean {
  let mism = 0;
  let exact = 0;
  let compared = 0;
  let wild = 0;
  const qp = q.packed;
  const qg = q.gids;
  for (let s = 0; s < width; s++) {
    const pa = qp[s]!;
    const gb = rows[off + s]!;
    if (pa === 0 || gb === 0 || s === amelSlot) continue;
    compared++;
    if (qg[s] === gb) {
      if ((pa & FULL) !== 0) exact++;
      else wild = 1;
      continue;
    }
    const pb = geno[s]![gb]!;
    mism += packedMismatch(pa, pb);
    if (mism > MAX_MISMATCHES) return false;
    if (((pa | pb) & WILD) !== 0) wild = 1;
  }
  out[OUT_MISMATCHES] = mism;
  out[OUT_MATCHING] = exact;
  out[OUT_COMPARED] = compared;
  out[OUT_WILDCARD] = wild;
  return exact >= MIN_MATCHING_LOCI;
}

export function qualityOf(out: Int32Array): HitQuality {
  return out[OUT_MISMATCHES] === 1 ? 'near-match' : out[OUT_WILDCARD] ? 'wildcard-match' : 'match';
}
