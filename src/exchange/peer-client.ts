/**
 * The client side of the peer interface: HTTPS with mutual TLS 1.3 (undici), one connection pool per
 * peer state. The server's certificate must be of this federation's CA, valid, not revoked, and name
 * the state we meant to reach; its host name does not matter (the CA, not DNS, says who a node is).
 * Answers are read with a size limit and time limits, so a peer that hangs or floods cannot stall or
 * exhaust this node.
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { Agent, request } from 'undici';
import { OpenPrumError } from '../errors/index.ts';
import type { SignedMessage } from './context.ts';
import { JWS_HEADER } from './jws.ts';
import { PkiError, type FederationTrust } from './pki.ts';
import type { PeerTlsMaterial } from './peer-server.ts';

export interface PeerClientOptions {
  readonly connectTimeoutMs?: number;
  /** Time for the whole exchange, from sending to the last byte of the answer. */
  readonly answerTimeoutMs?: number;
  /** Largest answer accepted, in bytes. */
  readonly maxAnswerBytes?: number;
}

export interface PeerResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly jws: string | undefined;
}

/** TLS verification failures (OpenSSL's codes and ours): the peer is not who it must be. */
const CERTIFICATE_ERRORS = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_TLS_CERT|ERR_OPENPRUM_PEER_IDENTITY|CRL_|ERR_SSL_.*(CERTIFICATE|UNKNOWN_CA|BAD_CERT))/;

export class PeerClient {
  private agents = new Map<string, Agent>();
  private material: PeerTlsMaterial;
  private trust: FederationTrust;

  constructor(
    material: PeerTlsMaterial,
    trust: FederationTrust,
    private readonly options: PeerClientOptions = {},
  ) {
    this.material = material;
    this.trust = trust;
  }

  /** New TLS material or revocation list: later connections use it; current pools are closed. */
  update(material: PeerTlsMaterial, trust: FederationTrust): void {
    this.material = material;
    this.trust = trust;
    const old = [...this.agents.values()];
    this.agents.clear();
    for (const a of old) void a.close().catch(() => undefined);
  }

  private agentFor(country: string): Agent {
    let agent = this.agents.get(country);
    if (agent) return agent;
    const trust = this.trust;
    agent = new Agent({
      connect: {
        key: this.material.keyPem,
        cert: this.material.certPem,
        ca: this.material.caPem,
        crl: this.material.crlPem,
        minVersion: 'TLSv1.3',
        timeout: this.options.connectTimeoutMs ?? 10_000,
        // The state the certificate names is the identity that counts (see pki.ts).
        checkServerIdentity: (_host: string, cert: PeerCertificate) => {
          try {
            const identity = trust.verifyNodeCertificate(new X509Certificate(cert.raw));
            if (identity.country === country) return undefined;
            return Object.assign(new Error(`The node reached for ${country} presents the certificate of ${identity.country}`), { code: 'ERR_OPENPRUM_PEER_IDENTITY' });
          } catch (e) {
            if (e instanceof PkiError) return Object.assign(new Error(e.message), { code: 'ERR_OPENPRUM_PEER_IDENTITY' });
            throw e;
          }
        },
      },
      connections: 4,
      keepAliveTimeout: 4_000,
      headersTimeout: this.options.answerTimeoutMs ?? 30_000,
      bodyTimeout: this.options.answerTimeoutMs ?? 30_000,
    });
    this.agents.set(country, agent);
    return agent;
  }

  /** Sends one request to a peer and reads its answer; throws peer-unreachable / peer-certificate-refused / peer-answer-invalid. */
  async exchange(country: string, url: string, method: 'GET' | 'POST', message?: Pick<SignedMessage, 'body' | 'jws'>): Promise<PeerResponse> {
    const limit = this.options.maxAnswerBytes ?? 1024 * 1024;
    const timeout = this.options.answerTimeoutMs ?? 30_000;
    try {
      const res = await request(url, {
        method,
        dispatcher: this.agentFor(country),
        headers: message ? { 'content-type': 'application/json', [JWS_HEADER]: message.jws } : {},
        ...(message ? { body: message.body } : {}),
        signal: AbortSignal.timeout(timeout),
      });
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > limit) {
        res.body.destroy();
        throw new OpenPrumError('peer-answer-invalid', `The answer of ${country} is ${declared} bytes, more than the ${limit} accepted`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > limit) {
          res.body.destroy();
          throw new OpenPrumError('peer-answer-invalid', `The answer of ${country} is larger than the ${limit} bytes accepted`);
        }
        chunks.push(chunk as Buffer);
      }
      const jws = res.headers[JWS_HEADER];
      return {
        status: res.statusCode,
        contentType: String(res.headers['content-type'] ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
        jws: typeof jws === 'string' ? jws : undefined,
      };
    } catch (e) {
      throw classify(country, e);
    }
  }

  async close(): Promise<void> {
    const all = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(all.map((a) => a.destroy().catch(() => undefined)));
  }
}

function classify(country: string, e: unknown): OpenPrumError {
  if (e instanceof OpenPrumError) return e;
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code ?? '';
  if (CERTIFICATE_ERRORS.test(code)) {
    return new OpenPrumError('peer-certificate-refused', `The node reached for ${country} is refused: ${err.message} (${code})`, { tls: code });
  }
  let what: string;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      what = 'did not accept the connection in time';
      break;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ABORT_ERR':
    case 'UND_ERR_ABORTED':
      what = 'did not answer in time';
      break;
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
      what = 'closed the connection before the answer was complete';
      break;
    case 'ECONNREFUSED':
      what = 'refused the connection (is it running?)';
      break;
    default:
      what = `could not be reached: ${err.message}${code ? ` (${code})` : ''}`;
  }
  if (err.name === 'TimeoutError' || err.name === 'AbortError') what = 'did not answer in time';
  return new OpenPrumError('peer-unreachable', `The node of ${country} ${what}`, { transport: code || err.name }, { cause: e });
}
