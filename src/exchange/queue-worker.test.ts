import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schema } from '../db/schema.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-node.ts';
import { QueueWorker, type QueueWorkerOptions } from './queue-worker.ts';

type Row = { id: number; status: string; attempts: number };

class Recorder extends QueueWorker<Row> {
  readonly sent: number[] = [];
  constructor(db: Kysely<Schema>, options: QueueWorkerOptions, private readonly fail = false) {
    super(db, 'test_queue', 'test', options, { warn: () => undefined, error: () => undefined });
  }
  protected async send(row: Row): Promise<void> {
    this.sent.push(row.id);
    if (this.fail) {
      await sql`update test_queue set next_attempt_at = clock_timestamp() + ${`${this.retryDelayMs(row.attempts)} milliseconds`}::interval, claimed_until = null where id = ${row.id}`.execute(this.db);
      return;
    }
    await sql`update test_queue set status = 'done' where id = ${row.id}`.execute(this.db);
  }
}

let t: TestDatabase;
const db = () => t.database.db;

beforeAll(async () => {
  t = await createTestDatabase();
  await sql`create table test_queue (id serial primary key, status text not null default 'pending', next_attempt_at timestamptz not null default clock_timestamp(), claimed_until timestamptz, attempts integer not null default 0, last_attempt_at timestamptz)`.execute(db());
}, 120_000);
afterAll(async () => t?.drop());

async function rows(): Promise<Array<{ id: number; status: string; attempts: number; claimed: boolean }>> {
  const r = await sql<{ id: number; status: string; attempts: number; claimed: boolean }>`select id, status, attempts, claimed_until is not null as claimed from test_queue order by id`.execute(db());
  return r.rows;
}

async function until(ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('QueueWorker', () => {
  it('sends every due row once and counts the attempt', async () => {
    await sql`delete from test_queue`.execute(db());
    await sql`insert into test_queue (status) select 'pending' from generate_series(1, 40)`.execute(db());
    const w = new Recorder(db(), { pollMs: 10, batch: 8 });
    w.start();
    await until(async () => (await rows()).every((r) => r.status === 'done'));
    await w.stop();
    expect(new Set(w.sent).size).toBe(40);
    expect(w.sent).toHaveLength(40);
    expect((await rows()).every((r) => r.attempts === 1)).toBe(true);
  });

  it('leaves a row claimed by another sender alone until its lease ends, unless the database is its own', async () => {
    await sql`delete from test_queue`.execute(db());
    await sql`insert into test_queue (claimed_until) values (clock_timestamp() + interval '1 hour')`.execute(db());
    const shared = new Recorder(db(), { pollMs: 10 });
    shared.start();
    await new Promise((r) => setTimeout(r, 300));
    await shared.stop();
    expect(shared.sent).toHaveLength(0);
    expect((await rows())[0]).toMatchObject({ status: 'pending', attempts: 0, claimed: true });

    const own = new Recorder(db(), { pollMs: 10, exclusive: true });
    own.start();
    await until(async () => (await rows())[0]!.status === 'done');
    await own.stop();
    expect(own.sent).toHaveLength(1);
  });

  it('tries a failing row again after its back-off, keeping it pending', async () => {
    await sql`delete from test_queue`.execute(db());
    await sql`insert into test_queue default values`.execute(db());
    const w = new Recorder(db(), { pollMs: 5, baseDelayMs: 20, maxDelayMs: 80 }, true);
    w.start();
    await until(async () => (await rows())[0]!.attempts >= 4);
    await w.stop();
    expect(w.sent.length).toBeGreaterThanOrEqual(4);
    expect((await rows())[0]!.status).toBe('pending');
  });
});
