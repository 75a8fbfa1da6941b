/**
 * The federation's public-key infrastructure: one certificate authority per federation issues each
 * national contact point a certificate (ECDSA P-256) naming its state, and publishes a revocation list.
 * The state code in the certificate is the node's identity: a node speaks for the state its certificate
 * names and for no other (2008/616/JHA Art. 8(1)(a) and (2)(d): the state codes of the requesting and
 * requested states; Prüm Decision Art. 30(2)(b)(iii): the searching body).
 *
 * Certificates follow RFC 5280: v3, ecdsa-with-SHA256, the state in the subject (C=DE, CN=NCP DE) and,
 * authoritatively, in a subjectAltName URI `urn:openprum:ncp:DE`. Revocation lists are v2 CRLs.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.ts';

export const NCP_URI_PREFIX = 'urn:openprum:ncp:';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** RFC 5280 section 5.3.1 reason codes the CLI offers. */
export const REVOCATION_REASONS = { unspecified: 0, keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5 } as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

const DAY = 86_400_000;

export class PkiError extends Error {
  override readonly name = 'PkiError';
}

const algorithm = () => der.sequence(der.oid(OID.ecdsaWithSha256));

function name(parts: { country?: string; organization: string; commonName: string }): der.Der {
  const rdn = (type: string, value: der.Der) => der.set(der.sequence(der.oid(type), value));
  return der.sequence(
    ...(parts.country ? [rdn(OID.countryName, der.printableString(parts.country))] : []),
    rdn(OID.organizationName, der.utf8String(parts.organization)),
    rdn(OID.commonName, der.utf8String(parts.commonName)),
  );
}

function extension(type: string, critical: boolean, value: der.Der): der.Der {
  return der.sequence(der.oid(type), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** RFC 5280 section 4.2.1.2, method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = der.readOne(publicKey.export({ type: 'spki', format: 'der' }));
  const bits = der.children(spki)[1]!;
  return createHash('sha1').update(bits.value.subarray(1)).digest();
}

/** A positive 16-byte serial without a leading zero byte (RFC 5280 section 4.1.2.2: at most 20 octets). */
function newSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b;
}

function signCertificate(tbs: der.Der, caKey: KeyObject): Buffer {
  // Node's ECDSA signatures are DER ECDSA-Sig-Value, as X.509 wants them (RFC 5758 section 3.2).
  const signature = sign('sha256', tbs, caKey);
  return der.sequence(tbs, algorithm(), der.bitString(signature));
}

function checkEcP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PkiError(`${what} must be an ECDSA P-256 key`);
  }
}

export interface CertificateAuthority {
  readonly key: KeyObject;
  readonly cert: X509Certificate;
}

export interface CreateCaOptions {
  /** The federation's name, in the CA's subject and in every certificate it issues (O=). */
  readonly federation: string;
  readonly days?: number;
  readonly now?: Date;
}

/** A new self-signed federation CA (P-256, 10 years by default). */
export function createCertificateAuthority(options: CreateCaOptions): CertificateAuthority {
  const federation = options.federation.trim();
  if (federation.length === 0 || federation.length > 64) throw new PkiError('The federation name must be 1 to 64 characters');
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const subject = name({ organization: federation, commonName: `${federation} federation CA` });
  const ski = keyIdentifier(publicKey);
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(newSerial()),
    algorithm(),
    subject,
    der.sequence(der.time(new Date(now.getTime() - 60_000)), der.time(new Date(now.getTime() + (options.days ?? 3650) * DAY))),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(
      3,
      der.sequence(
        extension(OID.basicConstraints, true, der.sequence(der.boolean(true), der.integer(0))),
        // keyCertSign (5) and cRLSign (6): it signs certificates and the revocation list, nothing else.
        extension(OID.keyUsage, true, der.namedBits([5, 6])),
        extension(OID.subjectKeyIdentifier, false, der.octetString(ski)),
      ),
    ),
  );
  return { key: privateKey, cert: new X509Certificate(signCertificate(tbs, privateKey)) };
}

export interface IssueOptions {
  readonly country: string;
  /** The node's public key (the node keeps the private key). */
  readonly publicKey: KeyObject;
  readonly days?: number;
  /** DNS names and IP addresses to add to subjectAltName, for tools that check host names (curl). */
  readonly hosts?: readonly string[];
  readonly now?: Date;
}

