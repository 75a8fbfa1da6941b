import type { FastifyPluginAsync } from 'fastify';
import Type, { type Static } from 'typebox';
import type { NodeContext } from '../../node/node.ts';
import { searchVehicles, VEHICLE_PURPOSES } from '../../vehicle/search.ts';

const VehicleSearch = Type.Object(
  {
    vin: Type.Optional(Type.String({ maxLength: 64, description: 'Full 17-character VIN (ISO 3779); spaces, hyphens and case are normalised' })),
    registrationNumber: Type.Optional(Type.String({ maxLength: 64, description: 'Full registration number; spaces, hyphens and case are normalised' })),
    purpose: Type.Union(VEHICLE_PURPOSES.map((p) => Type.Literal(p)), { description: 'Ground of Prüm Decision Art. 12(1)' }),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Reason for the search, recorded (Art. 30(2)(b))' }),
    orderedBy: Type.String({ minLength: 1, maxLength: 200, description: 'Official who ordered the search, recorded (Art. 30(2)(b))' }),
  },
  {
    additionalProperties: false,
    examples: [{ registrationNumber: 'NL-01-ABC', purpose: 'criminal-offences', reason: 'Case 2026/123: vehicle seen at a burglary', orderedBy: 'Inspector J. de Vries' }],
  },
);

export function vehicleRoutes(node: NodeContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: Static<typeof VehicleSearch> }>(
      '/v1/vehicles/searches',
      {
        config: { roles: ['officer'] },
        schema: {
          summary: 'Search vehicle registration data by full VIN or full registration number (Prüm Decision Art. 12)',
          description: 'Answers the vehicle and its owner or operator, or no hit. Every search is recorded with its answer (Art. 30(2)(b)).',
          tags: ['vehicles'],
          body: VehicleSearch,
        },
      },
      async (req) => searchVehicles({ db: node.db, country: node.country }, req.caller!, req.body, req.id),
    );
  };
}
