/**
 * Finger minutiae records of ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004, read and written, and
 * converted to and from the shared {@link MinutiaeTemplate}.
 *
 * The two formats share the record layout (ISO §7, INCITS 378 §6.4) and differ in the header and the
 * angle unit:
 *
 * | | ISO/IEC 19794-2:2005 | ANSI INCITS 378-2004 |
 * | --- | --- | --- |
 * | header | 'FMR\0', ' 20\0', length (4 bytes), equipment (2), width, height, x/y resolution (2 each), views (1), reserved (1): 24 bytes | 'FMR\0', ' 20\0', length (2 bytes, or 0 and then 4 bytes), CBEFF product id (4), equipment (2), width, height, x/y resolution, views, reserved: 26 or 30 bytes |
 * | minutia angle | units of 360/256 degrees | units of 2 degrees (0–179) |
 *
 * Each finger view: position (1), view number (4 bits) and impression type (4 bits), finger quality (1),
 * minutiae count (1), then 6 bytes a minutia — type (2 bits: 01 ridge ending, 10 bifurcation, 00 other)
 * and x (14 bits), 2 reserved bits and y (14 bits), angle (1), quality (1) — then a 2-byte extended
 * data length and that many bytes of extended data. Resolutions are in pixels per centimetre.
 *
 * Coordinates are pixels from the top-left corner, y downwards. Angles run counter-clockwise from the
 * x axis as seen on the image (so, with y pointing down, a direction θ points at (cos θ, −sin θ) in
 * pixel coordinates); this is the convention of types.ts. It was checked on the FVC templates, whose
 * angles agree with NBIS mindtct's directions under this reading and not under the clockwise one.
 *
 * Bytes after the declared record length (padding, as in the SourceAFIS samples) are ignored; a
 * record shorter than its declared length, or whose minutiae do not fit in it, is refused with the
 * byte offset where it breaks.
 */
import { OpenPrumError } from '../../errors/index.ts';
import type { Minutia, MinutiaeTemplate, MinutiaType } from '../types.ts';

export type MinutiaeRecordFormat = 'iso19794-2' | 'ansi378';

export interface RecordMinutia {
  readonly type: MinutiaType;
  /** Pixels from the left. */
  readonly x: number;
  /** Pixels from the top. */
  readonly y: number;
  /** Angle as stored: 360/256-degree units (ISO) or 2-degree units (ANSI), counter-clockwise. */
  readonly angleCode: number;
  /** 0–100 (0: not reported). */
  readonly quality: number;
}

export interface FingerView {
  /** Finger position (ISO Table 2 / ANSI/NIST Table 8): 0 unknown, 1 right thumb … 10 left little. */
  readonly position: number;
  readonly viewNumber: number;
  /** Impression type: 0 live-scan plain, 1 live-scan rolled, 2 non-live plain, 3 non-live rolled, … */
  readonly impressionType: number;
  /** Finger quality 0–100. */
  readonly quality: number;
  readonly minutiae: readonly RecordMinutia[];
  /** The extended data block (ridge counts, cores and deltas, vendor data), kept as bytes. */
  readonly extendedData: Uint8Array;
}

export interface FingerMinutiaeRecord {
  readonly format: MinutiaeRecordFormat;
  /** Top 4 bits of the equipment field (ISO: reserved/certification, ANSI: compliance). */
  readonly equipmentCertification: number;
  /** Capture device type id (12 bits). */
  readonly equipmentId: number;
  /** ANSI only: CBEFF product identifier (owner << 16 | type). */
  readonly cbeffProductId?: number | undefined;
  /** ANSI only: whether the length took 2 bytes or the 6-byte form. */
  readonly lengthFieldSize?: 2 | 6 | undefined;
  readonly width: number;
  readonly height: number;
  /** Pixels per centimetre. */
  readonly xResolution: number;
  readonly yResolution: number;
  readonly views: readonly FingerView[];
  /** Bytes after the declared record length that were ignored (padding). */
  readonly trailingBytes: number;
}

