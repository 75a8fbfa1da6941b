/**
 * The node's national file of dactyloscopic data: persons' and traces' minutiae templates in the
 * database (the durable truth), an in-memory 1:N gallery for automated searches (Prüm Decision
 * Art. 9), and the record of every search (Art. 30(2)(b)).
 *
 * Consistency, as for the national DNA file: every import and deletion writes its rows and a change
 * log entry per person in one transaction. The gallery is built from the tables at start and, before
 * each search, applies the log entries committed since, so a search sees every change committed
 * before it, whichever process made it, and an erased person is gone from memory as soon as from the
 * table.
 *
 * Candidates: the gallery (pre-filter, shortlist, full comparison) proposes them; each is then
 * compared again, finger by finger, with its stored templates, which gives the finger position that
 * matched (also for a latent of unknown position), the score and its calibrated false match rate.
 * A candidate is a hit when the false candidates expected in a file of this size at its strength
 * (fmr × persons in the file) are at most HIT_EXPECTED_FALSE_CANDIDATES.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type Caller } from '../identity/caller.ts';
import { requiredText } from '../util/validate.ts';
import type { FingerprintKind, FingerSource } from './db-schema.ts';
import { readMinutiaeTemplate } from './formats/index.ts';
import { compare, FMR_FLOOR, Gallery, prepare, scoreToFmr, type GalleryOptions, type PreparedTemplate } from './match/index.ts';
import { checkFingerSet, detectFormat, readFingerprintBytes, type ReadResult, type StoredFinger } from './reference-input.ts';
import type { MinutiaeTemplate } from './types.ts';

/** Art. 9(1): automated fingerprint searches are for the prevention and investigation of criminal offences. */
export const FINGERPRINT_PURPOSE = 'prevention-and-investigation-of-criminal-offences';
export const FINGERPRINT_SEARCH_LEGAL_BASIS = 'Prüm Decision Art. 9(1)';
export const FINGERPRINT_DECISION_LEGAL_BASIS = 'Prüm Decision Art. 9(2)';
/**
 * A candidate is a hit when fmr × (persons in the file) ≤ this: at most one search in a hundred
 * would show an unrelated person this strong. With the calibration's floor of 1e-9 per comparison,
 * files of up to ten million persons can give hits.
 */
export const HIT_EXPECTED_FALSE_CANDIDATES = 0.01;
export const DEFAULT_CANDIDATES = 10;
export const MAX_CANDIDATES = 20;
/** Largest import file (a ten-print transaction with WSQ images is well under 10 MB). */
export const MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024;
/** References: letters, digits and . _ : / # - (no spaces, no names: Prüm Decision Art. 8). */
export const FINGERPRINT_REF = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$/;

const PAGE = 2000;

export interface FingerprintProbe {
  /** The requesting body's reference of what is searched (no names). */
  readonly ref: string;
  /** reference: a person's ten-print; unidentified: a latent mark (Art. 8). */
  readonly kind: FingerprintKind;
  readonly fingers: readonly StoredFinger[];
}

export interface FingerprintSearchInput {
  readonly probe: FingerprintProbe;
  readonly reason: string;
  readonly orderedBy: string;
  /** Candidates listed (default 10, at most 20). */
  readonly limit?: number | undefined;
}

export interface FingerprintSearchOptions {
  /** Where to read changes and write the record: the caller's transaction, if it has one. */
  readonly db?: Kysely<Schema>;
  /**
   * 'ranked' (this node's officers): the ranked list, hits and the strongest non-hits, without
   * templates. 'hits' (another state's search): only the hits, each with the templates of its
   * matching fingers, the reference data required for a clear match (Art. 9(2)).
   */
  readonly supply?: 'ranked' | 'hits';
}

