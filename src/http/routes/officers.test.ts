import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../test/support/test-node.ts';
import { buildServer } from '../server.ts';

let t: TestNode;
let app: FastifyInstance;
const as = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  t = await createTestNode('DE');
  app = await buildServer(t.node, { logLevel: 'silent' });
});
afterAll(async () => {
  await app.close();
  await t.close();
});

describe('officers and tokens', () => {
  it('lets an admin create an officer, issue a token that works, and revoke it', async () => {
    const created = await app.inject({ method: 'POST', url: '/v1/officers', headers: as(t.adminToken), payload: { reference: 'BKA-4711', name: 'Erika Mustermann', unit: 'BKA ZD 25', roles: ['officer', 'approver'] } });
    expect(created.statusCode).toBe(201);
    const officer = created.json();
    expect(officer).toMatchObject({ reference: 'BKA-4711', roles: ['officer', 'approver'], active: true });
    expect(officer.authorisedAt).toEqual(expect.any(String));

    const issued = await app.inject({ method: 'POST', url: `/v1/officers/${officer.id}/tokens`, headers: as(t.adminToken), payload: { label: 'laptop', expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
    expect(issued.statusCode).toBe(201);
    const { token, tokenId } = issued.json();
    expect(token).toMatch(/^opr_\d+_[A-Za-z0-9_-]{43}$/);

    const me = await app.inject({ method: 'GET', url: '/v1/me', headers: as(token) });
    expect(me.json()).toMatchObject({ reference: 'BKA-4711' });

    // The secret is never stored or listed: only its scrypt hash.
    const list = await app.inject({ method: 'GET', url: `/v1/officers/${officer.id}/tokens`, headers: as(t.adminToken) });
    expect(JSON.stringify(list.json())).not.toContain(token.split('_')[2]);
    const row = await t.node.db.selectFrom('api_tokens').select('token_hash').where('id', '=', tokenId).executeTakeFirstOrThrow();
    expect(row.token_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(row.token_hash).not.toContain(token);

    expect((await app.inject({ method: 'POST', url: `/v1/tokens/${tokenId}/revoke`, headers: as(t.adminToken) })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/v1/me', headers: as(token) })).json()).toMatchObject({ code: 'token-revoked' });
  });

  it('gives supervisors the list of specially authorised officers (Prüm Decision Art. 30(2)(a))', async () => {
    const sup = await t.tokenFor('BfDI-1', ['supervisor']);
    await t.tokenFor('BKA-1', ['officer']);
    await t.tokenFor('BKA-2', ['approver']);
    const gone = await t.tokenFor('BKA-3', ['officer']);
    await t.node.officers.deactivate(gone.officerId);
    const r = await app.inject({ method: 'GET', url: '/v1/officers/authorised', headers: as(sup.token) });
    expect(r.statusCode).toBe(200);
    const refs = r.json().officers.map((o: { reference: string }) => o.reference);
    expect(refs).toContain('BKA-1');
    expect(refs).not.toContain('BKA-2');
    expect(refs).not.toContain('BKA-3');
    expect(r.json().country).toBe('DE');
    // A deactivated officer's tokens stop working.
    expect((await app.inject({ method: 'GET', url: '/v1/me', headers: as(gone.token) })).statusCode).toBe(401);
  });

  it('refuses non-admins with 403 and records each refusal', async () => {
    const o = await t.tokenFor('BKA-9', ['officer']);
    const before = await t.node.db.selectFrom('records').select('id').where('action', '=', 'access.refused').execute();
    for (const [method, url] of [['GET', '/v1/officers'], ['POST', '/v1/officers/1/tokens'], ['GET', '/v1/officers/authorised']] as const) {
      const r = await app.inject({ method, url, headers: as(o.token), ...(method === 'POST' ? { payload: {} } : {}) });
      expect(r.statusCode).toBe(403);
    }
    const after = await t.node.db.selectFrom('records').select('id').where('action', '=', 'access.refused').where('officer_id', '=', o.officerId).execute();
    expect(after.length).toBe(3);
    expect(before.length).toBeGreaterThanOrEqual(0);
  });

  it('validates officer input', async () => {
    const bad = [
      { reference: 'x y', name: 'A', roles: ['officer'] },
      { reference: 'ok', name: 'A', roles: [] },
      { reference: 'ok', name: 'A', roles: ['king'] },
      { reference: 'ok', name: 'A', roles: ['officer'], extra: 1 },
      { reference: 'ok', name: '', roles: ['officer'] },
    ];
    for (const payload of bad) {
      const r = await app.inject({ method: 'POST', url: '/v1/officers', headers: as(t.adminToken), payload });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const dup = await app.inject({ method: 'POST', url: '/v1/officers', headers: as(t.adminToken), payload: { reference: 'admin', name: 'Again', roles: ['admin'] } });
    expect(dup.statusCode).toBe(409);
    const past = await app.inject({ method: 'POST', url: '/v1/officers/1/tokens', headers: as(t.adminToken), payload: { expiresAt: '2000-01-01T00:00:00Z' } });
    expect(past.json()).toMatchObject({ code: 'input-invalid' });
    expect((await app.inject({ method: 'POST', url: '/v1/officers/999/tokens', headers: as(t.adminToken), payload: {} })).statusCode).toBe(404);
  });

  it('changes roles and restarts the authorisation date when the officer role is granted again', async () => {
    const o = await t.tokenFor('BKA-20', ['officer']);
    const r1 = await app.inject({ method: 'PUT', url: `/v1/officers/${o.officerId}/roles`, headers: as(t.adminToken), payload: { roles: ['reviewer'] } });
    expect(r1.json()).toMatchObject({ roles: ['reviewer'], authorisedAt: null });
    const r2 = await app.inject({ method: 'PUT', url: `/v1/officers/${o.officerId}/roles`, headers: as(t.adminToken), payload: { roles: ['officer', 'reviewer'] } });
    expect(r2.json().authorisedAt).toEqual(expect.any(String));
  });
});
