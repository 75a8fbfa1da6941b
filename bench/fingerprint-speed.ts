/**
 * Speed of the fingerprint engine:
 *   1. extraction time per image (FVC B images, median and p95, one core),
 *   2. 1:1 comparisons per second per core (prepared templates; and including preparation),
 *   3. 1:N: a ten-print probe against a synthetic gallery of persons (10 fingers each) made from
 *      perturbed real templates, with the pre-filter, on worker threads; rank-1 hit rate of mated
 *      searches with and without the pre-filter on a smaller gallery.
 *
 *   node --import tsx bench/fingerprint-speed.ts [persons=100000] [small=3000]
 *
 * Needs the FVC B sets (../shared/data/fingerprints) for real templates; without them it says so.
 */
import { availableParallelism, cpus } from 'node:os';
import { extractAll, fingerprintDataRoot, loadManifest, readPngGray, type FvcImpression } from './fingerprint-fvc.ts';
import { extractMinutiae } from '../src/fingerprint/extract/index.ts';
import { Gallery, compare, prepare, type Finger, type PreparedTemplate } from '../src/fingerprint/match/index.ts';
import type { Minutia, MinutiaeTemplate } from '../src/fingerprint/types.ts';

const root = fingerprintDataRoot();
if (root === undefined) {
  console.log('FVC data not found (../shared/data/fingerprints): nothing to measure.');
  process.exit(0);
}
const persons = Number(process.argv[2] ?? 100_000);
const smallPersons = Number(process.argv[3] ?? 3000);
const manifest = loadManifest(root);
console.log(`machine: ${cpus()[0]?.model ?? '?'} × ${availableParallelism()} (shared with other work: figures are noisy)`);

