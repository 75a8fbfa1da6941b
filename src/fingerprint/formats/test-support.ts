/** Paths and helpers shared by the format tests (not part of the public API). */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/fingerprint of this repository (see SOURCE.md there). */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/fingerprint/', import.meta.url));
/** The project's reference data beside the checkout; absent on a bare clone, so tests using it skip. */
export const SHARED = fileURLToPath(new URL('../../../../shared/data/fingerprints/', import.meta.url));
export const HAVE_SHARED = existsSync(SHARED);

export function fixture(path: string): Buffer {
  return readFileSync(join(FIXTURES, path));
}

export function filesIn(dir: string, suffix: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

/** Deterministic PRNG (mulberry32) so that fuzz runs are repeatable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
