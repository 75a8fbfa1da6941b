/**
 * The fingerprint API (Prüm Decision Art. 9): POST /v1/fingerprints/searches with a transaction,
 * minutiae records or PNG images; the examiner's decisions on candidates (Art. 9(2)) and the search
 * view with them; every search and decision recorded; bad input refused clearly, nothing stored.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTransaction } from '../../src/fingerprint/transaction-builder.ts';
import { buildServer } from '../../src/http/server.ts';
import { createTestNode, type TestNode } from '../support/test-node.ts';
import { fingerImage, fingerTemplate, iso, png, scratch } from './support.ts';

let t: TestNode;
let api: FastifyInstance;
let officer: { officerId: number; token: string };
let colleague: { officerId: number; token: string };
let supervisor: { officerId: number; token: string };
let files: ReturnType<typeof scratch>;

beforeAll(async () => {
  t = await createTestNode('NL');
  api = await buildServer(t.node, { logLevel: 'silent' });
  officer = await t.tokenFor('NL-4711', ['officer']);
  colleague = await t.tokenFor('NL-4712', ['officer']);
  supervisor = await t.tokenFor('NL-DPA-1', ['supervisor']);
  files = scratch('openprum-fp-api-');
  const file = await t.node.fingerprints();
  await file.importFiles([
    files.write('a.an2', buildTransaction({ tcn: 'NL-P-1', fingers: [{ position: 1, image: fingerImage(11) }, { position: 7, template: fingerTemplate(17) }] })),
    files.write('NL-P-2.iso', iso(fingerTemplate(21, 1, 2))),
    files.write('NL-P-3.iso', iso(fingerTemplate(31, 1, 3))),
  ]);
}, 60_000);
afterAll(async () => {
  await api?.close();
  await t?.close();
  files?.remove();
});

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const search = (probe: unknown, token = officer.token, extra: Record<string, unknown> = {}) =>
  api.inject({ method: 'POST', url: '/v1/fingerprints/searches', headers: { authorization: `Bearer ${token}` }, payload: { probe, reason: 'Case 2026/42', orderedBy: 'Prosecutor M. Bakker', ...extra } });
const records = async () => Number((await t.node.db.selectFrom('records').select((eb) => eb.fn.countAll().as('n')).where('action', '=', 'fingerprint.search').executeTakeFirstOrThrow()).n);

describe('POST /v1/fingerprints/searches', () => {
  let searchId: string;

  it('searches a ten-print transaction and answers ranked candidates with hit/no-hit', async () => {
    const tx = buildTransaction({ tcn: 'NL-CASE-1', type2: { 18: 'SMITH,TOM' }, fingers: [{ position: 1, image: fingerImage(11, 2) }, { position: 7, template: fingerTemplate(17, 2) }] });
    const r = await search({ ref: 'NL-CASE-1', kind: 'reference', transaction: b64(tx) });
    expect(r.statusCode, r.body).toBe(201);
    const a = r.json();
    searchId = a.id;
    expect(r.headers.location).toBe(`/v1/fingerprints/searches/${a.id}`);
    expect(a).toMatchObject({ hit: true, probe: { ref: 'NL-CASE-1', kind: 'reference', fingers: [{ position: 1 }, { position: 7 }] }, administeringBody: 'NL fingerprint file' });
    expect(a.candidates[0]).toMatchObject({ rank: 1, ref: 'NL-P-1', kind: 'reference', hit: true });
    expect(a.candidates[0].fingers.map((f: { position: number }) => f.position)).toEqual([1, 7]);
    expect(a.threshold).toEqual({ expectedFalseCandidates: 0.01, personsInFile: 3, fmr: 0.01 / 3 });
    // The probe's Type-2 (a name) is in no record.
    const rec = await t.node.db.selectFrom('records').selectAll().where('id', '=', a.recordId).executeTakeFirstOrThrow();
    expect(JSON.stringify(rec)).not.toContain('SMITH');
  }, 30_000);

  it('searches a latent given as a PNG image with its resolution, and an ISO record', async () => {
    const r = await search({ ref: 'NL-LAT-1', kind: 'unidentified', fingers: [{ image: b64(png(fingerImage(11, 3))), ppi: 500 }] });
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json().candidates[0]).toMatchObject({ ref: 'NL-P-1', hit: true, fingers: [{ probePosition: 0, position: 1 }] });
    const i = await search({ ref: 'NL-LAT-2', kind: 'unidentified', fingers: [{ template: b64(iso(fingerTemplate(31, 2))) }] });
    expect(i.statusCode, i.body).toBe(201);
    expect(i.json().candidates[0]).toMatchObject({ ref: 'NL-P-3', hit: true, fingers: [{ position: 3 }] });
  }, 30_000);

  it('refuses bad input clearly and records nothing', async () => {
    const before = await records();
    const cases: Array<[unknown, number, string, RegExp]> = [
      [{ ref: 'NL-X', kind: 'unidentified', transaction: b64(Buffer.from('1.001:12\u001d1.002:0400\u001c')) }, 400, 'fingerprint-transaction-invalid', /probe\.transaction/],
      [{ ref: 'NL-X', kind: 'unidentified', fingers: [{ template: b64(Buffer.from('FMR\0 20\0\0\0\0\x20')) }] }, 400, 'fingerprint-template-invalid', /probe\.fingers\[0\]/],
      [{ ref: 'NL-X', kind: 'unidentified', fingers: [{ template: b64(iso({ ...fingerTemplate(1), minutiae: [] })) }] }, 422, 'fingerprint-minutiae-too-few', /probe\.fingers\[0\]/],
      [{ ref: 'NL-X', kind: 'unidentified', fingers: [{ image: b64(png(fingerImage(1))), ppi: 100 }] }, 400, 'fingerprint-image-invalid', /100 ppi/],
      [{ ref: 'NL-X', kind: 'unidentified', fingers: [{ image: b64(png({ width: 2400, height: 300, ppi: 500, pixels: new Uint8Array(2400 * 300).fill(200) })), ppi: 500 }] }, 413, 'fingerprint-image-too-large', /probe\.fingers\[0\]/],
      [{ ref: 'NL-X', kind: 'reference', fingers: Array.from({ length: 11 }, (_, k) => ({ template: b64(iso(fingerTemplate(40 + k))) })) }, 400, 'fingerprint-search-invalid', /11 fingers/],
      [{ ref: 'NL-X', kind: 'reference', fingers: [{ position: 2, template: b64(iso(fingerTemplate(1))) }, { position: 2, template: b64(iso(fingerTemplate(2))) }] }, 400, 'fingerprint-search-invalid', /position 2 \(right index\) is given twice/],
      [{ ref: 'NL-X', kind: 'reference', fingers: [{ image: b64(png(fingerImage(1))) }] }, 400, 'fingerprint-search-invalid', /needs its resolution/],
      [{ ref: 'NL-X', kind: 'reference', fingers: [{ template: 'not base64!' }] }, 400, 'fingerprint-search-invalid', /not base64/],
      [{ ref: 'Jan Smit', kind: 'reference', fingers: [{ template: b64(iso(fingerTemplate(1))) }] }, 400, 'fingerprint-search-invalid', /not a reference number/],
    ];
    for (const [probe, status, code, detail] of cases) {
      const r = await search(probe);
      expect(r.statusCode, r.body).toBe(status);
      expect(r.json().code).toBe(code);
      expect(r.json().detail).toMatch(detail);
    }
    expect(await records()).toBe(before);
  }, 30_000);

  it('lets the searching officer confirm or reject each candidate once, recorded, and shows the decisions', async () => {
    const decide = (ref: string, body: Record<string, unknown>, token = officer.token) =>
      api.inject({ method: 'POST', url: `/v1/fingerprints/searches/${searchId}/candidates/${ref}/decision`, headers: { authorization: `Bearer ${token}` }, payload: body });
    const c = await decide('NL-P-1', { decision: 'confirmed', note: '14 points in agreement, finger 1' });
    expect(c.statusCode, c.body).toBe(201);
    expect(c.json()).toMatchObject({ searchId, state: 'NL', ref: 'NL-P-1', decision: 'confirmed', officerReference: 'NL-4711' });
    const rec = await t.node.db.selectFrom('records').selectAll().where('id', '=', c.json().recordId).executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ action: 'fingerprint.decision', legal_basis: 'Prüm Decision Art. 9(2)', officer_reference: 'NL-4711', outcome: 'done' });
    expect((await decide('NL-P-1', { decision: 'rejected' })).statusCode).toBe(409);
    const other = (await api.inject({ method: 'GET', url: `/v1/fingerprints/searches/${searchId}`, headers: { authorization: `Bearer ${officer.token}` } })).json();
    const second = other.candidates.find((x: { ref: string }) => x.ref !== 'NL-P-1');
    expect((await decide(second.ref, { decision: 'rejected' })).statusCode).toBe(201);
    // Only the searching officer decides; another officer is refused (and the refusal recorded).
    expect((await decide('NL-P-1', { decision: 'rejected' }, colleague.token)).statusCode).toBe(403);
    expect((await decide('NL-NOBODY', { decision: 'confirmed' })).statusCode).toBe(404);
    expect((await decide('NL-P-1', { decision: 'maybe' })).statusCode).toBe(400);

    const view = await api.inject({ method: 'GET', url: `/v1/fingerprints/searches/${searchId}`, headers: { authorization: `Bearer ${officer.token}` } });
    expect(view.statusCode).toBe(200);
    const v = view.json();
    expect(v).toMatchObject({ id: searchId, scope: 'local', hit: true, officerReference: 'NL-4711' });
    expect(v.candidates.find((x: { ref: string }) => x.ref === 'NL-P-1').decision).toMatchObject({ decision: 'confirmed', note: '14 points in agreement, finger 1' });
    expect(v.candidates.find((x: { ref: string }) => x.ref === second.ref).decision).toMatchObject({ decision: 'rejected', note: null });
    // The supervisor may check it; another officer does not see it.
    expect((await api.inject({ method: 'GET', url: `/v1/fingerprints/searches/${searchId}`, headers: { authorization: `Bearer ${supervisor.token}` } })).statusCode).toBe(200);
    expect((await api.inject({ method: 'GET', url: `/v1/fingerprints/searches/${searchId}`, headers: { authorization: `Bearer ${colleague.token}` } })).statusCode).toBe(404);
  }, 30_000);

  it('needs the officer role', async () => {
    const r = await search({ ref: 'NL-X', kind: 'reference', fingers: [{ template: b64(iso(fingerTemplate(1))) }] }, supervisor.token);
    expect(r.statusCode).toBe(403);
  });
});
