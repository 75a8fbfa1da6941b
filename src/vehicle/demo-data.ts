/** Made-up vehicles with known plates, for the demos and the tests that search them. */
import type { VehicleRow } from './model.ts';

export const DEMO_VEHICLES: readonly VehicleRow[] = [
  {
    registrationNumber: 'XK-123-B',
    vin: 'WVWZZZ1KZ6W612345',
    make: 'Volkswagen',
    model: 'Golf',
    vehicleType: 'passenger car',
    colour: 'grey',
    firstRegistrationDate: '2016-03-14',
    holder: { type: 'natural', surname: 'Jansen', firstNames: 'Pieter Hendrik', birthDate: '1978-04-12', address: 'Kerkweg 12, 3511 AB Utrecht' },
  },
  {
    registrationNumber: 'GB-777-Z',
    vin: 'VF1RFB00X62345678',
    make: 'Renault',
    model: 'Kangoo',
    vehicleType: 'van',
    colour: 'white',
    firstRegistrationDate: '2019-09-02',
    holder: { type: 'legal', name: 'Bakker Transport B.V.', address: 'Havenweg 3, 3089 JR Rotterdam' },
  },
];
