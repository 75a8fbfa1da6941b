/**
 * Turns a minutiae template into the compact, matcher-ready form: minutiae normalised to 500 ppi in
 * typed arrays, a neighbourhood graph of rotation- and translation-invariant edges, and those edges
 * bucketed by their quantised geometry so two templates can be joined in linear time.
 *
 * Only x, y and angle are used (type and quality only to choose which minutiae to keep when there
 * are too many), so templates from any extractor (ISO/IEC 19794-2, ANSI 378, NBIS) can be matched
 * against each other.
 */
import { OpenPrumError } from '../../errors/index.ts';
import type { MinutiaeTemplate } from '../types.ts';
import { MATCH_PARAMS, type MatchParams } from './params.ts';

const TWO_PI = 2 * Math.PI;
/** Angles are stored in 1/256 turns (1.4°): well below minutia direction noise, and byte arithmetic wraps for free. */
export const ANGLE_STEPS = 256;
/** Edge lengths are stored as ln(1 + d/knee) × LENGTH_SCALE. */
export const LENGTH_SCALE = 1024;

export interface PreparedTemplate {
  /** Number of minutiae kept. */
  readonly n: number;
  /** Coordinates in 500-ppi pixels (screen orientation: y down). */
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Direction in 1/256 turns, ISO convention (counter-clockwise with y up). */
  readonly angle: Uint8Array;
  /** Edges, ordered by bucket: start and end minutia. */
  readonly edgeFrom: Uint8Array;
  readonly edgeTo: Uint8Array;
  /** Quantised ln(1 + length/knee) × LENGTH_SCALE. */
  readonly edgeLen: Uint16Array;
  /** Direction of the edge relative to the direction of its start (α) and end (β) minutia, in 1/256 turns. */
  readonly edgeA: Uint8Array;
  readonly edgeB: Uint8Array;
  /** Edges of bucket k are bucketStart[k] … bucketStart[k+1]-1. */
  readonly bucketStart: Uint16Array;
  /** Convex hull of the minutiae (x0, y0, x1, y1 …), slightly grown: the area the print shows. */
  readonly hull: Float32Array;
  readonly params: MatchParams;
}

/** Difference of two byte angles, folded into 0…128 (0…π). */
export function byteAngleDiff(a: number, b: number): number {
  const d = (a - b) & 255;
  return d > 128 ? 256 - d : d;
}

function wrap(a: number): number {
  a %= TWO_PI;
  return a < 0 ? a + TWO_PI : a;
}

export interface Binning {
  lenBins: number;
  angBins: number;
  /** Bin widths in the quantised units. */
  lenWidth: number;
  angWidth: number;
  /** Tolerances in the quantised units. */
  lenTol: number;
  angTol: number;
  buckets: number;
}

const binningCache = new WeakMap<MatchParams, Binning>();

export function binning(p: MatchParams): Binning {
  let b = binningCache.get(p);
  if (b !== undefined) return b;
  // Bin width is twice the tolerance, so looking up the own bin and the nearer neighbouring bin in
  // every dimension finds every edge within tolerance (and the exact check then rejects the rest).
  const lenTol = Math.round(p.lengthTolerance * LENGTH_SCALE);
  const angTol = Math.round((p.angleTolerance / TWO_PI) * ANGLE_STEPS);
  const lenWidth = 2 * lenTol;
  const angBins = Math.max(1, Math.floor(ANGLE_STEPS / (2 * angTol)));
  const angWidth = ANGLE_STEPS / angBins;
  const lenBins = Math.ceil((Math.log(1 + p.maxEdgeLength / p.lengthKnee) * LENGTH_SCALE) / lenWidth) + 1;
  b = { lenBins, angBins, lenWidth, angWidth, lenTol, angTol, buckets: lenBins * angBins * angBins };
  binningCache.set(p, b);
  return b;
}

/** Minutiae normalised for matching: 500 ppi, byte angles, duplicates dropped, at most maxMinutiae. */
export interface NormalisedMinutiae {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly angle: Uint8Array;
}

