/**
 * `openprum safeguards …`: the rules on personal data this node received (src/safeguards/README.md).
 * run-deadlines runs the deadline job once (the server runs it every hour).
 */
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import { safeguardsContext } from '../safeguards/context.ts';
import { runDeadlines } from '../safeguards/deadlines.ts';
import { printJson, withNode } from './common.ts';

interface NodeOpts {
  dataDir?: string;
  country?: string;
}

export function registerSafeguardsCommands(program: Command): void {
  const safeguards = program.command('safeguards').description('Safeguards on received data: purpose binding, conditions, deadlines, accuracy, onward transfer');
  safeguards
    .command('run-deadlines')
    .description("Once: erase (or block) received data past the supplier's delete-by, a major event's year or a closed case; open reviews due; purge records past two years (JSON report)")
    .option('--data-dir <dir>', "the node's data directory")
    .option('--country <XX>', 'use ./var/<country>')
    .option('--now <instant>', "the time to apply (ISO 8601; default now). The record's purge never goes past the database's own clock")
    .action(async (opts: NodeOpts & { now?: string }) => {
      let now: Date | undefined;
      if (opts.now !== undefined) {
        now = new Date(opts.now);
        if (Number.isNaN(now.getTime())) throw new OpenPrumError('usage', `--now must be an ISO 8601 instant such as 2027-01-01T00:00:00Z, not ${JSON.stringify(opts.now)}`);
      }
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const at = now;
        printJson(await runDeadlines(safeguardsContext(node, at ? () => at : undefined), { auditNode: node }));
      });
    });
}
