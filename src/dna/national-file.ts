/**
 * The node's national DNA file: profiles in the database (the durable truth), an in-memory index for
 * automated searches (Prüm Decision Art. 3), and the record of every search (Art. 30(2)(b)).
 *
 * Consistency: every import writes its profiles and a change log entry per profile in one
 * transaction. The index is built from the table at start and, before each search, applies the log
 * entries committed since, so a search sees every import committed before it, whichever process made
 * it, and an erased profile is gone from memory as soon as from the table.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { sql, type Kysely } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type Caller } from '../identity/caller.ts';
import { DnaIndex, type DnaHit, type DnaIndexOptions } from './dna-index.ts';
import { readDnaFile, type FileFormat } from './formats.ts';
import { canonicalProfileJson, checkRef, inclusionOf, parseProfile, type DnaProfile, type ProfileKind } from './profile.ts';
import { requiredText } from '../util/validate.ts';
import type { Refusal } from './store.ts';

/** Art. 3(1): automated DNA searches are for the investigation of criminal offences. */
export const DNA_PURPOSE = 'investigation-of-criminal-offences';
export const DNA_SEARCH_LEGAL_BASIS = 'Prüm Decision Art. 3(1)';

const PAGE = 5000;

export interface DnaImportResult {
  readonly importId: number;
  readonly file: string;
  readonly format: FileFormat | 'refs';
  readonly mode: 'upsert' | 'replace' | 'delete';
  /** Profiles added or changed. */
  readonly stored: number;
  /** Profiles in the file identical to the stored ones (nothing to do). */
  readonly unchanged: number;
  readonly deleted: number;
  /** Profiles that fail the inclusion rule, with their line and reason; not stored. */
  readonly refused: readonly Refusal[];
  readonly seconds: number;
}

export interface DnaSearchInput {
  /** The profile searched, as the requesting officer sends it (ref, kind, loci). */
  readonly profile: unknown;
  readonly reason: string;
  readonly orderedBy: string;
}

export interface DnaSearchOptions {
  /** Where to read changes and write the record: the caller's transaction, if it has one. */
  readonly db?: Kysely<Schema>;
  /** Compare only against these kinds of stored profile (the files a declaration opens, Art. 2(3)). */
  readonly kinds?: readonly ProfileKind[];
}

export interface DnaSearchAnswer {
  readonly hit: boolean;
  readonly query: DnaProfile;
  readonly hits: ReadonlyArray<DnaHit & { readonly profile: DnaProfile }>;
  readonly recordId: number;
  readonly searchedAt: string;
  readonly searchingBody: string;
  readonly administeringBody: string;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class NationalDnaFile {
  private readonly index: DnaIndex;
  private lastSeq = 0;

  private constructor(
    private readonly db: Kysely<Schema>,
    private readonly country: string,
    options: DnaIndexOptions,
  ) {
    this.index = new DnaIndex(options);
  }

  /** Loads the whole file from the database into a fresh index. */
  static async open(db: Kysely<Schema>, country: string, options: DnaIndexOptions = {}, onProgress?: (profiles: number) => void): Promise<NationalDnaFile> {
    const file = new NationalDnaFile(db, country, options);
    // The log position is read first: changes committed while loading are applied again by sync(),
    // which is harmless (put replaces, delete of an absent ref does nothing).
    const last = await db.selectFrom('dna_changes').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    file.lastSeq = Number(last?.seq ?? 0);
    let after = '';
    for (;;) {
      const rows = await db.selectFrom('dna_profiles').select(['ref', 'kind', 'loci']).where('ref', '>', after).orderBy('ref').limit(PAGE).execute();
      for (const r of rows) file.index.put({ ref: r.ref, kind: r.kind, loci: r.loci });
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]!.ref;
      onProgress?.(file.index.size);
    }
    return file;
  }

  get size(): number {
    return this.index.size;
  }

  /** True when a profile with this reference is in memory (tests use it to prove erasure). */
  inMemory(ref: string): boolean {
    return this.index.has(ref);
  }