/** Validates a template and makes its prepared form. Throws OpenPrumError on invalid or too-sparse input. */
export function prepare(template: MinutiaeTemplate, params: MatchParams = MATCH_PARAMS): PreparedTemplate {
  const m = normalise(template, params);
  return build(m.x, m.y, m.angle, params);
}

/** Validation and normalisation only (no neighbourhood graph): what a gallery stores. */
export function normalise(template: MinutiaeTemplate, params: MatchParams = MATCH_PARAMS): NormalisedMinutiae {
  if (template === null || typeof template !== 'object') throw new OpenPrumError('fingerprint-template-invalid', 'The template is missing.');
  const ppi = template.ppi;
  if (typeof ppi !== 'number' || !Number.isFinite(ppi) || ppi < 100 || ppi > 5000) {
    throw new OpenPrumError('fingerprint-template-invalid', `The template resolution ${String(ppi)} ppi is not plausible (100–5000).`, { ppi });
  }
  const list = template.minutiae;
  if (!Array.isArray(list)) throw new OpenPrumError('fingerprint-template-invalid', 'The template has no minutiae list.');
  if (list.length > 10_000) {
    throw new OpenPrumError('fingerprint-template-invalid', `The template has ${list.length} minutiae; no real finger has more than a few hundred.`, { minutiae: list.length });
  }
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    if (m === null || typeof m !== 'object' || !Number.isFinite(m.x) || !Number.isFinite(m.y) || !Number.isFinite(m.angle)) {
      throw new OpenPrumError('fingerprint-template-invalid', `Minutia ${i} has a non-finite or absurd position or angle.`, { index: i });
    }
  }
  // Exact duplicates (some extractors emit them) would create zero-length edges and double votes.
  const seen = new Set<number>();
  let kept = list.filter((m) => {
    const k = Math.round(m.x) * 1_000_003 + Math.round(m.y);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  if (kept.length < params.minMinutiae) {
    throw new OpenPrumError(
      'fingerprint-minutiae-too-few',
      `The template has ${kept.length} usable minutiae; at least ${params.minMinutiae} are needed to match. Recapture or use a better impression.`,
      { minutiae: kept.length, required: params.minMinutiae },
    );
  }
  if (kept.length > params.maxMinutiae) {
    kept = kept
      .map((m, i) => ({ m, i }))
      .sort((a, b) => (b.m.quality ?? 0) - (a.m.quality ?? 0) || a.i - b.i)
      .slice(0, params.maxMinutiae)
      .sort((a, b) => a.i - b.i)
      .map((e) => e.m);
  }
  const n = kept.length;
  const scale = 500 / ppi;
  for (const m of kept) {
    // ISO/ANSI coordinates are 14-bit; at 500 ppi this is 82 cm. Anything outside is corrupt.
    if (m.x * scale < -100 || m.y * scale < -100 || m.x * scale > 16000 || m.y * scale > 16000) {
      throw new OpenPrumError('fingerprint-template-invalid', `A minutia lies at (${m.x}, ${m.y}), far outside any fingerprint image.`, { x: m.x, y: m.y });
    }
  }
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const angle = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const m = kept[i]!;
    x[i] = m.x * scale;
    y[i] = m.y * scale;
    angle[i] = Math.round((wrap(m.angle) / TWO_PI) * ANGLE_STEPS) & 255;
  }
  return { x, y, angle };
}

