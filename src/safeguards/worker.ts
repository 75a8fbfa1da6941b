/**
 * Delivers safeguards messages from the durable queue `safeguard_deliveries` (consent requests and
 * answers, corrections of supplied data, notices of onward transfers), like the follow-up worker
 * (src/followup/worker.ts): a row is stored in the transaction of the act it carries, sent with its
 * message id and a fresh `sentAt` and signature, retried with back-off while the peer is down or
 * busy; a signed 4xx refusal is final. The receiver handles a message id once.
 *
 * Each outcome is recorded with the delivery's change, in one transaction (Prüm Decision Art. 30).
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import { writeRecord } from '../audit/records.ts';
import type { Schema } from '../db/schema.ts';
import type { TSchema } from 'typebox';
import { NCP, type ExchangeContext } from '../exchange/context.ts';
import { DeliveryWorker, type PeerError } from '../exchange/delivery-worker.ts';
import type { PeerClient, PeerResponse } from '../exchange/peer-client.ts';
import type { QueueLog, QueueWorkerOptions } from '../exchange/queue-worker.ts';
import { SAFEGUARDS_PEER_PATH, SafeguardsAck } from './messages.ts';
import type { SafeguardDeliveriesTable, SafeguardMessageType } from './schema.ts';

type Delivery = Selectable<SafeguardDeliveriesTable>;
type Db = Kysely<Schema> | Transaction<Schema>;

/** Stores a message for a peer in the caller's transaction; the worker sends it. */
export async function enqueue(trx: Db, d: { state: string; type: SafeguardMessageType; relatedId: string | null; payload: { messageId: string } & Record<string, unknown> }): Promise<void> {
  await trx.insertInto('safeguard_deliveries').values({ state: d.state, message_id: d.payload.messageId, type: d.type, related_id: d.relatedId, payload: JSON.stringify(d.payload) }).execute();
}

export class SafeguardsWorker extends DeliveryWorker<Delivery, SafeguardsAck> {
  constructor(
    ctx: ExchangeContext,
    private readonly client: PeerClient,
    options: QueueWorkerOptions = {},
    log: QueueLog = console,
  ) {
    // A correction or a notice of a transfer must arrive: keep trying for about two days, like follow-ups.
    super(ctx, 'safeguard_deliveries', 'safeguards', options, log, { maxAttempts: 600 });
  }

  protected override describe(d: Delivery): object {
    return { state: d.state, messageId: d.message_id, type: d.type };
  }

  protected peerClient(): PeerClient {
    return this.client;
  }

  protected pathOf(): string {
    return SAFEGUARDS_PEER_PATH;
  }

  protected replySchema(): TSchema {
    return SafeguardsAck;
  }

  protected answers(reply: SafeguardsAck, d: Delivery): boolean {
    return reply.inReplyTo === d.message_id && reply.from === d.state && reply.to === this.ctx.country;
  }

  protected override async sending(d: Delivery, body: string, jws: string): Promise<void> {
    await this.ctx.db.updateTable('safeguard_deliveries').set({ sent_body: body, sent_jws: jws }).where('id', '=', d.id).execute();
  }

  protected async delivered(d: Delivery, response: PeerResponse): Promise<void> {
    await this.end(d, 'delivered', null, response);
  }

  protected async conclude(d: Delivery, status: 'refused' | 'failed' | 'cancelled', error: PeerError, response?: PeerResponse): Promise<void> {
    await this.end(d, status === 'cancelled' ? 'failed' : status, error, response);
  }

  /** Ends a delivery (delivered, refused, failed) and records it; a consent request that cannot arrive is marked so. */
  private async end(d: Delivery, status: 'delivered' | 'refused' | 'failed', error: PeerError | null, response?: PeerResponse): Promise<void> {
    const ctx = this.ctx;
    await ctx.db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('safeguard_deliveries')
        .set({
          status,
          claimed_until: null,
          last_error_code: error?.code ?? null,
          last_error: error?.detail.slice(0, 2000) ?? null,
          ...(status === 'delivered' ? { delivered_at: ctx.now() } : {}),
          ...(response ? { reply_status: response.status, reply_body: response.body.slice(0, 64 * 1024), reply_jws: response.jws ?? null } : {}),
        })
        .where('id', '=', d.id)
        .where('status', '=', 'pending')
        .returning('id')
        .executeTakeFirst();
      if (!ended) return;
      if (status !== 'delivered' && d.type === 'consent-request' && d.related_id) {
        await trx.updateTable('safeguard_consents').set({ status: status === 'refused' ? 'rejected' : 'failed', decision_reason: error?.detail ?? null }).where('id', '=', d.related_id).where('status', '=', 'pending').execute();
      }
      // The message's direction as its act was recorded: requests and notices go to the supplier
      // (this node searched), answers and corrections go to the receiver (this node administers the file).
      const toSupplier = d.type === 'consent-request' || d.type === 'onward-transfer-notice';
      const rec = await writeRecord(trx, {
        action: `safeguards.${d.type}.sent`,
        direction: toSupplier ? 'outgoing' : 'incoming',
        searchingBody: toSupplier ? NCP(ctx.country) : NCP(d.state),
        administeringBody: toSupplier ? NCP(d.state) : NCP(ctx.country),
        query: { messageId: d.message_id, relatedId: d.related_id },
        supplied: status === 'delivered' ? { delivered: true } : { [status]: error?.code ?? null, detail: error?.detail ?? null },
        outcome: status === 'delivered' ? 'done' : status,
        requestId: d.message_id,
      });
      await trx.updateTable('safeguard_deliveries').set({ record_id: rec.id }).where('id', '=', d.id).execute();
    });
  }
}
