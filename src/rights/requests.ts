/**
 * Data subjects' requests: access, rectification, erasure and blocking (Prüm Decision Art. 31; FD
 * 2008/977 Arts. 17-18; Directive (EU) 2016/680 Arts. 14-17), from registration to the written
 * answer, each step recorded.
 *
 *  - Registered by an officer of the contact point, an approver, or the supervisory authority when the
 *    person asked it (indirect access, Directive (EU) 2016/680 Art. 17), after proof of identity was
 *    produced (Art. 31(1)): the identifiers to match (subject.ts), what the person asks, where the
 *    answer goes. Due `answerDays` after receipt (settings.ts); open requests past it are overdue.
 *  - The approver (who decides supplies of personal data under national law) compiles what is held
 *    (holdings.ts) and decides: granted, partly granted, refused. Access: the items disclosed, with
 *    origin, recipients, purpose and legal basis; items withheld only on a ground of FD 2008/977 Art.
 *    17(2)(a)-(e). Rectification, erasure, blocking: carried out on the items named, in the decision's
 *    transaction (blocks.ts). A refusal or restriction is written with its factual or legal reasons,
 *    which may be withheld only on such a ground (Art. 17(3)), and always says where to appeal
 *    (Art. 17(3), 18(1): the supervisory authority, a judicial authority or a court).
 *  - The written answer is kept as given; the record of the decision keeps which items were
 *    disclosed and the SHA-256 of the answer, not a second copy of the person's data.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { canonicalJson } from '../audit/merkle/index.ts';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { OfficerCaller } from '../identity/caller.ts';
import { blockIn, endBlockIn, eraseItemIn, rectifyVehicleIn, type Actor, type HolderChanges } from './blocks.ts';
import { compileHoldings, type HeldItem, type Holdings, type ItemAction } from './holdings.ts';
import type { SubjectRequestKind, SubjectRequestStatus, SubjectRequestsTable } from './schema.ts';
import type { LinkedSafeguards, SuppliedSubject } from './linked.ts';
import type { RightsSettings, SupervisoryAuthority } from './settings.ts';
import { checkSubject, subjectJson, type Subject } from './subject.ts';

type Trx = Transaction<Schema>;

export const REQUEST_KINDS: readonly SubjectRequestKind[] = ['access', 'rectification', 'erasure', 'blocking'];

/** FD 2008/977 Art. 17(2)(a)-(e) (Directive (EU) 2016/680 Art. 15(1)(a)-(e)): the grounds to restrict access. */
export const RESTRICTION_GROUNDS = {
  'inquiries': 'to avoid obstructing official or legal inquiries, investigations or procedures (FD 2008/977 Art. 17(2)(a))',
  'prevention-of-offences': 'to avoid prejudicing the prevention, detection, investigation and prosecution of criminal offences or the execution of criminal penalties (Art. 17(2)(b))',
  'public-security': 'to protect public security (Art. 17(2)(c))',
  'national-security': 'to protect national security (Art. 17(2)(d))',
  'rights-of-others': 'to protect the data subject or the rights and freedoms of others (Art. 17(2)(e))',
} as const;
export type RestrictionGround = keyof typeof RESTRICTION_GROUNDS;

export const RIGHTS_LEGAL_BASIS: Record<SubjectRequestKind, string> = {
  access: 'Prüm Decision Art. 31(1); FD 2008/977 Art. 17 (Directive (EU) 2016/680 Arts. 14, 15)',
  rectification: 'Prüm Decision Art. 31(1); FD 2008/977 Arts. 4(1), 18 (Directive (EU) 2016/680 Art. 16(1))',
  erasure: 'Prüm Decision Art. 31(1); FD 2008/977 Arts. 4(2), 18 (Directive (EU) 2016/680 Art. 16(2))',
  blocking: 'Prüm Decision Art. 28(3); FD 2008/977 Arts. 4(3), 18 (Directive (EU) 2016/680 Art. 16(3))',
};

export interface RegisterInput {
  readonly kind: SubjectRequestKind;
  readonly channel?: 'direct' | 'supervisory-authority' | undefined;
  readonly subject: unknown;
  readonly identityChecked: string;
  readonly details: string;
  readonly contact: string;
  readonly receivedAt?: string | undefined;
}

