/**
 * Minutiae extraction: grayscale image (any resolution) → ISO-style minutiae template.
 *
 *   resample to 500 ppi → orientation, segmentation, ridge period (field.ts)
 *   → oriented band-pass enhancement (enhance.ts) → binary ridges → skeleton (skeleton.ts)
 *   → endings and bifurcations → false-minutia removal → direction and quality
 *
 * One parameter set for every sensor: all sizes are in 500-ppi pixels or in ridge periods measured
 * on the image itself. See README.md in this folder.
 */
import { OpenPrumError } from '../../errors/index.ts';
import { WORKING_PPI, checkImage, resampleToPpi } from '../image.ts';
import type { FingerPosition, GrayImage, Minutia, MinutiaeTemplate } from '../types.ts';
import { enhance } from './enhance.ts';
import { BLOCK, computeField, refineOrientation, type Field } from './field.ts';
import { BIFURCATION, ENDING, arms, branches, classify, thin, trace } from './skeleton.ts';

/** Size limits, checked before any pixel buffer is allocated. */
export const EXTRACT_LIMITS = {
  /** Largest input, in pixels (width × height), at any resolution: 40 MP (e.g. 6,300² at 1000 ppi). */
  maxInputPixels: 40_000_000,
  /** Largest side after normalisation to 500 ppi: 2,000 px = 10.2 cm, more than a whole hand's slap. */
  maxSide: 2000,
  /** Smallest side after normalisation: below 64 px (3 mm) there is no usable ridge pattern. */
  minSide: 64,
} as const;

export interface ExtractOptions {
  /** Finger position to put in the template (ANSI/NIST-ITL / ISO code, 0 = unknown). */
  readonly position?: FingerPosition;
  /** Keep at most this many minutiae (the highest-quality ones). Default 128. */
  readonly maxMinutiae?: number;
}

/** Internal tuning knobs (one set for all sensors); exported for the benches and tests only. */
export const EXTRACT_PARAMS = {
  /** Segmentation: block contrast relative to the print's 90th percentile. */
  contrastThreshold: 0.12,
  /** Orientation smoothing, Gaussian σ in blocks (8 px). */
  orientationSigma: 1.6,
  /** Blur before the gradients (σ, px); 0 = none (measured: any blur here cost accuracy). */
  gradientSigma: 0,
  /** Orientation smoothing (blocks) of the second pass on the enhanced image; 0 = one pass only. */
  refineSigma: 0,
  /** Enhancement: band-pass σ across the ridges (in periods) and Gaussian σ along them (px). */
  acrossSigma: 0.45,
  alongSigma: 4,
  /** Minutiae closer than this to the edge of the print (pixels) are artefacts of the edge. */
  borderMargin: 8,
  /** Endings whose ridge would leave the print within this many periods are edge artefacts. */
  edgeReach: 1.5,
  /** Ridge/valley blobs smaller than this many pixels are noise (a pore, a speck of dirt). */
  minBlob: 20,
  /** Lengths for the false-minutia rules, in ridge periods. */
  spur: 0.5,
  shortRidge: 0.8,
  bridge: 0.5,
  gap: 0.8,
  /** A minutia with this many others within `cluster` periods sits in a noise cluster. */
  cluster: 1.2,
  clusterCount: 3,
  /** Steps traced along the ridge for a minutia's direction (pixels). */
  directionSteps: 10,
};

export type ExtractParams = typeof EXTRACT_PARAMS;

/** Extracts minutiae from a fingerprint image. Blank or ridge-less images give zero minutiae. */
export function extractMinutiae(image: GrayImage, options: ExtractOptions = {}): MinutiaeTemplate {
  return extractDetailed(image, options).template;
}

export interface ExtractDebug {
  template: MinutiaeTemplate;
  /** The 500-ppi working image and intermediate maps (for diagnostics). */
  work?: { w: number; h: number; field: Field; enhanced: Float32Array; skeleton: Uint8Array };
}

