/**
 * Loaders for the FVC B reference data kept outside the repository (../shared/data/fingerprints):
 * manifest, protocol pairs, NBIS reference outputs, images and the SecuGen ISO templates.
 * Images and templates are read with the formats capability (src/fingerprint/formats/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng, readMinutiaeTemplate } from '../src/fingerprint/formats/index.ts';
import type { GrayImage, Minutia, MinutiaeTemplate } from '../src/fingerprint/types.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Where the shared data lives: OPENPRUM_FINGERPRINT_DATA, else ../shared/data/fingerprints next to the checkout. */
export function fingerprintDataRoot(): string | undefined {
  const candidates = [
    process.env['OPENPRUM_FINGERPRINT_DATA'],
    resolve(here, '../../shared/data/fingerprints'),
    '/work/shared/data/fingerprints',
  ];
  for (const c of candidates) if (c !== undefined && existsSync(join(c, 'fvc2002-2004-b', 'manifest.csv'))) return c;
  return undefined;
}

export interface FvcImpression {
  /** e.g. fvc2002-DB1_B-101_1 */
  readonly id: string;
  /** e.g. fvc2002-DB1_B */
  readonly set: string;
  readonly finger: number;
  readonly impression: number;
  readonly imagePath: string;
  readonly isoPath: string;
  readonly width: number;
  readonly height: number;
  readonly dpi: number;
  readonly sensorKind: string;
}

export interface FvcPair {
  readonly set: string;
  readonly gallery: string;
  readonly probe: string;
  readonly genuine: boolean;
}

function csv(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0)
    .slice(1)
    .map((l) => l.split(','));
}

export function loadManifest(root: string): FvcImpression[] {
  const base = join(root, 'fvc2002-2004-b');
  return csv(join(base, 'manifest.csv')).map((r) => {
    const [id, comp, db, finger, impression, image, width, height, dpi, kind, , , iso] = r;
    return {
      id: id!,
      set: `${comp}-${db}`,
      finger: Number(finger),
      impression: Number(impression),
      imagePath: join(base, image!),
      isoPath: join(base, iso!),
      width: Number(width),
      height: Number(height),
      dpi: Number(dpi),
      sensorKind: kind!,
    };
  });
}

export function loadPairs(root: string): FvcPair[] {
  const base = join(root, 'fvc2002-2004-b', 'pairs');
  const read = (file: string, genuine: boolean): FvcPair[] =>
    csv(join(base, file)).map(([comp, db, g, p]) => ({
      set: `${comp}-${db}`,
      gallery: `${comp}-${db}-${g}`,
      probe: `${comp}-${db}-${p}`,
      genuine,
    }));
  return [...read('fvc-genuine.csv', true), ...read('fvc-impostor.csv', false)];
}

/** bozorth3 score per pair, keyed `gallery|probe`. */
export function loadBozorth(root: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [comp, db, g, p, s] of csv(join(root, 'fvc2002-2004-b', 'peer-nbis-libfprint', 'bozorth3-scores.csv'))) {
    out.set(`${comp}-${db}-${g}|${comp}-${db}-${p}`, Number(s));
  }
  return out;
}

