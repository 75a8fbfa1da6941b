/**
 * The matching rule, written plainly on normalised profiles. The indexes and the bulk comparison use
 * a faster copy of it on packed rows (verify.ts); the tests hold the two against each other and
 * against an independent brute force.
 *
 * The rule (Council Decision 2008/616/JHA, Annex, chapter 1, as the issue states it):
 *  - compare the loci present in both profiles, amelogenin never;
 *  - at a locus, the mismatch count is 2 minus the best pairing of the two values of each side, where
 *    equal values pair and the wildcard pairs with anything;
 *  - a hit has at most 1 mismatched allele over all compared loci AND at least 6 loci that are fully
 *    designated in both profiles and equal;
 *  - quality: `match` (no mismatch, no wildcard at a compared locus), `wildcard-match` (no mismatch,
 *    a wildcard at a compared locus), `near-match` (exactly one mismatched allele).
 */
import type { DnaProfile } from './profile.ts';
import { locusKey } from './loci.ts';

export type HitQuality = 'match' | 'wildcard-match' | 'near-match';

/** Ranks for sorting: the strongest quality first. */
export const QUALITY_RANK: Readonly<Record<HitQuality, number>> = { 'match': 0, 'wildcard-match': 1, 'near-match': 2 };

export interface Comparison {
  /** Loci present in both profiles (amelogenin not counted). */
  readonly comparedLoci: number;
  /** Loci fully designated in both and equal: the loci that carry the hit. */
  readonly matchingLoci: number;
  /** Mismatched alleles over all compared loci. */
  readonly mismatches: number;
  /** A wildcard was at one of the compared loci. */
  readonly wildcardUsed: boolean;
  /** The quality if the pair is a hit, undefined if it is not. */
  readonly quality: HitQuality | undefined;
}

/** The least number of loci fully designated in both and equal, for a hit. */
export const MIN_MATCHING_LOCI = 6;
/** The most mismatched alleles, over all compared loci, for a hit. */
export const MAX_MISMATCHES = 1;

function pairs(x: string, y: string): number {
  return x === y || x === '*' || y === '*' ? 1 : 0;
}

/** Mismatched alleles at one locus: 2 minus the best pairing. */
export function locusMismatch(a: readonly [string, string], b: readonly [string, string]): number {
  const straight = pairs(a[0], b[0]) + pairs(a[1], b[1]);
  const crossed = pairs(a[0], b[1]) + pairs(a[1], b[0]);
  return 2 - Math.max(straight, crossed);
}

function isFull(g: readonly [string, string]): boolean {
  return /^[0-9]/.test(g[0]) && /^[0-9]/.test(g[1]);
}

/** Compares two normalised profiles with the rule above. */
export function compareProfiles(a: DnaProfile, b: DnaProfile): Comparison {
  const bByKey = new Map<string, readonly [string, string]>();
  for (const name in b.loci) bByKey.set(locusKey(name), b.loci[name]!);
  let compared = 0;
  let matching = 0;
  let mismatches = 0;
  let wildcard = false;
  for (const name in a.loci) {
    const key = locusKey(name);
    if (key === 'AMEL') continue;
    const gb = bByKey.get(key);
    if (!gb) continue;
    const ga = a.loci[name]!;
    compared++;
    const m = locusMismatch(ga, gb);
    mismatches += m;
    if (ga.includes('*') || gb.includes('*')) wildcard = true;
    if (m === 0 && isFull(ga) && isFull(gb)) matching++;
  }
  const hit = mismatches <= MAX_MISMATCHES && matching >= MIN_MATCHING_LOCI;
  const quality: HitQuality | undefined = !hit ? undefined : mismatches === 1 ? 'near-match' : wildcard ? 'wildcard-match' : 'match';
  return { comparedLoci: compared, matchingLoci: matching, mismatches, wildcardUsed: wildcard, quality };
}
