/**
 * Import of the vehicle register from CSV or JSON Lines. An import is all-or-nothing: it runs in one
 * transaction, and the first bad row aborts it with its line number and reason, so that the register
 * is never left half-updated.
 *
 * Modes: `upsert` (default) adds new vehicles and replaces those whose VIN is already registered;
 * `replace` makes the file the whole register.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { check, describeProblems } from '../util/validate.ts';
import { displayRegistration, normaliseRegistration, normaliseVin } from './keys.ts';
import { checkDate, CSV_COLUMNS, LegalHolder, NaturalHolder, VehicleRow } from './model.ts';

export type ImportFormat = 'csv' | 'jsonl';
export type ImportMode = 'upsert' | 'replace';

export interface ImportOptions {
  readonly format?: ImportFormat | undefined;
  readonly mode?: ImportMode | undefined;
  /** Called every few thousand rows with the number of rows read so far. */
  readonly onProgress?: ((rows: number) => void) | undefined;
  /** "Today" for date checks; tests pin it. */
  readonly today?: string | undefined;
}

export interface ImportResult {
  readonly importId: number;
  readonly file: string;
  readonly sha256: string;
  readonly format: ImportFormat;
  readonly mode: ImportMode;
  readonly rows: number;
  readonly inserted: number;
  readonly updated: number;
  readonly seconds: number;
}

interface PreparedRow {
  readonly line: number;
  readonly vin: string;
  readonly registration: string;
  readonly registrationDisplay: string;
  readonly row: VehicleRow;
}

const BATCH = 5000;
const MAX_LINE = 64 * 1024;

export function detectFormat(file: string): ImportFormat {
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  throw new OpenPrumError('usage', `Cannot tell the format of ${basename(file)} from its name; name it .csv or .jsonl, or pass --format`);
}

function fail(line: number, reason: string): never {
  throw new OpenPrumError('vehicle-import-invalid', `line ${line}: ${reason}; nothing was imported`, { line });
}

/** Turns one parsed row into a checked, normalised row, or fails naming the line. */
export function prepareRow(value: unknown, line: number, today: string): PreparedRow {
  if (!check(VehicleRow, value)) {
    // Check the holder against the branch its type names, so that the error speaks of that branch.
    const holder = (value as { holder?: unknown } | null)?.holder;
    const holderType = (holder as { type?: unknown } | null | undefined)?.type;
    const branch = holderType === 'natural' ? NaturalHolder : holderType === 'legal' ? LegalHolder : undefined;
    if (branch && !check(branch, holder)) {
      const hp = describeProblems(branch, holder)[0];
      if (hp && /unknown field/.test(hp.message)) {
        fail(line, `personal data in the wrong place: a ${holderType} person holder has no ${hp.message.replace(/^unknown fields? /, '')}`);
      }
      if (hp) fail(line, `holder${hp.path === '(body)' ? '' : `.${hp.path}`} ${hp.message}`);
    }
    const p = describeProblems(VehicleRow, value).filter((x) => !x.path.startsWith('holder'));
    const first = p[0];
    fail(line, first ? `${first.path === '(body)' ? 'the row' : first.path} ${first.message}` : 'holder.type must be "natural" or "legal"');
  }
  const row = value;
  const vin = normaliseVin(row.vin);
  if (!vin.ok) fail(line, `vin: ${vin.reason}`);
  const reg = normaliseRegistration(row.registrationNumber);
  if (!reg.ok) fail(line, `registrationNumber: ${reg.reason}`);
  const badFirst = checkDate(row.firstRegistrationDate, '1885-01-01', today);
  if (badFirst) fail(line, `firstRegistrationDate: ${badFirst}`);
  if (row.holder.type === 'natural') {
    const badBirth = checkDate(row.holder.birthDate, '1880-01-01', today);
    if (badBirth) fail(line, `holder.birthDate: ${badBirth}`);
  }
  return { line, vin: vin.value, registration: reg.value, registrationDisplay: displayRegistration(row.registrationNumber), row };
}

