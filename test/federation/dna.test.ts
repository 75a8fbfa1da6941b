/**
 * Federated DNA searches (Prüm Decision Art. 3): an officer of NL searches a stain against DE's
 * national DNA file over mutual TLS with signed messages; DE answers automatically with the matching
 * reference data, compares only against the files it declared open, and both sides record the supply.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inclusionOf } from '../../src/dna/profile.ts';
import { randomProfiles } from '../../src/dna/test-helpers.ts';
import { createTestFederation, declaration, waitFor, type FedNode, type TestFederation } from './support.ts';

let f: TestFederation;
let DE: FedNode;
let NL: FedNode;
let dir: string;
const persons = randomProfiles(11, 60, 'DE-P-')
  .map((p) => ({ ...p, kind: 'reference' as const }))
  .filter((p) => inclusionOf(p).ok)
  .slice(0, 5);
const traces = randomProfiles(12, 60, 'DE-T-')
  .map((p) => ({ ...p, kind: 'unidentified' as const }))
  .filter((p) => inclusionOf(p).ok)
  .slice(0, 5);

const dnaDeclaration = (files: Array<'dna-reference' | 'dna-unidentified'>) =>
  declaration({
    files: [{ file: 'vehicle', conditions: 'Full keys only' }, ...files.map((file) => ({ file, conditions: 'Matching rule of OpenPrüm src/dna/README.md' }))],
    capacity: [
      { kind: 'vehicle', perDay: 1000 },
      { kind: 'dna', perDay: 1000 },
    ],
    contactPoint: { name: 'NCP DE' },
  });

beforeAll(async () => {
  f = await createTestFederation({ DE: [], NL: [] });
  DE = f.nodes.DE!;
  NL = f.nodes.NL!;
  dir = mkdtempSync(join(tmpdir(), 'openprum-fed-dna-'));
  const file = join(dir, 'de.jsonl');
  writeFileSync(file, [...persons, ...traces].map((p) => JSON.stringify(p)).join('\n') + '\n');
  await (await DE.t.node.dna()).importFile(file);
}, 180_000);
afterAll(async () => {
  await f?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function search(profile: unknown, purpose = 'investigation-of-criminal-offences') {
  return NL.api.inject({
    method: 'POST',
    url: '/v1/federation/searches',
    headers: { authorization: `Bearer ${NL.officer.token}` },
    payload: { kind: 'dna', targets: ['DE'], query: { profile }, purpose, reason: 'Case 2026/42: stain at a burglary', orderedBy: 'Prosecutor M. Bakker' },
  });
}

type View = { targets: Array<{ state: string; status: string; hit: boolean | null; result: { hits: Array<{ ref: string; kind: string; quality: string; profile: { ref: string } }> } | null; messageId: string }> };

async function answered(id: string): Promise<View['targets'][number]> {
  const v = await waitFor(
    async () => (await NL.api.inject({ method: 'GET', url: `/v1/federation/searches/${id}`, headers: { authorization: `Bearer ${NL.officer.token}` } })).json() as View,
    (x) => x.targets.every((t) => t.status !== 'pending'),
    60_000,
  );
  return v.targets[0]!;
}

describe('federated DNA search (Prüm Decision Art. 3)', () => {
  it('finds a person of DE from an NL stain and records the supply on both sides', async () => {
    await DE.fed.publishDeclaration(dnaDeclaration(['dna-reference', 'dna-unidentified']));
    await NL.fed.refreshDeclarations();
    const person = persons[2]!;
    const r = await search({ ref: 'NL-STAIN-42', kind: 'unidentified', loci: person.loci });
    expect(r.statusCode, r.body).toBe(202);
    const t = await answered(r.json().id);
    expect(t.status).toBe('answered');
    expect(t.hit).toBe(true);
    const hit = t.result!.hits.find((h) => h.ref === person.ref)!;
    expect(hit).toMatchObject({ kind: 'reference', profile: { ref: person.ref } });
    expect(['match', 'wildcard-match']).toContain(hit.quality);
    // DE (administering the file) recorded the incoming supply with NL as searching body.
    const de = await DE.t.node.db.selectFrom('records').selectAll().where('action', '=', 'dna.search').where('request_id', '=', t.messageId).execute();
    expect(de).toHaveLength(1);
    expect(de[0]).toMatchObject({ direction: 'incoming', searching_body: 'NL NCP', administering_body: 'DE DNA file', hit: true, officer_id: null });
    // The supplied profile is kept by DE only in that record (Art. 26(2)): not in its national file.
    expect(await DE.t.node.db.selectFrom('dna_profiles').select('ref').where('ref', '=', 'NL-STAIN-42').execute()).toEqual([]);
  }, 120_000);

  it('compares only against the files DE declared open', async () => {
    await DE.fed.publishDeclaration(dnaDeclaration(['dna-unidentified']));
    await NL.fed.refreshDeclarations();
    const person = persons[3]!;
    const r = await search({ ref: 'NL-STAIN-43', kind: 'unidentified', loci: person.loci });
    const t = await answered(r.json().id);
    expect(t.status).toBe('answered');
    expect((t.result?.hits ?? []).map((h) => h.ref)).not.toContain(person.ref);
    expect((t.result?.hits ?? []).every((h) => h.kind === 'unidentified')).toBe(true);
  }, 120_000);

  it('refuses, before sending, a purpose other than Art. 3 and a profile that fails the inclusion rule', async () => {
    const wrongPurpose = await search({ ref: 'NL-STAIN-44', kind: 'unidentified', loci: persons[0]!.loci }, 'public-security');
    expect(wrongPurpose.statusCode).toBe(400);
    const tooFew = await search({ ref: 'NL-STAIN-45', kind: 'unidentified', loci: { D3S1358: ['15', '16'] } });
    expect(tooFew.statusCode).toBe(400);
    expect(tooFew.json().code).toBe('dna-profile-invalid');
  });
});
