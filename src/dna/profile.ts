/**
 * DNA profiles as the rest of the node sees them, and the checks every profile passes on its way in:
 * the shape of a record (Prüm Decision Art. 2(2): a reference number and the DNA profile, nothing
 * else), locus names, allele values, and the inclusion rule (enough fully designated loci).
 */
import { OpenPrumError, type ErrorCode } from '../errors/index.ts';
import { parseAllele, alleleText, isNumericAllele, quickAllele, WILDCARD, type AlleleOptions } from './alleles.ts';
import { classifyField, locusKey, MAX_LOCI_PER_PROFILE, ESS_1999, nearKnownLocus, type LocusInfo } from './loci.ts';

/**
 * Prüm Decision Art. 2(2): reference data of a person (`reference`) or of a trace that is not
 * attributed to anyone (`unidentified`, which must be recognisable as such).
 */
export type ProfileKind = 'reference' | 'unidentified';

/** A normalised DNA profile. */
export interface DnaProfile {
  /** The reference number; it must not identify the person (Prüm Decision Art. 2(2)). */
  readonly ref: string;
  readonly kind: ProfileKind;
  /**
   * Canonical locus name (`vWA`, `D3S1358`, `PentaD`, `AMEL`) → its two allele values, lowest first
   * (`['15', '16']`, `['9.3', '9.3']` for a homozygote, `['15', '*']` with a wildcard, `['X', 'Y']`).
   */
  readonly loci: Readonly<Record<string, readonly [string, string]>>;
}

/** Where a record came from, for messages: file and line (both optional, e.g. an HTTP body). */
export interface Where {
  readonly file?: string;
  readonly line?: number;
}

export function place(where: Where): string {
  if (where.file !== undefined && where.line !== undefined) return `${where.file} line ${where.line}`;
  if (where.line !== undefined) return `line ${where.line}`;
  if (where.file !== undefined) return where.file;
  return 'the profile';
}

export function fail(code: ErrorCode, where: Where, message: string, details: Record<string, unknown> = {}): never {
  throw new OpenPrumError(code, `${place(where)}: ${message}`, { ...where, ...details });
}

/** Options of reading profiles. */
export interface ReadOptions extends AlleleOptions {
  /**
   * Allele equivalence (off by default: micro-variants compare exactly). Locus (any spelling) →
   * allele → the allele it counts as, e.g. `{ "FGA": { "22.2": "22" } }`.
   */
  readonly equivalence?: AlleleEquivalence;
}

/** A configured allele-equivalence table, normalised by `alleleEquivalence`. */
export interface AlleleEquivalence {
  /** Locus key → allele code → code it counts as. */
  readonly byLocus: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

/** Builds an allele-equivalence table from its JSON form; throws `input-invalid` on a bad entry. */
export function alleleEquivalence(table: Readonly<Record<string, Readonly<Record<string, string>>>>): AlleleEquivalence {
  const byLocus = new Map<string, Map<number, number>>();
  for (const [name, map] of Object.entries(table)) {
    const f = classifyField(name);
    if (f.kind !== 'locus') throw new OpenPrumError('input-invalid', `allele equivalence: ${JSON.stringify(name)} is not a locus name`);
    const m = new Map<number, number>();
    for (const [from, to] of Object.entries(map)) {
      const a = parseAllele(from, f.locus.amelogenin);
      const b = parseAllele(to, f.locus.amelogenin);
      if (typeof a === 'string' || typeof b === 'string') {
        throw new OpenPrumError('input-invalid', `allele equivalence at ${name}: ${typeof a === 'string' ? a : String(b)}`);
      }
      m.set(a, b);
    }
    byLocus.set(f.locus.key, m);
  }
  return { byLocus };
}

/** One locus of a profile being read: the locus and its two allele codes (lowest first). */
export interface EncodedLocus {
  locus: LocusInfo;
  a: number;
  b: number;
}

/**
 * Collects the loci of one record. One instance is reused for every line of a file, so reading a
 * million profiles does not create a million arrays.
 */
export class ProfileEncoder {
  readonly loci: EncodedLocus[] = [];
  count = 0;
  /** Fully designated loci, amelogenin not counted. */
  fullCount = 0;
  /** Fully designated ESS-1999 loci. */
  essFullCount = 0;
  private readonly options: ReadOptions;
  private readonly equivalence: ReadonlyMap<string, ReadonlyMap<number, number>> | undefined;

