/**
 * Deadlines, deletion and blocking of received data (FD 2008/977 Arts. 4, 5, 9; Prüm Decision Arts.
 * 14(2), 28(3), 30(4), (5)).
 *
 * `runDeadlines` is the scheduled job (every hour while the node serves, started by the HTTP server;
 * once with `openprum safeguards run-deadlines`). It:
 * 1. registers data received since the last run (items.ts);
 * 2. ends data past the supplier's delete-by date, data supplied for a major event one year after
 *    receipt (always erased: Art. 14(2) "in any event"), and data of cases that are all closed
 *    (no longer needed) — erased, or blocked instead where an officer recorded that erasure would
 *    prejudice the data subject (Art. 28(3));
 * 3. marks data whose storage ended with their source (the two-year purge of the record) as erased;
 * 4. opens a review task for data whose review date has come (Arts. 5, 9(1));
 * 5. at this node as a supplier, erases its copies of follow-up data past the delete-by it set;
 * 6. runs the record's own retention (src/audit/retention.ts: records after two years, check results
 *    after 18 months) when given the node;
 * 7. lets PostgreSQL reclaim erased rows at once (VACUUM), so that erased data do not linger in dead
 *    row versions.
 *
 * Time comes from `now` (the node's clock by default), so that tests and operators can move it.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import { purgeExpiredRecords } from '../audit/retention.ts';
import type { AuditNode } from '../audit/store.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { NCP, type SafeguardsContext } from './context.ts';
import { date, recordingRefusals, text } from './input.ts';
import { blockItem, dayOf, dueReason, endItem, eraseItem, itemView, registerReceived, requireItem, type EndOutcome, type ItemRow, type ReceivedItemView } from './items.ts';

type Db = Kysely<Schema> | Transaction<Schema>;

export interface DeadlineReport {
  readonly at: string;
  readonly registered: number;
  readonly ended: readonly EndOutcome[];
  readonly reviewsOpened: number;
  /** Follow-up answers this node supplied whose delete-by passed: its own copies erased. */
  readonly suppliedCopiesErased: number;
  readonly records: { readonly records: number; readonly checks: number } | null;
}

/** Active items whose every case is closed (and that have at least one). */
async function itemsOfClosedCases(db: Db): Promise<ItemRow[]> {
  return db
    .selectFrom('received_items as i')
    .selectAll('i')
    .where('i.status', '=', 'active')
    .where((eb) => eb.or([eb('i.origin_case', 'is not', null), eb.exists(eb.selectFrom('received_data_uses as u').select(sql`1`.as('one')).whereRef('u.item_id', '=', 'i.id'))]))
    .where((eb) => eb.or([eb('i.origin_case', 'is', null), eb.exists(eb.selectFrom('safeguard_cases as c').select(sql`1`.as('one')).whereRef('c.case_reference', '=', 'i.origin_case'))]))
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('received_data_uses as u')
            .select(sql`1`.as('one'))
            .whereRef('u.item_id', '=', 'i.id')
            .where(({ not, exists, selectFrom }) => not(exists(selectFrom('safeguard_cases as c2').select(sql`1`.as('one')).whereRef('c2.case_reference', '=', 'u.case_reference')))),
        ),
      ),
    )
    .execute();
}

async function vacuum(db: Kysely<Schema>): Promise<void> {
  await sql`vacuum follow_ups, follow_up_inbox, follow_up_deliveries, federation_targets, received_items, safeguard_inbox`.execute(db);
}

export interface DeadlineOptions {
  /** The node, to run the record's retention too (Prüm Decision Art. 30(4), (5)). */
  readonly auditNode?: AuditNode | undefined;
  /** VACUUM after erasing (default true). */
  readonly vacuum?: boolean | undefined;
}

