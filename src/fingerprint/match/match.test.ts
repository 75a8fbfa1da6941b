import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { perturbTemplate, randomTemplate } from '../extract/synthetic.ts';
import type { MinutiaeTemplate } from '../types.ts';
import { FMR_FLOOR, Gallery, compare, compareDetailed, prepare, scoreToFmr, thresholdForFmr, type Finger } from './index.ts';

async function codeOf(f: () => unknown): Promise<string | undefined> {
  try {
    await f();
  } catch (e) {
    return e instanceof OpenPrumError ? e.code : `not an OpenPrumError: ${String(e)}`;
  }
  return undefined;
}

describe('1:1 comparison', () => {
  const base = randomTemplate(1);
  const mate = perturbTemplate(base, 2, { rotation: 0.35, dx: 25, dy: -15 });
  const others = Array.from({ length: 30 }, (_, k) => randomTemplate(100 + k));

  it('scores another impression of the same finger far above unrelated ones', () => {
    const p = prepare(mate);
    const genuine = compare(p, prepare(base));
    const impostors = others.map((o) => compare(p, prepare(o)));
    expect(genuine).toBeGreaterThan(2 * Math.max(...impostors));
    expect(scoreToFmr(genuine)).toBeLessThan(1e-3);
    const d = compareDetailed(p, prepare(base));
    expect(d.pairs).toBeGreaterThan(15);
  });

  it('is roughly symmetric and identical templates score highest', () => {
    const a = prepare(base);
    const b = prepare(mate);
    const ab = compare(a, b);
    const ba = compare(b, a);
    expect(Math.abs(ab - ba) / Math.max(ab, ba)).toBeLessThan(0.25);
    expect(compare(a, a)).toBeGreaterThan(ab);
  });

  it('matches templates of different resolutions (coordinates are normalised to 500 ppi)', () => {
    const at1000: MinutiaeTemplate = { ...mate, ppi: 1000, width: mate.width * 2, height: mate.height * 2, minutiae: mate.minutiae.map((m) => ({ ...m, x: m.x * 2, y: m.y * 2 })) };
    expect(compare(prepare(at1000), prepare(base))).toBeCloseTo(compare(prepare(mate), prepare(base)), 0);
  });

  it('survives rotations of a whole quarter turn', () => {
    const turned = perturbTemplate(base, 3, { rotation: Math.PI / 2, dx: 0, dy: 0, drop: 0.1 });
    expect(scoreToFmr(compare(prepare(turned), prepare(base)))).toBeLessThan(1e-3);
  });

  it('refuses templates with too few or broken minutiae, clearly', async () => {
    const empty: MinutiaeTemplate = { ...base, minutiae: [] };
    expect(await codeOf(() => prepare(empty))).toBe('fingerprint-minutiae-too-few');
    expect(await codeOf(() => prepare({ ...base, minutiae: base.minutiae.slice(0, 3) }))).toBe('fingerprint-minutiae-too-few');
    const nan = { ...base, minutiae: [...base.minutiae.slice(1), { ...base.minutiae[0]!, x: Number.NaN }] };
    expect(await codeOf(() => prepare(nan))).toBe('fingerprint-template-invalid');
    expect(await codeOf(() => prepare({ ...base, ppi: 0 }))).toBe('fingerprint-template-invalid');
    const far = { ...base, minutiae: [...base.minutiae.slice(1), { ...base.minutiae[0]!, x: 1e7 }] };
    expect(await codeOf(() => prepare(far))).toBe('fingerprint-template-invalid');
  });

  it('keeps the best minutiae of oversized templates', () => {
    const big = randomTemplate(9, 400, 2000, 2000);
    expect(prepare(big).n).toBe(128);
  });
});

describe('score ↔ FMR calibration', () => {
  it('is monotone and invertible', () => {
    let last = 1;
    for (let s = 0; s <= 80; s += 0.5) {
      const f = scoreToFmr(s);
      expect(f).toBeLessThanOrEqual(last);
      expect(f).toBeGreaterThanOrEqual(FMR_FLOOR);
      last = f;
    }
    for (const fmr of [0.5, 0.01, 1e-3, 1e-4, 1e-6]) expect(scoreToFmr(thresholdForFmr(fmr))).toBeCloseTo(fmr, 8);
    expect(scoreToFmr(-3)).toBe(1);
  });

  it('rejects rates it cannot back with data', async () => {
    expect(await codeOf(() => thresholdForFmr(0))).toBe('input-invalid');
    expect(await codeOf(() => thresholdForFmr(1e-12))).toBe('input-invalid');
    expect(await codeOf(() => thresholdForFmr(2))).toBe('input-invalid');
  });
});

