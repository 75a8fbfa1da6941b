/**
 * The DNA engine of OpenPrüm (Prüm Decision Arts. 2-7): pure computation, no database.
 *
 * - Read and check profile files: `readDnaFile` (JSON Lines or CSV; all or nothing), `parseProfile`
 *   for one profile (e.g. an HTTP body), `inclusionOf` for the inclusion rule.
 * - Search: `DnaIndex` (add, remove, search one profile; the node keeps one per national file).
 * - Compare two files: `compareFiles`.
 * - Weigh hits: frequency tables (`shippedFrequencyTable`, `loadFrequencyTable`) for the RMP.
 * - Make test data: `writeSyntheticFiles`.
 *
 * README.md in this folder states the matching rule, the formats and why the indexes miss no hit.
 */
export { type DnaProfile, type ProfileKind, type ReadOptions, type AlleleEquivalence, type Where } from './profile.ts';
export { parseProfile, inclusionOf, canonicalProfileJson, alleleEquivalence, MIN_FULL_LOCI, MIN_ESS_1999_LOCI } from './profile.ts';
export { compareProfiles, MIN_MATCHING_LOCI, MAX_MISMATCHES, type Comparison, type HitQuality } from './rule.ts';
export { DnaIndex, type DnaHit, type DnaIndexOptions } from './dna-index.ts';
export { readDnaFile, readProfileFile, formatOfName, type FileFormat, type ReadFileOptions, type RecordSink } from './formats.ts';
export { compareFiles, type BulkHit, type CompareOptions, type CompareResult, type CompareSummary, type FileSummary } from './bulk.ts';
export type { Refusal } from './store.ts';
export type { ChanceEstimate } from './chance.ts';
export {
  shippedFrequencyTable, shippedFrequencyTables, loadFrequencyTable, genotypeProbability, checkTheta, DEFAULT_THETA,
  type FrequencyTable, type LocusFrequencies,
} from './frequencies.ts';
export { writeSyntheticFiles, KITS, COUNTRY_MIX, type GenerateOptions, type FileSpec, type GenerateResult, type PlantedPair } from './generate.ts';
export { ESS_1999, ESS_2009_ADDED, MAX_LOCI_PER_PROFILE, locusKey } from './loci.ts';
export { WILDCARD_DESIGNATIONS } from './alleles.ts';
