/**
 * Image helpers shared by the fingerprint extractor: validation and resampling to the 500 ppi the
 * extractor's parameters are defined at (ridge period, filter sizes and distances are all in
 * 500-ppi pixels, so every sensor is processed with the same parameter set).
 */
import { OpenPrumError } from '../errors/index.ts';
import type { GrayImage } from './types.ts';

/** The resolution all fingerprint processing works at. */
export const WORKING_PPI = 500;

/**
 * Checks that an image is well formed: positive integer size, pixel buffer of exactly width ×
 * height bytes and a plausible resolution. Throws `fingerprint-image-invalid` otherwise.
 */
export function checkImage(image: GrayImage): void {
  const { width, height, ppi, pixels } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new OpenPrumError('fingerprint-image-invalid', `The image size ${String(width)}×${String(height)} is not a positive integer size.`, { width, height });
  }
  if (!(pixels instanceof Uint8Array) || pixels.length !== width * height) {
    throw new OpenPrumError(
      'fingerprint-image-invalid',
      `The image has ${pixels instanceof Uint8Array ? pixels.length : 'no'} pixel bytes; ${width}×${height} needs ${width * height}.`,
      { width, height },
    );
  }
  if (!Number.isFinite(ppi) || ppi < 100 || ppi > 5000) {
    throw new OpenPrumError('fingerprint-image-invalid', `The image resolution ${String(ppi)} ppi is not plausible (100–5000 ppi).`, { ppi });
  }
}

/**
 * Resamples an image to `targetPpi`. Downsampling averages the source area each target pixel
 * covers (no aliasing of the ridge pattern); upsampling interpolates bilinearly. Returns the image
 * itself when the resolution is already within 0.5 % of the target.
 */
export function resampleToPpi(image: GrayImage, targetPpi: number = WORKING_PPI): GrayImage {
  checkImage(image);
  const scale = targetPpi / image.ppi;
  if (Math.abs(scale - 1) < 0.005) return image;
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const out = new Uint8Array(width * height);
  const src = image.pixels;
  const sw = image.width;
  const sh = image.height;
  const fx = sw / width;
  const fy = sh / height;
  if (scale < 1) {
    // Area average: each target pixel is the mean of the source rectangle it covers, with
    // fractional weights on the edges. Done separably (rows, then columns).
    const rows = new Float32Array(width * sh);
    const wx = areaWeights(sw, width);
    for (let y = 0; y < sh; y++) {
      const r = y * sw;
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = wx.start[x]!; k < wx.start[x + 1]!; k++) s += src[r + wx.index[k]!]! * wx.weight[k]!;
        rows[y * width + x] = s;
      }
    }
    const wy = areaWeights(sh, height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = wy.start[y]!; k < wy.start[y + 1]!; k++) s += rows[wy.index[k]! * width + x]! * wy.weight[k]!;
        out[y * width + x] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  } else {
    for (let y = 0; y < height; y++) {
      const sy = Math.min(sh - 1, Math.max(0, (y + 0.5) * fy - 0.5));
      const y0 = Math.floor(sy);
      const y1 = Math.min(sh - 1, y0 + 1);
      const ty = sy - y0;
      for (let x = 0; x < width; x++) {
        const sx = Math.min(sw - 1, Math.max(0, (x + 0.5) * fx - 0.5));
        const x0 = Math.floor(sx);
        const x1 = Math.min(sw - 1, x0 + 1);
        const tx = sx - x0;
        const top = src[y0 * sw + x0]! * (1 - tx) + src[y0 * sw + x1]! * tx;
        const bottom = src[y1 * sw + x0]! * (1 - tx) + src[y1 * sw + x1]! * tx;
        out[y * width + x] = Math.round(top * (1 - ty) + bottom * ty);
      }
    }
  }
  return { width, height, ppi: targetPpi, pixels: out };
}

interface AreaWeights {
  start: Uint32Array;
  index: Uint32Array;
  weight: Float32Array;
}

/** For each of `m` target cells over `n` source cells: which source cells it covers and with what weight (summing to 1). */
function areaWeights(n: number, m: number): AreaWeights {
  const f = n / m;
  const start = new Uint32Array(m + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let t = 0; t < m; t++) {
    start[t] = index.length;
    const a = t * f;
    const b = Math.min(n, (t + 1) * f);
    for (let s = Math.floor(a); s < Math.ceil(b); s++) {
      const w = Math.min(b, s + 1) - Math.max(a, s);
      if (w <= 0) continue;
      index.push(s);
      weight.push(w / f);
    }
  }
  start[m] = index.length;
  return { start, index: Uint32Array.from(index), weight: Float32Array.from(weight) };
}
