/**
 * Peer nodes countersign each other's tree heads, so that a node that rewrites or forks its audit
 * log is caught (RFC 9162 §8.2, §11.3: split views). The building blocks, before the federation
 * carries them over the network:
 *
 *  - `PersistentWitness`: this node as a witness of its peers' logs. The merkle core's `Witness`
 *    judges each head (accepted, duplicate, stale, proof required, fork, rewrite, rejected); here
 *    every head it accepted or found stale is stored with the consistency proof it checked, and the
 *    state is rebuilt on start by replaying them in order. Forks and rewrites are stored as alarms
 *    with their evidence (two signed heads, or a head and a failing proof: non-repudiable).
 *  - `cosignPeerHead`: shows a peer's head to the witness, fetching the consistency proof from the
 *    peer when asked for, and returns the verdict with this node's countersignature if accepted.
 *  - `storeCosignature`: a countersignature a peer gave on one of this node's heads, verified and
 *    kept; it travels with the head in exports and at GET /v1/audit/tree-heads/latest.
 */
import type { KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { OpenPrumError } from '../errors/index.ts';
import {
  fromHex,
  HASH_SIZE,
  keyIdOf,
  logIdToString,
  signedTreeHeadFromJson,
  signedTreeHeadToJson,
  toHex,
  verifyCosignature,
  Witness,
  type Cosignature,
  type SignedTreeHead,
  type WitnessVerdict,
} from './merkle/index.ts';
import { writeRecord } from './records.ts';
import { findHead, nodeLogId, type AuditNode } from './store.ts';

export type WitnessAlarmKind = 'fork' | 'rewrite' | 'key-change';

export interface WitnessAlarm {
  readonly id: number;
  readonly log: string;
  readonly kind: WitnessAlarmKind;
  readonly evidence: unknown;
  readonly detectedAt: string;
  /** Where the evidence came from: the log's own node (`direct`), or a peer's gossip (`gossip:DE`); null for alarms before migration 0010. */
  readonly source: string | null;
  /** The record of the alarm (Prüm Decision Art. 30), written with it. */
  readonly recordId: number | null;
}

export interface PersistentWitnessOptions {
  /** Public keys of the peers' logs this node follows, filed by `logIdToString`. */
  readonly logs: ReadonlyMap<string, KeyObject>;
  /** Past heads remembered per log for fork detection (default 10 000). */
  readonly memory?: number;
  readonly now?: () => number;
}

interface ObservationRow {
  log_id: string;
  verdict: 'accepted' | 'stale';
  head: unknown;
  proof: unknown;
}

const hexList = (v: unknown): Uint8Array[] | undefined =>
  Array.isArray(v) ? v.map((h: unknown, i) => fromHex(h, `proof[${i}]`, HASH_SIZE)) : undefined;

/** This node as a witness of its peers' audit logs, with its state in the database. */
export class PersistentWitness {
  readonly #node: AuditNode;
  readonly #witness: Witness;

  private constructor(node: AuditNode, witness: Witness) {
    this.#node = node;
    this.#witness = witness;
  }

  /** Opens the witness, replaying the stored observations of each followed log. */
  static async open(node: AuditNode, options: PersistentWitnessOptions): Promise<PersistentWitness> {
    const memory = options.memory ?? 10_000;
    const witness = new Witness({
      logs: options.logs,
      signer: { id: nodeLogId(node), privateKey: node.keys.signingKey },
      memory,
      ...(options.now ? { now: options.now } : {}),
    });
    for (const log of options.logs.keys()) {
      // Replay from the oldest accepted head within the memory window: an accepted head is the
      // witness's latest at its time, so replaying forward from it reproduces every verdict.
      const start = await sql<{ id: number | null }>`select min(id) as id from (
          select id from audit_witness_observations where log_id = ${log} and verdict = 'accepted' order by id desc limit ${memory}) w`.execute(node.db);
      const from = start.rows[0]?.id;
      if (from === null || from === undefined) continue;
      const rows = await sql<ObservationRow>`select log_id, verdict, head, proof from audit_witness_observations
        where log_id = ${log} and id >= ${from} order by id`.execute(node.db);
      for (const r of rows.rows) {
        const head = signedTreeHeadFromJson(r.head, 'stored head');
        const verdict = witness.observe(head, hexList(r.proof));
        const expected = r.verdict === 'accepted' ? ['accepted'] : ['stale', 'duplicate'];
        if (!expected.includes(verdict.kind)) {
          throw new OpenPrumError('audit-log-inconsistent', `Replaying the witness state of ${log} gave ${verdict.kind} for a head stored as ${r.verdict}; the table audit_witness_observations was altered.`, {
            log,
          });
        }
      }
    }
    return new PersistentWitness(node, witness);
  }

  /** The latest head accepted of a peer's log (`logIdToString`). */
  latest(log: string): SignedTreeHead | undefined {
    return this.#witness.latest(log);
  }

  /**
   * Judges a peer's head (src/audit/merkle/tree-head.ts, Witness.observe) and stores what it learnt:
   * accepted and stale heads with their proof, forks and rewrites as alarms.
   */
  async observe(head: SignedTreeHead, proof?: readonly Uint8Array[], source = 'direct', options: { persistStale?: boolean } = {}): Promise<WitnessVerdict> {
    const verdict = this.#witness.observe(head, proof);
    const db = this.#node.db;
    const proofJson = proof ? JSON.stringify(proof.map(toHex)) : null;
    if (verdict.kind === 'accepted' || (verdict.kind === 'stale' && options.persistStale !== false)) {
      // (Gossiped heads of peers that lag behind would otherwise add a row per peer and round; not
      // storing such a stale head only means it is not remembered after a restart: replay stays
      // consistent, since a stale head never moves the latest.)
      const cosig = verdict.kind === 'accepted' && verdict.cosignature ? JSON.stringify(cosignatureToJson(verdict.cosignature)) : null;
      await sql`insert into audit_witness_observations (log_id, verdict, tree_size, head, proof, cosignature)
        values (${verdict.log}, ${verdict.kind}, ${head.treeSize}, ${JSON.stringify(signedTreeHeadToJson(head))}::jsonb, ${proofJson}::jsonb, ${cosig}::jsonb)`.execute(db);
    } else if (verdict.kind === 'fork') {
      await this.raiseAlarm(verdict.log, 'fork', { heads: verdict.evidence.map(signedTreeHeadToJson) }, source);
    } else if (verdict.kind === 'rewrite') {
      await this.raiseAlarm(
        verdict.log,
        'rewrite',
        { earlier: signedTreeHeadToJson(verdict.earlier), later: signedTreeHeadToJson(verdict.later), proof: verdict.proof.map(toHex) },
        source,
      );
    }
    return verdict;
  }

  /**
   * Stores an alarm with its evidence and records it (Prüm Decision Art. 30: the supervisor sees it in
   * the record and at GET /v1/audit/alarms), in one transaction.
   */
  async raiseAlarm(log: string, kind: WitnessAlarmKind, evidence: unknown, source = 'direct'): Promise<boolean> {
    return this.#node.db.transaction().execute(async (trx) => {
      // The same evidence seen again (the next round fetches the same heads) is one alarm, not one per round.
      const known = await sql`select 1 from audit_witness_alarms where log_id = ${log} and kind = ${kind} and evidence = ${JSON.stringify(evidence)}::jsonb limit 1`.execute(trx);
      if (known.rows.length > 0) return false;
      const country = log.split('/')[0] ?? log;
      const rec = await writeRecord(trx, {
        action: 'audit.witness-alarm',
        direction: 'local',
        searchingBody: `${this.#node.country} NCP`,
        administeringBody: `${country} NCP`,
        reason:
          kind === 'fork'
            ? `The audit log ${log} showed two different signed tree heads of the same size`
            : kind === 'rewrite'
              ? `The audit log ${log} gave a tree head that is not an extension of one it signed before`
              : `The node of ${country} presented another audit log key than the one pinned`,
        legalBasis: 'Prüm Decision Art. 30; FD 2008/977 Art. 10 (RFC 9162 §8.2 witnessing)',
        query: { log, kind, source },
        outcome: 'done',
      });
      await sql`insert into audit_witness_alarms (log_id, kind, evidence, source, record_id)
        values (${log}, ${kind}, ${JSON.stringify(evidence)}::jsonb, ${source}, ${rec.id})`.execute(trx);
      return true;
    });
  }

  /** Every alarm raised, oldest first. */
  async alarms(): Promise<WitnessAlarm[]> {
    return listWitnessAlarms(this.#node.db);
  }
}