export interface SubjectRequestView {
  readonly id: string;
  readonly reference: string;
  readonly kind: SubjectRequestKind;
  readonly channel: 'direct' | 'supervisory-authority';
  readonly subject: Record<string, unknown>;
  readonly identityChecked: string;
  readonly details: string;
  readonly contact: string;
  readonly receivedAt: string;
  readonly dueAt: string;
  /** Open and past its due time (by the node's clock). */
  readonly overdue: boolean;
  readonly status: SubjectRequestStatus;
  readonly registeredBy: string;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  /** Decided after its due time. */
  readonly late: boolean;
  readonly decision: Record<string, unknown> | null;
  readonly answer: Record<string, unknown> | null;
}

function view(r: Selectable<SubjectRequestsTable>, now: Date): SubjectRequestView {
  const due = Date.parse(r.due_at);
  return {
    id: r.id,
    reference: r.reference,
    kind: r.kind,
    channel: r.channel,
    subject: r.subject,
    identityChecked: r.identity_checked,
    details: r.details,
    contact: r.contact,
    receivedAt: r.received_at,
    dueAt: r.due_at,
    overdue: r.status === 'open' && now.getTime() > due,
    status: r.status,
    registeredBy: r.registered_by_reference,
    decidedAt: r.decided_at,
    decidedBy: r.decided_by_reference,
    late: r.decided_at !== null && Date.parse(r.decided_at) > due,
    decision: r.decision,
    answer: r.answer,
  };
}

function text(field: string, v: string | undefined | null, max: number): string {
  const t = (v ?? '').trim();
  if (t.length === 0) throw new OpenPrumError('subject-request-invalid', `${field} must not be empty: it is recorded`, { field });
  if (t.length > max) throw new OpenPrumError('subject-request-invalid', `${field} is longer than ${max} characters`, { field });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(t)) throw new OpenPrumError('subject-request-invalid', `${field} must not contain control characters`, { field });
  return t;
}

const actor = (c: OfficerCaller): Actor => ({ officerId: c.officerId, reference: c.reference });

export interface RightsContext {
  readonly db: Kysely<Schema>;
  readonly country: string;
  readonly settings: RightsSettings;
  readonly now?: () => Date;
  /** src/safeguards: received data, and the notification of recipients (linked.ts). */
  readonly linked?: LinkedSafeguards | undefined;
}

const nowOf = (ctx: RightsContext) => ctx.now?.() ?? new Date();

