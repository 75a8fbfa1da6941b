/**
 * Requests of persons about notice data: the role INTERPOL gives its Commission for the Control of
 * Files (CCF), an independent body. In OpenPrüm it is the `supervisor` role on the secretariat's node
 * (the data-protection authority of the federation: it reads everything and, here, decides), not the
 * secretariat's reviewers, whose decisions such a request may challenge.
 *
 * - access: decided within four months of receipt; granted, the applicant learns which notices and
 *   diffusions the secretariat holds about them;
 * - correction: within nine months; granted, the subject's data are corrected and a published notice
 *   is sent again, corrected, to every node;
 * - deletion: within nine months; granted, the notice or diffusion is cancelled and its data deleted
 *   at the secretariat and on every node that holds it (the requesting state's included).
 *
 * Time limits: Statute of the CCF, Art. 40 (not in /work/shared/legal; see data/SOURCE.md).
 */
import { randomUUID } from 'node:crypto';
import Type from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import type { ExchangeContext } from '../exchange/context.ts';
import { listPeers } from '../exchange/peers.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { validate } from '../util/validate.ts';
import { birthDatesCompatible, checkContent, dateRange, FullDate, nameKey, PartialDate, sameName, Subject, type NoticeContent } from './model.ts';
import { endAtSecretariat } from './review.ts';
import { recordingRefusals } from './service.ts';
import { requireSecretariat } from './settings.ts';
import { addHistory, addMonths, enqueue, recordNotice, type Db } from './store.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NoticeId = Type.String({ pattern: UUID.source });

/** CCF Statute Art. 40: access within four months, correction or deletion within nine. */
export const DUE_MONTHS = { access: 4, correction: 9, deletion: 9 } as const;

export const DataRequestInput = Type.Object(
  {
    kind: Type.Union([Type.Literal('access'), Type.Literal('correction'), Type.Literal('deletion')]),
    applicant: Type.Object(
      { familyName: Type.String({ minLength: 1, maxLength: 100 }), forenames: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), dateOfBirth: Type.Optional(PartialDate) },
      { additionalProperties: false },
    ),
    contact: Type.String({ minLength: 1, maxLength: 500, description: 'Where the decision is sent (the applicant or their lawyer)' }),
    details: Type.String({ minLength: 1, maxLength: 4000, description: 'What the applicant asks and why' }),
    noticeId: Type.Optional(NoticeId),
    /** The day the admissible request was received (default: today); the time limit runs from it. */
    receivedOn: Type.Optional(FullDate),
  },
  { additionalProperties: false },
);

