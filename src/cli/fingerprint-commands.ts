/** `openprum fingerprint import|delete`: the node's national fingerprint file (Prüm Decision Arts. 8-9). */
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import { printJson, say, withNode } from './common.ts';

interface NodeOpts {
  dataDir?: string;
  country?: string;
}

export function registerFingerprintCommands(program: Command): void {
  const fp = program.command('fingerprint').description("The node's national fingerprint file: import and delete dactyloscopic reference data (Prüm Decision Arts. 8-9)");

  fp.command('import <files...>')
    .description(
      'Import ANSI/NIST-ITL transactions (reference = 1.009 TCN; finger images are extracted, Type-9 minutiae used for fingers without an image) ' +
        'and ISO/IEC 19794-2 or ANSI INCITS 378 minutiae records (reference = file name up to its first dot). All or nothing; prints a JSON summary',
    )
    .option('--data-dir <dir>', "the node's data directory")
    .option('--country <XX>', 'use ./var/<country>')
    .option('--replace', 'make the files the whole national fingerprint file (deletes every person they do not hold)')
    .option('--kind <kind>', 'reference (persons) or unidentified (latent marks); default: unidentified for transactions of latent images (Type-13) only, else reference')
    .option('--drop-descriptive-data', 'import transactions whose Type-2 carries names; Type-2 is never stored (without this flag they are refused)')
    .action(async (files: string[], opts: NodeOpts & { replace?: boolean; kind?: string; dropDescriptiveData?: boolean }) => {
      if (opts.kind !== undefined && opts.kind !== 'reference' && opts.kind !== 'unidentified') {
        throw new OpenPrumError('usage', `--kind is reference or unidentified, not ${JSON.stringify(opts.kind)}`);
      }
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        say('loading the national fingerprint file …');
        const file = await node.fingerprints();
        const result = await file.importFiles(files, {
          replace: opts.replace,
          kind: opts.kind as 'reference' | 'unidentified' | undefined,
          dropDescriptiveData: opts.dropDescriptiveData,
          onProgress: say,
        });
        printJson({ ...result, personsInFile: file.size });
        await file.close();
      });
    });

  fp.command('delete <refs...>')
    .description('Erase persons or traces from the national fingerprint file, database and memory (all or nothing: an unknown reference deletes nothing)')
    .option('--data-dir <dir>', "the node's data directory")
    .option('--country <XX>', 'use ./var/<country>')
    .action(async (refs: string[], opts: NodeOpts) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const file = await node.fingerprints();
        printJson({ ...(await file.deleteRefs(refs)), personsInFile: file.size });
        await file.close();
      });
    });
}