/** Builds the prepared form from minutiae already normalised (500 ppi, byte angles, at most maxMinutiae). */
export function build(x: Float32Array, y: Float32Array, angle: Uint8Array, params: MatchParams = MATCH_PARAMS): PreparedTemplate {
  const n = x.length;
  // Neighbourhood graph: k nearest within the length window, then made symmetric so that an edge
  // seen from either end can seed or extend a pairing.
  const k = Math.min(params.neighbours, n - 1);
  const adj = new Uint8Array(n * n);
  // The k nearest of each minutia by insertion into a short sorted list (k ≪ n).
  const bestD = new Float64Array(k + 1);
  const bestJ = new Int32Array(k + 1);
  const minLen2 = params.minEdgeLength * params.minEdgeLength;
  const maxLen2 = params.maxEdgeLength * params.maxEdgeLength;
  let edges = 0;
  for (let i = 0; i < n; i++) {
    let c = 0;
    const xi = x[i]!;
    const yi = y[i]!;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dx = x[j]! - xi;
      const dy = y[j]! - yi;
      const d2 = dx * dx + dy * dy;
      if (d2 < minLen2 || d2 > maxLen2) continue;
      if (c === k && d2 >= bestD[k - 1]!) continue;
      let pos = c < k ? c++ : k - 1;
      while (pos > 0 && bestD[pos - 1]! > d2) {
        bestD[pos] = bestD[pos - 1]!;
        bestJ[pos] = bestJ[pos - 1]!;
        pos--;
      }
      bestD[pos] = d2;
      bestJ[pos] = j;
    }
    for (let t = 0; t < c; t++) {
      const j = bestJ[t]!;
      if (adj[i * n + j] === 0) edges += 2;
      adj[i * n + j] = 1;
      adj[j * n + i] = 1;
    }
  }
  const bins = binning(params);
  const from = new Uint8Array(edges);
  const to = new Uint8Array(edges);
  const len = new Uint16Array(edges);
  const ea = new Uint8Array(edges);
  const eb = new Uint8Array(edges);
  const key = new Uint32Array(edges);
  let e = 0;
  const lenScale = LENGTH_SCALE;
  const knee = params.lengthKnee;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (adj[i * n + j] === 0) continue;
      const dx = x[j]! - x[i]!;
      const dy = y[j]! - y[i]!;
      // y grows downwards while angles turn counter-clockwise, hence the minus. The edge seen
      // from j is the same edge turned by half a turn (128 in byte angles).
      const phi = Math.round((wrap(Math.atan2(-dy, dx)) / TWO_PI) * ANGLE_STEPS);
      const l = Math.round(Math.log(1 + Math.sqrt(dx * dx + dy * dy) / knee) * lenScale);
      for (let dir = 0; dir < 2; dir++) {
        const a = dir === 0 ? i : j;
        const b = dir === 0 ? j : i;
        const ph = dir === 0 ? phi : phi + 128;
        from[e] = a;
        to[e] = b;
        len[e] = l;
        ea[e] = (ph - angle[a]!) & 255;
        eb[e] = (ph - angle[b]!) & 255;
        key[e] = bucketOf(l, ea[e]!, eb[e]!, bins);
        e++;
      }
    }
  }
  // Order the edges by bucket (counting sort) so a bucket is one contiguous run.
  const bucketStart = new Uint16Array(bins.buckets + 1);
  for (let t = 0; t < edges; t++) bucketStart[key[t]! + 1]!++;
  for (let b = 0; b < bins.buckets; b++) bucketStart[b + 1]! += bucketStart[b]!;
  const cursor = bucketStart.slice(0, bins.buckets);
  const edgeFrom = new Uint8Array(edges);
  const edgeTo = new Uint8Array(edges);
  const edgeLen = new Uint16Array(edges);
  const edgeA = new Uint8Array(edges);
  const edgeB = new Uint8Array(edges);
  for (let t = 0; t < edges; t++) {
    const pos = cursor[key[t]!]!++;
    edgeFrom[pos] = from[t]!;
    edgeTo[pos] = to[t]!;
    edgeLen[pos] = len[t]!;
    edgeA[pos] = ea[t]!;
    edgeB[pos] = eb[t]!;
  }
  return { n, x, y, angle, edgeFrom, edgeTo, edgeLen, edgeA, edgeB, bucketStart, hull: hullOf(x, y, 12), params };
}

function bucketOf(len: number, a: number, b: number, bins: Binning): number {
  const lb = Math.min(bins.lenBins - 1, Math.floor(len / bins.lenWidth));
  const ab = Math.floor(a / bins.angWidth) % bins.angBins;
  const bb = Math.floor(b / bins.angWidth) % bins.angBins;
  return (lb * bins.angBins + ab) * bins.angBins + bb;
}

