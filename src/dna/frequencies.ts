/**
 * Allele-frequency tables and the weight of a hit: the random match probability (RMP) by the product
 * rule with the NRC II subpopulation correction θ (National Research Council, The Evaluation of
 * Forensic DNA Evidence, 1996, recommendation 4.10) and the NRC II minimum allele frequency 5/2N.
 *
 * The engine ships tables built from public data (data/allele-frequencies.json, see data/SOURCE.md);
 * another table can be loaded from a file.
 */
import { readFileSync } from 'node:fs';
import { OpenPrumError } from '../errors/index.ts';
import { parseAllele, isNumericAllele } from './alleles.ts';
import { classifyField } from './loci.ts';

export interface LocusFrequencies {
  /** Allele code → frequency as given. */
  readonly alleles: ReadonlyMap<number, number>;
  /** NRC II minimum allele frequency (5/2N when the sample size is known); applies to unseen alleles. */
  readonly minFrequency: number;
}

export interface FrequencyTable {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  readonly licence: string;
  /** Locus key (see loci.ts) → frequencies. */
  readonly loci: ReadonlyMap<string, LocusFrequencies>;
}

/** The subpopulation correction used unless configured otherwise. */
export const DEFAULT_THETA = 0.01;
/** Minimum allele frequency of a table that gives neither a minimum nor sample sizes. */
export const DEFAULT_MIN_FREQUENCY = 0.001;

interface TableJson {
  description?: unknown;
  source?: unknown;
  licence?: unknown;
  loci?: unknown;
}

function bad(where: string, message: string): never {
  throw new OpenPrumError('dna-frequencies-invalid', `${where}: ${message}`, { where });
}

/** Reads one table in the JSON form of data/allele-frequencies.json. */
export function frequencyTableFromJson(name: string, t: TableJson, where: string): FrequencyTable {
  if (typeof t !== 'object' || t === null || typeof t.loci !== 'object' || t.loci === null) bad(where, `table ${name} needs "loci": {locus: {"alleles": {allele: frequency}}}`);
  const loci = new Map<string, LocusFrequencies>();
  for (const [locusName, raw] of Object.entries(t.loci as Record<string, unknown>)) {
    const f = classifyField(locusName);
    if (f.kind !== 'locus' || f.locus.amelogenin) bad(where, `table ${name}: ${JSON.stringify(locusName)} is not a locus name`);
    const l = raw as { alleles?: unknown; minFrequency?: unknown; twoN?: unknown };
    if (typeof l !== 'object' || l === null || typeof l.alleles !== 'object' || l.alleles === null) bad(where, `table ${name}, locus ${locusName}: needs "alleles": {allele: frequency}`);
    const entries: [string, number][] = Object.entries(l.alleles as Record<string, unknown>).map(([a, v]) => [a, Number(v)]);
    const min = typeof l.minFrequency === 'number' ? l.minFrequency : typeof l.twoN === 'number' && l.twoN > 0 ? 5 / l.twoN : DEFAULT_MIN_FREQUENCY;
    if (!(min > 0 && min < 1)) bad(where, `table ${name}, locus ${locusName}: minFrequency must be between 0 and 1`);
    loci.set(f.locus.key, locusFrequencies(entries, min, `${where}, table ${name}, locus ${locusName}`));
  }
  return {
    name,
    description: typeof t.description === 'string' ? t.description : name,
    source: typeof t.source === 'string' ? t.source : 'unknown',
    licence: typeof t.licence === 'string' ? t.licence : 'unknown',
    loci,
  };
}

function locusFrequencies(entries: readonly [string, number][], minFrequency: number, where: string): LocusFrequencies {
  const alleles = new Map<number, number>();
  let sum = 0;
  for (const [allele, freq] of entries) {
    const code = parseAllele(allele, false);
    if (typeof code === 'string' || !isNumericAllele(code)) bad(where, `${JSON.stringify(allele)} is not a repeat number`);
    if (!(freq > 0 && freq <= 1)) bad(where, `frequency of allele ${allele} must be above 0 and at most 1, not ${freq}`);
    if (alleles.has(code)) bad(where, `allele ${allele} is listed twice`);
    alleles.set(code, freq);
    sum += freq;
  }
  if (alleles.size === 0) bad(where, 'no alleles');
  // Counts given instead of frequencies, or two tables pasted together, show as a sum well above 1.
  if (sum > 1.02) bad(where, `frequencies add up to ${sum.toFixed(4)}; they must add up to at most 1`);
  return { alleles, minFrequency };
}

let shipped: { default: string; tables: Record<string, TableJson> } | undefined;

function shippedJson(): { default: string; tables: Record<string, TableJson> } {
  shipped ??= JSON.parse(readFileSync(new URL('./data/allele-frequencies.json', import.meta.url), 'utf8')) as { default: string; tables: Record<string, TableJson> };
  return shipped;
}

const shippedCache = new Map<string, FrequencyTable>();

/** Names of the tables shipped with the engine. */
export function shippedFrequencyTables(): string[] {
  return Object.keys(shippedJson().tables);
}

/** A shipped table; without a name the default (NIST 1036, all U.S.). */
export function shippedFrequencyTable(name?: string): FrequencyTable {
  const json = shippedJson();
  const id = name ?? json.default;
  let t = shippedCache.get(id);
  if (!t) {
    const raw = json.tables[id];
    if (!raw) throw new OpenPrumError('dna-frequencies-invalid', `there is no shipped frequency table ${JSON.stringify(id)}; choose one of ${Object.keys(json.tables).join(', ')}`);
    t = frequencyTableFromJson(id, raw, 'shipped frequencies');
    shippedCache.set(id, t);
  }
  return t;
}

