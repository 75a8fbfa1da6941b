/**
 * The node's own API for notices and diffusions (thin: parse, authorise, call the capability,
 * answer), and the public extracts without authentication. Registered by the node's HTTP server; the
 * acts answer 503 federation-not-configured while the node runs without its federation (the public
 * extracts and the rules work without it).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import type { Federation } from '../exchange/federation.ts';
import type { NodeContext } from '../node/node.ts';
import { changeRules, currentRules } from './rules.ts';
import { FeedImportInput, importFeed, MAX_RESULTS_PER_PAGE, publicDetail, publicImage, publicImages, publicList, ScreeningInput, screen, type PublicQuery, type PublicType } from './public.ts';
import { DataRequestDecision, DataRequestInput, decideDataRequest, getDataRequest, listDataRequests, registerDataRequest } from './requests.ts';
import { addFlag, cancel, changeSupervision, FlagInput, listFlags, removeFlag, renew, review, ReviewInput, reviewTasks, supervisionView, SupervisionInput } from './review.ts';
import { createDraft, getNotice, listNotices, NoticeInput, NoticeUpdate, submit, updateDraft, withdraw } from './service.ts';
import { requireSecretariat, secretariatOf } from './settings.ts';
import { noticeWorkerOf } from './worker.ts';

function federationOf(node: NodeContext): Federation {
  if (!node.federation) throw new OpenPrumError('federation-not-configured', 'This node runs without the federation: issue it a certificate (openprum pki issue) and restart it');
  return node.federation;
}

/** Runs an act that queues messages, then wakes the notice worker. */
async function acting<T>(node: NodeContext, run: (f: Federation) => Promise<T>): Promise<T> {
  const f = federationOf(node);
  const out = await run(f);
  noticeWorkerOf(f)?.kick();
  return out;
}

const Id = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
const Note = Type.Object({ note: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
const Reason = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false });
const ListQuery = Type.Object(
  {
    kind: Type.Optional(Type.Union([Type.Literal('notice'), Type.Literal('diffusion')])),
    status: Type.Optional(Type.String({ pattern: '^[a-z-]{1,20}$' })),
    heldAs: Type.Optional(Type.Union([Type.Literal('requester'), Type.Literal('secretariat'), Type.Literal('recipient')])),
    type: Type.Optional(Type.String({ pattern: '^[a-z]{2,6}$' })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1-500, default 50' })),
  },
  { additionalProperties: false },
);
const RulesBody = Type.Object({ rules: Type.Unknown(), note: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
const DataRequestsQuery = Type.Object(
  { status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('granted'), Type.Literal('refused')])), overdue: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) },
  { additionalProperties: false },
);
const Int = (desc: string) => Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: desc }));
const PublicQuerySchema = Type.Object(
  {
    forename: Type.Optional(Type.String({ maxLength: 100 })),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    nationality: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$' })),
    ageMin: Int('minimum age'),
    ageMax: Int('maximum age'),
    sexId: Type.Optional(Type.Union(['F', 'M', 'U', ''].map((s) => Type.Literal(s)))),
    arrestWarrantCountryId: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$' })),
    freeText: Type.Optional(Type.String({ maxLength: 200 })),
    page: Int('from 1'),
    resultPerPage: Int(`1-${MAX_RESULTS_PER_PAGE}`),
  },
  { additionalProperties: false },
);
const PublicId = Type.Object({ id: Type.String({ maxLength: 20 }) }, { additionalProperties: false });
const PictureId = Type.Object({ id: Type.String({ maxLength: 20 }), picture: Type.String({ maxLength: 10 }) }, { additionalProperties: false });

function publicQuery(q: Static<typeof PublicQuerySchema>): PublicQuery {
  const n = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  return {
    forename: q.forename || undefined,
    name: q.name || undefined,
    nationality: q.nationality || undefined,
    ageMin: n(q.ageMin),
    ageMax: n(q.ageMax),
    sexId: q.sexId || undefined,
    arrestWarrantCountryId: q.arrestWarrantCountryId || undefined,
    freeText: q.freeText || undefined,
    page: n(q.page),
    resultPerPage: n(q.resultPerPage),
  };
}

const baseOf = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

