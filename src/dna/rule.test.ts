import { describe, expect, it } from 'vitest';
import { parseProfile, type DnaProfile } from './profile.ts';
import { compareProfiles } from './rule.ts';
import { bruteCompare, randomProfiles } from './test-helpers.ts';

const base: Record<string, string[]> = {
  D3S1358: ['15', '16'], vWA: ['17', '18'], D8S1179: ['13', '14'], D21S11: ['29', '30'],
  D18S51: ['14', '15'], TH01: ['6', '9.3'], FGA: ['21', '22'], D1S1656: ['12', '15.3'],
};

function p(ref: string, loci: Record<string, string[]>, kind: 'reference' | 'unidentified' = 'reference'): DnaProfile {
  return parseProfile({ ref, kind, loci });
}

describe('the matching rule', () => {
  it('matches identical profiles', () => {
    expect(compareProfiles(p('a', base), p('b', base))).toMatchObject({ quality: 'match', mismatches: 0, matchingLoci: 8, comparedLoci: 8 });
  });

  it('allows one mismatched allele (near match), not two', () => {
    const one = { ...base, FGA: ['21', '23'] };
    expect(compareProfiles(p('a', base), p('b', one))).toMatchObject({ quality: 'near-match', mismatches: 1, matchingLoci: 7 });
    const two = { ...one, TH01: ['7', '9.3'] };
    expect(compareProfiles(p('a', base), p('b', two)).quality).toBeUndefined();
    const both = { ...base, FGA: ['23', '24'] };
    expect(compareProfiles(p('a', base), p('b', both)).quality).toBeUndefined();
  });

  it('counts a homozygote against a heterozygote sharing one allele as one mismatch', () => {
    const hom = { ...base, vWA: ['17'] };
    expect(compareProfiles(p('a', base), p('b', hom))).toMatchObject({ quality: 'near-match', mismatches: 1 });
  });

  it('pairs the wildcard with anything, but a wildcard locus does not count as matching', () => {
    const wild = { ...base, TH01: ['6', 'OL'] };
    expect(compareProfiles(p('a', base), p('b', wild))).toMatchObject({ quality: 'wildcard-match', mismatches: 0, matchingLoci: 7 });
    // Six loci of which one has a wildcard: only five count, no hit.
    const six = { D3S1358: ['15', '16'], vWA: ['17', '18'], D8S1179: ['13', '14'], D21S11: ['29', '30'], D18S51: ['14', '15'], TH01: ['6', '9.3'] };
    const sixWild = { ...six, TH01: ['6', '*'] };
    expect(compareProfiles(p('a', six, 'unidentified'), p('b', sixWild, 'unidentified'))).toMatchObject({ matchingLoci: 5, quality: undefined });
  });

  it('needs six matching loci', () => {
    const five = { D3S1358: ['15', '16'], vWA: ['17', '18'], D8S1179: ['13', '14'], D21S11: ['29', '30'], D18S51: ['14', '15'] };
    expect(compareProfiles(p('a', base), p('b', five)).quality).toBeUndefined();
  });

  it('compares micro-variants exactly and ignores loci only one profile has, and amelogenin', () => {
    const micro = { ...base, TH01: ['6', '9'] };
    expect(compareProfiles(p('a', base), p('b', micro))).toMatchObject({ quality: 'near-match' });
    const more = { ...base, SE33: ['20', '21'], AMEL: ['X'] };
    expect(compareProfiles(p('a', { ...base, AMEL: ['X', 'Y'] }), p('b', more))).toMatchObject({ quality: 'match', comparedLoci: 8 });
  });

  it('keeps the first value of a locus with more than two and makes the rest one wildcard', () => {
    const tri = { ...base, FGA: ['21', '22', '24'] };
    expect(compareProfiles(p('a', base), p('b', tri))).toMatchObject({ quality: 'wildcard-match', matchingLoci: 7 });
  });

  it('agrees with the independent brute force on random pairs', () => {
    const persons: Map<string, string[]>[] = [];
    const xs = randomProfiles(7, 120, 'X', persons);
    const ys = randomProfiles(8, 120, 'Y', persons);
    const px = xs.map((x) => parseProfile(x));
    const py = ys.map((y) => parseProfile(y));
    let hits = 0;
    xs.forEach((x, i) => ys.forEach((y, j) => {
      const got = compareProfiles(px[i]!, py[j]!);
      const want = bruteCompare(x, y);
      expect(got.quality, `${x.ref} ${y.ref}`).toBe(want?.quality);
      if (want) {
        hits++;
        expect([got.matchingLoci, got.comparedLoci, got.mismatches]).toEqual([want.matchingLoci, want.comparedLoci, want.mismatches]);
      }
    }));
    expect(hits).toBeGreaterThan(30);
  });
});
