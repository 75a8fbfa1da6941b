/**
 * Pre-filter signature: the spectral minutiae representation (after Xu, Veldhuis et al.): the
 * magnitude of the Fourier transform of the minutiae point set, sampled on a polar grid. The
 * magnitude does not change when the print is shifted, and a rotation of the print becomes a
 * circular shift along the angle axis, so two signatures are compared by a correlation over a
 * few shifts: no alignment search, a fixed 256-byte vector, ~1–2 µs per comparison.
 *
 * It is far weaker than the matcher (a single finger separates genuine from impostor only
 * roughly), which is why it only ranks persons for a shortlist, and why a ten-print search,
 * which adds up the evidence of up to ten fingers, is where it pays off.
 */
import type { NormalisedMinutiae } from './prepare.ts';

/** Radial frequencies sampled (wavelengths ≈ 300 … 25 px at 500 ppi: minutia spacing, not ridge spacing). */
const RADII = 16;
/** Angles over [0, π) (the magnitude spectrum is point-symmetric): 11.25° steps. */
const ANGLES = 16;
const W_MIN = 0.02;
const W_MAX = 0.25;
/** Rotations tried: ±3 steps = ±34°, more than live captures rotate. */
const SHIFTS = 3;
export const SIGNATURE_BYTES = RADII * ANGLES;

const DW = (W_MAX - W_MIN) / (RADII - 1);
const COS_T = new Float64Array(ANGLES);
const SIN_T = new Float64Array(ANGLES);
for (let a = 0; a < ANGLES; a++) {
  COS_T[a] = Math.cos((Math.PI * a) / ANGLES);
  SIN_T[a] = Math.sin((Math.PI * a) / ANGLES);
}

/** Writes the signature (z-scored spectrum quantised to signed bytes, 1/32 σ steps) at `offset`. */
export function spectralSignature(t: NormalisedMinutiae, out: Int8Array, offset: number): void {
  const re = new Float64Array(SIGNATURE_BYTES);
  const im = new Float64Array(SIGNATURE_BYTES);
  const n = t.x.length;
  for (let j = 0; j < n; j++) {
    const x = t.x[j]!;
    const y = t.y[j]!;
    for (let a = 0; a < ANGLES; a++) {
      // Along one angle the phase grows linearly with the radius: e^{i(W_MIN + r·DW)p} is a
      // complex rotation applied r times (two sincos per angle instead of one per sample).
      const proj = x * COS_T[a]! + y * SIN_T[a]!;
      let c = Math.cos(W_MIN * proj);
      let s = Math.sin(W_MIN * proj);
      const dc = Math.cos(DW * proj);
      const ds = Math.sin(DW * proj);
      for (let r = 0; r < RADII; r++) {
        const k = r * ANGLES + a;
        re[k]! += c;
        im[k]! += s;
        const c2 = c * dc - s * ds;
        s = s * dc + c * ds;
        c = c2;
      }
    }
  }
  const v = new Float64Array(SIGNATURE_BYTES);
  for (let k = 0; k < SIGNATURE_BYTES; k++) v[k] = Math.sqrt(re[k]! * re[k]! + im[k]! * im[k]!);
  // Per-template standardisation: the spectrum's overall level grows with the minutia count,
  // which says nothing about identity.
  let mean = 0;
  for (let k = 0; k < SIGNATURE_BYTES; k++) mean += v[k]!;
  mean /= SIGNATURE_BYTES;
  let sd = 0;
  for (let k = 0; k < SIGNATURE_BYTES; k++) sd += (v[k]! - mean) ** 2;
  sd = Math.sqrt(sd / SIGNATURE_BYTES) || 1;
  for (let k = 0; k < SIGNATURE_BYTES; k++) out[offset + k] = Math.max(-127, Math.min(127, Math.round(((v[k]! - mean) / sd) * 32)));
}

/** Correlation of two signatures, the best over the allowed rotations (≈ −1 … 1). */
export function spectralSimilarity(a: Int8Array, aOffset: number, b: Int8Array, bOffset: number): number {
  let best = -Infinity;
  for (let s = -SHIFTS; s <= SHIFTS; s++) {
    let sum = 0;
    for (let r = 0; r < RADII; r++) {
      const ra = aOffset + r * ANGLES;
      const rb = bOffset + r * ANGLES;
      for (let k = 0; k < ANGLES; k++) {
        let kk = k + s;
        if (kk < 0) kk += ANGLES;
        else if (kk >= ANGLES) kk -= ANGLES;
        sum += a[ra + k]! * b[rb + kk]!;
      }
    }
    if (sum > best) best = sum;
  }
  return best / (SIGNATURE_BYTES * 1024);
}
