/** `openprum dna import|delete`: the node's national DNA file (the engine's own commands are in dna-commands.ts). */
import type { Command } from 'commander';
import { printJson, say, withNode } from './common.ts';

export function registerDnaNodeCommands(dna: Command): void {
  dna
    .command('import <file>')
    .description("Import profiles into the node's national DNA file (JSON Lines or CSV; adds and updates; --replace also deletes what the file lacks). Prints a JSON summary")
    .option('--data-dir <dir>', "the node's data directory")
    .option('--country <XX>', 'use ./var/<country>')
    .option('--replace', 'make the file the whole national file')
    .action(async (file: string, opts: { dataDir?: string; country?: string; replace?: boolean }) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        say('loading the national DNA file …');
        const dna = await node.dna();
        const result = await dna.importFile(file, { replace: opts.replace, onProgress: (lines) => say(`read ${lines.toLocaleString('en')} lines`) });
        for (const r of result.refused.slice(0, 20)) say(`refused: line ${r.line}: ${r.reason}`);
        if (result.refused.length > 20) say(`… and ${result.refused.length - 20} more refused (all listed in the JSON summary)`);
        printJson({ ...result, profilesInFile: dna.size });
      });
    });

  dna
    .command('delete <refs-file>')
    .description('Delete profiles from the national DNA file, one reference per line (all or nothing)')
    .option('--data-dir <dir>', "the node's data directory")
    .option('--country <XX>', 'use ./var/<country>')
    .action(async (file: string, opts: { dataDir?: string; country?: string }) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const dna = await node.dna();
        printJson({ ...(await dna.deleteFile(file)), profilesInFile: dna.size });
      });
    });
}
