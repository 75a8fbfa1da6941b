/**
 * ANSI/NIST-ITL traditional encoding (1-2000, 1-2007, 1-2011; the INTERPOL INT-I profile uses the same
 * encoding): reading and writing transactions, plus a typed view of the finger images (Types 4, 13, 14)
 * and minutiae (Type 9).
 *
 * Two kinds of logical record exist (1-2011 §7.2):
 * - tagged-field records (every type except 3–8): fields `T.NNN:value`, fields separated by GS (0x1D),
 *   subfields by RS (0x1E), information items by US (0x1F), the record ended by FS (0x1C). Field 1 is
 *   LEN, the record's length in bytes. Field 999 holds binary data and always runs to the end of the
 *   record (1-2011 Annex B), so it may contain any byte, separators included.
 * - binary records (Types 3–8): a fixed binary header that starts with a 4-byte big-endian LEN and a
 *   1-byte IDC. They carry no type tag, so the only way to know that the next record is binary is the
 *   content field 1.003 (CNT) of the Type-1 record, which lists every following record's type and IDC.
 *
 * The parser keeps each field's tag exactly as written ("1.01" or "1.001"; 1-2000 allowed tags without
 * zero padding and the NBIS samples use them), the field order and the raw value, so writing an
 * unchanged transaction back gives the same bytes. The writer recomputes LEN (and CNT) only when the
 * content no longer matches them.
 *
 * Binary payloads (field 999, image data of binary records) are views into the input buffer, not
 * copies: keep the buffer unchanged while you use the parsed transaction.
 */
import { OpenPrumError } from '../../errors/index.ts';
import type { GrayImage, Minutia, MinutiaeTemplate, MinutiaType } from '../types.ts';
import { decodeWsq } from './wsq.ts';
import { decodePng } from './png.ts';

/** Information separators of the traditional encoding (1-2011 Table 4). */
export const FS = 0x1c;
export const GS = 0x1d;
export const RS = 0x1e;
export const US = 0x1f;

/** Default limit on the number of records a transaction may list in 1.003 (CNT). */
export const DEFAULT_MAX_RECORDS = 1000;
/** Default limit on an image side in pixels (HLL / VLL) accepted by the typed views. */
export const DEFAULT_MAX_IMAGE_SIDE = 10_000;

const BINARY_DATA_FIELD = 999;

export interface AnsiNistField {
  /** Field number: 3 for 1.003. */
  readonly field: number;
  /**
   * Tag as written before the colon ("1.03", "1.003"). Kept so that a transaction is written back in
   * its own style; when absent the writer uses the 1-2007 style with three digits ("14.013").
   */
  readonly tag?: string | undefined;
  /** Text value with its RS/US separators; use {@link subfields} to split it. Absent for binary data. */
  readonly value?: string | undefined;
  /** Binary content of field 999. */
  readonly data?: Uint8Array | undefined;
  /**
   * How `value` is turned into bytes. Text that is valid UTF-8 (which includes 7-bit ASCII, the
   * default character set) is read as UTF-8; anything else is read byte-for-byte as Latin-1 and
   * marked here so that it is written back unchanged.
   */
  readonly encoding?: 'utf8' | 'latin1' | undefined;
}

export interface TaggedRecord {
  readonly kind: 'tagged';
  readonly type: number;
  readonly fields: readonly AnsiNistField[];
}

/**
 * Types 3–6 (1-2011 §8.3–8.6, Types 3, 5, 6 deprecated): 18-byte header
 * LEN(4) IDC(1) IMP(1) FGP(6) ISR(1) HLL(2) VLL(2) GCA/BCA(1), then the image.
 */
export interface BinaryImageRecord {
  readonly kind: 'binary';
  readonly type: 3 | 4 | 5 | 6;
  /** Information designation character. */
  readonly idc: number;
  /** Impression type (Table 7: 0 live-scan plain, 1 live-scan rolled, 2 nonlive plain, 3 nonlive rolled…). */
  readonly imp: number;
  /** The six finger-position bytes; unused ones are 255. */
  readonly fgp: readonly number[];
  /** Image scanning resolution flag (0 minimum, 1 native scanning resolution). */
  readonly isr: number;
  /** Width (horizontal line length) in pixels. */
  readonly hll: number;
  /** Height (vertical line length) in pixels. */
  readonly vll: number;
  /** Compression algorithm (GCA; BCA for Types 5/6): 0 none, 1 WSQ, 2 JPEGB, 3 JPEGL, 4 JP2, 5 JP2L, 6 PNG. */
  readonly gca: number;
  readonly data: Uint8Array;
}

/** Type-8 signature (1-2011 §8.8): LEN(4) IDC(1) SIG(1) SRT(1) ISR(1) HLL(2) VLL(2), then the data. */
export interface SignatureRecord {
  readonly kind: 'binary';
  readonly type: 8;
  readonly idc: number;
  readonly sig: number;
  readonly srt: number;
  readonly isr: number;
  readonly hll: number;
  readonly vll: number;
  readonly data: Uint8Array;
}

/** Type-7 user-defined image (1-2011 §8.7): LEN(4) IDC(1), the rest is defined by the parties. */
export interface UserDefinedBinaryRecord {
  readonly kind: 'binary';
  readonly type: 7;
  readonly idc: number;
  readonly data: Uint8Array;
}

