/**
 * `openprum dna compare|search|generate`: the DNA engine from the command line, without a node or a
 * database. Hits go to --out (or stdout) as JSON Lines; progress and the summary go to stderr; the
 * summary is also written as JSON with --summary FILE.
 */
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import {
  alleleEquivalence, checkTheta, compareFiles, DnaIndex, loadFrequencyTable, readDnaFile, shippedFrequencyTable,
  writeSyntheticFiles, type BulkHit, type CompareSummary, type FrequencyTable, type HitQuality, type ReadFileOptions,
} from '../dna/index.ts';

interface EngineFlags {
  readonly frequencies?: string;
  readonly population?: string;
  readonly theta: string;
  readonly lenientAlleles?: boolean;
  readonly equivalence?: string;
  readonly summary?: string;
  readonly out?: string;
}

function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

function frequencies(flags: EngineFlags): FrequencyTable {
  return flags.frequencies ? loadFrequencyTable(flags.frequencies, flags.population) : shippedFrequencyTable(flags.population);
}

function theta(flags: EngineFlags): number {
  const t = Number(flags.theta);
  if (!/^[0-9]*\.?[0-9]+$/.test(flags.theta)) throw new OpenPrumError('usage', `--theta must be a number such as 0.01, not ${JSON.stringify(flags.theta)}`);
  return checkTheta(t);
}

