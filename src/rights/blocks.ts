/**
 * Blocking, erasure and rectification of items of the national files this node administers (the
 * vehicle register, the DNA file, the fingerprint file), each in one transaction with its record.
 *
 * Blocking (Prüm Decision Art. 24(1)(d), "the marking of stored personal data with the aim of limiting
 * their processing in future"; Art. 28(3) and FD 2008/977 Art. 4(3): "blocked data shall be processed
 * only for the purpose which prevented their erasure"). A blocked item is taken out of its file — so
 * no automated search of this or another state finds it any more, and the in-memory DNA index and
 * fingerprint gallery drop it through their change logs — and kept in `data_blocks` with the one
 * purpose it may still be used for. Using it (`useBlockedData`) needs that purpose and is recorded;
 * any other purpose is refused and recorded. A database trigger (migration 0010) keeps a blocked item
 * out of its file when the register is imported again. Lifting puts it back; erasing deletes it.
 *
 * Ordered by the data-protection authority (FD 2008/977 Art. 25(2)(b): "ordering the blocking,
 * erasure or destruction of data") or decided on a data subject's request (Art. 18).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import '../fingerprint/db-schema.ts';
import { blockedData, vehicleJson } from './holdings.ts';
import type { BlockTargetKind, DataBlocksTable } from './schema.ts';

type Trx = Transaction<Schema>;

export const BLOCK_TARGETS: readonly BlockTargetKind[] = ['vehicle', 'dna-profile', 'fingerprint-person'];
export const BLOCKING_LEGAL_BASIS = 'Prüm Decision Art. 28(3); FD 2008/977 Art. 4(3) (Directive (EU) 2016/680 Art. 16(3))';

/** Who acts: an officer of this node (approver or supervisor). */
export interface Actor {
  readonly officerId: number;
  readonly reference: string;
}

export interface BlockView {
  readonly id: string;
  readonly reference: string;
  readonly target: { readonly kind: BlockTargetKind; readonly ref: string };
  readonly allowedPurpose: string;
  readonly reason: string;
  readonly order: string | null;
  readonly orderedBy: string;
  readonly source: 'supervisor-order' | 'subject-request';
  readonly subjectRequestId: string | null;
  readonly blockedBy: string;
  readonly blockedAt: string;
  readonly active: boolean;
  readonly ended: null | { readonly at: string; readonly how: 'lifted' | 'erased'; readonly by: string | null; readonly reason: string | null; readonly recordId: number | null };
  readonly recordId: number | null;
}

export function blockView(b: Selectable<DataBlocksTable>): BlockView {
  return {
    id: b.id,
    reference: b.reference,
    target: { kind: b.target_kind, ref: b.target_ref },
    allowedPurpose: b.allowed_purpose,
    reason: b.reason,
    order: b.order_reference,
    orderedBy: b.ordered_by,
    source: b.source,
    subjectRequestId: b.subject_request_id,
    blockedBy: b.blocked_by_reference,
    blockedAt: b.blocked_at,
    active: b.ended_at === null,
    ended: b.ended_at === null ? null : { at: b.ended_at, how: b.ended_how!, by: b.ended_by_reference, reason: b.end_reason, recordId: b.end_record_id },
    recordId: b.record_id,
  };
}

const fileOf = (country: string, kind: BlockTargetKind) => `${country} ${kind === 'vehicle' ? 'vehicle register' : kind === 'dna-profile' ? 'DNA file' : 'fingerprint file'}`;

function label(kind: BlockTargetKind, ref: string): string {
  return kind === 'vehicle' ? `vehicle ${ref}` : kind === 'dna-profile' ? `DNA profile ${ref}` : `fingerprint data ${ref}`;
}

