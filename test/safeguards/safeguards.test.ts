/**
 * The rules on personal data a node RECEIVED, enforced (issue 7 items 1-5), end to end across three
 * nodes over mutual TLS 1.3 with signed messages: DE supplies (a follow-up answer with conditions, a
 * vehicle in a search answer), NL and FR receive. For each rule: the forbidden use is refused and
 * recorded, the allowed one works, the deadline fires when the clock moves, the erased data are in no
 * table any more.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FollowUpView } from '../../src/followup/service.ts';
import { safeguardsContext } from '../../src/safeguards/context.ts';
import { runDeadlines } from '../../src/safeguards/deadlines.ts';
import { importVehicles } from '../../src/vehicle/import.ts';
import type { VehicleRow } from '../../src/vehicle/model.ts';
import { createTestFederation, waitFor, type FedNode, type TestFederation } from '../federation/support.ts';

const DE_CAR: VehicleRow = {
  registrationNumber: 'B-SG 1234',
  vin: 'WVWZZZ1KZAW000777',
  make: 'Volkswagen',
  model: 'Passat',
  vehicleType: 'passenger car',
  colour: 'grey',
  firstRegistrationDate: '2012-04-01',
  holder: { type: 'natural', surname: 'Vogelsang', firstNames: 'Erika', birthDate: '1969-02-03', address: 'Torstraße 1, 10119 Berlin' },
};

let f: TestFederation;
let DE: FedNode;
let NL: FedNode;
let FR: FedNode;
let dir: string;
let deApprover: { officerId: number; token: string };
let nlOfficer2: { officerId: number; token: string };
let nlSupervisor: { officerId: number; token: string };
/** NL's vehicle search with DE's confirmed hit: every follow-up of this file hangs on it. */
let searchId: string;

const DAY = 86_400_000;
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);

beforeAll(async () => {
  f = await createTestFederation({ DE: [DE_CAR], NL: [], FR: [] });
  DE = f.nodes.DE!;
  NL = f.nodes.NL!;
  FR = f.nodes.FR!;
  dir = mkdtempSync(join(tmpdir(), 'openprum-safeguards-'));
  deApprover = await DE.t.tokenFor('approver-DE', ['approver']);
  nlOfficer2 = await NL.t.tokenFor('officer-NL-2', ['officer']);
  nlSupervisor = await NL.t.tokenFor('dpa-NL', ['supervisor']);
  searchId = await vehicleSearch(NL);
  const c = await call(NL, NL.officer.token, 'POST', `/v1/federation/searches/${searchId}/confirmations`, { state: 'DE', requestedReference: DE_CAR.vin, verdict: 'confirmed', note: 'The car of the case' });
  expect(c.statusCode, c.body).toBe(201);
}, 180_000);

afterAll(async () => {
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function call(n: FedNode, token: string, method: 'GET' | 'POST', url: string, payload?: unknown) {
  return n.api.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}

/** A vehicle search of DE_CAR by the node's officer, answered by DE with a hit; returns its id. */
async function vehicleSearch(n: FedNode): Promise<string> {
  const r = await call(n, n.officer.token, 'POST', '/v1/federation/searches', { kind: 'vehicle', targets: ['DE'], query: { vin: DE_CAR.vin }, purpose: 'criminal-offences', reason: 'Car seen at a robbery', orderedBy: 'Prosecutor' });
  expect(r.statusCode, r.body).toBe(202);
  const id = (r.json() as { id: string }).id;
  await waitFor(async () => (await call(n, n.officer.token, 'GET', `/v1/federation/searches/${id}`)).json() as { complete: boolean }, (x) => x.complete, 60_000);
  return id;
}

interface Granted {
  /** NL's follow-up id: also the id of the received data at NL. */
  readonly id: string;
  /** DE's copy of the follow-up (the supplier's). */
  readonly deId: string;
  readonly supplied: Record<string, unknown>;
}

/** A follow-up from NL that DE's approver grants with these conditions; waits until NL has the answer. */
async function granted(conditions: unknown[], caseReference: string, supplied: Record<string, unknown> = { person: { surname: 'Muster', firstNames: 'Max', birthDate: '1980-01-01' }, note: caseReference }): Promise<Granted> {
  const asked = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', {
    searchId,
    state: 'DE',
    requestedReference: DE_CAR.vin,
    legalBasis: 'Prüm Decision Art. 12; Art. 552i Sv',
    facts: 'A robbery in Utrecht; the car was seen leaving.',
    offence: { category: 'organised-armed-robbery' },
    purpose: `Identify the driver in case ${caseReference}`,
    caseReference,
  });
  expect(asked.statusCode, asked.body).toBe(202);
  const nl = asked.json() as FollowUpView;
  const de = await waitFor(
    async () => ((await call(DE, deApprover.token, 'GET', '/v1/follow-ups?direction=incoming')).json() as { followUps: FollowUpView[] }).followUps.find((x) => x.requestMessageId === nl.requestMessageId),
    (x) => x !== undefined,
    30_000,
  );
  const g = await call(DE, deApprover.token, 'POST', `/v1/follow-ups/${de!.id}/decision`, { decision: 'grant', legalBasis: '§ 27 BKAG', supplied, conditions });
  expect(g.statusCode, g.body).toBe(200);
  await waitFor(async () => (await call(NL, NL.officer.token, 'GET', `/v1/follow-ups/${nl.id}`)).json() as FollowUpView, (x) => x.status === 'granted', 30_000);
  return { id: nl.id, deId: de!.id, supplied };
}

