/**
 * Signatures on every message between nodes, so that a record can prove who said what (Prüm Decision
 * Art. 30(2)(b) and 2008/616/JHA Art. 8: the requesting and requested states of every request and
 * answer). Each body is signed with a detached JSON Web Signature (RFC 7515, Appendix F): ES256 (RFC
 * 7518 section 3.4) by the sending node's certificate key, with that certificate in `x5c`. The body is
 * sent as it is and the JWS travels in the `x-jws-signature` header as `<protected>..<signature>`.
 * The exact bytes are signed, so no canonical form of JSON is needed: the verifier checks the bytes it
 * received, and stores those bytes with the signature.
 */
import { sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import type { FederationTrust, NodeIdentity } from './pki.ts';
import { PkiError } from './pki.ts';

export const JWS_HEADER = 'x-jws-signature';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export interface Signer {
  readonly key: KeyObject;
  readonly cert: X509Certificate;
}

// The protected header depends on the certificate only: built once per certificate.
const headers = new WeakMap<X509Certificate, string>();

/** A detached compact JWS over the bytes of `payload`. */
export function signDetached(payload: Buffer | string, signer: Signer): string {
  let header = headers.get(signer.cert);
  if (header === undefined) {
    header = b64url(JSON.stringify({ alg: 'ES256', x5c: [signer.cert.raw.toString('base64')] }));
    headers.set(signer.cert, header);
  }
  const input = Buffer.concat([Buffer.from(`${header}.`, 'ascii'), Buffer.from(b64url(payload), 'ascii')]);
  const signature = sign('sha256', input, { key: signer.key, dsaEncoding: 'ieee-p1363' });
  return `${header}..${b64url(signature)}`;
}

export class SignatureError extends Error {
  override readonly name = 'SignatureError';
}

export interface VerifiedSignature extends NodeIdentity {
  readonly cert: X509Certificate;
}

/**
 * Certificates already checked against a trust state (CA and revocation list): a peer signs every
 * message with the same certificate, and parsing and chain-checking it each time costs more than the
 * signature itself. An entry holds for at most a minute and never past the certificate's validity; a
 * new revocation list is a new trust object, so it checks everything again.
 */
const CHECKED_FOR_MS = 60_000;
const checkedCerts = new WeakMap<FederationTrust, Map<string, { cert: X509Certificate; identity: NodeIdentity; until: number }>>();

function checkedCertificate(x5c: string, trust: FederationTrust, at: Date): { cert: X509Certificate; identity: NodeIdentity } {
  let cache = checkedCerts.get(trust);
  if (!cache) {
    cache = new Map();
    checkedCerts.set(trust, cache);
  }
  const hit = cache.get(x5c);
  if (hit && at.getTime() < hit.until && at.getTime() >= Date.parse(hit.cert.validFrom)) return hit;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(x5c, 'base64'));
  } catch {
    throw new SignatureError('The signer\'s certificate (x5c) cannot be read');
  }
  let identity: NodeIdentity;
  try {
    identity = trust.verifyNodeCertificate(cert, at);
  } catch (e) {
    if (e instanceof PkiError) throw new SignatureError(`The signer's certificate is refused: ${e.message}`);
    throw e;
  }
  if (cache.size >= 256) cache.clear();
  const entry = { cert, identity, until: Math.min(at.getTime() + CHECKED_FOR_MS, Date.parse(cert.validTo)) };
  cache.set(x5c, entry);
  return entry;
}

/**
 * Verifies a detached JWS over `payload`: ES256 only, the signer's certificate chains to the federation
 * CA, is valid and not revoked. Returns the signer's identity (its state); throws SignatureError.
 */
export function verifyDetached(jws: string | undefined, payload: Buffer | string, trust: FederationTrust, at: Date = new Date()): VerifiedSignature {
  if (!jws) throw new SignatureError(`The message carries no signature (${JWS_HEADER} header)`);
  const m = /^([A-Za-z0-9_-]{1,20000})\.\.([A-Za-z0-9_-]{86})$/.exec(jws);
  if (!m) throw new SignatureError('The signature is not a detached compact JWS (<protected>..<signature>)');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
  } catch {
    throw new SignatureError('The JWS protected header is not JSON');
  }
  const h = header as { alg?: unknown; x5c?: unknown; crit?: unknown; b64?: unknown };
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SignatureError('The JWS protected header is not an object');
  // RFC 7515 section 4.1.1: the algorithm is fixed by the federation, never chosen by the sender.
  if (h.alg !== 'ES256') throw new SignatureError(`The JWS algorithm must be ES256, not ${JSON.stringify(h.alg)}`);
  if (h.crit !== undefined || h.b64 !== undefined) throw new SignatureError('The JWS uses extensions this federation does not understand (crit, b64)');
  if (!Array.isArray(h.x5c) || h.x5c.length !== 1 || typeof h.x5c[0] !== 'string') throw new SignatureError('The JWS must carry the signer\'s certificate as x5c (one certificate)');
  const { cert, identity } = checkedCertificate(h.x5c[0], trust, at);
  const input = Buffer.concat([Buffer.from(`${m[1]}.`, 'ascii'), Buffer.from(b64url(payload), 'ascii')]);
  const ok = verify('sha256', input, { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(m[2]!, 'base64url'));
  if (!ok) throw new SignatureError('The signature does not match the message');
  return { ...identity, cert };
}
