/**
 * Delivers follow-up messages from the durable queue `follow_up_deliveries`: requests (requesting
 * node → requested node) and answers (requested node → requesting node). Like the search outbox
 * (src/exchange/outbox.ts): rows are stored in the transaction of the act they carry, claimed with a
 * lease (`for update skip locked`), sent with the message id they were stored with and a fresh
 * `sentAt` and signature, retried with exponential back-off and jitter while the peer is down, slow,
 * or answers 5xx; a signed refusal (4xx) is final, except for a stale message (clock skew) or
 * capacity. The receiver handles a message id once, so a retry after a lost reply is harmless.
 *
 * Each outcome is recorded with the follow-up's change, in one transaction (Prüm Decision Art. 30).
 */
import type { Kysely, Selectable } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import type { TSchema } from 'typebox';
import { NCP, type ExchangeContext } from '../exchange/context.ts';
import { DeliveryWorker, type PeerError } from '../exchange/delivery-worker.ts';
import type { QueueLog, QueueWorkerOptions } from '../exchange/queue-worker.ts';
import type { PeerClient, PeerResponse } from '../exchange/peer-client.ts';
import { followUpLegalBasis } from './hits.ts';
import { FollowUpAck, FollowUpReceipt } from './messages.ts';
import type { FollowUpDeliveriesTable } from './schema.ts';

type Delivery = Selectable<FollowUpDeliveriesTable>;
type Db = Kysely<Schema>;

const PATHS = { 'follow-up-request': '/peer/v1/follow-ups', 'follow-up-answer': '/peer/v1/follow-up-answers' } as const;

/** The search outbox's options (FederationOptions.outbox) apply here too. */
export type FollowUpWorkerOptions = QueueWorkerOptions;

type Reply = FollowUpReceipt | FollowUpAck;

export class FollowUpWorker extends DeliveryWorker<Delivery, Reply> {
  constructor(
    ctx: ExchangeContext,
    private readonly client: PeerClient,
    options: FollowUpWorkerOptions = {},
    log: QueueLog = console,
  ) {
    // The search outbox gives up after about two hours; a follow-up has 48 hours to be answered,
    // so by default it keeps trying for about two days (600 attempts at the maximum delay).
    super(ctx, 'follow_up_deliveries', 'follow-ups', options, log, { maxAttempts: 600 });
  }

  protected peerClient(): PeerClient {
    return this.client;
  }

  protected pathOf(d: Delivery): string {
    return PATHS[d.type];
  }

  protected replySchema(d: Delivery): TSchema {
    return d.type === 'follow-up-request' ? FollowUpReceipt : FollowUpAck;
  }

  /** A receipt or acknowledgement of this message, between the same two states. */
  protected answers(reply: Reply, d: Delivery): boolean {
    const [requesting, requested] = d.type === 'follow-up-request' ? [this.ctx.country, d.state] : [d.state, this.ctx.country];
    return reply.inReplyTo === d.message_id && reply.requestingState === requesting && reply.requestedState === requested;
  }

  protected override async sending(d: Delivery, body: string, jws: string): Promise<void> {
    await this.ctx.db.updateTable('follow_up_deliveries').set({ sent_body: body, sent_jws: jws }).where('id', '=', d.id).execute();
  }