async function use(id: string, body: Record<string, unknown>, token = NL.officer.token) {
  return call(NL, token, 'POST', `/v1/received-data/${id}/uses`, body);
}

async function records(n: FedNode, action: string) {
  return n.t.node.db.selectFrom('records').selectAll().where('action', '=', action).orderBy('id').execute();
}

/** Every row of the tables that could hold received data, as text (to prove that erased data are nowhere). */
async function everythingAt(n: FedNode): Promise<string> {
  const db = n.t.node.db;
  const tables = await Promise.all([
    db.selectFrom('follow_ups').selectAll().execute(),
    db.selectFrom('follow_up_inbox').selectAll().execute(),
    db.selectFrom('federation_targets').selectAll().execute(),
    db.selectFrom('received_items').selectAll().execute(),
    db.selectFrom('safeguard_inbox').selectAll().execute(),
    db.selectFrom('received_data_uses').selectAll().execute(),
    db.selectFrom('safeguard_consents').selectAll().execute(),
  ]);
  return JSON.stringify(tables);
}

const problem = (r: { statusCode: number; json(): unknown }) => [r.statusCode, (r.json() as { code?: string }).code];

describe('purpose binding (FD 2008/977 Arts. 3, 11; Prüm Decision Art. 26)', () => {
  it('the same case works; another purpose only on a ground of Art. 11 with its justification; every use and refusal recorded; conditions shown with every read', async () => {
    const RESTRICTION = 'Not to be used as evidence in court without the consent of the Staatsanwaltschaft Berlin';
    const item = await granted([{ type: 'national-restriction', text: RESTRICTION }, { type: 'review-by', date: '2099-01-31' }, { type: 'delete-by', date: '2099-12-31' }], 'NL-OM-100');

    // The follow-up view no longer hands out the data: only the purpose check does.
    const view = (await call(NL, NL.officer.token, 'GET', `/v1/follow-ups/${item.id}`)).json() as FollowUpView;
    expect(view.decision).toMatchObject({ supplied: null, useAt: `POST /v1/received-data/${item.id}/uses` });
    expect(JSON.stringify(view)).not.toContain('Muster');

    // The list and the item say what governs the data, never the data.
    const list = (await call(NL, nlSupervisor.token, 'GET', '/v1/received-data?state=DE')).json() as { items: Array<{ id: string; restrictions: string[]; source: string }> };
    const listed = list.items.find((i) => i.id === item.id)!;
    expect(listed).toMatchObject({ source: 'follow-up', restrictions: [RESTRICTION] });
    expect(JSON.stringify(list)).not.toContain('Muster');

    // Same purpose: the case it was supplied for.
    const ok = await use(item.id, { purpose: 'Identify the driver', caseReference: 'NL-OM-100', ground: 'same-purpose' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({
      data: item.supplied,
      status: 'active',
      supplyingState: 'DE',
      restrictions: [RESTRICTION],
      deleteBy: '2099-12-31',
      use: { ground: 'same-purpose', caseReference: 'NL-OM-100', legalBasis: 'FD 2008/977 Art. 3(1); Prüm Decision Art. 26' },
    });
    expect((ok.json() as { notices: string[] }).notices).toEqual(expect.arrayContaining([`Restriction of DE (FD 2008/977 Art. 12): ${RESTRICTION}`, 'Delete by 2099-12-31 (condition of DE)']));

    // Another case is another purpose: refused without a ground, and recorded.
    const other = await use(item.id, { purpose: 'Burglaries in Leiden', caseReference: 'NL-OM-200', ground: 'same-purpose' });
    expect(problem(other)).toEqual([403, 'received-data-purpose-refused']);
    const bare = await use(item.id, { purpose: 'Burglaries in Leiden', caseReference: 'NL-OM-200', ground: 'other-offences' });
    expect(problem(bare)).toEqual([400, 'safeguards-invalid']);
    const a = await use(item.id, { purpose: 'Burglaries in Leiden', caseReference: 'NL-OM-200', ground: 'other-offences', justification: 'The same driver is suspected of a series of burglaries in Leiden; the identity is needed to compare' });
    expect(a.statusCode, a.body).toBe(200);
    expect(a.json()).toMatchObject({ use: { ground: 'other-offences', legalBasis: 'FD 2008/977 Art. 11(a)' }, restrictions: [RESTRICTION] });
    const c = await use(item.id, { purpose: 'Prevent an attack announced for tomorrow', caseReference: 'NL-OM-201', ground: 'public-security-threat', justification: 'Threat of an attack on the station tomorrow; the driver is named in the threat' });
    expect(c.json()).toMatchObject({ use: { legalBasis: 'FD 2008/977 Art. 11(c)' } });
    const unconsented = await use(item.id, { purpose: 'Tax inspection', caseReference: 'NL-BD-1', ground: 'consent' });
    expect(problem(unconsented)).toEqual([403, 'received-data-consent-required']);

    // Only officers use data; a supervisor reads what governs them, not the data.
    expect((await use(item.id, { purpose: 'x', caseReference: 'NL-OM-100', ground: 'same-purpose' }, nlSupervisor.token)).statusCode).toBe(403);
    expect((await call(NL, nlSupervisor.token, 'GET', `/v1/received-data/${item.id}`)).json()).toMatchObject({ id: item.id, uses: expect.any(Array) });

    const recs = (await records(NL, 'received-data.use')).filter((r) => (r.query as { itemId?: string }).itemId === item.id);
    expect(recs.map((r) => [r.outcome, (r.query as { ground?: string }).ground, (r.supplied as { refused?: string } | null)?.refused ?? null])).toEqual([
      ['done', 'same-purpose', null],
      ['refused', 'same-purpose', 'received-data-purpose-refused'],
      ['refused', 'other-offences', 'safeguards-invalid'],
      ['done', 'other-offences', null],
      ['done', 'public-security-threat', null],
      ['refused', 'consent', 'received-data-consent-required'],
    ]);
    expect(recs.every((r) => r.officer_id === NL.officer.officerId && r.administering_body === 'DE NCP')).toBe(true);
    expect((await records(NL, 'access.refused')).some((r) => r.officer_id === nlSupervisor.officerId)).toBe(true);
  }, 120_000);

  it('another purpose with the consent of the supplying state (a signed request its approver decides) or of the data subject', async () => {
    const item = await granted([], 'NL-OM-300');
    const purpose = 'Administrative fine for the car owner';
    const ask = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/consents`, { scope: 'further-processing', purpose, caseReference: 'NL-ADM-1', reason: 'The municipality needs the holder for a fine' });
    expect(ask.statusCode, ask.body).toBe(202);
    const consent = ask.json() as { id: string; status: string; reference: string };
    expect(consent.status).toBe('pending');
    // Not before the consent is on record.
    expect(problem(await use(item.id, { purpose, caseReference: 'NL-ADM-1', ground: 'consent', consentId: consent.id }))).toEqual([403, 'received-data-consent-required']);

    // DE's approver sees the request (an officer of DE does not) and grants it.
    const incoming = await waitFor(
      async () => ((await call(DE, deApprover.token, 'GET', '/v1/consents?direction=incoming')).json() as { consents: Array<{ id: string; reference: string; status: string; purpose: string; askingState: string }> }).consents.find((x) => x.reference === consent.reference),
      (x) => x !== undefined,
      30_000,
    );
    expect(incoming).toMatchObject({ status: 'open', purpose, askingState: 'NL' });
    expect((await call(DE, DE.officer.token, 'POST', `/v1/consents/${incoming!.id}/decision`, { decision: 'grant', reason: 'x' })).statusCode).toBe(403);
    const decided = await call(DE, deApprover.token, 'POST', `/v1/consents/${incoming!.id}/decision`, { decision: 'grant', reason: 'Allowed under § 25 BKAG' });
    expect(decided.statusCode, decided.body).toBe(200);
    expect(problem(await call(DE, deApprover.token, 'POST', `/v1/consents/${incoming!.id}/decision`, { decision: 'refuse', reason: 'changed my mind' }))).toEqual([409, 'consent-decided']);
    await waitFor(async () => (await call(NL, NL.officer.token, 'GET', `/v1/consents/${consent.id}`)).json() as { status: string }, (x) => x.status === 'granted', 30_000);

    const used = await use(item.id, { purpose, caseReference: 'NL-ADM-1', ground: 'consent', consentId: consent.id });
    expect(used.statusCode, used.body).toBe(200);
    expect(used.json()).toMatchObject({ data: item.supplied, use: { ground: 'consent', consentId: consent.id } });
    // The consent covers its purpose and case, nothing else.
    expect(problem(await use(item.id, { purpose, caseReference: 'NL-ADM-2', ground: 'consent', consentId: consent.id }))).toEqual([403, 'received-data-consent-required']);

    // A refusal is on record too and leaves the use refused.
    const ask2 = (await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/consents`, { scope: 'further-processing', purpose: 'Journalism', caseReference: 'NL-PR-1', reason: 'Press office' })).json() as { id: string; reference: string };
    const in2 = await waitFor(
      async () => ((await call(DE, deApprover.token, 'GET', '/v1/consents?direction=incoming')).json() as { consents: Array<{ id: string; reference: string }> }).consents.find((x) => x.reference === ask2.reference),
      (x) => x !== undefined,
      30_000,
    );
    await call(DE, deApprover.token, 'POST', `/v1/consents/${in2!.id}/decision`, { decision: 'refuse', reason: 'Not a purpose of police cooperation' });
    await waitFor(async () => (await call(NL, NL.officer.token, 'GET', `/v1/consents/${ask2.id}`)).json() as { status: string }, (x) => x.status === 'refused', 30_000);
    expect(problem(await use(item.id, { purpose: 'Journalism', caseReference: 'NL-PR-1', ground: 'consent', consentId: ask2.id }))).toEqual([403, 'received-data-consent-required']);

    // The data subject's consent, recorded with its evidence.
    const ds = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/subject-consents`, { purpose: 'Insurance claim of the data subject', caseReference: 'NL-CIV-9', evidence: 'Signed statement of 3 March, file NL-CIV-9/12' });
    expect(ds.statusCode, ds.body).toBe(201);
    const dsUse = await use(item.id, { purpose: 'Insurance claim of the data subject', caseReference: 'NL-CIV-9', ground: 'consent', consentId: (ds.json() as { id: string }).id });
    expect(dsUse.statusCode, dsUse.body).toBe(200);

    // Recorded on both sides.
    expect((await records(NL, 'consent.request')).filter((r) => r.direction === 'outgoing').length).toBeGreaterThanOrEqual(2);
    expect((await records(DE, 'consent.request')).filter((r) => r.direction === 'incoming' && r.searching_body === 'NL NCP').length).toBeGreaterThanOrEqual(2);
    expect((await records(DE, 'consent.decision')).map((r) => r.outcome)).toEqual(expect.arrayContaining(['done', 'refused']));
    expect((await records(NL, 'consent.answer')).map((r) => r.outcome)).toEqual(expect.arrayContaining(['done', 'refused']));
    expect((await records(NL, 'consent.data-subject')).length).toBe(1);
  }, 120_000);

  it("the supplier's case binds whatever the ground; data of an automated search serve only the search's procedure (Prüm Decision Art. 26)", async () => {
    const item = await granted([{ type: 'use-only-in-case', caseReference: 'NL-OM-400' }], 'NL-OM-400');
    expect((await use(item.id, { purpose: 'Identify', caseReference: 'NL-OM-400', ground: 'same-purpose' })).statusCode).toBe(200);
    const justification = 'Linked robbery series; the identity is needed to compare';
    expect(problem(await use(item.id, { purpose: 'Other robbery', caseReference: 'NL-OM-401', ground: 'other-offences', justification }))).toEqual([403, 'received-data-case-restricted']);
    const ds = (await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/subject-consents`, { purpose: 'Other robbery', caseReference: 'NL-OM-401', evidence: 'Statement' })).json() as { id: string };
    expect(problem(await use(item.id, { purpose: 'Other robbery', caseReference: 'NL-OM-401', ground: 'consent', consentId: ds.id }))).toEqual([403, 'received-data-case-restricted']);

    // The vehicle (and its holder) in DE's answer to NL's search.
    const search = (await call(NL, NL.officer.token, 'GET', `/v1/federation/searches/${searchId}`)).json() as { reference: string };
    const items = ((await call(NL, NL.officer.token, 'GET', '/v1/received-data')).json() as { items: Array<{ id: string; source: string; reference: string; legalBasis: string }> }).items;
    const answer = items.find((i) => i.source === 'search-answer' && i.reference === search.reference)!;
    expect(answer.legalBasis).toBe('Prüm Decision Arts. 12, 26(3)');
    // Another officer cannot claim the search's procedure; its officer names the case once.
    expect(problem(await use(answer.id, { purpose: 'Robbery', caseReference: 'NL-OM-100', ground: 'same-purpose' }, nlOfficer2.token))).toEqual([403, 'received-data-purpose-refused']);
    const own = await use(answer.id, { purpose: 'Robbery', caseReference: 'NL-OM-100', ground: 'same-purpose' });
    expect(own.statusCode, own.body).toBe(200);
    expect((own.json() as { data: { vehicles: VehicleRow[] } }).data.vehicles[0]!.holder).toEqual(DE_CAR.holder);
    expect((await use(answer.id, { purpose: 'Robbery', caseReference: 'NL-OM-100', ground: 'same-purpose' }, nlOfficer2.token)).statusCode).toBe(200);
    // FD 2008/977 Art. 11(a)-(c) do not open search data to other purposes: Prüm Decision Art. 26(1) wants DE's authorisation.
    expect(problem(await use(answer.id, { purpose: 'Other', caseReference: 'NL-OM-999', ground: 'other-offences', justification }))).toEqual([403, 'received-data-consent-required']);
  }, 120_000);
});

