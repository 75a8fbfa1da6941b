/**
 * Onward transfer of received personal data (FD 2008/977 Arts. 13, 14; Prüm Decision Art. 27).
 *
 * | recipient | allowed | law |
 * | --- | --- | --- |
 * | third state, international body | necessary for criminal-justice purposes, to a competent recipient with adequate protection (or a derogation), with the supplying state's consent on record | FD 2008/977 Art. 13(1), (3) |
 * | the same, without prior consent | only when essential to prevent an immediate and serious threat and consent cannot be had in time; the supplier is informed at once by a signed message | FD 2008/977 Art. 13(2) |
 * | private party | the supplying state's consent on record, no legitimate interest of the data subject against it, essential for one of the tasks of Art. 14(1)(c); the recipient is told the purposes it may use the data for | FD 2008/977 Art. 14 |
 *
 * Always refused: data with the supplier's condition "no onward transfer" (Prüm Decision Art. 16(4);
 * the condition binds, whatever the emergency); blocked data, except for the purpose that prevented
 * their erasure; data of an automated search without the supplier's prior authorisation (Prüm
 * Decision Art. 27, which takes precedence: FD 2008/977 Art. 28). Every transfer and every refusal is
 * recorded; the transfer's record holds the data supplied (Prüm Decision Art. 30(1)).
 */
import { randomUUID } from 'node:crypto';
import { writeRecord } from '../audit/records.ts';
import { OpenPrumError } from '../errors/index.ts';
import { summariseConditions } from '../followup/conditions.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import { checkRecipient, newReference, sameRecipient } from './consent.ts';
import { NCP, type SafeguardsContext } from './context.ts';
import { recordingRefusals, samePurpose, text } from './input.ts';
import { aboutOf, conditionsOf, enforceDue, itemView, loadData, requireItem, UUID, type ReceivedItemView } from './items.ts';
import { PROTOCOL, type OnwardTransferNotice, type Recipient } from './messages.ts';
import { enqueue } from './worker.ts';

/** FD 2008/977 Art. 14(1)(c): what the transfer to a private party is essential for. */
export const PRIVATE_PARTY_TASKS = ['lawful-task', 'criminal-offences', 'public-security-threat', 'serious-harm-to-rights'] as const;
/** FD 2008/977 Art. 13(1)(d) and (3): why the protection at the recipient suffices. */
export const ADEQUACY_BASES = ['adequate-level', 'adequate-safeguards', 'data-subject-interests', 'prevailing-public-interest'] as const;

export interface TransferInput {
  readonly recipient: unknown;
  readonly purpose: string;
  readonly caseReference: string;
  readonly ground: 'consent' | 'immediate-threat';
  readonly consentId?: string | undefined;
  /** Art. 13(1)(a): why the transfer is necessary for criminal-justice purposes; Art. 14(1)(c): why it is essential. */
  readonly necessity: string;
  /** Art. 13(1)(b): the recipient is competent for criminal-justice purposes (third states, international bodies). */
  readonly recipientCompetent?: boolean | undefined;
  /** Art. 13(1)(d), (3) (third states, international bodies). */
  readonly adequacy?: { readonly basis: string; readonly statement: string } | undefined;
  /** Art. 13(2) (ground immediate-threat): the threat, and why consent could not be had in time. */
  readonly threat?: string | undefined;
  /** Art. 14(1)(c) (private parties). */
  readonly privatePartyTask?: string | undefined;
  /** Art. 14(1)(b) (private parties): why no legitimate specific interest of the data subject prevents it. */
  readonly dataSubjectInterests?: string | undefined;
}

