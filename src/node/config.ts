/**
 * The node's configuration: a file in the data directory written by `openprum init`, plus the
 * environment (DATABASE_URL is a secret and never goes in the file), plus command-line flags. It is
 * validated once at start and passed explicitly; there is no global configuration object.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { validate } from '../util/validate.ts';

export const CONFIG_FILE = 'openprum.json';

/** ISO 3166-1 alpha-2, upper case (the EU uses EL for Greece; both EL and GR pass). */
export const COUNTRY_PATTERN = /^[A-Z]{2}$/;

const ConfigFile = Type.Object(
  {
    country: Type.String({ pattern: '^[A-Z]{2}$' }),
    createdAt: Type.String(),
    http: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ConfigFile = Static<typeof ConfigFile>;

export interface NodeConfig {
  readonly country: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
}

export function checkCountry(country: string): string {
  const c = country.trim().toUpperCase();
  if (!COUNTRY_PATTERN.test(c)) throw new OpenPrumError('usage', `--country must be a two-letter country code such as NL or DE, not ${JSON.stringify(country)}`);
  return c;
}

export function defaultDataDir(country: string): string {
  return resolve('var', country);
}

export function readConfigFile(dataDir: string): ConfigFile {
  const file = join(dataDir, CONFIG_FILE);
  if (!existsSync(file)) {
    throw new OpenPrumError('node-not-initialised', `${dataDir} holds no node (no ${CONFIG_FILE}); run: openprum init --country XX --data-dir ${dataDir}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OpenPrumError('config-invalid', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  return validate(ConfigFile, json, 'config-invalid', file);
}

export function writeConfigFile(dataDir: string, config: ConfigFile): void {
  writeFileSync(join(dataDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ConfigOverrides {
  readonly host?: string | undefined;
  readonly port?: number | string | undefined;
  readonly logLevel?: string | undefined;
}

/** Resolves the configuration of an initialised node: file, then environment, then flags. */
export function loadConfig(dataDir: string, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const dir = resolve(dataDir);
  const file = readConfigFile(dir);
  const portRaw = overrides.port ?? env.OPENPRUM_PORT ?? file.http?.port ?? 8080;
  const port = typeof portRaw === 'number' ? portRaw : Number(portRaw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new OpenPrumError('config-invalid', `The port must be a whole number from 0 to 65535, not ${JSON.stringify(portRaw)}`);
  const logLevel = overrides.logLevel ?? env.OPENPRUM_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new OpenPrumError('config-invalid', `The log level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`);
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  return {
    country: file.country,
    dataDir: dir,
    databaseUrl,
    host: overrides.host ?? env.OPENPRUM_HOST ?? file.http?.host ?? '127.0.0.1',
    port,
    logLevel,
  };
}
