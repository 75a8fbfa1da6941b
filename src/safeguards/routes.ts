/**
 * The node's API for the safeguards on received and supplied data (thin: parse, authorise, call,
 * answer). Registered by the node's HTTP server with one line; while the server listens it also runs
 * the deadline job (deadlines.ts), and stops it when the server closes.
 */
import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { Country } from '../exchange/messages.ts';
import { hasRole, requireRole } from '../identity/caller.ts';
import type { NodeContext } from '../node/node.ts';
import { decideConsent, getConsent, listConsents, recordSubjectConsent, requestConsent } from './consent.ts';
import { safeguardsContext } from './context.ts';
import { correctSuppliedData, flagContested, type CorrectionInput } from './corrections.ts';
import { blockInsteadOfErasure, closeCase, decideReview, endReceivedItem, listReviews, startDeadlineJob, type DeadlineJob } from './deadlines.ts';
import { listItems } from './items.ts';
import { CORRECTION_ACTIONS, RECIPIENT_TYPES } from './messages.ts';
import { ADEQUACY_BASES, PRIVATE_PARTY_TASKS, transferReceivedData } from './transfers.ts';
import { getReceivedItem, GROUNDS, mayReadItems, useReceivedData } from './use.ts';

const Id = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
const ReviewId = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,15}$' }) }, { additionalProperties: false });
const CaseParam = Type.Object({ caseReference: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
const Purpose = Type.String({ minLength: 1, maxLength: 500 });
const CaseReference = Type.String({ minLength: 1, maxLength: 100 });
const Reason = Type.String({ minLength: 1, maxLength: 2000 });
const RecipientBody = Type.Object(
  {
    type: Type.String({ enum: [...RECIPIENT_TYPES] }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    country: Type.Optional(Country),
  },
  { additionalProperties: false },
);

const UseBody = Type.Object(
  {
    purpose: Purpose,
    caseReference: CaseReference,
    ground: Type.String({ enum: [...GROUNDS], description: 'same-purpose; FD 2008/977 Art. 11 (a) other-offences, (b) related-proceedings, (c) public-security-threat, (d) consent; blocked-purpose for blocked data' }),
    justification: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: '(a)-(c): the offence, proceedings or threat, and why the use is necessary and proportionate' })),
    consentId: Type.Optional(Type.String({ maxLength: 64, description: 'ground consent: the consent on record' })),
  },
  { additionalProperties: false, examples: [{ purpose: 'Identify the suspect of case NL-OM-2026-42', caseReference: 'NL-OM-2026-42', ground: 'same-purpose' }] },
);

const ConsentBody = Type.Object(
  {
    scope: Type.String({ enum: ['further-processing', 'onward-transfer'] }),
    purpose: Purpose,
    caseReference: CaseReference,
    reason: Reason,
    recipient: Type.Optional(RecipientBody),
  },
  { additionalProperties: false },
);

const SubjectConsentBody = Type.Object(
  { purpose: Purpose, caseReference: CaseReference, evidence: Type.String({ minLength: 1, maxLength: 2000, description: 'How the data subject gave the consent (e.g. signed statement, its reference)' }) },
  { additionalProperties: false },
);

const TransferBody = Type.Object(
  {
    recipient: RecipientBody,
    purpose: Purpose,
    caseReference: CaseReference,
    ground: Type.String({ enum: ['consent', 'immediate-threat'] }),
    consentId: Type.Optional(Type.String({ maxLength: 64 })),
    necessity: Type.String({ minLength: 1, maxLength: 2000, description: 'FD 2008/977 Art. 13(1)(a) / 14(1)(c): why the transfer is necessary' }),
    recipientCompetent: Type.Optional(Type.Boolean({ description: 'Art. 13(1)(b): the recipient is competent for criminal-justice purposes' })),
    adequacy: Type.Optional(Type.Object({ basis: Type.String({ enum: [...ADEQUACY_BASES] }), statement: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false })),
    threat: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'ground immediate-threat: the threat, and why consent could not be had in time (Art. 13(2))' })),
    privatePartyTask: Type.Optional(Type.String({ enum: [...PRIVATE_PARTY_TASKS] })),
    dataSubjectInterests: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'Art. 14(1)(b)' })),
  },
  { additionalProperties: false },
);

