/**
 * Runs `openprum dna compare A B --out FILE --summary FILE` in its own process, as a user would,
 * and prints its own peak memory and CPU time as JSON on the last line of stderr. bench/dna.ts
 * starts it, so that the memory figure is the comparison's alone.
 *
 *   node --import tsx bench/dna-compare-cli.ts A B --out hits.jsonl --summary summary.json
 */
import { Command } from 'commander';
import { registerDnaCommands } from '../src/cli/dna-commands.ts';

const program = new Command('openprum').exitOverride();
registerDnaCommands(program);
await program.parseAsync(['node', 'openprum', 'dna', 'compare', ...process.argv.slice(2)]);
const cpu = process.cpuUsage();
process.stderr.write(`${JSON.stringify({ maxRssMB: process.resourceUsage().maxRSS / 1024, cpuUserSeconds: cpu.user / 1e6, cpuSystemSeconds: cpu.system / 1e6 })}\n`);
