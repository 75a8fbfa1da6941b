import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../errors/index.ts';
import { readDnaFile } from './formats.ts';

const dir = mkdtempSync(join(tmpdir(), 'openprum-dna-formats-'));
let n = 0;
function file(name: string, text: string): string {
  const path = join(dir, `${n++}-${name}`);
  writeFileSync(path, text);
  return path;
}

const ESS = '"D3S1358":["15","16"],"vWA":["17","18"],"D8S1179":["13","14"],"D21S11":["29","30"],"D18S51":["14","15"],"TH01":["6","9.3"],"FGA":["21","22"]';
const line = (ref: string, extra = ''): string => `{"ref":"${ref}","kind":"reference","loci":{${ESS}${extra}}}`;

async function failure(path: string): Promise<OpenPrumError> {
  try {
    await readDnaFile(path);
  } catch (e) {
    if (e instanceof OpenPrumError) return e;
    throw e;
  }
  throw new Error(`${path} was read without error`);
}

describe('JSON Lines', () => {
  it('reads profiles, skips blank lines, handles CRLF and a BOM', async () => {
    const r = await readDnaFile(file('a.jsonl', `\ufeff${line('NL-1')}\r\n\r\n${line('NL-2', ',"SE33":["20.2"]')}\r\n`));
    expect(r.format).toBe('jsonl');
    expect(r.profiles.map((p) => p.ref)).toEqual(['NL-1', 'NL-2']);
    expect(r.profiles[1]!.loci.SE33).toEqual(['20.2', '20.2']);
  });

  it('lists refused profiles with line and reason', async () => {
    const r = await readDnaFile(file('b.jsonl', `${line('NL-1')}\n{"ref":"NL-2","kind":"unidentified","loci":{"D3S1358":["15","16"]}}\n`));
    expect(r.profiles).toHaveLength(1);
    expect(r.refused).toEqual([{ ref: 'NL-2', line: 2, reason: expect.stringMatching(/1 fully designated/) }]);
  });

  it('stops at a broken line, naming it', async () => {
    const e = await failure(file('c.jsonl', `${line('NL-1')}\n{"ref":"NL-2",\n`));
    expect(e.code).toBe('dna-file-invalid');
    expect(e.message).toMatch(/line 2: not a valid JSON line/);
    expect(e.details).toMatchObject({ line: 2 });
  });

  it('refuses unknown loci spellings, bad alleles, 40 loci, duplicate references, empty files', async () => {
    expect((await failure(file('d.jsonl', `${line('NL-1', ',"D3S1385":["1","2"]')}`))).message).toMatch(/line 1: "D3S1385" is not a known locus name \(did you mean D3S1358\?\)/);
    expect((await failure(file('e.jsonl', `${line('NL-1')}\n${line('NL-2', ',"TPOX":["abc","8"]')}`))).message).toMatch(/line 2: at TPOX: allele "abc"/);
    expect((await failure(file('f.jsonl', line('NL-1', ',"SE33":["15..2","8"]')))).code).toBe('dna-profile-invalid');
    const forty = Array.from({ length: 40 }, (_, i) => `"D5S${3000 + i * 13}":["10","11"]`).join(',');
    expect((await failure(file('g.jsonl', `{"ref":"X","kind":"unidentified","loci":{${forty}}}`))).message).toMatch(/more than 35 loci/);
    const dup = await failure(file('h.jsonl', `${line('NL-1')}\n${line('NL-2')}\n${line('NL-1')}\n`));
    expect(dup.message).toMatch(/NL-1 is used twice, on line 1 and line 3/);
    expect((await failure(file('i.jsonl', ''))).message).toMatch(/empty/);
    expect((await failure(file('j.jsonl', '\n  \n'))).message).toMatch(/no profiles/);
    expect((await failure(join(dir, 'missing.jsonl'))).code).toBe('file-unreadable');
  });

  it('refuses personal data (Prüm Decision Art. 2(2))', async () => {
    expect((await failure(file('k.jsonl', `{"ref":"NL-1","kind":"reference","name":"Jan","loci":{${ESS}}}`))).code).toBe('dna-personal-data');
    expect((await failure(file('l.jsonl', line('NL-1', ',"dateOfBirth":["1980"]')))).code).toBe('dna-personal-data');
  });
});

describe('CSV', () => {
  const header = 'ref,kind,D3S1358,vWA,D8S1179,D21S11,D18S51,TH01,FGA,Penta D,Amelogenin';
  const row = (ref: string, kind = 'reference'): string => `${ref},${kind},15/16,17/18,13/14,29/30,14/15,6/9.3,21/22,,X/Y`;

  it('reads a wide file with homozygotes, empty cells and quoted fields', async () => {
    const r = await readDnaFile(file('a.csv', `${header}\n${row('NL-1')}\n"NL-2",reference,15,17/18,13/14,29/30,14/15,6/OL,21/22,"12/13",X\n`));
    expect(r.format).toBe('csv');
    expect(r.profiles[1]!.loci).toMatchObject({ D3S1358: ['15', '15'], TH01: ['6', '*'], PentaD: ['12', '13'], AMEL: ['X', 'X'] });
    expect(r.profiles[0]!.loci.PentaD).toBeUndefined();
  });

  it('stops at bad lines, naming them', async () => {
    expect((await failure(file('b.csv', `${header}\n${row('NL-1')}\nNL-2,reference,15/16\n`))).message).toMatch(/line 3: has 3 fields but the header has 11/);
    expect((await failure(file('c.csv', `${header}\n${row('NL-1')}\nNL-2,reference,15/16,17/18,13/14,29/30,14/15,6/abc,21/22,,X\n`))).message).toMatch(/line 3: at TH01/);
    expect((await failure(file('d.csv', `${header}\n${row('NL-1')}\n${row('NL-1')}\n`))).message).toMatch(/line 2 and line 3/);
    expect((await failure(file('e.csv', `${header}\n`))).message).toMatch(/no profiles/);
    expect((await failure(file('f.csv', `ref,kind,D3S1358,VWA,vWA\n`))).message).toMatch(/same locus/);
    expect((await failure(file('g.csv', `D3S1358,vWA\n15/16,17/18\n`))).message).toMatch(/columns ref and kind/);
  });

  it('refuses extra columns as personal data (Prüm Decision Art. 2(2))', async () => {
    const e = await failure(file('h.csv', `${header},surname\n${row('NL-1')},Jansen\n`));
    expect(e.code).toBe('dna-personal-data');
    expect(e.message).toMatch(/line 1: column "surname"/);
  });
});
