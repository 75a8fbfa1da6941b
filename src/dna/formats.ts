/**
 * DNA profile files: JSON Lines and wide CSV, read as a stream of lines so that a file of a million
 * profiles never sits in memory as text or as a million objects.
 *
 * JSON Lines: one object per line, `{"ref":"NL-0001","kind":"reference","loci":{"D3S1358":["15","16"]}}`.
 * CSV: a header `ref,kind,<locus>,...`, then one profile per line with cells `15/16`, `15`
 * (homozygote) or empty (not typed).
 *
 * A file is read completely before anything is used: the first problem stops the reading with an
 * error naming the file and line, so a bad file is never half imported.
 */
import { open } from 'node:fs/promises';
import { OpenPrumError } from '../errors/index.ts';
import { classifyField, type LocusInfo } from './loci.ts';
import {
  checkKind, checkRef, fail, fieldLocus, ProfileEncoder, readRecord, type DnaProfile, type ProfileKind, type ReadOptions, type Where,
} from './profile.ts';
import type { Refusal } from './store.ts';

export type FileFormat = 'jsonl' | 'csv';

/** Receives each well-formed record; the encoder holds its loci until the next record. */
export type RecordSink = (enc: ProfileEncoder, ref: string, kind: ProfileKind, line: number) => void;

export interface ReadFileOptions extends ReadOptions {
  /** Default: from the file name (.csv, .jsonl, .ndjson), else from the first character. */
  readonly format?: FileFormat;
  /** Called every 100,000 lines. */
  readonly onProgress?: (lines: number) => void;
}

export interface ReadSummary {
  readonly format: FileFormat;
  /** Well-formed records (profiles), refused ones included. */
  readonly records: number;
}

/** The format a file name implies, if any. */
export function formatOfName(path: string): FileFormat | undefined {
  const p = path.toLowerCase();
  if (p.endsWith('.csv')) return 'csv';
  if (p.endsWith('.jsonl') || p.endsWith('.ndjson') || p.endsWith('.json')) return 'jsonl';
  return undefined;
}

/**
 * Calls `fn` with each line of a file (without its line end). Reads 1 MB at a time; `fn` runs
 * synchronously, so a line costs no promise.
 */
async function forEachLine(path: string, fn: (line: string) => void): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new OpenPrumError('file-unreadable', `cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; check the path and permissions`, { file: path });
  }
  try {
    let buf = Buffer.allocUnsafe(1 << 20);
    let start = 0;
    let end = 0;
    let first = true;
    for (;;) {
      if (end === buf.length) {
        if (start > 0) {
          buf.copy(buf, 0, start, end);
          end -= start;
          start = 0;
        } else {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, end);
          buf = bigger;
        }
      }
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buf, end, buf.length - end, null));
      } catch (e) {
        throw new OpenPrumError('file-unreadable', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
      }
      if (bytesRead === 0) break;
      end += bytesRead;
      if (first && end >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3; // BOM
      first = false;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0 || nl >= end) break;
        const stop = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
        fn(buf.toString('utf8', start, stop));
        start = nl + 1;
      }
    }
    if (end > start) fn(buf.toString('utf8', start, buf[end - 1] === 13 ? end - 1 : end));
  } finally {
    await fh.close();
  }
}

/**
 * The references of a file seen so far, for refusing a reference used twice. A hash table of record
 * numbers over a list of references costs far less than a Map of a million strings.
 */
class RefSet {
  private table = new Int32Array(1 << 16);
  private mask = (1 << 16) - 1;
  private readonly refs: string[] = [];
  private readonly lines: number[] = [];

  /** Adds a reference; returns the line of its earlier use, or -1. */
  add(ref: string, line: number): number {
    if (this.refs.length * 2 >= this.table.length) this.grow();
    const h = hashString(ref);
    let i = h & this.mask;
    for (;;) {
      const e = this.table[i]!;
      if (e === 0) break;
      if (this.refs[e - 1] === ref) return this.lines[e - 1]!;
      i = (i + 1) & this.mask;
    }
    this.refs.push(ref);
    this.lines.push(line);
    this.table[i] = this.refs.length;
    return -1;
  }

  private grow(): void {
    this.table = new Int32Array(this.table.length * 2);
    this.mask = this.table.length - 1;
    for (let e = 0; e < this.refs.length; e++) {
      let i = hashString(this.refs[e]!) & this.mask;
      while (this.table[i] !== 0) i = (i + 1) & this.mask;
      this.table[i] = e + 1;
    }
  }
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * A copy of a short piece of a long string. V8 keeps a substring of 13 or more characters as a view
 * into the whole line, which would keep every line of a large file alive through its reference.
 */
function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1'); // refs are ASCII (checkRef)
}

interface CsvHeader {
  readonly fields: string[];
  readonly refCol: number;
  readonly kindCol: number;
  /** The locus of each column (undefined for ref and kind). */
  readonly loci: (LocusInfo | undefined)[];
}

