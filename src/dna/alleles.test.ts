import { describe, expect, it } from 'vitest';
import { AMEL_X, AMEL_Y, alleleText, parseAllele, quickAllele, WILDCARD } from './alleles.ts';

describe('allele values', () => {
  it('codes repeat numbers and micro-variants', () => {
    expect(parseAllele('15', false)).toBe(150);
    expect(parseAllele('9.3', false)).toBe(93);
    expect(parseAllele('17.2', false)).toBe(172);
    expect(parseAllele('09', false)).toBe(90);
    expect(parseAllele('15.0', false)).toBe(150);
    expect(alleleText(93)).toBe('9.3');
    expect(alleleText(150)).toBe('15');
  });

  it('turns 0, 1, 99 and designations into the wildcard', () => {
    for (const v of ['0', '1', '99', '0.0', '*', 'o', 'f', 'R', 'na', 'NR', 'un', 'OL', 'ol', 'nd', 'inc', '?']) {
      expect(parseAllele(v, false), v).toBe(WILDCARD);
    }
  });

  it('refuses malformed values with a reason', () => {
    for (const v of ['abc', '15..2', '-3', '100', '1234', '1e3', '9.33', '.5', '15.', '15a', '15,2', '', ' ']) {
      expect(typeof parseAllele(v, false), v).toBe('string');
    }
    expect(parseAllele('abc', false)).toMatch(/neither a repeat number/);
  });

  it('reads any letters as the wildcard when asked to', () => {
    expect(parseAllele('abc', false, { lenientDesignations: true })).toBe(WILDCARD);
    expect(typeof parseAllele('15..2', false, { lenientDesignations: true })).toBe('string');
  });

  it('reads amelogenin as X and Y', () => {
    expect(parseAllele('X', true)).toBe(AMEL_X);
    expect(parseAllele('y', true)).toBe(AMEL_Y);
    expect(parseAllele('OL', true)).toBe(WILDCARD);
    expect(typeof parseAllele('15', true)).toBe('string');
  });

  it('has a fast path that agrees with the full parser', () => {
    for (const v of ['15', '9.3', '0', '1', '99', '9', '10.1', '98.9', '100', '15..2', 'OL', '', '1.', '09', '15.0', '123']) {
      const q = quickAllele(v, 0, v.length);
      if (q >= 0) expect(q, v).toBe(parseAllele(v, false));
    }
  });
});
