/**
 * Three nodes (DE, FR, NL) in one process, each with its own database and its peer interface on
 * loopback with real mutual TLS 1.3: federated vehicle searches end to end, declarations and capacity,
 * and every fault of issue 5 (unknown, foreign or revoked certificate, bad signature, replay, a state
 * speaking for another, malformed and oversized messages, a peer down, hanging or dropping the
 * connection mid-answer), each refused or survived, recorded, and nothing stored half-way.
 */
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_VEHICLES } from '../../src/cli/demo.ts';
import { signDetached, verifyDetached, JWS_HEADER, type Signer } from '../../src/exchange/jws.ts';
import { PROTOCOL, type SearchAnswer, type SearchRequest } from '../../src/exchange/messages.ts';
import { purgeOldSearches } from '../../src/exchange/outbox.ts';
import { PeerClient, type PeerResponse } from '../../src/exchange/peer-client.ts';
import { addPeer } from '../../src/exchange/peers.ts';
import { installCrl, revoke } from '../../src/exchange/pki-store.ts';
import { certificatePem, createCertificateAuthority, issueNodeCertificate, privateKeyPem } from '../../src/exchange/pki.ts';
import type { VehicleRow } from '../../src/vehicle/model.ts';
import { createTestFederation, declaration, waitFor, type FedNode, type TestFederation } from './support.ts';

const DE_CAR: VehicleRow = {
  registrationNumber: 'B-AB 1234',
  vin: 'WDB1240221A123456',
  make: 'Mercedes-Benz',
  model: 'E 200',
  vehicleType: 'passenger car',
  colour: 'black',
  firstRegistrationDate: '2015-06-01',
  holder: { type: 'natural', surname: 'Müller', firstNames: 'Anna', birthDate: '1980-02-03', address: 'Hauptstraße 1, 10115 Berlin' },
};
const FR_VAN: VehicleRow = {
  registrationNumber: 'AB-123-CD',
  vin: 'VF7NC9HD8CY123456',
  make: 'Citroën',
  model: 'Berlingo',
  vehicleType: 'van',
  colour: 'white',
  firstRegistrationDate: '2012-01-15',
  holder: { type: 'legal', name: 'Transports Martin SARL', address: '1 rue de la Paix, 75002 Paris' },
};

let f: TestFederation;
let DE: FedNode;
let FR: FedNode;
let NL: FedNode;
const fakes: HttpsServer[] = [];
const clients: PeerClient[] = [];

beforeAll(async () => {
  f = await createTestFederation({ DE: [DE_CAR], FR: [FR_VAN], NL: [...DEMO_VEHICLES] });
  DE = f.nodes.DE!;
  FR = f.nodes.FR!;
  NL = f.nodes.NL!;
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const s of fakes) await new Promise((r) => s.close(r));
  await f?.close();
});

const purpose = { purpose: 'criminal-offences', reason: 'Case 2026/17: car seen at a burglary', orderedBy: 'Inspector J. de Vries' };

async function officerSearch(from: FedNode, targets: string[] | 'all', query: Record<string, string>) {
  const r = await from.api.inject({
    method: 'POST',
    url: '/v1/federation/searches',
    headers: { authorization: `Bearer ${from.officer.token}` },
    payload: { kind: 'vehicle', targets, query, ...purpose },
  });
  expect(r.statusCode, r.body).toBe(202);
  return r.json() as { id: string; reference: string; targets: Array<{ state: string; status: string; messageId: string }> };
}

type View = {
  complete: boolean;
  reference: string;
  targets: Array<{ state: string; status: string; attempts: number; late: boolean; lateBySeconds: number; hit: boolean | null; result: { vehicles: VehicleRow[] } | null; error: { code: string; detail: string } | null; messageId: string; recordId: number | null; answerReference: string | null }>;
};

async function view(from: FedNode, id: string): Promise<View> {
  const r = await from.api.inject({ method: 'GET', url: `/v1/federation/searches/${id}`, headers: { authorization: `Bearer ${from.officer.token}` } });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as View;
}

const target = (v: View, state: string) => v.targets.find((t) => t.state === state)!;

async function records(n: FedNode, where: { requestId?: string; searchingBody?: string; action?: string } = {}) {
  let q = n.t.node.db.selectFrom('records').selectAll();
  if (where.requestId) q = q.where('request_id', '=', where.requestId);
  if (where.searchingBody) q = q.where('searching_body', '=', where.searchingBody);
  if (where.action) q = q.where('action', '=', where.action);
  return q.orderBy('id').execute();
}

