import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../test/support/test-node.ts';
import { DEMO_VEHICLES } from '../../cli/demo.ts';
import { writeVehicleFile } from '../../vehicle/generate.ts';
import { importVehicles } from '../../vehicle/import.ts';
import { buildServer } from '../server.ts';

let t: TestNode;
let app: FastifyInstance;
let officer: { officerId: number; token: string };
let supervisor: { officerId: number; token: string };
let dir: string;

const search = (body: unknown, token = officer.token, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/vehicles/searches', headers: { authorization: `Bearer ${token}`, ...headers }, payload: body as object });

const valid = { purpose: 'criminal-offences', reason: 'Case 2026/17: car seen at a burglary', orderedBy: 'Inspector J. de Vries' };

async function recordCount(): Promise<number> {
  const r = await t.node.db.selectFrom('records').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

beforeAll(async () => {
  t = await createTestNode('NL');
  dir = mkdtempSync(join(tmpdir(), 'openprum-http-'));
  const file = join(dir, 'v.csv');
  await writeVehicleFile(file, { count: 500, country: 'NL', seed: 3, format: 'csv', fixed: DEMO_VEHICLES });
  await importVehicles(t.node.db, file);
  app = await buildServer(t.node, { logLevel: 'silent' });
  officer = await t.tokenFor('off-1', ['officer']);
  supervisor = await t.tokenFor('dpa-1', ['supervisor']);
});
afterAll(async () => {
  await app.close();
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/vehicles/searches', () => {
  it('answers a hit by registration number with vehicle and holder, and records it', async () => {
    const before = await recordCount();
    const r = await search({ registrationNumber: 'xk 123 b', ...valid });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ hit: true, searchingBody: 'NL NCP', administeringBody: 'NL vehicle register' });
    expect(body.vehicles).toEqual([DEMO_VEHICLES[0]]);
    expect(await recordCount()).toBe(before + 1);
    const rec = await t.node.db.selectFrom('records').selectAll().where('id', '=', body.recordId).executeTakeFirstOrThrow();
    // Prüm Decision Art. 30(2)(b): data supplied, exact time, bodies, reason, officer, who ordered it, hit.
    expect(rec).toMatchObject({
      action: 'vehicle.search',
      officer_id: officer.officerId,
      officer_reference: 'off-1',
      ordered_by: 'Inspector J. de Vries',
      reason: 'Case 2026/17: car seen at a burglary',
      purpose: 'criminal-offences',
      legal_basis: 'Prüm Decision Art. 12(1)',
      query: { registrationNumber: 'XK123B' },
      hit: true,
      outcome: 'hit',
      searching_body: 'NL NCP',
      administering_body: 'NL vehicle register',
      request_id: r.headers['x-request-id'],
    });
    expect(rec.supplied).toEqual([DEMO_VEHICLES[0]]);
    expect(rec.recorded_at).toBe(body.searchedAt);
  });

  it('answers a hit by VIN (legal person) and a recorded no-hit', async () => {
    const hit = await search({ vin: 'vf1-rfb00x6-2345678', ...valid });
    expect(hit.json()).toMatchObject({ hit: true, vehicles: [DEMO_VEHICLES[1]] });
    const miss = await search({ registrationNumber: 'ZZ-999-Z', ...valid });
    expect(miss.statusCode).toBe(200);
    expect(miss.json()).toMatchObject({ hit: false, vehicles: [] });
    const rec = await t.node.db.selectFrom('records').selectAll().where('id', '=', miss.json().recordId).executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ hit: false, outcome: 'no-hit', supplied: null });
  });

  describe('refuses bad searches with problem+json, recording nothing', () => {
    const cases: Array<[string, unknown, number, string, RegExp]> = [
      ['a partial VIN', { vin: 'WVWZZZ1KZ6W6', ...valid }, 400, 'vehicle-search-partial', /17 characters/],
      ['a wildcard VIN', { vin: 'WVWZZZ1KZ6W6*', ...valid }, 400, 'vehicle-search-partial', /wildcards/],
      ['a LIKE pattern', { registrationNumber: 'XK-12%', ...valid }, 400, 'vehicle-search-partial', /wildcards/],
      ['a regular expression', { registrationNumber: 'XK.*', ...valid }, 400, 'vehicle-search-partial', /patterns/],
      ['SQL injection in the key', { registrationNumber: "XK123B' OR '1'='1", ...valid }, 400, 'vehicle-search-invalid', /letters and digits/],
      ['both keys', { vin: 'WVWZZZ1KZ6W612345', registrationNumber: 'XK123B', ...valid }, 400, 'vehicle-search-invalid', /exactly one/],
      ['no key', { ...valid }, 400, 'vehicle-search-invalid', /exactly one/],
      ['an unknown purpose', { registrationNumber: 'XK123B', ...valid, purpose: 'curiosity' }, 400, 'input-invalid', /purpose/],
      ['a missing reason', { registrationNumber: 'XK123B', purpose: 'public-security', orderedBy: 'x' }, 400, 'input-invalid', /reason/],
      ['a blank reason', { registrationNumber: 'XK123B', ...valid, reason: '   ' }, 400, 'vehicle-search-invalid', /reason must not be empty/],
      ['control characters in orderedBy', { registrationNumber: 'XK123B', ...valid, orderedBy: 'a\u0000b' }, 400, 'vehicle-search-invalid', /control characters/],
      ['an unknown field', { registrationNumber: 'XK123B', ...valid, owner: 'Jansen' }, 400, 'input-invalid', /unknown field "owner"/],
      ['a number for a string', { registrationNumber: 123456, ...valid }, 400, 'input-invalid', /registrationNumber/],
      ['an overlong reason', { registrationNumber: 'XK123B', ...valid, reason: 'x'.repeat(501) }, 400, 'input-invalid', /reason/],
    ];
    it.each(cases)('%s', async (_name, body, status, code, detail) => {
      const before = await recordCount();
      const r = await search(body);
      expect(r.statusCode).toBe(status);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      const p = r.json();
      expect(p).toMatchObject({ status, code, type: `urn:openprum:problem:${code}` });
      expect(p.detail).toMatch(detail);
      expect(await recordCount()).toBe(before);
    });

    it('malformed JSON', async () => {
      const r = await app.inject({ method: 'POST', url: '/v1/vehicles/searches', headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'application/json' }, payload: '{"vin": "WVW' });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'input-invalid' });
    });

    it('a wrong content type', async () => {
      const r = await app.inject({ method: 'POST', url: '/v1/vehicles/searches', headers: { authorization: `Bearer ${officer.token}`, 'content-type': 'text/plain' }, payload: 'vin=WVWZZZ1KZ6W612345' });
      expect(r.statusCode).toBe(415);
      expect(r.json()).toMatchObject({ code: 'media-type-unsupported' });
    });

    it('an oversized body', async () => {
      const r = await search({ registrationNumber: 'XK123B', ...valid, reason: 'x'.repeat(100_000) });
      expect(r.statusCode).toBe(413);
      expect(r.json()).toMatchObject({ code: 'input-too-large' });
    });

    it('and keeps serving afterwards', async () => {
      expect((await search({ registrationNumber: 'GB-777-Z', ...valid })).json().hit).toBe(true);
    });
  });

  it('stores injection attempts in free text verbatim, harmlessly', async () => {
    const reason = "'); DROP TABLE records; -- <script>alert(1)</script>";
    const r = await search({ registrationNumber: 'XK123B', ...valid, reason });
    expect(r.statusCode).toBe(200);
    const rec = await t.node.db.selectFrom('records').select('reason').where('id', '=', r.json().recordId).executeTakeFirstOrThrow();
    expect(rec.reason).toBe(reason);
  });

  describe('authentication and roles', () => {
    it('refuses a missing or malformed token with 401', async () => {
      const r = await app.inject({ method: 'POST', url: '/v1/vehicles/searches', payload: { registrationNumber: 'XK123B', ...valid } });
      expect(r.statusCode).toBe(401);
      expect(r.json()).toMatchObject({ code: 'unauthenticated' });
      expect((await search({ registrationNumber: 'XK123B', ...valid }, 'opr_1_short')).statusCode).toBe(401);
      expect((await search({ registrationNumber: 'XK123B', ...valid }, `opr_${officer.token.split('_')[1]}_${'A'.repeat(43)}`)).statusCode).toBe(401);
    });

    it('refuses a supervisor (who may not search) with 403 and records the refusal', async () => {
      const before = await recordCount();
      const r = await search({ registrationNumber: 'XK123B', ...valid }, supervisor.token);
      expect(r.statusCode).toBe(403);
      expect(r.json()).toMatchObject({ code: 'forbidden', required: ['officer'] });
      expect(await recordCount()).toBe(before + 1);
      const rec = await t.node.db.selectFrom('records').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
      expect(rec).toMatchObject({ action: 'access.refused', outcome: 'refused', officer_id: supervisor.officerId, query: { method: 'POST', route: '/v1/vehicles/searches' }, supplied: null });
    });

    it('stops a revoked token at once and an expired one', async () => {
      const o = await t.tokenFor('off-revoke', ['officer']);
      expect((await search({ registrationNumber: 'XK123B', ...valid }, o.token)).statusCode).toBe(200);
      await t.node.officers.revokeToken(Number(o.token.split('_')[1]));
      const r = await search({ registrationNumber: 'XK123B', ...valid }, o.token);
      expect(r.statusCode).toBe(401);
      expect(r.json()).toMatchObject({ code: 'token-revoked' });
      const issued = await t.node.officers.issueToken(o.officerId, { expiresAt: new Date(Date.now() + 1500) });
      expect((await search({ registrationNumber: 'XK123B', ...valid }, issued.token)).statusCode).toBe(200);
      await new Promise((r2) => setTimeout(r2, 1600));
      const late = await search({ registrationNumber: 'XK123B', ...valid }, issued.token);
      expect(late.json()).toMatchObject({ code: 'token-expired' });
    });
  });
});

