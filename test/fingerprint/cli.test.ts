/**
 * `openprum fingerprint import|delete` as a user runs them: real child processes on one node's data
 * directory, each opening the national fingerprint file from the database anew.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTransaction } from '../../src/fingerprint/transaction-builder.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-node.ts';
import { fingerImage, fingerTemplate, iso, scratch } from './support.ts';

let dir: string;
let dataDir: string;
let testDb: TestDatabase | undefined;
let env: NodeJS.ProcessEnv;
let files: ReturnType<typeof scratch>;
const run = (args: string[]) => runCli([...args, '--data-dir', dataDir], { env, cwd: dir });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openprum-fp-cli-'));
  dataDir = join(dir, 'nl');
  files = scratch('openprum-fp-cli-files-');
  env = { ...process.env };
  delete env.DATABASE_URL;
  if (process.env.DATABASE_URL) {
    testDb = await createTestDatabase();
    await testDb.database.close();
    env.DATABASE_URL = testDb.url;
  }
  const init = await runCli(['init', '--country', 'NL', '--data-dir', dataDir], { env, cwd: dir });
  expect(init.code, init.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await testDb?.drop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  files?.remove();
});

describe('openprum fingerprint', () => {
  it('imports transactions and templates, all or nothing, and deletes by reference', async () => {
    const p1 = files.write('p1.an2', buildTransaction({ tcn: 'NL-P-1', fingers: [{ position: 1, image: fingerImage(11) }, { position: 2, template: fingerTemplate(12) }] }));
    const p2 = files.write('NL-P-2.iso', iso(fingerTemplate(21, 1, 4)));
    const ok = await run(['fingerprint', 'import', p1, p2]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ mode: 'upsert', stored: 2, fingers: 3, personsInFile: 2, files: [{ file: 'p1.an2', ref: 'NL-P-1', fingers: 2 }, { file: 'NL-P-2.iso', ref: 'NL-P-2', fingers: 1 }] });

    // A bad file refuses the whole import, naming the file and record (exit 65, nothing stored).
    const named = files.write('named.an2', buildTransaction({ tcn: 'NL-P-3', type2: { 18: 'SMITH,TOM' }, fingers: [{ position: 1, template: fingerTemplate(31) }] }));
    const p5 = files.write('NL-P-5.iso', iso(fingerTemplate(51, 1, 1)));
    const bad = await run(['fingerprint', 'import', p5, named]);
    expect(bad.code).toBe(65);
    expect(bad.stderr).toMatch(/named\.an2, record 2 \(Type-2\): field 2\.018 NAM.*\[fingerprint-personal-data\]/);

    // Another process finds what the first stored, and nothing of the refused import.
    const del = await run(['fingerprint', 'delete', 'NL-P-2']);
    expect(del.code, del.stderr).toBe(0);
    expect(JSON.parse(del.stdout)).toMatchObject({ deleted: 1, refs: ['NL-P-2'], personsInFile: 1 });
    const unknown = await run(['fingerprint', 'delete', 'NL-P-1', 'NL-P-3', 'NL-P-5']);
    expect(unknown.code).toBe(66);
    expect(unknown.stderr).toMatch(/no references NL-P-3, NL-P-5; nothing was deleted \[not-found\]/);
  }, 180_000);
});