/** A raw peer client with any credentials (to play a misbehaving or foreign node). */
function rawClient(creds: { keyPem: string; certPem: string }, timeoutMs = 5_000): PeerClient {
  const trust = NL.fed.trust();
  const c = new PeerClient({ keyPem: creds.keyPem, certPem: creds.certPem, caPem: trust.caPem, crlPem: trust.crlPem }, trust, { answerTimeoutMs: timeoutMs });
  clients.push(c);
  return c;
}

function requestFor(from: string, to: string, overrides: Partial<SearchRequest> = {}): SearchRequest {
  return {
    protocol: PROTOCOL,
    type: 'search-request',
    messageId: randomUUID(),
    sentAt: new Date().toISOString(),
    requestingState: from,
    requestedState: to,
    reference: `${from}-TEST-${randomUUID().slice(0, 8)}`,
    requestedAt: new Date().toISOString(),
    kind: 'vehicle',
    query: { key: 'vin', value: DE_CAR.vin, purpose: 'criminal-offences' },
    ...overrides,
  };
}

const signerOf = (n: FedNode): Signer => ({ key: n.creds.key, cert: n.creds.cert });
const creds = (n: FedNode) => ({ keyPem: n.creds.keyPem, certPem: n.creds.certPem });

async function sendRaw(client: PeerClient, to: FedNode, body: string, jws: string): Promise<PeerResponse> {
  return client.exchange(to.country, `${to.fed.peerUrl}/peer/v1/searches`, 'POST', { body, jws });
}

describe('federated vehicle search (Prüm Decision Art. 12)', () => {
  it('searches several states in one call, gathers signed answers and records both sides', async () => {
    const s = await officerSearch(NL, ['DE', 'FR'], { registrationNumber: 'b-ab 1234' });
    expect(s.targets.map((t) => [t.state, t.status])).toEqual([['DE', 'pending'], ['FR', 'pending']]);
    const v = await waitFor(() => view(NL, s.id), (x) => x.complete);
    const de = target(v, 'DE');
    const fr = target(v, 'FR');
    expect(de).toMatchObject({ status: 'answered', hit: true, late: false, attempts: 1, error: null });
    expect(de.result!.vehicles).toEqual([DE_CAR]);
    expect(de.answerReference).toMatch(/^DE-R\d+$/);
    expect(fr).toMatchObject({ status: 'answered', hit: false, result: { vehicles: [] } });

    // The searching side's record (Art. 30(2)(b)): officer, who ordered it, reason, bodies, data, hit.
    const out = await records(NL, { requestId: de.messageId });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      action: 'vehicle.search',
      direction: 'outgoing',
      searching_body: 'NL NCP',
      administering_body: 'DE NCP',
      officer_id: NL.officer.officerId,
      ordered_by: purpose.orderedBy,
      reason: purpose.reason,
      purpose: 'criminal-offences',
      legal_basis: 'Prüm Decision Art. 12(1)',
      hit: true,
      outcome: 'hit',
    });
    expect(out[0]!.query).toMatchObject({ key: 'registrationNumber', value: 'BAB1234', reference: v.reference });
    expect(out[0]!.supplied).toEqual({ vehicles: [DE_CAR] });

    // The administering side's record: an incoming search by NL's contact point, no officer of DE.
    const inc = await records(DE, { requestId: de.messageId });
    expect(inc).toHaveLength(1);
    expect(inc[0]).toMatchObject({ action: 'vehicle.search', direction: 'incoming', searching_body: 'NL NCP', administering_body: 'DE vehicle register', officer_id: null, outcome: 'hit' });
    expect(inc[0]!.supplied).toEqual([DE_CAR]);
    expect((await records(FR, { requestId: fr.messageId }))[0]).toMatchObject({ direction: 'incoming', searching_body: 'NL NCP', outcome: 'no-hit' });

    // Who said what: the stored answer verifies offline as DE's, and DE keeps NL's signed request.
    const row = await NL.t.node.db.selectFrom('federation_targets').selectAll().where('message_id', '=', de.messageId).executeTakeFirstOrThrow();
    expect(verifyDetached(row.answer_jws!, row.answer_body!, NL.fed.trust()).country).toBe('DE');
    const answer = JSON.parse(row.answer_body!) as SearchAnswer;
    // 2008/616/JHA Art. 8(2): hit, both references and times, both state codes.
    expect(answer).toMatchObject({ type: 'search-answer', inReplyTo: de.messageId, requestingState: 'NL', requestedState: 'DE', hit: true, request: { reference: v.reference } });
    const inbox = await DE.t.node.db.selectFrom('federation_inbox').selectAll().where('message_id', '=', de.messageId).executeTakeFirstOrThrow();
    expect(verifyDetached(inbox.request_jws, inbox.request_body, DE.fed.trust()).country).toBe('NL');
    expect(inbox.answer_body).toBe(row.answer_body);
  });

  it('lists the officer\'s searches and documents the API', async () => {
    const r = await NL.api.inject({ method: 'GET', url: '/v1/federation/searches?limit=5', headers: { authorization: `Bearer ${NL.officer.token}` } });
    expect(r.statusCode, r.body).toBe(200);
    const list = (r.json() as { searches: Array<{ officerReference: string; targets: unknown[] }> }).searches;
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((s) => s.officerReference === 'officer-NL')).toBe(true);
    const docs = await NL.api.inject({ method: 'GET', url: '/docs/json' });
    expect(Object.keys((docs.json() as { paths: Record<string, unknown> }).paths)).toEqual(expect.arrayContaining(['/v1/federation/searches', '/v1/federation/searches/{id}', '/v1/federation/declaration']));
  });

  it('searches all peer states with targets "all"', async () => {
    const s = await officerSearch(DE, 'all', { vin: FR_VAN.vin });
    const v = await waitFor(() => view(DE, s.id), (x) => x.complete);
    expect(v.targets.map((t) => [t.state, t.status, t.hit])).toEqual([['FR', 'answered', true], ['NL', 'answered', false]]);
    expect(target(v, 'FR').result!.vehicles[0]!.holder).toEqual(FR_VAN.holder);
  });

  it('refuses what the vehicle rules refuse before anything is sent', async () => {
    const r = await NL.api.inject({
      method: 'POST',
      url: '/v1/federation/searches',
      headers: { authorization: `Bearer ${NL.officer.token}` },
      payload: { kind: 'vehicle', targets: ['DE'], query: { vin: 'WDB12402*' }, ...purpose },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'vehicle-search-partial' });
    const unknown = await NL.api.inject({
      method: 'POST',
      url: '/v1/federation/searches',
      headers: { authorization: `Bearer ${NL.officer.token}` },
      payload: { kind: 'vehicle', targets: ['PL'], query: { vin: DE_CAR.vin }, ...purpose },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'peer-unknown' });
  });

  it('lets only officers search, and the searching officer or a supervisor read the answers', async () => {
    const admin = await NL.api.inject({ method: 'POST', url: '/v1/federation/searches', headers: { authorization: `Bearer ${NL.t.adminToken}` }, payload: { kind: 'vehicle', targets: ['DE'], query: { vin: DE_CAR.vin }, ...purpose } });
    expect(admin.statusCode).toBe(403);
    const s = await officerSearch(NL, ['FR'], { vin: FR_VAN.vin });
    const other = await NL.t.tokenFor('officer-NL-2', ['officer']);
    const r = await NL.api.inject({ method: 'GET', url: `/v1/federation/searches/${s.id}`, headers: { authorization: `Bearer ${other.token}` } });
    expect(r.statusCode).toBe(404);
    const dpa = await NL.t.tokenFor('dpa-NL', ['supervisor']);
    expect((await NL.api.inject({ method: 'GET', url: `/v1/federation/searches/${s.id}`, headers: { authorization: `Bearer ${dpa.token}` } })).statusCode).toBe(200);
  });
});

