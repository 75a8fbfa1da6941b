/**
 * The notice rows of a node, the messages it queues, the deletion of notice data and the views.
 *
 * Records (Prüm Decision Art. 30, FD 2008/977 Art. 10): every supply and receipt of a notice is
 * recorded in the transaction that stores or queues it, with the notice's id, type, requesting state
 * and a SHA-256 digest of its content, never the personal data themselves. So deleting a notice
 * (withdrawal, cancellation, a data subject's request) deletes the data for real, and the record
 * still proves what was supplied to whom and when: the digest matches the signed message the
 * receiver kept while it held the notice.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { NCP, type ExchangeContext } from '../exchange/context.ts';
import { PROTOCOL } from '../exchange/messages.ts';
import type { NoticeContent } from './model.ts';
import { contentDigest, type Act } from './messages.ts';
import type { HeldAs, HistoryEntry, NoticeDeliveriesTable, NoticesTable, NoticeStatus } from './schema.ts';

export type Db = Kysely<Schema>;
export type NoticeRow = Selectable<NoticesTable>;
type DeliveryRow = Selectable<NoticeDeliveriesTable>;

/** Acts whose payload carries the notice's personal data (emptied when the data are deleted). */
export const CONTENT_ACTS: readonly Act[] = ['notice-request', 'notice-published', 'diffusion', 'diffusion-release'];

export const FIVE_YEARS_MS = 5 * 365.25 * 86_400_000;

/** A date plus whole months (calendar months, clamped to the month's last day). */
export function addMonths(d: Date, months: number): Date {
  const r = new Date(d.getTime());
  const day = r.getUTCDate();
  r.setUTCDate(1);
  r.setUTCMonth(r.getUTCMonth() + months);
  const last = new Date(Date.UTC(r.getUTCFullYear(), r.getUTCMonth() + 1, 0)).getUTCDate();
  r.setUTCDate(Math.min(day, last));
  return r;
}

/** Queues one message for one state (sent by the worker, retried with back-off). Returns its message id. */
export async function enqueue(db: Db, ctx: ExchangeContext, m: { state: string; act: Act; noticeId?: string; payload: unknown }): Promise<string> {
  const messageId = randomUUID();
  const message = { protocol: PROTOCOL, type: 'notice-message', messageId, senderState: ctx.country, recipientState: m.state, act: m.act, ...(m.noticeId ? { noticeId: m.noticeId } : {}), payload: m.payload };
  await db.insertInto('notice_deliveries').values({ message_id: messageId, state: m.state, act: m.act, notice_id: m.noticeId ?? null, payload: JSON.stringify(message) }).execute();
  return messageId;
}

export async function addHistory(db: Db, id: string, entry: HistoryEntry): Promise<void> {
  await db
    .updateTable('notices')
    .set({ history: sql<HistoryEntry[]>`history || ${JSON.stringify([entry])}::jsonb` as never, updated_at: sql<string>`clock_timestamp()` as never })
    .where('id', '=', id)
    .execute();
}

/** What a record says about a notice's content: its digest and what it holds, no personal data. */
export function contentSummary(content: NoticeContent | Record<string, unknown> | null | undefined): Record<string, unknown> {
  if (!content) return { content: null };
  const c = content as NoticeContent;
  return {
    contentDigest: contentDigest(content),
    holds: [c.subject ? 'subject' : null, c.judicial ? 'judicial' : null, 'facts', (c.attachments?.length ?? 0) > 0 ? `attachments:${c.attachments!.length}` : null].filter(Boolean),
  };
}

/** One record of a notice act: `supplier` supplies data to (or acts for) `receiver`. */
export async function recordNotice(
  db: Db,
  ctx: ExchangeContext,
  r: {
    action: string;
    direction: 'local' | 'outgoing' | 'incoming';
    supplier: string;
    receiver: string;
    notice?: Pick<NoticeRow, 'id' | 'kind' | 'type' | 'requesting_state' | 'reference' | 'entity_id'> | { id: string; kind: string; type: string; requesting_state: string; reference: string; entity_id?: string | null };
    officer?: { officerId: number; reference: string } | null;
    reason?: string | null;
    query?: Record<string, unknown>;
    supplied?: unknown;
    outcome: 'done' | 'refused' | 'failed';
    requestId?: string | null;
  },
): Promise<number> {
  const n = r.notice;
  const rec = await writeRecord(db, {
    action: r.action,
    direction: r.direction,
    searchingBody: NCP(r.receiver),
    administeringBody: NCP(r.supplier),
    officerId: r.officer?.officerId ?? null,
    officerReference: r.officer?.reference ?? null,
    reason: r.reason ?? null,
    legalBasis: 'INTERPOL Constitution Arts. 2, 3; Rules on the Processing of Data (notices, diffusions)',
    query: { ...(n ? { noticeId: n.id, kind: n.kind, type: n.type, requestingState: n.requesting_state, reference: n.reference, ...(n.entity_id ? { entityId: n.entity_id } : {}) } : {}), ...(r.query ?? {}) },
    supplied: r.supplied,
    outcome: r.outcome,
    requestId: r.requestId ?? null,
  });
  void ctx;
  return rec.id;
}