  /**
   * Applies the changes committed since the last call, reading through `db` (the caller's transaction
   * when it has one: on the single-connection PGlite a read outside it would wait for it to end).
   * Only changes newer than the last applied one are applied, and each page is applied without an
   * await in between, so concurrent catch-ups never undo each other (a stale page of an older
   * catch-up cannot re-add a profile that a newer one deleted).
   */
  async sync(db: Kysely<Schema> = this.db): Promise<void> {
    for (;;) {
      const from = this.lastSeq;
      const changes = await db.selectFrom('dna_changes').select(['seq', 'ref', 'op']).where('seq', '>', from).orderBy('seq').limit(PAGE).execute();
      if (changes.length === 0) return;
      const puts = [...new Set(changes.filter((c) => c.op === 'put').map((c) => c.ref))];
      const rows = puts.length ? await db.selectFrom('dna_profiles').select(['ref', 'kind', 'loci']).where('ref', 'in', puts).execute() : [];
      const byRef = new Map(rows.map((r) => [r.ref, r]));
      for (const c of changes) {
        if (c.seq <= this.lastSeq) continue;
        const row = c.op === 'put' ? byRef.get(c.ref) : undefined;
        // A put whose row is gone was deleted by a later change.
        if (row) this.index.put({ ref: row.ref, kind: row.kind, loci: row.loci });
        else this.index.remove(c.ref);
        this.lastSeq = c.seq;
      }
      if (changes.length < PAGE) return;
    }
  }

  /**
   * Imports a profile file (JSON Lines or CSV): adds new profiles, replaces changed ones; with
   * `replace`, deletes every stored profile the file does not hold. Bad input rejects the whole file
   * with its line; profiles that fail the inclusion rule are refused one by one, with their reason.
   */
  async importFile(file: string, options: { replace?: boolean; onProgress?: (lines: number) => void } = {}): Promise<DnaImportResult> {
    const started = performance.now();
    const read = await readDnaFile(file, { onProgress: options.onProgress });
    if (read.profiles.length === 0 && read.refused.length === 0) throw new OpenPrumError('dna-file-invalid', `${basename(file)} holds no profiles; nothing was imported`);
    const sha256 = await sha256File(file);
    const mode = options.replace ? 'replace' : 'upsert';
    const result = await this.db.transaction().execute(async (trx) => {
      const imp = await trx.insertInto('dna_imports').values({ file_name: basename(file), sha256, format: read.format, mode }).returning('id').executeTakeFirstOrThrow();
      let stored = 0;
      let unchanged = 0;
      for (let i = 0; i < read.profiles.length; i += PAGE) {
        const page = read.profiles.slice(i, i + PAGE);
        const existing = await trx.selectFrom('dna_profiles').select(['ref', 'kind', 'loci']).where('ref', 'in', page.map((p) => p.ref)).execute();
        const before = new Map(existing.map((r) => [r.ref, canonicalProfileJson({ ref: r.ref, kind: r.kind, loci: r.loci })]));
        const changed = page.filter((p) => before.get(p.ref) !== canonicalProfileJson(p));
        unchanged += page.length - changed.length;
        if (changed.length === 0) continue;
        await trx
          .insertInto('dna_profiles')
          .values(changed.map((p) => ({ ref: p.ref, kind: p.kind, loci: JSON.stringify(p.loci), import_id: imp.id })))
          .onConflict((oc) => oc.column('ref').doUpdateSet((eb) => ({ kind: eb.ref('excluded.kind'), loci: eb.ref('excluded.loci'), import_id: eb.ref('excluded.import_id'), updated_at: sql<string>`now()` })))
          .execute();
        await trx.insertInto('dna_changes').values(changed.map((p) => ({ ref: p.ref, op: 'put' as const }))).execute();
        stored += changed.length;
      }
      let deleted = 0;
      if (options.replace) {
        const keep = new Set(read.profiles.map((p) => p.ref));
        let after = '';
        for (;;) {
          const refs = await trx.selectFrom('dna_profiles').select('ref').where('ref', '>', after).orderBy('ref').limit(PAGE).execute();
          const gone = refs.map((r) => r.ref).filter((r) => !keep.has(r));
          deleted += await this.deleteRefs(trx, gone);
          if (refs.length < PAGE) break;
          after = refs[refs.length - 1]!.ref;
        }
      }
      await trx.updateTable('dna_imports').set({ profiles: stored, deleted, refused: read.refused.length }).where('id', '=', imp.id).execute();
      return { importId: imp.id, stored, unchanged, deleted };
    });
    await this.sync();
    return { ...result, file, format: read.format, mode, refused: read.refused, seconds: Math.round((performance.now() - started) / 10) / 100 };
  }

