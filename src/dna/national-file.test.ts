import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../../test/support/test-node.ts';
import { buildServer } from '../http/server.ts';
import { inclusionOf, type DnaProfile } from './profile.ts';
import { NationalDnaFile } from './national-file.ts';
import { randomProfiles } from './test-helpers.ts';

let t: TestNode;
let app: FastifyInstance;
let dir: string;
let officer: { officerId: number; token: string };
let n = 0;

function jsonl(profiles: readonly DnaProfile[]): string {
  const p = join(dir, `${n++}.jsonl`);
  writeFileSync(p, profiles.map((x) => JSON.stringify(x)).join('\n') + '\n');
  return p;
}

const search = (profile: unknown) =>
  app.inject({ method: 'POST', url: '/v1/dna/searches', headers: { authorization: `Bearer ${officer.token}` }, payload: { profile, reason: 'Case 2026/42', orderedBy: 'Prosecutor M. Bakker' } });

// Ten persons' reference profiles that pass the inclusion rule (the generator also makes partial ones).
const persons = randomProfiles(7, 60, 'NL-REF-', undefined, {})
  .map((p) => ({ ...p, kind: 'reference' as const }))
  .filter((p) => inclusionOf(p).ok)
  .slice(0, 10);

beforeAll(async () => {
  t = await createTestNode('NL');
  dir = mkdtempSync(join(tmpdir(), 'openprum-dna-'));
  app = await buildServer(t.node, { logLevel: 'silent' });
  officer = await t.tokenFor('nl-dna-1', ['officer']);
});
afterAll(async () => {
  await app.close();
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the national DNA file in a node', () => {
  it('has ten includable test profiles', () => expect(persons.length).toBe(10));

  it('imports profiles, answers a hit with the reference data, and records the search', async () => {
    const dna = await t.node.dna();
    const r = await dna.importFile(jsonl(persons));
    expect(r).toMatchObject({ stored: persons.length, unchanged: 0, deleted: 0, refused: [] });
    const target = persons[3]!;
    const res = await search({ ...target, ref: 'NL-STAIN-1', kind: 'unidentified' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.hit).toBe(true);
    expect(body.hits.map((h: { ref: string }) => h.ref)).toContain(target.ref);
    const hit = body.hits.find((h: { ref: string }) => h.ref === target.ref);
    expect(['match', 'wildcard-match']).toContain(hit.quality);
    expect(hit).toMatchObject({ mismatches: 0, profile: { ref: target.ref, kind: 'reference' } });
    expect(hit.rmp).toBeGreaterThan(0);
    expect(hit.rmp).toBeLessThan(1e-6);
    const rec = await t.node.db.selectFrom('records').selectAll().where('id', '=', body.recordId).executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ action: 'dna.search', hit: true, outcome: 'hit', administering_body: 'NL DNA file', legal_basis: 'Prüm Decision Art. 3(1)', officer_id: officer.officerId });
    expect((rec.query as { profile: { ref: string } }).profile.ref).toBe('NL-STAIN-1');
  });

  it('imports again without changes, and updates a changed profile', async () => {
    const dna = await t.node.dna();
    expect(await dna.importFile(jsonl(persons))).toMatchObject({ stored: 0, unchanged: persons.length });
    const changed = { ...persons[0]!, loci: { ...persons[0]!.loci, TH01: ['5', '5'] as [string, string] } };
    expect(await dna.importFile(jsonl([changed]))).toMatchObject({ stored: 1, unchanged: 0 });
  });

  it('refuses a search profile that fails the inclusion rule, or carries a name, recording nothing', async () => {
    const before = await t.node.db.selectFrom('records').select('id').execute();
    const few = await search({ ref: 'X1', kind: 'unidentified', loci: { D3S1358: ['15', '16'], vWA: ['17', '18'] } });
    expect(few.statusCode).toBe(400);
    expect(few.json()).toMatchObject({ code: 'dna-profile-invalid' });
    const named = await search({ ref: 'X2', kind: 'unidentified', loci: { surname: ['Jansen'] } });
    expect(named.statusCode).toBe(400);
    expect(named.json().code).toMatch(/^dna-/);
    const extra = await app.inject({ method: 'POST', url: '/v1/dna/searches', headers: { authorization: `Bearer ${officer.token}` }, payload: { profile: { ...persons[1], name: 'Jansen' }, reason: 'r', orderedBy: 'o' } });
    expect(extra.statusCode).toBe(400);
    expect((await t.node.db.selectFrom('records').select('id').execute()).length).toBe(before.length);
  });

  it('erases for real: a deleted profile is gone from the database and from the in-memory index', async () => {
    const dna = await t.node.dna();
    const victim = persons[5]!;
    expect(dna.inMemory(victim.ref)).toBe(true);
    const refs = join(dir, 'delete.txt');
    writeFileSync(refs, `# erasure ordered by the court\n${victim.ref}\n`);
    expect(await dna.deleteFile(refs)).toMatchObject({ deleted: 1 });
    expect(dna.inMemory(victim.ref)).toBe(false);
    expect(await t.node.db.selectFrom('dna_profiles').select('ref').where('ref', '=', victim.ref).execute()).toEqual([]);
    const res = await search({ ...victim, ref: 'NL-STAIN-2', kind: 'unidentified' });
    expect(res.json().hits.map((h: { ref: string }) => h.ref)).not.toContain(victim.ref);
  });

  it('sees imports made by another process before it answers (change log)', async () => {
    // A second view of the same database stands for `openprum dna import` run while the server runs.
    const other = await NationalDnaFile.open(t.node.db, 'NL');
    const newcomer = { ...randomProfiles(99, 1, 'NL-NEW-')[0]!, kind: 'reference' as const };
    await other.importFile(jsonl([newcomer]));
    const res = await search({ ...newcomer, ref: 'NL-STAIN-3', kind: 'unidentified' });
    expect(res.json().hits.map((h: { ref: string }) => h.ref)).toContain(newcomer.ref);
    // And a restart (a fresh load) holds the same set as the live index.
    const reloaded = await NationalDnaFile.open(t.node.db, 'NL');
    expect(reloaded.size).toBe((await t.node.dna()).size);
  });

  it('with --replace, removes what the file no longer holds', async () => {
    const dna = await t.node.dna();
    const keep = persons.slice(0, 3);
    const r = await dna.importFile(jsonl(keep), { replace: true });
    expect(r.deleted).toBeGreaterThan(0);
    expect(dna.size).toBe(3);
    expect((await t.node.db.selectFrom('dna_profiles').select('ref').execute()).map((x) => x.ref).sort()).toEqual(keep.map((p) => p.ref).sort());
  });

  it('rejects a bad file whole, naming the line, and stores nothing', async () => {
    const dna = await t.node.dna();
    const before = await t.node.db.selectFrom('dna_profiles').select('ref').execute();
    const p = jsonl(persons.slice(6, 9));
    appendFileSync(p, '{"ref":"NL-BAD","kind":"reference","loci":{"D3S1358":["15","abc.."]}\n');
    await expect(dna.importFile(p)).rejects.toMatchObject({ message: expect.stringMatching(/line 4/) });
    const dup = jsonl([persons[6]!, persons[6]!]);
    await expect(dna.importFile(dup)).rejects.toMatchObject({ message: expect.stringMatching(/line 2/) });
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    await expect(dna.importFile(empty)).rejects.toBeTruthy();
    expect(await t.node.db.selectFrom('dna_profiles').select('ref').execute()).toEqual(before);
  });
});
