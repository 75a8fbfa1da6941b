import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../errors/index.ts';
import { alleleEquivalence, canonicalProfileJson, inclusionOf, parseProfile } from './profile.ts';

const ESS7 = { D3S1358: ['15', '16'], vWA: ['17', '18'], D8S1179: ['13', '14'], D21S11: ['29', '30'], D18S51: ['14', '15'], TH01: ['6', '9.3'], FGA: ['21', '22'] };

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof OpenPrumError ? e.code : 'other';
  }
  return undefined;
}

describe('profiles', () => {
  it('normalises loci and alleles', () => {
    const p = parseProfile({ ref: 'NL-1', kind: 'reference', loci: { VWA: ['18', '17'], 'Penta D': ['12'], CSF1P0: '10/11', TH01: ['9.3', 'OL'], D5S818: ['11', '12', '13'], Amelogenin: ['X', 'Y'], D7S820: [] } });
    expect(p.loci).toEqual({ vWA: ['17', '18'], PentaD: ['12', '12'], CSF1PO: ['10', '11'], TH01: ['9.3', '*'], D5S818: ['11', '*'], AMEL: ['X', 'Y'] });
  });

  it('applies the inclusion rule', () => {
    expect(inclusionOf(parseProfile({ ref: 'R1', kind: 'reference', loci: ESS7 })).ok).toBe(true);
    const five = { D3S1358: ['15', '16'], vWA: ['17', '18'], D8S1179: ['13', '14'], D21S11: ['29', '30'], D18S51: ['14', '15'], TH01: ['6', 'OL'], AMEL: ['X', 'Y'] };
    const r = inclusionOf(parseProfile({ ref: 'S1', kind: 'unidentified', loci: five }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/5 fully designated loci/);
    // A trace with 6 loci none of which is ESS-1999 may be compared; a reference may not.
    const odd = { CSF1PO: ['10', '11'], TPOX: ['8', '9'], D5S818: ['11', '12'], D7S820: ['8', '10'], D13S317: ['11', '12'], D16S539: ['9', '12'] };
    expect(inclusionOf(parseProfile({ ref: 'S2', kind: 'unidentified', loci: odd })).ok).toBe(true);
    const ref = inclusionOf(parseProfile({ ref: 'R2', kind: 'reference', loci: odd }));
    expect(ref.ok).toBe(false);
    if (!ref.ok) expect(ref.reason).toMatch(/ESS-1999/);
    // 6 of the 7 ESS-1999 loci fully designated are enough for a reference.
    expect(inclusionOf(parseProfile({ ref: 'R3', kind: 'reference', loci: { ...ESS7, FGA: ['21', '*'] } })).ok).toBe(true);
    expect(inclusionOf(parseProfile({ ref: 'R4', kind: 'reference', loci: { ...ESS7, FGA: ['21', '*'], TH01: ['99'] } })).ok).toBe(false);
  });

  it('refuses fields that are not allowed in reference data (Prüm Decision Art. 2(2))', () => {
    expect(code(() => parseProfile({ ref: 'R1', kind: 'reference', name: 'Jan', loci: ESS7 }))).toBe('dna-personal-data');
    expect(code(() => parseProfile({ ref: 'R1', kind: 'reference', loci: { ...ESS7, birthDate: ['1980'] } }))).toBe('dna-personal-data');
    expect(code(() => parseProfile({ ref: 'Jan Jansen', kind: 'reference', loci: ESS7 }))).toBe('dna-profile-invalid');
  });

  it('refuses broken profiles with a clear error', () => {
    expect(code(() => parseProfile({ ref: 'R1', kind: 'person', loci: ESS7 }))).toBe('dna-profile-invalid');
    expect(code(() => parseProfile({ ref: 'R1', kind: 'reference', loci: { ...ESS7, VWA: ['1', '2'] } }))).toBe('dna-profile-invalid');
    expect(code(() => parseProfile({ ref: 'R1', kind: 'reference', loci: { ...ESS7, D3S1385: ['1', '2'] } }))).toBe('dna-file-invalid');
    expect(code(() => parseProfile({ ref: 'R1', kind: 'reference', loci: { ...ESS7, TPOX: ['abc', '8'] } }))).toBe('dna-profile-invalid');
    expect(code(() => parseProfile({ ref: 'R1', kind: 'reference', loci: { ...ESS7, TPOX: [8, { x: 1 }] } }))).toBe('dna-profile-invalid');
    const many: Record<string, string[]> = {};
    for (let i = 0; i < 36; i++) many[`D5S${2500 + i * 7}`] = ['10', '11'];
    expect(code(() => parseProfile({ ref: 'R1', kind: 'unidentified', loci: many }))).toBe('dna-profile-invalid');
    expect(code(() => parseProfile('not an object'))).toBe('dna-file-invalid');
  });

  it('applies an allele equivalence table when one is configured', () => {
    const eq = alleleEquivalence({ FGA: { '22.2': '22' } });
    expect(parseProfile({ ref: 'R1', kind: 'reference', loci: { FGA: ['22.2', '24'] } }, { equivalence: eq }).loci.FGA).toEqual(['22', '24']);
    expect(parseProfile({ ref: 'R1', kind: 'reference', loci: { FGA: ['22.2', '24'] } }).loci.FGA).toEqual(['22.2', '24']);
  });

  it('has a stable canonical text', () => {
    const a = parseProfile({ ref: 'R1', kind: 'reference', loci: { TH01: ['6', '9.3'], vWA: ['18', '17'] } });
    const b = parseProfile({ ref: 'R1', kind: 'reference', loci: { vWA: ['17', '18'], TH01: ['9.3', '6'] } });
    expect(canonicalProfileJson(a)).toBe(canonicalProfileJson(b));
  });
});
