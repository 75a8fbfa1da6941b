import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { resampleToPpi } from '../image.ts';
import type { GrayImage, MinutiaeTemplate } from '../types.ts';
import { EXTRACT_LIMITS, extractMinutiae } from './index.ts';
import { syntheticImage } from './synthetic.ts';

const planted = [
  { x: 110, y: 120, sign: 1 as const },
  { x: 210, y: 110, sign: -1 as const },
  { x: 100, y: 230, sign: -1 as const },
  { x: 200, y: 250, sign: 1 as const },
  { x: 160, y: 180, sign: 1 as const },
];

function nearest(t: MinutiaeTemplate, x: number, y: number): number {
  let best = Infinity;
  for (const m of t.minutiae) best = Math.min(best, Math.hypot(m.x - x, m.y - y));
  return best;
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof OpenPrumError ? e.code : `not an OpenPrumError: ${String(e)}`;
  }
  return undefined;
}

describe('extractMinutiae on synthetic ridge patterns', () => {
  it('finds the planted minutiae and little else', () => {
    const img = syntheticImage({ minutiae: planted, noise: 30, seed: 7 });
    const t = extractMinutiae(img);
    const found = planted.filter((p) => nearest(t, p.x, p.y) <= 8).length;
    expect(found).toBeGreaterThanOrEqual(4);
    expect(t.minutiae.length).toBeLessThanOrEqual(planted.length + 4);
    for (const m of t.minutiae) {
      expect(m.angle).toBeGreaterThanOrEqual(0);
      expect(m.angle).toBeLessThan(2 * Math.PI);
      expect(m.quality).toBeGreaterThanOrEqual(1);
      expect(m.quality).toBeLessThanOrEqual(100);
    }
    expect(t.ppi).toBe(500);
    expect([t.width, t.height]).toEqual([img.width, img.height]);
  });

  it('gives minutia directions along the ridges (ISO convention, counter-clockwise with y up)', () => {
    const direction = 0.4; // ridges run at 0.4 rad on screen (y down) = −0.4 rad in ISO terms
    const t = extractMinutiae(syntheticImage({ minutiae: planted, direction, seed: 3 }));
    expect(t.minutiae.length).toBeGreaterThan(0);
    for (const m of t.minutiae) {
      // Either way along the ridge (ending vs bifurcation point opposite ways).
      const d = Math.abs((((m.angle + direction) % Math.PI) + Math.PI) % Math.PI);
      expect(Math.min(d, Math.PI - d)).toBeLessThan(0.35);
    }
  });

  it('works from any resolution and reports coordinates in the input frame', () => {
    const img500 = syntheticImage({ minutiae: planted, seed: 5 });
    // The same pattern drawn at 1000 ppi: twice the pixels, twice the period.
    const img1000 = syntheticImage({
      width: 640,
      height: 720,
      ppi: 1000,
      period: 18,
      margin: 40,
      minutiae: planted.map((p) => ({ ...p, x: p.x * 2, y: p.y * 2 })),
      seed: 5,
    });
    const a = extractMinutiae(img500);
    const b = extractMinutiae(img1000);
    expect(b.ppi).toBe(1000);
    const found = planted.filter((p) => nearest(b, p.x * 2, p.y * 2) <= 16).length;
    expect(found).toBeGreaterThanOrEqual(4);
    expect(Math.abs(a.minutiae.length - b.minutiae.length)).toBeLessThanOrEqual(3);
  });

  it('returns zero minutiae for blank, flat and tiny images', () => {
    const blank: GrayImage = { width: 300, height: 300, ppi: 500, pixels: new Uint8Array(300 * 300).fill(255) };
    expect(extractMinutiae(blank).minutiae).toEqual([]);
    const black: GrayImage = { width: 300, height: 300, ppi: 500, pixels: new Uint8Array(300 * 300) };
    expect(extractMinutiae(black).minutiae).toEqual([]);
    const tiny: GrayImage = { width: 20, height: 20, ppi: 500, pixels: new Uint8Array(400).fill(128) };
    expect(extractMinutiae(tiny).minutiae).toEqual([]);
    // Parallel ridges without minutiae: nothing (or almost nothing at the edge of the pattern).
    expect(extractMinutiae(syntheticImage({ minutiae: [] })).minutiae.length).toBeLessThanOrEqual(2);
  });

  it('refuses enormous images before touching their pixels', () => {
    // No pixel buffer at all: the size check must come first and not allocate anything.
    const huge = { width: 100_000, height: 100_000, ppi: 500, pixels: new Uint8Array(0) };
    expect(code(() => extractMinutiae(huge))).toBe('fingerprint-image-too-large');
    const wide = { width: 3000, height: 200, ppi: 500, pixels: new Uint8Array(0) };
    expect(code(() => extractMinutiae(wide))).toBe('fingerprint-image-too-large');
    // The same pixel count at 1000 ppi is half the size in centimetres: accepted by the size check.
    const hiRes = { width: 3000, height: 200, ppi: 1000, pixels: new Uint8Array(0) };
    expect(code(() => extractMinutiae(hiRes))).toBe('fingerprint-image-invalid');
    expect(EXTRACT_LIMITS.maxSide).toBeGreaterThan(0);
  });

  it('rejects malformed images with a clear error', () => {
    expect(code(() => extractMinutiae({ width: 10, height: 10, ppi: 500, pixels: new Uint8Array(99) }))).toBe('fingerprint-image-invalid');
    expect(code(() => extractMinutiae({ width: 0, height: 10, ppi: 500, pixels: new Uint8Array(0) }))).toBe('fingerprint-image-invalid');
    expect(code(() => extractMinutiae({ width: 10, height: 10, ppi: Number.NaN, pixels: new Uint8Array(100) }))).toBe('fingerprint-image-invalid');
    expect(code(() => extractMinutiae({ width: 10.5, height: 10, ppi: 500, pixels: new Uint8Array(105) }))).toBe('fingerprint-image-invalid');
  });
});

describe('resampleToPpi', () => {
  it('keeps the mean brightness and scales the size', () => {
    const img = syntheticImage({ width: 200, height: 100, ppi: 1000, margin: 0 });
    const half = resampleToPpi(img, 500);
    expect([half.width, half.height, half.ppi]).toEqual([100, 50, 500]);
    const mean = (p: Uint8Array): number => p.reduce((s, v) => s + v, 0) / p.length;
    expect(Math.abs(mean(half.pixels) - mean(img.pixels))).toBeLessThan(2);
    const up = resampleToPpi(half, 569);
    expect(up.width).toBe(Math.round(100 * (569 / 500)));
    expect(resampleToPpi(img, 1000)).toBe(img);
  });
});
