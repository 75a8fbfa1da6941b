/**
 * Block-level description of the ridge pattern of a 500-ppi image: where the finger is
 * (segmentation), which way the ridges run (orientation), how clearly (coherence) and how far
 * apart they are (ridge period). Everything here works on blocks of BLOCK × BLOCK pixels so the
 * cost stays linear in the image size with a small constant.
 */

/** Block side in pixels at 500 ppi: a little less than one ridge period, fine enough near cores. */
export const BLOCK = 8;

export interface Field {
  /** Blocks across and down. */
  readonly bw: number;
  readonly bh: number;
  /** Smoothed ridge orientation per block as a doubled-angle unit vector (cos 2θ, sin 2θ), θ in screen coordinates (y down). */
  readonly cos2: Float32Array;
  readonly sin2: Float32Array;
  /** 0…1: how consistent the local gradients are (1 = perfectly parallel ridges). */
  readonly coherence: Float32Array;
  /** 1 where the block belongs to the fingerprint. */
  readonly mask: Uint8Array;
  /** Where minutiae may be reported (currently the whole print: measured, a coherence-based cut lost more than it gained). */
  readonly reliable: Uint8Array;
  /** Distance in blocks from each block to the nearest background block (0 there). */
  readonly inset: Float32Array;
  /** Ridge period in pixels per block (smoothed, filled in where it could not be measured). */
  readonly period: Float32Array;
  /** Median period over the print. */
  readonly medianPeriod: number;
  /** Mean gradient energy per block (local contrast), for quality. */
  readonly energy: Float32Array;
}

export interface FieldOptions {
  /** Blocks whose contrast is below this share of the print's typical contrast are background. */
  readonly contrastThreshold: number;
  /** Smoothing of the orientation field, in blocks (Gaussian σ). */
  readonly orientationSigma: number;
  /** Blur (Gaussian σ, pixels) applied before taking gradients. */
  readonly gradientSigma: number;
}

export function computeField(src: Float32Array, w: number, h: number, opts: FieldOptions): Field {
  // Gradients are taken on a lightly blurred copy: dry and porous prints break ridges into dots,
  // and the gradients around single dots point every way; blurring at about a fifth of a ridge
  // period keeps the ridge-scale structure and drops the dot-scale one.
  const img = opts.gradientSigma > 0 ? blur(src, w, h, opts.gradientSigma) : src;
  const bw = Math.ceil(w / BLOCK);
  const bh = Math.ceil(h / BLOCK);
  const nb = bw * bh;
  const sxx = new Float32Array(nb);
  const sxy = new Float32Array(nb);
  const see = new Float32Array(nb);
  const cnt = new Float32Array(nb);
  // Sobel gradients, accumulated per block as second moments (the doubled-angle trick makes
  // opposite gradients on the two flanks of a ridge add up instead of cancelling).
  for (let y = 1; y < h - 1; y++) {
    const r = y * w;
    const by = ((y / BLOCK) | 0) * bw;
    for (let x = 1; x < w - 1; x++) {
      const i = r + x;
      const a = img[i - w - 1]!;
      const b = img[i - w]!;
      const c = img[i - w + 1]!;
      const d = img[i - 1]!;
      const f = img[i + 1]!;
      const g = img[i + w - 1]!;
      const hh = img[i + w]!;
      const k = img[i + w + 1]!;
      const gx = c + 2 * f + k - a - 2 * d - g;
      const gy = g + 2 * hh + k - a - 2 * b - c;
      const bi = by + ((x / BLOCK) | 0);
      sxx[bi]! += gx * gx - gy * gy;
      sxy[bi]! += 2 * gx * gy;
      see[bi]! += gx * gx + gy * gy;
      cnt[bi]! += 1;
    }
  }
  const energy = new Float32Array(nb);
  for (let i = 0; i < nb; i++) energy[i] = cnt[i]! > 0 ? see[i]! / cnt[i]! : 0;

  // Coherence over a 3 × 3 block window (one block is too few ridges to judge).
  const wxx = boxBlocks(sxx, bw, bh, 1);
  const wxy = boxBlocks(sxy, bw, bh, 1);
  const wee = boxBlocks(see, bw, bh, 1);
  const coherence = new Float32Array(nb);
  for (let i = 0; i < nb; i++) coherence[i] = wee[i]! > 0 ? Math.hypot(wxx[i]!, wxy[i]!) / wee[i]! : 0;

  const mask = segment(energy, coherence, bw, bh, opts.contrastThreshold);

  // Orientation: Gaussian-smoothed doubled-angle vectors, each block weighted by its own energy;
  // background blocks do not contribute (their "orientation" is noise or sensor streaks).
  const vx = new Float32Array(nb);
  const vy = new Float32Array(nb);
  for (let i = 0; i < nb; i++) {
    if (mask[i] === 0) continue;
    // Ridge orientation is perpendicular to the gradient: in doubled angles, the opposite vector.
    vx[i] = -sxx[i]!;
    vy[i] = -sxy[i]!;
  }
  const gx = gaussBlocks(vx, bw, bh, opts.orientationSigma);
  const gy = gaussBlocks(vy, bw, bh, opts.orientationSigma);
  const cos2 = new Float32Array(nb);
  const sin2 = new Float32Array(nb);
  for (let i = 0; i < nb; i++) {
    const r = Math.hypot(gx[i]!, gy[i]!);
    if (r > 0) {
      cos2[i] = gx[i]! / r;
      sin2[i] = gy[i]! / r;
    } else {
      cos2[i] = 1;
    }
  }

  const reliable = mask;
  const inset = distanceToBackground(reliable, bw, bh);
  const { period, median } = ridgePeriod(src, w, h, bw, bh, cos2, sin2, mask);
  return { bw, bh, cos2, sin2, coherence, mask, reliable, inset, period, medianPeriod: median, energy };
}

