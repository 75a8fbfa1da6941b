/**
 * Contextual enhancement: each pixel is filtered with a kernel steered by the local ridge
 * orientation and tuned to the local ridge period. The 2-D Gabor kernel is split into two 1-D
 * passes (a band-pass across the ridges, then a Gaussian along them), which gives nearly the same
 * result for a fraction of the cost (~40 taps per pixel instead of ~600). The sign of the result
 * is the binary ridge map: negative = ridge (ridges are dark).
 */
import { BLOCK, type Field } from './field.ts';

/** Orientation steps over 180° (7.5° each: finer steps change the result by less than the noise). */
const ORIENTATIONS = 24;
/** Ridge periods the band-pass filters are tuned to, in 500-ppi pixels. */
const PERIOD_MIN = 5;
const PERIOD_MAX = 16;
const PERIOD_STEP = 0.5;
const PERIODS = Math.round((PERIOD_MAX - PERIOD_MIN) / PERIOD_STEP) + 1;

export interface EnhanceOptions {
  /** Band-pass envelope σ as a share of the ridge period (Gabor σ across the ridges). */
  readonly acrossSigma: number;
  /** Gaussian σ along the ridges, in pixels: longer bridges more gaps but blurs sharp curves. */
  readonly alongSigma: number;
}

interface Kernels {
  radiusAcross: number;
  radiusAlong: number;
  /** Per period index: 2·radiusAcross+1 weights (zero mean). */
  across: Float32Array[];
  along: Float32Array;
}

const kernelCache = new Map<string, Kernels>();

function kernels(opts: EnhanceOptions): Kernels {
  const key = `${opts.acrossSigma}|${opts.alongSigma}`;
  let k = kernelCache.get(key);
  if (k !== undefined) return k;
  const radiusAcross = Math.ceil(2 * opts.acrossSigma * PERIOD_MAX);
  const across: Float32Array[] = [];
  for (let p = 0; p < PERIODS; p++) {
    const T = PERIOD_MIN + p * PERIOD_STEP;
    const s = opts.acrossSigma * T;
    const r = Math.min(radiusAcross, Math.ceil(2 * s));
    const wts = new Float32Array(2 * radiusAcross + 1);
    let sum = 0;
    let env = 0;
    for (let t = -r; t <= r; t++) {
      const g = Math.exp((-t * t) / (2 * s * s));
      wts[t + radiusAcross] = g * Math.cos((2 * Math.PI * t) / T);
      sum += wts[t + radiusAcross]!;
      env += g;
    }
    // Zero mean: a flat area (or the slowly varying background brightness) gives no response.
    for (let t = -r; t <= r; t++) wts[t + radiusAcross]! -= (sum * Math.exp((-t * t) / (2 * s * s))) / env;
    across.push(wts);
  }
  const radiusAlong = Math.ceil(2 * opts.alongSigma);
  const along = new Float32Array(2 * radiusAlong + 1);
  for (let t = -radiusAlong; t <= radiusAlong; t++) along[t + radiusAlong] = Math.exp((-t * t) / (2 * opts.alongSigma * opts.alongSigma));
  k = { radiusAcross, radiusAlong, across, along };
  kernelCache.set(key, k);
  return k;
}

/** Pixel offsets (in a buffer of the given stride) of the taps along a line at angle θ. */
function lineOffsets(theta: number, radius: number, stride: number): Int32Array {
  const out = new Int32Array(2 * radius + 1);
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  for (let t = -radius; t <= radius; t++) out[t + radius] = Math.round(t * s) * stride + Math.round(t * c);
  return out;
}

/**
 * Per-pixel orientation index (0…ORIENTATIONS-1, 255 outside the print) and period index,
 * interpolated bilinearly between block centres so the filter turns smoothly.
 */
