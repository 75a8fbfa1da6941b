/**
 * Synthetic dactyloscopic data for the node's fingerprint tests (no real prints in the repository):
 * images from src/fingerprint/extract/synthetic.ts with minutiae planted from a seed (one seed = one
 * finger; another impression = other noise and a small shift), and random minutiae templates with
 * perturbed "impressions" for fingers given as templates.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { perturbTemplate, randomTemplate, rng, syntheticImage } from '../../src/fingerprint/extract/synthetic.ts';
import { writeMinutiaeTemplate } from '../../src/fingerprint/formats/index.ts';
import type { GrayImage, MinutiaeTemplate } from '../../src/fingerprint/types.ts';

/** A synthetic print of finger `seed`; impressions differ in noise and position. */
export function fingerImage(seed: number, impression = 1, o: { ppi?: number; width?: number; height?: number } = {}): GrayImage {
  const r = rng(seed * 7919 + 17);
  const width = o.width ?? 320;
  const height = o.height ?? 360;
  const shift = (impression - 1) * 4;
  const minutiae = Array.from({ length: 24 }, () => ({ x: 40 + shift + r() * (width - 100), y: 40 + shift + r() * (height - 100), sign: (r() < 0.5 ? 1 : -1) as 1 | -1 }));
  return syntheticImage({ width, height, minutiae, direction: r() * Math.PI, period: 8 + r() * 3, noise: 30, seed: impression * 101 + seed, ppi: o.ppi ?? 500 });
}

/** A finger given as minutiae (random, 40 of them); impression > 1 is a perturbed copy. */
export function fingerTemplate(seed: number, impression = 1, position = 0): MinutiaeTemplate {
  const t = { ...randomTemplate(seed * 31 + 5, 40), position };
  return impression === 1 ? t : { ...perturbTemplate(t, impression, { rotation: 0.1, dx: 6, dy: -4, drop: 0.1, add: 0.05 }), position };
}

export function iso(template: MinutiaeTemplate): Buffer {
  return writeMinutiaeTemplate(template, 'iso19794-2');
}

export function png(image: GrayImage): Buffer {
  const p = new PNG({ width: image.width, height: image.height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  p.data = Buffer.from(image.pixels);
  return PNG.sync.write(p, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}

/** A scratch folder for import files. */
export function scratch(prefix: string): { dir: string; write(name: string, bytes: Uint8Array): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    write(name, bytes) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      return file;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
