/**
 * What the secretariat does (its node only; settings.ts says which node that is):
 *
 * - its reviewers decide on each request with the review assistance in front of them (rules.ts):
 *   a notice is published (sent to every node; valid five years, a review task six months before
 *   the end), returned for completion or refused, with reason codes; a diffusion is found compliant
 *   or withdrawn after it went out, or, held while its state is under supervision, released to the
 *   states it names or refused. A finding in the assessment needs a written justification to publish
 *   or release; a refugee with respect to the requesting state blocks it outright.
 * - its reviewers cancel published notices and renew them at their review, keep the register of
 *   refugees, politicians, journalists and activists, and edit the review rules;
 * - its administrators place a state under supervision (a reason and a review date), change the
 *   measure and lift it; every measure is kept and sent to every node.
 *
 * The INTERPOL texts cited (Constitution Art. 3, Rules on the Processing of Data) are not in
 * /work/shared/legal; see data/SOURCE.md.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import Type from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import type { ExchangeContext } from '../exchange/context.ts';
import { Country } from '../exchange/messages.ts';
import { listPeers } from '../exchange/peers.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { validate } from '../util/validate.ts';
import { dateRange, FullDate, nameKey, PartialDate, type NoticeContent } from './model.ts';
import { assess, currentRules, supervisionOf, type Assessment } from './rules.ts';
import { recordingRefusals, getNotice } from './service.ts';
import { requireSecretariat } from './settings.ts';
import { addHistory, addMonths, cancelPendingContent, contentSummary, deleteNoticeData, enqueue, noticeView, recordNotice, type Db, type NoticeRow, type NoticeView } from './store.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Validity of a published notice (INTERPOL: five years), and its review task six months before the end. */
export const VALIDITY_MONTHS = 60;
export const REVIEW_BEFORE_MONTHS = 6;

const Code = Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$', maxLength: 60 });

export const ReviewInput = Type.Object(
  {
    decision: Type.Union(['publish', 'return', 'refuse', 'compliant', 'withdraw', 'release'].map((d) => Type.Literal(d))),
    reasons: Type.Optional(Type.Array(Code, { maxItems: 20 })),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 4000 })),
    justification: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'Why to publish or release despite the findings of the review assistance' })),
  },
  { additionalProperties: false },
);

const ALLOWED: Record<string, string[]> = {
  'notice:pending-review': ['publish', 'return', 'refuse'],
  'diffusion:under-review': ['compliant', 'withdraw'],
  'diffusion:held': ['release', 'refuse'],
};

async function allPeers(db: Db): Promise<string[]> {
  return (await listPeers(db)).map((p) => p.country).sort();
}

