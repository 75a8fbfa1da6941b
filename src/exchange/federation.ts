/**
 * The federation part of a node, assembled and started together: its certificate and trust (CA and
 * revocation list, reloaded when the list file changes), the peer interface (mTLS listener), the peer
 * client, the outbox worker and the refresh of peers' declarations. `node.federation` points to it
 * while it runs.
 */
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { isOpenPrumError, OpenPrumError } from '../errors/index.ts';
import type { OfficerCaller } from '../identity/caller.ts';
import type { NodeContext } from '../node/node.ts';
import type { ExchangeContext } from './context.ts';
import { readFederationConfig } from './federation-config.ts';
import { latestDeclaration, publishDeclaration, storePeerDeclaration, type SignedDeclaration } from './declarations.ts';
import { recordFederationEvent } from './events.ts';
import { forgetOwnDeclaration } from './inbox.ts';
import type { Signer } from './jws.ts';
import { BulkComparisons, purgeOldBulkComparisons, type BulkOptions } from './bulk.ts';
import type { NationalDnaFile } from '../dna/national-file.ts';
import { FollowUpWorker } from '../followup/worker.ts';
import { SafeguardsWorker } from '../safeguards/worker.ts';
import { auditWitnessIntervalMs, auditWitnessing } from '../audit/witness-network.ts';
import { createFederatedSearch, getFederatedSearch, listFederatedSearches, OutboxWorker, purgeOldSearches, type FederatedSearchInput, type FederatedSearchView, type OutboxOptions } from './outbox.ts';
import { PeerClient, type PeerClientOptions } from './peer-client.ts';
import { buildPeerServer, peerTlsOptions, type PeerServerOptions, type PeerTlsMaterial } from './peer-server.ts';
import { listPeers } from './peers.ts';
import { federationDir, hasCredentials, loadCredentials, readTrust, type NodeCredentials } from './pki-store.ts';
import type { FederationTrust } from './pki.ts';
import { dnaSearchKind } from './dna-kind.ts';
import { fingerprintSearchKind } from './fingerprint-kind.ts';
import { SearchKindRegistry } from './search-kinds.ts';
import { vehicleSearchKind } from './vehicle-kind.ts';

export interface FederationOptions {
  /** Folder of the node's federation certificate, key, CA and revocation list (default <data-dir>/federation). */
  readonly dir?: string;
  readonly peerHost?: string;
  /** Port of the peer interface (default 9443; 0 picks a free one). */
  readonly peerPort?: number;
  readonly logLevel?: string;
  readonly server?: PeerServerOptions;
  readonly client?: PeerClientOptions;
  readonly outbox?: OutboxOptions;
  /** Bulk comparisons of DNA profiles (bulk.ts); retry timings default to the outbox's. */
  readonly bulk?: BulkOptions;
  /** The search kinds this node answers and sends (default: vehicles). */
  readonly kinds?: SearchKindRegistry;
  /** How often the revocation list file is checked for a new list, in ms (default 60 s). */
  readonly trustCheckMs?: number;
  /** How often peers' declarations are fetched again, in ms (default 1 hour). */
  readonly declarationRefreshMs?: number;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

/** The registry of search kinds a node starts with: vehicles, DNA and fingerprints. */
export function defaultSearchKinds(node?: Pick<NodeContext, 'dna'> & Partial<Pick<NodeContext, 'fingerprints'>>): SearchKindRegistry {
  const kinds = new SearchKindRegistry().register(vehicleSearchKind);
  if (node) kinds.register(dnaSearchKind(() => node.dna()));
  // Dactyloscopic data (Prüm Decision Art. 9), needing the declaration file 'fingerprint'.
  const fingerprints = node?.fingerprints;
  if (fingerprints) kinds.register(fingerprintSearchKind(() => fingerprints()));
  return kinds;
}

export class Federation implements ExchangeContext {
  readonly country: string;
  readonly db: Kysely<Schema>;
  readonly kinds: SearchKindRegistry;
  private creds: NodeCredentials;
  private currentTrust: FederationTrust;
  private server!: FastifyInstance;
  private client!: PeerClient;
  private worker!: OutboxWorker;
  /** Bulk comparisons of DNA profiles with other states (Prüm Decision Art. 4; bulk.ts). */
  bulk!: BulkComparisons;
  /** Delivers follow-up requests and answers after a hit (src/followup/worker.ts). */
  followUps!: FollowUpWorker;
  /** Delivers consent requests and answers, corrections of supplied data, notices of transfers (src/safeguards/worker.ts). */
  safeguards!: SafeguardsWorker;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** https://host:port of the peer interface, once listening. */
  peerUrl = '';
  /** The folder of the node's certificate and federation.json (src/notices reads the secretariat's code there). */
  get dir(): string {
    return this.options.dir!;
  }

