import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { OpenPrumError } from '../../errors/index.ts';
import {
  decodeFingerImage,
  fingerImages,
  joinSubfields,
  parseAnsiNistTransaction,
  subfields,
  type9Minutiae,
  writeAnsiNistTransaction,
  type AnsiNistRecord,
  type AnsiNistTransaction,
  type TaggedRecord,
} from './ansi-nist.ts';
import { FIXTURES, filesIn, fixture } from './test-support.ts';

const NBIS = filesIn(join(FIXTURES, 'nbis-an2k'), '.an2');

function tagged(tx: AnsiNistTransaction, index: number): TaggedRecord {
  const r = tx.records[index];
  if (r?.kind !== 'tagged') throw new Error(`record ${index} is not tagged`);
  return r;
}

/** Records with binary payloads replaced by their digest: deep-comparing big typed arrays is slow. */
function digest(records: readonly AnsiNistRecord[]): unknown {
  const h = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
  return records.map((r) =>
    r.kind === 'binary'
      ? { ...r, data: h(r.data) }
      : { ...r, fields: r.fields.map((f) => (f.data ? { ...f, data: h(f.data) } : f)) },
  );
}

function expectError(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OpenPrumError);
    expect((e as OpenPrumError).code).toBe(code);
    if (message) expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected an error');
}

describe('ANSI/NIST-ITL: the NBIS test transactions', () => {
  it('has all 18 files', () => {
    expect(NBIS).toHaveLength(18);
  });

  it.each(NBIS.map((f) => [basename(f), f]))('%s parses and is written back byte for byte', (_name, file) => {
    const input = fixture(join('nbis-an2k', basename(file)));
    const tx = parseAnsiNistTransaction(input);
    expect(tx.records[0]?.type).toBe(1);
    expect(tx.warnings).toEqual([]);
    const out = writeAnsiNistTransaction(tx);
    expect(out.equals(input)).toBe(true);
    // And the records read back from the output are the same records.
    expect(digest(parseAnsiNistTransaction(out).records)).toEqual(digest(tx.records));
  });

  it('lists the record types that 1.003 (CNT) declares', () => {
    const types = (f: string) => parseAnsiNistTransaction(fixture(`nbis-an2k/${f}`)).records.map((r) => r.type);
    expect(types('valid1.9.an2')).toEqual([1, 2, 4, 7, 8, 10, 14, 17]);
    expect(types('valid1.11.an2')).toEqual([1, 2, 4, 10, 13, 14, 15, 16, 17, 99]);
    expect(types('valid1.14.an2')).toEqual([1, 2, 4, 9]);
  });

  it('keeps both tag styles: "1.01:" (1-2000) and "1.001:"', () => {
    const old = tagged(parseAnsiNistTransaction(fixture('nbis-an2k/valid1.11.an2')), 0);
    const neu = tagged(parseAnsiNistTransaction(fixture('nbis-an2k/valid1.16.an2')), 0);
    expect(old.fields.map((f) => f.tag).slice(0, 3)).toEqual(['1.01', '1.02', '1.03']);
    expect(neu.fields.map((f) => f.tag).slice(0, 3)).toEqual(['1.001', '1.002', '1.003']);
    expect(old.fields[1]?.field).toBe(2);
    expect(neu.fields[1]?.value).toBe('0201');
  });

  it('splits subfields and items', () => {
    const t1 = tagged(parseAnsiNistTransaction(fixture('nbis-an2k/valid1.1.an2')), 0);
    expect(subfields(t1.fields.find((f) => f.field === 3))).toEqual([
      ['1', '2'],
      ['2', '00'],
      ['4', '01'],
    ]);
    expect(joinSubfields([['a', 'b'], ['c']])).toBe('a\x1fb\x1ec');
  });

  it('reads binary records: Type-4 header fields and Type-8 signatures', () => {
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.1.an2'));
    const t4 = tx.records[2] as AnsiNistRecord;
    expect(t4).toMatchObject({ kind: 'binary', type: 4, idc: 1, hll: 512, vll: 512, gca: 1 });
    expect(t4.kind === 'binary' && t4.type === 4 && t4.fgp).toEqual([10, 255, 255, 255, 255, 255]);
    const sig = parseAnsiNistTransaction(fixture('nbis-an2k/sign_vec.an2')).records[1];
    expect(sig).toMatchObject({ kind: 'binary', type: 8, srt: 2 });
  });

  it('treats field .999 as binary up to the end of the record, even when it holds separators', () => {
    // valid1.11's Type-15 has "15.999:80<GS>15.999:<JPEG>": LEN says the data runs to the record end.
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.11.an2'));
    const t15 = tx.records.find((r) => r.type === 15) as TaggedRecord;
    const data = t15.fields[t15.fields.length - 1]?.data;
    expect(data).toBeDefined();
    expect(Buffer.from(data!.subarray(0, 10)).toString('latin1')).toBe('80\x1d15.999:');
  });
});

