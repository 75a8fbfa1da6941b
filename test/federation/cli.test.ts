/**
 * The federation commands as an operator runs them (real child processes of bin/openprum.js): a CA,
 * a node certificate bound to the node's state, a declaration, a peer, and `serve` opening the peer
 * interface with mutual TLS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyDetached } from '../../src/exchange/jws.ts';
import { PeerClient } from '../../src/exchange/peer-client.ts';
import { readTrust } from '../../src/exchange/pki-store.ts';
import { BIN, freePort, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-node.ts';
import { declaration } from './support.ts';

let dir: string;
let testDb: TestDatabase | undefined;
let env: NodeJS.ProcessEnv;
let serving: ChildProcess | undefined;

const run = (args: string[]) => runCli(args, { env, cwd: dir });


beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openprum-fed-cli-'));
  env = { ...process.env, OPENPRUM_LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  if (process.env.DATABASE_URL) {
    testDb = await createTestDatabase();
    await testDb.database.close();
    env.DATABASE_URL = testDb.url;
  }
});
afterAll(async () => {
  serving?.kill('SIGKILL');
  await testDb?.drop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('openprum pki, peer and federation commands', () => {
  it('creates a CA, binds a node certificate to the node\'s state, and serves the peer interface', async () => {
    const ca = await run(['pki', 'init', '--out', 'ca', '--federation', 'CLI test federation']);
    expect(ca.code, ca.stderr).toBe(0);
    expect(JSON.parse(ca.stdout)).toMatchObject({ federation: 'CLI test federation' });
    expect((await run(['pki', 'init', '--out', 'ca', '--federation', 'again'])).code).toBe(73);

    const init = await run(['init', '--country', 'DE', '--data-dir', 'de']);
    expect(init.code, init.stderr).toBe(0);
    // A node cannot be given another state's certificate.
    const wrong = await run(['pki', 'issue', '--ca', 'ca', '--country', 'FR', '--data-dir', 'de']);
    expect(wrong.code).toBe(65);
    expect(wrong.stderr).toMatch(/node of DE; it cannot receive a certificate of FR \[pki-invalid\]/);
    const issued = await run(['pki', 'issue', '--ca', 'ca', '--country', 'DE', '--data-dir', 'de']);
    expect(issued.code, issued.stderr).toBe(0);
    expect(JSON.parse(issued.stdout)).toMatchObject({ country: 'DE', dir: join(dir, 'de', 'federation') });
    // A certificate for the peer that will call it, handed over in a folder.
    expect((await run(['pki', 'issue', '--ca', 'ca', '--country', 'NL', '--out', 'nl-cert'])).code).toBe(0);

    const peerPort = await freePort();
    expect((await run(['federation', 'configure', '--data-dir', 'de', '--peer-port', String(peerPort)])).code).toBe(0);
    writeFileSync(join(dir, 'decl.json'), JSON.stringify(declaration({ contactPoint: { name: 'NCP DE (CLI)' } })));
    const declared = await run(['federation', 'declare', '--data-dir', 'de', '--file', 'decl.json']);
    expect(declared.code, declared.stderr).toBe(0);
    expect(JSON.parse(declared.stdout).declaration).toMatchObject({ state: 'DE', version: 1 });
    const peer = await run(['peer', 'add', '--data-dir', 'de', '--country', 'NL', '--url', 'http://127.0.0.1:1']);
    expect(peer.code).toBe(64);
    expect(peer.stderr).toMatch(/https/);

    const apiPort = await freePort();
    serving = spawn(process.execPath, [BIN, 'serve', '--data-dir', 'de', '--port', String(apiPort)], { env, cwd: dir });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 60_000);
      serving!.stderr!.on('data', (d) => {
        stderr += d.toString();
        if (stderr.includes('peer interface')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    expect(stderr).toContain(`https://127.0.0.1:${peerPort}`);

    const trust = readTrust(join(dir, 'nl-cert'));
    const client = new PeerClient(
      { keyPem: readFileSync(join(dir, 'nl-cert', 'node.key.pem'), 'utf8'), certPem: readFileSync(join(dir, 'nl-cert', 'node.crt.pem'), 'utf8'), caPem: trust.caPem, crlPem: trust.crlPem },
      trust,
    );
    try {
      const r = await client.exchange('DE', `https://127.0.0.1:${peerPort}/peer/v1/declaration`, 'GET');
      expect(r.status).toBe(200);
      expect(verifyDetached(r.jws, r.body, trust).country).toBe('DE');
      expect(JSON.parse(r.body)).toMatchObject({ state: 'DE', contactPoint: { name: 'NCP DE (CLI)' } });
    } finally {
      await client.close();
    }
    serving.kill('SIGTERM');
    await new Promise((r) => serving!.once('exit', r));
    serving = undefined;

    // Revocation: the CA publishes a new list, the node installs it.
    const serial = (JSON.parse((await run(['pki', 'list', '--ca', 'ca'])).stdout) as { issued: Array<{ serial: string; country: string }> }).issued.find((i) => i.country === 'NL')!.serial;
    const revoked = await run(['pki', 'revoke', '--ca', 'ca', '--serial', serial, '--reason', 'keyCompromise']);
    expect(revoked.code, revoked.stderr).toBe(0);
    const installed = await run(['pki', 'install-crl', '--data-dir', 'de', '--crl', join('ca', 'ca.crl.pem')]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(JSON.parse(installed.stdout)).toMatchObject({ revoked: 1 });
    expect(readTrust(join(dir, 'de', 'federation')).crl.revoked.has(serial)).toBe(true);
  }, 240_000);
});
