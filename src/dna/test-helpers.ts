/**
 * For tests only: random profiles that stress the matching rule (different kits, partial traces,
 * wildcards, homozygotes, micro-variants, near matches, tri-allelic loci), and a brute-force
 * implementation of the rule written separately from rule.ts and verify.ts, straight from the text
 * of the issue, so that the engine is checked against something that does not share its code.
 */
import { Random } from '../util/random.ts';
import type { DnaProfile, ProfileKind } from './profile.ts';

export const TEST_KITS: Readonly<Record<string, readonly string[]>> = {
  ngm: ['D3S1358', 'vWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA', 'D1S1656', 'D2S441', 'D10S1248', 'D12S391', 'D22S1045', 'D16S539', 'D19S433', 'D2S1338'],
  global: ['D3S1358', 'vWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA', 'D1S1656', 'D2S441', 'D10S1248', 'D12S391', 'D22S1045', 'D16S539', 'D19S433', 'D2S1338', 'CSF1PO', 'D5S818', 'D7S820', 'D13S317', 'TPOX', 'SE33'],
  sgm: ['D3S1358', 'vWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA', 'D16S539', 'D19S433', 'D2S1338'],
  codis13: ['D3S1358', 'vWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA', 'CSF1PO', 'D5S818', 'D7S820', 'D13S317', 'TPOX', 'D16S539'],
  odd: ['D3S1358', 'vWA', 'TH01', 'CSF1PO', 'D5S818', 'D7S820', 'PentaD', 'PentaE', 'D6S1043', 'D5S2500', 'SE33'],
};

const ALLELES = ['9', '9.3', '10', '11', '12', '13', '14', '15', '15.2', '16'];

export interface RandomOptions {
  /** How many distinct alleles a locus uses (fewer: more chance hits). */
  readonly alleles?: number;
  /** Probability that a profile is a noisy copy of an earlier "person". */
  readonly copyRate?: number;
}

