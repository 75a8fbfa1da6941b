/**
 * Synthetic fingerprint-like images for tests (no real biometric data in the repository).
 *
 * Ridges are the level lines of a phase function: a plane wave (parallel ridges of a chosen
 * period and direction) plus, for each planted minutia, a spiral phase term ±atan2(y − y0, x − x0).
 * Each spiral adds or removes exactly one ridge around its centre, which is what a ridge ending
 * or a bifurcation is, so the minutiae sit where they were planted.
 */
import type { GrayImage, Minutia, MinutiaeTemplate } from '../types.ts';

export interface SyntheticOptions {
  width?: number;
  height?: number;
  ppi?: number;
  /** Ridge period in pixels at the image's resolution. */
  period?: number;
  /** Ridge direction (radians). */
  direction?: number;
  /** Planted minutiae: centre and sign (+1 / −1). */
  minutiae?: readonly { x: number; y: number; sign: 1 | -1 }[];
  /** Gray-level noise amplitude (0 = none), from a seeded generator. */
  noise?: number;
  seed?: number;
  /** Blank margin around an elliptic "finger" area (pixels); 0 = ridges everywhere. */
  margin?: number;
}

/** A small seeded PRNG (tests must be reproducible). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

export function syntheticImage(o: SyntheticOptions = {}): GrayImage {
  const width = o.width ?? 320;
  const height = o.height ?? 360;
  const period = o.period ?? 9;
  const dir = o.direction ?? 0.4;
  const noise = o.noise ?? 0;
  const margin = o.margin ?? 20;
  const rand = rng(o.seed ?? 1);
  const pixels = new Uint8Array(width * height);
  // Wave vector perpendicular to the ridge direction.
  const kx = (-Math.sin(dir) * 2 * Math.PI) / period;
  const ky = (Math.cos(dir) * 2 * Math.PI) / period;
  const cx = width / 2;
  const cy = height / 2;
  const rx = width / 2 - margin;
  const ry = height / 2 - margin;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let phase = kx * x + ky * y;
      for (const m of o.minutiae ?? []) phase += m.sign * Math.atan2(y - m.y, x - m.x);
      let v = 128 + 100 * Math.cos(phase);
      if (noise > 0) v += (rand() - 0.5) * 2 * noise;
      if (margin > 0) {
        const e = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
        if (e > 1) v = 250;
      }
      pixels[y * width + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return { width, height, ppi: o.ppi ?? 500, pixels };
}

/** A random minutiae template (uniform positions and directions) for matcher tests. */
export function randomTemplate(seed: number, count = 40, width = 320, height = 360): MinutiaeTemplate {
  const rand = rng(seed);
  const minutiae: Minutia[] = [];
  for (let k = 0; k < count; k++) {
    minutiae.push({
      x: 20 + rand() * (width - 40),
      y: 20 + rand() * (height - 40),
      angle: rand() * 2 * Math.PI,
      type: rand() < 0.5 ? 'ending' : 'bifurcation',
      quality: 60,
    });
  }
  return { width, height, ppi: 500, position: 0, quality: 60, minutiae };
}

/**
 * Another "impression" of a template: rotated by `rotation` about the centre, shifted, with
 * position and direction noise, some minutiae lost and a few spurious ones added.
 */
export function perturbTemplate(
  t: MinutiaeTemplate,
  seed: number,
  o: { rotation?: number; dx?: number; dy?: number; jitter?: number; drop?: number; add?: number } = {},
): MinutiaeTemplate {
  const rand = rng(seed);
  const rot = o.rotation ?? 0.2;
  const c = Math.cos(rot);
  const s = Math.sin(rot);
  const cx = t.width / 2;
  const cy = t.height / 2;
  const jitter = o.jitter ?? 2;
  const out: Minutia[] = [];
  for (const m of t.minutiae) {
    if (rand() < (o.drop ?? 0.15)) continue;
    // Screen coordinates (y down): a counter-clockwise turn of the print by `rot` in ISO terms.
    const x = cx + c * (m.x - cx) + s * (m.y - cy) + (o.dx ?? 10) + (rand() - 0.5) * 2 * jitter;
    const y = cy - s * (m.x - cx) + c * (m.y - cy) + (o.dy ?? -8) + (rand() - 0.5) * 2 * jitter;
    out.push({ ...m, x, y, angle: (m.angle + rot + (rand() - 0.5) * 0.2 + 4 * Math.PI) % (2 * Math.PI) });
  }
  const extra = Math.round(t.minutiae.length * (o.add ?? 0.1));
  for (let k = 0; k < extra; k++) out.push({ x: rand() * t.width, y: rand() * t.height, angle: rand() * 2 * Math.PI, type: 'ending', quality: 30 });
  return { ...t, minutiae: out };
}