export type BinaryRecord = BinaryImageRecord | SignatureRecord | UserDefinedBinaryRecord;
export type AnsiNistRecord = TaggedRecord | BinaryRecord;

export interface AnsiNistTransaction {
  /** All records in order; the first is the Type-1 transaction information record. */
  readonly records: readonly AnsiNistRecord[];
  /** Things that were accepted but are not as the standard wants (e.g. an IDC that differs from CNT). */
  readonly warnings: readonly string[];
}

export interface ParseAnsiNistOptions {
  /** Largest number of records 1.003 may list (default {@link DEFAULT_MAX_RECORDS}). */
  readonly maxRecords?: number;
}

// ------------------------------------------------------------------------------------------------
// Errors

function invalid(message: string, details?: Record<string, unknown>): OpenPrumError {
  return new OpenPrumError('fingerprint-transaction-invalid', message, details);
}

// ------------------------------------------------------------------------------------------------
// Reading

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

function decodeText(bytes: Uint8Array): { value: string; encoding?: 'latin1' } {
  try {
    return { value: utf8.decode(bytes) };
  } catch {
    return { value: latin1.decode(bytes), encoding: 'latin1' };
  }
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

interface Tag {
  readonly type: number;
  readonly field: number;
  readonly text: string;
  /** Offset just after the colon. */
  readonly next: number;
}

/** Reads `T.NNN:` at `pos`; the record type has 1–3 digits and the field number 1–9. */
function readTag(buf: Uint8Array, pos: number, limit: number): Tag {
  let p = pos;
  while (p < limit && isDigit(buf[p]) && p - pos < 3) p++;
  const typeDigits = p - pos;
  if (typeDigits === 0 || buf[p] !== 0x2e /* . */ || p >= limit) {
    throw invalid(`Expected a field tag like "14.001:" at byte offset ${pos}`, { offset: pos });
  }
  const dot = p;
  p++;
  while (p < limit && isDigit(buf[p]) && p - dot - 1 < 9) p++;
  if (p === dot + 1 || buf[p] !== 0x3a /* : */ || p >= limit) {
    throw invalid(`Expected a field tag like "14.001:" at byte offset ${pos}`, { offset: pos });
  }
  const text = latin1.decode(buf.subarray(pos, p));
  return { type: Number(text.slice(0, typeDigits)), field: Number(text.slice(typeDigits + 1)), text, next: p + 1 };
}

function parseTaggedRecord(
  buf: Uint8Array,
  start: number,
  expectedType: number,
  index: number,
): { record: TaggedRecord; end: number } {
  const where = `record ${index + 1} (Type-${expectedType}) at byte offset ${start}`;
  const first = readTag(buf, start, buf.length);
  if (first.type !== expectedType) {
    throw invalid(`${where}: its tag says Type-${first.type}, but 1.003 (CNT) lists Type-${expectedType}`, {
      offset: start,
      record: index + 1,
    });
  }
  if (first.field !== 1) {
    throw invalid(`${where}: the first field must be ${expectedType}.001 (LEN), found ${first.text}`, {
      offset: start,
      record: index + 1,
    });
  }
  let p = first.next;
  while (p < buf.length && isDigit(buf[p]) && p - first.next < 12) p++;
  if (p === first.next || (buf[p] !== GS && buf[p] !== FS)) {
    throw invalid(`${where}: field ${first.text} (LEN) must be a decimal number ended by GS or FS`, {
      offset: first.next,
      record: index + 1,
    });
  }
  const len = Number(latin1.decode(buf.subarray(first.next, p)));
  const end = start + len;
  if (len < p - start + 1) {
    throw invalid(`${where}: LEN ${len} is shorter than the LEN field itself`, { offset: start, record: index + 1 });
  }
  if (end > buf.length) {
    throw invalid(`${where}: LEN says ${len} bytes but only ${buf.length - start} remain in the transaction`, {
      offset: start,
      record: index + 1,
    });
  }
  if (buf[end - 1] !== FS) {
    throw invalid(`${where}: LEN says ${len} bytes, but byte offset ${end - 1} is not the FS record separator`, {
      offset: end - 1,
      record: index + 1,
    });
  }
  const fields: AnsiNistField[] = [];
  const last = end - 1; // offset of the closing FS
  let pos = start;
  while (pos < last) {
    const tag = readTag(buf, pos, last);
    if (tag.type !== expectedType) {
      throw invalid(`${where}: field tag ${tag.text} at byte offset ${pos} belongs to Type-${tag.type}`, {
        offset: pos,
        record: index + 1,
      });
    }
    if (tag.field === BINARY_DATA_FIELD && expectedType !== 1) {
      // Binary data runs to the end of the record; only LEN tells where that is.
      fields.push({ field: tag.field, tag: tag.text, data: buf.subarray(tag.next, last) });
      pos = end;
      break;
    }
    let q = tag.next;
    while (q < last && buf[q] !== GS && buf[q] !== FS) q++;
    if (q < last && buf[q] === FS) {
      throw invalid(`${where}: unexpected FS at byte offset ${q}, before the end given by LEN`, {
        offset: q,
        record: index + 1,
      });
    }
    const text = decodeText(buf.subarray(tag.next, q));
    fields.push({ field: tag.field, tag: tag.text, ...text });
    pos = q + 1; // past GS, or past the closing FS when q === last
    if (q < last && pos === last) {
      throw invalid(`${where}: field separator GS at byte offset ${q} is followed by the record end`, {
        offset: q,
        record: index + 1,
      });
    }
  }
  return { record: { kind: 'tagged', type: expectedType, fields }, end };
}

const BINARY_HEADER: Readonly<Record<number, number>> = { 3: 18, 4: 18, 5: 18, 6: 18, 7: 5, 8: 12 };

function isBinaryType(type: number): type is 3 | 4 | 5 | 6 | 7 | 8 {
  return type >= 3 && type <= 8;
}

function parseBinaryRecord(
  buf: Uint8Array,
  start: number,
  type: 3 | 4 | 5 | 6 | 7 | 8,
  index: number,
): { record: BinaryRecord; end: number } {
  const where = `record ${index + 1} (Type-${type}) at byte offset ${start}`;
  const headerSize = BINARY_HEADER[type] ?? 5;
  if (buf.length - start < headerSize) {
    throw invalid(`${where}: the transaction ends inside the ${headerSize}-byte binary header`, {
      offset: start,
      record: index + 1,
    });
  }
  const view = new DataView(buf.buffer, buf.byteOffset + start, buf.length - start);
  const len = view.getUint32(0);
  if (len < headerSize) {
    throw invalid(`${where}: LEN ${len} is shorter than the ${headerSize}-byte header`, {
      offset: start,
      record: index + 1,
    });
  }
  if (len > buf.length - start) {
    throw invalid(`${where}: LEN says ${len} bytes but only ${buf.length - start} remain in the transaction`, {
      offset: start,
      record: index + 1,
    });
  }
  const end = start + len;
  const idc = view.getUint8(4);
  const data = buf.subarray(start + headerSize, end);
  let record: BinaryRecord;
  if (type === 7) {
    record = { kind: 'binary', type, idc, data };
  } else if (type === 8) {
    record = {
      kind: 'binary',
      type,
      idc,
      sig: view.getUint8(5),
      srt: view.getUint8(6),
      isr: view.getUint8(7),
      hll: view.getUint16(8),
      vll: view.getUint16(10),
      data,
    };
  } else {
    record = {
      kind: 'binary',
      type,
      idc,
      imp: view.getUint8(5),
      fgp: Array.from(buf.subarray(start + 6, start + 12)),
      isr: view.getUint8(12),
      hll: view.getUint16(13),
      vll: view.getUint16(15),
      gca: view.getUint8(17),
      data,
    };
  }
  return { record, end };
}

/** Splits a text value into subfields (RS) of information items (US). */
export function subfields(field: AnsiNistField | string | undefined): string[][] {
  const value = typeof field === 'string' ? field : field?.value;
  if (value === undefined) return [];
  return value.split('\x1e').map((s) => s.split('\x1f'));
}

/** Joins subfields of items back into a field value. */
export function joinSubfields(items: readonly (readonly string[])[]): string {
  return items.map((s) => s.join('\x1f')).join('\x1e');
}

interface CntEntry {
  readonly type: number;
  readonly idc: string;
}

function parseCnt(type1: TaggedRecord, maxRecords: number): CntEntry[] {
  const cnt = type1.fields.find((f) => f.field === 3);
  if (cnt?.value === undefined) {
    throw invalid('The Type-1 record has no field 1.003 (CNT), so the records cannot be located');
  }
  const subs = subfields(cnt);
  const head = subs[0];
  const declared = Number(head?.[1]);
  if (head === undefined || head[0] !== '1' || head.length !== 2 || !/^\d{1,6}$/.test(head[1] ?? '')) {
    throw invalid(`Field ${cnt.tag ?? '1.003'} (CNT) must start with "1" and the number of other records`);
  }
  if (declared > maxRecords) {
    throw new OpenPrumError(
      'input-too-large',
      `Field ${cnt.tag ?? '1.003'} (CNT) lists ${declared} records; at most ${maxRecords} are accepted`,
      { records: declared, max: maxRecords },
    );
  }
  if (subs.length - 1 !== declared) {
    throw invalid(
      `Field ${cnt.tag ?? '1.003'} (CNT) says ${declared} records follow Type-1 but lists ${subs.length - 1}`,
    );
  }
  return subs.slice(1).map((s, i) => {
    const [t, idc] = s;
    if (s.length !== 2 || !/^\d{1,3}$/.test(t ?? '') || !/^\d{1,3}$/.test(idc ?? '')) {
      throw invalid(`Field ${cnt.tag ?? '1.003'} (CNT) subfield ${i + 2} must be "record type␟IDC"`);
    }
    const type = Number(t);
    if (type < 2 || type > 99) {
      throw invalid(`Field ${cnt.tag ?? '1.003'} (CNT) subfield ${i + 2} names record type ${type}`);
    }
    return { type, idc: idc ?? '' };
  });
}

/**
 * Parses an ANSI/NIST-ITL transaction in traditional encoding. Throws `fingerprint-transaction-invalid`
 * with the record and byte offset when the bytes are not a well-formed transaction, and
 * `input-too-large` when 1.003 lists more records than allowed.
 */
export function parseAnsiNistTransaction(
  input: Uint8Array,
  options: ParseAnsiNistOptions = {},
): AnsiNistTransaction {
  if (!(input instanceof Uint8Array)) throw invalid('The transaction must be given as bytes');
  if (input.length === 0) throw invalid('The transaction is empty');
  const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  const warnings: string[] = [];
  const t1 = parseTaggedRecord(input, 0, 1, 0);
  const records: AnsiNistRecord[] = [t1.record];
  const cnt = parseCnt(t1.record, maxRecords);
  let pos = t1.end;
  cnt.forEach((entry, i) => {
    const index = i + 1;
    if (pos >= input.length) {
      throw invalid(
        `The transaction ends after ${index} records at byte offset ${pos}; 1.003 (CNT) lists ${cnt.length + 1}`,
        { offset: pos, record: index + 1 },
      );
    }
    const parsed = isBinaryType(entry.type)
      ? parseBinaryRecord(input, pos, entry.type, index)
      : parseTaggedRecord(input, pos, entry.type, index);
    const idc = recordIdc(parsed.record);
    if (idc !== undefined && idc !== Number(entry.idc)) {
      warnings.push(`Record ${index + 1} (Type-${entry.type}) has IDC ${idc} but 1.003 (CNT) lists IDC ${entry.idc}`);
    }
    records.push(parsed.record);
    pos = parsed.end;
  });
  if (pos !== input.length) {
    throw invalid(`${input.length - pos} unexpected bytes after the last record, from byte offset ${pos}`, {
      offset: pos,
    });
  }
  return { records, warnings };
}

/** The IDC of a record (binary header byte, or field 2 of a tagged record), if it has a numeric one. */
export function recordIdc(record: AnsiNistRecord): number | undefined {
  if (record.kind === 'binary') return record.idc;
  if (record.type === 1) return undefined;
  const v = record.fields.find((f) => f.field === 2)?.value;
  return v !== undefined && /^\d{1,3}$/.test(v) ? Number(v) : undefined;
}

// ------------------------------------------------------------------------------------------------
// Writing

function textBytes(field: AnsiNistField): Buffer {
  return Buffer.from(field.value ?? '', field.encoding === 'latin1' ? 'latin1' : 'utf8');
}

function defaultTag(type: number, field: number): string {
  return `${type}.${String(field).padStart(3, '0')}`;
}

function checkTag(type: number, field: AnsiNistField): string {
  const tag = field.tag ?? defaultTag(type, field.field);
  const m = /^(\d{1,3})\.(\d{1,9})$/.exec(tag);
  if (m === null || Number(m[1]) !== type || Number(m[2]) !== field.field) {
    throw invalid(`Cannot write Type-${type} field ${field.field}: its tag "${tag}" does not match`);
  }
  return tag;
}

function writeTaggedRecord(record: TaggedRecord, cntValue?: string): Buffer[] {
  const type = record.type;
  if (!Number.isInteger(type) || type < 1 || type > 99 || isBinaryType(type)) {
    throw invalid(`Cannot write a tagged record of type ${type}`);
  }
  let lenField: AnsiNistField | undefined;
  const parts: Buffer[] = [];
  record.fields.forEach((f, i) => {
    if (f.field === 1) {
      if (lenField !== undefined || i !== 0) {
        throw invalid(`Cannot write Type-${type}: LEN (field 1) must appear once, as the first field`);
      }
      lenField = f;
      return;
    }
    const tag = checkTag(type, f);
    if (f.data !== undefined) {
      if (f.field !== BINARY_DATA_FIELD || i !== record.fields.length - 1) {
        throw invalid(`Cannot write Type-${type}: only the last field, ${type}.999, may hold binary data`);
      }
      parts.push(Buffer.from(`${tag}:`, 'latin1'), Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length));
      return;
    }
    const value = type === 1 && f.field === 3 && cntValue !== undefined ? cntValue : undefined;
    const bytes = value !== undefined ? Buffer.from(value, 'latin1') : textBytes(f);
    if (bytes.includes(FS) || bytes.includes(GS)) {
      throw invalid(`Cannot write field ${tag}: its value contains an FS or GS separator`);
    }
    parts.push(Buffer.from(`${tag}:`, 'latin1'), bytes);
  });
  // Separators: GS between fields, FS at the end; field 999's data is the last thing before FS.
  const body: Buffer[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    body.push(Buffer.from([GS]), parts[i] as Buffer, parts[i + 1] as Buffer);
  }
  body.push(Buffer.from([FS]));
  const rest = body.reduce((n, b) => n + b.length, 0);
  const lenTag = lenField !== undefined ? checkTag(type, lenField) : defaultTag(type, 1);
  const lenPrefix = lenTag.length + 1;
  // LEN counts its own digits: find the fixed point (at most two rounds, as digits grow by one at most).
  let len = lenPrefix + rest + 1;
  while (lenPrefix + String(len).length + rest !== len) len = lenPrefix + String(len).length + rest;
  const oldText = lenField?.value;
  const lenText = oldText !== undefined && /^\d+$/.test(oldText) && lenPrefix + oldText.length + rest === Number(oldText)
    ? oldText
    : String(len);
  return [Buffer.from(`${lenTag}:${lenText}`, 'latin1'), ...body];
}

