/**
 * Measures the impostor score distribution of the matcher on our own templates of the FVC B
 * sets (every pair of impressions of different fingers within a set: 16,800 pairs) and prints
 * the score → FMR table for src/fingerprint/match/calibration.ts.
 *
 *   node --import tsx bench/fingerprint-calibrate.ts
 */
import { allImpostorPairs, extractAll, fingerprintDataRoot, loadManifest } from './fingerprint-fvc.ts';
import { compare, prepare, type PreparedTemplate } from '../src/fingerprint/match/index.ts';

const root = fingerprintDataRoot();
if (root === undefined) {
  console.log('FVC data not found (../shared/data/fingerprints): nothing to calibrate.');
  process.exit(0);
}
const manifest = loadManifest(root);
const { templates } = await extractAll(manifest, console.log);
const prepared = new Map<string, PreparedTemplate>();
for (const [id, t] of templates) {
  try {
    prepared.set(id, prepare(t));
  } catch {
    // too few minutiae: scores 0 against everything
  }
}
const scores: number[] = [];
for (const p of allImpostorPairs(manifest)) {
  const a = prepared.get(p.gallery);
  const b = prepared.get(p.probe);
  scores.push(a && b ? compare(b, a) : 0);
}
scores.sort((a, b) => b - a);
const n = scores.length;
const rows: [number, number][] = [[0, 1]];
for (const fmr of [0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 5e-4, 2e-4]) {
  const k = Math.floor(fmr * n);
  if (k < 3) break;
  // The score at which `k` impostors score higher: FMR(score) = k / n.
  const s = (scores[k - 1]! + scores[k]!) / 2;
  if (s > rows[rows.length - 1]![0]) rows.push([Number(s.toFixed(3)), fmr]);
}
// Tail: least-squares line through (score, log10 FMR) of the top 1 % of impostor scores.
const top = Math.max(10, Math.floor(n * 0.01));
let sx = 0;
let sy = 0;
let sxx = 0;
let sxy = 0;
for (let k = 0; k < top; k++) {
  const x = scores[k]!;
  const y = Math.log10((k + 1) / n);
  sx += x;
  sy += y;
  sxx += x * x;
  sxy += x * y;
}
const fitted = -(top * sxy - sx * sy) / (top * sxx - sx * sx);
// The fitted exponential can be lighter than the real tail (a few impostors score far above the
// rest); the straight line from the FMR 1e-3 point to the highest impostor score is the heavier
// of the two readings. Use the heavier (smaller slope): claimed FMRs then err on the high side.
const at1000 = scores[Math.floor(n * 0.001) - 1]!;
const conservative = Math.log10((n * 0.001) / 1) / (scores[0]! - at1000);
const slope = Math.min(fitted, conservative);
console.log(`tail slope: fitted ${fitted.toFixed(4)}, through the highest impostor ${conservative.toFixed(4)}`);
console.log(`impostor pairs: ${n}; max impostor score ${scores[0]!.toFixed(2)}; median ${scores[Math.floor(n / 2)]!.toFixed(2)}`);
console.log('const TABLE = [');
for (const [s, f] of rows) console.log(`  [${s}, ${f}],`);
console.log('];');
console.log(`const TAIL_SLOPE = ${slope.toFixed(4)};`);
