/**
 * Expected number of chance hits of a bulk comparison: how many hits two files of unrelated people
 * would give by coincidence alone, to set beside the hits found.
 *
 * For a profile P of file A and a profile R of file B, let C be the loci fully designated in both
 * (amelogenin aside). The probability that an unrelated person typed at R's loci is a hit with P is
 *   h(P, R) = Π_C m_l × (1 + [|C| ≥ 7] Σ_C n_l / m_l)     (0 when |C| < 6)
 * where m_l is the θ-corrected probability of P's genotype at l (a matching locus) and n_l the
 * probability of a genotype one allele away (the one near-match locus the rule allows, which needs
 * |C| ≥ 7 to leave 6 matching loci). Loci with a wildcard are left out (as if they always paired),
 * and so are loci the frequency table lacks: both only make the estimate larger.
 *
 * The sum of h over all |A|·|B| pairs is too much work for two files of a million, so it is estimated
 * from a random sample of pairs. Pairs involving partial profiles (≤ 9 fully designated loci) weigh
 * far more than others, so the sample is stratified: partial and complete profiles of each file
 * make four strata, each sampled equally, and each stratum's mean is scaled by its number of pairs.
 * The result comes with its standard error.
 */
import { Random } from '../util/random.ts';
import { FULL } from './store.ts';
import type { SideData } from './bulk-core.ts';
import { oneMismatchProbability } from './frequencies.ts';
import type { HitWeigher } from './weight.ts';

export interface ChanceEstimate {
  /** Expected number of chance hits between unrelated profiles. */
  readonly expected: number;
  /** Standard error of the estimate (sampling only). */
  readonly standardError: number;
  readonly sampledPairs: number;
}

/** Profiles with at most this many fully designated loci count as partial for the strata. */
const PARTIAL_LOCI = 9;

export function estimateChanceHits(
  width: number, geno: readonly Uint32Array[], amelSlot: number, weigher: HitWeigher,
  a: SideData, b: SideData, samples = 400_000, seed = 1,
): ChanceEstimate {
  if (a.count === 0 || b.count === 0) return { expected: 0, standardError: 0, sampledPairs: 0 };
  // Per slot and gid: probability of the genotype and of a genotype one allele away (cached).
  const m: Float64Array[] = [];
  const n: Float64Array[] = [];
  for (let s = 0; s < width; s++) {
    const g = geno[s]!;
    const ms = new Float64Array(g.length).fill(1);
    const ns = new Float64Array(g.length);
    const lf = s === amelSlot ? undefined : weigher.locus(s);
    if (lf) {
      for (let gid = 1; gid < g.length; gid++) {
        const p = g[gid]!;
        if ((p & FULL) === 0) continue;
        ms[gid] = weigher.genotype(s, p);
        ns[gid] = oneMismatchProbability(lf, p & 0xfff, (p >>> 12) & 0xfff);
      }
    }
    m.push(ms);
    n.push(ns);
  }
  const fullLoci = (side: SideData, r: number): number => {
    let c = 0;
    const off = r * width;
    for (let s = 0; s < width; s++) {
      const gid = side.rows[off + s]!;
      if (gid !== 0 && s !== amelSlot && (geno[s]![gid]! & FULL) !== 0) c++;
    }
    return c;
  };
  const split = (side: SideData): [number[], number[]] => {
    const partial: number[] = [];
    const complete: number[] = [];
    for (let r = 0; r < side.count; r++) (fullLoci(side, r) <= PARTIAL_LOCI ? partial : complete).push(r);
    return [partial, complete];
  };
  const sa = split(a);
  const sb = split(b);
  const rng = new Random(seed);
  let expected = 0;
  let variance = 0;
  let sampled = 0;
  const strata = sa.flatMap((ga) => sb.map((gb) => [ga, gb] as const)).filter(([ga, gb]) => ga.length > 0 && gb.length > 0);
  const per = Math.max(1, Math.floor(samples / Math.max(1, strata.length)));
  for (const [ga, gb] of strata) {
    let sum = 0;
    let sum2 = 0;
    for (let k = 0; k < per; k++) {
      const ra = ga[rng.int(ga.length)]!;
      const rb = gb[rng.int(gb.length)]!;
      const h = pairChance(width, geno, amelSlot, m, n, a.rows, ra * width, b.rows, rb * width);
      sum += h;
      sum2 += h * h;
    }
    const mean = sum / per;
    const varMean = Math.max(0, sum2 / per - mean * mean) / per;
    const pairs = ga.length * gb.length;
    expected += pairs * mean;
    variance += pairs * pairs * varMean;
    sampled += per;
  }
  return { expected, standardError: Math.sqrt(variance), sampledPairs: sampled };
}

function pairChance(
  width: number, geno: readonly Uint32Array[], amelSlot: number, m: Float64Array[], n: Float64Array[],
  ra: Uint16Array, offA: number, rb: Uint16Array, offB: number,
): number {
  let prod = 1;
  let ratio = 0;
  let c = 0;
  for (let s = 0; s < width; s++) {
    const ga = ra[offA + s]!;
    const gb = rb[offB + s]!;
    if (ga === 0 || gb === 0 || s === amelSlot) continue;
    const g = geno[s]!;
    if ((g[ga]! & FULL) === 0 || (g[gb]! & FULL) === 0) continue;
    c++;
    const ml = m[s]![ga]!;
    prod *= ml;
    ratio += n[s]![ga]! / ml;
  }
  if (c < 6) return 0;
  return prod * (1 + (c >= 7 ? ratio : 0));
}
