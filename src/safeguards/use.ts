/**
 * Purpose binding (FD 2008/977 Arts. 3, 11; Prüm Decision Arts. 14(2), 16(4), 26, 28(3)): the one way
 * an officer uses personal data this node received. `useReceivedData` returns the data only when the
 * use is lawful, always with the supplier's conditions, restrictions and flags, and records every use
 * and every refusal.
 *
 * Grounds:
 *
 * | ground | allowed when | law |
 * | --- | --- | --- |
 * | `same-purpose` | the case the data were supplied for (the follow-up's case; for a search answer the case its searching officer names at first use) | FD 2008/977 Art. 3(1); Prüm Decision Art. 26 |
 * | `other-offences` | follow-up data, with a justification | FD 2008/977 Art. 11(a) |
 * | `related-proceedings` | follow-up data, with a justification | FD 2008/977 Art. 11(b) |
 * | `public-security-threat` | follow-up data, with a justification naming the immediate and serious threat | FD 2008/977 Art. 11(c) |
 * | `consent` | a consent on record for this purpose and case: of the supplying state (asked over the federation), or of the data subject (follow-up data) | FD 2008/977 Art. 11(d); Prüm Decision Art. 26(1) |
 * | `blocked-purpose` | blocked data, for the purpose that prevented their erasure, and nothing else | Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3) |
 *
 * On top of the ground, always: the supplier's `use-only-in-case` condition (only its consent can name
 * another case; Prüm Decision Art. 16(4)); data supplied for a major event only for that event's
 * purposes (Prüm Decision Art. 14(2)); time limits due are applied first (the data may be gone).
 *
 * Data of an automated search (Prüm Decision Arts. 3, 9, 12) fall under Prüm Decision Art. 26, which
 * takes precedence over FD 2008/977 Art. 11 (FD 2008/977 Art. 28): another purpose only with the prior
 * authorisation of the state administering the file, so grounds (a)-(c) and a data subject's consent
 * do not apply to them.
 */
import type { Kysely, Selectable } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { summariseConditions } from '../followup/conditions.ts';
import { hasRole, requireRole, type OfficerCaller } from '../identity/caller.ts';
import { NCP, type SafeguardsContext } from './context.ts';
import { optionalText, recordingRefusals, samePurpose, text } from './input.ts';
import { conditionsOf, enforceDue, itemView, loadData, requireItem, UUID, type ItemRow, type ReceivedItemView } from './items.ts';
import type { SafeguardConsentsTable } from './schema.ts';

export const GROUNDS = ['same-purpose', 'other-offences', 'related-proceedings', 'public-security-threat', 'consent', 'blocked-purpose'] as const;
export type Ground = (typeof GROUNDS)[number];

export const GROUND_BASIS: Record<Ground, string> = {
  'same-purpose': 'FD 2008/977 Art. 3(1); Prüm Decision Art. 26',
  'other-offences': 'FD 2008/977 Art. 11(a)',
  'related-proceedings': 'FD 2008/977 Art. 11(b)',
  'public-security-threat': 'FD 2008/977 Art. 11(c)',
  'consent': 'FD 2008/977 Art. 11(d); Prüm Decision Art. 26(1)',
  'blocked-purpose': 'Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3)',
};

export interface UseInput {
  readonly purpose: string;
  readonly caseReference: string;
  readonly ground: Ground;
  /** (a)-(c): the other offence, the related proceedings, the threat; why the use is necessary and proportionate (FD 2008/977 Art. 3(2)). */
  readonly justification?: string | undefined;
  /** `consent`: the consent on record. */
  readonly consentId?: string | undefined;
}

export interface UseResult extends ReceivedItemView {
  /** The data, returned because this use is lawful. */
  readonly data: unknown;
  readonly use: {
    readonly id: number;
    readonly ground: Ground;
    readonly legalBasis: string;
    readonly purpose: string;
    readonly caseReference: string;
    readonly consentId: string | null;
    readonly recordId: number;
    readonly usedAt: string;
  };
}

type Consent = Selectable<SafeguardConsentsTable>;

