/**
 * What a state's officers do with notices and diffusions at their own node: draft, edit, submit (a
 * notice to the secretariat; a diffusion to the states it names and to the secretariat, or only to
 * the secretariat while their state is under supervision), withdraw; and read what their node holds.
 *
 * Every act is validated before anything is stored, stored and recorded in one transaction, and the
 * messages it sends are queued in that transaction (worker.ts sends them). Refusals of an officer's
 * act are recorded too.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import type { ExchangeContext } from '../exchange/context.ts';
import { Country, Reference } from '../exchange/messages.ts';
import { getPeer } from '../exchange/peers.ts';
import { hasRole, requireRole, type OfficerCaller } from '../identity/caller.ts';
import { validate } from '../util/validate.ts';
import { checkContent, nameKey, NoticeContent, NOTICE_TYPES, PUBLIC_TYPES } from './model.ts';
import { assess, supervisionOf } from './rules.ts';
import type { NoticeStatus } from './schema.ts';
import { secretariatOf } from './settings.ts';
import { addHistory, contentSummary, deliveriesOf, enqueue, noticeView, recordNotice, type Db, type NoticeRow, type NoticeView } from './store.ts';

const NoticeTypeName = Type.Union(NOTICE_TYPES.map((t) => Type.Literal(t)));

export const NoticeInput = Type.Object(
  {
    kind: Type.Union([Type.Literal('notice'), Type.Literal('diffusion')]),
    type: NoticeTypeName,
    reference: Type.Optional(Reference),
    content: NoticeContent,
    /** The requesting state agrees to publish the public extract (red, yellow and UN notices). */
    publicExtract: Type.Optional(Type.Boolean()),
    /** Diffusions: the states it goes to. */
    recipients: Type.Optional(Type.Array(Country, { minItems: 1, maxItems: 200 })),
  },
  { additionalProperties: false },
);
export type NoticeInput = Static<typeof NoticeInput>;

export const NoticeUpdate = Type.Object(
  {
    reference: Type.Optional(Reference),
    content: NoticeContent,
    publicExtract: Type.Optional(Type.Boolean()),
    recipients: Type.Optional(Type.Array(Country, { minItems: 1, maxItems: 200 })),
  },
  { additionalProperties: false },
);
export type NoticeUpdate = Static<typeof NoticeUpdate>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function newReference(country: string, kind: 'notice' | 'diffusion', now: Date): string {
  return `${country}-${kind === 'notice' ? 'N' : 'D'}-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex').toUpperCase()}`;
}

/**
 * Runs an officer's act; a refusal (bad input, wrong state) is recorded with the officer. A refusal
 * for lack of role is recorded by the HTTP layer (access.refused), so not twice.
 */
export async function recordingRefusals<T>(ctx: ExchangeContext, caller: OfficerCaller, about: { action: string; noticeId?: string }, act: () => Promise<T>): Promise<T> {
  try {
    return await act();
  } catch (e) {
    if (isOpenPrumError(e) && e.code !== 'forbidden' && e.status < 500) {
      await recordNotice(ctx.db, ctx, {
        action: about.action,
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        officer: { officerId: caller.officerId, reference: caller.reference },
        query: about.noticeId ? { noticeId: about.noticeId } : {},
        supplied: { refused: e.code, detail: e.message },
        outcome: 'refused',
      }).catch(() => undefined);
    }
    throw e;
  }
}

/** Checks the recipients of a diffusion: configured peers, not this state, not the secretariat. `db`: the transaction, if any. */
async function checkRecipients(ctx: ExchangeContext, db: Db, recipients: readonly string[] | undefined): Promise<string[]> {
  if (!recipients || recipients.length === 0) throw new OpenPrumError('notice-invalid', 'A diffusion names the states it goes to: recipients is required', { field: 'recipients' });
  const secretariat = secretariatOf(ctx);
  const out = [...new Set(recipients)];
  for (const s of out) {
    if (s === ctx.country) throw new OpenPrumError('notice-invalid', `recipients: ${s} is this node's own state`, { field: 'recipients' });
    if (s === secretariat) throw new OpenPrumError('notice-invalid', `recipients: ${s} is the secretariat, which receives every diffusion for review anyway`, { field: 'recipients' });
    if (!(await getPeer(db, s))) throw new OpenPrumError('peer-unknown', `recipients: no peer node is configured for ${s}`, { field: 'recipients' });
  }
  return out.sort();
}

