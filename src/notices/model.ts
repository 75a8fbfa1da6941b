/**
 * What a notice or diffusion holds, and the checks every copy passes before it is stored, wherever
 * it comes from (an officer's draft, a peer's message): its shape, real and possible dates, the
 * identifiers its type needs, and attachments within their limits. These checks refuse; the review
 * assistance (rules.ts) only explains, and the secretariat's reviewer decides.
 *
 * Types (INTERPOL's colour-coded notices): red (locate and arrest with a view to extradition), yellow
 * (missing person), blue (more information on a person), black (unidentified body), green (warning
 * about a person's criminal activities), orange (imminent threat), purple (modus operandi), un
 * (INTERPOL-United Nations Security Council special notice). Diffusions serve the same purposes as
 * red, yellow, blue, black and green notices, sent by a state to the states it names.
 */
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { Country } from '../exchange/messages.ts';
import { OFFENCE_CODES } from '../followup/offences.ts';
import { validate } from '../util/validate.ts';

export const NOTICE_TYPES = ['red', 'yellow', 'blue', 'black', 'green', 'orange', 'purple', 'un'] as const;
export type NoticeType = (typeof NOTICE_TYPES)[number];
export const DIFFUSION_TYPES = ['red', 'yellow', 'blue', 'black', 'green'] as const;
/** The types INTERPOL's public web service shows (and for which a public extract may be agreed). */
export const PUBLIC_TYPES = ['red', 'yellow', 'un'] as const;

/** Attachments: each at most 512 KiB, all together at most 1 MiB (decoded), at most 5. */
export const MAX_ATTACHMENT_BYTES = 512 * 1024;
export const MAX_ATTACHMENTS_BYTES = 1024 * 1024;
export const MAX_ATTACHMENTS = 5;

const text = (max: number, description?: string) => Type.String({ minLength: 1, maxLength: max, ...(description ? { description } : {}) });
/** A full calendar date. */
export const FullDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' });
/** A date known to the year, the month or the day. */
export const PartialDate = Type.String({ pattern: '^\\d{4}(-\\d{2}(-\\d{2})?)?$', description: 'YYYY, YYYY-MM or YYYY-MM-DD' });

const Name = Type.Object({ familyName: text(100), forenames: Type.Optional(text(100)) }, { additionalProperties: false });