describe('GET /v1/records', () => {
  it('lets a supervisor read records by outcome, officer and period, with paging', async () => {
    const all = await app.inject({ method: 'GET', url: '/v1/records?limit=1000', headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(all.statusCode).toBe(200);
    const records = all.json().records as Array<{ id: number; outcome: string; officerId: number; recordedAt: string }>;
    expect(records.length).toBeGreaterThan(3);
    const hits = await app.inject({ method: 'GET', url: '/v1/records?outcome=hit', headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(hits.json().records.every((r: { outcome: string }) => r.outcome === 'hit')).toBe(true);
    expect(hits.json().records.length).toBe(records.filter((r) => r.outcome === 'hit').length);
    const mine = await app.inject({ method: 'GET', url: `/v1/records?officer=${officer.officerId}`, headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(mine.json().records.every((r: { officerId: number }) => r.officerId === officer.officerId)).toBe(true);
    const page1 = await app.inject({ method: 'GET', url: '/v1/records?limit=2', headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(page1.json().next).toBe(`after=${records[1]!.id}`);
    const page2 = await app.inject({ method: 'GET', url: `/v1/records?limit=2&${page1.json().next}`, headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(page2.json().records[0].id).toBe(records[2]!.id);
    const future = await app.inject({ method: 'GET', url: '/v1/records?from=2999-01-01T00:00:00Z', headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(future.json().records).toEqual([]);
    const past = await app.inject({ method: 'GET', url: `/v1/records?to=${encodeURIComponent(records[0]!.recordedAt)}`, headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(past.json().records).toEqual([]);
  });

  it('refuses officers (403, recorded) and bad filters (400)', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/records', headers: { authorization: `Bearer ${officer.token}` } })).statusCode).toBe(403);
    const bad = await app.inject({ method: 'GET', url: '/v1/records?from=yesterday', headers: { authorization: `Bearer ${supervisor.token}` } });
    expect(bad.statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/records?limit=5000', headers: { authorization: `Bearer ${supervisor.token}` } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/records?sort=1', headers: { authorization: `Bearer ${supervisor.token}` } })).statusCode).toBe(400);
  });
});

describe('the rest of the API', () => {
  it('serves OpenAPI docs', async () => {
    const r = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(r.statusCode).toBe(200);
    expect(Object.keys(r.json().paths)).toEqual(expect.arrayContaining(['/v1/vehicles/searches', '/v1/records', '/v1/officers/authorised']));
    expect((await app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('answers unknown routes with problem+json', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/nothing' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'not-found' });
  });
});
