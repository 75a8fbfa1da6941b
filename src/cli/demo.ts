/**
 * `openprum demo` (what `npm start` runs): the demo federation of three national contact points (DE,
 * FR, NL), each a node process of its own on its embedded database, with synthetic vehicle registers
 * and DNA files holding planted cross-border hits (src/demo/federation.ts). Prints the tokens and the
 * searches to try. A node that ends on its own leaves the others running, with the command to start it
 * again printed. All data is made up.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEMO_FILE, demoInstructions, prepareDemoFederation } from '../demo/federation.ts';
import { NodeProcess } from '../demo/processes.ts';
import { DEMO_VEHICLES } from '../vehicle/demo-data.ts';
import { parsePositiveInt, say } from './common.ts';

export { DEMO_VEHICLES };

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run a demo federation: three nodes (DE, FR, NL) as processes on loopback, with synthetic vehicle and DNA data')
    .option('--dir <dir>', 'folder of the demo federation', 'var/demo')
    .option('--port <port>', 'API port of DE; FR and NL take the next two', process.env.PORT ?? process.env.OPENPRUM_PORT ?? '8080')
    .option('--peer-port <port>', 'peer interface port of DE; FR and NL take the next two', '9443')
    .option('--vehicles <n>', 'vehicles in each synthetic register (first run only)', '2000')
    .option('--dna <n>', 'profiles in each synthetic DNA file (first run only)', '5000')
    .action(async (opts: { dir: string; port: string; peerPort: string; vehicles: string; dna: string }) => {
      if (process.env.DATABASE_URL?.trim()) say('note: the demo runs every node on its embedded database; DATABASE_URL is not used');
      const plan = await prepareDemoFederation({
        baseDir: opts.dir,
        basePort: parsePositiveInt('--port', opts.port),
        basePeerPort: parsePositiveInt('--peer-port', opts.peerPort),
        vehicles: parsePositiveInt('--vehicles', opts.vehicles),
        dnaProfiles: parsePositiveInt('--dna', opts.dna),
      });
      const processes = plan.nodes.map((n) => new NodeProcess({ country: n.country, dataDir: n.dataDir, port: n.port, logLevel: process.env.OPENPRUM_LOG_LEVEL ?? 'warn' }));
      let stopping = false;
      const stopAll = () => Promise.all(processes.map((p) => p.stop()));
      for (const p of processes) {
        p.onUnexpectedExit = (code, signal) => {
          if (stopping) return;
          say(`[${p.options.country}] the node ended (${signal ?? `exit code ${code}`}); the others keep running. Start it again with:\n  ${p.command}`);
        };
      }
      say('starting the three nodes …');
      try {
        await Promise.all(processes.map((p) => p.start()));
      } catch (e) {
        stopping = true;
        await stopAll();
        throw e;
      }
      const pids = Object.fromEntries(processes.map((p) => [p.options.country, p.pid ?? 0]));
      writeFileSync(join(plan.baseDir, DEMO_FILE), JSON.stringify({ ...plan, pids }, null, 2) + '\n', { mode: 0o600 });
      process.stdout.write(demoInstructions(plan, pids));
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          say(`${signal}: stopping the nodes`);
          void stopAll().then(() => done());
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
