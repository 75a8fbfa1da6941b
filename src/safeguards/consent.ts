/**
 * Consents on record (FD 2008/977 Arts. 11(d), 13(1)(c), 14(1)(a); Prüm Decision Arts. 26(1), 27):
 *
 * - of the supplying state, asked over the federation: the officer asks (`requestConsent`), a signed
 *   `consent-request` goes to the supplier, whose approver grants or refuses (`decideConsent`), and a
 *   signed `consent-answer` comes back (`receiveConsentAnswer`). Until it is granted, the use or the
 *   transfer it is for is refused.
 * - of the data subject, given in accordance with national law and recorded by an officer with the
 *   evidence of how it was given (`recordSubjectConsent`): for further processing of follow-up data
 *   only (data of automated searches need the supplying state's authorisation, Prüm Decision Art. 26(1)).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { summariseConditions } from '../followup/conditions.ts';
import { hasRole, requireRole, type OfficerCaller } from '../identity/caller.ts';
import { NCP, type SafeguardsContext } from './context.ts';
import { recordingRefusals, text } from './input.ts';
import { aboutOf, conditionsOf, enforceDue, requireItem, UUID, type ItemRow } from './items.ts';
import { PROTOCOL, RECIPIENT_TYPES, type About, type ConsentAnswer, type ConsentRequest, type Recipient } from './messages.ts';
import type { ConsentScope, SafeguardConsentsTable } from './schema.ts';
import { enqueue } from './worker.ts';

type Db = Kysely<Schema> | Transaction<Schema>;
type ConsentRow = Selectable<SafeguardConsentsTable>;

export function newReference(country: string, infix: string, now: Date): string {
  return `${country}-${infix}-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(5).toString('hex').toUpperCase()}`;
}

export function checkRecipient(value: unknown): Recipient {
  const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (!(RECIPIENT_TYPES as readonly string[]).includes(r.type as string)) {
    throw new OpenPrumError('safeguards-invalid', `recipient.type must be one of ${RECIPIENT_TYPES.join(', ')}, not ${JSON.stringify(r.type)}`, { field: 'recipient.type' });
  }
  const name = text('recipient.name', r.name, 200);
  const country = r.country === undefined ? undefined : String(r.country);
  if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw new OpenPrumError('safeguards-invalid', `recipient.country must be a state code such as US, not ${JSON.stringify(r.country)}`, { field: 'recipient.country' });
  if (r.type === 'third-state' && !country) throw new OpenPrumError('safeguards-invalid', 'recipient.country is required for a third state', { field: 'recipient.country' });
  return { type: r.type as Recipient['type'], name, ...(country ? { country } : {}) };
}

export function sameRecipient(a: Recipient | null | undefined, b: Recipient): boolean {
  const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();
  return !!a && a.type === b.type && norm(a.name) === norm(b.name) && (a.country ?? null) === (b.country ?? null);
}

const CONSENT_BASIS: Record<ConsentScope, (item: ItemRow) => string> = {
  'further-processing': (item) => (item.source === 'search-answer' ? 'Prüm Decision Art. 26(1)' : 'FD 2008/977 Art. 11(d)'),
  'onward-transfer': (item) => (item.source === 'search-answer' ? 'Prüm Decision Art. 27; FD 2008/977 Arts. 13(1)(c), 14(1)(a)' : 'FD 2008/977 Arts. 13(1)(c), 14(1)(a)'),
};

export interface ConsentInput {
  readonly scope: ConsentScope;
  readonly purpose: string;
  readonly caseReference: string;
  readonly reason: string;
  readonly recipient?: unknown;
}

/** Asks the supplying state for its consent (queued, signed, sent by the worker). */
export async function requestConsent(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string, input: ConsentInput): Promise<ConsentView> {
  requireRole(caller, 'officer');
  const pre = UUID.test(itemId) ? await ctx.db.selectFrom('received_items').select(['supplying_state']).where('id', '=', itemId).executeTakeFirst() : undefined;
  const id = await recordingRefusals(ctx, caller, { action: 'consent.request', direction: 'outgoing', supplier: pre?.supplying_state, query: { itemId, scope: input.scope ?? null, caseReference: input.caseReference ?? null } }, async () => {
    if (input.scope !== 'further-processing' && input.scope !== 'onward-transfer') throw new OpenPrumError('safeguards-invalid', `scope must be "further-processing" or "onward-transfer", not ${JSON.stringify(input.scope)}`, { field: 'scope' });
    const purpose = text('purpose', input.purpose, 500);
    const caseReference = text('caseReference', input.caseReference, 100);
    const reason = text('reason', input.reason, 2000);
    const recipient = input.scope === 'onward-transfer' ? checkRecipient(input.recipient) : undefined;
    if (input.scope === 'further-processing' && input.recipient !== undefined) throw new OpenPrumError('safeguards-invalid', 'recipient is for a consent to an onward transfer', { field: 'recipient' });
    const item = await enforceDue(ctx, await requireItem(ctx.db, itemId));
    if (item.status !== 'active') throw new OpenPrumError(item.status === 'erased' ? 'received-data-erased' : 'received-data-blocked', `Received data ${item.reference} are ${item.status}; no consent can make them usable again`);
    const s = summariseConditions(conditionsOf(item));
    if (input.scope === 'onward-transfer' && s.noOnwardTransfer) {
      throw new OpenPrumError('received-data-transfer-refused', `${item.supplying_state} supplied ${item.reference} on the condition "no onward transfer": no transfer is possible; the recipient may ask ${item.supplying_state} directly`);
    }
    if (item.major_event && input.scope === 'further-processing') {
      throw new OpenPrumError('received-data-purpose-refused', `Data supplied for the major event "${item.major_event}" may be processed only for its purposes (Prüm Decision Art. 14(2)); no consent widens that`);
    }
    const now = ctx.now();
    const consentId = randomUUID();
    const messageId = randomUUID();
    const reference = newReference(ctx.country, 'CR', now);
    const about = aboutOf(item);
    const message: Omit<ConsentRequest, 'sentAt'> = {
      protocol: PROTOCOL,
      type: 'consent-request',
      messageId,
      from: ctx.country,
      to: item.supplying_state,
      reference,
      requestedAt: now.toISOString(),
      about,
      scope: input.scope,
      purpose,
      caseReference,
      reason,
      ...(recipient ? { recipient } : {}),
    };
    await ctx.db.transaction().execute(async (trx) => {
      const rec = await writeRecord(trx, {
        action: 'consent.request',
        direction: 'outgoing',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(item.supplying_state),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason,
        purpose,
        legalBasis: CONSENT_BASIS[input.scope](item),
        query: { reference, itemId: item.id, about, scope: input.scope, caseReference, ...(recipient ? { recipient } : {}) },
        outcome: 'done',
        requestId: messageId,
      });
      await trx
        .insertInto('safeguard_consents')
        .values({
          id: consentId,
          direction: 'outgoing',
          source: 'supplying-state',
          item_id: item.id,
          asking_state: ctx.country,
          supplying_state: item.supplying_state,
          message_id: messageId,
          reference,
          about: JSON.stringify(about),
          scope: input.scope,
          purpose,
          case_reference: caseReference,
          reason,
          recipient: recipient ? JSON.stringify(recipient) : null,
          status: 'pending',
          requested_at: now,
          requested_by_id: caller.officerId,
          requested_by_reference: caller.reference,
          request_record_id: rec.id,
        })
        .execute();
      await enqueue(trx, { state: item.supplying_state, type: 'consent-request', relatedId: consentId, payload: message });
    });
    return consentId;
  });
  ctx.kick();
  return (await getConsent(ctx, caller, id))!;
}

