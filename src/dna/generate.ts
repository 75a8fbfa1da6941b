/**
 * Synthetic national DNA files for tests, demonstrations and benchmarks. Nothing here is about real
 * people: genotypes are drawn from published allele frequencies (data/SOURCE.md), and references
 * are serial numbers.
 *
 * A file mixes the kits its country uses (each kit types its own set of loci), has a share of
 * partial traces (6–9 loci, long loci lost first, as in degraded DNA), wildcards (off-ladder and
 * undetermined alleles, tri-allelic loci), and planted pairs: duplicates (the same person typed
 * twice, maybe with another kit), near matches (one allele misread), relatives (siblings, parent and
 * child) and traces left by people who are in the file. With a peer file, the same kinds of pairs
 * are planted across the two files. A truth file lists every planted pair.
 *
 * Same options and seed, same files.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { OpenPrumError } from '../errors/index.ts';
import { Random } from '../util/random.ts';
import { alleleText } from './alleles.ts';
import { shippedFrequencyTable, type FrequencyTable } from './frequencies.ts';
import { formatOfName, type FileFormat } from './formats.ts';
import { locusInfo } from './loci.ts';
import type { ProfileKind } from './profile.ts';

const ESS12 = ['D3S1358', 'vWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA', 'D1S1656', 'D2S441', 'D10S1248', 'D12S391', 'D22S1045'];
const CODIS13 = ['CSF1PO', 'FGA', 'TH01', 'TPOX', 'vWA', 'D3S1358', 'D5S818', 'D7S820', 'D8S1179', 'D13S317', 'D16S539', 'D18S51', 'D21S11'];
const CODIS20 = [...CODIS13, 'D1S1656', 'D2S441', 'D2S1338', 'D10S1248', 'D12S391', 'D19S433', 'D22S1045'];

/** Loci typed by common kits (autosomal STRs; amelogenin is added to all). */
export const KITS: Readonly<Record<string, readonly string[]>> = {
  'NGM': [...ESS12, 'D16S539', 'D19S433', 'D2S1338'],
  'NGM SElect': [...ESS12, 'D16S539', 'D19S433', 'D2S1338', 'SE33'],
  'ESX 17': [...ESS12, 'D16S539', 'D19S433', 'D2S1338', 'SE33'],
  'ESI 17': [...ESS12, 'D16S539', 'D19S433', 'D2S1338', 'SE33'],
  'GlobalFiler': [...CODIS20, 'SE33'],
  'Fusion 6C': [...CODIS20, 'SE33', 'PentaD', 'PentaE'],
  'Investigator 24plex': [...CODIS20, 'SE33'],
  'SGM Plus': ['D3S1358', 'vWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA', 'D16S539', 'D19S433', 'D2S1338'],
  'Identifiler': [...CODIS13, 'D2S1338', 'D19S433'],
  'PowerPlex 16': [...CODIS13, 'PentaD', 'PentaE'],
};

/** Kit shares per country; other countries get DEFAULT_MIX. Old kits stand for legacy profiles. */
export const COUNTRY_MIX: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  NL: { 'NGM': 0.35, 'GlobalFiler': 0.3, 'Fusion 6C': 0.1, 'SGM Plus': 0.2, 'Identifiler': 0.05 },
  DE: { 'ESX 17': 0.35, 'ESI 17': 0.2, 'NGM SElect': 0.25, 'SGM Plus': 0.2 },
  BE: { 'NGM': 0.4, 'GlobalFiler': 0.4, 'SGM Plus': 0.2 },
  FR: { 'GlobalFiler': 0.55, 'NGM': 0.25, 'Identifiler': 0.2 },
  AT: { 'NGM SElect': 0.5, 'ESX 17': 0.3, 'SGM Plus': 0.2 },
  SE: { 'ESX 17': 0.5, 'Fusion 6C': 0.3, 'SGM Plus': 0.2 },
  NO: { 'ESX 17': 0.6, 'Fusion 6C': 0.4 },
  US: { 'GlobalFiler': 0.4, 'Fusion 6C': 0.3, 'Identifiler': 0.2, 'PowerPlex 16': 0.1 },
};
export const DEFAULT_MIX: Readonly<Record<string, number>> = { 'NGM': 0.4, 'GlobalFiler': 0.3, 'ESX 17': 0.15, 'SGM Plus': 0.15 };

