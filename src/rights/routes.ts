/**
 * The node's API for data subjects' rights and the supervisor's orders (thin: parse, authorise, call,
 * answer). Registered by the node's HTTP server.
 *
 * | route | roles |
 * | --- | --- |
 * | POST /v1/subject-requests | officer, approver, supervisor (indirect access) |
 * | GET /v1/subject-requests, GET /v1/subject-requests/:id | approver, supervisor |
 * | GET /v1/subject-requests/:id/holdings | approver, supervisor (recorded) |
 * | POST /v1/subject-requests/:id/decision | approver |
 * | GET /v1/blocks; POST /v1/blocks/:id/use | approver, supervisor |
 * | POST /v1/supervision/blocking-orders, /v1/blocks/:id/lift, /v1/supervision/erasure-orders | supervisor |
 */
import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import type { NodeContext } from '../node/node.ts';
import { listBlocks, useBlockedData } from './blocks.ts';
import { linkedSafeguards } from './linked.ts';
import { compileForRequest, decideRequest, getRequest, listRequests, registerRequest, RESTRICTION_GROUNDS, type RightsContext } from './requests.ts';
import type { BlockTargetKind } from './schema.ts';
import { rightsSettingsOf } from './settings.ts';
import { SubjectIdentifiers } from './subject.ts';
import { liftBlock, orderBlocking, orderErasure, syncIndexes } from './supervision.ts';

const Str = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, description });
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
const Target = Type.Union([Type.Literal('vehicle'), Type.Literal('dna-profile'), Type.Literal('fingerprint-person')], {
  description: 'vehicle (ref: the VIN), dna-profile or fingerprint-person (ref: the reference)',
});

const RegisterBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('access'), Type.Literal('rectification'), Type.Literal('erasure'), Type.Literal('blocking')]),
    channel: Type.Optional(Type.Union([Type.Literal('direct'), Type.Literal('supervisory-authority')], { description: 'supervisory-authority: indirect access (Directive (EU) 2016/680 Art. 17)' })),
    subject: SubjectIdentifiers,
    identityChecked: Str(500, 'How the proof of identity was checked (Prüm Decision Art. 31(1))'),
    details: Str(4000, 'What the person asks; for rectification what is wrong and what is right'),
    contact: Str(500, 'Where the written answer goes'),
    receivedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the request was received (default: now); the due time runs from it' })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        kind: 'access',
        subject: { surname: 'Schmidt', firstNames: 'Karl', birthDate: '1975-05-06', vins: ['WVWZZZ1KZAW000001'] },
        identityChecked: 'Passport C01X00T47 shown at the desk',
        details: 'Which data about me were exchanged with other states?',
        contact: 'K. Schmidt, Lindenstraße 5, 10969 Berlin',
      },
    ],
  },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('granted'), Type.Literal('partly-granted'), Type.Literal('refused')])),
    overdue: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1-999, default 100' })),
  },
  { additionalProperties: false },
);

const Changes = Type.Object(
  {
    surname: Type.Optional(Str(200, 'Natural holder')),
    firstNames: Type.Optional(Str(200, 'Natural holder')),
    birthDate: Type.Optional(Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' })),
    address: Type.Optional(Str(500, 'Holder')),
    name: Type.Optional(Str(300, 'Legal holder')),
  },
  { additionalProperties: false },
);

const DecisionBody = Type.Object(
  {
    outcome: Type.Union([Type.Literal('granted'), Type.Literal('partly-granted'), Type.Literal('refused')]),
    legalBasis: Str(500, 'The national provision applied'),
    withhold: Type.Optional(Type.Array(Str(200, 'Item id'), { maxItems: 200, description: 'Access, partly granted: items not disclosed' })),
    actions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            item: Str(200, 'Item id (from GET …/holdings)'),
            action: Type.Union([Type.Literal('rectify'), Type.Literal('erase'), Type.Literal('block')]),
            changes: Type.Optional(Changes),
            allowedPurpose: Type.Optional(Str(500, 'block: the purpose that prevents erasure; the only use left (Prüm Decision Art. 28(3))')),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100 },
      ),
    ),
    restriction: Type.Optional(Type.String({ enum: Object.keys(RESTRICTION_GROUNDS), description: 'A ground of FD 2008/977 Art. 17(2)(a)-(e)' })),
    reasons: Type.Optional(Str(4000, 'The factual or legal reasons of a refusal or restriction')),
    withholdReasons: Type.Optional(Type.Boolean({ description: 'Do not communicate the reasons (FD 2008/977 Art. 17(3); needs a restriction ground)' })),
    note: Type.Optional(Str(4000, 'Internal note, recorded, not in the answer')),
  },
  {
    additionalProperties: false,
    examples: [
      { outcome: 'granted', legalBasis: 'Art. 25 Wet politiegegevens' },
      { outcome: 'partly-granted', legalBasis: '§ 57 BDSG', withhold: ['follow-up:…'], restriction: 'inquiries', withholdReasons: true },
      { outcome: 'granted', legalBasis: 'Art. 28 Wpg', actions: [{ item: 'vehicle:WVWZZZ1KZAW000001', action: 'rectify', changes: { address: 'Hauptstraße 1, 10115 Berlin' } }] },
    ],
  },
);