function pixelMaps(w: number, h: number, f: Field): { ori: Uint8Array; per: Uint8Array } {
  const ori = new Uint8Array(w * h).fill(255);
  const per = new Uint8Array(w * h);
  const { bw, bh } = f;
  for (let y = 0; y < h; y++) {
    const gy = (y + 0.5) / BLOCK - 0.5;
    const y0 = Math.max(0, Math.min(bh - 1, Math.floor(gy)));
    const y1 = Math.min(bh - 1, y0 + 1);
    const ty = Math.max(0, Math.min(1, gy - y0));
    const byRow = Math.min(bh - 1, (y / BLOCK) | 0) * bw;
    for (let x = 0; x < w; x++) {
      if (f.mask[byRow + Math.min(bw - 1, (x / BLOCK) | 0)] === 0) continue;
      const gx = (x + 0.5) / BLOCK - 0.5;
      const x0 = Math.max(0, Math.min(bw - 1, Math.floor(gx)));
      const x1 = Math.min(bw - 1, x0 + 1);
      const tx = Math.max(0, Math.min(1, gx - x0));
      const i00 = y0 * bw + x0;
      const i01 = y0 * bw + x1;
      const i10 = y1 * bw + x0;
      const i11 = y1 * bw + x1;
      const w00 = (1 - tx) * (1 - ty);
      const w01 = tx * (1 - ty);
      const w10 = (1 - tx) * ty;
      const w11 = tx * ty;
      const c = f.cos2[i00]! * w00 + f.cos2[i01]! * w01 + f.cos2[i10]! * w10 + f.cos2[i11]! * w11;
      const s = f.sin2[i00]! * w00 + f.sin2[i01]! * w01 + f.sin2[i10]! * w10 + f.sin2[i11]! * w11;
      let theta = Math.atan2(s, c) / 2;
      if (theta < 0) theta += Math.PI;
      ori[y * w + x] = Math.round((theta / Math.PI) * ORIENTATIONS) % ORIENTATIONS;
      const T = f.period[i00]! * w00 + f.period[i01]! * w01 + f.period[i10]! * w10 + f.period[i11]! * w11;
      per[y * w + x] = Math.max(0, Math.min(PERIODS - 1, Math.round((T - PERIOD_MIN) / PERIOD_STEP)));
    }
  }
  return { ori, per };
}

/** Copies an image into a buffer with a border of `pad` pixels replicated from the edge. */
function padded(src: Float32Array, w: number, h: number, pad: number): Float32Array {
  const pw = w + 2 * pad;
  const ph = h + 2 * pad;
  const out = new Float32Array(pw * ph);
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - pad));
    for (let x = 0; x < pw; x++) {
      const sx = Math.min(w - 1, Math.max(0, x - pad));
      out[y * pw + x] = src[sy * w + sx]!;
    }
  }
  return out;
}

/**
 * Returns the enhanced image (0 outside the print): negative on ridges, positive in valleys,
 * magnitude ≈ ridge contrast.
 */
export function enhance(img: Float32Array, w: number, h: number, f: Field, opts: EnhanceOptions): Float32Array {
  const k = kernels(opts);
  const pad = Math.max(k.radiusAcross, k.radiusAlong) + 1;
  const pw = w + 2 * pad;
  const src = padded(img, w, h, pad);
  const { ori, per } = pixelMaps(w, h, f);
  const acrossOff: Int32Array[] = [];
  const alongOff: Int32Array[] = [];
  for (let o = 0; o < ORIENTATIONS; o++) {
    const theta = (o * Math.PI) / ORIENTATIONS;
    // Across the ridge = perpendicular to its direction.
    acrossOff.push(lineOffsets(theta + Math.PI / 2, k.radiusAcross, pw));
    alongOff.push(lineOffsets(theta, k.radiusAlong, pw));
  }
  const ra = k.radiusAcross;
  // Pass 1: band-pass across the ridges, written into a padded buffer for pass 2. Pixels outside
  // the print still get filtered within reach of pass 2 so the print's edge is not darkened.
  const mid = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const o = ori[i]!;
      if (o === 255) continue;
      const off = acrossOff[o]!;
      const wts = k.across[per[i]!]!;
      const base = (y + pad) * pw + x + pad;
      let s = 0;
      for (let t = 0; t <= 2 * ra; t++) s += wts[t]! * src[base + off[t]!]!;
      mid[base] = s;
    }
  }
  // Pass 2: Gaussian along the ridges.
  const out = new Float32Array(w * h);
  const rl = k.radiusAlong;
  const along = k.along;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const o = ori[i]!;
      if (o === 255) continue;
      const off = alongOff[o]!;
      const base = (y + pad) * pw + x + pad;
      let s = 0;
      let n = 0;
      for (let t = 0; t <= 2 * rl; t++) {
        const v = mid[base + off[t]!]!;
        // Taps leaving the print see 0 there; renormalise over the taps inside.
        if (v !== 0) {
          s += along[t]! * v;
          n += along[t]!;
        }
      }
      out[i] = n > 0 ? s / n : 0;
    }
  }
  return out;
}