/** Population table per country (default: Europe). */
const POPULATION: Readonly<Record<string, string>> = { NO: 'norstr-norway', US: 'nist1036-all' };

/**
 * Rough amplicon sizes in base pairs: degraded DNA loses long fragments first, so a partial trace
 * keeps short loci more often (the ESS-2009 mini-STRs were chosen for that reason).
 */
const SIZE: Readonly<Record<string, number>> = {
  D3S1358: 120, vWA: 160, D8S1179: 130, D21S11: 200, D18S51: 280, TH01: 170, FGA: 300, D1S1656: 170,
  D2S441: 90, D10S1248: 100, D12S391: 230, D22S1045: 90, D16S539: 250, D19S433: 140, D2S1338: 300,
  SE33: 350, CSF1PO: 320, D5S818: 140, D7S820: 200, D13S317: 210, TPOX: 230, PentaD: 300, PentaE: 400,
};

const WILDCARD_VALUES = ['OL', 'OL', 'OL', 'na', 'nr', '99', 'o', 'r', 'un', 'f'];

export interface GenerateOptions {
  readonly profiles: number;
  /** Two-letter country code: sets the kit mix, the population and the reference prefix. */
  readonly country: string;
  readonly seed: number;
  /** Share of partial traces (6–9 loci), default 0.05. */
  readonly partialRate?: number;
  /** Share of complete unidentified traces (besides partial ones), default 0.15. */
  readonly traceRate?: number;
  /** Share of profiles with a wildcard allele, default 0.02. */
  readonly wildcardRate?: number;
  /** Shares of planted pairs, each default 0.01, 0.003, 0.005, 0.01. */
  readonly duplicateRate?: number;
  readonly nearMatchRate?: number;
  readonly relativeRate?: number;
  /** Traces left by a person of the file (complete or partial). */
  readonly donorTraceRate?: number;
  /** A frequency table name (shipped) to draw alleles from; default by country. */
  readonly population?: string;
  /** Kit mix to use instead of the country's. */
  readonly kits?: Readonly<Record<string, number>>;
}

export interface PlantedPair {
  /** File of the first profile (`out` or `peer`) and its reference. */
  readonly aFile: 'out' | 'peer';
  readonly a: string;
  readonly bFile: 'out' | 'peer';
  readonly b: string;
  readonly relation: 'duplicate' | 'near-match' | 'sibling' | 'parent-child' | 'trace';
}

/** A generated profile before it is written: loci (by name) → allele texts. */
export interface GeneratedProfile {
  readonly ref: string;
  readonly kind: ProfileKind;
  readonly loci: Map<string, string[]>;
}

type Person = Map<string, [number, number]>;

/** Draws alleles of one population. */
class Population {
  private readonly cum = new Map<string, { codes: number[]; cum: Float64Array }>();

  constructor(table: FrequencyTable, loci: readonly string[]) {
    for (const name of loci) {
      const lf = table.loci.get(locusInfo(name).key) ?? shippedFrequencyTable('nist1036-all').loci.get(locusInfo(name).key);
      if (!lf) throw new OpenPrumError('dna-frequencies-invalid', `no allele frequencies for locus ${name}`);
      const codes = [...lf.alleles.keys()];
      const cum = new Float64Array(codes.length);
      let s = 0;
      codes.forEach((c, i) => {
        s += lf.alleles.get(c)!;
        cum[i] = s;
      });
      for (let i = 0; i < cum.length; i++) cum[i]! /= s;
      this.cum.set(name, { codes, cum });
    }
  }

  allele(rng: Random, locus: string): number {
    const { codes, cum } = this.cum.get(locus)!;
    const u = rng.next();
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return codes[lo]!;
  }

  person(rng: Random, loci: readonly string[]): Person {
    const p: Person = new Map();
    for (const l of loci) p.set(l, [this.allele(rng, l), this.allele(rng, l)]);
    return p;
  }

