/**
 * The node's own keys, generated at first start and kept in the data directory (never in the
 * repository). The Ed25519 signing key signs what the node publishes: tree heads of its record,
 * declarations and messages to peers.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenPrumError } from '../errors/index.ts';

export interface NodeKeys {
  readonly signingKey: KeyObject;
  readonly publicKey: KeyObject;
}

const PRIVATE = 'node-signing-key.pem';
const PUBLIC = 'node-signing-key.pub.pem';

export function keysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

export function generateNodeKeys(dataDir: string): void {
  const dir = keysDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(join(dir, PRIVATE))) return;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, PRIVATE), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  writeFileSync(join(dir, PUBLIC), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
}

export function loadNodeKeys(dataDir: string): NodeKeys {
  const dir = keysDir(dataDir);
  try {
    const signingKey = createPrivateKey(readFileSync(join(dir, PRIVATE)));
    return { signingKey, publicKey: createPublicKey(signingKey) };
  } catch (e) {
    throw new OpenPrumError('config-invalid', `Cannot read the node's signing key in ${dir}: ${(e as Error).message}`);
  }
}
