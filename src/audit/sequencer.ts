/**
 * The sequencer: integrates new records into the audit log (RFC 9162 Merkle tree) in batches and
 * signs tree heads, like a Certificate Transparency log's "merge" step behind its maximum merge delay.
 *
 * Why not on the hot path: a search writes its record in one statement (src/vehicle/search.ts).
 * Appending to a Merkle tree needs the tree's right border and a gap-free index, i.e. one writer at a
 * time; doing that inside every search would serialise all searches. So records stay plain rows, and
 * this sequencer, one batch per transaction, under an advisory lock (a no-op on single-connection
 * PGlite), takes the records not yet in the log in id order and:
 *
 *  1. gives each the next log index. records.id is not the index: a sequence skips values when a
 *     transaction rolls back, and a gap would read as a deleted entry (merkle README §8);
 *  2. commits to the canonical JSON of the WHOLE stored record (id, exact time, everything) with a
 *     fresh 256-bit salt, so that the content can later be erased while the leaf stays verifiable
 *     (Prüm Decision Art. 30(4); src/audit/merkle/commitment.ts);
 *  3. appends the leaves, stores the new complete-subtree hashes (2 per entry on average) and the
 *     entries (index, record id, salt, digest, commitment) with multi-row inserts;
 *  4. signs a tree head with the node's Ed25519 key and stores it.
 *
 * A crash mid-batch rolls the whole batch back: entries, nodes, state and head move together.
 *
 * Records that commit out of id order. Two transactions can take ids 7 and 8 and commit 8 first; the
 * sequencer then sees 8 but not 7. It remembers 7 as pending (audit_pending_records) and integrates
 * it when it appears. An id that never appears was rolled back; it is forgotten once every
 * transaction that was running when the gap was seen has ended (PostgreSQL snapshot xmin passed the
 * snapshot xmax of that moment) and a grace period has passed.
 */
import { sql, type Selectable, type Transaction } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { commitEntry, MerkleTree, rootNodes, signTreeHead, toHex, type NodeStore, type SignedTreeHead } from './merkle/index.ts';
import { toStoredRecord } from './records.ts';
import { fetchNodeHashes, latestHead, nodeLogId, readLogState, rootAt, type AuditNode } from './store.ts';

/** Advisory lock key naming "the OpenPrüm audit sequencer" among the server's advisory locks. */
export const SEQUENCER_LOCK = 0x6f706175;

export const DEFAULT_BATCH_SIZE = 5000;
/** A head is re-signed at least this often even when the log did not grow, so peers see the node alive. */
export const DEFAULT_HEAD_MAX_AGE_MS = 3_600_000;
const DEFAULT_GAP_GRACE_MS = 60_000;
/** While catching up on a backlog, sign a head at least this often. */
const SIGN_EVERY_MS = 1000;

export interface SealOptions {
  /** Records per batch (one transaction each). Default 5000. */
  readonly batchSize?: number;
  /** 'wait' (default) queues behind another sealer; 'try' returns `busy` at once (background timer). */
  readonly lock?: 'wait' | 'try';
  /** Sign a fresh head even if nothing was appended. */
  readonly forceHead?: boolean;
  /** Re-sign when the latest head is older than this (default one hour). */
  readonly headMaxAgeMs?: number;
  /** How long a missing record id is waited for (default 60 s; see the module comment). */
  readonly gapGraceMs?: number;
  /** Clock for head timestamps (ms since the epoch). */
  readonly now?: () => number;
}

export interface SealResult {
  /** Entries appended by this call. */
  readonly appended: number;
  readonly treeSize: number;
  /** The latest signed head after this call (undefined only for an empty, never-signed log). */
  readonly head: SignedTreeHead | undefined;
  /** Another sealer held the lock (only with lock: 'try'); nothing was done. */
  readonly busy: boolean;
}

interface BatchResult extends SealResult {
  /** The batch was full: more records may be waiting. */
  readonly full: boolean;
}

type RecordRow = Selectable<Schema['records']>;

/** A NodeStore that only queues writes, flushed as one multi-row insert in the batch's transaction. */
class QueuedNodeStore implements NodeStore {
  readonly levels: number[] = [];
  readonly idxs: number[] = [];
  readonly hashes: string[] = [];
  get(): Uint8Array | undefined {
    return undefined; // MerkleTree.append never reads; the frontier is given to the constructor
  }
  put(level: number, index: number, hash: Uint8Array): void {
    this.levels.push(level);
    this.idxs.push(index);
    this.hashes.push(toHex(hash));
  }
}

