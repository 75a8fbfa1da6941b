/**
 * Accuracy harness: the FVC protocol on the FVC2002/2004 B sets in ../shared/data/fingerprints
 * (when present), per set and pooled: EER, FMR100, FMR1000, ZeroFMR for
 *   - ours: our extractor + our matcher,
 *   - bozorth3: NBIS mindtct + bozorth3 (libfprint) on the same pairs (reference scores),
 *   - our matcher on foreign templates: the SecuGen ISO 19794-2 templates and the NBIS mindtct minutiae.
 * Also our figures with the extended impostor set (all 2,880 different-finger pairs per set instead
 * of the protocol's 45), which resolves FMR far better.
 *
 *   node --import tsx bench/fingerprint-accuracy.ts
 */
import { readFileSync } from 'node:fs';
import {
  allImpostorPairs,
  errorRates,
  extractAll,
  fingerprintDataRoot,
  loadBozorth,
  loadManifest,
  loadMindtct,
  loadPairs,
  readIso19794,
  type ErrorRates,
  type FvcPair,
} from './fingerprint-fvc.ts';
import { compare, prepare, type PreparedTemplate } from '../src/fingerprint/match/index.ts';
import type { MinutiaeTemplate } from '../src/fingerprint/types.ts';

const root = fingerprintDataRoot();
if (root === undefined) {
  console.log('FVC data not found (../shared/data/fingerprints or OPENPRUM_FINGERPRINT_DATA): nothing to measure.');
  process.exit(0);
}
const manifest = loadManifest(root);
const pairs = loadPairs(root);
const bozorth = loadBozorth(root);
const sets = [...new Set(manifest.map((m) => m.set))];

console.log('extracting minutiae (cached between runs while the extractor is unchanged)…');
const ours = (await extractAll(manifest, console.log)).templates;

// OpenAFIS stretched every image to 300 × 400 before SecuGen extracted it; undo that so the
// templates are in the image's own frame and resolution (angles are skewed by the stretch too).
const iso = new Map<string, MinutiaeTemplate>();
for (const m of manifest) {
  const t = readIso19794(readFileSync(m.isoPath));
  const sx = m.width / t.width;
  const sy = m.height / t.height;
  iso.set(m.id, {
    ...t,
    width: m.width,
    height: m.height,
    ppi: m.dpi,
    minutiae: t.minutiae.map((q) => ({ ...q, x: q.x * sx, y: q.y * sy, angle: Math.atan2(Math.sin(q.angle) * sy, Math.cos(q.angle) * sx) })),
  });
}
const mindtct = loadMindtct(root, manifest);

function scorer(templates: Map<string, MinutiaeTemplate>): { score: (p: FvcPair) => number; failed: number } {
  const prepared = new Map<string, PreparedTemplate>();
  let failed = 0;
  for (const [id, t] of templates) {
    try {
      prepared.set(id, prepare(t));
    } catch {
      failed++; // too few minutiae: such an impression scores 0 (a certain false non-match)
    }
  }
  return {
    failed,
    score: (p) => {
      const g = prepared.get(p.gallery);
      const q = prepared.get(p.probe);
      return g && q ? compare(q, g) : 0;
    },
  };
}

type Row = Record<string, ErrorRates>;
function evaluate(score: (p: FvcPair) => number, list: readonly FvcPair[]): Row {
  const scored = list.map((p) => ({ p, s: score(p) }));
  const out: Row = {};
  for (const set of [...sets, 'pooled']) {
    const mine = scored.filter((x) => set === 'pooled' || x.p.set === set);
    out[set] = errorRates(
      mine.filter((x) => x.p.genuine).map((x) => x.s),
      mine.filter((x) => !x.p.genuine).map((x) => x.s),
    );
  }
  return out;
}

const t0 = performance.now();
const oursScorer = scorer(ours);
const results: Record<string, Row> = {
  ours: evaluate(oursScorer.score, pairs),
  bozorth3: evaluate((p) => bozorth.get(`${p.gallery}|${p.probe}`) ?? 0, pairs),
  'our matcher, SecuGen ISO': evaluate(scorer(iso).score, pairs),
  'our matcher, mindtct minutiae': evaluate(scorer(mindtct).score, pairs),
};
const extended = [...pairs.filter((p) => p.genuine), ...allImpostorPairs(manifest)];
const oursExtended = evaluate(oursScorer.score, extended);
const seconds = (performance.now() - t0) / 1000;

const pct = (v: number): string => (v * 100).toFixed(2);
console.log(`\nFVC protocol (${pairs.filter((p) => p.genuine).length} genuine, ${pairs.filter((p) => !p.genuine).length} impostor pairs; 45 impostors per set, so FMR100/FMR1000 per set are coarse).`);
console.log(`Our extractor left ${oursScorer.failed} of ${manifest.length} impressions with too few minutiae to match.\n`);
console.log('| set | ours EER | bozorth3 EER | ours FMR100 | bozorth3 FMR100 | ours FMR1000 | bozorth3 FMR1000 | ours ZeroFMR | bozorth3 ZeroFMR |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const set of [...sets, 'pooled']) {
  const a = results['ours']![set]!;
  const b = results['bozorth3']![set]!;
  console.log(`| ${set} | ${pct(a.eer)} | ${pct(b.eer)} | ${pct(a.fmr100)} | ${pct(b.fmr100)} | ${pct(a.fmr1000)} | ${pct(b.fmr1000)} | ${pct(a.zeroFmr)} | ${pct(b.zeroFmr)} |`);
}
console.log('\nEER (%) of every system on the protocol pairs:\n');
console.log(`| system | ${[...sets, 'pooled'].join(' | ')} |`);
console.log(`| --- | ${[...sets, 'pooled'].map(() => '---').join(' | ')} |`);
for (const [name, row] of Object.entries(results)) console.log(`| ${name} | ${[...sets, 'pooled'].map((s) => pct(row[s]!.eer)).join(' | ')} |`);
console.log(`\nOurs with the extended impostor set (${extended.filter((p) => !p.genuine).length} impostor pairs):\n`);
console.log('| set | EER | FMR100 | FMR1000 | ZeroFMR |');
console.log('| --- | --- | --- | --- | --- |');
for (const set of [...sets, 'pooled']) {
  const a = oursExtended[set]!;
  console.log(`| ${set} | ${pct(a.eer)} | ${pct(a.fmr100)} | ${pct(a.fmr1000)} | ${pct(a.zeroFmr)} |`);
}
console.log(`\n(${seconds.toFixed(1)} s of matching)`);