/** Every alarm this node raised as a witness, oldest first (`after`: with a greater id). */
export async function listWitnessAlarms(db: AuditNode['db'], options: { after?: number; limit?: number } = {}): Promise<WitnessAlarm[]> {
  const rows = await sql<{ id: number; log_id: string; kind: WitnessAlarmKind; evidence: unknown; detected_at: string; source: string | null; record_id: number | null }>`
    select id, log_id, kind, evidence, detected_at, source, record_id from audit_witness_alarms
    where id > ${options.after ?? 0} order by id limit ${Math.min(options.limit ?? 1000, 1000)}`.execute(db);
  return rows.rows.map((r) => ({
    id: Number(r.id),
    log: r.log_id,
    kind: r.kind,
    evidence: r.evidence,
    detectedAt: r.detected_at,
    source: r.source,
    recordId: r.record_id === null ? null : Number(r.record_id),
  }));
}

function cosignatureToJson(c: Cosignature): { witness: { country: string; keyId: string }; timestamp: number; signature: string } {
  return { witness: { country: c.witness.country, keyId: c.witness.keyId }, timestamp: c.timestamp, signature: toHex(c.signature) };
}

/**
 * Shows a peer's head to this node's witness; when the witness needs a consistency proof, asks the
 * peer for it (`fetchProof`, e.g. GET /v1/audit/proofs/consistency on the peer) and shows it again.
 * The verdict carries this node's countersignature when the head was accepted.
 */
