/**
 * Dactyloscopic data as the node receives it (import files, officers' searches, peers' searches),
 * turned into the one form the node stores, sends and matches: per finger, a position and an ISO/IEC
 * 19794-2:2005 minutiae record of at most 128 minutiae ("stored template").
 *
 * Accepted input: ANSI/NIST-ITL transactions (Type-4/13/14 finger images, decoded and extracted here;
 * Type-9 minutiae for fingers without an image), ISO/IEC 19794-2 and ANSI INCITS 378 records, and
 * grayscale PNG images with their resolution. Only dactyloscopic data is read: Type-2 descriptive
 * data is never stored nor sent (Prüm Decision Art. 8: reference data is dactyloscopic data and a
 * reference number, nothing that directly identifies the person).
 */
import { OpenPrumError, type ErrorCode } from '../errors/index.ts';
import { extractMinutiae } from './extract/index.ts';
import {
  decodeFingerImage,
  decodePng,
  fingerImages,
  fingerMinutiaeRecordToTemplates,
  parseAnsiNistTransaction,
  parseFingerMinutiaeRecord,
  readMinutiaeTemplate,
  readPngInfo,
  subfields,
  type9Minutiae,
  writeMinutiaeTemplate,
  type AnsiNistTransaction,
  type TaggedRecord,
} from './formats/index.ts';
import { normalise } from './match/prepare.ts';
import type { FingerSource } from './db-schema.ts';
import type { GrayImage, Minutia, MinutiaeTemplate } from './types.ts';

/** Minutiae kept per finger (the best by quality): what the extractor gives and the matcher uses. */
export const MAX_MINUTIAE = 128;
/** Fingers per person or probe (ANSI/NIST-ITL positions 1-10; unknown positions count too). */
export const MAX_FINGERS = 10;
/**
 * Image resolutions accepted, in pixels per inch. Prüm exchanges 500 ppi ten-prints and 500 or 1000
 * ppi latents (ANSI/NIST-ITL, INTERPOL INT-I); the extractor normalises anything to 500 ppi, but
 * below 250 ppi ridges are not resolved and above 2000 ppi the input is not a finger scan.
 */
export const MIN_PPI = 250;
export const MAX_PPI = 2000;
/** Finger position names (ANSI/NIST-ITL Table 8), for messages. */
export const POSITION_NAMES = ['unknown', 'right thumb', 'right index', 'right middle', 'right ring', 'right little', 'left thumb', 'left index', 'left middle', 'left ring', 'left little'];

export type FingerprintKind = 'reference' | 'unidentified';

/** One finger, ready to store, send or match. */
export interface StoredFinger {
  /** 0 (unknown) or 1-10. */
  readonly position: number;
  readonly source: FingerSource;
  /** The ISO/IEC 19794-2:2005 record (one view) as stored and sent. */
  readonly iso: Buffer;
  /** The template that record decodes to: what the gallery holds. */
  readonly template: MinutiaeTemplate;
  /** Where it came from, for messages: "file x.an2, record 3 (Type-14)". */
  readonly where: string;
}

/** What a transaction or file gave, with the parts that were read but not used. */
export interface ReadResult {
  readonly fingers: StoredFinger[];
  /** Records or fields left out, and why (slaps, palms, faces, descriptive data…). */
  readonly ignored: string[];
  /** The transaction control number (1.009 TCN) of an ANSI/NIST-ITL transaction. */
  readonly tcn?: string | undefined;
  /** True when every finger came from a latent image record (Type-13). */
  readonly latent: boolean;
}

export type InputFormat = 'ansi-nist' | 'minutiae-record' | 'png';

/** Tells the formats apart by their first bytes. */
export function detectFormat(bytes: Uint8Array): InputFormat | undefined {
  const head = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  if (/^1\.0?0?1:/.test(head)) return 'ansi-nist';
  if (head.startsWith('FMR\0')) return 'minutiae-record';
  if (bytes[0] === 0x89 && head.slice(1, 4) === 'PNG') return 'png';
  return undefined;
}

function fail(code: ErrorCode, where: string, message: string, details?: Record<string, unknown>): never {
  throw new OpenPrumError(code, `${where}: ${message}`, { ...details, where });
}

