import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../../errors/index.ts';
import { fingerprintSearchView, recordDecision } from '../../fingerprint/decisions.ts';
import { MAX_CANDIDATES } from '../../fingerprint/national-file.ts';
import { parseProbe, ProbeInput } from '../../fingerprint/probe-input.ts';
import type { NodeContext } from '../../node/node.ts';

/** Fingerprint searches carry images: a larger body than the server's default (16 MiB). */
const SEARCH_BODY_LIMIT = 16 * 1024 * 1024;

const FingerprintSearch = Type.Object(
  {
    probe: ProbeInput,
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Reason for the search, recorded (Art. 30(2)(b))' }),
    orderedBy: Type.String({ minLength: 1, maxLength: 200, description: 'Official who ordered the search, recorded (Art. 30(2)(b))' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CANDIDATES, description: `Candidates listed (default 10, at most ${MAX_CANDIDATES})` })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        probe: { ref: 'NL-LATENT-2026-0042', kind: 'unidentified', fingers: [{ position: 0, image: '<base64 PNG>', ppi: 1000 }] },
        reason: 'Case 2026/42: latent on the window frame',
        orderedBy: 'Prosecutor M. Bakker',
      },
    ],
  },
);

const Decision = Type.Object(
  {
    decision: Type.Union([Type.Literal('confirmed'), Type.Literal('rejected')], { description: "The examiner's conclusion after comparing the candidate (Prüm Decision Art. 9(2))" }),
    note: Type.Optional(Type.String({ maxLength: 2000, description: 'The examiner\'s note (e.g. points compared), recorded' })),
    state: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'Federated searches: the state whose candidate it is, when several answered the same reference' })),
  },
  { additionalProperties: false },
);

const SearchId = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

export function fingerprintRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: Static<typeof FingerprintSearch> }>(
      '/v1/fingerprints/searches',
      {
        bodyLimit: SEARCH_BODY_LIMIT,
        config: { roles: ['officer'] },
        schema: {
          summary: 'Search a ten-print or a latent against the national fingerprint file (Prüm Decision Art. 9)',
          description:
            'The probe is one base64 ANSI/NIST-ITL transaction (finger images Type-4/13/14, minutiae Type-9) or up to ten fingers, each a base64 ISO/IEC 19794-2 or ANSI INCITS 378 minutiae record or a base64 PNG with its resolution. ' +
            'The answer ranks candidates (reference, kind, per finger the position matched, score and calibrated false match rate) and says hit/no-hit against the threshold (src/fingerprint/README.md). ' +
            'Every search is recorded (Art. 30(2)(b)); the requesting officer then confirms or rejects each candidate (Art. 9(2)).',
          tags: ['fingerprints'],
          body: FingerprintSearch,
        },
      },
      async (req, reply) => {
        const probe = parseProbe(req.body.probe);
        const answer = await (await node.fingerprints()).search(req.caller!, { probe, reason: req.body.reason, orderedBy: req.body.orderedBy, limit: req.body.limit }, req.id);
        return reply.code(201).header('location', `/v1/fingerprints/searches/${answer.id}`).send(answer);
      },
    );

    app.get<{ Params: Static<typeof SearchId> }>(
      '/v1/fingerprints/searches/:id',
      {
        config: { roles: ['officer', 'supervisor'] },
        schema: {
          summary: 'A fingerprint search (local, or the fingerprint view of a federated one) with its candidates and the decisions on them',
          tags: ['fingerprints'],
          params: SearchId,
        },
      },
      async (req) => {
        const view = await fingerprintSearchView(node, req.caller!, req.params.id);
        if (!view) throw new OpenPrumError('not-found', `No fingerprint search ${req.params.id} of yours`);
        return view;
      },
    );

    app.post<{ Params: { id: string; ref: string }; Body: Static<typeof Decision> }>(
      '/v1/fingerprints/searches/:id/candidates/:ref/decision',
      {
        config: { roles: ['officer'] },
        schema: {
          summary: "Record the examiner's confirmation or rejection of a candidate (Prüm Decision Art. 9(2))",
          description: 'Only the officer who searched decides; one decision per candidate, recorded. Works for local searches and for the candidates of federated fingerprint searches.',
          tags: ['fingerprints'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }), ref: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
          body: Decision,
        },
      },
      async (req, reply) => reply.code(201).send(await recordDecision(node, req.caller!, req.params.id, req.params.ref, req.body, req.id)),
    );
  };
}