/**
 * One batch, inside the caller's transaction: integrates up to `batchSize` records and signs a head
 * when due. Exported for the retention purge and erasure, which seal in their own transaction so that
 * an erasure and the record of it enter the log together.
 */
export async function sealBatchIn(trx: Transaction<Schema>, node: AuditNode, options: SealOptions & { lastSignedAt?: number } = {}): Promise<BatchResult> {
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  const now = options.now ?? Date.now;
  if (options.lock === 'try') {
    const got = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${SEQUENCER_LOCK}) as ok`.execute(trx);
    if (!got.rows[0]?.ok) return { appended: 0, treeSize: 0, head: undefined, busy: true, full: false };
  } else {
    await sql`select pg_advisory_xact_lock(${SEQUENCER_LOCK})`.execute(trx);
  }
  const state = await readLogState(trx, true);
  // Snapshot bounds first: anything that ended before xmin is visible to every later statement.
  const snap = await sql<{ xmin: string; xmax: string }>`
    select pg_snapshot_xmin(pg_current_snapshot())::text as xmin, pg_snapshot_xmax(pg_current_snapshot())::text as xmax`.execute(trx);
  const xmin = Number(snap.rows[0]?.xmin);
  const xmax = Number(snap.rows[0]?.xmax);

  // Records that committed after a higher id had been integrated.
  const late = await sql<RecordRow>`select r.* from audit_pending_records p join records r on r.id = p.record_id
    order by r.id limit ${batchSize}`.execute(trx);
  if (late.rows.length > 0) {
    await sql`delete from audit_pending_records where record_id = any(${late.rows.map((r) => r.id)}::bigint[])`.execute(trx);
  }
  await sql`delete from audit_pending_records p
    where p.seen_xmax <= ${xmin} and p.seen_at < now() - make_interval(secs => ${(options.gapGraceMs ?? DEFAULT_GAP_GRACE_MS) / 1000})
      and not exists (select 1 from records r where r.id = p.record_id)`.execute(trx);

  const room = batchSize - late.rows.length;
  const fresh = room > 0
    ? (await sql<RecordRow>`select * from records where id > ${state.lastRecordId} order by id limit ${room}`.execute(trx)).rows
    : [];
  // Ids skipped between the last integrated record and these: running or rolled back.
  const gapLo: number[] = [];
  const gapHi: number[] = [];
  let expected = state.lastRecordId + 1;
  for (const r of fresh) {
    if (r.id > expected) {
      gapLo.push(expected);
      gapHi.push(r.id - 1);
    }
    expected = r.id + 1;
  }
  if (gapLo.length > 0) {
    await sql`insert into audit_pending_records (record_id, seen_xmax)
      select g, ${xmax}::bigint from unnest(${gapLo}::bigint[], ${gapHi}::bigint[]) as r(lo, hi), generate_series(r.lo, r.hi) as g
      on conflict do nothing`.execute(trx);
  }

  const rows = [...late.rows, ...fresh];
  let treeSize = state.treeSize;
  let root: Uint8Array | undefined;
  if (rows.length > 0) {
    const store = new QueuedNodeStore();
    const tree = new MerkleTree(store, state.treeSize, await fetchNodeHashes(trx, rootNodes(state.treeSize)));
    const idx: number[] = [];
    const recordIds: number[] = [];
    const salts: string[] = [];
    const digests: string[] = [];
    const commitments: string[] = [];
    for (const row of rows) {
      let entry;
      try {
        entry = commitEntry(tree.size, toStoredRecord(row));
      } catch (e) {
        throw new OpenPrumError('audit-log-inconsistent', `Record ${row.id} cannot be committed to the audit log: ${(e as Error).message}`, { recordId: row.id }, { cause: e });
      }
      tree.append(entry.leafHash);
      idx.push(entry.index);
      recordIds.push(row.id);
      salts.push(toHex(entry.salt));
      digests.push(toHex(entry.contentDigest));
      commitments.push(toHex(entry.commitment));
    }
    await sql`insert into audit_log_entries (log_index, record_id, salt, content_digest, commitment)
      select i, r, decode(s, 'hex'), decode(d, 'hex'), decode(c, 'hex')
      from unnest(${idx}::bigint[], ${recordIds}::bigint[], ${salts}::text[], ${digests}::text[], ${commitments}::text[]) as t(i, r, s, d, c)`.execute(trx);
    await sql`insert into audit_nodes (level, idx, hash)
      select l, i, decode(h, 'hex') from unnest(${store.levels}::smallint[], ${store.idxs}::bigint[], ${store.hashes}::text[]) as t(l, i, h)`.execute(trx);
    const maxId = fresh.length > 0 ? (fresh[fresh.length - 1] as RecordRow).id : state.lastRecordId;
    await sql`update audit_log_state set tree_size = ${tree.size}, last_record_id = greatest(last_record_id, ${maxId}::bigint) where id = 1`.execute(trx);
    treeSize = tree.size;
    root = tree.root();
  }

  const full = rows.length >= batchSize;
  const previous = await latestHead(trx);
  const t = now();
  const due =
    options.forceHead === true ||
    previous === undefined ||
    previous.head.treeSize !== treeSize ||
    t - previous.head.timestamp >= (options.headMaxAgeMs ?? DEFAULT_HEAD_MAX_AGE_MS);
  // While catching up on a backlog (full batches), sign about once a second, not per batch.
  const catchingUp = full && options.forceHead !== true && options.lastSignedAt !== undefined && t - options.lastSignedAt < SIGN_EVERY_MS;
  let head = previous?.head;
  if (due && !catchingUp) {
    const logId = nodeLogId(node);
    // Heads of one log grow in size and time together; a witness rejects a larger head stamped
    // earlier (src/audit/merkle/tree-head.ts), so never go back in time, whatever the clock does.
    const timestamp = Math.max(t, previous?.head.timestamp ?? 0);
    head = signTreeHead({ logId, treeSize, timestamp, rootHash: root ?? (await rootAt(trx, treeSize)) }, node.keys.signingKey);
    await sql`insert into audit_tree_heads (tree_size, timestamp_ms, root_hash, country, key_id, signature)
      values (${treeSize}, ${timestamp}, decode(${toHex(head.rootHash)}, 'hex'), ${logId.country}, ${logId.keyId}, decode(${toHex(head.signature)}, 'hex'))`.execute(trx);
  }
  return { appended: rows.length, treeSize, head, busy: false, full };
}

/**
 * Integrates every record written so far into the log, batch by batch (one transaction each), and
 * signs a tree head. What `openprum audit seal` and the background timer run.
 */
export async function sealLog(node: AuditNode, options: SealOptions = {}): Promise<SealResult> {
  let appended = 0;
  let lastSignedAt: number | undefined;
  for (;;) {
    const r = await node.db.transaction().execute((trx) => sealBatchIn(trx, node, { ...options, ...(lastSignedAt !== undefined ? { lastSignedAt } : {}) }));
    if (r.busy) {
      // Another sealer is at work; report what is committed.
      const [state, latest] = await Promise.all([readLogState(node.db), latestHead(node.db)]);
      return { appended, treeSize: state.treeSize, head: latest?.head, busy: appended === 0 };
    }
    appended += r.appended;
    if (r.head && r.head.treeSize === r.treeSize) lastSignedAt = r.head.timestamp;
    if (!r.full) return { appended, treeSize: r.treeSize, head: r.head, busy: false };
  }
}

export interface Sequencer {
  /** Stops the timer and waits for a seal in progress to end. */
  stop(): Promise<void>;
}

export interface SequencerOptions extends SealOptions {
  /** Between the end of one seal and the start of the next (default 1000 ms). */
  readonly intervalMs?: number;
  readonly onError?: (error: unknown) => void;
  readonly onSeal?: (result: SealResult) => void;
}

/** Runs `sealLog` every `intervalMs` in this process until stopped (the node's merge delay). */
export function startSequencer(node: AuditNode, options: SequencerOptions = {}): Sequencer {
  const intervalMs = options.intervalMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = (): void => {
    running = (async () => {
      try {
        const r = await sealLog(node, { ...options, lock: 'try' });
        options.onSeal?.(r);
      } catch (e) {
        options.onError?.(e);
      }
    })().finally(() => {
      if (!stopped) {
        timer = setTimeout(tick, intervalMs);
        timer.unref();
      }
    });
  };
  timer = setTimeout(tick, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/**
 * The seal interval from the environment (OPENPRUM_AUDIT_SEAL_INTERVAL_MS), validated: the longest
 * time a record may wait before it is in the signed log.
 */
export function sealIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.OPENPRUM_AUDIT_SEAL_INTERVAL_MS?.trim();
  if (!raw) return 1000;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < 50 || n > 3_600_000) {
    throw new OpenPrumError('config-invalid', `OPENPRUM_AUDIT_SEAL_INTERVAL_MS must be a whole number of milliseconds from 50 to 3600000, not ${JSON.stringify(raw)}`);
  }
  return n;
}