export interface SubjectConsentInput {
  readonly purpose: string;
  readonly caseReference: string;
  /** How the data subject gave the consent (a signed statement, its reference), as national law asks. */
  readonly evidence: string;
}

/** Records the data subject's consent to a use for another purpose (FD 2008/977 Art. 11(d)). */
export async function recordSubjectConsent(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string, input: SubjectConsentInput): Promise<ConsentView> {
  requireRole(caller, 'officer');
  const pre = UUID.test(itemId) ? await ctx.db.selectFrom('received_items').select(['supplying_state']).where('id', '=', itemId).executeTakeFirst() : undefined;
  const id = await recordingRefusals(ctx, caller, { action: 'consent.data-subject', supplier: pre?.supplying_state, query: { itemId, caseReference: input.caseReference ?? null } }, async () => {
    const purpose = text('purpose', input.purpose, 500);
    const caseReference = text('caseReference', input.caseReference, 100);
    const evidence = text('evidence', input.evidence, 2000);
    const item = await enforceDue(ctx, await requireItem(ctx.db, itemId));
    if (item.status !== 'active') throw new OpenPrumError(item.status === 'erased' ? 'received-data-erased' : 'received-data-blocked', `Received data ${item.reference} are ${item.status}`);
    if (item.source === 'search-answer') {
      throw new OpenPrumError('received-data-consent-required', `Data of an automated search may serve another purpose only with the prior authorisation of ${item.supplying_state} (Prüm Decision Art. 26(1)); ask it (POST /v1/received-data/${item.id}/consents)`);
    }
    if (item.major_event) throw new OpenPrumError('received-data-purpose-refused', `Data supplied for the major event "${item.major_event}" may be processed only for its purposes (Prüm Decision Art. 14(2))`);
    const now = ctx.now();
    const consentId = randomUUID();
    const reference = newReference(ctx.country, 'DS', now);
    await ctx.db.transaction().execute(async (trx) => {
      const rec = await writeRecord(trx, {
        action: 'consent.data-subject',
        direction: 'local',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(item.supplying_state),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason: evidence,
        purpose,
        legalBasis: 'FD 2008/977 Art. 11(d): consent of the data subject',
        query: { reference, itemId: item.id, caseReference },
        outcome: 'done',
      });
      await trx
        .insertInto('safeguard_consents')
        .values({
          id: consentId,
          direction: 'outgoing',
          source: 'data-subject',
          item_id: item.id,
          asking_state: ctx.country,
          supplying_state: item.supplying_state,
          message_id: randomUUID(),
          reference,
          about: JSON.stringify(aboutOf(item)),
          scope: 'further-processing',
          purpose,
          case_reference: caseReference,
          reason: evidence,
          status: 'granted',
          requested_at: now,
          requested_by_id: caller.officerId,
          requested_by_reference: caller.reference,
          evidence,
          decided_at: now,
          decided_by_id: caller.officerId,
          decided_by_reference: caller.reference,
          decision_reason: 'Consent of the data subject, recorded',
          request_record_id: rec.id,
          decision_record_id: rec.id,
        })
        .execute();
    });
    return consentId;
  });
  return (await getConsent(ctx, caller, id))!;
}

