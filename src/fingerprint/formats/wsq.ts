/**
 * WSQ decoder, written from the FBI specification "WSQ Gray-scale Fingerprint Image Compression
 * Specification" IAFIS-IC-0110 (V3, 1997). Section numbers below refer to its Part 1.
 *
 * Outline of a WSQ file (§A): SOI, then tables (DTT transform filters, DQT quantisation, DHT Huffman
 * tables, DRT restart interval, COM comments) and the SOF frame header, then three SOB blocks of
 * Huffman-coded quantised wavelet coefficients (tables may be redefined between blocks), then EOI.
 *
 * Decoding: Huffman-decode the coefficient indices of subbands 0–59 (subbands whose bin width Q is 0
 * are not transmitted), dequantise them with the bin centre C (§B.2.4.3), undo the 64-subband
 * two-dimensional wavelet decomposition with the transmitted filters (§B.2.3), and finally scale and
 * shift back to 8-bit pixels (§B.2.1: pixel = value × R + M).
 *
 * Every read is bounds-checked and every size is checked before anything is allocated, so corrupt
 * input ends in an OpenPrumError (`fingerprint-wsq-invalid`, or `input-too-large` for images beyond
 * the limits) and never in a RangeError, a hang or a huge allocation.
 */
import { OpenPrumError } from '../../errors/index.ts';
import type { GrayImage } from '../types.ts';

/** Default limits: 10 000 pixels a side and 50 million pixels (two 200 MB float planes while decoding). */
export const WSQ_DEFAULT_MAX_SIDE = 10_000;
export const WSQ_DEFAULT_MAX_PIXELS = 50_000_000;

export interface WsqDecodeOptions {
  /** Resolution when the file has no NIST_COM comment with a PPI entry (default 500). */
  readonly defaultPpi?: number;
  readonly maxWidth?: number;
  readonly maxHeight?: number;
  readonly maxPixels?: number;
}

export interface WsqInfo {
  readonly width: number;
  readonly height: number;
  /** PPI from a NIST_COM comment, when present and positive. */
  readonly ppi: number | undefined;
  /** Text of the COM segments (NIST_COM and others), in file order. */
  readonly comments: readonly string[];
  /** Encoder number and software implementation number of the frame header. */
  readonly encoder: number;
  readonly software: number;
}

// Markers (§A.2, Table A.1).
const SOI = 0xffa0;
const EOI = 0xffa1;
const SOF = 0xffa2;
const SOB = 0xffa3;
const DTT = 0xffa4;
const DQT = 0xffa5;
const DHT = 0xffa6;
const DRT = 0xffa7;
const COM = 0xffa8;
const RST0 = 0xffb0;
const RST7 = 0xffb7;

const MARKER_NAMES: Readonly<Record<number, string>> = {
  [SOI]: 'SOI',
  [EOI]: 'EOI',
  [SOF]: 'SOF',
  [SOB]: 'SOB',
  [DTT]: 'DTT',
  [DQT]: 'DQT',
  [DHT]: 'DHT',
  [DRT]: 'DRT',
  [COM]: 'COM',
};

/** Subbands 0–59 carry data; 60–63 (the highest-frequency quadrant) are never transmitted (§B.2.3). */
const CODED_SUBBANDS = 60;
const ALL_SUBBANDS = 64;

function invalid(message: string, offset?: number): OpenPrumError {
  return new OpenPrumError(
    'fingerprint-wsq-invalid',
    offset === undefined ? message : `${message} (byte offset ${offset})`,
    offset === undefined ? undefined : { offset },
  );
}

/** Bounds-checked big-endian reader. */
class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw invalid(`The WSQ data ends inside ${what}`, this.pos);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = ((this.buf[this.pos] as number) << 8) | (this.buf[this.pos + 1] as number);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)));
  }

  marker(): number {
    const at = this.pos;
    const m = this.u16('a marker');
    if (m >> 8 !== 0xff) throw invalid(`Expected a WSQ marker, found 0x${m.toString(16).padStart(4, '0')}`, at);
    return m;
  }
}