function checkPublicExtract(kind: 'notice' | 'diffusion', type: string, publicExtract: boolean | undefined): boolean {
  if (!publicExtract) return false;
  if (kind !== 'notice' || !(PUBLIC_TYPES as readonly string[]).includes(type)) {
    throw new OpenPrumError('notice-invalid', `publicExtract: a public extract exists only for ${PUBLIC_TYPES.join(', ')} notices, not for a ${type} ${kind}`, { field: 'publicExtract' });
  }
  return true;
}

async function loadOwn(db: Db, id: string): Promise<NoticeRow> {
  const row = UUID.test(id) ? await db.selectFrom('notices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst() : undefined;
  if (!row) throw new OpenPrumError('notice-unknown', `No notice or diffusion ${id} on this node`);
  return row;
}

/** Creates a draft (nothing is sent). */
export async function createDraft(ctx: ExchangeContext, caller: OfficerCaller, raw: unknown): Promise<NoticeView> {
  requireRole(caller, 'officer');
  return recordingRefusals(ctx, caller, { action: 'notice.draft' }, async () => {
    const input = validate(NoticeInput, raw, 'notice-invalid', 'notice');
    const now = ctx.now();
    const content = checkContent(input.kind, input.type, input.content, now);
    const publicExtract = checkPublicExtract(input.kind, input.type, input.publicExtract);
    if (input.kind === 'notice' && input.recipients) throw new OpenPrumError('notice-invalid', 'recipients: a notice goes to every node once published; name recipients only for a diffusion', { field: 'recipients' });
    const recipients = input.kind === 'diffusion' ? await checkRecipients(ctx, ctx.db, input.recipients) : null;
    if (ctx.country === secretariatOf(ctx)) throw new OpenPrumError('notice-invalid', 'The secretariat reviews requests; states request notices and diffusions from their own nodes');
    const id = randomUUID();
    const reference = input.reference ?? newReference(ctx.country, input.kind, now);
    await ctx.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notices')
        .values({
          id,
          kind: input.kind,
          type: input.type,
          held_as: 'requester',
          requesting_state: ctx.country,
          reference,
          status: 'draft',
          content: JSON.stringify(content),
          name_key: nameKey(content.subject?.familyName, content.subject?.forenames),
          birth_date: content.subject?.dateOfBirth ?? null,
          public_extract: publicExtract,
          recipients: recipients ? JSON.stringify(recipients) : null,
          history: JSON.stringify([{ at: now.toISOString(), event: 'drafted', by: caller.reference }]),
          officer_id: caller.officerId,
          officer_reference: caller.reference,
        })
        .execute();
      await recordNotice(trx, ctx, {
        action: 'notice.draft',
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        notice: { id, kind: input.kind, type: input.type, requesting_state: ctx.country, reference },
        officer: { officerId: caller.officerId, reference: caller.reference },
        supplied: contentSummary(content),
        outcome: 'done',
      });
    });
    return (await getNotice(ctx, caller, id))!;
  });
}

/** Changes a draft, or a notice the secretariat returned for completion. */
export async function updateDraft(ctx: ExchangeContext, caller: OfficerCaller, id: string, raw: unknown): Promise<NoticeView> {
  requireRole(caller, 'officer');
  return recordingRefusals(ctx, caller, { action: 'notice.draft', noticeId: id }, async () => {
    const input = validate(NoticeUpdate, raw, 'notice-invalid', 'notice');
    const now = ctx.now();
    await ctx.db.transaction().execute(async (trx) => {
      const row = await loadOwn(trx, id);
      if (row.held_as !== 'requester' || (row.status !== 'draft' && row.status !== 'returned')) {
        throw new OpenPrumError('notice-state-conflict', `${row.kind} ${row.reference} is ${row.status}; only a draft or a returned notice can be changed`);
      }
      const kind = row.kind;
      const content = checkContent(kind, row.type, input.content, now);
      const publicExtract = checkPublicExtract(kind, row.type, input.publicExtract);
      if (kind === 'notice' && input.recipients) throw new OpenPrumError('notice-invalid', 'recipients: only a diffusion names recipients', { field: 'recipients' });
      const recipients = kind === 'diffusion' ? await checkRecipients(ctx, trx, input.recipients ?? row.recipients ?? undefined) : null;
      await trx
        .updateTable('notices')
        .set({
          reference: input.reference ?? row.reference,
          content: JSON.stringify(content),
          name_key: nameKey(content.subject?.familyName, content.subject?.forenames),
          birth_date: content.subject?.dateOfBirth ?? null,
          public_extract: publicExtract,
          recipients: recipients ? JSON.stringify(recipients) : null,
        })
        .where('id', '=', id)
        .execute();
      await addHistory(trx, id, { at: now.toISOString(), event: 'changed', by: caller.reference });
      await recordNotice(trx, ctx, {
        action: 'notice.draft',
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        notice: { ...row, reference: input.reference ?? row.reference },
        officer: { officerId: caller.officerId, reference: caller.reference },
        supplied: contentSummary(content),
        outcome: 'done',
      });
    });
    return (await getNotice(ctx, caller, id))!;
  });
}