/** Reads a whole file into the sink. Throws on the first problem, with file and line. */
export async function readProfileFile(path: string, sink: RecordSink, options: ReadFileOptions = {}): Promise<ReadSummary> {
  const enc = new ProfileEncoder(options);
  const seen = new RefSet();
  let format = options.format ?? formatOfName(path);
  let lineNo = 0;
  let records = 0;
  let header: CsvHeader | undefined;
  const where = { file: path, line: 0 };
  const accept = (ref: string, kind: ProfileKind): void => {
    const earlier = seen.add(ref, where.line);
    if (earlier >= 0) {
      fail('dna-file-invalid', where, `reference ${ref} is used twice, on line ${earlier} and line ${where.line}; each profile needs its own reference`, { ref, firstLine: earlier });
    }
    records++;
    sink(enc, ref, kind, where.line);
  };
  let cells = new Int32Array(64);
  await forEachLine(path, (text) => {
    lineNo++;
    where.line = lineNo;
    if (lineNo % 100_000 === 0) options.onProgress?.(lineNo);
    if (isBlank(text)) return;
    format ??= text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
    if (format === 'jsonl') {
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (e) {
        fail('dna-file-invalid', where, `not a valid JSON line (${(e as Error).message}); each line must be one JSON object such as {"ref":"NL-0001","kind":"reference","loci":{"D3S1358":["15","16"]}}`);
      }
      const { ref, kind } = readRecord(obj, enc, where);
      accept(ref, kind);
      return;
    }
    if (!header) {
      header = csvHeader(text, where);
      return;
    }
    const h = header;
    if (text.includes('"')) {
      // Quoted fields: the general splitter.
      const parts = splitCsvLine(text, where);
      if (parts.length !== h.fields.length) badFieldCount(where, parts.length, h.fields.length);
      const ref = checkRef(parts[h.refCol]!.trim(), where);
      const kind = checkKind(parts[h.kindCol]!.trim(), where);
      enc.reset();
      parts.forEach((cell, i) => {
        const locus = h.loci[i];
        if (locus) enc.addCell(locus, h.fields[i]!, cell, 0, cell.length, where);
      });
      accept(ref, kind);
      return;
    }
    // Plain line: cells are found by position, no string per cell.
    let n = 0;
    let from = 0;
    for (;;) {
      if (n + 2 > cells.length) {
        const bigger = new Int32Array(cells.length * 2);
        bigger.set(cells);
        cells = bigger;
      }
      const comma = text.indexOf(',', from);
      cells[n++] = from;
      if (comma < 0) {
        cells[n] = text.length + 1;
        break;
      }
      from = comma + 1;
    }
    if (n !== h.fields.length) badFieldCount(where, n, h.fields.length);
    const ref = own(checkRef(text.slice(cells[h.refCol]!, cells[h.refCol + 1]! - 1).trim(), where));
    const kind = checkKind(text.slice(cells[h.kindCol]!, cells[h.kindCol + 1]! - 1).trim(), where);
    enc.reset();
    for (let i = 0; i < n; i++) {
      const locus = h.loci[i];
      if (locus) enc.addCell(locus, h.fields[i]!, text, cells[i]!, cells[i + 1]! - 1, where);
    }
    accept(ref, kind);
  });
  options.onProgress?.(lineNo);
  if (records === 0) {
    fail('dna-file-invalid', { file: path }, lineNo === 0 ? 'the file is empty; it must hold at least one profile' : 'the file holds no profiles (only a header or blank lines)');
  }
  return { format: format ?? 'jsonl', records };
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

function badFieldCount(where: Where, n: number, expected: number): never {
  return fail('dna-file-invalid', where, `has ${n} fields but the header has ${expected}; every line needs one cell per column (empty for an untyped locus)`);
}

function csvHeader(text: string, where: Where): CsvHeader {
  const fields = splitCsvLine(text, where).map((f) => f.trim());
  const refCol = fields.findIndex((f) => f.toLowerCase() === 'ref');
  const kindCol = fields.findIndex((f) => f.toLowerCase() === 'kind');
  if (refCol < 0 || kindCol < 0) {
    fail('dna-file-invalid', where, 'the CSV header must have the columns ref and kind, then one column per locus (ref,kind,D3S1358,vWA,...)');
  }
  const loci = new Map<string, string>();
  fields.forEach((f, i) => {
    if (i === refCol || i === kindCol) return;
    if (classifyField(f).kind === 'personal') {
      fail('dna-personal-data', where, `column ${JSON.stringify(f)} is not a locus; reference data may carry only a reference number and the DNA profile (Prüm Decision Art. 2(2)). Remove the column`, { field: f });
    }
    const locus = fieldLocus(f, where); // throws on a misspelt locus
    const other = loci.get(locus.key);
    if (other !== undefined) fail('dna-file-invalid', where, `columns ${JSON.stringify(other)} and ${JSON.stringify(f)} are the same locus; keep one`, { field: f });
    loci.set(locus.key, f);
  });
  return { fields, refCol, kindCol, loci: fields.map((f, i) => (i === refCol || i === kindCol ? undefined : fieldLocus(f, where))) };
}

/** Splits one CSV line (RFC 4180 quoting, no line breaks inside a field). */
export function splitCsvLine(line: string, where: Where): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) fail('dna-file-invalid', where, 'a quoted field is not closed; close the quote (fields cannot span lines)');
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      if (i === line.length) return out;
      if (line[i] !== ',') fail('dna-file-invalid', where, 'text after a closing quote; put a comma after the quoted field');
      i++;
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

/** Reads a file into normalised profiles; the refused ones (inclusion rule) are listed with reasons. */
export async function readDnaFile(path: string, options: ReadFileOptions = {}): Promise<{ profiles: DnaProfile[]; refused: Refusal[]; format: FileFormat }> {
  const profiles: DnaProfile[] = [];
  const refused: Refusal[] = [];
  const summary = await readProfileFile(path, (enc, ref, kind, line) => {
    const problem = enc.inclusionProblem(kind);
    if (problem !== undefined) refused.push({ ref, line, reason: `profile ${ref} ${problem}` });
    else profiles.push(enc.toProfile(ref, kind));
  }, options);
  return { profiles, refused, format: summary.format };
}
