import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../errors/index.ts';
import { DnaIndex } from './dna-index.ts';
import { parseProfile, type DnaProfile } from './profile.ts';
import { bruteForceHits, bruteIncluded, randomProfiles } from './test-helpers.ts';

function line(a: string, h: { ref: string; quality: string; matchingLoci: number; comparedLoci: number; mismatches: number }): string {
  return `${a} ${h.ref} ${h.quality} ${h.matchingLoci} ${h.comparedLoci} ${h.mismatches}`;
}

/** Every hit of every query in the index, as sorted lines. */
function searchAll(index: DnaIndex, queries: readonly DnaProfile[]): string[] {
  const out: string[] = [];
  for (const q of queries) {
    if (!bruteIncluded(q)) continue;
    for (const h of index.search(parseProfile(q))) out.push(line(q.ref, h));
  }
  return out.sort();
}

function brute(queries: readonly DnaProfile[], stored: readonly DnaProfile[]): string[] {
  return bruteForceHits(queries, stored).map((h) => line(h.a, { ...h, ref: h.b })).sort();
}

describe('DnaIndex', () => {
  it('finds exactly the hits of the brute force (random kits, partial traces, wildcards)', () => {
    for (const seed of [1, 2, 3]) {
      const persons: Map<string, string[]>[] = [];
      const stored = randomProfiles(seed * 100, 450, 'B', persons);
      const queries = randomProfiles(seed * 100 + 1, 200, 'A', persons);
      const index = new DnaIndex();
      for (const p of stored) if (bruteIncluded(p)) index.add(parseProfile(p));
      const want = brute(queries, stored);
      expect(want.length).toBeGreaterThan(50);
      expect(searchAll(index, queries)).toEqual(want);
    }
  });

  it('gives the same answer as its exhaustive search', () => {
    const persons: Map<string, string[]>[] = [];
    const stored = randomProfiles(31, 300, 'B', persons).filter(bruteIncluded);
    const index = new DnaIndex();
    index.addAll(stored.map((p) => parseProfile(p)));
    for (const q of randomProfiles(32, 100, 'A', persons).filter(bruteIncluded)) {
      const p = parseProfile(q);
      expect(index.search(p)).toEqual(index.searchExhaustive(p));
    }
  });

  it('finds the same with a wide allele range (few chance hits) and a narrow one (many)', () => {
    for (const alleles of [3, 10]) {
      const persons: Map<string, string[]>[] = [];
      const stored = randomProfiles(alleles, 400, 'B', persons, { alleles, copyRate: 0.5 });
      const queries = randomProfiles(alleles + 50, 200, 'A', persons, { alleles, copyRate: 0.5 });
      const index = new DnaIndex();
      for (const p of stored) if (bruteIncluded(p)) index.add(parseProfile(p));
      expect(searchAll(index, queries)).toEqual(brute(queries, stored));
    }
  });

  it('stays exact under removals and re-additions, and erasure is real', () => {
    const persons: Map<string, string[]>[] = [];
    const stored = randomProfiles(11, 500, 'B', persons).filter(bruteIncluded);
    const queries = randomProfiles(12, 200, 'A', persons);
    const index = new DnaIndex();
    index.addAll(stored.map((p) => parseProfile(p)));
    expect(index.size).toBe(stored.length);
    const gone = stored.filter((_, i) => i % 3 === 0);
    for (const p of gone) expect(index.remove(p.ref)).toBe(true);
    expect(index.remove(gone[0]!.ref)).toBe(false);
    let left = stored.filter((_, i) => i % 3 !== 0);
    expect(searchAll(index, queries)).toEqual(brute(queries, left));
    for (const p of gone) {
      expect(index.has(p.ref)).toBe(false);
      expect(index.get(p.ref)).toBeUndefined();
      // The erased profile is not found even by searching with itself.
      expect(index.search(parseProfile(p)).some((h) => h.ref === p.ref)).toBe(false);
    }
    // Add half of them back (reusing freed rows), remove some others.
    const back = gone.filter((_, i) => i % 2 === 0);
    for (const p of back) index.add(parseProfile(p));
    for (const p of left.slice(0, 40)) index.remove(p.ref);
    left = [...left.slice(40), ...back];
    expect(searchAll(index, queries)).toEqual(brute(queries, left));
    // Emptied, nothing of any profile remains to be found.
    index.clear();
    expect(index.size).toBe(0);
    expect(searchAll(index, stored)).toEqual([]);
  });

  it('gives back what was stored, and replaces with put', () => {
    const p = parseProfile({ ref: 'NL-1', kind: 'reference', loci: { D3S1358: ['15', '16'], vWA: ['17'], D8S1179: ['13', '14'], D21S11: ['29', '30'], D18S51: ['14', 'OL'], TH01: ['6', '9.3'], FGA: ['21', '22'], D1S1656: ['12', '13'], AMEL: ['X', 'Y'] } });
    const index = new DnaIndex();
    index.add(p);
    expect(index.get('NL-1')).toEqual(p);
    const q = { ...p, loci: { ...p.loci, FGA: ['21', '23'] as const } };
    index.put(q);
    expect(index.size).toBe(1);
    expect(index.get('NL-1')!.loci.FGA).toEqual(['21', '23']);
    const hits = index.search({ ...p, ref: 'Q' });
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ ref: 'NL-1', quality: 'near-match', matchingLoci: 6, comparedLoci: 8, mismatches: 1 });
    // Without D1S1656 only five loci match: no hit.
    const { D1S1656: _, ...fewer } = p.loci;
    expect(index.search({ ...p, ref: 'Q', loci: fewer })).toEqual([]);
  });

  it('refuses profiles the inclusion rule refuses, and duplicates, all or nothing', () => {
    const index = new DnaIndex();
    const good = parseProfile({ ref: 'A', kind: 'unidentified', loci: { D3S1358: ['15', '16'], vWA: ['17', '18'], D8S1179: ['13', '14'], D21S11: ['29', '30'], D18S51: ['14', '15'], TH01: ['6', '9.3'] } });
    const bad = parseProfile({ ref: 'B', kind: 'unidentified', loci: { D3S1358: ['15', '16'] } });
    expect(() => index.addAll([good, bad])).toThrow(OpenPrumError);
    expect(index.size).toBe(0);
    expect(() => index.addAll([good, good])).toThrow(/given twice/);
    expect(index.size).toBe(0);
    index.add(good);
    expect(() => index.add(good)).toThrow(/already in the index/);
    expect(() => index.search(bad)).toThrow(/fully designated/);
  });

  it('weighs hits and estimates chance hits', () => {
    const persons: Map<string, string[]>[] = [];
    const stored = randomProfiles(21, 300, 'B', persons).filter(bruteIncluded);
    const index = new DnaIndex();
    index.addAll(stored.map((p) => parseProfile(p)));
    const q = parseProfile(stored[0]!);
    const hits = index.search(q);
    expect(hits[0]!.rmp).toBeGreaterThan(0);
    expect(hits[0]!.rmp).toBeLessThan(1e-3);
    const exact = index.expectedChanceHits(q);
    expect(exact).toBeGreaterThan(0);
    const sampled = index.expectedChanceHits(q, 100);
    expect(sampled).toBeGreaterThan(0);
  });
});