/** Issues a node certificate for one state: TLS client and server, and message signatures. */
export function issueNodeCertificate(ca: CertificateAuthority, options: IssueOptions): X509Certificate {
  if (!/^[A-Z]{2}$/.test(options.country)) throw new PkiError(`The country must be a two-letter code such as DE, not ${JSON.stringify(options.country)}`);
  checkEcP256(options.publicKey, 'The node key');
  const now = options.now ?? new Date();
  const federation = federationOf(ca.cert);
  const sans: der.Der[] = [der.implicitPrimitive(6, Buffer.from(`${NCP_URI_PREFIX}${options.country}`, 'ascii'))];
  for (const host of options.hosts ?? []) {
    if (isIP(host) === 4) sans.push(der.implicitPrimitive(7, Buffer.from(host.split('.').map(Number))));
    else if (/^[A-Za-z0-9.-]{1,253}$/.test(host)) sans.push(der.implicitPrimitive(2, Buffer.from(host.toLowerCase(), 'ascii')));
    else throw new PkiError(`${JSON.stringify(host)} is neither a DNS name nor an IPv4 address`);
  }
  const caSubject = der.readOne(ca.cert.raw);
  const issuer = der.children(der.children(caSubject)[0]!)[5]!.raw;
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(newSerial()),
    algorithm(),
    issuer,
    der.sequence(der.time(new Date(now.getTime() - 60_000)), der.time(new Date(now.getTime() + (options.days ?? 365) * DAY))),
    name({ country: options.country, organization: federation, commonName: `NCP ${options.country}` }),
    options.publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(
      3,
      der.sequence(
        extension(OID.basicConstraints, true, der.sequence()),
        // digitalSignature (0): TLS handshakes and the signatures on messages and declarations.
        extension(OID.keyUsage, true, der.namedBits([0])),
        extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
        extension(OID.subjectAltName, false, der.sequence(...sans)),
        extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(options.publicKey))),
        extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, keyIdentifier(ca.cert.publicKey)))),
      ),
    ),
  );
  return new X509Certificate(signCertificate(tbs, ca.key));
}

export interface RevokedEntry {
  /** Upper-case hex, as X509Certificate.serialNumber gives it. */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason?: RevocationReason | undefined;
}

export interface CrlOptions {
  readonly number: number;
  readonly revoked: readonly RevokedEntry[];
  readonly now?: Date;
  /** Days until the next list is due (nextUpdate); nodes refuse everyone once it has passed. */
  readonly days?: number;
}

/** A v2 certificate revocation list (RFC 5280 section 5) signed by the CA. */
export function buildCrl(ca: CertificateAuthority, options: CrlOptions): Buffer {
  const now = options.now ?? new Date();
  const issuer = der.children(der.children(der.readOne(ca.cert.raw))[0]!)[5]!.raw;
  const entries = options.revoked.map((r) => {
    if (!/^[0-9A-F]+$/.test(r.serial)) throw new PkiError(`Serial ${JSON.stringify(r.serial)} is not upper-case hex`);
    const ext =
      r.reason && r.reason !== 'unspecified'
        ? [der.sequence(extension(OID.crlReason, false, der.tlv(0x0a, Buffer.from([REVOCATION_REASONS[r.reason]]))))]
        : [];
    return der.sequence(der.integer(Buffer.from(r.serial.length % 2 ? `0${r.serial}` : r.serial, 'hex')), der.time(r.revokedAt), ...ext);
  });
  const tbs = der.sequence(
    der.integer(1),
    algorithm(),
    issuer,
    der.time(new Date(now.getTime() - 60_000)),
    der.time(new Date(now.getTime() + (options.days ?? 30) * DAY)),
    ...(entries.length > 0 ? [der.sequence(...entries)] : []),
    der.explicit(
      0,
      der.sequence(
        extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, keyIdentifier(ca.cert.publicKey)))),
        extension(OID.crlNumber, false, der.integer(options.number)),
      ),
    ),
  );
  return signCertificate(tbs, ca.key);
}

export interface ParsedCrl {
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly number: number | undefined;
  readonly revoked: ReadonlySet<string>;
}

/** Parses a CRL and checks that the CA signed it; throws PkiError otherwise. */
export function parseCrl(crlDer: Buffer, caCert: X509Certificate): ParsedCrl {
  try {
    const [tbs, alg, sig] = der.children(der.readOne(crlDer));
    if (!tbs || !alg || !sig || sig.tag !== 0x03) throw new PkiError('not a certificate list');
    if (der.readOid(der.children(alg)[0]!) !== OID.ecdsaWithSha256) throw new PkiError('not signed with ecdsa-with-SHA256');
    if (!verify('sha256', tbs.raw, caCert.publicKey, sig.value.subarray(1))) throw new PkiError('the signature is not the federation CA\'s');
    const fields = der.children(tbs);
    let i = 0;
    if (fields[i]?.tag === 0x02) i++; // version
    i++; // signature algorithm
    const issuer = fields[i++]!;
    const caSubject = der.children(der.children(der.readOne(caCert.raw))[0]!)[5]!;
    if (!issuer.raw.equals(caSubject.raw)) throw new PkiError('it was issued by another CA');
    const thisUpdate = der.readTime(fields[i++]!);
    const next = fields[i];
    if (!next || (next.tag !== 0x17 && next.tag !== 0x18)) throw new PkiError('it has no nextUpdate');
    const nextUpdate = der.readTime(next);
    i++;
    const revoked = new Set<string>();
    if (fields[i]?.tag === 0x30) {
      for (const entry of der.children(fields[i]!)) revoked.add(der.readIntegerHex(der.children(entry)[0]!));
      i++;
    }
    let number: number | undefined;
    if (fields[i]?.tag === 0xa0) {
      for (const ext of der.children(der.children(fields[i]!)[0]!)) {
        const parts = der.children(ext);
        if (der.readOid(parts[0]!) === OID.crlNumber) number = parseInt(der.readIntegerHex(der.readOne(parts[parts.length - 1]!.value)), 16);
      }
    }
    return { thisUpdate, nextUpdate, number, revoked };
  } catch (e) {
    if (e instanceof PkiError) throw new PkiError(`The revocation list is not valid: ${e.message}`);
    throw new PkiError(`The revocation list is not valid: ${(e as Error).message}`);
  }
}

