/**
 * The register of personal data this node received from other states (`received_items`): what each
 * piece is, where it is stored, the purpose it was supplied for, the supplier's conditions and time
 * limits, and whether it is active, blocked or erased. And the three things that change where the
 * data are: erasure, blocking and correction.
 *
 * Two sources (the data stay where they arrived):
 * - a follow-up answer granted by the requested state (`follow_ups.supplied`, with its conditions of
 *   use: src/followup/conditions.ts). The item's id is the follow-up's id.
 * - one state's answer with a hit to a federated search (`federation_targets.result`: vehicle holders,
 *   DNA profiles, fingerprint templates), supplied under Prüm Decision Arts. 3, 9, 12.
 *
 * Items are registered from those tables whenever the safeguards look at them (`registerReceived`),
 * so no path of arrival can bypass them. Erasure is real: the data are deleted from every table that
 * holds them (not the record, which Prüm Decision Art. 30(4) keeps two years for data-protection
 * control only); nothing in this module keeps a copy in memory.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { summariseConditions, type Condition } from '../followup/conditions.ts';
import { NCP, type SafeguardsContext } from './context.ts';
import type { About } from './messages.ts';
import type { ItemStatus, ReceivedItemsTable } from './schema.ts';

type Db = Kysely<Schema> | Transaction<Schema>;
export type ItemRow = Selectable<ReceivedItemsTable>;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Without a time limit of the supplier, the receiving state's own limits apply (FD 2008/977 Arts. 5,
 * 9(2)): this node reviews such data once a year whether they are still needed.
 */
export const NATIONAL_REVIEW_AFTER_DAYS = 365;

/** Prüm Decision Art. 14(2): data supplied for a major event are deleted "after not more than a year". */
export const MAJOR_EVENT_MAX_DAYS = 365;

/** The legal basis of data received in an automated search's answer, and its purpose limitation. */
const SEARCH_LEGAL_BASIS: Record<string, string> = {
  dna: 'Prüm Decision Arts. 3, 26(2)',
  fingerprint: 'Prüm Decision Arts. 9, 26(2)',
  vehicle: 'Prüm Decision Arts. 12, 26(3)',
};

export function dayOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function addDays(day: string | Date, days: number): string {
  const d = typeof day === 'string' ? new Date(`${day}T00:00:00Z`) : new Date(day.getTime());
  d.setUTCDate(d.getUTCDate() + days);
  return dayOf(d);
}

/** The day a major event's data must be gone by (one year after receipt). */
export function majorEventEnd(item: Pick<ItemRow, 'received_at'>): string {
  return addDays(new Date(item.received_at), MAJOR_EVENT_MAX_DAYS);
}

export function conditionsOf(item: Pick<ItemRow, 'conditions'>): Condition[] {
  return Array.isArray(item.conditions) ? (item.conditions as Condition[]) : [];
}

/**
 * Registers the received data not registered yet: granted follow-ups at this (the requesting) node,
 * and answered searches with a hit. Idempotent and safe to run concurrently (unique source columns).
 */
