/**
 * Data subjects' rights and supervisors' orders (Prüm Decision Arts. 28, 30, 31; FD 2008/977 Arts.
 * 17, 18, 25) between two nodes over mutual TLS: DE supplies a vehicle holder's data to NL (automated
 * search, then a follow-up with personal data); the person asks DE and NL what they hold. Access lists
 * the data with origin and recipients; a refusal is written with where to appeal; an overdue request
 * shows; a supervisor's blocking order takes data out of every search and leaves one purpose; erasure
 * is real (table and memory).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditExportFile } from '../../src/audit/export-format.ts';
import { openExport } from '../../src/audit/export.ts';
import { verifyAuditExport } from '../../src/audit/export-verify.ts';
import { sealLog } from '../../src/audit/sequencer.ts';
import { inclusionOf } from '../../src/dna/profile.ts';
import { randomProfiles } from '../../src/dna/test-helpers.ts';
import type { HeldItem } from '../../src/rights/holdings.ts';
import type { SubjectRequestView } from '../../src/rights/requests.ts';
import { writeVehicleFile } from '../../src/vehicle/generate.ts';
import { importVehicles } from '../../src/vehicle/import.ts';
import type { VehicleRow } from '../../src/vehicle/model.ts';
import { createTestFederation, declaration, waitFor, type FedNode, type TestFederation } from '../federation/support.ts';

const DE_CAR: VehicleRow = {
  registrationNumber: 'B-DS 1975',
  vin: 'WVWZZZ1KZAW197506',
  make: 'Volkswagen',
  model: 'Passat',
  vehicleType: 'passenger car',
  colour: 'grey',
  firstRegistrationDate: '2012-04-01',
  holder: { type: 'natural', surname: 'Schmidt', firstNames: 'Karl', birthDate: '1975-05-06', address: 'Lindenstraße 5, 10969 Berlin' },
};
const KARL = { surname: 'SCHMIDT', firstNames: 'karl', birthDate: '1975-05-06' };

const profiles = randomProfiles(77, 40, 'DE-P-')
  .map((p) => ({ ...p, kind: 'reference' as const }))
  .filter((p) => inclusionOf(p).ok)
  .slice(0, 3);

let f: TestFederation;
let DE: FedNode;
let NL: FedNode;
let dir: string;
const tokens: Record<string, { officerId: number; token: string }> = {};

async function call(n: FedNode, token: string, method: 'GET' | 'POST', url: string, payload?: unknown) {
  return n.api.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}

async function records(n: FedNode, action: string) {
  return n.t.node.db.selectFrom('records').selectAll().where('action', '=', action).orderBy('id').execute();
}

async function vehicleSearch(vin: string): Promise<{ id: string; hit: boolean | null; status: string }> {
  const r = await call(NL, NL.officer.token, 'POST', '/v1/federation/searches', { kind: 'vehicle', targets: ['DE'], query: { vin }, purpose: 'criminal-offences', reason: 'Case 2026/77: car at a robbery', orderedBy: 'Inspector J. de Vries' });
  expect(r.statusCode, r.body).toBe(202);
  const id = (r.json() as { id: string }).id;
  const v = await waitFor(
    async () => (await call(NL, NL.officer.token, 'GET', `/v1/federation/searches/${id}`)).json() as { id: string; complete: boolean; targets: Array<{ hit: boolean | null; status: string }> },
    (x) => x.complete,
    60_000,
  );
  return { id, hit: v.targets[0]!.hit, status: v.targets[0]!.status };
}

async function register(n: FedNode, token: string, body: Record<string, unknown>): Promise<SubjectRequestView> {
  const r = await call(n, token, 'POST', '/v1/subject-requests', {
    identityChecked: 'Identity card shown at the desk',
    details: 'What do you hold about me, where does it come from, and to whom was it given?',
    contact: 'K. Schmidt, Lindenstraße 5, 10969 Berlin',
    ...body,
  });
  expect(r.statusCode, r.body).toBe(201);
  return r.json() as SubjectRequestView;
}

async function holdings(n: FedNode, token: string, id: string): Promise<HeldItem[]> {
  const r = await call(n, token, 'GET', `/v1/subject-requests/${id}/holdings`);
  expect(r.statusCode, r.body).toBe(200);
  return (r.json() as { holdings: { items: HeldItem[] } }).holdings.items;
}

async function decide(n: FedNode, token: string, id: string, body: Record<string, unknown>) {
  return call(n, token, 'POST', `/v1/subject-requests/${id}/decision`, body);
}

beforeAll(async () => {
  f = await createTestFederation({ DE: [DE_CAR], NL: [] });
  DE = f.nodes.DE!;
  NL = f.nodes.NL!;
  dir = mkdtempSync(join(tmpdir(), 'openprum-rights-'));
  // DE's national settings: a 30-day period and its supervisory authority (src/rights/settings.ts).
  writeFileSync(
    join(DE.t.dataDir, 'rights.json'),
    JSON.stringify({ answerDays: 30, supervisoryAuthority: { name: 'Der Bundesbeauftragte für den Datenschutz und die Informationsfreiheit', address: 'Graurheindorfer Str. 153, 53117 Bonn', url: 'https://www.bfdi.bund.de' }, judicialRemedy: 'the Verwaltungsgericht' }),
  );
  const file = join(dir, 'de-dna.jsonl');
  writeFileSync(file, profiles.map((p) => JSON.stringify(p)).join('\n') + '\n');
  await (await DE.t.node.dna()).importFile(file);
  await DE.fed.publishDeclaration(
    declaration({
      files: [{ file: 'vehicle', conditions: 'Full keys only' }],
      capacity: [{ kind: 'vehicle', perDay: 1000 }],
      contactPoint: { name: 'NCP DE' },
    }),
  );
  await NL.fed.refreshDeclarations();
  for (const [n, ref, roles] of [
    [DE, 'approver-DE', ['approver']],
    [DE, 'dpa-DE', ['supervisor']],
    [NL, 'approver-NL', ['approver']],
    [NL, 'dpa-NL', ['supervisor']],
  ] as const) {
    tokens[ref] = await n.t.tokenFor(ref, [...roles]);
  }

  // DE supplies the car and its holder to NL (automated search), then personal data after the hit.
  const search = await vehicleSearch(DE_CAR.vin);
  expect(search.hit).toBe(true);
  const searchId = search.id;
  expect((await call(NL, NL.officer.token, 'POST', `/v1/federation/searches/${searchId}/confirmations`, { state: 'DE', requestedReference: DE_CAR.vin, verdict: 'confirmed', note: 'Plate and VIN checked' })).statusCode).toBe(201);
  const asked = await call(NL, NL.officer.token, 'POST', '/v1/follow-ups', {
    searchId,
    state: 'DE',
    requestedReference: DE_CAR.vin,
    legalBasis: 'Prüm Decision Art. 12; Art. 552i Sv',
    facts: 'The car was seen at a robbery in Utrecht on 3 March 2026.',
    offence: { category: 'organised-armed-robbery' },
    purpose: 'Identify the driver in case NL-OM-2026-77',
    caseReference: 'NL-OM-2026-77',
  });
  expect(asked.statusCode, asked.body).toBe(202);
  const incoming = await waitFor(
    async () => ((await call(DE, tokens['approver-DE']!.token, 'GET', '/v1/follow-ups?direction=incoming')).json() as { followUps: Array<{ id: string; status: string }> }).followUps,
    (xs) => xs.length > 0,
    30_000,
  );
  const granted = await call(DE, tokens['approver-DE']!.token, 'POST', `/v1/follow-ups/${incoming[0]!.id}/decision`, {
    decision: 'grant',
    legalBasis: '§ 27 BKAG',
    supplied: { person: { surname: 'Schmidt', firstNames: 'Karl', birthDate: '1975-05-06', nationality: 'DE' }, vehicle: { vin: DE_CAR.vin } },
    conditions: [{ type: 'no-onward-transfer' }, { type: 'use-only-in-case', caseReference: 'NL-OM-2026-77' }],
  });
  expect(granted.statusCode, granted.body).toBe(200);
  const askedId = (asked.json() as { id: string }).id;
  await waitFor(async () => (await call(NL, NL.officer.token, 'GET', `/v1/follow-ups/${askedId}`)).json() as { status: string }, (x) => x.status === 'granted', 30_000);
}, 240_000);

afterAll(async () => {
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('access (Prüm Decision Art. 31(1); FD 2008/977 Art. 17)', () => {
  it('at the supplying node: the register entry and the follow-up, with their recipient NL; the written answer; all recorded', async () => {
    const approver = tokens['approver-DE']!;
    const req = await register(DE, DE.officer.token, { kind: 'access', subject: KARL });
    expect(req).toMatchObject({ kind: 'access', status: 'open', overdue: false, registeredBy: 'officer-DE', channel: 'direct' });
    expect(Date.parse(req.dueAt) - Date.parse(req.receivedAt)).toBe(30 * 86_400_000);
    expect((await records(DE, 'subject-request.register')).at(-1)).toMatchObject({ officer_id: DE.officer.officerId, outcome: 'done' });

    // An officer registers, but does not read what is held; the approver and the supervisor do.
    expect((await call(DE, DE.officer.token, 'GET', `/v1/subject-requests/${req.id}/holdings`)).statusCode).toBe(403);
    const items = await holdings(DE, approver.token, req.id);
    const car = items.find((i) => i.category === 'vehicle-register')!;
    expect(car).toMatchObject({ id: `vehicle:${DE_CAR.vin}`, origin: 'DE vehicle register', originState: 'DE', legalBasis: 'Prüm Decision Art. 12(1)', matchedBy: ['name'], status: 'held' });
    expect(car.data).toMatchObject({ vin: DE_CAR.vin, holder: { surname: 'Schmidt', address: DE_CAR.holder.address } });
    expect(car.recipients.map((r) => r.body)).toContain('NL NCP');
    const supplied = items.find((i) => i.category === 'follow-up-supplied')!;
    expect(supplied).toMatchObject({ originState: 'DE', origin: 'DE NCP', recipients: [{ body: 'NL NCP' }] });
    expect(supplied.legalBasis).toContain('§ 27 BKAG');
    expect(supplied.conditions).toEqual([{ type: 'no-onward-transfer' }, { type: 'use-only-in-case', caseReference: 'NL-OM-2026-77' }]);
    expect((await records(DE, 'subject-request.compile')).at(-1)).toMatchObject({ officer_id: approver.officerId });

    const d = await decide(DE, approver.token, req.id, { outcome: 'granted', legalBasis: '§ 57 BDSG' });
    expect(d.statusCode, d.body).toBe(200);
    const answered = d.json() as SubjectRequestView;
    expect(answered).toMatchObject({ status: 'granted', late: false, decidedBy: 'approver-DE' });
    const answer = answered.answer as { data: Array<{ item: string; origin: string; recipients: Array<{ recipient: string }>; purpose: string; legalBasis: string }>; text: string; appeal: { text: string } };
    expect(answer.data.map((x) => x.item)).toEqual(expect.arrayContaining([`vehicle:${DE_CAR.vin}`, supplied.id]));
    expect(answer.data.find((x) => x.item === car.id)).toMatchObject({ origin: 'DE vehicle register', legalBasis: 'Prüm Decision Art. 12(1)', recipients: expect.arrayContaining([expect.objectContaining({ recipient: 'NL NCP' })]) });
    expect(answer.text).toMatch(/item\(s\) of data processed about you/);
    expect(answer.appeal.text).toContain('Der Bundesbeauftragte für den Datenschutz');
    // The decision is recorded: what was disclosed and a digest of the answer, not a second copy.
    const rec = (await records(DE, 'subject-request.decision')).at(-1)!;
    expect(rec).toMatchObject({ officer_id: approver.officerId, outcome: 'done' });
    expect(rec.supplied).toMatchObject({ disclosed: expect.arrayContaining([car.id]), answerSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Decided once.
    const again = await decide(DE, approver.token, req.id, { outcome: 'granted', legalBasis: '§ 57 BDSG' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'subject-request-decided' });
  }, 60_000);

  it('at the receiving node: the search answer and the follow-up data, with DE as their origin', async () => {
    const req = await register(NL, tokens['dpa-NL']!.token, { kind: 'access', channel: 'supervisory-authority', subject: { surname: 'Schmidt', birthDate: '1975-05-06' } });
    const items = await holdings(NL, tokens['approver-NL']!.token, req.id);
    const answer = items.find((i) => i.category === 'search-answer-received')!;
    expect(answer).toMatchObject({ origin: 'DE NCP', originState: 'DE', purpose: 'criminal-offences', legalBasis: 'Prüm Decision Art. 12(1)', matchedBy: ['name'] });
    expect(answer.recipients[0]!.body).toBe('NL NCP (officer officer-NL)');
    const received = items.find((i) => i.category === 'follow-up-received')!;
    expect(received).toMatchObject({ origin: 'DE NCP', originState: 'DE', purpose: 'Identify the driver in case NL-OM-2026-77' });
    expect(received.conditions).toEqual([{ type: 'no-onward-transfer' }, { type: 'use-only-in-case', caseReference: 'NL-OM-2026-77' }]);
    // Another person is not found by the same surname with another birth date.
    const other = await register(NL, tokens['dpa-NL']!.token, { kind: 'access', subject: { surname: 'Schmidt', birthDate: '1980-01-01' } });
    expect(await holdings(NL, tokens['approver-NL']!.token, other.id)).toEqual([]);
  }, 60_000);

  it('a refusal or restriction is written: grounds given or withheld under Art. 17(3), and where to appeal', async () => {
    const approver = tokens['approver-DE']!;
    const req = await register(DE, DE.officer.token, { kind: 'access', subject: { vins: [DE_CAR.vin] } });
    // Refused without a ground of Art. 17(2): not allowed, and nothing changes.
    const bad = await decide(DE, approver.token, req.id, { outcome: 'refused', legalBasis: '§ 57 BDSG', reasons: 'We do not want to' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'subject-request-invalid' });
    expect((await call(DE, approver.token, 'GET', `/v1/subject-requests/${req.id}`)).json()).toMatchObject({ status: 'open', answer: null });
    const noGround = await decide(DE, approver.token, req.id, { outcome: 'refused', legalBasis: '§ 57 BDSG', withholdReasons: true, restriction: 'nonsense' });
    expect(noGround.statusCode).toBe(400);

    const r = await decide(DE, approver.token, req.id, { outcome: 'refused', legalBasis: '§ 57(4) BDSG', restriction: 'inquiries', withholdReasons: true, note: 'Investigation BKA-2026-12 is running' });
    expect(r.statusCode, r.body).toBe(200);
    const v = r.json() as SubjectRequestView;
    expect(v.status).toBe('refused');
    const answer = v.answer as Record<string, unknown> & { appeal: { supervisoryAuthority: { name: string }; judicialRemedy: string; text: string } };
    expect(answer.data).toBeUndefined();
    expect(answer.reasons).toBeNull();
    expect(answer.reasonsWithheld).toMatch(/Art\. 17\(3\)/);
    expect(answer.text).toMatch(/refused.*not communicated/);
    expect(answer.appeal.supervisoryAuthority.name).toBe('Der Bundesbeauftragte für den Datenschutz und die Informationsfreiheit');
    expect(answer.appeal.judicialRemedy).toBe('the Verwaltungsgericht');
    expect(JSON.stringify(answer)).not.toContain('BKA-2026-12');
    expect(v.decision).toMatchObject({ restriction: 'inquiries', withholdReasons: true, note: 'Investigation BKA-2026-12 is running' });
    expect((await records(DE, 'subject-request.decision')).at(-1)).toMatchObject({ outcome: 'refused' });

    // Restricted access with the reasons given: one item withheld, the rest disclosed.
    const req2 = await register(DE, DE.officer.token, { kind: 'access', subject: KARL });
    const items = await holdings(DE, approver.token, req2.id);
    const followUp = items.find((i) => i.category === 'follow-up-supplied')!;
    const p = await decide(DE, approver.token, req2.id, { outcome: 'partly-granted', legalBasis: '§ 57(4) BDSG', withhold: [followUp.id], restriction: 'rights-of-others', reasons: 'The follow-up names a witness.' });
    expect(p.statusCode, p.body).toBe(200);
    const pa = (p.json() as SubjectRequestView).answer as { data: Array<{ item: string }>; reasons: string; restricted: boolean; restrictionGround: string };
    expect(pa.data.map((x) => x.item)).not.toContain(followUp.id);
    expect(pa.data.map((x) => x.item)).toContain(`vehicle:${DE_CAR.vin}`);
    expect(pa).toMatchObject({ restricted: true, reasons: 'The follow-up names a witness.' });
    expect(pa.restrictionGround).toMatch(/Art\. 17\(2\)\(e\)/);
  }, 60_000);

  it('an overdue request shows; one answered after its due time is late', async () => {
    const approver = tokens['approver-DE']!;
    const old = await register(DE, DE.officer.token, { kind: 'access', subject: { registrationNumbers: ['b ds-1975'] }, receivedAt: new Date(Date.now() - 40 * 86_400_000).toISOString() });
    expect(old.overdue).toBe(true);
    const fresh = await register(DE, DE.officer.token, { kind: 'access', subject: { dnaReferences: [profiles[0]!.ref] } });
    const list = (await call(DE, tokens['dpa-DE']!.token, 'GET', '/v1/subject-requests?overdue=true')).json() as { requests: SubjectRequestView[]; answerDays: number };
    expect(list.answerDays).toBe(30);
    expect(list.requests.map((x) => x.id)).toContain(old.id);
    expect(list.requests.map((x) => x.id)).not.toContain(fresh.id);
    expect(list.requests.every((x) => x.overdue)).toBe(true);
    expect((await call(DE, DE.officer.token, 'GET', '/v1/subject-requests')).statusCode).toBe(403);
    const d = await decide(DE, approver.token, old.id, { outcome: 'granted', legalBasis: '§ 57 BDSG' });
    expect(d.json()).toMatchObject({ status: 'granted', late: true, overdue: false });
    // The DNA reference: the profile is held, with no recipient yet.
    const items = await holdings(DE, approver.token, fresh.id);
    expect(items).toEqual([expect.objectContaining({ id: `dna-profile:${profiles[0]!.ref}`, category: 'dna-profile', origin: 'DE DNA file', recipients: [] })]);
  }, 60_000);
});

describe('rectification, erasure and blocking on request (FD 2008/977 Art. 18)', () => {
  it('rectifies the holder, erases a DNA profile for real (table and memory), and refuses in writing', async () => {
    const approver = tokens['approver-DE']!;
    const rect = await register(DE, DE.officer.token, { kind: 'rectification', subject: KARL, details: 'I moved: my address is Hauptstraße 1, 10115 Berlin' });
    const r1 = await decide(DE, approver.token, rect.id, { outcome: 'granted', legalBasis: '§ 58 BDSG', actions: [{ item: `vehicle:${DE_CAR.vin}`, action: 'rectify', changes: { address: 'Hauptstraße 1, 10115 Berlin' } }] });
    expect(r1.statusCode, r1.body).toBe(200);
    const car = await DE.t.node.db.selectFrom('vehicles').selectAll().where('vin', '=', DE_CAR.vin).executeTakeFirstOrThrow();
    expect(car.holder_address).toBe('Hauptstraße 1, 10115 Berlin');
    const act = ((r1.json() as SubjectRequestView).decision as { actions: Array<{ done: boolean; notify: string[] }> }).actions[0]!;
    expect(act).toMatchObject({ done: true, notify: ['NL'] }); // NL received the data: Art. 28(1)
    expect((await records(DE, 'rights.rectification')).at(-1)).toMatchObject({ officer_id: approver.officerId, outcome: 'done' });
    // NL is told, through src/safeguards (a signed correction from its queue), and that is kept with the decision.
    expect(((r1.json() as SubjectRequestView).decision as { notified: unknown[] }).notified).toEqual([{ item: `vehicle:${DE_CAR.vin}`, states: ['NL'] }]);
    expect((await records(DE, 'supplied-data.correction')).at(-1)).toMatchObject({ searching_body: 'NL NCP', officer_id: approver.officerId });
    expect(((r1.json() as SubjectRequestView).answer as { actions: Array<{ recipientsInformed?: string[] }> }).actions[0]!.recipientsInformed).toEqual(['NL']);

    const ref = profiles[1]!.ref;
    const dna = await DE.t.node.dna();
    expect(dna.inMemory(ref)).toBe(true);
    const er = await register(DE, DE.officer.token, { kind: 'erasure', subject: { dnaReferences: [ref] } });
    // An action on an item not held about the person is refused, and nothing is erased.
    const wrong = await decide(DE, approver.token, er.id, { outcome: 'granted', legalBasis: '§ 58 BDSG', actions: [{ item: `dna-profile:${profiles[2]!.ref}`, action: 'erase' }] });
    expect(wrong.statusCode).toBe(404);
    expect(wrong.json()).toMatchObject({ code: 'data-item-unknown' });
    expect(dna.inMemory(profiles[2]!.ref)).toBe(true);
    const r2 = await decide(DE, approver.token, er.id, { outcome: 'granted', legalBasis: '§ 58 BDSG', actions: [{ item: `dna-profile:${ref}`, action: 'erase' }] });
    expect(r2.statusCode, r2.body).toBe(200);
    expect(await DE.t.node.db.selectFrom('dna_profiles').select('ref').where('ref', '=', ref).executeTakeFirst()).toBeUndefined();
    expect(dna.inMemory(ref)).toBe(false);
    expect((await records(DE, 'rights.erasure')).at(-1)!.query).toMatchObject({ target: { kind: 'dna-profile', ref } });

    const refused = await register(DE, DE.officer.token, { kind: 'erasure', subject: KARL });
    const r3 = await decide(DE, approver.token, refused.id, { outcome: 'refused', legalBasis: '§ 58 BDSG', reasons: 'The registration is current: the vehicle is registered to you.' });
    expect(r3.statusCode, r3.body).toBe(200);
    expect((r3.json() as SubjectRequestView).answer).toMatchObject({ outcome: 'refused', reasons: 'The registration is current: the vehicle is registered to you.', appeal: { judicialRemedy: 'the Verwaltungsgericht' } });
  }, 60_000);
});

describe('received data on request (through src/safeguards)', () => {
  it('NL erases what it received from DE about the person on request, and blocks the rest on its supervisor\'s order', async () => {
    const req = await register(NL, NL.officer.token, { kind: 'erasure', subject: KARL, details: 'Erase what you received about me' });
    const approver = tokens['approver-NL']!;
    const items = await holdings(NL, approver.token, req.id);
    const answer = items.find((i) => i.category === 'search-answer-received')!;
    expect(answer.actions).toEqual(['erase', 'block']);
    const d = await decide(NL, approver.token, req.id, { outcome: 'partly-granted', legalBasis: 'Art. 28 Wpg', actions: [{ item: answer.id, action: 'erase' }], reasons: 'The follow-up data are needed in the running case NL-OM-2026-77.' });
    expect(d.statusCode, d.body).toBe(200);
    const v = d.json() as SubjectRequestView;
    expect((v.decision as { actions: Array<{ done: boolean; note: string }> }).actions[0]).toMatchObject({ done: true, note: expect.stringMatching(/^erased/) });
    const targetId = Number(answer.id.split(':')[1]);
    expect((await NL.t.node.db.selectFrom('federation_targets').select('result').where('id', '=', targetId).executeTakeFirstOrThrow()).result).toBeNull();
    const after = await holdings(NL, approver.token, (await register(NL, NL.officer.token, { kind: 'access', subject: KARL })).id);
    expect(after.map((i) => i.category)).not.toContain('search-answer-received');
    const followUp = after.find((i) => i.category === 'follow-up-received')!;

    // NL's supervisor orders the follow-up data blocked: kept by src/safeguards, shown as blocked.
    const id = followUp.id.split(':')[1]!;
    const o = await call(NL, tokens['dpa-NL']!.token, 'POST', '/v1/supervision/blocking-orders', { target: { kind: 'received', ref: id }, allowedPurpose: 'Complaint AP-2026-9 of the data subject', order: 'AP-2026-9', reason: 'Accuracy disputed' });
    expect(o.statusCode, o.body).toBe(201);
    expect(o.json()).toMatchObject({ kind: 'received', outcome: 'blocked' });
    const blocked = await holdings(NL, approver.token, (await register(NL, NL.officer.token, { kind: 'access', subject: KARL })).id);
    expect(blocked.find((i) => i.id === `received:${id}`)).toMatchObject({ category: 'blocked', status: 'blocked', origin: 'DE NCP', purpose: 'Complaint AP-2026-9 of the data subject' });
    expect(blocked.map((i) => i.category)).not.toContain('follow-up-received');
  }, 60_000);
});

describe('supervisors (Prüm Decision Art. 30(3), (5); FD 2008/977 Art. 25(2)(b))', () => {
  it("a blocking order takes the vehicle out of every search; its data serve only the purpose named; lifting restores it", async () => {
    const dpa = tokens['dpa-DE']!;
    // Only the supervisor orders.
    expect((await call(DE, tokens['approver-DE']!.token, 'POST', '/v1/supervision/blocking-orders', { target: { kind: 'vehicle', ref: DE_CAR.vin }, allowedPurpose: 'x', order: 'x', reason: 'x' })).statusCode).toBe(403);
    const purpose = 'Evidence in complaint BfDI-2026-0042';
    const o = await call(DE, dpa.token, 'POST', '/v1/supervision/blocking-orders', { target: { kind: 'vehicle', ref: DE_CAR.vin.toLowerCase() }, allowedPurpose: purpose, order: 'BfDI-2026-0042', reason: 'The holder disputes the registration; kept as evidence' });
    expect(o.statusCode, o.body).toBe(201);
    const block = o.json() as { id: string; reference: string; target: { ref: string }; active: boolean };
    expect(block).toMatchObject({ active: true, target: { ref: DE_CAR.vin } });
    expect((await records(DE, 'rights.block')).at(-1)).toMatchObject({ officer_id: dpa.officerId, purpose, outcome: 'done' });
    const twice = await call(DE, dpa.token, 'POST', '/v1/supervision/blocking-orders', { target: { kind: 'vehicle', ref: DE_CAR.vin }, allowedPurpose: purpose, order: 'BfDI-2026-0042', reason: 'again' });
    expect(twice.statusCode).toBe(409);

    // No automated search finds it: not NL's, not DE's own officers'.
    expect((await vehicleSearch(DE_CAR.vin)).hit).toBe(false);
    const local = await call(DE, DE.officer.token, 'POST', '/v1/vehicles/searches', { vin: DE_CAR.vin, purpose: 'criminal-offences', reason: 'check', orderedBy: 'Kommissarin B. Weber' });
    expect(local.json()).toMatchObject({ hit: false });
    // A routine import of the register does not bring it back.
    const csv = join(dir, 'de-again.csv');
    // The same register file as at the start (test/federation/support.ts: 30 vehicles, seed 100 for the first state).
    await writeVehicleFile(csv, { count: 30, country: 'DE', seed: 100, format: 'csv', fixed: [DE_CAR] });
    await importVehicles(DE.t.node.db, csv);
    expect(await DE.t.node.db.selectFrom('vehicles').select('vin').where('vin', '=', DE_CAR.vin).executeTakeFirst()).toBeUndefined();

    // The one purpose left; any other use is refused and recorded.
    const misuse = await call(DE, tokens['approver-DE']!.token, 'POST', `/v1/blocks/${block.id}/use`, { purpose: 'Investigation of a robbery', reason: 'NL asks again' });
    expect(misuse.statusCode).toBe(403);
    expect(misuse.json()).toMatchObject({ code: 'data-blocked' });
    const use = await call(DE, tokens['approver-DE']!.token, 'POST', `/v1/blocks/${block.id}/use`, { purpose: ` evidence in complaint  BfDI-2026-0042`, reason: 'Hearing of 12 May' });
    expect(use.statusCode, use.body).toBe(200);
    expect(use.json()).toMatchObject({ data: { vin: DE_CAR.vin, holder: { surname: 'Schmidt' } } });
    expect((await records(DE, 'rights.blocked-data.use')).slice(-2).map((r) => r.outcome)).toEqual(['refused', 'done']);

    // The person's access request shows the data as blocked.
    const req = await register(DE, DE.officer.token, { kind: 'access', subject: KARL });
    const items = await holdings(DE, tokens['approver-DE']!.token, req.id);
    expect(items.find((i) => i.category === 'blocked')).toMatchObject({ status: 'blocked', purpose, data: { vin: DE_CAR.vin } });
    expect(items.find((i) => i.category === 'vehicle-register')).toBeUndefined();

    const listed = (await call(DE, dpa.token, 'GET', '/v1/blocks?active=true')).json() as { blocks: Array<{ reference: string }> };
    expect(listed.blocks.map((b) => b.reference)).toContain(block.reference);
    const lift = await call(DE, dpa.token, 'POST', `/v1/blocks/${block.id}/lift`, { order: 'BfDI-2026-0042-B', reason: 'Complaint decided' });
    expect(lift.statusCode, lift.body).toBe(200);
    expect(lift.json()).toMatchObject({ active: false, ended: { how: 'lifted' } });
    expect((await vehicleSearch(DE_CAR.vin)).hit).toBe(true);
  }, 120_000);

  it('blocks and erases reference data and records by order; erasure is real; the log stays verifiable', async () => {
    const dpa = tokens['dpa-DE']!;
    const dna = await DE.t.node.dna();
    const ref = profiles[2]!.ref;
    const b = await call(DE, dpa.token, 'POST', '/v1/supervision/blocking-orders', { target: { kind: 'dna-profile', ref }, allowedPurpose: 'Review of the lab error report LAB-7', order: 'BfDI-2026-0050', reason: 'Possible contamination' });
    expect(b.statusCode, b.body).toBe(201);
    expect(dna.inMemory(ref)).toBe(false);
    const blockId = (b.json() as { id: string }).id;
    const e = await call(DE, dpa.token, 'POST', '/v1/supervision/erasure-orders', { target: { kind: 'block', id: blockId }, order: 'BfDI-2026-0051', reason: 'Contamination confirmed' });
    expect(e.statusCode, e.body).toBe(200);
    const gone = await DE.t.node.db.selectFrom('data_blocks').select(['data', 'ended_how']).where('id', '=', blockId).executeTakeFirstOrThrow();
    expect(gone).toEqual({ data: null, ended_how: 'erased' });

    // Records: erased by order, the erasure itself recorded and sealed.
    await sealLog(DE.t.node);
    const victim = (await records(DE, 'subject-request.compile'))[0]!;
    const er = await call(DE, dpa.token, 'POST', '/v1/supervision/erasure-orders', { target: { kind: 'records', recordIds: [victim.id] }, order: 'BfDI-2026-0052', reason: 'Compiled by mistake' });
    expect(er.statusCode, er.body).toBe(200);
    expect(er.json()).toMatchObject({ kind: 'records', erased: { logIndices: [expect.any(Number)] } });
    expect(await DE.t.node.db.selectFrom('records').select('id').where('id', '=', victim.id).executeTakeFirst()).toBeUndefined();
    expect((await records(DE, 'audit.erasure-order')).at(-1)!.ordered_by).toMatch(/dpa-DE/);
    // The log still verifies offline: the erased entries are accounted for by the recorded order.
    await sealLog(DE.t.node);
    const { chunks } = await openExport(DE.t.node, {});
    let text = '';
    for await (const c of chunks) text += c;
    expect(verifyAuditExport(JSON.parse(text) as AuditExportFile, { publicKey: DE.t.node.keys.publicKey })).toMatchObject({ ok: true, findings: [] });
    const unknown = await call(DE, dpa.token, 'POST', '/v1/supervision/erasure-orders', { target: { kind: 'vehicle', ref: 'WVWZZZ1KZAW999999' }, order: 'x', reason: 'x' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'data-item-unknown' });
  }, 60_000);
});
