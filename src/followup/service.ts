/**
 * The second step after a hit (Prüm Decision Arts. 5 and 10): the searching officer confirms or
 * rejects each matched reference; for a confirmed hit, asks the requested state for further data; the
 * requested state's approver grants (with the data and the conditions of use, FD 2008/977 Arts. 9, 12)
 * or refuses. This file holds what officers and approvers do; peer.ts receives the messages, worker.ts
 * sends them.
 *
 * Every act is recorded in the transaction that stores it, and every refusal of an officer's act is
 * recorded too (Prüm Decision Art. 30; FD 2008/977 Art. 10). Nothing is sent from here: a message is
 * stored in follow_up_deliveries in the same transaction, and the worker sends it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import { NCP, type ExchangeContext } from '../exchange/context.ts';
import type { SearchAnswer } from '../exchange/messages.ts';
import { getPeer } from '../exchange/peers.ts';
import { hasRole, requireRole, type OfficerCaller } from '../identity/caller.ts';
import { check, describeProblems } from '../util/validate.ts';
import { checkConditions, summariseConditions, type Condition } from './conditions.ts';
import { findHit, followUpLegalBasis, hitReferences, knowsHits, type HitReference } from './hits.ts';
import { FollowUpAnswer, FollowUpRequest, MAX_SUPPLIED_BYTES, PROTOCOL, suppliedBytes } from './messages.ts';
import { isOffenceCode, offenceLabel, OFFENCE_CODES } from './offences.ts';
import type { DeliveryStatus, FollowUpDeliveriesTable, FollowUpsTable, FollowUpStatus } from './schema.ts';

type Db = Kysely<Schema>;
type SearchRow = Selectable<Schema['federation_searches']>;
type FollowUpRow = Selectable<FollowUpsTable>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

/** A free text a record must hold: trimmed, not empty, at most `max` characters; line breaks only where `multiline`. */
function text(field: string, value: unknown, max: number, multiline = false): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new OpenPrumError('follow-up-invalid', `${field} is required and must not be empty: the record must say it (Prüm Decision Art. 30)`, { field });
  }
  const v = value.trim();
  if (v.length > max) throw new OpenPrumError('follow-up-invalid', `${field} is longer than ${max} characters (${v.length})`, { field });
  // eslint-disable-next-line no-control-regex
  const control = multiline ? /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/ : /[\u0000-\u001f\u007f]/;
  if (control.test(v)) throw new OpenPrumError('follow-up-invalid', `${field} must not contain control characters${multiline ? ' (line breaks and tabs are fine)' : ''}`, { field });
  return v;
}

function optionalText(field: string, value: unknown, max: number): string | null {
  if (value === undefined || value === null) return null;
  return text(field, value, max);
}

/** The indication number of a follow-up request: state, FU, date, random part. */
function newReference(country: string, infix: string, now: Date): string {
  return `${country}-${infix}-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(5).toString('hex').toUpperCase()}`;
}

// --- refusals of officers' acts, recorded ---------------------------------------------------------

interface RefusalAbout {
  readonly action: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly otherState: string | undefined;
  readonly query: Record<string, unknown>;
}

/**
 * Runs an officer's act; when it is refused (bad input, unknown or unconfirmed hit, decided twice),
 * records the refusal with the officer (Prüm Decision Art. 30). A refusal for lack of role is recorded
 * by the HTTP layer (access.refused), so not twice here.
 */
async function recordingRefusals<T>(ctx: ExchangeContext, caller: OfficerCaller, about: RefusalAbout, act: () => Promise<T>): Promise<T> {
  try {
    return await act();
  } catch (e) {
    if (isOpenPrumError(e) && e.code !== 'forbidden' && e.status < 500) {
      const other = about.otherState ? NCP(about.otherState) : NCP(ctx.country);
      await writeRecord(ctx.db, {
        action: about.action,
        direction: about.direction,
        searchingBody: about.direction === 'outgoing' ? NCP(ctx.country) : other,
        administeringBody: about.direction === 'outgoing' ? other : NCP(ctx.country),
        officerId: caller.officerId,
        officerReference: caller.reference,
        query: about.query,
        supplied: { refused: e.code, detail: e.message },
        outcome: 'refused',
      });
    }
    throw e;
  }
}

// --- hits of a search and their confirmation ------------------------------------------------------