  /** A sibling (each allele inherited from the same parents: about half the alleles shared). */
  sibling(rng: Random, of: Person): Person {
    const p: Person = new Map();
    for (const [l, g] of of) p.set(l, [rng.next() < 0.5 ? g[0] : this.allele(rng, l), rng.next() < 0.5 ? g[1] : this.allele(rng, l)]);
    return p;
  }

  /** A child or parent: exactly one allele shared at every locus. */
  parentChild(rng: Random, of: Person): Person {
    const p: Person = new Map();
    for (const [l, g] of of) p.set(l, [g[rng.int(2)]!, this.allele(rng, l)]);
    return p;
  }
}

interface Pick {
  readonly names: string[];
  readonly cum: number[];
}

function mixPick(mix: Readonly<Record<string, number>>): Pick {
  const names = Object.keys(mix);
  for (const n of names) if (!KITS[n]) throw new OpenPrumError('usage', `unknown kit ${JSON.stringify(n)}; kits: ${Object.keys(KITS).join(', ')}`);
  let s = 0;
  const cum = names.map((n) => (s += mix[n]!));
  return { names, cum: cum.map((c) => c / s) };
}

function pickKit(rng: Random, pick: Pick): string {
  const u = rng.next();
  for (let i = 0; i < pick.cum.length; i++) if (u < pick.cum[i]!) return pick.names[i]!;
  return pick.names[pick.names.length - 1]!;
}

/** The generator of one country's file; also plants pairs into a peer file. */
class Generator {
  readonly rng: Random;
  readonly pop: Population;
  readonly kits: Pick;
  readonly universe: string[];
  readonly country: string;
  readonly o: Required<Omit<GenerateOptions, 'population' | 'kits'>>;
  /** Recent persons of this file (for planting), with the reference of their profile. */
  readonly recent: { person: Person; ref: string; kit: string }[] = [];
  private serial = 0;

  constructor(o: GenerateOptions, universe: string[]) {
    this.o = {
      profiles: o.profiles, country: o.country, seed: o.seed,
      partialRate: o.partialRate ?? 0.05, traceRate: o.traceRate ?? 0.15, wildcardRate: o.wildcardRate ?? 0.02,
      duplicateRate: o.duplicateRate ?? 0.01, nearMatchRate: o.nearMatchRate ?? 0.003, relativeRate: o.relativeRate ?? 0.005,
      donorTraceRate: o.donorTraceRate ?? 0.01,
    };
    this.country = o.country.toUpperCase();
    this.rng = new Random(o.seed);
    this.kits = mixPick(o.kits ?? COUNTRY_MIX[this.country] ?? DEFAULT_MIX);
    this.universe = universe;
    this.pop = new Population(shippedFrequencyTable(o.population ?? POPULATION[this.country] ?? 'norstr-europe'), universe);
  }

  ref(): string {
    return `${this.country}-${String(++this.serial).padStart(7, '0')}`;
  }

  remember(person: Person, ref: string, kit: string): void {
    const max = 20_000;
    if (this.recent.length < max) this.recent.push({ person, ref, kit });
    else this.recent[this.rng.int(max)] = { person, ref, kit };
  }