describe('retention (Prüm Decision Art. 30(4))', () => {
  it('erases the signed copies of a supply with its record, and the references never block the erasure', async () => {
    const req = requestFor('NL', 'DE');
    const body = JSON.stringify(req);
    expect((await sendRaw(rawClient(creds(NL)), DE, body, signDetached(body, signerOf(NL)))).status).toBe(200);
    const inbox = await DE.t.node.db.selectFrom('federation_inbox').select('record_id').where('message_id', '=', req.messageId).executeTakeFirstOrThrow();
    // A record within its two years cannot be deleted, and its inbox copy stays.
    await expect(sql`delete from records where id = ${inbox.record_id}`.execute(DE.t.node.db)).rejects.toThrow(/cannot be changed or deleted/);
    expect(await DE.t.node.db.selectFrom('federation_inbox').select('message_id').where('message_id', '=', req.messageId).execute()).toHaveLength(1);
    // An old record, referenced by the inbox and the outbox, erased by the retention purge.
    const old = await sql<{ id: number }>`insert into records (recorded_at, action, direction, searching_body, administering_body, outcome)
      values (now() - interval '3 years', 'vehicle.search', 'incoming', 'NL NCP', 'DE vehicle register', 'hit') returning id`.execute(DE.t.node.db);
    const oldId = old.rows[0]!.id;
    await DE.t.node.db.updateTable('federation_inbox').set({ record_id: oldId }).where('message_id', '=', req.messageId).execute();
    await DE.t.node.db.transaction().execute(async (trx) => {
      await sql`select set_config('openprum.records_purge', 'on', true)`.execute(trx);
      await sql`delete from records where id = ${oldId}`.execute(trx);
    });
    expect(await DE.t.node.db.selectFrom('federation_inbox').select('message_id').where('message_id', '=', req.messageId).execute()).toHaveLength(0);
  });

  it('deletes this node\'s federated searches after two years', async () => {
    const s = await officerSearch(NL, ['FR'], { vin: FR_VAN.vin });
    await waitFor(() => view(NL, s.id), (x) => x.complete);
    expect(await purgeOldSearches(NL.t.node.db)).toBe(0);
    expect(await purgeOldSearches(NL.t.node.db, new Date(Date.now() + 3 * 365 * 86_400_000))).toBeGreaterThan(0);
    expect(await NL.t.node.db.selectFrom('federation_targets').select('id').where('search_id', '=', s.id).execute()).toHaveLength(0);
  });
});