  constructor(options: ReadOptions = {}) {
    this.options = options;
    this.equivalence = options.equivalence?.byLocus.size ? options.equivalence.byLocus : undefined;
  }

  reset(): void {
    this.count = 0;
    this.fullCount = 0;
    this.essFullCount = 0;
  }

  /**
   * Adds one locus from its field name and its values (already split). An empty list means the locus
   * was not typed and is left out. Throws with the place on any problem.
   */
  add(field: string, values: readonly string[], where: Where): void {
    const locus = fieldLocus(field, where);
    if (values.length === 0) return;
    for (let i = 0; i < this.count; i++) {
      if (this.loci[i]!.locus.key === locus.key) {
        fail('dna-profile-invalid', where, `locus ${locus.name} appears twice (as ${JSON.stringify(field)} and under another spelling); keep one`, { field });
      }
    }
    let a = this.allele(values[0]!, locus, field, where);
    let b = values.length === 1 ? a : this.allele(values[1]!, locus, field, where);
    if (values.length > 2) {
      // Prüm rule: keep the first value, the rest become one wildcard. They are still checked.
      for (let i = 2; i < values.length; i++) this.allele(values[i]!, locus, field, where);
      b = WILDCARD;
    }
    if (a > b) [a, b] = [b, a];
    this.put(locus, a, b, field, where);
  }

  /**
   * Adds one locus from a cell of `text` between `i` and `j` (`15/16`, `15`, empty) without creating
   * strings in the common case. The caller guarantees the locus is not repeated (CSV header).
   */
  addCell(locus: LocusInfo, field: string, text: string, i: number, j: number, where: Where): void {
    while (i < j && text.charCodeAt(i) === 32) i++;
    while (j > i && text.charCodeAt(j - 1) === 32) j--;
    if (i === j) return;
    const slash = text.indexOf('/', i);
    let a: number;
    let b: number;
    if (slash < 0 || slash >= j) {
      a = b = quickAllele(text, i, j);
    } else {
      a = quickAllele(text, i, slash);
      b = text.indexOf('/', slash + 1) >= 0 && text.indexOf('/', slash + 1) < j ? -1 : quickAllele(text, slash + 1, j);
    }
    if (a < 0 || b < 0 || locus.amelogenin) {
      const values = text.slice(i, j).split('/');
      const x = this.allele(values[0]!, locus, field, where);
      let y = values.length === 1 ? x : this.allele(values[1]!, locus, field, where);
      if (values.length > 2) {
        for (let k = 2; k < values.length; k++) this.allele(values[k]!, locus, field, where);
        y = WILDCARD;
      }
      a = x < y ? x : y;
      b = x < y ? y : x;
    } else if (a > b) [a, b] = [b, a];
    this.put(locus, a, b, field, where);
  }

  private allele(v: string, locus: LocusInfo, field: string, where: Where): number {
    if (!locus.amelogenin) {
      const q = quickAllele(v, 0, v.length);
      if (q >= 0) return q;
    }
    const r = parseAllele(v, locus.amelogenin, this.options);
    if (typeof r === 'string') fail('dna-profile-invalid', where, `at ${locus.name}: ${r}`, { field, value: v });
    return r;
  }