export async function runDeadlines(ctx: SafeguardsContext, options: DeadlineOptions = {}): Promise<DeadlineReport> {
  const now = ctx.now();
  const today = dayOf(now);
  const registered = await registerReceived(ctx.db);
  const ended: EndOutcome[] = [];

  // 2. Time limits: the supplier's delete-by, the major event's year.
  const candidates = await ctx.db
    .selectFrom('received_items')
    .selectAll()
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('delete_by', '<=', today), eb('major_event', 'is not', null)]))
    .execute();
  for (const c of candidates) {
    if (!dueReason(c, now)) continue;
    await ctx.db.transaction().execute(async (trx) => {
      const item = await trx.selectFrom('received_items').selectAll().where('id', '=', c.id).forUpdate().executeTakeFirstOrThrow();
      const due = dueReason(item, now);
      if (due) ended.push(await endItem(trx, ctx, item, due.trigger, due.reason));
    });
  }
  // No longer needed: every case they were used in is closed.
  for (const c of await itemsOfClosedCases(ctx.db)) {
    await ctx.db.transaction().execute(async (trx) => {
      const item = await trx.selectFrom('received_items').selectAll().where('id', '=', c.id).forUpdate().executeTakeFirstOrThrow();
      if (item.status === 'active') ended.push(await endItem(trx, ctx, item, 'case-closed', 'Every case the data were used in is closed: no longer needed'));
    });
  }

  // 3. Data gone with their source (the record's two-year purge erases the search's copies; a purged search).
  const orphans = await ctx.db
    .selectFrom('received_items as i')
    .leftJoin('follow_ups as f', 'f.id', 'i.follow_up_id')
    .leftJoin('federation_targets as t', 't.id', 'i.target_id')
    .selectAll('i')
    .where('i.status', '=', 'active')
    .where((eb) => eb.or([eb.and([eb('i.source', '=', 'follow-up'), eb('f.supplied', 'is', null)]), eb.and([eb('i.source', '=', 'search-answer'), eb('t.result', 'is', null)])]))
    .execute();
  for (const o of orphans) {
    await ctx.db.transaction().execute(async (trx) => {
      ended.push(await eraseItem(trx, ctx, o, 'source-gone', 'The data were erased with their source'));
    });
  }

  // 4. Reviews due (FD 2008/977 Arts. 5, 9(1)): a task for the officers.
  const due = await ctx.db
    .selectFrom('received_items as i')
    .leftJoin('received_data_reviews as r', (j) => j.onRef('r.item_id', '=', 'i.id').on('r.status', '=', 'open'))
    .select(['i.id', 'i.review_due'])
    .where('i.status', '=', 'active')
    .where('i.review_due', '<=', today)
    .where('r.id', 'is', null)
    .execute();
  let reviewsOpened = 0;
  for (const d of due) {
    try {
      await ctx.db.insertInto('received_data_reviews').values({ item_id: d.id, due: d.review_due!, created_at: now }).execute();
      reviewsOpened++;
    } catch (e) {
      // Another run opened it meanwhile (one open review per item).
      if ((e as { code?: string }).code !== '23505') throw e;
    }
  }

  // 5. As the supplier: its own copies of follow-up data past the delete-by it set.
  const supplied = await ctx.db
    .selectFrom('follow_ups')
    .select(['id', 'reference', 'requesting_state'])
    .where('direction', '=', 'incoming')
    .where('status', '=', 'granted')
    .where('supplied', 'is not', null)
    .where('delete_by', '<=', today)
    .execute();
  let suppliedCopiesErased = 0;
  for (const f of supplied) {
    const pending = await ctx.db.selectFrom('follow_up_deliveries').select('id').where('follow_up_id', '=', f.id).where('status', '=', 'pending').executeTakeFirst();
    if (pending) continue; // the answer is still on its way: erased once it arrived or failed
    await ctx.db.transaction().execute(async (trx) => {
      await trx.updateTable('follow_ups').set({ supplied: null }).where('id', '=', f.id).execute();
      await trx.updateTable('follow_up_deliveries').set({ payload: '{}', sent_body: null, sent_jws: null }).where('follow_up_id', '=', f.id).where('type', '=', 'follow-up-answer').execute();
      await writeRecord(trx, {
        action: 'supplied-data.expiry',
        direction: 'incoming',
        searchingBody: NCP(f.requesting_state),
        administeringBody: NCP(ctx.country),
        reason: 'The delete-by date this node set has passed: its copies of the data supplied are erased (the record keeps its own, Prüm Decision Art. 30(4))',
        legalBasis: 'FD 2008/977 Art. 9(1)',
        query: { followUpId: f.id, reference: f.reference },
        outcome: 'done',
      });
    });
    suppliedCopiesErased++;
  }

  // 6. The record's retention (reused, not redone: src/audit/retention.ts).
  let records: DeadlineReport['records'] = null;
  if (options.auditNode) {
    const p = await purgeExpiredRecords(options.auditNode, now);
    records = { records: p.records, checks: p.checks };
  }
  if (options.vacuum !== false && (ended.length > 0 || suppliedCopiesErased > 0)) await vacuum(ctx.db);
  return { at: now.toISOString(), registered, ended, reviewsOpened, suppliedCopiesErased, records };
}

