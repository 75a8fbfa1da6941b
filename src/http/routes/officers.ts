import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../../errors/index.ts';
import { ROLES } from '../../identity/roles.ts';
import type { NodeContext } from '../../node/node.ts';

const RoleList = Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r))), { minItems: 1, maxItems: ROLES.length, uniqueItems: true });
const NewOfficer = Type.Object(
  {
    reference: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    unit: Type.Optional(Type.String({ maxLength: 200 })),
    roles: RoleList,
  },
  { additionalProperties: false },
);
const SetRoles = Type.Object({ roles: RoleList }, { additionalProperties: false });
const NewToken = Type.Object(
  {
    label: Type.Optional(Type.String({ maxLength: 200 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
const IdParam = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,15}$' }) });

const tags = ['officers'];

export function officerRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/me', { config: { roles: [] }, schema: { summary: 'The calling officer', tags } }, async (req) => {
      return node.officers.get(req.caller!.officerId);
    });

    app.get(
      '/v1/officers/authorised',
      {
        config: { roles: ['supervisor', 'admin'] },
        schema: {
          summary: 'Officers specially authorised to carry out automated searches (Prüm Decision Art. 30(2)(a))',
          description: 'The list that supervisory authorities and other Member States may ask for.',
          tags,
        },
      },
      async () => ({ country: node.country, officers: await node.officers.listAuthorised() }),
    );

    app.get('/v1/officers', { config: { roles: ['admin'] }, schema: { summary: 'All officers', tags } }, async () => ({ officers: await node.officers.list() }));

    app.post<{ Body: Static<typeof NewOfficer> }>('/v1/officers', { config: { roles: ['admin'] }, schema: { summary: 'Create an officer', tags, body: NewOfficer } }, async (req, reply) => {
      const officer = await node.officers.create(req.body);
      return reply.code(201).send(officer);
    });

    app.put<{ Params: Static<typeof IdParam>; Body: Static<typeof SetRoles> }>(
      '/v1/officers/:id/roles',
      { config: { roles: ['admin'] }, schema: { summary: "Set an officer's roles", tags, params: IdParam, body: SetRoles } },
      async (req) => node.officers.setRoles(Number(req.params.id), req.body.roles),
    );

    app.post<{ Params: Static<typeof IdParam> }>(
      '/v1/officers/:id/deactivate',
      { config: { roles: ['admin'] }, schema: { summary: 'Deactivate an officer and revoke all their tokens', tags, params: IdParam } },
      async (req) => node.officers.deactivate(Number(req.params.id)),
    );

    app.get<{ Params: Static<typeof IdParam> }>(
      '/v1/officers/:id/tokens',
      { config: { roles: ['admin'] }, schema: { summary: "An officer's tokens (never their secrets)", tags, params: IdParam } },
      async (req) => ({ tokens: await node.officers.listTokens(Number(req.params.id)) }),
    );

    app.post<{ Params: Static<typeof IdParam>; Body: Static<typeof NewToken> | undefined }>(
      '/v1/officers/:id/tokens',
      { config: { roles: ['admin'] }, schema: { summary: 'Issue an API token; the secret is in this answer only', tags, params: IdParam, body: Type.Optional(NewToken) } },
      async (req, reply) => {
        const expiresAt = req.body?.expiresAt ? new Date(req.body.expiresAt) : undefined;
        if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new OpenPrumError('input-invalid', 'expiresAt is not a date-time');
        const issued = await node.officers.issueToken(Number(req.params.id), { label: req.body?.label, expiresAt });
        return reply.code(201).send(issued);
      },
    );

    app.post<{ Params: Static<typeof IdParam> }>(
      '/v1/tokens/:id/revoke',
      { config: { roles: ['admin'] }, schema: { summary: 'Revoke a token at once', tags, params: IdParam } },
      async (req, reply) => {
        await node.officers.revokeToken(Number(req.params.id));
        return reply.code(204).send();
      },
    );
  };
}