/** Separable Gaussian blur of a pixel image (edges clamped). */
export function blur(src: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let t = -r; t <= r; t++) sum += k[t + r] = Math.exp((-t * t) / (2 * sigma * sigma));
  for (let t = 0; t < k.length; t++) k[t]! /= sum;
  const tmp = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) {
        const xx = x + t < 0 ? 0 : x + t >= w ? w - 1 : x + t;
        s += src[row + xx]! * k[t + r]!;
      }
      tmp[row + x] = s;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) {
        const yy = y + t < 0 ? 0 : y + t >= h ? h - 1 : y + t;
        s += tmp[yy * w + x]! * k[t + r]!;
      }
      out[y * w + x] = s;
    }
  }
  return out;
}

/**
 * Re-estimates the orientation field from an enhanced image (second pass): the enhanced ridges are
 * clean where the first estimate was right, and the few places it was wrong (noise, creases, dry
 * skin) get corrected from the ridges around them.
 */
export function refineOrientation(f: Field, enhanced: Float32Array, w: number, h: number, sigma: number): Field {
  const { bw, bh } = f;
  const nb = bw * bh;
  const vx = new Float32Array(nb);
  const vy = new Float32Array(nb);
  for (let y = 1; y < h - 1; y++) {
    const r = y * w;
    const by = ((y / BLOCK) | 0) * bw;
    for (let x = 1; x < w - 1; x++) {
      const bi = by + ((x / BLOCK) | 0);
      if (f.mask[bi] === 0) continue;
      const i = r + x;
      const gx = enhanced[i + 1]! - enhanced[i - 1]!;
      const gy = enhanced[i + w]! - enhanced[i - w]!;
      vx[bi]! -= gx * gx - gy * gy;
      vy[bi]! -= 2 * gx * gy;
    }
  }
  const gx = gaussBlocks(vx, bw, bh, sigma);
  const gy = gaussBlocks(vy, bw, bh, sigma);
  const cos2 = new Float32Array(nb);
  const sin2 = new Float32Array(nb);
  for (let i = 0; i < nb; i++) {
    const r = Math.hypot(gx[i]!, gy[i]!);
    if (r > 0) {
      cos2[i] = gx[i]! / r;
      sin2[i] = gy[i]! / r;
    } else {
      cos2[i] = f.cos2[i]!;
      sin2[i] = f.sin2[i]!;
    }
  }
  return { ...f, cos2, sin2 };
}

