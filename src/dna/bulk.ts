/**
 * Bulk comparison of two DNA files (Prüm Decision Art. 4: the unidentified profiles of one file
 * against all profiles of another, or any two files): read both into shared rows, run the tier A
 * and tier B tasks of bulk-core.ts on worker threads, weigh the hits and estimate how many hits
 * chance alone would give.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/workers.ts';
import { OpenPrumError, type ErrorCode } from '../errors/index.ts';
import type { LocusInfo } from './loci.ts';
import {
  designate, HIT_FIELDS, rowTriples, runTask, type BulkData, type BulkTask, type SideData, type TaskResult, type TierBSetup,
} from './bulk-core.ts';
import { estimateChanceHits, type ChanceEstimate } from './chance.ts';
import { checkTheta, DEFAULT_THETA, shippedFrequencyTable, type FrequencyTable } from './frequencies.ts';
import { readProfileFile, type ReadFileOptions } from './formats.ts';
import { BULK_LAYOUT, comboSlots, partSlots, rowClass, tripleGroup } from './index-keys.ts';
import type { HitQuality } from './rule.ts';
import { LocusTable, StoreBuilder, type ProfileStore, type Refusal } from './store.ts';
import { HitWeigher } from './weight.ts';

/** One hit of a bulk comparison, as written to the output (one JSON line each). */
export interface BulkHit {
  readonly a: string;
  readonly b: string;
  readonly quality: HitQuality;
  readonly matchingLoci: number;
  readonly comparedLoci: number;
  readonly mismatches: 0 | 1;
  readonly rmp: number;
}

export interface CompareOptions extends ReadFileOptions {
  /**
   * Worker threads; 0 or 1 runs in this thread. Default: the number of cores (at most 8) when the
   * files hold more than 200,000 profiles together, else this thread (starting workers costs more
   * than it saves on small files).
   */
  readonly threads?: number;
  readonly frequencies?: FrequencyTable;
  readonly theta?: number;
  /** Pairs sampled for the chance-hit estimate (default 400,000). */
  readonly chanceSamples?: number;
  /** Progress for people (stderr in the CLI). */
  readonly log?: (message: string) => void;
}

export interface FileSummary {
  readonly file: string;
  readonly format: string;
  readonly records: number;
  readonly compared: number;
  readonly refused: readonly Refusal[];
}

export interface CompareSummary {
  readonly a: FileSummary;
  readonly b: FileSummary;
  readonly hits: number;
  readonly hitsByQuality: Readonly<Record<HitQuality, number>>;
  readonly expectedChanceHits: ChanceEstimate;
  readonly frequencies: string;
  readonly theta: number;
  /** Candidates verified with the full rule, per tier (for the curious and the benchmarks). */
  readonly candidates: { readonly tierA: number; readonly tierB: number };
  readonly threads: number;
  readonly seconds: { readonly read: number; readonly match: number; readonly weigh: number; readonly total: number };
  /** CPU time of the whole process (all threads) while matching: what the matching costs on an idle machine. */
  readonly cpuSeconds: { readonly read: number; readonly match: number };
}

export interface CompareResult {
  readonly hits: BulkHit[];
  readonly summary: CompareSummary;
}

/** Reads two files into stores over one locus table, so their rows can be compared directly. */
export async function readStores(pathA: string, pathB: string, options: ReadFileOptions = {}): Promise<{ a: ProfileStore; b: ProfileStore; refusedA: Refusal[]; refusedB: Refusal[]; formatA: string; formatB: string; recordsA: number; recordsB: number }> {
  const table = new LocusTable();
  const ba = new StoreBuilder(table);
  const sa = await readProfileFile(pathA, (enc, ref, kind, line) => ba.add(enc, ref, kind, line), options);
  const bb = new StoreBuilder(table);
  const sb = await readProfileFile(pathB, (enc, ref, kind, line) => bb.add(enc, ref, kind, line), options);
  const width = table.size;
  return {
    a: ba.finish(width), b: bb.finish(width), refusedA: ba.refused, refusedB: bb.refused,
    formatA: sa.format, formatB: sb.format, recordsA: sa.records, recordsB: sb.records,
  };
}

/** What a read worker sends back (see read-worker.ts). */
interface ReadResult {
  readonly format: string;
  readonly records: number;
  readonly refused: Refusal[];
  readonly infos: LocusInfo[];
  readonly geno: Uint32Array[];
  readonly count: number;
  readonly width: number;
  readonly rows: Uint16Array;
  readonly kinds: Uint8Array;
  readonly lines: Int32Array;
  readonly refs: string[];
}

