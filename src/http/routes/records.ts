import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { listRecords } from '../../audit/records.ts';
import { OpenPrumError } from '../../errors/index.ts';
import type { NodeContext } from '../../node/node.ts';

const RecordQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Records at or after this time' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Records before this time' })),
    officer: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'Officer id' })),
    outcome: Type.Optional(Type.Union(['hit', 'no-hit', 'refused', 'failed', 'done'].map((o) => Type.Literal(o)))),
    action: Type.Optional(Type.String({ maxLength: 100 })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$', description: 'Page on: records with a greater id' })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: '1-1000, default 100' })),
  },
  { additionalProperties: false },
);

export function recordRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: Static<typeof RecordQuery> }>(
      '/v1/records',
      {
        config: { roles: ['supervisor'] },
        schema: {
          summary: 'The record of supplies and refusals, by period, officer or outcome (Prüm Decision Art. 30(2)(b), (3))',
          description: 'For the data-protection authority. Page with `after` = the last id of a page.',
          tags: ['records'],
          querystring: RecordQuery,
        },
      },
      async (req) => {
        const q = req.query;
        const limit = q.limit ? Number(q.limit) : 100;
        if (limit > 1000) throw new OpenPrumError('input-invalid', 'limit is at most 1000');
        if (q.from && q.to && q.from >= q.to) throw new OpenPrumError('input-invalid', 'from must be before to');
        const records = await listRecords(node.db, {
          from: q.from,
          to: q.to,
          officerId: q.officer ? Number(q.officer) : undefined,
          outcome: q.outcome,
          action: q.action,
          after: q.after ? Number(q.after) : undefined,
          limit,
        });
        const last = records[records.length - 1];
        return { records, next: records.length === limit && last ? `after=${last.id}` : null };
      },
    );
  };
}
