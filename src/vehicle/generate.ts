/**
 * Synthetic vehicle registers for demos, tests and benchmarks: deterministic by seed, shaped like
 * real data (plates in the country's style, valid VINs, natural and legal holders), and entirely
 * made up. No real person's data is ever needed to run or test a node.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Random } from '../util/random.ts';
import { CSV_COLUMNS, type VehicleRow } from './model.ts';

const VIN_CHARS = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';
const MAKES: Array<[string, string[]]> = [
  ['Volkswagen', ['Golf', 'Polo', 'Passat', 'Transporter']],
  ['Renault', ['Clio', 'Megane', 'Kangoo']],
  ['Peugeot', ['208', '308', '3008']],
  ['BMW', ['320d', 'X3', '118i']],
  ['Toyota', ['Corolla', 'Yaris', 'RAV4']],
  ['Volvo', ['V60', 'XC40', 'FH16']],
  ['Fiat', ['Panda', '500', 'Ducato']],
];
const TYPES = ['passenger car', 'passenger car', 'passenger car', 'van', 'motorcycle', 'lorry'];
const COLOURS = ['black', 'white', 'grey', 'silver', 'blue', 'red', 'green'];
const SURNAMES = ['Jansen', 'Müller', 'Martin', 'Bernard', 'de Vries', 'Schmidt', 'Dubois', 'Bakker', 'Weber', 'Moreau'];
const FIRST = ['Anna', 'Jan', 'Marie', 'Lukas', 'Sophie', 'Pierre', 'Emma', 'Noah', 'Léa', 'Finn'];
const STREETS = ['Hoofdstraat', 'Bahnhofstraße', 'Rue de la Paix', 'Kerkweg', 'Lindenallee', 'Avenue Victor Hugo'];
const CITIES: Record<string, string[]> = {
  NL: ['Amsterdam', 'Utrecht', 'Den Haag'],
  DE: ['Berlin', 'Köln', 'München'],
  FR: ['Paris', 'Lyon', 'Lille'],
};

function plate(rnd: Random, country: string, i: number): string {
  const L = 'BCDFGHJKLNPRSTVXZ';
  const letters = (n: number) => Array.from({ length: n }, () => rnd.pick([...L])).join('');
  // The index, in base 36, keeps plates unique within a file; the letters give a national look.
  const serial = i.toString(36).toUpperCase().padStart(5, '0');
  switch (country) {
    case 'DE':
      return `${letters(2)} ${serial.slice(0, 2)} ${serial.slice(2)}`;
    case 'FR':
      return `${letters(2)}-${serial}-${letters(1)}`;
    default:
      return `${letters(1)}-${serial.slice(0, 3)}-${serial.slice(3)}${letters(1)}`;
  }
}

function vin(rnd: Random, i: number): string {
  const wmi = rnd.pick(['WVW', 'VF1', 'VF3', 'WBA', 'JTD', 'YV1', 'ZFA']);
  let mid = '';
  for (let k = 0; k < 6; k++) mid += VIN_CHARS[rnd.int(VIN_CHARS.length)];
  // Serial part from the index keeps VINs unique; letters I, O, Q never appear.
  return `${wmi}${mid}${VIN_CHARS[rnd.int(VIN_CHARS.length)]}${i.toString().padStart(7, '0')}`;
}

function date(rnd: Random, fromYear: number, toYear: number): string {
  const y = fromYear + rnd.int(toYear - fromYear + 1);
  const m = 1 + rnd.int(12);
  const d = 1 + rnd.int(28);
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export function generateVehicle(rnd: Random, country: string, i: number): VehicleRow {
  const [make, models] = rnd.pick(MAKES);
  const city = rnd.pick(CITIES[country] ?? CITIES.NL!);
  const address = `${rnd.pick(STREETS)} ${1 + rnd.int(200)}, ${city}`;
  const holder: VehicleRow['holder'] =
    rnd.next() < 0.85
      ? { type: 'natural', surname: rnd.pick(SURNAMES), firstNames: `${rnd.pick(FIRST)} ${rnd.pick(FIRST)}`, birthDate: date(rnd, 1940, 2005), address }
      : { type: 'legal', name: `${rnd.pick(SURNAMES)} Logistics ${i % 97}`, address };
  return {
    registrationNumber: plate(rnd, country, i),
    vin: vin(rnd, i),
    make,
    model: rnd.pick(models),
    vehicleType: rnd.pick(TYPES),
    colour: rnd.pick(COLOURS),
    firstRegistrationDate: date(rnd, 1995, 2025),
    holder,
  };
}

function csvCell(v: string | undefined): string {
  if (v === undefined) return '';
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function vehicleToCsv(v: VehicleRow): string {
  const h = v.holder;
  const cells: Record<(typeof CSV_COLUMNS)[number], string | undefined> = {
    registrationNumber: v.registrationNumber,
    vin: v.vin,
    make: v.make,
    model: v.model,
    vehicleType: v.vehicleType,
    colour: v.colour,
    firstRegistrationDate: v.firstRegistrationDate,
    holderType: h.type,
    holderSurname: h.type === 'natural' ? h.surname : undefined,
    holderFirstNames: h.type === 'natural' ? h.firstNames : undefined,
    holderBirthDate: h.type === 'natural' ? h.birthDate : undefined,
    holderName: h.type === 'legal' ? h.name : undefined,
    holderAddress: h.address,
  };
  return CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',');
}

export interface GenerateOptions {
  readonly count: number;
  readonly country: string;
  readonly seed: number;
  readonly format: 'csv' | 'jsonl';
  /** Vehicles written first, as given (known demo plates). */
  readonly fixed?: readonly VehicleRow[];
}

export async function writeVehicleFile(file: string, options: GenerateOptions): Promise<void> {
  const out = createWriteStream(file);
  const rnd = new Random(options.seed);
  const write = async (line: string) => {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  if (options.format === 'csv') await write(CSV_COLUMNS.join(','));
  const emit = (v: VehicleRow) => write(options.format === 'csv' ? vehicleToCsv(v) : JSON.stringify(v));
  for (const v of options.fixed ?? []) await emit(v);
  for (let i = 0; i < options.count; i++) await emit(generateVehicle(rnd, options.country, i));
  out.end();
  await once(out, 'finish');
}