async function consentFor(db: Kysely<Schema>, item: ItemRow, id: string | undefined): Promise<Consent | undefined> {
  if (!id || !UUID.test(id)) return undefined;
  return db.selectFrom('safeguard_consents').selectAll().where('id', '=', id).where('item_id', '=', item.id).where('direction', '=', 'outgoing').executeTakeFirst();
}

const askHint = (item: ItemRow) =>
  `ask ${item.supplying_state} (POST /v1/received-data/${item.id}/consents)${item.source === 'follow-up' ? ' or record the data subject\'s consent (POST /v1/received-data/' + item.id + '/subject-consents)' : ''}`;

/**
 * Decides whether the use is lawful; throws the refusal otherwise. Returns the consent it rests on and
 * whether the use names the item's case for the first time.
 */
async function checkUse(db: Kysely<Schema>, caller: OfficerCaller, item: ItemRow, input: { purpose: string; caseReference: string; ground: Ground; justification: string | null; consentId: string | undefined }): Promise<{ consent: Consent | undefined; setsOriginCase: boolean }> {
  if (item.status === 'erased') {
    throw new OpenPrumError('received-data-erased', `Received data ${item.reference} of ${item.supplying_state} were erased on ${item.erased_at?.slice(0, 10) ?? '?'} (${item.erasure_reason ?? ''})`);
  }
  if (item.status === 'blocked') {
    if (input.ground !== 'blocked-purpose' || !samePurpose(input.purpose, item.blocked_purpose)) {
      throw new OpenPrumError('received-data-blocked', `Received data ${item.reference} are blocked: they may be used only for "${item.blocked_purpose}" (ground blocked-purpose), for nothing else (Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3))`, { blockedPurpose: item.blocked_purpose });
    }
    return { consent: undefined, setsOriginCase: false };
  }
  if (input.ground === 'blocked-purpose') {
    throw new OpenPrumError('received-data-purpose-refused', `Received data ${item.reference} are not blocked; give the ground of this use (${GROUNDS.filter((g) => g !== 'blocked-purpose').join(', ')})`);
  }
  const s = summariseConditions(conditionsOf(item));
  const consent = input.ground === 'consent' ? await consentFor(db, item, input.consentId) : undefined;
  const supplierConsent = consent?.source === 'supplying-state' && consent.status === 'granted';

  // Prüm Decision Art. 14(2): processed only for the purposes of Art. 14(1) and the event.
  if (item.major_event && input.ground !== 'same-purpose') {
    throw new OpenPrumError('received-data-purpose-refused', `Received data ${item.reference} were supplied for the major event "${item.major_event}": they may be processed only for that event's purposes (Prüm Decision Art. 14(2)), not on the ground ${input.ground}`);
  }
  // Prüm Decision Art. 16(4), FD 2008/977 Art. 12: the supplier's condition binds; only its own consent names another case.
  if (s.onlyInCases.length > 0 && !s.onlyInCases.includes(input.caseReference) && !(supplierConsent && consent?.case_reference === input.caseReference)) {
    throw new OpenPrumError('received-data-case-restricted', `${item.supplying_state} allowed received data ${item.reference} only in case ${s.onlyInCases.join(' or ')}, not in ${input.caseReference}; for another case ask ${item.supplying_state}'s consent (POST /v1/received-data/${item.id}/consents)`, { allowedCases: s.onlyInCases });
  }

  switch (input.ground) {
    case 'same-purpose': {
      if (item.origin_case) {
        if (input.caseReference !== item.origin_case) {
          throw new OpenPrumError('received-data-purpose-refused', `Received data ${item.reference} were supplied for case ${item.origin_case} ("${item.purpose}"); case ${input.caseReference} is another purpose: give its ground (${item.source === 'follow-up' ? 'other-offences, related-proceedings, public-security-threat or consent' : 'consent of the supplying state, Prüm Decision Art. 26(1)'})`, { originCase: item.origin_case });
        }
        return { consent: undefined, setsOriginCase: false };
      }
      // A search names no case: the procedure it was made for is its officer's, who names the case once.
      if (item.requested_by_id !== caller.officerId) {
        throw new OpenPrumError('received-data-purpose-refused', `Received data ${item.reference} were supplied for the procedure of the search by ${item.requested_by_reference ?? 'another officer'} (Prüm Decision Art. 26(3)); that officer names its case first, or give another ground`);
      }
      return { consent: undefined, setsOriginCase: true };
    }
    case 'other-offences':
    case 'related-proceedings':
    case 'public-security-threat': {
      if (item.source === 'search-answer') {
        throw new OpenPrumError('received-data-consent-required', `Received data ${item.reference} came in an automated search's answer: Prüm Decision Art. 26(1) allows another purpose only with the prior authorisation of ${item.supplying_state} (it takes precedence over FD 2008/977 Art. 11, see its Art. 28); ${askHint(item)}`);
      }
      if (!input.justification || input.justification.length < 10) {
        throw new OpenPrumError('safeguards-invalid', `The ground ${input.ground} (${GROUND_BASIS[input.ground]}) needs a justification: ${input.ground === 'other-offences' ? 'the other offence' : input.ground === 'related-proceedings' ? 'the proceedings and how they relate' : 'the immediate and serious threat'}, and why the use is necessary and proportionate (FD 2008/977 Art. 3(2))`, { field: 'justification' });
      }
      return { consent: undefined, setsOriginCase: false };
    }
    case 'consent': {
      if (!consent) {
        throw new OpenPrumError('received-data-consent-required', `No consent ${input.consentId ?? '(none given)'} on record for received data ${item.reference}; ${askHint(item)}`);
      }
      if (consent.status !== 'granted') {
        throw new OpenPrumError('received-data-consent-required', `Consent ${consent.reference} is ${consent.status}, not granted; a use needs the consent first (FD 2008/977 Art. 11(d))`, { consentStatus: consent.status });
      }
      if (consent.scope !== 'further-processing') throw new OpenPrumError('received-data-consent-required', `Consent ${consent.reference} is for an onward transfer, not for a use here`);
      if (consent.source === 'data-subject' && item.source === 'search-answer') {
        throw new OpenPrumError('received-data-consent-required', `Data of an automated search need ${item.supplying_state}'s authorisation (Prüm Decision Art. 26(1)); the data subject's consent does not suffice`);
      }
      if (!samePurpose(consent.purpose, input.purpose) || (consent.case_reference && consent.case_reference !== input.caseReference)) {
        throw new OpenPrumError('received-data-consent-required', `Consent ${consent.reference} covers "${consent.purpose}" in case ${consent.case_reference ?? '(any)'}, not "${input.purpose}" in case ${input.caseReference}`);
      }
      return { consent, setsOriginCase: false };
    }
    default:
      throw new OpenPrumError('safeguards-invalid', `ground must be one of ${GROUNDS.join(', ')}, not ${JSON.stringify(input.ground)}`, { field: 'ground' });
  }
}