/** Registers a request, with its due time, and records it (the identifiers given are processing too). */
export async function registerRequest(ctx: RightsContext, caller: OfficerCaller, input: RegisterInput, requestId?: string): Promise<SubjectRequestView> {
  if (!REQUEST_KINDS.includes(input.kind)) throw new OpenPrumError('subject-request-invalid', `kind must be one of ${REQUEST_KINDS.join(', ')}`, { field: 'kind' });
  let subject: Subject;
  try {
    subject = checkSubject(input.subject);
  } catch (e) {
    if (e instanceof OpenPrumError && e.code === 'input-invalid') throw new OpenPrumError('subject-request-invalid', e.message, e.details);
    throw e;
  }
  const identityChecked = text('identityChecked', input.identityChecked, 500);
  const details = text('details', input.details, 4000);
  const contact = text('contact', input.contact, 500);
  const now = nowOf(ctx);
  let received = now;
  if (input.receivedAt !== undefined) {
    received = new Date(input.receivedAt);
    if (Number.isNaN(received.getTime())) throw new OpenPrumError('subject-request-invalid', `receivedAt ${JSON.stringify(input.receivedAt)} is not a date and time`, { field: 'receivedAt' });
    if (received.getTime() > now.getTime() + 60_000) throw new OpenPrumError('subject-request-invalid', `receivedAt ${input.receivedAt} is in the future`, { field: 'receivedAt' });
    if (received.getTime() < now.getTime() - 366 * 86_400_000) throw new OpenPrumError('subject-request-invalid', `receivedAt ${input.receivedAt} is more than a year ago`, { field: 'receivedAt' });
  }
  // The statutory period runs from receipt (settings.ts: national law; default 30 days).
  const due = new Date(received.getTime() + ctx.settings.answerDays * 86_400_000);
  const id = randomUUID();
  const reference = `${ctx.country}-DSR-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex').toUpperCase()}`;
  const channel = input.channel ?? 'direct';
  const row = await ctx.db.transaction().execute(async (trx) => {
    const rec = await writeRecord(trx, {
      action: 'subject-request.register',
      direction: 'local',
      searchingBody: `${ctx.country} NCP`,
      administeringBody: `${ctx.country} NCP`,
      officerId: caller.officerId,
      officerReference: caller.reference,
      reason: `${input.kind} request of a data subject${channel === 'supervisory-authority' ? ', through the supervisory authority' : ''}`,
      purpose: 'data subject rights',
      legalBasis: RIGHTS_LEGAL_BASIS[input.kind],
      query: { reference, kind: input.kind, channel, subject: subjectJson(subject), receivedAt: received.toISOString(), dueAt: due.toISOString() },
      outcome: 'done',
      requestId: requestId ?? null,
    });
    return trx
      .insertInto('subject_requests')
      .values({
        id,
        reference,
        kind: input.kind,
        channel,
        subject: JSON.stringify(subjectJson(subject)),
        identity_checked: identityChecked,
        details,
        contact,
        received_at: received.toISOString(),
        due_at: due.toISOString(),
        registered_by_id: caller.officerId,
        registered_by_reference: caller.reference,
        register_record_id: rec.id,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
  return view(row, now);
}

export interface RequestFilter {
  readonly status?: SubjectRequestStatus | undefined;
  readonly overdue?: boolean | undefined;
  readonly limit?: number | undefined;
}

/** Requests, the earliest due first for open ones; `overdue` keeps open requests past their due time. */
export async function listRequests(ctx: RightsContext, filter: RequestFilter = {}): Promise<SubjectRequestView[]> {
  const now = nowOf(ctx);
  let q = ctx.db.selectFrom('subject_requests').selectAll();
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.overdue === true) q = q.where('status', '=', 'open').where('due_at', '<', now.toISOString());
  if (filter.overdue === false) q = q.where((eb) => eb.or([eb('status', '<>', 'open'), eb('due_at', '>=', now.toISOString())]));
  const rows = await q.orderBy('due_at').orderBy('id').limit(Math.min(filter.limit ?? 100, 1000)).execute();
  return rows.map((r) => view(r, now));
}

async function row(db: Kysely<Schema> | Trx, id: string, lock = false): Promise<Selectable<SubjectRequestsTable>> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new OpenPrumError('subject-request-unknown', `No data subject request ${id}`);
  let q = db.selectFrom('subject_requests').selectAll().where('id', '=', id);
  if (lock) q = q.forUpdate();
  const r = await q.executeTakeFirst();
  if (!r) throw new OpenPrumError('subject-request-unknown', `No data subject request ${id}`);
  return r;
}

export async function getRequest(ctx: RightsContext, id: string): Promise<SubjectRequestView> {
  return view(await row(ctx.db, id), nowOf(ctx));
}

/**
 * What is held about the request's subject, for the person deciding it. Compiling personal data is
 * processing: recorded, with the number of items and records found.
 */
export async function compileForRequest(ctx: RightsContext, caller: OfficerCaller, id: string, requestId?: string): Promise<{ request: SubjectRequestView; holdings: Holdings }> {
  return ctx.db.transaction().execute(async (trx) => {
    const r = await row(trx, id);
    const holdings = await compileHoldings(trx, ctx.country, checkSubject(r.subject));
    await writeRecord(trx, {
      action: 'subject-request.compile',
      direction: 'local',
      searchingBody: `${ctx.country} NCP`,
      administeringBody: `${ctx.country} NCP`,
      officerId: caller.officerId,
      officerReference: caller.reference,
      reason: `Compiling what is held for ${r.kind} request ${r.reference}`,
      purpose: 'data subject rights',
      legalBasis: RIGHTS_LEGAL_BASIS[r.kind],
      query: { reference: r.reference },
      supplied: { items: holdings.items.map((i) => i.id), records: holdings.recordsTotal },
      outcome: 'done',
      requestId: requestId ?? null,
    });
    return { request: view(r, nowOf(ctx)), holdings };
  });
}

export interface DecisionAction {
  readonly item: string;
  readonly action: ItemAction;
  /** rectify: the corrected values (vehicle holder: surname, firstNames, birthDate, address; or name, address). */
  readonly changes?: HolderChanges | undefined;
  /** block: the purpose that prevents erasure and for which alone the data may still be used. */
  readonly allowedPurpose?: string | undefined;
}

export interface DecisionInput {
  readonly outcome: 'granted' | 'partly-granted' | 'refused';
  /** The national provision applied (recorded and written in the answer). */
  readonly legalBasis: string;
  /** Access, partly granted: the items not disclosed. */
  readonly withhold?: readonly string[] | undefined;
  /** Rectification, erasure, blocking: what is carried out. */
  readonly actions?: readonly DecisionAction[] | undefined;
  /** A ground of FD 2008/977 Art. 17(2) for a restriction or refusal. */
  readonly restriction?: RestrictionGround | undefined;
  /** The factual or legal reasons for what is refused or restricted. */
  readonly reasons?: string | undefined;
  /** Art. 17(3): the reasons are not communicated to the person (only with a restriction ground). */
  readonly withholdReasons?: boolean | undefined;
  /** Internal note (recorded, not in the answer). */
  readonly note?: string | undefined;
}

export interface ActionResult {
  readonly item: string;
  readonly action: ItemAction;
  readonly description: string;
  /** Carried out here, in the decision's transaction. */
  readonly done: boolean;
  readonly recordId: number | null;
  readonly block?: string;
  /** States the data had been supplied to, to be told of the correction (Prüm Decision Art. 28(1)). */
  readonly notify: readonly string[];
  readonly note?: string;
}

function appeal(settings: RightsSettings): { text: string; supervisoryAuthority: SupervisoryAuthority; judicialRemedy: string } {
  const a = settings.supervisoryAuthority;
  const where = [a.name, a.address, a.url, a.email].filter((x): x is string => !!x).join(', ');
  return {
    text:
      `If you consider that your rights have not been respected, you may lodge a complaint with the supervisory authority (${where}) ` +
      `or seek a judicial remedy before ${settings.judicialRemedy} (Prüm Decision Art. 31(1); FD 2008/977 Arts. 17(3), 18(1), 20; Directive (EU) 2016/680 Arts. 17, 52-54).`,
    supervisoryAuthority: a,
    judicialRemedy: settings.judicialRemedy,
  };
}

/** An item as disclosed to the person: what, from where, to whom, what for, on what basis. */
function disclosed(i: HeldItem) {
  return {
    item: i.id,
    description: i.description,
    data: i.data,
    origin: i.origin,
    recipients: i.recipients.map((r) => ({ recipient: r.body, at: r.at, purpose: r.purpose })),
    purpose: i.purpose,
    legalBasis: i.legalBasis,
    ...(i.conditions ? { conditions: i.conditions } : {}),
    ...(i.status === 'blocked' ? { blocked: true } : {}),
  };
}

function checkDecision(kind: SubjectRequestKind, d: DecisionInput, holdings: Holdings): void {
  const bad = (msg: string, field: string) => {
    throw new OpenPrumError('subject-request-invalid', msg, { field });
  };
  const ids = new Set(holdings.items.map((i) => i.id));
  if (d.withholdReasons && !d.restriction) bad('withholdReasons needs a restriction ground: the reasons may be omitted only where a ground of FD 2008/977 Art. 17(2)(a)-(e) exists (Art. 17(3))', 'withholdReasons');
  if (d.outcome !== 'granted' && !d.restriction && !d.reasons) bad(`A ${d.outcome} decision gives its factual or legal reasons (FD 2008/977 Arts. 17(3), 18(1)), or a restriction ground to withhold them`, 'reasons');
  if (d.outcome !== 'granted' && d.restriction && !d.withholdReasons && !d.reasons) bad('Give the reasons, or set withholdReasons (FD 2008/977 Art. 17(3))', 'reasons');
  if (d.outcome === 'granted' && (d.restriction || d.withholdReasons)) bad('A granted request has no restriction', 'restriction');
  if (kind === 'access') {
    if (d.actions?.length) bad('An access request discloses data; actions are for rectification, erasure and blocking', 'actions');
    const withheld = d.withhold ?? [];
    for (const w of withheld) if (!ids.has(w)) throw new OpenPrumError('data-item-unknown', `withhold names ${w}, which is not among the items held about the person (${[...ids].join(', ') || 'none'})`, { item: w });
    if (d.outcome === 'granted' && withheld.length > 0) bad('A granted access request withholds nothing; use partly-granted', 'withhold');
    if (d.outcome === 'partly-granted' && (withheld.length === 0 || !d.restriction)) bad('Partly granted access withholds at least one item, on a restriction ground of FD 2008/977 Art. 17(2)', 'withhold');
    if (d.outcome === 'refused' && !d.restriction) bad('Access is refused only on a ground of FD 2008/977 Art. 17(2)(a)-(e) (restriction)', 'restriction');
    return;
  }
  const actions = d.actions ?? [];
  if (d.withhold?.length) bad('withhold is for access requests', 'withhold');
  if (d.outcome !== 'refused' && actions.length === 0) bad(`A ${d.outcome} ${kind} request names the actions carried out`, 'actions');
  if (d.outcome === 'refused' && actions.length > 0) bad('A refused request carries out no action', 'actions');
  const seen = new Set<string>();
  for (const [n, a] of actions.entries()) {
    const item = holdings.items.find((i) => i.id === a.item);
    if (!item) throw new OpenPrumError('data-item-unknown', `actions[${n}].item ${a.item} is not among the items held about the person (${[...ids].join(', ') || 'none'})`, { item: a.item });
    if (seen.has(a.item)) bad(`actions[${n}]: item ${a.item} is named twice`, `actions.${n}.item`);
    seen.add(a.item);
    const expected: ItemAction = kind === 'rectification' ? 'rectify' : kind === 'erasure' ? 'erase' : 'block';
    // Blocking instead of erasure where erasure would harm the person (Art. 28(3)) fits an erasure request too.
    if (a.action !== expected && !(kind === 'erasure' && a.action === 'block')) bad(`actions[${n}].action ${a.action} does not answer a ${kind} request`, `actions.${n}.action`);
    if (a.action === 'rectify' && !a.changes) bad(`actions[${n}] rectifies without changes`, `actions.${n}.changes`);
    if (a.action === 'block' && !a.allowedPurpose) bad(`actions[${n}] blocks without allowedPurpose: the purpose that prevents erasure and for which alone the data may still be used (Prüm Decision Art. 28(3))`, `actions.${n}.allowedPurpose`);
  }
}

const sha256 = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex');

/** States of the recipients of an item (other states' contact points), for the Art. 28(1) notification. */
function recipientStates(i: HeldItem, country: string): string[] {
  const states = i.recipients.map((r) => /^([A-Z]{2}) NCP$/.exec(r.body)?.[1]).filter((s): s is string => s !== undefined && s !== country);
  return [...new Set(states)].sort();
}

/** Items whose data other modules hold: received data (src/safeguards) and this node's copy of a supply. */
const RECEIVED: readonly HeldItem['category'][] = ['follow-up-received', 'search-answer-received'];

/**
 * Received data erased or blocked on the request, through src/safeguards (its own transactions and
 * records), before the decision that reports it. Without the link the action is recorded as not
 * carried out.
 */
async function endReceived(ctx: RightsContext, r: Selectable<SubjectRequestsTable>, caller: OfficerCaller, a: DecisionAction, item: HeldItem): Promise<ActionResult> {
  const base = { item: item.id, action: a.action, description: item.description, recordId: null, notify: [] as string[] };
  if (a.action === 'rectify') {
    // Prüm Decision Art. 28(1), last sentence: the receiving body informs the supplier, which corrects.
    return { ...base, done: false, notify: [item.originState], note: `received from ${item.originState}: corrected by the supplying state, which is to be informed` };
  }
  if (!ctx.linked) return { ...base, done: false, note: 'received data: to be erased or blocked through src/safeguards (not linked on this node)' };
  const [type, ...rest] = item.id.split(':');
  const key = rest.join(':');
  const source = type === 'follow-up' ? { followUpId: key } : type === 'search-answer' ? { targetId: Number(key) } : { itemId: key };
  const out = await ctx.linked.endReceived(source, a.action === 'block' ? 'block' : 'erase', {
    ...(a.allowedPurpose ? { purpose: a.allowedPurpose } : {}),
    reason: `${r.kind} request ${r.reference} of the data subject`,
    orderedBy: `${caller.reference} (${r.kind} request ${r.reference})`,
  });
  return { ...base, done: true, note: `${out.outcome} (received data ${out.reference}, src/safeguards)` };
}

async function carryOut(trx: Trx, ctx: RightsContext, caller: OfficerCaller, r: Selectable<SubjectRequestsTable>, a: DecisionAction, item: HeldItem, legalBasis: string): Promise<ActionResult> {
  const meta = { reason: `${r.kind} request ${r.reference}`, orderedBy: `${caller.reference} (${r.kind} request ${r.reference})`, legalBasis: `${RIGHTS_LEGAL_BASIS[r.kind]}; ${legalBasis}`, subjectRequestId: r.id };
  const notify = a.action === 'block' ? [] : recipientStates(item, ctx.country);
  const [type, ...rest] = item.id.split(':');
  const key = rest.join(':');
  const fileKind = type === 'vehicle' ? 'vehicle' : type === 'dna-profile' ? 'dna-profile' : type === 'fingerprint-person' ? 'fingerprint-person' : undefined;
  if (!item.actions.includes(a.action)) throw new OpenPrumError('subject-request-invalid', `${item.id} cannot be ${a.action === 'rectify' ? 'rectified' : a.action === 'erase' ? 'erased' : 'blocked'} here (${item.actions.join(', ') || 'nothing can be done here'})`, { item: item.id });
  if (item.category === 'follow-up-supplied') {
    // This node's copy is the proof of what it supplied; the recipient erases (Prüm Decision Art. 28(1)).
    return { item: item.id, action: a.action, description: item.description, done: !!ctx.linked, recordId: null, notify, note: ctx.linked ? 'the recipient is told to erase the data supplied' : 'the recipient is to be told to erase the data supplied (src/safeguards not linked)' };
  }
  if (type === 'block' && a.action === 'erase') {
    const b = await endBlockIn(trx, ctx.country, actor(caller), key, 'erase', { reason: meta.reason, orderedBy: meta.orderedBy, legalBasis: meta.legalBasis });
    return { item: item.id, action: 'erase', description: item.description, done: true, recordId: b.ended?.recordId ?? null, block: b.reference, notify: [] };
  }
  if (!fileKind) throw new OpenPrumError('subject-request-invalid', `${item.id} cannot be changed here`, { item: item.id });
  switch (a.action) {
    case 'erase': {
      const done = await eraseItemIn(trx, ctx.country, actor(caller), { kind: fileKind, ref: key, reason: meta.reason, orderedBy: meta.orderedBy, legalBasis: meta.legalBasis, subjectRequestId: r.id });
      return { item: item.id, action: 'erase', description: item.description, done: true, recordId: done.recordId, notify };
    }
    case 'block': {
      const b = await blockIn(trx, ctx.country, actor(caller), { kind: fileKind, ref: key, allowedPurpose: a.allowedPurpose!, reason: meta.reason, orderedBy: meta.orderedBy, source: 'subject-request', subjectRequestId: r.id });
      return { item: item.id, action: 'block', description: item.description, done: true, recordId: b.recordId, block: b.reference, notify };
    }
    case 'rectify': {
      if (fileKind !== 'vehicle') throw new OpenPrumError('subject-request-invalid', `${item.id}: reference data (a DNA profile, dactyloscopic data) is corrected by importing the corrected file, or erased`, { item: item.id });
      const done = await rectifyVehicleIn(trx, ctx.country, actor(caller), key, a.changes!, meta);
      return { item: item.id, action: 'rectify', description: item.description, done: true, recordId: done.recordId, notify, note: 'corrected in this node\'s copy of the register; the registration authority corrects its register too' };
    }
  }
}

/** The subject of a supply this node made, for src/safeguards' notification of recipients. */
function suppliedSubject(item: HeldItem): SuppliedSubject | undefined {
  const [type, ...rest] = item.id.split(':');
  const key = rest.join(':');
  if (type === 'vehicle') return { type: 'vehicle', vin: key };
  if (type === 'dna-profile') return { type: 'dna', ref: key };
  if (type === 'fingerprint-person') return { type: 'fingerprint', ref: key };
  if (type === 'follow-up' && item.category === 'follow-up-supplied') return { type: 'follow-up', followUpId: key };
  return undefined;
}

function letter(kind: SubjectRequestKind, outcome: DecisionInput['outcome'], country: string, items: number, reasonsGiven: boolean): string {
  const what = kind === 'access' ? 'access to the data processed about you' : kind === 'rectification' ? 'the rectification of data about you' : kind === 'erasure' ? 'the erasure of data about you' : 'the blocking of data about you';
  const head = `You asked the ${country} national contact point for ${what}.`;
  if (outcome === 'refused') return `${head} Your request is refused.${reasonsGiven ? ' The reasons are set out below.' : ' The reasons are not communicated (FD 2008/977 Art. 17(3)).'} You may appeal as set out below.`;
  if (kind === 'access') {
    const body = items === 0 ? ' No data about you are processed in this system.' : ` Below are the ${items} item(s) of data processed about you, where each comes from, to whom it was supplied, for what purpose and on what legal basis.`;
    return `${head}${body}${outcome === 'partly-granted' ? ` Access to some data is restricted${reasonsGiven ? ' for the reasons below' : ' (the reasons are not communicated, FD 2008/977 Art. 17(3))'}.` : ''}`;
  }
  return `${head} ${outcome === 'granted' ? 'Your request is granted' : 'Your request is granted in part'}: the actions taken are listed below.${outcome === 'partly-granted' ? (reasonsGiven ? ' The reasons for the rest are set out below.' : ' The reasons for the rest are not communicated (FD 2008/977 Art. 17(3)).') : ''}`;
}

/**
 * Decides a request: compiles what is held, carries out the actions, writes the answer, records the
 * decision; all in one transaction (a refusal by a check leaves everything unchanged).
 */
export async function decideRequest(ctx: RightsContext, caller: OfficerCaller, id: string, d: DecisionInput, requestId?: string): Promise<SubjectRequestView> {
  const legalBasis = text('legalBasis', d.legalBasis, 500);
  const reasons = d.reasons === undefined ? undefined : text('reasons', d.reasons, 4000);
  const note = d.note === undefined ? undefined : text('note', d.note, 4000);
  if (d.restriction !== undefined && !(d.restriction in RESTRICTION_GROUNDS)) {
    throw new OpenPrumError('subject-request-invalid', `restriction must be one of ${Object.keys(RESTRICTION_GROUNDS).join(', ')}`, { field: 'restriction' });
  }
  const checked = { ...d, ...(reasons !== undefined ? { reasons } : {}) };

  // 1. Checked first, before anything is changed anywhere.
  const before = await row(ctx.db, id);
  if (before.status !== 'open') throw new OpenPrumError('subject-request-decided', `Request ${before.reference} was decided already (${before.status}, ${before.decided_at} by ${before.decided_by_reference})`);
  const first = await compileHoldings(ctx.db, ctx.country, checkSubject(before.subject));
  checkDecision(before.kind, checked, first);
  const firstById = new Map(first.items.map((i) => [i.id, i]));
  for (const a of d.actions ?? []) {
    const item = firstById.get(a.item)!;
    if (!item.actions.includes(a.action) && !(RECEIVED.includes(item.category) && a.action === 'rectify')) {
      throw new OpenPrumError('subject-request-invalid', `${item.id} cannot be ${a.action === 'rectify' ? 'rectified' : a.action === 'erase' ? 'erased' : 'blocked'} here (${item.actions.join(', ') || 'nothing can be done here'})`, { item: item.id });
    }
  }

  // 2. Received data: through src/safeguards, in its own transactions, before the decision reports it.
  const linkedDone = new Map<string, ActionResult>();
  for (const a of d.actions ?? []) {
    const item = firstById.get(a.item)!;
    if (RECEIVED.includes(item.category) || item.id.startsWith('received:')) linkedDone.set(item.id, await endReceived(ctx, before, caller, a, item));
  }

  // 3. The decision, the actions on this node's files and the written answer: one transaction.
  const decided = await ctx.db.transaction().execute(async (trx) => {
    const r = await row(trx, id, true);
    if (r.status !== 'open') throw new OpenPrumError('subject-request-decided', `Request ${r.reference} was decided already (${r.status}, ${r.decided_at} by ${r.decided_by_reference})`);
    const now0 = await compileHoldings(trx, ctx.country, checkSubject(r.subject));
    // Received data just erased or blocked are no longer where they were: they are still the items decided on.
    const holdings: Holdings = { ...now0, items: [...now0.items, ...first.items.filter((i) => linkedDone.has(i.id) && !now0.items.some((x) => x.id === i.id))] };
    checkDecision(r.kind, checked, holdings);
    const byId = new Map(holdings.items.map((i) => [i.id, i]));
    const results: ActionResult[] = [];
    for (const a of d.actions ?? []) results.push(linkedDone.get(a.item) ?? (await carryOut(trx, ctx, caller, r, a, byId.get(a.item)!, legalBasis)));
    const withheld = new Set(d.withhold ?? []);
    const disclosedItems = r.kind === 'access' && d.outcome !== 'refused' ? holdings.items.filter((i) => !withheld.has(i.id)) : [];
    const reasonsGiven = d.outcome !== 'granted' && !d.withholdReasons;
    const now = await sql<{ now: string }>`select clock_timestamp() as now`.execute(trx);
    const decidedAt = now.rows[0]!.now;
    const informed = (x: ActionResult) => (ctx.linked && x.notify.length > 0 && suppliedSubject(byId.get(x.item)!) && x.action !== 'block' ? { recipientsInformed: x.notify } : {});
    const answer: Record<string, unknown> = {
      reference: r.reference,
      to: r.contact,
      date: decidedAt,
      from: `${ctx.country} national contact point`,
      request: { kind: r.kind, receivedAt: r.received_at },
      outcome: d.outcome,
      text: letter(r.kind, d.outcome, ctx.country, disclosedItems.length, reasonsGiven),
      legalBasis: `${RIGHTS_LEGAL_BASIS[r.kind]}; ${legalBasis}`,
      ...(r.kind === 'access' && d.outcome !== 'refused' ? { data: disclosedItems.map(disclosed), restricted: d.outcome === 'partly-granted' } : {}),
      ...(r.kind !== 'access' ? { actions: results.map((x) => ({ description: x.description, action: x.action, carriedOut: x.done, ...(x.note ? { note: x.note } : {}), ...informed(x) })) } : {}),
      ...(d.outcome !== 'granted'
        ? reasonsGiven
          ? { reasons: reasons ?? RESTRICTION_GROUNDS[d.restriction!], ...(d.restriction ? { restrictionGround: RESTRICTION_GROUNDS[d.restriction] } : {}) }
          : { reasons: null, reasonsWithheld: 'The factual and legal reasons are not communicated (FD 2008/977 Art. 17(3); Directive (EU) 2016/680 Art. 15(3)).' }
        : {}),
      appeal: appeal(ctx.settings),
    };
    const decision: Record<string, unknown> = {
      outcome: d.outcome,
      legalBasis,
      restriction: d.restriction ?? null,
      reasons: reasons ?? null,
      withholdReasons: d.withholdReasons === true,
      withheld: [...withheld],
      actions: results,
      itemsHeld: holdings.items.map((i) => ({ id: i.id, category: i.category, origin: i.origin })),
      recordsMentioning: holdings.recordsTotal,
      note: note ?? null,
      answerSha256: sha256(answer),
    };
    const rec = await writeRecord(trx, {
      action: 'subject-request.decision',
      direction: 'local',
      searchingBody: `${ctx.country} NCP`,
      administeringBody: `${ctx.country} NCP`,
      officerId: caller.officerId,
      officerReference: caller.reference,
      reason: `${r.kind} request ${r.reference}: ${d.outcome}`,
      purpose: 'data subject rights',
      legalBasis: `${RIGHTS_LEGAL_BASIS[r.kind]}; ${legalBasis}`,
      query: { reference: r.reference, kind: r.kind, outcome: d.outcome, restriction: d.restriction ?? null, withholdReasons: d.withholdReasons === true },
      // The supply to the person (FD 2008/977 Art. 10): which items, and the digest of the answer.
      supplied: { disclosed: disclosedItems.map((i) => i.id), withheld: [...withheld], actions: results.map((x) => ({ item: x.item, action: x.action, done: x.done })), answerSha256: decision.answerSha256 },
      outcome: d.outcome === 'refused' ? 'refused' : 'done',
      requestId: requestId ?? null,
    });
    const updated = await trx
      .updateTable('subject_requests')
      .set({
        status: d.outcome,
        decided_at: decidedAt,
        decided_by_id: caller.officerId,
        decided_by_reference: caller.reference,
        decision: JSON.stringify(decision),
        answer: JSON.stringify(answer),
        decision_record_id: rec.id,
      })
      .where('id', '=', r.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { updated, results, byId, decision };
  });

  // 4. The states that received data this node now rectified or erased are told (Prüm Decision Art.
  //    28(1)), through src/safeguards, after the change is committed (a vehicle is rectified from the
  //    register as it is now). The outcome is kept with the decision.
  const linked = ctx.linked;
  const toNotify = decided.results.filter((x) => x.done && x.action !== 'block' && x.notify.length > 0 && suppliedSubject(decided.byId.get(x.item)!));
  if (!linked || toNotify.length === 0) return view(decided.updated, nowOf(ctx));
  const notified: Array<{ item: string; states?: string[]; error?: string }> = [];
  for (const x of toNotify) {
    try {
      notified.push({ item: x.item, states: await linked.notifyRecipients(caller, suppliedSubject(decided.byId.get(x.item)!)!, x.action === 'rectify' ? 'rectify' : 'erase', `${decided.updated.kind} request ${decided.updated.reference} of the data subject`) });
    } catch (e) {
      notified.push({ item: x.item, error: (e as Error).message });
    }
  }
  const final = await ctx.db
    .updateTable('subject_requests')
    .set({ decision: JSON.stringify({ ...decided.decision, notified }) })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return view(final, nowOf(ctx));
}
