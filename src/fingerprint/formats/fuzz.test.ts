/**
 * Seeded mutation fuzzing of every parser: random byte flips, overwrites with delimiter-like bytes,
 * truncations, insertions and duplicated slices of valid inputs. The only acceptable outcomes are a
 * result or an OpenPrumError; a RangeError, TypeError or a hang (caught by the test timeout) fails.
 * Seeds are fixed, so a failure names an input that can be replayed.
 */
import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { OpenPrumError } from '../../errors/index.ts';
import {
  decodeFingerImage,
  fingerImages,
  parseAnsiNistTransaction,
  type9Minutiae,
  writeAnsiNistTransaction,
} from './ansi-nist.ts';
import { fingerMinutiaeRecordToTemplates, parseFingerMinutiaeRecord, validateForMatching, writeFingerMinutiaeRecord } from './minutiae-record.ts';
import { decodePng } from './png.ts';
import { decodeWsq } from './wsq.ts';
import { fixture, prng } from './test-support.ts';

/** Generous: the fuzz runs take a few seconds, more on a loaded machine. */
const TIMEOUT = 120_000;

const SPECIAL = [0x00, 0xff, 0x1c, 0x1d, 0x1e, 0x1f, 0x3a, 0x2e, 0x30, 0x39, 0xa0, 0xa3, 0x7f, 0x80];

function mutate(input: Uint8Array, rnd: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(rnd() * n);
  const out = Buffer.from(input);
  switch (pick(6)) {
    case 0: {
      // flip a few random bits
      const n = 1 + pick(8);
      for (let i = 0; i < n; i++) {
        const k = pick(out.length);
        out[k] = (out[k] ?? 0) ^ (1 << pick(8));
      }
      return out;
    }
    case 1: {
      // overwrite bytes with values that mean something to the parsers
      const n = 1 + pick(4);
      for (let i = 0; i < n; i++) out[pick(out.length)] = SPECIAL[pick(SPECIAL.length)]!;
      return out;
    }
    case 2:
      return out.subarray(0, pick(out.length));
    case 3: {
      const at = pick(out.length);
      const extra = Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256)));
      return Buffer.concat([out.subarray(0, at), extra, out.subarray(at)]);
    }
    case 4: {
      const a = pick(out.length);
      const b = Math.min(out.length, a + pick(64));
      return Buffer.concat([out.subarray(0, b), out.subarray(a, b), out.subarray(b)]);
    }
    default: {
      // a random 4-byte word: lengths and sizes in binary headers
      const at = pick(Math.max(1, out.length - 4));
      for (let i = 0; i < 4 && at + i < out.length; i++) out[at + i] = pick(256);
      return out;
    }
  }
}

function fuzz(name: string, inputs: readonly Uint8Array[], iterations: number, seed: number, run: (b: Uint8Array) => void): void {
  const rnd = prng(seed);
  for (let i = 0; i < iterations; i++) {
    const base = inputs[i % inputs.length]!;
    const input = mutate(base, rnd);
    try {
      run(input);
    } catch (e) {
      if (!(e instanceof OpenPrumError)) {
        throw new Error(`${name}: iteration ${i} (seed ${seed}) threw ${String(e)}`, { cause: e });
      }
      expect(e.message.length).toBeGreaterThan(10);
    }
  }
}

describe('fuzzing: only OpenPrumError, never a crash or a hang', () => {
  it('ANSI/NIST-ITL transactions (parse, typed views, write back)', () => {
    const inputs = ['valid1.15.an2', 'sign_vec.an2', 'valid1.13.an2', 'valid1.3.an2'].map((f) => fixture(`nbis-an2k/${f}`));
    fuzz('ansi-nist', inputs, 3000, 1, (b) => {
      const tx = parseAnsiNistTransaction(b, { maxRecords: 50 });
      fingerImages(tx);
      type9Minutiae(tx, { imageSize: { width: 800, height: 800, ppi: 500 } });
      writeAnsiNistTransaction(tx);
    });
 }, TIMEOUT);

  it('ANSI/NIST-ITL transactions carrying WSQ images (parse and decode)', () => {
    const inputs = [fixture('nbis-an2k/valid1.1.an2')];
    fuzz('ansi-nist+wsq', inputs, 150, 2, (b) => {
      for (const image of fingerImages(parseAnsiNistTransaction(b))) decodeFingerImage(image, { maxImageSide: 2000 });
    });
  }, TIMEOUT);

  it('ISO/IEC 19794-2 and ANSI INCITS 378 minutiae records', () => {
    const iso = [fixture('openafis-iso/fvc2002_DB1_B_101_1.iso'), fixture('sourceafis/iso-probe.dat')];
    const ansi = iso.map((b) => {
      const r = parseFingerMinutiaeRecord(b);
      return writeFingerMinutiaeRecord({ ...r, format: 'ansi378' });
    });
    fuzz('minutiae-record', [...iso, ...ansi], 4000, 3, (b) => {
      const record = parseFingerMinutiaeRecord(b);
      writeFingerMinutiaeRecord(record);
      for (const t of fingerMinutiaeRecordToTemplates(record)) validateForMatching(t);
    });
 }, TIMEOUT);

  it('WSQ images', () => {
    // The 512×512 image of valid1.1 keeps each decode short; the pixel limit keeps a mutated size
    // small too (the 832×768 file is then refused at its header, which is also worth fuzzing).
    const [t4] = fingerImages(parseAnsiNistTransaction(fixture('nbis-an2k/valid1.1.an2')));
    const inputs = [t4!.data, t4!.data, t4!.data, fixture('sourceafis/wsq-original.wsq')];
    fuzz('wsq', inputs, 400, 4, (b) => {
      decodeWsq(b, { maxPixels: 300_000 });
    });
  }, TIMEOUT);

  it('PNG images', () => {
    const make = (colorType: 0 | 2 | 6, bitDepth: 8 | 16) => {
      const png = new PNG({ width: 24, height: 16 });
      for (let i = 0; i < 24 * 16; i++) png.data.set([i % 256, (i * 3) % 256, (i * 7) % 256, 200 + (i % 56)], i * 4);
      return PNG.sync.write(png, { colorType, bitDepth, inputHasAlpha: true });
    };
    const inputs = [make(0, 8), make(2, 8), make(6, 8), make(0, 16)];
    fuzz('png', inputs, 3000, 5, (b) => {
      decodePng(b, { maxPixels: 1_000_000 });
    });
 }, TIMEOUT);
});