const ContestBody = Type.Object(
  {
    contested: Type.Boolean(),
    note: Type.String({ minLength: 1, maxLength: 2000, description: 'What the data subject contests; or, to lift the flag, why' }),
    basis: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: "Lifting the flag: the data subject's permission or a decision of a court or the data-protection authority" })),
  },
  { additionalProperties: false },
);

const PurposeReasonBody = Type.Object({ purpose: Purpose, reason: Reason }, { additionalProperties: false });
const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });

const ReviewBody = Type.Object(
  {
    decision: Type.String({ enum: ['keep', 'erase', 'block'] }),
    reason: Reason,
    nextReview: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })),
    purpose: Type.Optional(Purpose),
  },
  { additionalProperties: false },
);

const ConsentDecisionBody = Type.Object({ decision: Type.String({ enum: ['grant', 'refuse'] }), reason: Reason }, { additionalProperties: false });

const CorrectionBody = Type.Object(
  {
    subject: Type.Union([
      Type.Object({ type: Type.Literal('follow-up'), followUpId: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
      Type.Object({ type: Type.Literal('vehicle'), vin: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      Type.Object({ type: Type.Literal('dna'), ref: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      Type.Object({ type: Type.Literal('fingerprint'), ref: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
    ]),
    action: Type.String({ enum: [...CORRECTION_ACTIONS] }),
    corrected: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'rectify a follow-up: the data as they should have been supplied' })),
    reason: Reason,
  },
  { additionalProperties: false },
);

const ItemsQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ enum: ['active', 'blocked', 'erased'] })),
    state: Type.Optional(Country),
    case: Type.Optional(CaseReference),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$' })),
  },
  { additionalProperties: false },
);

const ConsentsQuery = Type.Object(
  {
    direction: Type.Optional(Type.String({ enum: ['incoming', 'outgoing'] })),
    status: Type.Optional(Type.String({ enum: ['pending', 'open', 'granted', 'refused', 'rejected', 'failed'] })),
  },
  { additionalProperties: false },
);

const TAGS = ['safeguards'];

