import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initCa, installCrl, issueToDir, listIssued, loadCredentials, readTrust, republishCrl, revoke } from './pki-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'openprum-pki-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the PKI on disk', () => {
  const caDir = join(dir, 'ca');
  const ca = initCa(caDir, { federation: 'Files test' });

  it('keeps the CA key private and refuses to overwrite a CA', () => {
    expect(statSync(join(caDir, 'ca.key.pem')).mode & 0o777).toBe(0o600);
    expect(ca.federation).toBe('Files test');
    expect(() => initCa(caDir, { federation: 'again' })).toThrow(expect.objectContaining({ code: 'pki-exists' }));
  });

  it('issues a node its key, certificate, the CA and the current list, and registers the serial', () => {
    const out = join(dir, 'de');
    const issued = issueToDir(caDir, { country: 'DE', outDir: out });
    expect(statSync(issued.files.key).mode & 0o777).toBe(0o600);
    expect(listIssued(caDir).issued.map((i) => [i.serial, i.country])).toEqual([[issued.serial, 'DE']]);
    const creds = loadCredentials(out, 'DE');
    expect(creds.identity).toMatchObject({ country: 'DE', serial: issued.serial });
    // The certificate is the node's identity: it cannot run as another state.
    expect(() => loadCredentials(out, 'FR')).toThrow(/speaks for DE, but this node is FR/);
    expect(() => issueToDir(caDir, { country: 'DE', outDir: out })).toThrow(expect.objectContaining({ code: 'pki-exists' }));
  });

  it('revokes, publishes a new numbered list, and nodes install only newer lists of their CA', () => {
    const out = join(dir, 'fr');
    const fr = issueToDir(caDir, { country: 'FR', outDir: out });
    const before = readTrust(out).crl.number!;
    revoke(caDir, fr.serial.toLowerCase(), 'cessationOfOperation');
    expect(() => revoke(caDir, 'ABCDEF')).toThrow(expect.objectContaining({ code: 'not-found' }));
    const kept = join(dir, 'old.crl.pem');
    copyFileSync(join(out, 'ca.crl.pem'), kept);
    const r = installCrl(out, join(caDir, 'ca.crl.pem'));
    expect(r.revoked).toBe(1);
    expect(r.number).toBeGreaterThan(before);
    expect(() => loadCredentials(out, 'FR')).toThrow(/revoked/);
    expect(() => installCrl(out, kept)).toThrow(/older than the installed one/);
    const other = initCa(join(dir, 'other'), { federation: 'Other' });
    expect(() => installCrl(out, other.crl)).toThrow(expect.objectContaining({ code: 'pki-invalid' }));
    const next = republishCrl(caDir);
    expect(next.number).toBe(r.number! + 1);
    expect(readFileSync(next.crl, 'utf8')).toContain('BEGIN X509 CRL');
  });
});