/** A scaled decimal as WSQ stores it: value / 10^exponent (§A.3). */
function scaled(value: number, exponent: number): number {
  return value / Math.pow(10, exponent);
}

interface HuffmanTable {
  /** For each code length 1..16: largest code of that length, or -1 when there is none. */
  readonly maxcode: Int32Array;
  readonly mincode: Int32Array;
  readonly valptr: Int32Array;
  readonly values: Uint8Array;
}

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly m: number;
  readonly r: number;
  readonly encoder: number;
  readonly software: number;
}

interface Filters {
  /** Synthesis low-pass filter, centred (odd length). */
  readonly lo: Float64Array;
  /** Synthesis high-pass filter, centred (odd length). */
  readonly hi: Float64Array;
}

interface Quantisation {
  readonly c: number;
  readonly q: Float64Array;
  readonly z: Float64Array;
}

interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

interface Split extends Rect {
  /** Spectral inversion along x / y: the high-pass half comes first (§B.2.3). */
  readonly hinv: boolean;
  readonly vinv: boolean;
}

// ------------------------------------------------------------------------------------------------
// Tables

function readSegment(r: Reader, name: string): { start: number; end: number } {
  const at = r.pos;
  const len = r.u16(`the ${name} length`);
  if (len < 2) throw invalid(`The ${name} segment has length ${len}`, at);
  const end = at + len;
  if (end > r.buf.length) throw invalid(`The ${name} segment runs past the end of the data`, at);
  return { start: at, end };
}

function readTransformTable(r: Reader): Filters {
  const seg = readSegment(r, 'DTT');
  const l0 = r.u8('DTT'); // analysis low-pass length
  const l1 = r.u8('DTT'); // analysis high-pass length
  if (l0 === 0 || l1 === 0) throw invalid('The DTT segment declares an empty filter', seg.start);
  if (l0 % 2 === 0 || l1 % 2 === 0) {
    // Even-length (half-sample symmetric) filters are allowed by §B.2.3 but no known encoder uses them;
    // the FBI encoder number one sends the odd 9/7 pair. Refuse rather than guess.
    throw invalid(`Even-length WSQ filters (${l0}/${l1}) are not supported`, seg.start);
  }
  const readHalf = (length: number): Float64Array => {
    // Only the centre and one side of a symmetric filter are sent: (length + 1) / 2 coefficients,
    // each as sign byte, exponent byte and a 4-byte magnitude (§A.3.4).
    const half = new Float64Array((length + 1) / 2);
    for (let i = 0; i < half.length; i++) {
      const sign = r.u8('DTT');
      const exponent = r.u8('DTT');
      const magnitude = r.u32('DTT');
      half[i] = (sign === 0 ? 1 : -1) * scaled(magnitude, exponent);
    }
    return half;
  };
  const h0 = readHalf(l0);
  const h1 = readHalf(l1);
  if (r.pos > seg.end) throw invalid('The DTT coefficients run past the segment length', seg.start);
  r.pos = seg.end;
  // Synthesis filters are the analysis filters of the other band modulated by (-1)^n (§B.2.3):
  // low-pass from the analysis high-pass, high-pass from the analysis low-pass.
  const centred = (half: Float64Array): Float64Array => {
    const c = half.length - 1;
    const out = new Float64Array(2 * c + 1);
    for (let k = 0; k <= c; k++) {
      const v = (k % 2 === 0 ? 1 : -1) * (half[k] as number);
      out[c + k] = v;
      out[c - k] = v;
    }
    return out;
  };
  return { lo: centred(h1), hi: centred(h0) };
}

