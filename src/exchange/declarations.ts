/**
 * Declarations (Prüm Decision Arts. 2(3) and 36; 2008/616/JHA Art. 18 and Annex ch. 1 section 3.1):
 * each node publishes, signed, which of its files are open to automated search (DNA reference and
 * unidentified profiles, vehicles, fingerprints), the conditions of that search, how many searches a
 * day it answers for each requesting state, and its contact point. Peers read them before they search;
 * a search beyond the declared capacity is refused (429) and recorded on both sides.
 */
import { sql, type Kysely } from 'kysely';
import Type, { type Static } from 'typebox';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { check, validate } from '../util/validate.ts';
import { signDetached, verifyDetached, type Signer } from './jws.ts';
import { Country, Instant, KindName, PROTOCOL } from './messages.ts';
import { fingerprintOf, type FederationTrust } from './pki.ts';

/** File names a declaration may open. */
export const FILES = ['dna-reference', 'dna-unidentified', 'vehicle', 'fingerprint'] as const;

const text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f]*$' });

export const DeclarationInput = Type.Object(
  {
    files: Type.Array(
      Type.Object(
        {
          file: Type.Union([Type.Literal('dna-reference'), Type.Literal('dna-unidentified'), Type.Literal('vehicle'), Type.Literal('fingerprint')]),
          conditions: text(2000),
          legalBasis: Type.Optional(text(200)),
        },
        { additionalProperties: false },
      ),
      { maxItems: FILES.length },
    ),
    capacity: Type.Array(
      Type.Object(
        {
          kind: KindName,
          /** Searches (vehicles: keys; DNA: profiles) a day for a requesting state not named in byState. */
          perDay: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
          byState: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Z]{2}$' }), Type.Integer({ minimum: 0, maximum: 100_000_000 }))),
        },
        { additionalProperties: false },
      ),
      { maxItems: 20 },
    ),
    contactPoint: Type.Object(
      {
        name: text(200),
        email: Type.Optional(text(200)),
        phone: Type.Optional(text(50)),
        address: Type.Optional(text(500)),
        hours: Type.Optional(text(200)),
      },
      { additionalProperties: false },
    ),
    /**
     * Consent to the bulk comparison of DNA profiles (Prüm Decision Art. 4(1), "by mutual consent"):
     * the requesting states it is given to, and how many of their profiles a day this node compares
     * (see bulk-peer.ts). Absent: no consent.
     */
    bulkComparison: Type.Optional(
      Type.Object(
        {
          states: Type.Union([Type.Array(Type.String({ pattern: '^[A-Z]{2}$' }), { maxItems: 60 }), Type.Literal('all')]),
          maxProfilesPerDay: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
          conditions: Type.Optional(text(2000)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DeclarationInput = Static<typeof DeclarationInput>;

export const Declaration = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL),
    type: Type.Literal('declaration'),
    state: Country,
    version: Type.Integer({ minimum: 1 }),
    issuedAt: Instant,
    files: DeclarationInput.properties.files,
    capacity: DeclarationInput.properties.capacity,
    contactPoint: DeclarationInput.properties.contactPoint,
    bulkComparison: DeclarationInput.properties.bulkComparison,
  },
  { additionalProperties: false },
);
export type Declaration = Static<typeof Declaration>;

export interface SignedDeclaration {
  readonly declaration: Declaration;
  readonly body: string;
  readonly jws: string;
  readonly receivedAt: string;
}

function checkUnique(input: DeclarationInput): void {
  const files = input.files.map((f) => f.file);
  if (new Set(files).size !== files.length) throw new OpenPrumError('declaration-invalid', 'Each file is declared once');
  const kinds = input.capacity.map((c) => c.kind);
  if (new Set(kinds).size !== kinds.length) throw new OpenPrumError('declaration-invalid', 'Each search kind has one capacity entry');
}

/** Signs and stores this node's new declaration (the next version); returns it as published. */
export async function publishDeclaration(db: Kysely<Schema>, country: string, signer: Signer, inputRaw: unknown): Promise<SignedDeclaration> {
  const input = validate(DeclarationInput, inputRaw, 'declaration-invalid', 'declaration');
  checkUnique(input);
  const last = await db.selectFrom('federation_declarations').select('version').where('state', '=', country).orderBy('version', 'desc').executeTakeFirst();
  const declaration: Declaration = {
    protocol: PROTOCOL,
    type: 'declaration',
    state: country,
    version: (last?.version ?? 0) + 1,
    issuedAt: new Date().toISOString(),
    files: input.files,
    capacity: input.capacity,
    contactPoint: input.contactPoint,
    ...(input.bulkComparison ? { bulkComparison: input.bulkComparison } : {}),
  };
  const body = JSON.stringify(declaration);
  const jws = signDetached(body, signer);
  const row = await db
    .insertInto('federation_declarations')
    .values({ state: country, version: declaration.version, body, jws, signer_fingerprint: fingerprintOf(signer.cert), issued_at: declaration.issuedAt })
    .returning('received_at')
    .executeTakeFirstOrThrow();
  return { declaration, body, jws, receivedAt: row.received_at };
}

/** The latest declaration stored for a state (this node's own or a peer's), or undefined. */
export async function latestDeclaration(db: Kysely<Schema>, state: string): Promise<SignedDeclaration | undefined> {
  const row = await db.selectFrom('federation_declarations').selectAll().where('state', '=', state).orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (!row) return undefined;
  return { declaration: JSON.parse(row.body) as Declaration, body: row.body, jws: row.jws, receivedAt: row.received_at };
}

/**
 * Verifies a peer's declaration as received (signature by that state's certificate, content valid) and
 * stores it unless a version as new is stored already. Throws OpenPrumError peer-answer-invalid.
 */
export async function storePeerDeclaration(db: Kysely<Schema>, trust: FederationTrust, peerState: string, body: string, jws: string | undefined): Promise<SignedDeclaration> {
  if (!jws) throw new OpenPrumError('peer-answer-invalid', `The declaration of ${peerState} carries no signature`);
  let signerCountry: string;
  let fingerprint: string;
  try {
    const v = verifyDetached(jws, body, trust);
    signerCountry = v.country;
    fingerprint = v.fingerprint;
  } catch (e) {
    throw new OpenPrumError('peer-answer-invalid', `The declaration of ${peerState} is refused: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new OpenPrumError('peer-answer-invalid', `The declaration of ${peerState} is not JSON`);
  }
  if (!check(Declaration, json)) {
    validate(Declaration, json, 'peer-answer-invalid', `the declaration of ${peerState}`);
  }
  const declaration = json as Declaration;
  if (signerCountry !== peerState || declaration.state !== peerState) {
    throw new OpenPrumError('peer-identity-mismatch', `The declaration fetched from ${peerState} is signed by ${signerCountry} for ${declaration.state}`);
  }
  await db
    .insertInto('federation_declarations')
    .values({ state: peerState, version: declaration.version, body, jws, signer_fingerprint: fingerprint, issued_at: declaration.issuedAt })
    .onConflict((oc) => oc.columns(['state', 'version']).doNothing())
    .execute();
  return (await latestDeclaration(db, peerState))!;
}

/** Whether the declaration opens one of the files. */
export function opens(declaration: Declaration, files: readonly string[]): boolean {
  return declaration.files.some((f) => files.includes(f.file));
}

/** The declared daily capacity of a search kind for a requesting state (0 when none is declared). */
export function capacityFor(declaration: Declaration, kind: string, requestingState: string): number {
  const entry = declaration.capacity.find((c) => c.kind === kind);
  if (!entry) return 0;
  return entry.byState?.[requestingState] ?? entry.perDay;
}

/** The UTC calendar day capacity is counted in. */
export function usageDay(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/**
 * Takes `items` units of the day's capacity for the requesting state, atomically: true when they fit
 * under `capacity`, false (and nothing taken) when not. Run it inside the answer's transaction so a
 * search that fails later gives its units back.
 */
export async function takeCapacity(db: Kysely<Schema>, day: string, requestingState: string, kind: string, items: number, capacity: number): Promise<boolean> {
  if (items > capacity) return false;
  const r = await sql<{ used: number }>`
    insert into federation_usage (day, requesting_state, kind, used) values (${day}::date, ${requestingState}, ${kind}, ${items})
    on conflict (day, requesting_state, kind) do update set used = federation_usage.used + excluded.used
      where federation_usage.used + excluded.used <= ${capacity}
    returning used`.execute(db);
  return r.rows.length === 1;
}

export async function usedToday(db: Kysely<Schema>, requestingState: string, kind: string, day: string = usageDay()): Promise<number> {
  const row = await db.selectFrom('federation_usage').select('used').where('day', '=', day).where('requesting_state', '=', requestingState).where('kind', '=', kind).executeTakeFirst();
  return row?.used ?? 0;
}