/** The federation name (O=) of a CA certificate. */
export function federationOf(caCert: X509Certificate): string {
  const m = /^O=(.*)$/m.exec(caCert.subject);
  if (!m) throw new PkiError('The CA certificate names no federation (O=)');
  return m[1]!;
}

/** The state a node certificate speaks for, read from its subjectAltName URI (and checked against C=). */
export function countryOf(cert: X509Certificate): string {
  const uris = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  const ncp = uris.filter((u) => u.startsWith(NCP_URI_PREFIX));
  if (ncp.length !== 1) throw new PkiError('The certificate does not name exactly one national contact point (urn:openprum:ncp:XX)');
  const country = ncp[0]!.slice(NCP_URI_PREFIX.length);
  if (!/^[A-Z]{2}$/.test(country)) throw new PkiError('The certificate names no valid state');
  const c = /^C=(.*)$/m.exec(cert.subject);
  if (!c || c[1] !== country) throw new PkiError('The certificate\'s subject state (C=) and its contact point URI disagree');
  return country;
}

/** SHA-256 fingerprint of a certificate, lower-case hex without colons. */
export function fingerprintOf(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex');
}

export interface NodeIdentity {
  readonly country: string;
  readonly serial: string;
  readonly fingerprint: string;
}

/**
 * What a node trusts: its federation's CA and the CA's current revocation list. Every peer
 * certificate (TLS and message signatures) is checked against both.
 */
export class FederationTrust {
  readonly caCert: X509Certificate;
  readonly caPem: string;
  readonly crlPem: string;
  readonly crl: ParsedCrl;
  readonly federation: string;

  constructor(caPem: string, crlPem: string) {
    try {
      this.caCert = new X509Certificate(caPem);
    } catch (e) {
      throw new PkiError(`The CA certificate cannot be read: ${(e as Error).message}`);
    }
    if (!this.caCert.ca || !this.caCert.checkIssued(this.caCert) || !this.caCert.verify(this.caCert.publicKey)) {
      throw new PkiError('The CA certificate is not a self-signed certificate authority');
    }
    this.caPem = caPem;
    let crlDer: Buffer;
    try {
      crlDer = der.fromPem('X509 CRL', crlPem);
    } catch {
      throw new PkiError('The revocation list is not a PEM "X509 CRL"');
    }
    this.crl = parseCrl(crlDer, this.caCert);
    this.crlPem = crlPem;
    this.federation = federationOf(this.caCert);
  }

  /**
   * Checks a node certificate: issued and signed by this federation's CA, valid now, not revoked, not a
   * CA itself, naming one state. Returns that state; throws PkiError saying what is wrong.
   */
  verifyNodeCertificate(cert: X509Certificate, at: Date = new Date()): NodeIdentity {
    if (!cert.checkIssued(this.caCert) || !cert.verify(this.caCert.publicKey)) {
      throw new PkiError('The certificate was not issued by this federation\'s certificate authority');
    }
    if (cert.ca) throw new PkiError('A CA certificate cannot speak for a node');
    if (at < new Date(cert.validFrom) || at > new Date(cert.validTo)) throw new PkiError(`The certificate is not valid now (valid ${cert.validFrom} to ${cert.validTo})`);
    if (at > this.crl.nextUpdate) throw new PkiError(`The federation's revocation list expired on ${this.crl.nextUpdate.toISOString()}; install the CA's current list`);
    const serial = cert.serialNumber.toUpperCase().replace(/^(00)+/, '');
    if (this.crl.revoked.has(serial)) throw new PkiError(`The certificate ${serial} has been revoked by the federation CA`);
    return { country: countryOf(cert), serial, fingerprint: fingerprintOf(cert) };
  }
}

export function certificatePem(cert: X509Certificate): string {
  return der.toPem('CERTIFICATE', cert.raw);
}

export function crlPem(crlDer: Buffer): string {
  return der.toPem('X509 CRL', crlDer);
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function readPrivateKey(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new PkiError(`${what} cannot be read: ${(e as Error).message}`);
  }
  checkEcP256(key, what);
  return key;
}

/** True when the private key belongs to the certificate. */
export function keyMatches(key: KeyObject, cert: X509Certificate): boolean {
  const a = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const b = cert.publicKey.export({ type: 'spki', format: 'der' });
  return a.equals(b);
}