  private constructor(
    private readonly node: NodeContext,
    private readonly options: FederationOptions,
    creds: NodeCredentials,
  ) {
    this.country = node.country;
    this.db = node.db;
    this.kinds = options.kinds ?? defaultSearchKinds(node);
    this.creds = creds;
    this.currentTrust = creds.trust;
  }

  /** Loads the credentials, opens the peer interface, starts the outbox worker; sets node.federation. */
  static async start(node: NodeContext, options: FederationOptions = {}): Promise<Federation> {
    const dir = options.dir ?? federationDir(node.config.dataDir);
    const creds = loadCredentials(dir, node.country);
    const fileConfig = readFederationConfig(dir);
    const f = new Federation(node, { ...options, dir }, creds);
    f.client = new PeerClient(f.material(), f.currentTrust, options.client);
    f.server = await buildPeerServer(f, f.material(), { logLevel: options.logLevel ?? node.config.logLevel, ...options.server });
    const host = options.peerHost ?? process.env.OPENPRUM_PEER_HOST ?? fileConfig.peerHost ?? '127.0.0.1';
    const port = options.peerPort ?? (process.env.OPENPRUM_PEER_PORT ? Number(process.env.OPENPRUM_PEER_PORT) : undefined) ?? fileConfig.peerPort ?? 9443;
    try {
      await f.server.listen({ host, port });
    } catch (e) {
      await f.client.close();
      throw new OpenPrumError('unavailable', `Cannot open the peer interface on ${host}:${port}: ${(e as Error).message}`);
    }
    const addr = f.server.server.address();
    f.peerUrl = `https://${host}:${typeof addr === 'object' && addr ? addr.port : port}`;
    const queueOptions = { exclusive: node.database.kind === 'pglite', ...options.outbox };
    f.worker = new OutboxWorker(f, f.client, queueOptions, f.server.log);
    f.worker.start();
    f.bulk = new BulkComparisons(f, f.client, { ...queueOptions, nightly: fileConfig.bulkComparison, ...options.bulk }, f.server.log);
    f.bulk.start();
    f.followUps = new FollowUpWorker(f, f.client, queueOptions, f.server.log);
    f.followUps.start();
    f.safeguards = new SafeguardsWorker(f, f.client, queueOptions, f.server.log);
    f.safeguards.start();
    const every = (ms: number, run: () => Promise<unknown>) => {
      const t = setInterval(() => void run().catch((e: unknown) => f.server.log.warn({ err: e }, 'federation: periodic task failed')), ms);
      t.unref();
      f.timers.push(t);
    };
    every(options.trustCheckMs ?? 60_000, async () => {
      f.reloadTrust();
      // Once the list's nextUpdate passes, every peer is refused (fail closed): warn ahead of it.
      const left = f.currentTrust.crl.nextUpdate.getTime() - f.now().getTime();
      if (left < 3 * 86_400_000) f.server.log.warn({ nextUpdate: f.currentTrust.crl.nextUpdate.toISOString() }, 'the federation revocation list expires soon; install the CA\'s new list (openprum pki install-crl)');
    });
    every(options.declarationRefreshMs ?? 3_600_000, () => f.refreshDeclarations());
    every(86_400_000, () => purgeOldSearches(f.db, f.now()));
    every(86_400_000, () => purgeOldBulkComparisons(f.db, f.now()));
    // Peers countersign each other's audit tree heads; forks and rewrites raise alarms (src/audit/witness-network.ts).
    every(auditWitnessIntervalMs(), auditWitnessing(node, f, f.client, f.server.log));
    void f.refreshDeclarations().catch(() => undefined);
    node.federation = f;
    return f;
  }