export async function registerReceived(db: Db): Promise<number> {
  let n = 0;
  const followUps = await db
    .selectFrom('follow_ups as f')
    .leftJoin('received_items as r', 'r.follow_up_id', 'f.id')
    .select([
      'f.id',
      'f.requested_state',
      'f.kind',
      'f.reference',
      'f.search_message_id',
      'f.request_message_id',
      'f.purpose',
      'f.legal_basis',
      'f.supply_legal_basis',
      'f.case_reference',
      'f.officer_id',
      'f.officer_reference',
      'f.answer_received_at',
      'f.decided_at',
      'f.conditions',
    ])
    .where('f.direction', '=', 'outgoing')
    .where('f.status', '=', 'granted')
    .where('f.supplied', 'is not', null)
    .where('r.id', 'is', null)
    .execute();
  for (const f of followUps) {
    const conditions = Array.isArray(f.conditions) ? (f.conditions as Condition[]) : [];
    const s = summariseConditions(conditions);
    const major = conditions.find((c) => c.type === 'major-event');
    const receivedAt = f.answer_received_at ?? f.decided_at ?? new Date().toISOString();
    const r = await db
      .insertInto('received_items')
      .values({
        id: f.id,
        source: 'follow-up',
        follow_up_id: f.id,
        supplying_state: f.requested_state,
        kind: f.kind,
        reference: f.reference,
        search_message_id: f.search_message_id,
        request_message_id: f.request_message_id,
        purpose: f.purpose,
        legal_basis: f.supply_legal_basis ? `${f.legal_basis}; supplied under ${f.supply_legal_basis}` : f.legal_basis,
        origin_case: f.case_reference,
        requested_by_id: f.officer_id,
        requested_by_reference: f.officer_reference,
        received_at: receivedAt,
        conditions: JSON.stringify(conditions),
        delete_by: s.deleteBy,
        // The supplier's review date; without any time limit of the supplier, the national one.
        review_due: s.reviewBy ?? (s.deleteBy ? null : addDays(new Date(receivedAt), NATIONAL_REVIEW_AFTER_DAYS)),
        major_event: major && major.type === 'major-event' ? major.event : null,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    n += Number(r.numInsertedOrUpdatedRows ?? 0);
  }

  const answers = await db
    .selectFrom('federation_targets as t')
    .innerJoin('federation_searches as s', 's.id', 't.search_id')
    .leftJoin('received_items as r', 'r.target_id', 't.id')
    .select(['t.id', 't.state', 't.message_id', 't.answered_at', 's.kind', 's.reference', 's.purpose', 's.officer_id', 's.officer_reference'])
    .where('t.status', '=', 'answered')
    .where('t.hit', '=', true)
    .where('t.result', 'is not', null)
    .where('r.id', 'is', null)
    .execute();
  for (const t of answers) {
    const receivedAt = t.answered_at ?? new Date().toISOString();
    const r = await db
      .insertInto('received_items')
      .values({
        id: randomUUID(),
        source: 'search-answer',
        target_id: t.id,
        supplying_state: t.state,
        kind: t.kind,
        reference: t.reference,
        search_message_id: t.message_id,
        purpose: t.purpose,
        legal_basis: SEARCH_LEGAL_BASIS[t.kind] ?? `Prüm Decision Art. 26 (search kind ${t.kind})`,
        requested_by_id: t.officer_id,
        requested_by_reference: t.officer_reference,
        received_at: receivedAt,
        conditions: '[]',
        review_due: addDays(new Date(receivedAt), NATIONAL_REVIEW_AFTER_DAYS),
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    n += Number(r.numInsertedOrUpdatedRows ?? 0);
  }
  return n;
}

/** An item by id, after registering what arrived since the last look. */
export async function findItem(db: Db, id: string, options: { forUpdate?: boolean } = {}): Promise<ItemRow | undefined> {
  if (!UUID.test(id)) return undefined;
  let q = db.selectFrom('received_items').selectAll().where('id', '=', id);
  if (options.forUpdate) q = q.forUpdate();
  let item = await q.executeTakeFirst();
  if (!item) {
    await registerReceived(db);
    item = await q.executeTakeFirst();
  }
  return item;
}

export async function requireItem(db: Db, id: string, options: { forUpdate?: boolean } = {}): Promise<ItemRow> {
  const item = await findItem(db, id, options);
  if (!item) throw new OpenPrumError('not-found', `No received data ${id}; the list is at GET /v1/received-data`);
  return item;
}

/** The item a peer's message names (the supplier's references), if this node holds one. */
export async function itemAbout(db: Db, supplier: string, about: About): Promise<ItemRow | undefined> {
  const find = () => {
    let q = db.selectFrom('received_items').selectAll().where('supplying_state', '=', supplier);
    q = about.source === 'follow-up' ? q.where('source', '=', 'follow-up').where('request_message_id', '=', about.requestMessageId) : q.where('source', '=', 'search-answer').where('search_message_id', '=', about.searchMessageId);
    return q.forUpdate().executeTakeFirst();
  };
  const found = await find();
  if (found) return found;
  await registerReceived(db);
  return find();
}

/** The references a peer knows this item by. */
export function aboutOf(item: ItemRow): About {
  return item.source === 'follow-up'
    ? { source: 'follow-up', requestMessageId: item.request_message_id!, reference: item.reference }
    : { source: 'search-answer', searchMessageId: item.search_message_id!, reference: item.reference, kind: item.kind };
}

/** The data themselves, wherever they are now (null once erased). */
export async function loadData(db: Db, item: ItemRow): Promise<unknown> {
  if (item.status === 'erased') return null;
  if (item.status === 'blocked') return item.blocked_data;
  if (item.source === 'follow-up') {
    const f = await db.selectFrom('follow_ups').select('supplied').where('id', '=', item.follow_up_id!).executeTakeFirst();
    return f?.supplied ?? null;
  }
  const t = await db.selectFrom('federation_targets').select('result').where('id', '=', item.target_id!).executeTakeFirst();
  return t?.result ?? null;
}

/**
 * Deletes the data from every place it is held at this node, except the record: the follow-up's
 * supplied data and the signed answer carrying them (in follow_ups and follow_up_inbox), the search
 * answer's result and signed answer, the corrections received for it.
 */
async function wipeSource(trx: Db, item: ItemRow): Promise<void> {
  if (item.source === 'follow-up') {
    await trx.updateTable('follow_ups').set({ supplied: null, answer_body: null, answer_jws: null }).where('id', '=', item.follow_up_id!).execute();
    await trx.updateTable('follow_up_inbox').set({ body: '', jws: '' }).where('follow_up_id', '=', item.follow_up_id!).where('type', '=', 'follow-up-answer').execute();
  } else {
    await trx.updateTable('federation_targets').set({ result: null, answer_body: null, answer_jws: null }).where('id', '=', item.target_id!).execute();
  }
  await trx.updateTable('safeguard_inbox').set({ body: '', jws: '' }).where('item_id', '=', item.id).where('type', '=', 'supplied-data-correction').execute();
}

export type EndTrigger = 'delete-by' | 'major-event' | 'case-closed' | 'review' | 'no-longer-needed' | 'supplier-correction' | 'source-gone' | 'order';

/** The law behind each way data come to an end here. */
const TRIGGER_BASIS: Record<EndTrigger, string> = {
  'delete-by': "FD 2008/977 Art. 9(1): the supplier's time limit; Prüm Decision Art. 16(4)",
  'major-event': 'Prüm Decision Art. 14(2): deleted after not more than a year',
  'case-closed': 'FD 2008/977 Art. 4(2); Prüm Decision Art. 28(3)(a): no longer necessary for the purpose',
  'review': 'FD 2008/977 Arts. 5, 9(1): review of the need to store',
  'no-longer-needed': 'FD 2008/977 Art. 4(2); Prüm Decision Art. 28(3)(a)',
  'supplier-correction': 'Prüm Decision Art. 28(1); FD 2008/977 Art. 8(2)',
  'source-gone': 'Prüm Decision Art. 30(4): erased with the record of its receipt',
  'order': 'Directive (EU) 2016/680 Arts. 16, 47(2)(b)',
};

export interface Actor {
  readonly officerId?: number | null;
  readonly officerReference?: string | null;
}

export interface EndOutcome {
  readonly itemId: string;
  readonly reference: string;
  readonly supplyingState: string;
  readonly outcome: 'erased' | 'blocked';
  readonly trigger: EndTrigger;
}

/** Erases an item's data for good (in the caller's transaction) and records it. */
export async function eraseItem(trx: Db, ctx: SafeguardsContext, item: ItemRow, trigger: EndTrigger, reason: string, actor: Actor = {}): Promise<EndOutcome> {
  if (item.status === 'erased') return { itemId: item.id, reference: item.reference, supplyingState: item.supplying_state, outcome: 'erased', trigger };
  await wipeSource(trx, item);
  const now = ctx.now();
  await trx
    .updateTable('received_items')
    .set({ status: 'erased', erased_at: now, erasure_reason: `${trigger}: ${reason}`.slice(0, 2000), blocked_data: null, contested_note: null, correction_note: null })
    .where('id', '=', item.id)
    .execute();
  await trx.updateTable('received_data_reviews').set({ status: 'void' }).where('item_id', '=', item.id).where('status', '=', 'open').execute();
  await writeRecord(trx, {
    action: 'received-data.erasure',
    direction: 'local',
    searchingBody: NCP(ctx.country),
    administeringBody: NCP(item.supplying_state),
    officerId: actor.officerId ?? null,
    officerReference: actor.officerReference ?? null,
    reason,
    legalBasis: TRIGGER_BASIS[trigger],
    query: { itemId: item.id, source: item.source, reference: item.reference, trigger, wasBlocked: item.status === 'blocked' },
    outcome: 'done',
  });
  return { itemId: item.id, reference: item.reference, supplyingState: item.supplying_state, outcome: 'erased', trigger };
}

/**
 * Blocks an item (Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3)): the data leave every ordinary
 * place and are kept only in the item, usable for `purpose` alone.
 */
export async function blockItem(trx: Db, ctx: SafeguardsContext, item: ItemRow, trigger: EndTrigger, purpose: string, reason: string, actor: Actor = {}): Promise<EndOutcome> {
  if (item.status !== 'active') throw new OpenPrumError('conflict', `Received data ${item.reference} are ${item.status} already`);
  if (item.major_event) {
    throw new OpenPrumError('conflict', `Data supplied for the major event "${item.major_event}" cannot be blocked instead of erased: Prüm Decision Art. 14(2) wants them deleted after a year in any event`);
  }
  const data = await loadData(trx, item);
  await wipeSource(trx, item);
  await trx
    .updateTable('received_items')
    .set({ status: 'blocked', blocked_at: ctx.now(), blocked_purpose: purpose, blocked_data: JSON.stringify(data ?? null) })
    .where('id', '=', item.id)
    .execute();
  await trx.updateTable('received_data_reviews').set({ status: 'void' }).where('item_id', '=', item.id).where('status', '=', 'open').execute();
  await writeRecord(trx, {
    action: 'received-data.blocking',
    direction: 'local',
    searchingBody: NCP(ctx.country),
    administeringBody: NCP(item.supplying_state),
    officerId: actor.officerId ?? null,
    officerReference: actor.officerReference ?? null,
    reason,
    purpose,
    legalBasis: `Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3) (instead of erasure: ${TRIGGER_BASIS[trigger]})`,
    query: { itemId: item.id, source: item.source, reference: item.reference, trigger },
    outcome: 'done',
  });
  return { itemId: item.id, reference: item.reference, supplyingState: item.supplying_state, outcome: 'blocked', trigger };
}

/**
 * Ends an item that is due for erasure: blocked instead when an officer recorded that erasure would
 * prejudice the data subject (and the law allows it), erased otherwise.
 */
export async function endItem(trx: Db, ctx: SafeguardsContext, item: ItemRow, trigger: EndTrigger, reason: string, actor: Actor = {}): Promise<EndOutcome> {
  if (item.status === 'active' && item.preserve_purpose && !item.major_event && trigger !== 'source-gone') {
    return blockItem(trx, ctx, item, trigger, item.preserve_purpose, `${reason}; blocked instead of erased: ${item.preserve_reason ?? ''}`.slice(0, 2000), actor);
  }
  return eraseItem(trx, ctx, item, trigger, reason, actor);
}

/** Why an active item must end now, if it must (the supplier's date, the major event's year). */
export function dueReason(item: ItemRow, now: Date): { trigger: EndTrigger; reason: string } | undefined {
  if (item.status !== 'active') return undefined;
  const today = dayOf(now);
  if (item.major_event && majorEventEnd(item) <= today) {
    return { trigger: 'major-event', reason: `Supplied for the major event "${item.major_event}" on ${item.received_at.slice(0, 10)}: one year has passed` };
  }
  if (item.delete_by && item.delete_by <= today) return { trigger: 'delete-by', reason: `The supplier (${item.supplying_state}) set delete-by ${item.delete_by}` };
  return undefined;
}

/**
 * Applies a due time limit to one item at once (before any use of it), in its own transaction.
 * Returns the item as it is afterwards.
 */
export async function enforceDue(ctx: SafeguardsContext, item: ItemRow): Promise<ItemRow> {
  if (!dueReason(item, ctx.now())) return item;
  await ctx.db.transaction().execute(async (trx) => {
    const fresh = await trx.selectFrom('received_items').selectAll().where('id', '=', item.id).forUpdate().executeTakeFirstOrThrow();
    const due = dueReason(fresh, ctx.now());
    if (due) await endItem(trx, ctx, fresh, due.trigger, due.reason);
  });
  return ctx.db.selectFrom('received_items').selectAll().where('id', '=', item.id).executeTakeFirstOrThrow();
}

// --- correcting data in place (what the supplier asks: Prüm Decision Art. 28(1)) -------------------

const MATCHED_ARRAYS: Record<string, { array: string; key: string }> = {
  dna: { array: 'hits', key: 'ref' },
  fingerprint: { array: 'candidates', key: 'ref' },
  vehicle: { array: 'vehicles', key: 'vin' },
};

/** The matched items of a search answer's result (DNA hits, fingerprint candidates, vehicles). */
export function matchedElements(kind: string, result: unknown): { array: string; key: string; elements: Record<string, unknown>[] } | undefined {
  const m = MATCHED_ARRAYS[kind];
  const arr = typeof result === 'object' && result !== null ? (result as Record<string, unknown>)[m?.array ?? ''] : undefined;
  if (!m || !Array.isArray(arr)) return undefined;
  return { ...m, elements: arr as Record<string, unknown>[] };
}

/**
 * Replaces (or with `replacement` null removes) the matched element `ref` of a search answer's data.
 * Returns the new data, or undefined when no element has that reference.
 */
export function replaceElement(kind: string, data: unknown, ref: string, replacement: Record<string, unknown> | null): { data: unknown; remaining: number } | undefined {
  const m = matchedElements(kind, data);
  if (!m || !m.elements.some((e) => e[m.key] === ref)) return undefined;
  const elements = replacement ? m.elements.map((e) => (e[m.key] === ref ? replacement : e)) : m.elements.filter((e) => e[m.key] !== ref);
  return { data: { ...(data as Record<string, unknown>), [m.array]: elements }, remaining: elements.length };
}

/**
 * Stores corrected data in place of the old, wherever the item's data are. The signed answer that
 * carried the old data goes (it proves what was supplied, and what was supplied was wrong); the
 * supplier's signed correction, kept in safeguard_inbox, proves the new.
 */
export async function storeCorrected(trx: Db, item: ItemRow, data: unknown): Promise<void> {
  if (item.status === 'blocked') {
    await trx.updateTable('received_items').set({ blocked_data: JSON.stringify(data) }).where('id', '=', item.id).execute();
    return;
  }
  if (item.source === 'follow-up') {
    await trx.updateTable('follow_ups').set({ supplied: JSON.stringify(data), answer_body: null, answer_jws: null }).where('id', '=', item.follow_up_id!).execute();
    await trx.updateTable('follow_up_inbox').set({ body: '', jws: '' }).where('follow_up_id', '=', item.follow_up_id!).where('type', '=', 'follow-up-answer').execute();
    return;
  }
  // The answer keeps its references (a follow-up on the remaining hits needs its answer reference),
  // with the corrected result and no signature over it.
  const t = await trx.selectFrom('federation_targets').select('answer_body').where('id', '=', item.target_id!).executeTakeFirst();
  let body: string | null = null;
  if (t?.answer_body) {
    try {
      const answer = JSON.parse(t.answer_body) as Record<string, unknown>;
      body = JSON.stringify({ ...answer, result: data, corrected: 'by the supplier (src/safeguards); the signed correction is in safeguard_inbox' });
    } catch {
      body = null;
    }
  }
  await trx.updateTable('federation_targets').set({ result: JSON.stringify(data), answer_body: body, answer_jws: null }).where('id', '=', item.target_id!).execute();
}

// --- views ----------------------------------------------------------------------------------------

export interface ReceivedItemView {
  readonly id: string;
  readonly source: 'follow-up' | 'search-answer';
  readonly supplyingState: string;
  readonly kind: string;
  readonly reference: string;
  readonly purposeOfSupply: string;
  readonly legalBasis: string;
  readonly originCase: string | null;
  readonly requestedBy: string | null;
  readonly receivedAt: string;
  readonly status: ItemStatus;
  /** The supplier's conditions, exactly as it set them (Prüm Decision Art. 16(4); FD 2008/977 Arts. 9, 12). */
  readonly conditions: unknown[];
  /** The supplier's national processing restrictions (FD 2008/977 Art. 12(1)). */
  readonly restrictions: readonly string[];
  readonly onlyInCases: readonly string[];
  readonly noOnwardTransfer: boolean;
  readonly deleteBy: string | null;
  readonly reviewDue: string | null;
  readonly majorEvent: { readonly event: string; readonly deleteBy: string } | null;
  readonly blocked: { readonly at: string; readonly purpose: string } | null;
  readonly erased: { readonly at: string; readonly reason: string | null } | null;
  /** Prüm Decision Art. 28(2): the data subject contests the accuracy. */
  readonly contested: { readonly at: string; readonly note: string | null; readonly source: string | null } | null;
  readonly corrected: { readonly at: string; readonly note: string | null } | null;
  readonly blockInsteadOfErasure: { readonly purpose: string; readonly reason: string | null } | null;
  /** What every reader must know, in words. */
  readonly notices: readonly string[];
}

export function itemView(item: ItemRow): ReceivedItemView {
  const conditions = conditionsOf(item);
  const s = summariseConditions(conditions);
  const notices: string[] = [];
  if (item.status === 'blocked') notices.push(`BLOCKED (Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3)): usable only for "${item.blocked_purpose}"`);
  if (item.status === 'erased') notices.push('ERASED: the data are gone');
  if (item.contested_at) notices.push(`CONTESTED: the data subject contests the accuracy of these data (Prüm Decision Art. 28(2))${item.contested_note ? `: ${item.contested_note}` : ''}`);
  if (item.corrected_at) notices.push(`Corrected by ${item.supplying_state} on ${item.corrected_at.slice(0, 10)}${item.correction_note ? `: ${item.correction_note}` : ''}`);
  for (const r of s.nationalRestrictions) notices.push(`Restriction of ${item.supplying_state} (FD 2008/977 Art. 12): ${r}`);
  if (s.onlyInCases.length > 0) notices.push(`Use only in case ${s.onlyInCases.join(' or ')} (condition of ${item.supplying_state})`);
  if (s.noOnwardTransfer) notices.push(`No onward transfer (condition of ${item.supplying_state})`);
  if (item.major_event) notices.push(`Supplied for the major event "${item.major_event}" (Prüm Decision Art. 14): only for its purposes; deleted by ${majorEventEnd(item)}`);
  if (item.delete_by) notices.push(`Delete by ${item.delete_by} (condition of ${item.supplying_state})`);
  if (item.source === 'search-answer') notices.push('Data of an automated search (Prüm Decision Art. 26): other purposes only with the prior authorisation of the supplying state');
  return {
    id: item.id,
    source: item.source,
    supplyingState: item.supplying_state,
    kind: item.kind,
    reference: item.reference,
    purposeOfSupply: item.purpose,
    legalBasis: item.legal_basis,
    originCase: item.origin_case,
    requestedBy: item.requested_by_reference,
    receivedAt: item.received_at,
    status: item.status,
    conditions,
    restrictions: s.nationalRestrictions,
    onlyInCases: s.onlyInCases,
    noOnwardTransfer: s.noOnwardTransfer,
    deleteBy: item.delete_by,
    reviewDue: item.status === 'active' ? item.review_due : null,
    majorEvent: item.major_event ? { event: item.major_event, deleteBy: majorEventEnd(item) } : null,
    blocked: item.status === 'blocked' && item.blocked_at ? { at: item.blocked_at, purpose: item.blocked_purpose ?? '' } : null,
    erased: item.status === 'erased' && item.erased_at ? { at: item.erased_at, reason: item.erasure_reason } : null,
    contested: item.contested_at ? { at: item.contested_at, note: item.contested_note, source: item.contested_source } : null,
    corrected: item.corrected_at ? { at: item.corrected_at, note: item.correction_note } : null,
    blockInsteadOfErasure: item.preserve_purpose ? { purpose: item.preserve_purpose, reason: item.preserve_reason } : null,
    notices,
  };
}

export interface ItemFilter {
  readonly status?: ItemStatus | undefined;
  readonly supplyingState?: string | undefined;
  readonly caseReference?: string | undefined;
  readonly limit?: number | undefined;
}

/** Received data, newest first: what they are and what governs them, never the data themselves. */
export async function listItems(db: Kysely<Schema>, filter: ItemFilter = {}): Promise<ReceivedItemView[]> {
  await registerReceived(db);
  let q = db.selectFrom('received_items').selectAll();
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.supplyingState) q = q.where('supplying_state', '=', filter.supplyingState);
  if (filter.caseReference) {
    const c = filter.caseReference;
    q = q.where((eb) => eb.or([eb('origin_case', '=', c), eb.exists(eb.selectFrom('received_data_uses as u').select(sql`1`.as('one')).whereRef('u.item_id', '=', 'received_items.id').where('u.case_reference', '=', c))]));
  }
  const rows = await q.orderBy('received_at', 'desc').limit(Math.min(Math.max(filter.limit ?? 100, 1), 1000)).execute();
  return rows.map(itemView);
}
