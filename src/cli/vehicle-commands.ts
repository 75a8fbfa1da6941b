/** `openprum vehicle import|generate`. */
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import { checkCountry } from '../node/config.ts';
import { writeVehicleFile } from '../vehicle/generate.ts';
import { importVehicles, type ImportFormat } from '../vehicle/import.ts';
import { parsePositiveInt, printJson, say, withNode } from './common.ts';

function checkFormat(value: string | undefined): ImportFormat | undefined {
  if (value === undefined) return undefined;
  if (value !== 'csv' && value !== 'jsonl') throw new OpenPrumError('usage', `--format is csv or jsonl, not ${JSON.stringify(value)}`);
  return value;
}

export function registerVehicleCommands(program: Command): void {
  const vehicle = program.command('vehicle').description('Vehicle registration data (Prüm Decision Art. 12)');

  vehicle
    .command('import <file>')
    .description('Import vehicles from CSV or JSON Lines, all or nothing (prints a JSON summary)')
    .option('--data-dir <dir>', 'the node\'s data directory')
    .option('--country <XX>', 'use ./var/<country>')
    .option('--format <format>', 'csv or jsonl (default: from the file name)')
    .option('--replace', 'make the file the whole register (default: add and update by VIN)')
    .action(async (file: string, opts: { dataDir?: string; country?: string; format?: string; replace?: boolean }) => {
      const format = checkFormat(opts.format);
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const tty = process.stderr.isTTY;
        const result = await importVehicles(node.db, file, {
          format,
          mode: opts.replace ? 'replace' : 'upsert',
          onProgress: (rows) => {
            if (tty) process.stderr.write(`\rimported ${rows.toLocaleString('en')} rows`);
            else if (rows % 100_000 === 0) say(`imported ${rows} rows`);
          },
        });
        if (tty) process.stderr.write('\n');
        printJson(result);
      });
    });

  vehicle
    .command('generate')
    .description('Write a synthetic vehicle register (made-up data for demos, tests and benchmarks)')
    .requiredOption('--out <file>', 'file to write (.csv or .jsonl)')
    .option('--count <n>', 'number of vehicles', '1000')
    .option('--country <XX>', 'style of the plates', 'NL')
    .option('--seed <n>', 'random seed (same seed, same file)', '1')
    .action(async (opts: { out: string; count: string; country: string; seed: string }) => {
      const format = opts.out.endsWith('.csv') ? 'csv' : opts.out.endsWith('.jsonl') ? 'jsonl' : undefined;
      if (!format) throw new OpenPrumError('usage', '--out must end in .csv or .jsonl');
      const count = parsePositiveInt('--count', opts.count);
      await writeVehicleFile(opts.out, { count, country: checkCountry(opts.country), seed: parsePositiveInt('--seed', opts.seed), format });
      say(`wrote ${count} vehicles to ${opts.out}`);
    });
}