function readOptions(flags: EngineFlags): ReadFileOptions {
  let equivalence;
  if (flags.equivalence) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(flags.equivalence, 'utf8'));
    } catch (e) {
      throw new OpenPrumError('file-unreadable', `cannot read the allele equivalence table ${flags.equivalence}: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null) throw new OpenPrumError('input-invalid', `${flags.equivalence}: expected {"FGA": {"22.2": "22"}, ...}`);
    equivalence = alleleEquivalence(json as Record<string, Record<string, string>>);
  }
  return { lenientDesignations: flags.lenientAlleles, equivalence };
}

/** Writes hits as JSON Lines to a file or stdout. */
async function writeHits(path: string | undefined, hits: readonly BulkHit[]): Promise<void> {
  const stream = path ? createWriteStream(path) : process.stdout;
  if (path) {
    await new Promise<void>((resolve, reject) => {
      (stream as ReturnType<typeof createWriteStream>).once('open', () => resolve());
      stream.once('error', (e) => reject(new OpenPrumError('file-unreadable', `cannot write ${path}: ${e.message}`)));
    });
  }
  let buf: string[] = [];
  const flush = async (): Promise<void> => {
    if (buf.length === 0) return;
    const ok = stream.write(`${buf.join('\n')}\n`);
    buf = [];
    if (!ok) await once(stream, 'drain');
  };
  for (const h of hits) {
    buf.push(JSON.stringify({ a: h.a, b: h.b, quality: h.quality, matchingLoci: h.matchingLoci, comparedLoci: h.comparedLoci, mismatches: h.mismatches, rmp: h.rmp }));
    if (buf.length >= 10_000) await flush();
  }
  await flush();
  if (path) {
    stream.end();
    await once(stream, 'finish');
  }
}

function reportRefused(label: string, refused: readonly { ref: string; line: number; reason: string }[]): void {
  if (refused.length === 0) return;
  say(`${label}: ${refused.length} profile(s) refused by the inclusion rule:`);
  for (const r of refused.slice(0, 20)) say(`  line ${r.line}: ${r.reason}`);
  if (refused.length > 20) say(`  ... and ${refused.length - 20} more (all are in --summary)`);
}

function sayQualities(byQuality: Readonly<Record<HitQuality, number>>): string {
  return `match ${byQuality.match}, wildcard-match ${byQuality['wildcard-match']}, near-match ${byQuality['near-match']}`;
}

export function registerDnaCommands(program: Command): void {
  const dna = program.command('dna').description('DNA profiles: comparison and search (Prüm Decision Arts. 2-4)');

  const engineOptions = (c: Command): Command => c
    .option('--out <file>', 'write the hits there as JSON Lines (default: stdout)')
    .option('--summary <file>', 'also write the summary there as JSON')
    .option('--frequencies <file>', 'allele-frequency table (JSON like the shipped one, or CSV locus,allele,frequency[,n_alleles])')
    .option('--population <name>', 'table to use: a shipped one (e.g. norstr-europe) or one in --frequencies')
    .option('--theta <n>', 'NRC II subpopulation correction θ', '0.01')
    .option('--lenient-alleles', 'read every letters-only allele value as the wildcard (default: only known designations)')
    .option('--equivalence <file>', 'allele equivalence table, JSON {"FGA": {"22.2": "22"}} (default: none, micro-variants compare exactly)');

  engineOptions(
    dna
      .command('compare <a> <b>')
      .description('Every hit between the profiles of file A and those of file B (JSON Lines or CSV)')
      .option('--threads <n>', 'worker threads (default: the number of cores for large files, none for small ones)'),
  ).action(async (a: string, b: string, flags: EngineFlags & { threads?: string }) => {
    let threads: number | undefined;
    if (flags.threads !== undefined) {
      threads = Number(flags.threads);
      if (!/^[0-9]+$/.test(flags.threads)) throw new OpenPrumError('usage', `--threads must be a whole number, not ${JSON.stringify(flags.threads)}`);
    }
    const result = await compareFiles(a, b, {
      ...readOptions(flags),
      frequencies: frequencies(flags),
      theta: theta(flags),
      threads,
      log: say,
    });
    await writeHits(flags.out, result.hits);
    const s = result.summary;
    reportRefused(a, s.a.refused);
    reportRefused(b, s.b.refused);
    say(summaryText(s));
    if (flags.summary) writeFileSync(flags.summary, `${JSON.stringify(s, null, 2)}\n`);
  });

  engineOptions(
    dna
      .command('search <profiles>')
      .description('Search a few profiles against a DNA file, as the node answers a search (Prüm Decision Art. 3)')
      .requiredOption('--against <file>', 'the DNA file to search (JSON Lines or CSV)'),
  ).action(async (profilesFile: string, flags: EngineFlags & { against: string }) => {
    const start = performance.now();
    const opts = readOptions(flags);
    const db = await readDnaFile(flags.against, { ...opts, onProgress: (n) => n % 500_000 === 0 && say(`read ${n.toLocaleString('en')} lines of ${flags.against}`) });
    const index = new DnaIndex({ frequencies: frequencies(flags), theta: theta(flags) });
    index.addAll(db.profiles);
    const queries = await readDnaFile(profilesFile, opts);
    say(`indexed ${index.size.toLocaleString('en')} profiles of ${flags.against} in ${((performance.now() - start) / 1000).toFixed(1)} s; searching ${queries.profiles.length} profile(s)`);
    const hits: BulkHit[] = [];
    const byQuality: Record<HitQuality, number> = { 'match': 0, 'wildcard-match': 0, 'near-match': 0 };
    let chance = 0;
    const t0 = performance.now();
    for (const q of queries.profiles) {
      for (const h of index.search(q)) {
        hits.push({ a: q.ref, b: h.ref, quality: h.quality, matchingLoci: h.matchingLoci, comparedLoci: h.comparedLoci, mismatches: h.mismatches, rmp: h.rmp });
        byQuality[h.quality]++;
      }
      chance += index.expectedChanceHits(q);
    }
    const searchSeconds = (performance.now() - t0) / 1000;
    await writeHits(flags.out, hits);
    reportRefused(flags.against, db.refused);
    reportRefused(profilesFile, queries.refused);
    const summary = {
      profiles: { file: profilesFile, searched: queries.profiles.length, refused: queries.refused },
      against: { file: flags.against, indexed: index.size, refused: db.refused },
      hits: hits.length,
      hitsByQuality: byQuality,
      expectedChanceHits: chance,
      seconds: { search: searchSeconds, total: (performance.now() - start) / 1000 },
    };
    say(`${hits.length} hit(s) (${sayQualities(byQuality)}); expected by chance ${chance.toPrecision(3)}; searches took ${(searchSeconds * 1000).toFixed(1)} ms in all`);
    if (flags.summary) writeFileSync(flags.summary, `${JSON.stringify(summary, null, 2)}\n`);
  });

  dna
    .command('generate')
    .description('Write a synthetic national DNA file (made-up profiles drawn from allele frequencies) for tests and benchmarks')
    .requiredOption('--out <file>', 'file to write (.jsonl or .csv)')
    .option('--profiles <n>', 'number of profiles', '1000')
    .option('--country <XX>', 'country: kit mix, population and reference prefix', 'NL')
    .option('--seed <n>', 'random seed (same seed, same file)', '1')
    .option('--partial <share>', 'share of partial traces (6-9 loci)', '0.05')
    .option('--wildcards <share>', 'share of profiles with a wildcard allele', '0.02')
    .option('--truth <file>', 'write the planted pairs (duplicates, near matches, relatives, traces) as JSON Lines')
    .option('--peer-out <file>', 'also write a second country\'s file with pairs planted across the two')
    .option('--peer-country <XX>', 'country of the second file', 'DE')
    .option('--peer-profiles <n>', 'profiles of the second file (default: as many as --profiles)')
    .action(async (flags: { out: string; profiles: string; country: string; seed: string; partial: string; wildcards: string; truth?: string; peerOut?: string; peerCountry: string; peerProfiles?: string }) => {
      const whole = (name: string, v: string): number => {
        if (!/^[0-9]+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new OpenPrumError('usage', `${name} must be a positive whole number, not ${JSON.stringify(v)}`);
        return Number(v);
      };
      const share = (name: string, v: string): number => {
        const x = Number(v);
        if (!/^[0-9]*\.?[0-9]+$/.test(v) || x > 1) throw new OpenPrumError('usage', `${name} must be a share from 0 to 1, not ${JSON.stringify(v)}`);
        return x;
      };
      const profiles = whole('--profiles', flags.profiles);
      const seed = whole('--seed', flags.seed);
      const common = { partialRate: share('--partial', flags.partial), wildcardRate: share('--wildcards', flags.wildcards) };
      const start = performance.now();
      const r = await writeSyntheticFiles(
        { out: flags.out, options: { profiles, country: flags.country, seed, ...common } },
        flags.peerOut ? { out: flags.peerOut, options: { profiles: flags.peerProfiles ? whole('--peer-profiles', flags.peerProfiles) : profiles, country: flags.peerCountry, seed: seed + 1_000_003, ...common } } : undefined,
        flags.truth,
      );
      say(`wrote ${r.profiles} profiles to ${flags.out}${flags.peerOut ? ` and ${r.peerProfiles} to ${flags.peerOut}` : ''}; ${r.planted} planted pairs${flags.truth ? ` listed in ${flags.truth}` : ''} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
    });
}

function summaryText(s: CompareSummary): string {
  const c = s.expectedChanceHits;
  return [
    `profiles: ${s.a.file} ${s.a.records} read, ${s.a.compared} compared, ${s.a.refused.length} refused; ${s.b.file} ${s.b.records} read, ${s.b.compared} compared, ${s.b.refused.length} refused`,
    `hits: ${s.hits} (${sayQualities(s.hitsByQuality)})`,
    `expected chance hits between unrelated profiles: ${c.expected.toPrecision(3)} ± ${c.standardError.toPrecision(2)} (from ${c.sampledPairs} sampled pairs; frequencies ${s.frequencies}, θ = ${s.theta})`,
    `time: read ${s.seconds.read.toFixed(1)} s, matching ${s.seconds.match.toFixed(1)} s, weighing ${s.seconds.weigh.toFixed(1)} s, total ${s.seconds.total.toFixed(1)} s (${s.threads <= 1 ? 'one thread' : `${s.threads} worker threads`}); CPU time: read ${s.cpuSeconds.read.toFixed(1)} s, matching ${s.cpuSeconds.match.toFixed(1)} s`,
  ].join('\n');
}
