import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenPrumError } from '../../errors/index.ts';
import type { MinutiaeTemplate } from '../types.ts';
import {
  fingerMinutiaeRecordToTemplates,
  parseFingerMinutiaeRecord,
  pixelsPerCmToPpi,
  ppiToPixelsPerCm,
  readMinutiaeTemplate,
  validateForMatching,
  writeFingerMinutiaeRecord,
  writeMinutiaeTemplate,
} from './minutiae-record.ts';
import { HAVE_SHARED, SHARED, filesIn, fixture } from './test-support.ts';

function errorOf(fn: () => unknown): OpenPrumError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OpenPrumError);
    return e as OpenPrumError;
  }
  throw new Error('expected an error');
}

/** The 30-byte zero-minutia record that OpenAFIS's truncated samples were cut from. */
function zeroMinutiaRecord(): Buffer {
  return Buffer.concat([fixture('openafis-iso/101_1_truncate_1_byte.iso'), Buffer.from([0])]);
}

const TEMPLATE: MinutiaeTemplate = {
  width: 400,
  height: 500,
  ppi: 500,
  position: 7,
  quality: 80,
  minutiae: [
    { x: 10, y: 20, angle: 0, type: 'ending', quality: 90 },
    { x: 399, y: 499, angle: Math.PI / 2, type: 'bifurcation', quality: 50 },
    { x: 200, y: 250, angle: (3 * Math.PI) / 2, type: 'other', quality: 0 },
  ],
};

describe('ISO/IEC 19794-2:2005 records', () => {
  const samples = [
    'openafis-iso/fvc2002_DB1_B_101_1.iso',
    'openafis-iso/fvc2002_DB1_B_101_2.iso',
    'openafis-iso/fvc2002_DB2_B_105_3.iso',
    'openafis-iso/fvc2004_DB1_B_110_8.iso',
    'openafis-iso/fvc2004_DB3_B_102_4.iso',
  ];

  it.each(samples)('%s parses and is written back byte for byte', (path) => {
    const input = fixture(path);
    const record = parseFingerMinutiaeRecord(input);
    expect(record.format).toBe('iso19794-2');
    expect(record.trailingBytes).toBe(0);
    expect(writeFingerMinutiaeRecord(record).equals(input)).toBe(true);
  });

  it('converts resolution and angles to the shared template', () => {
    const t = readMinutiaeTemplate(fixture('openafis-iso/fvc2002_DB1_B_101_1.iso'));
    expect([t.width, t.height, t.ppi]).toEqual([300, 400, 500]); // 197 px/cm
    const r = parseFingerMinutiaeRecord(fixture('openafis-iso/fvc2002_DB1_B_101_1.iso'));
    const m0 = r.views[0]!.minutiae[0]!;
    expect(t.minutiae[0]!.angle).toBeCloseTo((m0.angleCode * 2 * Math.PI) / 256, 12);
    expect(t.minutiae.every((m) => m.angle >= 0 && m.angle < 2 * Math.PI)).toBe(true);
    // The SecuGen SDK that made these wrote 197 px/cm and 300×400 for every sensor, even DB2's 569 ppi.
    expect(readMinutiaeTemplate(fixture('openafis-iso/fvc2002_DB2_B_105_3.iso')).ppi).toBe(500);
  });

  it('tolerates padding after the declared length (SourceAFIS samples)', () => {
    const input = fixture('sourceafis/iso-probe.dat');
    const record = parseFingerMinutiaeRecord(input);
    expect(record.trailingBytes).toBe(384 - 263);
    expect(record.views[0]!.minutiae).toHaveLength(38);
    expect(record.views[0]!.extendedData).toHaveLength(5);
    expect(writeFingerMinutiaeRecord(record).equals(input.subarray(0, 263))).toBe(true);
    const t = fingerMinutiaeRecordToTemplates(record)[0]!;
    expect([t.width, t.height, t.ppi, t.quality]).toEqual([224, 288, 500, 100]);
    expect(parseFingerMinutiaeRecord(fixture('sourceafis/iso-nonmatching.dat')).views[0]!.minutiae).toHaveLength(39);
  });

  it.each(['1_byte', '2_bytes', '3_bytes'])('refuses the record truncated by %s, naming the offset', (cut) => {
    const input = fixture(`openafis-iso/101_1_truncate_${cut}.iso`);
    const e = errorOf(() => parseFingerMinutiaeRecord(input));
    expect(e.code).toBe('fingerprint-template-invalid');
    expect(e.message).toMatch(new RegExp(`truncated.*declares 30 bytes but only ${input.length}.*byte offset ${input.length}`));
  });

  it('refuses minutiae that do not fit in the declared length', () => {
    const input = Buffer.from(fixture('openafis-iso/fvc2002_DB1_B_101_1.iso'));
    input[27] = 200; // minutiae count far beyond the record
    const e = errorOf(() => parseFingerMinutiaeRecord(input, { format: 'iso19794-2' }));
    expect(e.message).toMatch(/200 minutiae.*runs past the declared record length 180 \(byte offset 28\)/);
  });

  it('parses a zero-minutia record, which validateForMatching then refuses', () => {
    const t = readMinutiaeTemplate(zeroMinutiaRecord());
    expect(t.minutiae).toEqual([]);
    const e = errorOf(() => validateForMatching(t));
    expect(e.code).toBe('fingerprint-minutiae-too-few');
    expect(e.message).toMatch(/no minutiae/);
  });

  it('validateForMatching accepts a usable template and can demand more minutiae', () => {
    validateForMatching(TEMPLATE);
    expect(errorOf(() => validateForMatching(TEMPLATE, { minMinutiae: 12 })).code).toBe('fingerprint-minutiae-too-few');
    expect(errorOf(() => validateForMatching({ ...TEMPLATE, ppi: 0 })).code).toBe('fingerprint-template-invalid');
    const bad = { ...TEMPLATE, minutiae: [{ ...TEMPLATE.minutiae[0]!, x: Number.NaN }] };
    expect(errorOf(() => validateForMatching(bad)).code).toBe('fingerprint-template-invalid');
  });

  it('writes a template and reads the same template back (angles to 360/256 degrees)', () => {
    const out = writeMinutiaeTemplate(TEMPLATE, 'iso19794-2');
    expect(out.readUInt32BE(8)).toBe(out.length);
    const back = readMinutiaeTemplate(out);
    expect({ ...back, minutiae: [] }).toEqual({ ...TEMPLATE, minutiae: [] });
    back.minutiae.forEach((m, i) => {
      const want = TEMPLATE.minutiae[i]!;
      expect([m.x, m.y, m.type, m.quality]).toEqual([want.x, want.y, want.type, want.quality]);
      expect(m.angle).toBeCloseTo(want.angle, 10);
    });
  });

  it('converts units: 197 px/cm is 500 ppi and back', () => {
    expect(pixelsPerCmToPpi(197)).toBe(500);
    expect(ppiToPixelsPerCm(500)).toBe(197);
    for (let ppcm = 100; ppcm < 500; ppcm++) expect(ppiToPixelsPerCm(pixelsPerCmToPpi(ppcm))).toBe(ppcm);
  });
});

