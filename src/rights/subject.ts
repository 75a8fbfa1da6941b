/**
 * Who a data subject's request is about: the identifiers the node can match (Prüm Decision Art. 31(1):
 * "the data processed in respect of his person"), and the matching itself (pure computation).
 *
 * A node holds reference data under references, never names (Prüm Decision Arts. 2(2), 8), except
 * for the vehicle register (holders) and what was supplied after a hit (follow-ups). So a person is
 * found by:
 *  - vehicle keys: a full VIN or a full registration number (normalised as for searches);
 *  - DNA or fingerprint references (the person, or the authority on his behalf, knows them from the
 *    national case file);
 *  - names in personal data: surname with first names or birth date (a surname alone would find other
 *    people: FD 2008/977 Art. 3(1), not excessive);
 *  - other identifiers (a passport or case number) matched exactly in supplied data.
 */
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { validate } from '../util/validate.ts';
import { normaliseRegistration, normaliseVin } from '../vehicle/keys.ts';

const Ident = (min: number, max: number, description: string) => Type.String({ minLength: min, maxLength: max, description });
const List = (item: ReturnType<typeof Ident>) => Type.Optional(Type.Array(item, { minItems: 1, maxItems: 20 }));

export const SubjectIdentifiers = Type.Object(
  {
    surname: Type.Optional(Ident(1, 100, 'Surname (family name)')),
    firstNames: Type.Optional(Ident(1, 200, 'First names')),
    birthDate: Type.Optional(Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD' })),
    vins: List(Ident(1, 64, 'A full VIN (17 characters)')),
    registrationNumbers: List(Ident(1, 64, 'A full registration number')),
    dnaReferences: List(Ident(1, 64, 'A reference of the national DNA file')),
    fingerprintReferences: List(Ident(1, 64, 'A reference of the national fingerprint file')),
    otherIdentifiers: List(Ident(3, 100, 'Another identifier (document or case number), matched exactly in supplied data')),
  },
  { additionalProperties: false, description: 'Identifiers of the person; at least one' },
);
export type SubjectIdentifiers = Static<typeof SubjectIdentifiers>;

/** The identifiers, checked and normalised. */
export interface Subject {
  readonly surname: string | null;
  readonly firstNames: string | null;
  readonly birthDate: string | null;
  readonly vins: readonly string[];
  readonly registrationNumbers: readonly string[];
  readonly dnaReferences: readonly string[];
  readonly fingerprintReferences: readonly string[];
  readonly otherIdentifiers: readonly string[];
}

const FOLD_FROM = 'áàâäãåāăąçćčďđéèêëēėęěíìîïīįłñńňóòôöõøōőŕřśšşșťțúùûüūůűųýÿžźż';
const FOLD_TO = 'aaaaaaaaacccddeeeeeeeeiiiiiilnnnoooooooorrssssttuuuuuuuuyyzzz';

/**
 * Folds text for matching: lower case, diacritics off, ß → ss, white space and hyphens removed. The
 * SQL prefilter (`foldSql`) computes the same for the letters of FOLD_FROM.
 */
export function fold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(/ł/g, 'l')
    .replace(/đ/g, 'd')
    .replace(/ø/g, 'o')
    .replace(/[\s\u2010-\u2015-]+/gu, '');
}

/** SQL text of the same folding over an expression (for a prefilter; the match itself is in JS). */
export function foldSqlText(expr: string): string {
  return `regexp_replace(translate(replace(lower(${expr}), 'ß', 'ss'), '${FOLD_FROM}', '${FOLD_TO}'), '[[:space:]-]+', '', 'g')`;
}