function readQuantisationTable(r: Reader): Quantisation {
  const seg = readSegment(r, 'DQT');
  const ec = r.u8('DQT');
  const c = scaled(r.u16('DQT'), ec);
  const q = new Float64Array(ALL_SUBBANDS);
  const z = new Float64Array(ALL_SUBBANDS);
  for (let k = 0; k < ALL_SUBBANDS; k++) {
    const eq = r.u8('DQT');
    q[k] = scaled(r.u16('DQT'), eq);
    const ez = r.u8('DQT');
    z[k] = scaled(r.u16('DQT'), ez);
  }
  if (r.pos > seg.end) throw invalid('The DQT table runs past the segment length', seg.start);
  r.pos = seg.end;
  return { c, q, z };
}

function buildHuffman(counts: Uint8Array, values: Uint8Array, at: number): HuffmanTable {
  // Canonical codes as in JPEG (ITU T.81 Annex C), which WSQ reuses (§A.3.5).
  const maxcode = new Int32Array(17).fill(-1);
  const mincode = new Int32Array(17);
  const valptr = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1] as number;
    if (n > 0) {
      valptr[len] = k;
      mincode[len] = code;
      code += n;
      k += n;
      if (code > 1 << len) throw invalid('A DHT table has more codes than its code lengths allow', at);
      maxcode[len] = code - 1;
    }
    code <<= 1;
  }
  return { maxcode, mincode, valptr, values };
}

function readHuffmanTables(r: Reader, tables: (HuffmanTable | undefined)[]): void {
  const seg = readSegment(r, 'DHT');
  // One DHT segment may define several tables back to back.
  while (r.pos < seg.end) {
    const at = r.pos;
    const id = r.u8('DHT');
    if (id > 7) throw invalid(`DHT table id ${id} is out of range 0..7`, at);
    r.need(16, 'DHT');
    const counts = r.buf.slice(r.pos, r.pos + 16);
    r.pos += 16;
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === 0 || total > 256) throw invalid(`DHT table ${id} declares ${total} codes`, at);
    r.need(total, 'DHT');
    const values = r.buf.slice(r.pos, r.pos + total);
    r.pos += total;
    if (r.pos > seg.end) throw invalid(`DHT table ${id} runs past the segment length`, at);
    tables[id] = buildHuffman(counts, values, at);
  }
}

function readFrame(r: Reader, limits: Required<Pick<WsqDecodeOptions, 'maxWidth' | 'maxHeight' | 'maxPixels'>>): Frame {
  const seg = readSegment(r, 'SOF');
  r.u8('SOF'); // black calibration value
  r.u8('SOF'); // white calibration value
  const height = r.u16('SOF');
  const width = r.u16('SOF');
  const em = r.u8('SOF');
  const m = scaled(r.u16('SOF'), em);
  const er = r.u8('SOF');
  const rr = scaled(r.u16('SOF'), er);
  const encoder = r.u8('SOF');
  const software = r.u16('SOF');
  if (r.pos > seg.end) throw invalid('The SOF header runs past the segment length', seg.start);
  r.pos = seg.end;
  if (width === 0 || height === 0) throw invalid(`The WSQ frame is ${width}×${height} pixels`, seg.start);
  if (width > limits.maxWidth || height > limits.maxHeight || width * height > limits.maxPixels) {
    throw new OpenPrumError(
      'input-too-large',
      `The WSQ image is ${width}×${height} pixels; the limit is ${limits.maxWidth}×${limits.maxHeight} ` +
        `and ${limits.maxPixels} pixels`,
      { width, height },
    );
  }
  if (!(rr > 0)) throw invalid('The WSQ frame has a zero scale R', seg.start);
  return { width, height, m, r: rr, encoder, software };
}

function readComment(r: Reader): string {
  const seg = readSegment(r, 'COM');
  const text = new TextDecoder('latin1').decode(r.buf.subarray(r.pos, seg.end));
  r.pos = seg.end;
  return text;
}

