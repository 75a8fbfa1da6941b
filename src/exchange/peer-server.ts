/**
 * The peer interface: a listener of its own, HTTPS with mutual TLS 1.3, where other states' nodes send
 * searches and read this node's declaration. Only a certificate of this federation's CA, valid and not
 * revoked, gets past the first hook; every answer, refusals included, is signed by this node.
 *
 * Routes:
 *   POST /peer/v1/searches      a signed search request → a signed answer (or signed problem+json)
 *   GET  /peer/v1/declaration   this node's signed declaration (Prüm Decision Arts. 2(3), 36)
 *   POST /peer/v1/bulk-comparisons, /peer/v1/bulk-chunks   bulk comparison of DNA profiles (Art. 4; bulk-peer.ts)
 *   POST /peer/v1/follow-ups, /peer/v1/follow-up-answers   follow-ups after a hit (Arts. 5, 10; src/followup/peer.ts)
 *   POST /peer/v1/notices/messages   notices and diffusions (src/notices/peer.ts)
 */
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import { toOpenPrumError } from '../http/problem.ts';
import { registerBulkPeerRoutes } from './bulk-peer.ts';
import { registerFollowUpPeerRoutes } from '../followup/peer.ts';
import { registerSafeguardsPeerRoutes } from '../safeguards/peer.ts';
import { registerNoticePeerRoutes } from '../notices/peer.ts';
import { registerAuditPeerRoutes } from '../audit/witness-network.ts';
import type { ExchangeContext, SignedMessage, TlsPeer } from './context.ts';
import { latestDeclaration } from './declarations.ts';
import { recordFederationEvent } from './events.ts';
import { receiveSearch, recordRefusal, requestOf, signedProblem } from './inbox.ts';
import { JWS_HEADER } from './jws.ts';
import { PkiError } from './pki.ts';

declare module 'fastify' {
  interface FastifyRequest {
    tlsPeer?: TlsPeer;
  }
}

export interface PeerServerOptions {
  readonly logLevel?: string;
  /** Largest request body in bytes (default 256 KiB: a DNA request with many profiles fits). */
  readonly bodyLimit?: number;
  /** Time a client has to send a whole request, in ms. */
  readonly requestTimeoutMs?: number;
}

/** TLS material of the listener; `setSecureContext` swaps it in when the revocation list changes. */
export interface PeerTlsMaterial {
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
  readonly crlPem: string;
}

export function peerTlsOptions(m: PeerTlsMaterial) {
  return {
    key: m.keyPem,
    cert: m.certPem,
    ca: m.caPem,
    crl: m.crlPem,
    // Every client must present a certificate. It is checked here and, with a clear refusal, in the
    // first hook: rejecting at the handshake would only drop the connection without saying why.
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3' as const,
  };
}

function send(reply: FastifyReply, m: SignedMessage, extra: Record<string, string> = {}): FastifyReply {
  reply.code(m.status).header('content-type', m.contentType).header(JWS_HEADER, m.jws);
  for (const [k, v] of Object.entries(extra)) reply.header(k, v);
  return reply.send(m.body);
}

// One check per TLS connection and trust state: a keep-alive connection is not re-checked per request,
// but a new revocation list (a new trust object) checks it again.
const checked = new WeakMap<TLSSocket, { trust: object; peer: TlsPeer }>();

function authenticate(ctx: ExchangeContext, request: FastifyRequest): TlsPeer {
  const socket = request.raw.socket as TLSSocket;
  const trust = ctx.trust();
  const cached = checked.get(socket);
  if (cached && cached.trust === trust) return cached.peer;
  const cert = socket.getPeerX509Certificate?.();
  if (!cert) throw new OpenPrumError('peer-certificate-refused', 'Present this federation\'s node certificate (mutual TLS)');
  if (!socket.authorized) {
    const reason = String(socket.authorizationError ?? 'not verified');
    throw new OpenPrumError('peer-certificate-refused', `The client certificate is refused (${reason}): it must be issued by this federation's CA, valid and not revoked`, { tls: reason });
  }
  let peer: TlsPeer;
  try {
    const identity = trust.verifyNodeCertificate(cert, ctx.now());
    peer = { country: identity.country, fingerprint: identity.fingerprint };
  } catch (e) {
    if (e instanceof PkiError) throw new OpenPrumError('peer-certificate-refused', e.message);
    throw e;
  }
  checked.set(socket, { trust, peer });
  return peer;
}

