import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../../test/support/test-node.ts';
import { verifyAuditExport } from '../../audit/export-verify.ts';
import { fromHex, signedTreeHeadFromJson, verifyConsistency, verifyInclusion, verifyTreeHead } from '../../audit/merkle/index.ts';
import { writeRecord } from '../../audit/records.ts';
import { sealLog } from '../../audit/sequencer.ts';
import { latestHead } from '../../audit/store.ts';
import { buildServer } from '../server.ts';

let t: TestNode;
let app: FastifyInstance;
let supervisor: string;
let officer: string;

const get = (url: string, token = supervisor) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
const post = (url: string, body?: object, token = supervisor) =>
  app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, ...(body ? { payload: body } : {}) });

async function addRecords(n: number, reason = 'case'): Promise<void> {
  for (let i = 0; i < n; i++) {
    await writeRecord(t.node.db, { action: 'vehicle.search', direction: 'local', searchingBody: 'PL NCP', administeringBody: 'PL vehicle register', reason: `${reason} ${i}`, query: { vin: `V${i}` }, outcome: 'no-hit' });
  }
}

beforeAll(async () => {
  t = await createTestNode('PL');
  app = await buildServer(t.node, { logLevel: 'silent' });
  supervisor = (await t.tokenFor('dpa', ['supervisor'])).token;
  officer = (await t.tokenFor('off', ['officer'])).token;
});
afterAll(async () => {
  await app.close();
  await t.close();
});

describe('audit API', () => {
  it('is for supervisors only, and a refusal is recorded', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/audit/tree-heads/latest' })).statusCode).toBe(401);
    const r = await get('/v1/audit/export', officer);
    expect(r.statusCode).toBe(403);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    const refused = await t.node.db.selectFrom('records').selectAll().where('action', '=', 'access.refused').execute();
    expect(refused.map((x) => x.query)).toContainEqual({ method: 'GET', route: '/v1/audit/export' });
  });

  it('says when there is no signed head yet', async () => {
    const r = await get('/v1/audit/tree-heads/latest');
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ code: 'audit-log-empty', type: 'urn:openprum:problem:audit-log-empty' });
  });

  it('answers the latest signed head and inclusion and consistency proofs that verify against it', async () => {
    await addRecords(5);
    await sealLog(t.node);
    const h5 = signedTreeHeadFromJson((await get('/v1/audit/tree-heads/latest')).json());
    await addRecords(6);
    await sealLog(t.node);
    const body = (await get('/v1/audit/tree-heads/latest')).json();
    const head = signedTreeHeadFromJson(body);
    expect(verifyTreeHead(head, t.node.keys.publicKey)).toBe(true);
    expect(head.treeSize).toBeGreaterThanOrEqual(11);
    const inc = (await get(`/v1/audit/proofs/inclusion?index=3&treeSize=${head.treeSize}`)).json();
    expect(verifyInclusion(3, head.treeSize, fromHex(inc.leafHash, 'leaf'), inc.proof.map((h: string) => fromHex(h, 'p')), head.rootHash)).toBe(true);
    const byDefault = (await get('/v1/audit/proofs/inclusion?index=3')).json();
    expect(byDefault).toEqual(inc);
    const cons = (await get(`/v1/audit/proofs/consistency?from=${h5.treeSize}`)).json();
    expect(cons.to).toBe(head.treeSize);
    expect(verifyConsistency(h5.treeSize, head.treeSize, h5.rootHash, head.rootHash, cons.proof.map((h: string) => fromHex(h, 'p')))).toBe(true);
    for (const bad of ['/v1/audit/proofs/inclusion?index=-1', '/v1/audit/proofs/inclusion?index=999', '/v1/audit/proofs/inclusion?index=1&x=2', '/v1/audit/proofs/consistency?from=99', '/v1/audit/proofs/consistency?from=5&to=3']) {
      const r = await get(bad);
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().code).toBe('input-invalid');
    }
  });

  it('streams an export of the whole log or of a period, which verifies offline, and records it', async () => {
    const whole = await get('/v1/audit/export');
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-disposition']).toMatch(/attachment; filename="audit-export-PL-\d+\.json"/);
    const file = whole.json();
    expect(verifyAuditExport(file, { publicKey: t.node.keys.publicKey })).toMatchObject({ ok: true, scope: 'full' });
    const rec = await t.node.db.selectFrom('records').selectAll().where('action', '=', 'audit.export').executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ officer_reference: 'dpa', legal_basis: 'Prüm Decision Art. 30(3)' });

    const old = signedTreeHeadFromJson(file.heads[0]);
    await addRecords(3, 'later');
    await sealLog(t.node);
    const rows = await t.node.db.selectFrom('records').select('recorded_at').where('reason', 'like', 'later%').orderBy('id').execute();
    const from = rows[0]!.recorded_at;
    const period = await get(`/v1/audit/export?from=${encodeURIComponent(from)}&since=${old.treeSize}`);
    expect(period.statusCode).toBe(200);
    const report = verifyAuditExport(period.json(), { publicKey: t.node.keys.publicKey, trustedHeads: [old] });
    expect(report).toMatchObject({ ok: true, scope: 'range', trustedHeadsChecked: 1 });
    expect(report.counts.entries).toBeGreaterThanOrEqual(3);
    expect((await get('/v1/audit/export?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z')).statusCode).toBe(400);
    expect((await get('/v1/audit/export?from=yesterday')).statusCode).toBe(400);
  });

  it('draws random samples and records check results, listed for inspection', async () => {
    const s = await post('/v1/audit/checks/sample?n=3');
    expect(s.statusCode).toBe(200);
    const sample = s.json();
    expect(sample.records).toHaveLength(3);
    const first = sample.records[0];
    const c = await post('/v1/audit/checks', { recordId: first.record.id, result: 'unlawful', findings: 'No case file for this reason' });
    expect(c.statusCode).toBe(201);
    expect(c.json()).toMatchObject({ recordId: first.record.id, logIndex: first.logIndex, result: 'unlawful', supervisorReference: 'dpa' });
    const list = (await get(`/v1/audit/checks?record=${first.record.id}`)).json();
    expect(list.checks).toHaveLength(1);
    expect((await post('/v1/audit/checks', { recordId: first.record.id, result: 'fine' })).statusCode).toBe(400);
    expect((await post('/v1/audit/checks', { recordId: first.record.id, result: 'lawful', extra: 1 })).statusCode).toBe(400);
    expect((await post('/v1/audit/checks', { recordId: 99_999_999, result: 'lawful' })).statusCode).toBe(404);
    expect((await post('/v1/audit/checks/sample?n=0')).statusCode).toBe(400);
    expect((await post('/v1/audit/checks/sample?n=101')).statusCode).toBe(400);
    expect((await post('/v1/audit/checks', { recordId: first.record.id, result: 'lawful' }, officer)).statusCode).toBe(403);
  });

  it('seals records on a timer while the server listens, and stops with it', async () => {
    const live = await buildServer(t.node, { logLevel: 'silent', auditSealIntervalMs: 50 });
    await live.listen({ host: '127.0.0.1', port: 0 });
    try {
      await addRecords(1, 'timer');
      const target = (await t.node.db.selectFrom('records').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
      let size = 0;
      for (let i = 0; i < 200 && size < Number(target); i++) {
        await new Promise((r) => setTimeout(r, 50));
        size = (await latestHead(t.node.db))?.head.treeSize ?? 0;
      }
      expect(size).toBeGreaterThanOrEqual(Number(target));
    } finally {
      await live.close();
    }
  });
});
