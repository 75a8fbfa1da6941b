/**
 * Federation benchmark (issue 5): nodes in this process over mutual TLS 1.3 on loopback, with signed
 * messages, replay guard, capacity accounting and records on.
 *
 *   node --import tsx bench/federation.ts [--kind dna|vehicle] [--profiles 100000] [--vehicles 20000]
 *        [--duration 10] [--connections 8] [--searches 200] [--peers 10] [--fanouts 100] [--only incoming,outbox,fanout]
 *
 * 1. incoming: signed requests sent straight to DE's peer interface by `connections` concurrent
 *    senders for `duration` seconds: answers per second and latency. DNA (default): one profile per
 *    request against a national file of `profiles` synthetic profiles, half of them stains of persons
 *    in the file (hits), half unrelated; vehicle: VINs, 90 % hits;
 * 2. outbox: `searches` federated searches created at NL at once: time until all are answered;
 * 3. fan-out: one DNA search of NL to `peers` peer nodes (each with a file of 1,000 profiles), `fanouts`
 *    times one after the other: time from the officer's call until every state has answered.
 *
 * Databases: fresh ones on the PostgreSQL server of DATABASE_URL when set, else in-memory PGlite.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.ts';
import { writeSyntheticFiles } from '../src/dna/generate.ts';
import { DNA_PURPOSE } from '../src/dna/national-file.ts';
import { parseProfile } from '../src/dna/profile.ts';
import { Federation } from '../src/exchange/federation.ts';
import { signDetached } from '../src/exchange/jws.ts';
import { PROTOCOL, type SearchRequest } from '../src/exchange/messages.ts';
import { PeerClient } from '../src/exchange/peer-client.ts';
import { addPeer } from '../src/exchange/peers.ts';
import { initCa, issueToDir, loadCredentials } from '../src/exchange/pki-store.ts';
import type { OfficerCaller } from '../src/identity/caller.ts';
import { nodeOn, prepareDatabase, type NodeContext } from '../src/node/node.ts';
import { writeVehicleFile } from '../src/vehicle/generate.ts';
import { importVehicles } from '../src/vehicle/import.ts';
import { arg, machine, percentile, postgresCpuMs } from './support.ts';

const kind = arg('kind', 'dna');
const profiles = Number(arg('profiles', '100000'));
const vehicles = Number(arg('vehicles', '20000'));
const duration = Number(arg('duration', '10'));
const connections = Number(arg('connections', '8'));
const searches = Number(arg('searches', '200'));
const peers = Number(arg('peers', '10'));
const fanouts = Number(arg('fanouts', '100'));
const only = new Set(arg('only', 'incoming,outbox,fanout').split(','));
if (kind !== 'dna' && kind !== 'vehicle') throw new Error('--kind is dna or vehicle');

const dir = mkdtempSync(join(tmpdir(), 'openprum-bench-fed-'));
const dropDbs: string[] = [];
const serverUrl = process.env.DATABASE_URL;
const say = (m: string) => process.stderr.write(`${m}\n`);

async function freshDatabase(poolSize: number) {
  if (!serverUrl) return openDatabase({});
  const name = `openprum_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  dropDbs.push(name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return openDatabase({ databaseUrl: url.toString(), poolSize });
}

const STATES = ['DE', 'NL', 'AT', 'BE', 'CZ', 'DK', 'ES', 'FI', 'FR', 'IT', 'LU', 'PL', 'PT', 'SE', 'SI', 'SK'];

async function node(country: string, caDir: string, poolSize = 10): Promise<{ node: NodeContext; fed: Federation }> {
  const database = await freshDatabase(poolSize);
  await prepareDatabase(database.db, country, true);
  const dataDir = join(dir, country);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const n = nodeOn({ country, dataDir, databaseUrl: undefined, host: '127.0.0.1', port: 0, logLevel: 'silent' }, database, { signingKey: privateKey, publicKey });
  issueToDir(caDir, { country, outDir: join(dataDir, 'federation') });
  const fed = await Federation.start(n, { dir: join(dataDir, 'federation'), peerPort: 0, logLevel: 'silent', outbox: { pollMs: 50, batch: 32 } });
  await fed.publishDeclaration({
    files: [
      { file: 'vehicle', conditions: 'benchmark' },
      { file: 'dna-reference', conditions: 'benchmark' },
      { file: 'dna-unidentified', conditions: 'benchmark' },
    ],
    capacity: [
      { kind: 'vehicle', perDay: 100_000_000 },
      { kind: 'dna', perDay: 100_000_000 },
    ],
    contactPoint: { name: `Bench ${country}` },
  });
  return { node: n, fed };
}

type Loci = Record<string, [string, string]>;

/** A synthetic national DNA file imported into the node; returns some of its reference profiles. */
async function dnaFile(n: NodeContext, country: string, count: number, seed: number): Promise<Loci[]> {
  const file = join(dir, `${country}-dna.jsonl`);
  await writeSyntheticFiles({ out: file, options: { profiles: count, country, seed } });
  await (await n.dna()).importFile(file);
  const lines = readFileSync(file, 'utf8').split('\n', 20_000).filter(Boolean);
  return lines
    .map((l) => JSON.parse(l) as { ref: string; kind: string; loci: Loci })
    .filter((p) => p.kind === 'reference' && Object.keys(p.loci).length >= 10)
    // On the wire every locus has two alleles (a homozygote twice), as the officer's search sends it.
    .map((p) => parseProfile(p).loci as Loci);
}

