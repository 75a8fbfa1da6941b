/**
 * A demo federation in one process: three nodes (DE, FR, NL), each with its own embedded database and
 * synthetic vehicle register, certificates from a demo federation CA, signed declarations, each
 * other as peers, their APIs on 8080-8082 and their peer interfaces (mutual TLS) on 9443-9445.
 * All data is made up. Run again, it reuses what it created.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildServer } from '../http/server.ts';
import { CONFIG_FILE, loadConfig } from '../node/config.ts';
import { initNode, openNode, type NodeContext } from '../node/node.ts';
import { writeVehicleFile } from '../vehicle/generate.ts';
import { importVehicles } from '../vehicle/import.ts';
import { DEMO_VEHICLES } from '../vehicle/demo-data.ts';
import type { VehicleRow } from '../vehicle/model.ts';
import type { DeclarationInput } from './declarations.ts';
import { Federation } from './federation.ts';
import { addPeer } from './peers.ts';
import { federationDir, hasCredentials, initCa, issueToDir } from './pki-store.ts';

export const DEMO_FEDERATION_VEHICLES: Readonly<Record<'DE' | 'FR' | 'NL', VehicleRow>> = {
  DE: {
    registrationNumber: 'B-MK 2026',
    vin: 'WDB2110421A654321',
    make: 'Mercedes-Benz',
    model: 'E 220',
    vehicleType: 'passenger car',
    colour: 'silver',
    firstRegistrationDate: '2018-05-17',
    holder: { type: 'natural', surname: 'Schneider', firstNames: 'Jonas', birthDate: '1984-09-30', address: 'Lindenallee 7, 10115 Berlin' },
  },
  FR: {
    registrationNumber: 'GH-456-JK',
    vin: 'VF3LCYHZPHS123456',
    make: 'Peugeot',
    model: '308',
    vehicleType: 'passenger car',
    colour: 'blue',
    firstRegistrationDate: '2017-03-02',
    holder: { type: 'legal', name: 'Location Dupont SAS', address: '12 avenue Jean Jaurès, 69007 Lyon' },
  },
  NL: DEMO_VEHICLES[0]!,
};

export interface DemoFederationOptions {
  readonly baseDir?: string;
  /** API ports are basePort, basePort+1, basePort+2 (DE, FR, NL). */
  readonly basePort?: number;
  readonly basePeerPort?: number;
  readonly vehicles?: number;
  readonly logLevel?: string;
  readonly say?: (message: string) => void;
}

export interface DemoNode {
  readonly country: string;
  readonly url: string;
  readonly peerUrl: string;
  readonly officerToken: string;
  readonly supervisorToken: string;
}

export interface DemoFederation {
  readonly nodes: DemoNode[];
  /** The text printed for people: addresses, tokens and a federated search to paste. */
  readonly instructions: string;
  close(): Promise<void>;
}

function demoDeclaration(country: string): DeclarationInput {
  return {
    files: [{ file: 'vehicle', conditions: 'Full VIN or full registration number only (Prüm Decision Art. 12(1)); demo data, made up', legalBasis: 'Prüm Decision Art. 12' }],
    capacity: [{ kind: 'vehicle', perDay: 10_000 }],
    contactPoint: { name: `Demo national contact point ${country}`, email: `ncp-${country.toLowerCase()}@example.invalid`, hours: '24/7' },
  };
}

async function demoToken(node: NodeContext, reference: string, name: string, roles: string[]): Promise<string> {
  const existing = (await node.officers.list()).find((o) => o.reference === reference);
  const officer = existing ?? (await node.officers.create({ reference, name, unit: 'Demo', roles }));
  return (await node.officers.issueToken(officer.id, { label: 'demo federation', expiresAt: new Date(Date.now() + 12 * 3_600_000) })).token;
}