export interface HitView {
  readonly state: string;
  readonly kind: string;
  readonly targetMessageId: string;
  readonly answerReference: string;
  readonly requestReference: string;
  readonly requestedReference: string;
  readonly confirmation: {
    readonly verdict: 'confirmed' | 'rejected';
    readonly note: string;
    readonly officerReference: string;
    readonly confirmedAt: string;
    readonly recordId: number | null;
  } | null;
  readonly followUps: ReadonlyArray<{ readonly id: string; readonly reference: string; readonly status: FollowUpStatus }>;
}

interface AnsweredHit extends HitReference {
  readonly state: string;
  readonly targetMessageId: string;
  readonly answerReference: string;
}

/** A federated search the caller may act on (its officer) or read (its officer, a supervisor). */
async function loadSearch(ctx: ExchangeContext, id: string, caller: OfficerCaller, mode: 'act' | 'read'): Promise<SearchRow> {
  const s = UUID.test(id) ? await ctx.db.selectFrom('federation_searches').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
  if (!s || (mode === 'read' && s.officer_id !== caller.officerId && !hasRole(caller, 'supervisor'))) {
    throw new OpenPrumError('not-found', `No federated search ${id} of yours`);
  }
  if (mode === 'act' && s.officer_id !== caller.officerId) {
    // Only the officer who searched checks the hit and asks for more (the need to know of the case).
    throw new OpenPrumError('forbidden', `Only the officer who made federated search ${s.reference} may confirm its hits or ask for follow-ups`, { required: ['officer of the search'] });
  }
  return s;
}

/** Every matched reference of the search's answered hits, per state (from the signed answers kept). */
async function answeredHits(db: Db, search: SearchRow): Promise<AnsweredHit[]> {
  const targets = await db.selectFrom('federation_targets').selectAll().where('search_id', '=', search.id).where('status', '=', 'answered').where('hit', '=', true).orderBy('state').execute();
  const out: AnsweredHit[] = [];
  for (const t of targets) {
    if (!t.answer_body) continue; // erased with its record (Art. 30(4))
    let answerReference: string;
    try {
      answerReference = (JSON.parse(t.answer_body) as SearchAnswer).answer.reference;
    } catch {
      continue;
    }
    for (const h of hitReferences(search.kind, search.query, t.result)) {
      out.push({ ...h, state: t.state, targetMessageId: t.message_id, answerReference });
    }
  }
  return out;
}

function hitUnknown(search: SearchRow, state: string, requestedReference: string): OpenPrumError {
  return new OpenPrumError(
    'follow-up-hit-unknown',
    `Federated search ${search.reference} has no answered hit of ${state} on ${JSON.stringify(requestedReference)}; its hits are listed at GET /v1/federation/searches/${search.id}/hits`,
    { state, requestedReference },
  );
}

/** The hits of a search with their confirmations and follow-ups (its officer, or a supervisor). */
export async function listHits(ctx: ExchangeContext, caller: OfficerCaller, searchId: string): Promise<{ searchId: string; reference: string; kind: string; hits: HitView[] }> {
  const search = await loadSearch(ctx, searchId, caller, 'read');
  const hits = await answeredHits(ctx.db, search);
  const confirmations = await ctx.db.selectFrom('hit_confirmations').selectAll().where('search_id', '=', search.id).execute();
  const followUps = await ctx.db.selectFrom('follow_ups').select(['id', 'reference', 'status', 'requested_state', 'request_reference', 'requested_reference']).where('search_id', '=', search.id).where('direction', '=', 'outgoing').orderBy('created_at').execute();
  return {
    searchId: search.id,
    reference: search.reference,
    kind: search.kind,
    hits: hits.map((h) => {
      const c = confirmations.find((x) => x.state === h.state && x.request_reference === h.requestReference && x.requested_reference === h.requestedReference);
      return {
        state: h.state,
        kind: search.kind,
        targetMessageId: h.targetMessageId,
        answerReference: h.answerReference,
        requestReference: h.requestReference,
        requestedReference: h.requestedReference,
        confirmation: c ? { verdict: c.verdict, note: c.note, officerReference: c.officer_reference, confirmedAt: c.confirmed_at, recordId: c.record_id } : null,
        followUps: followUps
          .filter((f) => f.requested_state === h.state && f.request_reference === h.requestReference && f.requested_reference === h.requestedReference)
          .map((f) => ({ id: f.id, reference: f.reference, status: f.status })),
      };
    }),
  };
}

export interface ConfirmationInput {
  readonly state: string;
  readonly requestedReference: string;
  readonly requestReference?: string | undefined;
  readonly verdict: 'confirmed' | 'rejected';
  readonly note: string;
}

