/**
 * The part of a 1:N search that runs where the data is: on the main thread for small galleries,
 * in worker threads for large ones. Gallery data lives in SharedArrayBuffers ("shards") so
 * workers read it without copies.
 */
import { compareDetailed } from './compare.ts';
import { readCompact } from './compact.ts';
import { scoreToFmr } from './calibration.ts';
import type { PreparedTemplate } from './prepare.ts';
import { SIGNATURE_BYTES, spectralSimilarity } from './spectral.ts';

/** Finger slots per person: positions 1–10. A finger of unknown position (0) takes a free slot and matches any probe finger. */
export const SLOTS = 10;
export const UNKNOWN_POSITION = 11;

/** Plain views of one shard (all backed by SharedArrayBuffers). */
export interface ShardData {
  /** Persons this shard can hold. */
  readonly capacity: number;
  /** 1 = slot holds a live person. */
  readonly alive: Uint8Array;
  /** capacity × SLOTS: finger position in the slot (1–10, 11 unknown, 0 empty). */
  readonly positions: Uint8Array;
  /** capacity × SLOTS: byte offset of the compact template in `arena`. */
  readonly offsets: Int32Array;
  /** capacity × SLOTS × SIGNATURE_BYTES spectral signatures. */
  readonly signatures: Int8Array;
  readonly arena: Uint8Array;
}

export interface ProbeFinger {
  /** 1–10, or 0 for unknown. */
  readonly position: number;
  readonly compact: Uint8Array;
  readonly signature: Int8Array;
}

export interface ScanRequest {
  readonly shards: readonly ShardData[];
  /** Which shards (by index in `shards`) this scan covers. */
  readonly shardIndexes: readonly number[];
  readonly probe: readonly ProbeFinger[];
  /** Persons kept after the pre-filter (per scan), or 0 to compare every person fully. */
  readonly shortlist: number;
  /** Candidates returned (per scan). */
  readonly limit: number;
}

export interface FingerResult {
  readonly position: number;
  readonly score: number;
  readonly fmr: number;
}

export interface ScanHit {
  readonly shard: number;
  readonly slot: number;
  /** Sum of −log10(FMR) over the compared fingers: the ranking key. */
  readonly evidence: number;
  readonly score: number;
  readonly perFinger: readonly FingerResult[];
}

export interface ScanResult {
  readonly hits: ScanHit[];
  /** Persons looked at and full comparisons made (for the benches). */
  readonly persons: number;
  readonly comparisons: number;
}

/** Gallery slots a probe finger is compared with: the slot of its position, plus unknown-position slots. */
function slotsFor(positions: Uint8Array, base: number, probePosition: number, out: number[]): void {
  out.length = 0;
  for (let s = 0; s < SLOTS; s++) {
    const pos = positions[base + s]!;
    if (pos === 0) continue;
    if (probePosition === 0 || pos === UNKNOWN_POSITION || pos === probePosition) out.push(s);
  }
}

export function scan(req: ScanRequest): ScanResult {
  const probes = req.probe.map((f) => ({ ...f, prepared: readCompact(f.compact, 0) as PreparedTemplate }));
  const slots: number[] = [];
  // Stage 1: pre-filter score per person (sum over probe fingers of the best spectral similarity).
  type Entry = { shard: number; slot: number; pre: number };
  let entries: Entry[] = [];
  let persons = 0;
  for (const si of req.shardIndexes) {
    const sh = req.shards[si]!;
    for (let slot = 0; slot < sh.capacity; slot++) {
      if (sh.alive[slot] !== 1) continue;
      persons++;
      if (req.shortlist <= 0) {
        entries.push({ shard: si, slot, pre: 0 });
        continue;
      }
      const base = slot * SLOTS;
      let pre = 0;
      for (const f of probes) {
        slotsFor(sh.positions, base, f.position, slots);
        let best = -1;
        for (const s of slots) {
          const v = spectralSimilarity(f.signature, 0, sh.signatures, (base + s) * SIGNATURE_BYTES);
          if (v > best) best = v;
        }
        if (slots.length > 0) pre += best;
      }
      entries.push({ shard: si, slot, pre });
    }
  }
  if (req.shortlist > 0 && entries.length > req.shortlist) {
    entries.sort((a, b) => b.pre - a.pre);
    entries = entries.slice(0, req.shortlist);
  }
  // Stage 2: full comparison. With many probe fingers, first only the two richest (most
  // minutiae) for every shortlisted person, then all fingers for the best tenth of those: the
  // mate is rarely outside the top tenth after two full finger comparisons plus the pre-filter.
  const order = probes.map((_, i) => i).sort((a, b) => probes[b]!.prepared.n - probes[a]!.prepared.n);
  const twoStep = req.shortlist > 0 && probes.length > 3 && entries.length > 100;
  let comparisons = 0;
  const results = new Map<Entry, (FingerResult | null)[]>();
  const compareFinger = (e: Entry, fi: number): FingerResult | null => {
    const sh = req.shards[e.shard]!;
    const base = e.slot * SLOTS;
    const f = probes[fi]!;
    slotsFor(sh.positions, base, f.position, slots);
    if (slots.length === 0) return null;
    let bestScore = 0;
    for (const s of slots) {
      const g = readCompact(sh.arena, sh.offsets[base + s]!);
      const v = compareDetailed(f.prepared, g).score;
      comparisons++;
      if (v > bestScore) bestScore = v;
    }
    return { position: f.position, score: bestScore, fmr: scoreToFmr(bestScore) };
  };
  const evidenceOf = (r: (FingerResult | null)[]): number => r.reduce((s, x) => s + (x === null ? 0 : -Math.log10(x.fmr)), 0);
  let finalists = entries;
  if (twoStep) {
    const first = order.slice(0, 2);
    const scored = entries.map((e) => {
      const r: (FingerResult | null)[] = new Array<FingerResult | null>(probes.length).fill(null);
      for (const fi of first) r[fi] = compareFinger(e, fi);
      results.set(e, r);
      return { e, ev: evidenceOf(r) };
    });
    scored.sort((a, b) => b.ev - a.ev);
    finalists = scored.slice(0, Math.max(req.limit, 20, Math.ceil(entries.length / 10))).map((x) => x.e);
  }
  const hits: ScanHit[] = [];
  for (const e of finalists) {
    const r = results.get(e) ?? new Array<FingerResult | null>(probes.length).fill(null);
    for (let fi = 0; fi < probes.length; fi++) if (r[fi] === null) r[fi] = compareFinger(e, fi);
    const perFinger = r.filter((x): x is FingerResult => x !== null);
    hits.push({ shard: e.shard, slot: e.slot, evidence: evidenceOf(perFinger), score: perFinger.reduce((s, x) => s + x.score, 0), perFinger });
  }
  hits.sort((a, b) => b.evidence - a.evidence || b.score - a.score);
  return { hits: hits.slice(0, req.limit), persons, comparisons };
}