/** Prefixes an engine error with where it happened, keeping its code. */
function within<T>(where: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof OpenPrumError) throw new OpenPrumError(e.code, `${where}: ${e.message}`, { ...e.details, where }, { cause: e });
    throw e;
  }
}

/**
 * The stored form of a template: the best MAX_MINUTIAE minutiae, whole-pixel coordinates, written as
 * an ISO/IEC 19794-2 record and read back, so that what a gallery holds after a restart (built from
 * the database) is exactly what it held when the finger was imported. Refuses templates the matcher
 * cannot use (too few minutiae, absurd values) with `fingerprint-minutiae-too-few` or
 * `fingerprint-template-invalid`, naming `where`.
 */
export function storedFinger(template: MinutiaeTemplate, position: number, source: FingerSource, where: string): StoredFinger {
  return within(where, () => {
    if (!Number.isInteger(position) || position < 0 || position > 10) {
      throw new OpenPrumError('fingerprint-template-invalid', `finger position ${String(position)} is not 0 (unknown) or 1-10`, { position });
    }
    if (!Array.isArray(template.minutiae)) throw new OpenPrumError('fingerprint-template-invalid', 'the template has no minutiae list');
    if (template.minutiae.length === 0) throw new OpenPrumError('fingerprint-minutiae-too-few', 'the template has no minutiae, so it cannot be matched', { minutiae: 0 });
    const kept: Minutia[] = [...template.minutiae]
      .sort((a, b) => b.quality - a.quality)
      .slice(0, MAX_MINUTIAE)
      .map((m) => ({ ...m, x: Math.round(m.x), y: Math.round(m.y), quality: Math.max(0, Math.min(100, Math.round(m.quality))) }));
    const maxX = Math.max(0, ...kept.map((m) => m.x));
    const maxY = Math.max(0, ...kept.map((m) => m.y));
    const width = Math.min(0xffff, Math.max(Math.round(template.width), maxX + 1));
    const height = Math.min(0xffff, Math.max(Math.round(template.height), maxY + 1));
    // The matcher's own checks (resolution, finite values, at least 5 distinct minutiae) first.
    normalise({ ...template, minutiae: kept });
    const iso = writeMinutiaeTemplate({ ...template, width, height, position, quality: Math.max(0, Math.min(100, Math.round(template.quality || 0))), minutiae: kept }, 'iso19794-2');
    const back = readMinutiaeTemplate(iso, { format: 'iso19794-2' });
    normalise(back);
    return { position, source, iso, template: back, where };
  });
}

/** A stored template read back from the database or from a peer's message. */
export function fingerFromIso(iso: Uint8Array, where: string, source: FingerSource = 'iso19794-2'): StoredFinger {
  return within(where, () => {
    const template = readMinutiaeTemplate(iso, { format: 'iso19794-2' });
    if (template.minutiae.length > MAX_MINUTIAE) {
      throw new OpenPrumError('fingerprint-template-invalid', `the template holds ${template.minutiae.length} minutiae; at most ${MAX_MINUTIAE} are accepted`);
    }
    return storedFinger(template, template.position, source, where);
  });
}

/** Checks an image's resolution (the "wrong resolution" refusal). */
export function checkResolution(ppi: number, where: string): void {
  if (!Number.isFinite(ppi) || ppi < MIN_PPI || ppi > MAX_PPI) {
    fail('fingerprint-image-invalid', where, `the image resolution is ${String(ppi)} ppi; fingerprint images are accepted at ${MIN_PPI}-${MAX_PPI} ppi (ANSI/NIST-ITL: 500 ppi, latents 1000 ppi)`, { ppi });
  }
}

/** Extracts one finger from a decoded image. */
export function fingerFromImage(image: GrayImage, position: number, where: string): StoredFinger {
  checkResolution(image.ppi, where);
  const template = within(where, () => extractMinutiae(image, { position, maxMinutiae: MAX_MINUTIAE }));
  return storedFinger(template, position, 'image', where);
}