export interface ParseMinutiaeRecordOptions {
  /** Which standard to read; 'auto' (default) tells them apart by the length field. */
  readonly format?: MinutiaeRecordFormat | 'auto';
}

const MAGIC = [0x46, 0x4d, 0x52, 0x00, 0x20, 0x32, 0x30, 0x00]; // "FMR\0" " 20\0"

function invalid(message: string, offset?: number): OpenPrumError {
  return new OpenPrumError(
    'fingerprint-template-invalid',
    offset === undefined ? message : `${message} (byte offset ${offset})`,
    offset === undefined ? undefined : { offset },
  );
}

const TYPE_BY_CODE: readonly MinutiaType[] = ['other', 'ending', 'bifurcation', 'other'];
const CODE_BY_TYPE: Readonly<Record<MinutiaType, number>> = { other: 0, ending: 1, bifurcation: 2 };

function label(format: MinutiaeRecordFormat): string {
  return format === 'iso19794-2' ? 'ISO/IEC 19794-2' : 'ANSI INCITS 378';
}

function parseAs(data: Uint8Array, format: MinutiaeRecordFormat): FingerMinutiaeRecord {
  const name = label(format);
  if (data.length < 8 || MAGIC.some((b, i) => data[i] !== b)) {
    throw invalid(`${name}: the record does not start with "FMR\\0 20\\0"`, 0);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  let pos = 8;
  let declared: number;
  let lengthFieldSize: 2 | 6 | undefined;
  let cbeffProductId: number | undefined;
  const need = (n: number, what: string): void => {
    if (pos + n > data.length) {
      throw invalid(`${name}: the record is truncated: it ends inside ${what} after ${data.length} bytes`, data.length);
    }
  };
  if (format === 'iso19794-2') {
    need(4, 'the record length');
    declared = view.getUint32(pos);
    pos += 4;
  } else {
    need(2, 'the record length');
    declared = view.getUint16(pos);
    pos += 2;
    lengthFieldSize = 2;
    if (declared === 0) {
      need(4, 'the 6-byte record length');
      declared = view.getUint32(pos);
      pos += 4;
      lengthFieldSize = 6;
    }
    need(4, 'the CBEFF product identifier');
    cbeffProductId = view.getUint32(pos);
    pos += 4;
  }
  const headerEnd = pos + 12;
  if (declared < headerEnd) throw invalid(`${name}: the declared record length ${declared} is shorter than the header`, 8);
  if (declared > data.length) {
    throw invalid(
      `${name}: the record is truncated: it declares ${declared} bytes but only ${data.length} are present`,
      data.length,
    );
  }
  const limit = declared; // bytes past the declared length are padding
  const needIn = (n: number, what: string): void => {
    if (pos + n > limit) {
      throw invalid(`${name}: ${what} runs past the declared record length ${declared}`, pos);
    }
  };
  needIn(12, 'the header');
  const equipment = view.getUint16(pos);
  const width = view.getUint16(pos + 2);
  const height = view.getUint16(pos + 4);
  const xResolution = view.getUint16(pos + 6);
  const yResolution = view.getUint16(pos + 8);
  const viewCount = view.getUint8(pos + 10);
  pos += 12; // including the reserved byte
  const views: FingerView[] = [];
  for (let v = 0; v < viewCount; v++) {
    needIn(4, `the header of finger view ${v + 1}`);
    const position = view.getUint8(pos);
    const numberAndImpression = view.getUint8(pos + 1);
    const quality = view.getUint8(pos + 2);
    const count = view.getUint8(pos + 3);
    pos += 4;
    needIn(6 * count, `finger view ${v + 1} (${count} minutiae of 6 bytes)`);
    const minutiae: RecordMinutia[] = [];
    for (let i = 0; i < count; i++) {
      const tx = view.getUint16(pos);
      const ry = view.getUint16(pos + 2);
      minutiae.push({
        type: TYPE_BY_CODE[tx >> 14] ?? 'other',
        x: tx & 0x3fff,
        y: ry & 0x3fff,
        angleCode: view.getUint8(pos + 4),
        quality: view.getUint8(pos + 5),
      });
      pos += 6;
    }
    needIn(2, `the extended data length of finger view ${v + 1}`);
    const extLength = view.getUint16(pos);
    pos += 2;
    needIn(extLength, `the extended data of finger view ${v + 1}`);
    const extendedData = data.slice(pos, pos + extLength);
    pos += extLength;
    views.push({
      position,
      viewNumber: numberAndImpression >> 4,
      impressionType: numberAndImpression & 0x0f,
      quality,
      minutiae,
      extendedData,
    });
  }
  if (pos !== declared) {
    throw invalid(
      `${name}: the finger views end at byte ${pos} but the record declares ${declared} bytes`,
      pos,
    );
  }
  return {
    format,
    equipmentCertification: equipment >> 12,
    equipmentId: equipment & 0x0fff,
    ...(format === 'ansi378' ? { cbeffProductId, lengthFieldSize } : {}),
    width,
    height,
    xResolution,
    yResolution,
    views,
    trailingBytes: data.length - declared,
  };
}

/**
 * Parses an ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004 finger minutiae record. Throws
 * `fingerprint-template-invalid` with the byte offset when the record is truncated or inconsistent.
 * A record without minutiae is valid here; see {@link validateForMatching}.
 */
export function parseFingerMinutiaeRecord(
  data: Uint8Array,
  options: ParseMinutiaeRecordOptions = {},
): FingerMinutiaeRecord {
  if (!(data instanceof Uint8Array)) throw invalid('The minutiae record must be given as bytes');
  const format = options.format ?? 'auto';
  if (format !== 'auto') return parseAs(data, format);
  // ISO stores a 4-byte length, ANSI a 2-byte one (or 0 followed by 4 bytes). An ISO record under
  // 64 KiB therefore starts its length with two zero bytes, which ANSI's 2-byte form never does.
  const ansiFirst = data.length >= 10 && (data[8] !== 0 || data[9] !== 0);
  const order: MinutiaeRecordFormat[] = ansiFirst ? ['ansi378', 'iso19794-2'] : ['iso19794-2', 'ansi378'];
  let firstError: unknown;
  for (const f of order) {
    try {
      return parseAs(data, f);
    } catch (e) {
      firstError ??= e;
    }
  }
  throw firstError;
}

function angleCodeToRadians(code: number, format: MinutiaeRecordFormat): number {
  const rad = format === 'iso19794-2' ? (code * 2 * Math.PI) / 256 : ((code * 2) % 360) * (Math.PI / 180);
  return rad % (2 * Math.PI);
}

function radiansToAngleCode(angle: number, format: MinutiaeRecordFormat): number {
  const turn = (((angle / (2 * Math.PI)) % 1) + 1) % 1;
  return format === 'iso19794-2' ? Math.round(turn * 256) % 256 : Math.round(turn * 180) % 180;
}

/** Pixels per centimetre to pixels per inch, rounded: 197 px/cm is the usual 500 ppi. */
export function pixelsPerCmToPpi(ppcm: number): number {
  return Math.round(ppcm * 2.54);
}

export function ppiToPixelsPerCm(ppi: number): number {
  return Math.round(ppi / 2.54);
}

export interface ToTemplateOptions {
  /** ppi for a record whose resolution is 0 (unknown); default 500. */
  readonly defaultPpi?: number;
}

/** One {@link MinutiaeTemplate} per finger view. */
export function fingerMinutiaeRecordToTemplates(
  record: FingerMinutiaeRecord,
  options: ToTemplateOptions = {},
): MinutiaeTemplate[] {
  const ppi = record.xResolution > 0 ? pixelsPerCmToPpi(record.xResolution) : (options.defaultPpi ?? 500);
  return record.views.map((v) => ({
    width: record.width,
    height: record.height,
    ppi,
    position: v.position,
    quality: Math.min(100, v.quality),
    minutiae: v.minutiae.map(
      (m): Minutia => ({
        x: m.x,
        y: m.y,
        angle: angleCodeToRadians(m.angleCode, record.format),
        type: m.type,
        quality: Math.min(100, m.quality),
      }),
    ),
  }));
}

export interface FromTemplateOptions {
  readonly impressionType?: number;
  readonly viewNumber?: number;
  readonly equipmentId?: number;
  /** ANSI only (default 0). */
  readonly cbeffProductId?: number;
}

function checkRange(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw invalid(`Cannot write the minutiae record: ${what} is ${value}, outside 0..${max}`);
  }
  return value;
}