function readInWorker(path: string, options: ReadFileOptions, log: (m: string) => void): { done: Promise<ReadResult>; stop: () => Promise<number> } {
  const { format, lenientDesignations, equivalence } = options;
  const w = startWorker(new URL('./read-worker.ts', import.meta.url), { path, options: { format, lenientDesignations, equivalence } });
  const done = new Promise<ReadResult>((resolve, reject) => {
    w.on('message', (m: { progress?: number; ok?: boolean; error?: { code: string; message: string; details?: Record<string, unknown> } }) => {
      if (m.progress !== undefined) {
        if (m.progress % 500_000 === 0 && m.progress > 0) log(`${path}: read ${m.progress.toLocaleString('en')} lines`);
        return;
      }
      if (m.ok) resolve(m as unknown as ReadResult);
      else reject(new OpenPrumError(m.error!.code as ErrorCode, m.error!.message, m.error!.details));
    });
    w.on('error', (e) => reject(new OpenPrumError('internal', `a reading worker failed: ${e.message}`, {}, { cause: e })));
  });
  return { done, stop: () => w.terminate() };
}

/**
 * Reads the two files side by side on two worker threads, each with its own locus table, then
 * renumbers both onto one table so that their rows compare directly.
 */
export async function readStoresParallel(pathA: string, pathB: string, options: ReadFileOptions = {}, log: (m: string) => void = () => {}): Promise<Awaited<ReturnType<typeof readStores>>> {
  const ra = readInWorker(pathA, options, log);
  const rb = readInWorker(pathB, options, log);
  let parts: ReadResult[];
  try {
    parts = await Promise.all([ra.done, rb.done]);
  } finally {
    await Promise.all([ra.stop(), rb.stop()]);
  }
  const table = new LocusTable();
  const maps = parts.map((p) => {
    const slotMap = p.infos.map((info) => table.ensureSlot(info));
    const gidMap = p.geno.map((g, s) => {
      const m = new Uint16Array(g.length);
      for (let gid = 1; gid < g.length; gid++) {
        const packed = g[gid]!;
        if (packed !== 0) m[gid] = table.intern(slotMap[s]!, packed & 0xfff, (packed >>> 12) & 0xfff);
      }
      return m;
    });
    return { slotMap, gidMap };
  });
  const width = table.size;
  const stores = parts.map((p, i): ProfileStore => {
    const { slotMap, gidMap } = maps[i]!;
    const rows = new Uint16Array(new SharedArrayBuffer(Math.max(2, p.count * width * 2)));
    for (let r = 0; r < p.count; r++) {
      const from = r * p.width;
      const to = r * width;
      for (let s = 0; s < p.width; s++) {
        const g = p.rows[from + s]!;
        if (g !== 0) rows[to + slotMap[s]!] = gidMap[s]![g]!;
      }
    }
    return { table, count: p.count, width, rows, refs: p.refs, kinds: p.kinds, lines: p.lines };
  });
  return {
    a: stores[0]!, b: stores[1]!, refusedA: parts[0]!.refused, refusedB: parts[1]!.refused,
    formatA: parts[0]!.format, formatB: parts[1]!.format, recordsA: parts[0]!.records, recordsB: parts[1]!.records,
  };
}

function classes(store: ProfileStore, parts: number[][]): Uint8Array {
  const cls = new Uint8Array(new SharedArrayBuffer(Math.max(1, store.count)));
  for (let r = 0; r < store.count; r++) cls[r] = rowClass(store.rows, r * store.width, parts, store.table.geno);
  return cls;
}

/** Prepares the plain data every task needs. */
export function bulkData(a: ProfileStore, b: ProfileStore): BulkData {
  if (a.table !== b.table || a.width !== b.width) throw new Error('both stores must share one locus table and width');
  const table = a.table;
  const parts = partSlots(BULK_LAYOUT, table);
  const sideA: SideData = { rows: a.rows, count: a.count, cls: classes(a, parts) };
  const sideB: SideData = { rows: b.rows, count: b.count, cls: classes(b, parts) };
  const groups = new Uint8Array(a.width);
  for (let s = 0; s < a.width; s++) groups[s] = table.infos[s]!.amelogenin ? 255 : tripleGroup(table.infos[s]!.key);
  const geno = table.geno.slice(0, a.width);
  const tally = (store: ProfileStore, side: SideData): { count: Int32Array; triples: Float64Array } => {
    const count = new Int32Array(BULK_LAYOUT.classes);
    const triples = new Float64Array(BULK_LAYOUT.classes);
    for (let r = 0; r < store.count; r++) {
      const c = side.cls[r]!;
      count[c]!++;
      triples[c]! += rowTriples({ width: a.width, groups, geno }, store.rows, r * a.width);
    }
    return { count, triples };
  };
  const ta = tally(a, sideA);
  const tb = tally(b, sideB);
  return {
    width: a.width,
    amelSlot: table.amelSlot,
    geno,
    groups,
    parts,
    comboSlots: comboSlots(BULK_LAYOUT, parts),
    designated: designate(ta.count, tb.count, ta.triples, tb.triples),
    a: sideA,
    b: sideB,
  };
}

