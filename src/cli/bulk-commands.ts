/**
 * `openprum federation bulk start|status|hits`: bulk comparisons of DNA profiles with other states
 * (Prüm Decision Art. 4; src/exchange/bulk.ts). `start` stores the comparison in the node's database;
 * the node's federation sends it while the node runs (`openprum serve`), right away when the server
 * shares the database (PostgreSQL), else at its next start (the embedded database has one user).
 */
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import { createBulkComparison, getBulkComparison, listBulkComparisons, listBulkHits } from '../exchange/bulk.ts';
import type { OfficerCaller } from '../identity/caller.ts';
import { parsePositiveInt, printJson, say, withNode } from './common.ts';

interface NodeSel {
  dataDir?: string;
  node?: string;
}
const sel = (o: NodeSel) => ({ ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.node ? { country: o.node } : {}) });
const nodeOpts = (c: Command) => c.option('--data-dir <dir>', 'the node\'s data directory').option('--node <XX>', 'use ./var/<XX> as data directory');

export function registerBulkCommands(federation: Command): void {
  const bulk = federation.command('bulk').description('Bulk comparisons of this node\'s unidentified DNA profiles with other states (Prüm Decision Art. 4)');

  nodeOpts(bulk.command('start'))
    .description('Start a bulk comparison with a state: all unidentified profiles, or with --new-only those added since the last completed one (JSON)')
    .requiredOption('--state <XX>', 'the state to compare with; its declaration must consent')
    .requiredOption('--officer <reference>', 'the admin starting it (an officer of this node with the admin role), recorded')
    .option('--new-only', 'only the profiles added or changed since the last completed comparison with the state')
    .option('--reason <text>', 'the reason, recorded (default: the Art. 4 comparison with the state)')
    .option('--ordered-by <name>', 'the official who ordered it, recorded (default: the officer)')
    .option('--chunk-size <n>', 'profiles per chunk (1-1000)', '500')
    .action(async (opts: NodeSel & { state: string; officer: string; newOnly?: boolean; reason?: string; orderedBy?: string; chunkSize: string }) => {
      const chunkSize = parsePositiveInt('--chunk-size', opts.chunkSize);
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => {
        const officer = (await node.officers.list()).find((o) => o.reference === opts.officer);
        if (!officer || !officer.active) throw new OpenPrumError('usage', `No active officer ${JSON.stringify(opts.officer)} on this node; list them with openprum officer list`);
        const caller: OfficerCaller = { kind: 'officer', officerId: officer.id, reference: officer.reference, name: officer.name, roles: officer.roles, tokenId: 0 };
        const view = await createBulkComparison(
          { country: node.country, db: node.db, now: () => new Date() },
          { kind: 'officer', caller },
          { state: opts.state, mode: opts.newOnly ? 'new' : 'all', reason: opts.reason, orderedBy: opts.orderedBy },
          { chunkSize },
        );
        printJson(view);
        if (view && view.status === 'opening') say(`stored: ${view.profiles} profiles in ${view.chunks.total} chunks; the node's federation sends them while the node runs (openprum serve)`);
      });
    });

  nodeOpts(bulk.command('status'))
    .description('The bulk comparisons (or one, --id): status, chunks done/total, profiles compared, hits, errors, times (JSON)')
    .option('--id <id>', 'one comparison')
    .option('--state <XX>', 'only comparisons with this state')
    .option('--limit <n>', 'at most this many, newest first', '20')
    .action(async (opts: NodeSel & { id?: string; state?: string; limit: string }) => {
      const limit = parsePositiveInt('--limit', opts.limit);
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => {
        if (opts.id) {
          const v = await getBulkComparison(node.db, opts.id);
          if (!v) throw new OpenPrumError('not-found', `No bulk comparison ${opts.id}`);
          printJson(v);
        } else printJson({ comparisons: await listBulkComparisons(node.db, { state: opts.state, limit }) });
      });
    });

  nodeOpts(bulk.command('hits'))
    .description('The hits of a bulk comparison, with the references on both sides and the quality (JSON)')
    .requiredOption('--id <id>', 'the comparison')
    .option('--after <hit-id>', 'hits after this hit id (paging)')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: NodeSel & { id: string; after?: string; limit: string }) => {
      const limit = parsePositiveInt('--limit', opts.limit);
      const after = opts.after === undefined ? undefined : parsePositiveInt('--after', opts.after);
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => {
        const hits = await listBulkHits(node.db, opts.id, { after, limit });
        if (!hits) throw new OpenPrumError('not-found', `No bulk comparison ${opts.id}`);
        printJson({ hits });
      });
    });
}
