import { describe, expect, it } from 'vitest';
import { BULK_LAYOUT, INDEX_LAYOUT, covered, popcount, reportingCombo, tripleGroup } from './index-keys.ts';
import { locusKey } from './loci.ts';
import { KITS } from './generate.ts';

describe('tier A layouts', () => {
  for (const layout of [INDEX_LAYOUT, BULK_LAYOUT]) {
    it(`${layout.name}: two classes sharing ${layout.cover} intact parts always share a clean key`, () => {
      // Exhaustive: every pair of classes, every part that may hold the one unequal locus (or none).
      for (let ca = 0; ca < layout.classes; ca++) {
        for (let cb = 0; cb < layout.classes; cb++) {
          const both = ca & cb;
          if (!covered(layout, ca, cb)) {
            expect(popcount(both)).toBeLessThan(layout.cover);
            continue;
          }
          for (let bad = -1; bad < layout.parts.length; bad++) {
            const equal = bad >= 0 ? both & ~(1 << bad) : both;
            const combo = reportingCombo(layout, equal);
            expect(combo).toBeGreaterThanOrEqual(0);
            const parts = layout.combos[combo]!;
            expect(parts).toHaveLength(layout.k);
            for (const p of parts) expect((equal >> p) & 1).toBe(1);
          }
        }
      }
    });
  }

  it('keeps old and new kits covered by each other in the bulk layout', () => {
    const classOf = (loci: readonly string[]): number => {
      const keys = new Set(loci.map(locusKey));
      return BULK_LAYOUT.parts.reduce((c, part, i) => (part.every((l) => keys.has(locusKey(l))) ? c | (1 << i) : c), 0);
    };
    const modern = ['NGM', 'NGM SElect', 'ESX 17', 'GlobalFiler', 'Fusion 6C'].map((k) => classOf(KITS[k]!));
    const old = ['SGM Plus', 'Identifiler', 'PowerPlex 16'].map((k) => classOf(KITS[k]!));
    for (const a of [...modern, ...old]) for (const b of modern) expect(covered(BULK_LAYOUT, a, b)).toBe(true);
  });
});

describe('tier B groups', () => {
  it('split common kits about evenly', () => {
    for (const [name, loci] of Object.entries(KITS)) {
      const g1 = loci.filter((l) => tripleGroup(locusKey(l)) === 1).length;
      expect(Math.abs(loci.length - 2 * g1), name).toBeLessThanOrEqual(3);
    }
  });
});