  /** The profile of a person typed with a kit: complete, or a partial trace. */
  typed(person: Person, kit: string, partial: boolean, wildcard: boolean): Map<string, string[]> {
    const rng = this.rng;
    let loci = KITS[kit]!;
    if (partial) {
      // Keep 6-9 loci, short ones more often (weight 1/size²), drawn without replacement.
      const keep = 6 + rng.int(4);
      const pool = [...loci];
      const kept: string[] = [];
      while (kept.length < keep && pool.length > 0) {
        const w = pool.map((l) => 1 / (SIZE[l] ?? 250) ** 2);
        const total = w.reduce((x, y) => x + y, 0);
        let u = rng.next() * total;
        let i = 0;
        while (i < pool.length - 1 && (u -= w[i]!) > 0) i++;
        kept.push(pool.splice(i, 1)[0]!);
      }
      loci = kept;
    }
    const out = new Map<string, string[]>();
    for (const l of loci) {
      const g = person.get(l)!;
      out.set(l, g[0] === g[1] ? [alleleText(g[0])] : [alleleText(g[0]), alleleText(g[1])]);
    }
    if (wildcard && loci.length > 0) {
      const l = loci[rng.int(loci.length)]!;
      const g = out.get(l)!;
      const r = rng.next();
      if (r < 0.15) out.set(l, [...g, alleleText(this.pop.allele(rng, l))]); // a third allele
      else if (r < 0.25) out.set(l, [rng.pick(WILDCARD_VALUES)]); // nothing readable
      else out.set(l, [g[0]!, rng.pick(WILDCARD_VALUES)]);
    }
    out.set('AMEL', rng.next() < 0.8 ? ['X', 'Y'] : ['X']);
    return out;
  }

  /** One allele misread at one locus. */
  misread(loci: Map<string, string[]>): void {
    const names = [...loci.keys()].filter((l) => l !== 'AMEL');
    const l = names[this.rng.int(names.length)]!;
    const g = [...loci.get(l)!];
    const i = this.rng.int(g.length);
    const v = Number(g[i]);
    if (Number.isFinite(v)) g[i] = alleleText(Math.round(v * 10) + (this.rng.next() < 0.5 ? -10 : 10));
    loci.set(l, g);
  }

  /** A fresh profile (not planted). */
  fresh(): GeneratedProfile {
    const rng = this.rng;
    const person = this.pop.person(rng, this.universe);
    const kit = pickKit(rng, this.kits);
    const u = rng.next();
    const partial = u < this.o.partialRate;
    const kind: ProfileKind = partial || u < this.o.partialRate + this.o.traceRate ? 'unidentified' : 'reference';
    const ref = this.ref();
    if (!partial) this.remember(person, ref, kit);
    return { ref, kind, loci: this.typed(person, kit, partial, rng.next() < this.o.wildcardRate) };
  }

  /** A planted profile related to a remembered person of `from` (this file or a peer's). */
  planted(from: Generator, fileOfOther: 'out' | 'peer', fileOfThis: 'out' | 'peer', truth: PlantedPair[]): GeneratedProfile | undefined {
    const rng = this.rng;
    if (from.recent.length === 0) return undefined;
    const o = this.o;
    const total = o.duplicateRate + o.nearMatchRate + o.relativeRate + o.donorTraceRate;
    const u = rng.next() * total;
    const base = from.recent[rng.int(from.recent.length)]!;
    const ref = this.ref();
    let relation: PlantedPair['relation'];
    let loci: Map<string, string[]>;
    let kind: ProfileKind = 'reference';
    if (u < o.duplicateRate) {
      relation = 'duplicate';
      loci = this.typed(base.person, rng.next() < 0.5 ? base.kit : pickKit(rng, this.kits), false, rng.next() < 0.2);
    } else if (u < o.duplicateRate + o.nearMatchRate) {
      relation = 'near-match';
      loci = this.typed(base.person, base.kit, false, false);
      this.misread(loci);
    } else if (u < o.duplicateRate + o.nearMatchRate + o.relativeRate) {
      relation = rng.next() < 0.5 ? 'sibling' : 'parent-child';
      const rel = relation === 'sibling' ? this.pop.sibling(rng, base.person) : this.pop.parentChild(rng, base.person);
      loci = this.typed(rel, pickKit(rng, this.kits), false, false);
    } else {
      relation = 'trace';
      kind = 'unidentified';
      loci = this.typed(base.person, pickKit(rng, this.kits), rng.next() < 0.5, rng.next() < 0.1);
    }
    truth.push({ aFile: fileOfOther, a: base.ref, bFile: fileOfThis, b: ref, relation });
    return { ref, kind, loci };
  }
}

export interface FileSpec {
  readonly out: string;
  readonly options: GenerateOptions;
}

export interface GenerateResult {
  readonly profiles: number;
  readonly peerProfiles: number;
  readonly planted: number;
}