describe('declarations (Prüm Decision Arts. 2(3), 36)', () => {
  it('publishes a signed declaration that peers read and verify', async () => {
    const r = await NL.api.inject({ method: 'GET', url: '/v1/federation/peers', headers: { authorization: `Bearer ${NL.officer.token}` } });
    expect(r.statusCode).toBe(200);
    const de = (r.json() as { peers: Array<{ country: string; declaration: { state: string; files: unknown[]; contactPoint: { name: string } } }> }).peers.find((p) => p.country === 'DE')!;
    expect(de.declaration).toMatchObject({ state: 'DE', contactPoint: { name: 'NCP DE' } });
    const stored = await NL.t.node.db.selectFrom('federation_declarations').selectAll().where('state', '=', 'DE').executeTakeFirstOrThrow();
    expect(verifyDetached(stored.jws, stored.body, NL.fed.trust()).country).toBe('DE');
  });

  it('refuses searches beyond the declared daily capacity with 429, recorded on both sides', async () => {
    await DE.fed.publishDeclaration(declaration({ capacity: [{ kind: 'vehicle', perDay: 1000, byState: { FR: 1 } }] }));
    try {
      const first = await officerSearch(FR, ['DE'], { vin: DE_CAR.vin });
      expect(target(await waitFor(() => view(FR, first.id), (x) => x.complete), 'DE').status).toBe('answered');
      const second = await officerSearch(FR, ['DE'], { vin: DE_CAR.vin });
      const t = target(await waitFor(() => view(FR, second.id), (x) => x.complete), 'DE');
      expect(t).toMatchObject({ status: 'refused', attempts: 1, hit: null, result: null });
      expect(t.error!.code).toBe('peer-capacity-exceeded');
      expect(t.error!.detail).toMatch(/declared 1 vehicle searches a day for FR/);
      const frRec = await records(FR, { requestId: t.messageId });
      expect(frRec.map((r) => [r.direction, r.outcome, r.administering_body])).toEqual([['outgoing', 'refused', 'DE NCP']]);
      const deRec = await records(DE, { requestId: t.messageId });
      expect(deRec.map((r) => [r.direction, r.outcome, r.searching_body])).toEqual([['incoming', 'refused', 'FR NCP']]);
      // The refusal is signed by DE, and kept: FR's copy verifies.
      const row = await FR.t.node.db.selectFrom('federation_targets').selectAll().where('message_id', '=', t.messageId).executeTakeFirstOrThrow();
      expect(row.answer_status).toBe(429);
      expect(verifyDetached(row.answer_jws!, row.answer_body!, FR.fed.trust()).country).toBe('DE');
    } finally {
      await DE.fed.publishDeclaration(declaration({ contactPoint: { name: 'NCP DE' } }));
    }
  });

  it('does not send to a state whose declaration keeps the file closed, and that state refuses it too', async () => {
    await FR.fed.publishDeclaration(declaration({ files: [{ file: 'dna-reference', conditions: 'DNA only' }], capacity: [] }));
    try {
      await NL.fed.refreshDeclarations();
      const s = await officerSearch(NL, ['FR'], { vin: FR_VAN.vin });
      const t = target(await view(NL, s.id), 'FR');
      expect(t).toMatchObject({ status: 'refused', attempts: 0 });
      expect(t.error!.code).toBe('peer-file-closed');
      expect((await records(NL, { requestId: t.messageId }))[0]).toMatchObject({ direction: 'outgoing', outcome: 'refused' });
      expect(await records(FR, { requestId: t.messageId })).toHaveLength(0);
      // Sent anyway (bypassing NL's check), FR refuses with 403.
      const req = requestFor('NL', 'FR', { query: { key: 'vin', value: FR_VAN.vin, purpose: 'criminal-offences' } });
      const body = JSON.stringify(req);
      const r = await sendRaw(rawClient(creds(NL)), FR, body, signDetached(body, signerOf(NL)));
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'peer-file-closed', state: 'FR', inReplyTo: req.messageId });
    } finally {
      await FR.fed.publishDeclaration(declaration({ contactPoint: { name: 'NCP FR' } }));
      await NL.fed.refreshDeclarations();
    }
  });
});