/** Sum over a (2r+1)² block window. */
function boxBlocks(v: Float32Array, bw: number, bh: number, r: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      let s = 0;
      for (let yy = Math.max(0, y - r); yy <= Math.min(bh - 1, y + r); yy++) {
        for (let xx = Math.max(0, x - r); xx <= Math.min(bw - 1, x + r); xx++) s += v[yy * bw + xx]!;
      }
      out[y * bw + x] = s;
    }
  }
  return out;
}

/** Separable Gaussian over blocks (no normalisation at the edges: callers only use the direction). */
function gaussBlocks(v: Float32Array, bw: number, bh: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float32Array(2 * r + 1);
  for (let t = -r; t <= r; t++) k[t + r] = Math.exp((-t * t) / (2 * sigma * sigma));
  const tmp = new Float32Array(v.length);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) {
        const xx = x + t;
        if (xx >= 0 && xx < bw) s += v[y * bw + xx]! * k[t + r]!;
      }
      tmp[y * bw + x] = s;
    }
  }
  const out = new Float32Array(v.length);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) {
        const yy = y + t;
        if (yy >= 0 && yy < bh) s += tmp[yy * bw + x]! * k[t + r]!;
      }
      out[y * bw + x] = s;
    }
  }
  return out;
}

/**
 * Foreground blocks: enough contrast relative to the print's own typical contrast (so it adapts to
 * dry, wet, optical, capacitive and thermal sensors alike), then cleaned up: small specks dropped,
 * holes filled, the outline smoothed.
 */
function segment(energy: Float32Array, coherence: Float32Array, bw: number, bh: number, threshold: number): Uint8Array {
  const nb = bw * bh;
  // Contrast is smoothed over 3 × 3 blocks so a single dry ridge gap does not punch a hole.
  const e = boxBlocks(energy, bw, bh, 1);
  const sorted = Float32Array.from(e).sort();
  const ref = sorted[Math.floor(sorted.length * 0.9)] ?? 0;
  let mask: Uint8Array = new Uint8Array(nb);
  if (ref <= 0) return mask;
  for (let i = 0; i < nb; i++) {
    // Sensor streaks and smudges can have contrast but no ridge structure; require a little coherence too.
    mask[i] = e[i]! >= threshold * ref && coherence[i]! > 0.05 ? 1 : 0;
  }
  // Opening removes isolated specks; closing bridges small gaps; then fill holes and keep the main blob(s).
  mask = dilate(erode(mask, bw, bh), bw, bh);
  mask = erode(dilate(dilate(mask, bw, bh), bw, bh), bw, bh);
  mask = erode(mask, bw, bh);
  keepLargeComponents(mask, bw, bh);
  fillHoles(mask, bw, bh);
  return mask;
}

function erode(m: Uint8Array, bw: number, bh: number): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = y * bw + x;
      if (m[i] === 0) continue;
      out[i] = x > 0 && x < bw - 1 && y > 0 && y < bh - 1 && m[i - 1] && m[i + 1] && m[i - bw] && m[i + bw] ? 1 : 0;
    }
  }
  return out;
}

function dilate(m: Uint8Array, bw: number, bh: number): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = y * bw + x;
      out[i] = m[i] || (x > 0 && m[i - 1]) || (x < bw - 1 && m[i + 1]) || (y > 0 && m[i - bw]) || (y < bh - 1 && m[i + bw]) ? 1 : 0;
    }
  }
  return out;
}