class ProfileWriter {
  private readonly stream: WriteStream;
  private readonly format: FileFormat;
  private readonly columns: string[];
  private buffer: string[] = [];

  constructor(path: string, columns: string[]) {
    const f = formatOfName(path);
    if (!f) throw new OpenPrumError('usage', `${path}: the file name must end in .jsonl or .csv`);
    this.format = f;
    this.columns = columns;
    this.stream = createWriteStream(path);
    if (f === 'csv') this.buffer.push(['ref', 'kind', ...columns].join(','));
  }

  async write(p: GeneratedProfile): Promise<void> {
    if (this.format === 'jsonl') {
      const loci: Record<string, string[]> = {};
      for (const [l, g] of p.loci) loci[l] = g;
      this.buffer.push(JSON.stringify({ ref: p.ref, kind: p.kind, loci }));
    } else {
      this.buffer.push([p.ref, p.kind, ...this.columns.map((c) => p.loci.get(c)?.join('/') ?? '')].join(','));
    }
    if (this.buffer.length >= 4096) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const text = `${this.buffer.join('\n')}\n`;
    this.buffer = [];
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

/** Shares of planted profiles of each file. */
function plantedShare(o: GenerateOptions): number {
  return (o.duplicateRate ?? 0.01) + (o.nearMatchRate ?? 0.003) + (o.relativeRate ?? 0.005) + (o.donorTraceRate ?? 0.01);
}

/**
 * Writes a synthetic file (and optionally a peer file of another country with pairs planted across
 * the two), plus a truth file of the planted pairs (JSON Lines).
 */
export async function writeSyntheticFiles(main: FileSpec, peer?: FileSpec, truthPath?: string): Promise<GenerateResult> {
  for (const spec of [main, peer]) {
    if (!spec) continue;
    if (!Number.isSafeInteger(spec.options.profiles) || spec.options.profiles < 1) throw new OpenPrumError('usage', 'the number of profiles must be a positive whole number');
    if (!/^[A-Za-z]{2}$/.test(spec.options.country)) throw new OpenPrumError('usage', `country must be a two-letter code, not ${JSON.stringify(spec.options.country)}`);
  }
  const kitsUsed = new Set<string>();
  for (const spec of [main, peer]) {
    if (!spec) continue;
    const mix = spec.options.kits ?? COUNTRY_MIX[spec.options.country.toUpperCase()] ?? DEFAULT_MIX;
    for (const k of Object.keys(mix)) kitsUsed.add(k);
  }
  const universe = [...new Set([...kitsUsed].flatMap((k) => KITS[k] ?? []))];
  const columns = [...universe, 'AMEL'];
  const truth: PlantedPair[] = [];
  const gA = new Generator(main.options, universe);
  const wA = new ProfileWriter(main.out, columns);
  const share = plantedShare(main.options);
  for (let i = 0; i < main.options.profiles; i++) {
    const p = (i > 100 && gA.rng.next() < share ? gA.planted(gA, 'out', 'out', truth) : undefined) ?? gA.fresh();
    await wA.write(p);
  }
  await wA.close();
  let peerProfiles = 0;
  if (peer) {
    const gB = new Generator({ ...peer.options, seed: peer.options.seed }, universe);
    const wB = new ProfileWriter(peer.out, columns);
    const shareB = plantedShare(peer.options);
    for (let i = 0; i < peer.options.profiles; i++) {
      let p: GeneratedProfile | undefined;
      const u = gB.rng.next();
      // Half of the planted profiles relate to people of the main file (pairs across the files).
      if (u < shareB / 2) p = gB.planted(gA, 'out', 'peer', truth);
      else if (i > 100 && u < shareB) p = gB.planted(gB, 'peer', 'peer', truth);
      await wB.write(p ?? gB.fresh());
    }
    await wB.close();
    peerProfiles = peer.options.profiles;
  }
  if (truthPath) {
    const s = createWriteStream(truthPath);
    for (const t of truth) s.write(`${JSON.stringify(t)}\n`);
    s.end();
    await once(s, 'finish');
  }
  return { profiles: main.options.profiles, peerProfiles, planted: truth.length };
}