/** Builds a one-view record from a template; angles and resolution are converted to the format's units. */
export function templateToFingerMinutiaeRecord(
  template: MinutiaeTemplate,
  format: MinutiaeRecordFormat,
  options: FromTemplateOptions = {},
): FingerMinutiaeRecord {
  const res = ppiToPixelsPerCm(template.ppi);
  return {
    format,
    equipmentCertification: 0,
    equipmentId: options.equipmentId ?? 0,
    ...(format === 'ansi378' ? { cbeffProductId: options.cbeffProductId ?? 0 } : {}),
    width: template.width,
    height: template.height,
    xResolution: res,
    yResolution: res,
    views: [
      {
        position: template.position,
        viewNumber: options.viewNumber ?? 0,
        impressionType: options.impressionType ?? 0,
        quality: Math.round(template.quality),
        minutiae: template.minutiae.map((m) => {
          if (!Number.isFinite(m.x) || !Number.isFinite(m.y) || !Number.isFinite(m.angle)) {
            throw invalid('Cannot write the minutiae record: a minutia has a coordinate or angle that is not a number');
          }
          return {
            type: m.type,
            x: Math.round(m.x),
            y: Math.round(m.y),
            angleCode: radiansToAngleCode(m.angle, format),
            quality: Math.round(m.quality),
          };
        }),
        extendedData: new Uint8Array(0),
      },
    ],
    trailingBytes: 0,
  };
}