/**
 * The searching officer's verdict on one matched reference, after checking it (for DNA: the profiles
 * and the match; for vehicles: that it is the vehicle of the case). Final: recorded, never changed.
 */
export async function confirmHit(ctx: ExchangeContext, caller: OfficerCaller, searchId: string, input: ConfirmationInput): Promise<HitView> {
  requireRole(caller, 'officer');
  const state = String(input.state ?? '').toUpperCase();
  const about: RefusalAbout = {
    action: 'hit.confirmation',
    direction: 'outgoing',
    otherState: /^[A-Z]{2}$/.test(state) ? state : undefined,
    query: { searchId, state, requestReference: input.requestReference ?? null, requestedReference: input.requestedReference, verdict: input.verdict },
  };
  return recordingRefusals(ctx, caller, about, async () => {
    const search = await loadSearch(ctx, searchId, caller, 'act');
    if (input.verdict !== 'confirmed' && input.verdict !== 'rejected') throw new OpenPrumError('follow-up-invalid', `verdict must be "confirmed" or "rejected", not ${JSON.stringify(input.verdict)}`, { field: 'verdict' });
    const note = text('note', input.note, 2000, true);
    const hits = (await answeredHits(ctx.db, search)).filter((h) => h.state === state);
    const hit = findHit(hits, input.requestedReference, input.requestReference);
    if (!hit) throw hitUnknown(search, state, input.requestedReference);
    const found = hits.find((h) => h.requestReference === hit.requestReference && h.requestedReference === hit.requestedReference)!;
    const earlier = await ctx.db
      .selectFrom('hit_confirmations')
      .selectAll()
      .where('search_id', '=', search.id)
      .where('state', '=', state)
      .where('request_reference', '=', hit.requestReference)
      .where('requested_reference', '=', hit.requestedReference)
      .executeTakeFirst();
    const decided = (c: { verdict: string; confirmed_at: string; officer_reference: string }) =>
      new OpenPrumError('follow-up-hit-decided', `The hit of ${state} on ${hit.requestedReference} was ${c.verdict} at ${c.confirmed_at} by ${c.officer_reference}; a verdict is final`, { verdict: c.verdict });
    if (earlier) throw decided(earlier);
    const now = ctx.now();
    try {
      await ctx.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('hit_confirmations')
          .values({
            search_id: search.id,
            state,
            target_message_id: found.targetMessageId,
            answer_reference: found.answerReference,
            request_reference: hit.requestReference,
            requested_reference: hit.requestedReference,
            verdict: input.verdict,
            note,
            officer_id: caller.officerId,
            officer_reference: caller.reference,
            confirmed_at: now,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        const rec = await writeRecord(trx, {
          action: 'hit.confirmation',
          direction: 'outgoing',
          searchingBody: NCP(ctx.country),
          administeringBody: NCP(state),
          officerId: caller.officerId,
          officerReference: caller.reference,
          reason: note,
          purpose: search.purpose,
          legalBasis: followUpLegalBasis(search.kind),
          query: { searchReference: search.reference, answerReference: found.answerReference, requestReference: hit.requestReference, requestedReference: hit.requestedReference },
          supplied: { verdict: input.verdict },
          hit: input.verdict === 'confirmed',
          outcome: 'done',
          requestId: found.targetMessageId,
        });
        await trx.updateTable('hit_confirmations').set({ record_id: rec.id }).where('id', '=', row.id).execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        const other = await ctx.db.selectFrom('hit_confirmations').selectAll().where('search_id', '=', search.id).where('state', '=', state).where('request_reference', '=', hit.requestReference).where('requested_reference', '=', hit.requestedReference).executeTakeFirst();
        if (other) throw decided(other);
      }
      throw e;
    }
    const view = (await listHits(ctx, caller, search.id)).hits.find((h) => h.state === state && h.requestReference === hit.requestReference && h.requestedReference === hit.requestedReference);
    return view!;
  });
}

// --- follow-up requests (the requesting side) -----------------------------------------------------

export interface FollowUpInput {
  readonly searchId: string;
  readonly state: string;
  readonly requestedReference: string;
  readonly requestReference?: string | undefined;
  readonly legalBasis: string;
  readonly facts: string;
  readonly offence: { readonly category: string; readonly description?: string | undefined };
  readonly purpose: string;
  readonly caseReference?: string | undefined;
}

/**
 * Stores a follow-up request for a confirmed hit and queues it for the requested state (the worker
 * sends it). Only the officer of the search may ask, and only for a hit they confirmed.
 */
export async function createFollowUp(ctx: ExchangeContext, caller: OfficerCaller, input: FollowUpInput): Promise<FollowUpView> {
  requireRole(caller, 'officer');
  const state = String(input.state ?? '').toUpperCase();
  const about: RefusalAbout = {
    action: 'follow-up.request',
    direction: 'outgoing',
    otherState: /^[A-Z]{2}$/.test(state) ? state : undefined,
    query: { searchId: input.searchId, state, requestReference: input.requestReference ?? null, requestedReference: input.requestedReference, offence: input.offence?.category ?? null },
  };
  const id = await recordingRefusals(ctx, caller, about, async () => {
    const search = await loadSearch(ctx, input.searchId, caller, 'act');
    if (!knowsHits(search.kind)) throw new OpenPrumError('follow-up-invalid', `Follow-ups are not defined for ${search.kind} searches`);
    const hits = (await answeredHits(ctx.db, search)).filter((h) => h.state === state);
    const ref = findHit(hits, input.requestedReference, input.requestReference);
    if (!ref) throw hitUnknown(search, state, input.requestedReference);
    const hit = hits.find((h) => h.requestReference === ref.requestReference && h.requestedReference === ref.requestedReference)!;
    const confirmation = await ctx.db
      .selectFrom('hit_confirmations')
      .selectAll()
      .where('search_id', '=', search.id)
      .where('state', '=', state)
      .where('request_reference', '=', hit.requestReference)
      .where('requested_reference', '=', hit.requestedReference)
      .executeTakeFirst();
    if (!confirmation) {
      throw new OpenPrumError('follow-up-hit-not-confirmed', `Check the hit of ${state} on ${hit.requestedReference} first and confirm it (POST /v1/federation/searches/${search.id}/confirmations): a follow-up is only for a confirmed hit`);
    }
    if (confirmation.verdict !== 'confirmed') {
      throw new OpenPrumError('follow-up-hit-not-confirmed', `The hit of ${state} on ${hit.requestedReference} was rejected at ${confirmation.confirmed_at} by ${confirmation.officer_reference}: a follow-up is only for a confirmed hit`);
    }
    const legalBasis = text('legalBasis', input.legalBasis, 500);
    const facts = text('facts', input.facts, 4000, true);
    const purpose = text('purpose', input.purpose, 500);
    const caseReference = optionalText('caseReference', input.caseReference, 100);
    const category = String(input.offence?.category ?? '');
    if (!isOffenceCode(category)) throw new OpenPrumError('follow-up-invalid', `offence.category must be one of the list (GET /v1/follow-ups/offence-categories), not ${JSON.stringify(category)}`, { field: 'offence.category', allowed: OFFENCE_CODES });
    const description = optionalText('offence.description', input.offence.description, 500);
    if (category === 'other' && !description) throw new OpenPrumError('follow-up-invalid', 'offence.description is required when offence.category is "other"', { field: 'offence.description' });
    if (!(await getPeer(ctx.db, state))) throw new OpenPrumError('peer-unknown', `No peer node is configured for ${state}; the follow-up could not be sent`);

    const now = ctx.now();
    const followUpId = randomUUID();
    const messageId = randomUUID();
    const reference = newReference(ctx.country, 'FU', now);
    const request: Omit<FollowUpRequest, 'sentAt'> = {
      protocol: PROTOCOL,
      type: 'follow-up-request',
      messageId,
      requestingState: ctx.country,
      requestedState: state,
      reference,
      requestedAt: now.toISOString(),
      hit: {
        kind: search.kind,
        searchReference: search.reference,
        searchMessageId: hit.targetMessageId,
        answerReference: hit.answerReference,
        requestReference: hit.requestReference,
        requestedReference: hit.requestedReference,
      },
      legalBasis,
      facts,
      offence: { category, ...(description ? { description } : {}) },
      purpose,
      ...(caseReference ? { caseReference } : {}),
    };
    if (!check(FollowUpRequest, { ...request, sentAt: request.requestedAt })) {
      // The hit's references come from a peer's answer: say which does not fit the protocol.
      const p = describeProblems(FollowUpRequest, { ...request, sentAt: request.requestedAt })[0];
      throw new OpenPrumError('follow-up-invalid', `The follow-up cannot be sent: ${p?.path ?? ''} ${p?.message ?? 'does not fit the protocol'}`);
    }
    try {
      await ctx.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('follow_ups')
          .values({
            id: followUpId,
            direction: 'outgoing',
            reference,
            requesting_state: ctx.country,
            requested_state: state,
            request_message_id: messageId,
            status: 'pending',
            kind: search.kind,
            search_id: search.id,
            search_reference: search.reference,
            search_message_id: hit.targetMessageId,
            answer_reference: hit.answerReference,
            request_reference: hit.requestReference,
            requested_reference: hit.requestedReference,
            legal_basis: legalBasis,
            facts,
            offence_category: category,
            offence_description: description,
            purpose,
            case_reference: caseReference,
            officer_id: caller.officerId,
            officer_reference: caller.reference,
            requested_at: now,
          })
          .execute();
        await trx.insertInto('follow_up_deliveries').values({ follow_up_id: followUpId, state, message_id: messageId, type: 'follow-up-request', payload: JSON.stringify(request) }).execute();
        // Prüm Decision Art. 30(1): the supply of the request (the facts are personal data too).
        const rec = await writeRecord(trx, {
          action: 'follow-up.request',
          direction: 'outgoing',
          searchingBody: NCP(ctx.country),
          administeringBody: NCP(state),
          officerId: caller.officerId,
          officerReference: caller.reference,
          reason: purpose,
          purpose,
          legalBasis: `${followUpLegalBasis(search.kind)}; ${legalBasis}`,
          query: { reference, hit: request.hit, offence: request.offence, ...(caseReference ? { caseReference } : {}) },
          supplied: { facts, queued: true },
          hit: true,
          outcome: 'done',
          requestId: messageId,
        });
        await trx.updateTable('follow_ups').set({ request_record_id: rec.id }).where('id', '=', followUpId).execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        const open = await ctx.db
          .selectFrom('follow_ups')
          .select(['reference', 'status'])
          .where('search_id', '=', search.id)
          .where('requested_state', '=', state)
          .where('request_reference', '=', hit.requestReference)
          .where('requested_reference', '=', hit.requestedReference)
          .where('status', 'in', ['pending', 'received'])
          .executeTakeFirst();
        throw new OpenPrumError('follow-up-open', `Follow-up ${open?.reference ?? ''} for this hit is ${open?.status ?? 'open'}; wait for its answer before asking again`);
      }
      throw e;
    }
    return followUpId;
  });
  return (await getFollowUp(ctx, caller, id))!;
}