// --- at the supplying node ------------------------------------------------------------------------

/**
 * Checks that this node supplied the data a peer's message names, to that peer: a follow-up it granted,
 * or a search it answered with a hit. Returns a short description for the approver.
 */
export async function suppliedTo(db: Db, peer: string, about: About): Promise<{ description: string } | undefined> {
  if (about.source === 'follow-up') {
    const f = await db
      .selectFrom('follow_ups')
      .select(['reference', 'status', 'kind', 'requested_reference'])
      .where('direction', '=', 'incoming')
      .where('requesting_state', '=', peer)
      .where('request_message_id', '=', about.requestMessageId)
      .executeTakeFirst();
    if (!f || f.status !== 'granted' || f.reference !== about.reference) return undefined;
    return { description: `follow-up ${f.reference} (${f.kind} hit on ${f.requested_reference}) granted to ${peer}` };
  }
  const kept = await db.selectFrom('federation_inbox').select(['kind', 'answer_status', 'request_body']).where('requesting_state', '=', peer).where('message_id', '=', about.searchMessageId).executeTakeFirst();
  if (!kept || kept.answer_status !== 200 || kept.kind !== about.kind) return undefined;
  try {
    if ((JSON.parse(kept.request_body) as { reference?: string }).reference !== about.reference) return undefined;
  } catch {
    return undefined;
  }
  return { description: `the answer to ${peer}'s ${about.kind} search ${about.reference}` };
}