/** Writes a record in its format; the length field is computed. */
export function writeFingerMinutiaeRecord(record: FingerMinutiaeRecord): Buffer {
  const iso = record.format === 'iso19794-2';
  const body = record.views.reduce(
    (n, v) => n + 4 + 6 * v.minutiae.length + 2 + v.extendedData.length,
    12, // equipment, width, height, resolutions, view count, reserved byte
  );
  let lengthSize: number;
  if (iso) lengthSize = 4;
  else lengthSize = record.lengthFieldSize === 6 || 8 + 2 + 4 + body > 0xffff ? 6 : 2;
  const total = 8 + lengthSize + (iso ? 0 : 4) + body;
  checkRange(total, 0xffffffff, 'the record length');
  const out = Buffer.alloc(total);
  out.set(MAGIC, 0);
  let pos = 8;
  if (iso) {
    out.writeUInt32BE(total, pos);
    pos += 4;
  } else {
    if (lengthSize === 2) {
      out.writeUInt16BE(total, pos);
      pos += 2;
    } else {
      out.writeUInt16BE(0, pos);
      out.writeUInt32BE(total, pos + 2);
      pos += 6;
    }
    out.writeUInt32BE(checkRange(record.cbeffProductId ?? 0, 0xffffffff, 'the CBEFF product id'), pos);
    pos += 4;
  }
  out.writeUInt16BE(
    (checkRange(record.equipmentCertification, 15, 'the equipment certification') << 12) |
      checkRange(record.equipmentId, 0xfff, 'the equipment id'),
    pos,
  );
  out.writeUInt16BE(checkRange(record.width, 0xffff, 'the width'), pos + 2);
  out.writeUInt16BE(checkRange(record.height, 0xffff, 'the height'), pos + 4);
  out.writeUInt16BE(checkRange(record.xResolution, 0xffff, 'the x resolution'), pos + 6);
  out.writeUInt16BE(checkRange(record.yResolution, 0xffff, 'the y resolution'), pos + 8);
  out.writeUInt8(checkRange(record.views.length, 255, 'the number of finger views'), pos + 10);
  pos += 12;
  for (const v of record.views) {
    out.writeUInt8(checkRange(v.position, 255, 'the finger position'), pos);
    out.writeUInt8(
      (checkRange(v.viewNumber, 15, 'the view number') << 4) | checkRange(v.impressionType, 15, 'the impression type'),
      pos + 1,
    );
    out.writeUInt8(checkRange(v.quality, 255, 'the finger quality'), pos + 2);
    out.writeUInt8(checkRange(v.minutiae.length, 255, 'the number of minutiae in a view'), pos + 3);
    pos += 4;
    for (const m of v.minutiae) {
      out.writeUInt16BE((CODE_BY_TYPE[m.type] << 14) | checkRange(m.x, 0x3fff, 'a minutia x'), pos);
      out.writeUInt16BE(checkRange(m.y, 0x3fff, 'a minutia y'), pos + 2);
      out.writeUInt8(checkRange(m.angleCode, 255, 'a minutia angle'), pos + 4);
      out.writeUInt8(checkRange(m.quality, 255, 'a minutia quality'), pos + 5);
      pos += 6;
    }
    out.writeUInt16BE(checkRange(v.extendedData.length, 0xffff, 'the extended data length'), pos);
    out.set(v.extendedData, pos + 2);
    pos += 2 + v.extendedData.length;
  }
  return out;
}