// --- decisions (the requested side) ---------------------------------------------------------------

export interface DecisionInput {
  readonly decision: 'grant' | 'refuse';
  readonly legalBasis: string;
  readonly supplied?: unknown;
  readonly conditions?: unknown;
  readonly reason?: string | undefined;
}

/**
 * An approver's decision on an incoming follow-up: grant, with the data supplied and the conditions
 * of use, or refuse, with the reason. Recorded (the supply, its legal basis and conditions) and queued
 * for the requesting state in one transaction. Final.
 */
export async function decideFollowUp(ctx: ExchangeContext, caller: OfficerCaller, id: string, input: DecisionInput): Promise<FollowUpView> {
  // The requested state's national law decides (Prüm Decision Arts. 5, 10): a person entitled to.
  requireRole(caller, 'approver');
  const row = UUID.test(id) ? await ctx.db.selectFrom('follow_ups').selectAll().where('id', '=', id).where('direction', '=', 'incoming').executeTakeFirst() : undefined;
  const about: RefusalAbout = {
    action: 'follow-up.decision',
    direction: 'incoming',
    otherState: row?.requesting_state,
    query: { followUpId: id, reference: row?.reference ?? null, decision: input.decision },
  };
  await recordingRefusals(ctx, caller, about, async () => {
    if (!row) throw new OpenPrumError('not-found', `No incoming follow-up request ${id}`);
    const decidedError = (r: Pick<FollowUpRow, 'status' | 'decided_at' | 'decided_by_reference' | 'reference'>) =>
      new OpenPrumError('follow-up-decided', `Follow-up ${r.reference} was ${r.status} at ${r.decided_at ?? '?'} by ${r.decided_by_reference ?? '?'}; a decision is final`, { decision: r.status });
    if (row.status !== 'open') throw decidedError(row);
    if (input.decision !== 'grant' && input.decision !== 'refuse') throw new OpenPrumError('follow-up-invalid', `decision must be "grant" or "refuse", not ${JSON.stringify(input.decision)}`, { field: 'decision' });
    const legalBasis = text('legalBasis', input.legalBasis, 500);
    const now = ctx.now();
    let supplied: Record<string, unknown> | null = null;
    let conditions: Condition[] | null = null;
    let reason: string | null = null;
    if (input.decision === 'grant') {
      if (input.reason !== undefined) throw new OpenPrumError('follow-up-invalid', 'reason is for a refusal; a grant gives supplied and conditions', { field: 'reason' });
      if (typeof input.supplied !== 'object' || input.supplied === null || Array.isArray(input.supplied)) {
        throw new OpenPrumError('follow-up-invalid', 'supplied must be a JSON object with the personal and case data supplied', { field: 'supplied' });
      }
      const bytes = suppliedBytes(input.supplied);
      if (bytes > MAX_SUPPLIED_BYTES) {
        throw new OpenPrumError('follow-up-supply-too-large', `supplied is ${bytes} bytes of JSON; a follow-up answer holds at most ${MAX_SUPPLIED_BYTES}. Send documents by the legal assistance channel and name them here`, { bytes, limit: MAX_SUPPLIED_BYTES });
      }
      supplied = input.supplied as Record<string, unknown>;
      conditions = checkConditions(input.conditions ?? [], 'follow-up-invalid', { after: now.toISOString().slice(0, 10) });
    } else {
      if (input.supplied !== undefined || input.conditions !== undefined) throw new OpenPrumError('follow-up-invalid', 'A refusal supplies nothing: leave out supplied and conditions', { field: input.supplied !== undefined ? 'supplied' : 'conditions' });
      reason = text('reason', input.reason, 2000, true);
    }
    const decision = input.decision === 'grant' ? ('granted' as const) : ('refused' as const);
    const dueAt = row.due_at!;
    const late = now.getTime() > Date.parse(dueAt);
    const answer = {
      protocol: PROTOCOL,
      type: 'follow-up-answer' as const,
      messageId: randomUUID(),
      requestingState: row.requesting_state,
      requestedState: ctx.country,
      request: { messageId: row.request_message_id, reference: row.reference },
      receipt: { reference: row.receipt_reference!, receivedAt: row.received_at!, dueAt },
      decidedAt: now.toISOString(),
      legalBasis,
      decision,
      ...(decision === 'granted' ? { supplied: supplied!, conditions: conditions! } : { reason: reason! }),
    };
    if (!check(FollowUpAnswer, { ...answer, sentAt: answer.decidedAt })) {
      const p = describeProblems(FollowUpAnswer, { ...answer, sentAt: answer.decidedAt })[0];
      throw new OpenPrumError('follow-up-invalid', `The answer cannot be sent: ${p?.path ?? ''} ${p?.message ?? 'does not fit the protocol'}`);
    }
    const summary = conditions ? summariseConditions(conditions) : null;
    await ctx.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('follow_ups')
        .set({
          status: decision,
          decided_at: now,
          decided_by_id: caller.officerId,
          decided_by_reference: caller.reference,
          supply_legal_basis: legalBasis,
          refusal_reason: reason,
          supplied: supplied ? JSON.stringify(supplied) : null,
          conditions: conditions ? JSON.stringify(conditions) : null,
          delete_by: summary?.deleteBy ?? null,
          review_by: summary?.reviewBy ?? null,
        })
        .where('id', '=', row.id)
        .where('status', '=', 'open')
        .returning('id')
        .executeTakeFirst();
      if (!updated) {
        const now2 = await trx.selectFrom('follow_ups').select(['status', 'decided_at', 'decided_by_reference', 'reference']).where('id', '=', row.id).executeTakeFirstOrThrow();
        throw decidedError(now2);
      }
      // Prüm Decision Art. 30(1) and FD 2008/977 Art. 10: the supply (or its refusal), its legal
      // basis and the conditions of use, with the approver who decided.
      const rec = await writeRecord(trx, {
        action: 'follow-up.decision',
        direction: 'incoming',
        searchingBody: NCP(row.requesting_state),
        administeringBody: NCP(ctx.country),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason: reason ?? `Follow-up ${row.reference} of ${row.requesting_state}: ${row.purpose}`,
        purpose: row.purpose,
        legalBasis: `${followUpLegalBasis(row.kind)}; ${legalBasis}`,
        query: { reference: row.reference, receiptReference: row.receipt_reference, hit: hitOf(row), offence: row.offence_category },
        supplied: decision === 'granted' ? { decision, supplied, conditions, dueAt, decidedAt: answer.decidedAt, late } : { decision, reason, dueAt, decidedAt: answer.decidedAt, late },
        hit: true,
        outcome: decision === 'granted' ? 'done' : 'refused',
        requestId: row.request_message_id,
      });
      await trx.updateTable('follow_ups').set({ decision_record_id: rec.id }).where('id', '=', row.id).execute();
      await trx.insertInto('follow_up_deliveries').values({ follow_up_id: row.id, state: row.requesting_state, message_id: answer.messageId, type: 'follow-up-answer', payload: JSON.stringify(answer) }).execute();
    });
  });
  return (await getFollowUp(ctx, caller, id))!;
}