const BlocksQuery = Type.Object(
  {
    active: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })),
  },
  { additionalProperties: false },
);

const UseBody = Type.Object(
  { purpose: Str(500, 'The purpose of this use; must be the block\'s allowed purpose'), reason: Str(2000, 'Why, recorded') },
  { additionalProperties: false },
);

const BlockingOrderBody = Type.Object(
  {
    target: Type.Object(
      {
        kind: Type.Union([Target, Type.Literal('received')], { description: 'vehicle, dna-profile, fingerprint-person; or received (data received from another state: ref is the id of GET /v1/received-data)' }),
        ref: Str(64, 'VIN, reference, or received item id'),
      },
      { additionalProperties: false },
    ),
    allowedPurpose: Str(500, 'The purpose that prevented erasure: the only use left (Prüm Decision Art. 28(3))'),
    order: Str(200, 'Reference of the authority\'s decision'),
    reason: Str(2000, 'Why'),
    authority: Type.Optional(Str(200, 'The authority that ordered (default: the supervisor)')),
  },
  { additionalProperties: false, examples: [{ target: { kind: 'vehicle', ref: 'WVWZZZ1KZAW000001' }, allowedPurpose: 'Evidence in complaint AP-2026-0042', order: 'AP-2026-0042', reason: 'Holder disputes the registration; kept as evidence' }] },
);

const LiftBody = Type.Object(
  { order: Str(200, 'Reference of the authority\'s decision'), reason: Str(2000, 'Why'), authority: Type.Optional(Str(200, 'The authority')) },
  { additionalProperties: false },
);