describe('onward transfer (FD 2008/977 Arts. 13, 14)', () => {
  const THIRD = { type: 'third-state', name: 'Federal Bureau of Investigation', country: 'US' };
  const adequacy = { basis: 'adequate-safeguards', statement: 'EU-US Umbrella Agreement' };

  it('"no onward transfer" refuses every transfer, even in an emergency, and every request for consent to one', async () => {
    const item = await granted([{ type: 'no-onward-transfer' }], 'NL-OM-500');
    const t = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, { recipient: THIRD, purpose: 'Stop an attack', caseReference: 'NL-OM-500', ground: 'immediate-threat', necessity: 'Attack planned', recipientCompetent: true, adequacy, threat: 'An attack in New York tomorrow' });
    expect(problem(t)).toEqual([403, 'received-data-transfer-refused']);
    const c = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/consents`, { scope: 'onward-transfer', purpose: 'Stop an attack', caseReference: 'NL-OM-500', reason: 'x', recipient: THIRD });
    expect(problem(c)).toEqual([403, 'received-data-transfer-refused']);
    expect((await records(NL, 'received-data.transfer')).filter((r) => (r.query as { itemId?: string }).itemId === item.id).map((r) => r.outcome)).toEqual(['refused']);
  }, 120_000);

  it("to a third state with the supplier's consent; without it only in an immediate threat, the supplier informed at once; to a private party with the purpose stated", async () => {
    const item = await granted([], 'NL-OM-600');
    const body = { recipient: THIRD, purpose: 'Joint investigation of the robbery gang', caseReference: 'NL-OM-600', ground: 'consent', necessity: 'The gang operates in the US too', recipientCompetent: true, adequacy };
    expect(problem(await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, body))).toEqual([403, 'received-data-consent-required']);
    expect(problem(await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, { ...body, recipientCompetent: false }))).toEqual([403, 'received-data-transfer-refused']);

    // Ask DE, which grants.
    const ask = (await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/consents`, { scope: 'onward-transfer', purpose: body.purpose, caseReference: 'NL-OM-600', reason: 'FBI asks for the driver', recipient: THIRD })).json() as { id: string; reference: string };
    const incoming = await waitFor(
      async () => ((await call(DE, deApprover.token, 'GET', '/v1/consents?direction=incoming&status=open')).json() as { consents: Array<{ id: string; reference: string; scope: string; recipient: unknown }> }).consents.find((x) => x.reference === ask.reference),
      (x) => x !== undefined,
      30_000,
    );
    expect(incoming).toMatchObject({ scope: 'onward-transfer', recipient: THIRD });
    await call(DE, deApprover.token, 'POST', `/v1/consents/${incoming!.id}/decision`, { decision: 'grant', reason: 'Agreed with the BKA liaison officer' });
    await waitFor(async () => (await call(NL, NL.officer.token, 'GET', `/v1/consents/${ask.id}`)).json() as { status: string }, (x) => x.status === 'granted', 30_000);
    const done = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, { ...body, consentId: ask.id });
    expect(done.statusCode, done.body).toBe(201);
    expect(done.json()).toMatchObject({ transfer: { ground: 'consent', consentId: ask.id, legalBasis: 'FD 2008/977 Art. 13(1)', supplierInformed: null }, package: { data: item.supplied } });
    // The consent names its recipient: not another.
    expect(problem(await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, { ...body, consentId: ask.id, recipient: { type: 'third-state', name: 'Royal Canadian Mounted Police', country: 'CA' } }))).toEqual([403, 'received-data-consent-required']);
    const rec = (await records(NL, 'received-data.transfer')).find((r) => r.id === (done.json() as { transfer: { recordId: number } }).transfer.recordId)!;
    expect(rec).toMatchObject({ direction: 'outgoing', searching_body: 'Federal Bureau of Investigation (US)', outcome: 'done' });
    expect((rec.supplied as { data: unknown }).data).toEqual(item.supplied);

    // An immediate and serious threat: without prior consent, DE informed at once by a signed message.
    const urgent = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, {
      recipient: { type: 'international-body', name: 'INTERPOL General Secretariat' },
      purpose: 'Locate the driver before the planned attack',
      caseReference: 'NL-OM-600',
      ground: 'immediate-threat',
      necessity: 'Red notice needed today',
      recipientCompetent: true,
      adequacy: { basis: 'prevailing-public-interest', statement: 'Life at risk' },
      threat: 'The driver announced an attack for tonight; DE could not be reached in time',
    });
    expect(urgent.statusCode, urgent.body).toBe(201);
    const informed = (urgent.json() as { transfer: { supplierInformed: { messageId: string } } }).transfer.supplierInformed;
    expect(informed.messageId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => records(DE, 'onward-transfer.notice'), (rows) => rows.some((r) => r.request_id === informed.messageId));
    const notices = (await call(DE, deApprover.token, 'GET', '/v1/supplied-data/transfer-notices')).json() as { notices: Array<{ messageId: string; recipient: { name: string }; from: string }> };
    expect(notices.notices.find((n) => n.messageId === informed.messageId)).toMatchObject({ from: 'NL', recipient: { name: 'INTERPOL General Secretariat' } });

    // Private parties: never in an emergency; with consent, the purposes are stated to the recipient.
    const PRIVATE = { type: 'private-party', name: 'Allianz Versicherungs-AG' };
    const privateBody = { recipient: PRIVATE, purpose: 'Recover the stolen car', caseReference: 'NL-OM-600', necessity: 'The insurer recovers stolen cars', privatePartyTask: 'serious-harm-to-rights', dataSubjectInterests: 'The holder asked for the recovery' };
    expect(problem(await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, { ...privateBody, ground: 'immediate-threat', threat: 'The car is about to be exported' }))).toEqual([403, 'received-data-transfer-refused']);
    const ask2 = (await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/consents`, { scope: 'onward-transfer', purpose: privateBody.purpose, caseReference: 'NL-OM-600', reason: 'Recovery', recipient: PRIVATE })).json() as { id: string; reference: string };
    const in2 = await waitFor(
      async () => ((await call(DE, deApprover.token, 'GET', '/v1/consents?direction=incoming&status=open')).json() as { consents: Array<{ id: string; reference: string }> }).consents.find((x) => x.reference === ask2.reference),
      (x) => x !== undefined,
      30_000,
    );
    await call(DE, deApprover.token, 'POST', `/v1/consents/${in2!.id}/decision`, { decision: 'grant', reason: 'Fine' });
    await waitFor(async () => (await call(NL, NL.officer.token, 'GET', `/v1/consents/${ask2.id}`)).json() as { status: string }, (x) => x.status === 'granted', 30_000);
    const priv = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/transfers`, { ...privateBody, ground: 'consent', consentId: ask2.id });
    expect(priv.statusCode, priv.body).toBe(201);
    expect((priv.json() as { package: { purposeStatement: string } }).package.purposeStatement).toContain('may be used exclusively for: Recover the stolen car (FD 2008/977 Art. 14(2))');

    // The item lists its transfers.
    const got = (await call(NL, NL.officer.token, 'GET', `/v1/received-data/${item.id}`)).json() as { transfers: Array<{ ground: string }> };
    expect(got.transfers.map((t) => t.ground)).toEqual(['consent', 'immediate-threat', 'consent']);
  }, 120_000);
});