  private put(locus: LocusInfo, a: number, b: number, field: string, where: Where): void {
    if (this.count >= MAX_LOCI_PER_PROFILE) {
      fail('dna-profile-invalid', where, `the profile has more than ${MAX_LOCI_PER_PROFILE} loci; no kit types that many, so the line is probably broken (merged or shifted columns)`, { field });
    }
    if (this.equivalence) {
      const eq = this.equivalence.get(locus.key);
      if (eq) {
        a = eq.get(a) ?? a;
        b = eq.get(b) ?? b;
        if (a > b) [a, b] = [b, a];
      }
    }
    let slot = this.loci[this.count];
    if (!slot) {
      slot = { locus, a, b };
      this.loci.push(slot);
    } else {
      slot.locus = locus;
      slot.a = a;
      slot.b = b;
    }
    this.count++;
    if (!locus.amelogenin && isNumericAllele(a) && isNumericAllele(b)) {
      this.fullCount++;
      if (locus.ess1999) this.essFullCount++;
    }
  }

  /** Why this profile may not be compared, or undefined if it may. */
  inclusionProblem(kind: ProfileKind): string | undefined {
    return inclusionProblem(kind, this.fullCount, this.essFullCount);
  }

  toProfile(ref: string, kind: ProfileKind): DnaProfile {
    const loci: Record<string, readonly [string, string]> = {};
    for (let i = 0; i < this.count; i++) {
      const l = this.loci[i]!;
      loci[l.locus.name] = [alleleText(l.a), alleleText(l.b)];
    }
    return { ref, kind, loci };
  }
}

/** The locus a field names; throws `dna-personal-data` or `dna-file-invalid` if it names none. */
export function fieldLocus(field: string, where: Where): LocusInfo {
  const f = classifyField(field);
  if (f.kind === 'personal') {
    fail('dna-personal-data', where, `${JSON.stringify(field)} is not a locus; reference data may carry only a reference number and the DNA profile (Prüm Decision Art. 2(2)). Remove this field`, { field });
  }
  if (f.kind === 'not-a-locus') {
    const near = nearKnownLocus(locusKey(field));
    fail('dna-file-invalid', where, `${JSON.stringify(field)} is not a known locus name${near ? ` (did you mean ${near}?)` : ' (e.g. D3S1358, vWA, TH01, PentaD, SE33)'}; correct the spelling`, { field });
  }
  return f.locus;
}

/** The least number of fully designated loci a profile needs (Prüm matching rules). */
export const MIN_FULL_LOCI = 6;
/** The least number of fully designated ESS-1999 loci a reference profile needs. */
export const MIN_ESS_1999_LOCI = 6;

/**
 * The inclusion rule: every profile needs 6 fully designated loci (amelogenin not counted); a
 * reference profile also needs 6 of the 7 ESS-1999 loci fully designated.
 */
export function inclusionProblem(kind: ProfileKind, fullCount: number, essFullCount: number): string | undefined {
  if (fullCount < MIN_FULL_LOCI) {
    return `has ${fullCount} fully designated loci; at least ${MIN_FULL_LOCI} are needed (amelogenin does not count)`;
  }
  if (kind === 'reference' && essFullCount < MIN_ESS_1999_LOCI) {
    return `is a reference profile with ${essFullCount} of the 7 ESS-1999 loci (${ESS_1999.join(', ')}) fully designated; at least ${MIN_ESS_1999_LOCI} are needed`;
  }
  return undefined;
}

const REF = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$/;

/** Checks a reference number: 1 to 64 characters, letters, digits and `. _ : / # -`, no spaces. */
export function checkRef(ref: unknown, where: Where): string {
  if (typeof ref !== 'string') fail('dna-profile-invalid', where, '"ref" must be a string (the reference number)');
  if (!REF.test(ref)) {
    fail('dna-profile-invalid', where, `reference ${JSON.stringify(ref.slice(0, 80))} is not a reference number: use 1 to 64 letters, digits and . _ : / # - (no spaces; a reference must not identify the person, Prüm Decision Art. 2(2))`);
  }
  return ref;
}

export function checkKind(kind: unknown, where: Where): ProfileKind {
  if (kind === 'reference' || kind === 'unidentified') return kind;
  return fail('dna-profile-invalid', where, `"kind" must be "reference" (a person) or "unidentified" (a trace), not ${JSON.stringify(kind)}`);
}

/** Splits one locus value of JSON (array of strings or numbers, or "15/16") into allele strings. */
export function jsonAlleleValues(value: unknown, field: string, where: Where): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return splitCell(value);
  if (typeof value === 'number') return [String(value)];
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const v of value) {
      if (typeof v === 'string') out.push(v);
      else if (typeof v === 'number' && Number.isFinite(v)) out.push(String(v));
      else fail('dna-profile-invalid', where, `at ${field}: allele values must be strings such as "15" or "9.3", not ${JSON.stringify(v)}`, { field });
    }
    return out;
  }
  return fail('dna-profile-invalid', where, `at ${field}: the value must be a list of alleles such as ["15","16"], not ${JSON.stringify(value)}`, { field });
}