export function extractDetailed(image: GrayImage, options: ExtractOptions = {}, params: ExtractParams = EXTRACT_PARAMS): ExtractDebug {
  checkSize(image);
  checkImage(image);
  const position = options.position ?? 0;
  const maxMinutiae = options.maxMinutiae ?? 128;
  const empty: MinutiaeTemplate = { width: image.width, height: image.height, ppi: image.ppi, position, quality: 0, minutiae: [] };
  const work = resampleToPpi(image, WORKING_PPI);
  const w = work.width;
  const h = work.height;
  if (w < EXTRACT_LIMITS.minSide || h < EXTRACT_LIMITS.minSide) return { template: empty };
  const img = new Float32Array(w * h);
  for (let i = 0; i < img.length; i++) img[i] = work.pixels[i]!;
  let field = computeField(img, w, h, params);
  let fg = 0;
  for (let i = 0; i < field.mask.length; i++) fg += field.mask[i]!;
  // Fewer than ~4 × 4 blocks of print: nothing to extract.
  if (fg < 16) return { template: empty };

  let enhanced = enhance(img, w, h, field, params);
  if (params.refineSigma > 0) {
    field = refineOrientation(field, enhanced, w, h, params.refineSigma);
    enhanced = enhance(img, w, h, field, params);
  }
  const bin = new Uint8Array(w * h);
  for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) bin[y * w + x] = enhanced[y * w + x]! < 0 ? 1 : 0;
  removeSmall(bin, w, h, 0, params.minBlob);
  removeSmall(bin, w, h, 1, params.minBlob);
  thin(bin, w, h);

  const found = findMinutiae(bin, w, h, field, params);
  const scale = image.ppi / WORKING_PPI;
  found.sort((a, b) => b.quality - a.quality);
  const minutiae: Minutia[] = found.slice(0, maxMinutiae).map((m) => ({
    x: Math.min(image.width - 1, Math.round(m.x * scale)),
    y: Math.min(image.height - 1, Math.round(m.y * scale)),
    angle: m.angle,
    type: m.type === ENDING ? 'ending' : 'bifurcation',
    quality: m.quality,
  }));
  let q = 0;
  for (const m of minutiae) q += m.quality;
  const quality = minutiae.length > 0 ? Math.round(q / minutiae.length) : 0;
  return {
    template: { width: image.width, height: image.height, ppi: image.ppi, position, quality, minutiae },
    work: { w, h, field, enhanced, skeleton: bin },
  };
}

function checkSize(image: GrayImage): void {
  const { width, height, ppi } = image;
  if (!Number.isFinite(width) || !Number.isFinite(height) || !Number.isFinite(ppi) || ppi <= 0) return; // checkImage explains
  if (width * height > EXTRACT_LIMITS.maxInputPixels) {
    throw new OpenPrumError(
      'fingerprint-image-too-large',
      `The image has ${width}×${height} pixels; at most ${EXTRACT_LIMITS.maxInputPixels.toLocaleString('en')} are accepted. Crop it to the finger first.`,
      { width, height, limit: EXTRACT_LIMITS.maxInputPixels },
    );
  }
  const s = WORKING_PPI / ppi;
  if (width * s > EXTRACT_LIMITS.maxSide || height * s > EXTRACT_LIMITS.maxSide) {
    throw new OpenPrumError(
      'fingerprint-image-too-large',
      `The image is ${((width / ppi) * 2.54).toFixed(1)} × ${((height / ppi) * 2.54).toFixed(1)} cm; a single fingerprint image may be at most ${((EXTRACT_LIMITS.maxSide / WORKING_PPI) * 2.54).toFixed(1)} cm on each side. Segment the fingers first.`,
      { width, height, ppi, maxSide500: EXTRACT_LIMITS.maxSide },
    );
  }
}

/** Flips 4-connected components of `value` smaller than `minSize` pixels to the other value. */
function removeSmall(bin: Uint8Array, w: number, h: number, value: number, minSize: number): void {
  const seen = new Uint8Array(w * h);
  const stack: number[] = [];
  const comp: number[] = [];
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const s = y * w + x;
      if (bin[s] !== value || seen[s]) continue;
      comp.length = 0;
      stack.push(s);
      seen[s] = 1;
      let big = false;
      while (stack.length > 0) {
        const i = stack.pop()!;
        if (!big) comp.push(i);
        if (comp.length >= minSize) big = true;
        for (const j of [i - 1, i + 1, i - w, i + w]) {
          const jx = j % w;
          const jy = (j - jx) / w;
          if (jx < 1 || jy < 1 || jx >= w - 1 || jy >= h - 1) continue;
          if (bin[j] === value && !seen[j]) {
            seen[j] = 1;
            stack.push(j);
          }
        }
      }
      if (!big) for (const i of comp) bin[i] = 1 - value;
    }
  }
}

interface Raw {
  x: number;
  y: number;
  pixel: number;
  type: number;
  /** Direction in the ISO convention (radians, counter-clockwise, y up). */
  angle: number;
  quality: number;
  removed: boolean;
}

/** Ridge orientation (screen radians, [0, π)) at a pixel, from the nearest block. */
function orientationAt(f: Field, x: number, y: number): number {
  const bx = Math.min(f.bw - 1, (x / BLOCK) | 0);
  const by = Math.min(f.bh - 1, (y / BLOCK) | 0);
  const b = by * f.bw + bx;
  let t = Math.atan2(f.sin2[b]!, f.cos2[b]!) / 2;
  if (t < 0) t += Math.PI;
  return t;
}

