/**
 * Builds src/dna/data/allele-frequencies.json, the allele-frequency tables the engine ships, from the
 * data files in ../shared/data/allele-frequencies (see that folder's README.md for the sources).
 *
 *   node --import tsx src/dna/tools/build-frequencies.ts [SOURCE_DIR] [OUT_FILE]
 *
 * NIST 1036 gives counts and the number of typed alleles 2N per locus, so the NRC II minimum allele
 * frequency 5/2N is kept per locus. norSTR gives no sample sizes; its own floor of 0.001 is kept as
 * the minimum instead. norSTR markers typed in base pairs rather than repeats (alleles above 99:
 * APOAI1, D11S554, D17S906) are left out, since Prüm allele values stop at 99.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classifyField } from '../loci.ts';

interface LocusTableJson {
  alleles: Record<string, number>;
  minFrequency: number;
  twoN?: number;
}
interface TableJson {
  description: string;
  source: string;
  licence: string;
  loci: Record<string, LocusTableJson>;
}

const NIST_SOURCE = 'mkruijver/forensicpopdata, data-raw/1036-Revised-Genotypes-PopStats-July-19-2017.xlsx, snapshot commit 4eb36e9fae7421f744b5b5b12f497f631f2decdd; counted from the genotypes (Hill et al. 2013, FSI:Genetics 7:e82-e83; Steffen et al. 2017 corrigendum, FSI:Genetics 31:e36-e40)';
const NIST_LICENCE = 'public domain (U.S. government work, NIST)';
const NORSTR_SOURCE = 'magnusdv/norSTR, data-raw/<name>_v2023.txt, snapshot commit 9201d14ab0ca699e6bb9aca80ab9b66d80571b23';
const NORSTR_LICENCE = 'MIT (copyright 2025 norSTR authors; licence text in src/dna/data/SOURCE.md)';

function locusName(raw: string): string | undefined {
  const f = classifyField(raw);
  return f.kind === 'locus' && !f.locus.amelogenin ? f.locus.name : undefined;
}

function round(x: number): number {
  return Number(x.toPrecision(6));
}

function nist(dir: string): Record<string, TableJson> {
  const text = readFileSync(join(dir, 'nist1036', 'NIST1036_allele_frequencies.csv'), 'utf8');
  const names: Record<string, string> = { All: 'all U.S. (n=1036)', AfAm: 'African American (n=342)', Cauc: 'Caucasian (n=361)', Hisp: 'Hispanic (n=236)', Asian: 'Asian (n=97)' };
  const tables: Record<string, TableJson> = {};
  const lines = text.trim().split(/\r?\n/);
  for (const line of lines.slice(1)) {
    const [pop, locusRaw, allele, count, nAlleles] = line.split(',');
    const locus = locusName(locusRaw!);
    if (!pop || !locus || !allele || !count || !nAlleles) continue;
    const id = `nist1036-${pop.toLowerCase()}`;
    const t = (tables[id] ??= { description: `NIST 1036 U.S. population data, ${names[pop] ?? pop}`, source: NIST_SOURCE, licence: NIST_LICENCE, loci: {} });
    const twoN = Number(nAlleles);
    const l = (t.loci[locus] ??= { alleles: {}, minFrequency: round(5 / twoN), twoN });
    l.alleles[allele] = round(Number(count) / twoN);
  }
  return tables;
}

function norstr(dir: string): Record<string, TableJson> {
  const files: [string, string, string][] = [
    ['EuropaDB_v2023.txt', 'norstr-europe', 'Europe'],
    ['NorskDB_v2023.txt', 'norstr-norway', 'Norway'],
    ['AfrikaDB_v2023.txt', 'norstr-africa', 'Africa'],
    ['MidtAsiaDB_v2023.txt', 'norstr-middle-asia', 'Middle Asia'],
    ['VestAsiaDB_v2023.txt', 'norstr-west-asia', 'West Asia'],
    ['OstAsiaDB_v2023.txt', 'norstr-east-asia', 'East Asia'],
    ['SydAmerikaDB_v2023.txt', 'norstr-south-america', 'South America'],
  ];
  const tables: Record<string, TableJson> = {};
  for (const [file, id, label] of files) {
    const t: TableJson = { description: `norSTR 2023 frequency database, ${label} (no sample sizes; floor 0.001)`, source: NORSTR_SOURCE, licence: NORSTR_LICENCE, loci: {} };
    let current: LocusTableJson | undefined;
    let currentName = '';
    const dropped = new Set<string>();
    for (const line of readFileSync(join(dir, 'norstr', file), 'utf8').split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const cells = line.split('\t');
      if (cells.length === 1) {
        const name = locusName(cells[0]!);
        currentName = name ?? cells[0]!;
        current = name ? (t.loci[name] = { alleles: {}, minFrequency: 0.001 }) : undefined;
        continue;
      }
      if (!current) continue;
      const allele = cells[0]!.trim();
      if (Number(allele) > 99) dropped.add(currentName);
      current.alleles[allele] = round(Number(cells[1]));
    }
    for (const name of dropped) delete t.loci[name];
    tables[id] = t;
  }
  return tables;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const source = process.argv[2] ?? join(here, '..', '..', '..', '..', 'shared', 'data', 'allele-frequencies');
const out = process.argv[3] ?? join(here, '..', 'data', 'allele-frequencies.json');
const tables = { ...nist(source), ...norstr(source) };
const json = { format: 'openprum-allele-frequencies/1', default: 'nist1036-all', tables };
writeFileSync(out, `${JSON.stringify(json)}\n`);
process.stderr.write(`wrote ${Object.keys(tables).length} tables to ${out}\n`);
