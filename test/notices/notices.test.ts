/**
 * Notices and diffusions across four real nodes (the secretariat IP; DE, FR, NL) over mutual TLS 1.3
 * with signed messages: a compliant red notice goes through and reaches every node (and its public
 * extract); one below the penalty threshold is returned, completed and withdrawn; one for an excluded
 * offence is refused; a refugee blocks one; a diffusion from a supervised state reaches no one until
 * released; a withdrawn diffusion disappears from every recipient; a data subject's deletion reaches
 * every node; bad input and a state acting as the secretariat are refused with nothing stored.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDetached } from '../../src/exchange/jws.ts';
import { PeerClient, type PeerResponse } from '../../src/exchange/peer-client.ts';
import type { NoticeContent } from '../../src/notices/model.ts';
import { expireDue, renew, reviewTasks } from '../../src/notices/review.ts';
import type { NoticeView } from '../../src/notices/store.ts';
import { createTestFederation, waitFor, type FedNode, type TestFederation } from '../federation/support.ts';

let f: TestFederation;
let IP: FedNode;
let DE: FedNode;
let FR: FedNode;
let NL: FedNode;
let reviewer: { token: string };
let ipAdmin: { token: string };
let ccf: { token: string };
let deReviewer: { token: string };
const clients: PeerClient[] = [];

beforeAll(async () => {
  f = await createTestFederation({ IP: [], DE: [], FR: [], NL: [] });
  [IP, DE, FR, NL] = [f.nodes.IP!, f.nodes.DE!, f.nodes.FR!, f.nodes.NL!];
  reviewer = await IP.t.tokenFor('reviewer-IP', ['reviewer']);
  ipAdmin = await IP.t.tokenFor('admin-IP', ['admin']);
  ccf = await IP.t.tokenFor('ccf-IP', ['supervisor']);
  deReviewer = await DE.t.tokenFor('reviewer-DE', ['reviewer']);
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  await f?.close();
});

async function call(n: FedNode, token: string | undefined, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) {
  return n.api.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]).toString('base64');

function red(familyName: string, over: { penaltyMonths?: number; offence?: Partial<NonNullable<NoticeContent['judicial']>['offence']>; subject?: Partial<NonNullable<NoticeContent['subject']>>; facts?: string } = {}): NoticeContent {
  return {
    subject: { familyName, forenames: 'Marek', sex: 'M', dateOfBirth: '1980-04-12', nationalities: ['PL'], placeOfBirth: 'Gdańsk', ...over.subject },
    judicial: {
      warrant: { reference: `AG-${familyName}`, issuedBy: 'Amtsgericht Berlin-Tiergarten', issuedOn: '2025-03-01' },
      offence: { category: 'organised-armed-robbery', description: 'Armed robbery of a jewellery shop', legalProvision: '§ 250 StGB', committedOn: '2025-01-15', ...over.offence },
      penalty: { basis: 'prosecution', maximumMonths: over.penaltyMonths ?? 180 },
    },
    facts: { summary: over.facts ?? 'On 15 January 2025 the subject and two others robbed a jewellery shop at Kurfürstendamm 1, Berlin, threatening the staff with a firearm.', from: '2025-01-15', place: 'Berlin', country: 'DE' },
    attachments: [{ kind: 'photo', mediaType: 'image/jpeg', name: 'face.jpg', data: JPEG }],
  };
}

async function draft(body: Record<string, unknown>, n: FedNode = DE): Promise<NoticeView> {
  const r = await call(n, n.officer.token, 'POST', '/v1/notices', body);
  expect(r.statusCode, r.body).toBe(201);
  return r.json();
}

async function submitted(id: string, n: FedNode = DE): Promise<NoticeView> {
  const r = await call(n, n.officer.token, 'POST', `/v1/notices/${id}/submit`);
  expect(r.statusCode, r.body).toBe(202);
  return r.json();
}

/** The row a node holds (null when it holds none), read as its officer (IP: as its reviewer). */
async function held(n: FedNode, id: string): Promise<NoticeView | null> {
  const r = await call(n, n === IP ? reviewer.token : n.officer.token, 'GET', `/v1/notices/${id}`);
  if (r.statusCode === 404) return null;
  expect(r.statusCode, r.body).toBe(200);
  return r.json();
}

/** Waits until the node's copy satisfies `ok` (null: it holds none); returns it. */
const until = (n: FedNode, id: string, ok: (v: NoticeView | null) => boolean) => waitFor(() => held(n, id), ok, 30_000) as Promise<NoticeView>;

async function decide(id: string, body: Record<string, unknown>) {
  return call(IP, reviewer.token, 'POST', `/v1/notices/${id}/review`, body);
}

async function count(n: FedNode, table: 'notices' | 'notice_inbox' | 'notice_deliveries'): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(n.t.node.db);
  return r.rows[0]!.n;
}

