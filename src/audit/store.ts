/**
 * The audit log's storage in PostgreSQL (migration 0002): node hashes, signed tree heads, proofs.
 *
 * The tree's complete-subtree hashes are rows (level, idx, hash) of `audit_nodes`. Every proof and
 * every past root is planned by the Merkle core (which nodes are needed, at most 2·log2(n)), fetched
 * in ONE query, and built in memory (src/audit/merkle/README.md §3): an inclusion proof in a log of
 * ten million entries is one indexed lookup of ~48 rows, never a pass over the leaves.
 */
import type { KeyObject } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuditSchema, Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import {
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofNodes,
  inclusionProofNodes,
  logIdFor,
  nodeKey,
  rootFromNodes,
  rootNodes,
  toHex,
  type LogId,
  type NodeRef,
  type SignedTreeHead,
} from './merkle/index.ts';

export type AuditTables = Schema & AuditSchema;
/** Any handle on the node's database: the pool or an open transaction. */
export type Db = Kysely<Schema> | Transaction<Schema> | Kysely<AuditTables> | Transaction<AuditTables>;

/** What the audit functions need of a node: its database, country and signing keys. */
export interface AuditNode {
  readonly db: Kysely<Schema>;
  readonly country: string;
  readonly keys: { readonly signingKey: KeyObject; readonly publicKey: KeyObject };
}

/** The same handle, typed with the audit tables too (they are plain tables of the same database). */
export function auditTables(db: Db): Kysely<AuditTables> {
  return db as unknown as Kysely<AuditTables>;
}

/** The node's log id: its country and the key id of its signing key (RFC 6962 §3.2 style). */
export function nodeLogId(node: Pick<AuditNode, 'country' | 'keys'>): LogId {
  return logIdFor(node.country, node.keys.publicKey);
}

/**
 * The in-order position of node (level, index) in the tree, the key of `audit_nodes`:
 * (2·index + 1)·2^level − 1. Leaves sit at even positions and every parent between its children.
 */
export function nodePosition(level: number, index: number): number {
  return (2 * index + 1) * 2 ** level - 1;
}

/** Bytes from a bytea column: pg gives a Buffer, PGlite a Uint8Array; both are Uint8Arrays. */
function bytes(v: Uint8Array): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v as ArrayLike<number>);
}

/**
 * The hashes of `refs`, in order, from `audit_nodes` in one query. Throws `audit-log-inconsistent`
 * naming the first node that is missing: a proof must never be built over a hole.
 */
export async function fetchNodeHashes(db: Db, refs: readonly NodeRef[]): Promise<Uint8Array[]> {
  if (refs.length === 0) return [];
  const found = await fetchNodeMap(db, refs);
  return refs.map(({ level, index }) => {
    const h = found.get(nodeKey(level, index));
    if (h === undefined) {
      throw new OpenPrumError('audit-log-inconsistent', `The audit tree lacks node ${nodeKey(level, index)}; the log's storage was altered or is incomplete.`, {
        level,
        index,
      });
    }
    return h;
  });
}

// Nodes never change once written, so the upper levels (each node covering ≥ 256 leaves: at most
// n/128 nodes in all, 80 000 for 10 M entries) are cached per database handle as proofs fetch them.
// An inclusion proof in 10 M entries then reads ~9 rows instead of ~25. Reads inside a transaction
// (which may yet roll back) are never cached.
const CACHE_MIN_LEVEL = 8;
const CACHE_MAX_NODES = 200_000;
const upperLevels = new WeakMap<object, Map<string, Uint8Array>>();

/** The hashes of those of `refs` that are stored, by `nodeKey`. */
export async function fetchNodeMap(db: Db, refs: readonly NodeRef[]): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>();
  if (refs.length === 0) return found;
  let cache: Map<string, Uint8Array> | undefined;
  if (!db.isTransaction) {
    cache = upperLevels.get(db);
    if (!cache) upperLevels.set(db, (cache = new Map()));
  }
  const positions: number[] = [];
  for (const r of refs) {
    const key = nodeKey(r.level, r.index);
    const hit = r.level >= CACHE_MIN_LEVEL ? cache?.get(key) : undefined;
    if (hit) found.set(key, hit);
    else positions.push(nodePosition(r.level, r.index));
  }
  if (positions.length === 0) return found;
  const rows = await sql<{ level: number; idx: number; hash: Uint8Array }>`
    select level, idx, hash from audit_nodes where pos = any(${positions}::bigint[])`.execute(db);
  for (const r of rows.rows) {
    const level = Number(r.level);
    const key = nodeKey(level, Number(r.idx));
    const hash = bytes(r.hash);
    found.set(key, hash);
    if (cache && level >= CACHE_MIN_LEVEL && cache.size < CACHE_MAX_NODES) cache.set(key, hash);
  }
  return found;
}

export interface LogState {
  readonly treeSize: number;
  readonly lastRecordId: number;
  readonly erasedBelow: number;
}

/** The log's state row; `forUpdate` inside the transaction that appends (serialises appenders). */
export async function readLogState(db: Db, forUpdate = false): Promise<LogState> {
  const rows = forUpdate
    ? await sql<{ tree_size: number; last_record_id: number; erased_below: number }>`select tree_size, last_record_id, erased_below from audit_log_state where id = 1 for update`.execute(db)
    : await sql<{ tree_size: number; last_record_id: number; erased_below: number }>`select tree_size, last_record_id, erased_below from audit_log_state where id = 1`.execute(db);
  const r = rows.rows[0];
  if (!r) throw new OpenPrumError('audit-log-inconsistent', 'The audit log has no state row; migration 0002 did not run or the row was removed.');
  return { treeSize: Number(r.tree_size), lastRecordId: Number(r.last_record_id), erasedBelow: Number(r.erased_below) };
}