export async function cosignPeerHead(
  witness: PersistentWitness,
  head: SignedTreeHead,
  fetchProof: (fromSize: number, toSize: number) => Promise<readonly Uint8Array[]>,
  source = 'direct',
  options: { persistStale?: boolean } = {},
): Promise<WitnessVerdict> {
  const first = await witness.observe(head, undefined, source, options);
  if (first.kind !== 'proof-required') return first;
  return witness.observe(head, await fetchProof(first.fromSize, first.toSize), source, options);
}

/**
 * Keeps a countersignature a peer gave on one of this node's heads, after checking that it is by
 * that peer's key and over exactly that head.
 */
export async function storeCosignature(node: AuditNode, head: SignedTreeHead, cosignature: Cosignature, witnessKey: KeyObject): Promise<void> {
  const own = nodeLogId(node);
  if (logIdToString(head.logId) !== logIdToString(own)) {
    throw new OpenPrumError('audit-cosignature-invalid', `The countersigned head is of log ${logIdToString(head.logId)}, not of this node (${logIdToString(own)})`);
  }
  if (keyIdOf(witnessKey) !== cosignature.witness.keyId) {
    throw new OpenPrumError('audit-cosignature-invalid', `The countersignature names key ${cosignature.witness.keyId}, not the key given for ${cosignature.witness.country}`);
  }
  if (!verifyCosignature(head, cosignature, witnessKey)) {
    throw new OpenPrumError('audit-cosignature-invalid', `The countersignature of ${logIdToString(cosignature.witness)} does not verify over this head`);
  }
  const stored = await findHead(node.db, head);
  if (!stored) throw new OpenPrumError('not-found', `This node never signed a head of size ${head.treeSize} at ${head.timestamp} with that root`);
  await sql`insert into audit_cosignatures (head_id, witness_country, witness_key_id, timestamp_ms, signature)
    values (${stored.id}, ${cosignature.witness.country}, ${cosignature.witness.keyId}, ${cosignature.timestamp}, decode(${toHex(cosignature.signature)}, 'hex'))
    on conflict do nothing`.execute(node.db);
}