async function records(n: FedNode, action: string) {
  return n.t.node.db.selectFrom('records').selectAll().where('action', '=', action).orderBy('id').execute();
}

function rawClient(from: FedNode): PeerClient {
  const c = new PeerClient({ keyPem: from.creds.keyPem, certPem: from.creds.certPem, caPem: from.creds.trust.caPem, crlPem: from.creds.trust.crlPem }, from.creds.trust, { answerTimeoutMs: 10_000 });
  clients.push(c);
  return c;
}

/** A notice message signed by `from` for `to`. */
function signed(from: FedNode, to: FedNode, act: string, payload: unknown, noticeId?: string): { body: string; jws: string } {
  const body = JSON.stringify({ protocol: 'openprum/1', type: 'notice-message', messageId: randomUUID(), sentAt: new Date().toISOString(), senderState: from.country, recipientState: to.country, act, ...(noticeId ? { noticeId } : {}), payload });
  return { body, jws: signDetached(body, { key: from.creds.key, cert: from.creds.cert }) };
}

/** Sends a notice message signed by `from` straight to `to`, as a node that bypasses its own software would. */
async function sendRaw(from: FedNode, to: FedNode, act: string, payload: unknown, noticeId?: string): Promise<PeerResponse> {
  return rawClient(from).exchange(to.country, `${to.fed.peerUrl}/peer/v1/notices/messages`, 'POST', signed(from, to, act, payload, noticeId));
}