function u8(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw invalid(`Cannot write ${what} = ${value}: not a byte`);
  return value;
}

function u16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw invalid(`Cannot write ${what} = ${value}: not in 0..65535`);
  }
  return value;
}

function writeBinaryRecord(record: BinaryRecord): Buffer[] {
  const headerSize = BINARY_HEADER[record.type];
  if (headerSize === undefined) throw invalid(`Cannot write a binary record of type ${String(record.type)}`);
  const header = Buffer.alloc(headerSize);
  const total = headerSize + record.data.length;
  if (total > 0xffffffff) throw invalid(`Cannot write Type-${record.type}: the record exceeds 4 GiB`);
  header.writeUInt32BE(total, 0);
  header.writeUInt8(u8(record.idc, `Type-${record.type} IDC`), 4);
  if (record.type === 8) {
    header.writeUInt8(u8(record.sig, 'Type-8 SIG'), 5);
    header.writeUInt8(u8(record.srt, 'Type-8 SRT'), 6);
    header.writeUInt8(u8(record.isr, 'Type-8 ISR'), 7);
    header.writeUInt16BE(u16(record.hll, 'Type-8 HLL'), 8);
    header.writeUInt16BE(u16(record.vll, 'Type-8 VLL'), 10);
  } else if (record.type !== 7) {
    const t = `Type-${record.type}`;
    header.writeUInt8(u8(record.imp, `${t} IMP`), 5);
    if (record.fgp.length < 1 || record.fgp.length > 6) throw invalid(`Cannot write ${t}: FGP needs 1 to 6 positions`);
    for (let i = 0; i < 6; i++) header.writeUInt8(u8(record.fgp[i] ?? 255, `${t} FGP`), 6 + i);
    header.writeUInt8(u8(record.isr, `${t} ISR`), 12);
    header.writeUInt16BE(u16(record.hll, `${t} HLL`), 13);
    header.writeUInt16BE(u16(record.vll, `${t} VLL`), 15);
    header.writeUInt8(u8(record.gca, `${t} GCA`), 17);
  }
  return [header, Buffer.from(record.data.buffer, record.data.byteOffset, record.data.length)];
}