/**
 * For each edge, the (up to) eight buckets that can hold an edge within tolerance: its own bucket
 * and the nearer neighbour in each dimension, as (bucket << 16 | edge).
 */
export function queryKeys(t: PreparedTemplate): Uint32Array {
  const bins = binning(t.params);
  const m = t.edgeLen.length;
  const out = new Uint32Array(m * 8);
  let c = 0;
  const A = bins.angBins;
  for (let e = 0; e < m; e++) {
    const lf = t.edgeLen[e]! / bins.lenWidth;
    const af = t.edgeA[e]! / bins.angWidth;
    const bf = t.edgeB[e]! / bins.angWidth;
    const l0 = Math.min(bins.lenBins - 1, Math.floor(lf));
    const a0 = Math.floor(af) % A;
    const b0 = Math.floor(bf) % A;
    const l1 = lf - Math.floor(lf) < 0.5 ? l0 - 1 : l0 + 1;
    const a1 = (af - Math.floor(af) < 0.5 ? a0 - 1 + A : a0 + 1) % A;
    const b1 = (bf - Math.floor(bf) < 0.5 ? b0 - 1 + A : b0 + 1) % A;
    for (let li = 0; li < 2; li++) {
      const l = li === 0 ? l0 : l1;
      if (l < 0 || l >= bins.lenBins) continue;
      for (let ai = 0; ai < (A > 1 ? 2 : 1); ai++) {
        const a = ai === 0 ? a0 : a1;
        for (let bi = 0; bi < (A > 1 ? 2 : 1); bi++) {
          const b = bi === 0 ? b0 : b1;
          out[c++] = ((((l * A + a) * A + b) << 16) | e) >>> 0;
        }
      }
    }
  }
  return out.slice(0, c);
}

/** Convex hull (Andrew's monotone chain), each vertex pushed `grow` pixels away from the centroid. */
function hullOf(x: Float32Array, y: Float32Array, grow: number): Float32Array {
  const n = x.length;
  // Sort by (x, y) through one numeric key per point (native typed-array sort, no comparator).
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (clampKey(x[i]!) * 65536 + clampKey(y[i]!)) * 256 + i;
  keys.sort();
  const idx: number[] = new Array<number>(n);
  for (let t = 0; t < n; t++) idx[t] = keys[t]! % 256;
  const cross = (o: number, a: number, b: number): number => (x[a]! - x[o]!) * (y[b]! - y[o]!) - (y[a]! - y[o]!) * (x[b]! - x[o]!);
  const lower: number[] = [];
  for (const p of idx) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: number[] = [];
  for (let t = idx.length - 1; t >= 0; t--) {
    const p = idx[t]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  const h = lower.slice(0, -1).concat(upper.slice(0, -1));
  let cx = 0;
  let cy = 0;
  for (const p of h) {
    cx += x[p]!;
    cy += y[p]!;
  }
  cx /= Math.max(1, h.length);
  cy /= Math.max(1, h.length);
  const out = new Float32Array(h.length * 2);
  h.forEach((p, t) => {
    const dx = x[p]! - cx;
    const dy = y[p]! - cy;
    const r = Math.hypot(dx, dy) || 1;
    out[2 * t] = x[p]! + (dx / r) * grow;
    out[2 * t + 1] = y[p]! + (dy / r) * grow;
  });
  return out;
}

function clampKey(v: number): number {
  return Math.max(0, Math.min(65535, Math.round((v + 100) * 4)));
}

/** Whether (px, py) lies inside a convex hull made by hullOf (any consistent winding). */
export function insideHull(hull: Float32Array, px: number, py: number): boolean {
  const v = hull.length >> 1;
  if (v < 3) return false;
  let sign = 0;
  for (let t = 0; t < v; t++) {
    const ax = hull[2 * t]!;
    const ay = hull[2 * t + 1]!;
    const u = t + 1 === v ? 0 : t + 1;
    const c = (hull[2 * u]! - ax) * (py - ay) - (hull[2 * u + 1]! - ay) * (px - ax);
    if (c === 0) continue;
    const s = c > 0 ? 1 : -1;
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}
