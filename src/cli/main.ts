/**
 * The `openprum` command. Each capability registers its own subcommands; this file only assembles
 * them and turns errors into a message on stderr and a distinct exit code (see errors/catalogue.ts).
 */
import { Command, CommanderError } from 'commander';
import { isOpenPrumError } from '../errors/index.ts';
import { registerAuditCommands } from './audit-commands.ts';
import { registerBulkCommands } from './bulk-commands.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDnaCommands } from './dna-commands.ts';
import { registerDnaNodeCommands } from './dna-node-commands.ts';
import { registerFederationCommands } from './federation-commands.ts';
import { registerFingerprintCommands } from './fingerprint-commands.ts';
import { registerNodeCommands } from './node-commands.ts';
import { registerPkiCommands } from './pki-commands.ts';
import { registerSafeguardsCommands } from './safeguards-commands.ts';
import { registerVehicleCommands } from './vehicle-commands.ts';

export function buildProgram(): Command {
  const program = new Command('openprum')
    .description('OpenPrüm: a national contact point for Prüm hit/no-hit exchange, with the safeguards built in')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerNodeCommands(program);
  registerVehicleCommands(program);
  registerDnaCommands(program);
  // The node's own DNA commands join the engine's `dna` group.
  registerDnaNodeCommands(program.commands.find((c) => c.name() === 'dna')!);
  registerFingerprintCommands(program);
  registerAuditCommands(program);
  registerSafeguardsCommands(program);
  registerPkiCommands(program);
  registerFederationCommands(program);
  // Bulk comparisons (Prüm Decision Art. 4) join the `federation` group.
  registerBulkCommands(program.commands.find((c) => c.name() === 'federation')!);
  registerDemoCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exitCode = exitCodeFor(e);
  }
}

function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help and --version end "with an error" of exit code 0; usage mistakes are EX_USAGE (64).
    return e.exitCode === 0 ? 0 : 64;
  }
  if (isOpenPrumError(e)) {
    process.stderr.write(`openprum: ${e.message} [${e.code}]\n`);
    return e.exitCode;
  }
  process.stderr.write(`openprum: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return 70;
}