// --- officers' acts --------------------------------------------------------------------------------

/**
 * Closes a case: received data used only in closed cases are no longer needed and are erased now
 * (or blocked instead, Prüm Decision Art. 28(3)).
 */
export async function closeCase(ctx: SafeguardsContext, caller: OfficerCaller, caseReference: string, input: { reason: string }): Promise<{ caseReference: string; closedAt: string; ended: EndOutcome[] }> {
  requireRole(caller, 'officer');
  const result = await recordingRefusals(ctx, caller, { action: 'case.closed', query: { caseReference } }, async () => {
    const ref = text('caseReference', caseReference, 100);
    const reason = text('reason', input.reason, 2000);
    const now = ctx.now();
    return ctx.db.transaction().execute(async (trx) => {
      const exists = await trx.selectFrom('safeguard_cases').select(['closed_at', 'closed_by_reference']).where('case_reference', '=', ref).executeTakeFirst();
      if (exists) throw new OpenPrumError('conflict', `Case ${ref} was closed at ${exists.closed_at} by ${exists.closed_by_reference ?? '?'}`);
      const rec = await writeRecord(trx, {
        action: 'case.closed',
        direction: 'local',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(ctx.country),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason,
        legalBasis: 'FD 2008/977 Art. 4(2); Prüm Decision Art. 28(3)(a)',
        query: { caseReference: ref },
        outcome: 'done',
      });
      await trx.insertInto('safeguard_cases').values({ case_reference: ref, closed_at: now, closed_by_id: caller.officerId, closed_by_reference: caller.reference, reason, record_id: rec.id }).execute();
      await registerReceived(trx);
      const ended: EndOutcome[] = [];
      for (const item of await itemsOfClosedCases(trx)) {
        const locked = await trx.selectFrom('received_items').selectAll().where('id', '=', item.id).forUpdate().executeTakeFirstOrThrow();
        if (locked.status === 'active') ended.push(await endItem(trx, ctx, locked, 'case-closed', `Case ${ref} closed: ${reason}`, { officerId: caller.officerId, officerReference: caller.reference }));
      }
      return { caseReference: ref, closedAt: now.toISOString(), ended };
    });
  });
  if (result.ended.length > 0) await vacuum(ctx.db);
  return result;
}

/**
 * Records that erasing the item would prejudice the data subject's legitimate interests: when its
 * erasure comes, it is blocked instead, usable only for `purpose` (Prüm Decision Art. 28(3); FD
 * 2008/977 Art. 4(3)).
 */
export async function blockInsteadOfErasure(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string, input: { purpose: string; reason: string }): Promise<ReceivedItemView> {
  requireRole(caller, 'officer');
  return recordingRefusals(ctx, caller, { action: 'received-data.block-instead', query: { itemId } }, async () => {
    const purpose = text('purpose', input.purpose, 500);
    const reason = text('reason', input.reason, 2000);
    return ctx.db.transaction().execute(async (trx) => {
      const item = await requireItem(trx, itemId, { forUpdate: true });
      if (item.status !== 'active') throw new OpenPrumError('conflict', `Received data ${item.reference} are ${item.status}`);
      if (item.major_event) throw new OpenPrumError('conflict', `Data supplied for the major event "${item.major_event}" are deleted after a year in any event (Prüm Decision Art. 14(2)); they cannot be kept blocked`);
      await trx.updateTable('received_items').set({ preserve_purpose: purpose, preserve_reason: reason, preserve_by_reference: caller.reference }).where('id', '=', item.id).execute();
      await writeRecord(trx, {
        action: 'received-data.block-instead',
        direction: 'local',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(item.supplying_state),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason,
        purpose,
        legalBasis: 'Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3)',
        query: { itemId: item.id, reference: item.reference },
        outcome: 'done',
      });
      return itemView({ ...item, preserve_purpose: purpose, preserve_reason: reason, preserve_by_reference: caller.reference });
    });
  });
}