/** The PPI entry of a NIST_COM comment ("NIST_COM n\nPPI 500\n…"), when positive. */
function nistComPpi(comments: readonly string[]): number | undefined {
  for (const text of comments) {
    if (!text.startsWith('NIST_COM')) continue;
    const m = /(?:^|\n)PPI[ \t]+(-?\d+)/.exec(text);
    if (m !== null && Number(m[1]) > 0) return Number(m[1]);
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// Subband geometry (§B.2.3, Figure B.3)

/**
 * The decomposition tree. Each split cuts a region into quadrants (top-left, top-right, bottom-left,
 * bottom-right); leaves are subband numbers; `null` is the never-transmitted quadrant (subbands 60–63).
 * The low-frequency corner is split deepest: four levels there, giving the 64 subbands of the spec.
 */
type Node = number | null | readonly [Node, Node, Node, Node];
const quad = (n: number): Node => [n, n + 1, n + 2, n + 3];
const TREE: Node = [
  [
    [[quad(0), 4, 5, 6], quad(7), quad(11), quad(15)],
    [quad(19), quad(23), quad(27), quad(31)],
    [quad(35), quad(39), quad(43), quad(47)],
    51,
  ],
  quad(52),
  quad(56),
  null,
];

interface Geometry {
  readonly bands: Rect[];
  /** Regions to synthesise, children before parents. */
  readonly splits: Split[];
}

function geometry(width: number, height: number): Geometry {
  const bands: Rect[] = new Array<Rect>(ALL_SUBBANDS);
  const splits: Split[] = [];
  const place = (node: Node, x: number, y: number, w: number, h: number, hinv: boolean, vinv: boolean): void => {
    if (node === null) return;
    if (typeof node === 'number') {
      bands[node] = { x, y, w, h };
      return;
    }
    // The low-pass half gets the extra sample of an odd length; with spectral inversion the high-pass
    // half comes first. A quadrant on the high-pass side of a split is itself inverted.
    const wl = hinv ? Math.floor(w / 2) : Math.ceil(w / 2);
    const ht = vinv ? Math.floor(h / 2) : Math.ceil(h / 2);
    place(node[0], x, y, wl, ht, false, false);
    place(node[1], x + wl, y, w - wl, ht, true, false);
    place(node[2], x, y + ht, wl, h - ht, false, true);
    place(node[3], x + wl, y + ht, w - wl, h - ht, true, true);
    splits.push({ x, y, w, h, hinv, vinv });
  };
  place(TREE, 0, 0, width, height, false, false);
  return { bands, splits };
}

// ------------------------------------------------------------------------------------------------
// Entropy-coded data (§A.4, §B.2.5)

/** Bit reader over the entropy-coded bytes: 0xFF 0x00 is a stuffed 0xFF; 0xFF + other byte is a marker. */
class BitReader {
  private cur = 0;
  private left = 0;
  /** Set when a marker is reached; the byte position then points at its 0xFF. */
  marker = 0;

  constructor(private readonly r: Reader) {}

  reset(): void {
    this.left = 0;
    this.marker = 0;
  }

  /** Next bit, or -1 when a marker is reached at a byte boundary. */
  bit(): number {
    if (this.left === 0) {
      const buf = this.r.buf;
      const p = this.r.pos;
      if (p >= buf.length) throw invalid('The WSQ data ends inside a coded block; EOI is missing', p);
      const b = buf[p] as number;
      if (b === 0xff) {
        const b2 = buf[p + 1];
        if (b2 === undefined) throw invalid('The WSQ data ends inside a coded block; EOI is missing', p);
        if (b2 !== 0) {
          this.marker = 0xff00 | b2;
          return -1;
        }
        this.r.pos = p + 2;
      } else {
        this.r.pos = p + 1;
      }
      this.cur = b;
      this.left = 8;
    }
    this.left--;
    return (this.cur >> this.left) & 1;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const b = this.bit();
      if (b < 0) throw invalid('A marker interrupts a coefficient inside a coded block', this.r.pos);
      v = (v << 1) | b;
    }
    return v;
  }
}

function tooMany(needed: number, offset: number): OpenPrumError {
  return invalid(`The coded blocks hold more coefficients than the ${needed} the subbands need`, offset);
}

/** Decodes one Huffman symbol; -1 when a marker ends the block (the bits before it were padding). */
function decodeSymbol(br: BitReader, t: HuffmanTable, r: Reader): number {
  let code = 0;
  for (let len = 1; len <= 16; len++) {
    const b = br.bit();
    if (b < 0) return -1;
    code = (code << 1) | b;
    const max = t.maxcode[len] as number;
    if (max >= 0 && code <= max && code >= (t.mincode[len] as number)) {
      return t.values[(t.valptr[len] as number) + code - (t.mincode[len] as number)] as number;
    }
  }
  throw invalid('The coded block holds a bit pattern that is no Huffman code', r.pos);
}

/**
 * Decodes the blocks into quantised coefficient indices; `r` is positioned just after the first SOB
 * marker. Returns when EOI is reached. Tables met between blocks go through `onTable`.
 */
function decodeBlocks(
  r: Reader,
  tables: (HuffmanTable | undefined)[],
  out: Int32Array,
  onTable: (marker: number) => void,
): number {
  const br = new BitReader(r);
  let n = 0;
  let marker: number = SOB;
  let table: HuffmanTable | undefined;
  let blocks = 0;
  while (marker !== EOI) {
    if (marker === SOB) {
      const seg = readSegment(r, 'SOB');
      const id = r.u8('SOB');
      r.pos = seg.end;
      table = tables[id];
      if (table === undefined) throw invalid(`Block ${blocks + 1} uses Huffman table ${id}, which is not defined`, seg.start);
      blocks++;
      br.reset();
    } else if (marker >= RST0 && marker <= RST7) {
      br.reset(); // restart: the next code starts on a fresh byte (§A.4.3)
    } else {
      onTable(marker);
      const at = r.pos;
      marker = r.marker();
      if (marker !== SOB && marker !== EOI && !(marker in MARKER_NAMES)) {
        throw invalid(`Unexpected marker 0x${marker.toString(16)} between blocks`, at);
      }
      continue;
    }
    if (table === undefined) throw invalid('Coded data before any SOB block header', r.pos);
    // Decode symbols until a marker ends the block.
    for (;;) {
      const sym = decodeSymbol(br, table, r);
      if (sym < 0) break;
      // Symbol meanings (§B.2.5, Table B.1): 1–100 a run of that many zeros; 101/102 a positive or
      // negative coefficient in the next 8 bits, 103/104 in the next 16; 105/106 a zero run whose
      // length follows in 8 or 16 bits; 107–254 the coefficient symbol − 180.
      if (sym >= 1 && sym <= 100) {
        n += sym; // the output is zero-initialised
      } else if (sym >= 107 && sym <= 254) {
        if (n >= out.length) throw tooMany(out.length, r.pos);
        out[n++] = sym - 180;
      } else if (sym === 101 || sym === 102) {
        const v = br.bits(8);
        if (n >= out.length) throw tooMany(out.length, r.pos);
        out[n++] = sym === 101 ? v : -v;
      } else if (sym === 103 || sym === 104) {
        const v = br.bits(16);
        if (n >= out.length) throw tooMany(out.length, r.pos);
        out[n++] = sym === 103 ? v : -v;
      } else if (sym === 105) {
        n += br.bits(8);
      } else if (sym === 106) {
        n += br.bits(16);
      } else {
        throw invalid(`Huffman symbol ${sym} has no meaning in WSQ`, r.pos);
      }
      if (n > out.length) throw tooMany(out.length, r.pos);
    }
    const at = r.pos;
    marker = r.marker();
    if (!(marker in MARKER_NAMES) && !(marker >= RST0 && marker <= RST7)) {
      throw invalid(`Unexpected marker 0x${marker.toString(16)} after a coded block`, at);
    }
    if (marker === SOI || marker === SOF) throw invalid(`Unexpected ${MARKER_NAMES[marker]} marker after a coded block`, at);
  }
  if (blocks === 0) throw invalid('The WSQ data has no coded block');
  return n;
}

// ------------------------------------------------------------------------------------------------
// Wavelet synthesis (§B.2.3)

/**
 * The synthesis of one line of `n` samples. The input holds ceil(n/2) low-pass then floor(n/2)
 * high-pass samples, or high-pass first when `inv`. Low-pass samples sit at the even positions of the
 * upsampled signal and high-pass ones at the odd positions; both are extended by whole-sample symmetry
 * about 0 and n-1, the extension the odd-length (symmetric) analysis used, so the edges reconstruct
 * exactly. Mirroring keeps parity, so output i takes the low-pass taps j with i-j even and the
 * high-pass taps with i-j odd.
 *
 * `sourceOf(m)` is where, in the input, the sample at upsampled position m (0 <= m < n) is stored,
 * counted in samples from the line start.
 */
function sourceIndex(m: number, nl: number, nh: number, inv: boolean): number {
  // Even m: low-pass sample m/2; odd m: high-pass sample (m-1)/2.
  return (m & 1) === 0 ? (inv ? nh : 0) + (m >> 1) : (inv ? 0 : nl) + (m >> 1);
}

/** Whole-sample symmetric reflection of index m into [0, n-1] (n >= 2). */
function reflect(m: number, n: number, period: number): number {
  let k = m % period;
  if (k < 0) k += period;
  return k > n - 1 ? period - k : k;
}

/** Horizontal synthesis of one row segment: src[s0 ..] to dst[d0 ..], both contiguous. */
function synthesiseRow(
  src: Float32Array,
  s0: number,
  dst: Float32Array,
  d0: number,
  n: number,
  inv: boolean,
  f: Filters,
  ext: Float64Array,
  pad: number,
): void {
  const nl = Math.ceil(n / 2);
  const nh = n - nl;
  const period = 2 * (n - 1);
  // Interleave into ext[pad .. pad+n-1] and mirror into the margins.
  for (let m = -pad; m < n + pad; m++) {
    ext[pad + m] = src[s0 + sourceIndex(reflect(m, n, period), nl, nh, inv)] as number;
  }
  const lo = f.lo;
  const hi = f.hi;
  const cl = (lo.length - 1) >> 1;
  const ch = (hi.length - 1) >> 1;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = -cl + ((i + cl) & 1); j <= cl; j += 2) acc += (lo[j + cl] as number) * (ext[pad + i - j] as number);
    for (let j = -ch + ((i + ch + 1) & 1); j <= ch; j += 2) acc += (hi[j + ch] as number) * (ext[pad + i - j] as number);
    dst[d0 + i] = acc;
  }
}