/** The item's rows as stored (enough to put it back), and then deletes them from the file. */
async function takeOut(trx: Trx, kind: BlockTargetKind, ref: string): Promise<Record<string, unknown>> {
  switch (kind) {
    case 'vehicle': {
      const r = await sql<Record<string, unknown>>`select vin, registration_number, registration_display, make, model, vehicle_type, colour,
          first_registration, holder_type, holder_surname, holder_first_names, holder_birth_date, holder_name, holder_address, import_id
        from vehicles where vin = ${ref} for update`.execute(trx);
      const row = r.rows[0];
      if (!row) throw new OpenPrumError('data-item-unknown', `The vehicle register holds no vehicle with VIN ${ref}`, { ref });
      await trx.deleteFrom('vehicles').where('vin', '=', ref).execute();
      return { vehicle: vehicleJson(row as never), row };
    }
    case 'dna-profile': {
      const row = await trx.selectFrom('dna_profiles').select(['ref', 'kind', 'loci', 'import_id']).where('ref', '=', ref).forUpdate().executeTakeFirst();
      if (!row) throw new OpenPrumError('data-item-unknown', `The DNA file holds no profile ${ref}`, { ref });
      await trx.deleteFrom('dna_profiles').where('ref', '=', ref).execute();
      // The change log drops it from every process's in-memory index (src/dna/national-file.ts sync).
      await trx.insertInto('dna_changes').values({ ref, op: 'delete' }).execute();
      return { profile: { ref: row.ref, kind: row.kind, loci: row.loci }, row: { ...row } };
    }
    case 'fingerprint-person': {
      const person = await trx.selectFrom('fingerprint_persons').select(['ref', 'kind', 'import_id']).where('ref', '=', ref).forUpdate().executeTakeFirst();
      if (!person) throw new OpenPrumError('data-item-unknown', `The fingerprint file holds no reference ${ref}`, { ref });
      const fingers = await trx.selectFrom('fingerprint_fingers').select(['idx', 'position', 'minutiae', 'source', 'template']).where('ref', '=', ref).orderBy('idx').execute();
      await trx.deleteFrom('fingerprint_persons').where('ref', '=', ref).execute(); // fingers cascade
      await trx.insertInto('fingerprint_changes').values({ ref, op: 'delete' }).execute();
      return {
        person: { ref, kind: person.kind, fingers: fingers.map((f) => ({ position: f.position, minutiae: f.minutiae, source: f.source })) },
        row: { ...person, fingers: fingers.map((f) => ({ idx: f.idx, position: f.position, minutiae: f.minutiae, source: f.source, template: Buffer.from(f.template).toString('base64') })) },
      };
    }
  }
}

/** Puts an item back into its file from what `takeOut` kept. */
async function putBack(trx: Trx, kind: BlockTargetKind, data: Record<string, unknown>): Promise<void> {
  const row = data.row as Record<string, unknown>;
  try {
    switch (kind) {
      case 'vehicle':
        await sql`insert into vehicles (vin, registration_number, registration_display, make, model, vehicle_type, colour, first_registration,
            holder_type, holder_surname, holder_first_names, holder_birth_date, holder_name, holder_address, import_id)
          values (${row.vin}, ${row.registration_number}, ${row.registration_display}, ${row.make}, ${row.model}, ${row.vehicle_type}, ${row.colour},
            ${row.first_registration}::date, ${row.holder_type}, ${row.holder_surname}, ${row.holder_first_names}, ${row.holder_birth_date}::date,
            ${row.holder_name}, ${row.holder_address}, ${row.import_id}::bigint)`.execute(trx);
        return;
      case 'dna-profile':
        await trx
          .insertInto('dna_profiles')
          .values({ ref: String(row.ref), kind: row.kind as 'reference' | 'unidentified', loci: JSON.stringify(row.loci), import_id: Number(row.import_id) })
          .execute();
        await trx.insertInto('dna_changes').values({ ref: String(row.ref), op: 'put' }).execute();
        return;
      case 'fingerprint-person': {
        const ref = String(row.ref);
        await trx.insertInto('fingerprint_persons').values({ ref, kind: row.kind as 'reference' | 'unidentified', import_id: Number(row.import_id) }).execute();
        const fingers = row.fingers as Array<{ idx: number; position: number; minutiae: number; source: 'image' | 'type-9' | 'iso19794-2' | 'ansi378'; template: string }>;
        if (fingers.length > 0) {
          await trx
            .insertInto('fingerprint_fingers')
            .values(fingers.map((f) => ({ ref, idx: f.idx, position: f.position, minutiae: f.minutiae, source: f.source, template: new Uint8Array(Buffer.from(f.template, 'base64')) })))
            .execute();
        }
        await trx.insertInto('fingerprint_changes').values({ ref, op: 'put' }).execute();
        return;
      }
    }
  } catch (e) {
    if ((e as { code?: string }).code === '23505') {
      throw new OpenPrumError('conflict', `The ${label(kind, String(row.vin ?? row.ref))} cannot be put back: the file holds an item with the same key now (${(e as Error).message})`);
    }
    throw e;
  }
}

