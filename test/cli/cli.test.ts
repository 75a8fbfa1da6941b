/**
 * The `openprum` command as a user runs it: a real child process of bin/openprum.js.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, freePort, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-node.ts';

let dir: string;
let testDb: TestDatabase | undefined;
let env: NodeJS.ProcessEnv;

const run = (args: string[]) => runCli(args, { env, cwd: dir });


beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openprum-cli-'));
  env = { ...process.env };
  delete env.DATABASE_URL;
  if (process.env.DATABASE_URL) {
    // Against PostgreSQL, the node under test gets a database of its own.
    testDb = await createTestDatabase();
    await testDb.database.close();
    env.DATABASE_URL = testDb.url;
  }
});
afterAll(async () => {
  await testDb?.drop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('openprum CLI', () => {
  it('prints help listing the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['init', 'serve', 'officer', 'vehicle', 'demo']) expect(r.stdout).toContain(c);
  });

  it('refuses usage mistakes with exit code 64', async () => {
    expect((await run(['init', '--country', 'NLD', '--data-dir', 'x'])).code).toBe(64);
    expect((await run(['serve', '--frobnicate'])).code).toBe(64);
    expect((await run(['nonsense'])).code).toBe(64);
  });

  it('says a directory holds no node (exit 78)', async () => {
    const r = await run(['serve', '--data-dir', join(dir, 'nothing')]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/holds no node.*openprum init/);
  });

  it('initialises a node once, imports vehicles all or nothing, and serves until stopped', async () => {
    const dataDir = join(dir, 'nl');
    const init = await run(['init', '--country', 'nl', '--data-dir', dataDir]);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const out = JSON.parse(init.stdout);
    expect(out).toMatchObject({ country: 'NL', dataDir, admin: { reference: 'admin' }, database: process.env.DATABASE_URL ? 'postgres' : 'pglite' });
    expect(out.token).toMatch(/^opr_\d+_/);
    // Development keys are generated at first start, private key readable by the owner only.
    const keyFile = join(dataDir, 'keys', 'node-signing-key.pem');
    expect(readFileSync(keyFile, 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    const { statSync } = await import('node:fs');
    expect(statSync(keyFile).mode & 0o077).toBe(0);

    const again = await run(['init', '--country', 'NL', '--data-dir', dataDir]);
    expect(again.code).toBe(73);
    expect(again.stderr).toMatch(/holds a node already/);

    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"registrationNumber":"A1"}\n');
    const rejected = await run(['vehicle', 'import', bad, '--data-dir', dataDir]);
    expect(rejected.code).toBe(65);
    expect(rejected.stderr).toMatch(/line 1: .*nothing was imported \[vehicle-import-invalid\]/);

    const good = join(dir, 'good.csv');
    const gen = await run(['vehicle', 'generate', '--out', good, '--count', '300', '--country', 'NL']);
    expect(gen.code).toBe(0);
    const imported = await run(['vehicle', 'import', good, '--data-dir', dataDir]);
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ rows: 300, inserted: 300 });

    const added = await run(['officer', 'add', '--data-dir', dataDir, '--reference', 'NL-OFF-1', '--name', 'Jan de Vries', '--role', 'officer', '--expires-in', '30d']);
    expect(added.code).toBe(0);
    const officerToken = JSON.parse(added.stdout).token as string;

    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'warn'], { env, cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      let health: Response | undefined;
      for (let i = 0; i < 100 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 200));
      }
      expect(health?.status).toBe(200);
      // A second process may not open the same embedded database.
      if (!process.env.DATABASE_URL) {
        const busy = await run(['officer', 'list', '--data-dir', dataDir]);
        expect(busy.code).toBe(75);
        expect(busy.stderr).toMatch(/in use by process/);
      }
      const firstLine = readFileSync(good, 'utf8').split('\n')[1]!;
      const plate = firstLine.split(',')[0]!;
      const res = await fetch(`http://127.0.0.1:${port}/v1/vehicles/searches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${officerToken}` },
        body: JSON.stringify({ registrationNumber: plate, purpose: 'public-security', reason: 'CLI test', orderedBy: 'Test' }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { hit: boolean }).hit).toBe(true);
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(code, stderr).toBe(0);
    }
    expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
  }, 240_000);
});
