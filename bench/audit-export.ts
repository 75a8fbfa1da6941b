/**
 * Export of a whole year of the record for the data-protection authority (Prüm Decision Art. 30(3):
 * "at the latest within four weeks"; issue 7 item 7: "exports them for any period at once"):
 *
 *   node --import tsx bench/audit-export.ts [--records 500000] [--port 55441]
 *
 * Fills the log with `records` records spread evenly over the last 365 days (vehicle searches, a
 * third of them hits with vehicle and holder, as bench/audit.ts), seals them, then streams the export
 * of the period [now − 365 days, now) through the same code as GET /v1/audit/export and
 * `openprum audit export`, counting bytes (no disk): time to first byte, total time, records/s,
 * MB, and the process's peak RSS growth (the export is streamed, not built in memory). Finally the
 * export is verified offline as `openprum audit verify` does (that reader holds it in memory).
 *
 * Uses DATABASE_URL when set, else a throwaway PostgreSQL 15 (.ci/start-postgres.sh, fsync off:
 * reading, which this measures, does not depend on it).
 */
import { generateKeyPairSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { sql } from 'kysely';
import type { AuditExportFile } from '../src/audit/export-format.ts';
import { openExport } from '../src/audit/export.ts';
import { verifyAuditExport } from '../src/audit/export-verify.ts';
import { sealLog } from '../src/audit/sequencer.ts';
import { openDatabase } from '../src/db/connect.ts';
import type { NodeConfig } from '../src/node/config.ts';
import { nodeOn, prepareDatabase } from '../src/node/node.ts';
import { arg, benchPostgres, machine } from './support.ts';

const n = Number(arg('records', '500000'));
const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const pgdb = await benchPostgres();
const database = await openDatabase({ databaseUrl: pgdb.url, poolSize: 4 });
try {
  await prepareDatabase(database.db, 'NL', true);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const config: NodeConfig = { country: 'NL', dataDir: '/nonexistent', databaseUrl: pgdb.url, host: '127.0.0.1', port: 0, logLevel: 'silent' };
  const node = nodeOn(config, database, { signingKey: privateKey, publicKey });
  const db = node.db;
  log(`Machine: ${machine()}`);

  const t0 = performance.now();
  for (let done = 0; done < n; done += 50_000) {
    const k = Math.min(50_000, n - done);
    await sql`insert into records (recorded_at, action, direction, searching_body, administering_body, officer_reference, ordered_by, reason, purpose, legal_basis, query, supplied, hit, outcome, request_id)
      select now() - interval '365 days' + (g::double precision / ${n}) * interval '365 days',
        'vehicle.search', 'local', 'NL NCP', 'NL vehicle register', 'off-' || (g % 50), 'Inspector ' || (g % 7),
        'Case 2026/' || g || ': vehicle seen at a burglary', 'criminal-offences', 'Prüm Decision Art. 12(1)',
        jsonb_build_object('registrationNumber', 'XK' || g),
        case when g % 3 = 0 then jsonb_build_array(jsonb_build_object('registrationNumber', 'XK-' || g, 'vin', 'WVWZZZ1JZXW' || lpad(g::text, 6, '0'),
          'make', 'Volkswagen', 'model', 'Golf', 'vehicleType', 'M1', 'colour', 'blue', 'firstRegistrationDate', '2019-04-01',
          'holder', jsonb_build_object('type', 'natural', 'surname', 'Jansen', 'firstNames', 'Pieter ' || g, 'birthDate', '1980-02-03', 'address', 'Dorpsstraat ' || g || ', 1234 AB Utrecht'))) end,
        g % 3 = 0, case when g % 3 = 0 then 'hit' else 'no-hit' end, gen_random_uuid()::text
      from generate_series(${done + 1}::bigint, ${done + k}::bigint) g`.execute(db);
  }
  await sql`vacuum analyze records`.execute(db);
  const sealed = await sealLog(node);
  log(`filled and sealed ${sealed.treeSize.toLocaleString('en')} records over 365 days in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const to = new Date();
  const from = new Date(to.getTime() - 365 * 86_400_000);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const load = loadavg()[0]!.toFixed(1);
  const s0 = performance.now();
  const { plan, chunks } = await openExport(node, { from: from.toISOString(), to: to.toISOString() });
  let first = 0;
  let bytes = 0;
  const parts: string[] = [];
  for await (const c of chunks) {
    if (first === 0) first = performance.now() - s0;
    bytes += Buffer.byteLength(c);
    parts.push(c);
  }
  const s = (performance.now() - s0) / 1000;
  clearInterval(sampler);
  const entries = plan.range.to - plan.range.from;
  log(
    `export of the year [${from.toISOString().slice(0, 10)}, ${to.toISOString().slice(0, 10)}): **${entries.toLocaleString('en')} records in ${s.toFixed(1)} s** ` +
      `(${Math.round(entries / s).toLocaleString('en')} records/s, ${(bytes / 1e6).toFixed(0)} MB, first byte after ${first.toFixed(0)} ms, ` +
      `RSS growth ${((peak - rss0) / 1e6).toFixed(0)} MB incl. the chunks this bench keeps for the verification; load average ${load})`,
  );
  const v0 = performance.now();
  const report = verifyAuditExport(JSON.parse(parts.join('')) as AuditExportFile, { publicKey });
  log(`offline verification (openprum audit verify): ok=${report.ok}, ${report.findings.length} findings, ${((performance.now() - v0) / 1000).toFixed(1)} s`);
} finally {
  await database.close();
  await pgdb.stop();
}