describe('messages: signatures, identity, replays and retries (2008/616/JHA Art. 8)', () => {
  let client: PeerClient;
  beforeAll(() => {
    client = rawClient(creds(NL));
  });

  it('answers a retried request once: the same signed answer again, no second search', async () => {
    const req = requestFor('NL', 'DE');
    const body = JSON.stringify(req);
    const a = await sendRaw(client, DE, body, signDetached(body, signerOf(NL)));
    expect(a.status).toBe(200);
    // The retry: same message id and content, a later sentAt (a new signature).
    const retry = JSON.stringify({ ...req, sentAt: new Date(Date.now() + 1000).toISOString() });
    const b = await sendRaw(client, DE, retry, signDetached(retry, signerOf(NL)));
    expect(b.status).toBe(200);
    expect(b.body).toBe(a.body);
    expect(b.jws).toBe(a.jws);
    const recs = await records(DE, { requestId: req.messageId });
    expect(recs.map((r) => [r.action, r.outcome])).toEqual([
      ['vehicle.search', 'hit'],
      ['vehicle.search.repeat', 'done'],
    ]);
  });

  it('answers the same request arriving twice at once with one search', async () => {
    const req = requestFor('NL', 'DE');
    const body = JSON.stringify(req);
    const jws = signDetached(body, signerOf(NL));
    const [a, b] = await Promise.all([sendRaw(client, DE, body, jws), sendRaw(rawClient(creds(NL)), DE, body, jws)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body).toBe(b.body);
    expect((await records(DE, { requestId: req.messageId })).map((r) => r.action).sort()).toEqual(['vehicle.search', 'vehicle.search.repeat']);
  });

  it('refuses a used message id with other content (409), recorded', async () => {
    const req = requestFor('NL', 'DE');
    const body = JSON.stringify(req);
    expect((await sendRaw(client, DE, body, signDetached(body, signerOf(NL)))).status).toBe(200);
    const other = JSON.stringify({ ...req, query: { key: 'vin', value: FR_VAN.vin, purpose: 'criminal-offences' } });
    const r = await sendRaw(client, DE, other, signDetached(other, signerOf(NL)));
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'peer-message-conflict' });
    expect((await records(DE, { requestId: req.messageId })).map((x) => x.outcome)).toEqual(['hit', 'refused']);
  });

  it('refuses a replay outside the time window', async () => {
    const req = requestFor('NL', 'DE', { sentAt: new Date(Date.now() - 10 * 60_000).toISOString() });
    const body = JSON.stringify(req);
    const r = await sendRaw(client, DE, body, signDetached(body, signerOf(NL)));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'peer-message-expired', inReplyTo: req.messageId });
    expect(verifyDetached(r.jws, r.body, NL.fed.trust()).country).toBe('DE');
    expect(await DE.t.node.db.selectFrom('federation_inbox').select('message_id').where('message_id', '=', req.messageId).execute()).toHaveLength(0);
  });

  it('refuses a bad or missing signature, recorded with the TLS-authenticated sender', async () => {
    const req = requestFor('NL', 'DE');
    const body = JSON.stringify(req);
    const jws = signDetached(body, signerOf(NL));
    const tampered = body.replace(DE_CAR.vin, FR_VAN.vin);
    const r = await sendRaw(client, DE, tampered, jws);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'peer-signature-invalid' });
    const unsigned = await client.exchange('DE', `${DE.fed.peerUrl}/peer/v1/searches`, 'POST', { body, jws: '' });
    expect(unsigned.status).toBe(401);
    const recs = await records(DE, { searchingBody: 'NL NCP', action: 'peer.message' });
    expect(recs.at(-1)).toMatchObject({ direction: 'incoming', outcome: 'refused' });
    expect(recs.at(-1)!.supplied).toMatchObject({ refused: 'peer-signature-invalid' });
    expect(await DE.t.node.db.selectFrom('federation_inbox').select('message_id').where('message_id', '=', req.messageId).execute()).toHaveLength(0);
  });

  it('refuses a message from one state that claims to be another', async () => {
    const fr = rawClient(creds(FR));
    // FR signs a request as if NL had sent it.
    const claim = JSON.stringify(requestFor('NL', 'DE'));
    const a = await sendRaw(fr, DE, claim, signDetached(claim, signerOf(FR)));
    expect(a.status).toBe(403);
    expect(JSON.parse(a.body)).toMatchObject({ code: 'peer-identity-mismatch' });
    // NL's signed message relayed over FR's connection.
    const relayed = JSON.stringify(requestFor('NL', 'DE'));
    const b = await sendRaw(fr, DE, relayed, signDetached(relayed, signerOf(NL)));
    expect(b.status).toBe(403);
    expect(JSON.parse(b.body).detail).toMatch(/signed by the node of NL but sent over the connection of FR/);
    expect((await records(DE, { searchingBody: 'FR NCP', action: 'peer.message' })).length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a request addressed to another state (421) and an unknown search kind', async () => {
    const mis = JSON.stringify(requestFor('NL', 'FR'));
    expect((await sendRaw(client, DE, mis, signDetached(mis, signerOf(NL)))).status).toBe(421);
    const kind = JSON.stringify(requestFor('NL', 'DE', { kind: 'tarot' }));
    const r = await sendRaw(client, DE, kind, signDetached(kind, signerOf(NL)));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'peer-search-kind-unknown' });
  });

  it('refuses malformed and oversized messages, and partial keys, and keeps nothing of them', async () => {
    const before = await DE.t.node.db.selectFrom('federation_inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const junk = '{"protocol":"openprum/1",';
    const a = await sendRaw(client, DE, junk, signDetached(junk, signerOf(NL)));
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body)).toMatchObject({ code: 'peer-message-invalid' });
    const extra = JSON.stringify({ ...requestFor('NL', 'DE'), extra: 'field' });
    expect((await sendRaw(client, DE, extra, signDetached(extra, signerOf(NL)))).status).toBe(400);
    const badQuery = JSON.stringify(requestFor('NL', 'DE', { query: { key: 'vin', value: DE_CAR.vin } }));
    expect(JSON.parse((await sendRaw(client, DE, badQuery, signDetached(badQuery, signerOf(NL)))).body)).toMatchObject({ code: 'peer-message-invalid' });
    const big = JSON.stringify(requestFor('NL', 'DE', { reference: 'X', query: { key: 'vin', value: 'A'.repeat(300 * 1024), purpose: 'criminal-offences' } }));
    const c = await sendRaw(client, DE, big, signDetached(big, signerOf(NL)));
    expect(c.status).toBe(413);
    expect(JSON.parse(c.body)).toMatchObject({ code: 'input-too-large' });
    const after = await DE.t.node.db.selectFrom('federation_inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
    // A partial VIN is a lawful refusal of a believable request: recorded, kept for retries.
    const partial = requestFor('NL', 'DE', { query: { key: 'vin', value: 'WDB124', purpose: 'criminal-offences' } });
    const pb = JSON.stringify(partial);
    const p = await sendRaw(client, DE, pb, signDetached(pb, signerOf(NL)));
    expect(p.status).toBe(400);
    expect(JSON.parse(p.body)).toMatchObject({ code: 'vehicle-search-partial' });
    expect((await records(DE, { requestId: partial.messageId })).map((r) => r.outcome)).toEqual(['refused']);
    expect((await records(DE, { searchingBody: 'NL NCP', action: 'peer.message' })).some((r) => (r.supplied as { refused?: string }).refused === 'input-too-large')).toBe(true);
  });
});