/** A consent request arrives (peer.ts has authenticated it): stored for the approver, recorded. */
export async function receiveConsentRequest(trx: Db, ctx: SafeguardsContext, from: string, m: ConsentRequest): Promise<{ recordId: number; itemId: null; note: string }> {
  const supplied = await suppliedTo(trx, from, m.about);
  if (!supplied) throw new OpenPrumError('safeguards-data-unknown', `The node of ${ctx.country} supplied no data ${m.about.reference} to ${from} (${m.about.source})`);
  if (m.scope === 'onward-transfer' && !m.recipient) throw new OpenPrumError('peer-message-invalid', 'A consent to an onward transfer names the recipient');
  const rec = await writeRecord(trx, {
    action: 'consent.request',
    direction: 'incoming',
    searchingBody: NCP(from),
    administeringBody: NCP(ctx.country),
    reason: m.reason,
    purpose: m.purpose,
    legalBasis: m.scope === 'onward-transfer' ? 'FD 2008/977 Arts. 13(1)(c), 14(1)(a); Prüm Decision Art. 27' : 'FD 2008/977 Art. 11(d); Prüm Decision Art. 26(1)',
    query: { messageId: m.messageId, reference: m.reference, about: m.about, scope: m.scope, caseReference: m.caseReference ?? null, recipient: m.recipient ?? null },
    outcome: 'done',
    requestId: m.messageId,
  });
  await trx
    .insertInto('safeguard_consents')
    .values({
      id: randomUUID(),
      direction: 'incoming',
      source: 'supplying-state',
      item_id: null,
      asking_state: from,
      supplying_state: ctx.country,
      message_id: m.messageId,
      reference: m.reference,
      about: JSON.stringify(m.about),
      scope: m.scope,
      purpose: m.purpose,
      case_reference: m.caseReference ?? null,
      reason: m.reason,
      recipient: m.recipient ? JSON.stringify(m.recipient) : null,
      status: 'open',
      requested_at: m.requestedAt,
      request_record_id: rec.id,
    })
    .execute();
  return { recordId: rec.id, itemId: null, note: `consent request ${m.reference} about ${supplied.description} is with the approvers of ${ctx.country}` };
}

export interface ConsentDecisionInput {
  readonly decision: 'grant' | 'refuse';
  readonly reason: string;
}

