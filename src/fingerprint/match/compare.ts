/**
 * 1:1 comparison of two prepared templates.
 *
 * 1. Edge join: every neighbourhood edge of the probe is looked up in the candidate's edge buckets;
 *    pairs of edges whose length and both relative directions agree within tolerance are kept.
 *    Each such edge pair is evidence that its two start minutiae correspond ("votes").
 * 2. Roots: the minutia pairs with most votes seed pairings.
 * 3. Growth: from a root, the pairing spreads along matching edges, best-fitting edge first, to
 *    minutiae not paired yet. Each step only needs to agree with its neighbour, which is what makes
 *    the method tolerant of elastic skin distortion; a loose rotation check stops drift.
 * 4. Global check: pairs that a single rigid motion cannot place within a distortion-sized
 *    tolerance are dropped (random pairings of different fingers drift; real ones do not).
 * 5. Consolidation: minutiae the edge graph did not reach are paired by position after alignment.
 * 6. Score: agreeing structure (edges and pairs) times the share of the common area's minutiae
 *    that were paired.
 */
import { binning, byteAngleDiff, insideHull, queryKeys, type PreparedTemplate } from './prepare.ts';

/** What a comparison found (for diagnostics and the ten-print per-finger report). */
export interface CompareDetail {
  score: number;
  /** Paired minutiae that passed the global check. */
  pairs: number;
  /** Pairs confirmed by at least two matching edges. */
  supported: number;
  /** Matching edges between paired minutiae (each direction counted). */
  edges: number;
  /** Further pairs found by position after alignment. */
  extra: number;
  /** Minutiae of probe / candidate inside the other's area after alignment. */
  overlapProbe: number;
  overlapCandidate: number;
}

const EMPTY: CompareDetail = Object.freeze({ score: 0, pairs: 0, supported: 0, edges: 0, extra: 0, overlapProbe: 0, overlapCandidate: 0 });

// Scratch space reused between comparisons (one set per thread), grown on demand.
let cap = 0;
let mP = new Uint16Array(0);
let mC = new Uint16Array(0);
let mErr = new Float32Array(0);
let mOrder = new Uint32Array(0);
let heapKey = new Float32Array(0);
let heapVal = new Uint32Array(0);
let votes = new Float32Array(128 * 128);
let touched = new Int32Array(128 * 128);
const byFrom = new Uint32Array(257);
const pairedP = new Int16Array(256);
const pairedC = new Int16Array(256);
const bestP = new Int16Array(256);
const support = new Uint16Array(256);
const pairList = new Uint16Array(512);
const bestList = new Uint16Array(512);

function ensure(size: number): void {
  if (size <= cap) return;
  cap = Math.max(size, cap * 2, 4096);
  const p = new Uint16Array(cap);
  p.set(mP);
  mP = p;
  const c = new Uint16Array(cap);
  c.set(mC);
  mC = c;
  const e = new Float32Array(cap);
  e.set(mErr);
  mErr = e;
  mOrder = new Uint32Array(cap);
  heapKey = new Float32Array(cap);
  heapVal = new Uint32Array(cap);
}
ensure(4096);

const queryCache = new WeakMap<PreparedTemplate, Uint32Array>();

function queryOf(t: PreparedTemplate): Uint32Array {
  let q = queryCache.get(t);
  if (q === undefined) {
    q = queryKeys(t);
    queryCache.set(t, q);
  }
  return q;
}

/** Similarity of two prepared templates (0 = nothing in common; see README for the scale). Roughly symmetric. */
export function compare(probe: PreparedTemplate, candidate: PreparedTemplate): number {
  return compareDetailed(probe, candidate).score;
}