describe('certificates at the peer interface (mutual TLS 1.3)', () => {
  const foreignCa = createCertificateAuthority({ federation: 'Another federation' });
  const foreignCreds = (country: string) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = issueNodeCertificate(foreignCa, { country, publicKey });
    return { keyPem: privateKeyPem(privateKey), certPem: certificatePem(cert) };
  };

  it('refuses a valid certificate of another federation, with a clear error, recorded as an event', async () => {
    const c = rawClient(foreignCreds('NL'));
    const body = JSON.stringify(requestFor('NL', 'DE'));
    const r = await sendRaw(c, DE, body, 'x..y');
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'peer-certificate-refused' });
    const events = await DE.t.node.db.selectFrom('federation_events').selectAll().where('code', '=', 'peer-certificate-refused').execute();
    expect(events.length).toBeGreaterThan(0);
  });

  it('refuses a revoked certificate once the CA\'s new list is installed', async () => {
    const extra = f.extraCredentials('FR');
    const c = rawClient(extra);
    const body1 = JSON.stringify(requestFor('FR', 'DE'));
    expect((await sendRaw(c, DE, body1, signDetached(body1, { key: createPrivateKey(extra.keyPem), cert: extra.cert }))).status).toBe(200);
    revoke(f.caDir, extra.cert.serialNumber, 'keyCompromise');
    installCrl(DE.fedDir, join(f.caDir, 'ca.crl.pem'));
    expect(DE.fed.reloadTrust()).toBe(true);
    const fresh = rawClient(extra); // a new connection: the handshake checks the new list
    const body2 = JSON.stringify(requestFor('FR', 'DE'));
    const r = await sendRaw(fresh, DE, body2, 'x..y');
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).detail).toMatch(/CERT_REVOKED|revoked/);
    // FR's own node certificate is not revoked and still works.
    const ok = JSON.stringify(requestFor('FR', 'DE'));
    expect((await sendRaw(rawClient(creds(FR)), DE, ok, signDetached(ok, signerOf(FR)))).status).toBe(200);
  });

  it('refuses a client without a certificate, and a TLS 1.2 client at the handshake (recorded)', async () => {
    const url = new URL(DE.fed.peerUrl);
    const trust = DE.fed.trust();
    const noCert = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = tls.connect({ host: url.hostname, port: Number(url.port), ca: trust.caPem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' }, () => {
        s.write('GET /peer/v1/declaration HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('end', () => resolve({ status: Number(data.split(' ')[1]), body: data }));
      s.on('error', reject);
    });
    expect(noCert.status).toBe(401);
    expect(noCert.body).toContain('peer-certificate-refused');
    const old = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: url.hostname, port: Number(url.port), ca: trust.caPem, checkServerIdentity: () => undefined, maxVersion: 'TLSv1.2', ...creds(NL) }, () => resolve('connected'));
      s.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    });
    expect(old).not.toBe('connected');
    await waitFor(
      () => DE.t.node.db.selectFrom('federation_events').selectAll().where('event', '=', 'tls-refused').execute(),
      (rows) => rows.length > 0,
      5_000,
    );
  });

  it('the client refuses a peer presenting another state\'s or another federation\'s certificate', async () => {
    const as = async (country: string, keyCert: { keyPem: string; certPem: string }) => {
      const srv = createHttpsServer({ key: keyCert.keyPem, cert: keyCert.certPem, minVersion: 'TLSv1.3' }, (_req, res) => res.end('{}'));
      fakes.push(srv);
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const port = (srv.address() as { port: number }).port;
      return rawClient(creds(NL)).exchange(country, `https://127.0.0.1:${port}/peer/v1/declaration`, 'GET');
    };
    // A node of FR answering where BE was expected.
    await expect(as('BE', creds(FR))).rejects.toMatchObject({ code: 'peer-certificate-refused', message: expect.stringMatching(/presents the certificate of FR/) });
    await expect(as('BE', foreignCreds('BE'))).rejects.toMatchObject({ code: 'peer-certificate-refused' });
  });
});