/** Creates (first time) and starts the three demo nodes; close() stops them. */
export async function startDemoFederation(options: DemoFederationOptions = {}): Promise<DemoFederation> {
  const say = options.say ?? ((m: string) => process.stderr.write(`${m}\n`));
  const base = resolve(options.baseDir ?? 'var/demo-federation');
  const basePort = options.basePort ?? 8080;
  const basePeerPort = options.basePeerPort ?? 9443;
  const logLevel = options.logLevel ?? 'warn';
  const caDir = join(base, 'ca');
  if (!existsSync(join(caDir, 'ca.key.pem'))) {
    say(`creating the demo federation CA in ${caDir} …`);
    initCa(caDir, { federation: 'OpenPrüm demo federation' });
  }
  const countries = ['DE', 'FR', 'NL'] as const;
  const running: Array<{ node: NodeContext; federation: Federation; close: () => Promise<void>; demo: DemoNode }> = [];
  const closeAll = async () => {
    for (const r of running.reverse()) await r.close().catch(() => undefined);
  };
  try {
    for (const [i, country] of countries.entries()) {
      const dataDir = join(base, country);
      if (!existsSync(join(dataDir, CONFIG_FILE))) {
        say(`creating the demo node ${country} in ${dataDir} …`);
        await initNode({ country, dataDir });
      }
      const node = await openNode(loadConfig(dataDir, { port: basePort + i, logLevel }, {}));
      try {
        const count = await node.db.selectFrom('vehicles').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        if (Number(count.n) === 0) {
          const n = options.vehicles ?? 2_000;
          say(`importing ${n.toLocaleString('en')} synthetic vehicles into ${country} …`);
          const file = join(dataDir, 'demo-vehicles.csv');
          await writeVehicleFile(file, { count: n, country, seed: 615 + i, format: 'csv', fixed: [DEMO_FEDERATION_VEHICLES[country]] });
          await importVehicles(node.db, file);
        }
        const fedDir = federationDir(dataDir);
        if (!hasCredentials(fedDir)) issueToDir(caDir, { country, outDir: fedDir, hosts: ['localhost', '127.0.0.1'] });
        const federation = await Federation.start(node, { dir: fedDir, peerPort: basePeerPort + i, logLevel });
        if (!(await federation.declaration())) await federation.publishDeclaration(demoDeclaration(country));
        for (const [j, other] of countries.entries()) {
          if (other !== country) await addPeer(node.db, country, other, `https://127.0.0.1:${basePeerPort + j}`);
        }
        const app = await buildServer(node, { logLevel });
        await app.listen({ host: '127.0.0.1', port: basePort + i });
        const demo: DemoNode = {
          country,
          url: `http://127.0.0.1:${basePort + i}`,
          peerUrl: federation.peerUrl,
          officerToken: await demoToken(node, `demo-officer-${country}`, `Demo Officer ${country}`, ['officer']),
          supervisorToken: await demoToken(node, `demo-supervisor-${country}`, `Demo Supervisor ${country}`, ['supervisor']),
        };
        running.push({
          node,
          federation,
          demo,
          close: async () => {
            await app.close();
            await federation.close();
            await node.close();
          },
        });
      } catch (e) {
        await node.federation?.close().catch(() => undefined);
        await node.close();
        throw e;
      }
    }
    // Everyone is listening now: read each other's declarations.
    for (const r of running) await r.federation.refreshDeclarations();
  } catch (e) {
    await closeAll();
    throw e;
  }
  const nodes = running.map((r) => r.demo);
  return { nodes, instructions: instructions(nodes), close: closeAll };
}

function instructions(nodes: DemoNode[]): string {
  const nl = nodes.find((n) => n.country === 'NL')!;
  const de = DEMO_FEDERATION_VEHICLES.DE;
  return [
    '',
    'OpenPrüm demo federation: three national contact points, all data made up',
    ...nodes.map((n) => `  ${n.country}  API ${n.url}  (docs ${n.url}/docs)   peer interface ${n.peerUrl} (mutual TLS 1.3)`),
    '',
    'Officer tokens (12 hours):',
    ...nodes.map((n) => `  ${n.country}: ${n.officerToken}`),
    '',
    `Search Germany and France from the Netherlands for a German car (${de.registrationNumber}):`,
    `  curl -s ${nl.url}/v1/federation/searches -H 'content-type: application/json' \\`,
    `    -H 'authorization: Bearer ${nl.officerToken}' \\`,
    `    -d '{"kind":"vehicle","targets":["DE","FR"],"query":{"registrationNumber":"${de.registrationNumber}"},"purpose":"criminal-offences","reason":"Case 2026/17: car seen at a burglary","orderedBy":"Inspector J. de Vries"}'`,
    '',
    'Then read the answers with the id it returns (per state: status, attempts, due time, lateness, answer):',
    `  curl -s ${nl.url}/v1/federation/searches/ID -H 'authorization: Bearer ${nl.officerToken}'`,
    '',
    'Each side records the search (Prüm Decision Art. 30): read them as a supervisor, e.g. Germany:',
    `  curl -s ${nodes.find((n) => n.country === 'DE')!.url}/v1/records -H 'authorization: Bearer ${nodes.find((n) => n.country === 'DE')!.supervisorToken}'`,
    '',
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}
