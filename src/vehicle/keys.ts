/**
 * The two keys a vehicle may be searched by, normalised. Prüm Decision Art. 12(1): "Searches may be
 * conducted only with a full chassis number or a full registration number." A search is therefore an
 * exact match on a normalised key; wildcards, patterns and partial values are refused, never
 * interpreted.
 */

export type KeyCheck = { ok: true; value: string } | { ok: false; partial: boolean; reason: string };

// Characters that mean "pattern" in SQL LIKE, regular expressions, shells or search UIs.
const PATTERN_CHARS = /[*?%_[\]^$+(){}|\\.~]/u;

/** Upper case; spaces (any Unicode white space) and hyphens removed. */
function squeeze(raw: string): string {
  return raw.normalize('NFC').replace(/[\s\u2010-\u2015-]+/gu, '').toUpperCase();
}

/**
 * Vehicle identification number (chassis number), ISO 3779: 17 characters from A-Z and 0-9 without
 * I, O and Q (so that they are not mistaken for 1 and 0).
 */
export function normaliseVin(raw: string): KeyCheck {
  const v = squeeze(raw);
  if (v.length === 0) return { ok: false, partial: true, reason: 'the VIN is empty' };
  if (PATTERN_CHARS.test(v)) return { ok: false, partial: true, reason: 'wildcards and patterns are not allowed in a VIN; give the full 17-character VIN' };
  if (/[IOQ]/.test(v)) return { ok: false, partial: false, reason: 'a VIN never contains the letters I, O or Q (ISO 3779)' };
  if (!/^[A-Z0-9]+$/.test(v)) return { ok: false, partial: false, reason: 'a VIN holds only the letters A-Z (without I, O, Q) and the digits 0-9' };
  if (v.length < 17) return { ok: false, partial: true, reason: `a VIN has 17 characters; this one has ${v.length}, and partial VINs cannot be searched` };
  if (v.length > 17) return { ok: false, partial: false, reason: `a VIN has 17 characters; this one has ${v.length}` };
  return { ok: true, value: v };
}

/**
 * Registration number (number plate). National formats differ (Luxembourg has one-digit plates,
 * German district codes carry umlauts), so any letters and digits are accepted, 1 to 16 of them.
 */
export function normaliseRegistration(raw: string): KeyCheck {
  const v = squeeze(raw);
  if (v.length === 0) return { ok: false, partial: true, reason: 'the registration number is empty' };
  if (PATTERN_CHARS.test(v)) return { ok: false, partial: true, reason: 'wildcards and patterns are not allowed in a registration number; give the full number' };
  if (!/^[\p{Lu}\p{Nd}]+$/u.test(v)) return { ok: false, partial: false, reason: 'a registration number holds only letters and digits (spaces and hyphens are ignored)' };
  if (v.length > 16) return { ok: false, partial: false, reason: `a registration number has at most 16 letters and digits; this one has ${v.length}` };
  return { ok: true, value: v };
}

/** The registration number as it should be shown: trimmed, inner white space folded to one space. */
export function displayRegistration(raw: string): string {
  return raw.normalize('NFC').trim().replace(/\s+/gu, ' ').toUpperCase();
}
