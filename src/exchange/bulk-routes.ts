/**
 * The node's own API for bulk comparisons of DNA profiles with other states (Prüm Decision Art. 4):
 * an admin starts one, admins, officers and supervisors follow its progress, officers and supervisors
 * read the hits. Thin: parse, authorise, call bulk.ts, answer.
 */
import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import type { NodeContext } from '../node/node.ts';
import { getBulkComparison, getBulkHit, listBulkComparisons, listBulkHits } from './bulk.ts';
import { Country } from './messages.ts';

const StartBody = Type.Object(
  {
    state: Country,
    mode: Type.Union([Type.Literal('all'), Type.Literal('new')], { description: 'all: every unidentified profile; new: those added or changed since the last completed comparison with the state' }),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Recorded (Art. 30(2)(b)); default: the Art. 4 comparison with the state' })),
    orderedBy: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Official who ordered it, recorded; default: the admin starting it' })),
  },
  { additionalProperties: false, examples: [{ state: 'DE', mode: 'new', reason: 'Quarterly Art. 4 comparison with DE', orderedBy: 'Head of NCP J. de Vries' }] },
);

const Id = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
const Limit = Type.String({ pattern: '^[1-9][0-9]{0,3}$' });

export function bulkComparisonRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: Static<typeof StartBody> }>(
      '/v1/federation/bulk-comparisons',
      {
        config: { roles: ['admin'] },
        schema: {
          summary: 'Start a bulk comparison of this node\'s unidentified DNA profiles with a state (Prüm Decision Art. 4)',
          description:
            'Fixes the profiles (mode all, or new since the last completed comparison with the state) and their chunks, then sends them from a durable queue: ' +
            'first the consent handshake (refused unless the state\'s declaration consents for this state), then chunk after chunk, retried with back-off while the state is down. ' +
            'Answers 202 with the comparison; follow it at GET /v1/federation/bulk-comparisons/{id}. 409 while a comparison with the state is in progress.',
          tags: ['federation'],
          body: StartBody,
        },
      },
      async (req, reply) => {
        if (!node.federation) throw new OpenPrumError('federation-not-configured', 'This node runs without the federation: issue it a certificate (openprum pki issue) and restart it');
        const v = await node.federation.bulk.create(req.caller!, req.body, req.id);
        return reply.code(202).header('location', `/v1/federation/bulk-comparisons/${v.id}`).send(v);
      },
    );

    app.get<{ Querystring: { state?: string; limit?: string } }>(
      '/v1/federation/bulk-comparisons',
      {
        config: { roles: ['admin', 'officer', 'supervisor'] },
        schema: {
          summary: 'Bulk comparisons, newest first: status, chunks done/total, profiles compared, hits, errors, times',
          tags: ['federation'],
          querystring: Type.Object({ state: Type.Optional(Country), limit: Type.Optional(Limit) }, { additionalProperties: false }),
        },
      },
      async (req) => ({ comparisons: await listBulkComparisons(node.db, { state: req.query.state, limit: req.query.limit ? Number(req.query.limit) : 50 }) }),
    );

    app.get<{ Params: { id: string } }>(
      '/v1/federation/bulk-comparisons/:id',
      { config: { roles: ['admin', 'officer', 'supervisor'] }, schema: { summary: 'One bulk comparison and its progress', tags: ['federation'], params: Id } },
      async (req) => {
        const v = await getBulkComparison(node.db, req.params.id);
        if (!v) throw new OpenPrumError('not-found', `No bulk comparison ${req.params.id}`);
        return v;
      },
    );

    app.get<{ Params: { id: string }; Querystring: { after?: string; limit?: string } }>(
      '/v1/federation/bulk-comparisons/:id/hits',
      {
        config: { roles: ['officer', 'supervisor'] },
        schema: {
          summary: 'The hits of a bulk comparison: this node\'s stain, the state\'s reference data and the quality of the match (Art. 4(2))',
          description: 'Each hit has an id (GET /v1/federation/bulk-hits/{id}) by which a follow-up request for further data (Art. 5) names it. Paged by id: after=<last id>.',
          tags: ['federation'],
          params: Id,
          querystring: Type.Object({ after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })), limit: Type.Optional(Limit) }, { additionalProperties: false }),
        },
      },
      async (req) => {
        const hits = await listBulkHits(node.db, req.params.id, { after: req.query.after ? Number(req.query.after) : undefined, limit: req.query.limit ? Number(req.query.limit) : 100 });
        if (!hits) throw new OpenPrumError('not-found', `No bulk comparison ${req.params.id}`);
        return { hits };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/v1/federation/bulk-hits/:id',
      {
        config: { roles: ['officer', 'supervisor'] },
        schema: { summary: 'One hit of a bulk comparison, by its id', tags: ['federation'], params: Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,14}$' }) }, { additionalProperties: false }) },
      },
      async (req) => {
        const hit = await getBulkHit(node.db, Number(req.params.id));
        if (!hit) throw new OpenPrumError('not-found', `No bulk comparison hit ${req.params.id}`);
        return hit;
      },
    );
  };
}
