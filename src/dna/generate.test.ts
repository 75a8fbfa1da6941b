import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDnaFile } from './formats.ts';
import { KITS, writeSyntheticFiles } from './generate.ts';
import { locusKey } from './loci.ts';

const dir = mkdtempSync(join(tmpdir(), 'openprum-dna-gen-'));

describe('synthetic national files', () => {
  it('are the same for the same seed and differ for another', async () => {
    const run = async (name: string, seed: number): Promise<string> => {
      const out = join(dir, `${name}.jsonl`);
      await writeSyntheticFiles({ out, options: { profiles: 300, country: 'NL', seed } });
      return readFileSync(out, 'utf8');
    };
    const x = await run('x', 7);
    expect(await run('y', 7)).toBe(x);
    expect(await run('z', 8)).not.toBe(x);
  });

  it('mix the kits of a country, partial traces and wildcards, and read back cleanly', async () => {
    const out = join(dir, 'nl.csv');
    const peer = join(dir, 'de.jsonl');
    const truth = join(dir, 'truth.jsonl');
    const r = await writeSyntheticFiles({ out, options: { profiles: 2000, country: 'NL', seed: 1, partialRate: 0.1 } }, { out: peer, options: { profiles: 1000, country: 'DE', seed: 2 } }, truth);
    expect(r).toMatchObject({ profiles: 2000, peerProfiles: 1000 });
    const nl = await readDnaFile(out);
    const de = await readDnaFile(peer);
    expect(nl.profiles.length + nl.refused.length).toBe(2000);
    expect(de.profiles.length + de.refused.length).toBe(1000);
    expect(nl.profiles[0]!.ref).toMatch(/^NL-\d{7}$/);
    // Several kits: the locus sets of complete profiles.
    const sets = new Set(nl.profiles.filter((p) => Object.keys(p.loci).length >= 10).map((p) => Object.keys(p.loci).filter((l) => !Object.values(p.loci[l]!).includes('*')).length));
    expect(sets.size).toBeGreaterThan(2);
    const partial = nl.profiles.filter((p) => p.kind === 'unidentified' && Object.keys(p.loci).length <= 10);
    expect(partial.length).toBeGreaterThan(100);
    expect(nl.profiles.some((p) => Object.values(p.loci).some((g) => g.includes('*')))).toBe(true);
    // Loci come from the kits.
    const known = new Set(Object.values(KITS).flat().map(locusKey));
    for (const p of nl.profiles.slice(0, 100)) for (const l of Object.keys(p.loci)) if (l !== 'AMEL') expect(known.has(locusKey(l))).toBe(true);
    // The truth file names existing profiles on both sides.
    const refs = new Set([...nl.profiles, ...de.profiles, ...nl.refused, ...de.refused].map((p) => p.ref));
    const planted = readFileSync(truth, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { a: string; b: string; relation: string });
    expect(planted.length).toBe(r.planted);
    for (const t of planted) {
      expect(refs.has(t.a)).toBe(true);
      expect(refs.has(t.b)).toBe(true);
    }
    expect(new Set(planted.map((t) => t.relation))).toEqual(new Set(['duplicate', 'near-match', 'sibling', 'parent-child', 'trace']));
  });
});