/**
 * Vertical synthesis of a region, done a whole row at a time so that memory is read in order: output
 * row i is the sum, over the taps, of tap × the input row that the mirrored index i-j designates.
 */
function synthesiseColumns(src: Float32Array, dst: Float32Array, width: number, s: Split, f: Filters, acc: Float64Array): void {
  const n = s.h;
  const w = s.w;
  const x0 = s.x;
  const y0 = s.y;
  const inv = s.vinv;
  const nl = Math.ceil(n / 2);
  const nh = n - nl;
  const period = 2 * (n - 1);
  const lo = f.lo;
  const hi = f.hi;
  const cl = (lo.length - 1) >> 1;
  const ch = (hi.length - 1) >> 1;
  for (let i = 0; i < n; i++) {
    acc.fill(0, 0, w);
    for (let pass = 0; pass < 2; pass++) {
      const taps = pass === 0 ? lo : hi;
      const c = pass === 0 ? cl : ch;
      for (let j = -c + ((i + c + pass) & 1); j <= c; j += 2) {
        const coef = taps[j + c] as number;
        const base = (y0 + sourceIndex(reflect(i - j, n, period), nl, nh, inv)) * width + x0;
        for (let k = 0; k < w; k++) acc[k] = (acc[k] as number) + coef * (src[base + k] as number);
      }
    }
    const out = (y0 + i) * width + x0;
    for (let k = 0; k < w; k++) dst[out + k] = acc[k] as number;
  }
}