// --- views ----------------------------------------------------------------------------------------

export interface DeliveryView {
  readonly type: 'follow-up-request' | 'follow-up-answer';
  readonly messageId: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: string | null;
  readonly lastAttemptAt: string | null;
  readonly deliveredAt: string | null;
  readonly error: { readonly code: string; readonly detail: string } | null;
}

export interface FollowUpView {
  readonly id: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly reference: string;
  readonly status: FollowUpStatus;
  readonly requestingState: string;
  readonly requestedState: string;
  readonly requestMessageId: string;
  readonly hit: {
    readonly kind: string;
    readonly searchId: string | null;
    readonly searchReference: string;
    readonly searchMessageId: string;
    readonly answerReference: string;
    readonly requestReference: string;
    readonly requestedReference: string;
  };
  readonly request: {
    readonly legalBasis: string;
    readonly facts: string;
    readonly offence: { readonly category: string; readonly label: string; readonly description: string | null };
    readonly purpose: string;
    readonly caseReference: string | null;
    readonly requestedAt: string;
    readonly officerReference: string | null;
  };
  /** The requested node's receipt: its reference, the time it received the request. */
  readonly receiptReference: string | null;
  readonly receivedAt: string | null;
  /** 48 hours after receipt (Regulation (EU) 2024/982). */
  readonly dueAt: string | null;
  /** Not decided yet and past its due time. */
  readonly overdue: boolean;
  /** Decided (answered) after its due time. */
  readonly late: boolean;
  /** How far past the due time the answer came (or, while overdue, is now). */
  readonly lateBySeconds: number;
  /** When the requested state decided: the time of its answer. */
  readonly answeredAt: string | null;
  readonly decision: {
    readonly decision: 'granted' | 'refused';
    readonly decidedAt: string;
    readonly decidedBy: string | null;
    readonly legalBasis: string | null;
    /**
     * incoming (what this node supplied): the data. outgoing (what this node received): always null;
     * the data are used only through the purpose check of src/safeguards (`useAt`).
     */
    readonly supplied: Record<string, unknown> | null;
    readonly conditions: unknown[] | null;
    readonly reason: string | null;
    /** outgoing, granted: where an officer uses the data received (FD 2008/977 Arts. 3, 11; src/safeguards). */
    readonly useAt: string | null;
  } | null;
  /** outgoing: when the answer arrived here. */
  readonly answerReceivedAt: string | null;
  /** The message this node sends for this follow-up: the request (outgoing) or the answer (incoming). */
  readonly delivery: DeliveryView | null;
}