describe('notices', { timeout: 120_000 }, () => {
  it('a compliant red notice is reviewed, published to every node with its public extract, and deleted everywhere on a data subject\'s request', async () => {
    const d = await draft({ kind: 'notice', type: 'red', content: red('Kowalczyk'), publicExtract: true });
    expect(d).toMatchObject({ status: 'draft', heldAs: 'requester', requestingState: 'DE' });
    expect(await submitted(d.id)).toMatchObject({ status: 'submitted', version: 1 });

    const pending = await until(IP, d.id, (v) => v?.status === 'pending-review');
    expect(pending.assessment).toMatchObject({ verdict: 'no-concerns', blocked: null, attention: [] });
    expect((pending.assessment as { criteria: Array<{ code: string; met: boolean | null }> }).criteria.map((c) => [c.code, c.met])).toEqual([
      ['serious-ordinary-law-crime', true],
      ['penalty-threshold', true],
      ['judicial-data', true],
      ['identifiers', true],
      ['facts', true],
    ]);
    // Not published yet: no other state has it.
    expect(await held(FR, d.id)).toBeNull();

    const r = await decide(d.id, { decision: 'publish' });
    expect(r.statusCode, r.body).toBe(200);
    const published = r.json() as NoticeView;
    expect(published).toMatchObject({ status: 'published', version: 1, entityId: expect.stringMatching(/^\d{4}\/\d{5}$/) });
    // Valid five years, reviewed six months before.
    const years = (Date.parse(published.expiresAt!) - Date.parse(published.publishedAt!)) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(4.99);
    expect(years).toBeLessThan(5.01);
    expect(new Date(published.reviewDueAt!).getUTCMonth()).toBe((new Date(published.expiresAt!).getUTCMonth() + 6) % 12);

    for (const n of [DE, FR, NL]) {
      const v = await until(n, d.id, (x) => x?.status === 'published');
      expect(v).toMatchObject({ entityId: published.entityId, requestingState: 'DE', content: { subject: { familyName: 'Kowalczyk' } } });
    }
    expect((await held(FR, d.id))!.heldAs).toBe('recipient');
    // Every supply and receipt is recorded on both sides.
    expect((await records(FR, 'notice.published')).at(-1)).toMatchObject({ direction: 'incoming', administering_body: 'IP NCP', searching_body: 'FR NCP', outcome: 'done' });
    expect((await records(IP, 'notice.notice-published.sent')).length).toBeGreaterThanOrEqual(3);
    expect((await records(IP, 'notice.request')).length).toBeGreaterThanOrEqual(1);
    expect((await records(DE, 'notice.notice-request.sent')).length).toBeGreaterThanOrEqual(1);

    // The public extract, without authentication, in the shape of INTERPOL's public notices service.
    const list = await call(NL, undefined, 'GET', '/notices/v1/red?name=kowal&resultPerPage=10');
    expect(list.statusCode, list.body).toBe(200);
    const page = list.json() as { total: number; query: Record<string, unknown>; _embedded: { notices: Array<Record<string, unknown>> }; _links: Record<string, { href: string }> };
    expect(page.total).toBe(1);
    expect(page.query).toMatchObject({ page: 1, resultPerPage: 10 });
    expect(page._embedded.notices[0]).toMatchObject({ entity_id: published.entityId, name: 'Kowalczyk', forename: 'Marek', date_of_birth: '1980/04/12', nationalities: ['PL'] });
    const self = (page._embedded.notices[0]!._links as Record<string, { href: string }>).self!.href;
    expect(self).toMatch(new RegExp(`/notices/v1/red/${published.entityId!.replace('/', '-')}$`));
    expect(page._links.first!.href).toContain('page=1');
    const detail = await call(NL, undefined, 'GET', new URL(self).pathname);
    expect(detail.json()).toMatchObject({ entity_id: published.entityId, arrest_warrants: [{ charge: 'Armed robbery of a jewellery shop', issuing_country_id: 'DE' }], place_of_birth: 'Gdańsk' });
    const thumb = await call(NL, undefined, 'GET', new URL((page._embedded.notices[0]!._links as Record<string, { href: string }>).thumbnail!.href).pathname);
    expect([thumb.statusCode, thumb.headers['content-type'], thumb.rawPayload.subarray(0, 3).toString('hex')]).toEqual([200, 'image/jpeg', 'ffd8ff']);
    expect((await records(NL, 'notice.public-extract')).length).toBeGreaterThanOrEqual(3);

    // A data subject asks the CCF: access (due in four months), then deletion (nine), granted.
    const access = await call(IP, ccf.token, 'POST', '/v1/notices/data-requests', { kind: 'access', applicant: { familyName: 'Kowalczyk', forenames: 'Marek', dateOfBirth: '1980-04-12' }, contact: 'Counsel, Warsaw', details: 'Am I in your files?', receivedOn: '2026-01-31' });
    expect(access.statusCode, access.body).toBe(201);
    expect(access.json()).toMatchObject({ dueAt: expect.stringMatching(/^2026-05-31/), status: 'open', matching: [{ id: d.id, status: 'published' }] });
    const granted = await call(IP, ccf.token, 'POST', `/v1/notices/data-requests/${access.json().id}/decision`, { decision: 'grant', note: 'One notice is held' });
    expect(granted.json()).toMatchObject({ status: 'granted', decision: { disclosed: [{ id: d.id }] } });
    const deletion = await call(IP, ccf.token, 'POST', '/v1/notices/data-requests', { kind: 'deletion', applicant: { familyName: 'Kowalczyk', forenames: 'Marek' }, contact: 'Counsel, Warsaw', details: 'The case was closed in DE', noticeId: d.id, receivedOn: '2026-01-31' });
    expect(deletion.json()).toMatchObject({ dueAt: expect.stringMatching(/^2026-10-31/) });
    const del = await call(IP, ccf.token, 'POST', `/v1/notices/data-requests/${deletion.json().id}/decision`, { decision: 'grant', note: 'The warrant was withdrawn' });
    expect(del.statusCode, del.body).toBe(200);
    for (const n of [FR, NL]) await until(n, d.id, (v) => v === null);
    const atDe = await until(DE, d.id, (v) => v?.status === 'cancelled' && v.content === null);
    expect(atDe.history.at(-1)).toMatchObject({ event: 'cancelled', reason: 'data-subject-request' });
    expect((await held(IP, d.id))!).toMatchObject({ status: 'cancelled', content: null });
    // Really gone: no row and no signed message with the data at the recipients.
    for (const n of [FR, NL]) {
      const left = await sql<{ n: number }>`select count(*)::int as n from notice_inbox where body like ${'%Kowalczyk%'}`.execute(n.t.node.db);
      expect(left.rows[0]!.n).toBe(0);
    }
    expect((await call(NL, undefined, 'GET', '/notices/v1/red?name=kowal')).json()).toMatchObject({ total: 0 });
  });

  it('a red notice below the penalty threshold is returned, completed, published and, withdrawn, cancelled on every node', async () => {
    const d = await draft({ kind: 'notice', type: 'red', content: red('Nowak', { penaltyMonths: 12 }) });
    await submitted(d.id);
    const pending = await until(IP, d.id, (v) => v?.status === 'pending-review');
    const a = pending.assessment as { verdict: string; criteria: Array<{ code: string; met: boolean; explanation: string }>; attention: string[] };
    expect(a.verdict).toBe('attention');
    expect(a.criteria.find((c) => c.code === 'penalty-threshold')).toMatchObject({ met: false, explanation: expect.stringMatching(/12 months, less than the 24 months required/) });

    // The software explains, a human decides: publishing needs a justification.
    const noJustification = await decide(d.id, { decision: 'publish' });
    expect(noJustification.statusCode).toBe(422);
    expect(noJustification.json()).toMatchObject({ code: 'notice-criteria-not-met', detail: expect.stringMatching(/penalty-threshold/) });
    expect((await decide(d.id, { decision: 'return', reasons: ['penalty-threshold'] })).json()).toMatchObject({ code: 'notice-invalid', detail: expect.stringMatching(/note/) });
    const ret = await decide(d.id, { decision: 'return', reasons: ['penalty-threshold'], note: 'Give the maximum penalty of the offence as charged (§ 250 StGB)' });
    expect(ret.statusCode, ret.body).toBe(200);
    const returned = await until(DE, d.id, (v) => v?.status === 'returned');
    expect(returned.decision).toMatchObject({ decision: 'returned', reasons: ['penalty-threshold'], note: expect.stringMatching(/maximum penalty/) });

    // Completed and submitted again: version 2 waits for review at the secretariat.
    const upd = await call(DE, DE.officer.token, 'PUT', `/v1/notices/${d.id}`, { content: red('Nowak', { penaltyMonths: 180 }) });
    expect(upd.statusCode, upd.body).toBe(200);
    expect(await submitted(d.id)).toMatchObject({ status: 'submitted', version: 2 });
    const again = await until(IP, d.id, (v) => v?.status === 'pending-review' && v.history.filter((h) => h.event === 'received').length === 2);
    expect(again.assessment).toMatchObject({ verdict: 'no-concerns' });
    expect((await decide(d.id, { decision: 'publish' })).statusCode).toBe(200);
    for (const n of [DE, FR, NL]) await until(n, d.id, (v) => v?.status === 'published');

    // Withdrawn by DE: the secretariat cancels it on every node.
    const w = await call(DE, DE.officer.token, 'POST', `/v1/notices/${d.id}/withdraw`, { reason: 'Arrested in DE' });
    expect(w.json()).toMatchObject({ status: 'withdrawn' });
    await until(IP, d.id, (v) => v?.status === 'withdrawn');
    for (const n of [FR, NL]) await until(n, d.id, (v) => v === null);
    expect((await records(FR, 'notice.deletion')).at(-1)).toMatchObject({ administering_body: 'IP NCP', outcome: 'done' });
  });

  it('a published notice comes up for review six months before it expires, is renewed on every node, and ends on every node when it expires', async () => {
    const d = await draft({ kind: 'notice', type: 'yellow', content: { subject: { familyName: 'Szymańska', forenames: 'Anna', sex: 'F', dateOfBirth: '2009-02-03' }, facts: { summary: 'Missing since she left school in Frankfurt (Oder) on 2 February 2025.', from: '2025-02-02', place: 'Frankfurt (Oder)', country: 'DE' } }, publicExtract: true });
    await submitted(d.id);
    await until(IP, d.id, (v) => v?.status === 'pending-review');
    const pub = (await decide(d.id, { decision: 'publish' })).json() as NoticeView;
    await until(FR, d.id, (v) => v?.status === 'published');
    expect((await call(FR, undefined, 'GET', `/notices/v1/yellow/${pub.entityId!.replace('/', '-')}`)).json()).toMatchObject({ name: 'Szymańska', date_of_event: '2025/02/02', requesting_country_id: 'DE' });

    // The secretariat's clock moved to the review date, then past the end of the validity.
    const at = (iso: string) => Object.create(IP.fed, { now: { value: () => new Date(iso) } }) as typeof IP.fed;
    const caller = await IP.t.node.officers.authenticate(reviewer.token);
    expect((await reviewTasks(IP.fed, caller)).map((n) => n.id)).not.toContain(d.id);
    const dueDay = new Date(Date.parse(pub.reviewDueAt!) + 86_400_000).toISOString();
    expect((await reviewTasks(at(dueDay), caller)).map((n) => n.id)).toContain(d.id);
    await expect(renew(IP.fed, caller, d.id, 'Still missing')).rejects.toThrow(/is reviewed from/);
    const renewed = await renew(at(dueDay), caller, d.id, 'Still missing; the family confirmed');
    expect(renewed).toMatchObject({ version: 2 });
    expect(Date.parse(renewed.expiresAt!) - Date.parse(pub.expiresAt!)).toBeGreaterThan(4.99 * 365.25 * 86_400_000);
    for (const n of [DE, FR, NL]) await until(n, d.id, (v) => v?.version === 2 && v.expiresAt === renewed.expiresAt);

    expect(await expireDue(at(new Date(Date.parse(renewed.expiresAt!) + 1000).toISOString()))).toBe(1);
    expect((await held(IP, d.id))!.status).toBe('cancelled');
    for (const n of [FR, NL]) await until(n, d.id, (v) => v === null);
    await until(DE, d.id, (v) => v?.status === 'cancelled');
  });

  it('a public extract feed is imported as an untrusted screening source, beside the notices received', async () => {
    const d = await draft({ kind: 'notice', type: 'red', content: red('Grabowski'), publicExtract: true });
    await submitted(d.id);
    await until(IP, d.id, (v) => v?.status === 'pending-review');
    expect((await decide(d.id, { decision: 'publish' })).statusCode).toBe(200);
    await until(NL, d.id, (v) => v?.status === 'published');
    // FR's public extracts, as any client reads them, imported by NL.
    const feed = (await call(FR, undefined, 'GET', '/notices/v1/red?name=Grabowski')).json();
    const imp = await call(NL, NL.t.adminToken, 'POST', '/v1/notices/feeds', { source: 'FR public extracts', type: 'red', feed });
    expect(imp.statusCode, imp.body).toBe(201);
    expect(imp.json()).toMatchObject({ entries: 1, replaced: 0 });
    const bad = { _embedded: { notices: [{ entity_id: '2026/1', name: 'Invented', forename: 'Person', date_of_birth: '1990/02/30' }] } };
    const refused = await call(NL, NL.t.adminToken, 'POST', '/v1/notices/feeds', { source: 'elsewhere', type: 'red', feed: [feed, bad] });
    expect([refused.statusCode, refused.json().code, refused.json().detail]).toEqual([400, 'notice-feed-invalid', 'feed page 2, notice 1 (2026/1): date_of_birth 1990/02/30 is not a possible date']);
    expect(await NL.t.node.db.selectFrom('notice_feed_imports').select('id').where('source', '=', 'elsewhere').execute()).toEqual([]);

    const s = await call(NL, NL.officer.token, 'POST', '/v1/notices/screening', { familyName: 'GRABOWSKI', forenames: 'marek', dateOfBirth: '1980', reason: 'Border check, Schiphol' });
    expect(s.statusCode, s.body).toBe(200);
    expect(s.json()).toMatchObject({
      federation: [{ id: d.id, requestingState: 'DE', trust: expect.stringMatching(/^federation/) }],
      publicFeeds: [{ source: 'FR public extracts', dateOfBirth: '1980-04-12', trust: expect.stringMatching(/^untrusted/) }],
    });
    expect((await records(NL, 'notice.screening')).at(-1)).toMatchObject({ outcome: 'hit', reason: 'Border check, Schiphol' });
  });

  it('a red notice for an excluded offence is refused, and a later request for the same person shows it', async () => {
    const content = red('Wiśniewski', { penaltyMonths: 36, offence: { category: 'other', description: 'Non-payment of a commercial debt (breach of contract)', legalProvision: '§ 263 StGB' } });
    const d = await draft({ kind: 'notice', type: 'red', content });
    await submitted(d.id);
    const pending = await until(IP, d.id, (v) => v?.status === 'pending-review');
    expect(pending.assessment).toMatchObject({ verdict: 'attention', excludedOffences: [{ code: 'private-dispute', field: 'judicial.offence.description', basis: 'RPD Art. 83(1)(a)(ii)' }] });
    const r = await decide(d.id, { decision: 'refuse', reasons: ['excluded-offence'], note: 'A private dispute' });
    expect(r.json()).toMatchObject({ status: 'refused' });
    const refused = await until(DE, d.id, (v) => v?.status === 'refused');
    expect(refused.decision).toMatchObject({ reasons: ['excluded-offence'] });
    expect(await held(FR, d.id)).toBeNull();
    expect(await held(NL, d.id)).toBeNull();
    // Refused is final.
    expect((await call(DE, DE.officer.token, 'POST', `/v1/notices/${d.id}/submit`)).json()).toMatchObject({ code: 'notice-state-conflict' });

    const second = await draft({ kind: 'notice', type: 'red', content: red('Wiśniewski') });
    await submitted(second.id);
    const p2 = await until(IP, second.id, (v) => v?.status === 'pending-review');
    expect(p2.assessment).toMatchObject({ verdict: 'attention', article3: { earlierRefused: [{ id: d.id, requestingState: 'DE' }] } });
  });

  it('a subject recognised as a refugee with respect to the requesting state blocks the notice', async () => {
    const entry = await call(IP, reviewer.token, 'POST', '/v1/notices/register', { flag: 'refugee', familyName: 'Petrov', forenames: 'Ivan', dateOfBirth: '1975', relatedState: 'DE', source: 'NL asylum authority, decision 2024/1234' });
    expect(entry.statusCode, entry.body).toBe(201);
    const d = await draft({ kind: 'notice', type: 'red', content: red('Petrov', { subject: { forenames: 'Ivan', dateOfBirth: '1975-06-01', occupation: 'Journalist' }, offence: { description: 'Insulting the president in an article' } }) });
    await submitted(d.id);
    const pending = await until(IP, d.id, (v) => v?.status === 'pending-review');
    expect(pending.assessment).toMatchObject({
      verdict: 'blocked',
      blocked: { reason: expect.stringMatching(/refugee recognised with respect to DE/) },
      article3: { offences: [{ code: 'insulting-officials' }], subject: [{ code: 'journalist' }], register: [{ flag: 'refugee', relatedState: 'DE' }] },
    });
    const r = await decide(d.id, { decision: 'publish', justification: 'The reviewer would publish anyway' });
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ code: 'notice-blocked' });
    expect((await held(IP, d.id))!.status).toBe('pending-review');
    expect((await records(IP, 'notice.review')).at(-1)).toMatchObject({ outcome: 'refused' });
    expect((await decide(d.id, { decision: 'refuse', reasons: ['refugee', 'article-3'] })).json()).toMatchObject({ status: 'refused' });
    await until(DE, d.id, (v) => v?.status === 'refused');
    expect(await held(FR, d.id)).toBeNull();
  });
});