/** mindtct minutiae as templates (converted to the ISO angle convention). */
export function loadMindtct(root: string, manifest: readonly FvcImpression[]): Map<string, MinutiaeTemplate> {
  const byId = new Map(manifest.map((m) => [m.id, m]));
  const lists = new Map<string, Minutia[]>();
  for (const [id, x, y, dir, rel, type] of csv(join(root, 'fvc2002-2004-b', 'peer-nbis-libfprint', 'mindtct-minutiae.csv'))) {
    // LFS: 0 = up, clockwise, 11.25° steps. ISO: counter-clockwise from +x.
    let a = ((90 - Number(dir) * 11.25) * Math.PI) / 180;
    a = ((a % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
    const list = lists.get(id!) ?? [];
    list.push({ x: Number(x), y: Number(y), angle: a, type: type === '1' ? 'ending' : 'bifurcation', quality: Math.round(Number(rel) * 100) });
    lists.set(id!, list);
  }
  const out = new Map<string, MinutiaeTemplate>();
  for (const [id, minutiae] of lists) {
    const m = byId.get(id);
    if (m === undefined) continue;
    out.set(id, { width: m.width, height: m.height, ppi: m.dpi, position: 0, quality: 0, minutiae });
  }
  return out;
}

/** Reads a grayscale PNG as an 8-bit gray image at the resolution given (the manifest's, whatever pHYs says). */
export function readPngGray(path: string, ppi: number): GrayImage {
  return { ...decodePng(readFileSync(path), { defaultPpi: ppi }), ppi };
}

/**
 * The first finger view of an ISO/IEC 19794-2:2005 record, in the record's own frame and
 * resolution (minutia quality as stored, up to 100).
 */
export function readIso19794(bytes: Uint8Array): MinutiaeTemplate {
  return readMinutiaeTemplate(bytes, { format: 'iso19794-2' });
}

/** FMR/FNMR figures in the FVC style from genuine and impostor score lists (higher = more similar). */
export interface ErrorRates {
  readonly eer: number;
  readonly fmr100: number;
  readonly fmr1000: number;
  readonly zeroFmr: number;
}

export function errorRates(genuine: readonly number[], impostor: readonly number[]): ErrorRates {
  const thresholds = [...new Set([...genuine, ...impostor])].sort((a, b) => a - b);
  thresholds.push(Infinity);
  const g = [...genuine].sort((a, b) => a - b);
  const im = [...impostor].sort((a, b) => a - b);
  // Accept when score >= t.  FNMR(t) = share of genuine below t; FMR(t) = share of impostors at or above t.
  const below = (arr: number[], t: number): number => {
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let eer = 1;
  let bestGap = Infinity;
  let fmr100 = 1;
  let fmr1000 = 1;
  let zeroFmr = 1;
  for (const t of thresholds) {
    const fnmr = below(g, t) / g.length;
    const fmr = (im.length - below(im, t)) / im.length;
    const gap = Math.abs(fmr - fnmr);
    if (gap < bestGap) {
      bestGap = gap;
      eer = (fmr + fnmr) / 2;
    }
    if (fmr <= 0.01) fmr100 = Math.min(fmr100, fnmr);
    if (fmr <= 0.001) fmr1000 = Math.min(fmr1000, fnmr);
    if (fmr === 0) zeroFmr = Math.min(zeroFmr, fnmr);
  }
  return { eer, fmr100, fmr1000, zeroFmr };
}

/**
 * Our extractor's templates for every impression, cached in the OS temp folder under a hash of
 * the extractor's sources (so a changed extractor is re-run, an unchanged one is not).
 */
export async function extractAll(
  manifest: readonly FvcImpression[],
  log: (s: string) => void = () => {},
): Promise<{ templates: Map<string, MinutiaeTemplate>; ms: Map<string, number>; cached: boolean }> {
  const { createHash } = await import('node:crypto');
  const { readdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { extractMinutiae } = await import('../src/fingerprint/extract/index.ts');
  const srcDir = resolve(here, '../src/fingerprint');
  const h = createHash('sha256');
  for (const f of [...readdirSync(join(srcDir, 'extract')).map((f) => join('extract', f)), 'image.ts'].sort()) {
    if (f.endsWith('.ts') && !f.endsWith('.test.ts')) h.update(readFileSync(join(srcDir, f)));
  }
  const cache = join(tmpdir(), `openprum-fvc-templates-${h.digest('hex').slice(0, 16)}.json`);
  if (existsSync(cache)) {
    const raw = JSON.parse(readFileSync(cache, 'utf8')) as { templates: Record<string, MinutiaeTemplate>; ms: Record<string, number> };
    return { templates: new Map(Object.entries(raw.templates)), ms: new Map(Object.entries(raw.ms)), cached: true };
  }
  const templates = new Map<string, MinutiaeTemplate>();
  const ms = new Map<string, number>();
  let k = 0;
  for (const m of manifest) {
    const img = readPngGray(m.imagePath, m.dpi);
    const t0 = performance.now();
    templates.set(m.id, extractMinutiae(img));
    ms.set(m.id, performance.now() - t0);
    if (++k % 80 === 0) log(`  extracted ${k}/${manifest.length}`);
  }
  writeFileSync(cache, JSON.stringify({ templates: Object.fromEntries(templates), ms: Object.fromEntries(ms) }));
  return { templates, ms, cached: false };
}

/** Every pair of impressions of different fingers within each set (the extended impostor set). */
export function allImpostorPairs(manifest: readonly FvcImpression[]): FvcPair[] {
  const bySet = new Map<string, FvcImpression[]>();
  for (const m of manifest) bySet.set(m.set, [...(bySet.get(m.set) ?? []), m]);
  const out: FvcPair[] = [];
  for (const [set, list] of bySet) {
    for (const a of list) for (const b of list) if (a.finger < b.finger) out.push({ set, gallery: a.id, probe: b.id, genuine: false });
  }
  return out;
}