/** A PNG image of one finger at a stated resolution (a pHYs chunk that says otherwise is refused). */
export function fingerFromPng(bytes: Uint8Array, ppi: number, position: number, where: string): StoredFinger {
  checkResolution(ppi, where);
  const info = within(where, () => readPngInfo(bytes));
  if (info.ppi !== undefined && Math.abs(info.ppi - ppi) > Math.max(2, ppi * 0.01)) {
    fail('fingerprint-image-invalid', where, `the PNG states ${info.ppi} ppi (pHYs) but the request says ${ppi} ppi; give the scanning resolution`, { ppi, pngPpi: info.ppi });
  }
  const image = within(where, () => decodePng(bytes, { defaultPpi: ppi }));
  return fingerFromImage({ ...image, ppi }, position, where);
}

/** Every finger view of an ISO/IEC 19794-2 or ANSI INCITS 378 record. */
export function fingersFromMinutiaeRecord(bytes: Uint8Array, where: string): ReadResult {
  const record = within(where, () => parseFingerMinutiaeRecord(bytes));
  const source: FingerSource = record.format === 'iso19794-2' ? 'iso19794-2' : 'ansi378';
  const templates = within(where, () => fingerMinutiaeRecordToTemplates(record));
  if (templates.length === 0) fail('fingerprint-template-invalid', where, 'the record has no finger view');
  const fingers = templates.map((t, i) => storedFinger(t, t.position, source, templates.length > 1 ? `${where}, finger view ${i + 1}` : where));
  return { fingers, ignored: [], latent: false };
}

/**
 * Type-2 fields that carry a person's name in the ANSI/NIST-ITL user-defined Type-2 of the FBI EBTS,
 * which the NBIS samples and many national profiles follow: 2.018 NAM (name), 2.019 AKA (aliases).
 */
export const TYPE2_NAME_FIELDS: Readonly<Record<number, string>> = { 18: 'NAM (name)', 19: 'AKA (aliases)' };

export interface TransactionOptions {
  /**
   * What to do with name fields in Type-2 records: 'refuse' (imports: reference data must not
   * identify the person, Art. 8) or 'ignore' (searches; imports with --drop-descriptive-data). In
   * both cases nothing of Type-2 is stored or sent.
   */
  readonly names: 'refuse' | 'ignore';
}

function positionOf(positions: readonly number[]): number | 'other' {
  if (positions.length === 0) return 0;
  if (positions.some((p) => p < 0 || p > 10)) return 'other';
  // Several possible positions (a latent that may be one of them): unknown position.
  const distinct = [...new Set(positions)];
  return distinct.length === 1 ? distinct[0]! : 0;
}

/**
 * The fingers of an ANSI/NIST-ITL transaction. Finger images of positions 0-10 are decoded and their
 * minutiae extracted (the matcher is calibrated on this extractor); Type-9 minutiae are used for
 * fingers without an image. Plain and slap impressions (positions 11-15), palms, faces, signatures
 * and other records are left out and listed in `ignored`. A finger position given twice, more than
 * ten fingers, an image that cannot be decoded or a finger with too few minutiae refuses the whole
 * transaction, naming the record.
 */