/** The CNT value the records require, or undefined when the written one already says the same. */
function cntFor(records: readonly AnsiNistRecord[]): string | undefined {
  const type1 = records[0];
  if (type1?.kind !== 'tagged' || type1.type !== 1) {
    throw invalid('Cannot write a transaction whose first record is not Type-1');
  }
  const others = records.slice(1);
  const wanted = others.map((r) => {
    if (r.kind === 'tagged') {
      if (r.type === 1) throw invalid('Cannot write a transaction with more than one Type-1 record');
      const v = r.fields.find((f) => f.field === 2)?.value;
      return { type: r.type, idc: v !== undefined && /^\d{1,3}$/.test(v) ? v : '00' };
    }
    return { type: r.type, idc: String(r.idc).padStart(2, '0') };
  });
  const current = type1.fields.find((f) => f.field === 3);
  const subs = subfields(current);
  const same =
    subs.length === wanted.length + 1 &&
    subs[0]?.[0] === '1' &&
    Number(subs[0]?.[1]) === wanted.length &&
    wanted.every((w, i) => {
      const s = subs[i + 1];
      return s?.length === 2 && Number(s[0]) === w.type && Number(s[1]) === Number(w.idc);
    });
  if (same) return undefined;
  if (current === undefined) throw invalid('Cannot write a Type-1 record without field 1.003 (CNT)');
  return joinSubfields([['1', String(wanted.length)], ...wanted.map((w) => [String(w.type), w.idc])]);
}

