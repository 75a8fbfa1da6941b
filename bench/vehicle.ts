/**
 * Vehicle benchmark (issue: foundation): import of a synthetic register into PostgreSQL, then
 * searches through HTTP with authentication and recording on, the server in its own process and the
 * load from this one.
 *
 *   node --import tsx bench/vehicle.ts [--vehicles 1000000] [--duration 20] [--connections 16]
 *
 * Uses DATABASE_URL when set, else starts a throwaway PostgreSQL 15 (.ci/start-postgres.sh).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon, { type Request } from 'autocannon';
import pg from 'pg';
import { loadConfig } from '../src/node/config.ts';
import { initNode, openNode } from '../src/node/node.ts';
import { writeVehicleFile } from '../src/vehicle/generate.ts';
import { importVehicles } from '../src/vehicle/import.ts';
import { arg, benchPostgres, machine } from './support.ts';

const vehicles = Number(arg('vehicles', '1000000'));
const duration = Number(arg('duration', '20'));
const connections = Number(arg('connections', '16'));
const port = Number(arg('port', '18080'));

const pgdb = await benchPostgres();
const dir = mkdtempSync(join(tmpdir(), 'openprum-bench-vehicle-'));
const results: Record<string, unknown> = { machine: machine(), vehicles, duration, connections };
try {
  const dataDir = join(dir, 'nl');
  await initNode({ country: 'NL', dataDir, databaseUrl: pgdb.url });
  const file = join(dir, 'register.csv');
  let t = performance.now();
  await writeVehicleFile(file, { count: vehicles, country: 'NL', seed: 42, format: 'csv' });
  process.stderr.write(`generated ${vehicles} vehicles in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);

  const env = { ...process.env, DATABASE_URL: pgdb.url };
  process.env.DATABASE_URL = pgdb.url;
  const node = await openNode(loadConfig(dataDir));
  t = performance.now();
  const imported = await importVehicles(node.db, file, { onProgress: (n) => n % 200_000 === 0 && process.stderr.write(`  imported ${n}\n`) });
  const importSeconds = (performance.now() - t) / 1000;
  results.importSeconds = Number(importSeconds.toFixed(2));
  results.importRowsPerSecond = Math.round(imported.rows / importSeconds);
  process.stderr.write(`imported ${imported.rows} vehicles in ${importSeconds.toFixed(1)} s\n`);
  const officer = await node.officers.create({ reference: 'bench', name: 'Bench Officer', roles: ['officer'] });
  const { token } = await node.officers.issueToken(officer.id);
  await node.close();
  const countRecords = async (): Promise<number> => {
    const c = new pg.Client({ connectionString: pgdb.url });
    await c.connect();
    const n = Number((await c.query('select count(*) as n from records')).rows[0].n);
    await c.end();
    return n;
  };

  // Registration numbers to search: 90 % from the register (hits), 10 % made up (no hits).
  const plates = readFileSync(file, 'utf8').split('\n', 20_001).slice(1).map((l) => l.split(',')[0]!).filter(Boolean);
  for (let i = 0; i < plates.length / 9; i++) plates.push(`ZZ-${i}-NOHIT`);

  let recordsBefore = 0;
  const server = spawn(process.execPath, ['bin/openprum.js', 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'error'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok).catch(() => false);
      if (ok) break;
      if (i > 300) throw new Error('the server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    let k = 0;
    const request = {
      method: 'POST' as const,
      path: '/v1/vehicles/searches',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      setupRequest: (req: Request): Request => ({
        ...req,
        body: JSON.stringify({ registrationNumber: plates[k++ % plates.length], purpose: 'criminal-offences', reason: 'benchmark', orderedBy: 'Benchmark' }),
      }),
    };
    process.stderr.write('warming up (3 s)\n');
    await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration: 3, requests: [request] });
    recordsBefore = await countRecords();
    process.stderr.write(`searching for ${duration} s with ${connections} connections\n`);
    const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration, requests: [request] });
    results.searchesPerSecond = Math.round(r.requests.average);
    results.latencyMs = { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max };
    results.requests = r.requests.total;
    results.non2xx = r.non2xx;
    results.errors = r.errors;
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
  }
  // Every answered search wrote its record (in-flight requests at the end may add a few more).
  results.recordsWritten = (await countRecords()) - recordsBefore;
  console.log(JSON.stringify(results, null, 2));
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/vehicle.json', `${JSON.stringify(results, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await pgdb.stop();
}
