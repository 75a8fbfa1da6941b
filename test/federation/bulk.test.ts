/**
 * Bulk comparison of DNA profiles between states (Prüm Decision Art. 4), end to end over the real
 * federation transport (mutual TLS 1.3 on loopback, signed messages): NL compares its unidentified
 * profiles with DE's national DNA file. Consent from DE's declaration, the hits (against a brute
 * force written apart from the engine), mode "new" by the change-log watermark, a resume after NL
 * stops mid-run, idempotent retries, malformed chunks, a peer that is down, the nightly schedule and
 * DE's daily limit; every chunk recorded once on each side.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inclusionOf, parseProfile, type DnaProfile } from '../../src/dna/profile.ts';
import { bruteForceHits, randomProfiles } from '../../src/dna/test-helpers.ts';
import type { BulkComparisonView, BulkHitView, BulkOptions } from '../../src/exchange/bulk.ts';
import { BULK_MAX_CHUNK, type BulkChunk } from '../../src/exchange/bulk-messages.ts';
import { Federation } from '../../src/exchange/federation.ts';
import { signDetached, verifyDetached } from '../../src/exchange/jws.ts';
import { PROTOCOL } from '../../src/exchange/messages.ts';
import { PeerClient } from '../../src/exchange/peer-client.ts';
import { createTestFederation, declaration, TEST_OPTIONS, waitFor, type FedNode, type TestFederation } from './support.ts';

let f: TestFederation;
let DE: FedNode;
let NL: FedNode;
let dir: string;
let nlClient: PeerClient;

// DE's national file and NL's: profiles over one pool of persons, so that NL's stains hit DE's
// references and stains of every quality; plus stains planted as exact copies of DE references.
const pool: Map<string, string[]>[] = [];
const deProfiles = randomProfiles(31, 80, 'DE', pool, { alleles: 8 }).filter((p) => inclusionOf(p).ok);
const nlProfiles = randomProfiles(32, 60, 'NL', pool, { alleles: 8, copyRate: 0.7 }).filter((p) => inclusionOf(p).ok);
const deReferences = deProfiles.filter((p) => p.kind === 'reference');
const planted: DnaProfile[] = deReferences.slice(0, 3).map((p, i) => ({ ref: `NL-PLANT-${i}`, kind: 'unidentified', loci: p.loci }));
const nlStains = [...nlProfiles.filter((p) => p.kind === 'unidentified'), ...planted];
// Added later, for mode "new".
const newStains: DnaProfile[] = [
  ...deReferences.slice(3, 5).map((p, i) => ({ ref: `NL-NEW-${i}`, kind: 'unidentified' as const, loci: p.loci })),
  ...randomProfiles(33, 10, 'NL-NEWR', undefined, { alleles: 8 })
    .filter((p) => inclusionOf(p).ok)
    .slice(0, 2)
    .map((p) => ({ ...p, kind: 'unidentified' as const })),
];

const pairs = (hits: ReadonlyArray<{ a: string; b: string }>) => hits.map((h) => `${h.a}|${h.b}`).sort();
const expectedAll = () => pairs(bruteForceHits([...nlStains, ...newStains], deProfiles));

const bulkDeclaration = (bulk: { states: string[] | 'all'; maxProfilesPerDay: number } | undefined) =>
  declaration({
    files: [
      { file: 'vehicle', conditions: 'Full keys only' },
      { file: 'dna-reference', conditions: 'Matching rule of OpenPrüm src/dna/README.md' },
      { file: 'dna-unidentified', conditions: 'Matching rule of OpenPrüm src/dna/README.md' },
    ],
    capacity: [
      { kind: 'vehicle', perDay: 1000 },
      { kind: 'dna', perDay: 1000 },
    ],
    contactPoint: { name: 'NCP DE' },
    ...(bulk ? { bulkComparison: bulk } : {}),
  });

async function importProfiles(node: FedNode, name: string, profiles: readonly DnaProfile[]) {
  const file = join(dir, name);
  writeFileSync(file, profiles.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const r = await (await node.t.node.dna()).importFile(file);
  expect(r.refused).toEqual([]);
}

/** NL's federation again on the same database and port, with other bulk options. */
async function restartNl(bulk: BulkOptions) {
  const port = Number(new URL(NL.fed.peerUrl).port);
  await NL.fed.close();
  NL.fed = await Federation.start(NL.t.node, { ...TEST_OPTIONS, dir: NL.fedDir, peerPort: port, bulk });
}