/**
 * Writes a transaction in traditional encoding. Tags keep their original style; LEN fields and the
 * Type-1 CNT field are rewritten only when the content no longer matches them, so an unchanged
 * parsed transaction is written back byte for byte.
 */
export function writeAnsiNistTransaction(transaction: Pick<AnsiNistTransaction, 'records'>): Buffer {
  const cnt = cntFor(transaction.records);
  const chunks: Buffer[] = [];
  for (const record of transaction.records) {
    if (record.kind === 'tagged') chunks.push(...writeTaggedRecord(record, record.type === 1 ? cnt : undefined));
    else chunks.push(...writeBinaryRecord(record));
  }
  return Buffer.concat(chunks);
}

// ------------------------------------------------------------------------------------------------
// Typed view: finger images

export type ImageCompression =
  | 'none'
  | 'wsq'
  | 'jpeg'
  | 'jpeg-lossless'
  | 'jpeg2000'
  | 'jpeg2000-lossless'
  | 'png'
  | 'unknown';

/** Numeric compression codes of binary records and the CGA strings of tagged ones (1-2011 Table 15). */
const COMPRESSION_BY_CODE: readonly ImageCompression[] = [
  'none',
  'wsq',
  'jpeg',
  'jpeg-lossless',
  'jpeg2000',
  'jpeg2000-lossless',
  'png',
];
const COMPRESSION_BY_NAME: Readonly<Record<string, ImageCompression>> = {
  NONE: 'none',
  WSQ: 'wsq', // 1-2000 name
  WSQ20: 'wsq',
  JPEGB: 'jpeg',
  JPEGL: 'jpeg-lossless',
  JP2: 'jpeg2000',
  JP2L: 'jpeg2000-lossless',
  PNG: 'png',
};