export interface CandidateFinger {
  /** The probe finger's position (0 unknown). */
  readonly probePosition: number;
  /** The candidate's finger that matched it best. */
  readonly position: number;
  readonly score: number;
  /** Calibrated false match rate of that score, per finger comparison (src/fingerprint/match/README.md). */
  readonly fmr: number;
  /** ISO/IEC 19794-2 record of the candidate's finger, base64 ('hits' supply only). */
  readonly template?: string;
}

export interface FingerprintCandidate {
  readonly rank: number;
  readonly ref: string;
  readonly kind: FingerprintKind;
  /** Sum of the per-finger scores. */
  readonly score: number;
  /** Product of the per-finger FMRs (floored at 1e-9): the chance an unrelated person scores this well. */
  readonly fmr: number;
  /** fmr × persons in the file: unrelated candidates this strong expected in one search of this file. */
  readonly expectedFalseCandidates: number;
  readonly hit: boolean;
  readonly fingers: readonly CandidateFinger[];
}

export interface FingerprintSearchAnswer {
  /** Id of the search, to record decisions on its candidates (officers' searches only). */
  readonly id?: string;
  readonly hit: boolean;
  readonly probe: { readonly ref: string; readonly kind: FingerprintKind; readonly fingers: ReadonlyArray<{ readonly position: number; readonly minutiae: number }> };
  readonly candidates: readonly FingerprintCandidate[];
  readonly threshold: { readonly expectedFalseCandidates: number; readonly personsInFile: number; readonly fmr: number };
  readonly recordId: number;
  readonly searchedAt: string;
  readonly searchingBody: string;
  readonly administeringBody: string;
}

export interface FingerprintImportOptions {
  readonly replace?: boolean;
  /** Kind of every file; default: 'unidentified' for transactions of latent images (Type-13) only, else 'reference'. */
  readonly kind?: FingerprintKind;
  /** Import transactions whose Type-2 carries names, dropping Type-2 (it is never stored anyway). */
  readonly dropDescriptiveData?: boolean;
  readonly onProgress?: (message: string) => void;
}

export interface FingerprintImportResult {
  readonly importId: number;
  readonly files: ReadonlyArray<{ readonly file: string; readonly sha256: string; readonly ref: string; readonly fingers: number; readonly ignored: readonly string[] }>;
  readonly mode: 'upsert' | 'replace';
  /** Persons (or traces) added or changed. */
  readonly stored: number;
  readonly unchanged: number;
  readonly deleted: number;
  readonly fingers: number;
  readonly seconds: number;
}

interface PersonIn {
  ref: string;
  kind: FingerprintKind;
  fingers: StoredFinger[];
  files: string[];
}

function checkFingerprintRef(ref: string | undefined, where: string): string {
  if (ref === undefined || !FINGERPRINT_REF.test(ref)) {
    throw new OpenPrumError(
      'fingerprint-file-invalid',
      `${where}: ${ref === undefined ? 'no reference number' : `reference ${JSON.stringify(ref.slice(0, 80))} is not a reference number`}: use 1 to 64 letters, digits and . _ : / # - (no spaces; a reference must not identify the person, Prüm Decision Art. 8)`,
      { where },
    );
  }
  return ref;
}