function reconstruct(plane: Float32Array, width: number, splits: readonly Split[], f: Filters): void {
  const pad = Math.max(f.lo.length, f.hi.length);
  const maxLen = splits.reduce((a, s) => Math.max(a, s.w, s.h), 0);
  const ext = new Float64Array(maxLen + 2 * pad);
  const acc = new Float64Array(maxLen);
  const tmp = new Float32Array(plane.length);
  for (const s of splits) {
    // Columns first (vertical synthesis), then rows: the inverse of the rows-then-columns analysis.
    synthesiseColumns(plane, tmp, width, s, f, acc);
    for (let row = 0; row < s.h; row++) {
      const o = (s.y + row) * width + s.x;
      synthesiseRow(tmp, o, plane, o, s.w, s.hinv, f, ext, pad);
    }
  }
}

/** Dequantisation (§B.2.4.3): 0 stays 0; otherwise (p ∓ C)·Q ± Z/2 towards the sign of p. */
function dequantise(coefficients: Int32Array, quant: Quantisation, bands: readonly Rect[], width: number, height: number): Float32Array {
  const plane = new Float32Array(width * height);
  const c = quant.c;
  let n = 0;
  for (let k = 0; k < CODED_SUBBANDS; k++) {
    const q = quant.q[k] as number;
    if (q === 0) continue;
    const zHalf = (quant.z[k] as number) / 2;
    const b = bands[k] as Rect;
    for (let y = 0; y < b.h; y++) {
      let o = (b.y + y) * width + b.x;
      for (let x = 0; x < b.w; x++, o++) {
        const p = coefficients[n++] as number;
        plane[o] = p === 0 ? 0 : p > 0 ? q * (p - c) + zHalf : q * (p + c) - zHalf;
      }
    }
  }
  return plane;
}

