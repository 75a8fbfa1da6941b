/**
 * `openprum demo` (what `npm start` runs): a node of the Netherlands on the embedded database with a
 * synthetic vehicle register, demo officers with fresh short-lived tokens, and the commands to try.
 * All data is made up.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildServer } from '../http/server.ts';
import { CONFIG_FILE, loadConfig } from '../node/config.ts';
import { initNode, openNode } from '../node/node.ts';
import { writeSyntheticFiles } from '../dna/generate.ts';
import { writeVehicleFile } from '../vehicle/generate.ts';
import { importVehicles } from '../vehicle/import.ts';
import { DEMO_VEHICLES } from '../vehicle/demo-data.ts';
import type { NodeContext } from '../node/node.ts';
import { parsePositiveInt, say } from './common.ts';
import { serveUntilSignal } from './node-commands.ts';

export { DEMO_VEHICLES };

async function demoToken(node: NodeContext, reference: string, name: string, roles: string[]): Promise<string> {
  const existing = (await node.officers.list()).find((o) => o.reference === reference);
  const officer = existing ?? (await node.officers.create({ reference, name, unit: 'Demo', roles }));
  return (await node.officers.issueToken(officer.id, { label: 'demo', expiresAt: new Date(Date.now() + 12 * 3_600_000) })).token;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run a demo node (NL) with synthetic vehicle and DNA data on the embedded database')
    .option('--data-dir <dir>', 'data directory of the demo node', 'var/demo-NL')
    .option('--port <port>', 'TCP port', process.env.PORT ?? process.env.OPENPRUM_PORT ?? '8080')
    .option('--vehicles <n>', 'size of the synthetic register', '10000')
    .action(async (opts: { dataDir: string; port: string; vehicles: string }) => {
      const dataDir = resolve(opts.dataDir);
      if (!existsSync(join(dataDir, CONFIG_FILE))) {
        say(`creating the demo node in ${dataDir} …`);
        await initNode({ country: 'NL', dataDir, databaseUrl: process.env.DATABASE_URL?.trim() || undefined });
      }
      const config = loadConfig(dataDir, { port: opts.port, logLevel: process.env.OPENPRUM_LOG_LEVEL ?? 'warn' });
      const node = await openNode(config);
      const count = await node.db.selectFrom('vehicles').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      if (Number(count.n) === 0) {
        const file = join(dataDir, 'demo-vehicles.csv');
        const n = parsePositiveInt('--vehicles', opts.vehicles);
        say(`importing ${n.toLocaleString('en')} synthetic vehicles …`);
        await writeVehicleFile(file, { count: n, country: 'NL', seed: 20081, format: 'csv', fixed: DEMO_VEHICLES });
        await importVehicles(node.db, file);
      }
      const dna = await node.dna();
      if (dna.size === 0) {
        const file = join(dataDir, 'demo-dna.jsonl');
        say('importing a synthetic national DNA file (10,000 profiles) …');
        await writeSyntheticFiles({ out: file, options: { profiles: 10_000, country: 'NL', seed: 2008 } });
        await dna.importFile(file);
      }
      // A stain for the demo search: a stored person's profile, sent as an unidentified trace.
      const person = await node.db.selectFrom('dna_profiles').select(['ref', 'loci']).where('kind', '=', 'reference').orderBy('ref').limit(1).executeTakeFirst();
      const stain = person ? { ref: 'NL-STAIN-DEMO-1', kind: 'unidentified', loci: person.loci } : undefined;
      const officer = await demoToken(node, 'demo-officer', 'Demo Officer', ['officer']);
      const supervisor = await demoToken(node, 'demo-supervisor', 'Demo Supervisor (data-protection authority)', ['supervisor']);
      const app = await buildServer(node, { logLevel: config.logLevel });
      await serveUntilSignal(app, node.close, config.host, config.port, (url) => {
        process.stdout.write(
          [
            '',
            `OpenPrüm demo node (NL) listening on ${url}`,
            `API docs:            ${url}/docs`,
            '',
            'Tokens (valid 12 hours, new ones at every start):',
            `  officer:    ${officer}`,
            `  supervisor: ${supervisor}`,
            '',
            'Search a vehicle by registration number (a hit):',
            `  curl -s ${url}/v1/vehicles/searches -H 'content-type: application/json' \\`,
            `    -H 'authorization: Bearer ${officer}' \\`,
            `    -d '{"registrationNumber":"xk 123 b","purpose":"criminal-offences","reason":"Case 2026/17: car seen at a burglary","orderedBy":"Inspector J. de Vries"}'`,
            '',
            'By VIN (also a hit):  {"vin":"VF1RFB00X62345678", ...}      No hit:  {"registrationNumber":"ZZ-999-Z", ...}',
            '',
            ...(stain
              ? [
                  `Search a DNA stain against the national DNA file (a hit on ${person!.ref}):`,
                  `  curl -s ${url}/v1/dna/searches -H 'content-type: application/json' \\`,
                  `    -H 'authorization: Bearer ${officer}' \\`,
                  `    -d '${JSON.stringify({ profile: stain, reason: 'Case 2026/42: stain at a burglary', orderedBy: 'Prosecutor M. Bakker' })}'`,
                  '',
                ]
              : []),
            'Read the record of those searches as the supervisor:',
            `  curl -s ${url}/v1/records -H 'authorization: Bearer ${supervisor}'`,
            '',
            'Stop with Ctrl-C.',
            '',
          ].join('\n'),
        );
      });
    });
}