export function noticeRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    const tags = ['notices'];
    // Attachments make notice bodies larger than searches.
    const bodyLimit = 3 * 1024 * 1024;

    app.post<{ Body: Static<typeof NoticeInput> }>(
      '/v1/notices',
      { bodyLimit, config: { roles: ['officer'] }, schema: { summary: 'Draft a notice request or a diffusion (nothing is sent yet)', tags, body: NoticeInput } },
      async (req, reply) => {
        const view = await createDraft(federationOf(node), req.caller!, req.body);
        return reply.code(201).header('location', `/v1/notices/${view.id}`).send(view);
      },
    );

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/v1/notices',
      { config: { roles: ['officer', 'reviewer', 'supervisor'] }, schema: { summary: 'Notices and diffusions this node holds (the secretariat\'s review queue: heldAs=secretariat&status=pending-review)', tags, querystring: ListQuery } },
      async (req) => ({ notices: await listNotices(federationOf(node), req.caller!, { ...req.query, limit: req.query.limit ? Number(req.query.limit) : 50 }) }),
    );

    app.get(
      '/v1/notices/review-tasks',
      { config: { roles: ['reviewer'] }, schema: { summary: 'Secretariat: published notices due for review (six months before their validity ends)', tags } },
      async (req) => ({ notices: await reviewTasks(federationOf(node), req.caller!) }),
    );

    app.get(
      '/v1/notices/rules',
      { config: { roles: [] }, schema: { summary: 'The review rules in force (criteria, excluded offences, Art. 3 indicators, reason codes) and their version', tags } },
      async () => currentRules(node.db),
    );

    app.put<{ Body: Static<typeof RulesBody> }>(
      '/v1/notices/rules',
      { config: { roles: ['reviewer'] }, schema: { summary: 'Secretariat: a new version of the review rules (the whole document; recorded)', tags, body: RulesBody } },
      async (req) => {
        requireSecretariat(federationOf(node), 'Editing the review rules');
        return changeRules(node.db, node.country, { officerId: req.caller!.officerId, reference: req.caller!.reference }, req.body.rules, req.body.note);
      },
    );

    app.get(
      '/v1/notices/register',
      { config: { roles: ['reviewer', 'supervisor'] }, schema: { summary: 'Secretariat: the register of refugees, politicians, journalists and activists', tags } },
      async (req) => ({ entries: await listFlags(federationOf(node), req.caller!) }),
    );

    app.post<{ Body: Static<typeof FlagInput> }>(
      '/v1/notices/register',
      { config: { roles: ['reviewer'] }, schema: { summary: 'Secretariat: add a register entry (a refugee names the state they are protected from)', tags, body: FlagInput } },
      async (req, reply) => reply.code(201).send(await addFlag(federationOf(node), req.caller!, req.body)),
    );

    app.post<{ Params: { entry: string }; Body: Static<typeof Note> }>(
      '/v1/notices/register/:entry/removal',
      { config: { roles: ['reviewer'] }, schema: { summary: 'Secretariat: end a register entry', tags, params: Type.Object({ entry: Type.String({ pattern: '^[0-9]{1,12}$' }) }, { additionalProperties: false }), body: Note } },
      async (req) => removeFlag(federationOf(node), req.caller!, Number(req.params.entry), req.body.note),
    );

    app.get(
      '/v1/notices/supervision',
      { config: { roles: [] }, schema: { summary: 'States under supervision and every measure taken (as this node knows them)', tags } },
      async () => ({ secretariat: node.federation ? secretariatOf(node.federation) : null, states: await supervisionView(node.db) }),
    );

    app.post<{ Body: Static<typeof SupervisionInput> }>(
      '/v1/notices/supervision',
      { config: { roles: ['admin'] }, schema: { summary: 'Secretariat: place a state under supervision, change the measure or lift it (recorded, sent to every node)', tags, body: SupervisionInput } },
      async (req) => acting(node, (f) => changeSupervision(f, req.caller!, req.body)),
    );

    app.get<{ Querystring: Static<typeof DataRequestsQuery> }>(
      '/v1/notices/data-requests',
      { config: { roles: ['supervisor'] }, schema: { summary: 'Secretariat: requests of persons about notice data, with their due dates', tags, querystring: DataRequestsQuery } },
      async (req) => ({ requests: await listDataRequests(federationOf(node), req.caller!, { status: req.query.status, overdue: req.query.overdue === undefined ? undefined : req.query.overdue === 'true' }) }),
    );

    app.post<{ Body: Static<typeof DataRequestInput> }>(
      '/v1/notices/data-requests',
      { config: { roles: ['supervisor'] }, schema: { summary: 'Secretariat: register a request for access (due in 4 months), correction or deletion (9 months)', tags, body: DataRequestInput } },
      async (req, reply) => reply.code(201).send(await registerDataRequest(federationOf(node), req.caller!, req.body)),
    );

    app.get<{ Params: Static<typeof Id> }>(
      '/v1/notices/data-requests/:id',
      { config: { roles: ['supervisor'] }, schema: { summary: 'A request about notice data', tags, params: Id } },
      async (req) => {
        const v = await getDataRequest(federationOf(node), req.caller!, req.params.id);
        if (!v) throw new OpenPrumError('notice-unknown', `No request about notice data ${req.params.id}`);
        return v;
      },
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof DataRequestDecision> }>(
      '/v1/notices/data-requests/:id/decision',
      { config: { roles: ['supervisor'] }, schema: { summary: 'Secretariat: grant or refuse; a granted deletion or correction reaches every node', tags, params: Id, body: DataRequestDecision } },
      async (req) => acting(node, (f) => decideDataRequest(f, req.caller!, req.params.id, req.body)),
    );

    app.post<{ Body: Static<typeof ScreeningInput> }>(
      '/v1/notices/screening',
      { config: { roles: ['officer'] }, schema: { summary: 'Screen a name against the notices and diffusions held (trusted) and imported public feeds (untrusted); recorded', tags, body: ScreeningInput } },
      async (req) => screen(node.db, node.country, req.caller!, req.body),
    );

    app.post<{ Body: Static<typeof FeedImportInput> }>(
      '/v1/notices/feeds',
      { bodyLimit: 64 * 1024 * 1024, config: { roles: ['admin'] }, schema: { summary: 'Import a public notices feed (JSON of /notices/v1/red etc.) as an untrusted screening source; all or nothing', tags, body: FeedImportInput } },
      async (req, reply) => reply.code(201).send(await importFeed(node.db, node.country, req.caller!, req.body)),
    );

    app.get<{ Params: Static<typeof Id> }>(
      '/v1/notices/:id',
      { config: { roles: ['officer', 'reviewer', 'supervisor'] }, schema: { summary: 'A notice or diffusion: its content, status, decisions, deliveries; at the secretariat, the review assistance', tags, params: Id } },
      async (req) => {
        const v = await getNotice(federationOf(node), req.caller!, req.params.id);
        if (!v) throw new OpenPrumError('notice-unknown', `No notice or diffusion ${req.params.id} that you may read`);
        return v;
      },
    );

    app.put<{ Params: Static<typeof Id>; Body: Static<typeof NoticeUpdate> }>(
      '/v1/notices/:id',
      { bodyLimit, config: { roles: ['officer'] }, schema: { summary: 'Change a draft, or a notice returned for completion', tags, params: Id, body: NoticeUpdate } },
      async (req) => updateDraft(federationOf(node), req.caller!, req.params.id, req.body),
    );

    app.post<{ Params: Static<typeof Id> }>(
      '/v1/notices/:id/submit',
      { config: { roles: ['officer'] }, schema: { summary: 'Submit a notice to the secretariat, or issue a diffusion (held for review while the state is under supervision)', tags, params: Id } },
      async (req, reply) => reply.code(202).send(await acting(node, (f) => submit(f, req.caller!, req.params.id))),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof Reason> }>(
      '/v1/notices/:id/withdraw',
      { config: { roles: ['officer'] }, schema: { summary: 'Withdraw this state\'s notice (cancelled on every node) or diffusion (deleted by every recipient)', tags, params: Id, body: Reason } },
      async (req) => acting(node, (f) => withdraw(f, req.caller!, req.params.id, req.body.reason)),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof ReviewInput> }>(
      '/v1/notices/:id/review',
      {
        config: { roles: ['reviewer'] },
        schema: {
          summary: 'Secretariat: decide on a request: publish / return / refuse (notice); compliant / withdraw (diffusion); release / refuse (held diffusion)',
          description: 'Reason codes come from the review rules. Publishing or releasing despite findings of the review assistance needs a justification; a refugee with respect to the requesting state blocks it.',
          tags,
          params: Id,
          body: ReviewInput,
        },
      },
      async (req) => acting(node, (f) => review(f, req.caller!, req.params.id, req.body)),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof Note> }>(
      '/v1/notices/:id/cancel',
      { config: { roles: ['reviewer'] }, schema: { summary: 'Secretariat: cancel a notice or diffusion on every node', tags, params: Id, body: Note } },
      async (req) => acting(node, (f) => cancel(f, req.caller!, req.params.id, req.body.note)),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof Note> }>(
      '/v1/notices/:id/renew',
      { config: { roles: ['reviewer'] }, schema: { summary: 'Secretariat: after its review, extend a published notice by five years', tags, params: Id, body: Note } },
      async (req) => acting(node, (f) => renew(f, req.caller!, req.params.id, req.body.note)),
    );

    // --- public extracts, in the shape of INTERPOL's public notices web service -------------------
    const publicSchema = { security: [], tags: ['public notices'] };
    for (const type of ['red', 'yellow', 'un'] as PublicType[]) {
      const detail = type === 'un' ? '/notices/v1/un/persons/:id' : `/notices/v1/${type}/:id`;
      app.get<{ Querystring: Static<typeof PublicQuerySchema> }>(
        `/notices/v1/${type}`,
        { schema: { ...publicSchema, summary: `Public extracts of published ${type} notices (no authentication)`, querystring: PublicQuerySchema } },
        async (req) => publicList(node.db, node.country, type, publicQuery(req.query), baseOf(req)),
      );
      app.get<{ Params: Static<typeof PublicId> }>(detail, { schema: { ...publicSchema, summary: `A public ${type} notice extract`, params: PublicId } }, async (req) => publicDetail(node.db, node.country, type, req.params.id, baseOf(req)));
      app.get<{ Params: Static<typeof PublicId> }>(`${detail}/images`, { schema: { ...publicSchema, summary: `The photographs of a public ${type} notice`, params: PublicId } }, async (req) => publicImages(node.db, type, req.params.id, baseOf(req)));
      app.get<{ Params: Static<typeof PictureId> }>(`${detail}/images/:picture`, { schema: { ...publicSchema, summary: 'One photograph', params: PictureId } }, async (req, reply) => {
        const img = await publicImage(node.db, node.country, type, req.params.id, req.params.picture);
        return reply.type(img.mediaType).send(img.bytes);
      });
    }
  };
}