/** MTH of the first `treeSize` leaves (RFC 9162 §2.1.1), for any size up to the current one. */
export async function rootAt(db: Db, treeSize: number): Promise<Uint8Array> {
  return rootFromNodes(treeSize, await fetchNodeHashes(db, rootNodes(treeSize)));
}

async function currentSize(db: Db): Promise<number> {
  return (await readLogState(db)).treeSize;
}

function checkWithin(what: string, value: number, treeSize: number): void {
  if (value > treeSize) {
    throw new OpenPrumError('input-invalid', `${what} ${value} is beyond the audit log's ${treeSize} entries.`, { [what]: value, treeSize });
  }
}

export interface InclusionProof {
  readonly index: number;
  readonly treeSize: number;
  readonly leafHash: Uint8Array;
  readonly proof: Uint8Array[];
}

/**
 * The inclusion proof of entry `index` in the tree of `treeSize` (RFC 9162 §2.1.3), with the entry's
 * leaf hash: one query for the leaf and the ≤ 2·log2(n) nodes.
 */
export async function inclusionProof(db: Db, index: number, treeSize: number): Promise<InclusionProof> {
  const refs = [{ level: 0, index }, ...inclusionProofNodes(index, treeSize)];
  const [leafHash, ...path] = (await fetchWithin(db, refs, 'treeSize', treeSize)) as [Uint8Array, ...Uint8Array[]];
  return { index, treeSize, leafHash, proof: buildInclusionProof(index, treeSize, path) };
}

/** The consistency proof from the tree of `from` entries to the tree of `to` (RFC 9162 §2.1.4). */
export async function consistencyProof(db: Db, from: number, to: number): Promise<Uint8Array[]> {
  return buildConsistencyProof(from, to, await fetchWithin(db, consistencyProofNodes(from, to), 'to', to));
}

/**
 * `refs` in one query. The leaf and proof nodes of a tree of `size` together cover leaves [0, size),
 * so for a size beyond the log some node cannot exist yet: only then is the state read, to answer
 * "beyond the log" (a caller's mistake) rather than "the stored tree has a hole" (an alarm).
 */
async function fetchWithin(db: Db, refs: readonly NodeRef[], what: string, size: number): Promise<Uint8Array[]> {
  const found = await fetchNodeMap(db, refs);
  if (refs.every((r) => found.has(nodeKey(r.level, r.index)))) return refs.map((r) => found.get(nodeKey(r.level, r.index)) as Uint8Array);
  checkWithin(what, size, await currentSize(db));
  return fetchNodeHashes(db, refs);
}

// --- tree heads ----------------------------------------------------------------------------------

interface HeadRow {
  id: number;
  tree_size: number;
  timestamp_ms: number;
  root_hash: Uint8Array;
  country: string;
  key_id: string;
  signature: Uint8Array;
}

export interface StoredHead {
  readonly id: number;
  readonly head: SignedTreeHead;
}

async function withCosignatures(db: Db, rows: readonly HeadRow[]): Promise<StoredHead[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => Number(r.id));
  const cos = await sql<{ head_id: number; witness_country: string; witness_key_id: string; timestamp_ms: number; signature: Uint8Array }>`
    select head_id, witness_country, witness_key_id, timestamp_ms, signature from audit_cosignatures
    where head_id = any(${ids}::bigint[]) order by received_at, witness_country, witness_key_id`.execute(db);
  return rows.map((r) => ({
    id: Number(r.id),
    head: {
      logId: { country: r.country, keyId: r.key_id },
      treeSize: Number(r.tree_size),
      timestamp: Number(r.timestamp_ms),
      rootHash: bytes(r.root_hash),
      signature: bytes(r.signature),
      cosignatures: cos.rows
        .filter((c) => Number(c.head_id) === Number(r.id))
        .map((c) => ({ witness: { country: c.witness_country, keyId: c.witness_key_id }, timestamp: Number(c.timestamp_ms), signature: bytes(c.signature) })),
    },
  }));
}

/** The latest signed tree head of this node's log, with the countersignatures received for it. */
export async function latestHead(db: Db): Promise<StoredHead | undefined> {
  const rows = await sql<HeadRow>`select id, tree_size, timestamp_ms, root_hash, country, key_id, signature
    from audit_tree_heads order by id desc limit 1`.execute(db);
  return (await withCosignatures(db, rows.rows))[0];
}

/** The stored head that is exactly `head` (same log, size, time and root), if any. */
export async function findHead(db: Db, head: { logId: LogId; treeSize: number; timestamp: number; rootHash: Uint8Array }): Promise<StoredHead | undefined> {
  const rows = await sql<HeadRow>`select id, tree_size, timestamp_ms, root_hash, country, key_id, signature
    from audit_tree_heads
    where tree_size = ${head.treeSize} and timestamp_ms = ${head.timestamp} and country = ${head.logId.country}
      and key_id = ${head.logId.keyId} and root_hash = decode(${toHex(head.rootHash)}, 'hex')
    order by id limit 1`.execute(db);
  return (await withCosignatures(db, rows.rows))[0];
}

/** Stored heads, newest first (for listings and tests). */
export async function listHeads(db: Db, limit = 100): Promise<StoredHead[]> {
  const rows = await sql<HeadRow>`select id, tree_size, timestamp_ms, root_hash, country, key_id, signature
    from audit_tree_heads order by id desc limit ${Math.min(Math.max(limit, 1), 1000)}`.execute(db);
  return withCosignatures(db, rows.rows);
}
