import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../errors/index.ts';
import { alleleFrequency, genotypeProbability, loadFrequencyTable, oneMismatchProbability, shippedFrequencyTable, shippedFrequencyTables } from './frequencies.ts';
import { DnaIndex } from './dna-index.ts';
import { parseProfile } from './profile.ts';
import { locusKey } from './loci.ts';

const dir = mkdtempSync(join(tmpdir(), 'openprum-dna-freq-'));
const lf = { alleles: new Map([[150, 0.2], [160, 0.1], [93, 0.3]]), minFrequency: 0.01 };

describe('allele frequencies', () => {
  it('ships NIST 1036 and norSTR tables with their sources', () => {
    expect(shippedFrequencyTables()).toEqual(expect.arrayContaining(['nist1036-all', 'nist1036-cauc', 'norstr-europe', 'norstr-norway']));
    const t = shippedFrequencyTable();
    expect(t.name).toBe('nist1036-all');
    expect(t.licence).toMatch(/public domain/);
    expect(t.loci.size).toBe(29);
    // 5/2N with 2N = 2072 typed alleles per locus.
    expect(t.loci.get(locusKey('TH01'))!.minFrequency).toBeCloseTo(5 / 2072, 6);
    expect(shippedFrequencyTable('norstr-europe').loci.get(locusKey('PentaD'))!.minFrequency).toBe(0.001);
    expect(() => shippedFrequencyTable('nope')).toThrow(OpenPrumError);
  });

  it('computes genotype probabilities by NRC II 4.10', () => {
    // θ = 0: the product rule, p² and 2pq.
    expect(genotypeProbability(lf, 150, 150, 0)).toBeCloseTo(0.04, 12);
    expect(genotypeProbability(lf, 150, 160, 0)).toBeCloseTo(0.04, 12);
    // θ = 0.01, homozygote p = 0.2: (0.02 + 0.99·0.2)(0.03 + 0.99·0.2) / (1.01 · 1.02).
    expect(genotypeProbability(lf, 150, 150, 0.01)).toBeCloseTo((0.218 * 0.228) / (1.01 * 1.02), 12);
    // Heterozygote p = 0.2, q = 0.1: 2(0.01 + 0.198)(0.01 + 0.099) / (1.01 · 1.02).
    expect(genotypeProbability(lf, 150, 160, 0.01)).toBeCloseTo((2 * 0.208 * 0.109) / (1.01 * 1.02), 12);
    // An unseen allele gets the minimum frequency.
    expect(alleleFrequency(lf, 170)).toBe(0.01);
    expect(genotypeProbability(lf, 170, 170, 0)).toBeCloseTo(0.0001, 12);
    expect(oneMismatchProbability(lf, 150, 160)).toBeCloseTo(1 - 0.7 * 0.7 - 2 * 0.2 * 0.1, 12);
    expect(oneMismatchProbability(lf, 150, 150)).toBeCloseTo(2 * 0.2 * 0.8, 12);
  });

  it('loads a table from CSV or JSON, and refuses a bad one', () => {
    const csv = join(dir, 't.csv');
    writeFileSync(csv, 'locus,allele,frequency,n_alleles\nTH01,6,0.25,400\nTH01,9.3,0.35,400\nvWA,17,0.3,400\n');
    const t = loadFrequencyTable(csv);
    expect(t.loci.get('TH01')!.alleles.get(93)).toBe(0.35);
    expect(t.loci.get('TH01')!.minFrequency).toBeCloseTo(5 / 400, 12);
    const json = join(dir, 't.json');
    writeFileSync(json, JSON.stringify({ tables: { mine: { loci: { 'Penta D': { alleles: { 12: 0.5, 13: 0.5 }, twoN: 100 } } } } }));
    expect(loadFrequencyTable(json).loci.get('PENTAD')!.minFrequency).toBeCloseTo(0.05, 12);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'locus,allele,frequency\nTH01,6,12\n');
    expect(() => loadFrequencyTable(bad)).toThrow(/must be above 0 and at most 1/);
    writeFileSync(bad, 'locus,allele,frequency\nTH01,6,0.7\nTH01,7,0.6\n');
    expect(() => loadFrequencyTable(bad)).toThrow(/add up to/);
    writeFileSync(bad, 'locus,allele,frequency\nname,6,0.7\n');
    expect(() => loadFrequencyTable(bad)).toThrow(/line 2/);
  });

  it('weighs a hit by its matching loci only', () => {
    const table = { name: 't', description: '', source: '', licence: '', loci: new Map([[locusKey('TH01'), lf], [locusKey('vWA'), lf], [locusKey('FGA'), lf]]) };
    const index = new DnaIndex({ frequencies: table, theta: 0 });
    const loci = { TH01: ['15', '16'], vWA: ['15', '15'], FGA: ['9.3', '16'], D3S1358: ['14', '15'], D8S1179: ['12', '13'], D21S11: ['29', '30'], D18S51: ['12', '14'], D1S1656: ['12', '13'] };
    index.add(parseProfile({ ref: 'S', kind: 'unidentified', loci }));
    const [hit] = index.search(parseProfile({ ref: 'Q', kind: 'unidentified', loci }));
    // TH01 2·0.2·0.1, vWA 0.2², FGA 2·0.3·0.1; loci without frequencies count 1.
    expect(hit!.rmp).toBeCloseTo(0.04 * 0.04 * 0.06, 15);
    // A wildcard locus and the near-match locus add nothing.
    const [near] = index.search(parseProfile({ ref: 'Q2', kind: 'unidentified', loci: { ...loci, TH01: ['15', 'OL'], FGA: ['9.3', '17'] } }));
    expect(near!.quality).toBe('near-match');
    expect(near!.rmp).toBeCloseTo(0.04, 15);
  });
});