describe('ANSI INCITS 378-2004 records', () => {
  it('writes a 2-byte length and 2-degree angles, and is recognised on reading', () => {
    const out = writeMinutiaeTemplate(TEMPLATE, 'ansi378', { cbeffProductId: 0x00330001 });
    expect(out.readUInt16BE(8)).toBe(out.length);
    expect(out.readUInt32BE(10)).toBe(0x00330001);
    const record = parseFingerMinutiaeRecord(out);
    expect(record).toMatchObject({ format: 'ansi378', lengthFieldSize: 2, cbeffProductId: 0x00330001 });
    expect(record.views[0]!.minutiae[1]!.angleCode).toBe(45); // 90° in 2° units
    const back = fingerMinutiaeRecordToTemplates(record)[0]!;
    expect(back.minutiae[1]!.angle).toBeCloseTo(Math.PI / 2, 12);
    expect(back.minutiae[2]!.angle).toBeCloseTo((3 * Math.PI) / 2, 12);
    expect(writeFingerMinutiaeRecord(record).equals(out)).toBe(true);
  });

  it('reads and writes the 6-byte length form used above 64 KiB', () => {
    const record = parseFingerMinutiaeRecord(writeMinutiaeTemplate(TEMPLATE, 'ansi378'));
    const view = { ...record.views[0]!, extendedData: new Uint8Array(40_000) };
    const big = { ...record, views: [view, view] };
    const out = writeFingerMinutiaeRecord(big);
    expect(out.readUInt16BE(8)).toBe(0);
    expect(out.readUInt32BE(10)).toBe(out.length);
    const back = parseFingerMinutiaeRecord(out);
    expect(back).toMatchObject({ format: 'ansi378', lengthFieldSize: 6 });
    expect(back.views[1]!.extendedData).toHaveLength(40_000);
  });

  it('refuses a truncated ANSI record', () => {
    const out = writeMinutiaeTemplate(TEMPLATE, 'ansi378');
    const e = errorOf(() => parseFingerMinutiaeRecord(out.subarray(0, out.length - 4), { format: 'ansi378' }));
    expect(e.message).toMatch(/ANSI INCITS 378: the record is truncated/);
  });
});

describe.skipIf(!HAVE_SHARED)('shared reference data: all FVC ISO templates', () => {
  it('parses every template, writes it back byte for byte, and refuses the invalid ones', () => {
    const files = filesIn(join(SHARED, 'fvc2002-2004-b/iso19794-2'), '.iso');
    expect(files.length).toBeGreaterThanOrEqual(480);
    for (const f of files) {
      const input = readFileSync(f);
      const record = parseFingerMinutiaeRecord(input);
      expect(writeFingerMinutiaeRecord(record).equals(input)).toBe(true);
      const t = fingerMinutiaeRecordToTemplates(record)[0]!;
      validateForMatching(t);
      expect(t.minutiae.every((m) => m.x < t.width && m.y < t.height)).toBe(true);
    }
    for (const f of filesIn(join(SHARED, 'fvc2002-2004-b/iso19794-2-invalid'), '.iso')) {
      expect(errorOf(() => parseFingerMinutiaeRecord(readFileSync(f))).code).toBe('fingerprint-template-invalid');
    }
  });
});