export interface FingerImage {
  /** Index of the record in `transaction.records`. */
  readonly recordIndex: number;
  readonly recordType: 4 | 13 | 14;
  readonly idc: number | undefined;
  /** Finger positions (Table 8): FGP bytes of Type-4 without the 255 fillers, or the 13/14.013 subfields. */
  readonly positions: readonly number[];
  readonly impressionType: number | undefined;
  readonly compression: ImageCompression;
  /** The compression code as written (a number for Type-4, the CGA string for Types 13/14). */
  readonly compressionCode: string;
  readonly width: number;
  readonly height: number;
  /** Resolution in pixels per inch, when the record or the Type-1 record states one. */
  readonly ppi: number | undefined;
  readonly bitsPerPixel: number;
  readonly data: Uint8Array;
}

export interface ImageViewOptions {
  /** Largest width or height accepted (default {@link DEFAULT_MAX_IMAGE_SIDE}). */
  readonly maxImageSide?: number;
}

function fieldValue(record: TaggedRecord, field: number): string | undefined {
  return record.fields.find((f) => f.field === field)?.value;
}

function intValue(record: TaggedRecord, field: number): number | undefined {
  const v = fieldValue(record, field)?.trim();
  return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : undefined;
}

/** Type-1 NTR (1.012), pixels per millimetre, as ppi. */
function transmittingPpi(tx: AnsiNistTransaction): number | undefined {
  const t1 = tx.records[0];
  if (t1?.kind !== 'tagged') return undefined;
  const ntr = Number(fieldValue(t1, 12));
  return Number.isFinite(ntr) && ntr > 0 ? Math.round(ntr * 25.4) : undefined;
}

/**
 * Resolution of a variable-resolution record (13/14/15.008 SLC, .009 THPS): SLC 1 is pixels per
 * inch, 2 pixels per centimetre, 0 only an aspect ratio (1-2011 §7.7.8.3).
 */
function scalePpi(record: TaggedRecord): number | undefined {
  const slc = intValue(record, 8);
  const thps = intValue(record, 9);
  if (thps === undefined || thps === 0) return undefined;
  if (slc === 1) return thps;
  if (slc === 2) return Math.round(thps * 2.54);
  return undefined;
}

function checkSide(width: number, height: number, max: number, where: string): void {
  if (width > max || height > max) {
    throw new OpenPrumError(
      'input-too-large',
      `${where}: the image is ${width}×${height} pixels; at most ${max} pixels a side are accepted`,
      { width, height, max },
    );
  }
}

/** The finger images of a transaction: Type-4 (binary) and Type-13/14 (tagged) records. */
export function fingerImages(tx: AnsiNistTransaction, options: ImageViewOptions = {}): FingerImage[] {
  const max = options.maxImageSide ?? DEFAULT_MAX_IMAGE_SIDE;
  const ntrPpi = transmittingPpi(tx);
  const out: FingerImage[] = [];
  tx.records.forEach((record, recordIndex) => {
    const where = `Record ${recordIndex + 1} (Type-${record.type})`;
    if (record.kind === 'binary' && record.type === 4) {
      checkSide(record.hll, record.vll, max, where);
      out.push({
        recordIndex,
        recordType: 4,
        idc: record.idc,
        positions: record.fgp.filter((p) => p !== 255),
        impressionType: record.imp,
        compression: COMPRESSION_BY_CODE[record.gca] ?? 'unknown',
        compressionCode: String(record.gca),
        width: record.hll,
        height: record.vll,
        // Type-4 images are sent at the nominal transmitting resolution of 1.012 (NTR).
        ppi: ntrPpi,
        bitsPerPixel: 8,
        data: record.data,
      });
    } else if (record.kind === 'tagged' && (record.type === 13 || record.type === 14)) {
      const width = intValue(record, 6);
      const height = intValue(record, 7);
      if (width === undefined || height === undefined) {
        throw invalid(`${where}: fields ${record.type}.006 (HLL) and ${record.type}.007 (VLL) must be numbers`, {
          record: recordIndex + 1,
        });
      }
      checkSide(width, height, max, where);
      const cga = (fieldValue(record, 11) ?? '').trim().toUpperCase();
      const data = record.fields.find((f) => f.field === BINARY_DATA_FIELD)?.data;
      if (data === undefined) {
        throw invalid(`${where}: field ${record.type}.999 (image data) is missing`, { record: recordIndex + 1 });
      }
      out.push({
        recordIndex,
        recordType: record.type,
        idc: recordIdc(record),
        positions: subfields(fieldValue(record, 13))
          .map((s) => s[0]?.trim() ?? '')
          .filter((s) => /^\d{1,3}$/.test(s))
          .map(Number),
        impressionType: intValue(record, 3),
        compression: COMPRESSION_BY_NAME[cga] ?? 'unknown',
        compressionCode: cga,
        width,
        height,
        ppi: scalePpi(record) ?? ntrPpi,
        bitsPerPixel: intValue(record, 12) ?? 8,
        data,
      });
    }
  });
  return out;
}

export interface DecodeFingerImageOptions {
  /** ppi to use when neither the record nor the image data states one (default 500). */
  readonly defaultPpi?: number;
  readonly maxImageSide?: number;
}

/**
 * Decodes a finger image of the typed view to 8-bit grayscale. Supports uncompressed 8-bit, WSQ and
 * PNG; JPEG and JPEG 2000 are refused with `fingerprint-image-invalid`.
 */