/** An officer ends an item now: no longer needed (erased, or blocked instead when so recorded). */
export async function endReceivedItem(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string, input: { reason: string }): Promise<EndOutcome> {
  requireRole(caller, 'officer');
  const out = await recordingRefusals(ctx, caller, { action: 'received-data.erasure', query: { itemId } }, async () => {
    const reason = text('reason', input.reason, 2000);
    return ctx.db.transaction().execute(async (trx) => {
      const item = await requireItem(trx, itemId, { forUpdate: true });
      if (item.status !== 'active') throw new OpenPrumError('conflict', `Received data ${item.reference} are ${item.status}`);
      return endItem(trx, ctx, item, 'no-longer-needed', reason, { officerId: caller.officerId, officerReference: caller.reference });
    });
  });
  await vacuum(ctx.db);
  return out;
}

/**
 * Erasure or blocking of received data ordered by someone else: the data-protection authority, or
 * the answer to a data subject's request (src/rights/ may call this). Blocked data can be erased too.
 */
export async function applyOrder(ctx: SafeguardsContext, itemId: string, order: { action: 'erase' | 'block'; purpose?: string; reason: string; orderedBy: string }): Promise<EndOutcome> {
  const reason = text('reason', order.reason, 2000);
  const orderedBy = text('orderedBy', order.orderedBy, 200);
  const out = await ctx.db.transaction().execute(async (trx) => {
    const item = await requireItem(trx, itemId, { forUpdate: true });
    if (order.action === 'block') return blockItem(trx, ctx, item, 'order', text('purpose', order.purpose, 500), `${orderedBy}: ${reason}`);
    if (item.status === 'erased') throw new OpenPrumError('conflict', `Received data ${item.reference} are erased already`);
    return eraseItem(trx, ctx, item, 'order', `${orderedBy}: ${reason}`);
  });
  await vacuum(ctx.db);
  return out;
}

// --- reviews --------------------------------------------------------------------------------------

export interface ReviewView {
  readonly id: number;
  readonly due: string;
  readonly createdAt: string;
  readonly status: string;
  readonly decision: string | null;
  readonly decidedBy: string | null;
  readonly reason: string | null;
  readonly nextReview: string | null;
  readonly item: ReceivedItemView;
}

export async function listReviews(ctx: SafeguardsContext, caller: OfficerCaller, status: 'open' | 'done' = 'open', reviewId?: number): Promise<ReviewView[]> {
  requireRole(caller, 'officer', 'supervisor');
  let q = ctx.db
    .selectFrom('received_data_reviews as r')
    .innerJoin('received_items as i', 'i.id', 'r.item_id')
    .selectAll('i')
    .select(['r.id as review_id', 'r.due', 'r.created_at as review_created_at', 'r.status as review_status', 'r.decision', 'r.decided_by_reference', 'r.reason', 'r.next_review'])
    .where('r.status', '=', status);
  if (reviewId !== undefined) q = q.where('r.id', '=', reviewId);
  const rows = await q.orderBy('r.due').limit(500).execute();
  return rows.map((r) => ({
    id: r.review_id,
    due: r.due,
    createdAt: r.review_created_at,
    status: r.review_status,
    decision: r.decision,
    decidedBy: r.decided_by_reference,
    reason: r.reason,
    nextReview: r.next_review,
    item: itemView(r),
  }));
}

export interface ReviewDecision {
  readonly decision: 'keep' | 'erase' | 'block';
  readonly reason: string;
  /** keep: the next review date. */
  readonly nextReview?: string | undefined;
  /** block: the purpose that prevents erasure. */
  readonly purpose?: string | undefined;
}