function checkText(field: string, v: string | undefined | null, max: number, code: 'input-invalid' | 'subject-request-invalid' = 'input-invalid'): string {
  const t = (v ?? '').trim();
  // eslint-disable-next-line no-control-regex
  if (t.length === 0 || t.length > max || /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(t)) {
    throw new OpenPrumError(code, `${field} must be 1 to ${max} characters without control characters: it is recorded`, { field });
  }
  return t;
}

export function normaliseTarget(kind: BlockTargetKind, ref: string): string {
  const t = ref.trim();
  return kind === 'vehicle' ? t.replace(/[\s-]+/g, '').toUpperCase() : t;
}

export interface BlockInput {
  readonly kind: BlockTargetKind;
  readonly ref: string;
  readonly allowedPurpose: string;
  readonly reason: string;
  readonly order?: string | null | undefined;
  readonly orderedBy: string;
  readonly source: 'supervisor-order' | 'subject-request';
  readonly subjectRequestId?: string | null | undefined;
}

/** Blocks an item inside the caller's transaction, with its record. */
export async function blockIn(trx: Trx, country: string, actor: Actor, input: BlockInput): Promise<BlockView> {
  const ref = normaliseTarget(input.kind, checkText('target.ref', input.ref, 64));
  const allowedPurpose = checkText('allowedPurpose', input.allowedPurpose, 500);
  const reason = checkText('reason', input.reason, 2000);
  const orderedBy = checkText('orderedBy', input.orderedBy, 200);
  const order = input.order === undefined || input.order === null ? null : checkText('order', input.order, 200);
  const active = await trx.selectFrom('data_blocks').select('reference').where('target_kind', '=', input.kind).where('target_ref', '=', ref).where('ended_at', 'is', null).executeTakeFirst();
  if (active) throw new OpenPrumError('conflict', `The ${label(input.kind, ref)} is blocked already (${active.reference})`, { block: active.reference });
  const data = await takeOut(trx, input.kind, ref);
  const id = randomUUID();
  const reference = `${country}-BLK-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex').toUpperCase()}`;
  const rec = await writeRecord(trx, {
    action: 'rights.block',
    direction: 'local',
    searchingBody: `${country} NCP`,
    administeringBody: fileOf(country, input.kind),
    officerId: actor.officerId,
    officerReference: actor.reference,
    orderedBy,
    reason,
    purpose: allowedPurpose,
    legalBasis: input.source === 'supervisor-order' ? `FD 2008/977 Art. 25(2)(b); ${BLOCKING_LEGAL_BASIS}` : `FD 2008/977 Art. 18(1); ${BLOCKING_LEGAL_BASIS}`,
    query: { block: reference, target: { kind: input.kind, ref }, order, source: input.source, subjectRequest: input.subjectRequestId ?? null },
    outcome: 'done',
  });
  const row = await trx
    .insertInto('data_blocks')
    .values({
      id,
      reference,
      target_kind: input.kind,
      target_ref: ref,
      data: JSON.stringify(data),
      allowed_purpose: allowedPurpose,
      reason,
      order_reference: order,
      ordered_by: orderedBy,
      source: input.source,
      subject_request_id: input.subjectRequestId ?? null,
      blocked_by_id: actor.officerId,
      blocked_by_reference: actor.reference,
      record_id: rec.id,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return blockView(row);
}

async function activeBlock(trx: Trx, id: string): Promise<Selectable<DataBlocksTable>> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new OpenPrumError('block-unknown', `No block ${id}`);
  const b = await trx.selectFrom('data_blocks').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!b) throw new OpenPrumError('block-unknown', `No block ${id}`);
  if (b.ended_at !== null) throw new OpenPrumError('conflict', `Block ${b.reference} ended already (${b.ended_how} at ${b.ended_at})`);
  return b;
}

