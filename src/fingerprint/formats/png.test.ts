import { describe, expect, it } from 'vitest';
import { crc32, deflateSync } from 'node:zlib';
import { OpenPrumError } from '../../errors/index.ts';
import { decodePng, readPngInfo } from './png.ts';
import { fixture } from './test-support.ts';

function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

/** A PNG from unfiltered rows of raw samples (filter type 0 on every row). */
function makePng(opts: {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  rows: readonly Uint8Array[];
  before?: Buffer[];
  palette?: Uint8Array;
}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(opts.width, 0);
  ihdr.writeUInt32BE(opts.height, 4);
  ihdr[8] = opts.bitDepth;
  ihdr[9] = opts.colorType;
  const raw = Buffer.concat(opts.rows.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(opts.before ?? []),
    ...(opts.palette ? [chunk('PLTE', opts.palette)] : []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function pHYs(perMetre: number, unit = 1): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt32BE(perMetre, 0);
  b.writeUInt32BE(perMetre, 4);
  b[8] = unit;
  return chunk('pHYs', b);
}

function errorOf(fn: () => unknown): OpenPrumError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OpenPrumError);
    return e as OpenPrumError;
  }
  throw new Error('expected an error');
}

describe('PNG input', () => {
  it('decodes 8-bit gray unchanged, with ppi from pHYs', () => {
    const png = makePng({ width: 3, height: 2, bitDepth: 8, colorType: 0, rows: [Uint8Array.of(0, 128, 255), Uint8Array.of(1, 2, 3)], before: [pHYs(19685)] });
    const img = decodePng(png);
    expect(img).toEqual({ width: 3, height: 2, ppi: 500, pixels: Uint8Array.of(0, 128, 255, 1, 2, 3) });
  });

  it('uses the caller default when there is no pHYs, or only an aspect ratio', () => {
    const rows = [Uint8Array.of(9)];
    expect(decodePng(makePng({ width: 1, height: 1, bitDepth: 8, colorType: 0, rows }), { defaultPpi: 1000 }).ppi).toBe(1000);
    expect(decodePng(makePng({ width: 1, height: 1, bitDepth: 8, colorType: 0, rows, before: [pHYs(1, 0)] })).ppi).toBe(500);
  });

  it('scales 16-bit gray to 8 bits', () => {
    const png = makePng({ width: 2, height: 1, bitDepth: 16, colorType: 0, rows: [Uint8Array.of(0xff, 0xff, 0x80, 0x00)] });
    expect(Array.from(decodePng(png).pixels)).toEqual([255, 128]);
  });

  it('turns colour into BT.601 luma and composites transparency over white', () => {
    const rgb = makePng({ width: 3, height: 1, bitDepth: 8, colorType: 2, rows: [Uint8Array.of(255, 0, 0, 0, 255, 0, 50, 50, 50)] });
    expect(Array.from(decodePng(rgb).pixels)).toEqual([76, 150, 50]);
    const rgba = makePng({ width: 2, height: 1, bitDepth: 8, colorType: 6, rows: [Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 255)] });
    expect(Array.from(decodePng(rgba).pixels)).toEqual([255, 0]);
    const pal = makePng({ width: 2, height: 1, bitDepth: 8, colorType: 3, rows: [Uint8Array.of(1, 0)], palette: Uint8Array.of(10, 10, 10, 200, 200, 200) });
    expect(Array.from(decodePng(pal).pixels)).toEqual([200, 10]);
  });

  it('decodes the palette reference image and ignores bytes after IEND', () => {
    const png = fixture('sourceafis/wsq-converted.png');
    const img = decodePng(Buffer.concat([png, Buffer.from('<!DOCTYPE html> trailing junk')]));
    expect([img.width, img.height, img.ppi]).toEqual([832, 768, 96]);
  });

  it('refuses an enormous image from its IHDR, before any pixel is decoded', () => {
    // IHDR says 100 000 × 100 000 while the data is a few bytes: must not be inflated or allocated.
    const png = makePng({ width: 100_000, height: 100_000, bitDepth: 8, colorType: 0, rows: [Uint8Array.of(0)] });
    expect(readPngInfo(png)).toMatchObject({ width: 100_000, height: 100_000 });
    const e = errorOf(() => decodePng(png));
    expect(e.code).toBe('input-too-large');
    expect(errorOf(() => decodePng(makePng({ width: 4, height: 4, bitDepth: 8, colorType: 0, rows: [] }), { maxPixels: 10 })).code).toBe(
      'input-too-large',
    );
  });

  it('refuses corrupt files with fingerprint-image-invalid', () => {
    const good = makePng({ width: 2, height: 2, bitDepth: 8, colorType: 0, rows: [Uint8Array.of(1, 2), Uint8Array.of(3, 4)] });
    const badCrc = Buffer.from(good);
    badCrc[good.length - 20] = (badCrc[good.length - 20] ?? 0) ^ 0xff; // inside IDAT
    for (const bad of [Buffer.from('not a png'), good.subarray(0, 30), badCrc, good.subarray(0, good.length - 12)]) {
      expect(errorOf(() => decodePng(bad)).code).toBe('fingerprint-image-invalid');
    }
    const missingRows = makePng({ width: 2, height: 2, bitDepth: 8, colorType: 0, rows: [Uint8Array.of(1, 2)] });
    expect(errorOf(() => decodePng(missingRows)).code).toBe('fingerprint-image-invalid');
  });
});
