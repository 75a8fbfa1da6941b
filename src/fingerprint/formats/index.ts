/**
 * Fingerprint exchange formats: ANSI/NIST-ITL transactions (traditional encoding), ISO/IEC 19794-2:2005
 * and ANSI INCITS 378-2004 minutiae records, WSQ and PNG images. Pure computation: bytes in, the shared
 * types of ../types.ts out, and back. See README.md in this folder.
 */
export {
  DEFAULT_MAX_IMAGE_SIDE,
  DEFAULT_MAX_RECORDS,
  FS,
  GS,
  RS,
  US,
  decodeFingerImage,
  fingerImages,
  joinSubfields,
  parseAnsiNistTransaction,
  recordIdc,
  subfields,
  type9Minutiae,
  writeAnsiNistTransaction,
} from './ansi-nist.ts';
export type {
  AnsiNistField,
  AnsiNistRecord,
  AnsiNistTransaction,
  BinaryImageRecord,
  BinaryRecord,
  DecodeFingerImageOptions,
  FingerImage,
  ImageCompression,
  ImageViewOptions,
  ParseAnsiNistOptions,
  SignatureRecord,
  TaggedRecord,
  Type9Minutiae,
  Type9Options,
  UserDefinedBinaryRecord,
} from './ansi-nist.ts';

export {
  fingerMinutiaeRecordToTemplates,
  parseFingerMinutiaeRecord,
  pixelsPerCmToPpi,
  ppiToPixelsPerCm,
  readMinutiaeTemplate,
  templateToFingerMinutiaeRecord,
  validateForMatching,
  writeFingerMinutiaeRecord,
  writeMinutiaeTemplate,
} from './minutiae-record.ts';
export type {
  FingerMinutiaeRecord,
  FingerView,
  FromTemplateOptions,
  MinutiaeRecordFormat,
  ParseMinutiaeRecordOptions,
  RecordMinutia,
  ToTemplateOptions,
  ValidateForMatchingOptions,
} from './minutiae-record.ts';

export { WSQ_DEFAULT_MAX_PIXELS, WSQ_DEFAULT_MAX_SIDE, decodeWsq, readWsqInfo } from './wsq.ts';
export type { WsqDecodeOptions, WsqInfo } from './wsq.ts';

export { PNG_DEFAULT_MAX_PIXELS, PNG_DEFAULT_MAX_SIDE, decodePng, readPngInfo } from './png.ts';
export type { PngDecodeOptions, PngInfo } from './png.ts';
