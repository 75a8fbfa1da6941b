/** `openprum init`, `serve` and `officer …`. */
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import { buildServer } from '../http/server.ts';
import { loadConfig } from '../node/config.ts';
import { initNode, openNode } from '../node/node.ts';
import { parseDuration, parsePositiveInt, printJson, resolveDataDir, say, withNode } from './common.ts';

export function registerNodeCommands(program: Command): void {
  program
    .command('init')
    .description('Create a node: data directory, database, signing keys and a first administrator (its API token is printed once, as JSON)')
    .requiredOption('--country <XX>', 'two-letter country code of this national contact point')
    .option('--data-dir <dir>', 'where the node keeps its files (default ./var/<country>)')
    .option('--admin-reference <ref>', 'reference code of the first administrator', 'admin')
    .option('--admin-name <name>', 'name of the first administrator', 'Administrator')
    .action(async (opts: { country: string; dataDir?: string; adminReference: string; adminName: string }) => {
      const dataDir = resolveDataDir(opts);
      const result = await initNode({
        country: opts.country,
        dataDir,
        databaseUrl: process.env.DATABASE_URL?.trim() || undefined,
        adminReference: opts.adminReference,
        adminName: opts.adminName,
      });
      printJson({
        country: result.country,
        dataDir: result.dataDir,
        database: result.database,
        admin: { id: result.admin.id, reference: result.admin.reference },
        token: result.token.token,
        note: 'The token is shown this once; keep it safe. Start the node with: openprum serve --data-dir ' + result.dataDir,
      });
    });

  program
    .command('serve')
    .description('Serve the node\'s HTTP API (OpenAPI docs at /docs)')
    .option('--data-dir <dir>', 'the node\'s data directory')
    .option('--country <XX>', 'use ./var/<country> as data directory')
    .option('--port <port>', 'TCP port (default 8080, or OPENPRUM_PORT)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1, or OPENPRUM_HOST)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .action(async (opts: { dataDir?: string; country?: string; port?: string; host?: string; logLevel?: string }) => {
      const config = loadConfig(resolveDataDir(opts), { port: opts.port, host: opts.host, logLevel: opts.logLevel });
      const node = await openNode(config);
      // The DNA index is loaded before the node answers, so the first search is not the slow one and
      // a broken file stops the start, not a search.
      try {
        const dna = await node.dna();
        say(`national DNA file: ${dna.size.toLocaleString('en')} profiles in memory`);
        // Likewise the fingerprint gallery (and a peer's first search must not open it inside its
        // answer's transaction: on the embedded database that read would wait for the transaction).
        const fingerprints = await node.fingerprints();
        say(`national fingerprint file: ${fingerprints.size.toLocaleString('en')} persons in memory`);
      } catch (e) {
        await node.close();
        throw e;
      }
      // The federation's peer interface and outbox, when the node holds a federation certificate
      // (loaded here, so that the other commands start without it).
      const { startFederationIfConfigured } = await import('../exchange/federation.ts');
      const federation = await startFederationIfConfigured(node).catch(async (e: unknown) => {
        await node.close();
        throw e;
      });
      if (federation) say(`peer interface (mutual TLS 1.3) listening on ${federation.peerUrl}`);
      const app = await buildServer(node, { logLevel: config.logLevel });
      const close = async () => {
        await federation?.close();
        await node.close();
      };
      await serveUntilSignal(app, close, config.host, config.port);
    });

  const officer = program.command('officer').description('Manage the officers of the node and their API tokens');
  const nodeOpts = (c: Command) => c.option('--data-dir <dir>', 'the node\'s data directory').option('--country <XX>', 'use ./var/<country>');

  nodeOpts(officer.command('add'))
    .description('Add an officer and print a first API token (JSON)')
    .requiredOption('--reference <ref>', 'reference code of the officer (shown in records)')
    .requiredOption('--name <name>', 'full name')
    .option('--unit <unit>', 'unit or department', '')
    .requiredOption('--role <role...>', 'officer, approver, reviewer, supervisor or admin (repeatable)')
    .option('--expires-in <duration>', 'token lifetime such as 90d or 12h (default: no expiry)')
    .action(async (opts: { dataDir?: string; country?: string; reference: string; name: string; unit: string; role: string[]; expiresIn?: string }) => {
      const expiresAt = opts.expiresIn ? new Date(Date.now() + parseDuration('--expires-in', opts.expiresIn)) : undefined;
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const o = await node.officers.create({ reference: opts.reference, name: opts.name, unit: opts.unit, roles: opts.role });
        const t = await node.officers.issueToken(o.id, { label: 'openprum officer add', expiresAt });
        printJson({ officer: o, token: t.token, tokenId: t.tokenId, expiresAt: t.expiresAt });
      });
    });

  nodeOpts(officer.command('list'))
    .description('List the officers (JSON)')
    .action(async (opts: { dataDir?: string; country?: string }) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => printJson({ officers: await node.officers.list() }));
    });

  nodeOpts(officer.command('token'))
    .description('Issue a new API token to an officer (JSON)')
    .requiredOption('--id <id>', 'officer id')
    .option('--expires-in <duration>', 'token lifetime such as 90d or 12h')
    .action(async (opts: { dataDir?: string; country?: string; id: string; expiresIn?: string }) => {
      const expiresAt = opts.expiresIn ? new Date(Date.now() + parseDuration('--expires-in', opts.expiresIn)) : undefined;
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const t = await node.officers.issueToken(parsePositiveInt('--id', opts.id), { label: 'openprum officer token', expiresAt });
        printJson(t);
      });
    });

  nodeOpts(officer.command('revoke-token'))
    .description('Revoke an API token at once')
    .requiredOption('--token-id <id>', 'token id')
    .action(async (opts: { dataDir?: string; country?: string; tokenId: string }) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        await node.officers.revokeToken(parsePositiveInt('--token-id', opts.tokenId));
        say(`token ${opts.tokenId} revoked`);
      });
    });
}

/** Listens, then closes the server and the node cleanly on SIGINT/SIGTERM. */
export async function serveUntilSignal(
  app: Awaited<ReturnType<typeof buildServer>>,
  closeNode: () => Promise<void>,
  host: string,
  port: number,
  onListening?: (address: string) => void,
): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (e) {
    await closeNode();
    throw new OpenPrumError('unavailable', `Cannot listen on ${host}:${port}: ${(e as Error).message}`);
  }
  const addr = app.server.address();
  const address = typeof addr === 'object' && addr ? `http://${host}:${addr.port}` : String(addr);
  onListening?.(address);
  await new Promise<void>((resolveStop) => {
    const stop = async (signal: string) => {
      say(`${signal}: stopping`);
      await app.close();
      await closeNode();
      resolveStop();
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
