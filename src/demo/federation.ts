/**
 * The demo federation: three national contact points (DE, FR, NL), each a node of its own with its own
 * embedded database, certificates from one demo federation CA, signed declarations, the others as
 * peers, and synthetic national files with planted cross-border hits:
 *
 * - vehicles: a known car registered in each state (DEMO_FEDERATION_VEHICLES);
 * - DNA: each state holds two stains (unidentified traces) left by a person on another state's
 *   reference file — NL's stains match DE persons, DE's match FR persons, FR's match NL persons; the
 *   second stain of each is partial (ten loci), as traces often are.
 *
 * `prepareDemoFederation` creates all this (the first time; afterwards it reuses it and only issues
 * fresh tokens) with every node closed again at the end, so that each can then run as a process of
 * its own (`openprum serve`, see processes.ts). All data is made up.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeSyntheticFiles } from '../dna/generate.ts';
import { DNA_PURPOSE } from '../dna/national-file.ts';
import { inclusionOf, type DnaProfile } from '../dna/profile.ts';
import type { DeclarationInput } from '../exchange/declarations.ts';
import { latestDeclaration, publishDeclaration, storePeerDeclaration } from '../exchange/declarations.ts';
import { writeFederationConfig } from '../exchange/federation-config.ts';
import { addPeer } from '../exchange/peers.ts';
import { federationDir, hasCredentials, initCa, issueToDir, loadCredentials, readTrust } from '../exchange/pki-store.ts';
import { CONFIG_FILE, loadConfig } from '../node/config.ts';
import { initNode, openNode, type NodeContext } from '../node/node.ts';
import { DEMO_VEHICLES } from '../vehicle/demo-data.ts';
import { writeVehicleFile } from '../vehicle/generate.ts';
import { importVehicles } from '../vehicle/import.ts';
import type { VehicleRow } from '../vehicle/model.ts';

export const DEMO_STATES = ['DE', 'FR', 'NL'] as const;
export type DemoState = (typeof DEMO_STATES)[number];

/** Whose persons each state's demo stains match: NL's stains were left by DE persons, and so on. */
export const STAIN_SOURCE: Readonly<Record<DemoState, DemoState>> = { NL: 'DE', DE: 'FR', FR: 'NL' };