describe('outbox: peers down, slow or dropping the connection', () => {
  it('keeps a search pending while the peer is down, survives a restart, and answers once when it is back', async () => {
    await f.stop('FR');
    let frUp = false;
    try {
      const s = await officerSearch(NL, ['FR', 'DE'], { vin: FR_VAN.vin });
      const pending = await waitFor(() => view(NL, s.id), (x) => target(x, 'FR').attempts >= 2 && target(x, 'DE').status === 'answered');
      const fr = target(pending, 'FR');
      expect(fr.status).toBe('pending');
      expect(fr.error!.code).toBe('peer-unreachable');
      expect(fr.error!.detail).toMatch(/refused the connection/);
      expect(await records(NL, { requestId: fr.messageId })).toHaveLength(0);
      // FR's own API says plainly that its federation is not running.
      const off = await FR.api.inject({ method: 'GET', url: '/v1/federation/peers', headers: { authorization: `Bearer ${FR.officer.token}` } });
      expect(off.statusCode).toBe(503);
      expect(off.json()).toMatchObject({ code: 'federation-not-configured' });
      // The requesting node restarts: the outbox is in its database.
      await f.stop('NL');
      await f.start('NL');
      await f.start('FR');
      frUp = true;
      const done = await waitFor(() => view(NL, s.id), (x) => x.complete);
      expect(target(done, 'FR')).toMatchObject({ status: 'answered', hit: true });
      expect(target(done, 'FR').attempts).toBeGreaterThanOrEqual(3);
      expect((await records(FR, { requestId: fr.messageId })).map((r) => r.action)).toEqual(['vehicle.search']);
    } finally {
      if (!frUp) await f.start('FR').catch(() => undefined);
    }
  });

  /** A fake peer of this federation for a state, with a handler deciding how it misbehaves. */
  async function fakePeer(country: string, handle: (body: string, res: ServerResponse, signer: Signer) => void): Promise<string> {
    const extra = f.extraCredentials(country);
    const signer: Signer = { key: createPrivateKey(extra.keyPem), cert: extra.cert };
    const trust = NL.fed.trust();
    const srv = createHttpsServer({ key: extra.keyPem, cert: extra.certPem, ca: trust.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => handle(body, res, signer));
    });
    fakes.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(srv.address() as { port: number }).port}`;
    await addPeer(NL.t.node.db, 'NL', country, url);
    return url;
  }

  function answerTo(body: string, country: string, signer: Signer): { body: string; jws: string } {
    const req = JSON.parse(body) as SearchRequest;
    const now = new Date().toISOString();
    const answer: SearchAnswer = {
      protocol: PROTOCOL,
      type: 'search-answer',
      messageId: randomUUID(),
      sentAt: now,
      inReplyTo: req.messageId,
      requestingState: req.requestingState,
      requestedState: country,
      request: { reference: req.reference, requestedAt: req.requestedAt },
      answer: { reference: `${country}-1`, answeredAt: now },
      kind: 'vehicle',
      hit: false,
      result: { vehicles: [] },
    };
    const text = JSON.stringify(answer);
    return { body: text, jws: signDetached(text, signer) };
  }

  it('retries a peer that hangs or drops the connection mid-answer, keeps nothing half-way, and shows lateness', async () => {
    let luCalls = 0;
    await fakePeer('BE', () => {
      // Hangs: never answers.
    });
    await fakePeer('LU', (body, res, signer) => {
      luCalls++;
      if (luCalls <= 2) {
        // Starts an answer and drops the connection in the middle of it.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
        res.write('{"protocol":"openprum/1","type":"search-ans');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      const a = answerTo(body, 'LU', signer);
      res.writeHead(200, { 'content-type': 'application/json', [JWS_HEADER]: a.jws });
      res.end(a.body);
    });
    await fakePeer('AT', (body, res, signer) => {
      // A forged answer: the signature does not cover what is sent.
      const a = answerTo(body, 'AT', signer);
      res.writeHead(200, { 'content-type': 'application/json', [JWS_HEADER]: a.jws });
      res.end(a.body.replace('"hit":false', '"hit":true '));
    });
    const s = await officerSearch(NL, ['BE', 'LU', 'AT'], { vin: DE_CAR.vin });
    const v = await waitFor(
      () => view(NL, s.id),
      (x) => target(x, 'LU').status === 'answered' && target(x, 'BE').attempts >= 2 && target(x, 'AT').attempts >= 2,
      30_000,
    );
    expect(target(v, 'LU')).toMatchObject({ status: 'answered', hit: false });
    expect(target(v, 'LU').attempts).toBeGreaterThanOrEqual(3);
    expect(target(v, 'BE')).toMatchObject({ status: 'pending', hit: null, result: null });
    expect(target(v, 'BE').error!.detail).toMatch(/did not answer in time/);
    expect(target(v, 'AT')).toMatchObject({ status: 'pending', hit: null });
    expect(target(v, 'AT').error).toMatchObject({ code: 'peer-answer-invalid' });
    expect(target(v, 'AT').error!.detail).toMatch(/does not match/);
    // Nothing half-way: no answer stored and nothing recorded for the states that did not answer.
    const rows = await NL.t.node.db.selectFrom('federation_targets').selectAll().where('search_id', '=', s.id).execute();
    for (const r of rows.filter((x) => x.state !== 'LU')) {
      expect([r.answer_body, r.hit, r.record_id]).toEqual([null, null, null]);
    }
    expect(await records(NL, { requestId: target(v, 'BE').messageId })).toHaveLength(0);
    // Lateness (2008/616/JHA Annex ch. 1 section 3.1): a missing answer past its due time shows as late.
    await NL.t.node.db.updateTable('federation_targets').set({ due_at: new Date(Date.now() - 60_000) }).where('search_id', '=', s.id).execute();
    const late = await view(NL, s.id);
    expect(target(late, 'BE')).toMatchObject({ late: true });
    expect(target(late, 'BE').lateBySeconds).toBeGreaterThanOrEqual(59);
    await NL.t.node.db.deleteFrom('federation_peers').where('country', 'in', ['BE', 'AT']).execute();
    // With the peers gone, their parts end as failed and are recorded.
    const ended = await waitFor(() => view(NL, s.id), (x) => x.complete, 20_000);
    expect(target(ended, 'BE')).toMatchObject({ status: 'failed', late: false });
    expect((await records(NL, { requestId: target(ended, 'BE').messageId }))[0]).toMatchObject({ direction: 'outgoing', outcome: 'failed' });
  });
});
