/**
 * Where a node's peer interface listens: `<data-dir>/federation/federation.json`, written by
 * `openprum federation configure`, overridden by OPENPRUM_PEER_HOST / OPENPRUM_PEER_PORT.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Type from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { validate } from '../util/validate.ts';

export const FEDERATION_CONFIG = 'federation.json';

const FederationConfigFile = Type.Object(
  {
    peerHost: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    peerPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  },
  { additionalProperties: false },
);

/** Reads `<federation dir>/federation.json` (peer interface host and port), if present. */
export function readFederationConfig(dir: string): { peerHost?: string | undefined; peerPort?: number | undefined } {
  const file = join(dir, FEDERATION_CONFIG);
  if (!existsSync(file)) return {};
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OpenPrumError('config-invalid', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  return validate(FederationConfigFile, json, 'config-invalid', file);
}

export function writeFederationConfig(dir: string, config: { peerHost?: string | undefined; peerPort?: number | undefined }): void {
  const merged = { ...readFederationConfig(dir), ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) };
  validate(FederationConfigFile, merged, 'usage', FEDERATION_CONFIG);
  writeFileSync(join(dir, FEDERATION_CONFIG), `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
}