/** CSV cells to the row shape: holder columns gathered, empty cells absent. */
function csvToRow(rec: Record<string, string>, line: number): unknown {
  const get = (k: string): string | undefined => {
    const v = rec[k];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const type = get('holderType');
  const holder: Record<string, string | undefined> = { type };
  if (type === 'natural') {
    Object.assign(holder, { surname: get('holderSurname'), firstNames: get('holderFirstNames'), birthDate: get('holderBirthDate'), address: get('holderAddress') });
    if (get('holderName')) fail(line, 'personal data in the wrong place: holderName is for legal persons, this holder is a natural person');
  } else if (type === 'legal') {
    Object.assign(holder, { name: get('holderName'), address: get('holderAddress') });
    for (const k of ['holderSurname', 'holderFirstNames', 'holderBirthDate']) {
      if (get(k)) fail(line, `personal data in the wrong place: ${k} is for natural persons, this holder is a legal person`);
    }
  } else {
    fail(line, `holderType must be "natural" or "legal"${type ? `, not ${JSON.stringify(type)}` : ''}`);
  }
  for (const k of Object.keys(holder)) if (holder[k] === undefined) delete holder[k];
  const row: Record<string, unknown> = { holder };
  for (const k of ['registrationNumber', 'vin', 'make', 'model', 'vehicleType', 'colour', 'firstRegistrationDate']) {
    const v = get(k);
    if (v !== undefined) row[k] = v;
  }
  return row;
}

async function* readCsv(file: string): AsyncGenerator<{ value: unknown; line: number }> {
  const parser = createReadStream(file).pipe(
    parseCsv({
      bom: true,
      info: true,
      skip_empty_lines: true,
      max_record_size: MAX_LINE,
      columns: (header: string[]) => {
        const cols = header.map((h) => h.trim());
        const unknown = cols.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
        if (unknown.length > 0) fail(1, `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => JSON.stringify(c)).join(', ')}; the columns are ${CSV_COLUMNS.join(', ')}`);
        const dup = cols.find((c, i) => cols.indexOf(c) !== i);
        if (dup) fail(1, `column ${JSON.stringify(dup)} appears twice`);
        const missing = CSV_COLUMNS.filter((c) => !cols.includes(c) && !['holderSurname', 'holderFirstNames', 'holderBirthDate', 'holderName'].includes(c));
        if (missing.length > 0) fail(1, `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
        return cols;
      },
    }),
  );
  try {
    for await (const chunk of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      const line = chunk.info.lines;
      yield { value: csvToRow(chunk.record, line), line };
    }
  } catch (e) {
    if (e instanceof OpenPrumError) throw e;
    const err = e as { message: string; lines?: number };
    fail(err.lines ?? 0, `malformed CSV: ${err.message}`);
  }
}

async function* readJsonl(file: string): AsyncGenerator<{ value: unknown; line: number }> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    if (text.length > MAX_LINE) fail(n, `the line is longer than ${MAX_LINE} characters`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      fail(n, `not valid JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(n, 'each line must be one JSON object');
    yield { value, line: n };
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function importVehicles(db: Kysely<Schema>, file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const started = performance.now();
  const format = options.format ?? detectFormat(file);
  const mode = options.mode ?? 'upsert';
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a regular file');
  } catch (e) {
    throw new OpenPrumError('file-unreadable', `Cannot read ${file}: ${(e as Error).message}`);
  }
  const sha256 = await sha256File(file);

  const result = await db.transaction().execute(async (trx) => {
    const imp = await trx
      .insertInto('vehicle_imports')
      .values({ file_name: basename(file), sha256, format, mode, row_count: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (mode === 'replace') await trx.deleteFrom('vehicles').execute();

    const seenVin = new Map<string, number>();
    const seenReg = new Map<string, number>();
    let batch: PreparedRow[] = [];
    let rows = 0;
    let inserted = 0;
    let sinceAnalyze = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      inserted += await insertBatch(trx, batch, imp.id);
      sinceAnalyze += batch.length;
      batch = [];
      // A register that grows by hundreds of thousands of rows inside one transaction has no fresh
      // statistics; without them the planner scans the whole table for every batch's look-up.
      if (sinceAnalyze >= 100_000) {
        await sql`analyze vehicles`.execute(trx);
        sinceAnalyze = 0;
      }
    };
    const source = format === 'csv' ? readCsv(file) : readJsonl(file);
    for await (const { value, line } of source) {
      const p = prepareRow(value, line, today);
      const dv = seenVin.get(p.vin);
      if (dv !== undefined) fail(line, `VIN ${p.vin} appears already on line ${dv}`);
      const dr = seenReg.get(p.registration);
      if (dr !== undefined) fail(line, `registration number ${p.registrationDisplay} appears already on line ${dr}`);
      seenVin.set(p.vin, line);
      seenReg.set(p.registration, line);
      batch.push(p);
      rows++;
      if (batch.length >= BATCH) {
        await flush();
        options.onProgress?.(rows);
      }
    }
    await flush();
    if (rows === 0) throw new OpenPrumError('vehicle-import-invalid', `${basename(file)} holds no vehicles; nothing was imported`);
    options.onProgress?.(rows);
    await trx.updateTable('vehicle_imports').set({ row_count: rows }).where('id', '=', imp.id).execute();
    await sql`analyze vehicles`.execute(trx);
    return { importId: imp.id, rows, inserted };
  });
  return {
    importId: result.importId,
    file,
    sha256,
    format,
    mode,
    rows: result.rows,
    inserted: result.inserted,
    updated: result.rows - result.inserted,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
}

/** Inserts (or, by VIN, replaces) one batch; returns how many rows were new. */
async function insertBatch(trx: Transaction<Schema>, batch: PreparedRow[], importId: number): Promise<number> {
  const col = <T>(f: (b: PreparedRow) => T) => batch.map(f);
  const natural = (b: PreparedRow) => (b.row.holder.type === 'natural' ? b.row.holder : undefined);
  const legal = (b: PreparedRow) => (b.row.holder.type === 'legal' ? b.row.holder : undefined);
  const query = sql<{ inserted: boolean }>`
    insert into vehicles (vin, registration_number, registration_display, make, model, vehicle_type, colour,
      first_registration, holder_type, holder_surname, holder_first_names, holder_birth_date, holder_name,
      holder_address, import_id)
    select v.*, ${importId}::bigint from unnest(
      ${col((b) => b.vin)}::text[], ${col((b) => b.registration)}::text[], ${col((b) => b.registrationDisplay)}::text[],
      ${col((b) => b.row.make)}::text[], ${col((b) => b.row.model)}::text[], ${col((b) => b.row.vehicleType)}::text[],
      ${col((b) => b.row.colour)}::text[], ${col((b) => b.row.firstRegistrationDate)}::date[],
      ${col((b) => b.row.holder.type)}::text[], ${col((b) => natural(b)?.surname ?? null)}::text[],
      ${col((b) => natural(b)?.firstNames ?? null)}::text[], ${col((b) => natural(b)?.birthDate ?? null)}::date[],
      ${col((b) => legal(b)?.name ?? null)}::text[], ${col((b) => b.row.holder.address)}::text[]
    ) as v
    on conflict (vin) do update set
      registration_number = excluded.registration_number, registration_display = excluded.registration_display,
      make = excluded.make, model = excluded.model, vehicle_type = excluded.vehicle_type, colour = excluded.colour,
      first_registration = excluded.first_registration, holder_type = excluded.holder_type,
      holder_surname = excluded.holder_surname, holder_first_names = excluded.holder_first_names,
      holder_birth_date = excluded.holder_birth_date, holder_name = excluded.holder_name,
      holder_address = excluded.holder_address, import_id = excluded.import_id
    returning (xmax = 0) as inserted`;
  try {
    const res = await query.execute(trx);
    return res.rows.filter((r) => r.inserted).length;
  } catch (e) {
    // The unique index is the check that a registration number belongs to one vehicle only; a look-up
    // before every batch would scan a growing table. Its violation names the number: find its line.
    const err = e as { code?: string; constraint?: string; detail?: string };
    if (err.code === '23505' && err.constraint === 'vehicles_registration_number_key') {
      const reg = /\(registration_number\)=\((.*)\)/.exec(err.detail ?? '')?.[1];
      const row = batch.find((b) => b.registration === reg);
      if (row) fail(row.line, `registration number ${row.registrationDisplay} is registered to another vehicle already; import with --replace to reload the whole register`);
      fail(batch[0]!.line, `a registration number in lines ${batch[0]!.line}-${batch[batch.length - 1]!.line} is registered to another vehicle already`);
    }
    throw e;
  }
}
