/**
 * One national contact point: its configuration, database and services, opened together and closed
 * together. Routes and commands receive this object; nothing is global.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { openDatabase, type Database } from '../db/connect.ts';
import { migrate } from '../db/migrate.ts';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import { NationalDnaFile } from '../dna/national-file.ts';
import { NationalFingerprintFile } from '../fingerprint/national-file.ts';
import type { Federation } from '../exchange/federation.ts';
import { Officers, type IssuedToken, type Officer } from '../identity/officers.ts';
import { CONFIG_FILE, checkCountry, writeConfigFile, type NodeConfig } from './config.ts';
import { generateNodeKeys, loadNodeKeys, type NodeKeys } from './keys.ts';
import { acquireDirLock, type DirLock } from './lock.ts';

export interface NodeContext {
  readonly config: NodeConfig;
  readonly country: string;
  readonly database: Database;
  readonly db: Kysely<Schema>;
  readonly officers: Officers;
  readonly keys: NodeKeys;
  /** The federation (peer interface, outbox), when the node has a federation certificate and it was started. */
  federation?: Federation;
  /** The national DNA file with its in-memory index, loaded on first use (it can be large). */
  dna(): Promise<NationalDnaFile>;
  /** The national fingerprint file with its in-memory gallery, loaded on first use. */
  fingerprints(): Promise<NationalFingerprintFile>;
  close(): Promise<void>;
}

function pgliteDir(dataDir: string): string {
  return join(dataDir, 'pglite');
}

/** Migrates the database and makes sure it belongs to this country's node (creating it if `create`). */
export async function prepareDatabase(db: Kysely<Schema>, country: string, create: boolean): Promise<void> {
  await migrate(db);
  const info = await db.selectFrom('node_info').select('country').executeTakeFirst();
  if (!info) {
    if (!create) throw new OpenPrumError('node-not-initialised', 'The database holds no node; run openprum init');
    await db.insertInto('node_info').values({ country }).execute();
  } else if (create) {
    throw new OpenPrumError('node-already-initialised', `The database holds the node of ${info.country} already; give each node its own database`);
  } else if (info.country !== country) {
    throw new OpenPrumError('config-invalid', `The database belongs to the node of ${info.country}, but this node is configured for ${country}`);
  }
}

/** Assembles a node on an open, prepared database. */
export function nodeOn(config: NodeConfig, database: Database, keys: NodeKeys, onClose?: () => void): NodeContext {
  let dna: Promise<NationalDnaFile> | undefined;
  let fingerprints: Promise<NationalFingerprintFile> | undefined;
  return {
    config,
    country: config.country,
    database,
    db: database.db,
    officers: new Officers(database.db),
    keys,
    dna: () => {
      dna ??= NationalDnaFile.open(database.db, config.country).catch((e: unknown) => {
        dna = undefined;
        throw e;
      });
      return dna;
    },
    fingerprints: () => {
      fingerprints ??= NationalFingerprintFile.open(database.db, config.country).catch((e: unknown) => {
        fingerprints = undefined;
        throw e;
      });
      return fingerprints;
    },
    close: async () => {
      await database.close();
      onClose?.();
    },
  };
}

/** Opens an initialised node from its data directory (and DATABASE_URL when set). */
export async function openNode(config: NodeConfig): Promise<NodeContext> {
  // Two processes on one PGlite directory would corrupt it: one holder at a time.
  const lock: DirLock | undefined = config.databaseUrl ? undefined : acquireDirLock(config.dataDir);
  let database: Database | undefined;
  try {
    const keys = loadNodeKeys(config.dataDir);
    database = await openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: pgliteDir(config.dataDir) });
    await prepareDatabase(database.db, config.country, false);
    return nodeOn(config, database, keys, () => lock?.release());
  } catch (e) {
    await database?.close();
    lock?.release();
    throw e;
  }
}

export interface InitOptions {
  readonly country: string;
  readonly dataDir: string;
  readonly databaseUrl?: string | undefined;
  readonly adminReference?: string | undefined;
  readonly adminName?: string | undefined;
}

export interface InitResult {
  readonly country: string;
  readonly dataDir: string;
  readonly database: 'pglite' | 'postgres';
  readonly admin: Officer;
  readonly token: IssuedToken;
}

/**
 * Creates a node: data directory, configuration, database, signing keys and a first administrator,
 * whose API token is returned once. Refuses to touch a node that exists.
 */
export async function initNode(options: InitOptions): Promise<InitResult> {
  const country = checkCountry(options.country);
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (existsSync(join(dataDir, CONFIG_FILE))) {
    throw new OpenPrumError('node-already-initialised', `${dataDir} holds a node already; use another --data-dir, or run openprum serve --data-dir ${dataDir}`);
  }
  const lock = options.databaseUrl ? undefined : acquireDirLock(dataDir);
  try {
    const database = await openDatabase({ databaseUrl: options.databaseUrl, pgliteDir: pgliteDir(dataDir) });
    try {
      await prepareDatabase(database.db, country, true);
      generateNodeKeys(dataDir);
      const officers = new Officers(database.db);
      const admin = await officers.create({ reference: options.adminReference ?? 'admin', name: options.adminName ?? 'Administrator', roles: ['admin'] });
      const token = await officers.issueToken(admin.id, { label: 'first administrator (openprum init)' });
      // The configuration file is written last: its presence means "this node is complete".
      writeConfigFile(dataDir, { country, createdAt: new Date().toISOString() });
      return { country, dataDir, database: database.kind, admin, token };
    } finally {
      await database.close();
    }
  } finally {
    lock?.release();
  }
}
