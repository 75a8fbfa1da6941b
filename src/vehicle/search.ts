/**
 * Automated search of vehicle registration data (Prüm Decision Art. 12), with its record
 * (Art. 30(2)(b)) written in the same transaction as the answer.
 */
import { sql, type Kysely } from 'kysely';
import { recordValues } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type Caller } from '../identity/caller.ts';
import { requiredText } from '../util/validate.ts';
import { normaliseRegistration, normaliseVin } from './keys.ts';
import type { Vehicle } from './model.ts';

/**
 * The grounds on which Art. 12(1) opens vehicle data: the prevention and investigation of criminal
 * offences; other offences within the jurisdiction of the courts or the public prosecution service in
 * the searching State; the maintenance of public security.
 */
export const VEHICLE_PURPOSES = ['criminal-offences', 'other-offences', 'public-security'] as const;
export type VehiclePurpose = (typeof VEHICLE_PURPOSES)[number];
export const VEHICLE_LEGAL_BASIS = 'Prüm Decision Art. 12(1)';

export interface VehicleSearchInput {
  readonly vin?: string | undefined;
  readonly registrationNumber?: string | undefined;
  readonly purpose: string;
  readonly reason: string;
  readonly orderedBy: string;
}

export interface VehicleSearchAnswer {
  readonly hit: boolean;
  readonly vehicles: Vehicle[];
  readonly recordId: number;
  readonly searchedAt: string;
  readonly searchingBody: string;
  readonly administeringBody: string;
}

export interface VehicleSearchContext {
  readonly db: Kysely<Schema>;
  readonly country: string;
}

/**
 * A vehicle row as the JSON a search answers (the shape of `Vehicle`). Built in SQL so that the answer
 * and the record of it are one value from one statement.
 */
const VEHICLE_JSON = sql`jsonb_build_object(
  'registrationNumber', v.registration_display, 'vin', v.vin, 'make', v.make, 'model', v.model,
  'vehicleType', v.vehicle_type, 'colour', v.colour,
  'firstRegistrationDate', to_char(v.first_registration, 'YYYY-MM-DD'),
  'holder', case when v.holder_type = 'natural'
    then jsonb_build_object('type', 'natural', 'surname', v.holder_surname, 'firstNames', v.holder_first_names,
      'birthDate', to_char(v.holder_birth_date, 'YYYY-MM-DD'), 'address', v.holder_address)
    else jsonb_build_object('type', 'legal', 'name', v.holder_name, 'address', v.holder_address) end)`;

/** Validates and normalises a search; throws a clear error for anything Art. 12 does not allow. */
export function checkVehicleSearch(input: VehicleSearchInput): { key: 'vin' | 'registrationNumber'; value: string; purpose: VehiclePurpose; reason: string; orderedBy: string } {
  const hasVin = input.vin !== undefined;
  const hasReg = input.registrationNumber !== undefined;
  if (hasVin === hasReg) {
    throw new OpenPrumError('vehicle-search-invalid', 'Give exactly one of vin or registrationNumber', { field: hasVin ? 'registrationNumber' : 'vin' });
  }
  if (!(VEHICLE_PURPOSES as readonly string[]).includes(input.purpose)) {
    throw new OpenPrumError('purpose-invalid', `purpose must be one of ${VEHICLE_PURPOSES.join(', ')} (the grounds of Prüm Decision Art. 12(1))`, { field: 'purpose' });
  }
  const reason = requiredText('reason', input.reason, 500, 'vehicle-search-invalid');
  const orderedBy = requiredText('orderedBy', input.orderedBy, 200, 'vehicle-search-invalid');
  const key = hasVin ? 'vin' : 'registrationNumber';
  const checked = hasVin ? normaliseVin(input.vin!) : normaliseRegistration(input.registrationNumber!);
  if (!checked.ok) {
    throw new OpenPrumError(checked.partial ? 'vehicle-search-partial' : 'vehicle-search-invalid', `${key}: ${checked.reason}`, { field: key });
  }
  return { key, value: checked.value, purpose: input.purpose as VehiclePurpose, reason, orderedBy };
}

export async function searchVehicles(ctx: VehicleSearchContext, caller: Caller, input: VehicleSearchInput, requestId?: string): Promise<VehicleSearchAnswer> {
  // Only specially authorised officers may search (Art. 30(2)(a)). A peer node's search is an
  // incoming one: the searching body is that state's contact point (Art. 30(2)(b)(iii)), and what it
  // may search is checked by the exchange against this node's declaration (Arts. 12 and 36).
  if (caller.kind === 'officer') requireRole(caller, 'officer');
  const q = checkVehicleSearch(input);
  const searchingBody = `${caller.kind === 'peer' ? caller.country : ctx.country} NCP`;
  const administeringBody = `${ctx.country} vehicle register`;
  // One statement, hence one transaction: find the vehicle, write the record with the data supplied,
  // and return that record's data as the answer. There is no answer without its record, and the
  // answer is by construction what the record says was supplied (Art. 30(2)(b)(i)).
  const keyColumn = q.key === 'vin' ? sql.ref('v.vin') : sql.ref('v.registration_number');
  const rec = recordValues({
    action: 'vehicle.search',
    direction: caller.kind === 'peer' ? 'incoming' : 'local',
    searchingBody,
    administeringBody,
    officerId: caller.kind === 'officer' ? caller.officerId : null,
    officerReference: caller.kind === 'officer' ? caller.reference : null,
    orderedBy: q.orderedBy,
    reason: q.reason,
    purpose: q.purpose,
    legalBasis: VEHICLE_LEGAL_BASIS,
    query: { [q.key]: q.value },
    outcome: 'no-hit',
    requestId: requestId ?? null,
  });
  const result = await sql<{ id: number; recorded_at: string; supplied: Vehicle[] | null }>`
    with answer as (
      select jsonb_agg(${VEHICLE_JSON} order by v.id) as vehicles from vehicles v where ${keyColumn} = ${q.value}
    )
    insert into records (action, direction, searching_body, administering_body, officer_id, officer_reference,
      ordered_by, reason, purpose, legal_basis, query, supplied, hit, outcome, request_id)
    select ${rec.action}, ${rec.direction}, ${rec.searching_body}, ${rec.administering_body}, ${rec.officer_id}::bigint,
      ${rec.officer_reference}, ${rec.ordered_by}, ${rec.reason}, ${rec.purpose}, ${rec.legal_basis}, ${rec.query}::jsonb,
      answer.vehicles, answer.vehicles is not null,
      case when answer.vehicles is null then 'no-hit' else 'hit' end, ${rec.request_id}
    from answer
    returning id, recorded_at, supplied`.execute(ctx.db);
  const row = result.rows[0]!;
  const vehicles = row.supplied ?? [];
  return { hit: vehicles.length > 0, vehicles, recordId: row.id, searchedAt: row.recorded_at, searchingBody, administeringBody };
}