/** True for at most `perMinute` calls in each minute; `onFirstDrop` runs once a minute when there are more. */
function eventLimiter(perMinute: number, onFirstDrop: () => void): () => boolean {
  let windowStart = 0;
  let count = 0;
  return () => {
    const now = Date.now();
    if (now - windowStart > 60_000) {
      windowStart = now;
      count = 0;
    }
    count++;
    if (count === perMinute + 1) onFirstDrop();
    return count <= perMinute;
  };
}

export async function buildPeerServer(ctx: ExchangeContext, tls: PeerTlsMaterial, options: PeerServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    https: peerTlsOptions(tls),
    logger: { level: options.logLevel ?? 'info' },
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    connectionTimeout: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeout: 10_000,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
  });

  // TLS handshakes that fail name no one who could be recorded in the record of supplies; they are
  // kept as security events, at most a few a minute (a scanner must not fill the database).
  const limiter = eventLimiter(60, () => app.log.warn('peer interface: more than 60 unauthenticated refusals this minute; the rest are not recorded'));
  app.server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    if (!limiter()) return;
    void recordFederationEvent(ctx.db, {
      event: 'tls-refused',
      remoteAddress: socket.remoteAddress ?? null,
      code: socket.authorizationError ? String(socket.authorizationError) : (err.code ?? null),
      detail: err.message,
    }).catch((e: unknown) => app.log.error({ err: e }, 'could not record a TLS refusal'));
  });

  // The exact bytes are needed to verify the signature: bodies are kept as text, parsed by the inbox.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (request) => {
    request.tlsPeer = authenticate(ctx, request);
  });

  app.setErrorHandler(async (err, request, reply) => {
    const e = isOpenPrumError(err) ? err : toOpenPrumError(err);
    if (e.code === 'internal') request.log.error({ err }, 'internal error at the peer interface');
    const peer = request.tlsPeer;
    const recorded = (err as { recorded?: boolean }).recorded === true;
    try {
      if (peer && !recorded) await recordRefusal(ctx.db, ctx, peer.country, e, requestOf(err));
      else if (!peer && limiter()) {
        await recordFederationEvent(ctx.db, {
          event: 'peer-refused',
          remoteAddress: request.ip,
          code: e.code,
          detail: `${request.method} ${request.url.split('?')[0]}: ${e.message}`,
        });
      }
    } catch (recordErr) {
      request.log.error({ err: recordErr }, 'could not record a refusal at the peer interface');
    }
    const inReplyTo = requestOf(err)?.messageId;
    send(reply, signedProblem(ctx, e, inReplyTo), e.code === 'peer-certificate-refused' ? { connection: 'close' } : {});
    return reply;
  });

  app.setNotFoundHandler(async () => {
    throw new OpenPrumError('not-found', 'The peer interface has POST /peer/v1/searches, POST /peer/v1/bulk-comparisons, POST /peer/v1/bulk-chunks, POST /peer/v1/follow-ups, POST /peer/v1/follow-up-answers, POST /peer/v1/notices/messages and GET /peer/v1/declaration');
  });

  app.post('/peer/v1/searches', async (request, reply) => {
    if (typeof request.body !== 'string') throw new OpenPrumError('media-type-unsupported', 'Send the signed request as application/json');
    const jws = request.headers[JWS_HEADER];
    const received = await receiveSearch(ctx, request.tlsPeer!, request.body, typeof jws === 'string' ? jws : undefined);
    return send(reply, received, received.repeated ? { 'idempotent-replayed': 'true' } : {});
  });

  // Bulk comparison of DNA profiles (Prüm Decision Art. 4): POST /peer/v1/bulk-comparisons and /peer/v1/bulk-chunks.
  registerBulkPeerRoutes(app, ctx);
  // Follow-ups after a hit (Prüm Decision Arts. 5, 10): POST /peer/v1/follow-ups and /peer/v1/follow-up-answers.
  registerFollowUpPeerRoutes(app, ctx);
  // Safeguards (FD 2008/977 Arts. 8, 11, 13; Prüm Decision Art. 28): POST /peer/v1/safeguards.
  registerSafeguardsPeerRoutes(app, ctx);
  // Notices and diffusions (src/notices/peer.ts): POST /peer/v1/notices/messages; runs the notice worker.
  registerNoticePeerRoutes(app, ctx);
  // Audit tree heads countersigned across the federation (RFC 9162 witnessing): GET /peer/v1/audit/*, POST /peer/v1/audit/cosignatures.
  registerAuditPeerRoutes(app, ctx);

  app.get('/peer/v1/declaration', async (_request, reply) => {
    const own = await latestDeclaration(ctx.db, ctx.country);
    if (!own) throw new OpenPrumError('not-found', `The node of ${ctx.country} has published no declaration yet`);
    return send(reply, { status: 200, contentType: 'application/json', body: own.body, jws: own.jws });
  });

  return app;
}