/**
 * The one way an officer uses personal data this node received: returns the data with their
 * conditions when the use is lawful, refuses otherwise; records both.
 */
export async function useReceivedData(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string, input: UseInput): Promise<UseResult> {
  requireRole(caller, 'officer');
  const pre = await ctx.db.selectFrom('received_items').select(['supplying_state', 'reference']).where('id', '=', UUID.test(itemId) ? itemId : '00000000-0000-0000-0000-000000000000').executeTakeFirst();
  const about = {
    action: 'received-data.use',
    supplier: pre?.supplying_state,
    purpose: typeof input.purpose === 'string' ? input.purpose.slice(0, 500) : undefined,
    query: { itemId, reference: pre?.reference ?? null, ground: input.ground ?? null, caseReference: input.caseReference ?? null, consentId: input.consentId ?? null },
  };
  return recordingRefusals(ctx, caller, about, async () => {
    const purpose = text('purpose', input.purpose, 500);
    const caseReference = text('caseReference', input.caseReference, 100);
    const justification = optionalText('justification', input.justification, 2000);
    if (!(GROUNDS as readonly string[]).includes(input.ground)) throw new OpenPrumError('safeguards-invalid', `ground must be one of ${GROUNDS.join(', ')}, not ${JSON.stringify(input.ground)}`, { field: 'ground' });
    // Time limits first: data past their time are erased (or blocked) before anyone reads them.
    const item = await enforceDue(ctx, await requireItem(ctx.db, itemId));

    return ctx.db.transaction().execute(async (trx) => {
      // Checked under the item's lock: a deadline or a correction cannot slip in between.
      const fresh = await trx.selectFrom('received_items').selectAll().where('id', '=', item.id).forUpdate().executeTakeFirstOrThrow();
      const { consent, setsOriginCase } = await checkUse(trx, caller, fresh, { purpose, caseReference, ground: input.ground, justification, consentId: input.consentId });
      if (setsOriginCase) await trx.updateTable('received_items').set({ origin_case: caseReference }).where('id', '=', fresh.id).where('origin_case', 'is', null).execute();
      const data = await loadData(trx, fresh);
      const now = ctx.now();
      const legalBasis = GROUND_BASIS[input.ground];
      const rec = await writeRecord(trx, {
        action: 'received-data.use',
        direction: 'local',
        searchingBody: NCP(ctx.country),
        administeringBody: NCP(fresh.supplying_state),
        officerId: caller.officerId,
        officerReference: caller.reference,
        reason: justification ?? purpose,
        purpose,
        legalBasis,
        // The record of the receipt holds the data; this one says who used them, for what, on what ground.
        query: { itemId: fresh.id, source: fresh.source, reference: fresh.reference, caseReference, ground: input.ground, consentId: consent?.id ?? null, status: fresh.status },
        supplied: { conditions: conditionsOf(fresh), contested: fresh.contested_at !== null },
        outcome: 'done',
      });
      const use = await trx
        .insertInto('received_data_uses')
        .values({ item_id: fresh.id, used_at: now, officer_id: caller.officerId, officer_reference: caller.reference, purpose, case_reference: caseReference, ground: input.ground, justification, consent_id: consent?.id ?? null, record_id: rec.id })
        .returning('id')
        .executeTakeFirstOrThrow();
      const after = setsOriginCase ? { ...fresh, origin_case: caseReference } : fresh;
      return {
        ...itemView(after),
        data,
        use: { id: use.id, ground: input.ground, legalBasis, purpose, caseReference, consentId: consent?.id ?? null, recordId: rec.id, usedAt: now.toISOString() },
      };
    });
  });
}

