import { describe, expect, it } from 'vitest';
import { classifyField, locusKey, nearKnownLocus } from './loci.ts';

describe('locus names', () => {
  it('normalises spellings and aliases', () => {
    expect(locusKey('vWA')).toBe(locusKey('VWA'));
    expect(locusKey('CSF1P0')).toBe('CSF1PO');
    expect(locusKey('Penta D')).toBe('PENTAD');
    expect(locusKey('PentaD')).toBe('PENTAD');
    expect(locusKey('Penta_D')).toBe('PENTAD');
    expect(locusKey('Amelogenin')).toBe('AMEL');
    expect(locusKey(' th01 ')).toBe('TH01');
  });

  it('knows the ESS loci and amelogenin', () => {
    const f = classifyField('vWA');
    expect(f.kind).toBe('locus');
    if (f.kind !== 'locus') return;
    expect(f.locus).toMatchObject({ name: 'vWA', ess1999: true, ess2009: true, amelogenin: false });
    const d1 = classifyField('D1S1656');
    expect(d1.kind === 'locus' && d1.locus.ess2009 && !d1.locus.ess1999).toBe(true);
    const am = classifyField('AM');
    expect(am.kind === 'locus' && am.locus.amelogenin).toBe(true);
  });

  it('accepts other loci that follow STR nomenclature', () => {
    for (const n of ['SE33', 'PentaE', 'Penta E', 'D5S2500', 'D13S325', 'D6S474', 'DYS391', 'D22GATA198B05', 'CSF1PO', 'TPOX']) {
      expect(classifyField(n).kind, n).toBe('locus');
    }
  });

  it('refuses names that identify or describe a person (Prüm Decision Art. 2(2))', () => {
    for (const n of ['name', 'Surname', 'first_name', 'dob', 'birthDate', 'date of birth', 'address', 'street', 'email', 'sex', 'nationality', 'notes', 'comment']) {
      expect(classifyField(n).kind, n).toBe('personal');
    }
  });

  it('treats a slip away from a known locus as a misspelling', () => {
    expect(classifyField('D3S1385').kind).toBe('not-a-locus');
    expect(nearKnownLocus(locusKey('D3S1385'))).toBe('D3S1358');
    for (const n of ['D21S1', 'D8S117', 'TH1', 'vWA1', 'FGAA', 'D3S']) expect(classifyField(n).kind, n).toBe('not-a-locus');
  });
});
