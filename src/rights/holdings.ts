/**
 * What the node holds about a person, compiled for a data subject's request: the data, its origin,
 * the recipients to whom it was supplied, the purpose and the legal basis (Prüm Decision Art. 31(1);
 * FD 2008/977 Art. 17(1)(a); Directive (EU) 2016/680 Art. 14). Compiled from:
 *
 *  - the national files this node administers: vehicle register (holders), DNA and fingerprint files
 *    (by reference), and data taken out of them by a block (blocks.ts);
 *  - follow-ups after a hit (src/followup): data this node supplied to another state, data it
 *    received, and requests about the person's references;
 *  - answers to this node's federated searches (federation_targets): data received from other states;
 *  - the record of supplies (Art. 30): every search, supply and receipt that mentions the person or
 *    one of the items above; the recipients of each item are read from it.
 *
 * Matching: identifiers and item keys exactly (normalised), names by surname with first names or
 * birth date (subject.ts). Each source is narrowed in SQL by a folded-text prefilter, then matched in
 * JavaScript on the structured data, so that a prefilter false positive never reaches the answer.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Schema } from '../db/schema.ts';
import '../followup/schema.ts';
import '../fingerprint/db-schema.ts';
import './schema.ts';
import { VEHICLE_LEGAL_BASIS } from '../vehicle/search.ts';
import { foldSqlText, fold, SubjectMatcher, type Subject } from './subject.ts';

type Db = Kysely<Schema> | Transaction<Schema>;

export type HeldCategory =
  | 'vehicle-register'
  | 'dna-profile'
  | 'fingerprint'
  | 'blocked'
  | 'follow-up-supplied'
  | 'follow-up-received'
  | 'follow-up-request'
  | 'search-answer-received';

/** What this node can do about an item on a request for rectification, erasure or blocking. */
export type ItemAction = 'rectify' | 'erase' | 'block';

export interface Recipient {
  /** The body the data was supplied to (another state's contact point, or this node's officers). */
  readonly body: string;
  readonly at: string;
  readonly purpose: string | null;
  readonly legalBasis: string | null;
  readonly recordId: number | null;
}

export interface HeldItem {
  /** Stable handle of the item, e.g. `vehicle:WVWZZZ1KZAW000001`, `follow-up:<uuid>`. */
  readonly id: string;
  readonly category: HeldCategory;
  readonly description: string;
  /** What in the item matched the person's identifiers. */
  readonly matchedBy: readonly string[];
  readonly data: unknown;
  /** The body the data comes from, and its state (the supplying state for received data). */
  readonly origin: string;
  readonly originState: string;
  readonly purpose: string;
  readonly legalBasis: string;
  readonly heldSince: string | null;
  readonly recipients: readonly Recipient[];
  readonly conditions?: unknown;
  readonly status: 'held' | 'blocked';
  /** What the controller can carry out on it here (empty: handled elsewhere, see README). */
  readonly actions: readonly ItemAction[];
}

export interface RecordMention {
  readonly id: number;
  readonly at: string;
  readonly action: string;
  readonly direction: string;
  readonly searchingBody: string;
  readonly administeringBody: string;
  readonly purpose: string | null;
  readonly legalBasis: string | null;
  readonly outcome: string;
  readonly matchedBy: readonly string[];
}

export interface Holdings {
  readonly compiledAt: string;
  readonly items: readonly HeldItem[];
  /** Records of the Art. 30 log mentioning the person or an item (newest first, at most `recordLimit`). */
  readonly records: readonly RecordMention[];
  readonly recordsTotal: number;
}

/** Actions of this module's own records: the request about a person is not data "held" about him. */
export const RIGHTS_ACTIONS_PREFIX = ['subject-request.', 'rights.'];

