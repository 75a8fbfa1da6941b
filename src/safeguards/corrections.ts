/**
 * Accuracy of supplied data (Prüm Decision Art. 28(1), (2); FD 2008/977 Arts. 4(1), 8(2)).
 *
 * At the supplying node, `correctSuppliedData`: data this node supplied turn out wrong, or should not
 * have been supplied, or the data subject contests them. The node finds every state that received
 * them (a follow-up it granted; a vehicle, DNA profile or fingerprint candidate in an answer it gave,
 * from the signed answers kept in `federation_inbox`), records the correction per recipient and queues
 * a signed `supplied-data-correction` for each (durable delivery: src/safeguards/worker.ts).
 *
 * At the receiving node, `receiveCorrection`: the copy is rectified, erased (or blocked, when erasure
 * would prejudice the data subject: FD 2008/977 Arts. 4(3), 8(2)), or flagged as contested; every
 * later read shows the flag and the correction.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { SearchAnswer, SearchRequest } from '../exchange/messages.ts';
import { MAX_SUPPLIED_BYTES, suppliedBytes } from '../followup/messages.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { normaliseVin } from '../vehicle/keys.ts';
import { VehicleRow } from '../vehicle/model.ts';
import { check, describeProblems } from '../util/validate.ts';
import { NCP, type SafeguardsContext } from './context.ts';
import { newReference } from './consent.ts';
import { recordingRefusals, text } from './input.ts';
import { endItem, itemAbout, loadData, matchedElements, replaceElement, storeCorrected } from './items.ts';
import { CORRECTION_ACTIONS, PROTOCOL, type About, type CorrectionAction, type SuppliedDataCorrection } from './messages.ts';
import { enqueue } from './worker.ts';

type Db = Kysely<Schema> | Transaction<Schema>;

export type CorrectionSubject =
  | { readonly type: 'follow-up'; readonly followUpId: string }
  | { readonly type: 'vehicle'; readonly vin: string }
  | { readonly type: 'dna'; readonly ref: string }
  | { readonly type: 'fingerprint'; readonly ref: string };

export interface CorrectionInput {
  readonly subject: CorrectionSubject;
  readonly action: CorrectionAction;
  /** rectify a follow-up: the corrected data supplied (a JSON object). Vehicles are rectified from the register as it is now. */
  readonly corrected?: unknown;
  readonly reason: string;
}

interface Recipient {
  readonly state: string;
  readonly about: About;
  readonly item?: string;
}

export interface CorrectionResult {
  readonly subject: CorrectionSubject;
  readonly action: CorrectionAction;
  readonly correctedAt: string;
  /** Every state that received the data, each notified by a signed message (delivery in the queue). */
  readonly recipients: ReadonlyArray<{ readonly state: string; readonly reference: string; readonly correctionId: string; readonly messageId: string; readonly recordId: number }>;
}

/** The vehicle as the register holds it now, in the shape answers carry. */
async function registerVehicle(db: Db, vin: string): Promise<VehicleRow | undefined> {
  const v = await db.selectFrom('vehicles').selectAll().where('vin', '=', vin).orderBy('id').executeTakeFirst();
  if (!v) return undefined;
  const day = (d: unknown) => (d instanceof Date ? d.toISOString().slice(0, 10) : String(d).slice(0, 10));
  return {
    registrationNumber: v.registration_display,
    vin: v.vin,
    make: v.make,
    model: v.model,
    vehicleType: v.vehicle_type,
    colour: v.colour,
    firstRegistrationDate: day(v.first_registration),
    holder:
      v.holder_type === 'natural'
        ? { type: 'natural', surname: v.holder_surname ?? '', firstNames: v.holder_first_names ?? '', birthDate: day(v.holder_birth_date), address: v.holder_address }
        : { type: 'legal', name: v.holder_name ?? '', address: v.holder_address },
  };
}