describe('diffusions and supervision', { timeout: 120_000 }, () => {
  let released: NoticeView;

  it('a diffusion from a state under supervision reaches no one until the secretariat releases it', async () => {
    const place = await call(IP, ipAdmin.token, 'POST', '/v1/notices/supervision', { state: 'DE', measure: 'place', reason: 'Requests against critics abroad', reviewDate: '2099-06-30' });
    expect(place.statusCode, place.body).toBe(200);
    expect(place.json()).toMatchObject({ state: 'DE', underSupervision: true, measures: [{ measure: 'placed', version: 1 }] });
    for (const n of [DE, FR, NL]) {
      await waitFor(async () => (await call(n, n.officer.token, 'GET', '/v1/notices/supervision')).json() as { states: Array<{ state: string; underSupervision: boolean }> }, (v) => v.states.some((s) => s.state === 'DE' && s.underSupervision), 30_000);
    }

    const d = await draft({ kind: 'diffusion', type: 'red', recipients: ['FR', 'NL'], content: red('Lewandowski') });
    const issued = await submitted(d.id);
    expect(issued.status).toBe('held');
    expect(issued.deliveries.map((x) => x.state)).toEqual(['IP']);
    const atIp = await until(IP, d.id, (v) => v?.status === 'held');
    expect((atIp.assessment as { attention: string[] }).attention.join(' ')).toMatch(/DE is under supervision/);
    // A DE node that bypassed its own software is refused by the recipients themselves.
    const bypass = await sendRaw(DE, FR, 'diffusion', { type: 'red', reference: 'DE-BYPASS-1', issuedAt: new Date().toISOString(), recipients: ['FR'], content: red('Lewandowski') }, randomUUID());
    expect(bypass.status).toBe(403);
    expect(JSON.parse(bypass.body)).toMatchObject({ code: 'notice-held-for-review', state: 'FR' });
    expect(await held(FR, d.id)).toBeNull();
    expect(await held(NL, d.id)).toBeNull();

    // Releasing under supervision needs the thorough check written down.
    expect((await decide(d.id, { decision: 'release' })).json()).toMatchObject({ code: 'notice-criteria-not-met' });
    const r = await decide(d.id, { decision: 'release', justification: 'Armed robbery, evidence attached, no Art. 3 indicator' });
    expect(r.json()).toMatchObject({ status: 'released' });
    for (const n of [FR, NL]) {
      const v = await until(n, d.id, (x) => x?.status === 'active');
      expect(v).toMatchObject({ requestingState: 'DE', heldAs: 'recipient', recipients: ['FR', 'NL'], content: { subject: { familyName: 'Lewandowski' } } });
    }
    released = await until(DE, d.id, (v) => v?.status === 'released');

    // Lifted: DE's next diffusion goes straight to the state it names, and is reviewed after.
    const lift = await call(IP, ipAdmin.token, 'POST', '/v1/notices/supervision', { state: 'DE', measure: 'lift', reason: 'Executive Committee decision' });
    expect(lift.json()).toMatchObject({ underSupervision: false, measures: [{ measure: 'placed' }, { measure: 'lifted', version: 2 }] });
    await waitFor(async () => (await call(DE, DE.officer.token, 'GET', '/v1/notices/supervision')).json() as { states: Array<{ state: string; underSupervision: boolean }> }, (v) => v.states.some((s) => s.state === 'DE' && !s.underSupervision), 30_000);
    await waitFor(async () => (await call(FR, FR.officer.token, 'GET', '/v1/notices/supervision')).json() as { states: Array<{ state: string; underSupervision: boolean }> }, (v) => v.states.some((s) => s.state === 'DE' && !s.underSupervision), 30_000);
    const next = await draft({ kind: 'diffusion', type: 'blue', recipients: ['FR'], content: { subject: { familyName: 'Zielinski', forenames: 'Jan' }, facts: { summary: 'Seen with the robbers of Kurfürstendamm 1 the day before.', from: '2025-01-14', place: 'Berlin', country: 'DE' } } });
    expect((await submitted(next.id)).status).toBe('issued');
    await until(FR, next.id, (v) => v?.status === 'active');
    await until(IP, next.id, (v) => v?.status === 'under-review');
    expect(await held(NL, next.id)).toBeNull();
    expect((await decide(next.id, { decision: 'compliant' })).json()).toMatchObject({ status: 'compliant' });
    await until(DE, next.id, (v) => v?.status === 'compliant');
  });

  it('a withdrawn diffusion disappears from every recipient', async () => {
    expect(released).toBeDefined();
    const id = released.id;
    const w = await call(DE, DE.officer.token, 'POST', `/v1/notices/${id}/withdraw`, { reason: 'Arrested' });
    expect(w.json()).toMatchObject({ status: 'withdrawn' });
    for (const n of [FR, NL]) await until(n, id, (v) => v === null);
    await until(IP, id, (v) => v?.status === 'withdrawn');
    for (const n of [FR, NL]) {
      const db = n.t.node.db;
      expect(await db.selectFrom('notices').select('id').where('id', '=', id).execute()).toEqual([]);
      expect(await db.selectFrom('notice_tombstones').select(['id', 'reason']).where('id', '=', id).execute()).toEqual([{ id, reason: 'withdrawn' }]);
      const withName = await sql<{ n: number }>`select (select count(*) from notices where content::text like ${'%Lewandowski%'}) + (select count(*) from notice_inbox where body like ${'%Lewandowski%'}) as n`.execute(db);
      expect(Number(withName.rows[0]!.n)).toBe(0);
      expect((await records(n, 'diffusion.deletion')).at(-1)).toMatchObject({ administering_body: 'DE NCP', outcome: 'done' });
    }
    // A late copy, even a genuine one (DE's signed diffusion, released by the secretariat), does not bring it back.
    const original = signed(DE, IP, 'diffusion', { type: 'red', reference: released.reference, issuedAt: new Date().toISOString(), recipients: ['FR', 'NL'], content: red('Lewandowski') }, id);
    const late = await sendRaw(IP, FR, 'diffusion-release', { original, releasedAt: new Date().toISOString() }, id);
    expect([late.status, JSON.parse(late.body).code]).toEqual([410, 'notice-deleted']);
    expect(await held(FR, id)).toBeNull();
    // A forged original is refused.
    const forged = await sendRaw(IP, NL, 'diffusion-release', { original: { body: original.body.replace('Lewandowski', 'Someone'), jws: original.jws }, releasedAt: new Date().toISOString() }, randomUUID());
    expect(JSON.parse(forged.body)).toMatchObject({ code: 'peer-message-invalid', detail: expect.stringMatching(/not a diffusion signed by its state/) });
  });

  it('a diffusion found non-compliant after it went out is deleted by its recipients', async () => {
    const d = await draft({ kind: 'diffusion', type: 'red', recipients: ['NL'], content: red('Kaminski', { offence: { category: 'other', description: 'Desertion from the armed forces', legalProvision: 'Art. 338' } }) });
    await submitted(d.id);
    await until(NL, d.id, (v) => v?.status === 'active');
    const atIp = await until(IP, d.id, (v) => v?.status === 'under-review');
    expect(atIp.assessment).toMatchObject({ article3: { offences: [{ code: 'desertion' }] } });
    expect((await decide(d.id, { decision: 'withdraw', reasons: ['article-3'], note: 'A military offence' })).json()).toMatchObject({ status: 'refused' });
    await until(NL, d.id, (v) => v === null);
    await until(DE, d.id, (v) => v?.status === 'refused');
  });
});

