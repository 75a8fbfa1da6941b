/**
 * The node's own API for the second step after a hit (thin: parse, authorise, call the service,
 * answer). Registered by the node's HTTP server; answers 503 federation-not-configured while the node
 * runs without its federation.
 */
import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import type { Federation } from '../exchange/federation.ts';
import { Country } from '../exchange/messages.ts';
import type { NodeContext } from '../node/node.ts';
import { CONDITION_TYPES, MAX_CONDITIONS } from './conditions.ts';
import { MAX_SUPPLIED_BYTES } from './messages.ts';
import { OFFENCE_CATEGORIES, OFFENCE_CODES, OFFENCE_LIST_SOURCE } from './offences.ts';
import type { FollowUpStatus } from './schema.ts';
import { confirmHit, createFollowUp, decideFollowUp, getFollowUp, listFollowUps, listHits } from './service.ts';

function federationOf(node: NodeContext): Federation {
  if (!node.federation) {
    throw new OpenPrumError('federation-not-configured', 'This node runs without the federation: issue it a certificate (openprum pki issue) and restart it');
  }
  return node.federation;
}

const ItemReference = Type.String({ minLength: 1, maxLength: 64 });

const ConfirmationBody = Type.Object(
  {
    state: Country,
    requestedReference: Type.String({ minLength: 1, maxLength: 64, description: 'The matched reference in that state\'s file (DNA: the hit\'s ref; vehicle: the VIN)' }),
    requestReference: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The searched item\'s reference (DNA: the profile sent); needed only when several match' })),
    verdict: Type.Union([Type.Literal('confirmed'), Type.Literal('rejected')]),
    note: Type.String({ minLength: 1, maxLength: 2000, description: 'What was checked, recorded' }),
  },
  { additionalProperties: false, examples: [{ state: 'DE', requestedReference: 'DE-P-000123', verdict: 'confirmed', note: 'Profiles compared by the lab: 12 loci identical' }] },
);

const FollowUpBody = Type.Object(
  {
    searchId: Type.String({ maxLength: 64, description: 'The federated search with the hit' }),
    state: Country,
    requestedReference: ItemReference,
    requestReference: Type.Optional(ItemReference),
    legalBasis: Type.String({ minLength: 1, maxLength: 500, description: 'Your legal basis for asking (national law, legal assistance instrument)' }),
    facts: Type.String({ minLength: 1, maxLength: 4000, description: 'A description of the facts' }),
    offence: Type.Object(
      {
        category: Type.String({ enum: [...OFFENCE_CODES], description: `A category of ${OFFENCE_LIST_SOURCE}, or "other"` }),
        description: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
      },
      { additionalProperties: false },
    ),
    purpose: Type.String({ minLength: 1, maxLength: 500 }),
    caseReference: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        searchId: '…',
        state: 'DE',
        requestedReference: 'DE-P-000123',
        legalBasis: 'Art. 5 Prüm Decision; Art. 552i Sv (NL)',
        facts: 'Burglary at Keizersgracht 1, Amsterdam, 2 Jan 2026; stain on the window frame',
        offence: { category: 'organised-armed-robbery' },
        purpose: 'Identify the suspect of case 2026/42',
        caseReference: 'NL-OM-2026-42',
      },
    ],
  },
);

const DecisionBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('grant'), Type.Literal('refuse')]),
    legalBasis: Type.String({ minLength: 1, maxLength: 500, description: 'The national law under which the data are supplied or refused' }),
    supplied: Type.Optional(Type.Object({}, { additionalProperties: true, description: `grant: the personal and case data supplied (at most ${MAX_SUPPLIED_BYTES} bytes of JSON)` })),
    conditions: Type.Optional(
      // Checked by the service (conditions.ts), which names the condition and what is wrong with it.
      Type.Array(Type.Object({}, { additionalProperties: true }), {
        maxItems: MAX_CONDITIONS,
        description: `grant: conditions of use (FD 2008/977 Arts. 9, 12), types ${CONDITION_TYPES.join(', ')}: {"type":"no-onward-transfer"}, {"type":"use-only-in-case","caseReference"}, {"type":"delete-by","date"}, {"type":"review-by","date"}, {"type":"national-restriction","text"}`,
      }),
    ),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'refuse: the reason' })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        decision: 'grant',
        legalBasis: '§ 3 BKAG',
        supplied: { person: { surname: 'Muster', firstNames: 'Max', birthDate: '1980-01-01' } },
        conditions: [{ type: 'no-onward-transfer' }, { type: 'use-only-in-case', caseReference: 'NL-OM-2026-42' }, { type: 'delete-by', date: '2027-12-31' }],
      },
    ],
  },
);