export const Subject = Type.Object(
  {
    familyName: Type.Optional(text(100)),
    forenames: Type.Optional(text(100)),
    sex: Type.Optional(Type.Union([Type.Literal('M'), Type.Literal('F'), Type.Literal('U')])),
    dateOfBirth: Type.Optional(PartialDate),
    placeOfBirth: Type.Optional(text(100)),
    countryOfBirth: Type.Optional(Country),
    nationalities: Type.Optional(Type.Array(Country, { minItems: 1, maxItems: 5 })),
    languages: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z]{3}$', description: 'ISO 639-2 code' }), { maxItems: 10 })),
    heightCm: Type.Optional(Type.Integer({ minimum: 30, maximum: 260 })),
    weightKg: Type.Optional(Type.Integer({ minimum: 1, maximum: 400 })),
    eyeColour: Type.Optional(text(40)),
    hairColour: Type.Optional(text(40)),
    distinguishingMarks: Type.Optional(text(500)),
    occupation: Type.Optional(text(200, 'Shown to the reviewer: Art. 3 indicators (politician, journalist, activist, ...)')),
    aliases: Type.Optional(Type.Array(Name, { maxItems: 10 })),
    identityDocuments: Type.Optional(
      Type.Array(Type.Object({ type: text(40), number: text(40), issuingState: Country }, { additionalProperties: false }), { maxItems: 10 }),
    ),
    /** Black notices: the age of the body, estimated. */
    estimatedAge: Type.Optional(Type.Object({ from: Type.Integer({ minimum: 0, maximum: 130 }), to: Type.Integer({ minimum: 0, maximum: 130 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type Subject = Static<typeof Subject>;

type OffenceCodes = [string, ...string[]];

export const Judicial = Type.Object(
  {
    warrant: Type.Object({ reference: text(100), issuedBy: text(200, 'The judicial authority'), issuedOn: FullDate }, { additionalProperties: false }),
    offence: Type.Object(
      {
        category: Type.Enum(OFFENCE_CODES as unknown as OffenceCodes, { description: 'A category of FD 2002/584/JHA Art. 2(2), or "other"' }),
        description: text(1000, 'The offence as the law of the requesting state names it'),
        legalProvision: text(500),
        committedOn: Type.Optional(PartialDate),
      },
      { additionalProperties: false },
    ),
    penalty: Type.Union([
      Type.Object(
        {
          basis: Type.Literal('prosecution'),
          /** The maximum penalty the law provides for the offence, in months (life: lifeImprisonment). */
          maximumMonths: Type.Integer({ minimum: 0, maximum: 1200 }),
          lifeImprisonment: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      Type.Object(
        {
          basis: Type.Literal('sentence'),
          imposedMonths: Type.Integer({ minimum: 0, maximum: 1200 }),
          remainingMonths: Type.Integer({ minimum: 0, maximum: 1200 }),
          lifeImprisonment: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ]),
  },
  { additionalProperties: false },
);
export type Judicial = Static<typeof Judicial>;

export const Facts = Type.Object(
  {
    summary: Type.String({ minLength: 20, maxLength: 4000, description: 'What happened, when and where (at least 20 characters)' }),
    from: Type.Optional(FullDate),
    to: Type.Optional(FullDate),
    place: text(200),
    country: Country,
  },
  { additionalProperties: false },
);

export const Attachment = Type.Object(
  {
    kind: Type.Union([Type.Literal('photo'), Type.Literal('fingerprints'), Type.Literal('document')]),
    mediaType: Type.Union([Type.Literal('image/jpeg'), Type.Literal('image/png'), Type.Literal('application/pdf')]),
    name: text(100),
    /** Base64 of the file; its size is checked after decoding (MAX_ATTACHMENT_BYTES). */
    data: Type.String({ minLength: 4 }),
  },
  { additionalProperties: false },
);
export type Attachment = Static<typeof Attachment>;

export const NoticeContent = Type.Object(
  {
    subject: Type.Optional(Subject),
    judicial: Type.Optional(Judicial),
    facts: Facts,
    attachments: Type.Optional(Type.Array(Attachment, { maxItems: MAX_ATTACHMENTS })),
    /** UN special notices: the reference of the Security Council's sanctions list entry. */
    unReference: Type.Optional(text(100)),
  },
  { additionalProperties: false },
);
export type NoticeContent = Static<typeof NoticeContent>;

// --- dates -----------------------------------------------------------------------------------------

function invalid(message: string, field: string): never {
  throw new OpenPrumError('notice-invalid', message, { field });
}

/** The earliest and latest day a (partial) date can mean, as YYYY-MM-DD; throws for impossible dates. */
export function dateRange(value: string, field: string): { from: string; to: string } {
  const [y, m, d] = value.split('-').map(Number) as [number, number | undefined, number | undefined];
  if (y < 1800 || y > 2999) invalid(`${field} ${value}: the year is not possible`, field);
  if (m !== undefined && (m < 1 || m > 12)) invalid(`${field} ${value}: there is no month ${m}`, field);
  if (d !== undefined) {
    const days = new Date(Date.UTC(y, m!, 0)).getUTCDate();
    if (d < 1 || d > days) invalid(`${field} ${value}: ${String(m).padStart(2, '0')}/${y} has ${days} days`, field);
    return { from: value, to: value };
  }
  if (m !== undefined) {
    const mm = String(m).padStart(2, '0');
    return { from: `${y}-${mm}-01`, to: `${y}-${mm}-${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, '0')}` };
  }
  return { from: `${y}-01-01`, to: `${y}-12-31` };
}

/** Checks the dates of a content: real calendar dates, none in the future, none before the subject's birth. */
function checkDates(c: NoticeContent, now: Date): void {
  const today = now.toISOString().slice(0, 10);
  const notFuture = (value: string | undefined, field: string) => {
    if (value === undefined) return undefined;
    const r = dateRange(value, field);
    if (r.from > today) invalid(`${field} ${value} is in the future (today is ${today})`, field);
    return r;
  };
  const birth = notFuture(c.subject?.dateOfBirth, 'subject.dateOfBirth');
  if (birth && birth.to < '1900-01-01') invalid(`subject.dateOfBirth ${c.subject!.dateOfBirth} is before 1900: the subject would be over 120 years old`, 'subject.dateOfBirth');
  const afterBirth = (value: string | undefined, field: string, what: string) => {
    const r = notFuture(value, field);
    if (r && birth && r.to < birth.from) invalid(`${field} ${value} is before the subject's date of birth ${c.subject!.dateOfBirth}: ${what} cannot precede the birth`, field);
    return r;
  };
  afterBirth(c.judicial?.warrant.issuedOn, 'judicial.warrant.issuedOn', 'a warrant');
  const committed = afterBirth(c.judicial?.offence.committedOn, 'judicial.offence.committedOn', 'an offence');
  const issued = c.judicial ? dateRange(c.judicial.warrant.issuedOn, 'judicial.warrant.issuedOn') : undefined;
  if (committed && issued && issued.to < committed.from) {
    invalid(`judicial.warrant.issuedOn ${c.judicial!.warrant.issuedOn} is before the offence was committed (${c.judicial!.offence.committedOn})`, 'judicial.warrant.issuedOn');
  }
  const from = afterBirth(c.facts.from, 'facts.from', 'the facts');
  const to = afterBirth(c.facts.to, 'facts.to', 'the facts');
  if (from && to && to.to < from.from) invalid(`facts.to ${c.facts.to} is before facts.from ${c.facts.from}`, 'facts.to');
  const p = c.judicial?.penalty;
  if (p && p.basis === 'sentence' && p.remainingMonths > p.imposedMonths) {
    invalid(`judicial.penalty.remainingMonths (${p.remainingMonths}) is more than the sentence imposed (${p.imposedMonths} months)`, 'judicial.penalty.remainingMonths');
  }
  const age = c.subject?.estimatedAge;
  if (age && age.from > age.to) invalid(`subject.estimatedAge: from ${age.from} is more than to ${age.to}`, 'subject.estimatedAge');
}

// --- identifiers per type -------------------------------------------------------------------------

/**
 * The least each type needs to be acted on; without it nothing is stored. A red notice names the
 * person (family name, forenames, sex, date of birth) and carries the judicial data; whether the
 * identifiers are *enough* beyond this is for the reviewer (rules.ts).
 */
const REQUIRED: Record<NoticeType, { subject: Array<keyof Subject>; judicial: boolean; facts?: Array<'from'>; other?: Array<'unReference'> }> = {
  red: { subject: ['familyName', 'forenames', 'sex', 'dateOfBirth'], judicial: true },
  yellow: { subject: ['familyName', 'forenames', 'sex', 'dateOfBirth'], judicial: false, facts: ['from'] },
  blue: { subject: ['familyName', 'forenames'], judicial: false },
  black: { subject: ['sex', 'estimatedAge'], judicial: false, facts: ['from'] },
  green: { subject: ['familyName', 'forenames', 'dateOfBirth'], judicial: false },
  orange: { subject: [], judicial: false },
  purple: { subject: [], judicial: false },
  un: { subject: ['familyName'], judicial: false, other: ['unReference'] },
};

function checkIdentifiers(kind: 'notice' | 'diffusion', type: NoticeType, c: NoticeContent): void {
  const need = REQUIRED[type];
  const missing: string[] = [];
  for (const f of need.subject) if (c.subject?.[f] === undefined) missing.push(`subject.${f}`);
  if (need.judicial && !c.judicial) missing.push('judicial');
  for (const f of need.facts ?? []) if (c.facts[f] === undefined) missing.push(`facts.${f}`);
  for (const f of need.other ?? []) if (c[f] === undefined) missing.push(f);
  if (missing.length > 0) {
    throw new OpenPrumError(
      'notice-identifiers-incomplete',
      `A ${type} ${kind} needs ${missing.join(', ')}: ${missing.length === 1 ? 'it is' : 'they are'} missing`,
      { missing },
    );
  }
  if (type === 'purple' && c.subject) invalid('A purple notice describes a modus operandi, not a person: leave out subject', 'subject');
}

// --- attachments ----------------------------------------------------------------------------------

const MAGIC: Record<Attachment['mediaType'], (b: Buffer) => boolean> = {
  'image/jpeg': (b) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/png': (b) => b.length > 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'application/pdf': (b) => b.subarray(0, 5).toString('latin1') === '%PDF-',
};

/** Decoded size of each attachment; checks base64, limits and that the bytes are what the media type says. */
function checkAttachments(c: NoticeContent): void {
  let total = 0;
  (c.attachments ?? []).forEach((a, i) => {
    const field = `attachments.${i}`;
    // The size first, from the length of the text, before decoding anything large.
    const approx = Math.floor((a.data.length * 3) / 4);
    if (approx > MAX_ATTACHMENT_BYTES + 2) {
      throw new OpenPrumError('notice-attachment-too-large', `${field} (${a.name}) is about ${Math.round(approx / 1024)} KiB; an attachment may be at most ${MAX_ATTACHMENT_BYTES / 1024} KiB`, { field, bytes: approx, limit: MAX_ATTACHMENT_BYTES });
    }
    if (a.data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(a.data)) invalid(`${field}.data (${a.name}) is not base64`, `${field}.data`);
    const bytes = Buffer.from(a.data, 'base64');
    if (bytes.length > MAX_ATTACHMENT_BYTES) {
      throw new OpenPrumError('notice-attachment-too-large', `${field} (${a.name}) is ${bytes.length} bytes; an attachment may be at most ${MAX_ATTACHMENT_BYTES} bytes`, { field, bytes: bytes.length, limit: MAX_ATTACHMENT_BYTES });
    }
    if (!MAGIC[a.mediaType](bytes)) invalid(`${field} (${a.name}) is not a ${a.mediaType} file (its first bytes say otherwise)`, `${field}.mediaType`);
    if (a.kind === 'photo' && a.mediaType === 'application/pdf') invalid(`${field}: a photo must be image/jpeg or image/png`, `${field}.mediaType`);
    total += bytes.length;
  });
  if (total > MAX_ATTACHMENTS_BYTES) {
    throw new OpenPrumError('notice-attachment-too-large', `The attachments are ${total} bytes together; a notice may carry at most ${MAX_ATTACHMENTS_BYTES} bytes`, { field: 'attachments', bytes: total, limit: MAX_ATTACHMENTS_BYTES });
  }
}

/**
 * Validates a content for a kind and type: shape, dates, identifiers, attachments. Returns it typed;
 * throws notice-invalid, notice-identifiers-incomplete or notice-attachment-too-large.
 */
export function checkContent(kind: 'notice' | 'diffusion', type: string, content: unknown, now: Date): NoticeContent {
  if (!(NOTICE_TYPES as readonly string[]).includes(type)) invalid(`type must be one of ${NOTICE_TYPES.join(', ')}, not ${JSON.stringify(type)}`, 'type');
  if (kind === 'diffusion' && !(DIFFUSION_TYPES as readonly string[]).includes(type)) {
    invalid(`A diffusion serves the purpose of a ${DIFFUSION_TYPES.join(', ')} notice, not ${type}`, 'type');
  }
  // Attachment sizes before the full shape check: an oversized file gets its own clear error.
  const raw = content as { attachments?: unknown };
  if (raw && typeof raw === 'object' && Array.isArray(raw.attachments)) {
    for (const [i, a] of raw.attachments.entries()) {
      const data = (a as { data?: unknown })?.data;
      if (typeof data === 'string' && Math.floor((data.length * 3) / 4) > MAX_ATTACHMENT_BYTES + 2) {
        const name = String((a as { name?: unknown }).name ?? '');
        throw new OpenPrumError('notice-attachment-too-large', `attachments.${i} (${name}) is about ${Math.round((data.length * 3) / 4 / 1024)} KiB; an attachment may be at most ${MAX_ATTACHMENT_BYTES / 1024} KiB`, {
          field: `attachments.${i}`,
          limit: MAX_ATTACHMENT_BYTES,
        });
      }
    }
  }
  const c = validate(NoticeContent, content, 'notice-invalid', 'content');
  checkIdentifiers(kind, type as NoticeType, c);
  checkDates(c, now);
  checkAttachments(c);
  if (type === 'red' && kind === 'notice' && c.judicial === undefined) invalid('A red notice carries the judicial data', 'judicial');
  return c;
}

// --- names ----------------------------------------------------------------------------------------

/** Latin letters that do not decompose into a base letter and a diacritic. */
const LETTERS: Record<string, string> = { Ł: 'L', ł: 'L', Ø: 'O', ø: 'O', Đ: 'D', đ: 'D', ß: 'SS', Æ: 'AE', æ: 'AE', Œ: 'OE', œ: 'OE', Þ: 'TH', þ: 'TH', ı: 'I', Ħ: 'H', ħ: 'H' };

/**
 * Upper case, no diacritics, single spaces: "Müller-Lüdenscheidt " → "MULLER-LUDENSCHEIDT",
 * "Łukasz" → "LUKASZ". Letters of other scripts are kept (upper-cased), not transliterated.
 */
export function fold(s: string): string {
  return s
    .replace(/[ŁłØøĐđßÆæŒœÞþıĦħ]/g, (c) => LETTERS[c] ?? c)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toUpperCase()
    .replace(/[^\p{L}\p{N} '-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The key under which a person's requests and register entries are found: family name | forenames. */
export function nameKey(familyName: string | undefined, forenames: string | undefined): string | null {
  if (!familyName) return null;
  return `${fold(familyName)}|${fold(forenames ?? '')}`;
}

/** Two (partial) birth dates can be the same day: one is a prefix of the other, or one is unknown. */
export function birthDatesCompatible(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return true;
  return a.startsWith(b) || b.startsWith(a);
}

/** Names match when the family names are equal and the forenames equal or one of them unknown. */
export function sameName(a: string, b: string): boolean {
  const [fa, ga = ''] = a.split('|');
  const [fb, gb = ''] = b.split('|');
  return fa === fb && (ga === '' || gb === '' || ga === gb);
}