describe('refusals', { timeout: 60_000 }, () => {
  it('bad input gives clear errors and stores nothing', async () => {
    const before = await count(DE, 'notices');
    const incomplete = red('Mazur');
    delete incomplete.subject!.dateOfBirth;
    const r1 = await call(DE, DE.officer.token, 'POST', '/v1/notices', { kind: 'notice', type: 'red', content: incomplete });
    expect([r1.statusCode, r1.json().code]).toEqual([422, 'notice-identifiers-incomplete']);
    expect(r1.json().detail).toMatch(/A red notice needs subject\.dateOfBirth/);

    const impossible = red('Mazur', { subject: { dateOfBirth: '1990-02-30' } });
    const r2 = await call(DE, DE.officer.token, 'POST', '/v1/notices', { kind: 'notice', type: 'red', content: impossible });
    expect([r2.statusCode, r2.json().code]).toEqual([400, 'notice-invalid']);
    expect(r2.json().detail).toMatch(/subject\.dateOfBirth 1990-02-30: 02\/1990 has 28 days/);
    const beforeBirth = red('Mazur', { subject: { dateOfBirth: '2025-02-01' } });
    expect((await call(DE, DE.officer.token, 'POST', '/v1/notices', { kind: 'notice', type: 'red', content: beforeBirth })).json().detail).toMatch(/before the subject's date of birth/);
    const future = red('Mazur');
    future.judicial!.warrant.issuedOn = '2099-01-01';
    expect((await call(DE, DE.officer.token, 'POST', '/v1/notices', { kind: 'notice', type: 'red', content: future })).json().detail).toMatch(/judicial\.warrant\.issuedOn 2099-01-01 is in the future/);

    const big = Buffer.alloc(600 * 1024, 1);
    big.set([0xff, 0xd8, 0xff]);
    const oversized = { ...red('Mazur'), attachments: [{ kind: 'photo', mediaType: 'image/jpeg', name: 'huge.jpg', data: big.toString('base64') }] };
    const r3 = await call(DE, DE.officer.token, 'POST', '/v1/notices', { kind: 'notice', type: 'red', content: oversized });
    expect([r3.statusCode, r3.json().code]).toEqual([413, 'notice-attachment-too-large']);
    expect(r3.json().detail).toMatch(/attachments\.0 \(huge\.jpg\) .* at most 512 KiB/);

    const r4 = await call(DE, DE.officer.token, 'POST', '/v1/notices', { kind: 'diffusion', type: 'red', content: red('Mazur') });
    expect(r4.json()).toMatchObject({ code: 'notice-invalid', detail: expect.stringMatching(/recipients is required/) });
    const r5 = await call(DE, DE.officer.token, 'POST', '/v1/notices', { kind: 'notice', type: 'blue', content: red('Mazur'), publicExtract: true });
    expect(r5.json()).toMatchObject({ code: 'notice-invalid', detail: expect.stringMatching(/publicExtract/) });
    expect(await count(DE, 'notices')).toBe(before);
    // Each refusal of an officer's act is recorded.
    expect((await records(DE, 'notice.draft')).filter((x) => x.outcome === 'refused').length).toBeGreaterThanOrEqual(6);
  });

  it('a node that is not the secretariat cannot act as one, at its API or at the peer interface', async () => {
    // DE's reviewer on DE's own node.
    const own = await draft({ kind: 'notice', type: 'red', content: red('Dudek') });
    const r = await call(DE, deReviewer.token, 'POST', `/v1/notices/${own.id}/review`, { decision: 'publish' });
    expect([r.statusCode, r.json().code]).toEqual([403, 'notice-not-secretariat']);
    expect(r.json().detail).toMatch(/secretariat \(the node of IP\); this is the node of DE/);
    expect((await held(DE, own.id))!.status).toBe('draft');

    // FR claims to publish a notice on NL, and to place DE under supervision there.
    const id = randomUUID();
    const inboxBefore = await count(NL, 'notice_inbox');
    const notices = await count(NL, 'notices');
    const fake = await sendRaw(FR, NL, 'notice-published', { type: 'red', requestingState: 'FR', reference: 'FR-FAKE-1', entityId: '2026/99999', version: 1, publishedAt: new Date().toISOString(), expiresAt: '2031-01-01T00:00:00Z', content: red('Dudek'), publicExtract: true }, id);
    expect(fake.status).toBe(403);
    expect(JSON.parse(fake.body)).toMatchObject({ code: 'notice-not-secretariat', state: 'NL', detail: expect.stringMatching(/the node of FR is not the secretariat/) });
    const sup = await sendRaw(FR, NL, 'supervision', { state: 'DE', measure: 'placed', reason: 'x', reviewDate: '2099-01-01', decidedAt: new Date().toISOString(), version: 99 });
    expect(JSON.parse(sup.body)).toMatchObject({ code: 'notice-not-secretariat' });
    // A notice request sent to a node that is not the secretariat.
    const misdirected = await sendRaw(FR, NL, 'notice-request', { type: 'red', reference: 'FR-1', version: 1, submittedAt: new Date().toISOString(), content: red('Dudek'), publicExtract: false }, randomUUID());
    expect(JSON.parse(misdirected.body)).toMatchObject({ code: 'notice-not-secretariat', detail: expect.stringMatching(/goes to the secretariat/) });
    expect(await count(NL, 'notices')).toBe(notices);
    expect(await count(NL, 'notice_inbox')).toBe(inboxBefore);
    expect(await NL.t.node.db.selectFrom('notice_supervision').select('version').where('version', '=', 99).execute()).toEqual([]);
    // Each refusal is recorded at NL, naming FR.
    const refused = (await records(NL, 'notice.notice-published')).filter((x) => x.outcome === 'refused');
    expect(refused.at(-1)).toMatchObject({ administering_body: 'FR NCP', supplied: { refused: 'notice-not-secretariat' } });
    // A notice cannot be cancelled on other nodes by anyone but the secretariat.
    const cancelFake = await sendRaw(FR, NL, 'notice-deletion', { kind: 'notice', requestingState: 'FR', reason: 'cancelled', deletedAt: new Date().toISOString() }, randomUUID());
    expect(JSON.parse(cancelFake.body)).toMatchObject({ code: 'notice-not-secretariat' });
  });
});