/** Undoes the encoder's normalisation (§B.2.1): pixel = value × R + M, rounded and clamped to 0..255. */
function toPixels(plane: Float32Array, scale: number, shift: number): Uint8Array {
  const pixels = new Uint8Array(plane.length);
  for (let i = 0; i < pixels.length; i++) {
    const v = Math.round((plane[i] as number) * scale + shift);
    pixels[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return pixels;
}

// ------------------------------------------------------------------------------------------------
// Public API

function readHeaderAndTables(
  data: Uint8Array,
  limits: Required<Pick<WsqDecodeOptions, 'maxWidth' | 'maxHeight' | 'maxPixels'>>,
): {
  r: Reader;
  frame: Frame;
  /** Latest DTT / DQT tables; updated as tables between blocks are read. */
  state: { filters: Filters | undefined; quant: Quantisation | undefined };
  tables: (HuffmanTable | undefined)[];
  comments: string[];
  handleTable: (marker: number) => void;
} {
  if (!(data instanceof Uint8Array)) throw invalid('The WSQ image must be given as bytes');
  const r = new Reader(data);
  if (data.length < 2 || r.marker() !== SOI) throw invalid('The data does not start with the WSQ SOI marker 0xFFA0', 0);
  const tables: (HuffmanTable | undefined)[] = new Array<HuffmanTable | undefined>(8);
  const comments: string[] = [];
  const state: { filters: Filters | undefined; quant: Quantisation | undefined } = { filters: undefined, quant: undefined };
  const handleTable = (marker: number): void => {
    switch (marker) {
      case DTT:
        state.filters = readTransformTable(r);
        return;
      case DQT:
        state.quant = readQuantisationTable(r);
        return;
      case DHT:
        readHuffmanTables(r, tables);
        return;
      case DRT: {
        const seg = readSegment(r, 'DRT');
        r.pos = seg.end; // restart markers are honoured wherever they appear
        return;
      }
      case COM:
        comments.push(readComment(r));
        return;
      default:
        throw invalid(
          `Unexpected ${MARKER_NAMES[marker] ?? `marker 0x${marker.toString(16)}`} where a table or SOF was expected`,
          r.pos - 2,
        );
    }
  };
  let frame: Frame | undefined;
  while (frame === undefined) {
    const m = r.marker();
    if (m === SOF) frame = readFrame(r, limits);
    else handleTable(m);
  }
  return { r, frame, state, tables, comments, handleTable };
}

const defaults = (o: WsqDecodeOptions): Required<Pick<WsqDecodeOptions, 'maxWidth' | 'maxHeight' | 'maxPixels'>> => ({
  maxWidth: o.maxWidth ?? WSQ_DEFAULT_MAX_SIDE,
  maxHeight: o.maxHeight ?? WSQ_DEFAULT_MAX_SIDE,
  maxPixels: o.maxPixels ?? WSQ_DEFAULT_MAX_PIXELS,
});

/** Reads the frame header and comments only, without decoding the image. */
export function readWsqInfo(data: Uint8Array, options: WsqDecodeOptions = {}): WsqInfo {
  const h = readHeaderAndTables(data, defaults(options));
  // Comments may also follow SOF; collect those before the first block.
  for (;;) {
    const at = h.r.pos;
    if (at + 1 >= data.length) break;
    const m = h.r.marker();
    if (m === SOB || m === EOI) break;
    h.handleTable(m);
  }
  return {
    width: h.frame.width,
    height: h.frame.height,
    ppi: nistComPpi(h.comments),
    comments: h.comments,
    encoder: h.frame.encoder,
    software: h.frame.software,
  };
}

/**
 * Decodes a WSQ image to 8-bit grayscale. The resolution comes from the PPI entry of a NIST_COM
 * comment, else `defaultPpi` (500).
 */
export function decodeWsq(data: Uint8Array, options: WsqDecodeOptions = {}): GrayImage {
  const h = readHeaderAndTables(data, defaults(options));
  const { r, frame } = h;
  // Tables may also come between SOF and the first block.
  let m = r.marker();
  while (m !== SOB) {
    if (m === EOI) throw invalid('The WSQ data has no coded block', r.pos - 2);
    h.handleTable(m);
    m = r.marker();
  }
  const { width, height } = frame;
  const geo = geometry(width, height);
  for (const s of geo.splits) {
    if (s.w < 2 || s.h < 2) {
      throw invalid(`A ${width}×${height} image is too small for the 64-subband WSQ decomposition`);
    }
  }
  // Count the coefficients before decoding so a corrupt stream cannot write past them.
  const counted = (q: Quantisation): number => {
    let total = 0;
    for (let k = 0; k < CODED_SUBBANDS; k++) {
      const b = geo.bands[k] as Rect;
      if ((q.q[k] as number) !== 0) total += b.w * b.h;
    }
    return total;
  };
  const quantAtStart = h.state.quant;
  if (quantAtStart === undefined) throw invalid('The WSQ data has no DQT quantisation table before its first block');
  const coefficients = new Int32Array(counted(quantAtStart));
  const decoded = decodeBlocks(r, h.tables, coefficients, h.handleTable);
  // Tables may be redefined between blocks; the last definition is the one that applies.
  const quant = h.state.quant ?? quantAtStart;
  const filters = h.state.filters;
  if (filters === undefined) throw invalid('The WSQ data has no DTT transform table');
  if (counted(quant) !== coefficients.length) {
    throw invalid('A DQT table between blocks changed which subbands are coded');
  }
  if (decoded !== coefficients.length) {
    throw invalid(`The coded blocks hold ${decoded} coefficients; the subbands need ${coefficients.length}`);
  }
  const plane = dequantise(coefficients, quant, geo.bands, width, height);
  reconstruct(plane, width, geo.splits, filters);
  const pixels = toPixels(plane, frame.r, frame.m);
  return { width, height, ppi: nistComPpi(h.comments) ?? options.defaultPpi ?? 500, pixels };
}