export function safeguardRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    const ctx = safeguardsContext(node);

    // The deadline job runs while the node serves (like the audit sequencer), not for inject()-only servers.
    let job: DeadlineJob | undefined;
    app.addHook('onListen', async () => {
      job ??= startDeadlineJob(ctx, { auditNode: node, onError: (err) => app.log.error({ err }, 'safeguards: the deadline job failed') });
    });
    app.addHook('onClose', async () => {
      await job?.stop();
    });

    app.get<{ Querystring: Static<typeof ItemsQuery> }>(
      '/v1/received-data',
      { config: { roles: ['officer', 'supervisor'] }, schema: { summary: 'Personal data received from other states: what they are and what governs their use (never the data; use them with POST …/uses)', tags: TAGS, querystring: ItemsQuery } },
      async (req) => {
        mayReadItems(req.caller!);
        return { items: await listItems(node.db, { status: req.query.status as 'active' | undefined, supplyingState: req.query.state, caseReference: req.query.case, limit: req.query.limit ? Number(req.query.limit) : undefined }) };
      },
    );

    app.get<{ Querystring: { status?: string } }>(
      '/v1/received-data/reviews',
      {
        config: { roles: ['officer', 'supervisor'] },
        schema: { summary: 'Reviews due of received data (FD 2008/977 Arts. 5, 9(1)): tasks for officers', tags: TAGS, querystring: Type.Object({ status: Type.Optional(Type.String({ enum: ['open', 'done'] })) }, { additionalProperties: false }) },
      },
      async (req) => ({ reviews: await listReviews(ctx, req.caller!, (req.query.status ?? 'open') as 'open' | 'done') }),
    );

    app.post<{ Params: Static<typeof ReviewId>; Body: Static<typeof ReviewBody> }>(
      '/v1/received-data/reviews/:id/decision',
      { config: { roles: ['officer'] }, schema: { summary: 'Decide a review: keep (until the next review), erase, or block', tags: TAGS, params: ReviewId, body: ReviewBody } },
      async (req) => decideReview(ctx, req.caller!, Number(req.params.id), req.body as Parameters<typeof decideReview>[3]),
    );

    app.get<{ Params: Static<typeof Id> }>(
      '/v1/received-data/:id',
      { config: { roles: ['officer', 'supervisor'] }, schema: { summary: 'One item of received data: conditions, flags, uses, consents, transfers (not the data)', tags: TAGS, params: Id } },
      async (req) => getReceivedItem(ctx, req.caller!, req.params.id),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof UseBody> }>(
      '/v1/received-data/:id/uses',
      {
        config: { roles: ['officer'] },
        schema: {
          summary: 'Use received data: returned only when the use is lawful (FD 2008/977 Arts. 3, 11; Prüm Decision Arts. 26, 28(3)), with the conditions; every use and refusal recorded',
          tags: TAGS,
          params: Id,
          body: UseBody,
        },
      },
      async (req) => useReceivedData(ctx, req.caller!, req.params.id, req.body as Parameters<typeof useReceivedData>[3]),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof ConsentBody> }>(
      '/v1/received-data/:id/consents',
      { config: { roles: ['officer'] }, schema: { summary: "Ask the supplying state's consent to another purpose or an onward transfer (a signed message; its approver decides)", tags: TAGS, params: Id, body: ConsentBody } },
      async (req, reply) => reply.code(202).send(await requestConsent(ctx, req.caller!, req.params.id, req.body as Parameters<typeof requestConsent>[3])),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof SubjectConsentBody> }>(
      '/v1/received-data/:id/subject-consents',
      { config: { roles: ['officer'] }, schema: { summary: "Record the data subject's consent to another purpose (FD 2008/977 Art. 11(d))", tags: TAGS, params: Id, body: SubjectConsentBody } },
      async (req, reply) => reply.code(201).send(await recordSubjectConsent(ctx, req.caller!, req.params.id, req.body)),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof TransferBody> }>(
      '/v1/received-data/:id/transfers',
      { config: { roles: ['officer'] }, schema: { summary: 'Transfer received data to a third state, an international body or a private party (FD 2008/977 Arts. 13, 14)', tags: TAGS, params: Id, body: TransferBody } },
      async (req, reply) => reply.code(201).send(await transferReceivedData(ctx, req.caller!, req.params.id, req.body as Parameters<typeof transferReceivedData>[3])),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof ContestBody> }>(
      '/v1/received-data/:id/contest',
      { config: { roles: ['officer'] }, schema: { summary: 'Flag (or lift the flag) that the data subject contests the accuracy (Prüm Decision Art. 28(2))', tags: TAGS, params: Id, body: ContestBody } },
      async (req) => {
        await flagContested(ctx, req.caller!, req.params.id, req.body);
        return getReceivedItem(ctx, req.caller!, req.params.id);
      },
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof PurposeReasonBody> }>(
      '/v1/received-data/:id/block-instead-of-erasure',
      { config: { roles: ['officer'] }, schema: { summary: 'Erasure would prejudice the data subject: block instead when erasure comes (Prüm Decision Art. 28(3))', tags: TAGS, params: Id, body: PurposeReasonBody } },
      async (req) => blockInsteadOfErasure(ctx, req.caller!, req.params.id, req.body),
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof ReasonBody> }>(
      '/v1/received-data/:id/erasure',
      { config: { roles: ['officer'] }, schema: { summary: 'No longer needed: erase now (or block instead, if so recorded)', tags: TAGS, params: Id, body: ReasonBody } },
      async (req) => endReceivedItem(ctx, req.caller!, req.params.id, req.body),
    );

    app.post<{ Params: Static<typeof CaseParam>; Body: Static<typeof ReasonBody> }>(
      '/v1/cases/:caseReference/close',
      { config: { roles: ['officer'] }, schema: { summary: 'Close a case: received data used only in closed cases are erased (FD 2008/977 Art. 4(2))', tags: TAGS, params: CaseParam, body: ReasonBody } },
      async (req) => closeCase(ctx, req.caller!, req.params.caseReference, req.body),
    );

    app.get<{ Querystring: Static<typeof ConsentsQuery> }>(
      '/v1/consents',
      { config: { roles: ['officer', 'approver', 'supervisor'] }, schema: { summary: 'Consent requests: asked of this node (approvers), asked or recorded by this node (officers)', tags: TAGS, querystring: ConsentsQuery } },
      async (req) => ({ consents: await listConsents(ctx, req.caller!, { direction: req.query.direction as 'incoming' | undefined, status: req.query.status }) }),
    );

    app.get<{ Params: Static<typeof Id> }>(
      '/v1/consents/:id',
      { config: { roles: ['officer', 'approver', 'supervisor'] }, schema: { summary: 'One consent request', tags: TAGS, params: Id } },
      async (req) => {
        const c = await getConsent(ctx, req.caller!, req.params.id);
        if (!c) throw new OpenPrumError('not-found', `No consent ${req.params.id} that you may read`);
        return c;
      },
    );

    app.post<{ Params: Static<typeof Id>; Body: Static<typeof ConsentDecisionBody> }>(
      '/v1/consents/:id/decision',
      { config: { roles: ['approver'] }, schema: { summary: "Grant or refuse another state's request for consent (final, recorded, answered signed)", tags: TAGS, params: Id, body: ConsentDecisionBody } },
      async (req) => decideConsent(ctx, req.caller!, req.params.id, req.body as Parameters<typeof decideConsent>[3]),
    );

    app.post<{ Body: Static<typeof CorrectionBody> }>(
      '/v1/supplied-data/corrections',
      {
        config: { roles: ['approver'] },
        schema: { summary: 'Data this node supplied were wrong, should not have been supplied, or are contested: every recipient is notified (Prüm Decision Art. 28(1), (2))', tags: TAGS, body: CorrectionBody },
      },
      async (req, reply) => reply.code(202).send(await correctSuppliedData(ctx, req.caller!, req.body as CorrectionInput)),
    );

    app.get(
      '/v1/supplied-data/corrections',
      { config: { roles: ['approver', 'supervisor'] }, schema: { summary: 'Corrections of supplied data sent, with their delivery', tags: TAGS } },
      async (req) => {
        requireRole(req.caller!, 'approver', 'supervisor');
        const rows = await node.db
          .selectFrom('supplied_corrections as c')
          .leftJoin('safeguard_deliveries as d', 'd.message_id', 'c.message_id')
          .select(['c.id', 'c.corrected_at', 'c.subject', 'c.action', 'c.reason', 'c.recipient_state', 'c.about', 'c.officer_reference', 'c.record_id', 'd.status', 'd.attempts', 'd.last_error'])
          .orderBy('c.corrected_at', 'desc')
          .limit(500)
          .execute();
        return { corrections: rows.map((r) => ({ id: r.id, correctedAt: r.corrected_at, subject: r.subject, action: r.action, reason: r.reason, recipientState: r.recipient_state, about: r.about, officer: r.officer_reference, recordId: r.record_id, delivery: { status: r.status, attempts: r.attempts, error: r.last_error } })) };
      },
    );

    app.get(
      '/v1/supplied-data/transfer-notices',
      { config: { roles: ['approver', 'supervisor'] }, schema: { summary: 'Onward transfers other states made of data this node supplied, without prior consent (FD 2008/977 Art. 13(2))', tags: TAGS } },
      async (req) => {
        if (!hasRole(req.caller!, 'approver')) requireRole(req.caller!, 'supervisor');
        const rows = await node.db.selectFrom('safeguard_inbox').select(['sender_state', 'message_id', 'body', 'received_at', 'record_id']).where('type', '=', 'onward-transfer-notice').where('reply_status', '=', 200).orderBy('received_at', 'desc').limit(500).execute();
        return {
          notices: rows.map((r) => {
            const m = JSON.parse(r.body) as Record<string, unknown>;
            return { from: r.sender_state, messageId: r.message_id, receivedAt: r.received_at, reference: m.reference, about: m.about, recipient: m.recipient, purpose: m.purpose, threat: m.threat, transferredAt: m.transferredAt, recordId: r.record_id };
          }),
        };
      },
    );
  };
}
