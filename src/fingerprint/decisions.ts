/**
 * The examiner's decision on a candidate (Prüm Decision Art. 9(2)): the confirmation of a match of
 * dactyloscopic data is carried out by the requesting state, from the reference data supplied. The
 * officer who searched records, per candidate, 'confirmed' or 'rejected' with a note; each decision
 * is recorded (Art. 30) in the transaction that stores it, and is final (a second decision on the
 * same candidate is refused).
 *
 * Candidates come from this node's own file (a local search, fingerprint_searches, decisions kept in
 * fingerprint_decisions) or from another state's answer to a federated fingerprint search
 * (federation_searches of kind 'fingerprint'). A decision on a federated candidate is the
 * confirmation of that state's hit, kept with every other kind's in hit_confirmations
 * (src/followup), where a follow-up request for the person's data looks for it.
 */
import type { Kysely } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { hasRole, requireRole, type OfficerCaller } from '../identity/caller.ts';
import { requiredText } from '../util/validate.ts';
import type { ExchangeContext } from '../exchange/context.ts';
import { confirmHit } from '../followup/service.ts';
import { FINGERPRINT_DECISION_LEGAL_BASIS, FINGERPRINT_PURPOSE, type FingerprintCandidate } from './national-file.ts';

export type Decision = 'confirmed' | 'rejected';

export interface DecisionInput {
  readonly decision: Decision;
  readonly note?: string | undefined;
  /** For a federated search: the state whose candidate it is (needed when several states answered the same reference). */
  readonly state?: string | undefined;
}

export interface DecisionView {
  readonly decision: Decision;
  readonly note: string | null;
  readonly officerReference: string;
  readonly decidedAt: string;
  readonly recordId: number;
}

interface NodeLike {
  readonly db: Kysely<Schema>;
  readonly country: string;
  /** The running federation, for decisions on federated candidates. */
  readonly federation?: ExchangeContext | undefined;
}

type CandidateWithDecision = FingerprintCandidate & { readonly decision: DecisionView | null };

export interface LocalSearchView {
  readonly id: string;
  readonly scope: 'local';
  readonly createdAt: string;
  readonly officerReference: string;
  readonly recordId: number;
  readonly probe: { readonly ref: string; readonly kind: string; readonly fingers: unknown };
  readonly hit: boolean;
  readonly candidates: readonly CandidateWithDecision[];
}