export function fingersFromTransaction(bytes: Uint8Array, where: string, options: TransactionOptions): ReadResult {
  const tx: AnsiNistTransaction = within(where, () => parseAnsiNistTransaction(bytes));
  const ignored: string[] = [];
  const t1 = tx.records[0] as TaggedRecord;
  const tcn = t1.fields.find((f) => f.field === 9)?.value?.trim() || undefined;
  tx.records.forEach((r, i) => {
    if (r.kind !== 'tagged' || r.type !== 2) return;
    const named = r.fields.filter((f) => TYPE2_NAME_FIELDS[f.field] !== undefined && (f.value ?? '').trim() !== '');
    if (named.length > 0 && options.names === 'refuse') {
      fail(
        'fingerprint-personal-data',
        `${where}, record ${i + 1} (Type-2)`,
        `field${named.length > 1 ? 's' : ''} ${named.map((f) => `2.${String(f.field).padStart(3, '0')} ${TYPE2_NAME_FIELDS[f.field]}`).join(', ')} carr${named.length > 1 ? 'y' : 'ies'} a name; ` +
          'reference data may hold only dactyloscopic data and a reference number (Prüm Decision Art. 8). Remove the descriptive data, or import with --drop-descriptive-data (nothing of Type-2 is stored)',
        { record: i + 1 },
      );
    }
    ignored.push(`record ${i + 1} (Type-2, descriptive data): not stored`);
  });
  const images = within(where, () => fingerImages(tx));
  const fingers: StoredFinger[] = [];
  const covered = new Set<number>();
  let latentOnly = true;
  for (const im of images) {
    const at = `${where}, record ${im.recordIndex + 1} (Type-${im.recordType})`;
    const position = positionOf(im.positions);
    if (position === 'other') {
      ignored.push(`record ${im.recordIndex + 1} (Type-${im.recordType}): finger position ${im.positions.join('/')} is not a single finger (plain or slap impressions and palms are not searched)`);
      continue;
    }
    const gray = within(at, () => decodeFingerImage(im));
    fingers.push(fingerFromImage(gray, position, at));
    if (im.recordType !== 13) latentOnly = false;
    if (position > 0) covered.add(position);
  }
  for (const m of within(where, () => type9Minutiae(tx))) {
    const at = `${where}, record ${m.recordIndex + 1} (Type-9)`;
    const position = m.template?.position ?? type9Position(tx.records[m.recordIndex] as TaggedRecord);
    if (position > 0 && covered.has(position)) {
      ignored.push(`record ${m.recordIndex + 1} (Type-9): finger ${position} was extracted from its image instead`);
      continue;
    }
    if (m.template === undefined) fail('fingerprint-transaction-invalid', at, `the minutiae cannot be read: ${m.problems.join('; ')}`);
    if (position > 10) {
      ignored.push(`record ${m.recordIndex + 1} (Type-9): finger position ${position} is not a single finger`);
      continue;
    }
    fingers.push(storedFinger(m.template, position, 'type-9', at));
    latentOnly = false;
  }
  for (const r of tx.records.slice(1)) {
    if ([2, 4, 9, 13, 14].includes(r.type)) continue;
    ignored.push(`record ${tx.records.indexOf(r) + 1} (Type-${r.type}): not dactyloscopic data of a finger`);
  }
  if (fingers.length === 0) {
    fail('fingerprint-transaction-invalid', where, 'the transaction holds no finger image (Type-4, 13, 14) or minutiae (Type-9) of a finger position 0-10');
  }
  checkFingerSet(fingers, where);
  return { fingers, ignored, tcn, latent: latentOnly };
}

/** The finger position a Type-9 record states (9.134 of the INCITS block, else 9.006 FGP), or 0. */
function type9Position(record: TaggedRecord): number {
  const field = record.fields.find((f) => f.field === 134) ?? record.fields.find((f) => f.field === 6);
  const v = Number(subfields(field)[0]?.[0]?.trim());
  return Number.isInteger(v) && v >= 0 ? v : 0;
}

/** At most ten fingers, each known position once. */
export function checkFingerSet(fingers: readonly StoredFinger[], where: string, code: ErrorCode = 'fingerprint-transaction-invalid'): void {
  if (fingers.length > MAX_FINGERS) fail(code, where, `${fingers.length} fingers were given; a person or a search has at most ${MAX_FINGERS}`, { fingers: fingers.length });
  const seen = new Map<number, StoredFinger>();
  for (const f of fingers) {
    if (f.position === 0) continue;
    const before = seen.get(f.position);
    if (before) fail(code, where, `finger position ${f.position} (${POSITION_NAMES[f.position]}) is given twice: ${before.where} and ${f.where}`, { position: f.position });
    seen.set(f.position, f);
  }
}

/** Any accepted file or payload, by its content (PNG needs `png`). */
export function readFingerprintBytes(bytes: Uint8Array, where: string, options: TransactionOptions & { png?: { ppi: number; position: number } }): ReadResult {
  const format = detectFormat(bytes);
  if (format === 'ansi-nist') return fingersFromTransaction(bytes, where, options);
  if (format === 'minutiae-record') return fingersFromMinutiaeRecord(bytes, where);
  if (format === 'png' && options.png) return { fingers: [fingerFromPng(bytes, options.png.ppi, options.png.position, where)], ignored: [], latent: false };
  return fail(
    'fingerprint-file-invalid',
    where,
    format === 'png'
      ? 'a PNG image needs its finger position and resolution; import ANSI/NIST-ITL transactions or minutiae records instead'
      : 'this is neither an ANSI/NIST-ITL transaction (starting "1.001:" or "1.01:") nor an ISO/IEC 19794-2 or ANSI INCITS 378 minutiae record (starting "FMR")',
  );
}

