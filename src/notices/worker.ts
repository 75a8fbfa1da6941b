/**
 * Sends the queued notice messages (notice_deliveries): one row per recipient state and message,
 * claimed with a lease, retried with exponential back-off and jitter while a node is down, given up
 * after a number of attempts. A refusal by the receiver (a 4xx signed problem) is final, except those
 * a later attempt may not meet (a stale message, a node restarting). Each outcome is recorded in the
 * transaction that stores it (outgoing: the supply of the notice data to that state).
 *
 * The worker runs while the node's peer interface runs: started by registerNoticePeerRoutes, stopped
 * when the interface closes. It has its own mutual-TLS client built from the node's certificate and
 * the federation's current trust (it follows a new revocation list). At the secretariat it also ends
 * published notices whose validity is over, once a minute.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely, Selectable } from 'kysely';
import type { Schema } from '../db/schema.ts';
import type { TSchema } from 'typebox';
import type { ExchangeContext } from '../exchange/context.ts';
import { DeliveryWorker, type PeerError } from '../exchange/delivery-worker.ts';
import { PeerClient, type PeerResponse } from '../exchange/peer-client.ts';
import type { PeerTlsMaterial } from '../exchange/peer-server.ts';
import type { FederationTrust } from '../exchange/pki.ts';
import type { QueueLog, QueueWorkerOptions } from '../exchange/queue-worker.ts';
import { contentDigest, NoticeAck } from './messages.ts';
import { expireDue } from './review.ts';
import type { NoticeDeliveriesTable } from './schema.ts';
import { isSecretariat } from './settings.ts';
import { recordNotice } from './store.ts';

type Delivery = Selectable<NoticeDeliveriesTable>;

export interface NoticeWorkerOptions extends QueueWorkerOptions {
  /** How often the secretariat looks for notices past their validity, in ms. */
  readonly expiryCheckMs?: number;
}

function materialOf(ctx: ExchangeContext, trust: FederationTrust): PeerTlsMaterial {
  const s = ctx.signer();
  return { keyPem: s.key.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem: s.cert.toString(), caPem: trust.caPem, crlPem: trust.crlPem };
}

export class NoticeWorker extends DeliveryWorker<Delivery, NoticeAck> {
  private lastExpiryCheck = 0;
  private readonly expiryCheckMs: number;
  private trust: FederationTrust;
  private readonly client: PeerClient;

  constructor(
    ctx: ExchangeContext,
    options: NoticeWorkerOptions = {},
    log: QueueLog = console,
  ) {
    // About two days at the longest delay: a node down over a weekend still gets its notices.
    super(ctx, 'notice_deliveries', 'notices', options, log, { baseDelayMs: 1_000, maxAttempts: 600 });
    this.expiryCheckMs = options.expiryCheckMs ?? 60_000;
    this.trust = ctx.trust();
    this.client = new PeerClient(materialOf(ctx, this.trust), this.trust, { answerTimeoutMs: 30_000 });
  }

  protected peerClient(): PeerClient {
    return this.client;
  }

  protected pathOf(): string {
    return '/peer/v1/notices/messages';
  }

  protected replySchema(): TSchema {
    return NoticeAck;
  }

  /** The receiver's acknowledgement of this message. */
  protected answers(reply: NoticeAck, d: Delivery): boolean {
    return reply.inReplyTo === d.message_id && reply.senderState === d.state && reply.recipientState === this.ctx.country;
  }

  protected override async afterStop(): Promise<void> {
    await this.client.close();
  }

  protected override async beforeClaim(): Promise<void> {
    // A new revocation list: later connections use it.
    const trust = this.ctx.trust();
    if (trust !== this.trust) {
      this.trust = trust;
      this.client.update(materialOf(this.ctx, trust), trust);
    }
    if (Date.now() - this.lastExpiryCheck > this.expiryCheckMs && isSecretariat(this.ctx)) {
      this.lastExpiryCheck = Date.now();
      if ((await expireDue(this.ctx)) > 0) this.kick();
    }
  }

  private async record(db: Kysely<Schema>, d: Delivery, outcome: 'done' | 'refused' | 'failed', supplied: unknown): Promise<number> {
    const n = d.notice_id ? await db.selectFrom('notices').select(['id', 'kind', 'type', 'requesting_state', 'reference', 'entity_id']).where('id', '=', d.notice_id).executeTakeFirst() : undefined;
    return recordNotice(db, this.ctx, {
      action: `notice.${d.act}.sent`,
      direction: 'outgoing',
      supplier: this.ctx.country,
      receiver: d.state,
      ...(n ? { notice: n } : {}),
      query: { messageId: d.message_id, ...(d.notice_id ? { noticeId: d.notice_id } : {}) },
      supplied,
      outcome,
      requestId: d.message_id,
    });
  }

  /** The receiver acknowledged: the delivery ends and the supply is recorded, in one transaction. */
  protected async delivered(d: Delivery, response: PeerResponse): Promise<void> {
    const ctx = this.ctx;
    await ctx.db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('notice_deliveries')
        .set({ status: 'delivered', delivered_at: ctx.now(), claimed_until: null, last_error_code: null, last_error: null, reply_status: 200, reply_body: response.body, reply_jws: response.jws ?? null })
        .where('id', '=', d.id)
        .where('status', '=', 'pending')
        .returning('id')
        .executeTakeFirst();
      if (!ended) return;
      const payload = (JSON.parse(d.payload) as { payload?: { content?: unknown } }).payload;
      const supplied = payload?.content ? { contentDigest: contentDigest(payload.content) } : { act: d.act };
      const rec = await this.record(trx, d, 'done', supplied);
      await trx.updateTable('notice_deliveries').set({ record_id: rec }).where('id', '=', d.id).execute();
    });
  }

  /** Ends a delivery as refused (the receiver's signed refusal), failed or cancelled, and records it. */
  protected async conclude(d: Delivery, status: 'refused' | 'failed' | 'cancelled', error: PeerError, response?: PeerResponse): Promise<void> {
    const ctx = this.ctx;
    await ctx.db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('notice_deliveries')
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
      if (!ended || status === 'cancelled') return;
      const rec = await this.record(trx, d, status, { [status]: error.code, detail: error.detail });
      await trx.updateTable('notice_deliveries').set({ record_id: rec }).where('id', '=', d.id).execute();
    });
  }
}

const workers = new WeakMap<ExchangeContext, NoticeWorker>();

/** The running notice worker of a started federation (to kick it after queueing), if any. */
export function noticeWorkerOf(ctx: ExchangeContext): NoticeWorker | undefined {
  return workers.get(ctx);
}

/**
 * Starts the notice worker when the peer interface listens and stops it when the interface closes.
 * Retry timings come from OPENPRUM_NOTICE_RETRY_MS (first delay) if set.
 */
export function startNoticeWorker(app: FastifyInstance, ctx: ExchangeContext, options: NoticeWorkerOptions = {}): void {
  const base = Number(process.env.OPENPRUM_NOTICE_RETRY_MS);
  const worker = new NoticeWorker(ctx, { ...(Number.isFinite(base) && base > 0 ? { baseDelayMs: base, pollMs: Math.min(1_000, base) } : {}), ...options }, app.log);
  app.addHook('onListen', async () => {
    workers.set(ctx, worker);
    worker.start();
  });
  app.addHook('onClose', async () => {
    if (workers.get(ctx) === worker) workers.delete(ctx);
    await worker.stop();
  });
}
