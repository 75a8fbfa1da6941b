/**
 * Fingerprint matching: 1:1 comparison with a calibrated score, and 1:N search over a gallery.
 * See README.md in this folder for the method, the parameters and the score ↔ FMR calibration.
 */
export { prepare, type PreparedTemplate } from './prepare.ts';
export { compare, compareDetailed, type CompareDetail } from './compare.ts';
export { scoreToFmr, thresholdForFmr, FMR_FLOOR } from './calibration.ts';
export { Gallery, type Candidate, type Finger, type FingerResult, type GalleryOptions, type SearchOptions, type SearchProbe } from './gallery.ts';
export { MATCH_PARAMS } from './params.ts';
