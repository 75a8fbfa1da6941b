/**
 * Federation benchmark (issue 5): two nodes in this process, DE answering and NL searching, over
 * mutual TLS 1.3 on loopback with signed messages, replay guard, capacity accounting and records on.
 *
 *   node --import tsx bench/federation.ts [--vehicles 20000] [--duration 10] [--connections 8] [--searches 200]
 *
 * 1. incoming: signed vehicle requests sent straight to DE's peer interface by `connections`
 *    concurrent senders for `duration` seconds (90 % hits): answers per second and latency;
 * 2. outbox: `searches` federated searches created at NL at once: time until all are answered.
 *
 * Databases: fresh ones on the PostgreSQL server of DATABASE_URL when set, else in-memory PGlite.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.ts';
import { Federation } from '../src/exchange/federation.ts';
import { signDetached } from '../src/exchange/jws.ts';
import { PROTOCOL, type SearchRequest } from '../src/exchange/messages.ts';
import { PeerClient } from '../src/exchange/peer-client.ts';
import { addPeer } from '../src/exchange/peers.ts';
import { initCa, issueToDir, loadCredentials } from '../src/exchange/pki-store.ts';
import { nodeOn, prepareDatabase, type NodeContext } from '../src/node/node.ts';
import { writeVehicleFile } from '../src/vehicle/generate.ts';
import { importVehicles } from '../src/vehicle/import.ts';
import { arg, machine, percentile } from './support.ts';

const vehicles = Number(arg('vehicles', '20000'));
const duration = Number(arg('duration', '10'));
const connections = Number(arg('connections', '8'));
const searches = Number(arg('searches', '200'));

const dir = mkdtempSync(join(tmpdir(), 'openprum-bench-fed-'));
const dropDbs: string[] = [];
const serverUrl = process.env.DATABASE_URL;

async function freshDatabase() {
  if (!serverUrl) return openDatabase({});
  const name = `openprum_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  dropDbs.push(name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return openDatabase({ databaseUrl: url.toString(), poolSize: 10 });
}

async function node(country: string, caDir: string): Promise<{ node: NodeContext; fed: Federation }> {
  const database = await freshDatabase();
  await prepareDatabase(database.db, country, true);
  const dataDir = join(dir, country);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const n = nodeOn({ country, dataDir, databaseUrl: undefined, host: '127.0.0.1', port: 0, logLevel: 'silent' }, database, { signingKey: privateKey, publicKey });
  issueToDir(caDir, { country, outDir: join(dataDir, 'federation') });
  const fed = await Federation.start(n, { dir: join(dataDir, 'federation'), peerPort: 0, logLevel: 'silent', outbox: { pollMs: 50, batch: 32 } });
  await fed.publishDeclaration({
    files: [{ file: 'vehicle', conditions: 'benchmark' }],
    capacity: [{ kind: 'vehicle', perDay: 100_000_000 }],
    contactPoint: { name: `Bench ${country}` },
  });
  return { node: n, fed };
}

const results: Record<string, unknown> = { machine: machine(), database: serverUrl ? 'postgres' : 'pglite', vehicles, duration, connections, searches };
try {
  const caDir = join(dir, 'ca');
  initCa(caDir, { federation: 'Bench' });
  const de = await node('DE', caDir);
  const nl = await node('NL', caDir);
  await addPeer(nl.node.db, 'NL', 'DE', de.fed.peerUrl);
  const file = join(dir, 'de.csv');
  await writeVehicleFile(file, { count: vehicles, country: 'DE', seed: 7, format: 'csv' });
  await importVehicles(de.node.db, file);
  const vins = readFileSync(file, 'utf8').split('\n', 5001).slice(1).map((l) => l.split(',')[1]!).filter(Boolean);
  for (let i = 0; i < vins.length / 9; i++) vins.push(`ZZZZZZZZZZZ${String(100000 + i)}`);

  // 1. Incoming searches at DE's peer interface.
  const creds = loadCredentials(join(dir, 'NL', 'federation'), 'NL');
  const trust = nl.fed.trust();
  const client = new PeerClient({ keyPem: creds.keyPem, certPem: creds.certPem, caPem: trust.caPem, crlPem: trust.crlPem }, trust, { answerTimeoutMs: 30_000 });
  const signer = { key: creds.key, cert: creds.cert };
  let k = 0;
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + duration * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const now = new Date().toISOString();
        const req: SearchRequest = {
          protocol: PROTOCOL,
          type: 'search-request',
          messageId: randomUUID(),
          sentAt: now,
          requestingState: 'NL',
          requestedState: 'DE',
          reference: `NL-BENCH-${k}`,
          requestedAt: now,
          kind: 'vehicle',
          query: { key: 'vin', value: vins[k++ % vins.length]!, purpose: 'criminal-offences' },
        };
        const body = JSON.stringify(req);
        const t = performance.now();
        const r = await client.exchange('DE', `${de.fed.peerUrl}/peer/v1/searches`, 'POST', { body, jws: signDetached(body, signer) });
        latencies.push(performance.now() - t);
        if (r.status !== 200) errors++;
      }
    }),
  );
  await client.close();
  latencies.sort((a, b) => a - b);
  results.incoming = {
    answersPerSecond: Math.round(latencies.length / duration),
    requests: latencies.length,
    non200: errors,
    latencyMs: { p50: +percentile(latencies, 50).toFixed(1), p95: +percentile(latencies, 95).toFixed(1), p99: +percentile(latencies, 99).toFixed(1) },
  };
  process.stderr.write(`incoming: ${JSON.stringify(results.incoming)}\n`);

  // 2. Federated searches through NL's outbox.
  const officer = await nl.node.officers.create({ reference: 'bench', name: 'Bench Officer', roles: ['officer'] });
  const caller = { kind: 'officer' as const, officerId: officer.id, reference: 'bench', name: 'Bench Officer', roles: ['officer' as const], tokenId: 0 };
  const t0 = performance.now();
  for (let i = 0; i < searches; i++) {
    await nl.fed.createSearch(caller, { kind: 'vehicle', targets: ['DE'], query: { vin: vins[i % vins.length] }, purpose: 'criminal-offences', reason: 'benchmark', orderedBy: 'Benchmark' });
  }
  const created = performance.now() - t0;
  for (;;) {
    const open = await nl.node.db.selectFrom('federation_targets').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
    if (Number(open.n) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const total = performance.now() - t0;
  const rows = await nl.node.db.selectFrom('federation_targets').innerJoin('federation_searches', 'federation_searches.id', 'federation_targets.search_id').select(['federation_searches.created_at', 'federation_targets.answered_at', 'federation_targets.status']).execute();
  const waits = rows.filter((r) => r.answered_at).map((r) => Date.parse(r.answered_at!) - Date.parse(r.created_at)).sort((a, b) => a - b);
  results.outbox = {
    searchesPerSecond: Math.round(searches / (total / 1000)),
    createMs: Math.round(created),
    allAnsweredMs: Math.round(total),
    answered: rows.filter((r) => r.status === 'answered').length,
    answerLatencyMs: { p50: percentile(waits, 50), p95: percentile(waits, 95) },
  };
  console.log(JSON.stringify(results, null, 2));
  await nl.fed.close();
  await de.fed.close();
  await nl.node.close();
  await de.node.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (serverUrl && dropDbs.length > 0) {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    for (const name of dropDbs) await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  }
}