/** The supplier's approver grants or refuses a consent request (final, recorded, answered signed). */
export async function decideConsent(ctx: SafeguardsContext, caller: OfficerCaller, id: string, input: ConsentDecisionInput): Promise<ConsentView> {
  requireRole(caller, 'approver');
  const row = UUID.test(id) ? await ctx.db.selectFrom('safeguard_consents').selectAll().where('id', '=', id).where('direction', '=', 'incoming').executeTakeFirst() : undefined;
  await recordingRefusals(ctx, caller, { action: 'consent.decision', direction: 'incoming', supplier: ctx.country, query: { consentId: id, reference: row?.reference ?? null, decision: input.decision ?? null } }, async () => {
    if (!row) throw new OpenPrumError('not-found', `No consent request ${id} asked of this node`);
    if (row.status !== 'open') throw new OpenPrumError('consent-decided', `Consent request ${row.reference} was ${row.status} at ${row.decided_at ?? '?'} by ${row.decided_by_reference ?? '?'}; a decision is final`);
    if (input.decision !== 'grant' && input.decision !== 'refuse') throw new OpenPrumError('safeguards-invalid', `decision must be "grant" or "refuse", not ${JSON.stringify(input.decision)}`, { field: 'decision' });
    const reason = text('reason', input.reason, 2000);
    const now = ctx.now();
    const decision = input.decision === 'grant' ? ('granted' as const) : ('refused' as const);
    const answer: Omit<ConsentAnswer, 'sentAt'> = {
      protocol: PROTOCOL,
      type: 'consent-answer',
      messageId: randomUUID(),
      from: ctx.country,
      to: row.asking_state,
      request: { messageId: row.message_id, reference: row.reference },
      decision,
      reason,
      decidedAt: now.toISOString(),
    };
    await ctx.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('safeguard_consents')
        .set({ status: decision, decided_at: now, decided_by_id: caller.officerId, decided_by_reference: caller.reference, decision_reason: reason })
        .where('id', '=', row.id)
        .where('status', '=', 'open')
        .returning('id')
        .executeTakeFirst();
      if (!updated) throw new OpenPrumError('consent-decided', `Consent request ${row.reference} was decided meanwhile`);
      const rec = await writeRecord(trx, {
        action: 'consent.decision',
        direction: 'incoming',
        searchingBody: NCP(row.asking_state),
        administeringBody: NCP(ctx.country),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason,
        purpose: row.purpose,
        legalBasis: row.scope === 'onward-transfer' ? 'FD 2008/977 Arts. 13(1)(c), 14(1)(a); Prüm Decision Art. 27' : 'FD 2008/977 Art. 11(d); Prüm Decision Art. 26(1)',
        query: { reference: row.reference, about: row.about, scope: row.scope, caseReference: row.case_reference, recipient: row.recipient },
        supplied: { decision },
        outcome: decision === 'granted' ? 'done' : 'refused',
        requestId: row.message_id,
      });
      await trx.updateTable('safeguard_consents').set({ decision_record_id: rec.id }).where('id', '=', row.id).execute();
      await enqueue(trx, { state: row.asking_state, type: 'consent-answer', relatedId: row.id, payload: answer });
    });
  });
  ctx.kick();
  return (await getConsent(ctx, caller, id))!;
}

// --- back at the asking node ----------------------------------------------------------------------

export async function receiveConsentAnswer(trx: Db, ctx: SafeguardsContext, from: string, m: ConsentAnswer): Promise<{ recordId: number; itemId: string | null; note: string }> {
  const row = await trx.selectFrom('safeguard_consents').selectAll().where('direction', '=', 'outgoing').where('asking_state', '=', ctx.country).where('message_id', '=', m.request.messageId).forUpdate().executeTakeFirst();
  if (!row || row.supplying_state !== from || row.reference !== m.request.reference || row.source !== 'supplying-state') {
    throw new OpenPrumError('safeguards-data-unknown', `The node of ${ctx.country} asked ${from} for no consent ${m.request.reference}`);
  }
  if (row.status === 'granted' || row.status === 'refused') throw new OpenPrumError('consent-decided', `Consent request ${row.reference} was ${row.status} already`);
  const rec = await writeRecord(trx, {
    action: 'consent.answer',
    direction: 'outgoing',
    searchingBody: NCP(ctx.country),
    administeringBody: NCP(from),
    officerId: row.requested_by_id,
    officerReference: row.requested_by_reference,
    reason: m.reason,
    purpose: row.purpose,
    legalBasis: row.scope === 'onward-transfer' ? 'FD 2008/977 Arts. 13(1)(c), 14(1)(a)' : 'FD 2008/977 Art. 11(d); Prüm Decision Art. 26(1)',
    query: { messageId: m.messageId, reference: row.reference, scope: row.scope, caseReference: row.case_reference },
    supplied: { decision: m.decision, decidedAt: m.decidedAt },
    outcome: m.decision === 'granted' ? 'done' : 'refused',
    requestId: m.messageId,
  });
  await trx
    .updateTable('safeguard_consents')
    .set({ status: m.decision, decided_at: m.decidedAt, decision_reason: m.reason, decision_record_id: rec.id })
    .where('id', '=', row.id)
    .execute();
  return { recordId: rec.id, itemId: row.item_id, note: `consent ${row.reference} ${m.decision}` };
}