describe('deadlines, deletion and blocking (FD 2008/977 Arts. 4, 5, 9; Prüm Decision Arts. 14(2), 28(3))', () => {
  it("the supplier's delete-by erases the data at the receiver (blocked instead where erasure harms the data subject) and the supplier's own copy", async () => {
    const deleteBy = day(2);
    const plain = await granted([{ type: 'delete-by', date: deleteBy }], 'NL-OM-800', { person: { surname: 'Eraseme' } });
    const kept = await granted([{ type: 'delete-by', date: deleteBy }], 'NL-OM-801', { person: { surname: 'Blockme' } });
    const b = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${kept.id}/block-instead-of-erasure`, { purpose: 'Defence of the data subject in appeal NL-HR-5', reason: 'The data prove the data subject was abroad' });
    expect(b.statusCode, b.body).toBe(200);

    const nlAt = (offsetDays: number) => safeguardsContext(NL.t.node, () => new Date(Date.now() + offsetDays * DAY));
    const before = await runDeadlines(nlAt(1));
    expect(before.ended.filter((x) => x.itemId === plain.id || x.itemId === kept.id)).toEqual([]);
    const after = await runDeadlines(nlAt(2.5));
    expect(after.ended.filter((x) => x.itemId === plain.id || x.itemId === kept.id).map((x) => [x.itemId, x.outcome, x.trigger])).toEqual([
      [plain.id, 'erased', 'delete-by'],
      [kept.id, 'blocked', 'delete-by'],
    ]);
    // Gone from every table (the record of the receipt keeps its copy for the data-protection authority).
    const all = await everythingAt(NL);
    expect(all).not.toContain('Eraseme');
    const row = await NL.t.node.db.selectFrom('follow_ups').selectAll().where('id', '=', plain.id).executeTakeFirstOrThrow();
    expect([row.supplied, row.answer_body, row.answer_jws]).toEqual([null, null, null]);
    const inbox = await NL.t.node.db.selectFrom('follow_up_inbox').select(['body', 'jws']).where('follow_up_id', '=', plain.id).where('type', '=', 'follow-up-answer').execute();
    expect(inbox).toEqual([{ body: '', jws: '' }]);
    expect(problem(await use(plain.id, { purpose: 'Identify', caseReference: 'NL-OM-800', ground: 'same-purpose' }))).toEqual([410, 'received-data-erased']);

    // Blocked: out of every ordinary place, usable only for the purpose that prevented erasure.
    expect((await NL.t.node.db.selectFrom('follow_ups').select('supplied').where('id', '=', kept.id).executeTakeFirstOrThrow()).supplied).toBeNull();
    expect(problem(await use(kept.id, { purpose: 'Identify', caseReference: 'NL-OM-801', ground: 'same-purpose' }))).toEqual([403, 'received-data-blocked']);
    const blocked = await use(kept.id, { purpose: 'Defence of the data subject in appeal NL-HR-5', caseReference: 'NL-HR-5', ground: 'blocked-purpose' });
    expect(blocked.statusCode, blocked.body).toBe(200);
    expect(blocked.json()).toMatchObject({ status: 'blocked', data: kept.supplied, blocked: { purpose: 'Defence of the data subject in appeal NL-HR-5' } });
    expect((await records(NL, 'received-data.erasure')).some((r) => (r.query as { itemId?: string }).itemId === plain.id)).toBe(true);
    expect((await records(NL, 'received-data.blocking')).some((r) => (r.query as { itemId?: string }).itemId === kept.id)).toBe(true);

    // The supplier erases its own copies after the date it set.
    const de = await runDeadlines(safeguardsContext(DE.t.node, () => new Date(Date.now() + 2.5 * DAY)));
    expect(de.suppliedCopiesErased).toBeGreaterThanOrEqual(2);
    expect((await DE.t.node.db.selectFrom('follow_ups').select('supplied').where('id', '=', plain.deId).executeTakeFirstOrThrow()).supplied).toBeNull();
    const deDelivery = await DE.t.node.db.selectFrom('follow_up_deliveries').select(['payload', 'sent_body']).where('follow_up_id', '=', plain.deId).where('type', '=', 'follow-up-answer').executeTakeFirstOrThrow();
    expect(JSON.stringify(deDelivery)).not.toContain('Eraseme');
  }, 120_000);

  it('closing the cases erases data no longer needed; reviews come due as tasks for officers', async () => {
    const one = await granted([], 'NL-OM-900', { person: { surname: 'Closedcase' } });
    const two = await granted([{ type: 'review-by', date: day(3) }, { type: 'delete-by', date: '2099-12-31' }], 'NL-OM-901', { person: { surname: 'Twocases' } });
    const justification = 'The same person is suspected in the related fraud case';
    expect((await use(two.id, { purpose: 'Fraud', caseReference: 'NL-OM-902', ground: 'other-offences', justification })).statusCode).toBe(200);

    const closed = await call(NL, NL.officer.token, 'POST', '/v1/cases/NL-OM-900/close', { reason: 'Suspect convicted; case closed' });
    expect(closed.statusCode, closed.body).toBe(200);
    expect((closed.json() as { ended: Array<{ itemId: string; outcome: string }> }).ended).toEqual([expect.objectContaining({ itemId: one.id, outcome: 'erased', trigger: 'case-closed' })]);
    expect(await everythingAt(NL)).not.toContain('Closedcase');
    expect(problem(await call(NL, NL.officer.token, 'POST', '/v1/cases/NL-OM-900/close', { reason: 'again' }))).toEqual([409, 'conflict']);
    // Still needed in the other case it is used in.
    await call(NL, NL.officer.token, 'POST', '/v1/cases/NL-OM-901/close', { reason: 'Done' });
    expect(await everythingAt(NL)).toContain('Twocases');
    const last = (await call(NL, NL.officer.token, 'POST', '/v1/cases/NL-OM-902/close', { reason: 'Fraud case closed' })).json() as { ended: Array<{ itemId: string }> };
    expect(last.ended.map((x) => x.itemId)).toEqual([two.id]);
    expect(await everythingAt(NL)).not.toContain('Twocases');

    // A review date of the supplier: a task for the officers when it comes.
    const rev = await granted([{ type: 'review-by', date: day(3) }, { type: 'delete-by', date: '2099-12-31' }], 'NL-OM-910', { person: { surname: 'Reviewme' } });
    const r1 = await runDeadlines(safeguardsContext(NL.t.node, () => new Date(Date.now() + 3.5 * DAY)));
    expect(r1.reviewsOpened).toBeGreaterThanOrEqual(1);
    const tasks = (await call(NL, NL.officer.token, 'GET', '/v1/received-data/reviews')).json() as { reviews: Array<{ id: number; item: { id: string } }> };
    const task = tasks.reviews.find((t) => t.item.id === rev.id)!;
    expect(task).toBeDefined();
    const keep = await call(NL, NL.officer.token, 'POST', `/v1/received-data/reviews/${task.id}/decision`, { decision: 'keep', reason: 'Trial pending', nextReview: day(200) });
    expect(keep.statusCode, keep.body).toBe(200);
    expect((await NL.t.node.db.selectFrom('received_items').select('review_due').where('id', '=', rev.id).executeTakeFirstOrThrow()).review_due).toBe(day(200));
    const r2 = await runDeadlines(safeguardsContext(NL.t.node, () => new Date(Date.now() + 201 * DAY)));
    expect(r2.reviewsOpened).toBeGreaterThanOrEqual(1);
    const task2 = ((await call(NL, NL.officer.token, 'GET', '/v1/received-data/reviews')).json() as { reviews: Array<{ id: number; item: { id: string } }> }).reviews.find((t) => t.item.id === rev.id)!;
    const erase = await call(NL, NL.officer.token, 'POST', `/v1/received-data/reviews/${task2.id}/decision`, { decision: 'erase', reason: 'Trial over' });
    expect(erase.statusCode, erase.body).toBe(200);
    expect(await everythingAt(NL)).not.toContain('Reviewme');
  }, 120_000);

  it('data supplied for a major event: only its purposes, never blocked, deleted one year after receipt at the latest (Prüm Decision Art. 14(2))', async () => {
    const item = await granted([{ type: 'major-event', event: 'UEFA Euro 2028 final, London' }], 'NL-EVT-1', { person: { surname: 'Hooligan' } });
    expect((await use(item.id, { purpose: 'Stewarding at the final', caseReference: 'NL-EVT-1', ground: 'same-purpose' })).statusCode).toBe(200);
    const justification = 'The same person is suspected of a burglary in Utrecht';
    expect(problem(await use(item.id, { purpose: 'Burglary', caseReference: 'NL-OM-1000', ground: 'other-offences', justification }))).toEqual([403, 'received-data-purpose-refused']);
    expect(problem(await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/block-instead-of-erasure`, { purpose: 'x', reason: 'y' }))).toEqual([409, 'conflict']);
    const early = await runDeadlines(safeguardsContext(NL.t.node, () => new Date(Date.now() + 300 * DAY)));
    expect(early.ended.some((x) => x.itemId === item.id)).toBe(false);
    const late = await runDeadlines(safeguardsContext(NL.t.node, () => new Date(Date.now() + 366 * DAY)));
    expect(late.ended.filter((x) => x.itemId === item.id).map((x) => [x.outcome, x.trigger])).toEqual([['erased', 'major-event']]);
    expect(await everythingAt(NL)).not.toContain('Hooligan');
  }, 120_000);
});