/** Parses a record and returns the template of its first finger view. */
export function readMinutiaeTemplate(
  data: Uint8Array,
  options: ParseMinutiaeRecordOptions & ToTemplateOptions = {},
): MinutiaeTemplate {
  const record = parseFingerMinutiaeRecord(data, options);
  const first = fingerMinutiaeRecordToTemplates(record, options)[0];
  if (first === undefined) throw invalid(`${label(record.format)}: the record has no finger view`, 22);
  return first;
}

/** Writes a template as a one-view record of the given format. */
export function writeMinutiaeTemplate(
  template: MinutiaeTemplate,
  format: MinutiaeRecordFormat,
  options: FromTemplateOptions = {},
): Buffer {
  return writeFingerMinutiaeRecord(templateToFingerMinutiaeRecord(template, format, options));
}

export interface ValidateForMatchingOptions {
  /** Fewest minutiae a template must have to be enrolled or searched (default 1). */
  readonly minMinutiae?: number;
}

/**
 * Refuses a template that parses but cannot be matched: no (or too few) minutiae
 * (`fingerprint-minutiae-too-few`), or a size, resolution or minutia that is not a usable number
 * (`fingerprint-template-invalid`). Call it before enrolling or searching.
 */
export function validateForMatching(template: MinutiaeTemplate, options: ValidateForMatchingOptions = {}): void {
  const min = options.minMinutiae ?? 1;
  const positive = (v: number): boolean => Number.isFinite(v) && v > 0;
  if (!positive(template.width) || !positive(template.height)) {
    throw invalid(`The template's image size ${template.width}×${template.height} is not usable for matching`);
  }
  if (!positive(template.ppi)) throw invalid(`The template's resolution ${template.ppi} ppi is not usable for matching`);
  template.minutiae.forEach((m, i) => {
    if (![m.x, m.y, m.angle, m.quality].every(Number.isFinite) || m.x < 0 || m.y < 0) {
      throw invalid(`Minutia ${i + 1} of the template has a position or angle that is not usable for matching`);
    }
  });
  if (template.minutiae.length < min) {
    throw new OpenPrumError(
      'fingerprint-minutiae-too-few',
      template.minutiae.length === 0
        ? 'The template has no minutiae, so it cannot be enrolled or searched'
        : `The template has ${template.minutiae.length} minutiae; at least ${min} are needed for matching`,
      { minutiae: template.minutiae.length, required: min },
    );
  }
}
