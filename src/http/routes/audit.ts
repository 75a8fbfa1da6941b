/**
 * The audit log for the data-protection authority (Prüm Decision Art. 30(3), (5)): signed tree heads,
 * inclusion and consistency proofs (RFC 9162 §2.1.3-4), exports of any period, random checks and
 * their results. Thin: parse, authorise, call src/audit, answer.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { CHECK_RESULTS, drawSample, listChecks, recordCheck } from '../../audit/checks.ts';
import { openExport } from '../../audit/export.ts';
import { signedTreeHeadToJson, toHex } from '../../audit/merkle/index.ts';
import { consistencyProof, inclusionProof, latestHead } from '../../audit/store.ts';
import { listFollowedLogs, listReceivedCosignatures, listWitnessAlarms } from '../../audit/witness-network.ts';
import { OpenPrumError } from '../../errors/index.ts';
import type { NodeContext } from '../../node/node.ts';

const Index = (description: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$', description });
const Time = (description: string) => Type.String({ format: 'date-time', description });

const InclusionQuery = Type.Object(
  { index: Index('Log index of the entry'), treeSize: Type.Optional(Index('Size of the tree (a signed head); default: the latest head')) },
  { additionalProperties: false },
);
const ConsistencyQuery = Type.Object(
  { from: Index('Earlier tree size'), to: Type.Optional(Index('Later tree size; default: the latest head')) },
  { additionalProperties: false },
);
const ExportQuery = Type.Object(
  {
    from: Type.Optional(Time('Records recorded at or after this time')),
    to: Type.Optional(Time('Records recorded before this time')),
    since: Type.Optional(Index('A tree size you hold a head of: the export proves the log consistent with it')),
  },
  { additionalProperties: false },
);
const CheckBody = Type.Object(
  {
    recordId: Type.Integer({ minimum: 1, description: 'The record checked' }),
    result: Type.Union(CHECK_RESULTS.map((r) => Type.Literal(r)), { description: 'Whether the supply was lawful' }),
    findings: Type.Optional(Type.String({ maxLength: 4000, description: 'What was examined and found' })),
  },
  { additionalProperties: false, examples: [{ recordId: 42, result: 'lawful', findings: 'Reason and order match case file 2026/17' }] },
);
const ChecksQuery = Type.Object(
  {
    from: Type.Optional(Time('Checks at or after this time')),
    to: Type.Optional(Time('Checks before this time')),
    record: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'Record id' })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$', description: 'Page on: checks with a greater id' })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: '1-1000, default 100' })),
  },
  { additionalProperties: false },
);
const SampleQuery = Type.Object(
  {
    n: Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: 'How many records to draw (1-100)' }),
    from: Type.Optional(Time('Records recorded at or after this time')),
    to: Type.Optional(Time('Records recorded before this time')),
  },
  { additionalProperties: false },
);

const LimitQuery = Type.Object(
  { limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: '1-1000, default 100' })) },
  { additionalProperties: false },
);
const AlarmsQuery = Type.Object(
  { after: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$', description: 'Alarms with a greater id' })) },
  { additionalProperties: false },
);

const supervisor = { roles: ['supervisor'] as const };

async function currentHead(node: NodeContext) {
  const stored = await latestHead(node.db);
  if (!stored) throw new OpenPrumError('audit-log-empty', 'The audit log has no signed tree head yet; the sequencer signs one within a second of the first record.');
  return stored.head;
}

export function auditRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/audit/tree-heads/latest',
      {
        config: supervisor,
        schema: {
          summary: 'The latest signed tree head of the record, with peers\' countersignatures (RFC 9162 §4.10)',
          description: 'Ed25519 over the encoding of src/audit/merkle/tree-head.ts; binary fields in lowercase hex.',
          tags: ['audit'],
        },
      },
      async () => signedTreeHeadToJson(await currentHead(node)),
    );

    app.get<{ Querystring: Static<typeof InclusionQuery> }>(
      '/v1/audit/proofs/inclusion',
      { config: supervisor, schema: { summary: 'Inclusion proof of one entry in a signed tree (RFC 9162 §2.1.3)', tags: ['audit'], querystring: InclusionQuery } },
      async (req) => {
        const treeSize = req.query.treeSize !== undefined ? Number(req.query.treeSize) : (await currentHead(node)).treeSize;
        const p = await inclusionProof(node.db, Number(req.query.index), treeSize);
        return { index: p.index, treeSize: p.treeSize, leafHash: toHex(p.leafHash), proof: p.proof.map(toHex) };
      },
    );

    app.get<{ Querystring: Static<typeof ConsistencyQuery> }>(
      '/v1/audit/proofs/consistency',
      { config: supervisor, schema: { summary: 'Consistency proof between two tree sizes (RFC 9162 §2.1.4)', tags: ['audit'], querystring: ConsistencyQuery } },
      async (req) => {
        const from = Number(req.query.from);
        const to = req.query.to !== undefined ? Number(req.query.to) : (await currentHead(node)).treeSize;
        if (from > to) throw new OpenPrumError('input-invalid', 'from must not be larger than to', { field: 'from' });
        return { from, to, proof: (await consistencyProof(node.db, from, to)).map(toHex) };
      },
    );

    app.get<{ Querystring: Static<typeof ExportQuery> }>(
      '/v1/audit/export',
      {
        config: supervisor,
        schema: {
          summary: 'Export the records of any period with their log entries, leaf hashes, the signed head and proofs (Prüm Decision Art. 30(3))',
          description:
            'Streamed JSON (format openprum/audit-export/v1), verifiable offline with `openprum audit verify FILE --public-key KEY.pem`. ' +
            'Without from/to: the whole log. The export is recorded.',
          tags: ['audit'],
          querystring: ExportQuery,
        },
      },
      async (req, reply) => {
        const q = req.query;
        const { plan, chunks } = await openExport(node, { from: q.from, to: q.to, sinceSizes: q.since !== undefined ? [Number(q.since)] : [] }, req.caller, req.id);
        const name = `audit-export-${node.country}-${plan.head.treeSize}.json`;
        reply.type('application/json; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`);
        return reply.send(Readable.from(chunks));
      },
    );

    app.post<{ Body: Static<typeof CheckBody> }>(
      '/v1/audit/checks',
      {
        config: supervisor,
        schema: { summary: 'Record the result of a random check on the lawfulness of a supply (Prüm Decision Art. 30(5)); kept 18 months', tags: ['audit'], body: CheckBody },
      },
      async (req, reply) => reply.code(201).send(await recordCheck(node.db, req.caller!, req.body)),
    );

    app.get<{ Querystring: Static<typeof ChecksQuery> }>(
      '/v1/audit/checks',
      { config: supervisor, schema: { summary: 'Results of random checks kept for inspection (Prüm Decision Art. 30(5))', tags: ['audit'], querystring: ChecksQuery } },
      async (req) => {
        const q = req.query;
        const limit = q.limit ? Number(q.limit) : 100;
        if (limit > 1000) throw new OpenPrumError('input-invalid', 'limit is at most 1000', { field: 'limit' });
        const checks = await listChecks(node.db, req.caller!, {
          from: q.from,
          to: q.to,
          recordId: q.record ? Number(q.record) : undefined,
          after: q.after ? Number(q.after) : undefined,
          limit,
        });
        const last = checks[checks.length - 1];
        return { checks, next: checks.length === limit && last ? `after=${last.id}` : null };
      },
    );

    app.get<{ Querystring: Static<typeof LimitQuery> }>(
      '/v1/audit/cosignatures',
      {
        config: supervisor,
        schema: {
          summary: 'Countersignatures peer nodes gave on this node\'s tree heads (RFC 9162 witnessing), newest first',
          description: 'Peers fetch the latest head, check it against the last one they saw with a consistency proof, and send back their countersignature (src/audit/witness-network.ts).',
          tags: ['audit'],
          querystring: LimitQuery,
        },
      },
      async (req) => {
        const limit = req.query.limit ? Number(req.query.limit) : 100;
        if (limit > 1000) throw new OpenPrumError('input-invalid', 'limit is at most 1000', { field: 'limit' });
        return { cosignatures: await listReceivedCosignatures(node.db, limit) };
      },
    );

    app.get(
      '/v1/audit/witness',
      {
        config: supervisor,
        schema: { summary: 'The peers\' audit logs this node witnesses: pinned key, latest head accepted, last check', tags: ['audit'] },
      },
      async () => ({ logs: await listFollowedLogs(node.db), alarms: (await listWitnessAlarms(node.db)).length }),
    );

    app.get<{ Querystring: Static<typeof AlarmsQuery> }>(
      '/v1/audit/alarms',
      {
        config: supervisor,
        schema: {
          summary: 'Alarms raised as a witness: a peer\'s log forked (two heads of one size), rewritten (consistency proof failed), or its key changed; with the signed evidence',
          tags: ['audit'],
          querystring: AlarmsQuery,
        },
      },
      async (req) => ({ alarms: await listWitnessAlarms(node.db, { after: req.query.after ? Number(req.query.after) : 0 }) }),
    );

    app.post<{ Querystring: Static<typeof SampleQuery> }>(
      '/v1/audit/checks/sample',
      {
        config: supervisor,
        schema: {
          summary: 'Draw a random sample of records to check (Prüm Decision Art. 30(5)); the draw is recorded',
          tags: ['audit'],
          querystring: SampleQuery,
        },
      },
      async (req) => {
        const q = req.query;
        if (q.from && q.to && q.from >= q.to) throw new OpenPrumError('input-invalid', 'from must be before to', { field: 'from' });
        return drawSample(node.db, node.country, req.caller!, { n: Number(q.n), from: q.from, to: q.to }, req.id);
      },
    );
  };
}