const ErasureOrderBody = Type.Object(
  {
    target: Type.Union([
      Type.Object({ kind: Type.Literal('records'), recordIds: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
      Type.Object({ kind: Target, ref: Str(64, 'VIN or reference') }, { additionalProperties: false }),
      Type.Object({ kind: Type.Literal('block'), id: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
      Type.Object({ kind: Type.Literal('received'), id: Type.String({ maxLength: 64, description: 'Data received from another state (src/safeguards item id)' }) }, { additionalProperties: false }),
    ]),
    order: Str(200, 'Reference of the authority\'s decision'),
    reason: Str(2000, 'Why'),
    authority: Type.Optional(Str(200, 'The authority (default: the supervisor)')),
  },
  { additionalProperties: false, examples: [{ target: { kind: 'records', recordIds: [42] }, order: 'AP-2026-0043', reason: 'Unlawful search' }] },
);

export function rightsRoutes(node: NodeContext): FastifyPluginAsync {
  const linked = linkedSafeguards(node);
  const ctx = (): RightsContext => ({ db: node.db, country: node.country, settings: rightsSettingsOf(node), linked });
  return async (app) => {
    app.post<{ Body: Static<typeof RegisterBody> }>(
      '/v1/subject-requests',
      {
        config: { roles: ['officer', 'approver', 'supervisor'] },
        schema: {
          summary: 'Register a data subject\'s request: access, rectification, erasure or blocking (Prüm Decision Art. 31; FD 2008/977 Arts. 17-18); recorded, due within the national period',
          tags: ['data subjects'],
          body: RegisterBody,
        },
      },
      async (req, reply) => reply.code(201).send(await registerRequest(ctx(), req.caller!, req.body, req.id)),
    );

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/v1/subject-requests',
      {
        config: { roles: ['approver', 'supervisor'] },
        schema: { summary: 'Data subjects\' requests, earliest due first, with due time and overdue flag', tags: ['data subjects'], querystring: ListQuery },
      },
      async (req) => {
        const q = req.query;
        const settings = rightsSettingsOf(node);
        const requests = await listRequests(ctx(), { status: q.status, overdue: q.overdue === undefined ? undefined : q.overdue === 'true', limit: q.limit ? Number(q.limit) : undefined });
        return { requests, answerDays: settings.answerDays, supervisoryAuthorityConfigured: settings.configured };
      },
    );

    app.get<{ Params: Static<typeof Id> }>(
      '/v1/subject-requests/:id',
      { config: { roles: ['approver', 'supervisor'] }, schema: { summary: 'A data subject\'s request, its decision and the written answer', tags: ['data subjects'], params: Id } },
      async (req) => getRequest(ctx(), req.params.id),
    );

    app.get<{ Params: Static<typeof Id> }>(
      '/v1/subject-requests/:id/holdings',
      {
        config: { roles: ['approver', 'supervisor'] },
        schema: {
          summary: 'What is held about the person: data, origin, recipients, purpose, legal basis, and the records mentioning it (recorded)',
          tags: ['data subjects'],
          params: Id,
        },
      },
      async (req) => compileForRequest(ctx(), req.caller!, req.params.id, req.id),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof DecisionBody> }>(
      '/v1/subject-requests/:id/decision',
      {
        config: { roles: ['approver'] },
        schema: {
          summary: 'Decide a request: the written answer (data disclosed, or actions carried out, or refusal with reasons and where to appeal); recorded',
          tags: ['data subjects'],
          params: Id,
          body: DecisionBody,
        },
      },
      async (req) => {
        const decided = await decideRequest(ctx(), req.caller!, req.params.id, { ...req.body, restriction: req.body.restriction as never }, req.id);
        const kinds = (req.body.actions ?? []).map((a) => a.item.split(':')[0]).filter((k): k is BlockTargetKind => k === 'dna-profile' || k === 'fingerprint-person');
        await syncIndexes(node, kinds);
        return decided;
      },
    );

    app.get<{ Querystring: Static<typeof BlocksQuery> }>(
      '/v1/blocks',
      { config: { roles: ['approver', 'supervisor'] }, schema: { summary: 'Blocked data (without the data), newest first', tags: ['data subjects', 'supervision'], querystring: BlocksQuery } },
      async (req) => ({ blocks: await listBlocks(node.db, { active: req.query.active === undefined ? undefined : req.query.active === 'true', limit: req.query.limit ? Number(req.query.limit) : undefined }) }),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof UseBody> }>(
      '/v1/blocks/:id/use',
      {
        config: { roles: ['approver', 'supervisor'] },
        schema: {
          summary: 'Use blocked data: only for the purpose that prevented their erasure (Prüm Decision Art. 28(3)); recorded, and refused (403 data-blocked, recorded) for any other',
          tags: ['data subjects', 'supervision'],
          params: Id,
          body: UseBody,
        },
      },
      async (req) => useBlockedData(node.db, node.country, req.caller!, req.params.id, req.body),
    );

    app.post<{ Body: Static<typeof BlockingOrderBody> }>(
      '/v1/supervision/blocking-orders',
      {
        config: { roles: ['supervisor'] },
        schema: {
          summary: 'Order the blocking of an item of a national file (FD 2008/977 Art. 25(2)(b)): out of every search, usable only for the purpose named; recorded',
          tags: ['supervision'],
          body: BlockingOrderBody,
        },
      },
      async (req, reply) => reply.code(201).send(await orderBlocking(node, req.caller!, req.body)),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof LiftBody> }>(
      '/v1/blocks/:id/lift',
      { config: { roles: ['supervisor'] }, schema: { summary: 'Lift a block: the item goes back into its file; recorded', tags: ['supervision'], params: Id, body: LiftBody } },
      async (req) => liftBlock(node, req.caller!, req.params.id, req.body),
    );

    app.post<{ Body: Static<typeof ErasureOrderBody> }>(
      '/v1/supervision/erasure-orders',
      {
        config: { roles: ['supervisor'] },
        schema: {
          summary: 'Order the erasure of records (the log stays verifiable), of an item of a national file, or of blocked data (FD 2008/977 Art. 25(2)(b)); recorded',
          tags: ['supervision'],
          body: ErasureOrderBody,
        },
      },
      async (req) => orderErasure(node, req.caller!, req.body),
    );
  };
}
