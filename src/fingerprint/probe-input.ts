/**
 * What an officer sends to search (locally or in other states): a ten-print or a latent, as one
 * base64 ANSI/NIST-ITL transaction, or as fingers each given by a base64 minutiae record (ISO/IEC
 * 19794-2 or ANSI INCITS 378) or a base64 PNG image with its resolution. Turned into the stored form
 * (reference-input.ts) before anything is searched, stored or sent.
 */
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { validate } from '../util/validate.ts';
import type { FingerprintProbe } from './national-file.ts';
import { checkFingerSet, fingerFromPng, fingersFromMinutiaeRecord, fingersFromTransaction, MAX_FINGERS, storedFinger, type StoredFinger } from './reference-input.ts';

/** Largest base64 payload of one image or transaction (12 MB of base64 ≈ 9 MB of data). */
export const MAX_PAYLOAD_CHARS = 12_000_000;

const base64 = (description: string, maxLength: number) => Type.String({ minLength: 4, maxLength, description });

export const ProbeFingerInput = Type.Object(
  {
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'Finger position (ANSI/NIST-ITL Table 8): 1 right thumb … 10 left little, 0 unknown (a latent). Default: from the record, else 0' })),
    template: Type.Optional(base64('ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004 minutiae record, base64', 400_000)),
    image: Type.Optional(base64('Grayscale PNG of one finger, base64', MAX_PAYLOAD_CHARS)),
    ppi: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Scanning resolution of the image in pixels per inch (500; latents often 1000)' })),
  },
  { additionalProperties: false },
);

export const ProbeInput = Type.Object(
  {
    ref: Type.String({ minLength: 1, maxLength: 64, description: "The requesting body's reference of the ten-print or latent (no names: Prüm Decision Art. 8)" }),
    kind: Type.Union([Type.Literal('reference'), Type.Literal('unidentified')], { description: "reference: a person's ten-print; unidentified: a latent mark" }),
    transaction: Type.Optional(base64('ANSI/NIST-ITL transaction (traditional encoding), base64: finger images (Type-4/13/14) and/or minutiae (Type-9)', MAX_PAYLOAD_CHARS)),
    fingers: Type.Optional(Type.Array(ProbeFingerInput, { minItems: 1, maxItems: 30 })),
  },
  { additionalProperties: false },
);
export type ProbeInput = Static<typeof ProbeInput>;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(value: string, field: string): Buffer {
  const v = value.replace(/\s+/g, '');
  if (v.length % 4 !== 0 || !BASE64.test(v)) throw new OpenPrumError('fingerprint-search-invalid', `${field} is not base64`, { field });
  return Buffer.from(v, 'base64');
}

/** Turns an officer's probe into stored fingers; throws a clear OpenPrumError naming the field. */
export function parseProbe(raw: unknown, field = 'probe'): FingerprintProbe {
  const input = validate(ProbeInput, raw, 'fingerprint-search-invalid', field);
  if ((input.transaction === undefined) === (input.fingers === undefined)) {
    throw new OpenPrumError('fingerprint-search-invalid', `${field}: give either "transaction" (ANSI/NIST-ITL) or "fingers", not ${input.transaction === undefined ? 'neither' : 'both'}`);
  }
  let fingers: StoredFinger[] = [];
  if (input.transaction !== undefined) {
    // A search reads only the dactyloscopic data; Type-2 is neither kept nor sent.
    fingers = fingersFromTransaction(decode(input.transaction, `${field}.transaction`), `${field}.transaction`, { names: 'ignore' }).fingers;
  } else {
    const list = input.fingers!;
    if (list.length > MAX_FINGERS) throw new OpenPrumError('fingerprint-search-invalid', `${field}.fingers holds ${list.length} fingers; a search has at most ${MAX_FINGERS}`, { fingers: list.length });
    list.forEach((f, i) => {
      const where = `${field}.fingers[${i}]`;
      if ((f.template === undefined) === (f.image === undefined)) throw new OpenPrumError('fingerprint-search-invalid', `${where}: give either "template" or "image" (with "ppi")`);
      if (f.template !== undefined) {
        if (f.ppi !== undefined) throw new OpenPrumError('fingerprint-search-invalid', `${where}: "ppi" belongs to an image; a minutiae record states its own resolution`);
        const views = fingersFromMinutiaeRecord(decode(f.template, `${where}.template`), where).fingers;
        for (const v of views) {
          if (f.position !== undefined && v.position !== 0 && v.position !== f.position) {
            throw new OpenPrumError('fingerprint-search-invalid', `${where}: the record says finger position ${v.position}, the request ${f.position}`);
          }
          fingers.push(f.position !== undefined && f.position !== v.position ? storedFinger(v.template, f.position, v.source, v.where) : v);
        }
      } else {
        if (f.ppi === undefined) throw new OpenPrumError('fingerprint-search-invalid', `${where}: an image needs its resolution "ppi" (pixels per inch)`);
        fingers.push(fingerFromPng(decode(f.image!, `${where}.image`), f.ppi, f.position ?? 0, where));
      }
    });
  }
  checkFingerSet(fingers, field, 'fingerprint-search-invalid');
  return { ref: input.ref, kind: input.kind, fingers };
}
