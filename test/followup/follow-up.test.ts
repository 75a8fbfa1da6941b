/**
 * The second step after a hit (Prüm Decision Arts. 5 and 10; FD 2008/977 Arts. 9, 12), end to end
 * between two nodes (NL requesting, DE requested) over mutual TLS 1.3 with signed messages: confirm a
 * hit, ask for more, the approver of DE grants with conditions of use or refuses, NL reads the answer;
 * the 48-hour deadline; a peer down on either side; and the refusals, each recorded and nothing kept
 * half-way.
 */
import { createPrivateKey, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inclusionOf } from '../../src/dna/profile.ts';
import { randomProfiles } from '../../src/dna/test-helpers.ts';
import { Federation } from '../../src/exchange/federation.ts';
import { signDetached, verifyDetached, type Signer } from '../../src/exchange/jws.ts';
import { PeerClient, type PeerResponse } from '../../src/exchange/peer-client.ts';
import { PROTOCOL, type FollowUpAnswer, type FollowUpRequest } from '../../src/followup/messages.ts';
import type { FollowUpView, HitView } from '../../src/followup/service.ts';
import type { VehicleRow } from '../../src/vehicle/model.ts';
import { createTestFederation, declaration, TEST_OPTIONS, waitFor, type FedNode, type TestFederation } from '../federation/support.ts';

const DE_CAR: VehicleRow = {
  registrationNumber: 'B-FU 4711',
  vin: 'WVWZZZ1KZAW000001',
  make: 'Volkswagen',
  model: 'Golf',
  vehicleType: 'passenger car',
  colour: 'blue',
  firstRegistrationDate: '2010-03-01',
  holder: { type: 'natural', surname: 'Schmidt', firstNames: 'Karl', birthDate: '1975-05-06', address: 'Lindenstraße 5, 10969 Berlin' },
};

const persons = randomProfiles(21, 60, 'DE-P-')
  .map((p) => ({ ...p, kind: 'reference' as const }))
  .filter((p) => inclusionOf(p).ok)
  .slice(0, 3);

let f: TestFederation;
let DE: FedNode;
let NL: FedNode;
let dir: string;
let deApprover: { officerId: number; token: string };
let nlOfficer2: { officerId: number; token: string };
let nlSupervisor: { officerId: number; token: string };
let nlApprover: { officerId: number; token: string };
const clients: PeerClient[] = [];

// DE's federation runs on a clock the test can move (the 48-hour deadline).
let offsetMs = 0;
const deNow = () => new Date(Date.now() + offsetMs);

async function startFed(n: FedNode, port: number, now?: () => Date): Promise<void> {
  n.fed = await Federation.start(n.t.node, { ...TEST_OPTIONS, dir: n.fedDir, peerPort: port, ...(now ? { now } : {}) });
}
const portOf = (n: FedNode) => Number(new URL(n.fed.peerUrl).port);