export interface TransferResult {
  readonly transfer: {
    readonly id: string;
    readonly reference: string;
    readonly transferredAt: string;
    readonly recipient: Recipient;
    readonly purpose: string;
    readonly caseReference: string;
    readonly ground: 'consent' | 'immediate-threat';
    readonly consentId: string | null;
    readonly legalBasis: string;
    readonly recordId: number;
    /** Art. 13(2): the signed notice to the supplier, queued in the same transaction. */
    readonly supplierInformed: { readonly messageId: string } | null;
  };
  /** What goes to the recipient: the data, the conditions that travel with them, and (private parties) the purposes they may be used for. */
  readonly package: {
    readonly data: unknown;
    readonly conditions: unknown[];
    readonly restrictions: readonly string[];
    readonly purposeStatement: string | null;
  };
  readonly item: ReceivedItemView;
}

export async function transferReceivedData(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string, input: TransferInput): Promise<TransferResult> {
  requireRole(caller, 'officer');
  const pre = UUID.test(itemId) ? await ctx.db.selectFrom('received_items').select(['supplying_state', 'reference']).where('id', '=', itemId).executeTakeFirst() : undefined;
  const about = {
    action: 'received-data.transfer',
    direction: 'outgoing' as const,
    supplier: pre?.supplying_state,
    purpose: typeof input.purpose === 'string' ? input.purpose.slice(0, 500) : undefined,
    query: { itemId, reference: pre?.reference ?? null, recipient: (input.recipient ?? null) as unknown, ground: input.ground ?? null, consentId: input.consentId ?? null },
  };
  const result = await recordingRefusals(ctx, caller, about, async () => {
    const recipient = checkRecipient(input.recipient);
    const purpose = text('purpose', input.purpose, 500);
    const caseReference = text('caseReference', input.caseReference, 100);
    const necessity = text('necessity', input.necessity, 2000);
    if (input.ground !== 'consent' && input.ground !== 'immediate-threat') throw new OpenPrumError('safeguards-invalid', `ground must be "consent" or "immediate-threat", not ${JSON.stringify(input.ground)}`, { field: 'ground' });
    const item = await enforceDue(ctx, await requireItem(ctx.db, itemId));
    if (item.status === 'erased') throw new OpenPrumError('received-data-erased', `Received data ${item.reference} were erased`);
    const s = summariseConditions(conditionsOf(item));
    if (s.noOnwardTransfer) {
      throw new OpenPrumError('received-data-transfer-refused', `${item.supplying_state} supplied ${item.reference} on the condition "no onward transfer" (Prüm Decision Art. 16(4)): no transfer to ${recipient.name}, whatever the ground`);
    }
    if (item.status === 'blocked' && !samePurpose(purpose, item.blocked_purpose)) {
      throw new OpenPrumError('received-data-blocked', `Received data ${item.reference} are blocked: they may be supplied only for "${item.blocked_purpose}" (Prüm Decision Art. 28(3))`);
    }
    if (s.onlyInCases.length > 0 && !s.onlyInCases.includes(caseReference)) {
      throw new OpenPrumError('received-data-case-restricted', `${item.supplying_state} allowed ${item.reference} only in case ${s.onlyInCases.join(' or ')}, not in ${caseReference}`);
    }
    let legalBasis: string;
    let purposeStatement: string | null = null;
    if (recipient.type === 'private-party') {
      // FD 2008/977 Art. 14(1): consent (a), no prevailing interest of the data subject (b), essential for a task (c).
      if (input.ground !== 'consent') throw new OpenPrumError('received-data-transfer-refused', 'A transfer to a private party needs the consent of the supplying state (FD 2008/977 Art. 14(1)(a)); there is no emergency route');
      if (!(PRIVATE_PARTY_TASKS as readonly string[]).includes(String(input.privatePartyTask))) {
        throw new OpenPrumError('safeguards-invalid', `privatePartyTask must be one of ${PRIVATE_PARTY_TASKS.join(', ')} (FD 2008/977 Art. 14(1)(c))`, { field: 'privatePartyTask' });
      }
      text('dataSubjectInterests', input.dataSubjectInterests, 2000);
      legalBasis = `FD 2008/977 Art. 14(1)(a), (b), (c)(${PRIVATE_PARTY_TASKS.indexOf(input.privatePartyTask as (typeof PRIVATE_PARTY_TASKS)[number]) + 1})`;
      purposeStatement = `These personal data, received from ${item.supplying_state} (${item.reference}), may be used exclusively for: ${purpose} (FD 2008/977 Art. 14(2))`;
    } else {
      // FD 2008/977 Art. 13(1)(b), (d) and (3).
      if (input.recipientCompetent !== true) throw new OpenPrumError('received-data-transfer-refused', `${recipient.name} must be responsible for the prevention, investigation, detection or prosecution of criminal offences or the execution of criminal penalties (FD 2008/977 Art. 13(1)(b)): confirm recipientCompetent`);
      if (!input.adequacy || !(ADEQUACY_BASES as readonly string[]).includes(input.adequacy.basis)) {
        throw new OpenPrumError('safeguards-invalid', `adequacy.basis must be one of ${ADEQUACY_BASES.join(', ')} (FD 2008/977 Art. 13(1)(d), (3))`, { field: 'adequacy.basis' });
      }
      text('adequacy.statement', input.adequacy.statement, 2000);
      legalBasis = input.ground === 'consent' ? 'FD 2008/977 Art. 13(1)' : 'FD 2008/977 Art. 13(1)(a), (b), (d) and (2): without prior consent, immediate and serious threat';
    }
    let consentId: string | null = null;
    if (input.ground === 'consent') {
      const c = input.consentId && UUID.test(input.consentId) ? await ctx.db.selectFrom('safeguard_consents').selectAll().where('id', '=', input.consentId).where('item_id', '=', item.id).where('direction', '=', 'outgoing').executeTakeFirst() : undefined;
      if (!c || c.source !== 'supplying-state' || c.scope !== 'onward-transfer') {
        throw new OpenPrumError('received-data-consent-required', `No consent of ${item.supplying_state} to an onward transfer ${input.consentId ?? '(none given)'} on record for ${item.reference}; ask it (POST /v1/received-data/${item.id}/consents with scope "onward-transfer")`);
      }
      if (c.status !== 'granted') throw new OpenPrumError('received-data-consent-required', `Consent ${c.reference} is ${c.status}, not granted`, { consentStatus: c.status });
      if (!sameRecipient(c.recipient as Recipient | null, recipient) || !samePurpose(c.purpose, purpose) || (c.case_reference && c.case_reference !== caseReference)) {
        throw new OpenPrumError('received-data-consent-required', `Consent ${c.reference} covers a transfer to ${JSON.stringify(c.recipient)} for "${c.purpose}" in case ${c.case_reference ?? '(any)'}, not this one`);
      }
      consentId = c.id;
    } else {
      // FD 2008/977 Art. 13(2), for third states and international bodies only (private parties were refused above).
      if (item.source === 'search-answer') {
        throw new OpenPrumError('received-data-transfer-refused', `Data of an automated search may be supplied to other entities only with the prior authorisation of ${item.supplying_state} (Prüm Decision Art. 27)`);
      }
      const threat = text('threat', input.threat, 2000);
      if (threat.length < 10) throw new OpenPrumError('safeguards-invalid', 'threat must describe the immediate and serious threat and why consent could not be had in time (FD 2008/977 Art. 13(2))', { field: 'threat' });
    }

    const now = ctx.now();
    const id = randomUUID();
    const reference = newReference(ctx.country, 'OT', now);
    return ctx.db.transaction().execute(async (trx) => {
      const fresh = await trx.selectFrom('received_items').selectAll().where('id', '=', item.id).forUpdate().executeTakeFirstOrThrow();
      if (fresh.status === 'erased') throw new OpenPrumError('received-data-erased', `Received data ${fresh.reference} were erased`);
      const data = await loadData(trx, fresh);
      const conditions = conditionsOf(fresh);
      let notice: { messageId: string } | null = null;
      if (input.ground === 'immediate-threat') {
        // FD 2008/977 Art. 13(2): "the authority responsible for giving consent shall be informed without delay".
        const message: Omit<OnwardTransferNotice, 'sentAt'> = {
          protocol: PROTOCOL,
          type: 'onward-transfer-notice',
          messageId: randomUUID(),
          from: ctx.country,
          to: fresh.supplying_state,
          reference,
          about: aboutOf(fresh),
          recipient,
          purpose,
          threat: input.threat!.trim(),
          transferredAt: now.toISOString(),
        };
        await enqueue(trx, { state: fresh.supplying_state, type: 'onward-transfer-notice', relatedId: id, payload: message });
        notice = { messageId: message.messageId };
      }
      const rec = await writeRecord(trx, {
        action: 'received-data.transfer',
        direction: 'outgoing',
        searchingBody: recipient.country ? `${recipient.name} (${recipient.country})` : recipient.name,
        administeringBody: NCP(ctx.country),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason: input.ground === 'immediate-threat' ? input.threat!.trim() : necessity,
        purpose,
        legalBasis,
        query: { reference, itemId: fresh.id, source: fresh.source, receivedReference: fresh.reference, supplyingState: fresh.supplying_state, recipient, caseReference, ground: input.ground, consentId, necessity, adequacy: input.adequacy ?? null, privatePartyTask: input.privatePartyTask ?? null, purposeStatement },
        supplied: { data, conditions },
        outcome: 'done',
        requestId: notice?.messageId ?? null,
      });
      await trx
        .insertInto('safeguard_transfers')
        .values({
          id,
          item_id: fresh.id,
          transferred_at: now,
          recipient_type: recipient.type,
          recipient_name: recipient.name,
          recipient_country: recipient.country ?? null,
          purpose,
          case_reference: caseReference,
          ground: input.ground,
          consent_id: consentId,
          justification: input.ground === 'immediate-threat' ? `${necessity}\nThreat: ${input.threat!.trim()}` : necessity,
          purpose_statement: purposeStatement,
          officer_id: caller.officerId,
          officer_reference: caller.reference,
          notice_message_id: notice?.messageId ?? null,
          record_id: rec.id,
        })
        .execute();
      const view = itemView(fresh);
      return {
        transfer: { id, reference, transferredAt: now.toISOString(), recipient, purpose, caseReference, ground: input.ground, consentId, legalBasis, recordId: rec.id, supplierInformed: notice },
        package: { data, conditions, restrictions: view.restrictions, purposeStatement },
        item: view,
      };
    });
  });
  ctx.kick();
  return result;
}

/** The supplier learns of a transfer made without its consent (FD 2008/977 Art. 13(2)): recorded. */
export async function receiveTransferNotice(
  trx: Parameters<typeof writeRecord>[0],
  ctx: SafeguardsContext,
  from: string,
  m: OnwardTransferNotice,
  supplied: (about: OnwardTransferNotice['about']) => Promise<{ description: string } | undefined>,
): Promise<{ recordId: number; itemId: null; note: string }> {
  const known = await supplied(m.about);
  if (!known) throw new OpenPrumError('safeguards-data-unknown', `The node of ${ctx.country} supplied no data ${m.about.reference} to ${from}`);
  const rec = await writeRecord(trx, {
    action: 'onward-transfer.notice',
    direction: 'incoming',
    searchingBody: NCP(from),
    administeringBody: NCP(ctx.country),
    reason: m.threat,
    purpose: m.purpose,
    legalBasis: 'FD 2008/977 Art. 13(2)',
    query: { messageId: m.messageId, reference: m.reference, about: m.about, recipient: m.recipient, transferredAt: m.transferredAt },
    outcome: 'done',
    requestId: m.messageId,
  });
  return { recordId: rec.id, itemId: null, note: `recorded: ${known.description} transferred to ${m.recipient.name}` };
}