function checkDate(s: string, field: string): string {
  const d = new Date(`${s}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) throw new OpenPrumError('input-invalid', `${field} ${JSON.stringify(s)} is not a calendar date (YYYY-MM-DD)`, { field });
  return s;
}

const unique = (xs: readonly string[]) => [...new Set(xs)];

/** Validates and normalises the identifiers of a request (input-invalid names the field). */
export function checkSubject(raw: unknown): Subject {
  const s = validate(SubjectIdentifiers, raw, 'input-invalid', 'subject');
  const vins = unique(
    (s.vins ?? []).map((v, i) => {
      const c = normaliseVin(v);
      if (!c.ok) throw new OpenPrumError('input-invalid', `subject.vins[${i}]: ${c.reason}`, { field: `subject.vins.${i}` });
      return c.value;
    }),
  );
  const registrationNumbers = unique(
    (s.registrationNumbers ?? []).map((v, i) => {
      const c = normaliseRegistration(v);
      if (!c.ok) throw new OpenPrumError('input-invalid', `subject.registrationNumbers[${i}]: ${c.reason}`, { field: `subject.registrationNumbers.${i}` });
      return c.value;
    }),
  );
  const trimmed = (xs: readonly string[] | undefined, field: string) =>
    unique(
      (xs ?? []).map((v, i) => {
        const t = v.trim();
        // eslint-disable-next-line no-control-regex
        if (t.length === 0 || /[\u0000-\u001f\u007f]/.test(t)) throw new OpenPrumError('input-invalid', `subject.${field}[${i}] must be a non-empty reference without control characters`, { field: `subject.${field}.${i}` });
        return t;
      }),
    );
  const surname = s.surname?.trim() || null;
  const firstNames = s.firstNames?.trim() || null;
  const birthDate = s.birthDate ? checkDate(s.birthDate, 'subject.birthDate') : null;
  if (surname === null && (firstNames !== null || birthDate !== null)) {
    throw new OpenPrumError('input-invalid', 'subject.surname is needed with first names or a birth date', { field: 'subject.surname' });
  }
  if (surname !== null && firstNames === null && birthDate === null) {
    throw new OpenPrumError('input-invalid', 'subject.surname alone would find other people: give subject.firstNames or subject.birthDate too', { field: 'subject.firstNames' });
  }
  const subject: Subject = {
    surname,
    firstNames,
    birthDate,
    vins,
    registrationNumbers,
    dnaReferences: trimmed(s.dnaReferences, 'dnaReferences'),
    fingerprintReferences: trimmed(s.fingerprintReferences, 'fingerprintReferences'),
    otherIdentifiers: trimmed(s.otherIdentifiers, 'otherIdentifiers'),
  };
  if (
    subject.surname === null &&
    subject.vins.length + subject.registrationNumbers.length + subject.dnaReferences.length + subject.fingerprintReferences.length + subject.otherIdentifiers.length === 0
  ) {
    throw new OpenPrumError('input-invalid', 'subject names no identifier: give a name (surname with first names or birth date), a VIN, a registration number, a DNA or fingerprint reference, or another identifier', { field: 'subject' });
  }
  return subject;
}

/** The subject as stored and shown (only what was given). */
export function subjectJson(s: Subject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.surname !== null) out.surname = s.surname;
  if (s.firstNames !== null) out.firstNames = s.firstNames;
  if (s.birthDate !== null) out.birthDate = s.birthDate;
  for (const k of ['vins', 'registrationNumbers', 'dnaReferences', 'fingerprintReferences', 'otherIdentifiers'] as const) if (s[k].length > 0) out[k] = s[k];
  return out;
}

const SURNAME_KEYS = new Set(['surname', 'familyname', 'lastname', 'family_name', 'last_name', 'holdersurname', 'holder_surname']);
const FIRST_NAMES_KEYS = new Set(['firstnames', 'firstname', 'forenames', 'givennames', 'givenname', 'first_names', 'given_names', 'holderfirstnames', 'holder_first_names']);
const BIRTH_DATE_KEYS = new Set(['birthdate', 'dateofbirth', 'dob', 'birth_date', 'date_of_birth', 'holderbirthdate', 'holder_birth_date']);

function field(o: Record<string, unknown>, keys: ReadonlySet<string>): string | undefined {
  for (const [k, v] of Object.entries(o)) if (keys.has(k.toLowerCase()) && typeof v === 'string') return v;
  return undefined;
}

/**
 * Matches a subject against stored data. `terms` are the folded strings one of which any matching
 * data must contain (for the SQL prefilter); `match(value)` says what matched, or nothing.
 */
export class SubjectMatcher {
  readonly subject: Subject;
  readonly terms: readonly string[];
  readonly #keys: Map<string, string>;
  readonly #surname: string | null;
  readonly #firstNames: string | null;
  readonly #birthDate: string | null;

  constructor(subject: Subject) {
    this.subject = subject;
    this.#surname = subject.surname === null ? null : fold(subject.surname);
    this.#firstNames = subject.firstNames === null ? null : fold(subject.firstNames);
    this.#birthDate = subject.birthDate;
    this.#keys = new Map();
    for (const v of subject.vins) this.#keys.set(fold(v), `vin ${v}`);
    for (const v of subject.registrationNumbers) this.#keys.set(fold(v), `registration number ${v}`);
    for (const v of subject.dnaReferences) this.#keys.set(fold(v), `DNA reference ${v}`);
    for (const v of subject.fingerprintReferences) this.#keys.set(fold(v), `fingerprint reference ${v}`);
    for (const v of subject.otherIdentifiers) this.#keys.set(fold(v), `identifier ${v}`);
    this.terms = [...this.#keys.keys(), ...(this.#surname ? [this.#surname] : [])].filter((t) => t.length > 0);
  }

  /** True when the name parts of a person object agree with the subject's (surname and at least one more). */
  matchesPerson(surname: string | null | undefined, firstNames: string | null | undefined, birthDate: string | null | undefined): boolean {
    if (this.#surname === null || !surname || fold(surname) !== this.#surname) return false;
    let corroborated = false;
    if (this.#firstNames !== null && firstNames) {
      if (fold(firstNames) !== this.#firstNames) return false;
      corroborated = true;
    }
    if (this.#birthDate !== null && birthDate) {
      if (birthDate.slice(0, 10) !== this.#birthDate) return false;
      corroborated = true;
    }
    return corroborated;
  }

  /** What in `value` (any JSON) matches the subject: e.g. ['name', 'vin WVW…']; empty if nothing. */
  match(value: unknown): string[] {
    const found = new Set<string>();
    const walk = (v: unknown, depth: number): void => {
      if (depth > 32) return;
      if (typeof v === 'string') {
        const k = this.#keys.get(fold(v));
        if (k) found.add(k);
      } else if (Array.isArray(v)) {
        for (const x of v) walk(x, depth + 1);
      } else if (typeof v === 'object' && v !== null) {
        const o = v as Record<string, unknown>;
        if (this.matchesPerson(field(o, SURNAME_KEYS), field(o, FIRST_NAMES_KEYS), field(o, BIRTH_DATE_KEYS))) found.add('name');
        for (const x of Object.values(o)) walk(x, depth + 1);
      }
    };
    walk(value, 0);
    return [...found].sort();
  }
}
