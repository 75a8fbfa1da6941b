import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../test/support/test-node.ts';
import { OpenPrumError } from '../errors/index.ts';
import { writeVehicleFile } from './generate.ts';
import { importVehicles } from './import.ts';
import { CSV_COLUMNS } from './model.ts';

const HEADER = CSV_COLUMNS.join(',');
const GOOD_NATURAL = 'XK-123-B,WVWZZZ1KZ6W612345,Volkswagen,Golf,passenger car,grey,2016-03-14,natural,Jansen,Pieter Hendrik,1978-04-12,,"Kerkweg 12, Utrecht"';
const GOOD_LEGAL = 'GB-777-Z,VF1RFB00X62345678,Renault,Kangoo,van,white,2019-09-02,legal,,,,Bakker Transport B.V.,"Havenweg 3, Rotterdam"';

let t: TestNode;
let dir: string;
let n = 0;

function file(name: string, content: string): string {
  const p = join(dir, `${n++}-${name}`);
  writeFileSync(p, content);
  return p;
}

async function count(): Promise<number> {
  const r = await t.node.db.selectFrom('vehicles').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

async function expectRejected(path: string, pattern: RegExp, line?: number): Promise<void> {
  const before = await count();
  const imports = await t.node.db.selectFrom('vehicle_imports').select('id').execute();
  const err = await importVehicles(t.node.db, path, { today: '2026-11-23' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenPrumError);
  const e = err as OpenPrumError;
  expect(e.code).toMatch(/^(vehicle-import-invalid|usage|file-unreadable)$/);
  expect(e.message).toMatch(pattern);
  if (line !== undefined) expect(e.details?.line).toBe(line);
  // All or nothing: neither vehicles nor the import's own row were kept.
  expect(await count()).toBe(before);
  expect(await t.node.db.selectFrom('vehicle_imports').select('id').execute()).toEqual(imports);
}

beforeAll(async () => {
  t = await createTestNode();
  dir = mkdtempSync(join(tmpdir(), 'openprum-import-'));
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('vehicle import', () => {
  it('imports CSV with natural and legal holders, normalising the keys', async () => {
    const r = await importVehicles(t.node.db, file('ok.csv', `${HEADER}\n${GOOD_NATURAL}\n${GOOD_LEGAL}\n`));
    expect(r).toMatchObject({ rows: 2, inserted: 2, updated: 0, format: 'csv', mode: 'upsert' });
    const rows = await t.node.db.selectFrom('vehicles').selectAll().orderBy('vin', 'desc').execute();
    expect(rows[0]).toMatchObject({ vin: 'WVWZZZ1KZ6W612345', registration_number: 'XK123B', registration_display: 'XK-123-B', holder_type: 'natural', holder_birth_date: '1978-04-12', holder_name: null });
    expect(rows[1]).toMatchObject({ vin: 'VF1RFB00X62345678', holder_type: 'legal', holder_name: 'Bakker Transport B.V.', holder_surname: null });
  });

  it('imports JSON Lines and updates a vehicle by VIN', async () => {
    const moved = { registrationNumber: 'XK-124-B', vin: 'wvwzzz1kz6w612345', make: 'Volkswagen', model: 'Golf', vehicleType: 'passenger car', colour: 'red', firstRegistrationDate: '2016-03-14', holder: { type: 'legal', name: 'Lease B.V.', address: 'Amsterdam' } };
    const r = await importVehicles(t.node.db, file('upd.jsonl', `${JSON.stringify(moved)}\n\n`));
    expect(r).toMatchObject({ rows: 1, inserted: 0, updated: 1, format: 'jsonl' });
    const row = await t.node.db.selectFrom('vehicles').selectAll().where('vin', '=', 'WVWZZZ1KZ6W612345').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ registration_number: 'XK124B', colour: 'red', holder_type: 'legal', holder_surname: null, holder_birth_date: null });
  });

  it('imports a generated register of 20,000 vehicles and replaces the register with --replace', async () => {
    const p = join(dir, 'gen.csv');
    await writeVehicleFile(p, { count: 20_000, country: 'DE', seed: 7, format: 'csv' });
    const progress: number[] = [];
    const r = await importVehicles(t.node.db, p, { mode: 'replace', onProgress: (x) => progress.push(x) });
    expect(r).toMatchObject({ rows: 20_000, inserted: 20_000, mode: 'replace' });
    expect(progress.at(-1)).toBe(20_000);
    expect(await count()).toBe(20_000);
  });

  describe('rejects the whole file, naming the line, and stores nothing', () => {
    it('a bad VIN on line 3', () => expectRejected(file('v.csv', `${HEADER}\n${GOOD_NATURAL.replace('XK-123-B', 'NEW-1').replace('WVWZZZ1KZ6W612345', 'AAAAAAAAAAAAAAAA1')}\n${GOOD_LEGAL.replace('VF1RFB00X62345678', 'VF1RFB00X6234567O')}\n`), /line 3: vin: .*I, O or Q/, 3));
    it('a partial VIN', () => expectRejected(file('p.csv', `${HEADER}\n${GOOD_NATURAL.replace('WVWZZZ1KZ6W612345', 'WVWZZZ1KZ')}\n`), /line 2: vin: .*17 characters/, 2));
    it('an impossible date', () => expectRejected(file('d.csv', `${HEADER}\n${GOOD_NATURAL.replace('2016-03-14', '2016-02-30')}\n`), /firstRegistrationDate: 2016-02-30 is not a calendar date/));
    it('a birth date in the future', () => expectRejected(file('b.csv', `${HEADER}\n${GOOD_NATURAL.replace('1978-04-12', '2030-01-01')}\n`), /birthDate: 2030-01-01 is in the future/));
    it('an unknown column', () => expectRejected(file('u.csv', `${HEADER},religion\n${GOOD_NATURAL},none\n`), /line 1: unknown column "religion"/, 1));
    it('a missing column', () => expectRejected(file('m.csv', `registrationNumber,vin\nXK-1,WVWZZZ1KZ6W612345\n`), /missing columns make/));
    it('a name of a person on a legal person (personal data in the wrong place)', () =>
      expectRejected(file('w.csv', `${HEADER}\n${GOOD_LEGAL.replace('legal,,,,', 'legal,Smith,,,')}\n`), /line 2: personal data in the wrong place: holderSurname/, 2));
    it('a company name on a natural person', () => expectRejected(file('w2.csv', `${HEADER}\n${GOOD_NATURAL.replace('1978-04-12,,', '1978-04-12,ACME,')}\n`), /personal data in the wrong place: holderName/));
    it('a birth date on a legal person in JSON Lines', () =>
      expectRejected(file('w3.jsonl', `${JSON.stringify({ registrationNumber: 'A1', vin: 'VF1RFB00X62345679', make: 'a', model: 'b', vehicleType: 'c', colour: 'd', firstRegistrationDate: '2020-01-01', holder: { type: 'legal', name: 'X', address: 'Y', birthDate: '1970-01-01' } })}\n`), /personal data in the wrong place: a legal person holder has no "birthDate"/));
    it('an unknown field in JSON Lines', () => expectRejected(file('x.jsonl', `${JSON.stringify({ registrationNumber: 'A1', vin: 'VF1RFB00X62345679', make: 'a', model: 'b', vehicleType: 'c', colour: 'd', firstRegistrationDate: '2020-01-01', holder: { type: 'legal', name: 'X', address: 'Y' }, note: 'x' })}\n`), /unknown field "note"/));
    it('broken JSON on line 2', () => expectRejected(file('j.jsonl', `${JSON.stringify({ registrationNumber: 'A1' })}\n{"vin": \n`), /line 1|line 2/));
    it('a JSON array instead of an object', () => expectRejected(file('a.jsonl', '[1,2]\n'), /line 1: each line must be one JSON object/, 1));
    it('malformed CSV quoting', () => expectRejected(file('q.csv', `${HEADER}\n${GOOD_NATURAL}\n"unclosed,quote\n`), /malformed CSV/));
    it('a duplicate VIN in the file', () => expectRejected(file('dup.csv', `${HEADER}\n${GOOD_NATURAL}\n${GOOD_NATURAL.replace('XK-123-B', 'XK-999-B')}\n`), /line 3: VIN WVWZZZ1KZ6W612345 appears already on line 2/, 3));
    it('a duplicate registration number in the file', () => expectRejected(file('dupr.csv', `${HEADER}\n${GOOD_NATURAL}\n${GOOD_LEGAL.replace('GB-777-Z', 'xk 123 b')}\n`), /registration number XK 123 B appears already on line 2/));
    it('a wildcard in a registration number', () => expectRejected(file('wc.csv', `${HEADER}\n${GOOD_NATURAL.replace('XK-123-B', 'XK-12*')}\n`), /registrationNumber: wildcards/));
    it('SQL in a field is stored as text, but not in a key', () => expectRejected(file('sql.csv', `${HEADER}\n${GOOD_NATURAL.replace('XK-123-B', "X'); DROP TABLE vehicles; --")}\n`), /registrationNumber/));
    it('control characters in a text field', () => expectRejected(file('ctl.jsonl', `${JSON.stringify({ registrationNumber: 'A1', vin: 'VF1RFB00X62345679', make: 'a\u0000b', model: 'b', vehicleType: 'c', colour: 'd', firstRegistrationDate: '2020-01-01', holder: { type: 'legal', name: 'X', address: 'Y' } })}\n`), /make/));
    it('an empty file', () => expectRejected(file('empty.jsonl', ''), /holds no vehicles/));
    it('a header only', () => expectRejected(file('hdr.csv', `${HEADER}\n`), /holds no vehicles/));
    it('an unknown extension', () => expectRejected(file('v.txt', 'x'), /Cannot tell the format/));
    it('a missing file', () => expectRejected(join(dir, 'nope.csv'), /Cannot read/));
    it('a bad row after 10,000 good ones (the earlier batches are rolled back)', async () => {
      const p = join(dir, 'late.csv');
      await writeVehicleFile(p, { count: 10_000, country: 'FR', seed: 9, format: 'csv' });
      const { appendFileSync } = await import('node:fs');
      appendFileSync(p, `${GOOD_NATURAL.replace('1978-04-12', '1978-13-12')}\n`);
      await expectRejected(p, /line 10002: holder.birthDate/, 10002);
    });
    it('a registration number that belongs to another vehicle in the register', async () => {
      const existing = await t.node.db.selectFrom('vehicles').select(['registration_display']).limit(1).executeTakeFirstOrThrow();
      await expectRejected(file('taken.csv', `${HEADER}\n${GOOD_LEGAL.replace('GB-777-Z', existing.registration_display).replace('VF1RFB00X62345678', 'VF1RFB00X62345670')}\n`), /is registered to another vehicle/);
    });
  });
});