async function consent(bulk: { states: string[] | 'all'; maxProfilesPerDay: number } | undefined) {
  await DE.fed.publishDeclaration(bulkDeclaration(bulk));
  await NL.fed.refreshDeclarations();
}

const admin = () => ({ authorization: `Bearer ${NL.t.adminToken}` });
const officer = () => ({ authorization: `Bearer ${NL.officer.token}` });

async function start(body: Record<string, unknown>, headers = admin()) {
  return NL.api.inject({ method: 'POST', url: '/v1/federation/bulk-comparisons', headers, payload: body });
}

async function status(id: string): Promise<BulkComparisonView> {
  const r = await NL.api.inject({ method: 'GET', url: `/v1/federation/bulk-comparisons/${id}`, headers: officer() });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as BulkComparisonView;
}

const until = (id: string, pred: (v: BulkComparisonView) => boolean, ms = 60_000) => waitFor(() => status(id), pred, ms);
const ended = (v: BulkComparisonView) => !['opening', 'running'].includes(v.status);

async function hitsOf(id: string): Promise<BulkHitView[]> {
  const out: BulkHitView[] = [];
  let after = 0;
  for (;;) {
    const r = await NL.api.inject({ method: 'GET', url: `/v1/federation/bulk-comparisons/${id}/hits?after=${after}&limit=1000`, headers: officer() });
    expect(r.statusCode, r.body).toBe(200);
    const page = (r.json() as { hits: BulkHitView[] }).hits;
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.id;
  }
}

async function chunkIds(id: string): Promise<string[]> {
  return (await NL.t.node.db.selectFrom('dna_bulk_chunks').select('message_id').where('comparison_id', '=', id).orderBy('idx').execute()).map((r) => r.message_id);
}

async function countRecords(node: FedNode, action: string, requestIds: string[]): Promise<number> {
  if (requestIds.length === 0) return 0;
  const r = await node.t.node.db.selectFrom('records').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', action).where('request_id', 'in', requestIds).executeTakeFirstOrThrow();
  return Number(r.n);
}

beforeAll(async () => {
  f = await createTestFederation({ DE: [], NL: [] });
  DE = f.nodes.DE!;
  NL = f.nodes.NL!;
  dir = mkdtempSync(join(tmpdir(), 'openprum-fed-bulk-'));
  await importProfiles(DE, 'de.jsonl', deProfiles);
  // NL's file: its stains and its references (references are never supplied in an Art. 4 comparison).
  await importProfiles(NL, 'nl.jsonl', [...nlProfiles, ...planted]);
  await restartNl({ chunkSize: 7 });
  nlClient = new PeerClient({ keyPem: NL.creds.keyPem, certPem: NL.creds.certPem, caPem: NL.fed.trust().caPem, crlPem: NL.fed.trust().crlPem }, NL.fed.trust(), { answerTimeoutMs: 20_000 });
}, 180_000);

