/**
 * Dactyloscopic data as a federated search kind (Prüm Decision Art. 9): the requesting state sends
 * a ten-print or a latent as minutiae templates with its reference and type (reference: a person's
 * prints; unidentified: a latent mark, Art. 8); the requested state searches its national
 * fingerprint file and answers hit/no-hit with, per candidate above its threshold, the reference,
 * type, scores with their calibrated false match rates, and the templates of the matching fingers:
 * the reference data the requesting state's examiner needs to confirm the match (Art. 9(2)). The
 * requested node keeps the supplied templates only in its record (Art. 26(2), Art. 30).
 *
 * Wire form of a finger: its position and an ISO/IEC 19794-2:2005 record of one view (6 bytes a
 * minutia, at most 128 minutiae: under 800 bytes, 1,100 characters of base64). Images are never
 * sent; the requesting node extracts them before sending.
 */
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { FINGERPRINT_PURPOSE, FINGERPRINT_SEARCH_LEGAL_BASIS, MAX_CANDIDATES, type NationalFingerprintFile } from '../fingerprint/national-file.ts';
import { parseProbe } from '../fingerprint/probe-input.ts';
import { checkFingerSet, fingerFromIso, MAX_FINGERS } from '../fingerprint/reference-input.ts';
import type { SearchKind } from './search-kinds.ts';

const Kind = Type.Union([Type.Literal('reference'), Type.Literal('unidentified')]);
const Ref = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/#-]*$' });
/** An ISO/IEC 19794-2 record of one view with at most 128 minutiae, base64. */
const WireTemplate = Type.String({ minLength: 40, maxLength: 1100, pattern: '^[A-Za-z0-9+/]+={0,2}$' });
const Position = Type.Integer({ minimum: 0, maximum: 10 });

export const FingerprintQuery = Type.Object(
  {
    probe: Type.Object(
      {
        ref: Ref,
        kind: Kind,
        fingers: Type.Array(Type.Object({ position: Position, template: WireTemplate }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_FINGERS }),
      },
      { additionalProperties: false },
    ),
    purpose: Type.Literal(FINGERPRINT_PURPOSE),
  },
  { additionalProperties: false },
);
export type FingerprintQuery = Static<typeof FingerprintQuery>;

const Rate = Type.Number({ minimum: 0, maximum: 1 });
export const FingerprintResult = Type.Object(
  {
    candidates: Type.Array(
      Type.Object(
        {
          rank: Type.Integer({ minimum: 1, maximum: MAX_CANDIDATES }),
          ref: Ref,
          kind: Kind,
          score: Type.Number({ minimum: 0, maximum: 100_000 }),
          fmr: Rate,
          expectedFalseCandidates: Type.Number({ minimum: 0, maximum: 1e9 }),
          hit: Type.Boolean(),
          fingers: Type.Array(
            Type.Object(
              { probePosition: Position, position: Position, score: Type.Number({ minimum: 0, maximum: 100_000 }), fmr: Rate, template: Type.Optional(WireTemplate) },
              { additionalProperties: false },
            ),
            { maxItems: MAX_FINGERS },
          ),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_CANDIDATES },
    ),
  },
  { additionalProperties: false },
);
export type FingerprintResult = Static<typeof FingerprintResult>;

/**
 * The Prüm Decision sets no deadline for fingerprint answers in the texts at hand (the implementing
 * Decision 2008/616/JHA is not in shared/legal); the same 15 minutes as for DNA flag an answer late.
 */
export const FINGERPRINT_ANSWER_DUE_MS = 15 * 60_000;

export function fingerprintSearchKind(nationalFile: () => Promise<NationalFingerprintFile>): SearchKind<FingerprintQuery, FingerprintResult> {
  return {
    name: 'fingerprint',
    legalBasis: FINGERPRINT_SEARCH_LEGAL_BASIS,
    files: ['fingerprint'],
    querySchema: FingerprintQuery,
    resultSchema: FingerprintResult,
    answerDueMs: FINGERPRINT_ANSWER_DUE_MS,
    // One ten-print or one latent per request (capacity counts searches).
    maxItems: 1,

    prepare(search) {
      if (search.purpose !== FINGERPRINT_PURPOSE) {
        throw new OpenPrumError('federation-search-invalid', `Fingerprint searches are for the prevention and investigation of criminal offences (Prüm Decision Art. 9(1)): purpose must be ${FINGERPRINT_PURPOSE}`);
      }
      const q = search.query as { probe?: unknown } | null;
      if (typeof q !== 'object' || q === null || Array.isArray(q) || Object.keys(q).some((k) => k !== 'probe')) {
        throw new OpenPrumError('federation-search-invalid', 'query must be {"probe": {"ref", "kind", "transaction" | "fingers"}}');
      }
      // Images and transactions are read and extracted here, at the requesting node; only minutiae
      // travel, and only what the engine accepts is stored or sent.
      const probe = parseProbe(q.probe, 'query.probe');
      return {
        probe: { ref: probe.ref, kind: probe.kind, fingers: probe.fingers.map((f) => ({ position: f.position, template: f.iso.toString('base64') })) },
        purpose: FINGERPRINT_PURPOSE,
      };
    },

    items: () => 1,

    async handle(node, peer, query, search) {
      const fingers = query.probe.fingers.map((f, i) => {
        const finger = fingerFromIso(Buffer.from(f.template, 'base64'), `query.probe.fingers[${i}]`);
        if (finger.position !== f.position) {
          throw new OpenPrumError('fingerprint-template-invalid', `query.probe.fingers[${i}]: the record says finger position ${finger.position}, the message ${f.position}`);
        }
        return finger;
      });
      checkFingerSet(fingers, 'query.probe', 'fingerprint-search-invalid');
      const file = await nationalFile();
      const answer = await file.search(
        peer,
        {
          probe: { ref: query.probe.ref, kind: query.probe.kind, fingers },
          // The requesting state keeps its officers' names and reasons in its own record; this node
          // records who asked (the state) and its reference (Art. 30(2)(b)).
          reason: `Automated search by ${peer.country} NCP, request ${search.reference}`,
          orderedBy: `${peer.country} NCP`,
        },
        search.messageId,
        { db: node.db, supply: 'hits' },
      );
      return { hit: answer.hit, result: { candidates: answer.candidates as FingerprintResult['candidates'] }, recordId: answer.recordId };
    },
  };
}