async function loadAtSecretariat(db: Db, id: string): Promise<NoticeRow> {
  const row = UUID.test(id) ? await db.selectFrom('notices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst() : undefined;
  if (!row || row.held_as !== 'secretariat') throw new OpenPrumError('notice-unknown', `The secretariat holds no notice or diffusion ${id}`);
  return row;
}

/** A reviewer's decision on a request. */
export async function review(ctx: ExchangeContext, caller: OfficerCaller, id: string, raw: unknown): Promise<NoticeView> {
  requireRole(caller, 'reviewer');
  return recordingRefusals(ctx, caller, { action: 'notice.review', noticeId: id }, async () => {
    requireSecretariat(ctx, 'Reviewing notices and diffusions');
    const input = validate(ReviewInput, raw, 'notice-invalid', 'review');
    const { rules } = await currentRules(ctx.db);
    const known = new Set(rules.reasonCodes.map((r) => r.code));
    const reasons = [...new Set(input.reasons ?? [])];
    for (const r of reasons) if (!known.has(r)) throw new OpenPrumError('notice-invalid', `reasons: "${r}" is not a reason code of the review rules (${[...known].join(', ')})`, { field: 'reasons' });
    if (reasons.includes('other') && !input.note) throw new OpenPrumError('notice-invalid', 'note: the reason "other" is explained in the note', { field: 'note' });
    const negative = input.decision === 'return' || input.decision === 'refuse' || input.decision === 'withdraw';
    if (negative && reasons.length === 0) throw new OpenPrumError('notice-invalid', `reasons: to ${input.decision}, give at least one reason code (${[...known].join(', ')})`, { field: 'reasons' });
    if (input.decision === 'return' && !input.note) throw new OpenPrumError('notice-invalid', 'note: say what the requesting state must complete or correct', { field: 'note' });
    const now = ctx.now();
    await ctx.db.transaction().execute(async (trx) => {
      const row = await loadAtSecretariat(trx, id);
      const allowed = ALLOWED[`${row.kind}:${row.status}`] ?? [];
      if (!allowed.includes(input.decision)) {
        throw new OpenPrumError('notice-state-conflict', `${row.kind} ${row.reference} of ${row.requesting_state} is ${row.status}; ${allowed.length ? `it can be decided: ${allowed.join(', ')}` : 'there is nothing to decide'}`);
      }
      const content = row.content as NoticeContent;
      const assessment = await assess(trx, { id, kind: row.kind, type: row.type, requestingState: row.requesting_state, content });
      const positive = input.decision === 'publish' || input.decision === 'release' || input.decision === 'compliant';
      if (positive && assessment.blocked) throw new OpenPrumError('notice-blocked', `${row.kind} ${row.reference} cannot be ${input.decision === 'compliant' ? 'kept' : `${input.decision}d`}: ${assessment.blocked.reason}`, { assessment });
      if (positive && assessment.verdict === 'attention' && !input.justification) {
        throw new OpenPrumError(
          'notice-criteria-not-met',
          `To ${input.decision === 'compliant' ? 'find compliant' : input.decision} ${row.kind} ${row.reference} despite the review findings, give a justification. Findings: ${assessment.attention.join('; ')}`,
          { attention: assessment.attention },
        );
      }
      const by = caller.reference;
      const decision = { decision: input.decision, reasons, ...(input.note ? { note: input.note } : {}), ...(input.justification ? { justification: input.justification } : {}), by, at: now.toISOString(), assessment: summarise(assessment) };
      const sent: string[] = [];
      let status: NoticeRow['status'];
      const update: Record<string, unknown> = {};
      const decisionTo = async (d: 'returned' | 'refused' | 'compliant' | 'released') => {
        await enqueue(trx, ctx, { state: row.requesting_state, act: 'notice-decision', noticeId: id, payload: { decision: d, reasons, ...(input.note ? { note: input.note } : {}), decidedAt: now.toISOString(), version: row.version } });
        sent.push(row.requesting_state);
      };
      switch (input.decision) {
        case 'publish': {
          const n = await sql<{ n: number }>`select nextval('notice_entity_number')::int as n`.execute(trx);
          const entityId = `${now.getUTCFullYear()}/${String(n.rows[0]!.n).padStart(5, '0')}`;
          const expires = addMonths(now, VALIDITY_MONTHS);
          status = 'published';
          Object.assign(update, { entity_id: entityId, published_at: now, expires_at: expires, review_due_at: addMonths(expires, -REVIEW_BEFORE_MONTHS), version: 1 });
          const payload = { type: row.type, requestingState: row.requesting_state, reference: row.reference, entityId, version: 1, publishedAt: now.toISOString(), expiresAt: expires.toISOString(), content, publicExtract: row.public_extract };
          for (const s of await allPeers(trx)) {
            await enqueue(trx, ctx, { state: s, act: 'notice-published', noticeId: id, payload });
            sent.push(s);
          }
          break;
        }
        case 'return':
          status = 'returned';
          await decisionTo('returned');
          break;
        case 'refuse':
          status = 'refused';
          await decisionTo('refused');
          break;
        case 'compliant':
          status = 'compliant';
          await decisionTo('compliant');
          break;
        case 'withdraw': {
          // Found non-compliant after it went out: every recipient deletes it.
          status = 'refused';
          for (const s of row.recipients ?? []) {
            await enqueue(trx, ctx, { state: s, act: 'notice-deletion', noticeId: id, payload: { kind: 'diffusion', requestingState: row.requesting_state, reason: 'non-compliant', ...(input.note ? { note: input.note } : {}), deletedAt: now.toISOString() } });
            sent.push(s);
          }
          await decisionTo('refused');
          break;
        }
        case 'release': {
          // The original, as its state signed it, goes to the states it names, under the secretariat's signature.
          const original = await trx.selectFrom('notice_inbox').select(['body', 'jws']).where('sender_state', '=', row.requesting_state).where('notice_id', '=', id).where('act', '=', 'diffusion').executeTakeFirst();
          if (!original?.body || !original.jws) throw new OpenPrumError('notice-state-conflict', `The signed diffusion ${row.reference} of ${row.requesting_state} is no longer held; it cannot be released`);
          status = 'released';
          for (const s of row.recipients ?? []) {
            await enqueue(trx, ctx, { state: s, act: 'diffusion-release', noticeId: id, payload: { original: { body: original.body, jws: original.jws }, releasedAt: now.toISOString() } });
            sent.push(s);
          }
          await decisionTo('released');
          break;
        }
        default:
          throw new OpenPrumError('notice-invalid', `decision ${input.decision} is not known`);
      }
      await trx
        .updateTable('notices')
        .set({ ...update, status, decided_at: now, decision: JSON.stringify(decision) } as never)
        .where('id', '=', id)
        .execute();
      await addHistory(trx, id, { at: now.toISOString(), event: input.decision, by, reasons, to: sent });
      await recordNotice(trx, ctx, {
        action: row.kind === 'notice' ? 'notice.review' : 'diffusion.review',
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        notice: { ...row, entity_id: (update.entity_id as string | undefined) ?? row.entity_id },
        officer: { officerId: caller.officerId, reference: caller.reference },
        reason: input.justification ?? input.note ?? null,
        query: { decision: input.decision, reasons, to: sent, verdict: assessment.verdict, rulesVersion: assessment.rulesVersion },
        supplied: positive ? contentSummary(content) : undefined,
        outcome: 'done',
      });
    });
    return (await getNotice(ctx, caller, id))!;
  });
}

/** The assessment as kept with a decision: the verdict and what was shown. */
function summarise(a: Assessment): Record<string, unknown> {
  return { rulesVersion: a.rulesVersion, verdict: a.verdict, attention: a.attention, blocked: a.blocked };
}

/**
 * Ends a notice or diffusion at the secretariat and tells every node holding it to delete it. With
 * `wipe` (a data subject's request granted), the secretariat deletes its own copy of the data too.
 */
export async function endAtSecretariat(
  trx: Db,
  ctx: ExchangeContext,
  row: NoticeRow,
  how: { reason: 'withdrawn' | 'cancelled' | 'non-compliant' | 'expired' | 'data-subject-request'; note?: string | undefined; by: string; wipe: boolean; skip?: string[] },
): Promise<string[]> {
  const now = ctx.now();
  const targets = row.kind === 'notice' ? (row.status === 'published' ? await allPeers(trx) : how.wipe ? [row.requesting_state] : []) : [...(row.status === 'held' ? [] : (row.recipients ?? [])), ...(how.wipe ? [row.requesting_state] : [])];
  const sent: string[] = [];
  for (const s of [...new Set(targets)]) {
    if (how.skip?.includes(s)) continue;
    await enqueue(trx, ctx, { state: s, act: 'notice-deletion', noticeId: row.id, payload: { kind: row.kind, requestingState: row.requesting_state, reason: how.reason, ...(how.note ? { note: how.note } : {}), deletedAt: now.toISOString() } });
    sent.push(s);
  }
  await cancelPendingContent(trx, row.id, `Not sent: ${how.reason}`);
  const status = how.reason === 'withdrawn' ? 'withdrawn' : row.kind === 'notice' ? 'cancelled' : 'deleted';
  await trx.updateTable('notices').set({ status, closed_at: now }).where('id', '=', row.id).execute();
  await addHistory(trx, row.id, { at: now.toISOString(), event: status, by: how.by, reason: how.reason, to: sent });
  if (how.wipe) await deleteNoticeData(trx, row.id, { removeRow: false, kind: row.kind, requestingState: row.requesting_state, reason: how.reason });
  return sent;
}

export async function cancel(ctx: ExchangeContext, caller: OfficerCaller, id: string, noteRaw: unknown): Promise<NoticeView> {
  requireRole(caller, 'reviewer');
  return recordingRefusals(ctx, caller, { action: 'notice.cancel', noticeId: id }, async () => {
    requireSecretariat(ctx, 'Cancelling a notice or diffusion');
    const note = typeof noteRaw === 'string' ? noteRaw.trim() : '';
    if (!note || note.length > 2000) throw new OpenPrumError('notice-invalid', 'note is required (at most 2000 characters): say why it is cancelled', { field: 'note' });
    await ctx.db.transaction().execute(async (trx) => {
      const row = await loadAtSecretariat(trx, id);
      const open = row.kind === 'notice' ? ['published', 'pending-review', 'returned'] : ['under-review', 'held', 'compliant', 'released'];
      if (!open.includes(row.status)) throw new OpenPrumError('notice-state-conflict', `${row.kind} ${row.reference} is ${row.status}; nothing to cancel`);
      const sent = await endAtSecretariat(trx, ctx, row, { reason: row.kind === 'notice' ? 'cancelled' : 'non-compliant', note, by: caller.reference, wipe: false });
      // A request not yet decided: its state learns it from a decision.
      if (row.status !== 'published' && row.kind === 'notice') {
        await enqueue(trx, ctx, { state: row.requesting_state, act: 'notice-deletion', noticeId: id, payload: { kind: 'notice', requestingState: row.requesting_state, reason: 'cancelled', note, deletedAt: ctx.now().toISOString() } });
        sent.push(row.requesting_state);
      }
      await recordNotice(trx, ctx, {
        action: `${row.kind}.cancel`,
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        notice: row,
        officer: { officerId: caller.officerId, reference: caller.reference },
        reason: note,
        query: { to: sent },
        outcome: 'done',
      });
    });
    return (await getNotice(ctx, caller, id))!;
  });
}

/** Published notices whose review is due (six months before the end of their validity), soonest first. */
export async function reviewTasks(ctx: ExchangeContext, caller: OfficerCaller): Promise<NoticeView[]> {
  requireRole(caller, 'reviewer');
  requireSecretariat(ctx, 'The review tasks');
  const now = ctx.now();
  const rows = await ctx.db.selectFrom('notices').selectAll().where('held_as', '=', 'secretariat').where('status', '=', 'published').where('review_due_at', '<=', now.toISOString()).orderBy('expires_at').execute();
  return rows.map((r) => noticeView(r, [], now));
}

/** Extends a published notice by another five years, after its review; every node gets the new version. */
export async function renew(ctx: ExchangeContext, caller: OfficerCaller, id: string, noteRaw: unknown): Promise<NoticeView> {
  requireRole(caller, 'reviewer');
  return recordingRefusals(ctx, caller, { action: 'notice.renew', noticeId: id }, async () => {
    requireSecretariat(ctx, 'Renewing a notice');
    const note = typeof noteRaw === 'string' ? noteRaw.trim() : '';
    if (!note || note.length > 2000) throw new OpenPrumError('notice-invalid', 'note is required: what the review found (the requesting state confirmed the warrant is still valid, ...)', { field: 'note' });
    const now = ctx.now();
    await ctx.db.transaction().execute(async (trx) => {
      const row = await loadAtSecretariat(trx, id);
      if (row.kind !== 'notice' || row.status !== 'published') throw new OpenPrumError('notice-state-conflict', `${row.kind} ${row.reference} is ${row.status}; only a published notice is renewed`);
      if (row.review_due_at && Date.parse(row.review_due_at) > now.getTime()) throw new OpenPrumError('notice-state-conflict', `Notice ${row.entity_id} is reviewed from ${row.review_due_at.slice(0, 10)}, not before`);
      const expires = addMonths(new Date(row.expires_at!), VALIDITY_MONTHS);
      const version = row.version + 1;
      await trx.updateTable('notices').set({ expires_at: expires, review_due_at: addMonths(expires, -REVIEW_BEFORE_MONTHS), version }).where('id', '=', id).execute();
      const sent: string[] = [];
      const payload = { type: row.type, requestingState: row.requesting_state, reference: row.reference, entityId: row.entity_id!, version, publishedAt: row.published_at!, expiresAt: expires.toISOString(), content: row.content, publicExtract: row.public_extract };
      for (const s of await allPeers(trx)) {
        await enqueue(trx, ctx, { state: s, act: 'notice-published', noticeId: id, payload });
        sent.push(s);
      }
      await addHistory(trx, id, { at: now.toISOString(), event: 'renewed', by: caller.reference, until: expires.toISOString(), note });
      await recordNotice(trx, ctx, { action: 'notice.renew', direction: 'local', supplier: ctx.country, receiver: ctx.country, notice: row, officer: { officerId: caller.officerId, reference: caller.reference }, reason: note, query: { version, expiresAt: expires.toISOString(), to: sent }, outcome: 'done' });
    });
    return (await getNotice(ctx, caller, id))!;
  });
}

/** The secretariat's sweep: published notices past their validity are cancelled on every node. */
export async function expireDue(ctx: ExchangeContext): Promise<number> {
  const now = ctx.now();
  const due = await ctx.db.selectFrom('notices').select('id').where('held_as', '=', 'secretariat').where('status', '=', 'published').where('expires_at', '<=', now.toISOString()).limit(100).execute();
  for (const { id } of due) {
    await ctx.db.transaction().execute(async (trx) => {
      const row = await loadAtSecretariat(trx, id);
      if (row.status !== 'published') return;
      const sent = await endAtSecretariat(trx, ctx, row, { reason: 'expired', by: 'secretariat (validity ended)', wipe: false });
      await recordNotice(trx, ctx, { action: 'notice.expire', direction: 'local', supplier: ctx.country, receiver: ctx.country, notice: row, query: { expiresAt: row.expires_at, to: sent }, outcome: 'done' });
    });
  }
  return due.length;
}

// --- supervision ----------------------------------------------------------------------------------

export const SupervisionInput = Type.Object(
  {
    state: Country,
    measure: Type.Union([Type.Literal('place'), Type.Literal('change'), Type.Literal('lift')]),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    reviewDate: Type.Optional(FullDate),
  },
  { additionalProperties: false },
);

export interface SupervisionView {
  readonly state: string;
  readonly underSupervision: boolean;
  readonly current: { readonly since: string; readonly reason: string; readonly reviewDate: string | null } | null;
  readonly measures: Array<{ readonly measure: string; readonly reason: string; readonly reviewDate: string | null; readonly decidedBy: string; readonly decidedAt: string; readonly version: number; readonly origin: string }>;
}

export async function supervisionView(db: Db): Promise<SupervisionView[]> {
  const rows = await db.selectFrom('notice_supervision').selectAll().orderBy('state').orderBy('version').execute();
  const states = [...new Set(rows.map((r) => r.state))];
  return states.map((state) => {
    const measures = rows.filter((r) => r.state === state);
    const last = measures[measures.length - 1]!;
    return {
      state,
      underSupervision: last.measure !== 'lifted',
      current: last.measure !== 'lifted' ? { since: measures.filter((m) => m.measure === 'placed').pop()?.decided_at ?? last.decided_at, reason: last.reason, reviewDate: last.review_date } : null,
      measures: measures.map((m) => ({ measure: m.measure, reason: m.reason, reviewDate: m.review_date, decidedBy: m.decided_by, decidedAt: m.decided_at, version: m.version, origin: m.origin })),
    };
  });
}

/** Places a state under supervision, changes the measure or lifts it; recorded, sent to every node. */
export async function changeSupervision(ctx: ExchangeContext, caller: OfficerCaller, raw: unknown): Promise<SupervisionView> {
  requireRole(caller, 'admin');
  return recordingRefusals(ctx, caller, { action: 'notice.supervision' }, async () => {
    const secretariat = requireSecretariatCode(ctx);
    const input = validate(SupervisionInput, raw, 'notice-invalid', 'supervision');
    if (input.state === secretariat) throw new OpenPrumError('notice-invalid', 'state: the secretariat does not supervise itself', { field: 'state' });
    const now = ctx.now();
    if (input.measure !== 'lift') {
      if (!input.reviewDate) throw new OpenPrumError('notice-invalid', 'reviewDate is required: when the measure is reviewed (YYYY-MM-DD)', { field: 'reviewDate' });
      const r = dateRange(input.reviewDate, 'reviewDate');
      if (r.to <= now.toISOString().slice(0, 10)) throw new OpenPrumError('notice-invalid', `reviewDate ${input.reviewDate} is not in the future`, { field: 'reviewDate' });
    } else if (input.reviewDate) {
      throw new OpenPrumError('notice-invalid', 'reviewDate: a lifted measure has no review date', { field: 'reviewDate' });
    }
    await ctx.db.transaction().execute(async (trx) => {
      // One change at a time per state.
      await sql`select pg_advisory_xact_lock(${0x6e6f7375}, ${input.state.charCodeAt(0) * 256 + input.state.charCodeAt(1)})`.execute(trx);
      const current = await supervisionOf(trx, input.state);
      if (input.measure === 'place' && current) throw new OpenPrumError('notice-state-conflict', `${input.state} is under supervision already (since ${current.since}); change or lift the measure`);
      if (input.measure !== 'place' && !current) throw new OpenPrumError('notice-state-conflict', `${input.state} is not under supervision; place it first`);
      const last = await trx.selectFrom('notice_supervision').select(sql<number>`coalesce(max(version), 0)`.as('v')).where('state', '=', input.state).executeTakeFirstOrThrow();
      const version = Number(last.v) + 1;
      const measure = input.measure === 'place' ? 'placed' : input.measure === 'change' ? 'changed' : 'lifted';
      const messageId = randomUUID();
      await trx
        .insertInto('notice_supervision')
        .values({ state: input.state, measure, reason: input.reason, review_date: input.reviewDate ?? null, decided_by: caller.reference, decided_at: now, version, origin: 'local', message_id: messageId })
        .execute();
      const sent: string[] = [];
      const payload = { state: input.state, measure, reason: input.reason, reviewDate: input.reviewDate ?? null, decidedAt: now.toISOString(), version };
      for (const s of await allPeers(trx)) {
        await enqueue(trx, ctx, { state: s, act: 'supervision', payload });
        sent.push(s);
      }
      await recordNotice(trx, ctx, {
        action: 'notice.supervision',
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        officer: { officerId: caller.officerId, reference: caller.reference },
        reason: input.reason,
        query: { state: input.state, measure, reviewDate: input.reviewDate ?? null, version, to: sent },
        outcome: 'done',
      });
    });
    return (await supervisionView(ctx.db)).find((v) => v.state === input.state)!;
  });
}

function requireSecretariatCode(ctx: ExchangeContext): string {
  requireSecretariat(ctx, 'Supervision of a state');
  return ctx.country;
}

// --- the register of persons ----------------------------------------------------------------------

export const FlagInput = Type.Object(
  {
    flag: Type.Union(['refugee', 'politician', 'journalist', 'activist', 'human-rights-defender', 'other'].map((f) => Type.Literal(f))),
    familyName: Type.String({ minLength: 1, maxLength: 100 }),
    forenames: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    dateOfBirth: Type.Optional(PartialDate),
    /** Refugees: the state they are protected from. */
    relatedState: Type.Optional(Country),
    source: Type.String({ minLength: 1, maxLength: 500, description: 'Who says so: the asylum authority and its decision, UNHCR, a court, public sources' }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export interface FlagView {
  readonly id: number;
  readonly flag: string;
  readonly familyName: string;
  readonly forenames: string | null;
  readonly dateOfBirth: string | null;
  readonly relatedState: string | null;
  readonly source: string;
  readonly note: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly removedAt: string | null;
}

export async function listFlags(ctx: ExchangeContext, caller: OfficerCaller): Promise<FlagView[]> {
  requireRole(caller, 'reviewer', 'supervisor');
  requireSecretariat(ctx, 'The register of persons');
  const rows = await ctx.db.selectFrom('notice_subject_flags').selectAll().orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, flag: r.flag, familyName: r.family_name, forenames: r.forenames, dateOfBirth: r.birth_date, relatedState: r.related_state, source: r.source, note: r.note, createdBy: r.created_by, createdAt: r.created_at, removedAt: r.removed_at }));
}

export async function addFlag(ctx: ExchangeContext, caller: OfficerCaller, raw: unknown): Promise<FlagView> {
  requireRole(caller, 'reviewer');
  return recordingRefusals(ctx, caller, { action: 'notice.register' }, async () => {
    requireSecretariat(ctx, 'The register of persons');
    const input = validate(FlagInput, raw, 'notice-invalid', 'register entry');
    if (input.flag === 'refugee' && !input.relatedState) throw new OpenPrumError('notice-invalid', 'relatedState: a refugee is recognised with respect to a state; name it', { field: 'relatedState' });
    if (input.dateOfBirth) {
      const r = dateRange(input.dateOfBirth, 'dateOfBirth');
      if (r.from > ctx.now().toISOString().slice(0, 10)) throw new OpenPrumError('notice-invalid', `dateOfBirth ${input.dateOfBirth} is in the future`, { field: 'dateOfBirth' });
    }
    const id = await ctx.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('notice_subject_flags')
        .values({
          flag: input.flag,
          family_name: input.familyName,
          forenames: input.forenames ?? null,
          birth_date: input.dateOfBirth ?? null,
          name_key: nameKey(input.familyName, input.forenames)!,
          related_state: input.relatedState ?? null,
          source: input.source,
          note: input.note ?? null,
          created_by: caller.reference,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await recordNotice(trx, ctx, { action: 'notice.register.add', direction: 'local', supplier: ctx.country, receiver: ctx.country, officer: { officerId: caller.officerId, reference: caller.reference }, query: { entry: row.id, flag: input.flag, relatedState: input.relatedState ?? null }, outcome: 'done' });
      return row.id;
    });
    return (await listFlags(ctx, caller)).find((f) => f.id === id)!;
  });
}

export async function removeFlag(ctx: ExchangeContext, caller: OfficerCaller, id: number, noteRaw: unknown): Promise<FlagView> {
  requireRole(caller, 'reviewer');
  return recordingRefusals(ctx, caller, { action: 'notice.register' }, async () => {
    requireSecretariat(ctx, 'The register of persons');
    const note = typeof noteRaw === 'string' ? noteRaw.trim() : '';
    if (!note) throw new OpenPrumError('notice-invalid', 'note is required: why the entry ends', { field: 'note' });
    await ctx.db.transaction().execute(async (trx) => {
      const r = await trx.updateTable('notice_subject_flags').set({ removed_at: ctx.now(), removed_by: caller.reference }).where('id', '=', id).where('removed_at', 'is', null).returning('id').executeTakeFirst();
      if (!r) throw new OpenPrumError('notice-unknown', `No current register entry ${id}`);
      await recordNotice(trx, ctx, { action: 'notice.register.remove', direction: 'local', supplier: ctx.country, receiver: ctx.country, officer: { officerId: caller.officerId, reference: caller.reference }, reason: note, query: { entry: id }, outcome: 'done' });
    });
    return (await listFlags(ctx, caller)).find((f) => f.id === id)!;
  });
}
