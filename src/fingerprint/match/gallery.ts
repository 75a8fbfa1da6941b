/**
 * A 1:N gallery of persons (up to ten fingers each) with ranked search.
 *
 * Storage: persons live in fixed-size shards of SharedArrayBuffers (compact minutiae ~5 bytes per
 * minutia, a 256-byte pre-filter signature per finger), so worker threads search them in place.
 * Search: pre-filter (spectral signatures, summed over the probe's fingers) → shortlist of
 * persons → full comparison of every probe finger with the same finger of each shortlisted
 * person → ranking by the summed evidence −log10(FMR) over fingers.
 *
 * Removal overwrites the person's data with zeros at once and frees the slot: it does not wait
 * for a compaction, and a search running at that moment drops the person from its answer.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { OpenPrumError } from '../../errors/index.ts';
import { startWorker } from '../../util/workers.ts';
import type { FingerPosition, MinutiaeTemplate } from '../types.ts';
import { FMR_FLOOR } from './calibration.ts';
import { compactSize, writeCompact } from './compact.ts';
import { normalise as normaliseMinutiae, type NormalisedMinutiae } from './prepare.ts';
import { SLOTS, UNKNOWN_POSITION, scan, type FingerResult, type ProbeFinger, type ScanRequest, type ScanResult, type ShardData } from './search-core.ts';
import { SIGNATURE_BYTES, spectralSignature } from './spectral.ts';

export type { FingerResult } from './search-core.ts';

export interface Finger {
  /** 1–10 (ANSI/NIST-ITL / ISO finger position), 0 = unknown (then compared with every finger). */
  readonly position: FingerPosition;
  readonly template: MinutiaeTemplate;
}

/** A single template (its `position` field is used) or up to ten fingers. */
export type SearchProbe = MinutiaeTemplate | readonly Finger[];

export interface GalleryOptions {
  /** Worker threads for large searches (default: available cores, at most 8; 0 or 1 = never). */
  readonly threads?: number;
  /** Searches needing fewer finger comparisons than this run on the calling thread (default 20,000). */
  readonly parallelThreshold?: number;
}

export interface SearchOptions {
  /** Candidates returned (default 10). */
  readonly limit?: number;
  /**
   * Pre-filter before full comparison. Default: on when the gallery holds more than 2,000
   * persons. Off = every person compared fully (slow; for measuring what the pre-filter costs).
   */
  readonly prefilter?: boolean;
  /**
   * Persons kept by the pre-filter. Default: 2 % of the gallery (at least 200) for probes of four
   * or more fingers, 10 % (at least 500) for fewer fingers, whose pre-filter evidence is weaker.
   */
  readonly shortlist?: number;
}

export interface Candidate {
  readonly ref: string;
  /** Sum of the per-finger scores. */
  readonly score: number;
  /**
   * Product of the per-finger FMRs (fingers taken as independent), floored at 1e-9: the chance
   * that an unrelated person matches this well. It is per comparison: across a gallery of N
   * persons, expect about N × fmr such candidates by chance.
   */
  readonly fmr: number;
  readonly perFinger: readonly FingerResult[];
}

const SHARD_CAPACITY = 4096;
const MAX_REF_LENGTH = 256;

class Shard implements ShardData {
  readonly capacity = SHARD_CAPACITY;
  readonly alive = new Uint8Array(new SharedArrayBuffer(SHARD_CAPACITY));
  readonly positions = new Uint8Array(new SharedArrayBuffer(SHARD_CAPACITY * SLOTS));
  offsets = new Int32Array(new SharedArrayBuffer(SHARD_CAPACITY * SLOTS * 4));
  readonly lengths = new Int32Array(SHARD_CAPACITY * SLOTS);
  readonly signatures = new Int8Array(new SharedArrayBuffer(SHARD_CAPACITY * SLOTS * SIGNATURE_BYTES));
  arena = new Uint8Array(new SharedArrayBuffer(1 << 20));
  used = 0;
  wasted = 0;
  count = 0;
  readonly refs: (string | undefined)[] = new Array<string | undefined>(SHARD_CAPACITY);
  /** Bumped whenever a slot is freed, so a search that started before can tell. */
  readonly generation = new Uint32Array(SHARD_CAPACITY);
  readonly free: number[] = [];
  next = 0;