const Id = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

const ListQuery = Type.Object(
  {
    direction: Type.Optional(Type.Union([Type.Literal('incoming'), Type.Literal('outgoing')])),
    status: Type.Optional(Type.String({ enum: ['pending', 'received', 'rejected', 'failed', 'open', 'granted', 'refused'] })),
    overdue: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1-500, default 50' })),
  },
  { additionalProperties: false },
);

export function followUpRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: Static<typeof Id> }>(
      '/v1/federation/searches/:id/hits',
      {
        config: { roles: ['officer', 'supervisor'] },
        schema: {
          summary: 'The matched references of a federated search, per state, with their confirmation and follow-ups',
          tags: ['follow-ups'],
          params: Id,
        },
      },
      async (req) => listHits(federationOf(node), req.caller!, req.params.id),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof ConfirmationBody> }>(
      '/v1/federation/searches/:id/confirmations',
      {
        config: { roles: ['officer'] },
        schema: {
          summary: 'Confirm or reject a matched reference after checking it (the officer of the search; final, recorded)',
          tags: ['follow-ups'],
          params: Id,
          body: ConfirmationBody,
        },
      },
      async (req, reply) => reply.code(201).send(await confirmHit(federationOf(node), req.caller!, req.params.id, req.body)),
    );

    app.post<{ Body: Static<typeof FollowUpBody> }>(
      '/v1/follow-ups',
      {
        config: { roles: ['officer'] },
        schema: {
          summary: 'Ask the requested state for further data on a confirmed hit (Prüm Decision Arts. 5, 10)',
          description:
            'Stored, recorded and sent from a durable queue (retried while the peer is down). The requested state answers within 48 hours of receipt; read the answer, its conditions of use and its lateness at GET /v1/follow-ups/{id}.',
          tags: ['follow-ups'],
          body: FollowUpBody,
        },
      },
      async (req, reply) => {
        const f = federationOf(node);
        const view = await createFollowUp(f, req.caller!, req.body);
        f.followUps.kick();
        return reply.code(202).header('location', `/v1/follow-ups/${view.id}`).send(view);
      },
    );

    app.get(
      '/v1/follow-ups/offence-categories',
      {
        config: { roles: [] },
        schema: { summary: `The offence categories of follow-up requests (${OFFENCE_LIST_SOURCE}, and "other")`, tags: ['follow-ups'] },
      },
      async () => ({ source: OFFENCE_LIST_SOURCE, categories: OFFENCE_CATEGORIES }),
    );

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/v1/follow-ups',
      {
        config: { roles: ['officer', 'approver', 'supervisor'] },
        schema: {
          summary: 'Follow-ups: incoming ones (approvers) with due time and overdue flag, your outgoing ones (officers); a supervisor sees all',
          tags: ['follow-ups'],
          querystring: ListQuery,
        },
      },
      async (req) => ({
        followUps: await listFollowUps(federationOf(node), req.caller!, {
          direction: req.query.direction,
          status: req.query.status as FollowUpStatus | undefined,
          overdue: req.query.overdue === undefined ? undefined : req.query.overdue === 'true',
          limit: req.query.limit ? Number(req.query.limit) : 50,
        }),
      }),
    );

    app.get<{ Params: Static<typeof Id> }>(
      '/v1/follow-ups/:id',
      {
        config: { roles: ['officer', 'approver', 'supervisor'] },
        schema: {
          summary: 'A follow-up: the hit, the request, due time and lateness, the decision with the data supplied and the conditions of use, the delivery',
          tags: ['follow-ups'],
          params: Id,
        },
      },
      async (req) => {
        const view = await getFollowUp(federationOf(node), req.caller!, req.params.id);
        if (!view) throw new OpenPrumError('not-found', `No follow-up ${req.params.id} that you may read`);
        return view;
      },
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof DecisionBody> }>(
      '/v1/follow-ups/:id/decision',
      {
        config: { roles: ['approver'] },
        schema: {
          summary: 'Grant (with the data and the conditions of use) or refuse (with the reason) an incoming follow-up; final, recorded, sent back signed',
          tags: ['follow-ups'],
          params: Id,
          body: DecisionBody,
        },
      },
      async (req) => {
        const f = federationOf(node);
        const view = await decideFollowUp(f, req.caller!, req.params.id, req.body);
        f.followUps.kick();
        return view;
      },
    );
  };
}