  /** The reply arrived: the follow-up learns it, the delivery ends, the record says so. One transaction. */
  protected async delivered(d: Delivery, response: PeerResponse, reply: Reply): Promise<void> {
    const ctx = this.ctx;
    await ctx.db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('follow_up_deliveries')
        .set({ status: 'delivered', delivered_at: ctx.now(), claimed_until: null, last_error_code: null, last_error: null, reply_status: 200, reply_body: response.body, reply_jws: response.jws ?? null })
        .where('id', '=', d.id)
        .where('status', '=', 'pending')
        .returning('id')
        .executeTakeFirst();
      if (!ended) return; // another process finished it
      const f = await trx.selectFrom('follow_ups').selectAll().where('id', '=', d.follow_up_id).executeTakeFirstOrThrow();
      if (reply.type === 'follow-up-receipt') {
        await trx
          .updateTable('follow_ups')
          .set({
            status: f.status === 'pending' || f.status === 'failed' ? 'received' : f.status,
            receipt_reference: reply.receipt.reference,
            received_at: reply.receipt.receivedAt,
            due_at: reply.receipt.dueAt,
            receipt_body: response.body,
            receipt_jws: response.jws ?? null,
          })
          .where('id', '=', f.id)
          .execute();
      }
      const rec = await writeRecord(trx, {
        action: reply.type === 'follow-up-receipt' ? 'follow-up.request.sent' : 'follow-up.answer.sent',
        direction: f.direction,
        searchingBody: NCP(f.requesting_state),
        administeringBody: NCP(f.requested_state),
        officerId: f.direction === 'outgoing' ? f.officer_id : f.decided_by_id,
        officerReference: f.direction === 'outgoing' ? f.officer_reference : f.decided_by_reference,
        purpose: f.purpose,
        legalBasis: followUpLegalBasis(f.kind),
        query: { reference: f.reference, messageId: d.message_id },
        supplied: reply.type === 'follow-up-receipt' ? { receipt: reply.receipt } : { acknowledgedAt: reply.receivedAt },
        outcome: 'done',
        requestId: d.message_id,
      });
      await trx.updateTable('follow_up_deliveries').set({ record_id: rec.id }).where('id', '=', d.id).execute();
    });
  }

  /**
   * Ends a delivery as refused (the peer's signed refusal) or failed (never delivered), records it,
   * and for a request marks the follow-up rejected or failed. One transaction.
   */
  protected async conclude(d: Delivery, status: 'refused' | 'failed' | 'cancelled', error: PeerError, response?: PeerResponse): Promise<void> {
    const ctx = this.ctx;
    // A follow-up message is never emptied; a row without a message is a failed one.
    if (status === 'cancelled') status = 'failed';
    await ctx.db.transaction().execute(async (trx: Db) => {
      const ended = await trx
        .updateTable('follow_up_deliveries')
        .set({
          status,
          claimed_until: null,
          last_error_code: error.code,
          last_error: error.detail.slice(0, 2000),
          ...(response ? { reply_status: response.status, reply_body: response.body.slice(0, 64 * 1024), reply_jws: response.jws ?? null } : {}),
        })
        .where('id', '=', d.id)
        .where('status', '=', 'pending')
        .returning('id')
        .executeTakeFirst();
      if (!ended) return;
      const f = await trx.selectFrom('follow_ups').selectAll().where('id', '=', d.follow_up_id).executeTakeFirstOrThrow();
      if (d.type === 'follow-up-request' && (f.status === 'pending' || f.status === 'received')) {
        await trx.updateTable('follow_ups').set({ status: status === 'refused' ? 'rejected' : 'failed' }).where('id', '=', f.id).execute();
      }
      const rec = await writeRecord(trx, {
        action: d.type === 'follow-up-request' ? 'follow-up.request.sent' : 'follow-up.answer.sent',
        direction: f.direction,
        searchingBody: NCP(f.requesting_state),
        administeringBody: NCP(f.requested_state),
        officerId: f.direction === 'outgoing' ? f.officer_id : f.decided_by_id,
        officerReference: f.direction === 'outgoing' ? f.officer_reference : f.decided_by_reference,
        purpose: f.purpose,
        legalBasis: followUpLegalBasis(f.kind),
        query: { reference: f.reference, messageId: d.message_id },
        supplied: { [status]: error.code, detail: error.detail },
        outcome: status,
        requestId: d.message_id,
      });
      await trx.updateTable('follow_up_deliveries').set({ record_id: rec.id }).where('id', '=', d.id).execute();
    });
  }
}