function concatIso(fingers: ReadonlyArray<{ position: number; template: Uint8Array }>): string {
  const h = createHash('sha256');
  for (const f of fingers) h.update(`${f.position}:`).update(f.template).update('|');
  return h.digest('hex');
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export class NationalFingerprintFile {
  private readonly gallery: Gallery;
  private readonly kinds = new Map<string, FingerprintKind>();
  private lastSeq = 0;

  private constructor(
    private readonly db: Kysely<Schema>,
    private readonly country: string,
    options: GalleryOptions,
  ) {
    this.gallery = new Gallery(options);
  }

  /** Loads the whole file from the database into a fresh gallery. */
  static async open(db: Kysely<Schema>, country: string, options: GalleryOptions = {}, onProgress?: (persons: number) => void): Promise<NationalFingerprintFile> {
    const file = new NationalFingerprintFile(db, country, options);
    // The log position first: changes committed while loading are applied again by sync() (harmless).
    const last = await db.selectFrom('fingerprint_changes').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    file.lastSeq = Number(last?.seq ?? 0);
    let after = '';
    for (;;) {
      const persons = await db.selectFrom('fingerprint_persons').select(['ref', 'kind']).where('ref', '>', after).orderBy('ref').limit(PAGE).execute();
      if (persons.length === 0) break;
      await file.load(db, persons);
      if (persons.length < PAGE) break;
      after = persons[persons.length - 1]!.ref;
      onProgress?.(file.size);
    }
    return file;
  }

  get size(): number {
    return this.gallery.size;
  }

  /** True when a person with this reference is in memory (tests use it to prove erasure). */
  inMemory(ref: string): boolean {
    return this.gallery.has(ref);
  }

  /** Stops the gallery's worker threads. */
  async close(): Promise<void> {
    await this.gallery.close();
  }

  private async fingersOf(db: Kysely<Schema>, refs: readonly string[]) {
    const rows = refs.length ? await db.selectFrom('fingerprint_fingers').select(['ref', 'idx', 'position', 'source', 'template']).where('ref', 'in', refs).orderBy('ref').orderBy('idx').execute() : [];
    const by = new Map<string, typeof rows>();
    for (const r of rows) by.set(r.ref, [...(by.get(r.ref) ?? []), r]);
    return by;
  }

  /** Puts persons (already read from the tables) into the gallery, replacing what it held for them. */
  private async load(db: Kysely<Schema>, persons: ReadonlyArray<{ ref: string; kind: FingerprintKind }>): Promise<void> {
    const fingers = await this.fingersOf(db, persons.map((p) => p.ref));
    for (const p of persons) this.put(p.ref, p.kind, fingers.get(p.ref) ?? []);
  }

  private put(ref: string, kind: FingerprintKind, rows: ReadonlyArray<{ position: number; template: Uint8Array }>): void {
    this.gallery.remove(ref);
    this.kinds.delete(ref);
    if (rows.length === 0) return;
    this.gallery.add(
      ref,
      rows.map((r) => ({ position: r.position, template: readMinutiaeTemplate(r.template, { format: 'iso19794-2' }) })),
    );
    this.kinds.set(ref, kind);
  }

  /**
   * Applies the changes committed since the last call, reading through `db` (the caller's
   * transaction when it has one). Each page is applied without an await in between, so concurrent
   * catch-ups never undo each other.
   */
  async sync(db: Kysely<Schema> = this.db): Promise<void> {
    for (;;) {
      const from = this.lastSeq;
      const changes = await db.selectFrom('fingerprint_changes').select(['seq', 'ref', 'op']).where('seq', '>', from).orderBy('seq').limit(PAGE).execute();
      if (changes.length === 0) return;
      const puts = [...new Set(changes.filter((c) => c.op === 'put').map((c) => c.ref))];
      const persons = puts.length ? await db.selectFrom('fingerprint_persons').select(['ref', 'kind']).where('ref', 'in', puts).execute() : [];
      const fingers = await this.fingersOf(db, persons.map((p) => p.ref));
      const byRef = new Map(persons.map((p) => [p.ref, p]));
      for (const c of changes) {
        if (c.seq <= this.lastSeq) continue;
        const person = c.op === 'put' ? byRef.get(c.ref) : undefined;
        // A put whose row is gone was deleted by a later change.
        if (person) this.put(person.ref, person.kind, fingers.get(person.ref) ?? []);
        else {
          this.gallery.remove(c.ref);
          this.kinds.delete(c.ref);
        }
        this.lastSeq = c.seq;
      }
      if (changes.length < PAGE) return;
    }
  }

  /**
   * Imports files of dactyloscopic data: ANSI/NIST-ITL transactions (reference = 1.009 TCN) and
   * ISO/IEC 19794-2 or ANSI INCITS 378 records (reference = the file name up to its first dot; several
   * files of one reference make one person). Adds new persons and replaces changed ones; with
   * `replace`, deletes every stored person the files do not hold. All or nothing: the first file or
   * record that is wrong refuses the whole import, naming it.
   */
  async importFiles(files: readonly string[], options: FingerprintImportOptions = {}): Promise<FingerprintImportResult> {
    const started = performance.now();
    if (files.length === 0) throw new OpenPrumError('usage', 'Name at least one file to import');
    const persons = new Map<string, PersonIn>();
    const summary: Array<{ file: string; sha256: string; ref: string; fingers: number; ignored: readonly string[] }> = [];
    for (const file of files) {
      const name = basename(file);
      let bytes: Buffer;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new OpenPrumError('file-unreadable', `${file} is not a file`);
        if (st.size > MAX_IMPORT_FILE_BYTES) throw new OpenPrumError('input-too-large', `${name} has ${st.size} bytes; an import file may have at most ${MAX_IMPORT_FILE_BYTES}`);
        bytes = await readFile(file);
      } catch (e) {
        if (e instanceof OpenPrumError) throw e;
        throw new OpenPrumError('file-unreadable', `Cannot read ${file}: ${(e as Error).message}`);
      }
      options.onProgress?.(`reading ${name}`);
      const read: ReadResult = readFingerprintBytes(bytes, name, { names: options.dropDescriptiveData ? 'ignore' : 'refuse' });
      const ref =
        detectFormat(bytes) === 'ansi-nist'
          ? checkFingerprintRef(read.tcn, `${name}, field 1.009 (TCN)`)
          : checkFingerprintRef(name.split('.')[0], `${name} (the file name up to its first dot gives the reference)`);
      const kind: FingerprintKind = options.kind ?? (read.latent ? 'unidentified' : 'reference');
      const person = persons.get(ref) ?? { ref, kind, fingers: [], files: [] };
      if (person.kind !== kind) {
        throw new OpenPrumError('fingerprint-file-invalid', `${name}: reference ${ref} is ${kind} data here but ${person.kind} data in ${person.files.join(', ')}; give --kind`, { ref });
      }
      person.fingers.push(...read.fingers);
      person.files.push(name);
      persons.set(ref, person);
      summary.push({ file: name, sha256: createHash('sha256').update(bytes).digest('hex'), ref, fingers: read.fingers.length, ignored: read.ignored });
    }
    for (const p of persons.values()) checkFingerSet(p.fingers, `reference ${p.ref} (${p.files.join(', ')})`, 'fingerprint-file-invalid');
    const mode = options.replace ? 'replace' : 'upsert';
    const list = [...persons.values()];
    const result = await this.db.transaction().execute(async (trx) => {
      const imp = await trx
        .insertInto('fingerprint_imports')
        .values({ files: JSON.stringify(summary.map((s) => ({ file: s.file, sha256: s.sha256 }))), mode })
        .returning('id')
        .executeTakeFirstOrThrow();
      let stored = 0;
      let unchanged = 0;
      let fingers = 0;
      for (let i = 0; i < list.length; i += PAGE) {
        const page = list.slice(i, i + PAGE);
        const refs = page.map((p) => p.ref);
        const before = await trx.selectFrom('fingerprint_persons').select(['ref', 'kind']).where('ref', 'in', refs).execute();
        const kindBefore = new Map(before.map((b) => [b.ref, b.kind]));
        const fingersBefore = await this.fingersOf(trx, refs);
        const changed = page.filter(
          (p) => kindBefore.get(p.ref) !== p.kind || concatIso(fingersBefore.get(p.ref) ?? []) !== concatIso(p.fingers.map((f) => ({ position: f.position, template: f.iso }))),
        );
        unchanged += page.length - changed.length;
        if (changed.length === 0) continue;
        const changedRefs = changed.map((p) => p.ref);
        await trx.deleteFrom('fingerprint_fingers').where('ref', 'in', changedRefs).execute();
        await trx
          .insertInto('fingerprint_persons')
          .values(changed.map((p) => ({ ref: p.ref, kind: p.kind, import_id: imp.id })))
          .onConflict((oc) => oc.column('ref').doUpdateSet((eb) => ({ kind: eb.ref('excluded.kind'), import_id: eb.ref('excluded.import_id'), updated_at: sql<string>`now()` })))
          .execute();
        const rows = changed.flatMap((p) =>
          p.fingers.map((f, k) => ({ ref: p.ref, idx: k + 1, position: f.position, minutiae: f.template.minutiae.length, source: f.source as FingerSource, template: f.iso })),
        );
        await trx.insertInto('fingerprint_fingers').values(rows).execute();
        await trx.insertInto('fingerprint_changes').values(changedRefs.map((ref) => ({ ref, op: 'put' as const }))).execute();
        stored += changed.length;
        fingers += rows.length;
      }
      let deleted = 0;
      if (options.replace) {
        let after = '';
        for (;;) {
          const refs = await trx.selectFrom('fingerprint_persons').select('ref').where('ref', '>', after).orderBy('ref').limit(PAGE).execute();
          deleted += await this.deleteIn(trx, refs.map((r) => r.ref).filter((r) => !persons.has(r)));
          if (refs.length < PAGE) break;
          after = refs[refs.length - 1]!.ref;
        }
      }
      await trx.updateTable('fingerprint_imports').set({ persons: stored, fingers, deleted }).where('id', '=', imp.id).execute();
      return { importId: imp.id, stored, unchanged, deleted, fingers };
    });
    await this.sync();
    return { ...result, files: summary, mode, seconds: Math.round((performance.now() - started) / 10) / 100 };
  }

  /** Erases persons (or traces) from the file and from memory. All or nothing: an unknown reference deletes nothing. */
  async deleteRefs(refs: readonly string[]): Promise<{ importId: number; deleted: number; refs: string[] }> {
    const list = [...new Set(refs.map((r) => r.trim()))];
    if (list.length === 0) throw new OpenPrumError('usage', 'Name at least one reference to delete');
    for (const r of list) checkFingerprintRef(r, 'reference');
    const result = await this.db.transaction().execute(async (trx) => {
      const found = new Set<string>();
      for (let i = 0; i < list.length; i += PAGE) {
        for (const row of await trx.selectFrom('fingerprint_persons').select('ref').where('ref', 'in', list.slice(i, i + PAGE)).execute()) found.add(row.ref);
      }
      const missing = list.filter((r) => !found.has(r));
      if (missing.length > 0) {
        throw new OpenPrumError('not-found', `The national fingerprint file holds no ${missing.length === 1 ? 'reference' : 'references'} ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ' …' : ''}; nothing was deleted`, { missing: missing.slice(0, 100) });
      }
      const imp = await trx.insertInto('fingerprint_imports').values({ files: JSON.stringify([]), mode: 'delete' }).returning('id').executeTakeFirstOrThrow();
      let deleted = 0;
      for (let i = 0; i < list.length; i += PAGE) deleted += await this.deleteIn(trx, list.slice(i, i + PAGE));
      await trx.updateTable('fingerprint_imports').set({ deleted }).where('id', '=', imp.id).execute();
      return { importId: imp.id, deleted };
    });
    await this.sync();
    return { ...result, refs: list };
  }

  private async deleteIn(trx: Kysely<Schema>, refs: string[]): Promise<number> {
    if (refs.length === 0) return 0;
    // The fingers go with their person (on delete cascade).
    const gone = await trx.deleteFrom('fingerprint_persons').where('ref', 'in', refs).returning('ref').execute();
    if (gone.length > 0) await trx.insertInto('fingerprint_changes').values(gone.map((g) => ({ ref: g.ref, op: 'delete' as const }))).execute();
    return gone.length;
  }

  /**
   * Automated search of a ten-print or a latent against the national file (Prüm Decision Art. 9),
   * answered with the ranked candidates and hit/no-hit, recorded (Art. 30(2)(b)). An officer's search
   * is also kept (fingerprint_searches), in the record's transaction, for the examiner's decisions.
   */
  async search(caller: Caller, input: FingerprintSearchInput, requestId?: string, options: FingerprintSearchOptions = {}): Promise<FingerprintSearchAnswer> {
    // Officers need the role (Art. 30(2)(a)); a peer's search is allowed by this node's declaration,
    // which the exchange checks before it calls here.
    if (caller.kind === 'officer') requireRole(caller, 'officer');
    const reason = requiredText('reason', input.reason, 500);
    const orderedBy = requiredText('orderedBy', input.orderedBy, 200);
    const probe = input.probe;
    if (!FINGERPRINT_REF.test(probe.ref)) {
      throw new OpenPrumError('fingerprint-search-invalid', `probe.ref ${JSON.stringify(probe.ref.slice(0, 80))} is not a reference number: 1 to 64 letters, digits and . _ : / # - (no names, Prüm Decision Art. 8)`);
    }
    if (probe.kind !== 'reference' && probe.kind !== 'unidentified') throw new OpenPrumError('fingerprint-search-invalid', 'probe.kind is "reference" (a ten-print) or "unidentified" (a latent)');
    if (probe.fingers.length === 0) throw new OpenPrumError('fingerprint-search-invalid', 'the probe holds no finger');
    checkFingerSet(probe.fingers, 'probe', 'fingerprint-search-invalid');
    const limit = input.limit ?? DEFAULT_CANDIDATES;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CANDIDATES) throw new OpenPrumError('fingerprint-search-invalid', `limit is 1-${MAX_CANDIDATES} candidates`);
    const supply = options.supply ?? 'ranked';
    const db = options.db ?? this.db;

    await this.sync(db);
    const persons = this.size;
    const proposed = persons === 0 ? [] : await this.gallery.search(probe.fingers.map((f) => ({ position: f.position, template: f.template })), { limit });
    const candidates = await this.score(db, probe, proposed.map((c) => c.ref), persons, supply === 'hits');
    const listed = supply === 'hits' ? candidates.filter((c) => c.hit) : candidates;
    const hit = candidates.some((c) => c.hit);
    const searchingBody = `${caller.kind === 'peer' ? caller.country : this.country} NCP`;
    const administeringBody = `${this.country} fingerprint file`;
    const probeSummary = { ref: probe.ref, kind: probe.kind, fingers: probe.fingers.map((f) => ({ position: f.position, minutiae: f.template.minutiae.length })) };
    const threshold = { expectedFalseCandidates: HIT_EXPECTED_FALSE_CANDIDATES, personsInFile: persons, fmr: persons > 0 ? HIT_EXPECTED_FALSE_CANDIDATES / persons : 1 };
    const entry = {
      action: 'fingerprint.search',
      direction: caller.kind === 'peer' ? ('incoming' as const) : ('local' as const),
      searchingBody,
      administeringBody,
      officerId: caller.kind === 'officer' ? caller.officerId : null,
      officerReference: caller.kind === 'officer' ? caller.reference : null,
      orderedBy,
      reason,
      purpose: FINGERPRINT_PURPOSE,
      legalBasis: FINGERPRINT_SEARCH_LEGAL_BASIS,
      // The record keeps the dactyloscopic data searched and the data supplied (Art. 30(2)(b)(i));
      // nothing else keeps a peer's probe after the comparison (Art. 26(2)).
      query: { probe: { ...probeSummary, fingers: probe.fingers.map((f) => ({ position: f.position, minutiae: f.template.minutiae.length, template: f.iso.toString('base64') })) }, limit },
      supplied: listed.length > 0 ? listed : null,
      hit,
      outcome: hit ? ('hit' as const) : ('no-hit' as const),
      requestId: requestId ?? null,
    };
    if (caller.kind === 'peer') {
      const rec = await writeRecord(db, entry);
      return { hit, probe: probeSummary, candidates: listed, threshold, recordId: rec.id, searchedAt: rec.recordedAt, searchingBody, administeringBody };
    }
    const id = randomUUID();
    const write = async (trx: Kysely<Schema>) => {
      const rec = await writeRecord(trx, entry);
      await trx
        .insertInto('fingerprint_searches')
        .values({
          id,
          record_id: rec.id,
          officer_id: caller.officerId,
          officer_reference: caller.reference,
          probe_ref: probe.ref,
          probe_kind: probe.kind,
          probe: JSON.stringify(probeSummary.fingers),
          hit,
          candidates: JSON.stringify(listed),
        })
        .execute();
      return rec;
    };
    const rec = options.db ? await write(options.db) : await this.db.transaction().execute(write);
    return { id, hit, probe: probeSummary, candidates: listed, threshold, recordId: rec.id, searchedAt: rec.recordedAt, searchingBody, administeringBody };
  }

  /** Compares the probe again, finger by finger, with each proposed candidate's stored templates. */
  private async score(db: Kysely<Schema>, probe: FingerprintProbe, refs: readonly string[], persons: number, withTemplates: boolean): Promise<FingerprintCandidate[]> {
    if (refs.length === 0) return [];
    const kinds = new Map((await db.selectFrom('fingerprint_persons').select(['ref', 'kind']).where('ref', 'in', refs).execute()).map((r) => [r.ref, r.kind]));
    const stored = await this.fingersOf(db, refs);
    const probes: Array<{ position: number; prepared: PreparedTemplate | undefined }> = probe.fingers.map((f) => ({ position: f.position, prepared: tryPrepare(f.template) }));
    const out: Array<Omit<FingerprintCandidate, 'rank'> & { evidence: number }> = [];
    for (const ref of refs) {
      const kind = kinds.get(ref);
      const rows = stored.get(ref);
      // Erased between the gallery search and now: not an answer any more.
      if (kind === undefined || rows === undefined) continue;
      const theirs = rows.map((r) => ({ position: r.position, iso: r.template, prepared: tryPrepare(readMinutiaeTemplate(r.template, { format: 'iso19794-2' })) }));
      const fingers: CandidateFinger[] = [];
      let evidence = 0;
      let score = 0;
      for (const p of probes) {
        if (!p.prepared) continue;
        let best: { position: number; score: number; iso: Uint8Array } | undefined;
        for (const t of theirs) {
          if (!t.prepared) continue;
          // Known positions are compared position to position; an unknown one with every finger.
          if (p.position !== 0 && t.position !== 0 && p.position !== t.position) continue;
          const s = compare(p.prepared, t.prepared);
          if (!best || s > best.score) best = { position: t.position, score: s, iso: t.iso };
        }
        if (!best) continue;
        const fmr = scoreToFmr(best.score);
        evidence += -Math.log10(fmr);
        score += best.score;
        fingers.push({ probePosition: p.position, position: best.position, score: round2(best.score), fmr, ...(withTemplates ? { template: Buffer.from(best.iso).toString('base64') } : {}) });
      }
      const fmr = Math.max(FMR_FLOOR, Math.pow(10, -evidence));
      const expected = fmr * persons;
      out.push({ ref, kind, score: round2(score), fmr, expectedFalseCandidates: expected, hit: expected <= HIT_EXPECTED_FALSE_CANDIDATES, fingers, evidence });
    }
    out.sort((a, b) => b.evidence - a.evidence || b.score - a.score);
    return out.map(({ evidence: _e, ...c }, i) => ({ rank: i + 1, ...c }));
  }
}

function tryPrepare(t: MinutiaeTemplate): PreparedTemplate | undefined {
  try {
    return prepare(t);
  } catch {
    return undefined;
  }
}