function likeAny(expr: string, terms: readonly string[]): RawBuilder<boolean> {
  const patterns = terms.map((t) => `%${t.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  return sql<boolean>`${sql.raw(foldSqlText(expr))} like any(${patterns}::text[])`;
}

const legalBasisOfKind = (kind: string): string =>
  kind === 'vehicle' ? VEHICLE_LEGAL_BASIS : kind === 'dna' ? 'Prüm Decision Art. 3(1)' : kind === 'fingerprint' ? 'Prüm Decision Art. 9(1)' : `Prüm Decision (${kind})`;

interface VehicleRowDb {
  vin: string;
  registration_number: string;
  registration_display: string;
  make: string;
  model: string;
  vehicle_type: string;
  colour: string;
  first_registration: string;
  holder_type: 'natural' | 'legal';
  holder_surname: string | null;
  holder_first_names: string | null;
  holder_birth_date: string | null;
  holder_name: string | null;
  holder_address: string;
  imported_at: string;
}

/** A vehicle row in the shape a search answers (src/vehicle/search.ts VEHICLE_JSON). */
export function vehicleJson(v: Omit<VehicleRowDb, 'imported_at'>): Record<string, unknown> {
  return {
    registrationNumber: v.registration_display,
    vin: v.vin,
    make: v.make,
    model: v.model,
    vehicleType: v.vehicle_type,
    colour: v.colour,
    firstRegistrationDate: String(v.first_registration).slice(0, 10),
    holder:
      v.holder_type === 'natural'
        ? { type: 'natural', surname: v.holder_surname, firstNames: v.holder_first_names, birthDate: String(v.holder_birth_date).slice(0, 10), address: v.holder_address }
        : { type: 'legal', name: v.holder_name, address: v.holder_address },
  };
}

/** The blocked data as shown (the vehicle, profile or person), without the rows kept to put it back. */
export function blockedData(data: unknown): unknown {
  const d = (data ?? {}) as { vehicle?: unknown; profile?: unknown; person?: unknown };
  return d.vehicle ?? d.profile ?? d.person ?? null;
}

/**
 * Compiles what the node holds about the subject. Reads only; the caller records the compilation.
 */
export async function compileHoldings(db: Db, country: string, subject: Subject, options: { recordLimit?: number } = {}): Promise<Holdings> {
  const matcher = new SubjectMatcher(subject);
  const items: Array<Omit<HeldItem, 'recipients'> & { keys: string[]; recipients: Recipient[] }> = [];
  const own = `${country} NCP`;
  const surnameFolded = subject.surname === null ? null : fold(subject.surname);

  // 1. The vehicle register (Prüm Decision Art. 12(1)(b): owners and operators).
  if (subject.vins.length + subject.registrationNumbers.length > 0 || surnameFolded !== null) {
    const rows = await sql<VehicleRowDb>`select v.vin, v.registration_number, v.registration_display, v.make, v.model, v.vehicle_type, v.colour,
        v.first_registration, v.holder_type, v.holder_surname, v.holder_first_names, v.holder_birth_date, v.holder_name, v.holder_address, i.imported_at
      from vehicles v join vehicle_imports i on i.id = v.import_id
      where v.vin = any(${[...subject.vins]}::text[]) or v.registration_number = any(${[...subject.registrationNumbers]}::text[])
        or (v.holder_type = 'natural' and ${surnameFolded}::text is not null and ${sql.raw(foldSqlText('v.holder_surname'))} = ${surnameFolded ?? ''})
      order by v.vin`.execute(db);
    for (const v of rows.rows) {
      const by: string[] = [];
      if (subject.vins.includes(v.vin)) by.push(`vin ${v.vin}`);
      if (subject.registrationNumbers.includes(v.registration_number)) by.push(`registration number ${v.registration_number}`);
      if (v.holder_type === 'natural' && matcher.matchesPerson(v.holder_surname, v.holder_first_names, v.holder_birth_date)) by.push('name');
      if (by.length === 0) continue;
      items.push({
        id: `vehicle:${v.vin}`,
        category: 'vehicle-register',
        description: `Vehicle ${v.registration_display} (VIN ${v.vin}) and its ${v.holder_type === 'natural' ? 'owner or operator' : 'holder'} in the ${country} vehicle register`,
        matchedBy: by,
        data: vehicleJson(v),
        origin: `${country} vehicle register`,
        originState: country,
        purpose: 'Vehicle registration data opened to automated searches of the other Member States (prevention and investigation of criminal offences, other offences, public security)',
        legalBasis: VEHICLE_LEGAL_BASIS,
        heldSince: v.imported_at,
        status: 'held',
        actions: ['rectify', 'erase', 'block'],
        keys: [v.vin, v.registration_number],
        recipients: [],
      });
    }
  }

  // 2. The DNA and fingerprint files: reference data under a reference (Prüm Decision Arts. 2(2), 8).
  if (subject.dnaReferences.length > 0) {
    const rows = await db.selectFrom('dna_profiles').select(['ref', 'kind', 'loci', 'updated_at']).where('ref', 'in', [...subject.dnaReferences]).orderBy('ref').execute();
    for (const r of rows) {
      items.push({
        id: `dna-profile:${r.ref}`,
        category: 'dna-profile',
        description: `DNA profile ${r.ref} (${r.kind}) in the ${country} DNA analysis file`,
        matchedBy: [`DNA reference ${r.ref}`],
        data: { ref: r.ref, kind: r.kind, loci: r.loci },
        origin: `${country} DNA file`,
        originState: country,
        purpose: 'Reference data opened to automated searches of the other Member States for the investigation of criminal offences',
        legalBasis: 'Prüm Decision Arts. 2, 3(1)',
        heldSince: r.updated_at,
        status: 'held',
        actions: ['erase', 'block'],
        keys: [r.ref],
        recipients: [],
      });
    }
  }
  if (subject.fingerprintReferences.length > 0) {
    const persons = await db.selectFrom('fingerprint_persons').select(['ref', 'kind', 'updated_at']).where('ref', 'in', [...subject.fingerprintReferences]).orderBy('ref').execute();
    const fingers = persons.length
      ? await db.selectFrom('fingerprint_fingers').select(['ref', 'position', 'minutiae', 'source']).where('ref', 'in', persons.map((p) => p.ref)).orderBy('ref').orderBy('idx').execute()
      : [];
    for (const p of persons) {
      items.push({
        id: `fingerprint-person:${p.ref}`,
        category: 'fingerprint',
        description: `Dactyloscopic data ${p.ref} (${p.kind}) in the ${country} fingerprint file`,
        matchedBy: [`fingerprint reference ${p.ref}`],
        data: { ref: p.ref, kind: p.kind, fingers: fingers.filter((f) => f.ref === p.ref).map((f) => ({ position: f.position, minutiae: f.minutiae, source: f.source })) },
        origin: `${country} fingerprint file`,
        originState: country,
        purpose: 'Reference data opened to automated searches of the other Member States for the prevention and investigation of criminal offences',
        legalBasis: 'Prüm Decision Arts. 8, 9(1)',
        heldSince: p.updated_at,
        status: 'held',
        actions: ['erase', 'block'],
        keys: [p.ref],
        recipients: [],
      });
    }
  }

  // 3. Data taken out of a file by a block, kept for the one purpose that prevented its erasure.
  {
    const refs = [...subject.vins, ...subject.dnaReferences, ...subject.fingerprintReferences];
    const rows = await db
      .selectFrom('data_blocks')
      .selectAll()
      .where('ended_at', 'is', null)
      .where((eb) => eb.or([eb('target_ref', 'in', refs.length ? refs : ['']), ...(matcher.terms.length ? [likeAny('data::text', matcher.terms)] : [])]))
      .orderBy('blocked_at')
      .execute();
    for (const b of rows) {
      const shown = blockedData(b.data);
      const by = refs.includes(b.target_ref) ? [`${b.target_kind === 'vehicle' ? 'vin' : b.target_kind === 'dna-profile' ? 'DNA reference' : 'fingerprint reference'} ${b.target_ref}`] : matcher.match(shown);
      if (by.length === 0) continue;
      items.push({
        id: `block:${b.id}`,
        category: 'blocked',
        description: `${b.target_kind} ${b.target_ref}, blocked (${b.reference}): usable only for ${b.allowed_purpose}`,
        matchedBy: by,
        data: shown,
        origin: b.target_kind === 'vehicle' ? `${country} vehicle register` : b.target_kind === 'dna-profile' ? `${country} DNA file` : `${country} fingerprint file`,
        originState: country,
        purpose: b.allowed_purpose,
        legalBasis: 'Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3)',
        heldSince: b.blocked_at,
        status: 'blocked',
        actions: ['erase'],
        keys: [b.target_ref],
        recipients: [],
      });
    }
  }

  // 3b. Received data blocked through src/safeguards (Prüm Decision Art. 28(3)): kept in received_items.
  const safeguards = await sql<{ ok: boolean }>`select to_regclass('received_items') is not null as ok`.execute(db);
  if (matcher.terms.length > 0 && safeguards.rows[0]?.ok) {
    const rows = await sql<{ id: string; supplying_state: string; kind: string; reference: string; legal_basis: string; blocked_purpose: string | null; blocked_at: string | null; blocked_data: unknown; conditions: unknown }>`
      select id, supplying_state, kind, reference, legal_basis, blocked_purpose, blocked_at, blocked_data, conditions
      from received_items where status = 'blocked' and ${likeAny("coalesce(blocked_data::text, '')", matcher.terms)} order by blocked_at`.execute(db);
    for (const r of rows.rows) {
      const by = matcher.match(r.blocked_data);
      if (by.length === 0) continue;
      items.push({
        id: `received:${r.id}`,
        category: 'blocked',
        description: `Data received from ${r.supplying_state} (${r.kind}, ${r.reference}), blocked: usable only for ${r.blocked_purpose ?? 'the purpose that prevented erasure'}`,
        matchedBy: by,
        data: r.blocked_data,
        origin: `${r.supplying_state} NCP`,
        originState: r.supplying_state,
        purpose: r.blocked_purpose ?? '',
        legalBasis: r.legal_basis,
        heldSince: r.blocked_at,
        conditions: r.conditions,
        status: 'blocked',
        actions: ['erase'],
        keys: [],
        recipients: [],
      });
    }
  }

  // 4. Follow-ups after a hit: supplied by this node, received from another state, or requested.
  {
    const refs = [...subject.vins, ...subject.registrationNumbers, ...subject.dnaReferences, ...subject.fingerprintReferences, ...subject.otherIdentifiers];
    const rows = await db
      .selectFrom('follow_ups')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('requested_reference', 'in', refs.length ? refs : ['']),
          eb('request_reference', 'in', refs.length ? refs : ['']),
          ...(matcher.terms.length ? [likeAny("coalesce(supplied::text, '')", matcher.terms)] : []),
        ]),
      )
      .orderBy('created_at')
      .execute();
    for (const f of rows) {
      const by = new Set(matcher.match(f.supplied));
      for (const r of [f.requested_reference, f.request_reference]) for (const m of matcher.match(r)) by.add(m);
      if (by.size === 0) continue;
      const supplied = f.status === 'granted' && f.supplied !== null;
      const incoming = f.direction === 'incoming';
      const category: HeldCategory = !supplied ? 'follow-up-request' : incoming ? 'follow-up-supplied' : 'follow-up-received';
      const other = incoming ? f.requesting_state : f.requested_state;
      const recipients: Recipient[] =
        category === 'follow-up-supplied'
          ? [{ body: `${f.requesting_state} NCP`, at: f.decided_at ?? f.created_at, purpose: f.purpose, legalBasis: f.supply_legal_basis, recordId: f.decision_record_id }]
          : category === 'follow-up-received'
            ? [{ body: `${own}${f.officer_reference ? ` (officer ${f.officer_reference})` : ''}`, at: f.answer_received_at ?? f.decided_at ?? f.created_at, purpose: f.purpose, legalBasis: f.supply_legal_basis, recordId: null }]
            : [];
      items.push({
        id: `follow-up:${f.id}`,
        category,
        description:
          category === 'follow-up-supplied'
            ? `Data supplied by ${country} to ${f.requesting_state} after a ${f.kind} hit (follow-up ${f.reference})`
            : category === 'follow-up-received'
              ? `Data received from ${f.requested_state} after a ${f.kind} hit (follow-up ${f.reference})`
              : `Request ${incoming ? 'received from' : 'sent to'} ${other} for further data after a ${f.kind} hit on ${f.requested_reference} (follow-up ${f.reference}, ${f.status})`,
        matchedBy: [...by].sort(),
        data: { kind: f.kind, hit: { requestReference: f.request_reference, requestedReference: f.requested_reference }, facts: f.facts, supplied: f.supplied },
        origin: category === 'follow-up-received' ? `${f.requested_state} NCP` : category === 'follow-up-supplied' ? own : `${f.requesting_state} NCP`,
        originState: category === 'follow-up-received' ? f.requested_state : category === 'follow-up-supplied' ? country : f.requesting_state,
        purpose: f.purpose,
        legalBasis: f.supply_legal_basis ?? f.legal_basis,
        heldSince: f.answer_received_at ?? f.decided_at ?? f.created_at,
        ...(f.conditions ? { conditions: f.conditions } : {}),
        status: 'held',
        // Received data is erased or blocked through src/safeguards (its conditions and time limits);
        // supplied data is erased at the recipient by notifying it (Prüm Decision Art. 28(1)).
        actions: category === 'follow-up-received' ? ['erase', 'block'] : category === 'follow-up-supplied' ? ['erase'] : [],
        keys: [],
        recipients,
      });
    }
  }

  // 5. Answers of other states to this node's federated searches (data received, Art. 12, 3, 9).
  if (matcher.terms.length > 0) {
    const rows = await sql<{ id: number; state: string; result: unknown; answered_at: string | null; kind: string; purpose: string; reference: string; officer_reference: string; record_id: number | null; search_id: string }>`
      select t.id, t.state, t.result, t.answered_at, s.kind, s.purpose, s.reference, s.officer_reference, t.record_id, s.id as search_id
      from federation_targets t join federation_searches s on s.id = t.search_id
      where t.hit and t.result is not null and ${likeAny('t.result::text', matcher.terms)}
      order by t.id`.execute(db);
    for (const t of rows.rows) {
      const by = matcher.match(t.result);
      if (by.length === 0) continue;
      items.push({
        id: `search-answer:${t.id}`,
        category: 'search-answer-received',
        description: `Answer of ${t.state} to the ${t.kind} search ${t.reference} of ${country}`,
        matchedBy: by,
        data: t.result,
        origin: `${t.state} NCP`,
        originState: t.state,
        purpose: t.purpose,
        legalBasis: legalBasisOfKind(t.kind),
        heldSince: t.answered_at,
        status: 'held',
        actions: ['erase', 'block'],
        keys: [],
        recipients: [{ body: `${own} (officer ${t.officer_reference})`, at: t.answered_at ?? '', purpose: t.purpose, legalBasis: legalBasisOfKind(t.kind), recordId: t.record_id }],
      });
    }
  }

  // 6. The record (Art. 30): every record mentioning the person or the keys of an item found above.
  const extended = new SubjectMatcher({
    ...subject,
    vins: [...new Set([...subject.vins, ...items.filter((i) => i.category === 'vehicle-register').map((i) => i.keys[0]!)])],
    registrationNumbers: [...new Set([...subject.registrationNumbers, ...items.filter((i) => i.category === 'vehicle-register').map((i) => i.keys[1]!)])],
  });
  const limit = options.recordLimit ?? 500;
  const mentions: RecordMention[] = [];
  let total = 0;
  if (extended.terms.length > 0) {
    const rows = await sql<{ id: number; recorded_at: string; action: string; direction: string; searching_body: string; administering_body: string; purpose: string | null; legal_basis: string | null; outcome: string; query: unknown; supplied: unknown }>`
      select id, recorded_at, action, direction, searching_body, administering_body, purpose, legal_basis, outcome, query, supplied
      from records
      where not (action like 'subject-request.%' or action like 'rights.%')
        and ${likeAny("query::text || coalesce(supplied::text, '')", extended.terms)}
      order by id desc`.execute(db);
    for (const r of rows.rows) {
      const by = extended.match([r.query, r.supplied]);
      if (by.length === 0) continue;
      total++;
      const mention: RecordMention = {
        id: r.id,
        at: r.recorded_at,
        action: r.action,
        direction: r.direction,
        searchingBody: r.searching_body,
        administeringBody: r.administering_body,
        purpose: r.purpose,
        legalBasis: r.legal_basis,
        outcome: r.outcome,
        matchedBy: by,
      };
      if (mentions.length < limit) mentions.push(mention);
      // A supply of a file item: an answer with data (hit) to another state, or to this node's officers.
      if ((r.outcome === 'hit' || r.outcome === 'done') && r.supplied !== null && r.direction !== 'outgoing') {
        const suppliedBy = extended.match(r.supplied);
        for (const item of items) {
          if (item.keys.length === 0 || !item.keys.some((k) => suppliedBy.some((m) => m.endsWith(` ${k}`)))) continue;
          item.recipients.push({
            body: r.direction === 'incoming' ? r.searching_body : `${own} (officers)`,
            at: r.recorded_at,
            purpose: r.purpose,
            legalBasis: r.legal_basis,
            recordId: r.id,
          });
        }
      }
    }
  }
  const now = await sql<{ now: string }>`select clock_timestamp() as now`.execute(db);
  return {
    compiledAt: now.rows[0]!.now,
    items: items.map(({ keys: _keys, recipients, ...rest }) => ({ ...rest, recipients: recipients.sort((a, b) => a.at.localeCompare(b.at)) })),
    records: mentions,
    recordsTotal: total,
  };
}