export function compareDetailed(probe: PreparedTemplate, candidate: PreparedTemplate): CompareDetail {
  const p = probe.params;
  const n = probe.n;
  const m = candidate.n;
  const query = queryOf(probe);
  const bins = binning(p);
  const tolL = bins.lenTol;
  const tolA = bins.angTol;
  const invL = 1 / tolL;
  const invA = 1 / tolA;
  const bucketStart = candidate.bucketStart;
  const cLen = candidate.edgeLen;
  const cA = candidate.edgeA;
  const cB = candidate.edgeB;
  const pLen = probe.edgeLen;
  const pA = probe.edgeA;
  const pB = probe.edgeB;

  // 1. Edge join: each probe edge against the candidate edges in its (up to 8) buckets.
  let count = 0;
  for (let q = 0; q < query.length; q++) {
    const v = query[q]!;
    const bucket = v >>> 16;
    const start = bucketStart[bucket]!;
    const end = bucketStart[bucket + 1]!;
    if (start === end) continue;
    const pe = v & 0xffff;
    const pl = pLen[pe]!;
    const pa = pA[pe]!;
    const pb = pB[pe]!;
    for (let ce = start; ce < end; ce++) {
      let dl = pl - cLen[ce]!;
      if (dl < 0) dl = -dl;
      if (dl > tolL) continue;
      let da = (pa - cA[ce]!) & 255;
      if (da > 128) da = 256 - da;
      if (da > tolA) continue;
      let db = (pb - cB[ce]!) & 255;
      if (db > 128) db = 256 - db;
      if (db > tolA) continue;
      if (count >= cap) ensure(count + 1);
      mP[count] = pe;
      mC[count] = ce;
      const rl = dl * invL;
      const ra = da * invA;
      const rb = db * invA;
      mErr[count] = (rl * rl + ra * ra + rb * rb) / 3;
      count++;
    }
  }
  if (count === 0) return EMPTY;

  // 2. Votes per start pair, and the matches grouped by probe start minutia (counting sort).
  if (votes.length < n * m) {
    votes = new Float32Array(n * m);
    touched = new Int32Array(n * m);
  }
  const pFrom = probe.edgeFrom;
  const cFrom = candidate.edgeFrom;
  let nt = 0;
  byFrom.fill(0, 0, n + 1);
  for (let k = 0; k < count; k++) {
    const i = pFrom[mP[k]!]!;
    const key = i * m + cFrom[mC[k]!]!;
    if (votes[key] === 0) touched[nt++] = key;
    votes[key]! += 1 - mErr[k]!;
    byFrom[i + 1]!++;
  }
  for (let i = 0; i < n; i++) byFrom[i + 1]! += byFrom[i]!;
  for (let k = 0; k < count; k++) mOrder[byFrom[pFrom[mP[k]!]!]!++] = k;
  for (let i = n; i > 0; i--) byFrom[i] = byFrom[i - 1]!;
  byFrom[0] = 0;
  const rootKeys = topKeys(nt, Math.min(p.roots, nt));
  for (let t = 0; t < nt; t++) votes[touched[t]!] = 0;

  // 3–4. Grow a pairing from each root and check it globally; keep the best (cheap criterion).
  let bestValue = -1;
  let bestCount = 0;
  bestP.fill(-1, 0, n);
  for (let r = 0; r < rootKeys.length; r++) {
    const key = rootKeys[r]!;
    const ri = (key / m) | 0;
    const rj = key - ri * m;
    // A root already inside the best pairing would only regrow (a subset of) that pairing.
    if (bestP[ri] === rj) continue;
    const np = grow(probe, candidate, ri, rj);
    const kept = globalCheck(probe, candidate, np);
    if (kept < 2) continue;
    const edges = countEdges(probe, candidate, np);
    const value = edges + kept;
    if (value > bestValue) {
      bestValue = value;
      bestP.fill(-1, 0, n);
      bestCount = 0;
      for (let t = 0; t < np; t++) {
        const i = pairList[2 * t]!;
        const j = pairList[2 * t + 1]!;
        if (pairedP[i] !== j) continue;
        bestP[i] = j;
        bestList[2 * bestCount] = i;
        bestList[2 * bestCount + 1] = j;
        bestCount++;
      }
    }
  }
  if (bestCount < 2) return EMPTY;

  // 5–6. Full evaluation of the best pairing only.
  pairedP.fill(-1, 0, n);
  pairedC.fill(-1, 0, m);
  for (let t = 0; t < bestCount; t++) {
    const i = bestList[2 * t]!;
    const j = bestList[2 * t + 1]!;
    pairedP[i] = j;
    pairedC[j] = i;
    pairList[2 * t] = i;
    pairList[2 * t + 1] = j;
  }
  return finish(probe, candidate, bestCount);
}