/**
 * Submits a notice to the secretariat, or issues a diffusion: to the states it names and to the
 * secretariat (reviewed right after), or, while this state is under supervision, to the secretariat
 * alone (held for review before anyone receives it).
 */
export async function submit(ctx: ExchangeContext, caller: OfficerCaller, id: string): Promise<NoticeView> {
  requireRole(caller, 'officer');
  return recordingRefusals(ctx, caller, { action: 'notice.submit', noticeId: id }, async () => {
    const secretariat = secretariatOf(ctx);
    if (!(await getPeer(ctx.db, secretariat))) throw new OpenPrumError('peer-unknown', `No peer node is configured for the secretariat ${secretariat}; add it with openprum peer add`);
    const now = ctx.now();
    await ctx.db.transaction().execute(async (trx) => {
      const row = await loadOwn(trx, id);
      if (row.held_as !== 'requester' || (row.status !== 'draft' && row.status !== 'returned')) {
        throw new OpenPrumError('notice-state-conflict', `${row.kind} ${row.reference} is ${row.status}; only a draft (or a returned notice) can be submitted`);
      }
      // The stored draft was checked when written; the dates are checked again against today.
      const content = checkContent(row.kind, row.type, row.content, now);
      const version = row.version + 1;
      let status: NoticeStatus;
      const sent: string[] = [];
      if (row.kind === 'notice') {
        status = 'submitted';
        await enqueue(trx, ctx, { state: secretariat, act: 'notice-request', noticeId: id, payload: { type: row.type, reference: row.reference, version, submittedAt: now.toISOString(), content, publicExtract: row.public_extract } });
        sent.push(secretariat);
      } else {
        const recipients = await checkRecipients(ctx, trx, row.recipients ?? undefined);
        const supervised = await supervisionOf(trx, ctx.country);
        const payload = { type: row.type, reference: row.reference, issuedAt: now.toISOString(), recipients, content };
        await enqueue(trx, ctx, { state: secretariat, act: 'diffusion', noticeId: id, payload });
        sent.push(secretariat);
        if (supervised) {
          status = 'held';
        } else {
          status = 'issued';
          for (const s of recipients) {
            await enqueue(trx, ctx, { state: s, act: 'diffusion', noticeId: id, payload });
            sent.push(s);
          }
        }
      }
      await trx.updateTable('notices').set({ status, version, submitted_at: now }).where('id', '=', id).execute();
      await addHistory(trx, id, { at: now.toISOString(), event: status === 'held' ? 'held-for-review' : row.kind === 'notice' ? 'submitted' : 'issued', by: caller.reference, version, to: sent });
      await recordNotice(trx, ctx, {
        action: row.kind === 'notice' ? 'notice.submit' : 'diffusion.issue',
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        notice: row,
        officer: { officerId: caller.officerId, reference: caller.reference },
        query: { version, to: sent, ...(status === 'held' ? { heldForReview: true } : {}) },
        supplied: contentSummary(content),
        outcome: 'done',
      });
    });
    return (await getNotice(ctx, caller, id))!;
  });
}

/**
 * Withdraws this state's notice or diffusion. A notice: the secretariat is told and cancels it on
 * every node. A diffusion: every recipient and the secretariat are told to delete it.
 */
