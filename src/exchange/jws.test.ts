import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signDetached, verifyDetached } from './jws.ts';
import { buildCrl, certificatePem, createCertificateAuthority, crlPem, FederationTrust, issueNodeCertificate } from './pki.ts';

const ca = createCertificateAuthority({ federation: 'Test' });
const other = createCertificateAuthority({ federation: 'Other' });
function signer(country: string, authority = ca) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: privateKey, cert: issueNodeCertificate(authority, { country, publicKey }) };
}
const trust = (revoked: string[] = []) => new FederationTrust(certificatePem(ca.cert), crlPem(buildCrl(ca, { number: 1, revoked: revoked.map((serial) => ({ serial, revokedAt: new Date() })) })));

describe('detached JWS (RFC 7515 Appendix F, ES256)', () => {
  const de = signer('DE');
  const body = JSON.stringify({ hello: 'Prüm', n: 1 });

  it('signs the exact bytes and names the signer', () => {
    const jws = signDetached(body, de);
    expect(jws).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]{86}$/);
    const header = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'ES256', x5c: [de.cert.raw.toString('base64')] });
    expect(verifyDetached(jws, body, trust())).toMatchObject({ country: 'DE', serial: de.cert.serialNumber });
  });

  it('refuses a changed body, a missing signature and a malformed one', () => {
    const jws = signDetached(body, de);
    expect(() => verifyDetached(jws, body.replace('1', '2'), trust())).toThrow(/does not match/);
    expect(() => verifyDetached(jws, `${body} `, trust())).toThrow(/does not match/);
    expect(() => verifyDetached(undefined, body, trust())).toThrow(/no signature/);
    expect(() => verifyDetached('abc', body, trust())).toThrow(/detached compact JWS/);
  });

  it('refuses other algorithms, extensions and certificates of another federation or revoked', () => {
    const [, , sig] = signDetached(body, de).split('.');
    const forge = (header: object) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}..${sig}`;
    expect(() => verifyDetached(forge({ alg: 'none', x5c: [de.cert.raw.toString('base64')] }), body, trust())).toThrow(/ES256/);
    expect(() => verifyDetached(forge({ alg: 'ES256', b64: false, crit: ['b64'], x5c: [de.cert.raw.toString('base64')] }), body, trust())).toThrow(/extensions/);
    expect(() => verifyDetached(forge({ alg: 'ES256' }), body, trust())).toThrow(/x5c/);
    const foreign = signer('DE', other);
    expect(() => verifyDetached(signDetached(body, foreign), body, trust())).toThrow(/not issued by this federation/);
    expect(() => verifyDetached(signDetached(body, de), body, trust([de.cert.serialNumber]))).toThrow(/revoked/);
  });

  it('refuses a signature made with another key than the certificate in x5c', () => {
    const fr = signer('FR');
    const mixed = { key: fr.key, cert: de.cert };
    expect(() => verifyDetached(signDetached(body, mixed), body, trust())).toThrow(/does not match/);
  });
});