/** For diagnostics: the candidate minutia paired with each probe minutia in the last comparison (-1 = none). */
export function lastPairing(n: number): Int16Array {
  return bestP.slice(0, n);
}

/** Keys of the `k` touched vote cells with the largest votes, best first. */
function topKeys(nt: number, k: number): number[] {
  const out: number[] = [];
  const val: number[] = [];
  for (let t = 0; t < nt; t++) {
    const key = touched[t]!;
    const v = votes[key]!;
    if (out.length === k && v <= val[k - 1]!) continue;
    let pos = out.length < k ? out.length : k - 1;
    while (pos > 0 && val[pos - 1]! < v) {
      if (pos < k) {
        out[pos] = out[pos - 1]!;
        val[pos] = val[pos - 1]!;
      }
      pos--;
    }
    out[pos] = key;
    val[pos] = v;
  }
  return out;
}

function grow(probe: PreparedTemplate, cand: PreparedTemplate, ri: number, rj: number): number {
  pairedP.fill(-1, 0, probe.n);
  pairedC.fill(-1, 0, cand.n);
  const rot = (probe.angle[ri]! - cand.angle[rj]!) & 255;
  const rotTol = Math.round((probe.params.rotationTolerance / (2 * Math.PI)) * 256);
  const pTo = probe.edgeTo;
  const cTo = cand.edgeTo;
  const cFrom = cand.edgeFrom;
  let np = 0;
  let hs = 0;
  let i = ri;
  let j = rj;
  while (true) {
    // Pair (i, j) and queue the matching edges leaving it (binary min-heap on the fit error).
    pairedP[i] = j;
    pairedC[j] = i;
    pairList[2 * np] = i;
    pairList[2 * np + 1] = j;
    np++;
    for (let t = byFrom[i]!, end = byFrom[i + 1]!; t < end; t++) {
      const k = mOrder[t]!;
      if (cFrom[mC[k]!] !== j) continue;
      let pos = hs++;
      const key = mErr[k]!;
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (heapKey[parent]! <= key) break;
        heapKey[pos] = heapKey[parent]!;
        heapVal[pos] = heapVal[parent]!;
        pos = parent;
      }
      heapKey[pos] = key;
      heapVal[pos] = k;
    }
    // Next pair: the best-fitting queued edge leading to two unpaired minutiae.
    let found = false;
    while (hs > 0) {
      const k = heapVal[0]!;
      hs--;
      if (hs > 0) {
        const key = heapKey[hs]!;
        const val = heapVal[hs]!;
        let pos = 0;
        while (true) {
          let child = 2 * pos + 1;
          if (child >= hs) break;
          if (child + 1 < hs && heapKey[child + 1]! < heapKey[child]!) child++;
          if (heapKey[child]! >= key) break;
          heapKey[pos] = heapKey[child]!;
          heapVal[pos] = heapVal[child]!;
          pos = child;
        }
        heapKey[pos] = key;
        heapVal[pos] = val;
      }
      const a = pTo[mP[k]!]!;
      const b = cTo[mC[k]!]!;
      if (pairedP[a] !== -1 || pairedC[b] !== -1) continue;
      if (byteAngleDiff((probe.angle[a]! - cand.angle[b]!) & 255, rot) > rotTol) continue;
      i = a;
      j = b;
      found = true;
      break;
    }
    if (!found) return np;
  }
}