beforeAll(async () => {
  f = await createTestFederation({ DE: [DE_CAR], NL: [] });
  DE = f.nodes.DE!;
  NL = f.nodes.NL!;
  dir = mkdtempSync(join(tmpdir(), 'openprum-followup-'));
  const file = join(dir, 'de.jsonl');
  writeFileSync(file, persons.map((p) => JSON.stringify(p)).join('\n') + '\n');
  await (await DE.t.node.dna()).importFile(file);
  const port = portOf(DE);
  await DE.fed.close();
  await startFed(DE, port, deNow);
  await DE.fed.publishDeclaration(
    declaration({
      files: [
        { file: 'vehicle', conditions: 'Full keys only' },
        { file: 'dna-reference', conditions: 'Matching rule of OpenPrüm src/dna/README.md' },
      ],
      capacity: [
        { kind: 'vehicle', perDay: 1000 },
        { kind: 'dna', perDay: 1000 },
      ],
      contactPoint: { name: 'NCP DE' },
    }),
  );
  await NL.fed.refreshDeclarations();
  deApprover = await DE.t.tokenFor('approver-DE', ['approver']);
  nlOfficer2 = await NL.t.tokenFor('officer-NL-2', ['officer']);
  nlSupervisor = await NL.t.tokenFor('dpa-NL', ['supervisor']);
  nlApprover = await NL.t.tokenFor('approver-NL', ['approver']);
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function call(n: FedNode, token: string, method: 'GET' | 'POST', url: string, payload?: unknown) {
  return n.api.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}

/** A federated search by NL's officer that DE answers with a hit; returns the search id. */
async function searchWithHit(kind: 'dna' | 'vehicle'): Promise<string> {
  const body =
    kind === 'dna'
      ? { kind, targets: ['DE'], query: { profile: { ref: `NL-STAIN-${randomUUID().slice(0, 8)}`, kind: 'unidentified', loci: persons[0]!.loci } }, purpose: 'investigation-of-criminal-offences', reason: 'Case 2026/42: stain at a burglary', orderedBy: 'Prosecutor M. Bakker' }
      : { kind, targets: ['DE'], query: { vin: DE_CAR.vin }, purpose: 'criminal-offences', reason: 'Case 2026/43: car seen at a robbery', orderedBy: 'Inspector J. de Vries' };
  const r = await call(NL, NL.officer.token, 'POST', '/v1/federation/searches', body);
  expect(r.statusCode, r.body).toBe(202);
  const id = (r.json() as { id: string }).id;
  const v = await waitFor(
    async () => (await call(NL, NL.officer.token, 'GET', `/v1/federation/searches/${id}`)).json() as { complete: boolean; targets: Array<{ hit: boolean | null; status: string }> },
    (x) => x.complete,
    60_000,
  );
  expect(v.targets[0]).toMatchObject({ status: 'answered', hit: true });
  return id;
}

async function hits(searchId: string, token = NL.officer.token): Promise<HitView[]> {
  const r = await call(NL, token, 'GET', `/v1/federation/searches/${searchId}/hits`);
  expect(r.statusCode, r.body).toBe(200);
  return (r.json() as { hits: HitView[] }).hits;
}

async function confirm(searchId: string, requestedReference: string, verdict: 'confirmed' | 'rejected' = 'confirmed', token = NL.officer.token) {
  return call(NL, token, 'POST', `/v1/federation/searches/${searchId}/confirmations`, { state: 'DE', requestedReference, verdict, note: 'Checked by the forensic lab: same person' });
}

function followUpBody(searchId: string, requestedReference: string, overrides: Record<string, unknown> = {}) {
  return {
    searchId,
    state: 'DE',
    requestedReference,
    legalBasis: 'Prüm Decision Art. 5; Art. 552i Wetboek van Strafvordering',
    facts: 'Burglary at Keizersgracht 1, Amsterdam, on 2 January 2026.\nA stain on the window frame matched.',
    offence: { category: 'organised-armed-robbery' },
    purpose: 'Identify the suspect of case NL-OM-2026-42',
    caseReference: 'NL-OM-2026-42',
    ...overrides,
  };
}

async function askFollowUp(searchId: string, requestedReference: string): Promise<FollowUpView> {
  const r = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(searchId, requestedReference));
  expect(r.statusCode, r.body).toBe(202);
  return r.json() as FollowUpView;
}

async function nlView(id: string, token = NL.officer.token): Promise<FollowUpView> {
  const r = await call(NL, token, 'GET', `/v1/follow-ups/${id}`);
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as FollowUpView;
}

async function deIncoming(): Promise<FollowUpView[]> {
  const r = await call(DE, deApprover.token, 'GET', '/v1/follow-ups?direction=incoming');
  expect(r.statusCode, r.body).toBe(200);
  return (r.json() as { followUps: FollowUpView[] }).followUps;
}

/** DE's copy of an NL follow-up, once received. */
async function deCopy(nl: FollowUpView): Promise<FollowUpView> {
  return waitFor(
    async () => (await deIncoming()).find((x) => x.requestMessageId === nl.requestMessageId),
    (x): x is FollowUpView => x !== undefined,
    30_000,
  ) as Promise<FollowUpView>;
}

async function records(n: FedNode, where: { action?: string; requestId?: string; officerId?: number } = {}) {
  let q = n.t.node.db.selectFrom('records').selectAll();
  if (where.action) q = q.where('action', '=', where.action);
  if (where.requestId) q = q.where('request_id', '=', where.requestId);
  if (where.officerId !== undefined) q = q.where('officer_id', '=', where.officerId);
  return q.orderBy('id').execute();
}

/** A confirmed vehicle hit with a follow-up that DE has received. */
async function receivedFollowUp(): Promise<{ searchId: string; nl: FollowUpView; de: FollowUpView }> {
  const searchId = await searchWithHit('vehicle');
  expect((await confirm(searchId, DE_CAR.vin)).statusCode).toBe(201);
  const asked = await askFollowUp(searchId, DE_CAR.vin);
  const nl = await waitFor(() => nlView(asked.id), (x) => x.status === 'received', 30_000);
  return { searchId, nl, de: await deCopy(nl) };
}

const CONDITIONS = [
  { type: 'no-onward-transfer' },
  { type: 'use-only-in-case', caseReference: 'NL-OM-2026-42' },
  { type: 'review-by', date: '2099-06-30' },
  { type: 'delete-by', date: '2099-12-31' },
  { type: 'national-restriction', text: 'Not to be used as evidence in court without the consent of the Staatsanwaltschaft Berlin' },
];

describe('a DNA hit: confirm, ask, grant with conditions, read (Prüm Decision Art. 5)', () => {
  it('runs end to end over the federation and records every step on both sides', async () => {
    const searchId = await searchWithHit('dna');
    const [hit] = await hits(searchId);
    expect(hit).toMatchObject({ state: 'DE', kind: 'dna', requestedReference: persons[0]!.ref, confirmation: null, followUps: [] });
    expect(hit!.answerReference).toMatch(/^DE-R\d+$/);

    // Not before the officer has checked the hit.
    const early = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(searchId, hit!.requestedReference));
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ code: 'follow-up-hit-not-confirmed' });
    expect((await records(NL, { action: 'follow-up.request', officerId: NL.officer.officerId })).at(-1)).toMatchObject({ outcome: 'refused', direction: 'outgoing', administering_body: 'DE NCP' });

    // Only the officer of the search confirms; a supervisor reads; another officer sees nothing.
    expect((await confirm(searchId, hit!.requestedReference, 'confirmed', nlOfficer2.token)).statusCode).toBe(403);
    expect((await records(NL, { action: 'access.refused', officerId: nlOfficer2.officerId })).length).toBeGreaterThan(0);
    expect((await call(NL, nlOfficer2.token, 'GET', `/v1/federation/searches/${searchId}/hits`)).statusCode).toBe(404);
    const c = await confirm(searchId, hit!.requestedReference);
    expect(c.statusCode, c.body).toBe(201);
    expect(c.json()).toMatchObject({ confirmation: { verdict: 'confirmed', officerReference: 'officer-NL' } });
    const again = await confirm(searchId, hit!.requestedReference, 'rejected');
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'follow-up-hit-decided' });
    expect((await hits(searchId, nlSupervisor.token))[0]!.confirmation).toMatchObject({ verdict: 'confirmed' });
    const confirmation = await records(NL, { action: 'hit.confirmation', requestId: hit!.targetMessageId });
    expect(confirmation.map((r) => [r.outcome, r.hit, r.officer_id])).toEqual([['done', true, NL.officer.officerId]]);

    // The follow-up: stored, sent, received by DE with a due time 48 hours after receipt.
    const asked = await askFollowUp(searchId, hit!.requestedReference);
    expect(asked).toMatchObject({ direction: 'outgoing', status: 'pending', requestingState: 'NL', requestedState: 'DE', hit: { kind: 'dna', requestedReference: persons[0]!.ref, searchId } });
    expect(asked.reference).toMatch(/^NL-FU-\d{8}-[0-9A-F]{10}$/);
    const dup = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(searchId, hit!.requestedReference));
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ code: 'follow-up-open' });
    const sent = await waitFor(() => nlView(asked.id), (x) => x.status === 'received', 30_000);
    expect(Date.parse(sent.dueAt!) - Date.parse(sent.receivedAt!)).toBe(48 * 3_600_000);
    expect(sent).toMatchObject({ overdue: false, late: false, delivery: { type: 'follow-up-request', status: 'delivered' } });
    expect(sent.receiptReference).toMatch(/^DE-FR-/);

    const incoming = await deCopy(sent);
    expect(incoming).toMatchObject({
      direction: 'incoming',
      status: 'open',
      reference: asked.reference,
      overdue: false,
      dueAt: sent.dueAt,
      request: { offence: { category: 'organised-armed-robbery', label: 'organised or armed robbery' }, caseReference: 'NL-OM-2026-42', officerReference: null },
      decision: null,
    });
    expect(incoming.request.facts).toContain('\nA stain on the window frame matched.');
    // DE keeps NL's signed request, and recorded its receipt.
    const deRow = await DE.t.node.db.selectFrom('follow_ups').selectAll().where('id', '=', incoming.id).executeTakeFirstOrThrow();
    expect(verifyDetached(deRow.request_jws!, deRow.request_body!, DE.fed.trust()).country).toBe('NL');
    expect((await records(DE, { action: 'follow-up.request', requestId: sent.requestMessageId })).map((r) => [r.direction, r.searching_body, r.outcome])).toEqual([['incoming', 'NL NCP', 'done']]);

    // Only an approver decides; an officer of DE cannot even list the incoming requests.
    expect((await call(DE, DE.officer.token, 'POST', `/v1/follow-ups/${incoming.id}/decision`, { decision: 'refuse', legalBasis: 'x', reason: 'x' })).statusCode).toBe(403);
    expect((await call(DE, DE.officer.token, 'GET', '/v1/follow-ups?direction=incoming')).statusCode).toBe(403);

    const supplied = { person: { surname: 'Muster', firstNames: 'Max', birthDate: '1980-01-01', nationality: 'DE' }, case: { reference: 'BKA-2025-991', offence: 'burglary' } };
    const granted = await call(DE, deApprover.token, 'POST', `/v1/follow-ups/${incoming.id}/decision`, { decision: 'grant', legalBasis: '§ 27 BKAG', supplied, conditions: CONDITIONS });
    expect(granted.statusCode, granted.body).toBe(200);
    expect(granted.json()).toMatchObject({ status: 'granted', late: false, decision: { decision: 'granted', decidedBy: 'approver-DE', supplied, conditions: CONDITIONS } });
    const twice = await call(DE, deApprover.token, 'POST', `/v1/follow-ups/${incoming.id}/decision`, { decision: 'refuse', legalBasis: '§ 27 BKAG', reason: 'changed my mind' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toMatchObject({ code: 'follow-up-decided' });
    expect((await records(DE, { action: 'follow-up.decision', officerId: deApprover.officerId })).map((r) => r.outcome)).toEqual(['done', 'refused']);

    // NL receives the signed answer; the officer reads the data and the conditions.
    const answered = await waitFor(() => nlView(asked.id), (x) => x.status === 'granted', 30_000);
    // The data received are read only through the purpose check (src/safeguards, test/safeguards/).
    expect(answered).toMatchObject({ late: false, overdue: false, decision: { decision: 'granted', legalBasis: '§ 27 BKAG', supplied: null, conditions: CONDITIONS, decidedBy: null, useAt: `POST /v1/received-data/${asked.id}/uses` } });
    expect(answered.answeredAt).not.toBeNull();
    expect(answered.answerReceivedAt).not.toBeNull();
    const nlRow = await NL.t.node.db.selectFrom('follow_ups').selectAll().where('id', '=', asked.id).executeTakeFirstOrThrow();
    expect(verifyDetached(nlRow.answer_jws!, nlRow.answer_body!, NL.fed.trust()).country).toBe('DE');
    expect([nlRow.delete_by, nlRow.review_by]).toEqual(['2099-12-31', '2099-06-30']);
    expect((await nlView(asked.id, nlSupervisor.token)).status).toBe('granted');
    expect((await call(NL, nlOfficer2.token, 'GET', `/v1/follow-ups/${asked.id}`)).statusCode).toBe(404);
    expect((await call(NL, nlApprover.token, 'GET', `/v1/follow-ups/${asked.id}`)).statusCode).toBe(404);
    const list = (await call(NL, NL.officer.token, 'GET', '/v1/follow-ups?direction=outgoing')).json() as { followUps: FollowUpView[] };
    expect(list.followUps.map((x) => x.id)).toContain(asked.id);

    // The record of the supply (DE) and of the receipt (NL), with legal basis and conditions.
    const supply = (await records(DE, { action: 'follow-up.decision', requestId: sent.requestMessageId }))[0]!;
    expect(supply).toMatchObject({ direction: 'incoming', searching_body: 'NL NCP', administering_body: 'DE NCP', officer_reference: 'approver-DE', outcome: 'done' });
    expect(supply.legal_basis).toBe('Prüm Decision Art. 5; § 27 BKAG');
    expect(supply.supplied).toMatchObject({ decision: 'granted', supplied, conditions: CONDITIONS, late: false });
    const receipt = await records(NL, { action: 'follow-up.answer' });
    expect(receipt.filter((r) => (r.query as { request?: { reference?: string } }).request?.reference === asked.reference).map((r) => [r.outcome, r.officer_id, r.administering_body])).toEqual([['done', NL.officer.officerId, 'DE NCP']]);
    await waitFor(() => records(DE, { action: 'follow-up.answer.sent' }), (rows) => rows.some((r) => r.outcome === 'done' && (r.query as { reference?: string }).reference === asked.reference));
    const deDone = await waitFor(
      async () => (await call(DE, deApprover.token, 'GET', `/v1/follow-ups/${incoming.id}`)).json() as FollowUpView,
      (x) => x.delivery?.status === 'delivered',
    );
    // Usually one attempt; a loaded machine may time one out, and the retry is answered from the store.
    expect(deDone.delivery).toMatchObject({ type: 'follow-up-answer', status: 'delivered' });

    // And it is documented.
    const docs = (await NL.api.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/v1/follow-ups', '/v1/follow-ups/{id}', '/v1/follow-ups/{id}/decision', '/v1/federation/searches/{id}/confirmations', '/v1/federation/searches/{id}/hits']));
  }, 120_000);
});

