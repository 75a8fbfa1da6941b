/**
 * Vehicle registration data as it is imported and answered: data relating to the vehicle and to its
 * owner or operator (Prüm Decision Art. 12(1)(a) and (b)). The holder is a natural person (surname,
 * first names, date of birth, address) or a legal person (name, address), never a mix: a field of the
 * one kind on the other is "personal data in the wrong place" and refused.
 */
import Type, { type Static } from 'typebox';

// Not blank, and no control characters (NUL, line breaks, escapes) anywhere.
const text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^(?=[\\s\\S]*\\S)[^\\u0000-\\u001f\\u007f]+$' });
const isoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

export const NaturalHolder = Type.Object(
  {
    type: Type.Literal('natural'),
    surname: text(200),
    firstNames: text(200),
    birthDate: isoDate,
    address: text(500),
  },
  { additionalProperties: false },
);

export const LegalHolder = Type.Object(
  {
    type: Type.Literal('legal'),
    name: text(300),
    address: text(500),
  },
  { additionalProperties: false },
);

export const VehicleRow = Type.Object(
  {
    registrationNumber: text(40),
    vin: text(40),
    make: text(100),
    model: text(100),
    vehicleType: text(100),
    colour: text(60),
    firstRegistrationDate: isoDate,
    holder: Type.Union([NaturalHolder, LegalHolder]),
  },
  { additionalProperties: false },
);
export type VehicleRow = Static<typeof VehicleRow>;

/** A vehicle as the register holds it and a search answers it. */
export interface Vehicle {
  readonly registrationNumber: string;
  readonly vin: string;
  readonly make: string;
  readonly model: string;
  readonly vehicleType: string;
  readonly colour: string;
  readonly firstRegistrationDate: string;
  readonly holder:
    | { readonly type: 'natural'; readonly surname: string; readonly firstNames: string; readonly birthDate: string; readonly address: string }
    | { readonly type: 'legal'; readonly name: string; readonly address: string };
}

/** The columns of the CSV form, in this order when the node writes one. */
export const CSV_COLUMNS = [
  'registrationNumber',
  'vin',
  'make',
  'model',
  'vehicleType',
  'colour',
  'firstRegistrationDate',
  'holderType',
  'holderSurname',
  'holderFirstNames',
  'holderBirthDate',
  'holderName',
  'holderAddress',
] as const;

/** A real calendar date (2023-02-30 is not) within [min, max]. */
export function checkDate(value: string, min: string, max: string): string | undefined {
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) return `${value} is not a calendar date`;
  if (value < min) return `${value} is before ${min}`;
  if (value > max) return `${value} is in the future`;
  return undefined;
}
