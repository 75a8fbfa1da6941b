import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerDnaCommands } from '../cli/dna-commands.ts';
import { OpenPrumError } from '../errors/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'openprum-dna-cli-'));
let stderr: string[] = [];
let stdout: string[] = [];

function program(): Command {
  const p = new Command('openprum').exitOverride();
  registerDnaCommands(p);
  return p;
}

async function run(...args: string[]): Promise<void> {
  await program().parseAsync(['node', 'openprum', 'dna', ...args]);
}

beforeEach(() => {
  stderr = [];
  stdout = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    stderr.push(String(s));
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    stdout.push(String(s));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('openprum dna', () => {
  const a = join(dir, 'nl.jsonl');
  const b = join(dir, 'de.csv');

  it('generates, compares and searches', async () => {
    await run('generate', '--out', a, '--profiles', '800', '--country', 'NL', '--seed', '3', '--truth', join(dir, 'truth.jsonl'), '--peer-out', b, '--peer-country', 'DE');
    expect(stderr.join('')).toMatch(/wrote 800 profiles .* and 800 to/);

    const out = join(dir, 'hits.jsonl');
    const summary = join(dir, 'summary.json');
    await run('compare', a, b, '--out', out, '--summary', summary, '--threads', '0');
    const hits = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(hits.length).toBeGreaterThan(0);
    expect(Object.keys(hits[0]!)).toEqual(['a', 'b', 'quality', 'matchingLoci', 'comparedLoci', 'mismatches', 'rmp']);
    const s = JSON.parse(readFileSync(summary, 'utf8')) as { hits: number; a: { records: number }; expectedChanceHits: { expected: number } };
    expect(s.hits).toBe(hits.length);
    expect(s.a.records).toBe(800);
    const text = stderr.join('');
    expect(text).toMatch(/hits: \d+ \(match \d+, wildcard-match \d+, near-match \d+\)/);
    expect(text).toMatch(/expected chance hits/);

    // Search a few profiles of A against B: the same hits for them.
    const few = join(dir, 'few.jsonl');
    const lines = readFileSync(a, 'utf8').trim().split('\n');
    const queries = hits.slice(0, 5).map((h) => lines.find((l) => l.includes(`"ref":"${String(h.a)}"`))!);
    writeFileSync(few, `${[...new Set(queries)].join('\n')}\n`);
    stdout = [];
    await run('search', few, '--against', b, '--theta', '0.01');
    const found = stdout.join('').trim().split('\n').map((l) => JSON.parse(l) as { a: string; b: string });
    const wanted = hits.filter((h) => queries.some((q) => q.includes(`"ref":"${String(h.a)}"`)));
    expect(found.map((h) => `${h.a} ${h.b}`).sort()).toEqual(wanted.map((h) => `${String(h.a)} ${String(h.b)}`).sort());
  });

  it('fails with an OpenPrumError on bad input', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"ref":"X","kind":"reference","loci":{"D3S1358":["abc","1"]}}\n');
    await expect(run('compare', bad, bad, '--threads', '0')).rejects.toThrow(OpenPrumError);
    await expect(run('compare', bad, bad, '--theta', 'much')).rejects.toMatchObject({ code: 'usage' });
    await expect(run('generate', '--out', join(dir, 'x.txt'))).rejects.toMatchObject({ code: 'usage' });
  });
});