/** Ends a block: `lift` puts the item back into its file; `erase` deletes the blocked data for good. */
export async function endBlockIn(trx: Trx, country: string, actor: Actor, id: string, how: 'lift' | 'erase', input: { reason: string; order?: string | null | undefined; orderedBy: string; legalBasis?: string }): Promise<BlockView> {
  const b = await activeBlock(trx, id);
  const reason = checkText('reason', input.reason, 2000);
  const orderedBy = checkText('orderedBy', input.orderedBy, 200);
  const order = input.order === undefined || input.order === null ? null : checkText('order', input.order, 200);
  const rec = await writeRecord(trx, {
    action: how === 'lift' ? 'rights.unblock' : 'rights.erasure',
    direction: 'local',
    searchingBody: `${country} NCP`,
    administeringBody: fileOf(country, b.target_kind),
    officerId: actor.officerId,
    officerReference: actor.reference,
    orderedBy,
    reason,
    legalBasis: input.legalBasis ?? (how === 'lift' ? 'FD 2008/977 Art. 25(2)(b)' : 'FD 2008/977 Arts. 4(2), 25(2)(b)'),
    query: { block: b.reference, target: { kind: b.target_kind, ref: b.target_ref }, order },
    outcome: 'done',
  });
  // End the block first: the trigger of migration 0010 keeps blocked keys out of the file.
  const ended = await trx
    .updateTable('data_blocks')
    .set({
      ended_at: sql<string>`clock_timestamp()`,
      ended_how: how === 'lift' ? 'lifted' : 'erased',
      ended_by_reference: actor.reference,
      end_reason: reason,
      end_record_id: rec.id,
      ...(how === 'erase' ? { data: null } : {}),
    })
    .where('id', '=', b.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  if (how === 'lift') await putBack(trx, b.target_kind, b.data as Record<string, unknown>);
  return blockView(ended);
}

export interface ErasureInput {
  readonly kind: BlockTargetKind;
  readonly ref: string;
  readonly reason: string;
  readonly order?: string | null | undefined;
  readonly orderedBy: string;
  readonly legalBasis: string;
  readonly subjectRequestId?: string | null | undefined;
}

/** Erases an item of a national file (real deletion: table and, through the change log, memory), with its record. */
export async function eraseItemIn(trx: Trx, country: string, actor: Actor, input: ErasureInput): Promise<{ kind: BlockTargetKind; ref: string; recordId: number }> {
  const ref = normaliseTarget(input.kind, checkText('target.ref', input.ref, 64));
  await takeOut(trx, input.kind, ref);
  const rec = await writeRecord(trx, {
    action: 'rights.erasure',
    direction: 'local',
    searchingBody: `${country} NCP`,
    administeringBody: fileOf(country, input.kind),
    officerId: actor.officerId,
    officerReference: actor.reference,
    orderedBy: checkText('orderedBy', input.orderedBy, 200),
    reason: checkText('reason', input.reason, 2000),
    legalBasis: input.legalBasis,
    query: { target: { kind: input.kind, ref }, order: input.order ?? null, subjectRequest: input.subjectRequestId ?? null },
    outcome: 'done',
  });
  return { kind: input.kind, ref, recordId: rec.id };
}

/** Fields of a natural holder that a rectification may change. */
export interface HolderChanges {
  readonly surname?: string | undefined;
  readonly firstNames?: string | undefined;
  readonly birthDate?: string | undefined;
  readonly address?: string | undefined;
  readonly name?: string | undefined;
}

/**
 * Rectifies the holder of a vehicle in the register (FD 2008/977 Arts. 4(1), 18(1)). The register is
 * imported from the national registration authority: the same correction must be made there, or the
 * next import brings the old data back (said in the answer).
 */
export async function rectifyVehicleIn(trx: Trx, country: string, actor: Actor, vin: string, changes: HolderChanges, meta: { reason: string; orderedBy: string; legalBasis: string; subjectRequestId?: string | null }): Promise<{ recordId: number; changed: string[] }> {
  const row = await trx.selectFrom('vehicles').select(['holder_type']).where('vin', '=', vin).forUpdate().executeTakeFirst();
  if (!row) throw new OpenPrumError('data-item-unknown', `The vehicle register holds no vehicle with VIN ${vin}`, { ref: vin });
  const set: Record<string, string> = {};
  const natural = row.holder_type === 'natural';
  const allowed = natural ? ['surname', 'firstNames', 'birthDate', 'address'] : ['name', 'address'];
  const column: Record<string, string> = { surname: 'holder_surname', firstNames: 'holder_first_names', birthDate: 'holder_birth_date', address: 'holder_address', name: 'holder_name' };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) continue;
    if (!allowed.includes(k)) throw new OpenPrumError('subject-request-invalid', `The holder of vehicle ${vin} is a ${natural ? 'natural' : 'legal'} person: ${k} cannot be rectified (${allowed.join(', ')} can)`, { field: k });
    const t = checkText(`changes.${k}`, v, k === 'address' ? 500 : 200, 'subject-request-invalid');
    if (k === 'birthDate' && !/^\d{4}-\d{2}-\d{2}$/.test(t)) throw new OpenPrumError('subject-request-invalid', 'changes.birthDate must be YYYY-MM-DD', { field: 'birthDate' });
    set[column[k]!] = t;
  }
  if (Object.keys(set).length === 0) throw new OpenPrumError('subject-request-invalid', `A rectification of vehicle ${vin} names no change`, { field: 'changes' });
  await trx.updateTable('vehicles').set(set).where('vin', '=', vin).execute();
  const rec = await writeRecord(trx, {
    action: 'rights.rectification',
    direction: 'local',
    searchingBody: `${country} NCP`,
    administeringBody: `${country} vehicle register`,
    officerId: actor.officerId,
    officerReference: actor.reference,
    orderedBy: meta.orderedBy,
    reason: meta.reason,
    legalBasis: meta.legalBasis,
    query: { target: { kind: 'vehicle', ref: vin }, subjectRequest: meta.subjectRequestId ?? null },
    supplied: { changes },
    outcome: 'done',
  });
  return { recordId: rec.id, changed: Object.keys(changes).filter((k) => changes[k as keyof HolderChanges] !== undefined) };
}