/** Splits a cell such as `15/16`, `15` or `` (not typed) into allele strings. */
export function splitCell(cell: string): string[] {
  const t = cell.trim();
  if (t === '') return [];
  return t.split('/');
}

/**
 * Reads one record in the JSON form `{"ref":..,"kind":..,"loci":{..}}` into the encoder and returns
 * its ref and kind. Any other field is refused under Prüm Decision Art. 2(2).
 */
export function readRecord(obj: unknown, enc: ProfileEncoder, where: Where): { ref: string; kind: ProfileKind } {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    fail('dna-file-invalid', where, 'each record must be a JSON object like {"ref":"NL-0001","kind":"reference","loci":{"D3S1358":["15","16"]}}');
  }
  const rec = obj as Record<string, unknown>;
  for (const k in rec) {
    if (k !== 'ref' && k !== 'kind' && k !== 'loci') {
      fail('dna-personal-data', where, `field ${JSON.stringify(k)} is not allowed; reference data may carry only "ref", "kind" and "loci" (Prüm Decision Art. 2(2)). Remove it`, { field: k });
    }
  }
  const ref = checkRef(rec.ref, where);
  const kind = checkKind(rec.kind, where);
  const loci = rec.loci;
  if (typeof loci !== 'object' || loci === null || Array.isArray(loci)) {
    fail('dna-profile-invalid', where, '"loci" must be an object of locus name → alleles, like {"D3S1358":["15","16"]}');
  }
  enc.reset();
  const lociRec = loci as Record<string, unknown>;
  for (const field in lociRec) enc.add(field, jsonAlleleValues(lociRec[field], field, where), where);
  return { ref, kind };
}

/**
 * Normalises a profile given as a plain object (for example from an HTTP body). Throws an
 * OpenPrumError that says what is wrong. Does not apply the inclusion rule: see `inclusionOf`.
 */
export function parseProfile(input: unknown, options: ReadOptions = {}, where: Where = {}): DnaProfile {
  const enc = new ProfileEncoder(options);
  const { ref, kind } = readRecord(input, enc, where);
  return enc.toProfile(ref, kind);
}

/** Whether a normalised profile may be compared, and if not, why. */
export function inclusionOf(profile: DnaProfile): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  const enc = new ProfileEncoder();
  encodeProfile(profile, enc);
  const reason = enc.inclusionProblem(profile.kind);
  return reason === undefined ? { ok: true } : { ok: false, reason: `profile ${profile.ref} ${reason}` };
}

/** Feeds a normalised profile back into an encoder (used by the index and the tests). */
export function encodeProfile(profile: DnaProfile, enc: ProfileEncoder, where: Where = {}): void {
  enc.reset();
  for (const name in profile.loci) enc.add(name, profile.loci[name]!, where);
}

/** A stable text of a profile (sorted loci), for telling whether an import changes a profile. */
export function canonicalProfileJson(profile: DnaProfile): string {
  const names = Object.keys(profile.loci).sort();
  const loci: Record<string, readonly [string, string]> = {};
  for (const n of names) loci[n] = profile.loci[n]!;
  return JSON.stringify({ ref: profile.ref, kind: profile.kind, loci });
}