/**
 * The tasks: tier B directions first (the long ones), then the tier A combos to fill the gaps. Each
 * tier B direction builds its tables once per thread, so it is split only when there are threads to
 * spare.
 */
function tasksFor(d: BulkData, chunks: number): BulkTask[] {
  const tasks: BulkTask[] = [];
  const split = (n: number, table: 'a' | 'b'): void => {
    const size = Math.max(1, Math.ceil(n / chunks));
    for (let from = 0; from < n; from += size) tasks.push({ kind: 'tier-b', table, from, to: Math.min(n, from + size) });
  };
  let tableA = false;
  let tableB = false;
  for (const v of d.designated) {
    if (v === 1) tableA = true;
    if (v === 2) tableB = true;
  }
  if (tableA) split(d.b.count, 'a');
  if (tableB) split(d.a.count, 'b');
  for (let c = 0; c < BULK_LAYOUT.combos.length; c++) tasks.push({ kind: 'tier-a', combo: c });
  return tasks;
}

/** Runs the tasks on `threads` workers (or here if threads ≤ 1); results in task order. */
async function runTasks(d: BulkData, tasks: BulkTask[], threads: number, log: (m: string) => void): Promise<TaskResult[]> {
  const results: TaskResult[] = new Array<TaskResult>(tasks.length);
  let done = 0;
  const report = (): void => {
    done++;
    if (done % Math.max(1, Math.floor(tasks.length / 10)) === 0 || done === tasks.length) log(`matching: ${done} of ${tasks.length} tasks done`);
  };
  if (threads <= 1) {
    const cache = new Map<string, TierBSetup>();
    tasks.forEach((t, i) => {
      results[i] = runTask(d, t, cache);
      report();
    });
    return results;
  }
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let running = 0;
      const feed = (w: Worker): void => {
        if (next >= tasks.length) {
          if (running === 0) resolve();
          return;
        }
        const i = next++;
        running++;
        const onMessage = (r: TaskResult): void => {
          w.off('message', onMessage);
          results[i] = r;
          running--;
          report();
          feed(w);
        };
        w.on('message', onMessage);
        w.postMessage(tasks[i]);
      };
      for (let k = 0; k < threads; k++) {
        const w = startWorker(new URL('./bulk-worker.ts', import.meta.url), d);
        w.on('error', (e) => reject(new OpenPrumError('internal', `a comparison worker failed: ${e.message}`, {}, { cause: e })));
        workers.push(w);
      }
      for (const w of workers) feed(w);
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

/** Compares two stores read by readStores. */
export async function compareStores(a: ProfileStore, b: ProfileStore, options: CompareOptions = {}): Promise<{ hits: BulkHit[]; chance: ChanceEstimate; candidates: { tierA: number; tierB: number }; threads: number; matchSeconds: number; matchCpuSeconds: number; weighSeconds: number; frequencies: string; theta: number }> {
  const log = options.log ?? (() => {});
  const theta = checkTheta(options.theta ?? DEFAULT_THETA);
  const freq = options.frequencies ?? shippedFrequencyTable();
  const threads = Math.max(0, Math.floor(options.threads ?? (a.count + b.count > 200_000 ? Math.min(8, availableParallelism()) : 0)));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const d = bulkData(a, b);
  const tasks = tasksFor(d, Math.max(1, Math.floor(threads / 2)));
  log(`matching ${a.count.toLocaleString('en')} × ${b.count.toLocaleString('en')} profiles on ${threads <= 1 ? 'this thread' : `${threads} worker threads`}`);
  const running = runTasks(d, tasks, threads, log);
  // While the workers match, this thread estimates the chance hits (it only needs the rows).
  const weigher = new HitWeigher(a.table, freq, theta);
  const tc = performance.now();
  const chance = estimateChanceHits(d.width, d.geno, d.amelSlot, weigher, d.a, d.b, options.chanceSamples ?? 400_000);
  const chanceSeconds = (performance.now() - tc) / 1000;
  const results = await running;
  let nHits = 0;
  const candidates = { tierA: 0, tierB: 0 };
  results.forEach((r, i) => {
    nHits += r.hits.length / HIT_FIELDS;
    if (tasks[i]!.kind === 'tier-a') candidates.tierA += r.candidates;
    else candidates.tierB += r.candidates;
  });
  const flat = new Int32Array(nHits * HIT_FIELDS);
  let at = 0;
  for (const r of results) {
    flat.set(r.hits, at);
    at += r.hits.length;
  }
  const order = Array.from({ length: nHits }, (_, i) => i).sort((x, y) => flat[x * HIT_FIELDS]! - flat[y * HIT_FIELDS]! || flat[x * HIT_FIELDS + 1]! - flat[y * HIT_FIELDS + 1]!);
  const t1 = performance.now();
  const cpu1 = process.cpuUsage(cpu0);
  const hits: BulkHit[] = [];
  const w = d.width;
  for (const i of order) {
    const o = i * HIT_FIELDS;
    const ia = flat[o]!;
    const ib = flat[o + 1]!;
    const mism = flat[o + 2]!;
    hits.push({
      a: a.refs[ia]!,
      b: b.refs[ib]!,
      quality: mism === 1 ? 'near-match' : flat[o + 5] ? 'wildcard-match' : 'match',
      matchingLoci: flat[o + 3]!,
      comparedLoci: flat[o + 4]!,
      mismatches: mism as 0 | 1,
      rmp: weigher.rows(w, a.rows, ia * w, b.rows, ib * w),
    });
  }
  const t2 = performance.now();
  // With worker threads the chance estimate ran during the matching; in one thread it did not.
  const matchSeconds = (t1 - t0) / 1000 - (threads <= 1 ? chanceSeconds : 0);
  return { hits, chance, candidates, threads, matchSeconds, matchCpuSeconds: (cpu1.user + cpu1.system) / 1e6, weighSeconds: (t2 - t1) / 1000 + (threads <= 1 ? chanceSeconds : 0), frequencies: freq.name, theta };
}

/** Every hit between the profiles of file A and those of file B. */
export async function compareFiles(pathA: string, pathB: string, options: CompareOptions = {}): Promise<CompareResult> {
  const log = options.log ?? (() => {});
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  // Worker threads for large files (reading and matching), none for small ones.
  let threads = options.threads;
  if (threads === undefined) {
    let bytes = 0;
    for (const p of [pathA, pathB]) {
      try {
        bytes += (await stat(p)).size;
      } catch {
        // readProfileFile reports the missing file
      }
    }
    threads = bytes > 30_000_000 ? Math.min(8, availableParallelism()) : 0;
  }
  log(`reading ${pathA} and ${pathB}${threads >= 2 ? ' side by side' : ''}`);
  const readOptions: ReadFileOptions = {
    ...options,
    onProgress: (n) => {
      options.onProgress?.(n);
      if (n % 500_000 === 0 && n > 0) log(`read ${n.toLocaleString('en')} lines`);
    },
  };
  const s = threads >= 2 ? await readStoresParallel(pathA, pathB, readOptions, log) : await readStores(pathA, pathB, readOptions);
  const read = (performance.now() - start) / 1000;
  const cpuRead = process.cpuUsage(cpuStart);
  log(`read ${s.recordsA.toLocaleString('en')} + ${s.recordsB.toLocaleString('en')} profiles in ${read.toFixed(1)} s (refused ${s.refusedA.length} + ${s.refusedB.length})`);
  const r = await compareStores(s.a, s.b, { ...options, threads });
  const byQuality: Record<HitQuality, number> = { 'match': 0, 'wildcard-match': 0, 'near-match': 0 };
  for (const h of r.hits) byQuality[h.quality]++;
  const summary: CompareSummary = {
    a: { file: pathA, format: s.formatA, records: s.recordsA, compared: s.a.count, refused: s.refusedA },
    b: { file: pathB, format: s.formatB, records: s.recordsB, compared: s.b.count, refused: s.refusedB },
    hits: r.hits.length,
    hitsByQuality: byQuality,
    expectedChanceHits: r.chance,
    frequencies: r.frequencies,
    theta: r.theta,
    candidates: r.candidates,
    threads: r.threads,
    seconds: { read, match: r.matchSeconds, weigh: r.weighSeconds, total: (performance.now() - start) / 1000 },
    cpuSeconds: { read: (cpuRead.user + cpuRead.system) / 1e6, match: r.matchCpuSeconds },
  };
  return { hits: r.hits, summary };
}