export async function withdraw(ctx: ExchangeContext, caller: OfficerCaller, id: string, reasonRaw: unknown): Promise<NoticeView> {
  requireRole(caller, 'officer');
  return recordingRefusals(ctx, caller, { action: 'notice.withdraw', noticeId: id }, async () => {
    const reason = typeof reasonRaw === 'string' ? reasonRaw.trim() : '';
    if (reason.length === 0 || reason.length > 1000) throw new OpenPrumError('notice-invalid', 'reason is required (at most 1000 characters): the record must say why', { field: 'reason' });
    const now = ctx.now();
    const secretariat = secretariatOf(ctx);
    await ctx.db.transaction().execute(async (trx) => {
      const row = await loadOwn(trx, id);
      const open: NoticeStatus[] = row.kind === 'notice' ? ['draft', 'submitted', 'returned', 'published'] : ['draft', 'issued', 'held', 'compliant', 'released'];
      if (row.held_as !== 'requester' || !open.includes(row.status)) {
        throw new OpenPrumError('notice-state-conflict', `${row.kind} ${row.reference} is ${row.status}${row.held_as === 'requester' ? '' : ` (held here as ${row.held_as})`}; only this state's open requests can be withdrawn`);
      }
      const sent: string[] = [];
      if (row.status !== 'draft') {
        if (row.kind === 'notice') {
          await enqueue(trx, ctx, { state: secretariat, act: 'notice-withdrawal', noticeId: id, payload: { reason, withdrawnAt: now.toISOString() } });
          sent.push(secretariat);
        } else {
          const payload = { kind: 'diffusion', requestingState: ctx.country, reason: 'withdrawn', note: reason, deletedAt: now.toISOString() };
          for (const s of [secretariat, ...(row.status === 'held' ? [] : (row.recipients ?? []))]) {
            await enqueue(trx, ctx, { state: s, act: 'notice-deletion', noticeId: id, payload });
            sent.push(s);
          }
        }
      }
      // A diffusion not yet delivered must not go out now.
      await trx
        .updateTable('notice_deliveries')
        .set({ status: 'cancelled', claimed_until: null, last_error_code: 'notice-deleted', last_error: 'Not sent: withdrawn' })
        .where('notice_id', '=', id)
        .where('status', '=', 'pending')
        .where('act', 'in', ['notice-request', 'diffusion'])
        .execute();
      await trx.updateTable('notices').set({ status: 'withdrawn', closed_at: now }).where('id', '=', id).execute();
      await addHistory(trx, id, { at: now.toISOString(), event: 'withdrawn', by: caller.reference, reason, to: sent });
      await recordNotice(trx, ctx, {
        action: row.kind === 'notice' ? 'notice.withdraw' : 'diffusion.withdraw',
        direction: 'local',
        supplier: ctx.country,
        receiver: ctx.country,
        notice: row,
        officer: { officerId: caller.officerId, reference: caller.reference },
        reason,
        query: { to: sent },
        outcome: 'done',
      });
    });
    return (await getNotice(ctx, caller, id))!;
  });
}

// --- reading --------------------------------------------------------------------------------------

/** Who may read a row: officers of this node read its own requests and what it received; the secretariat's reviewers everything there; supervisors everything. */
function mayRead(caller: OfficerCaller, row: NoticeRow): boolean {
  if (hasRole(caller, 'supervisor')) return true;
  if (row.held_as === 'secretariat') return hasRole(caller, 'reviewer');
  return hasRole(caller, 'officer') || hasRole(caller, 'reviewer');
}

const REVIEWABLE: NoticeStatus[] = ['pending-review', 'under-review', 'held'];

export async function getNotice(ctx: ExchangeContext, caller: OfficerCaller, id: string): Promise<NoticeView | undefined> {
  if (!UUID.test(id)) return undefined;
  const row = await ctx.db.selectFrom('notices').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || !mayRead(caller, row)) return undefined;
  const deliveries = (await deliveriesOf(ctx.db, [id])).get(id) ?? [];
  const view = noticeView(row, deliveries, ctx.now());
  // The secretariat's reviewers see the review assistance of what waits for them, computed now
  // (the rules, the register and supervision may have changed since the request came).
  if (row.held_as === 'secretariat' && REVIEWABLE.includes(row.status) && row.content && (hasRole(caller, 'reviewer') || hasRole(caller, 'supervisor'))) {
    return { ...view, assessment: await assess(ctx.db, { id, kind: row.kind, type: row.type, requestingState: row.requesting_state, content: row.content as NoticeContent }) };
  }
  return view;
}

export interface ListFilter {
  readonly kind?: 'notice' | 'diffusion' | undefined;
  readonly status?: string | undefined;
  readonly heldAs?: 'requester' | 'secretariat' | 'recipient' | undefined;
  readonly type?: string | undefined;
  readonly limit?: number | undefined;
}

export async function listNotices(ctx: ExchangeContext, caller: OfficerCaller, filter: ListFilter): Promise<NoticeView[]> {
  let q = ctx.db.selectFrom('notices').selectAll();
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  if (filter.status) q = q.where('status', '=', filter.status as NoticeStatus);
  if (filter.heldAs) q = q.where('held_as', '=', filter.heldAs);
  if (filter.type) q = q.where('type', '=', filter.type);
  if (!hasRole(caller, 'supervisor') && !hasRole(caller, 'reviewer')) q = q.where('held_as', '<>', 'secretariat');
  const rows = (await q.orderBy('created_at', 'desc').limit(Math.min(Math.max(filter.limit ?? 50, 1), 500)).execute()).filter((r) => mayRead(caller, r));
  const deliveries = await deliveriesOf(ctx.db, rows.map((r) => r.id));
  const now = ctx.now();
  return rows.map((r) => noticeView(r, deliveries.get(r.id) ?? [], now));
}

