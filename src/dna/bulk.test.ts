import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareFiles } from './bulk.ts';
import { readDnaFile } from './formats.ts';
import { writeSyntheticFiles } from './generate.ts';
import { bruteForceHits, randomProfiles, toCsv, toJsonl } from './test-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'openprum-dna-bulk-'));

const key = (h: { a: string; b: string; quality: string; matchingLoci: number; comparedLoci: number; mismatches: number }): string =>
  `${h.a} ${h.b} ${h.quality} ${h.matchingLoci} ${h.comparedLoci} ${h.mismatches}`;

describe('compareFiles', () => {
  it('finds exactly the hits of the brute force on random files (JSON Lines and CSV)', async () => {
    for (const seed of [1, 2]) {
      const persons: Map<string, string[]>[] = [];
      const A = randomProfiles(seed * 10, 700, 'A', persons);
      const B = randomProfiles(seed * 10 + 1, 700, 'B', persons);
      const pa = join(dir, `r${seed}.jsonl`);
      const pb = join(dir, `r${seed}.csv`);
      writeFileSync(pa, toJsonl(A));
      writeFileSync(pb, toCsv(B));
      const want = bruteForceHits(A, B).map(key).sort();
      const r = await compareFiles(pa, pb, { threads: 0, chanceSamples: 1000 });
      expect(r.hits.map(key).sort()).toEqual(want);
      expect(r.summary.hits).toBe(want.length);
      // Both tiers took part.
      expect(r.summary.candidates.tierA).toBeGreaterThan(0);
      expect(r.summary.candidates.tierB).toBeGreaterThan(0);
    }
  });

  it('finds the same on worker threads', async () => {
    const persons: Map<string, string[]>[] = [];
    const A = randomProfiles(41, 600, 'A', persons);
    const B = randomProfiles(42, 600, 'B', persons);
    const pa = join(dir, 'w-a.jsonl');
    const pb = join(dir, 'w-b.jsonl');
    writeFileSync(pa, toJsonl(A));
    writeFileSync(pb, toJsonl(B));
    const r = await compareFiles(pa, pb, { threads: 2, chanceSamples: 1000 });
    expect(r.summary.threads).toBe(2);
    expect(r.hits.map(key).sort()).toEqual(bruteForceHits(A, B).map(key).sort());
  });

  it('finds exactly the hits of the brute force on synthetic national files, and the planted pairs', async () => {
    const a = join(dir, 'nl.csv');
    const b = join(dir, 'de.jsonl');
    const truth = join(dir, 'truth.jsonl');
    await writeSyntheticFiles(
      { out: a, options: { profiles: 1500, country: 'NL', seed: 5, partialRate: 0.1, wildcardRate: 0.05, duplicateRate: 0.03, nearMatchRate: 0.02, relativeRate: 0.02, donorTraceRate: 0.03 } },
      { out: b, options: { profiles: 1500, country: 'DE', seed: 6, partialRate: 0.1, wildcardRate: 0.05, duplicateRate: 0.03, nearMatchRate: 0.02, relativeRate: 0.02, donorTraceRate: 0.03 } },
      truth,
    );
    const A = (await readDnaFile(a)).profiles;
    const B = (await readDnaFile(b)).profiles;
    const want = bruteForceHits(A, B);
    const r = await compareFiles(a, b, { threads: 0, chanceSamples: 20_000 });
    expect(r.hits.map(key).sort()).toEqual(want.map(key).sort());
    const q = r.summary.hitsByQuality;
    expect(q.match).toBeGreaterThan(0);
    expect(q['wildcard-match']).toBeGreaterThan(0);
    expect(q['near-match']).toBeGreaterThan(0);
    expect(q.match + q['wildcard-match'] + q['near-match']).toBe(r.hits.length);
    expect(r.summary.expectedChanceHits.expected).toBeGreaterThan(0);
    // Every planted duplicate across the files that both files keep is found.
    const { readFileSync } = await import('node:fs');
    const planted = readFileSync(truth, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { aFile: string; a: string; bFile: string; b: string; relation: string });
    const found = new Set(r.hits.map((h) => `${h.a} ${h.b}`));
    const dups = planted.filter((t) => t.relation === 'duplicate' && t.aFile === 'out' && t.bFile === 'peer');
    expect(dups.length).toBeGreaterThan(5);
    const wanted = new Set(want.map((h) => `${h.a} ${h.b}`));
    for (const d of dups) if (wanted.has(`${d.a} ${d.b}`)) expect(found.has(`${d.a} ${d.b}`)).toBe(true);
  });

  it('reports refused profiles with their reasons', async () => {
    const pa = join(dir, 'ref-a.jsonl');
    writeFileSync(pa, `${JSON.stringify({ ref: 'X1', kind: 'unidentified', loci: { D3S1358: ['15', '16'] } })}\n${JSON.stringify({ ref: 'X2', kind: 'unidentified', loci: { D3S1358: ['15', '16'], vWA: ['17', '18'], TH01: ['6', '7'], FGA: ['20', '21'], D8S1179: ['12', '13'], D21S11: ['28', '29'] } })}\n`);
    const r = await compareFiles(pa, pa, { threads: 0, chanceSamples: 100 });
    expect(r.summary.a.refused).toEqual([{ ref: 'X1', line: 1, reason: expect.stringMatching(/at least 6/) }]);
    expect(r.hits).toEqual([expect.objectContaining({ a: 'X2', b: 'X2', quality: 'match', matchingLoci: 6 })]);
  });
});