/** A synthetic person: ten unrelated random fingers. */
function person(seed: number): MinutiaeTemplate[] {
  return Array.from({ length: 10 }, (_, k) => randomTemplate(seed * 100 + k, 35));
}
const tenPrint = (fingers: MinutiaeTemplate[], seed: number): Finger[] =>
  fingers.map((t, k) => ({ position: k + 1, template: perturbTemplate(t, seed + k, { rotation: 0.2 }) }));

describe('Gallery (1:N)', () => {
  it('finds the mate of a single finger and of a ten-print, ranked first', async () => {
    const g = new Gallery({ threads: 0 });
    const people = Array.from({ length: 40 }, (_, i) => person(i + 1));
    people.forEach((p, i) => g.add(`P${i}`, p.map((t, k) => ({ position: k + 1, template: t }))));
    expect(g.size).toBe(40);
    const one = await g.search({ ...perturbTemplate(people[7]![3]!, 99), position: 4 });
    expect(one[0]?.ref).toBe('P7');
    expect(one[0]!.perFinger).toHaveLength(1);
    const ten = await g.search(tenPrint(people[12]!, 500), { limit: 3 });
    expect(ten).toHaveLength(3);
    expect(ten[0]!.ref).toBe('P12');
    expect(ten[0]!.perFinger).toHaveLength(10);
    expect(ten[0]!.fmr).toBeLessThan(ten[1]!.fmr);
    expect(ten[0]!.fmr).toBeGreaterThanOrEqual(FMR_FLOOR);
  });

  it('really removes: a removed person is never found again, the reference can be reused', async () => {
    const g = new Gallery({ threads: 0 });
    const a = person(1);
    const b = person(2);
    g.add('A', a.map((t, k) => ({ position: k + 1, template: t })));
    g.add('B', b.map((t, k) => ({ position: k + 1, template: t })));
    expect(g.remove('A')).toBe(true);
    expect(g.remove('A')).toBe(false);
    expect(g.has('A')).toBe(false);
    const res = await g.search(tenPrint(a, 7), { limit: 5 });
    expect(res.map((r) => r.ref)).not.toContain('A');
    g.add('A', b.map((t, k) => ({ position: k + 1, template: t })));
    expect((await g.search(tenPrint(a, 8), { limit: 5 })).every((r) => r.fmr > 1e-3)).toBe(true);
  });

  it('rejects duplicates, bad positions and unusable probes with clear errors', async () => {
    const g = new Gallery({ threads: 0 });
    const p = person(3);
    g.add('X', p.map((t, k) => ({ position: k + 1, template: t })));
    expect(await codeOf(() => g.add('X', p[0]!))).toBe('conflict');
    expect(await codeOf(() => g.add('Y', [{ position: 2, template: p[0]! }, { position: 2, template: p[1]! }]))).toBe('input-invalid');
    expect(await codeOf(() => g.add('Y', [{ position: 13, template: p[0]! }]))).toBe('input-invalid');
    expect(await codeOf(() => g.add('', p[0]!))).toBe('input-invalid');
    expect(await codeOf(() => g.add('Z', { ...p[0]!, minutiae: [] }))).toBe('fingerprint-minutiae-too-few');
    expect(g.has('Z')).toBe(false);
    expect(await codeOf(() => g.search({ ...p[0]!, minutiae: p[0]!.minutiae.slice(0, 2) }))).toBe('fingerprint-minutiae-too-few');
    // A ten-print with one unusable finger still searches with the other nine.
    const fingers = tenPrint(p, 3);
    fingers[0] = { position: 1, template: { ...p[0]!, minutiae: [] } };
    const res = await g.search(fingers);
    expect(res[0]!.ref).toBe('X');
    expect(res[0]!.perFinger).toHaveLength(9);
  });

  it('gives the same answer on worker threads, with and without the pre-filter', async () => {
    const people = Array.from({ length: 60 }, (_, i) => person(i + 50));
    const serial = new Gallery({ threads: 0 });
    const parallel = new Gallery({ threads: 2, parallelThreshold: 0 });
    people.forEach((p, i) => {
      const fs = p.map((t, k) => ({ position: k + 1, template: t }));
      serial.add(`Q${i}`, fs);
      parallel.add(`Q${i}`, fs);
    });
    const probe = tenPrint(people[33]!, 77);
    try {
      const a = await serial.search(probe, { limit: 5, prefilter: false });
      const b = await parallel.search(probe, { limit: 5, prefilter: false });
      const c = await parallel.search(probe, { limit: 5, prefilter: true, shortlist: 10 });
      expect(b.map((r) => r.ref)).toEqual(a.map((r) => r.ref));
      expect(a[0]!.ref).toBe('Q33');
      expect(c[0]!.ref).toBe('Q33');
    } finally {
      await parallel.close();
    }
  });
});