describe('ANSI/NIST-ITL: writing changed content', () => {
  it('recomputes LEN when a value changes, and nothing else', () => {
    const input = fixture('nbis-an2k/valid1.15.an2');
    const tx = parseAnsiNistTransaction(input);
    const t2 = tagged(tx, 1);
    const changed: TaggedRecord = {
      ...t2,
      fields: t2.fields.map((f) => (f.field === 18 ? { ...f, value: 'smith,thomas alexander' } : f)),
    };
    const out = writeAnsiNistTransaction({ records: [tx.records[0]!, changed, tx.records[2]!] });
    const back = parseAnsiNistTransaction(out);
    const b2 = tagged(back, 1);
    expect(b2.fields.find((f) => f.field === 18)?.value).toBe('smith,thomas alexander');
    expect(Number(b2.fields[0]?.value)).toBe(Number(t2.fields[0]?.value) + 'thomas alexander'.length - 'tom'.length);
    expect(digest([back.records[0]!, back.records[2]!])).toEqual(digest([tx.records[0]!, tx.records[2]!]));
  });

  it('recomputes LEN across a change in its number of digits', () => {
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.15.an2'));
    const t2 = tagged(tx, 1);
    // 2.001 is 177: grow the record past 999 bytes so LEN needs four digits.
    const long = 'x'.repeat(1000);
    const changed = { ...t2, fields: t2.fields.map((f) => (f.field === 18 ? { ...f, value: long } : f)) };
    const out = writeAnsiNistTransaction({ records: [tx.records[0]!, changed, tx.records[2]!] });
    const b2 = tagged(parseAnsiNistTransaction(out), 1);
    expect(b2.fields[0]?.value).toMatch(/^\d{4}$/);
  });

  it('rewrites CNT when records are removed, keeping the tag style', () => {
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.14.an2'));
    const out = writeAnsiNistTransaction({ records: tx.records.filter((r) => r.type !== 4) });
    const back = parseAnsiNistTransaction(out);
    expect(back.records.map((r) => r.type)).toEqual([1, 2, 9]);
    const cnt = tagged(back, 0).fields.find((f) => f.field === 3)!;
    expect(cnt.tag).toBe('1.03');
    expect(subfields(cnt)).toEqual([
      ['1', '2'],
      ['2', '00'],
      ['9', '02'],
    ]);
  });

  it('writes a transaction built from scratch (3-digit tags, Type-4 WSQ, Type-9 INCITS 378)', () => {
    const wsq = fixture('sourceafis/wsq-original.wsq');
    const records: AnsiNistRecord[] = [
      {
        kind: 'tagged',
        type: 1,
        fields: [
          { field: 1, value: '0' },
          { field: 2, value: '0500' },
          { field: 3, value: '' }, // filled in by the writer
          { field: 4, value: 'CPS' },
          { field: 11, value: '19.69' },
          { field: 12, value: '19.69' },
        ],
      },
      { kind: 'tagged', type: 2, fields: [{ field: 1, value: '' }, { field: 2, value: '00' }] },
      { kind: 'binary', type: 4, idc: 1, imp: 0, fgp: [2], isr: 0, hll: 832, vll: 768, gca: 1, data: wsq },
      {
        kind: 'tagged',
        type: 9,
        fields: [
          { field: 1, value: '' },
          { field: 2, value: '02' },
          { field: 3, value: '0' },
          { field: 4, value: 'U' },
          { field: 126, value: joinSubfields([['27', '513', '0']]) },
          { field: 128, value: '832' },
          { field: 129, value: '768' },
          { field: 130, value: '1' },
          { field: 131, value: '500' },
          { field: 132, value: '500' },
          { field: 134, value: '2' },
          { field: 135, value: '60' },
          { field: 136, value: '2' },
          {
            field: 137,
            value: joinSubfields([
              ['1', '100', '200', '45', '1', '80'],
              ['2', '300', '400', '0', '2', '0'],
            ]),
          },
        ],
      },
    ];
    const out = writeAnsiNistTransaction({ records });
    expect(out.subarray(0, 6).toString('latin1')).toBe('1.001:');
    const tx = parseAnsiNistTransaction(out);
    expect(tx.warnings).toEqual([]);
    expect(subfields(tagged(tx, 0).fields[2])).toEqual([['1', '3'], ['2', '00'], ['4', '01'], ['9', '02']]);
    expect(writeAnsiNistTransaction(tx).equals(out)).toBe(true);

    const [image] = fingerImages(tx);
    expect(image).toMatchObject({ recordType: 4, positions: [2], compression: 'wsq', width: 832, height: 768, ppi: 500 });
    const gray = decodeFingerImage(image!);
    expect([gray.width, gray.height, gray.ppi]).toEqual([832, 768, 500]);

    const [m] = type9Minutiae(tx);
    expect(m?.source).toBe('incits378');
    expect(m?.problems).toEqual([]);
    expect(m?.template).toMatchObject({ width: 832, height: 768, ppi: 500, position: 2, quality: 60 });
    expect(m?.template?.minutiae[0]).toMatchObject({ x: 100, y: 200, type: 'ending', quality: 80 });
    expect(m?.template?.minutiae[0]?.angle).toBeCloseTo(Math.PI / 2, 10); // 45 × 2°
    expect(m?.template?.minutiae[1]).toMatchObject({ type: 'bifurcation', angle: 0 });
  });

  it('round-trips text that is not UTF-8 byte for byte', () => {
    const t1 = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.15.an2'));
    const t2 = tagged(t1, 1);
    const changed = { ...t2, fields: [...t2.fields, { field: 100, value: 'M\xfcller', encoding: 'latin1' as const }] };
    const out = writeAnsiNistTransaction({ records: [t1.records[0]!, changed, t1.records[2]!] });
    expect(out.includes(Buffer.from([0x4d, 0xfc]))).toBe(true);
    const f = tagged(parseAnsiNistTransaction(out), 1).fields.at(-1);
    expect(f).toMatchObject({ value: 'M\xfcller', encoding: 'latin1' });
  });
});

