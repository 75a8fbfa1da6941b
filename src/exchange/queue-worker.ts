/**
 * The loop shared by every durable queue of messages to peer nodes (the search outbox, follow-up
 * deliveries, and others): rows are stored in the transaction of the act they carry, then a worker
 * claims due rows with a lease (`for update skip locked`, so several processes on one PostgreSQL
 * server never send a row twice at once), sends them, and retries with exponential back-off and
 * jitter. A row keeps its message id across retries, so the peer answers a retried message once.
 *
 * A queue table has the columns `id`, `status` ('pending' while due), `next_attempt_at`,
 * `claimed_until`, `attempts` and `last_attempt_at`. Subclasses say how to send one row and how its
 * outcome is stored; this class owns scheduling, claiming, leases and stopping.
 */
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.ts';

export interface QueueWorkerOptions {
  /** How often due rows are looked for when nothing kicks the worker, in ms. */
  readonly pollMs?: number;
  /** First retry delay, doubled per attempt up to maxDelayMs; each delay is jittered to 50-100 %. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Attempts before a row is given up as failed. */
  readonly maxAttempts?: number;
  /** How long a claimed row is held by one sender before another may take it (crash safety). */
  readonly leaseMs?: number;
  /** Rows sent at once. */
  readonly batch?: number;
  /**
   * The database is this process's alone (the embedded one, locked to one process): rows claimed by
   * an earlier run that crashed are taken again at once at start instead of after their lease.
   */
  readonly exclusive?: boolean;
}

export interface QueueLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Delay before attempt `attempts + 1`: exponential, capped, with jitter so that retries spread out. */
export function backoffMs(attempts: number, base: number, max: number, random: () => number = Math.random): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp * (0.5 + random() / 2));
}

export abstract class QueueWorker<Row extends { readonly id: number | string }> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly inFlight = new Set<Promise<void>>();
  protected readonly o: Required<QueueWorkerOptions>;

  /**
   * @param table the queue table
   * @param name  what the log calls this queue ("outbox", "follow-ups")
   */
  protected constructor(
    protected readonly db: Kysely<Schema>,
    private readonly table: string,
    private readonly name: string,
    options: QueueWorkerOptions,
    protected readonly log: QueueLog,
    defaults: Partial<QueueWorkerOptions> = {},
  ) {
    const pick = <K extends keyof QueueWorkerOptions>(k: K, fallback: Required<QueueWorkerOptions>[K]): Required<QueueWorkerOptions>[K] =>
      (options[k] ?? defaults[k] ?? fallback) as Required<QueueWorkerOptions>[K];
    this.o = {
      pollMs: pick('pollMs', 1_000),
      baseDelayMs: pick('baseDelayMs', 2_000),
      maxDelayMs: pick('maxDelayMs', 5 * 60_000),
      maxAttempts: pick('maxAttempts', 30),
      leaseMs: pick('leaseMs', 2 * 60_000),
      batch: pick('batch', 16),
      exclusive: pick('exclusive', false),
    };
  }

  /** Sends one claimed row and stores its outcome; errors are logged and the row retried after its lease. */
  protected abstract send(row: Row): Promise<void>;

  /** What the log says about a row that failed unexpectedly. */
  protected describe(row: Row): object {
    return { id: row.id };
  }

  /** Runs before each look for due rows: a subclass's housekeeping (its errors are logged). */
  protected async beforeClaim(): Promise<void> {}

  /** Runs once the worker has stopped and its sends have ended (to close what the subclass opened). */
  protected async afterStop(): Promise<void> {}

  /** The delay before the next attempt of a row that has been tried `attempts` times. */
  protected retryDelayMs(attempts: number): number {
    return backoffMs(attempts, this.o.baseDelayMs, this.o.maxDelayMs);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (!this.o.exclusive) {
      this.schedule(0);
      return;
    }
    // No other process can hold a claim: release those an earlier run left behind when it died.
    this.running = sql`update ${sql.table(this.table)} set claimed_until = null where status = 'pending' and claimed_until is not null`
      .execute(this.db)
      .then(() => undefined)
      .catch((e: unknown) => this.log.error({ err: e }, `${this.name}: could not release the claims of an earlier run`))
      .finally(() => {
        this.running = undefined;
        this.schedule(0);
      });
  }

  /** Look for due rows now (after a new one was stored). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Waits for every send in flight; new sends stop. Claimed rows not finished are taken again after their lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.allSettled([...this.inFlight]);
    await this.afterStop();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule(0);
        } else this.schedule(this.o.pollMs);
      });
    }, ms);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    try {
      await this.beforeClaim();
    } catch (e) {
      this.log.error({ err: e }, `${this.name}: housekeeping before sending failed`);
    }
    let claimed: Row[];
    try {
      claimed = await this.claim();
    } catch (e) {
      this.log.error({ err: e }, `${this.name}: could not claim due rows`);
      return;
    }
    for (const row of claimed) {
      const p = this.send(row)
        .catch((e: unknown) => this.log.error({ err: e, ...this.describe(row) }, `${this.name}: send failed unexpectedly`))
        .finally(() => {
          this.inFlight.delete(p);
          // A finished send may free room for more due rows.
          this.kick();
        });
      this.inFlight.add(p);
    }
  }

  /**
   * Claims due rows: marks them taken for the lease time and counts the attempt. `for update skip
   * locked` lets several node processes on one PostgreSQL server share the queue without sending a
   * row twice at once; on PGlite (one connection) it is simply a row lock.
   */
  private async claim(): Promise<Row[]> {
    const room = this.o.batch - this.inFlight.size;
    if (room <= 0) return [];
    const t = sql.table(this.table);
    const r = await sql<Row>`
      update ${t} q
         set claimed_until = clock_timestamp() + ${`${this.o.leaseMs} milliseconds`}::interval,
             attempts = q.attempts + 1,
             last_attempt_at = clock_timestamp()
       where q.id in (
         select id from ${t}
          where status = 'pending' and next_attempt_at <= clock_timestamp()
            and (claimed_until is null or claimed_until < clock_timestamp())
          order by next_attempt_at
          limit ${room}
          for update skip locked)
      returning q.*`.execute(this.db);
    return r.rows;
  }
}
