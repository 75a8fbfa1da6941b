/**
 * Federated fingerprint searches (Prüm Decision Art. 9): an officer of NL searches a latent against
 * DE's national fingerprint file over mutual TLS with signed messages; DE answers automatically with
 * its candidates above threshold and their templates, records the supply and keeps the probe only in
 * that record; NL's examiner confirms the candidate (Art. 9(2)), recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTransaction } from '../../src/fingerprint/transaction-builder.ts';
import { readMinutiaeTemplate } from '../../src/fingerprint/formats/index.ts';
import { fingerImage, fingerTemplate, iso, scratch } from '../fingerprint/support.ts';
import { createTestFederation, declaration, waitFor, type FedNode, type TestFederation } from './support.ts';

let f: TestFederation;
let DE: FedNode;
let NL: FedNode;
let files: ReturnType<typeof scratch>;

const fingerprintDeclaration = (open: boolean) =>
  declaration({
    files: [{ file: 'vehicle', conditions: 'Full keys only' }, ...(open ? [{ file: 'fingerprint' as const, conditions: 'Ten-prints and latents; minutiae templates (ISO/IEC 19794-2)' }] : [])],
    capacity: [
      { kind: 'vehicle', perDay: 1000 },
      { kind: 'fingerprint', perDay: 1000 },
    ],
    contactPoint: { name: 'NCP DE' },
  });

beforeAll(async () => {
  f = await createTestFederation({ DE: [], NL: [] });
  DE = f.nodes.DE!;
  NL = f.nodes.NL!;
  files = scratch('openprum-fed-fp-');
  await (await DE.t.node.fingerprints()).importFiles([
    files.write('p1.an2', buildTransaction({ tcn: 'DE-P-1', fingers: [{ position: 2, image: fingerImage(12) }, { position: 3, template: fingerTemplate(13) }] })),
    files.write('DE-P-2.iso', iso(fingerTemplate(22, 1, 2))),
    files.write('DE-P-3.iso', iso(fingerTemplate(32, 1, 5))),
  ]);
  await DE.fed.publishDeclaration(fingerprintDeclaration(true));
  await NL.fed.refreshDeclarations();
}, 180_000);
afterAll(async () => {
  await f?.close();
  files?.remove();
});

const auth = () => ({ authorization: `Bearer ${NL.officer.token}` });
const search = (query: unknown, purpose = 'prevention-and-investigation-of-criminal-offences') =>
  NL.api.inject({ method: 'POST', url: '/v1/federation/searches', headers: auth(), payload: { kind: 'fingerprint', targets: ['DE'], query, purpose, reason: 'Case 2026/42: latent on a window frame', orderedBy: 'Prosecutor M. Bakker' } });

interface Candidate {
  ref: string;
  kind: string;
  hit: boolean;
  fmr: number;
  fingers: Array<{ probePosition: number; position: number; template?: string }>;
}
type Target = { state: string; status: string; hit: boolean | null; messageId: string; result: { candidates: Candidate[] } | null; error: { code: string } | null };

async function answered(id: string): Promise<Target> {
  const v = await waitFor(
    async () => (await NL.api.inject({ method: 'GET', url: `/v1/federation/searches/${id}`, headers: auth() })).json() as { targets: Target[] },
    (x) => x.targets.every((t) => t.status !== 'pending'),
    60_000,
  );
  return v.targets[0]!;
}

describe('federated fingerprint search (Prüm Decision Art. 9)', () => {
  let searchId: string;

  it("finds DE's person from an NL latent, with the templates needed to confirm, recorded on both sides", async () => {
    const latent = Buffer.from(iso(fingerTemplate(22, 3))).toString('base64');
    const r = await search({ probe: { ref: 'NL-LAT-42', kind: 'unidentified', fingers: [{ template: latent }] } });
    expect(r.statusCode, r.body).toBe(202);
    searchId = r.json().id;
    // What NL stored and sent: minutiae templates in the wire form, nothing else.
    expect(r.json().query.probe.fingers).toEqual([{ position: 0, template: expect.stringMatching(/^[A-Za-z0-9+/]+={0,2}$/) }]);
    const t = await answered(searchId);
    expect(t.status, JSON.stringify(t.error)).toBe('answered');
    expect(t.hit).toBe(true);
    // Only candidates above DE's threshold are supplied.
    expect(t.result!.candidates.map((c) => c.ref)).toEqual(['DE-P-2']);
    const c = t.result!.candidates[0]!;
    expect(c).toMatchObject({ kind: 'reference', hit: true, fingers: [{ probePosition: 0, position: 2 }] });
    expect(readMinutiaeTemplate(Buffer.from(c.fingers[0]!.template!, 'base64')).minutiae.length).toBe(40);

    // DE (administering the file) recorded the incoming supply with NL as searching body.
    const de = await DE.t.node.db.selectFrom('records').selectAll().where('action', '=', 'fingerprint.search').where('request_id', '=', t.messageId).execute();
    expect(de).toHaveLength(1);
    expect(de[0]).toMatchObject({ direction: 'incoming', searching_body: 'NL NCP', administering_body: 'DE fingerprint file', hit: true, officer_id: null });
    // The supplied latent is kept by DE only in that record: not in its file, not as a search of its own.
    expect(await DE.t.node.db.selectFrom('fingerprint_persons').select('ref').where('ref', '=', 'NL-LAT-42').execute()).toEqual([]);
    expect(await DE.t.node.db.selectFrom('fingerprint_searches').select('id').execute()).toEqual([]);
    // NL recorded its outgoing search with the answer.
    const nl = await NL.t.node.db.selectFrom('records').selectAll().where('action', '=', 'fingerprint.search').where('request_id', '=', t.messageId).execute();
    expect(nl.map((x) => [x.direction, x.outcome])).toContainEqual(['outgoing', 'hit']);
  }, 120_000);

  it("lets NL's examiner confirm DE's candidate (Art. 9(2)), recorded, and shows it in the fingerprint view", async () => {
    const d = await NL.api.inject({
      method: 'POST',
      url: `/v1/fingerprints/searches/${searchId}/candidates/DE-P-2/decision`,
      headers: auth(),
      payload: { decision: 'confirmed', note: '12 points in agreement' },
    });
    expect(d.statusCode, d.body).toBe(201);
    expect(d.json()).toMatchObject({ state: 'DE', ref: 'DE-P-2', decision: 'confirmed' });
    const rec = await NL.t.node.db.selectFrom('records').selectAll().where('id', '=', d.json().recordId).executeTakeFirstOrThrow();
    // The confirmation of DE's hit, the one a follow-up request for the person's data requires.
    expect(rec).toMatchObject({ action: 'hit.confirmation', administering_body: 'DE NCP', searching_body: 'NL NCP' });
    const v = (await NL.api.inject({ method: 'GET', url: `/v1/fingerprints/searches/${searchId}`, headers: auth() })).json();
    expect(v).toMatchObject({ scope: 'federated', states: [{ state: 'DE', status: 'answered', hit: true, candidates: [{ ref: 'DE-P-2', decision: { decision: 'confirmed' } }] }] });
    const hits = (await NL.api.inject({ method: 'GET', url: `/v1/federation/searches/${searchId}/hits`, headers: auth() })).json();
    expect(hits.hits).toContainEqual(expect.objectContaining({ state: 'DE', requestedReference: 'DE-P-2', confirmation: expect.objectContaining({ verdict: 'confirmed' }) }));
    // Decided once, whichever route is used.
    const again = await NL.api.inject({ method: 'POST', url: `/v1/federation/searches/${searchId}/confirmations`, headers: auth(), payload: { state: 'DE', requestedReference: 'DE-P-2', verdict: 'rejected', note: 'second look' } });
    expect(again.statusCode, again.body).toBe(409);
  });

  it('sends a ten-print transaction as templates and answers no hit for an unknown person', async () => {
    // A ten-print transaction of Type-9 minutiae goes out as templates.
    const tx = buildTransaction({ tcn: 'NL-CASE-7', fingers: [{ position: 2, template: fingerTemplate(77) }, { position: 3, template: fingerTemplate(78) }] });
    const r = await search({ probe: { ref: 'NL-CASE-7', kind: 'reference', transaction: tx.toString('base64') } });
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json().query.probe.fingers.map((x: { position: number }) => x.position)).toEqual([2, 3]);
    const t = await answered(r.json().id);
    expect(t).toMatchObject({ status: 'answered', hit: false, result: { candidates: [] } });
  }, 120_000);

  it('refuses before sending: another purpose, a bad template; and a state that keeps its file closed', async () => {
    const tpl = Buffer.from(iso(fingerTemplate(22, 3))).toString('base64');
    const wrongPurpose = await search({ probe: { ref: 'NL-LAT-43', kind: 'unidentified', fingers: [{ template: tpl }] } }, 'public-security');
    expect(wrongPurpose.statusCode).toBe(400);
    const empty = await search({ probe: { ref: 'NL-LAT-44', kind: 'unidentified', fingers: [{ template: Buffer.from(iso({ ...fingerTemplate(1), minutiae: [] })).toString('base64') }] } });
    expect(empty.statusCode).toBe(422);
    expect(empty.json().code).toBe('fingerprint-minutiae-too-few');

    await DE.fed.publishDeclaration(fingerprintDeclaration(false));
    await NL.fed.refreshDeclarations();
    const closed = await search({ probe: { ref: 'NL-LAT-45', kind: 'unidentified', fingers: [{ template: tpl }] } });
    expect(closed.statusCode).toBe(202);
    expect(closed.json().targets[0]).toMatchObject({ status: 'refused', error: { code: 'peer-file-closed' } });
  }, 60_000);
});
