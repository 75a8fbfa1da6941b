/**
 * Officers of this node and their API tokens.
 */
import type { Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { OfficerCaller } from './caller.ts';
import { isRole, type Role } from './roles.ts';
import { hashToken, newTokenSecret, parseToken, verifyTokenHash, VerifiedTokenCache } from './tokens.ts';

export interface Officer {
  readonly id: number;
  readonly reference: string;
  readonly name: string;
  readonly unit: string;
  readonly roles: Role[];
  readonly createdAt: string;
  readonly authorisedAt: string | null;
  readonly active: boolean;
}

export interface NewOfficer {
  readonly reference: string;
  readonly name: string;
  readonly unit?: string | undefined;
  readonly roles: readonly string[];
}

export interface IssuedToken {
  readonly tokenId: number;
  /** The secret: shown once, never stored. */
  readonly token: string;
  readonly expiresAt: string | null;
}

const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkRoles(roles: readonly string[]): Role[] {
  if (roles.length === 0) throw new OpenPrumError('input-invalid', 'An officer needs at least one role', { field: 'roles' });
  const bad = roles.filter((r) => !isRole(r));
  if (bad.length > 0) {
    throw new OpenPrumError('input-invalid', `Unknown role ${bad.map((r) => JSON.stringify(r)).join(', ')}; roles are officer, approver, reviewer, supervisor, admin`, { field: 'roles' });
  }
  return [...new Set(roles as Role[])];
}

function toOfficer(r: Selectable<Schema['officers']>): Officer {
  return {
    id: r.id,
    reference: r.reference,
    name: r.name,
    unit: r.unit,
    roles: r.roles as Role[],
    createdAt: r.created_at,
    authorisedAt: r.authorised_at,
    active: r.deactivated_at === null,
  };
}

export class Officers {
  private readonly verified = new VerifiedTokenCache();

  constructor(private readonly db: Kysely<Schema>) {}

  async create(input: NewOfficer): Promise<Officer> {
    if (!REFERENCE.test(input.reference)) {
      throw new OpenPrumError('input-invalid', 'An officer reference is 1-64 letters, digits, dots, hyphens or underscores, starting with a letter or digit', { field: 'reference' });
    }
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) throw new OpenPrumError('input-invalid', 'An officer name is 1-200 characters', { field: 'name' });
    const roles = checkRoles(input.roles);
    const existing = await this.db.selectFrom('officers').select('id').where('reference', '=', input.reference).executeTakeFirst();
    if (existing) throw new OpenPrumError('conflict', `An officer with reference ${input.reference} exists already`, { field: 'reference' });
    const row = await this.db
      .insertInto('officers')
      .values({
        reference: input.reference,
        name,
        unit: (input.unit ?? '').trim(),
        roles,
        authorised_at: roles.includes('officer') ? sql<string>`now()` as never : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toOfficer(row);
  }

  async get(id: number): Promise<Officer> {
    const row = await this.db.selectFrom('officers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new OpenPrumError('not-found', `No officer with id ${id}`);
    return toOfficer(row);
  }

  async list(): Promise<Officer[]> {
    return (await this.db.selectFrom('officers').selectAll().orderBy('id').execute()).map(toOfficer);
  }

  /**
   * The list of officers specially authorised to carry out automated searches, which supervisory
   * authorities and other Member States may ask for (Prüm Decision Art. 30(2)(a)).
   */
  async listAuthorised(): Promise<Array<Pick<Officer, 'reference' | 'name' | 'unit' | 'authorisedAt'>>> {
    const rows = await this.db
      .selectFrom('officers')
      .select(['reference', 'name', 'unit', 'authorised_at'])
      .where('deactivated_at', 'is', null)
      .where(sql<boolean>`'officer' = any(roles)`)
      .orderBy('reference')
      .execute();
    return rows.map((r) => ({ reference: r.reference, name: r.name, unit: r.unit, authorisedAt: r.authorised_at }));
  }

  async setRoles(id: number, roles: readonly string[]): Promise<Officer> {
    const checked = checkRoles(roles);
    const before = await this.get(id);
    const row = await this.db
      .updateTable('officers')
      .set({
        roles: checked,
        // The authorisation starts anew when the role 'officer' is (re)granted.
        authorised_at: checked.includes('officer') ? (before.roles.includes('officer') ? before.authorisedAt : new Date()) : null,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toOfficer(row);
  }

  /** Deactivates an officer and revokes every token they hold. */
  async deactivate(id: number): Promise<Officer> {
    await this.get(id);
    return this.db.transaction().execute(async (trx) => {
      const now = new Date();
      await trx.updateTable('api_tokens').set({ revoked_at: now }).where('officer_id', '=', id).where('revoked_at', 'is', null).execute();
      const row = await trx.updateTable('officers').set({ deactivated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      return toOfficer(row);
    });
  }

  async issueToken(officerId: number, options: { label?: string | undefined; expiresAt?: Date | undefined } = {}): Promise<IssuedToken> {
    const officer = await this.get(officerId);
    if (!officer.active) throw new OpenPrumError('conflict', `Officer ${officer.reference} is deactivated; no token can be issued`);
    if (options.expiresAt && options.expiresAt.getTime() <= Date.now()) {
      throw new OpenPrumError('input-invalid', 'A token must expire in the future', { field: 'expiresAt' });
    }
    return this.db.transaction().execute(async (trx) => {
      // The id is part of the secret, so the row is created first with a placeholder hash.
      const row = await trx
        .insertInto('api_tokens')
        .values({ officer_id: officerId, label: options.label ?? '', token_hash: '-', expires_at: options.expiresAt ?? null })
        .returning(['id', 'expires_at'])
        .executeTakeFirstOrThrow();
      const token = newTokenSecret(row.id);
      await trx.updateTable('api_tokens').set({ token_hash: await hashToken(token) }).where('id', '=', row.id).execute();
      return { tokenId: row.id, token, expiresAt: row.expires_at };
    });
  }

  async revokeToken(tokenId: number): Promise<void> {
    const res = await this.db.updateTable('api_tokens').set({ revoked_at: new Date() }).where('id', '=', tokenId).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      const exists = await this.db.selectFrom('api_tokens').select('id').where('id', '=', tokenId).executeTakeFirst();
      if (!exists) throw new OpenPrumError('not-found', `No token with id ${tokenId}`);
    }
  }

  async listTokens(officerId: number): Promise<Array<{ id: number; label: string; createdAt: string; expiresAt: string | null; revokedAt: string | null }>> {
    const rows = await this.db.selectFrom('api_tokens').select(['id', 'label', 'created_at', 'expires_at', 'revoked_at']).where('officer_id', '=', officerId).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at }));
  }

  /** Finds the officer a presented token belongs to, or throws unauthenticated / token-expired / token-revoked. */
  async authenticate(presented: string): Promise<OfficerCaller> {
    const parsed = parseToken(presented);
    if (!parsed) throw new OpenPrumError('unauthenticated', 'The bearer token is malformed; tokens look like opr_<id>_<secret>');
    const row = await this.db
      .selectFrom('api_tokens as t')
      .innerJoin('officers as o', 'o.id', 't.officer_id')
      .select(['t.id as token_id', 't.token_hash', 't.revoked_at', sql<boolean>`t.expires_at is not null and t.expires_at <= now()`.as('expired'), 'o.id as officer_id', 'o.reference', 'o.name', 'o.roles', 'o.deactivated_at'])
      .where('t.id', '=', parsed.id)
      .executeTakeFirst();
    if (!row) throw new OpenPrumError('unauthenticated', 'The bearer token is not valid');
    if (!this.verified.has(presented, row.token_hash)) {
      if (!(await verifyTokenHash(presented, row.token_hash))) throw new OpenPrumError('unauthenticated', 'The bearer token is not valid');
      this.verified.add(presented, row.token_hash);
    }
    if (row.revoked_at !== null || row.deactivated_at !== null) throw new OpenPrumError('token-revoked', 'The bearer token was revoked; ask an administrator for a new one');
    if (row.expired) throw new OpenPrumError('token-expired', 'The bearer token has expired; ask an administrator for a new one');
    return { kind: 'officer', officerId: row.officer_id, reference: row.reference, name: row.name, roles: row.roles as Role[], tokenId: row.token_id };
  }
}