export function decodeFingerImage(image: FingerImage, options: DecodeFingerImageOptions = {}): GrayImage {
  const ppi = image.ppi ?? options.defaultPpi ?? 500;
  const maxSide = options.maxImageSide ?? DEFAULT_MAX_IMAGE_SIDE;
  const where = `Record ${image.recordIndex + 1} (Type-${image.recordType})`;
  switch (image.compression) {
    case 'none': {
      if (image.bitsPerPixel !== 8) {
        throw new OpenPrumError(
          'fingerprint-image-invalid',
          `${where}: uncompressed images with ${image.bitsPerPixel} bits per pixel are not supported (only 8)`,
        );
      }
      checkSide(image.width, image.height, maxSide, where);
      if (image.data.length !== image.width * image.height) {
        throw new OpenPrumError(
          'fingerprint-image-invalid',
          `${where}: an uncompressed ${image.width}×${image.height} image needs ${image.width * image.height} bytes, ` +
            `the record holds ${image.data.length}`,
        );
      }
      return { width: image.width, height: image.height, ppi, pixels: Uint8Array.from(image.data) };
    }
    case 'wsq':
    case 'png': {
      const limits = { defaultPpi: ppi, maxWidth: maxSide, maxHeight: maxSide };
      let decoded: GrayImage;
      try {
        decoded = image.compression === 'wsq' ? decodeWsq(image.data, limits) : decodePng(image.data, limits);
      } catch (e) {
        // Say which record held the broken image; keep the decoder's code and details.
        if (e instanceof OpenPrumError) {
          throw new OpenPrumError(e.code, `${where}: ${e.message}`, { ...e.details, record: image.recordIndex + 1 }, { cause: e });
        }
        throw e;
      }
      // The record's resolution is authoritative; the WSQ comment or PNG pHYs is only a hint.
      return image.ppi !== undefined ? { ...decoded, ppi: image.ppi } : decoded;
    }
    default:
      throw new OpenPrumError(
        'fingerprint-image-invalid',
        `${where}: images compressed as ${image.compressionCode || 'unknown'} cannot be decoded here ` +
          '(supported: uncompressed, WSQ, PNG)',
        { compression: image.compression },
      );
  }
}

// ------------------------------------------------------------------------------------------------
// Typed view: Type-9 minutiae

export interface Type9Minutiae {
  readonly recordIndex: number;
  readonly idc: number | undefined;
  /** Which block of fields the minutiae came from. */
  readonly source: 'incits378' | 'legacy';
  /** The converted template, or undefined when it could not be built (see `problems`). */
  readonly template: MinutiaeTemplate | undefined;
  readonly problems: readonly string[];
}

export interface Type9Options {
  /**
   * Image size and resolution to place legacy (9.005–9.012) minutiae when the transaction has no image
   * record of the same IDC or finger position. Legacy coordinates are in 0.01 mm from the lower-left
   * corner, so the image height is needed to turn them into pixel rows.
   */
  readonly imageSize?: { readonly width: number; readonly height: number; readonly ppi: number };
}

function clampQuality(q: number): number {
  return Math.max(0, Math.min(100, q));
}

const TWO_PI = 2 * Math.PI;

function normaliseAngle(rad: number): number {
  const a = rad % TWO_PI;
  return a < 0 ? a + TWO_PI : a;
}

/** INCITS 378 block of Type-9 (1-2007 §13.6 / 1-2011 §8.9.5, fields 9.126–9.140). */
function incitsMinutiae(record: TaggedRecord, fallbackPpi: number | undefined): { t?: MinutiaeTemplate; problems: string[] } {
  const problems: string[] = [];
  const width = intValue(record, 128);
  const height = intValue(record, 129);
  const slc = intValue(record, 130);
  const thps = intValue(record, 131);
  let ppi = fallbackPpi;
  if (thps !== undefined && thps > 0 && slc === 1) ppi = thps;
  else if (thps !== undefined && thps > 0 && slc === 2) ppi = Math.round(thps * 2.54);
  if (width === undefined || height === undefined) problems.push('9.128/9.129 (image size) are missing');
  if (ppi === undefined) problems.push('9.130/9.131 (resolution) are missing');
  const minutiae: Minutia[] = [];
  subfields(fieldValue(record, 137)).forEach((items, i) => {
    if (items.length === 1 && items[0] === '') return;
    // index ␟ x ␟ y ␟ angle (2° units) ␟ type (0 other, 1 ending, 2 bifurcation) ␟ quality
    const [, xs, ys, as, ts, qs] = items;
    const nums = [xs, ys, as, ts].map((s) => (s !== undefined && /^\d{1,5}$/.test(s.trim()) ? Number(s) : NaN));
    const [x, y, a, t] = nums as [number, number, number, number];
    if (nums.some((n) => Number.isNaN(n))) {
      problems.push(`9.137 subfield ${i + 1} is not "index␟x␟y␟angle␟type␟quality"`);
      return;
    }
    const type: MinutiaType = t === 1 ? 'ending' : t === 2 ? 'bifurcation' : 'other';
    const quality = qs !== undefined && /^\d{1,3}$/.test(qs.trim()) ? clampQuality(Number(qs)) : 0;
    minutiae.push({ x, y, angle: normaliseAngle((a * 2 * Math.PI) / 180), type, quality });
  });
  const nom = intValue(record, 136);
  if (nom !== undefined && nom !== minutiae.length) {
    problems.push(`9.136 says ${nom} minutiae but 9.137 holds ${minutiae.length}`);
  }
  if (width === undefined || height === undefined || ppi === undefined) return { problems };
  return {
    t: {
      width,
      height,
      ppi,
      position: Number(subfields(fieldValue(record, 134))[0]?.[0] ?? 0) || 0,
      quality: clampQuality(Number(subfields(fieldValue(record, 135))[0]?.[0] ?? 0) || 0),
      minutiae,
    },
    problems,
  };
}