function blockOf(f: Field, x: number, y: number): number {
  return Math.min(f.bh - 1, (y / BLOCK) | 0) * f.bw + Math.min(f.bw - 1, (x / BLOCK) | 0);
}

function findMinutiae(skel: Uint8Array, w: number, h: number, f: Field, p: ExtractParams): Raw[] {
  const list: Raw[] = [];
  const stop = new Int32Array(w * h);
  for (let y = 2; y < h - 2; y++) {
    for (let x = 2; x < w - 2; x++) {
      const i = y * w + x;
      if (!skel[i]) continue;
      const b = blockOf(f, x, y);
      if (f.reliable[b] === 0) continue;
      const t = classify(skel, w, i);
      if (t === 0) continue;
      // Junction cores can classify two touching pixels as bifurcations: keep one.
      if (t === BIFURCATION && (stop[i - 1] || stop[i - w] || stop[i - w - 1] || stop[i - w + 1])) continue;
      list.push({ x, y, pixel: i, type: t, angle: 0, quality: 0, removed: false });
      stop[i] = list.length;
    }
  }
  const visit = new Uint32Array(w * h);
  let stamp = 0;
  const T = f.medianPeriod;
  const reach = Math.ceil(Math.max(p.spur, p.shortRidge, p.bridge) * T) + 1;
  const maxSteps = Math.max(reach, p.directionSteps);

  // Direction and the skeleton-based false-minutia rules.
  for (let k = 0; k < list.length; k++) {
    const m = list[k]!;
    const br = m.type === ENDING ? branches(skel, w, m.pixel) : arms(skel, w, m.pixel);
    if (m.type === ENDING) {
      const first = br[0];
      if (first === undefined) {
        m.removed = true; // an isolated pixel
        continue;
      }
      const r = trace(skel, w, m.pixel, first, maxSteps, stop, visit, ++stamp);
      if (r.reason === 1) {
        const other = list[stop[r.end]! - 1]!;
        const len = r.steps;
        if ((other.type === ENDING && len <= p.shortRidge * T) || (other.type === BIFURCATION && len <= p.spur * T)) {
          m.removed = true;
          other.removed = true;
        }
      }
      const d = directionAlong(skel, w, m.pixel, first, p.directionSteps, visit, ++stamp);
      m.angle = refine(d, orientationAt(f, m.x, m.y));
    } else {
      if (br.length !== 3) {
        // Four or more arms: a crossing or a blob, not a clean bifurcation.
        m.removed = true;
        continue;
      }
      const dirs: number[] = [];
      for (let a = 0; a < 3; a++) {
        const others = br.filter((_, j) => j !== a);
        const r = trace(skel, w, m.pixel, br[a]!, maxSteps, stop, visit, ++stamp, others);
        if (r.reason === 1) {
          const other = list[stop[r.end]! - 1]!;
          if (other.type === BIFURCATION && r.steps <= p.bridge * T) {
            m.removed = true;
            other.removed = true;
          }
        }
        dirs.push(directionAlong(skel, w, m.pixel, br[a]!, p.directionSteps, visit, ++stamp, others));
      }
      // The stem is the arm farthest in angle from the other two; the minutia points away from it,
      // into the fork (the ISO convention: the direction of the valley that ends between the arms).
      let stem = 0;
      let worst = -1;
      for (let a = 0; a < 3; a++) {
        const s = angDiff(dirs[a]!, dirs[(a + 1) % 3]!) + angDiff(dirs[a]!, dirs[(a + 2) % 3]!);
        if (s > worst) {
          worst = s;
          stem = a;
        }
      }
      m.angle = refine(dirs[stem]! + Math.PI, orientationAt(f, m.x, m.y));
    }
  }

  // Broken ridges: two endings close together, pointing at each other along the ridge flow.
  const gap = p.gap * T;
  for (let a = 0; a < list.length; a++) {
    const ma = list[a]!;
    if (ma.type !== ENDING) continue;
    for (let b = a + 1; b < list.length; b++) {
      const mb = list[b]!;
      if (mb.type !== ENDING) continue;
      const dx = mb.x - ma.x;
      const dy = mb.y - ma.y;
      if (dx * dx + dy * dy > gap * gap) continue;
      // ISO angles point into each ridge; across a gap they are opposite, and the gap runs along them.
      if (angDiff(ma.angle, mb.angle + Math.PI) > Math.PI / 4) continue;
      const link = Math.atan2(-dy, dx);
      if (angDiff(link, ma.angle + Math.PI) > Math.PI / 3) continue;
      ma.removed = true;
      mb.removed = true;
    }
  }

  // Edge of the print and of the image: the ridges end there, but not as minutiae.
  for (const m of list) {
    if (m.removed) continue;
    if (m.x < p.borderMargin || m.y < p.borderMargin || m.x >= w - p.borderMargin || m.y >= h - p.borderMargin) {
      m.removed = true;
      continue;
    }
    const inset = insetAt(f, m.x, m.y);
    if (inset < p.borderMargin) {
      m.removed = true;
      continue;
    }
    // A ridge ending whose ridge would continue out of the print within a couple of periods is
    // the print's edge (or the edge of a smudge), not a minutia.
    if (m.type === ENDING && leavesPrint(f, w, h, m.x, m.y, m.angle + Math.PI, p.edgeReach * T)) m.removed = true;
  }

  // Clusters: real minutiae are rarely more than two within half a ridge period of each other.
  const kept = list.filter((m) => !m.removed);
  const crowd = new Uint8Array(kept.length);
  const r2 = (T * p.cluster) ** 2;
  for (let a = 0; a < kept.length; a++) {
    for (let b = a + 1; b < kept.length; b++) {
      const dx = kept[a]!.x - kept[b]!.x;
      const dy = kept[a]!.y - kept[b]!.y;
      if (dx * dx + dy * dy < r2) {
        crowd[a]!++;
        crowd[b]!++;
      }
    }
  }
  const out: Raw[] = [];
  for (let a = 0; a < kept.length; a++) {
    if (crowd[a]! >= p.clusterCount) continue;
    const m = kept[a]!;
    m.quality = qualityAt(f, m.x, m.y);
    out.push(m);
  }
  return out;
}