  /** Reserves `bytes` in the arena, compacting or growing it as needed. */
  reserve(bytes: number): number {
    if (this.used + bytes > this.arena.length) {
      const live = this.used - this.wasted;
      const size = Math.max(this.arena.length, 2 ** Math.ceil(Math.log2((live + bytes) * 1.5)));
      const next = new Uint8Array(new SharedArrayBuffer(size));
      // Copy only live templates: this is also where removed templates' space is reclaimed. New
      // buffers, not in-place moves: a search running in a worker keeps reading the old ones.
      const offsets = new Int32Array(new SharedArrayBuffer(SHARD_CAPACITY * SLOTS * 4));
      let at = 0;
      for (let i = 0; i < SHARD_CAPACITY * SLOTS; i++) {
        const len = this.lengths[i]!;
        if (len === 0) continue;
        next.set(this.arena.subarray(this.offsets[i]!, this.offsets[i]! + len), at);
        offsets[i] = at;
        at += len;
      }
      this.arena = next;
      this.offsets = offsets;
      this.used = at;
      this.wasted = 0;
    }
    const at = this.used;
    this.used += bytes;
    return at;
  }
}

interface Location {
  shard: number;
  slot: number;
}

interface PreparedFinger {
  position: number;
  prepared: NormalisedMinutiae;
}

export class Gallery {
  private readonly shards: Shard[] = [];
  private readonly index = new Map<string, Location>();
  private readonly threads: number;
  private readonly parallelThreshold: number;
  private workers: Worker[] = [];
  private nextJob = 0;
  private readonly pending = new Map<number, { resolve: (r: ScanResult) => void; reject: (e: Error) => void }>();

  constructor(options: GalleryOptions = {}) {
    this.threads = Math.max(0, Math.floor(options.threads ?? Math.min(8, availableParallelism())));
    this.parallelThreshold = options.parallelThreshold ?? 20_000;
  }

  /** Number of persons. */
  get size(): number {
    return this.index.size;
  }

  has(ref: string): boolean {
    return this.index.has(ref);
  }