/** One item's view (no data), for officers and supervisors. */
export async function getReceivedItem(ctx: SafeguardsContext, caller: OfficerCaller, itemId: string): Promise<ReceivedItemView & { uses: unknown[]; consents: unknown[]; transfers: unknown[] }> {
  requireRole(caller, 'officer', 'supervisor');
  const item = await enforceDue(ctx, await requireItem(ctx.db, itemId));
  const uses = await ctx.db.selectFrom('received_data_uses').selectAll().where('item_id', '=', item.id).orderBy('id').execute();
  const consents = await ctx.db.selectFrom('safeguard_consents').select(['id', 'source', 'scope', 'status', 'purpose', 'case_reference', 'reference', 'requested_at', 'decided_at', 'decision_reason']).where('item_id', '=', item.id).orderBy('created_at').execute();
  const transfers = await ctx.db.selectFrom('safeguard_transfers').select(['id', 'transferred_at', 'recipient_type', 'recipient_name', 'recipient_country', 'purpose', 'case_reference', 'ground', 'officer_reference']).where('item_id', '=', item.id).orderBy('transferred_at').execute();
  return {
    ...itemView(item),
    uses: uses.map((u) => ({ id: u.id, usedAt: u.used_at, officer: u.officer_reference, purpose: u.purpose, caseReference: u.case_reference, ground: u.ground, consentId: u.consent_id, recordId: u.record_id })),
    consents: consents.map((c) => ({ id: c.id, source: c.source, scope: c.scope, status: c.status, purpose: c.purpose, caseReference: c.case_reference, reference: c.reference, requestedAt: c.requested_at, decidedAt: c.decided_at, reason: c.decision_reason })),
    transfers: transfers.map((t) => ({ id: t.id, at: t.transferred_at, recipient: { type: t.recipient_type, name: t.recipient_name, country: t.recipient_country }, purpose: t.purpose, caseReference: t.case_reference, ground: t.ground, officer: t.officer_reference })),
  };
}

export function mayReadItems(caller: OfficerCaller): void {
  if (!hasRole(caller, 'officer') && !hasRole(caller, 'supervisor')) requireRole(caller, 'officer', 'supervisor');
}