describe('refusals', () => {
  it('DE refuses with a reason; NL reads the refusal; both sides record it', async () => {
    const { nl, de } = await receivedFollowUp();
    const r = await call(DE, deApprover.token, 'POST', `/v1/follow-ups/${de.id}/decision`, { decision: 'refuse', legalBasis: '§ 478 StPO', reason: 'The investigation in Germany would be put at risk' });
    expect(r.statusCode, r.body).toBe(200);
    const answered = await waitFor(() => nlView(nl.id), (x) => x.status === 'refused', 30_000);
    expect(answered.decision).toEqual({ decision: 'refused', decidedAt: expect.any(String), decidedBy: null, legalBasis: '§ 478 StPO', supplied: null, conditions: null, reason: 'The investigation in Germany would be put at risk', useAt: null });
    expect((await records(DE, { action: 'follow-up.decision', requestId: nl.requestMessageId }))[0]).toMatchObject({ outcome: 'refused', reason: 'The investigation in Germany would be put at risk' });
    const nlRec = (await records(NL, { action: 'follow-up.answer' })).filter((x) => (x.query as { request?: { reference?: string } }).request?.reference === nl.reference);
    expect(nlRec.map((x) => x.outcome)).toEqual(['refused']);
  }, 90_000);

  it('refuses a follow-up for a rejected or unknown hit, by another officer, and bad decisions; nothing half-stored', async () => {
    const searchId = await searchWithHit('vehicle');
    expect((await confirm(searchId, DE_CAR.vin, 'rejected')).statusCode).toBe(201);
    const rejected = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(searchId, DE_CAR.vin));
    expect(rejected.statusCode).toBe(409);
    expect(rejected.json().detail).toMatch(/was rejected at .* by officer-NL/);
    const unknown = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(searchId, 'WVWZZZ1KZAW999999'));
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'follow-up-hit-unknown' });
    expect((await call(NL, NL.officer.token, 'POST', `/v1/federation/searches/${searchId}/confirmations`, { state: 'DE', requestedReference: 'NOPE', verdict: 'confirmed', note: 'x' })).json()).toMatchObject({ code: 'follow-up-hit-unknown' });
    expect((await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(randomUUID(), DE_CAR.vin))).statusCode).toBe(404);
    expect((await call(NL, nlOfficer2.token, 'POST', '/v1/follow-ups', followUpBody(searchId, DE_CAR.vin))).statusCode).toBe(403);
    const refusals = await records(NL, { action: 'follow-up.request', officerId: NL.officer.officerId });
    expect(refusals.slice(-3).map((x) => [x.outcome, (x.supplied as { refused: string }).refused])).toEqual([
      ['refused', 'follow-up-hit-not-confirmed'],
      ['refused', 'follow-up-hit-unknown'],
      ['refused', 'not-found'],
    ]);

    // Bad input for a confirmed hit.
    const { searchId: confirmedSearch, de } = await receivedFollowUp();
    const before = await NL.t.node.db.selectFrom('follow_ups').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const other = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(confirmedSearch, DE_CAR.vin, { offence: { category: 'other' } }));
    expect(other.statusCode).toBe(400);
    expect(other.json()).toMatchObject({ code: 'follow-up-invalid', detail: 'offence.description is required when offence.category is "other"' });
    const badCategory = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(confirmedSearch, DE_CAR.vin, { offence: { category: 'burglary' } }));
    expect(badCategory.statusCode).toBe(400);
    const emptyFacts = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', followUpBody(confirmedSearch, DE_CAR.vin, { facts: '   ' }));
    expect(emptyFacts.json()).toMatchObject({ code: 'follow-up-invalid' });
    expect(Number((await NL.t.node.db.selectFrom('follow_ups').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)).toBe(Number(before.n));

    const decide = (body: unknown) => call(DE, deApprover.token, 'POST', `/v1/follow-ups/${de.id}/decision`, body);
    const big = await decide({ decision: 'grant', legalBasis: '§ 27 BKAG', supplied: { file: 'x'.repeat(40 * 1024) }, conditions: [] });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'follow-up-supply-too-large' });
    const past = await decide({ decision: 'grant', legalBasis: '§ 27 BKAG', supplied: { a: 1 }, conditions: [{ type: 'delete-by', date: '2020-01-01' }] });
    expect(past.statusCode).toBe(400);
    expect(past.json().detail).toMatch(/conditions\[0\] \(delete-by\): 2020-01-01 must lie after the day of the decision/);
    const unknownCondition = await decide({ decision: 'grant', legalBasis: '§ 27 BKAG', supplied: { a: 1 }, conditions: [{ type: 'share-freely' }] });
    expect(unknownCondition.statusCode).toBe(400);
    const refuseWithData = await decide({ decision: 'refuse', legalBasis: '§ 27 BKAG', reason: 'no', supplied: { a: 1 } });
    expect(refuseWithData.json()).toMatchObject({ code: 'follow-up-invalid' });
    const noReason = await decide({ decision: 'refuse', legalBasis: '§ 27 BKAG' });
    expect(noReason.json()).toMatchObject({ code: 'follow-up-invalid' });
    // Nothing of the refused decisions was kept: still open, nothing queued, each refusal recorded.
    const still = (await call(DE, deApprover.token, 'GET', `/v1/follow-ups/${de.id}`)).json() as FollowUpView;
    expect(still).toMatchObject({ status: 'open', decision: null, delivery: null });
    expect(await DE.t.node.db.selectFrom('follow_up_deliveries').select('id').where('follow_up_id', '=', de.id).execute()).toEqual([]);
    const deRefusals = (await records(DE, { action: 'follow-up.decision', officerId: deApprover.officerId })).slice(-5);
    expect(deRefusals.map((x) => (x.supplied as { refused?: string }).refused)).toEqual(['follow-up-supply-too-large', 'follow-up-invalid', 'follow-up-invalid', 'follow-up-invalid', 'follow-up-invalid']);
    expect((await decide({ decision: 'grant', legalBasis: '§ 27 BKAG', supplied: { a: 1 } })).statusCode).toBe(200);
  }, 120_000);
});