/** The states this node answered with the matched item `ref` (a VIN, a DNA or fingerprint reference). */
async function answeredWith(db: Db, kind: 'vehicle' | 'dna' | 'fingerprint', ref: string): Promise<Recipient[]> {
  const rows = await db
    .selectFrom('federation_inbox')
    .select(['requesting_state', 'message_id', 'request_body', 'answer_body'])
    .where('kind', '=', kind)
    .where('answer_status', '=', 200)
    // A cheap filter first; the parsed answer decides.
    .where('answer_body', 'like', `%${ref.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
    .orderBy('received_at')
    .execute();
  const out: Recipient[] = [];
  for (const r of rows) {
    let answer: SearchAnswer;
    let request: SearchRequest;
    try {
      answer = JSON.parse(r.answer_body) as SearchAnswer;
      request = JSON.parse(r.request_body) as SearchRequest;
    } catch {
      continue;
    }
    const m = matchedElements(kind, answer.result);
    if (!answer.hit || !m?.elements.some((e) => e[m.key] === ref)) continue;
    out.push({ state: r.requesting_state, about: { source: 'search-answer', searchMessageId: r.message_id, reference: request.reference, kind }, item: ref });
  }
  return out;
}

/**
 * Notifies every state that received data this node supplied that they were wrong (rectify, erase),
 * or that the data subject contests them (flag) or no longer does (unflag).
 */
export async function correctSuppliedData(ctx: SafeguardsContext, caller: OfficerCaller, input: CorrectionInput): Promise<CorrectionResult> {
  requireRole(caller, 'approver');
  const result = await recordingRefusals(ctx, caller, { action: 'supplied-data.correction', direction: 'incoming', query: { subject: input.subject ?? null, action: input.action ?? null } }, async () => {
    if (!(CORRECTION_ACTIONS as readonly string[]).includes(input.action)) throw new OpenPrumError('safeguards-invalid', `action must be one of ${CORRECTION_ACTIONS.join(', ')}, not ${JSON.stringify(input.action)}`, { field: 'action' });
    const reason = text('reason', input.reason, 2000);
    const subject = input.subject as CorrectionSubject | undefined;
    if (input.action !== 'rectify' && input.corrected !== undefined) throw new OpenPrumError('safeguards-invalid', 'corrected is for action "rectify"', { field: 'corrected' });
    let recipients: Recipient[];
    let corrected: unknown;
    let followUpId: string | undefined;
    switch (subject?.type) {
      case 'follow-up': {
        const f = /^[0-9a-f-]{36}$/.test(String(subject.followUpId)) ? await ctx.db.selectFrom('follow_ups').selectAll().where('id', '=', subject.followUpId).where('direction', '=', 'incoming').executeTakeFirst() : undefined;
        if (!f || f.status !== 'granted') throw new OpenPrumError('not-found', `No follow-up ${String(subject.followUpId)} granted by this node`);
        if (input.action === 'rectify') {
          if (typeof input.corrected !== 'object' || input.corrected === null || Array.isArray(input.corrected)) throw new OpenPrumError('safeguards-invalid', 'corrected must be a JSON object: the data as they should have been supplied', { field: 'corrected' });
          const bytes = suppliedBytes(input.corrected);
          if (bytes > MAX_SUPPLIED_BYTES) throw new OpenPrumError('safeguards-invalid', `corrected is ${bytes} bytes of JSON; at most ${MAX_SUPPLIED_BYTES}`, { field: 'corrected' });
          corrected = input.corrected;
        }
        followUpId = f.id;
        recipients = [{ state: f.requesting_state, about: { source: 'follow-up', requestMessageId: f.request_message_id, reference: f.reference } }];
        break;
      }
      case 'vehicle': {
        const vin = normaliseVin(String(subject.vin ?? ''));
        if (!vin.ok) throw new OpenPrumError('safeguards-invalid', `subject.vin: ${vin.reason}`, { field: 'subject.vin' });
        if (input.action === 'rectify') {
          if (input.corrected !== undefined) throw new OpenPrumError('safeguards-invalid', 'A vehicle is rectified from the register: correct the register (openprum vehicle import), then rectify without "corrected"', { field: 'corrected' });
          corrected = await registerVehicle(ctx.db, vin.value);
          if (!corrected) throw new OpenPrumError('safeguards-invalid', `The register holds no vehicle ${vin.value} any more: correct it first, or erase what was supplied (action "erase")`);
        }
        recipients = await answeredWith(ctx.db, 'vehicle', vin.value);
        break;
      }
      case 'dna':
      case 'fingerprint': {
        const ref = text('subject.ref', subject.ref, 64);
        if (input.action === 'rectify') {
          throw new OpenPrumError('safeguards-invalid', `A wrong ${subject.type === 'dna' ? 'DNA profile' : 'fingerprint template'} is not rectified at the recipients but erased there (action "erase"): a corrected one is compared anew by a new search`, { field: 'action' });
        }
        recipients = await answeredWith(ctx.db, subject.type, ref);
        break;
      }
      default:
        throw new OpenPrumError('safeguards-invalid', 'subject must be {"type":"follow-up","followUpId"}, {"type":"vehicle","vin"}, {"type":"dna","ref"} or {"type":"fingerprint","ref"}', { field: 'subject' });
    }
    const now = ctx.now();
    return ctx.db.transaction().execute(async (trx) => {
      // The supplier corrects its own copy of a follow-up answer too (Prüm Decision Art. 28(1)).
      if (followUpId && input.action === 'rectify') await trx.updateTable('follow_ups').set({ supplied: JSON.stringify(corrected) }).where('id', '=', followUpId).execute();
      const out: CorrectionResult['recipients'][number][] = [];
      for (const r of recipients) {
        const correctionId = randomUUID();
        const messageId = randomUUID();
        const reference = newReference(ctx.country, 'SC', now);
        const message: Omit<SuppliedDataCorrection, 'sentAt'> = {
          protocol: PROTOCOL,
          type: 'supplied-data-correction',
          messageId,
          from: ctx.country,
          to: r.state,
          reference,
          about: r.about,
          ...(r.item ? { item: r.item } : {}),
          action: input.action,
          ...(input.action === 'rectify' ? { corrected } : {}),
          reason,
          correctedAt: now.toISOString(),
        };
        const rec = await writeRecord(trx, {
          action: 'supplied-data.correction',
          direction: 'incoming',
          searchingBody: NCP(r.state),
          administeringBody: NCP(ctx.country),
          officerId: caller.officerId,
          officerReference: caller.reference,
          reason,
          legalBasis: input.action === 'flag-contested' || input.action === 'unflag-contested' ? 'Prüm Decision Art. 28(2)' : 'Prüm Decision Art. 28(1); FD 2008/977 Art. 8(2)',
          query: { reference, about: r.about, item: r.item ?? null, action: input.action },
          supplied: input.action === 'rectify' ? { corrected } : { action: input.action },
          outcome: 'done',
          requestId: messageId,
        });
        await trx
          .insertInto('supplied_corrections')
          .values({
            id: correctionId,
            corrected_at: now,
            subject: JSON.stringify(subject),
            action: input.action,
            reason,
            recipient_state: r.state,
            about: JSON.stringify(r.about),
            message_id: messageId,
            officer_id: caller.officerId,
            officer_reference: caller.reference,
            record_id: rec.id,
          })
          .execute();
        await enqueue(trx, { state: r.state, type: 'supplied-data-correction', relatedId: correctionId, payload: message });
        out.push({ state: r.state, reference, correctionId, messageId, recordId: rec.id });
      }
      return { subject: subject!, action: input.action, correctedAt: now.toISOString(), recipients: out };
    });
  });
  ctx.kick();
  return result;
}

// --- at the receiving node ------------------------------------------------------------------------

/** A supplier's correction arrives (peer.ts has authenticated it): applied to this node's copy, recorded. */
export async function receiveCorrection(trx: Db, ctx: SafeguardsContext, from: string, m: SuppliedDataCorrection): Promise<{ recordId: number; itemId: string | null; note: string }> {
  const item = await itemAbout(trx, from, m.about);
  let note: string;
  if (!item) {
    // Data this node asked for but holds no personal data of (no hit, refused, or never answered).
    const known =
      m.about.source === 'follow-up'
        ? await trx.selectFrom('follow_ups').select('id').where('direction', '=', 'outgoing').where('requested_state', '=', from).where('request_message_id', '=', m.about.requestMessageId).executeTakeFirst()
        : await trx.selectFrom('federation_targets').select('id').where('state', '=', from).where('message_id', '=', m.about.searchMessageId).executeTakeFirst();
    if (!known) throw new OpenPrumError('safeguards-data-unknown', `The node of ${ctx.country} received no data ${m.about.reference} from ${from}`);
    note = 'nothing held';
  } else if (item.status === 'erased') {
    note = 'erased already';
  } else {
    const now = ctx.now();
    switch (m.action) {
      case 'flag-contested':
        await trx.updateTable('received_items').set({ contested_at: now, contested_note: m.reason, contested_source: 'supplier' }).where('id', '=', item.id).execute();
        note = 'flagged as contested';
        break;
      case 'unflag-contested':
        await trx.updateTable('received_items').set({ contested_at: null, contested_note: null, contested_source: null }).where('id', '=', item.id).execute();
        note = 'flag removed';
        break;
      case 'rectify': {
        let data: unknown;
        if (item.source === 'follow-up') {
          if (typeof m.corrected !== 'object' || m.corrected === null || Array.isArray(m.corrected) || suppliedBytes(m.corrected) > MAX_SUPPLIED_BYTES) {
            throw new OpenPrumError('peer-message-invalid', `corrected must be a JSON object of at most ${MAX_SUPPLIED_BYTES} bytes`);
          }
          data = m.corrected;
        } else {
          if (item.kind !== 'vehicle' || !m.item) throw new OpenPrumError('peer-message-invalid', `Only vehicles of a search answer are rectified in place; a ${item.kind} item is erased`);
          if (!check(VehicleRow, m.corrected)) throw new OpenPrumError('peer-message-invalid', `corrected is not a vehicle: ${describeProblems(VehicleRow, m.corrected)[0]?.message ?? ''}`);
          if (m.corrected.vin !== m.item) throw new OpenPrumError('peer-message-invalid', `corrected names VIN ${m.corrected.vin}, the correction is about ${m.item}`);
          const replaced = replaceElement(item.kind, await loadData(trx, item), m.item, m.corrected as Record<string, unknown>);
          if (!replaced) throw new OpenPrumError('safeguards-data-unknown', `The answer ${m.about.reference} of ${from} held here has no ${m.item}`);
          data = replaced.data;
        }
        await storeCorrected(trx, item, data);
        await trx.updateTable('received_items').set({ corrected_at: now, correction_note: `rectified: ${m.reason}`.slice(0, 2000) }).where('id', '=', item.id).execute();
        note = 'rectified';
        break;
      }
      case 'erase': {
        const partial = item.source === 'search-answer' && m.item ? replaceElement(item.kind, await loadData(trx, item), m.item, null) : undefined;
        if (partial && partial.remaining > 0) {
          await storeCorrected(trx, item, partial.data);
          await trx.updateTable('received_items').set({ corrected_at: now, correction_note: `${m.item} erased: ${m.reason}`.slice(0, 2000) }).where('id', '=', item.id).execute();
          note = `${m.item} erased`;
        } else {
          const end = await endItem(trx, ctx, item, 'supplier-correction', `${from} says the data were wrong or should not have been supplied: ${m.reason}`);
          note = end.outcome;
        }
        break;
      }
    }
  }
  const rec = await writeRecord(trx, {
    action: 'supplied-data.correction',
    direction: 'outgoing',
    searchingBody: NCP(ctx.country),
    administeringBody: NCP(from),
    officerId: item?.requested_by_id ?? null,
    officerReference: item?.requested_by_reference ?? null,
    reason: m.reason,
    legalBasis: m.action === 'flag-contested' || m.action === 'unflag-contested' ? 'Prüm Decision Art. 28(2)' : 'Prüm Decision Art. 28(1); FD 2008/977 Art. 8(2)',
    query: { messageId: m.messageId, reference: m.reference, about: m.about, item: m.item ?? null, action: m.action, itemId: item?.id ?? null },
    supplied: { note },
    outcome: 'done',
    requestId: m.messageId,
  });
  return { recordId: rec.id, itemId: item?.id ?? null, note };
}

/**
 * The data subject contests the accuracy of data this node received (Prüm Decision Art. 28(2)): a
 * flag shown with every read. Removed only with the data subject's permission or a decision of a
 * court or the data-protection authority.
 */
export async function flagContested(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string, input: { contested: boolean; note: string; basis?: string | undefined }): Promise<void> {
  requireRole(caller, 'officer');
  await recordingRefusals(ctx, caller, { action: 'received-data.contest', query: { itemId, contested: input.contested } }, async () => {
    const note = text('note', input.note, 2000);
    const basis = input.contested ? null : text('basis', input.basis, 500);
    if (basis !== null && !/permission|consent|court|authority|decision/i.test(basis)) {
      throw new OpenPrumError('safeguards-invalid', 'basis must say whose permission or decision lifts the flag: the data subject\'s permission, or a decision of a court or of the data-protection authority (Prüm Decision Art. 28(2))', { field: 'basis' });
    }
    await ctx.db.transaction().execute(async (trx) => {
      const item = await trx.selectFrom('received_items').selectAll().where('id', '=', /^[0-9a-f-]{36}$/.test(itemId) ? itemId : '00000000-0000-0000-0000-000000000000').forUpdate().executeTakeFirst();
      if (!item) throw new OpenPrumError('not-found', `No received data ${itemId}`);
      if (item.status === 'erased') throw new OpenPrumError('received-data-erased', `Received data ${item.reference} were erased`);
      if (input.contested === !!item.contested_at) throw new OpenPrumError('conflict', `Received data ${item.reference} are ${item.contested_at ? 'flagged as contested already' : 'not flagged'}`);
      await trx
        .updateTable('received_items')
        .set(input.contested ? { contested_at: ctx.now(), contested_note: note, contested_source: 'local' } : { contested_at: null, contested_note: null, contested_source: null })
        .where('id', '=', item.id)
        .execute();
      await writeRecord(trx, {
        action: 'received-data.contest',
        direction: 'local',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(item.supplying_state),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason: basis ? `${note} (${basis})` : note,
        legalBasis: 'Prüm Decision Art. 28(2)',
        query: { itemId: item.id, reference: item.reference, contested: input.contested },
        outcome: 'done',
      });
    });
  });
}