function hitOf(r: FollowUpRow) {
  return {
    kind: r.kind,
    searchId: r.search_id,
    searchReference: r.search_reference,
    searchMessageId: r.search_message_id,
    answerReference: r.answer_reference,
    requestReference: r.request_reference,
    requestedReference: r.requested_reference,
  };
}

export function followUpView(r: FollowUpRow, d: Selectable<FollowUpDeliveriesTable> | undefined, now: Date): FollowUpView {
  const due = r.due_at ? Date.parse(r.due_at) : undefined;
  const decided = r.decided_at ? Date.parse(r.decided_at) : undefined;
  const waiting = r.status === 'open' || r.status === 'pending' || r.status === 'received';
  const overdue = due !== undefined && decided === undefined && waiting && now.getTime() > due;
  const late = due !== undefined && decided !== undefined && decided > due;
  const lateMs = due === undefined ? 0 : overdue ? now.getTime() - due : late ? decided! - due : 0;
  return {
    id: r.id,
    direction: r.direction,
    reference: r.reference,
    status: r.status,
    requestingState: r.requesting_state,
    requestedState: r.requested_state,
    requestMessageId: r.request_message_id,
    hit: hitOf(r),
    request: {
      legalBasis: r.legal_basis,
      facts: r.facts,
      offence: { category: r.offence_category, label: offenceLabel(r.offence_category) ?? r.offence_category, description: r.offence_description },
      purpose: r.purpose,
      caseReference: r.case_reference,
      requestedAt: r.requested_at,
      officerReference: r.officer_reference,
    },
    receiptReference: r.receipt_reference,
    receivedAt: r.received_at,
    dueAt: r.due_at,
    overdue,
    late,
    lateBySeconds: Math.floor(lateMs / 1000),
    answeredAt: r.decided_at,
    decision:
      r.decided_at && (r.status === 'granted' || r.status === 'refused')
        ? {
            decision: r.status,
            decidedAt: r.decided_at,
            decidedBy: r.direction === 'incoming' ? r.decided_by_reference : null,
            legalBasis: r.supply_legal_basis,
            // Received personal data leave this node's store only through the purpose check (src/safeguards).
            supplied: r.direction === 'outgoing' ? null : r.supplied,
            conditions: r.conditions,
            reason: r.refusal_reason,
            useAt: r.direction === 'outgoing' && r.status === 'granted' ? `POST /v1/received-data/${r.id}/uses` : null,
          }
        : null,
    answerReceivedAt: r.answer_received_at,
    delivery: d
      ? {
          type: d.type,
          messageId: d.message_id,
          status: d.status,
          attempts: d.attempts,
          nextAttemptAt: d.status === 'pending' ? d.next_attempt_at : null,
          lastAttemptAt: d.last_attempt_at,
          deliveredAt: d.delivered_at,
          error: d.last_error_code ? { code: d.last_error_code, detail: d.last_error ?? '' } : null,
        }
      : null,
  };
}