/**
 * Deletes the data of a notice on this node: the content (or the whole row, leaving a tombstone), the
 * signed messages that carried it (inbox bodies), and the queued messages that would carry it
 * (cancelled if not yet sent, emptied if sent). Messages that carry no content (a deletion order in
 * flight) are kept.
 */
export async function deleteNoticeData(db: Db, id: string, how: { removeRow: boolean; kind: string; requestingState: string; reason: string }): Promise<void> {
  if (how.removeRow) {
    await db.deleteFrom('notices').where('id', '=', id).execute();
  } else {
    await db.updateTable('notices').set({ content: null, name_key: null, birth_date: null, updated_at: sql<string>`clock_timestamp()` as never }).where('id', '=', id).execute();
  }
  await db
    .insertInto('notice_tombstones')
    .values({ id, kind: how.kind, requesting_state: how.requestingState, reason: how.reason })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  await db.updateTable('notice_inbox').set({ body: null, jws: null }).where('notice_id', '=', id).where('act', 'in', CONTENT_ACTS as Act[]).execute();
  await db
    .updateTable('notice_deliveries')
    .set({ status: 'cancelled', claimed_until: null, last_error_code: 'notice-deleted', last_error: `Not sent: the data were deleted (${how.reason})` })
    .where('notice_id', '=', id)
    .where('status', '=', 'pending')
    .where('act', 'in', CONTENT_ACTS as Act[])
    .execute();
  await db.updateTable('notice_deliveries').set({ payload: '{}' }).where('notice_id', '=', id).where('act', 'in', CONTENT_ACTS as Act[]).execute();
}

/** Cancels queued content-carrying messages of a notice that were not sent yet (the data must not go out any more). */
export async function cancelPendingContent(db: Db, id: string, why: string): Promise<void> {
  await db
    .updateTable('notice_deliveries')
    .set({ status: 'cancelled', claimed_until: null, last_error_code: 'notice-deleted', last_error: why })
    .where('notice_id', '=', id)
    .where('status', '=', 'pending')
    .where('act', 'in', CONTENT_ACTS as Act[])
    .execute();
}

export async function isTombstoned(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom('notice_tombstones').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

// --- views ----------------------------------------------------------------------------------------

export interface DeliveryView {
  readonly state: string;
  readonly act: string;
  readonly status: string;
  readonly attempts: number;
  readonly deliveredAt: string | null;
  readonly error: { readonly code: string; readonly detail: string } | null;
}

export interface NoticeView {
  readonly id: string;
  readonly kind: string;
  readonly type: string;
  readonly heldAs: HeldAs;
  readonly requestingState: string;
  readonly reference: string;
  readonly status: NoticeStatus;
  readonly version: number;
  readonly entityId: string | null;
  readonly publicExtract: boolean;
  readonly recipients: string[] | null;
  readonly content: Record<string, unknown> | null;
  readonly submittedAt: string | null;
  readonly decidedAt: string | null;
  readonly publishedAt: string | null;
  readonly expiresAt: string | null;
  readonly reviewDueAt: string | null;
  /** A published notice whose validity has ended (the secretariat cancels it at its next sweep). */
  readonly expired: boolean;
  readonly closedAt: string | null;
  readonly decision: Record<string, unknown> | null;
  readonly history: HistoryEntry[];
  readonly officerReference: string | null;
  readonly deliveries: DeliveryView[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly assessment?: unknown;
}

export function deliveryView(d: DeliveryRow): DeliveryView {
  return {
    state: d.state,
    act: d.act,
    status: d.status,
    attempts: d.attempts,
    deliveredAt: d.delivered_at,
    error: d.last_error_code ? { code: d.last_error_code, detail: d.last_error ?? '' } : null,
  };
}

export function noticeView(n: NoticeRow, deliveries: DeliveryRow[], now: Date): NoticeView {
  return {
    id: n.id,
    kind: n.kind,
    type: n.type,
    heldAs: n.held_as,
    requestingState: n.requesting_state,
    reference: n.reference,
    status: n.status,
    version: n.version,
    entityId: n.entity_id,
    publicExtract: n.public_extract,
    recipients: n.recipients,
    content: n.content,
    submittedAt: n.submitted_at,
    decidedAt: n.decided_at,
    publishedAt: n.published_at,
    expiresAt: n.expires_at,
    reviewDueAt: n.review_due_at,
    expired: n.status === 'published' && n.expires_at !== null && Date.parse(n.expires_at) <= now.getTime(),
    closedAt: n.closed_at,
    decision: n.decision,
    history: n.history,
    officerReference: n.officer_reference,
    deliveries: deliveries.map(deliveryView),
    createdAt: n.created_at,
    updatedAt: n.updated_at,
  };
}

export async function deliveriesOf(db: Db, ids: string[]): Promise<Map<string, DeliveryRow[]>> {
  const out = new Map<string, DeliveryRow[]>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('notice_deliveries').selectAll().where('notice_id', 'in', ids).orderBy('id').execute();
  for (const r of rows) {
    const list = out.get(r.notice_id!) ?? [];
    list.push(r);
    out.set(r.notice_id!, list);
  }
  return out;
}
