/**
 * Delivery of stored messages to peer nodes (follow-ups, safeguards, notices): one queue row per
 * message and recipient state, holding the message as `payload` (JSON). Each attempt sends the same
 * message with a fresh `sentAt` and signature (the receiver's replay window), and:
 *
 * - a signed 200 reply that answers this message ends it as delivered (the subclass stores what the
 *   reply means);
 * - a signed 4xx refusal is final, except those a later attempt may not meet (a stale message, a peer
 *   restarting or over its capacity);
 * - anything else (unreachable, 5xx, an unsigned or foreign reply) is retried with back-off, until the
 *   attempts are used up.
 *
 * The queue table has, besides QueueWorker's columns, `state`, `message_id`, `payload`,
 * `last_error_code` and `last_error`.
 */
import { sql } from 'kysely';
import type { TSchema } from 'typebox';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import type { ExchangeContext } from './context.ts';
import { signDetached } from './jws.ts';
import type { PeerClient, PeerResponse } from './peer-client.ts';
import { openPeerReply, readPeerProblem } from './peer-message.ts';
import { getPeer } from './peers.ts';
import { QueueWorker, type QueueLog, type QueueWorkerOptions } from './queue-worker.ts';

/** Refusals that a later attempt may not meet: a stale message (clocks), capacity, a peer restarting. */
export const RETRYABLE_REFUSALS: ReadonlySet<string> = new Set(['peer-message-expired', 'peer-capacity-exceeded', 'peer-unreachable', 'unavailable']);

export interface DeliveryRow {
  readonly id: number | string;
  readonly state: string;
  readonly message_id: string;
  readonly payload: string;
  readonly attempts: number;
}

export interface PeerError {
  readonly code: string;
  readonly detail: string;
}

export abstract class DeliveryWorker<Row extends DeliveryRow, Reply> extends QueueWorker<Row> {
  protected constructor(
    protected readonly ctx: ExchangeContext,
    private readonly deliveryTable: string,
    private readonly deliveryName: string,
    options: QueueWorkerOptions,
    log: QueueLog,
    defaults: Partial<QueueWorkerOptions> = {},
  ) {
    super(ctx.db, deliveryTable, deliveryName, options, log, defaults);
  }

  /** The client that sends (the federation's, or the subclass's own). */
  protected abstract peerClient(): PeerClient;
  /** The peer interface path a row's message goes to. */
  protected abstract pathOf(row: Row): string;
  /** The schema of the 200 reply to a row's message. */
  protected abstract replySchema(row: Row): TSchema;
  /** Whether a well-formed, signed reply answers this row's message (its id and states). */
  protected abstract answers(reply: Reply, row: Row): boolean;
  /** Stores a delivered row and what its reply means, with the record. */
  protected abstract delivered(row: Row, response: PeerResponse, reply: Reply): Promise<void>;
  /** Ends a row that cannot be delivered (refused by the peer, failed, or no longer to be sent), with the record. */
  protected abstract conclude(row: Row, status: 'refused' | 'failed' | 'cancelled', error: PeerError, response?: PeerResponse): Promise<void>;

  /** Called with the body and signature of each attempt before it goes out (to keep what was sent). */
  protected async sending(_row: Row, _body: string, _jws: string): Promise<void> {}

  protected override describe(row: Row): object {
    return { state: row.state, messageId: row.message_id };
  }

  protected async send(row: Row): Promise<void> {
    const ctx = this.ctx;
    const peer = await getPeer(ctx.db, row.state);
    if (!peer) {
      await this.conclude(row, 'failed', { code: 'peer-unknown', detail: `No peer node is configured for ${row.state} any more` });
      return;
    }
    // The same message at every attempt but for sentAt (the receiver's replay window) and its signature.
    const { protocol, type, messageId, ...rest } = JSON.parse(row.payload) as Record<string, unknown>;
    if (!protocol) {
      await this.conclude(row, 'cancelled', { code: 'message-withdrawn', detail: 'Not sent: the message was emptied (its data were deleted)' });
      return;
    }
    const body = JSON.stringify({ protocol, type, messageId, sentAt: ctx.now().toISOString(), ...rest });
    const jws = signDetached(body, ctx.signer());
    await this.sending(row, body, jws);
    let response: PeerResponse;
    try {
      response = await this.peerClient().exchange(row.state, `${peer.url}${this.pathOf(row)}`, 'POST', { body, jws });
    } catch (e) {
      await this.retryLater(row, e);
      return;
    }
    if (response.status === 200) {
      let reply: Reply;
      try {
        reply = openPeerReply(ctx, response, row.state, this.replySchema(row)) as Reply;
        if (!this.answers(reply, row)) throw new OpenPrumError('peer-answer-invalid', `The reply of ${row.state} is not a reply to message ${row.message_id}`);
      } catch (e) {
        await this.retryLater(row, e);
        return;
      }
      await this.delivered(row, response, reply);
      return;
    }
    const problem = readPeerProblem(ctx, response, row.state);
    if (response.status >= 400 && response.status < 500 && !RETRYABLE_REFUSALS.has(problem.code)) {
      await this.conclude(row, 'refused', problem, response);
      return;
    }
    await this.retryLater(row, new OpenPrumError('peer-unreachable', `The node of ${row.state} answered ${response.status} (${problem.code}): ${problem.detail}`));
  }

  /** Schedules the next attempt with back-off, or ends the row as failed when the attempts are used up. */
  protected async retryLater(row: Row, e: unknown): Promise<void> {
    const err = isOpenPrumError(e) ? e : new OpenPrumError('peer-unreachable', (e as Error).message);
    if (row.attempts >= this.o.maxAttempts) {
      await this.conclude(row, 'failed', { code: err.code, detail: `Given up after ${row.attempts} attempts: ${err.message}` });
      return;
    }
    const delay = this.retryDelayMs(row.attempts);
    this.log.warn({ state: row.state, messageId: row.message_id, attempts: row.attempts, retryInMs: delay, code: err.code }, `${this.deliveryName}: will retry`);
    await sql`
      update ${sql.table(this.deliveryTable)}
         set next_attempt_at = ${new Date(Date.now() + delay)}, claimed_until = null, last_error_code = ${err.code}, last_error = ${err.message.slice(0, 2000)}
       where id = ${row.id} and status = 'pending'`.execute(this.ctx.db);
  }
}