/** Blocks, newest first. */
export async function listBlocks(db: Kysely<Schema>, filter: { active?: boolean | undefined; limit?: number | undefined } = {}): Promise<BlockView[]> {
  let q = db.selectFrom('data_blocks').selectAll();
  if (filter.active === true) q = q.where('ended_at', 'is', null);
  if (filter.active === false) q = q.where('ended_at', 'is not', null);
  const rows = await q.orderBy('blocked_at', 'desc').limit(Math.min(filter.limit ?? 100, 1000)).execute();
  return rows.map(blockView);
}

const samePurpose = (a: string, b: string) => a.trim().replace(/\s+/g, ' ').toLowerCase() === b.trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * Uses blocked data: only for the purpose that prevented their erasure (Prüm Decision Art. 28(3),
 * last sentence). The use, or its refusal, is recorded; the refusal leaves nothing else changed.
 */
export async function useBlockedData(db: Kysely<Schema>, country: string, actor: Actor, id: string, input: { purpose: string; reason: string }): Promise<{ block: BlockView; data: unknown; recordId: number }> {
  const purpose = checkText('purpose', input.purpose, 500);
  const reason = checkText('reason', input.reason, 2000);
  const outcome = await db.transaction().execute(async (trx) => {
    const b = await activeBlock(trx, id);
    const allowed = samePurpose(purpose, b.allowed_purpose);
    const data = blockedData(b.data);
    const rec = await writeRecord(trx, {
      action: 'rights.blocked-data.use',
      direction: 'local',
      searchingBody: `${country} NCP`,
      administeringBody: fileOf(country, b.target_kind),
      officerId: actor.officerId,
      officerReference: actor.reference,
      reason,
      purpose,
      legalBasis: BLOCKING_LEGAL_BASIS,
      query: { block: b.reference, target: { kind: b.target_kind, ref: b.target_ref } },
      supplied: allowed ? data : { refused: 'data-blocked', allowedPurpose: b.allowed_purpose },
      outcome: allowed ? 'done' : 'refused',
    });
    return { b, allowed, data, recordId: rec.id };
  });
  if (!outcome.allowed) {
    throw new OpenPrumError('data-blocked', `Block ${outcome.b.reference}: the ${label(outcome.b.target_kind, outcome.b.target_ref)} may be used only for "${outcome.b.allowed_purpose}", not for "${purpose}"; the refusal is recorded (record ${outcome.recordId})`, {
      block: outcome.b.reference,
      recordId: outcome.recordId,
    });
  }
  return { block: blockView(outcome.b), data: outcome.data, recordId: outcome.recordId };
}