/** Labels 4-connected components of value `v`; returns labels and sizes (label 0 = other value). */
function components(m: Uint8Array, bw: number, bh: number, v: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(m.length);
  const sizes = [0];
  const stack: number[] = [];
  for (let s = 0; s < m.length; s++) {
    if (m[s] !== v || labels[s] !== 0) continue;
    const id = sizes.length;
    let size = 0;
    labels[s] = id;
    stack.push(s);
    while (stack.length > 0) {
      const i = stack.pop()!;
      size++;
      const x = i % bw;
      const y = (i - x) / bw;
      if (x > 0 && m[i - 1] === v && labels[i - 1] === 0) {
        labels[i - 1] = id;
        stack.push(i - 1);
      }
      if (x < bw - 1 && m[i + 1] === v && labels[i + 1] === 0) {
        labels[i + 1] = id;
        stack.push(i + 1);
      }
      if (y > 0 && m[i - bw] === v && labels[i - bw] === 0) {
        labels[i - bw] = id;
        stack.push(i - bw);
      }
      if (y < bh - 1 && m[i + bw] === v && labels[i + bw] === 0) {
        labels[i + bw] = id;
        stack.push(i + bw);
      }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/** Drops foreground components smaller than a quarter of the largest (smudges, latent residue). */
function keepLargeComponents(m: Uint8Array, bw: number, bh: number): void {
  const { labels, sizes } = components(m, bw, bh, 1);
  const largest = Math.max(0, ...sizes);
  for (let i = 0; i < m.length; i++) if (m[i] === 1 && sizes[labels[i]!]! < largest / 4) m[i] = 0;
}

/** Background components not touching the image edge are holes in the print: fill them. */
function fillHoles(m: Uint8Array, bw: number, bh: number): void {
  const { labels, sizes } = components(m, bw, bh, 0);
  const border = new Set<number>();
  for (let x = 0; x < bw; x++) {
    border.add(labels[x]!);
    border.add(labels[(bh - 1) * bw + x]!);
  }
  for (let y = 0; y < bh; y++) {
    border.add(labels[y * bw]!);
    border.add(labels[y * bw + bw - 1]!);
  }
  void sizes;
  for (let i = 0; i < m.length; i++) if (m[i] === 0 && !border.has(labels[i]!)) m[i] = 1;
}

/** Chamfer distance (in blocks) from each foreground block to background or the image edge. */
function distanceToBackground(mask: Uint8Array, bw: number, bh: number): Float32Array {
  const d = new Float32Array(mask.length);
  const big = 1e6;
  for (let i = 0; i < d.length; i++) d[i] = mask[i] ? big : 0;
  const at = (x: number, y: number): number => (x < 0 || y < 0 || x >= bw || y >= bh ? 0 : d[y * bw + x]!);
  const diag = Math.SQRT2;
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = y * bw + x;
      if (d[i] === 0) continue;
      d[i] = Math.min(d[i]!, at(x - 1, y) + 1, at(x, y - 1) + 1, at(x - 1, y - 1) + diag, at(x + 1, y - 1) + diag);
    }
  }
  for (let y = bh - 1; y >= 0; y--) {
    for (let x = bw - 1; x >= 0; x--) {
      const i = y * bw + x;
      if (d[i] === 0) continue;
      d[i] = Math.min(d[i]!, at(x + 1, y) + 1, at(x, y + 1) + 1, at(x + 1, y + 1) + diag, at(x - 1, y + 1) + diag);
    }
  }
  return d;
}

/**
 * Ridge period per block: the gray levels are averaged along the ridges in a window across them,
 * and the spacing of the peaks of that profile is the period. Blocks where this fails (noise,
 * creases, cores) take the average of their measured neighbours; the result is smoothed.
 */
function ridgePeriod(
  img: Float32Array,
  w: number,
  h: number,
  bw: number,
  bh: number,
  cos2: Float32Array,
  sin2: Float32Array,
  mask: Uint8Array,
): { period: Float32Array; median: number } {
  const nb = bw * bh;
  const raw = new Float32Array(nb);
  const half = 16;
  const along = 6;
  const prof = new Float32Array(2 * half + 1);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const b = by * bw + bx;
      if (mask[b] === 0) continue;
      const theta = Math.atan2(sin2[b]!, cos2[b]!) / 2;
      const dx = Math.cos(theta);
      const dy = Math.sin(theta);
      const cx = bx * BLOCK + BLOCK / 2;
      const cy = by * BLOCK + BLOCK / 2;
      for (let k = -half; k <= half; k++) {
        let s = 0;
        let c = 0;
        for (let t = -along; t <= along; t += 2) {
          const px = Math.round(cx - k * dy + t * dx);
          const py = Math.round(cy + k * dx + t * dy);
          if (px < 0 || py < 0 || px >= w || py >= h) continue;
          s += img[py * w + px]!;
          c++;
        }
        prof[k + half] = c > 0 ? s / c : NaN;
      }
      raw[b] = profilePeriod(prof);
    }
  }
  const valid: number[] = [];
  for (let i = 0; i < nb; i++) if (raw[i]! > 0) valid.push(raw[i]!);
  valid.sort((a, b) => a - b);
  // 9 px is the typical adult ridge period at 500 ppi; used only when nothing could be measured.
  const median = valid.length > 0 ? valid[valid.length >> 1]! : 9;
  // Fill and smooth: weighted average of measured periods over a 5 × 5 block window.
  const period = new Float32Array(nb);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      let s = 0;
      let c = 0;
      for (let yy = Math.max(0, by - 2); yy <= Math.min(bh - 1, by + 2); yy++) {
        for (let xx = Math.max(0, bx - 2); xx <= Math.min(bw - 1, bx + 2); xx++) {
          const v = raw[yy * bw + xx]!;
          // Outliers (a missed or doubled peak) are ignored rather than averaged in.
          if (v > 0 && v > median * 0.6 && v < median * 1.6) {
            s += v;
            c++;
          }
        }
      }
      period[by * bw + bx] = c >= 3 ? s / c : median;
    }
  }
  return { period, median };
}

