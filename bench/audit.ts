/**
 * Audit log benchmark (issue 7, item 8) on PostgreSQL:
 *
 *   node --import tsx bench/audit.ts [--backlog 200000] [--writers 4] [--duration 20] [--proof-entries 1000000] [--synthetic 0]
 *
 *  1. durable sealing of a backlog: records already written, integrated by the sequencer (canonical
 *     JSON, salted commitment, leaf, tree nodes, entries, state and a signed head, one transaction
 *     per batch of 5 000, synchronous_commit on): entries/s;
 *  2. the hot path and the sequencer together: `writers` connections each writing records one
 *     statement at a time (as a search does) while the sequencer seals every second in the same
 *     process: records written/s, entries sealed/s, and the lag left when the writers stop;
 *  3. inclusion proofs from the database (one query for ≤ 2·log2 n nodes) in a log of
 *     `proof-entries` entries (filled through the real sequencer), p50/p99/mean;
 *  4. with --synthetic N: the same in a tree of N leaves written straight into the node table
 *     (for 10 M entries without writing 10 M records).
 *
 * Uses DATABASE_URL when set, else starts a throwaway PostgreSQL 15 (.ci/start-postgres.sh, which
 * runs with fsync=off: for durable figures point DATABASE_URL at a server with fsync on).
 */
import { generateKeyPairSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { sql } from 'kysely';
import { MerkleTree, leafHash, toHex, verifyInclusion, type NodeStore } from '../src/audit/merkle/index.ts';
import { writeRecord, type RecordEntry } from '../src/audit/records.ts';
import { sealLog, startSequencer } from '../src/audit/sequencer.ts';
import { inclusionProof, latestHead, readLogState } from '../src/audit/store.ts';
import { openDatabase } from '../src/db/connect.ts';
import type { NodeConfig } from '../src/node/config.ts';
import { nodeOn, prepareDatabase } from '../src/node/node.ts';
import { arg, benchPostgres, machine, percentile } from './support.ts';

const backlog = Number(arg('backlog', '200000'));
const writers = Number(arg('writers', '4'));
const duration = Number(arg('duration', '20'));
const proofEntries = Number(arg('proof-entries', '1000000'));
const synthetic = Number(arg('synthetic', '0'));

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const pgdb = await benchPostgres();
const database = await openDatabase({ databaseUrl: pgdb.url, poolSize: writers + 4 });
try {
  await prepareDatabase(database.db, 'NL', true);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const config: NodeConfig = { country: 'NL', dataDir: '/nonexistent', databaseUrl: pgdb.url, host: '127.0.0.1', port: 0, logLevel: 'silent' };
  const node = nodeOn(config, database, { signingKey: privateKey, publicKey });
  const db = node.db;
  const settings = await sql<{ fsync: string; sc: string; v: string }>`select current_setting('fsync') as fsync, current_setting('synchronous_commit') as sc, version() as v`.execute(db);
  log(`Machine: ${machine()}`);
  log(`PostgreSQL: ${settings.rows[0]!.v.split(' on ')[0]}, fsync=${settings.rows[0]!.fsync}, synchronous_commit=${settings.rows[0]!.sc}`);

  /** Inserts n records like vehicle searches (a third of them hits with vehicle and holder), in bulk. */
  const bulkRecords = async (n: number): Promise<void> => {
    for (let done = 0; done < n; done += 50_000) {
      const k = Math.min(50_000, n - done);
      await sql`insert into records (action, direction, searching_body, administering_body, officer_reference, ordered_by, reason, purpose, legal_basis, query, supplied, hit, outcome, request_id)
        select 'vehicle.search', 'local', 'NL NCP', 'NL vehicle register', 'off-' || (g % 50), 'Inspector ' || (g % 7),
          'Case 2026/' || g || ': vehicle seen at a burglary', 'criminal-offences', 'Prüm Decision Art. 12(1)',
          jsonb_build_object('registrationNumber', 'XK' || g),
          case when g % 3 = 0 then jsonb_build_array(jsonb_build_object('registrationNumber', 'XK-' || g, 'vin', 'WVWZZZ1JZXW' || lpad(g::text, 6, '0'),
            'make', 'Volkswagen', 'model', 'Golf', 'vehicleType', 'M1', 'colour', 'blue', 'firstRegistrationDate', '2019-04-01',
            'holder', jsonb_build_object('type', 'natural', 'surname', 'Jansen', 'firstNames', 'Pieter ' || g, 'birthDate', '1980-02-03', 'address', 'Dorpsstraat ' || g || ', 1234 AB Utrecht'))) end,
          g % 3 = 0, case when g % 3 = 0 then 'hit' else 'no-hit' end, gen_random_uuid()::text
        from generate_series(${done + 1}::bigint, ${done + k}::bigint) g`.execute(db);
    }
  };

  // 1. Durable sealing of a backlog.
  {
    await bulkRecords(backlog);
    await sql`vacuum analyze records`.execute(db); // as autovacuum would after a bulk load: hint bits set
    const load = loadavg()[0]!.toFixed(1);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await sealLog(node);
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    log(
      `1. seal a backlog of ${backlog.toLocaleString('en')} records (batches of 5 000, one transaction each, heads signed): ${s.toFixed(1)} s, **${Math.round(r.appended / s).toLocaleString('en')} entries/s**` +
        ` (this process: ${(((cpu.user + cpu.system) / r.appended) | 0).toLocaleString('en')} µs CPU per entry; load average ${load} on the shared cores)`,
    );
  }

  // 2. Hot path and sequencer together.
  {
    const before = (await readLogState(db)).treeSize;
    let written = 0;
    let stop = false;
    const entry = (i: number): RecordEntry => ({
      action: 'vehicle.search',
      direction: 'local',
      searchingBody: 'NL NCP',
      administeringBody: 'NL vehicle register',
      officerReference: 'off-1',
      orderedBy: 'Inspector J. de Vries',
      reason: `Case 2026/${i}: vehicle seen at a burglary`,
      purpose: 'criminal-offences',
      legalBasis: 'Prüm Decision Art. 12(1)',
      query: { registrationNumber: `XK${i}` },
      supplied: i % 3 === 0 ? [{ registrationNumber: `XK-${i}`, vin: 'WVWZZZ1JZXW000001', holder: { type: 'natural', surname: 'Jansen', address: 'Dorpsstraat 1' } }] : null,
      hit: i % 3 === 0,
      outcome: i % 3 === 0 ? 'hit' : 'no-hit',
    });
    const seq = startSequencer(node, { intervalMs: 1000, onError: (e) => log(`sequencer error: ${(e as Error).message}`) });
    const t0 = performance.now();
    const loops = Array.from({ length: writers }, async (_, w) => {
      for (let i = w; !stop; i += writers) {
        await writeRecord(db, entry(i));
        written++;
      }
    });
    await new Promise((r) => setTimeout(r, duration * 1000));
    stop = true;
    await Promise.all(loops);
    const tw = (performance.now() - t0) / 1000;
    const sealedAtStop = (await readLogState(db)).treeSize - before;
    await seq.stop();
    const t1 = performance.now();
    await sealLog(node);
    const catchUp = (performance.now() - t1) / 1000;
    const sealed = (await readLogState(db)).treeSize - before;
    log(
      `2. ${writers} writers (one statement per record) for ${tw.toFixed(0)} s with the sequencer sealing every second: ` +
        `${Math.round(written / tw).toLocaleString('en')} records/s written, ${Math.round(sealedAtStop / tw).toLocaleString('en')} entries/s sealed meanwhile; ` +
        `${(written - sealedAtStop).toLocaleString('en')} left at stop, sealed in ${catchUp.toFixed(1)} s; all ${sealed.toLocaleString('en')} sealed`,
    );
  }

  // 3. Inclusion proofs in a log of `proofEntries` (through the real sequencer).
  const proofBench = async (label: string, n: number, root: Uint8Array): Promise<void> => {
    let x = 12345;
    const rand = (m: number): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % m;
    };
    for (let i = 0; i < 200; i++) await inclusionProof(db, rand(n), n); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const m = rand(n);
      const t = performance.now();
      const p = await inclusionProof(db, m, n);
      ms.push(performance.now() - t);
      if (!verifyInclusion(m, n, p.leafHash, p.proof, root)) throw new Error(`proof of ${m} does not verify`);
    }
    ms.sort((a, b) => a - b);
    const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
    log(`${label}: p50 **${percentile(ms, 50).toFixed(3)} ms**, p99 ${percentile(ms, 99).toFixed(3)} ms, mean ${mean.toFixed(3)} ms (3 000 random entries, all verified)`);
  };
  {
    const size = (await readLogState(db)).treeSize;
    if (proofEntries > size) {
      const t0 = performance.now();
      await bulkRecords(proofEntries - size);
      const r = await sealLog(node);
      log(`   (filled the log to ${proofEntries.toLocaleString('en')} entries: ${r.appended.toLocaleString('en')} sealed in ${((performance.now() - t0) / 1000).toFixed(0)} s incl. bulk record inserts)`);
    }
    const head = (await latestHead(db))!.head;
    await sql`analyze audit_nodes`.execute(db);
    await proofBench(`3. inclusion proof from PostgreSQL, ${head.treeSize.toLocaleString('en')}-entry log (one query over the pool; levels ≥ 8 cached in process)`, head.treeSize, head.rootHash);
  }

  // 4. A synthetic tree of N leaves in the node table of a second database.
  if (synthetic > 0) {
    const pg2 = await benchPostgres();
    const d2 = await openDatabase({ databaseUrl: pg2.url, poolSize: 4 });
    try {
      await prepareDatabase(d2.db, 'NL', true);
      const t0 = performance.now();
      let levels: number[] = [];
      let idxs: number[] = [];
      let hashes: string[] = [];
      const flush = async (): Promise<void> => {
        await sql`insert into audit_nodes (level, idx, hash)
          select l, i, decode(h, 'hex') from unnest(${levels}::smallint[], ${idxs}::bigint[], ${hashes}::text[]) as t(l, i, h)`.execute(d2.db);
        levels = [];
        idxs = [];
        hashes = [];
      };
      const store: NodeStore = {
        get: () => undefined,
        put: (level, index, hash) => {
          levels.push(level);
          idxs.push(index);
          hashes.push(toHex(hash));
        },
      };
      const tree = new MerkleTree(store);
      const data = new Uint8Array(8);
      const view = new DataView(data.buffer);
      for (let i = 0; i < synthetic; i++) {
        view.setFloat64(0, i);
        tree.append(leafHash(data));
        if (levels.length >= 100_000) await flush();
      }
      await flush();
      await sql`alter table audit_log_state disable trigger user`.execute(d2.db);
      await sql`update audit_log_state set tree_size = ${synthetic}`.execute(d2.db);
      await sql`analyze audit_nodes`.execute(d2.db);
      log(`4. synthetic tree of ${synthetic.toLocaleString('en')} leaves written to audit_nodes in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const root = tree.root();
      const ms: number[] = [];
      let x = 987654;
      for (let i = 0; i < 3200; i++) {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        const m = x % synthetic;
        const t = performance.now();
        const p = await inclusionProof(d2.db, m, synthetic);
        if (i >= 200) ms.push(performance.now() - t); // the first 200 warm up
        if (!verifyInclusion(m, synthetic, p.leafHash, p.proof, root)) throw new Error(`proof of ${m} does not verify`);
      }
      ms.sort((a, b) => a - b);
      const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
      log(`   inclusion proof from PostgreSQL, ${synthetic.toLocaleString('en')}-leaf tree: p50 **${percentile(ms, 50).toFixed(3)} ms**, p99 ${percentile(ms, 99).toFixed(3)} ms, mean ${mean.toFixed(3)} ms (3 000 random entries, all verified)`);
    } finally {
      await d2.close();
      await pg2.stop();
    }
  }
  const sizes = await sql<{ t: string; s: string }>`select relname as t, pg_size_pretty(pg_total_relation_size(oid)) as s from pg_class
    where relname in ('records', 'audit_log_entries', 'audit_nodes', 'audit_tree_heads') order by relname`.execute(db);
  log(`storage: ${sizes.rows.map((r) => `${r.t} ${r.s}`).join(', ')}`);
} finally {
  await database.close();
  await pgdb.stop();
}