/** Profiles over a shared pool of persons, so that many pairs are hits of every quality. */
export function randomProfiles(seed: number, n: number, prefix: string, persons: Map<string, string[]>[] | undefined = undefined, options: RandomOptions = {}): DnaProfile[] {
  const rng = new Random(seed);
  const nAlleles = options.alleles ?? 6;
  const pool = persons ?? [];
  const out: DnaProfile[] = [];
  const allLoci = [...new Set(Object.values(TEST_KITS).flat())];
  const kits = Object.values(TEST_KITS);
  for (let i = 0; i < n; i++) {
    let person: Map<string, string[]>;
    if (pool.length > 0 && rng.next() < (options.copyRate ?? 0.6)) person = rng.pick(pool);
    else {
      person = new Map();
      for (const l of allLoci) {
        const a = ALLELES[rng.int(nAlleles)]!;
        const b = rng.next() < 0.2 ? a : ALLELES[rng.int(nAlleles)]!;
        person.set(l, [a, b]);
      }
      pool.push(person);
    }
    const kit = rng.pick(kits);
    let loci = [...kit];
    const partial = rng.next() < 0.25;
    if (partial) {
      const keep = 5 + rng.int(6);
      loci = loci.filter(() => rng.next() < keep / kit.length);
    }
    const rec: Record<string, [string, string] | string[]> = {};
    for (const l of loci) {
      let g = [...person.get(l)!];
      const r = rng.next();
      if (r < 0.04) g[rng.int(2)] = ALLELES[rng.int(nAlleles)]!; // a changed allele: near matches
      else if (r < 0.08) g[rng.int(2)] = rng.pick(['*', 'OL', '99', '0', '1', 'na', 'o', 'F', 'r', 'nr', 'un']);
      else if (r < 0.09) g = [g[0]!, g[1]!, rng.pick(ALLELES)]; // tri-allelic: becomes (first, *)
      else if (r < 0.11) g = [g[0]!]; // one value: homozygote
      else if (r < 0.12) g = [g[1]!, g[0]!]; // order does not matter
      rec[l] = g;
    }
    if (rng.next() < 0.5) rec.AMEL = rng.next() < 0.5 ? ['X', 'X'] : ['X', 'Y'];
    const kind: ProfileKind = rng.next() < 0.6 ? 'reference' : 'unidentified';
    out.push({ ref: `${prefix}-${i}`, kind, loci: rec as unknown as Record<string, readonly [string, string]> });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Brute force, from the issue text. Works on the raw values of a record (before normalisation).

const ESS7 = ['D3S1358', 'VWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA'];

function name(l: string): string {
  const k = l.toUpperCase().replace(/[ _\-.]/g, '');
  return k === 'CSF1P0' ? 'CSF1PO' : k === 'AMELOGENIN' ? 'AMEL' : k;
}

function value(v: string): string {
  const t = v.trim();
  if (/^[0-9]+(\.[0-9])?$/.test(t)) {
    const n = Number(t);
    return n === 0 || n === 1 || n === 99 ? '*' : String(n);
  }
  return '*';
}

/** The two values of a locus after the rule's normalisation. */
function genotype(values: readonly string[]): [string, string] {
  const v = values.map(value);
  if (v.length === 1) return [v[0]!, v[0]!];
  if (v.length > 2) return [v[0]!, '*'];
  return [v[0]!, v[1]!];
}

function loci(p: DnaProfile): Map<string, [string, string]> {
  const m = new Map<string, [string, string]>();
  for (const [l, vs] of Object.entries(p.loci)) if (vs.length > 0) m.set(name(l), genotype(vs));
  return m;
}

const full = (g: [string, string]): boolean => g[0] !== '*' && g[1] !== '*';

export function bruteIncluded(p: DnaProfile): boolean {
  const m = loci(p);
  let fullLoci = 0;
  let ess = 0;
  for (const [l, g] of m) {
    if (l === 'AMEL' || !full(g)) continue;
    fullLoci++;
    if (ESS7.includes(l)) ess++;
  }
  return fullLoci >= 6 && (p.kind !== 'reference' || ess >= 6);
}

export interface BruteHit {
  readonly a: string;
  readonly b: string;
  readonly quality: string;
  readonly matchingLoci: number;
  readonly comparedLoci: number;
  readonly mismatches: number;
}

export function bruteCompare(pa: DnaProfile, pb: DnaProfile): BruteHit | undefined {
  return bruteCompareLoci(pa, loci(pa), pb, loci(pb));
}

function bruteCompareLoci(pa: DnaProfile, a: Map<string, [string, string]>, pb: DnaProfile, b: Map<string, [string, string]>): BruteHit | undefined {
  let mism = 0;
  let exact = 0;
  let compared = 0;
  let wildcard = false;
  for (const [l, ga] of a) {
    const gb = b.get(l);
    if (!gb || l === 'AMEL') continue;
    compared++;
    const ok = (x: string, y: string): number => (x === y || x === '*' || y === '*' ? 1 : 0);
    const best = Math.max(ok(ga[0], gb[0]) + ok(ga[1], gb[1]), ok(ga[0], gb[1]) + ok(ga[1], gb[0]));
    mism += 2 - best;
    if (ga.includes('*') || gb.includes('*')) wildcard = true;
    if (best === 2 && full(ga) && full(gb)) exact++;
  }
  if (mism > 1 || exact < 6) return undefined;
  const quality = mism === 1 ? 'near-match' : wildcard ? 'wildcard-match' : 'match';
  return { a: pa.ref, b: pb.ref, quality, matchingLoci: exact, comparedLoci: compared, mismatches: mism };
}

/** Every hit between two lists (refused profiles left out), sorted by a then b. */
export function bruteForceHits(as: readonly DnaProfile[], bs: readonly DnaProfile[]): BruteHit[] {
  const A = as.filter(bruteIncluded).map((p) => [p, loci(p)] as const);
  const B = bs.filter(bruteIncluded).map((p) => [p, loci(p)] as const);
  const hits: BruteHit[] = [];
  for (const [pa, la] of A) for (const [pb, lb] of B) {
    const h = bruteCompareLoci(pa, la, pb, lb);
    if (h) hits.push(h);
  }
  return hits.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0));
}

/** Writes profiles as a wide CSV (the loci of all of them as columns). */
export function toCsv(profiles: readonly DnaProfile[]): string {
  const cols = [...new Set(profiles.flatMap((p) => Object.keys(p.loci)))];
  const lines = [['ref', 'kind', ...cols].join(',')];
  for (const p of profiles) lines.push([p.ref, p.kind, ...cols.map((c) => (p.loci[c] ?? []).join('/'))].join(','));
  return `${lines.join('\n')}\n`;
}

export function toJsonl(profiles: readonly DnaProfile[]): string {
  return `${profiles.map((p) => JSON.stringify(p)).join('\n')}\n`;
}