/** Candidate ridge frequencies (cycles per pixel) for the period search: periods 4–20 px at 500 ppi. */
const FREQS = (() => {
  const out: number[] = [];
  for (let f = 1 / 20; f <= 1 / 4 + 1e-9; f += (1 / 4 - 1 / 20) / 48) out.push(f);
  return out;
})();
const FREQ_COS: Float32Array[] = [];
const FREQ_SIN: Float32Array[] = [];

/**
 * Dominant period of a profile: the strongest frequency of its windowed spectrum (sampled at 49
 * frequencies), or 0 if no frequency clearly dominates. A spectrum is far less fooled by pores and
 * noise than counting peaks.
 */
function profilePeriod(p: Float32Array): number {
  const n = p.length;
  if (FREQ_COS.length === 0 || FREQ_COS[0]!.length !== n) {
    FREQ_COS.length = 0;
    FREQ_SIN.length = 0;
    for (const f of FREQS) {
      const c = new Float32Array(n);
      const s = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        // Hann window folded into the basis: fewer edge effects from a window that holds ~3 periods.
        const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n);
        c[i] = hann * Math.cos(2 * Math.PI * f * i);
        s[i] = hann * Math.sin(2 * Math.PI * f * i);
      }
      FREQ_COS.push(c);
      FREQ_SIN.push(s);
    }
  }
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const v = p[i]!;
    if (Number.isNaN(v)) return 0;
    mean += v;
  }
  mean /= n;
  let best = 0;
  let bestF = 0;
  let total = 0;
  for (let k = 0; k < FREQS.length; k++) {
    const c = FREQ_COS[k]!;
    const s = FREQ_SIN[k]!;
    let re = 0;
    let im = 0;
    for (let i = 0; i < n; i++) {
      const v = p[i]! - mean;
      re += v * c[i]!;
      im += v * s[i]!;
    }
    const pw = re * re + im * im;
    total += pw;
    if (pw > best) {
      best = pw;
      bestF = FREQS[k]!;
    }
  }
  // A clear ridge pattern puts a large share of the power near one frequency.
  if (total <= 0 || best / total < 2.5 / FREQS.length) return 0;
  return 1 / bestF;
}
