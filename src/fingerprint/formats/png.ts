/**
 * PNG input (ISO/IEC 15948 / W3C PNG 2nd edition) turned into an 8-bit {@link GrayImage}.
 *
 * The chunk layout is walked here first: the signature, IHDR (which must come first, §11.2.2), pHYs
 * for the resolution (§11.3.5.3) and IEND. Only then, with the size known to be within the limits,
 * are the pixels handed to pngjs, so an enormous declared image is refused before any pixel memory is
 * allocated. Bytes after IEND are ignored, as PNG decoders conventionally do.
 *
 * Colour is reduced to luma with the ITU-R BT.601 weights (0.299 R + 0.587 G + 0.114 B), which leaves
 * gray pixels unchanged; 16-bit samples are scaled to 8 bits by pngjs; transparent pixels are
 * composited over white, the background colour of a fingerprint.
 */
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { OpenPrumError } from '../../errors/index.ts';
import type { GrayImage } from '../types.ts';

export const PNG_DEFAULT_MAX_SIDE = 10_000;
export const PNG_DEFAULT_MAX_PIXELS = 50_000_000;

export interface PngDecodeOptions {
  /** Resolution when the file has no pHYs chunk in pixels per metre (default 500). */
  readonly defaultPpi?: number;
  readonly maxWidth?: number;
  readonly maxHeight?: number;
  readonly maxPixels?: number;
}

export interface PngInfo {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  readonly colorType: number;
  readonly interlaced: boolean;
  /** From pHYs when its unit is the metre. */
  readonly ppi: number | undefined;
  /** Offset just past the IEND chunk. */
  readonly end: number;
  /** [start, end) of each IDAT chunk's data. */
  readonly idat: readonly (readonly [number, number])[];
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function invalid(message: string, offset?: number): OpenPrumError {
  return new OpenPrumError(
    'fingerprint-image-invalid',
    offset === undefined ? `PNG: ${message}` : `PNG: ${message} (byte offset ${offset})`,
    offset === undefined ? undefined : { offset },
  );
}

/** Walks the chunks and reads IHDR and pHYs; does not decompress anything. */
export function readPngInfo(data: Uint8Array): PngInfo {
  if (!(data instanceof Uint8Array)) throw invalid('the image must be given as bytes');
  if (data.length < 8 || SIGNATURE.some((b, i) => data[i] !== b)) throw invalid('the PNG signature is missing', 0);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  let pos = 8;
  let header: Omit<PngInfo, 'ppi' | 'end' | 'idat'> | undefined;
  const idat: [number, number][] = [];
  let ppi: number | undefined;
  let sawData = false;
  for (;;) {
    if (pos + 8 > data.length) throw invalid('the file ends before the IEND chunk', pos);
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...data.subarray(pos + 4, pos + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) throw invalid('a chunk has an invalid type', pos + 4);
    if (length > data.length - pos - 12) throw invalid(`chunk ${type} runs past the end of the file`, pos);
    const body = pos + 8;
    if (header === undefined && type !== 'IHDR') throw invalid('the first chunk is not IHDR', pos);
    if (type === 'IHDR') {
      if (header !== undefined || length !== 13) throw invalid('IHDR is repeated or not 13 bytes long', pos);
      header = {
        width: view.getUint32(body),
        height: view.getUint32(body + 4),
        bitDepth: view.getUint8(body + 8),
        colorType: view.getUint8(body + 9),
        interlaced: view.getUint8(body + 12) === 1,
      };
    } else if (type === 'pHYs' && length === 9 && !sawData) {
      // Pixels per unit; unit 1 is the metre, 0 only gives the aspect ratio.
      const perMetre = view.getUint32(body);
      if (view.getUint8(body + 8) === 1 && perMetre > 0) ppi = Math.round(perMetre * 0.0254);
    } else if (type === 'IDAT') {
      sawData = true;
      idat.push([body, body + length]);
    } else if (type === 'IEND') {
      if (header === undefined) throw invalid('IEND before IHDR', pos);
      return { ...header, ppi, end: body + length + 4, idat };
    }
    pos = body + length + 4; // skip data and CRC (pngjs checks the CRCs)
  }
}

const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes of filtered scanlines that IHDR implies (§7.2; Adam7 passes for interlaced images, §8.2). */
function expectedDataLength(info: PngInfo): number {
  const channels = CHANNELS[info.colorType];
  if (channels === undefined) throw invalid(`colour type ${info.colorType} does not exist`, 25);
  const rowBytes = (w: number): number => (w === 0 ? 0 : 1 + Math.ceil((w * channels * info.bitDepth) / 8));
  if (!info.interlaced) return info.height * rowBytes(info.width);
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ] as const;
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((info.width - x0) / dx);
    const h = Math.ceil((info.height - y0) / dy);
    if (w > 0 && h > 0) total += h * rowBytes(w);
  }
  return total;
}