/** Legacy NIST block (1-2000 §13.1, fields 9.005–9.012) with FMT = "S" (standard). */
function legacyMinutiae(
  record: TaggedRecord,
  image: { width: number; height: number; ppi: number } | undefined,
): { t?: MinutiaeTemplate; problems: string[] } {
  const problems: string[] = [];
  const fmt = (fieldValue(record, 4) ?? '').trim();
  if (fmt !== 'S') {
    return { problems: [`9.004 (FMT) is "${fmt}"; only the standard format "S" can be converted`] };
  }
  if (image === undefined) {
    return {
      problems: [
        'legacy minutiae are measured from the lower-left corner in 0.01 mm; no image of the same IDC or ' +
          'finger position gives their size, and no imageSize was given',
      ],
    };
  }
  const ppmm = image.ppi / 25.4;
  const minutiae: Minutia[] = [];
  subfields(fieldValue(record, 12)).forEach((items, i) => {
    // index ␟ XXXXYYYYTTT ␟ quality ␟ type ␟ ridge counts…
    const xyt = items[1]?.trim() ?? '';
    if (!/^\d{11}$/.test(xyt)) {
      problems.push(`9.012 subfield ${i + 1}: location "${xyt}" is not 11 digits XXXXYYYYTTT`);
      return;
    }
    const xmm = Number(xyt.slice(0, 4)) / 100;
    const ymm = Number(xyt.slice(4, 8)) / 100;
    const theta = Number(xyt.slice(8, 11));
    const q = Number(items[2]?.trim());
    // Legacy quality: 0 manually encoded, 1 no confidence method, 2 (best) … 63 (worst).
    const quality = q === 0 ? 100 : q >= 2 && q <= 63 ? Math.round(((63 - q) * 100) / 61) : 0;
    const code = items[3]?.trim();
    const type: MinutiaType = code === 'A' ? 'ending' : code === 'B' ? 'bifurcation' : 'other';
    const x = Math.round(xmm * ppmm);
    const y = Math.round(image.height - 1 - ymm * ppmm);
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) {
      problems.push(`9.012 subfield ${i + 1}: the minutia lies outside the ${image.width}×${image.height} image`);
      return;
    }
    // The y axis flips, but an angle counter-clockwise on paper stays counter-clockwise.
    minutiae.push({ x, y, angle: normaliseAngle((theta * Math.PI) / 180), type, quality });
  });
  const declared = intValue(record, 10);
  if (declared !== undefined && declared !== subfields(fieldValue(record, 12)).length) {
    problems.push(`9.010 says ${declared} minutiae but 9.012 lists ${subfields(fieldValue(record, 12)).length}`);
  }
  return {
    t: {
      width: image.width,
      height: image.height,
      ppi: image.ppi,
      position: Number(subfields(fieldValue(record, 6))[0]?.[0]) || 0,
      quality: 0,
      minutiae,
    },
    problems,
  };
}

/**
 * Minutiae of the Type-9 records, converted to {@link MinutiaeTemplate}: the INCITS 378 fields
 * (9.126–9.140) when present, else the legacy fields (9.005–9.012). Records that cannot be converted
 * are listed with their problems instead of throwing, since a transaction may carry vendor blocks.
 */
export function type9Minutiae(tx: AnsiNistTransaction, options: Type9Options = {}): Type9Minutiae[] {
  const images = fingerImages(tx, { maxImageSide: Number.MAX_SAFE_INTEGER });
  const defaultPpi = transmittingPpi(tx);
  const out: Type9Minutiae[] = [];
  tx.records.forEach((record, recordIndex) => {
    if (record.kind !== 'tagged' || record.type !== 9) return;
    const idc = recordIdc(record);
    const hasIncits = record.fields.some((f) => f.field >= 126 && f.field <= 140);
    if (hasIncits) {
      const r = incitsMinutiae(record, defaultPpi);
      out.push({ recordIndex, idc, source: 'incits378', template: r.t, problems: r.problems });
      return;
    }
    const fgp = Number(subfields(fieldValue(record, 6))[0]?.[0]);
    const linked =
      images.find((im) => im.idc === idc) ??
      (images.filter((im) => im.positions.includes(fgp)).length === 1
        ? images.find((im) => im.positions.includes(fgp))
        : undefined);
    const size =
      linked !== undefined
        ? { width: linked.width, height: linked.height, ppi: linked.ppi ?? defaultPpi ?? 500 }
        : options.imageSize;
    const r = legacyMinutiae(record, size);
    out.push({ recordIndex, idc, source: 'legacy', template: r.t, problems: r.problems });
  });
  return out;
}