function stats(latencies: number[]) {
  latencies.sort((a, b) => a - b);
  return { p50: +percentile(latencies, 50).toFixed(1), p95: +percentile(latencies, 95).toFixed(1), p99: +percentile(latencies, 99).toFixed(1), max: +(latencies.at(-1) ?? NaN).toFixed(1) };
}

async function waitAllAnswered(n: NodeContext): Promise<void> {
  for (;;) {
    const open = await n.db.selectFrom('federation_targets').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
    if (Number(open.n) === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const results: Record<string, unknown> = { machine: machine(), database: serverUrl ? 'postgres' : 'pglite', kind, profiles, vehicles, duration, connections, searches, peers, fanouts };
const closers: Array<() => Promise<void>> = [];
try {
  const caDir = join(dir, 'ca');
  initCa(caDir, { federation: 'Bench' });
  const de = await node('DE', caDir);
  const nl = await node('NL', caDir);
  closers.push(() => de.fed.close(), () => nl.fed.close(), () => de.node.close(), () => nl.node.close());
  await addPeer(nl.node.db, 'NL', 'DE', de.fed.peerUrl);

  const queries: unknown[] = [];
  if (kind === 'vehicle') {
    const file = join(dir, 'de.csv');
    await writeVehicleFile(file, { count: vehicles, country: 'DE', seed: 7, format: 'csv' });
    await importVehicles(de.node.db, file);
    const vins = readFileSync(file, 'utf8').split('\n', 5001).slice(1).map((l) => l.split(',')[1]!).filter(Boolean);
    for (let i = 0; i < vins.length / 9; i++) vins.push(`ZZZZZZZZZZZ${String(100000 + i)}`);
    for (const v of vins) queries.push({ key: 'vin', value: v, purpose: 'criminal-offences' });
  } else {
    say(`DE: importing ${profiles.toLocaleString('en')} synthetic DNA profiles …`);
    const known = await dnaFile(de.node, 'DE', profiles, 4);
    const other = await dnaFile(nl.node, 'NL', Math.min(profiles, 5_000), 5);
    for (let i = 0; i < 2_000; i++) {
      const loci = i % 2 === 0 ? known[i % known.length]! : other[i % other.length]!;
      queries.push({ profile: { ref: `NL-STAIN-${i}`, kind: 'unidentified', loci }, purpose: DNA_PURPOSE });
    }
  }

  if (only.has('incoming')) {
    // 1. Incoming searches at DE's peer interface.
    const creds = loadCredentials(join(dir, 'NL', 'federation'), 'NL');
    const trust = nl.fed.trust();
    const client = new PeerClient({ keyPem: creds.keyPem, certPem: creds.certPem, caPem: trust.caPem, crlPem: trust.crlPem }, trust, { answerTimeoutMs: 30_000 });
    const signer = { key: creds.key, cert: creds.cert };
    let k = 0;
    const latencies: number[] = [];
    let errors = 0;
    let hits = 0;
    const send = async () => {
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
        kind,
        query: queries[k++ % queries.length] as SearchRequest['query'],
      };
      const body = JSON.stringify(req);
      const t = performance.now();
      const r = await client.exchange('DE', `${de.fed.peerUrl}/peer/v1/searches`, 'POST', { body, jws: signDetached(body, signer) });
      latencies.push(performance.now() - t);
      if (r.status !== 200) {
        if (errors++ === 0) say(`first refusal: ${r.status} ${r.body.slice(0, 300)}`);
      }
      else if ((JSON.parse(r.body) as { hit: boolean }).hit) hits++;
    };
    for (let i = 0; i < 50; i++) await send(); // warm-up
    latencies.length = 0;
    errors = 0;
    hits = 0;
    // CPU per answer: this process (the answering node and the bench's sender, which signs, encrypts
    // and checks like a requesting node) and the PostgreSQL server (when its data folder is known:
    // PGDATA, or PG_TMPDIR of .ci/start-postgres.sh).
    const pgData = process.env.PGDATA ?? (process.env.PG_TMPDIR ? join(process.env.PG_TMPDIR, 'data') : undefined);
    const cpu0 = process.cpuUsage();
    const pg0 = serverUrl ? postgresCpuMs(pgData) : undefined;
    const t0 = performance.now();
    const end = t0 + duration * 1000;
    await Promise.all(Array.from({ length: connections }, async () => { while (performance.now() < end) await send(); }));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const pg1 = serverUrl ? postgresCpuMs(pgData) : undefined;
    await client.close();
    const n = latencies.length;
    results.incoming = {
      answersPerSecond: Math.round(n / elapsed),
      requests: n,
      hits,
      non200: errors,
      latencyMs: stats(latencies),
      cpuMsPerAnswer: {
        nodeAndSender: +((cpu.user + cpu.system) / 1000 / n).toFixed(3),
        ...(pg0 !== undefined && pg1 !== undefined ? { postgres: +((pg1 - pg0) / n).toFixed(3) } : {}),
      },
    };
    say(`incoming: ${JSON.stringify(results.incoming)}`);
  }

  const officerOf = async (n: NodeContext): Promise<OfficerCaller> => {
    const officer = await n.officers.create({ reference: 'bench', name: 'Bench Officer', roles: ['officer'] });
    return { kind: 'officer', officerId: officer.id, reference: 'bench', name: 'Bench Officer', roles: ['officer'], tokenId: 0 };
  };
  const nlOfficer = await officerOf(nl.node);
  const officerQuery = (i: number) => {
    const q = queries[i % queries.length] as { key?: string; value?: string; profile?: unknown };
    return kind === 'vehicle' ? { kind, query: { vin: q.value }, purpose: 'criminal-offences' } : { kind, query: { profile: q.profile }, purpose: DNA_PURPOSE };
  };

  if (only.has('outbox')) {
    // 2. Federated searches through NL's outbox.
    const t0 = performance.now();
    for (let i = 0; i < searches; i++) {
      await nl.fed.createSearch(nlOfficer, { ...officerQuery(i), targets: ['DE'], reason: 'benchmark', orderedBy: 'Benchmark' });
    }
    const created = performance.now() - t0;
    await waitAllAnswered(nl.node);
    const total = performance.now() - t0;
    const rows = await nl.node.db.selectFrom('federation_targets').innerJoin('federation_searches', 'federation_searches.id', 'federation_targets.search_id').select(['federation_searches.created_at', 'federation_targets.answered_at', 'federation_targets.status']).execute();
    const waits = rows.filter((r) => r.answered_at).map((r) => Date.parse(r.answered_at!) - Date.parse(r.created_at));
    results.outbox = {
      searchesPerSecond: Math.round(searches / (total / 1000)),
      createMs: Math.round(created),
      allAnsweredMs: Math.round(total),
      answered: rows.filter((r) => r.status === 'answered').length,
      answerLatencyMs: stats(waits),
    };
    say(`outbox: ${JSON.stringify(results.outbox)}`);
  }

  if (only.has('fanout')) {
    // 3. One search to `peers` states at once.
    const targets: string[] = [];
    const others = STATES.filter((c) => c !== 'NL' && c !== 'DE');
    for (let i = 0; i < peers; i++) {
      const country = i === 0 ? 'DE' : others[i - 1];
      if (!country) throw new Error(`at most ${others.length + 1} peers`);
      if (country !== 'DE') {
        say(`starting peer ${country} (${i + 1}/${peers}) …`);
        const p = await node(country, caDir, 4);
        closers.unshift(() => p.fed.close(), () => p.node.close());
        await dnaFile(p.node, country, 1_000, 100 + i);
        await addPeer(nl.node.db, 'NL', country, p.fed.peerUrl);
      }
      targets.push(country);
    }
    await nl.fed.refreshDeclarations();
    const latencies: number[] = [];
    for (let i = 0; i < fanouts + 5; i++) {
      const t = performance.now();
      const view = await nl.fed.createSearch(nlOfficer, { ...officerQuery(i), targets, reason: 'benchmark fan-out', orderedBy: 'Benchmark' });
      for (;;) {
        const rows = await nl.node.db.selectFrom('federation_targets').select('status').where('search_id', '=', view.id).where('status', '=', 'pending').execute();
        if (rows.length === 0) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      if (i >= 5) latencies.push(performance.now() - t); // the first five warm connections up
    }
    const failed = await nl.node.db.selectFrom('federation_targets').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '!=', 'answered').executeTakeFirstOrThrow();
    results.fanout = { peers, searches: fanouts, notAnswered: Number(failed.n), allAnsweredMs: stats(latencies) };
    say(`fan-out: ${JSON.stringify(results.fanout)}`);
  }
  console.log(JSON.stringify(results, null, 2));
} finally {
  for (const c of closers) await c().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  if (serverUrl && dropDbs.length > 0) {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    for (const name of dropDbs) await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  }
}