// 1. Extraction.
const times: number[] = [];
const sample = manifest.filter((_, i) => i % 2 === 0);
for (const m of sample) {
  const img = readPngGray(m.imagePath, m.dpi);
  const t0 = performance.now();
  extractMinutiae(img);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const q = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
console.log(`\nextraction: ${sample.length} FVC images, median ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms, max ${q(1).toFixed(1)} ms per image (one core)`);

// 2. 1:1 comparisons.
const { templates } = await extractAll(manifest, console.log);
const prepared: PreparedTemplate[] = [];
for (const t of templates.values()) {
  try {
    prepared.push(prepare(t));
  } catch {
    // too few minutiae
  }
}
let sink = 0;
const N = 30_000;
for (let k = 0; k < 3000; k++) sink += compare(prepared[k % prepared.length]!, prepared[(k * 7 + 3) % prepared.length]!);
let t0 = performance.now();
for (let k = 0; k < N; k++) sink += compare(prepared[k % prepared.length]!, prepared[(k * 7 + 3) % prepared.length]!);
const perCompare = (performance.now() - t0) / N;
const tlist = [...templates.values()].filter((t) => t.minutiae.length >= 5);
t0 = performance.now();
for (let k = 0; k < 5000; k++) prepare(tlist[k % tlist.length]!);
const perPrepare = (performance.now() - t0) / 5000;
const avgN = prepared.reduce((s, p) => s + p.n, 0) / prepared.length;
console.log(`1:1: ${(1000 / perCompare).toFixed(0)} comparisons/s per core (${(perCompare * 1000).toFixed(0)} µs each, prepared templates, ${avgN.toFixed(0)} minutiae on average); prepare() ${(perPrepare * 1000).toFixed(0)} µs`);

// 3. 1:N. Test persons: 30 FVC fingers grouped as 3 persons × 10 fingers, enrolled with impression 1
// and searched with impressions 2–8 (21 mated ten-print searches). Distractors: perturbed copies
// of the templates of the other 30 fingers (never of a test finger, or they would be mates).
const fingers = [...new Set(manifest.map((m) => `${m.set}|${m.finger}`))];
const testFingers = fingers.filter((_, i) => i % 2 === 0).slice(0, 30);
const sourceFingers = new Set(fingers.filter((f) => !testFingers.includes(f)));
const impressionOf = (f: string, imp: number): FvcImpression => manifest.find((m) => `${m.set}|${m.finger}` === f && m.impression === imp)!;
const sources = manifest.filter((m) => sourceFingers.has(`${m.set}|${m.finger}`)).map((m) => templates.get(m.id)!).filter((t) => t.minutiae.length >= 12);

let seed = 12345;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
/** A plausible other impression: rotated, shifted, jittered, some minutiae lost and some spurious. */
function perturb(t: MinutiaeTemplate): MinutiaeTemplate {
  const rot = (rand() - 0.5) * 0.6;
  const dx = (rand() - 0.5) * 60;
  const dy = (rand() - 0.5) * 60;
  const c = Math.cos(rot);
  const s = Math.sin(rot);
  const cx = t.width / 2;
  const cy = t.height / 2;
  const out: Minutia[] = [];
  for (const m of t.minutiae) {
    if (rand() < 0.2) continue;
    const x = cx + c * (m.x - cx) - s * (m.y - cy) + dx + (rand() - 0.5) * 6;
    const y = cy + s * (m.x - cx) + c * (m.y - cy) + dy + (rand() - 0.5) * 6;
    out.push({ ...m, x: Math.max(0, x), y: Math.max(0, y), angle: (m.angle - rot + (rand() - 0.5) * 0.3 + 4 * Math.PI) % (2 * Math.PI) });
  }
  const extra = Math.floor(t.minutiae.length * 0.1);
  for (let k = 0; k < extra; k++) {
    out.push({ x: rand() * t.width, y: rand() * t.height, angle: rand() * 2 * Math.PI, type: 'ending', quality: 20 });
  }
  return { ...t, minutiae: out };
}

const testPersons = [0, 1, 2].map((p) => testFingers.slice(p * 10, p * 10 + 10));
const tenPrint = (person: string[], imp: number): Finger[] => person.map((f, k) => ({ position: k + 1, template: templates.get(impressionOf(f, imp).id)! }));

async function buildGallery(n: number): Promise<{ gallery: Gallery; seconds: number }> {
  const gallery = new Gallery();
  const tb = performance.now();
  testPersons.forEach((p, i) => gallery.add(`mate-${i}`, tenPrint(p, 1)));
  for (let k = 0; gallery.size < n; k++) {
    const fs: Finger[] = [];
    for (let pos = 1; pos <= 10; pos++) fs.push({ position: pos, template: perturb(sources[Math.floor(rand() * sources.length)]!) });
    gallery.add(`person-${k}`, fs);
  }
  return { gallery, seconds: (performance.now() - tb) / 1000 };
}

async function rank1(gallery: Gallery, prefilter: boolean): Promise<{ hits: number; searches: number; seconds: number[] }> {
  let hits = 0;
  let searches = 0;
  const seconds: number[] = [];
  for (let i = 0; i < testPersons.length; i++) {
    for (let imp = 2; imp <= 8; imp++) {
      const ts = performance.now();
      const res = await gallery.search(tenPrint(testPersons[i]!, imp), { limit: 5, prefilter });
      seconds.push((performance.now() - ts) / 1000);
      searches++;
      if (res[0]?.ref === `mate-${i}`) hits++;
    }
  }
  return { hits, searches, seconds };
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

console.log(`\nsmall gallery: ${smallPersons} persons × 10 fingers`);
const small = await buildGallery(smallPersons);
const withPre = await rank1(small.gallery, true);
const without = await rank1(small.gallery, false);
console.log(`  rank-1 with pre-filter ${withPre.hits}/${withPre.searches} (median ${median(withPre.seconds).toFixed(2)} s per search); without ${without.hits}/${without.searches} (median ${median(without.seconds).toFixed(2)} s)`);
await small.gallery.close();

console.log(`\nlarge gallery: ${persons} persons × 10 fingers (building…)`);
const large = await buildGallery(persons);
console.log(`  enrolled in ${large.seconds.toFixed(1)} s (${((large.seconds * 1e6) / (persons * 10)).toFixed(0)} µs per finger)`);
const big = await rank1(large.gallery, true);
console.log(
  `  ten-print search with pre-filter on ${availableParallelism()} cores: median ${median(big.seconds).toFixed(2)} s, max ${Math.max(...big.seconds).toFixed(2)} s; rank-1 ${big.hits}/${big.searches}`,
);
await large.gallery.close();
void sink;