function mayRead(caller: OfficerCaller, r: Pick<FollowUpRow, 'direction' | 'officer_id'>): boolean {
  if (hasRole(caller, 'supervisor')) return true;
  // Outgoing: the officer who asked (their case); incoming: the approvers who decide.
  return r.direction === 'outgoing' ? r.officer_id === caller.officerId : hasRole(caller, 'approver');
}

async function deliveriesOf(db: Db, ids: readonly string[]): Promise<Map<string, Selectable<FollowUpDeliveriesTable>>> {
  const out = new Map<string, Selectable<FollowUpDeliveriesTable>>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('follow_up_deliveries').selectAll().where('follow_up_id', 'in', [...ids]).orderBy('id').execute();
  for (const d of rows) out.set(d.follow_up_id, d); // the latest message of each follow-up
  return out;
}

/** One follow-up, if the caller may read it (its officer; approvers for incoming ones; a supervisor). */
export async function getFollowUp(ctx: ExchangeContext, caller: OfficerCaller, id: string): Promise<FollowUpView | undefined> {
  if (!UUID.test(id)) return undefined;
  const r = await ctx.db.selectFrom('follow_ups').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r || !mayRead(caller, r)) return undefined;
  return followUpView(r, (await deliveriesOf(ctx.db, [r.id])).get(r.id), ctx.now());
}