/** An officer's review: still needed (until the next review), erase, or block (FD 2008/977 Arts. 4, 5, 9(1)). */
export async function decideReview(ctx: SafeguardsContext, caller: OfficerCaller, reviewId: number, input: ReviewDecision): Promise<ReviewView> {
  requireRole(caller, 'officer');
  await recordingRefusals(ctx, caller, { action: 'received-data.review', query: { reviewId, decision: input.decision ?? null } }, async () => {
    const reason = text('reason', input.reason, 2000);
    if (!['keep', 'erase', 'block'].includes(input.decision)) throw new OpenPrumError('safeguards-invalid', `decision must be keep, erase or block, not ${JSON.stringify(input.decision)}`, { field: 'decision' });
    await ctx.db.transaction().execute(async (trx) => {
      const review = await trx.selectFrom('received_data_reviews').selectAll().where('id', '=', reviewId).forUpdate().executeTakeFirst();
      if (!review) throw new OpenPrumError('not-found', `No review ${reviewId}`);
      if (review.status !== 'open') throw new OpenPrumError('conflict', `Review ${reviewId} is ${review.status}`);
      const item = await trx.selectFrom('received_items').selectAll().where('id', '=', review.item_id).forUpdate().executeTakeFirstOrThrow();
      const now = ctx.now();
      let nextReview: string | null = null;
      if (input.decision === 'keep') {
        nextReview = date('nextReview', input.nextReview);
        if (nextReview <= dayOf(now)) throw new OpenPrumError('safeguards-invalid', `nextReview ${nextReview} must lie in the future`, { field: 'nextReview' });
        if (item.delete_by && nextReview > item.delete_by) throw new OpenPrumError('safeguards-invalid', `nextReview ${nextReview} lies after the supplier's delete-by ${item.delete_by}`, { field: 'nextReview' });
      }
      const rec = await writeRecord(trx, {
        action: 'received-data.review',
        direction: 'local',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(item.supplying_state),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason,
        legalBasis: 'FD 2008/977 Arts. 5, 9(1)',
        query: { reviewId, itemId: item.id, reference: item.reference, decision: input.decision, nextReview },
        outcome: 'done',
      });
      await trx.updateTable('received_data_reviews').set({ status: 'done', decided_at: now, decided_by_id: caller.officerId, decided_by_reference: caller.reference, decision: input.decision, reason, next_review: nextReview, record_id: rec.id }).where('id', '=', reviewId).execute();
      const actor = { officerId: caller.officerId, officerReference: caller.reference };
      if (input.decision === 'keep') await trx.updateTable('received_items').set({ review_due: nextReview }).where('id', '=', item.id).execute();
      else if (input.decision === 'erase') await eraseItem(trx, ctx, item, 'review', reason, actor);
      else await blockItem(trx, ctx, item, 'review', text('purpose', input.purpose, 500), reason, actor);
    });
  });
  const [v] = await listReviews(ctx, caller, 'done', reviewId);
  return v!;
}

// --- the scheduled job ----------------------------------------------------------------------------

export interface DeadlineJob {
  stop(): Promise<void>;
}

/** Runs `runDeadlines` at start and then every `intervalMs` (default OPENPRUM_SAFEGUARDS_INTERVAL_MS or one hour). */
export function startDeadlineJob(ctx: SafeguardsContext, options: { intervalMs?: number; auditNode?: AuditNode; onError?: (e: unknown) => void; onRun?: (r: DeadlineReport) => void } = {}): DeadlineJob {
  const env = Number(process.env.OPENPRUM_SAFEGUARDS_INTERVAL_MS);
  const intervalMs = options.intervalMs ?? (Number.isFinite(env) && env > 0 ? env : 3_600_000);
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (stopped) return;
    running = runDeadlines(ctx, { auditNode: options.auditNode })
      .then((r) => options.onRun?.(r))
      .catch((e: unknown) => options.onError?.(e))
      .finally(() => {
        running = undefined;
        if (!stopped) {
          timer = setTimeout(tick, intervalMs);
          timer.unref?.();
        }
      });
  };
  timer = setTimeout(tick, 0);
  timer.unref?.();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