/** Least-squares rotation + translation taking candidate points onto probe points (screen coordinates). */
let fitCxp = 0;
let fitCyp = 0;
let fitCxc = 0;
let fitCyc = 0;
let fitCos = 1;
let fitSin = 0;

function fitPairs(probe: PreparedTemplate, cand: PreparedTemplate, np: number): void {
  let cxp = 0;
  let cyp = 0;
  let cxc = 0;
  let cyc = 0;
  let k = 0;
  for (let t = 0; t < np; t++) {
    const i = pairList[2 * t]!;
    const j = pairList[2 * t + 1]!;
    if (pairedP[i] !== j) continue;
    cxp += probe.x[i]!;
    cyp += probe.y[i]!;
    cxc += cand.x[j]!;
    cyc += cand.y[j]!;
    k++;
  }
  cxp /= k;
  cyp /= k;
  cxc /= k;
  cyc /= k;
  let sdot = 0;
  let scross = 0;
  let sa = 0;
  let ca = 0;
  for (let t = 0; t < np; t++) {
    const i = pairList[2 * t]!;
    const j = pairList[2 * t + 1]!;
    if (pairedP[i] !== j) continue;
    const ux = cand.x[j]! - cxc;
    const uy = cand.y[j]! - cyc;
    const vx = probe.x[i]! - cxp;
    const vy = probe.y[i]! - cyp;
    sdot += ux * vx + uy * vy;
    scross += ux * vy - uy * vx;
    // Direction differences, for when the points are too few or too close for a stable fit.
    const d = (((probe.angle[i]! - cand.angle[j]!) & 255) * 2 * Math.PI) / 256;
    ca += Math.cos(d);
    sa += Math.sin(d);
  }
  const r = Math.hypot(sdot, scross);
  if (k >= 3 && r > 50) {
    fitCos = sdot / r;
    fitSin = scross / r;
  } else {
    // ISO angles turn counter-clockwise with y up; on screen (y down) the same turn is negative.
    const ra = Math.hypot(ca, sa) || 1;
    fitCos = ca / ra;
    fitSin = -sa / ra;
  }
  fitCxp = cxp;
  fitCyp = cyp;
  fitCxc = cxc;
  fitCyc = cyc;
}

/**
 * Drops pairs that one rigid motion cannot place within a distortion-sized tolerance (it grows
 * with the distance from the pairing's centre). Two passes: the fit improves once outliers go.
 */
function globalCheck(probe: PreparedTemplate, cand: PreparedTemplate, np: number): number {
  fitPairs(probe, cand, np);
  let kept = np;
  for (let pass = 0; pass < 2 && kept >= 3; pass++) {
    kept = 0;
    for (let t = 0; t < np; t++) {
      const i = pairList[2 * t]!;
      const j = pairList[2 * t + 1]!;
      if (pairedP[i] !== j) continue;
      const vx = probe.x[i]! - fitCxp;
      const vy = probe.y[i]! - fitCyp;
      const ux = cand.x[j]! - fitCxc;
      const uy = cand.y[j]! - fitCyc;
      const dx = fitCos * ux - fitSin * uy - vx;
      const dy = fitSin * ux + fitCos * uy - vy;
      const tol = 16 + 0.12 * Math.sqrt(vx * vx + vy * vy);
      if (dx * dx + dy * dy > tol * tol) {
        pairedP[i] = -1;
        pairedC[j] = -1;
      } else kept++;
    }
    if (kept >= 3) fitPairs(probe, cand, np);
  }
  return kept;
}

/** Matching edges between two paired minutiae; fills `support` per probe minutia. */
function countEdges(probe: PreparedTemplate, cand: PreparedTemplate, np: number): number {
  const pTo = probe.edgeTo;
  const cFrom = cand.edgeFrom;
  const cTo = cand.edgeTo;
  let edges = 0;
  for (let t = 0; t < np; t++) {
    const i = pairList[2 * t]!;
    const j = pairedP[i]!;
    support[i] = 0;
    if (j !== pairList[2 * t + 1]) continue;
    let s = 0;
    for (let g = byFrom[i]!, end = byFrom[i + 1]!; g < end; g++) {
      const k = mOrder[g]!;
      const ce = mC[k]!;
      if (cFrom[ce] !== j) continue;
      if (pairedP[pTo[mP[k]!]!] !== cTo[ce]) continue;
      s++;
    }
    support[i] = s;
    edges += s;
  }
  return edges;
}