export interface FollowUpFilter {
  readonly direction?: 'incoming' | 'outgoing' | undefined;
  readonly status?: FollowUpStatus | undefined;
  readonly overdue?: boolean | undefined;
  readonly limit?: number | undefined;
}

/**
 * The follow-ups the caller may read, newest first: incoming ones for approvers (and supervisors),
 * the caller's own outgoing ones for officers (everyone's for supervisors).
 */
export async function listFollowUps(ctx: ExchangeContext, caller: OfficerCaller, filter: FollowUpFilter = {}): Promise<FollowUpView[]> {
  const supervisor = hasRole(caller, 'supervisor');
  const incoming = supervisor || hasRole(caller, 'approver');
  const outgoing = supervisor || hasRole(caller, 'officer');
  if (filter.direction === 'incoming' && !incoming) requireRole(caller, 'approver', 'supervisor');
  if (filter.direction === 'outgoing' && !outgoing) requireRole(caller, 'officer', 'supervisor');
  if (!incoming && !outgoing) requireRole(caller, 'officer', 'approver', 'supervisor');
  let q = ctx.db.selectFrom('follow_ups').selectAll();
  if (filter.direction) q = q.where('direction', '=', filter.direction);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (!supervisor) {
    q = q.where((eb) =>
      eb.or([
        ...(incoming ? [eb('direction', '=', 'incoming')] : []),
        ...(outgoing ? [eb.and([eb('direction', '=', 'outgoing'), eb('officer_id', '=', caller.officerId)])] : []),
      ]),
    );
  }
  const rows = await q.orderBy('created_at', 'desc').limit(Math.min(Math.max(filter.limit ?? 50, 1), 500)).execute();
  const deliveries = await deliveriesOf(ctx.db, rows.map((r) => r.id));
  const now = ctx.now();
  const views = rows.map((r) => followUpView(r, deliveries.get(r.id), now));
  return filter.overdue === undefined ? views : views.filter((v) => v.overdue === filter.overdue);
}
