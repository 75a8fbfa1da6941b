/**
 * DNA profiles as a federated search kind (Prüm Decision Art. 3; 2008/616/JHA Art. 8 and Annex ch. 1):
 * the requesting state sends one profile with its reference and type (reference: of a person;
 * unidentified: a trace); the requested state compares it with the files its declaration opens, under
 * the matching rule of src/dna/README.md, and answers hit/no-hit with, per hit, its reference, type,
 * match quality and profile. Answers are due within 15 minutes (Annex ch. 1 section 3.1). The requested
 * node keeps the supplied profile only in its record (Art. 26(2), Art. 30).
 */
import Type, { type Static } from 'typebox';
import { DNA_PURPOSE, DNA_SEARCH_LEGAL_BASIS, type NationalDnaFile } from '../dna/national-file.ts';
import { inclusionOf, parseProfile, type ProfileKind } from '../dna/profile.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { SearchKind } from './search-kinds.ts';

const Loci = Type.Record(Type.String({ maxLength: 40 }), Type.Array(Type.String({ maxLength: 16 }), { minItems: 2, maxItems: 2 }), { maxProperties: 64 });
const Kind = Type.Union([Type.Literal('reference'), Type.Literal('unidentified')]);

export const DnaQuery = Type.Object(
  {
    profile: Type.Object({ ref: Type.String({ minLength: 1, maxLength: 64 }), kind: Kind, loci: Loci }, { additionalProperties: false }),
    purpose: Type.Literal(DNA_PURPOSE),
  },
  { additionalProperties: false },
);
export type DnaQuery = Static<typeof DnaQuery>;

export const DnaResult = Type.Object(
  {
    hits: Type.Array(
      Type.Object(
        {
          ref: Type.String({ minLength: 1, maxLength: 64 }),
          kind: Kind,
          quality: Type.Union([Type.Literal('match'), Type.Literal('wildcard-match'), Type.Literal('near-match')]),
          matchingLoci: Type.Integer({ minimum: 0, maximum: 64 }),
          comparedLoci: Type.Integer({ minimum: 0, maximum: 64 }),
          mismatches: Type.Integer({ minimum: 0, maximum: 1 }),
          rmp: Type.Number({ minimum: 0, maximum: 1 }),
          profile: Type.Object({ ref: Type.String({ maxLength: 64 }), kind: Kind, loci: Loci }, { additionalProperties: false }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);
export type DnaResult = Static<typeof DnaResult>;

/** 2008/616/JHA Annex ch. 1 section 3.1: DNA answers within 15 minutes. */
export const DNA_ANSWER_DUE_MS = 15 * 60_000;

const FILE_OF_KIND: Record<string, ProfileKind> = { 'dna-reference': 'reference', 'dna-unidentified': 'unidentified' };

export function dnaSearchKind(nationalFile: () => Promise<NationalDnaFile>): SearchKind<DnaQuery, DnaResult> {
  return {
    name: 'dna',
    legalBasis: DNA_SEARCH_LEGAL_BASIS,
    files: ['dna-reference', 'dna-unidentified'],
    querySchema: DnaQuery,
    resultSchema: DnaResult,
    answerDueMs: DNA_ANSWER_DUE_MS,
    maxItems: 1,

    prepare(search) {
      if (search.purpose !== DNA_PURPOSE) {
        throw new OpenPrumError('federation-search-invalid', `DNA searches are for the investigation of criminal offences only (Prüm Decision Art. 3(1)): purpose must be ${DNA_PURPOSE}`);
      }
      const q = search.query as { profile?: unknown } | null;
      if (typeof q !== 'object' || q === null || Array.isArray(q) || Object.keys(q).some((k) => k !== 'profile')) {
        throw new OpenPrumError('federation-search-invalid', 'query must be {"profile": {"ref", "kind", "loci"}}');
      }
      // The engine's own rules at the requesting side: a malformed or non-includable profile is
      // refused before anything is stored or sent.
      const profile = parseProfile(q.profile);
      const inclusion = inclusionOf(profile);
      if (!inclusion.ok) throw new OpenPrumError('dna-profile-invalid', `${inclusion.reason}; such a profile cannot be searched`);
      return { profile: { ref: profile.ref, kind: profile.kind, loci: profile.loci as Record<string, [string, string]> }, purpose: DNA_PURPOSE };
    },

    items: () => 1,

    async handle(node, peer, query, search) {
      const kinds = search.openFiles.map((f) => FILE_OF_KIND[f]).filter((k): k is ProfileKind => k !== undefined);
      if (kinds.length === 0) throw new OpenPrumError('forbidden', `This node opens no DNA file to ${peer.country}`);
      const file = await nationalFile();
      const answer = await file.search(
        peer,
        {
          profile: query.profile,
          reason: `Automated search by ${peer.country} NCP, request ${search.reference}`,
          orderedBy: `${peer.country} NCP`,
        },
        search.messageId,
        { db: node.db, kinds },
      );
      return {
        hit: answer.hit,
        result: {
          hits: answer.hits.map((h) => ({
            ref: h.ref,
            kind: h.kind,
            quality: h.quality,
            matchingLoci: h.matchingLoci,
            comparedLoci: h.comparedLoci,
            mismatches: h.mismatches,
            rmp: h.rmp,
            profile: { ref: h.profile.ref, kind: h.profile.kind, loci: h.profile.loci as Record<string, [string, string]> },
          })),
        },
        recordId: answer.recordId,
      };
    },
  };
}
