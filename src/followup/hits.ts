/**
 * What "a hit" is, per search kind: the pairs of references a follow-up can refer to. Each pair is
 * the reference of the searched item (the requesting state's own reference, e.g. its DNA profile's
 * `ref`, or the vehicle key it searched) and the reference of the matched item in the requested
 * state's file (2008/616/JHA Art. 8(2): the reference data with which a match was found).
 *
 * Both nodes compute the pairs from the same signed messages (the search request and its answer), so
 * that the requested node can check that a follow-up refers to a hit it really answered to that state.
 * A new search kind adds its extractor here.
 */

export interface HitReference {
  /** The reference of the searched item, given by the requesting state. */
  readonly requestReference: string;
  /** The reference of the matched item, in the requested state's file. */
  readonly requestedReference: string;
}

type Extractor = (query: unknown, result: unknown) => HitReference[];

const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

const EXTRACTORS: Record<string, Extractor> = {
  // Prüm Decision Art. 3: one profile per request; each hit names the matched profile's reference.
  dna: (query, result) => {
    const request = str(obj(obj(query)?.profile)?.ref);
    const hits = obj(result)?.hits;
    if (!request || !Array.isArray(hits)) return [];
    return hits.flatMap((h) => {
      const ref = str(obj(h)?.ref);
      return ref ? [{ requestReference: request, requestedReference: ref }] : [];
    });
  },
  // Prüm Decision Art. 9: one probe (ten-print or latent) per request; each candidate above the
  // threshold names its reference (src/exchange/fingerprint-kind.ts).
  fingerprint: (query, result) => {
    const request = str(obj(obj(query)?.probe)?.ref);
    const candidates = obj(result)?.candidates;
    if (!request || !Array.isArray(candidates)) return [];
    return candidates.flatMap((c) => {
      const ref = str(obj(c)?.ref);
      return ref ? [{ requestReference: request, requestedReference: ref }] : [];
    });
  },
  // Prüm Decision Art. 12: one key per request (full VIN or registration number); a vehicle found is
  // named by its VIN, the key that identifies it in every register.
  vehicle: (query, result) => {
    const request = str(obj(query)?.value);
    const vehicles = obj(result)?.vehicles;
    if (!request || !Array.isArray(vehicles)) return [];
    return vehicles.flatMap((v) => {
      const vin = str(obj(v)?.vin);
      return vin ? [{ requestReference: request, requestedReference: vin }] : [];
    });
  },
};

/** The legal basis of the second step, per kind (the Prüm article that leaves it to national law). */
export const FOLLOW_UP_LEGAL_BASIS: Record<string, string> = {
  dna: 'Prüm Decision Art. 5',
  fingerprint: 'Prüm Decision Art. 10',
  vehicle: 'Prüm Decision Art. 12 and the national law of the requested state',
};

export function followUpLegalBasis(kind: string): string {
  return FOLLOW_UP_LEGAL_BASIS[kind] ?? `the national law of the requested state (search kind ${kind})`;
}

export function knowsHits(kind: string): boolean {
  return kind in EXTRACTORS;
}

/** The hits of an answered search: one pair per matched reference (no duplicates). */
export function hitReferences(kind: string, query: unknown, result: unknown): HitReference[] {
  const extract = EXTRACTORS[kind];
  if (!extract) return [];
  const seen = new Set<string>();
  return extract(query, result).filter((h) => {
    const key = `${h.requestReference}\u0000${h.requestedReference}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The one hit with `requestedReference` (and `requestReference` when given), if exactly one matches. */
export function findHit(hits: readonly HitReference[], requestedReference: string, requestReference?: string): HitReference | undefined {
  const found = hits.filter((h) => h.requestedReference === requestedReference && (requestReference === undefined || h.requestReference === requestReference));
  return found.length === 1 ? found[0] : undefined;
}
