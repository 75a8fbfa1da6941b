/** Shared helpers of the benchmarks: a PostgreSQL to run against, machine facts, argument parsing. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

export interface BenchPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A fresh database on the PostgreSQL server named by DATABASE_URL, or, without one, on a throwaway
 * PostgreSQL 15 started with .ci/start-postgres.sh.
 */
export async function benchPostgres(): Promise<BenchPostgres> {
  let serverUrl = process.env.DATABASE_URL;
  let tmp: string | undefined;
  if (!serverUrl) {
    const out = execFileSync('bash', ['.ci/start-postgres.sh'], { encoding: 'utf8', env: { ...process.env, PGPORT_TEST: '55439' } });
    tmp = /PG_TMPDIR=(\S+)/.exec(out)?.[1];
    serverUrl = /DATABASE_URL=(\S+)/.exec(out)?.[1];
    if (!serverUrl) throw new Error(`could not start PostgreSQL: ${out}`);
  }
  const name = `openprum_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    stop: async () => {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      if (tmp) execFileSync('bash', ['.ci/stop-postgres.sh', tmp]);
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * CPU time (user + system, ms) used so far by a PostgreSQL server's processes: the postmaster named in
 * `<dataDir>/postmaster.pid` and its children, read from /proc (Linux). Undefined where that cannot
 * be read. Per-request CPU is a figure that a machine shared with other jobs distorts far less than
 * requests per second.
 */
export function postgresCpuMs(dataDir: string | undefined): number | undefined {
  if (!dataDir) return undefined;
  try {
    const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const tick = 100; // USER_HZ on Linux
    let total = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      const ppid = Number(fields[1]);
      if (pid !== postmaster && ppid !== postmaster) continue;
      total += Number(fields[11]) + Number(fields[12]);
    }
    return (total / tick) * 1000;
  } catch {
    return undefined;
  }
}
