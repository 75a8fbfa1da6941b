/**
 * The node's own API for federated searches and the federation's state (thin: parse, authorise, call
 * the exchange, answer). Registered by the node's HTTP server; answers 503 federation-not-configured
 * while the node runs without a federation certificate.
 */
import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import type { NodeContext } from '../node/node.ts';
import { usedToday } from './declarations.ts';
import { listFederationEvents } from './events.ts';
import type { Federation } from './federation.ts';
import { Country } from './messages.ts';
import { listPeers } from './peers.ts';

const FederatedSearchBody = Type.Object(
  {
    kind: Type.String({ minLength: 1, maxLength: 32, description: 'Search kind: vehicle (later dna, fingerprint)' }),
    targets: Type.Union([Type.Array(Country, { minItems: 1, maxItems: 40 }), Type.Literal('all')], { description: 'State codes of the peers to search, or "all"' }),
    query: Type.Object({}, { additionalProperties: true, description: 'The search keys of the kind; vehicle: {"vin": …} or {"registrationNumber": …}' }),
    purpose: Type.String({ minLength: 1, maxLength: 100, description: 'Lawful ground; vehicle: a ground of Prüm Decision Art. 12(1)' }),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Reason for the search, recorded (Art. 30(2)(b))' }),
    orderedBy: Type.String({ minLength: 1, maxLength: 200, description: 'Official who ordered the search, recorded (Art. 30(2)(b))' }),
  },
  {
    additionalProperties: false,
    examples: [{ kind: 'vehicle', targets: ['DE', 'FR'], query: { registrationNumber: 'B-AB 1234' }, purpose: 'criminal-offences', reason: 'Case 2026/17: car seen at a burglary', orderedBy: 'Inspector J. de Vries' }],
  },
);

function federationOf(node: NodeContext): Federation {
  if (!node.federation) {
    throw new OpenPrumError('federation-not-configured', 'This node runs without the federation: issue it a certificate (openprum pki issue) and restart it');
  }
  return node.federation;
}

export function federationRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: Static<typeof FederatedSearchBody> }>(
      '/v1/federation/searches',
      {
        config: { roles: ['officer'] },
        // A fingerprint search may carry images (base64), extracted to templates before sending.
        bodyLimit: 16 * 1024 * 1024,
        schema: {
          summary: 'Search one, several or all peer states (Prüm Decision Art. 12; later Arts. 3, 4 and 9)',
          description:
            'Stores the search and sends it to each state from a durable outbox; answers are gathered as they arrive and a state that is down is retried with back-off. Answers 202 with the search id; read the answers at GET /v1/federation/searches/{id}. Each state\'s outcome is recorded (Art. 30(2)(b)).',
          tags: ['federation'],
          body: FederatedSearchBody,
        },
      },
      async (req, reply) => {
        const view = await federationOf(node).createSearch(req.caller!, req.body, req.id);
        return reply.code(202).header('location', `/v1/federation/searches/${view.id}`).send(view);
      },
    );

    app.get<{ Querystring: { limit?: string } }>(
      '/v1/federation/searches',
      {
        config: { roles: ['officer', 'supervisor'] },
        schema: {
          summary: 'Your federated searches (a supervisor: everyone\'s), newest first, with each state\'s status',
          tags: ['federation'],
          querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1-500, default 50' })) }, { additionalProperties: false }),
        },
      },
      async (req) => ({ searches: await federationOf(node).listSearches(req.caller!, req.query.limit ? Number(req.query.limit) : 50) }),
    );

    app.get<{ Params: { id: string } }>(
      '/v1/federation/searches/:id',
      {
        config: { roles: ['officer', 'supervisor'] },
        schema: {
          summary: 'A federated search: per state its status (pending, answered, refused, failed), attempts, due time, lateness and answer',
          tags: ['federation'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        },
      },
      async (req) => {
        const view = await federationOf(node).getSearch(req.params.id, req.caller!);
        if (!view) throw new OpenPrumError('not-found', `No federated search ${req.params.id} of yours`);
        return view;
      },
    );

    app.get(
      '/v1/federation/peers',
      {
        config: { roles: ['officer', 'admin', 'supervisor'] },
        schema: { summary: 'Peer states: address, their latest declaration, and what they used of ours today', tags: ['federation'] },
      },
      async () => {
        const f = federationOf(node);
        const peers = await listPeers(node.db);
        return {
          peers: await Promise.all(
            peers.map(async (p) => {
              const d = await f.declaration(p.country);
              const usage: Record<string, number> = {};
              for (const k of f.kinds.names()) usage[k] = await usedToday(node.db, p.country, k);
              return { ...p, declaration: d?.declaration ?? null, declarationReceivedAt: d?.receivedAt ?? null, usedOfOursToday: usage };
            }),
          ),
        };
      },
    );

    app.get(
      '/v1/federation/declaration',
      { config: { roles: [] }, schema: { summary: 'This node\'s current declaration (Prüm Decision Arts. 2(3), 36)', tags: ['federation'] } },
      async () => {
        const d = await federationOf(node).declaration();
        if (!d) throw new OpenPrumError('not-found', 'This node has published no declaration; an admin sets one with PUT /v1/federation/declaration');
        return { declaration: d.declaration, signature: d.jws };
      },
    );

    app.put<{ Body: unknown }>(
      '/v1/federation/declaration',
      {
        config: { roles: ['admin'] },
        schema: {
          summary: 'Publish a new declaration: open files, conditions, daily capacity per requesting state, contact point',
          tags: ['federation'],
          body: Type.Object({}, { additionalProperties: true }),
        },
      },
      async (req) => {
        const d = await federationOf(node).publishDeclaration(req.body);
        return { declaration: d.declaration, signature: d.jws };
      },
    );

    app.get<{ Querystring: { limit?: string } }>(
      '/v1/federation/events',
      {
        config: { roles: ['supervisor', 'admin'] },
        schema: {
          summary: 'Refusals at the peer interface that name no authenticated state (TLS and the like)',
          tags: ['federation'],
          querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })) }, { additionalProperties: false }),
        },
      },
      async (req) => ({ events: await listFederationEvents(node.db, Number(req.query.limit ?? 100) || 100) }),
    );
  };
}
