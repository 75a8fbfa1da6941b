/**
 * Benchmarks of the DNA engine (issue 4), each beside the brute force doing the same work:
 *
 *  1. one complete profile searched against N complete profiles (DnaIndex.search), median and p95;
 *  2. a 6-locus trace searched against the same N;
 *  3. `openprum dna compare` of two files of N profiles each (mixed kits, 5 % partial traces,
 *     wildcards), end to end in its own process: reading, matching, weighing, peak memory.
 *
 * The brute force compares with every stored profile, using the same rule code without an index
 * (DnaIndex.searchExhaustive, verifyRows). For the comparison it runs on a sample of file A and is
 * extrapolated to the whole file; its hits on the sample are checked against the comparison's.
 *
 *   node --import tsx bench/dna.ts            # N = 100,000
 *   node --import tsx bench/dna.ts --full     # N = 1,000,000 (several minutes; about 1 GB of files in bench/out)
 *   options: --profiles N  --queries Q  --seed S  --format csv|jsonl  --threads T  --skip-search  --skip-compare
 *
 * Files go to bench/out/ (ignored by git). Timings vary with the load of the machine (other work
 * shares its cores); the script prints the load average before and after.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/util/random.ts';
import { DnaIndex, readProfileFile, writeSyntheticFiles, type DnaProfile } from '../src/dna/index.ts';
import { bulkData, readStores } from '../src/dna/bulk.ts';
import { verifyRows } from '../src/dna/verify.ts';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const N = Number(value('--profiles', flag('--full') ? '1000000' : '100000'));
const Q = Number(value('--queries', '1000'));
const seed = Number(value('--seed', '1'));
const format = value('--format', 'csv');
const threads = value('--threads', String(Math.min(8, availableParallelism())));
const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'bench', 'out');
mkdirSync(out, { recursive: true });

const lines: string[] = [];
function report(line = ''): void {
  lines.push(line);
  process.stdout.write(`${line}\n`);
}
function log(m: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
}
const ms = (x: number): string => (x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(0));
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
const cpuSeconds = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

const load0 = loadavg();
report(`# DNA engine benchmark, N = ${N.toLocaleString('en')}`);
report();
report(`- machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}`);
report(`- command: node --import tsx bench/dna.ts ${args.join(' ')}`.trimEnd());
report(`- seed ${seed}; files in bench/out/`);
report();

// ------------------------------------------------------------------------------------------------
// 1 and 2: search.

if (!flag('--skip-search')) {
  const dbFile = join(out, `dna-db-${N}.${format}`);
  const queryFile = join(out, `dna-queries-${N}.jsonl`);
  log(`writing ${N} complete profiles to ${dbFile} and ${Q} queries`);
  // Complete reference profiles of mixed kits, no traces, no wildcards; the queries come from
  // another country and include planted duplicates, near matches and relatives of the database.
  await writeSyntheticFiles(
    { out: dbFile, options: { profiles: N, country: 'NL', seed, partialRate: 0, traceRate: 0, wildcardRate: 0, donorTraceRate: 0 } },
    { out: queryFile, options: { profiles: Q, country: 'DE', seed: seed + 1, partialRate: 0, traceRate: 0, wildcardRate: 0, duplicateRate: 0.2, nearMatchRate: 0.05, relativeRate: 0.05, donorTraceRate: 0 } },
  );
  const index = new DnaIndex();
  const heap0 = process.memoryUsage();
  const t = performance.now();
  await readProfileFile(dbFile, (enc, ref, kind) => {
    if (enc.inclusionProblem(kind) === undefined) index.add(enc.toProfile(ref, kind));
  }, { format: format === 'csv' ? 'csv' : 'jsonl' });
  const buildSeconds = (performance.now() - t) / 1000;
  const heap1 = process.memoryUsage();
  log(`indexed ${index.size} profiles in ${buildSeconds.toFixed(1)} s`);
  const queries: DnaProfile[] = [];
  await readProfileFile(queryFile, (enc, ref, kind) => {
    if (enc.inclusionProblem(kind) === undefined) queries.push(enc.toProfile(ref, kind));
  });
  // 6-locus traces: six loci of each query (the short ones a degraded trace keeps, when it has them).
  const rng = new Random(seed + 2);
  const short = ['D2S441', 'D22S1045', 'D10S1248', 'D3S1358', 'D8S1179', 'D19S433', 'vWA', 'TH01', 'D1S1656', 'D21S11'];
  const stains: DnaProfile[] = queries.filter((q) => Object.values(q.loci).filter((g) => !g.includes('*')).length >= 7).map((q) => {
    const names = Object.keys(q.loci).filter((l) => l !== 'AMEL' && !q.loci[l]!.includes('*'));
    const pick = names.filter((l) => short.includes(l)).sort(() => rng.next() - 0.5);
    const rest = names.filter((l) => !short.includes(l)).sort(() => rng.next() - 0.5);
    const six = [...pick, ...rest].slice(0, 6);
    return { ref: `${q.ref}-S`, kind: 'unidentified', loci: Object.fromEntries(six.map((l) => [l, q.loci[l]!])) };
  });
  const timeAll = (set: DnaProfile[], fn: (p: DnaProfile) => unknown[]): { times: number[]; hits: number } => {
    let hits = 0;
    const times: number[] = [];
    for (const p of set) {
      const t0 = performance.now();
      hits += fn(p).length;
      times.push(performance.now() - t0);
    }
    return { times, hits };
  };
  timeAll(queries.slice(0, 50), (p) => index.search(p)); // warm up the JIT
  const full = timeAll(queries, (p) => index.search(p));
  const stain = timeAll(stains, (p) => index.search(p));
  const sample = Math.min(20, queries.length);
  const bruteFull = timeAll(queries.slice(0, sample), (p) => index.searchExhaustive(p));
  const bruteStain = timeAll(stains.slice(0, sample), (p) => index.searchExhaustive(p));
  // The index and the brute force agree on the sample.
  for (let i = 0; i < sample; i++) {
    for (const [set, what] of [[queries, 'complete'], [stains, 'trace']] as const) {
      const a = index.search(set[i]!).map((h) => `${h.ref} ${h.quality}`).sort().join();
      const b = index.searchExhaustive(set[i]!).map((h) => `${h.ref} ${h.quality}`).sort().join();
      if (a !== b) throw new Error(`index and brute force differ on ${what} query ${set[i]!.ref}`);
    }
  }
  report(`## Search (DnaIndex), ${index.size.toLocaleString('en')} complete profiles of mixed kits`);
  report();
  report(`Index built in ${buildSeconds.toFixed(1)} s from ${format.toUpperCase()} (reading included); heap grew by ${((heap1.heapUsed - heap0.heapUsed) / 1e6).toFixed(0)} MB, typed arrays by ${((heap1.arrayBuffers - heap0.arrayBuffers) / 1e6).toFixed(0)} MB.`);
  report();
  report('| query | searches | hits | median ms | p95 ms | max ms | brute force median ms (20 queries) | ratio |');
  report('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, r, b] of [['complete profile', full, bruteFull], ['6-locus trace', stain, bruteStain]] as const) {
    const med = quantile(r.times, 0.5);
    const bmed = quantile(b.times, 0.5);
    report(`| ${name} | ${r.times.length} | ${r.hits} | ${ms(med)} | ${ms(quantile(r.times, 0.95))} | ${ms(Math.max(...r.times))} | ${ms(bmed)} | ${(bmed / med).toFixed(0)}× |`);
  }
  report();
}

// ------------------------------------------------------------------------------------------------
// 3: bulk comparison, end to end.

if (!flag('--skip-compare')) {
  const a = join(out, `dna-a-${N}.${format}`);
  const b = join(out, `dna-b-${N}.${format}`);
  log(`writing two files of ${N} profiles (mixed kits, 5 % partial traces, 2 % wildcards)`);
  const g0 = performance.now();
  await writeSyntheticFiles(
    { out: a, options: { profiles: N, country: 'NL', seed: seed + 10, partialRate: 0.05, wildcardRate: 0.02 } },
    { out: b, options: { profiles: N, country: 'DE', seed: seed + 11, partialRate: 0.05, wildcardRate: 0.02 } },
    join(out, `dna-truth-${N}.jsonl`),
  );
  log(`written in ${((performance.now() - g0) / 1000).toFixed(0)} s; running openprum dna compare`);
  const hitsFile = join(out, `dna-hits-${N}.jsonl`);
  const summaryFile = join(out, `dna-summary-${N}.json`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'dna-compare-cli.ts'), a, b, '--out', hitsFile, '--summary', summaryFile, '--threads', threads], { cwd: root, stdio: ['ignore', 'inherit', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    process.stderr.write(c);
  });
  const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const wall = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`dna compare failed with exit code ${code}`);
  const usage = JSON.parse(err.trim().split('\n').pop()!) as { maxRssMB: number; cpuUserSeconds: number; cpuSystemSeconds: number };
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
    hits: number; hitsByQuality: Record<string, number>; candidates: { tierA: number; tierB: number };
    expectedChanceHits: { expected: number; standardError: number }; seconds: { read: number; match: number; weigh: number; total: number };
    cpuSeconds: { read: number; match: number };
    a: { records: number; compared: number }; b: { records: number; compared: number };
  };

  // Brute force on a sample of A against all of B, in this process.
  log('brute force on a sample');
  const s = await readStores(a, b);
  const d = bulkData(s.a, s.b);
  // The sample: 100 profiles of A chosen at random and up to 100 that the comparison found hits for
  // (so that the check below has hits to check).
  const rng = new Random(seed + 3);
  const rowOf = new Map(s.a.refs.map((r, i) => [r, i]));
  const hitRows = [...new Set(readFileSync(hitsFile, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { a: string }).a))].map((r) => rowOf.get(r)!);
  const sampleRows = [...new Set([...Array.from({ length: Math.min(100, s.a.count) }, () => rng.int(s.a.count)), ...hitRows.filter(() => rng.next() < 100 / Math.max(1, hitRows.length))])];
  const K = sampleRows.length;
  const outv = new Int32Array(4);
  const w = d.width;
  const bruteHits = new Set<string>();
  const c0 = cpuSeconds();
  const bt = performance.now();
  for (const ia of sampleRows) {
    for (let ib = 0; ib < d.b.count; ib++) {
      if (verifyRows(d.geno, d.amelSlot, w, d.a.rows, ia * w, d.b.rows, ib * w, outv)) bruteHits.add(`${s.a.refs[ia]} ${s.b.refs[ib]}`);
    }
  }
  const bruteSample = (performance.now() - bt) / 1000;
  const bruteCpu = cpuSeconds() - c0;
  const bruteAll = (bruteSample * s.a.count) / K;
  const duration = (x: number): string => (x >= 7200 ? `${(x / 3600).toFixed(1)} h` : x >= 120 ? `${(x / 60).toFixed(1)} min` : `${x.toFixed(1)} s`);
  // The comparison found exactly the brute force's hits for the sampled profiles.
  const sampled = new Set(sampleRows.map((r) => s.a.refs[r]));
  const found = new Set(readFileSync(hitsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { a: string; b: string }).filter((h) => sampled.has(h.a)).map((h) => `${h.a} ${h.b}`));
  const same = found.size === bruteHits.size && [...bruteHits].every((h) => found.has(h));

  report(`## openprum dna compare, ${summary.a.records.toLocaleString('en')} × ${summary.b.records.toLocaleString('en')} profiles (${format.toUpperCase()}, mixed kits, 5 % partial, 2 % wildcards)`);
  report();
  report(`Command: \`node --import tsx bench/dna-compare-cli.ts A B --out hits.jsonl --summary summary.json --threads ${threads}\` (the CLI command in its own process).`);
  report();
  report('| figure | value |');
  report('| --- | ---: |');
  report(`| end to end (process start to exit) | ${wall.toFixed(1)} s |`);
  report(`| reading both files (wall; CPU) | ${summary.seconds.read.toFixed(1)} s; ${summary.cpuSeconds.read.toFixed(1)} s |`);
  report(`| matching, tiers A and B on ${threads} worker threads (wall; CPU of all threads) | ${summary.seconds.match.toFixed(1)} s; ${summary.cpuSeconds.match.toFixed(1)} s |`);
  report(`| weighing hits (RMP) | ${summary.seconds.weigh.toFixed(2)} s |`);
  report(`| CPU time of the process (all threads) | ${(usage.cpuUserSeconds + usage.cpuSystemSeconds).toFixed(1)} s |`);
  report(`| peak memory (max RSS) | ${usage.maxRssMB.toFixed(0)} MB |`);
  report(`| profiles compared | ${summary.a.compared.toLocaleString('en')} × ${summary.b.compared.toLocaleString('en')} |`);
  report(`| hits | ${summary.hits} (match ${summary.hitsByQuality.match}, wildcard-match ${summary.hitsByQuality['wildcard-match']}, near-match ${summary.hitsByQuality['near-match']}) |`);
  report(`| expected chance hits | ${summary.expectedChanceHits.expected.toFixed(0)} ± ${summary.expectedChanceHits.standardError.toFixed(0)} |`);
  report(`| candidates verified (tier A, tier B) | ${summary.candidates.tierA.toLocaleString('en')}, ${summary.candidates.tierB.toLocaleString('en')} |`);
  report(`| brute force, ${K} profiles of A × all of B | ${bruteSample.toFixed(1)} s wall, ${bruteCpu.toFixed(1)} s CPU, one thread |`);
  report(`| brute force extrapolated to all of A (one thread) | ${duration(bruteAll)} |`);
  report(`| ratio brute force (one thread) / matching (wall) | ${(bruteAll / summary.seconds.match).toFixed(0)}× |`);
  report(`| ratio brute force CPU / matching CPU | ${((bruteCpu * s.a.count) / K / summary.cpuSeconds.match).toFixed(0)}× |`);
  report(`| hits of the sampled profiles: comparison = brute force | ${same ? 'yes' : 'NO'} (${bruteHits.size} hits) |`);
  report();
}

const load1 = loadavg();
report(`Load average at the end: ${load1.map((x) => x.toFixed(2)).join(' ')} (other processes share the ${availableParallelism()} cores, so wall times are noisy).`);
try {
  report(`Git: ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim()} (plus uncommitted work).`);
} catch {
  // not a git checkout
}