export const DataRequestDecision = Type.Object(
  {
    decision: Type.Union([Type.Literal('grant'), Type.Literal('refuse')]),
    note: Type.String({ minLength: 1, maxLength: 4000, description: 'The reasons, as communicated to the applicant' }),
    /** correction, deletion: the notices and diffusions concerned (default: the request's noticeId). */
    noticeIds: Type.Optional(Type.Array(NoticeId, { minItems: 1, maxItems: 50 })),
    /** correction: the subject's fields as corrected (replacing those given). */
    correction: Type.Optional(Type.Object({ subject: Subject }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export interface DataRequestView {
  readonly id: string;
  readonly kind: string;
  readonly applicant: { readonly familyName: string; readonly forenames: string | null; readonly dateOfBirth: string | null };
  readonly contact: string;
  readonly details: string;
  readonly noticeId: string | null;
  readonly receivedAt: string;
  readonly dueAt: string;
  readonly overdue: boolean;
  readonly status: string;
  readonly decision: Record<string, unknown> | null;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  /** What the secretariat holds under the applicant's name (for the supervisor's examination). */
  readonly matching: Array<{ readonly id: string; readonly kind: string; readonly type: string; readonly requestingState: string; readonly reference: string; readonly status: string; readonly entityId: string | null }>;
}

async function matching(db: Db, key: string, birthDate: string | null) {
  const family = key.split('|')[0]!.replace(/[%_\\]/g, '\\$&');
  const rows = await db.selectFrom('notices').select(['id', 'kind', 'type', 'requesting_state', 'reference', 'status', 'entity_id', 'name_key', 'birth_date']).where('held_as', '=', 'secretariat').where('name_key', 'like', `${family}|%`).execute();
  return rows
    .filter((r) => r.name_key && sameName(r.name_key, key) && birthDatesCompatible(r.birth_date, birthDate))
    .map((r) => ({ id: r.id, kind: r.kind, type: r.type, requestingState: r.requesting_state, reference: r.reference, status: r.status, entityId: r.entity_id }));
}

export async function getDataRequest(ctx: ExchangeContext, caller: OfficerCaller, id: string): Promise<DataRequestView | undefined> {
  requireRole(caller, 'supervisor');
  if (!UUID.test(id)) return undefined;
  const r = await ctx.db.selectFrom('notice_data_requests').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) return undefined;
  return {
    id: r.id,
    kind: r.kind,
    applicant: { familyName: r.applicant_family_name, forenames: r.applicant_forenames, dateOfBirth: r.applicant_birth_date },
    contact: r.contact,
    details: r.details,
    noticeId: r.notice_id,
    receivedAt: r.received_at,
    dueAt: r.due_at,
    overdue: r.status === 'open' && Date.parse(r.due_at) < ctx.now().getTime(),
    status: r.status,
    decision: r.decision,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    matching: await matching(ctx.db, r.name_key, r.applicant_birth_date),
  };
}

export async function listDataRequests(ctx: ExchangeContext, caller: OfficerCaller, filter: { status?: string | undefined; overdue?: boolean | undefined }): Promise<DataRequestView[]> {
  requireRole(caller, 'supervisor');
  requireSecretariat(ctx, 'Requests about notice data');
  let q = ctx.db.selectFrom('notice_data_requests').select('id');
  if (filter.status) q = q.where('status', '=', filter.status as 'open');
  const ids = await q.orderBy('due_at').limit(500).execute();
  const views = (await Promise.all(ids.map((r) => getDataRequest(ctx, caller, r.id)))).filter((v): v is DataRequestView => v !== undefined);
  return filter.overdue === undefined ? views : views.filter((v) => v.overdue === filter.overdue);
}

export async function registerDataRequest(ctx: ExchangeContext, caller: OfficerCaller, raw: unknown): Promise<DataRequestView> {
  requireRole(caller, 'supervisor');
  return recordingRefusals(ctx, caller, { action: 'notice.data-request' }, async () => {
    requireSecretariat(ctx, 'Requests about notice data');
    const input = validate(DataRequestInput, raw, 'notice-data-request-invalid', 'request');
    const now = ctx.now();
    const today = now.toISOString().slice(0, 10);
    if (input.applicant.dateOfBirth && dateRange(input.applicant.dateOfBirth, 'applicant.dateOfBirth').from > today) {
      throw new OpenPrumError('notice-data-request-invalid', `applicant.dateOfBirth ${input.applicant.dateOfBirth} is in the future`, { field: 'applicant.dateOfBirth' });
    }
    if (input.receivedOn) {
      dateRange(input.receivedOn, 'receivedOn');
      if (input.receivedOn > today) throw new OpenPrumError('notice-data-request-invalid', `receivedOn ${input.receivedOn} is in the future`, { field: 'receivedOn' });
    }
    if (input.noticeId && !(await ctx.db.selectFrom('notices').select('id').where('id', '=', input.noticeId).where('held_as', '=', 'secretariat').executeTakeFirst())) {
      throw new OpenPrumError('notice-unknown', `The secretariat holds no notice or diffusion ${input.noticeId}`);
    }
    const receivedAt = input.receivedOn ? new Date(`${input.receivedOn}T00:00:00Z`) : now;
    const dueAt = addMonths(receivedAt, DUE_MONTHS[input.kind]);
    const id = randomUUID();
    await ctx.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notice_data_requests')
        .values({
          id,
          kind: input.kind,
          applicant_family_name: input.applicant.familyName,
          applicant_forenames: input.applicant.forenames ?? null,
          applicant_birth_date: input.applicant.dateOfBirth ?? null,
          name_key: nameKey(input.applicant.familyName, input.applicant.forenames)!,
          contact: input.contact,
          notice_id: input.noticeId ?? null,
          details: input.details,
          received_at: receivedAt,
          due_at: dueAt,
          status: 'open',
          registered_by: caller.reference,
        })
        .execute();
      await recordNotice(trx, ctx, { action: 'notice.data-request', direction: 'local', supplier: ctx.country, receiver: ctx.country, officer: { officerId: caller.officerId, reference: caller.reference }, query: { request: id, kind: input.kind, dueAt: dueAt.toISOString(), ...(input.noticeId ? { noticeId: input.noticeId } : {}) }, outcome: 'done' });
    });
    return (await getDataRequest(ctx, caller, id))!;
  });
}

export async function decideDataRequest(ctx: ExchangeContext, caller: OfficerCaller, id: string, raw: unknown): Promise<DataRequestView> {
  requireRole(caller, 'supervisor');
  return recordingRefusals(ctx, caller, { action: 'notice.data-request.decision' }, async () => {
    requireSecretariat(ctx, 'Requests about notice data');
    const input = validate(DataRequestDecision, raw, 'notice-data-request-invalid', 'decision');
    const now = ctx.now();
    await ctx.db.transaction().execute(async (trx) => {
      const r = UUID.test(id) ? await trx.selectFrom('notice_data_requests').selectAll().where('id', '=', id).forUpdate().executeTakeFirst() : undefined;
      if (!r) throw new OpenPrumError('notice-unknown', `No request about notice data ${id}`);
      if (r.status !== 'open') throw new OpenPrumError('notice-state-conflict', `Request ${id} was decided already (${r.status}, ${r.decided_at})`);
      const outcome: Record<string, unknown> = {};
      if (input.decision === 'grant') {
        if (r.kind === 'access') {
          outcome.disclosed = await matching(trx, r.name_key, r.applicant_birth_date);
        } else {
          const ids = input.noticeIds ?? (r.notice_id ? [r.notice_id] : []);
          if (ids.length === 0) throw new OpenPrumError('notice-data-request-invalid', `noticeIds: name the notices or diffusions to ${r.kind === 'deletion' ? 'delete' : 'correct'}`, { field: 'noticeIds' });
          if (r.kind === 'correction' && !input.correction) throw new OpenPrumError('notice-data-request-invalid', 'correction: give the subject\'s data as corrected', { field: 'correction' });
          const done: Array<Record<string, unknown>> = [];
          for (const noticeId of ids) {
            const row = await trx.selectFrom('notices').selectAll().where('id', '=', noticeId).forUpdate().executeTakeFirst();
            if (!row || row.held_as !== 'secretariat') throw new OpenPrumError('notice-unknown', `noticeIds: the secretariat holds no notice or diffusion ${noticeId}`, { field: 'noticeIds' });
            if (!row.content) throw new OpenPrumError('notice-state-conflict', `${row.kind} ${row.reference}: its data were deleted already`);
            if (r.kind === 'deletion') {
              const sent = await endAtSecretariat(trx, ctx, row, { reason: 'data-subject-request', note: `Request ${id}`, by: `${caller.reference} (supervisor)`, wipe: true });
              done.push({ noticeId, deleted: true, to: sent });
            } else {
              const corrected = { ...(row.content as NoticeContent), subject: { ...(row.content as NoticeContent).subject, ...input.correction!.subject } };
              const content = checkContent(row.kind, row.type, corrected, now);
              const sent: string[] = [];
              const version = row.status === 'published' ? row.version + 1 : row.version;
              await trx
                .updateTable('notices')
                .set({ content: JSON.stringify(content), name_key: nameKey(content.subject?.familyName, content.subject?.forenames), birth_date: content.subject?.dateOfBirth ?? null, version })
                .where('id', '=', noticeId)
                .execute();
              if (row.status === 'published') {
                const payload = { type: row.type, requestingState: row.requesting_state, reference: row.reference, entityId: row.entity_id!, version, publishedAt: row.published_at!, expiresAt: row.expires_at!, content, publicExtract: row.public_extract };
                for (const p of await listPeers(trx)) {
                  await enqueue(trx, ctx, { state: p.country, act: 'notice-published', noticeId, payload });
                  sent.push(p.country);
                }
              }
              await addHistory(trx, noticeId, { at: now.toISOString(), event: 'corrected', by: `${caller.reference} (supervisor)`, request: id, to: sent });
              done.push({ noticeId, corrected: true, version, to: sent });
            }
          }
          outcome.notices = done;
        }
      }
      const decision = { decision: input.decision === 'grant' ? 'granted' : 'refused', note: input.note, ...outcome, late: now.getTime() > Date.parse(r.due_at) };
      await trx
        .updateTable('notice_data_requests')
        .set({ status: input.decision === 'grant' ? 'granted' : 'refused', decision: JSON.stringify(decision), decided_by: caller.reference, decided_at: now })
        .where('id', '=', id)
        .execute();
      await recordNotice(trx, ctx, {
        action: 'notice.data-request.decision',
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        officer: { officerId: caller.officerId, reference: caller.reference },
        reason: input.note,
        query: { request: id, kind: r.kind, decision: decision.decision, late: decision.late, notices: (outcome.notices as unknown[] | undefined)?.length ?? 0 },
        outcome: 'done',
      });
    });
    return (await getDataRequest(ctx, caller, id))!;
  });
}