describe('ANSI/NIST-ITL: typed views', () => {
  it('finds Type-4 and Type-14 finger images with position, compression and resolution', () => {
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.8.an2'));
    const images = fingerImages(tx);
    expect(images.map((i) => [i.recordType, i.compression, i.positions[0], i.ppi])).toEqual([
      [14, 'wsq', 13, 500],
      [14, 'wsq', 14, 500],
      [14, 'wsq', 15, 500],
    ]);
    const gray = decodeFingerImage(images[0]!);
    expect(gray.ppi).toBe(500);
    expect(gray.pixels.length).toBe(gray.width * gray.height);
  });

  it('decodes the Type-4 WSQ images of the NBIS files', () => {
    for (const f of ['valid1.1.an2', 'valid1.14.an2']) {
      const [img] = fingerImages(parseAnsiNistTransaction(fixture(`nbis-an2k/${f}`)));
      const gray = decodeFingerImage(img!);
      expect([gray.width, gray.height]).toEqual([img!.width, img!.height]);
      // Ridges and valleys: the decoded image has real contrast, not a flat field.
      const mean = gray.pixels.reduce((a, b) => a + b, 0) / gray.pixels.length;
      const sd = Math.sqrt(gray.pixels.reduce((a, b) => a + (b - mean) ** 2, 0) / gray.pixels.length);
      expect(sd).toBeGreaterThan(20);
    }
  });

  it('refuses to decode JPEG images with a clear error', () => {
    const [img] = fingerImages(parseAnsiNistTransaction(fixture('nbis-an2k/valid1.7.an2')));
    expect(img?.compression).toBe('jpeg');
    expectError(() => decodeFingerImage(img!), 'fingerprint-image-invalid', /JPEGB cannot be decoded/);
  });

  it('refuses images larger than the limit in the typed view', () => {
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.8.an2'));
    expectError(() => fingerImages(tx, { maxImageSide: 1000 }), 'input-too-large', /1800×1000/);
  });

  it('converts legacy Type-9 minutiae (0.01 mm from the lower-left corner) given the image size', () => {
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.14.an2'));
    const [without] = type9Minutiae(tx);
    expect(without?.template).toBeUndefined();
    expect(without?.problems[0]).toMatch(/lower-left/);
    const [m] = type9Minutiae(tx, { imageSize: { width: 784, height: 1133, ppi: 500 } });
    expect(m?.source).toBe('legacy');
    // "25002500000": x = y = 25.00 mm, θ = 0; 25 mm at 500 ppi is 492 px.
    expect(m?.template?.minutiae).toEqual([{ x: 492, y: 1133 - 1 - 492, angle: 0, type: 'ending', quality: 100 }]);
    expect(m?.template?.position).toBe(10);
  });

  it('reports legacy minutiae whose location is not XXXXYYYYTTT instead of guessing', () => {
    const tx = parseAnsiNistTransaction(fixture('nbis-an2k/valid1.15.an2'));
    const [m] = type9Minutiae(tx, { imageSize: { width: 2000, height: 2000, ppi: 500 } });
    expect(m?.template?.minutiae).toEqual([]);
    expect(m?.problems[0]).toMatch(/not 11 digits/);
  });
});

