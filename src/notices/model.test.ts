/**
 * The checks every notice passes before it is stored (model.ts) and the review assistance computed
 * from its content (rules.ts), without a database.
 */
import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../errors/index.ts';
import { birthDatesCompatible, checkContent, fold, MAX_ATTACHMENT_BYTES, nameKey, sameName, type NoticeContent } from './model.ts';
import { assessContent, checkRules, seedRules } from './rules.ts';

const NOW = new Date('2026-03-01T12:00:00Z');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(60, 1)]).toString('base64');

function red(over: Partial<NoticeContent> = {}): NoticeContent {
  return {
    subject: { familyName: 'Kowalczyk', forenames: 'Marek', sex: 'M', dateOfBirth: '1980-04-12', nationalities: ['PL'] },
    judicial: {
      warrant: { reference: 'W-1', issuedBy: 'Amtsgericht Berlin-Tiergarten', issuedOn: '2025-03-01' },
      offence: { category: 'organised-armed-robbery', description: 'Armed robbery of a jewellery shop', legalProvision: '§ 250 StGB', committedOn: '2025-01-15' },
      penalty: { basis: 'prosecution', maximumMonths: 180 },
    },
    facts: { summary: 'Robbery of a jewellery shop at Kurfürstendamm 1 with a firearm.', from: '2025-01-15', place: 'Berlin', country: 'DE' },
    ...over,
  };
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof OpenPrumError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

describe('notice content checks', () => {
  it('accepts a complete red notice', () => {
    expect(checkContent('notice', 'red', red(), NOW).subject?.familyName).toBe('Kowalczyk');
  });

  it('names the identifiers a type needs', () => {
    const c = red({ subject: { familyName: 'Kowalczyk', forenames: 'Marek', sex: 'M' } });
    expect(code(() => checkContent('notice', 'red', c, NOW))).toMatch(/^notice-identifiers-incomplete: A red notice needs subject\.dateOfBirth/);
    expect(code(() => checkContent('notice', 'red', { ...red(), judicial: undefined }, NOW))).toMatch(/needs judicial/);
    expect(code(() => checkContent('notice', 'black', { facts: red().facts }, NOW))).toMatch(/subject\.sex, subject\.estimatedAge/);
    expect(code(() => checkContent('notice', 'un', { subject: { familyName: 'X' }, facts: red().facts }, NOW))).toMatch(/unReference/);
  });

  it('refuses impossible dates, naming the field', () => {
    const withSubject = (s: Partial<NonNullable<NoticeContent['subject']>>) => red({ subject: { ...red().subject!, ...s } });
    expect(code(() => checkContent('notice', 'red', withSubject({ dateOfBirth: '1990-02-30' }), NOW))).toMatch(/^notice-invalid: subject\.dateOfBirth 1990-02-30: 02\/1990 has 28 days/);
    expect(code(() => checkContent('notice', 'red', withSubject({ dateOfBirth: '1990-13' }), NOW))).toMatch(/there is no month 13/);
    expect(code(() => checkContent('notice', 'red', withSubject({ dateOfBirth: '2027-01-01' }), NOW))).toMatch(/is in the future/);
    expect(code(() => checkContent('notice', 'red', withSubject({ dateOfBirth: '1880' }), NOW))).toMatch(/before 1900/);
    expect(code(() => checkContent('notice', 'red', withSubject({ dateOfBirth: '2025-02' }), NOW))).toMatch(/judicial\.warrant\.issuedOn 2025-03-01 is before|judicial\.offence\.committedOn 2025-01-15 is before/);
    const j = red().judicial!;
    expect(code(() => checkContent('notice', 'red', red({ judicial: { ...j, warrant: { ...j.warrant, issuedOn: '2024-12-01' } } }), NOW))).toMatch(/issuedOn 2024-12-01 is before the offence was committed/);
    expect(code(() => checkContent('notice', 'red', red({ facts: { ...red().facts, to: '2025-01-01' } }), NOW))).toMatch(/facts\.to 2025-01-01 is before facts\.from/);
    expect(code(() => checkContent('notice', 'red', red({ judicial: { ...j, penalty: { basis: 'sentence', imposedMonths: 6, remainingMonths: 9 } } }), NOW))).toMatch(/remainingMonths \(9\) is more than the sentence imposed/);
  });

  it('limits attachments and checks that they are what they claim', () => {
    expect(checkContent('notice', 'red', red({ attachments: [{ kind: 'photo', mediaType: 'image/jpeg', name: 'face.jpg', data: JPEG }] }), NOW).attachments).toHaveLength(1);
    const big = Buffer.alloc(MAX_ATTACHMENT_BYTES + 10, 1);
    big[0] = 0xff;
    big[1] = 0xd8;
    big[2] = 0xff;
    expect(code(() => checkContent('notice', 'red', red({ attachments: [{ kind: 'photo', mediaType: 'image/jpeg', name: 'big.jpg', data: big.toString('base64') }] }), NOW))).toMatch(/^notice-attachment-too-large: attachments\.0 \(big\.jpg\)/);
    expect(code(() => checkContent('notice', 'red', red({ attachments: [{ kind: 'photo', mediaType: 'image/png', name: 'x.png', data: JPEG }] }), NOW))).toMatch(/is not a image\/png file/);
    expect(code(() => checkContent('notice', 'red', red({ attachments: [{ kind: 'photo', mediaType: 'image/jpeg', name: 'x.jpg', data: 'not base64!' }] }), NOW))).toMatch(/is not base64/);
  });

  it('refuses unknown fields and types', () => {
    expect(code(() => checkContent('notice', 'red', { ...red(), extra: 1 }, NOW))).toMatch(/^notice-invalid: content: unknown field "extra"/);
    expect(code(() => checkContent('diffusion', 'purple', red(), NOW))).toMatch(/A diffusion serves the purpose of/);
  });

  it('folds names and compares birth dates', () => {
    expect(fold(' Müller-Lüdenscheidt  ')).toBe('MULLER-LUDENSCHEIDT');
    expect(nameKey('Łukasz', 'Żółć')).toBe('LUKASZ|ZOLC');
    expect(fold('Ивано́в')).toBe('ИВАНОВ');
    expect(sameName('A|B', 'A|')).toBe(true);
    expect(sameName('A|B', 'A|C')).toBe(false);
    expect(birthDatesCompatible('1980', '1980-04-12')).toBe(true);
    expect(birthDatesCompatible('1981', '1980-04-12')).toBe(false);
  });
});

describe('review assistance', () => {
  const rules = seedRules();

  it('finds a compliant red notice without concerns', () => {
    const a = assessContent(rules, 'notice', 'red', red());
    expect(a.criteria.every((c) => c.met !== false)).toBe(true);
    expect([a.excludedOffences, a.offences, a.subject]).toEqual([[], [], []]);
  });

  it('explains a penalty below the threshold, for prosecution and for a sentence', () => {
    const j = red().judicial!;
    const low = assessContent(rules, 'notice', 'red', red({ judicial: { ...j, penalty: { basis: 'prosecution', maximumMonths: 12 } } }));
    expect(low.criteria.find((c) => c.code === 'penalty-threshold')).toMatchObject({ met: false, explanation: expect.stringMatching(/12 months, less than the 24 months/) });
    const left = assessContent(rules, 'notice', 'red', red({ judicial: { ...j, penalty: { basis: 'sentence', imposedMonths: 36, remainingMonths: 4 } } }));
    expect(left.criteria.find((c) => c.code === 'penalty-threshold')).toMatchObject({ met: false, explanation: expect.stringMatching(/4 months left to serve, less than the 6/) });
  });

  it('shows excluded offences and Art. 3 indicators with where they were found', () => {
    const j = red().judicial!;
    const c = red({
      subject: { ...red().subject!, occupation: 'Investigative journalist' },
      judicial: { ...j, offence: { ...j.offence, category: 'other', description: 'Insulting the President in a newspaper article', legalProvision: 'Art. 319' } },
      facts: { ...red().facts, summary: 'The subject organised an unauthorised protest and did not repay a loan; breach of contract with a supplier.' },
    });
    const a = assessContent(rules, 'notice', 'red', c);
    expect(a.offences.map((f) => f.code).sort()).toEqual(['insulting-officials', 'unauthorised-protest']);
    expect(a.offences.find((f) => f.code === 'insulting-officials')).toMatchObject({ field: 'judicial.offence.description', term: 'insulting the president' });
    expect(a.excludedOffences.map((f) => f.code)).toEqual(['private-dispute']);
    expect(a.subject).toEqual([expect.objectContaining({ code: 'journalist', field: 'subject.occupation' })]);
    expect(a.criteria.find((x) => x.code === 'serious-ordinary-law-crime')?.met).toBeNull();
  });

  it('keeps the rules as data: checked, with unique codes', () => {
    expect(() => checkRules({ ...rules, reasonCodes: [...rules.reasonCodes, rules.reasonCodes[0]] })).toThrow(/has the code "article-3" twice/);
    expect(() => checkRules({ ...rules, redNotice: { ...rules.redNotice, prosecutionMinimumMonths: -1 } })).toThrow(/prosecutionMinimumMonths/);
  });
});