function finish(probe: PreparedTemplate, cand: PreparedTemplate, np: number): CompareDetail {
  fitPairs(probe, cand, np);
  const edges = countEdges(probe, cand, np);
  let supported = 0;
  for (let t = 0; t < np; t++) if (support[pairList[2 * t]!]! >= 2) supported++;
  const cxp = fitCxp;
  const cyp = fitCyp;
  const cxc = fitCxc;
  const cyc = fitCyc;
  const cos = fitCos;
  const sin = fitSin;

  // Consolidation: minutiae the edge graph could not reach (their neighbours were missed or
  // spurious in one of the prints) are paired by position and direction after alignment. The
  // tolerance grows with the distance from the pairing's centre, as skin distortion does.
  const rot = Math.round((Math.atan2(-sin, cos) / (2 * Math.PI)) * 256) & 255;
  const angTol = 256 / 12; // 30°
  let extra = 0;
  for (let i = 0; i < probe.n; i++) {
    if (pairedP[i] !== -1) continue;
    const vx = probe.x[i]! - cxp;
    const vy = probe.y[i]! - cyp;
    const qx = cxc + cos * vx + sin * vy;
    const qy = cyc - sin * vx + cos * vy;
    const r = 10 + 0.06 * Math.sqrt(vx * vx + vy * vy);
    let best = -1;
    let bd = r * r;
    for (let j = 0; j < cand.n; j++) {
      if (pairedC[j] !== -1) continue;
      const dx = cand.x[j]! - qx;
      const dy = cand.y[j]! - qy;
      const d2 = dx * dx + dy * dy;
      if (d2 >= bd) continue;
      if (byteAngleDiff((probe.angle[i]! - cand.angle[j]!) & 255, rot) > angTol) continue;
      bd = d2;
      best = j;
    }
    if (best >= 0) {
      // Marked with a value no real pair uses, so it takes no part in further matches.
      pairedC[best] = -2;
      extra++;
    }
  }
  for (let j = 0; j < cand.n; j++) if (pairedC[j] === -2) pairedC[j] = -1;

  let overlapCandidate = 0;
  for (let j = 0; j < cand.n; j++) {
    const ux = cand.x[j]! - cxc;
    const uy = cand.y[j]! - cyc;
    if (insideHull(probe.hull, cxp + cos * ux - sin * uy, cyp + sin * ux + cos * uy)) overlapCandidate++;
  }
  let overlapProbe = 0;
  for (let i = 0; i < probe.n; i++) {
    const vx = probe.x[i]! - cxp;
    const vy = probe.y[i]! - cyp;
    if (insideHull(cand.hull, cxc + cos * vx + sin * vy, cyc - sin * vx + cos * vy)) overlapProbe++;
  }
  const score = scoreOf(supported, edges, extra, overlapProbe, overlapCandidate);
  return { score, pairs: np, supported, edges, extra, overlapProbe, overlapCandidate };
}

/**
 * Score: structural evidence (matching edges between paired minutiae, plus pairs found by
 * position) times the share of the common area's minutiae that were paired. The first factor
 * grows with the amount of agreeing detail, the second keeps a large overlap with little agreement
 * (typical of impostors with a similar ridge flow) low. Pairings with fewer than two confirmed
 * pairs score 0.
 */
function scoreOf(supported: number, edges: number, extra: number, op: number, oc: number): number {
  if (supported < 2) return 0;
  const common = Math.max(8, (Math.max(op, supported) + Math.max(oc, supported)) / 2);
  return ((edges + extra) * (supported + 0.5 * extra)) / common;
}