/** Whether walking from (x, y) in ISO direction `iso` for `reach` pixels leaves the reliable print. */
function leavesPrint(f: Field, w: number, h: number, x: number, y: number, iso: number, reach: number): boolean {
  const dx = Math.cos(iso);
  const dy = -Math.sin(iso);
  for (let t = 2; t <= reach; t += 2) {
    const px = Math.round(x + dx * t);
    const py = Math.round(y + dy * t);
    if (px < 0 || py < 0 || px >= w || py >= h) return true;
    if (f.reliable[blockOf(f, px, py)] === 0) return true;
  }
  return false;
}

/** Distance in pixels from (x, y) to the edge of the print, interpolated from the block map. */
function insetAt(f: Field, x: number, y: number): number {
  const b = blockOf(f, x, y);
  // Block inset counts whole blocks to the nearest background block; the pixel can be up to a
  // block nearer than its block's centre, so subtract half a block.
  return Math.max(0, f.inset[b]! * BLOCK - BLOCK / 2);
}

function qualityAt(f: Field, x: number, y: number): number {
  const b = blockOf(f, x, y);
  const c = f.coherence[b]!;
  // Coherence of 0.2 is noise, 0.7 and above is a clean parallel ridge flow.
  const q = Math.max(0, Math.min(1, (c - 0.2) / 0.5));
  const edge = Math.min(1, insetAt(f, x, y) / 40);
  return Math.max(1, Math.round(100 * q * (0.6 + 0.4 * edge)));
}

function angDiff(a: number, b: number): number {
  let d = Math.abs(a - b) % (2 * Math.PI);
  if (d > Math.PI) d = 2 * Math.PI - d;
  return d;
}

/** Screen direction (radians, y down) from a minutia pixel along the ridge through `first`. */
function directionAlong(
  skel: Uint8Array,
  w: number,
  start: number,
  first: number,
  steps: number,
  visit: Uint32Array,
  stamp: number,
  blocked: readonly number[] = [],
): number {
  const r = trace(skel, w, start, first, steps, zeroStop(skel.length), visit, stamp, blocked);
  const sx = start % w;
  const sy = (start - sx) / w;
  const ex = r.end % w;
  const ey = (r.end - ex) / w;
  return Math.atan2(ey - sy, ex - sx);
}

let zeros = new Int32Array(0);
function zeroStop(n: number): Int32Array {
  if (zeros.length < n) zeros = new Int32Array(n);
  return zeros;
}

/**
 * Final ISO angle: the traced direction snapped to the (smoother, more precise) orientation field
 * when the two agree, the traced one alone where they do not (high curvature near cores).
 */
function refine(screenDir: number, fieldOrientation: number): number {
  let best = fieldOrientation;
  if (angDiff(screenDir, fieldOrientation + Math.PI) < angDiff(screenDir, fieldOrientation)) best = fieldOrientation + Math.PI;
  const chosen = angDiff(screenDir, best) < Math.PI / 4.5 ? best : screenDir;
  // Screen (y down) → ISO (y up, counter-clockwise).
  let iso = -chosen;
  iso %= 2 * Math.PI;
  if (iso < 0) iso += 2 * Math.PI;
  return iso;
}
