/**
 * Score ↔ false match rate. The table is the upper tail of the impostor score distribution
 * measured by bench/fingerprint-calibrate.ts (the data, the command and the date are in
 * README.md next to this file); beyond the last measured point the tail is extrapolated as an
 * exponential fitted to the top of that distribution. FMR here is per finger comparison.
 */
import { OpenPrumError } from '../../errors/index.ts';

/** [score, FMR] pairs, score ascending, FMR descending. Generated; do not edit by hand. */
// prettier-ignore
const TABLE: readonly (readonly [number, number])[] = [
  [0, 1],
  [2.979, 0.5],
  [5, 0.2],
  [6.3, 0.1],
  [7.765, 0.05],
  [9.887, 0.02],
  [11.348, 0.01],
  [12.789, 0.005],
  [15.135, 0.002],
  [16.992, 0.001],
  [18.287, 0.0005],
  [20.563, 0.0002],
];
/** log10 FMR falls by TAIL_SLOPE per score unit beyond the last table point. */
const TAIL_SLOPE = 0.1804;
/** Nothing is claimed below this FMR: extrapolation that far is not supported by any data. */
export const FMR_FLOOR = 1e-9;

/** The false match rate of a single finger comparison that scores `score` or more. */
export function scoreToFmr(score: number): number {
  if (!(score > TABLE[0]![0])) return 1;
  for (let k = 1; k < TABLE.length; k++) {
    const [s1, f1] = TABLE[k]!;
    if (score <= s1) {
      const [s0, f0] = TABLE[k - 1]!;
      // Log-linear interpolation between measured points.
      const t = (score - s0) / (s1 - s0);
      return Math.pow(10, Math.log10(f0) + t * (Math.log10(f1) - Math.log10(f0)));
    }
  }
  const [sl, fl] = TABLE[TABLE.length - 1]!;
  return Math.max(FMR_FLOOR, Math.pow(10, Math.log10(fl) - TAIL_SLOPE * (score - sl)));
}

/** The lowest score whose FMR is at most `fmr` (use it as the decision threshold). */
export function thresholdForFmr(fmr: number): number {
  if (!(fmr > 0) || fmr > 1) throw new OpenPrumError('input-invalid', `A false match rate must be in (0, 1]; got ${String(fmr)}.`, { fmr });
  if (fmr < FMR_FLOOR) {
    throw new OpenPrumError('input-invalid', `False match rates below ${FMR_FLOOR} cannot be calibrated from the available data.`, { fmr, floor: FMR_FLOOR });
  }
  if (fmr >= TABLE[0]![1]) return TABLE[0]![0];
  for (let k = 1; k < TABLE.length; k++) {
    const [s1, f1] = TABLE[k]!;
    if (fmr >= f1) {
      const [s0, f0] = TABLE[k - 1]!;
      const t = (Math.log10(fmr) - Math.log10(f0)) / (Math.log10(f1) - Math.log10(f0));
      return s0 + t * (s1 - s0);
    }
  }
  const [sl, fl] = TABLE[TABLE.length - 1]!;
  return sl + (Math.log10(fl) - Math.log10(fmr)) / TAIL_SLOPE;
}