describe('the 48-hour deadline (Regulation (EU) 2024/982)', () => {
  it('shows an unanswered request as overdue at DE, and a late answer as late on both sides', async () => {
    const { nl, de } = await receivedFollowUp();
    expect(de.overdue).toBe(false);
    offsetMs = 49 * 3_600_000;
    let late: FollowUpView;
    try {
      const list = await deIncoming();
      const overdue = list.find((x) => x.id === de.id)!;
      expect(overdue).toMatchObject({ status: 'open', overdue: true, late: false });
      expect(overdue.lateBySeconds).toBeGreaterThanOrEqual(3600);
      const onlyOverdue = (await call(DE, deApprover.token, 'GET', '/v1/follow-ups?direction=incoming&overdue=true')).json() as { followUps: FollowUpView[] };
      expect(onlyOverdue.followUps.map((x) => x.id)).toContain(de.id);
      const r = await call(DE, deApprover.token, 'POST', `/v1/follow-ups/${de.id}/decision`, { decision: 'grant', legalBasis: '§ 27 BKAG', supplied: { vehicle: { keeperSince: '2019-04-01' } }, conditions: [{ type: 'no-onward-transfer' }] });
      expect(r.statusCode, r.body).toBe(200);
      late = r.json() as FollowUpView;
    } finally {
      offsetMs = 0;
    }
    expect(late).toMatchObject({ status: 'granted', late: true, overdue: false });
    expect(late.lateBySeconds).toBeGreaterThanOrEqual(3600);
    expect((await records(DE, { action: 'follow-up.decision', requestId: nl.requestMessageId }))[0]!.supplied).toMatchObject({ late: true, dueAt: nl.dueAt });
    // NL's clock is not moved: the answer itself says it came after its due time.
    const answered = await waitFor(() => nlView(nl.id), (x) => x.status === 'granted', 30_000);
    expect(answered).toMatchObject({ late: true, overdue: false, dueAt: nl.dueAt });
    expect(Date.parse(answered.answeredAt!)).toBeGreaterThan(Date.parse(nl.dueAt!));
  }, 90_000);
});

