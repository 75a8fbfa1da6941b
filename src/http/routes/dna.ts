import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import type { NodeContext } from '../../node/node.ts';

const Alleles = Type.Array(Type.String({ maxLength: 16 }), { minItems: 1, maxItems: 8 });
const DnaSearch = Type.Object(
  {
    profile: Type.Object(
      {
        ref: Type.String({ minLength: 1, maxLength: 64, description: "The requesting body's reference of the profile (no names: Prüm Decision Art. 2(2))" }),
        kind: Type.Union([Type.Literal('reference'), Type.Literal('unidentified')], { description: 'reference: of a person; unidentified: a trace' }),
        loci: Type.Record(Type.String({ maxLength: 40 }), Alleles, { description: 'Locus name → allele values, e.g. "D3S1358": ["15","16"]', maxProperties: 64 }),
      },
      { additionalProperties: false },
    ),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Reason for the search, recorded (Art. 30(2)(b))' }),
    orderedBy: Type.String({ minLength: 1, maxLength: 200, description: 'Official who ordered the search, recorded (Art. 30(2)(b))' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        profile: {
          ref: 'NL-STAIN-2026-0042',
          kind: 'unidentified',
          loci: { D3S1358: ['15', '16'], vWA: ['17', '18'], D8S1179: ['13', '13'], D21S11: ['29', '30'], D18S51: ['14', '17'], TH01: ['6', '9.3'], FGA: ['21', '22'] },
        },
        reason: 'Case 2026/42: stain at a burglary',
        orderedBy: 'Prosecutor M. Bakker',
      },
    ],
  },
);

export function dnaRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: Static<typeof DnaSearch> }>(
      '/v1/dna/searches',
      {
        config: { roles: ['officer'] },
        schema: {
          summary: 'Search one DNA profile against the national DNA file (Prüm Decision Art. 3)',
          description:
            'Hit/no-hit with the matching reference data (reference and profile) and the match quality, under the matching rule of src/dna/README.md. ' +
            'Profiles that fail the inclusion rule are refused with the reason. Every search is recorded (Art. 30(2)(b)).',
          tags: ['dna'],
          body: DnaSearch,
        },
      },
      async (req) => (await node.dna()).search(req.caller!, req.body, req.id),
    );
  };
}
