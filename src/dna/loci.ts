/**
 * Locus names: normalisation, the European Standard Set, and the decision whether a field name is a
 * locus at all. Prüm Decision Art. 2(2) allows reference data to carry only the DNA profile and a
 * reference number, so a field that is not a locus is refused rather than ignored.
 */

/** What the engine knows about one locus after normalisation. */
export interface LocusInfo {
  /** Normalisation key: upper case, without spaces, underscores, hyphens or dots, aliases resolved. */
  readonly key: string;
  /** Display name (`vWA`, `PentaD`, `D3S1358`, `AMEL`). */
  readonly name: string;
  /** Amelogenin is kept but never compared (it only tells the sex). */
  readonly amelogenin: boolean;
  /** One of the 7 ESS-1999 loci (Council Resolution 2001/C 187/01). */
  readonly ess1999: boolean;
  /** One of the 12 ESS-2009 loci (Council Resolution 2009/C 296/01). */
  readonly ess2009: boolean;
}

/** The 7 loci of the European Standard Set of 1999, in their usual order. */
export const ESS_1999 = ['D3S1358', 'vWA', 'D8S1179', 'D21S11', 'D18S51', 'TH01', 'FGA'] as const;
/** The 5 loci the 2009 resolution added; with ESS_1999 they make the 12 ESS loci. */
export const ESS_2009_ADDED = ['D1S1656', 'D2S441', 'D10S1248', 'D12S391', 'D22S1045'] as const;

/**
 * Loci with a fixed display name (and the ones a misspelling is checked against).
 */
export const NAMED_LOCI: readonly string[] = [
  ...ESS_1999,
  ...ESS_2009_ADDED,
  'D16S539', 'D19S433', 'D2S1338', 'SE33', 'CSF1PO', 'D5S818', 'D7S820', 'D13S317', 'TPOX',
  'PentaD', 'PentaE', 'PentaC', 'PentaB', 'D6S1043', 'F13A01', 'F13B', 'FESFPS', 'LPL', 'HPRTB',
  'D22GATA198B05', 'YGATAH4', 'DYS391', 'DYS570', 'DYS576', 'AMEL',
];

/** Other spellings of the same locus (keys are already upper case without separators). */
const ALIASES: Readonly<Record<string, string>> = {
  CSF1P0: 'CSF1PO',
  HUMCSF1PO: 'CSF1PO',
  THO1: 'TH01',
  HUMTH01: 'TH01',
  HUMVWA: 'VWA',
  HUMVWFA31: 'VWA',
  VWA31: 'VWA',
  HUMFIBRA: 'FGA',
  FIBRA: 'FGA',
  HUMTPOX: 'TPOX',
  ACTBP2: 'SE33',
  HUMACTBP2: 'SE33',
  F13A1: 'F13A01',
  HUMF13A01: 'F13A01',
  FES: 'FESFPS',
  AMELOGENIN: 'AMEL',
  AM: 'AMEL',
  AMG: 'AMEL',
  AMELXY: 'AMEL',
};

/** Upper case without spaces, underscores, hyphens and dots: `Penta D` = `PentaD` = `Penta_D`. */
export function locusKey(raw: string): string {
  const k = raw.normalize('NFKC').trim().toUpperCase().replace(/[\s_.-]/g, '');
  return ALIASES[k] ?? k;
}

const ess1999Keys = new Set<string>(ESS_1999.map((n) => n.toUpperCase()));
const ess2009Keys = new Set<string>([...ESS_1999, ...ESS_2009_ADDED].map((n) => n.toUpperCase()));
const namedByKey = new Map<string, string>(NAMED_LOCI.map((n) => [n.toUpperCase(), n]));

/**
 * Locus names that are not in NAMED_LOCI but follow the nomenclature of STR markers: D<chromosome>S<n>
 * (autosomal, X or Y), DYS<n>, DXS<n>, and GATA markers. Anything else is not accepted as a locus.
 */
const LOCUS_PATTERN = /^(D([1-9]|1[0-9]|2[0-2]|X|Y)S[0-9]{1,5}[A-Z]?|DYS[0-9]{2,4}[A-Z]?|DXS[0-9]{3,5}|D[0-9]{1,2}GATA[0-9A-Z]{1,8}|[XY]GATA[0-9A-Z]{1,8})$/;

/** Names that start like a locus; a failed match is then a misspelt locus, not personal data. */
const LOCUS_LIKE = /^(D[0-9XY]|DYS|DXS|PENTA|CSF|TPOX|THO?[0-9]|VWA|FGA|SE[0-9]|AMEL|F13|FES|LPL|HPRT)/;

/**
 * Field names that identify a person or describe one. They are refused with `dna-personal-data`
 * (Prüm Decision Art. 2(2): reference data must not contain data from which the data subject can be
 * directly identified). Matched against the lower-case name without separators.
 */
const PERSONAL_FIELD = /(name|birth|dob|born|address|street|city|town|zip|post(al)?code|phone|mobile|mail|passport|nationality|citizen|gender|^sex$|^age$|ssn|bsn|socialsecurity|personal|nationalid|idnumber|idcard|photo|face|alias|parent|mother|father|licen[cs]e)/;

const cache = new Map<string, FieldName>();

/** The outcome of looking at one field (a JSON key inside `loci` or a CSV column). */
export type FieldName =
  | { readonly kind: 'locus'; readonly locus: LocusInfo }
  | { readonly kind: 'personal'; readonly name: string }
  | { readonly kind: 'not-a-locus'; readonly name: string };

/** Classifies a field name; results are cached because a file repeats the same names on every line. */
export function classifyField(raw: string): FieldName {
  const hit = cache.get(raw);
  if (hit) return hit;
  const result = classifyUncached(raw);
  if (cache.size < 10_000) cache.set(raw, result);
  return result;
}

/** Known loci one typing slip away from a key (edit distance 1, or two neighbours swapped). */
export function nearKnownLocus(key: string): string | undefined {
  for (const [k, name] of namedByKey) if (k !== key && oneEditApart(k, key)) return name;
  return undefined;
}

function oneEditApart(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // one changed
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // two swapped
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1); // one left out or added
}

function classifyUncached(raw: string): FieldName {
  const key = locusKey(raw);
  const named = namedByKey.get(key);
  // A name of the STR pattern that is one slip away from a known locus is a misspelling, not
  // another locus: comparing it would silently lose that locus.
  if (named === undefined && nearKnownLocus(key) !== undefined) return { kind: 'not-a-locus', name: raw };
  if (named !== undefined || (key.length <= 16 && LOCUS_PATTERN.test(key))) {
    return {
      kind: 'locus',
      locus: {
        key,
        name: named ?? key,
        amelogenin: key === 'AMEL',
        ess1999: ess1999Keys.has(key),
        ess2009: ess2009Keys.has(key),
      },
    };
  }
  const lower = raw.normalize('NFKC').toLowerCase().replace(/[\s_.-]/g, '');
  if (PERSONAL_FIELD.test(lower) || !LOCUS_LIKE.test(key)) return { kind: 'personal', name: raw };
  return { kind: 'not-a-locus', name: raw };
}

/** The LocusInfo of a canonical or alias name; throws if it is not a locus (for constants and tests). */
export function locusInfo(name: string): LocusInfo {
  const f = classifyField(name);
  if (f.kind !== 'locus') throw new Error(`not a locus name: ${name}`);
  return f.locus;
}

/**
 * The most loci one profile may carry (amelogenin included). Real kits type at most about 27; a line
 * with more is a broken file (columns shifted, two profiles merged), so it is refused, not truncated.
 */
export const MAX_LOCI_PER_PROFILE = 35;
