import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bulkData, readStores } from './bulk.ts';
import { estimateChanceHits } from './chance.ts';
import { shippedFrequencyTable, genotypeProbability, oneMismatchProbability } from './frequencies.ts';
import { writeSyntheticFiles } from './generate.ts';
import { FULL } from './store.ts';
import { HitWeigher } from './weight.ts';

describe('expected chance hits', () => {
  it('estimates the sum over all pairs within its standard error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openprum-dna-chance-'));
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv');
    await writeSyntheticFiles({ out: a, options: { profiles: 400, country: 'NL', seed: 1, partialRate: 0.3 } }, { out: b, options: { profiles: 400, country: 'NL', seed: 2, partialRate: 0.3 } });
    const s = await readStores(a, b);
    const d = bulkData(s.a, s.b);
    const freq = shippedFrequencyTable();
    const weigher = new HitWeigher(s.a.table, freq, 0.01);
    // The exact sum, written out plainly.
    let exact = 0;
    const w = d.width;
    for (let i = 0; i < d.a.count; i++) {
      for (let j = 0; j < d.b.count; j++) {
        let prod = 1;
        let ratio = 0;
        let c = 0;
        for (let sl = 0; sl < w; sl++) {
          const ga = d.a.rows[i * w + sl]!;
          const gb = d.b.rows[j * w + sl]!;
          if (!ga || !gb || sl === d.amelSlot) continue;
          const pa = d.geno[sl]![ga]!;
          if (!(pa & FULL) || !(d.geno[sl]![gb]! & FULL)) continue;
          const lf = weigher.locus(sl);
          c++;
          if (!lf) continue;
          const m = genotypeProbability(lf, pa & 0xfff, (pa >>> 12) & 0xfff, 0.01);
          prod *= m;
          ratio += oneMismatchProbability(lf, pa & 0xfff, (pa >>> 12) & 0xfff) / m;
        }
        if (c >= 6) exact += prod * (1 + (c >= 7 ? ratio : 0));
      }
    }
    const est = estimateChanceHits(w, d.geno, d.amelSlot, weigher, d.a, d.b, 200_000, 3);
    expect(exact).toBeGreaterThan(0);
    expect(Math.abs(est.expected - exact)).toBeLessThan(4 * est.standardError + exact * 0.01);
  });
});