export const DEMO_FEDERATION_VEHICLES: Readonly<Record<DemoState, VehicleRow>> = {
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

export interface DemoOptions {
  /** Folder of the demo federation (default var/demo). */
  readonly baseDir?: string;
  /** API ports are basePort, +1, +2 (DE, FR, NL). */
  readonly basePort?: number;
  /** Peer interface ports are basePeerPort, +1, +2. */
  readonly basePeerPort?: number;
  /** Vehicles in each synthetic register (first run only). */
  readonly vehicles?: number;
  /** Profiles in each synthetic national DNA file (first run only). */
  readonly dnaProfiles?: number;
  readonly say?: (message: string) => void;
}

export interface DemoTokens {
  readonly officer: string;
  readonly approver: string;
  readonly supervisor: string;
  readonly admin: string;
}

export interface PlantedDnaHit {
  /** The state whose stain it is (the one that searches). */
  readonly searchingState: DemoState;
  readonly stain: string;
  /** The state whose reference file holds the person. */
  readonly holdingState: DemoState;
  readonly person: string;
  readonly partial: boolean;
}

export interface DemoNodeInfo {
  readonly country: DemoState;
  readonly dataDir: string;
  readonly port: number;
  readonly peerPort: number;
  readonly url: string;
  readonly peerUrl: string;
  readonly tokens: DemoTokens;
  /** Ready-made request bodies (JSON files) for the searches this state can try. */
  readonly requests: { readonly vehicle: string; readonly dna: string };
}

export interface DemoPlan {
  readonly baseDir: string;
  readonly caDir: string;
  readonly nodes: readonly DemoNodeInfo[];
  readonly plantedDna: readonly PlantedDnaHit[];
}

/** demo.json in the base folder: the plan plus the process ids of the running nodes. */
export const DEMO_FILE = 'demo.json';

function demoDeclaration(country: string): DeclarationInput {
  const made = 'demo data, made up';
  return {
    files: [
      { file: 'vehicle', conditions: `Full VIN or full registration number only (Prüm Decision Art. 12(1)); ${made}`, legalBasis: 'Prüm Decision Art. 12' },
      { file: 'dna-reference', conditions: `Matching rule of OpenPrüm (src/dna/README.md); at least six ESS loci; ${made}`, legalBasis: 'Prüm Decision Art. 3' },
      { file: 'dna-unidentified', conditions: `Matching rule of OpenPrüm (src/dna/README.md); ${made}`, legalBasis: 'Prüm Decision Art. 3' },
    ],
    capacity: [
      { kind: 'vehicle', perDay: 100_000 },
      { kind: 'dna', perDay: 100_000 },
    ],
    contactPoint: { name: `Demo national contact point ${country}`, email: `ncp-${country.toLowerCase()}@example.invalid`, hours: '24/7' },
  };
}

async function demoToken(node: NodeContext, reference: string, name: string, roles: string[]): Promise<string> {
  const existing = (await node.officers.list()).find((o) => o.reference === reference);
  const officer = existing ?? (await node.officers.create({ reference, name, unit: 'Demo', roles }));
  return (await node.officers.issueToken(officer.id, { label: 'demo', expiresAt: new Date(Date.now() + 12 * 3_600_000) })).token;
}

async function withDemoNode<T>(dataDir: string, port: number, run: (node: NodeContext) => Promise<T>): Promise<T> {
  // The demo's nodes are embedded on purpose: three nodes cannot share one DATABASE_URL.
  const node = await openNode(loadConfig(dataDir, { port, logLevel: 'silent' }, {}));
  try {
    return await run(node);
  } finally {
    await node.close();
  }
}

/** A partial copy of a stain: its first `loci` typed loci (sorted), when that is still searchable. */
function partialOf(profile: DnaProfile, ref: string, loci: number): DnaProfile {
  const names = Object.keys(profile.loci).filter((n) => n !== 'AMEL').sort().slice(0, loci);
  const partial: DnaProfile = { ref, kind: 'unidentified', loci: Object.fromEntries(names.map((n) => [n, profile.loci[n]!])) };
  return inclusionOf(partial).ok ? partial : { ...profile, ref, kind: 'unidentified' };
}

/**
 * Creates the demo federation in `baseDir` (or completes and reuses the one there) and returns where
 * everything is. Every node is closed again when it returns.
 */
export async function prepareDemoFederation(options: DemoOptions = {}): Promise<DemoPlan> {
  const say = options.say ?? ((m: string) => process.stderr.write(`${m}\n`));
  const baseDir = resolve(options.baseDir ?? 'var/demo');
  const basePort = options.basePort ?? 8080;
  const basePeerPort = options.basePeerPort ?? 9443;
  const caDir = join(baseDir, 'ca');
  const requestsDir = join(baseDir, 'requests');
  mkdirSync(requestsDir, { recursive: true });
  if (!existsSync(join(caDir, 'ca.key.pem'))) {
    say(`creating the demo federation CA in ${caDir} …`);
    initCa(caDir, { federation: 'OpenPrüm demo federation' });
  }
  const at = (c: DemoState) => DEMO_STATES.indexOf(c);
  const dataDirOf = (c: DemoState) => join(baseDir, c);

  // First pass: each node with its own data, certificate, declaration and peers.
  const persons = new Map<DemoState, DnaProfile[]>();
  const declarations = new Map<DemoState, { body: string; jws: string }>();
  for (const country of DEMO_STATES) {
    const dataDir = dataDirOf(country);
    if (!existsSync(join(dataDir, CONFIG_FILE))) {
      say(`creating the demo node ${country} in ${dataDir} …`);
      await initNode({ country, dataDir });
    }
    await withDemoNode(dataDir, basePort + at(country), async (node) => {
      const count = await node.db.selectFrom('vehicles').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      if (Number(count.n) === 0) {
        const n = options.vehicles ?? 2_000;
        say(`${country}: importing ${n.toLocaleString('en')} synthetic vehicles …`);
        const file = join(dataDir, 'demo-vehicles.csv');
        const fixed = country === 'NL' ? [...DEMO_VEHICLES] : [DEMO_FEDERATION_VEHICLES[country]];
        await writeVehicleFile(file, { count: n, country, seed: 615 + at(country), format: 'csv', fixed });
        await importVehicles(node.db, file);
      }
      const dna = await node.dna();
      if (dna.size === 0) {
        const n = options.dnaProfiles ?? 5_000;
        say(`${country}: importing a synthetic national DNA file (${n.toLocaleString('en')} profiles) …`);
        const file = join(dataDir, 'demo-dna.jsonl');
        await writeSyntheticFiles({ out: file, options: { profiles: n, country, seed: 2008 + at(country) } });
        await dna.importFile(file);
      }
      // Two persons whose traces another state holds (see STAIN_SOURCE).
      const rows = await node.db.selectFrom('dna_profiles').select(['ref', 'loci']).where('kind', '=', 'reference').orderBy('ref').limit(50).execute();
      const chosen = rows
        .map((r) => ({ ref: r.ref, kind: 'reference' as const, loci: (typeof r.loci === 'string' ? JSON.parse(r.loci) : r.loci) as DnaProfile['loci'] }))
        .filter((p) => Object.keys(p.loci).length >= 12 && inclusionOf(p).ok)
        .slice(0, 2);
      persons.set(country, chosen);

      const fedDir = federationDir(dataDir);
      if (!hasCredentials(fedDir)) issueToDir(caDir, { country, outDir: fedDir, hosts: ['localhost', '127.0.0.1'] });
      writeFederationConfig(fedDir, { peerHost: '127.0.0.1', peerPort: basePeerPort + at(country) });
      let own = await latestDeclaration(node.db, country);
      if (!own) {
        const creds = loadCredentials(fedDir, country);
        own = await publishDeclaration(node.db, country, { key: creds.key, cert: creds.cert }, demoDeclaration(country));
      }
      declarations.set(country, { body: own.body, jws: own.jws });
      for (const other of DEMO_STATES) {
        if (other !== country) await addPeer(node.db, country, other, `https://127.0.0.1:${basePeerPort + at(other)}`);
      }
    });
  }

  // Second pass: the planted stains, the peers' declarations (as if already fetched), fresh tokens.
  const plantedDna: PlantedDnaHit[] = [];
  const nodes: DemoNodeInfo[] = [];
  for (const country of DEMO_STATES) {
    const dataDir = dataDirOf(country);
    const source = STAIN_SOURCE[country];
    const sourcePersons = persons.get(source) ?? [];
    const stains = sourcePersons.map((p, i) => (i === 0 ? { ...p, ref: `${country}-STAIN-DEMO-1`, kind: 'unidentified' as const } : partialOf(p, `${country}-STAIN-DEMO-${i + 1}`, 10)));
    stains.forEach((s, i) => plantedDna.push({ searchingState: country, stain: s.ref, holdingState: source, person: sourcePersons[i]!.ref, partial: i > 0 }));
    const port = basePort + at(country);
    const info = await withDemoNode(dataDir, port, async (node) => {
      const known = await node.db.selectFrom('dna_profiles').select('ref').where('ref', 'in', stains.length ? stains.map((s) => s.ref) : ['-']).execute();
      if (stains.length > 0 && known.length < stains.length) {
        const file = join(dataDir, 'demo-stains.jsonl');
        writeFileSync(file, stains.map((s) => JSON.stringify(s)).join('\n') + '\n');
        await (await node.dna()).importFile(file);
      }
      const trust = readTrust(federationDir(dataDir));
      for (const other of DEMO_STATES) {
        const d = declarations.get(other);
        if (other !== country && d) await storePeerDeclaration(node.db, trust, other, d.body, d.jws);
      }
      const tokens: DemoTokens = {
        officer: await demoToken(node, `demo-officer-${country}`, `Demo Officer ${country}`, ['officer']),
        approver: await demoToken(node, `demo-approver-${country}`, `Demo Approver ${country}`, ['approver']),
        supervisor: await demoToken(node, `demo-supervisor-${country}`, `Demo Supervisor ${country} (data-protection authority)`, ['supervisor']),
        admin: await demoToken(node, `demo-admin-${country}`, `Demo Administrator ${country}`, ['admin']),
      };
      return { tokens };
    });

    const others = DEMO_STATES.filter((c) => c !== country);
    const target = others.find((c) => c !== source) ?? others[0]!;
    const vehicleFile = join(requestsDir, `${country}-vehicle-search.json`);
    const dnaFile = join(requestsDir, `${country}-dna-search.json`);
    writeFileSync(
      vehicleFile,
      JSON.stringify({ kind: 'vehicle', targets: others, query: { registrationNumber: DEMO_FEDERATION_VEHICLES[target].registrationNumber }, purpose: 'criminal-offences', reason: 'Case 2026/17: car seen at a burglary', orderedBy: 'Inspector J. de Vries' }, null, 2) + '\n',
    );
    const stain = stains[0];
    writeFileSync(
      dnaFile,
      JSON.stringify({ kind: 'dna', targets: 'all', query: { profile: stain ? { ref: stain.ref, kind: stain.kind, loci: stain.loci } : {} }, purpose: DNA_PURPOSE, reason: 'Case 2026/42: stain at a burglary', orderedBy: 'Prosecutor M. Bakker' }, null, 2) + '\n',
    );
    nodes.push({
      country,
      dataDir,
      port,
      peerPort: basePeerPort + at(country),
      url: `http://127.0.0.1:${port}`,
      peerUrl: `https://127.0.0.1:${basePeerPort + at(country)}`,
      tokens: info.tokens,
      requests: { vehicle: vehicleFile, dna: dnaFile },
    });
  }
  return { baseDir, caDir, nodes, plantedDna };
}

/** What people read once the nodes run: addresses, tokens and searches to paste. */
export function demoInstructions(plan: DemoPlan, pids: Readonly<Record<string, number>> = {}): string {
  const nl = plan.nodes.find((n) => n.country === 'NL')!;
  const de = plan.nodes.find((n) => n.country === 'DE')!;
  const hit = plan.plantedDna.find((h) => h.searchingState === 'NL');
  const rel = (p: string) => (p.startsWith(process.cwd() + '/') ? p.slice(process.cwd().length + 1) : p);
  return [
    '',
    'OpenPrüm demo federation: three national contact points, each a process of its own; all data made up',
    ...plan.nodes.map((n) => `  ${n.country}  API ${n.url} (docs ${n.url}/docs)   peer interface ${n.peerUrl} (mutual TLS 1.3)${pids[n.country] ? `   pid ${pids[n.country]}` : ''}`),
    '',
    'Tokens (12 hours; new ones at every start; all of them are in ' + rel(join(plan.baseDir, DEMO_FILE)) + '):',
    ...plan.nodes.map((n) => `  ${n.country} officer: ${n.tokens.officer}`),
    `  DE supervisor: ${de.tokens.supervisor}`,
    '',
    `1. A vehicle: the Netherlands searches Germany and France for a ${DEMO_FEDERATION_VEHICLES.FR.make} registered in France:`,
    `  curl -s ${nl.url}/v1/federation/searches -H 'content-type: application/json' \\`,
    `    -H 'authorization: Bearer ${nl.tokens.officer}' -d @${rel(nl.requests.vehicle)}`,
    '',
    `2. DNA: a stain of a Dutch case (${hit?.stain ?? 'NL-STAIN-DEMO-1'}) against every state's file; Germany holds the person (${hit?.person ?? '?'}):`,
    `  curl -s ${nl.url}/v1/federation/searches -H 'content-type: application/json' \\`,
    `    -H 'authorization: Bearer ${nl.tokens.officer}' -d @${rel(nl.requests.dna)}`,
    '',
    'Each answers 202 with an id; read the answers (per state: status, attempts, due time, lateness, hit and data):',
    `  curl -s ${nl.url}/v1/federation/searches/ID -H 'authorization: Bearer ${nl.tokens.officer}'`,
    '',
    `3. After the DNA hit, the second step: NL's officer confirms it and asks Germany for the person's data`,
    `   (ID: the id of search 2), then Germany's approver lists the request (due in 48 hours) and decides:`,
    `  curl -s ${nl.url}/v1/federation/searches/ID/confirmations -H 'content-type: application/json' \\`,
    `    -H 'authorization: Bearer ${nl.tokens.officer}' \\`,
    `    -d '{"state":"DE","requestedReference":"${hit?.person ?? 'DE-…'}","verdict":"confirmed","note":"Profile checked: full match"}'`,
    `  curl -s ${nl.url}/v1/follow-ups -H 'content-type: application/json' -H 'authorization: Bearer ${nl.tokens.officer}' \\`,
    `    -d '{"searchId":"ID","state":"DE","requestedReference":"${hit?.person ?? 'DE-…'}","legalBasis":"Prüm Decision Art. 5; national law","facts":"Burglary at a jeweller in Utrecht on 2 November 2026; the stain was on the safe.","offence":{"category":"organised-armed-robbery"},"purpose":"investigation of the burglary, case 2026/42"}'`,
    `  curl -s '${de.url}/v1/follow-ups?direction=incoming' -H 'authorization: Bearer ${de.tokens.approver}'`,
    `  curl -s ${de.url}/v1/follow-ups/FOLLOW-UP-ID/decision -H 'content-type: application/json' -H 'authorization: Bearer ${de.tokens.approver}' \\`,
    `    -d '{"decision":"grant","legalBasis":"§ 27 BKAG","supplied":{"surname":"Muster","firstNames":"Max"},"conditions":[{"type":"no-onward-transfer"}]}'`,
    '',
    'Every search is recorded on both sides (Prüm Decision Art. 30); read Germany\'s record as its supervisor:',
    `  curl -s ${de.url}/v1/records -H 'authorization: Bearer ${de.tokens.supervisor}'`,
    '',
    'Try a peer that is down: kill one node (kill PID), search, and start it again with the command this',
    'demo prints when it stops; the pending search then completes, once.',
    '',
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}