afterAll(async () => {
  await nlClient?.close();
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bulk comparison of DNA profiles (Prüm Decision Art. 4)', () => {
  it('needs an admin, a peer state and a mode', async () => {
    expect((await start({ state: 'DE', mode: 'all' }, officer())).statusCode).toBe(403);
    const own = await start({ state: 'NL', mode: 'all' });
    expect(own.statusCode).toBe(400);
    expect(own.json().code).toBe('bulk-comparison-invalid');
    expect((await start({ state: 'FR', mode: 'all' })).json().code).toBe('peer-unknown');
    expect((await start({ state: 'DE', mode: 'some' })).statusCode).toBe(400);
  });

  it('is refused without DE\'s consent, with a signed refusal recorded on both sides, and no profile is sent', async () => {
    await consent({ states: ['FR'], maxProfilesPerDay: 100_000 });
    const r = await start({ state: 'DE', mode: 'all', reason: 'Art. 4 comparison 2026/1', orderedBy: 'Head of NCP' });
    expect(r.statusCode, r.body).toBe(202);
    const v = await until(r.json().id, ended);
    expect(v.status).toBe('refused');
    expect(v.error?.code).toBe('peer-bulk-not-consented');
    expect(v.error?.detail).toMatch(/has not consented to a bulk comparison of DNA profiles with NL/);
    expect(v.error?.detail).not.toMatch(/not signed/);
    expect(v.chunks).toMatchObject({ answered: 0, cancelled: v.chunks.total });
    const open = await NL.t.node.db.selectFrom('dna_bulk_comparisons').select('open_message_id').where('id', '=', v.id).executeTakeFirstOrThrow();
    const nlRec = await NL.t.node.db.selectFrom('records').selectAll().where('request_id', '=', open.open_message_id).execute();
    expect(nlRec.map((x) => [x.action, x.direction, x.outcome, x.officer_reference, x.reason])).toEqual([['dna.bulk-comparison.open', 'outgoing', 'refused', 'admin', 'Art. 4 comparison 2026/1']]);
    const deRec = await DE.t.node.db.selectFrom('records').selectAll().where('request_id', '=', open.open_message_id).execute();
    expect(deRec.map((x) => [x.action, x.direction, x.searching_body, x.outcome])).toEqual([['dna.bulk-comparison.open', 'incoming', 'NL NCP', 'refused']]);
    // Nothing was compared at DE, nothing kept.
    expect(await countRecords(DE, 'dna.bulk-comparison', await chunkIds(v.id))).toBe(0);
    expect(await DE.t.node.db.selectFrom('federation_inbox').select('message_id').where('requesting_state', '=', 'NL').execute()).toEqual([]);
  }, 120_000);

  let firstId = '';

  it('finds the stains\' hits in DE\'s file, once each, and records every chunk once on each side', async () => {
    await consent({ states: ['NL'], maxProfilesPerDay: 100_000 });
    const r = await start({ state: 'DE', mode: 'all' });
    expect(r.statusCode, r.body).toBe(202);
    firstId = r.json().id;
    const v = await until(firstId, ended);
    expect(v.status).toBe('completed');
    expect(v.profiles).toBe(nlStains.length);
    expect(v.chunks).toMatchObject({ total: Math.ceil(nlStains.length / 7), done: Math.ceil(nlStains.length / 7), pending: 0 });
    expect(v.profilesCompared).toBe(nlStains.length);
    expect(v.finishedAt).not.toBeNull();

    const expected = pairs(bruteForceHits(nlStains, deProfiles));
    expect(expected.length).toBeGreaterThan(3);
    const hits = await hitsOf(firstId);
    expect(pairs(hits.map((h) => ({ a: h.ownRef, b: h.peerRef })))).toEqual(expected);
    expect(v.hits).toBe(expected.length);
    // The planted copies of DE references: exact matches with the reference data on both sides.
    for (const p of planted) {
      const h = hits.find((x) => x.ownRef === p.ref)!;
      expect(h).toMatchObject({ state: 'DE', peerKind: 'reference', mismatches: 0 });
      expect(['match', 'wildcard-match']).toContain(h.quality);
      expect(h.peerProfile.ref).toBe(h.peerRef);
      expect(h.answerReference).toMatch(/^DE-R\d+$/);
      // Addressable by id, for the follow-up request (Art. 5).
      const one = await NL.api.inject({ method: 'GET', url: `/v1/federation/bulk-hits/${h.id}`, headers: officer() });
      expect(one.json()).toMatchObject({ id: h.id, ownRef: p.ref, peerRef: h.peerRef, comparisonId: firstId });
    }
    // Only unidentified profiles were supplied.
    const supplied = await DE.t.node.db.selectFrom('records').select('query').where('action', '=', 'dna.bulk-comparison').where('request_id', 'in', await chunkIds(firstId)).execute();
    const sentRefs = supplied.flatMap((s) => (s.query.profiles as DnaProfile[]).map((p) => p.kind));
    expect(new Set(sentRefs)).toEqual(new Set(['unidentified']));

    const ids = await chunkIds(firstId);
    expect(await countRecords(DE, 'dna.bulk-comparison', ids)).toBe(ids.length);
    expect(await countRecords(NL, 'dna.bulk-comparison', ids)).toBe(ids.length);
    // DE keeps nothing of the stains but its records and the signed messages that prove them.
    expect(await DE.t.node.db.selectFrom('dna_profiles').select('ref').where('ref', 'like', 'NL-%').execute()).toEqual([]);
    // The copy of the profiles at NL is dropped once a chunk is answered.
    expect(await NL.t.node.db.selectFrom('dna_bulk_chunks').select('id').where('comparison_id', '=', firstId).where('profiles', 'is not', null).execute()).toEqual([]);
    // The list and the CLI's view.
    const list = await NL.api.inject({ method: 'GET', url: '/v1/federation/bulk-comparisons?state=DE', headers: admin() });
    expect((list.json() as { comparisons: BulkComparisonView[] }).comparisons[0]!.id).toBe(firstId);
  }, 120_000);

  let newId = '';

  it('mode "new" sends only the profiles added since the last completed comparison', async () => {
    await importProfiles(NL, 'nl-new.jsonl', newStains);
    const r = await start({ state: 'DE', mode: 'new' });
    expect(r.statusCode, r.body).toBe(202);
    newId = r.json().id;
    const v = await until(newId, ended);
    expect(v.status).toBe('completed');
    expect(v.profiles).toBe(newStains.length);
    const first = await status(firstId);
    expect(v.watermark.from).toBe(first.watermark.to);
    const hits = await hitsOf(newId);
    expect(pairs(hits.map((h) => ({ a: h.ownRef, b: h.peerRef })))).toEqual(pairs(bruteForceHits(newStains, deProfiles)));
    const supplied = await DE.t.node.db.selectFrom('records').select('query').where('action', '=', 'dna.bulk-comparison').where('request_id', 'in', await chunkIds(newId)).execute();
    expect(supplied.flatMap((s) => (s.query.profiles as DnaProfile[]).map((p) => p.ref)).sort()).toEqual(newStains.map((p) => p.ref).sort());

    // Nothing new since: nothing to send, done at once.
    const again = await start({ state: 'DE', mode: 'new' });
    expect(again.json()).toMatchObject({ status: 'completed', profiles: 0, chunks: { total: 0 } });
  }, 120_000);

  it('resumes after the requesting node stops mid-run: every chunk answered once, every hit once', async () => {
    await restartNl({ chunkSize: 3, pauseBetweenChunksMs: 2_000 });
    const r = await start({ state: 'DE', mode: 'all' });
    expect(r.statusCode, r.body).toBe(202);
    const id = r.json().id as string;
    await until(id, (v) => v.chunks.done >= 1);
    await NL.fed.close();
    const stopped = await status(id);
    expect(stopped.status).toBe('running');
    expect(stopped.chunks.done).toBeLessThan(stopped.chunks.total);
    expect(stopped.chunks.done).toBeGreaterThanOrEqual(1);

    await restartNl({ chunkSize: 3 });
    const v = await until(id, ended);
    expect(v.status).toBe('completed');
    expect(v.chunks).toMatchObject({ total: Math.ceil((nlStains.length + newStains.length) / 3), pending: 0 });
    expect(v.chunks.done).toBe(v.chunks.total);
    const ids = await chunkIds(id);
    expect(await countRecords(DE, 'dna.bulk-comparison', ids)).toBe(ids.length);
    expect(await countRecords(NL, 'dna.bulk-comparison', ids)).toBe(ids.length);
    const hits = await hitsOf(id);
    expect(pairs(hits.map((h) => ({ a: h.ownRef, b: h.peerRef })))).toEqual(expectedAll());
    expect(v.hits).toBe(hits.length);
  }, 180_000);

  it('a chunk sent again after a crash gets the stored answer: neither compared nor stored twice', async () => {
    // As if NL had crashed after DE answered chunk 0 but before NL stored the answer.
    const db = NL.t.node.db;
    const chunk = await db.selectFrom('dna_bulk_chunks').selectAll().where('comparison_id', '=', firstId).where('idx', '=', 0).executeTakeFirstOrThrow();
    const profiles = await db.selectFrom('dna_profiles').select(['ref', 'loci']).where('ref', 'in', chunk.refs).orderBy('ref').execute();
    const byRef = new Map(profiles.map((p) => [p.ref, { ref: p.ref, kind: 'unidentified', loci: p.loci }]));
    const hitsBefore = (await hitsOf(firstId)).length;
    await db
      .updateTable('dna_bulk_chunks')
      .set({ status: 'pending', profiles: JSON.stringify(chunk.refs.map((ref) => byRef.get(ref))), attempts: 0, next_attempt_at: new Date() })
      .where('id', '=', chunk.id)
      .execute();
    await db.updateTable('dna_bulk_comparisons').set({ status: 'pending', phase: 'running', finished_at: null, next_attempt_at: new Date() }).where('id', '=', firstId).execute();
    NL.fed.bulk.kick();
    const v = await until(firstId, ended);
    expect(v.status).toBe('completed');
    expect(await countRecords(DE, 'dna.bulk-comparison', [chunk.message_id])).toBe(1);
    expect(await countRecords(DE, 'dna.bulk-comparison.repeat', [chunk.message_id])).toBe(1);
    expect((await hitsOf(firstId)).length).toBe(hitsBefore);
    const inbox = await DE.t.node.db.selectFrom('federation_inbox').select('message_id').where('message_id', '=', chunk.message_id).execute();
    expect(inbox).toHaveLength(1);
  }, 120_000);

  const chunkMessage = (profiles: unknown[], overrides: Partial<BulkChunk> = {}): BulkChunk => ({
    protocol: PROTOCOL,
    type: 'bulk-chunk',
    messageId: randomUUID(),
    sentAt: new Date().toISOString(),
    requestingState: 'NL',
    requestedState: 'DE',
    reference: `NL-BULK-TEST-${randomUUID().slice(0, 8)}`,
    requestedAt: new Date().toISOString(),
    purpose: 'investigation-of-criminal-offences',
    chunk: { index: 0, count: 1 },
    profiles: profiles as BulkChunk['profiles'],
    ...overrides,
  });
  const sendRaw = (path: string, message: unknown) => {
    const body = typeof message === 'string' ? message : JSON.stringify(message);
    return nlClient.exchange('DE', `${DE.fed.peerUrl}${path}`, 'POST', { body, jws: signDetached(body, { key: NL.creds.key, cert: NL.creds.cert }) });
  };
  // As a node sends them: normalised (two values a locus), as stored in its national file.
  const stain = (p: DnaProfile) => ({ ref: p.ref, kind: 'unidentified', loci: parseProfile(p).loci as Record<string, [string, string]> });

  it('answers a retried chunk from the store, and refuses another message under a used id', async () => {
    const m = chunkMessage([stain(planted[0]!), stain(nlStains[0]!)]);
    const a = await sendRaw('/peer/v1/bulk-chunks', m);
    expect(a.status, a.body).toBe(200);
    expect(verifyDetached(a.jws, a.body, NL.fed.trust()).country).toBe('DE');
    const b = await sendRaw('/peer/v1/bulk-chunks', { ...m, sentAt: new Date().toISOString() });
    expect(b.status).toBe(200);
    expect(b.body).toBe(a.body);
    expect(JSON.parse(a.body)).toMatchObject({ type: 'bulk-answer', inReplyTo: m.messageId, compared: 2, hit: true });
    expect(await countRecords(DE, 'dna.bulk-comparison', [m.messageId])).toBe(1);
    expect(await countRecords(DE, 'dna.bulk-comparison.repeat', [m.messageId])).toBe(1);
    const conflict = await sendRaw('/peer/v1/bulk-chunks', { ...m, profiles: [stain(planted[1]!)] });
    expect(conflict.status).toBe(409);
    expect(JSON.parse(conflict.body)).toMatchObject({ code: 'peer-message-conflict', inReplyTo: m.messageId });
  }, 60_000);

  it('refuses a malformed chunk whole, with a clear signed error, and keeps nothing of it', async () => {
    const inboxBefore = Number((await DE.t.node.db.selectFrom('federation_inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const usageBefore = await DE.t.node.db.selectFrom('federation_usage').selectAll().where('kind', '=', 'dna-bulk').execute();
    const good = stain(nlStains[1]!);
    const cases: Array<[string, BulkChunk | string, number, string, RegExp]> = [
      ['bad allele', chunkMessage([good, { ref: 'NL-BAD-1', kind: 'unidentified', loci: { ...good.loci, D3S1358: ['15', 'abc'] } }]), 400, 'peer-message-invalid', /profiles\[1\] \(ref "NL-BAD-1"\).*abc/],
      ['too few loci', chunkMessage([{ ref: 'NL-BAD-2', kind: 'unidentified', loci: { D3S1358: ['15', '16'], vWA: ['17', '18'] } }]), 400, 'peer-message-invalid', /profiles\[0\]: profile NL-BAD-2 .*cannot be compared/],
      ['personal data', chunkMessage([{ ...good, name: 'Jan Jansen' }]), 400, 'peer-message-invalid', /unknown field "name"/],
      ['a reference profile', chunkMessage([{ ...good, kind: 'reference' }]), 400, 'peer-message-invalid', /profiles\[0\] .* is a reference profile.*Art\. 4\(1\)/],
      ['the same reference twice', chunkMessage([good, good]), 400, 'peer-message-invalid', /repeats the reference/],
      ['too many profiles', chunkMessage(Array.from({ length: BULK_MAX_CHUNK + 1 }, (_, i) => ({ ...good, ref: `NL-MANY-${i}` }))), 400, 'peer-message-invalid', /profiles/],
      ['too large', JSON.stringify({ ...chunkMessage([good]), padding: 'x'.repeat(3 * 1024 * 1024) }), 413, 'input-too-large', /larger than this endpoint accepts/],
    ];
    for (const [what, message, statusCode, code, detail] of cases) {
      const r = await sendRaw('/peer/v1/bulk-chunks', message);
      expect(r.status, `${what}: ${r.body}`).toBe(statusCode);
      const problem = JSON.parse(r.body) as { code: string; detail: string; inReplyTo?: string };
      expect(problem.code, what).toBe(code);
      expect(problem.detail, what).toMatch(detail);
      expect(verifyDetached(r.jws, r.body, NL.fed.trust()).country).toBe('DE');
      if (typeof message !== 'string') {
        // The refusal is recorded at DE (with the message's identity, none of its profiles).
        const rec = await DE.t.node.db.selectFrom('records').selectAll().where('request_id', '=', message.messageId).execute();
        expect(rec.map((x) => [x.action, x.outcome]), what).toEqual([['dna.bulk-comparison', 'refused']]);
        expect(JSON.stringify(rec[0]!.query)).not.toContain('D3S1358');
      }
    }
    // Nothing stored: no kept answer, no capacity used, no profile.
    expect(Number((await DE.t.node.db.selectFrom('federation_inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)).toBe(inboxBefore);
    expect(await DE.t.node.db.selectFrom('federation_usage').selectAll().where('kind', '=', 'dna-bulk').execute()).toEqual(usageBefore);
    expect(await DE.t.node.db.selectFrom('dna_profiles').select('ref').where('ref', 'like', 'NL-%').execute()).toEqual([]);
  }, 60_000);

  it('retries a state that is down with back-off until it answers', async () => {
    await f.stop('DE');
    const r = await start({ state: 'DE', mode: 'all' });
    const id = r.json().id as string;
    const waiting = await until(id, (v) => v.error?.code === 'peer-unreachable');
    expect(waiting.status).toBe('opening');
    await f.start('DE');
    DE = f.nodes.DE!;
    const v = await until(id, ended);
    expect(v.status).toBe('completed');
    const attempts = await NL.t.node.db.selectFrom('dna_bulk_comparisons').select('attempts').where('id', '=', id).executeTakeFirstOrThrow();
    expect(attempts.attempts).toBeGreaterThan(1);
    expect(pairs((await hitsOf(id)).map((h) => ({ a: h.ownRef, b: h.peerRef })))).toEqual(expectedAll());
  }, 120_000);

  it('starts the nightly comparison (mode new) once a day', async () => {
    await restartNl({ chunkSize: 3, nightly: { nightlyAt: '00:00', states: ['DE'], orderedBy: 'Head of NCP (schedule)' }, scheduleCheckMs: 3_600_000 });
    const scheduled = await waitFor(
      () => NL.t.node.db.selectFrom('dna_bulk_comparisons').selectAll().where('origin', '=', 'schedule').execute(),
      (rows) => rows.length === 1 && rows[0]!.status !== 'pending',
    );
    expect(scheduled[0]).toMatchObject({ mode: 'new', status: 'completed', ordered_by: 'Head of NCP (schedule)', scheduled_day: new Date().toISOString().slice(0, 10) });
    // Once a day: a second look finds today's done.
    expect(await NL.fed.bulk.runSchedule()).toEqual([]);
    expect(await NL.t.node.db.selectFrom('dna_bulk_comparisons').select('id').where('origin', '=', 'schedule').execute()).toHaveLength(1);
  }, 60_000);

  it('waits for the next day when DE\'s declared profiles a day are used up', async () => {
    const used = await DE.t.node.db.selectFrom('federation_usage').select('used').where('kind', '=', 'dna-bulk').where('requesting_state', '=', 'NL').where('day', '=', sql<string>`current_date`).executeTakeFirst();
    await consent({ states: 'all', maxProfilesPerDay: (used?.used ?? 0) + 4 });
    await restartNl({ chunkSize: 3 });
    const r = await start({ state: 'DE', mode: 'all' });
    const id = r.json().id as string;
    const v = await until(id, (x) => x.errors.some((e) => e.code === 'peer-capacity-exceeded'));
    expect(v.status).toBe('running');
    expect(v.chunks.done).toBe(1);
    expect(Date.parse(v.nextAttemptAt!)).toBeGreaterThan(Date.now() + 60_000);
    expect(v.errors[0]).toMatchObject({ index: 1, status: 'pending', code: 'peer-capacity-exceeded' });
    // A refusal for capacity is recorded at DE and not kept: the same chunk is taken the next day.
    const second = (await chunkIds(id))[1]!;
    expect(await DE.t.node.db.selectFrom('federation_inbox').select('message_id').where('message_id', '=', second).execute()).toEqual([]);
    const refusals = await DE.t.node.db.selectFrom('records').select('outcome').where('request_id', '=', second).execute();
    expect(refusals.map((x) => x.outcome)).toEqual(['refused']);
    // Another comparison with DE waits for this one.
    expect((await start({ state: 'DE', mode: 'new' })).statusCode).toBe(409);
  }, 60_000);
});
