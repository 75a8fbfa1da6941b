import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { decodePng } from './png.ts';
import { decodeWsq, readWsqInfo } from './wsq.ts';
import { fixture } from './test-support.ts';

const WSQ = fixture('sourceafis/wsq-original.wsq');

function errorOf(fn: () => unknown): OpenPrumError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OpenPrumError);
    return e as OpenPrumError;
  }
  throw new Error('expected an error');
}

/** The file without its NIST_COM segment (SOI, then COM of 2 + 215 bytes). */
function withoutComment(): Buffer {
  expect(WSQ.readUInt16BE(2)).toBe(0xffa8);
  return Buffer.concat([WSQ.subarray(0, 2), WSQ.subarray(4 + WSQ.readUInt16BE(4))]);
}

describe('WSQ decoder', () => {
  it('matches the reference decode (JNBIS via SourceAFIS) within one grey level', () => {
    const img = decodeWsq(WSQ);
    const ref = decodePng(fixture('sourceafis/wsq-converted.png'));
    expect([img.width, img.height]).toEqual([ref.width, ref.height]);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < img.pixels.length; i++) {
      const d = Math.abs(img.pixels[i]! - ref.pixels[i]!);
      max = Math.max(max, d);
      sum += d;
    }
    // Measured: max 1, mean 0.00003 (19 of 638 976 pixels differ by one, float rounding).
    expect(max).toBeLessThanOrEqual(1);
    expect(sum / img.pixels.length).toBeLessThan(0.001);
  });

  it('takes the resolution from the NIST_COM comment, else the caller default', () => {
    expect(decodeWsq(WSQ, { defaultPpi: 1000 }).ppi).toBe(500);
    const bare = withoutComment();
    expect(decodeWsq(bare).ppi).toBe(500);
    expect(decodeWsq(bare, { defaultPpi: 1000 }).ppi).toBe(1000);
  });

  it('reads the header without decoding', () => {
    const info = readWsqInfo(WSQ);
    expect(info).toMatchObject({ width: 832, height: 768, ppi: 500 });
    expect(info.comments[0]).toMatch(/^NIST_COM/);
  });

  it('refuses images beyond the limits before decoding them', () => {
    expect(errorOf(() => decodeWsq(WSQ, { maxPixels: 100_000 })).code).toBe('input-too-large');
    expect(errorOf(() => decodeWsq(WSQ, { maxWidth: 800 })).message).toMatch(/832×768/);
  });

  it('refuses data that is not WSQ', () => {
    expect(errorOf(() => decodeWsq(Buffer.from('hello world'))).code).toBe('fingerprint-wsq-invalid');
    expect(errorOf(() => decodeWsq(new Uint8Array(0))).code).toBe('fingerprint-wsq-invalid');
  });

  it('refuses truncated data at any point, with the offset', () => {
    for (let n = 1; n < WSQ.length; n += 499) {
      const e = errorOf(() => decodeWsq(WSQ.subarray(0, n)));
      expect(e.code).toBe('fingerprint-wsq-invalid');
    }
    expect(errorOf(() => decodeWsq(WSQ.subarray(0, WSQ.length - 2))).message).toMatch(/EOI is missing/);
  });

  it('refuses a block that names an undefined Huffman table', () => {
    const bad = Buffer.from(WSQ);
    const sob = bad.indexOf(Buffer.from([0xff, 0xa3, 0x00, 0x03]));
    bad[sob + 4] = 5;
    expect(errorOf(() => decodeWsq(bad)).message).toMatch(/Huffman table 5, which is not defined/);
  });

  it('refuses even-length filters clearly rather than guessing', () => {
    const bad = Buffer.from(WSQ);
    const dtt = bad.indexOf(Buffer.from([0xff, 0xa4]));
    bad[dtt + 4] = 8;
    expect(errorOf(() => decodeWsq(bad)).message).toMatch(/Even-length WSQ filters/);
  });
});