describe('delivery: a peer down on either side', () => {
  it('keeps a request while DE is down, survives NL restarting, and delivers it once', async () => {
    const searchId = await searchWithHit('vehicle');
    expect((await confirm(searchId, DE_CAR.vin)).statusCode).toBe(201);
    const dePort = portOf(DE);
    await DE.fed.close();
    let deUp = false;
    try {
      const asked = await askFollowUp(searchId, DE_CAR.vin);
      const pending = await waitFor(() => nlView(asked.id), (x) => (x.delivery?.attempts ?? 0) >= 2, 30_000);
      expect(pending).toMatchObject({ status: 'pending', delivery: { status: 'pending', error: { code: 'peer-unreachable' } } });
      expect(await DE.t.node.db.selectFrom('follow_ups').select('id').where('request_message_id', '=', asked.requestMessageId).execute()).toEqual([]);
      // NL restarts: the queue is in its database.
      const nlPort = portOf(NL);
      await NL.fed.close();
      await startFed(NL, nlPort);
      await startFed(DE, dePort, deNow);
      deUp = true;
      const done = await waitFor(() => nlView(asked.id), (x) => x.status === 'received', 30_000);
      expect(done.delivery!.attempts).toBeGreaterThanOrEqual(3);
      expect(await DE.t.node.db.selectFrom('follow_ups').select('id').where('request_message_id', '=', asked.requestMessageId).execute()).toHaveLength(1);
      expect((await records(DE, { action: 'follow-up.request', requestId: asked.requestMessageId })).map((r) => r.outcome)).toEqual(['done']);
      expect((await records(NL, { action: 'follow-up.request.sent', requestId: asked.requestMessageId })).map((r) => r.outcome)).toEqual(['done']);
    } finally {
      if (!deUp) await startFed(DE, dePort, deNow).catch(() => undefined);
    }
  }, 120_000);

  it('keeps an answer while NL is down and delivers it once when NL is back', async () => {
    const { nl, de } = await receivedFollowUp();
    const nlPort = portOf(NL);
    await NL.fed.close();
    let nlUp = false;
    try {
      const r = await call(DE, deApprover.token, 'POST', `/v1/follow-ups/${de.id}/decision`, { decision: 'grant', legalBasis: '§ 27 BKAG', supplied: { note: 'owner confirmed' }, conditions: [] });
      expect(r.statusCode, r.body).toBe(200);
      const waiting = await waitFor(
        async () => (await call(DE, deApprover.token, 'GET', `/v1/follow-ups/${de.id}`)).json() as FollowUpView,
        (x) => (x.delivery?.attempts ?? 0) >= 2,
        30_000,
      );
      expect(waiting).toMatchObject({ status: 'granted', delivery: { type: 'follow-up-answer', status: 'pending' } });
      await startFed(NL, nlPort);
      nlUp = true;
      await waitFor(() => nlView(nl.id), (x) => x.status === 'granted', 30_000);
      expect((await NL.t.node.db.selectFrom('follow_ups').select('supplied').where('id', '=', nl.id).executeTakeFirstOrThrow()).supplied).toEqual({ note: 'owner confirmed' });
      await waitFor(
        async () => (await call(DE, deApprover.token, 'GET', `/v1/follow-ups/${de.id}`)).json() as FollowUpView,
        (x) => x.delivery?.status === 'delivered',
      );
      const nlRec = (await records(NL, { action: 'follow-up.answer' })).filter((x) => (x.query as { request?: { reference?: string } }).request?.reference === nl.reference);
      expect(nlRec).toHaveLength(1);
    } finally {
      if (!nlUp) await startFed(NL, nlPort).catch(() => undefined);
    }
  }, 120_000);
});

