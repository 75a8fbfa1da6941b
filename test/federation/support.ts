/**
 * A federation for tests: a CA created in a temporary folder, nodes on fresh databases (PGlite, or
 * PostgreSQL when DATABASE_URL is set), each with a certificate, a declaration, the others as peers,
 * and its peer interface listening on loopback with real TLS. Retries and timeouts are short.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Federation, type FederationOptions } from '../../src/exchange/federation.ts';
import type { DeclarationInput } from '../../src/exchange/declarations.ts';
import { addPeer } from '../../src/exchange/peers.ts';
import { initCa, issueToDir, loadCredentials, type NodeCredentials } from '../../src/exchange/pki-store.ts';
import { buildServer } from '../../src/http/server.ts';
import { writeVehicleFile } from '../../src/vehicle/generate.ts';
import { importVehicles } from '../../src/vehicle/import.ts';
import type { VehicleRow } from '../../src/vehicle/model.ts';
import { createTestNode, type TestNode } from '../support/test-node.ts';

export const TEST_OPTIONS: FederationOptions = {
  peerPort: 0,
  logLevel: 'silent',
  outbox: { pollMs: 100, baseDelayMs: 100, maxDelayMs: 400, maxAttempts: 50, leaseMs: 10_000 },
  client: { connectTimeoutMs: 2_000, answerTimeoutMs: 1_500, maxAnswerBytes: 256 * 1024 },
  trustCheckMs: 3_600_000,
  declarationRefreshMs: 3_600_000,
};

export function declaration(overrides: Partial<DeclarationInput> = {}): DeclarationInput {
  return {
    files: [{ file: 'vehicle', conditions: 'Full VIN or full registration number; grounds of Prüm Decision Art. 12(1)' }],
    capacity: [{ kind: 'vehicle', perDay: 1000 }],
    contactPoint: { name: 'Test NCP', email: 'ncp@example.invalid', phone: '+00 0000 0000', hours: '24/7' },
    ...overrides,
  };
}

export interface FedNode {
  readonly country: string;
  readonly t: TestNode;
  fed: Federation;
  readonly api: FastifyInstance;
  readonly officer: { officerId: number; token: string };
  readonly creds: NodeCredentials;
  readonly fedDir: string;
}

export interface TestFederation {
  readonly caDir: string;
  readonly dir: string;
  readonly nodes: Record<string, FedNode>;
  /** A certificate and key of this federation for a state, not given to any node (for raw clients and fake peers). */
  extraCredentials(country: string): { keyPem: string; certPem: string; cert: X509Certificate };
  /** Stops a node's federation (peer interface and outbox worker), as if the node were down. */
  stop(country: string): Promise<void>;
  /** Starts it again, the peer interface on the same port. */
  start(country: string): Promise<void>;
  close(): Promise<void>;
}

export async function createTestFederation(vehicles: Record<string, VehicleRow[]>): Promise<TestFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'openprum-fed-'));
  const caDir = join(dir, 'ca');
  initCa(caDir, { federation: 'OpenPrüm test federation' });
  const nodes: Record<string, FedNode> = {};
  let extras = 0;
  const countries = Object.keys(vehicles);
  await Promise.all(
    countries.map(async (country, i) => {
      const t = await createTestNode(country);
      const file = join(dir, `${country}.csv`);
      await writeVehicleFile(file, { count: 30, country, seed: 100 + i, format: 'csv', fixed: vehicles[country]! });
      await importVehicles(t.node.db, file);
      const fedDir = join(t.dataDir, 'federation');
      issueToDir(caDir, { country, outDir: fedDir });
      const fed = await Federation.start(t.node, { ...TEST_OPTIONS, dir: fedDir });
      await fed.publishDeclaration(declaration({ contactPoint: { name: `NCP ${country}` } }));
      const api = await buildServer(t.node, { logLevel: 'silent' });
      const officer = await t.tokenFor(`officer-${country}`, ['officer']);
      nodes[country] = { country, t, fed, api, officer, creds: loadCredentials(fedDir, country), fedDir };
    }),
  );
  for (const a of countries) {
    for (const b of countries) if (a !== b) await addPeer(nodes[a]!.t.node.db, a, b, nodes[b]!.fed.peerUrl);
  }
  // Each node reads the others' declarations; on a loaded machine a fetch may time out, so try again.
  for (let attempt = 1; ; attempt++) {
    const results = await Promise.all(countries.map((c) => nodes[c]!.fed.refreshDeclarations()));
    const failed = results.flatMap((r) => Object.entries(r).filter(([, v]) => v.error !== undefined));
    if (failed.length === 0) break;
    if (attempt === 5) throw new Error(`declarations could not be read: ${JSON.stringify(failed)}`);
  }
  return {
    caDir,
    dir,
    nodes,
    extraCredentials(country) {
      const issued = issueToDir(caDir, { country, outDir: join(dir, `extra-${country}-${++extras}`) });
      const certPem = readFileSync(issued.files.cert, 'utf8');
      return { keyPem: readFileSync(issued.files.key, 'utf8'), certPem, cert: new X509Certificate(certPem) };
    },
    async stop(country) {
      await nodes[country]!.fed.close();
    },
    async start(country) {
      const n = nodes[country]!;
      const port = Number(new URL(n.fed.peerUrl).port);
      n.fed = await Federation.start(n.t.node, { ...TEST_OPTIONS, dir: n.fedDir, peerPort: port });
    },
    async close() {
      for (const n of Object.values(nodes)) {
        await n.fed.close().catch(() => undefined);
        await n.api.close().catch(() => undefined);
        await n.t.close().catch(() => undefined);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `until` holds or the time is up (generous: two cores shared with other work). */
export async function waitFor<T>(read: () => Promise<T>, until: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (until(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