export interface FederatedSearchFingerprintView {
  readonly id: string;
  readonly scope: 'federated';
  readonly reference: string;
  readonly createdAt: string;
  readonly officerReference: string;
  readonly states: ReadonlyArray<{
    readonly state: string;
    readonly status: string;
    readonly hit: boolean | null;
    readonly candidates: readonly CandidateWithDecision[];
  }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function decisionsOf(db: Kysely<Schema>, searchId: string): Promise<Map<string, DecisionView>> {
  const rows = await db.selectFrom('fingerprint_decisions').selectAll().where('search_id', '=', searchId).execute();
  return new Map(
    rows.map((r) => [`${r.state}|${r.ref}`, { decision: r.decision, note: r.note, officerReference: r.officer_reference, decidedAt: r.decided_at, recordId: r.record_id }]),
  );
}

function candidatesOf(result: unknown): FingerprintCandidate[] {
  const c = (result as { candidates?: unknown } | null)?.candidates;
  return Array.isArray(c) ? (c as FingerprintCandidate[]) : [];
}

/**
 * A fingerprint search with its candidates and the decisions on them: a local search, or the
 * fingerprint view of a federated one. The searching officer sees it; a supervisor may check it.
 */
export async function fingerprintSearchView(node: NodeLike, caller: OfficerCaller, id: string): Promise<LocalSearchView | FederatedSearchFingerprintView | undefined> {
  if (!UUID.test(id)) return undefined;
  const mine = (officerId: number) => officerId === caller.officerId || hasRole(caller, 'supervisor');
  const local = await node.db.selectFrom('fingerprint_searches').selectAll().where('id', '=', id).executeTakeFirst();
  if (local) {
    if (!mine(local.officer_id)) return undefined;
    const decisions = await decisionsOf(node.db, id);
    return {
      id,
      scope: 'local',
      createdAt: local.created_at,
      officerReference: local.officer_reference,
      recordId: local.record_id,
      probe: { ref: local.probe_ref, kind: local.probe_kind, fingers: local.probe },
      hit: local.hit,
      candidates: (local.candidates as FingerprintCandidate[]).map((c) => ({ ...c, decision: decisions.get(`${node.country}|${c.ref}`) ?? null })),
    };
  }
  const fed = await node.db.selectFrom('federation_searches').selectAll().where('id', '=', id).where('kind', '=', 'fingerprint').executeTakeFirst();
  if (!fed || !mine(fed.officer_id)) return undefined;
  const targets = await node.db.selectFrom('federation_targets').select(['state', 'status', 'hit', 'result']).where('search_id', '=', id).orderBy('state').execute();
  const confirmations = await node.db.selectFrom('hit_confirmations').selectAll().where('search_id', '=', id).execute();
  const decisions = new Map<string, DecisionView>(
    confirmations.map((c) => [`${c.state}|${c.requested_reference}`, { decision: c.verdict, note: c.note, officerReference: c.officer_reference, decidedAt: c.confirmed_at, recordId: c.record_id ?? 0 }]),
  );
  return {
    id,
    scope: 'federated',
    reference: fed.reference,
    createdAt: fed.created_at,
    officerReference: fed.officer_reference,
    states: targets.map((t) => ({
      state: t.state,
      status: t.status,
      hit: t.hit,
      candidates: candidatesOf(t.result).map((c) => ({ ...c, decision: decisions.get(`${t.state}|${c.ref}`) ?? null })),
    })),
  };
}

/**
 * Records the searching officer's decision on one candidate of a search (Art. 9(2)), with its
 * record, in one transaction.
 */
export async function recordDecision(node: NodeLike, caller: OfficerCaller, searchId: string, ref: string, input: DecisionInput, requestId?: string): Promise<DecisionView & { readonly searchId: string; readonly state: string; readonly ref: string }> {
  requireRole(caller, 'officer');
  if (input.decision !== 'confirmed' && input.decision !== 'rejected') {
    throw new OpenPrumError('fingerprint-search-invalid', 'decision is "confirmed" or "rejected"');
  }
  const note = input.note === undefined || input.note.trim() === '' ? null : requiredText('note', input.note, 2000, 'fingerprint-search-invalid');
  const notFound = () => new OpenPrumError('not-found', `No fingerprint search ${searchId} of yours`);
  if (!UUID.test(searchId)) throw notFound();
  let scope: 'local' | 'federated';
  let state: string;
  let candidate: FingerprintCandidate | undefined;
  let administeringBody: string;
  let searchReference: string;
  const local = await node.db.selectFrom('fingerprint_searches').selectAll().where('id', '=', searchId).executeTakeFirst();
  if (local) {
    scope = 'local';
    if (local.officer_id !== caller.officerId) throw new OpenPrumError('forbidden', `Search ${searchId} was made by officer ${local.officer_reference}; only the searching officer records decisions on its candidates`);
    if (input.state !== undefined && input.state !== node.country) throw new OpenPrumError('fingerprint-search-invalid', `Search ${searchId} searched this node's own file (${node.country}), not ${input.state}`);
    state = node.country;
    candidate = (local.candidates as FingerprintCandidate[]).find((c) => c.ref === ref);
    administeringBody = `${node.country} fingerprint file`;
    searchReference = searchId;
  } else {
    const fed = await node.db.selectFrom('federation_searches').selectAll().where('id', '=', searchId).where('kind', '=', 'fingerprint').executeTakeFirst();
    if (!fed) throw notFound();
    if (fed.officer_id !== caller.officerId) throw new OpenPrumError('forbidden', `Search ${searchId} was made by officer ${fed.officer_reference}; only the searching officer records decisions on its candidates`);
    scope = 'federated';
    const targets = await node.db.selectFrom('federation_targets').select(['state', 'status', 'result']).where('search_id', '=', searchId).execute();
    const having = targets.filter((t) => t.status === 'answered' && candidatesOf(t.result).some((c) => c.ref === ref) && (input.state === undefined || t.state === input.state));
    if (having.length > 1) throw new OpenPrumError('fingerprint-search-invalid', `Candidate ${ref} was answered by ${having.map((t) => t.state).join(' and ')}; say which with "state"`);
    const t = having[0];
    state = t?.state ?? input.state ?? '';
    candidate = t ? candidatesOf(t.result).find((c) => c.ref === ref) : undefined;
    administeringBody = `${state} NCP`;
    searchReference = fed.reference;
    if (candidate) {
      // The confirmation of another state's hit (src/followup): recorded there, where a follow-up
      // request for the person's data requires it.
      if (!node.federation) throw new OpenPrumError('federation-not-configured', 'The federation is not running on this node; start it to record decisions on other states\' candidates');
      const hit = await confirmHit(node.federation, caller, searchId, { state, requestedReference: ref, verdict: input.decision, note: note ?? `Examiner's decision: ${input.decision}` });
      const c = hit.confirmation!;
      return { searchId, state, ref, decision: c.verdict, note: c.note, officerReference: c.officerReference, decidedAt: c.confirmedAt, recordId: c.recordId ?? 0 };
    }
  }
  if (!candidate) throw new OpenPrumError('not-found', `Search ${searchId} has no candidate ${ref}${scope === 'federated' && input.state ? ` from ${input.state}` : ''}`);
  try {
    return await node.db.transaction().execute(async (trx) => {
      const rec = await writeRecord(trx, {
        action: 'fingerprint.decision',
        direction: 'local',
        searchingBody: `${node.country} NCP`,
        administeringBody,
        officerId: caller.officerId,
        officerReference: caller.reference,
        purpose: FINGERPRINT_PURPOSE,
        legalBasis: FINGERPRINT_DECISION_LEGAL_BASIS,
        query: { searchId, search: searchReference, scope, state, ref },
        supplied: { decision: input.decision, note },
        outcome: 'done',
        requestId: requestId ?? null,
      });
      const row = await trx
        .insertInto('fingerprint_decisions')
        .values({ search_id: searchId, state, ref, decision: input.decision, note, officer_id: caller.officerId, officer_reference: caller.reference, record_id: rec.id })
        .returning(['decided_at'])
        .executeTakeFirstOrThrow();
      return { searchId, state, ref, decision: input.decision, note, officerReference: caller.reference, decidedAt: row.decided_at, recordId: rec.id };
    });
  } catch (e) {
    if ((e as { code?: string }).code === '23505') {
      throw new OpenPrumError('conflict', `Candidate ${ref} of search ${searchId} has a decision already; decisions are final`, { searchId, ref, state });
    }
    throw e;
  }
}