// Last: erasing the vehicle as wrongly supplied ends NL's hit, on which the follow-ups above hang.
describe('accuracy (Prüm Decision Art. 28(1), (2); FD 2008/977 Art. 8(2))', () => {
  it('a follow-up answer rectified by its supplier is corrected at the receiver, the old data gone; a contested flag travels and shows with every read', async () => {
    const item = await granted([{ type: 'delete-by', date: '2099-12-31' }], 'NL-OM-700', { person: { surname: 'Wrongname', firstNames: 'Max' } });
    expect((await use(item.id, { purpose: 'Identify', caseReference: 'NL-OM-700', ground: 'same-purpose' })).json()).toMatchObject({ data: { person: { surname: 'Wrongname' } } });
    const corrected = { person: { surname: 'Rightname', firstNames: 'Max' } };
    const r = await call(DE, deApprover.token, 'POST', '/v1/supplied-data/corrections', { subject: { type: 'follow-up', followUpId: item.deId }, action: 'rectify', corrected, reason: 'Typing error in the surname' });
    expect(r.statusCode, r.body).toBe(202);
    expect((r.json() as { recipients: Array<{ state: string }> }).recipients.map((x) => x.state)).toEqual(['NL']);
    await waitFor(async () => (await use(item.id, { purpose: 'Identify', caseReference: 'NL-OM-700', ground: 'same-purpose' })).json() as { data: unknown }, (x) => (x.data as { person?: { surname?: string } }).person?.surname === 'Rightname', 30_000);
    // The wrong data are nowhere at NL (the record of the receipt keeps its copy, Prüm Decision Art. 30(4)).
    expect(await everythingAt(NL)).not.toContain('Wrongname');
    expect((await DE.t.node.db.selectFrom('follow_ups').select('supplied').where('id', '=', item.deId).executeTakeFirstOrThrow()).supplied).toEqual(corrected);
    expect((await records(NL, 'supplied-data.correction')).some((x) => (x.supplied as { note?: string }).note === 'rectified')).toBe(true);

    // The data subject contests them at DE: NL flags them; every read shows it.
    await call(DE, deApprover.token, 'POST', '/v1/supplied-data/corrections', { subject: { type: 'follow-up', followUpId: item.deId }, action: 'flag-contested', reason: 'The data subject contests the date of birth; not established' });
    const flagged = await waitFor(async () => (await use(item.id, { purpose: 'Identify', caseReference: 'NL-OM-700', ground: 'same-purpose' })).json() as { contested: unknown; notices: string[] }, (x) => x.contested !== null, 30_000);
    expect(flagged.contested).toMatchObject({ source: 'supplier' });
    expect(flagged.notices.some((n) => n.startsWith('CONTESTED'))).toBe(true);
    // A flag is lifted only with the data subject's permission or a decision of a court or the authority.
    expect(problem(await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/contest`, { contested: false, note: 'Looks fine to me', basis: 'my opinion' }))).toEqual([400, 'safeguards-invalid']);
    const lifted = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/contest`, { contested: false, note: 'Accuracy established', basis: 'Decision of the Autoriteit Persoonsgegevens z2026-77' });
    expect(lifted.statusCode, lifted.body).toBe(200);
    expect(lifted.json()).toMatchObject({ contested: null });
    const local = await call(NL, NL.officer.token, 'POST', `/v1/received-data/${item.id}/contest`, { contested: true, note: 'The data subject contests the surname at NL' });
    expect(local.json()).toMatchObject({ contested: { source: 'local' } });
  }, 120_000);

  it('a vehicle rectified in the register reaches every state that received it, one of them down at the time (durable delivery); erased as wrong, it is gone there', async () => {
    const frSearch = await vehicleSearch(FR);
    const nlItems = async () => ((await call(NL, NL.officer.token, 'GET', '/v1/received-data?state=DE')).json() as { items: Array<{ id: string; source: string }> }).items.filter((i) => i.source === 'search-answer');
    expect((await nlItems()).length).toBeGreaterThanOrEqual(1);

    // DE's register is corrected (the address was wrong), then the correction goes out.
    const file = join(dir, 'fixed.jsonl');
    const fixed: VehicleRow = { ...DE_CAR, holder: { ...DE_CAR.holder, address: 'Invalidenstraße 3, 10115 Berlin' } as VehicleRow['holder'] };
    writeFileSync(file, `${JSON.stringify(fixed)}\n`);
    await importVehicles(DE.t.node.db, file);
    await f.stop('FR');
    const r = await call(DE, deApprover.token, 'POST', '/v1/supplied-data/corrections', { subject: { type: 'vehicle', vin: DE_CAR.vin }, action: 'rectify', reason: 'Wrong address in the register' });
    expect(r.statusCode, r.body).toBe(202);
    const recipients = (r.json() as { recipients: Array<{ state: string; messageId: string }> }).recipients;
    expect([...new Set(recipients.map((x) => x.state))].sort()).toEqual(['FR', 'NL']);
    const frMessage = recipients.find((x) => x.state === 'FR')!.messageId;
    await waitFor(() => DE.t.node.db.selectFrom('safeguard_deliveries').selectAll().where('message_id', '=', frMessage).executeTakeFirstOrThrow(), (d) => d.attempts >= 2 && d.status === 'pending', 30_000);
    await f.start('FR');
    await waitFor(() => DE.t.node.db.selectFrom('safeguard_deliveries').selectAll().where('message_id', '=', frMessage).executeTakeFirstOrThrow(), (d) => d.status === 'delivered', 60_000);
    const frTarget = async () => FR.t.node.db.selectFrom('federation_targets').selectAll().where('search_id', '=', frSearch).executeTakeFirstOrThrow();
    expect(JSON.stringify((await frTarget()).result)).toContain('Invalidenstraße 3');
    expect(JSON.stringify(await frTarget())).not.toContain('Torstraße 1');
    await waitFor(() => everythingAt(NL), (s) => !s.includes('Torstraße 1'), 30_000);
    // FR's officer reads the corrected vehicle through the purpose check, with the note.
    const frItem = ((await call(FR, FR.officer.token, 'GET', '/v1/received-data')).json() as { items: Array<{ id: string }> }).items[0]!;
    const frUse = (await call(FR, FR.officer.token, 'POST', `/v1/received-data/${frItem.id}/uses`, { purpose: 'Robbery', caseReference: 'FR-PJ-1', ground: 'same-purpose' })).json() as { data: { vehicles: VehicleRow[] }; corrected: unknown };
    expect(frUse.data.vehicles[0]!.holder).toEqual(fixed.holder);
    expect(frUse.corrected).not.toBeNull();

    // Supplied although it should not have been: erased at every recipient.
    const e = await call(DE, deApprover.token, 'POST', '/v1/supplied-data/corrections', { subject: { type: 'vehicle', vin: DE_CAR.vin }, action: 'erase', reason: 'The holder is under witness protection: must not be supplied' });
    expect(e.statusCode).toBe(202);
    await waitFor(frTarget, (t) => t.result === null && t.answer_body === null, 30_000);
    expect(await everythingAt(FR)).not.toContain('Vogelsang');
    expect(problem(await call(FR, FR.officer.token, 'POST', `/v1/received-data/${frItem.id}/uses`, { purpose: 'Robbery', caseReference: 'FR-PJ-1', ground: 'same-purpose' }))).toEqual([410, 'received-data-erased']);
    const frSearchView = (await call(FR, FR.officer.token, 'GET', `/v1/federation/searches/${frSearch}`)).json() as { targets: Array<{ result: unknown }> };
    expect(frSearchView.targets[0]!.result).toBeNull();
  }, 180_000);
});