describe('peer messages: signatures, identity, replays, retries', () => {
  const signerOf = (n: FedNode): Signer => ({ key: n.creds.key, cert: n.creds.cert });
  function client(creds: { keyPem: string; certPem: string }): PeerClient {
    const trust = NL.fed.trust();
    const c = new PeerClient({ keyPem: creds.keyPem, certPem: creds.certPem, caPem: trust.caPem, crlPem: trust.crlPem }, trust, { answerTimeoutMs: 5_000 });
    clients.push(c);
    return c;
  }
  const send = (c: PeerClient, to: FedNode, path: string, body: string, jws: string): Promise<PeerResponse> => c.exchange(to.country, `${to.fed.peerUrl}${path}`, 'POST', { body, jws });

  let template: FollowUpRequest;
  beforeAll(async () => {
    const { nl } = await receivedFollowUp();
    const row = await NL.t.node.db.selectFrom('follow_up_deliveries').selectAll().where('message_id', '=', nl.requestMessageId).executeTakeFirstOrThrow();
    template = JSON.parse(row.sent_body!) as FollowUpRequest;
  }, 120_000);

  const fresh = (overrides: Partial<FollowUpRequest> = {}): FollowUpRequest => ({ ...template, messageId: randomUUID(), sentAt: new Date().toISOString(), reference: `NL-FU-T-${randomUUID().slice(0, 8)}`, ...overrides });

  it('handles a retried request once, and refuses another message under a used id', async () => {
    const c = client({ keyPem: NL.creds.keyPem, certPem: NL.creds.certPem });
    const req = fresh();
    const body = JSON.stringify(req);
    const a = await send(c, DE, '/peer/v1/follow-ups', body, signDetached(body, signerOf(NL)));
    expect(a.status, a.body).toBe(200);
    const retry = JSON.stringify({ ...req, sentAt: new Date(Date.now() + 1000).toISOString() });
    const b = await send(c, DE, '/peer/v1/follow-ups', retry, signDetached(retry, signerOf(NL)));
    expect(b.status).toBe(200);
    expect(b.body).toBe(a.body);
    expect(await DE.t.node.db.selectFrom('follow_ups').select('id').where('request_message_id', '=', req.messageId).execute()).toHaveLength(1);
    expect((await records(DE, { requestId: req.messageId })).map((r) => r.action)).toEqual(['follow-up.request', 'follow-up.request.repeat']);
    const other = JSON.stringify({ ...req, facts: 'Something else' });
    const conflict = await send(c, DE, '/peer/v1/follow-ups', other, signDetached(other, signerOf(NL)));
    expect(conflict.status).toBe(409);
    expect(JSON.parse(conflict.body)).toMatchObject({ code: 'peer-message-conflict', state: 'DE', inReplyTo: req.messageId });
  });

  it('refuses forged, stale, misdirected and mismatched-state messages, recorded, nothing stored', async () => {
    const nlClient = client({ keyPem: NL.creds.keyPem, certPem: NL.creds.certPem });
    const count = async () => Number((await DE.t.node.db.selectFrom('follow_ups').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const req = fresh();
    const body = JSON.stringify(req);
    const forged = await send(nlClient, DE, '/peer/v1/follow-ups', body.replace('organised-armed-robbery', 'terrorism'), signDetached(body, signerOf(NL)));
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body)).toMatchObject({ code: 'peer-signature-invalid' });
    expect(verifyDetached(forged.jws, forged.body, NL.fed.trust()).country).toBe('DE');
    const stale = JSON.stringify(fresh({ sentAt: new Date(Date.now() - 10 * 60_000).toISOString() }));
    expect(JSON.parse((await send(nlClient, DE, '/peer/v1/follow-ups', stale, signDetached(stale, signerOf(NL)))).body)).toMatchObject({ code: 'peer-message-expired' });
    const misdirected = JSON.stringify(fresh({ requestedState: 'FR' }));
    expect((await send(nlClient, DE, '/peer/v1/follow-ups', misdirected, signDetached(misdirected, signerOf(NL)))).status).toBe(421);
    const extraField = JSON.stringify({ ...fresh(), note: 'x' });
    expect(JSON.parse((await send(nlClient, DE, '/peer/v1/follow-ups', extraField, signDetached(extraField, signerOf(NL)))).body)).toMatchObject({ code: 'peer-message-invalid' });

    // FR's node: speaking for NL, relaying NL's signed message, and asking about NL's hit as itself.
    const fr = f.extraCredentials('FR');
    const frSigner: Signer = { key: createPrivateKey(fr.keyPem), cert: fr.cert };
    const frClient = client(fr);
    const claim = JSON.stringify(fresh());
    expect(JSON.parse((await send(frClient, DE, '/peer/v1/follow-ups', claim, signDetached(claim, frSigner))).body)).toMatchObject({ code: 'peer-identity-mismatch' });
    const relayed = JSON.stringify(fresh());
    expect(JSON.parse((await send(frClient, DE, '/peer/v1/follow-ups', relayed, signDetached(relayed, signerOf(NL)))).body).detail).toMatch(/signed by the node of NL but sent over the connection of FR/);
    const stolen = fresh({ requestingState: 'FR', reference: 'FR-FU-1' });
    const stolenBody = JSON.stringify(stolen);
    const s = await send(frClient, DE, '/peer/v1/follow-ups', stolenBody, signDetached(stolenBody, frSigner));
    expect(s.status).toBe(404);
    expect(JSON.parse(s.body)).toMatchObject({ code: 'follow-up-hit-unknown', inReplyTo: stolen.messageId });
    // A hit DE never answered, asked by NL itself.
    const invented = JSON.stringify(fresh({ hit: { ...template.hit, requestedReference: 'WVWZZZ1KZAW999999' } }));
    expect(JSON.parse((await send(nlClient, DE, '/peer/v1/follow-ups', invented, signDetached(invented, signerOf(NL)))).body)).toMatchObject({ code: 'follow-up-hit-unknown' });

    expect(await count()).toBe(before);
    const refused = await DE.t.node.db.selectFrom('records').select(['searching_body', 'supplied']).where('action', '=', 'follow-up.request').where('outcome', '=', 'refused').execute();
    const codes = refused.map((r) => `${r.searching_body}:${(r.supplied as { refused: string }).refused}`);
    expect(codes).toEqual(expect.arrayContaining(['NL NCP:peer-signature-invalid', 'NL NCP:peer-message-expired', 'NL NCP:peer-misdirected', 'FR NCP:peer-identity-mismatch', 'FR NCP:follow-up-hit-unknown', 'NL NCP:follow-up-hit-unknown']));
  });

  it('refuses an answer from a state the follow-up was not sent to', async () => {
    const fr = f.extraCredentials('FR');
    const frSigner: Signer = { key: createPrivateKey(fr.keyPem), cert: fr.cert };
    const now = new Date().toISOString();
    const answer: FollowUpAnswer = {
      protocol: PROTOCOL,
      type: 'follow-up-answer',
      messageId: randomUUID(),
      sentAt: now,
      requestingState: 'NL',
      requestedState: 'FR',
      request: { messageId: template.messageId, reference: template.reference },
      receipt: { reference: 'FR-FR-1', receivedAt: now, dueAt: now },
      decidedAt: now,
      legalBasis: 'none',
      decision: 'granted',
      supplied: { planted: true },
      conditions: [],
    };
    const body = JSON.stringify(answer);
    const r = await send(client(fr), NL, '/peer/v1/follow-up-answers', body, signDetached(body, frSigner));
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'follow-up-unknown' });
    const row = await NL.t.node.db.selectFrom('follow_ups').select(['status', 'supplied']).where('request_message_id', '=', template.messageId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'received', supplied: null });
    expect((await records(NL, { action: 'follow-up.answer', requestId: answer.messageId })).map((x) => [x.outcome, x.administering_body])).toEqual([['refused', 'FR NCP']]);
  });
});
