/**
 * Where a node's peer interface listens: `<data-dir>/federation/federation.json`, written by
 * `openprum federation configure`, overridden by OPENPRUM_PEER_HOST / OPENPRUM_PEER_PORT.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { validate } from '../util/validate.ts';

export const FEDERATION_CONFIG = 'federation.json';

const FederationConfigFile = Type.Object(
  {
    peerHost: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    peerPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    /**
     * The state code of the federation's secretariat for notices and diffusions (src/notices/): only
     * its node reviews and publishes. Default `IP`, the code the federation CA gives the secretariat.
     */
    secretariat: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
    /**
     * Nightly bulk comparisons of DNA profiles (Prüm Decision Art. 4; src/exchange/bulk.ts): once a
     * day, at the first check after `nightlyAt` (UTC), a comparison of the profiles new since the last
     * completed one is started with each state in `states`.
     */
    bulkComparison: Type.Optional(
      Type.Object(
        {
          nightlyAt: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, UTC' }),
          states: Type.Array(Type.String({ pattern: '^[A-Z]{2}$' }), { minItems: 1, maxItems: 60 }),
          orderedBy: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type BulkNightlyConfig = NonNullable<Static<typeof FederationConfigFile>['bulkComparison']>;

/** Reads `<federation dir>/federation.json` (peer interface host and port), if present. */
export function readFederationConfig(dir: string): { peerHost?: string | undefined; peerPort?: number | undefined; secretariat?: string | undefined; bulkComparison?: BulkNightlyConfig | undefined } {
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
