/**
 * The weight of a hit: the random match probability (RMP) of the genotypes the two profiles share.
 *
 * Which loci count: only the matching loci of the rule, those fully designated in both profiles and
 * equal. A locus with a wildcard, and the one locus of a near match, add nothing (a factor 1): their
 * genotype is not known well enough to weigh, and leaving a locus out can only make the RMP larger,
 * i.e. the hit weaker, never stronger than the data support. Loci the frequency table does not know
 * are left out the same way.
 */
import { FULL } from './store.ts';
import type { LocusTable } from './store.ts';
import { genotypeProbability, type FrequencyTable, type LocusFrequencies } from './frequencies.ts';
import type { QueryRow } from './verify.ts';

export class HitWeigher {
  readonly theta: number;
  private readonly table: LocusTable;
  private readonly freq: FrequencyTable;
  private bySlot: (LocusFrequencies | null)[] = [];

  constructor(table: LocusTable, freq: FrequencyTable, theta: number) {
    this.table = table;
    this.freq = freq;
    this.theta = theta;
  }

  get frequencies(): FrequencyTable {
    return this.freq;
  }

  /** The frequencies of the locus at a slot, or undefined if the table lacks it. */
  locus(slot: number): LocusFrequencies | undefined {
    while (this.bySlot.length < this.table.size) {
      const info = this.table.infos[this.bySlot.length]!;
      this.bySlot.push(info.amelogenin ? null : this.freq.loci.get(info.key) ?? null);
    }
    return this.bySlot[slot] ?? undefined;
  }

  /** θ-corrected probability of a fully designated packed genotype; 1 if the locus has no frequencies. */
  genotype(slot: number, packed: number): number {
    const lf = this.locus(slot);
    if (!lf || (packed & FULL) === 0) return 1;
    return genotypeProbability(lf, packed & 0xfff, (packed >>> 12) & 0xfff, this.theta);
  }

  /** RMP of a hit between two rows of the same table. */
  rows(width: number, rowsA: Uint16Array, offA: number, rowsB: Uint16Array, offB: number): number {
    const geno = this.table.geno;
    let p = 1;
    for (let s = 0; s < width; s++) {
      const g = rowsA[offA + s]!;
      if (g === 0 || g !== rowsB[offB + s]) continue;
      const packed = geno[s]![g]!;
      if ((packed & FULL) !== 0) p *= this.genotype(s, packed);
    }
    return p;
  }

  /** RMP of a hit between a query and a stored row. */
  query(width: number, q: QueryRow, rows: Uint16Array, off: number): number {
    let p = 1;
    for (let s = 0; s < width; s++) {
      const g = q.gids[s]!;
      if (g === 0 || g !== rows[off + s]) continue;
      const packed = q.packed[s]!;
      if ((packed & FULL) !== 0) p *= this.genotype(s, packed);
    }
    return p;
  }
}
