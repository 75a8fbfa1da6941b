import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import * as der from './der.ts';
import {
  buildCrl,
  certificatePem,
  countryOf,
  createCertificateAuthority,
  crlPem,
  FederationTrust,
  issueNodeCertificate,
  parseCrl,
  PkiError,
  privateKeyPem,
} from './pki.ts';

const ca = createCertificateAuthority({ federation: 'Test federation' });
const other = createCertificateAuthority({ federation: 'Other federation' });

function node(country: string, authority = ca) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = issueNodeCertificate(authority, { country, publicKey });
  return { cert, keyPem: privateKeyPem(privateKey), certPem: certificatePem(cert) };
}

const trustWith = (revoked: string[] = [], number = 1) =>
  new FederationTrust(certificatePem(ca.cert), crlPem(buildCrl(ca, { number, revoked: revoked.map((serial) => ({ serial, revokedAt: new Date() })) })));

describe('DER', () => {
  it('encodes integers minimally and with a sign byte when needed', () => {
    expect(der.integer(0).toString('hex')).toBe('020100');
    expect(der.integer(127).toString('hex')).toBe('02017f');
    expect(der.integer(128).toString('hex')).toBe('02020080');
    expect(der.integer(Buffer.from([0, 0, 1])).toString('hex')).toBe('020101');
  });

  it('encodes and reads object identifiers and long lengths', () => {
    expect(der.oid('1.2.840.10045.4.3.2').toString('hex')).toBe('06082a8648ce3d040302');
    expect(der.readOid(der.readOne(der.oid('2.5.29.19')))).toBe('2.5.29.19');
    const long = der.octetString(Buffer.alloc(300, 1));
    expect(long.subarray(0, 4).toString('hex')).toBe('0482012c');
    expect(der.readOne(long).value.length).toBe(300);
  });

  it('drops trailing zero bits of named bit strings (X.690 11.2.2)', () => {
    expect(der.namedBits([0]).toString('hex')).toBe('03020780');
    expect(der.namedBits([5, 6]).toString('hex')).toBe('03020106');
  });

  it('refuses truncated and non-minimal encodings', () => {
    expect(() => der.readOne(Buffer.from('0405aabb', 'hex'))).toThrow(/truncated/);
    expect(() => der.readOne(Buffer.from('048105' + 'aa'.repeat(5), 'hex'))).toThrow(/non-minimal/);
    expect(() => der.readOne(Buffer.from('040100ff', 'hex'))).toThrow(/trailing/);
  });
});

describe('federation certificates', () => {
  it('makes a CA that Node reads as a self-signed authority of the federation', () => {
    expect(ca.cert.ca).toBe(true);
    expect(ca.cert.checkIssued(ca.cert)).toBe(true);
    expect(ca.cert.subject).toContain('O=Test federation');
  });

  it('issues a node certificate naming its state in C=, CN= and the NCP URI', () => {
    const de = node('DE');
    expect(de.cert.subject.split('\n')).toEqual(['C=DE', 'O=Test federation', 'CN=NCP DE']);
    expect(de.cert.subjectAltName).toBe('URI:urn:openprum:ncp:DE');
    expect(de.cert.ca).toBe(false);
    expect(de.cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(countryOf(de.cert)).toBe('DE');
    expect(trustWith().verifyNodeCertificate(de.cert)).toMatchObject({ country: 'DE', serial: de.cert.serialNumber });
  });

  it('refuses a certificate of another federation, a revoked one and a CA certificate', () => {
    const foreign = node('DE', other);
    expect(() => trustWith().verifyNodeCertificate(foreign.cert)).toThrow(/not issued by this federation/);
    const fr = node('FR');
    expect(() => trustWith([fr.cert.serialNumber]).verifyNodeCertificate(fr.cert)).toThrow(/revoked/);
    expect(() => trustWith().verifyNodeCertificate(ca.cert)).toThrow(PkiError);
  });

  it('refuses a certificate outside its validity and a revocation list past its nextUpdate', () => {
    const de = node('DE');
    expect(() => trustWith().verifyNodeCertificate(de.cert, new Date(Date.now() + 400 * 86_400_000))).toThrow(/not valid now|expired/);
    const stale = new FederationTrust(certificatePem(ca.cert), crlPem(buildCrl(ca, { number: 1, revoked: [], now: new Date(Date.now() - 40 * 86_400_000), days: 30 })));
    expect(() => stale.verifyNodeCertificate(de.cert)).toThrow(/revocation list expired/);
  });

  it('writes revocation lists that it and OpenSSL read, and refuses lists of another CA', () => {
    const fr = node('FR');
    const crl = buildCrl(ca, { number: 7, revoked: [{ serial: fr.cert.serialNumber, revokedAt: new Date(), reason: 'keyCompromise' }] });
    const parsed = parseCrl(crl, ca.cert);
    expect(parsed.number).toBe(7);
    expect([...parsed.revoked]).toEqual([fr.cert.serialNumber]);
    expect(() => parseCrl(crl, other.cert)).toThrow(/not valid/);
    // OpenSSL parses it too when building a TLS context.
    expect(() => tls.createSecureContext({ ca: certificatePem(ca.cert), crl: crlPem(crl) })).not.toThrow();
  });

  it('needs a node key of P-256 and a two-letter state', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    expect(() => issueNodeCertificate(ca, { country: 'DE', publicKey })).toThrow(/P-256/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => issueNodeCertificate(ca, { country: 'DEU', publicKey: ec })).toThrow(/two-letter/);
  });

  it('adds DNS and IP names on request', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = issueNodeCertificate(ca, { country: 'NL', publicKey, hosts: ['localhost', '127.0.0.1'] });
    expect(cert.subjectAltName).toBe('URI:urn:openprum:ncp:NL, DNS:localhost, IP Address:127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('TLS 1.3 on loopback with the federation PKI', () => {
  async function handshake(server: ReturnType<typeof node>, client: ReturnType<typeof node>, crl: string): Promise<{ authorized: boolean; error?: string | undefined; peer?: string | undefined }> {
    const caPem = certificatePem(ca.cert);
    const srv = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: caPem, crl, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    const result = new Promise<{ authorized: boolean; error?: string | undefined; peer?: string | undefined }>((resolve) => {
      srv.on('secureConnection', (s) => {
        resolve({ authorized: s.authorized, error: s.authorizationError ? String(s.authorizationError) : undefined, peer: s.getPeerX509Certificate()?.subject.split('\n')[0] });
        s.end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const c = tls.connect({ host: '127.0.0.1', port, key: client.keyPem, cert: client.certPem, ca: caPem, crl, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    c.on('error', () => undefined);
    const r = await result;
    c.destroy();
    await new Promise((res) => srv.close(res));
    return r;
  }

  it('authenticates a node of the federation, and not a revoked or a foreign one', async () => {
    const de = node('DE');
    const fr = node('FR');
    const revoked = node('FR');
    const foreign = node('NL', other);
    const crl = crlPem(buildCrl(ca, { number: 2, revoked: [{ serial: revoked.cert.serialNumber, revokedAt: new Date() }] }));
    expect(await handshake(de, fr, crl)).toEqual({ authorized: true, error: undefined, peer: 'C=FR' });
    expect(await handshake(de, revoked, crl)).toMatchObject({ authorized: false, error: 'CERT_REVOKED' });
    expect((await handshake(de, foreign, crl)).authorized).toBe(false);
  });

  it('exposes the node certificate so Node parses it back', () => {
    const de = node('DE');
    expect(new X509Certificate(de.certPem).fingerprint256).toBe(de.cert.fingerprint256);
  });
});
