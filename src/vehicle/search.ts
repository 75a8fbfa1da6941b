/**
 * Automated search of vehicle registration data (Prüm Decision Art. 12), with its record
 * (Art. 30(2)(b)) written in the same transaction as the answer.
 */
import type { Kysely, Selectable } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type Caller } from '../identity/caller.ts';
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

export function toVehicle(r: Selectable<Schema['vehicles']>): Vehicle {
  return {
    registrationNumber: r.registration_display,
    vin: r.vin,
    make: r.make,
    model: r.model,
    vehicleType: r.vehicle_type,
    colour: r.colour,
    firstRegistrationDate: r.first_registration,
    holder:
      r.holder_type === 'natural'
        ? { type: 'natural', surname: r.holder_surname ?? '', firstNames: r.holder_first_names ?? '', birthDate: r.holder_birth_date ?? '', address: r.holder_address }
        : { type: 'legal', name: r.holder_name ?? '', address: r.holder_address },
  };
}

function checkText(field: string, value: string, max: number): string {
  const v = value.trim();
  if (v.length === 0) throw new OpenPrumError('vehicle-search-invalid', `${field} must not be empty: the record must say it (Prüm Decision Art. 30(2)(b))`, { field });
  if (v.length > max) throw new OpenPrumError('vehicle-search-invalid', `${field} is longer than ${max} characters`, { field });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new OpenPrumError('vehicle-search-invalid', `${field} must not contain control characters`, { field });
  return v;
}

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
  const reason = checkText('reason', input.reason, 500);
  const orderedBy = checkText('orderedBy', input.orderedBy, 200);
  const key = hasVin ? 'vin' : 'registrationNumber';
  const checked = hasVin ? normaliseVin(input.vin!) : normaliseRegistration(input.registrationNumber!);
  if (!checked.ok) {
    throw new OpenPrumError(checked.partial ? 'vehicle-search-partial' : 'vehicle-search-invalid', `${key}: ${checked.reason}`, { field: key });
  }
  return { key, value: checked.value, purpose: input.purpose as VehiclePurpose, reason, orderedBy };
}

export async function searchVehicles(ctx: VehicleSearchContext, caller: Caller, input: VehicleSearchInput, requestId?: string): Promise<VehicleSearchAnswer> {
  // Only specially authorised officers may search (Art. 30(2)(a)).
  requireRole(caller, 'officer');
  const q = checkVehicleSearch(input);
  const searchingBody = `${ctx.country} NCP`;
  const administeringBody = `${ctx.country} vehicle register`;
  return ctx.db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('vehicles')
      .selectAll()
      .where(q.key === 'vin' ? 'vin' : 'registration_number', '=', q.value)
      .execute();
    const vehicles = rows.map(toVehicle);
    const hit = vehicles.length > 0;
    const rec = await writeRecord(trx, {
      action: 'vehicle.search',
      direction: 'local',
      searchingBody,
      administeringBody,
      officerId: caller.officerId,
      officerReference: caller.reference,
      orderedBy: q.orderedBy,
      reason: q.reason,
      purpose: q.purpose,
      legalBasis: VEHICLE_LEGAL_BASIS,
      query: { [q.key]: q.value },
      supplied: hit ? vehicles : null,
      hit,
      outcome: hit ? 'hit' : 'no-hit',
      requestId: requestId ?? null,
    });
    return { hit, vehicles, recordId: rec.id, searchedAt: rec.recordedAt, searchingBody, administeringBody };
  });
}
