import { describe, expect, it } from 'vitest';
import { checkConditions, summariseConditions } from './conditions.ts';
import { findHit, hitReferences } from './hits.ts';
import { OFFENCE_CATEGORIES, isOffenceCode } from './offences.ts';

describe('conditions of use (FD 2008/977 Arts. 9, 12)', () => {
  it('accepts the structured list and summarises it for enforcement', () => {
    const list = checkConditions(
      [
        { type: 'no-onward-transfer' },
        { type: 'use-only-in-case', caseReference: 'NL-OM-2026-42' },
        { type: 'review-by', date: '2027-01-31' },
        { type: 'delete-by', date: '2027-12-31' },
        { type: 'national-restriction', text: 'Not to be used as evidence without the consent of the Staatsanwaltschaft' },
      ],
      'follow-up-invalid',
      { after: '2026-06-01' },
    );
    expect(summariseConditions(list)).toEqual({
      noOnwardTransfer: true,
      onlyInCases: ['NL-OM-2026-42'],
      deleteBy: '2027-12-31',
      reviewBy: '2027-01-31',
      nationalRestrictions: ['Not to be used as evidence without the consent of the Staatsanwaltschaft'],
    });
    expect(checkConditions([], 'follow-up-invalid')).toEqual([]);
  });

  it('names what is wrong: unknown type, bad field, impossible or past date, repeats, contradictions', () => {
    const bad = (v: unknown, re: RegExp, after?: string) => expect(() => checkConditions(v, 'follow-up-invalid', after ? { after } : {})).toThrow(re);
    bad({}, /must be a list/);
    bad([{ type: 'share-freely' }], /conditions\[0\]\.type must be one of/);
    bad([{ type: 'delete-by', date: '31-12-2027' }], /conditions\[0\] \(delete-by\): field date/);
    bad([{ type: 'delete-by', date: '2027-02-30' }], /not a calendar date/);
    bad([{ type: 'delete-by', date: '2026-05-01' }], /must lie after the day of the decision, 2026-06-01/, '2026-06-01');
    bad([{ type: 'no-onward-transfer', to: 'x' }], /unknown field "to"/);
    bad([{ type: 'no-onward-transfer' }, { type: 'no-onward-transfer' }], /conditions\[1\] repeats/);
    bad([{ type: 'delete-by', date: '2027-01-01' }, { type: 'review-by', date: '2027-06-01' }], /review-by date 2027-06-01 lies after the delete-by date/);
    bad([{ type: 'national-restriction', text: '   ' }], /empty/);
    bad(Array.from({ length: 21 }, (_, i) => ({ type: 'use-only-in-case', caseReference: `C${i}` })), /at most 20/);
  });
});

describe('hits per kind', () => {
  it('pairs the searched reference with each matched reference', () => {
    expect(hitReferences('dna', { profile: { ref: 'NL-STAIN-1' } }, { hits: [{ ref: 'DE-P-1' }, { ref: 'DE-P-2' }, { ref: 'DE-P-1' }] })).toEqual([
      { requestReference: 'NL-STAIN-1', requestedReference: 'DE-P-1' },
      { requestReference: 'NL-STAIN-1', requestedReference: 'DE-P-2' },
    ]);
    expect(hitReferences('vehicle', { key: 'vin', value: 'WDB1240221A123456' }, { vehicles: [{ vin: 'WDB1240221A123456' }] })).toEqual([{ requestReference: 'WDB1240221A123456', requestedReference: 'WDB1240221A123456' }]);
    expect(hitReferences('fingerprint', { probe: { ref: 'NL-LT-9' } }, { candidates: [{ ref: 'DE-F-7' }] })).toEqual([{ requestReference: 'NL-LT-9', requestedReference: 'DE-F-7' }]);
    expect(hitReferences('tarot', {}, {})).toEqual([]);
    expect(hitReferences('dna', { profile: {} }, { hits: [{ ref: 'X' }] })).toEqual([]);
    const hits = hitReferences('dna', { profile: { ref: 'A' } }, { hits: [{ ref: 'B' }] });
    expect(findHit(hits, 'B')).toEqual({ requestReference: 'A', requestedReference: 'B' });
    expect(findHit(hits, 'B', 'Z')).toBeUndefined();
  });
});

describe('offence categories', () => {
  it('holds the 32 categories of FD 2002/584/JHA Art. 2(2) and "other", with unique codes', () => {
    expect(OFFENCE_CATEGORIES).toHaveLength(33);
    expect(new Set(OFFENCE_CATEGORIES.map((c) => c.code)).size).toBe(33);
    expect(isOffenceCode('murder-grievous-bodily-injury')).toBe(true);
    expect(isOffenceCode('burglary')).toBe(false);
  });
});