  /** Deletes the profiles listed in a file of references (one per line). All or nothing. */
  async deleteFile(file: string): Promise<DnaImportResult> {
    const started = performance.now();
    const refs: string[] = [];
    const seen = new Map<string, number>();
    let line = 0;
    for await (const raw of createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })) {
      line++;
      const t = raw.trim();
      if (t === '' || t.startsWith('#')) continue;
      const ref = checkRef(t, { file, line });
      const earlier = seen.get(ref);
      if (earlier !== undefined) throw new OpenPrumError('dna-file-invalid', `${basename(file)} line ${line}: reference ${ref} is listed already on line ${earlier}`, { line });
      seen.set(ref, line);
      refs.push(ref);
    }
    if (refs.length === 0) throw new OpenPrumError('dna-file-invalid', `${basename(file)} lists no references; nothing was deleted`);
    const sha256 = await sha256File(file);
    const result = await this.db.transaction().execute(async (trx) => {
      const imp = await trx.insertInto('dna_imports').values({ file_name: basename(file), sha256, format: 'refs', mode: 'delete' }).returning('id').executeTakeFirstOrThrow();
      let deleted = 0;
      for (let i = 0; i < refs.length; i += PAGE) deleted += await this.deleteRefs(trx, refs.slice(i, i + PAGE));
      await trx.updateTable('dna_imports').set({ deleted }).where('id', '=', imp.id).execute();
      return { importId: imp.id, deleted };
    });
    await this.sync();
    return { ...result, file, format: 'refs', mode: 'delete', stored: 0, unchanged: 0, refused: [], seconds: Math.round((performance.now() - started) / 10) / 100 };
  }

  private async deleteRefs(trx: Kysely<Schema>, refs: string[]): Promise<number> {
    if (refs.length === 0) return 0;
    const gone = await trx.deleteFrom('dna_profiles').where('ref', 'in', refs).returning('ref').execute();
    if (gone.length > 0) await trx.insertInto('dna_changes').values(gone.map((g) => ({ ref: g.ref, op: 'delete' as const }))).execute();
    return gone.length;
  }

  /**
   * Automated search of one profile against the national file (Prüm Decision Art. 3), answered with
   * hit/no-hit and the matching reference data (profile and reference), recorded (Art. 30(2)(b)).
   */
  async search(caller: Caller, input: DnaSearchInput, requestId?: string, options: DnaSearchOptions = {}): Promise<DnaSearchAnswer> {
    const db = options.db ?? this.db;
    // Officers need the role (Art. 30(2)(a)); a peer node's search is an incoming one, allowed by this
    // node's declaration, which the exchange checks before it calls here (Arts. 2(3), 3, 36).
    if (caller.kind === 'officer') requireRole(caller, 'officer');
    const reason = requiredText('reason', input.reason, 500);
    const orderedBy = requiredText('orderedBy', input.orderedBy, 200);
    const query = parseProfile(input.profile);
    const inclusion = inclusionOf(query);
    if (!inclusion.ok) throw new OpenPrumError('dna-profile-invalid', `${inclusion.reason}; such a profile cannot be searched`);
    await this.sync(db);
    const hits = this.index
      .search(query)
      .filter((h) => !options.kinds || options.kinds.includes(h.kind))
      .map((h) => ({ ...h, profile: this.index.get(h.ref)! }));
    const searchingBody = `${caller.kind === 'peer' ? caller.country : this.country} NCP`;
    const administeringBody = `${this.country} DNA file`;
    // The record keeps the profile searched and the data supplied (Art. 30(2)(b)(i)); nothing else
    // keeps a peer's profile after the comparison (Art. 26(2)).
    const rec = await writeRecord(db, {
      action: 'dna.search',
      direction: caller.kind === 'peer' ? 'incoming' : 'local',
      searchingBody,
      administeringBody,
      officerId: caller.kind === 'officer' ? caller.officerId : null,
      officerReference: caller.kind === 'officer' ? caller.reference : null,
      orderedBy,
      reason,
      purpose: DNA_PURPOSE,
      legalBasis: DNA_SEARCH_LEGAL_BASIS,
      query: { profile: query },
      supplied: hits.length > 0 ? hits : null,
      hit: hits.length > 0,
      outcome: hits.length > 0 ? 'hit' : 'no-hit',
      requestId: requestId ?? null,
    });
    return { hit: hits.length > 0, query, hits, recordId: rec.id, searchedAt: rec.recordedAt, searchingBody, administeringBody };
  }

  /**
   * Compares many profiles (checked by the caller with `parseProfile` and `inclusionOf`) with the
   * file, after applying the committed changes through `options.db`, and writes NO record: the caller
   * records the whole batch in its own transaction. For the bulk comparison between states (Prüm
   * Decision Art. 4, src/exchange/bulk-peer.ts), which records one supply per chunk of profiles.
   * Returns the hits of each profile, in the order given.
   */
  async compareMany(profiles: readonly DnaProfile[], options: DnaSearchOptions = {}): Promise<Array<ReadonlyArray<DnaHit & { readonly profile: DnaProfile }>>> {
    await this.sync(options.db ?? this.db);
    return profiles.map((q) =>
      this.index
        .search(q)
        .filter((h) => !options.kinds || options.kinds.includes(h.kind))
        .map((h) => ({ ...h, profile: this.index.get(h.ref)! })),
    );
  }
}
