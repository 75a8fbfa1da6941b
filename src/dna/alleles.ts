/**
 * Allele values. The engine stores an allele as a small integer code:
 *   - a repeat number `v` (0 < v < 100, at most one decimal digit for micro-variants) is `round(10 v)`,
 *     so `9.3` is 93 and `17` is 170 (codes 1..999);
 *   - the wildcard `*` is WILDCARD;
 *   - amelogenin's X and Y are AMEL_X and AMEL_Y.
 * The Prüm matching rules (Council Decision 2008/616/JHA, Annex, chapter 1) turn the values 0, 1 and 99
 * and the non-numeric designations into the wildcard, which pairs with any allele.
 */

export const WILDCARD = 4095;
export const AMEL_X = 1001;
export const AMEL_Y = 1002;

/**
 * Non-numeric designations that mean "an allele is there but has no repeat number" (off-ladder,
 * rare, not analysed, no result, ...). Compared case-insensitively. Other letters (`abc`) are a
 * mistake in the file and refused, unless the caller asks for the lenient reading.
 */
export const WILDCARD_DESIGNATIONS: readonly string[] = ['*', '?', 'o', 'f', 'r', 'na', 'nr', 'un', 'ol', 'nd', 'inc', 'unk'];
const designations = new Set(WILDCARD_DESIGNATIONS);

const NUMBER = /^([0-9]+)(?:\.([0-9]+))?$/;

/** Options of allele parsing. */
export interface AlleleOptions {
  /** Read every letters-only value as the wildcard (the literal "every non-numeric value" reading). */
  readonly lenientDesignations?: boolean;
}

/**
 * Parses one allele value. Returns its code, or a string saying what is wrong with it (the caller
 * adds the file, line and locus).
 */
export function parseAllele(raw: string, amelogenin: boolean, options: AlleleOptions = {}): number | string {
  const v = raw.trim();
  if (v === '') return 'an allele value is empty';
  const lower = v.toLowerCase();
  if (designations.has(lower)) return WILDCARD;
  if (amelogenin) {
    if (lower === 'x') return AMEL_X;
    if (lower === 'y') return AMEL_Y;
    if (options.lenientDesignations && /^[a-z]{1,12}$/.test(lower)) return WILDCARD;
    return `amelogenin value ${JSON.stringify(v)} is not X, Y or a designation such as OL or *`;
  }
  const m = NUMBER.exec(v);
  if (m) {
    const int = Number(m[1]);
    const frac = m[2];
    if (int > 99) return `allele ${JSON.stringify(v)} is above 99; repeat numbers run from 1 to 98 (99 means "undetermined")`;
    let tenth = 0;
    if (frac !== undefined) {
      if (!/^[0-9]0*$/.test(frac)) return `allele ${JSON.stringify(v)} has more than one decimal digit; a micro-variant is written like 9.3`;
      tenth = Number(frac[0]);
    }
    const code = int * 10 + tenth;
    // Prüm rule: the values 0, 1 and 99 stand for "undetermined" and become the wildcard.
    if (code === 0 || code === 10 || code === 990) return WILDCARD;
    return code;
  }
  if (/^[a-z]{1,12}$/.test(lower)) {
    if (options.lenientDesignations) return WILDCARD;
    return `allele ${JSON.stringify(v)} is neither a repeat number (like 15 or 9.3) nor a known designation (${WILDCARD_DESIGNATIONS.join(' ')}); correct it, or write * if the allele is undetermined`;
  }
  return `allele ${JSON.stringify(v)} is not a repeat number (like 15 or 9.3) nor a designation such as OL or *`;
}

/**
 * Fast path of parseAllele for the common case, a plain repeat number in `s[i, j)` (one or two digits,
 * optionally `.` and one digit), without creating strings. Returns its code, or -1 for anything else
 * (which the caller then hands to parseAllele for the full treatment and the message).
 */
export function quickAllele(s: string, i: number, j: number): number {
  let int = 0;
  let digits = 0;
  while (i < j) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    int = int * 10 + (c - 48);
    digits++;
    i++;
  }
  if (digits === 0 || digits > 2) return -1;
  let tenth = 0;
  if (i < j) {
    if (s.charCodeAt(i) !== 46 || i + 2 !== j) return -1;
    const c = s.charCodeAt(i + 1);
    if (c < 48 || c > 57) return -1;
    tenth = c - 48;
  }
  const code = int * 10 + tenth;
  return code === 0 || code === 10 || code === 990 ? WILDCARD : code;
}

/** The text of an allele code: `15`, `9.3`, `*`, `X`, `Y`. */
export function alleleText(code: number): string {
  if (code === WILDCARD) return '*';
  if (code === AMEL_X) return 'X';
  if (code === AMEL_Y) return 'Y';
  const int = Math.floor(code / 10);
  const tenth = code % 10;
  return tenth === 0 ? String(int) : `${int}.${tenth}`;
}

/** True for a repeat-number code (not the wildcard, not X or Y). */
export function isNumericAllele(code: number): boolean {
  return code > 0 && code < 1000;
}