  /**
   * Enrols a person. Throws `conflict` if the reference is taken, `fingerprint-minutiae-too-few`
   * or `fingerprint-template-invalid` if a finger cannot be used (nothing is stored then).
   */
  add(ref: string, fingers: SearchProbe): void {
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > MAX_REF_LENGTH) {
      throw new OpenPrumError('input-invalid', `A gallery reference must be a string of 1–${MAX_REF_LENGTH} characters.`);
    }
    if (this.index.has(ref)) throw new OpenPrumError('conflict', `The gallery already holds a person with reference ${ref}; remove it first.`, { ref });
    const list = normalise(fingers);
    const prepared: PreparedFinger[] = list.map((f) => ({ position: f.position, prepared: normaliseMinutiae(f.template) }));
    let si = this.shards.findIndex((s) => s.count < s.capacity);
    if (si < 0) {
      this.shards.push(new Shard());
      si = this.shards.length - 1;
    }
    const sh = this.shards[si]!;
    const slot = sh.free.length > 0 ? sh.free.pop()! : sh.next++;
    const base = slot * SLOTS;
    let unknownSlot = 0;
    for (const f of prepared) {
      // Known positions go to their own slot; unknown ones fill the slots no known finger uses.
      let s: number;
      if (f.position > 0) s = f.position - 1;
      else {
        while (prepared.some((g) => g.position === unknownSlot + 1)) unknownSlot++;
        s = unknownSlot++;
      }
      const bytes = compactSize(f.prepared.x.length);
      const at = sh.reserve(bytes);
      writeCompact(f.prepared, sh.arena, at);
      sh.offsets[base + s] = at;
      sh.lengths[base + s] = bytes;
      sh.positions[base + s] = f.position > 0 ? f.position : UNKNOWN_POSITION;
      spectralSignature(f.prepared, sh.signatures, (base + s) * SIGNATURE_BYTES);
    }
    sh.refs[slot] = ref;
    sh.alive[slot] = 1;
    sh.count++;
    this.index.set(ref, { shard: si, slot });
  }

  /** Removes a person; their templates are overwritten at once. Returns false if the reference was unknown. */
  remove(ref: string): boolean {
    const loc = this.index.get(ref);
    if (loc === undefined) return false;
    const sh = this.shards[loc.shard]!;
    const base = loc.slot * SLOTS;
    sh.alive[loc.slot] = 0;
    for (let s = 0; s < SLOTS; s++) {
      const len = sh.lengths[base + s]!;
      if (len > 0) sh.arena.fill(0, sh.offsets[base + s]!, sh.offsets[base + s]! + len);
      sh.wasted += len;
      sh.lengths[base + s] = 0;
      sh.offsets[base + s] = 0;
      sh.positions[base + s] = 0;
    }
    sh.signatures.fill(0, base * SIGNATURE_BYTES, (base + SLOTS) * SIGNATURE_BYTES);
    sh.refs[loc.slot] = undefined;
    sh.generation[loc.slot]!++;
    sh.free.push(loc.slot);
    sh.count--;
    this.index.delete(ref);
    return true;
  }

  /** Ranked candidates for a probe (one finger or a ten-print). */
  async search(probe: SearchProbe, options: SearchOptions = {}): Promise<Candidate[]> {
    const limit = Math.max(1, Math.floor(options.limit ?? 10));
    const fingers = normalise(probe);
    // Unusable fingers of a multi-finger probe are left out; a probe with none usable is an error.
    const usable: ProbeFinger[] = [];
    let firstError: unknown;
    for (const f of fingers) {
      try {
        const p = normaliseMinutiae(f.template);
        const compact = new Uint8Array(compactSize(p.x.length));
        writeCompact(p, compact, 0);
        const signature = new Int8Array(SIGNATURE_BYTES);
        spectralSignature(p, signature, 0);
        usable.push({ position: f.position, compact, signature });
      } catch (e) {
        firstError ??= e;
      }
    }
    if (usable.length === 0) throw firstError;
    const persons = this.size;
    if (persons === 0) return [];
    const prefilter = options.prefilter ?? persons > 2000;
    const shortlist = prefilter
      ? Math.max(1, Math.floor(options.shortlist ?? (usable.length >= 4 ? Math.max(200, Math.ceil(persons * 0.02)) : Math.max(500, Math.ceil(persons * 0.1)))))
      : 0;
    const generations = this.shards.map((s) => s.generation.slice());
    const work = (prefilter ? shortlist : persons) * usable.length;
    const threads = Math.min(this.threads, this.shards.length);
    let results: ScanResult[];
    if (threads <= 1 || work < this.parallelThreshold) {
      results = [scan({ shards: this.shards, shardIndexes: this.shards.map((_, i) => i), probe: usable, shortlist, limit })];
    } else {
      // Shards are dealt to the workers round-robin; each keeps its share of the shortlist.
      const parts: number[][] = Array.from({ length: threads }, () => []);
      this.shards.forEach((_, i) => parts[i % threads]!.push(i));
      const shards: ShardData[] = this.shards.map((s) => ({ capacity: s.capacity, alive: s.alive, positions: s.positions, offsets: s.offsets, signatures: s.signatures, arena: s.arena }));
      results = await Promise.all(
        parts.map((idx, w) => {
          const share = idx.reduce((n, i) => n + this.shards[i]!.count, 0);
          const part = shortlist > 0 ? Math.max(1, Math.ceil((shortlist * share) / persons) + 8) : 0;
          return this.run(w, { shards, shardIndexes: idx, probe: usable, shortlist: part, limit });
        }),
      );
    }
    const out: Candidate[] = [];
    const hits = results.flatMap((r) => r.hits).sort((a, b) => b.evidence - a.evidence || b.score - a.score);
    for (const h of hits) {
      const sh = this.shards[h.shard]!;
      const ref = sh.refs[h.slot];
      // Removed (or removed and replaced) while the search ran: not an answer any more.
      if (ref === undefined || sh.generation[h.slot] !== generations[h.shard]![h.slot]) continue;
      out.push({ ref, score: h.score, fmr: Math.max(FMR_FLOOR, Math.pow(10, -h.evidence)), perFinger: h.perFinger });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Stops the worker threads (a later search starts them again). */
  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }

  private run(w: number, request: ScanRequest): Promise<ScanResult> {
    while (this.workers.length <= w) {
      const worker = startWorker(new URL('./search-worker.ts', import.meta.url));
      worker.on('message', (m: { id: number; result?: ScanResult; error?: string }) => {
        const p = this.pending.get(m.id);
        if (p === undefined) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
        if (m.error !== undefined) p.reject(new OpenPrumError('internal', `A search worker failed: ${m.error}`));
        else p.resolve(m.result!);
      });
      worker.on('error', (e) => {
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(new OpenPrumError('internal', `A search worker failed: ${e.message}`, {}, { cause: e }));
        }
      });
      this.workers.push(worker);
    }
    const worker = this.workers[w]!;
    // Keep the process alive while an answer is due; idle workers must not hold it open.
    worker.ref();
    const id = this.nextJob++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, request });
    });
  }
}

function normalise(probe: SearchProbe): Finger[] {
  const list: Finger[] = Array.isArray(probe) ? [...(probe as readonly Finger[])] : [{ position: (probe as MinutiaeTemplate).position ?? 0, template: probe as MinutiaeTemplate }];
  if (list.length === 0 || list.length > 10) throw new OpenPrumError('input-invalid', `A person has 1–10 fingers; got ${list.length}.`, { fingers: list.length });
  const seen = new Set<number>();
  for (const f of list) {
    if (!Number.isInteger(f.position) || f.position < 0 || f.position > 10) {
      throw new OpenPrumError('input-invalid', `Finger position ${String(f.position)} is not 0–10 (plain impressions 11–15 and palms are not supported).`, { position: f.position });
    }
    if (f.position > 0 && seen.has(f.position)) throw new OpenPrumError('input-invalid', `Finger position ${f.position} is given twice.`, { position: f.position });
    seen.add(f.position);
  }
  return list;
}
