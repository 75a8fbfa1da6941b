/**
 * Vehicle registration data as a federated search kind (Prüm Decision Art. 12; 2008/616/JHA Art. 15
 * and Annex ch. 3): the requesting state sends one full VIN or full registration number and the ground
 * of Art. 12(1); the answer is the vehicle and its owner or operator, or no hit. The incoming side runs
 * the vehicle capability's own search, so the rules (full keys only, exact match) and the record are
 * the same as for a local search, with the peer as searching body.
 */
import Type, { type Static } from 'typebox';
import { checkVehicleSearch, searchVehicles, VEHICLE_LEGAL_BASIS, type VehiclePurpose } from '../vehicle/search.ts';
import { VehicleRow } from '../vehicle/model.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { SearchKind } from './search-kinds.ts';

/** The grounds of Art. 12(1), as the vehicle capability names them (VEHICLE_PURPOSES). */
const VehiclePurposeSchema = Type.Union([Type.Literal('criminal-offences'), Type.Literal('other-offences'), Type.Literal('public-security')]);
// Fails to compile if the capability's list of grounds and this schema drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _samePurposes: Same<Static<typeof VehiclePurposeSchema>, VehiclePurpose> = true;

export const VehicleQuery = Type.Object(
  {
    key: Type.Union([Type.Literal('vin'), Type.Literal('registrationNumber')]),
    value: Type.String({ minLength: 1, maxLength: 64 }),
    purpose: VehiclePurposeSchema,
  },
  { additionalProperties: false },
);
export type VehicleQuery = Static<typeof VehicleQuery>;

export const VehicleResult = Type.Object({ vehicles: Type.Array(VehicleRow, { maxItems: 100 }) }, { additionalProperties: false });
export type VehicleResult = Static<typeof VehicleResult>;

/** What an officer gives as the query of a federated vehicle search. */
const OfficerVehicleQuery = Type.Object(
  {
    vin: Type.Optional(Type.String({ maxLength: 64 })),
    registrationNumber: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/**
 * No deadline is set in law for vehicle answers (they are answered at once by the registers); the
 * same 15 minutes as for DNA flag an answer as late.
 */
export const VEHICLE_ANSWER_DUE_MS = 15 * 60_000;

export const vehicleSearchKind: SearchKind<VehicleQuery, VehicleResult> = {
  name: 'vehicle',
  legalBasis: VEHICLE_LEGAL_BASIS,
  files: ['vehicle'],
  querySchema: VehicleQuery,
  resultSchema: VehicleResult,
  answerDueMs: VEHICLE_ANSWER_DUE_MS,
  maxItems: 1,

  prepare(search) {
    const q = search.query as Record<string, unknown> | null;
    if (typeof q !== 'object' || q === null || Array.isArray(q)) {
      throw new OpenPrumError('federation-search-invalid', 'query must be an object with vin or registrationNumber');
    }
    for (const k of Object.keys(q)) {
      if (!(k in OfficerVehicleQuery.properties)) throw new OpenPrumError('federation-search-invalid', `query has an unknown field ${JSON.stringify(k)}; give vin or registrationNumber`);
    }
    if ((q.vin !== undefined && typeof q.vin !== 'string') || (q.registrationNumber !== undefined && typeof q.registrationNumber !== 'string')) {
      throw new OpenPrumError('federation-search-invalid', 'query.vin and query.registrationNumber are strings');
    }
    // The vehicle capability's own rules: one full key, a lawful ground (Art. 12(1)).
    const checked = checkVehicleSearch({
      vin: q.vin as string | undefined,
      registrationNumber: q.registrationNumber as string | undefined,
      purpose: search.purpose,
      reason: search.reason,
      orderedBy: search.orderedBy,
    });
    return { key: checked.key, value: checked.value, purpose: checked.purpose };
  },

  items: () => 1,

  async handle(node, peer, query, search) {
    const answer = await searchVehicles(
      { db: node.db, country: node.country },
      peer,
      {
        [query.key]: query.value,
        purpose: query.purpose,
        // The requesting state keeps its officers' names and reasons in its own record; this node
        // records who asked (the state) and its reference (Art. 30(2)(b)).
        reason: `Automated search by ${peer.country} NCP, request ${search.reference}`,
        orderedBy: `${peer.country} NCP`,
      },
      search.messageId,
    );
    return { hit: answer.hit, result: { vehicles: answer.vehicles as VehicleResult['vehicles'] }, recordId: answer.recordId };
  },
};