  private material(): PeerTlsMaterial {
    return { keyPem: this.creds.keyPem, certPem: this.creds.certPem, caPem: this.currentTrust.caPem, crlPem: this.currentTrust.crlPem };
  }

  signer(): Signer {
    return { key: this.creds.key, cert: this.creds.cert };
  }

  trust(): FederationTrust {
    return this.currentTrust;
  }

  /** The node's national DNA file (compared with other states' chunks, bulk-peer.ts). */
  dnaFile(): Promise<NationalDnaFile> {
    return this.node.dna();
  }

  now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /**
   * Reads the CA certificate and revocation list files again; when the list changed, the peer
   * interface and the client use it from the next connection on. Returns whether it changed. A list
   * that does not verify is refused and the current one kept.
   */
  reloadTrust(): boolean {
    const next = readTrust(this.options.dir!);
    if (next.crlPem === this.currentTrust.crlPem && next.caPem === this.currentTrust.caPem) return false;
    if (next.caPem !== this.currentTrust.caPem) {
      throw new OpenPrumError('pki-invalid', 'The CA certificate file changed; a node changes federation only by a restart with a new certificate');
    }
    this.currentTrust = next;
    (this.server.server as unknown as TlsServer).setSecureContext(peerTlsOptions(this.material()));
    this.client.update(this.material(), next);
    return true;
  }

  /** Fetches every peer's declaration and keeps those that verify. Returns per state what happened. */
  async refreshDeclarations(): Promise<Record<string, { version?: number; error?: string }>> {
    const out: Record<string, { version?: number; error?: string }> = {};
    for (const peer of await listPeers(this.db)) {
      try {
        const res = await this.client.exchange(peer.country, `${peer.url}/peer/v1/declaration`, 'GET');
        if (res.status !== 200) throw new OpenPrumError('peer-answer-invalid', `The node of ${peer.country} answered ${res.status} for its declaration`);
        const d = await storePeerDeclaration(this.db, this.currentTrust, peer.country, res.body, res.jws);
        out[peer.country] = { version: d.declaration.version };
      } catch (e) {
        const message = (e as Error).message;
        out[peer.country] = { error: message };
        if (isOpenPrumError(e) && e.code !== 'peer-unreachable') {
          await recordFederationEvent(this.db, { event: 'declaration-refused', peerState: peer.country, code: e.code, detail: message }).catch(() => undefined);
        }
      }
    }
    return out;
  }

  async publishDeclaration(input: unknown): Promise<SignedDeclaration> {
    const d = await publishDeclaration(this.db, this.country, this.signer(), input);
    forgetOwnDeclaration(this);
    return d;
  }

  async declaration(state: string = this.country): Promise<SignedDeclaration | undefined> {
    return latestDeclaration(this.db, state);
  }

  async createSearch(caller: OfficerCaller, input: FederatedSearchInput, requestId?: string): Promise<FederatedSearchView> {
    const view = await createFederatedSearch(this, caller, input, requestId);
    this.worker.kick();
    return view;
  }

  async getSearch(id: string, caller: OfficerCaller): Promise<FederatedSearchView | undefined> {
    return getFederatedSearch(this, id, caller);
  }

  async listSearches(caller: OfficerCaller, limit?: number): Promise<FederatedSearchView[]> {
    return listFederatedSearches(this, caller, limit);
  }

  /** Stops the worker (sends in flight finish), closes the peer interface and client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.worker.stop();
    await this.bulk.stop();
    await this.followUps.stop();
    await this.safeguards.stop();
    await this.server.close();
    await this.client.close();
    if (this.node.federation === this) this.node.federation = undefined;
  }
}

/** Starts the federation when the node has a federation certificate; otherwise does nothing. */
export async function startFederationIfConfigured(node: NodeContext, options: FederationOptions = {}): Promise<Federation | undefined> {
  const dir = options.dir ?? federationDir(node.config.dataDir);
  if (!hasCredentials(dir)) return undefined;
  return Federation.start(node, { ...options, dir });
}