// --- views ----------------------------------------------------------------------------------------

export interface ConsentView {
  readonly id: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly source: 'supplying-state' | 'data-subject';
  readonly reference: string;
  readonly itemId: string | null;
  readonly askingState: string;
  readonly supplyingState: string;
  readonly about: unknown;
  readonly scope: ConsentScope;
  readonly purpose: string;
  readonly caseReference: string | null;
  readonly reason: string;
  readonly recipient: unknown;
  readonly status: string;
  readonly requestedAt: string;
  readonly requestedBy: string | null;
  readonly evidence: string | null;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  readonly decisionReason: string | null;
  readonly delivery: { readonly status: string; readonly attempts: number; readonly error: string | null } | null;
}

function consentView(r: ConsentRow, d: { status: string; attempts: number; last_error: string | null } | undefined): ConsentView {
  return {
    id: r.id,
    direction: r.direction,
    source: r.source,
    reference: r.reference,
    itemId: r.item_id,
    askingState: r.asking_state,
    supplyingState: r.supplying_state,
    about: r.about,
    scope: r.scope,
    purpose: r.purpose,
    caseReference: r.case_reference,
    reason: r.reason,
    recipient: r.recipient,
    status: r.status,
    requestedAt: r.requested_at,
    requestedBy: r.requested_by_reference,
    evidence: r.evidence,
    decidedAt: r.decided_at,
    decidedBy: r.decided_by_reference,
    decisionReason: r.decision_reason,
    delivery: d ? { status: d.status, attempts: d.attempts, error: d.last_error } : null,
  };
}

function mayRead(caller: OfficerCaller, r: ConsentRow): boolean {
  if (hasRole(caller, 'supervisor')) return true;
  return r.direction === 'outgoing' ? hasRole(caller, 'officer') : hasRole(caller, 'approver');
}

export async function getConsent(ctx: SafeguardsContext, caller: OfficerCaller, id: string): Promise<ConsentView | undefined> {
  if (!UUID.test(id)) return undefined;
  const r = await ctx.db.selectFrom('safeguard_consents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r || !mayRead(caller, r)) return undefined;
  const d = await ctx.db.selectFrom('safeguard_deliveries').select(['status', 'attempts', 'last_error']).where('related_id', '=', r.id).orderBy('id', 'desc').executeTakeFirst();
  return consentView(r, d);
}

/** Consents: asked of this node (approvers), asked or recorded by this node (officers); a supervisor sees all. */
export async function listConsents(ctx: SafeguardsContext, caller: OfficerCaller, filter: { direction?: 'incoming' | 'outgoing' | undefined; status?: string | undefined; limit?: number | undefined } = {}): Promise<ConsentView[]> {
  const supervisor = hasRole(caller, 'supervisor');
  const incoming = supervisor || hasRole(caller, 'approver');
  const outgoing = supervisor || hasRole(caller, 'officer');
  if (filter.direction === 'incoming' && !incoming) requireRole(caller, 'approver', 'supervisor');
  if (filter.direction === 'outgoing' && !outgoing) requireRole(caller, 'officer', 'supervisor');
  let q = ctx.db.selectFrom('safeguard_consents').selectAll();
  if (filter.direction) q = q.where('direction', '=', filter.direction);
  else if (!incoming) q = q.where('direction', '=', 'outgoing');
  else if (!outgoing) q = q.where('direction', '=', 'incoming');
  if (filter.status) q = q.where('status', '=', filter.status as ConsentRow['status']);
  const rows = await q.orderBy('created_at', 'desc').limit(Math.min(Math.max(filter.limit ?? 50, 1), 500)).execute();
  return rows.map((r) => consentView(r, undefined));
}

