/**
 * Bulk comparison benchmark (Prüm Decision Art. 4): NL compares its unidentified profiles with DE's
 * national DNA file, two nodes in this process over mutual TLS 1.3 on loopback, with signed messages,
 * replay guard, capacity accounting and a record per chunk on both sides, exactly as in production.
 *
 *   node --import tsx bench/federation-bulk.ts [--stains 10000] [--profiles 100000] [--chunk 500]
 *
 * Prints the time from the admin's start to the comparison's end and profiles compared per second
 * (the DE index build and imports are not counted), plus the share of the planted hits found.
 * Databases: fresh ones on the PostgreSQL server of DATABASE_URL when set, else in-memory PGlite.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.ts';
import { compareFiles } from '../src/dna/bulk.ts';
import { writeSyntheticFiles } from '../src/dna/generate.ts';
import { getBulkComparison } from '../src/exchange/bulk.ts';
import { Federation } from '../src/exchange/federation.ts';
import { addPeer } from '../src/exchange/peers.ts';
import { initCa, issueToDir } from '../src/exchange/pki-store.ts';
import { nodeOn, prepareDatabase, type NodeContext } from '../src/node/node.ts';
import { arg, machine } from './support.ts';

const stains = Number(arg('stains', '10000'));
const profiles = Number(arg('profiles', '100000'));
const chunkSize = Number(arg('chunk', '500'));

const dir = mkdtempSync(join(tmpdir(), 'openprum-bench-bulk-'));
const dropDbs: string[] = [];
const serverUrl = process.env.DATABASE_URL;
const say = (m: string) => process.stderr.write(`${m}\n`);

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
  const fed = await Federation.start(n, {
    dir: join(dataDir, 'federation'),
    peerPort: 0,
    logLevel: 'silent',
    bulk: { chunkSize, pollMs: 50 },
    // A chunk of 500 profiles against a large file takes a while: give it time.
    client: { answerTimeoutMs: 300_000, maxAnswerBytes: 64 * 1024 * 1024 },
  });
  await fed.publishDeclaration({
    files: [
      { file: 'dna-reference', conditions: 'benchmark' },
      { file: 'dna-unidentified', conditions: 'benchmark' },
    ],
    capacity: [{ kind: 'dna', perDay: 100_000_000 }],
    contactPoint: { name: `Bench ${country}` },
    bulkComparison: { states: 'all', maxProfilesPerDay: 100_000_000 },
  });
  return { node: n, fed };
}

const results: Record<string, unknown> = { machine: machine(), database: serverUrl ? 'postgres' : 'pglite', stains, profiles, chunkSize };
const closers: Array<() => Promise<void>> = [];
try {
  const caDir = join(dir, 'ca');
  initCa(caDir, { federation: 'Bench' });
  const de = await node('DE', caDir);
  const nl = await node('NL', caDir);
  closers.push(() => de.fed.close(), () => nl.fed.close(), () => de.node.close(), () => nl.node.close());
  await addPeer(nl.node.db, 'NL', 'DE', de.fed.peerUrl);
  await nl.fed.refreshDeclarations();

  // NL: almost only unidentified traces; DE: a national file with planted pairs across the two.
  const nlFile = join(dir, 'nl.jsonl');
  const deFile = join(dir, 'de.jsonl');
  const truthFile = join(dir, 'truth.jsonl');
  say(`generating ${stains.toLocaleString('en')} NL stains and ${profiles.toLocaleString('en')} DE profiles …`);
  await writeSyntheticFiles(
    { out: nlFile, options: { profiles: stains, country: 'NL', seed: 11, traceRate: 0.85, partialRate: 0.15 } },
    { out: deFile, options: { profiles, country: 'DE', seed: 12 } },
    truthFile,
  );
  say('importing …');
  await (await nl.node.dna()).importFile(nlFile);
  const t0 = performance.now();
  await (await de.node.dna()).importFile(deFile);
  results.deImportAndIndexSeconds = +((performance.now() - t0) / 1000).toFixed(1);
  const nlStains = new Set(
    (await nl.node.db.selectFrom('dna_profiles').select('ref').where('kind', '=', 'unidentified').execute()).map((r) => r.ref),
  );
  // Planted cross-file pairs with an NL stain on one side: hits the comparison must find.
  const planted = readFileSync(truthFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { aFile: string; a: string; bFile: string; b: string; relation: string })
    .filter((p) => p.aFile !== p.bFile && ['duplicate', 'near-match', 'trace'].includes(p.relation))
    .map((p) => (p.aFile === 'out' ? { nl: p.a, de: p.b } : { nl: p.b, de: p.a }))
    .filter((p) => nlStains.has(p.nl));

  say(`comparing ${nlStains.size.toLocaleString('en')} stains with DE …`);
  const admin = await nl.node.officers.create({ reference: 'bench-admin', name: 'Bench admin', roles: ['admin'] });
  const caller = { kind: 'officer' as const, officerId: admin.id, reference: admin.reference, name: admin.name, roles: admin.roles, tokenId: 0 };
  const started = performance.now();
  const v = await nl.fed.bulk.create(caller, { state: 'DE', mode: 'all' });
  let last = '';
  for (;;) {
    const s = (await getBulkComparison(nl.node.db, v.id))!;
    const line = `${s.status}: ${s.chunks.done}/${s.chunks.total} chunks, ${s.hits} hits`;
    if (line !== last) say(line);
    last = line;
    if (!['opening', 'running'].includes(s.status)) {
      const seconds = (performance.now() - started) / 1000;
      const hits = await nl.node.db.selectFrom('dna_bulk_hits').select(['own_ref', 'peer_ref']).where('comparison_id', '=', v.id).execute();
      const found = new Set(hits.map((h) => `${h.own_ref}|${h.peer_ref}`));
      // The same two files through the engine's own bulk comparison (compareFiles): the hits must agree.
      const engine = (await compareFiles(nlFile, deFile, { threads: 0 })).hits.filter((h) => nlStains.has(h.a)).map((h) => `${h.a}|${h.b}`);
      const sameAsEngine = engine.length === found.size && engine.every((k) => found.has(k));
      Object.assign(results, {
        status: s.status,
        stainsCompared: s.profilesCompared,
        chunks: s.chunks.total,
        hits: s.hits,
        plantedFound: `${planted.filter((p) => found.has(`${p.nl}|${p.de}`)).length}/${planted.length} (some planted pairs, partial traces or other kits, are no hit under the rule; sameAsEngine is the check)`,
        engineHits: engine.length,
        sameAsEngine,
        seconds: +seconds.toFixed(2),
        profilesPerSecond: Math.round(s.profilesCompared / seconds),
        errors: s.errors.slice(0, 3),
      });
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} finally {
  for (const c of closers) await c().catch(() => undefined);
  if (serverUrl && dropDbs.length > 0) {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    for (const name of dropDbs) await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
    await admin.end();
  }
  rmSync(dir, { recursive: true, force: true });
}