/**
 * pngjs fills missing rows with zeros, which on a fingerprint would read as solid ridge. Inflate once
 * here, bounded by the size IHDR implies, and refuse data that is short or too long.
 */
function checkDataLength(data: Uint8Array, info: PngInfo): void {
  const expected = expectedDataLength(info);
  if (info.idat.length === 0) throw invalid('there is no IDAT chunk');
  const compressed = Buffer.concat(info.idat.map(([a, b]) => data.subarray(a, b)));
  let inflated: Buffer;
  try {
    inflated = inflateSync(compressed, { maxOutputLength: expected + 1 });
  } catch (e) {
    throw new OpenPrumError(
      'fingerprint-image-invalid',
      `PNG: the compressed image data is corrupt or larger than IHDR allows`,
      undefined,
      { cause: e },
    );
  }
  if (inflated.length !== expected) {
    throw invalid(`the image data holds ${inflated.length} bytes of scanlines; IHDR needs ${expected}`);
  }
}

/** Decodes a PNG to 8-bit grayscale; resolution from pHYs, else `defaultPpi` (500). */
export function decodePng(data: Uint8Array, options: PngDecodeOptions = {}): GrayImage {
  const info = readPngInfo(data);
  const maxWidth = options.maxWidth ?? PNG_DEFAULT_MAX_SIDE;
  const maxHeight = options.maxHeight ?? PNG_DEFAULT_MAX_SIDE;
  const maxPixels = options.maxPixels ?? PNG_DEFAULT_MAX_PIXELS;
  const { width, height } = info;
  if (width === 0 || height === 0) throw invalid(`the image is ${width}×${height} pixels`, 16);
  if (width > maxWidth || height > maxHeight || width * height > maxPixels) {
    throw new OpenPrumError(
      'input-too-large',
      `PNG: the image is ${width}×${height} pixels; the limit is ${maxWidth}×${maxHeight} and ${maxPixels} pixels`,
      { width, height },
    );
  }
  checkDataLength(data, info);
  let rgba: Uint8Array;
  try {
    const png = PNG.sync.read(Buffer.from(data.buffer, data.byteOffset, info.end));
    rgba = png.data;
    if (png.width !== width || png.height !== height || rgba.length < width * height * 4) {
      throw invalid('the decoded pixels do not match IHDR');
    }
  } catch (e) {
    if (e instanceof OpenPrumError) throw e;
    throw new OpenPrumError(
      'fingerprint-image-invalid',
      `PNG: the image data cannot be decoded: ${e instanceof Error ? e.message : String(e)}`,
      undefined,
      { cause: e },
    );
  }
  const pixels = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < pixels.length; i++, j += 4) {
    const r = rgba[j] as number;
    const g = rgba[j + 1] as number;
    const b = rgba[j + 2] as number;
    const a = rgba[j + 3] as number;
    const luma = Math.floor((299 * r + 587 * g + 114 * b + 500) / 1000);
    pixels[i] = a === 255 ? luma : Math.floor((luma * a + 255 * (255 - a) + 127) / 255);
  }
  return { width, height, ppi: info.ppi ?? options.defaultPpi ?? 500, pixels };
}
