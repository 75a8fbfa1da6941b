/**
 * The node's national fingerprint file (Prüm Decision Arts. 8-9): imports all or nothing, the
 * in-memory gallery following the database across instances ("processes") and restarts, erasure
 * from database and memory, ranked and recorded searches of ten-prints and latents.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOpenPrumError } from '../../src/errors/index.ts';
import { NationalFingerprintFile } from '../../src/fingerprint/national-file.ts';
import { fingerFromImage, storedFinger } from '../../src/fingerprint/reference-input.ts';
import { buildTransaction } from '../../src/fingerprint/transaction-builder.ts';
import type { OfficerCaller } from '../../src/identity/caller.ts';
import { createTestNode, type TestNode } from '../support/test-node.ts';
import { fingerImage, fingerTemplate, iso, scratch } from './support.ts';

let t: TestNode;
let file: NationalFingerprintFile;
let files: ReturnType<typeof scratch>;
let officer: OfficerCaller;

// NL-P-1: fingers 1 and 2 as images, 3 as Type-9 minutiae. NL-P-2: two ISO records (fingers 1, 2).
// NL-P-3: ten fingers as Type-9. NL-T-9: a latent (Type-13 image, position unknown).
const P1 = () => buildTransaction({ tcn: 'NL-P-1', fingers: [{ position: 1, image: fingerImage(11) }, { position: 2, image: fingerImage(12) }, { position: 3, template: fingerTemplate(13) }] });
const P3 = () => buildTransaction({ tcn: 'NL-P-3', fingers: Array.from({ length: 10 }, (_, i) => ({ position: i + 1, template: fingerTemplate(30 + i) })) });
const T9 = () => buildTransaction({ tcn: 'NL-T-9', fingers: [{ position: 0, image: fingerImage(91), latent: true }] });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isOpenPrumError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'resolved';
}

async function counts() {
  const db = t.node.db;
  const n = async (table: 'fingerprint_persons' | 'fingerprint_fingers' | 'fingerprint_imports' | 'fingerprint_changes') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { persons: await n('fingerprint_persons'), fingers: await n('fingerprint_fingers'), imports: await n('fingerprint_imports'), changes: await n('fingerprint_changes') };
}

beforeAll(async () => {
  t = await createTestNode('NL');
  files = scratch('openprum-fp-');
  const o = await t.tokenFor('NL-4711', ['officer']);
  officer = { kind: 'officer', officerId: o.officerId, reference: 'NL-4711', name: 'Officer', roles: ['officer'], tokenId: 0 };
  file = await t.node.fingerprints();
}, 60_000);
afterAll(async () => {
  await file?.close();
  await t?.close();
  files?.remove();
});

describe('import', () => {
  it('stores ANSI/NIST-ITL transactions and ISO records by reference, with kinds and a change log', async () => {
    const r = await file.importFiles([
      files.write('p1.an2', P1()),
      files.write('NL-P-2.f1.iso', iso(fingerTemplate(21, 1, 1))),
      files.write('NL-P-2.f2.iso', iso(fingerTemplate(22, 1, 2))),
      files.write('p3.an2', P3()),
      files.write('t9.an2', T9()),
    ]);
    expect(r).toMatchObject({ mode: 'upsert', stored: 4, unchanged: 0, deleted: 0, fingers: 3 + 2 + 10 + 1 });
    expect(r.files.map((f) => f.ref)).toEqual(['NL-P-1', 'NL-P-2', 'NL-P-2', 'NL-P-3', 'NL-T-9']);
    const persons = await t.node.db.selectFrom('fingerprint_persons').select(['ref', 'kind']).orderBy('ref').execute();
    expect(persons).toEqual([
      { ref: 'NL-P-1', kind: 'reference' },
      { ref: 'NL-P-2', kind: 'reference' },
      { ref: 'NL-P-3', kind: 'reference' },
      { ref: 'NL-T-9', kind: 'unidentified' },
    ]);
    const fingers = await t.node.db.selectFrom('fingerprint_fingers').select(['position', 'source']).where('ref', '=', 'NL-P-1').orderBy('idx').execute();
    expect(fingers).toEqual([
      { position: 1, source: 'image' },
      { position: 2, source: 'image' },
      { position: 3, source: 'type-9' },
    ]);
    expect(file.size).toBe(4);
    for (const ref of ['NL-P-1', 'NL-P-2', 'NL-P-3', 'NL-T-9']) expect(file.inMemory(ref)).toBe(true);
    expect((await counts()).changes).toBe(4);
    // The same files again change nothing.
    const again = await file.importFiles([files.dir + '/p1.an2', files.dir + '/p3.an2']);
    expect(again).toMatchObject({ stored: 0, unchanged: 2 });
  }, 60_000);

  it('refuses bad input naming the file and record, and stores nothing', async () => {
    const before = await counts();
    const good = files.dir + '/p1.an2';
    const p1 = readFileSync(good);
    const bad: Array<[string, Uint8Array, RegExp]> = [
      ['cut.an2', p1.subarray(0, 900), /^fingerprint-transaction-invalid: cut\.an2.*LEN/],
      ['NL-X.iso', readFileSync('test/fixtures/fingerprint/openafis-iso/101_1_truncate_1_byte.iso'), /^fingerprint-template-invalid: NL-X\.iso/],
      ['NL-Z.iso', iso({ ...fingerTemplate(1), minutiae: [] }), /^fingerprint-minutiae-too-few: NL-Z\.iso/],
      ['names.an2', buildTransaction({ tcn: 'NL-N-1', type2: { 18: 'SMITH,TOM' }, fingers: [{ position: 1, template: fingerTemplate(1) }] }), /^fingerprint-personal-data: names\.an2, record 2 \(Type-2\): field 2\.018 NAM/],
      ['lowres.an2', buildTransaction({ tcn: 'NL-L-1', fingers: [{ position: 1, image: fingerImage(5, 1, { ppi: 96, width: 100, height: 100 }) }] }), /^fingerprint-image-invalid: lowres\.an2, record 2 \(Type-14\).*96 ppi/],
      ['huge.an2', buildTransaction({ tcn: 'NL-H-1', fingers: [{ position: 1, image: { width: 2100, height: 2100, ppi: 500, pixels: new Uint8Array(2100 * 2100) } }] }), /^fingerprint-image-too-large: huge\.an2, record 2 \(Type-14\)/],
      ['eleven.an2', buildTransaction({ tcn: 'NL-E-1', fingers: Array.from({ length: 11 }, (_, i) => ({ position: 0, template: fingerTemplate(50 + i) })) }), /^fingerprint-transaction-invalid: eleven\.an2: 11 fingers were given/],
      ['twice.an2', buildTransaction({ tcn: 'NL-D-1', fingers: [{ position: 4, template: fingerTemplate(1) }, { position: 4, template: fingerTemplate(2) }] }), /finger position 4 \(right ring\) is given twice: twice\.an2, record 2 \(Type-9\) and twice\.an2, record 3 \(Type-9\)/],
      ['Jan Smit.iso', iso(fingerTemplate(3)), /^fingerprint-file-invalid: Jan Smit\.iso.*not a reference number/],
      ['notes.txt', Buffer.from('hello'), /^fingerprint-file-invalid: notes\.txt: this is neither/],
    ];
    for (const [name, bytes, expected] of bad) {
      // Each bad file travels with a good one: the good one must not be stored either.
      expect(await code(file.importFiles([good, files.write(name, bytes)], { replace: true }))).toMatch(expected);
    }
    expect(await counts()).toEqual(before);
    expect(file.size).toBe(4);
  }, 60_000);

  it('imports a transaction with names only when told to drop descriptive data, and never stores Type-2', async () => {
    const f = files.write('named.an2', buildTransaction({ tcn: 'NL-N-2', type2: { 18: 'SMITH,TOM', 22: '19700101' }, fingers: [{ position: 1, template: fingerTemplate(70) }] }));
    const r = await file.importFiles([f], { dropDescriptiveData: true });
    expect(r.files[0]!.ignored).toEqual(['record 2 (Type-2, descriptive data): not stored']);
    const row = await t.node.db.selectFrom('fingerprint_fingers').select('template').where('ref', '=', 'NL-N-2').executeTakeFirstOrThrow();
    expect(Buffer.from(row.template).includes('SMITH')).toBe(false);
    await file.deleteRefs(['NL-N-2']);
  }, 30_000);
});

describe('search', () => {
  it('finds a ten-print from another impression and records the search with its candidates', async () => {
    const probe = [fingerFromImage(fingerImage(11, 2), 1, 'probe finger 1'), fingerFromImage(fingerImage(12, 2), 2, 'probe finger 2')];
    const a = await file.search(officer, { probe: { ref: 'NL-CASE-1', kind: 'reference', fingers: probe }, reason: 'Case 1', orderedBy: 'Prosecutor' }, 'req-1');
    expect(a.hit).toBe(true);
    expect(a.candidates[0]).toMatchObject({ rank: 1, ref: 'NL-P-1', kind: 'reference', hit: true });
    expect(a.candidates[0]!.fingers.map((f) => [f.probePosition, f.position])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(a.candidates[0]!.fmr).toBeLessThan(1e-6);
    expect(a.candidates.slice(1).every((c) => !c.hit)).toBe(true);
    const rec = await t.node.db.selectFrom('records').selectAll().where('id', '=', a.recordId).executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ action: 'fingerprint.search', direction: 'local', hit: true, outcome: 'hit', officer_reference: 'NL-4711', reason: 'Case 1', legal_basis: 'Prüm Decision Art. 9(1)', request_id: 'req-1' });
    expect((rec.query as { probe: { fingers: unknown[] } }).probe.fingers).toHaveLength(2);
    const kept = await t.node.db.selectFrom('fingerprint_searches').selectAll().where('id', '=', a.id!).executeTakeFirstOrThrow();
    expect(kept.record_id).toBe(a.recordId);
  }, 30_000);

  it('finds the finger of a latent of unknown position, and answers no hit for an unknown finger', async () => {
    const latent = storedFinger(fingerTemplate(22, 3), 0, 'iso19794-2', 'latent');
    const a = await file.search(officer, { probe: { ref: 'NL-LAT-1', kind: 'unidentified', fingers: [latent] }, reason: 'Case 2', orderedBy: 'Prosecutor' });
    expect(a.hit).toBe(true);
    expect(a.candidates[0]).toMatchObject({ ref: 'NL-P-2', hit: true, fingers: [{ probePosition: 0, position: 2 }] });
    const none = await file.search(officer, { probe: { ref: 'NL-LAT-2', kind: 'unidentified', fingers: [storedFinger(fingerTemplate(999), 0, 'iso19794-2', 'x')] }, reason: 'Case 3', orderedBy: 'Prosecutor' });
    expect(none.hit).toBe(false);
    expect(none.threshold.personsInFile).toBe(4);
    const rec = await t.node.db.selectFrom('records').select(['outcome', 'hit']).where('id', '=', none.recordId).executeTakeFirstOrThrow();
    expect(rec).toEqual({ outcome: 'no-hit', hit: false });
  }, 30_000);

  it('refuses an officer without the role and a probe of more than ten fingers', async () => {
    const fingers = Array.from({ length: 11 }, (_, i) => storedFinger(fingerTemplate(60 + i), 0, 'iso19794-2', `f${i}`));
    expect(await code(file.search(officer, { probe: { ref: 'NL-X', kind: 'reference', fingers }, reason: 'r', orderedBy: 'o' }))).toMatch(/^fingerprint-search-invalid: probe: 11 fingers/);
    expect(await code(file.search({ ...officer, roles: ['reviewer'] }, { probe: { ref: 'NL-X', kind: 'reference', fingers: fingers.slice(0, 1) }, reason: 'r', orderedBy: 'o' }))).toMatch(/^forbidden/);
  });
});

describe('the gallery follows the database', () => {
  it('across instances (another process) and restarts, and erasure removes a person from both', async () => {
    // A second instance on the same database stands for the CLI importing while the server runs.
    const other = await NationalFingerprintFile.open(t.node.db, 'NL');
    expect(other.size).toBe(4);
    await other.importFiles([files.write('NL-P-5.iso', iso(fingerTemplate(55, 1, 6)))]);
    const probe = { ref: 'NL-CASE-5', kind: 'reference' as const, fingers: [storedFinger(fingerTemplate(55, 2), 6, 'iso19794-2', 'p')] };
    const found = await file.search(officer, { probe, reason: 'Case 5', orderedBy: 'Prosecutor' });
    expect(found.candidates[0]).toMatchObject({ ref: 'NL-P-5', hit: true });
    expect(file.inMemory('NL-P-5')).toBe(true);

    // Erasure through one instance: gone from the tables, from its memory, and from the other's
    // memory at its next search.
    expect(await code(file.deleteRefs(['NL-P-5', 'NL-NOBODY']))).toMatch(/^not-found: .*NL-NOBODY; nothing was deleted/);
    expect(file.inMemory('NL-P-5')).toBe(true);
    const d = await other.deleteRefs(['NL-P-5']);
    expect(d.deleted).toBe(1);
    expect(other.inMemory('NL-P-5')).toBe(false);
    expect(await t.node.db.selectFrom('fingerprint_fingers').select('ref').where('ref', '=', 'NL-P-5').execute()).toEqual([]);
    const after = await file.search(officer, { probe, reason: 'Case 5', orderedBy: 'Prosecutor' });
    expect(file.inMemory('NL-P-5')).toBe(false);
    expect(after.candidates.map((c) => c.ref)).not.toContain('NL-P-5');

    // A restart builds the same gallery from the database.
    const restarted = await NationalFingerprintFile.open(t.node.db, 'NL');
    expect(restarted.size).toBe(file.size);
    const again = await restarted.search(officer, { probe: { ref: 'NL-LAT-1', kind: 'unidentified', fingers: [storedFinger(fingerTemplate(22, 3), 0, 'iso19794-2', 'l')] }, reason: 'r', orderedBy: 'o' });
    expect(again.candidates[0]).toMatchObject({ ref: 'NL-P-2', fingers: [{ position: 2 }] });
    await other.close();
    await restarted.close();
  }, 60_000);

  it('--replace makes the files the whole file', async () => {
    const r = await file.importFiles([files.dir + '/p3.an2'], { replace: true });
    expect(r).toMatchObject({ unchanged: 1, deleted: 3 });
    expect(file.size).toBe(1);
    expect(file.inMemory('NL-P-1')).toBe(false);
    expect((await counts()).persons).toBe(1);
  }, 30_000);
});