/**
 * Loads a table from a file: the JSON form of the shipped file (choose a table with `name`, else its
 * "default" or its only table), or CSV with a header `locus,allele,frequency` and optionally
 * `n_alleles` (2N, for the 5/2N minimum).
 */
export function loadFrequencyTable(path: string, name?: string): FrequencyTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new OpenPrumError('file-unreadable', `cannot read the frequency table ${path}: ${(e as Error).message}`, { file: path });
  }
  if (text.trimStart().startsWith('{')) {
    let json: { default?: unknown; tables?: unknown };
    try {
      json = JSON.parse(text) as { default?: unknown; tables?: unknown };
    } catch (e) {
      return bad(path, `not valid JSON (${(e as Error).message})`);
    }
    if (typeof json.tables !== 'object' || json.tables === null) bad(path, 'expected {"tables": {name: {"loci": ...}}}');
    const tables = json.tables as Record<string, TableJson>;
    const ids = Object.keys(tables);
    const id = name ?? (typeof json.default === 'string' ? json.default : ids.length === 1 ? ids[0] : undefined);
    if (id === undefined || !tables[id]) bad(path, `say which table to use; it has ${ids.join(', ')}`);
    return frequencyTableFromJson(id, tables[id]!, path);
  }
  return frequencyTableFromCsv(text, path);
}

/** Reads the CSV form `locus,allele,frequency[,n_alleles]`. */
export function frequencyTableFromCsv(text: string, path: string): FrequencyTable {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const li = header.indexOf('locus');
  const ai = header.indexOf('allele');
  const fi = header.indexOf('frequency');
  const ni = header.indexOf('n_alleles');
  if (li < 0 || ai < 0 || fi < 0) bad(`${path} line 1`, 'the header must name the columns locus, allele and frequency (and optionally n_alleles)');
  const byLocus = new Map<string, { entries: [string, number][]; twoN?: number; line: number }>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const where = `${path} line ${i + 1}`;
    const locus = classifyField((cells[li] ?? '').trim());
    if (locus.kind !== 'locus' || locus.locus.amelogenin) bad(where, `${JSON.stringify(cells[li])} is not a locus name`);
    const freq = Number(cells[fi]);
    if (!Number.isFinite(freq)) bad(where, `frequency ${JSON.stringify(cells[fi])} is not a number`);
    const e = byLocus.get(locus.locus.key) ?? { entries: [], line: i + 1 };
    e.entries.push([(cells[ai] ?? '').trim(), freq]);
    if (ni >= 0) {
      const n = Number(cells[ni]);
      if (!(n > 0)) bad(where, `n_alleles ${JSON.stringify(cells[ni])} is not a positive number`);
      e.twoN = n;
    }
    byLocus.set(locus.locus.key, e);
  }
  if (byLocus.size === 0) bad(path, 'no frequencies');
  const loci = new Map<string, LocusFrequencies>();
  for (const [key, e] of byLocus) loci.set(key, locusFrequencies(e.entries, e.twoN ? 5 / e.twoN : DEFAULT_MIN_FREQUENCY, `${path} (locus ${key}, from line ${e.line})`));
  return { name: path, description: `loaded from ${path}`, source: path, licence: 'as given by its source', loci };
}

/** Checks θ: 0 ≤ θ < 0.25 (NRC II suggests 0.01, 0.03 for small isolated populations). */
export function checkTheta(theta: number): number {
  if (!(Number.isFinite(theta) && theta >= 0 && theta < 0.25)) {
    throw new OpenPrumError('usage', `theta must be a number from 0 to below 0.25 (usually 0.01), not ${theta}`);
  }
  return theta;
}

/** The frequency of an allele, raised to the table's minimum (NRC II: at least 5/2N). */
export function alleleFrequency(lf: LocusFrequencies, code: number): number {
  const f = lf.alleles.get(code) ?? 0;
  return f > lf.minFrequency ? f : lf.minFrequency;
}

/**
 * Probability that an unrelated person of the population has this genotype, with the NRC II 4.10
 * correction:
 *   homozygote pp: [2θ + (1−θ)p][3θ + (1−θ)p] / [(1+θ)(1+2θ)]
 *   heterozygote pq: 2[θ + (1−θ)p][θ + (1−θ)q] / [(1+θ)(1+2θ)]
 * With θ = 0 these are p² and 2pq. `a` and `b` must be repeat-number codes.
 */
export function genotypeProbability(lf: LocusFrequencies, a: number, b: number, theta: number): number {
  const p = alleleFrequency(lf, a);
  const d = (1 + theta) * (1 + 2 * theta);
  if (a === b) return ((2 * theta + (1 - theta) * p) * (3 * theta + (1 - theta) * p)) / d;
  const q = alleleFrequency(lf, b);
  return (2 * (theta + (1 - theta) * p) * (theta + (1 - theta) * q)) / d;
}

/**
 * Probability that an unrelated person's genotype differs from this one by exactly one allele under
 * the best pairing (the near-match locus of the rule), by Hardy-Weinberg proportions:
 *   heterozygote pq: 1 − (1−p−q)² − 2pq (has p or q, but not both);
 *   homozygote pp:  2p(1−p) (has one p).
 */
export function oneMismatchProbability(lf: LocusFrequencies, a: number, b: number): number {
  const p = alleleFrequency(lf, a);
  if (a === b) return Math.min(1, 2 * p * (1 - p));
  const q = alleleFrequency(lf, b);
  const none = Math.max(0, 1 - p - q);
  return Math.max(0, 1 - none * none - 2 * p * q);
}