describe('ANSI/NIST-ITL: malformed transactions', () => {
  const good = fixture('nbis-an2k/valid1.15.an2');

  it('refuses empty input and non-transactions', () => {
    expectError(() => parseAnsiNistTransaction(Buffer.alloc(0)), 'fingerprint-transaction-invalid', /empty/);
    expectError(() => parseAnsiNistTransaction(Buffer.from('hello')), 'fingerprint-transaction-invalid', /tag/);
  });

  it('refuses every truncation with the byte offset', () => {
    for (let n = 1; n < good.length; n++) {
      expectError(() => parseAnsiNistTransaction(good.subarray(0, n)), 'fingerprint-transaction-invalid', /offset \d+/);
    }
  });

  it('refuses a LEN beyond the data', () => {
    const bad = Buffer.from(good.toString('latin1').replace('1.01:137', '1.01:999'), 'latin1');
    expectError(() => parseAnsiNistTransaction(bad), 'fingerprint-transaction-invalid', /LEN says 999 bytes/);
  });

  it('refuses a CNT that does not match the records', () => {
    const bad = Buffer.from(good.toString('latin1').replace('1.03:1\x1f2', '1.03:1\x1f3'), 'latin1');
    expectError(() => parseAnsiNistTransaction(bad), 'fingerprint-transaction-invalid', /says 3 records/);
  });

  it('refuses trailing bytes after the last record', () => {
    expectError(
      () => parseAnsiNistTransaction(Buffer.concat([good, Buffer.from('xx')])),
      'fingerprint-transaction-invalid',
      /2 unexpected bytes/,
    );
  });

  it('refuses absurd record counts before reading them', () => {
    const many = joinSubfields([['1', '5000'], ...Array.from({ length: 5000 }, () => ['2', '00'])]);
    const t1 = `1.001:0\x1d1.002:0500\x1d1.003:${many}\x1c`;
    const len = t1.length - 1 + String(t1.length).length;
    const bad = Buffer.from(t1.replace('1.001:0', `1.001:${len}`), 'latin1');
    expectError(() => parseAnsiNistTransaction(bad), 'input-too-large', /5000 records/);
  });

  it('refuses a binary record whose LEN runs past the data', () => {
    const tx = fixture('nbis-an2k/valid1.1.an2');
    const t1len = 129;
    const t2len = 231;
    const bad = Buffer.from(tx);
    bad.writeUInt32BE(0x7fffffff, t1len + t2len);
    expectError(() => parseAnsiNistTransaction(bad), 'fingerprint-transaction-invalid', /Type-4.*LEN says/);
  });
});
