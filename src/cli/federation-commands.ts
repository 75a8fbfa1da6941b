/** `openprum peer …` and `openprum federation …`: the peers a node searches and what it declares. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import { latestDeclaration, publishDeclaration } from '../exchange/declarations.ts';
import { readFederationConfig, writeFederationConfig } from '../exchange/federation-config.ts';
import { addPeer, checkPeerUrl, listPeers, removePeer } from '../exchange/peers.ts';
import { checkCountry } from '../node/config.ts';
import { federationDir, hasCredentials, loadCredentials } from '../exchange/pki-store.ts';
import { printJson, resolveDataDir, say, withNode } from './common.ts';

const nodeOpts = (c: Command) => c.option('--data-dir <dir>', 'the node\'s data directory').option('--node <XX>', 'use ./var/<XX> as data directory');

interface NodeSel {
  dataDir?: string;
  node?: string;
}
const sel = (o: NodeSel) => ({ ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.node ? { country: o.node } : {}) });

export function registerFederationCommands(program: Command): void {
  const peer = program.command('peer').description('The peer nodes (other states) this node searches');

  nodeOpts(peer.command('add'))
    .description('Add a peer state and the address of its peer interface (or change the address)')
    .requiredOption('--country <XX>', 'the peer\'s state; its certificate must name it')
    .requiredOption('--url <https-url>', 'address of its peer interface, such as https://de.example:9443')
    .action(async (opts: NodeSel & { country: string; url: string }) => {
      checkCountry(opts.country);
      checkPeerUrl(opts.url); // before opening the node: a mistake costs nothing
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => printJson(await addPeer(node.db, node.country, opts.country, opts.url)));
    });

  nodeOpts(peer.command('remove'))
    .description('Remove a peer state (pending searches to it then end as failed)')
    .requiredOption('--country <XX>', 'the peer\'s state')
    .action(async (opts: NodeSel & { country: string }) => {
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => {
        await removePeer(node.db, opts.country);
        say(`peer ${opts.country.toUpperCase()} removed`);
      });
    });

  nodeOpts(peer.command('list'))
    .description('List the peer states with their latest declaration (JSON)')
    .action(async (opts: NodeSel) => {
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => {
        const peers = await listPeers(node.db);
        printJson({ peers: await Promise.all(peers.map(async (p) => ({ ...p, declaration: (await latestDeclaration(node.db, p.country))?.declaration ?? null }))) });
      });
    });

  const federation = program.command('federation').description('This node in the federation: its declaration and peer interface');

  nodeOpts(federation.command('declare'))
    .description('Publish this node\'s declaration (Prüm Decision Arts. 2(3), 36), signed with its federation certificate')
    .requiredOption('--file <json>', 'the declaration: {"files":[{"file":"vehicle","conditions":…}],"capacity":[{"kind":"vehicle","perDay":1000,"byState":{"DE":5000}}],"contactPoint":{"name":…}}')
    .action(async (opts: NodeSel & { file: string }) => {
      let input: unknown;
      try {
        input = JSON.parse(readFileSync(resolve(opts.file), 'utf8'));
      } catch (e) {
        throw new OpenPrumError('file-unreadable', `Cannot read the declaration ${opts.file}: ${(e as Error).message}`);
      }
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => {
        const creds = loadCredentials(federationDir(node.config.dataDir), node.country);
        const d = await publishDeclaration(node.db, node.country, { key: creds.key, cert: creds.cert }, input);
        printJson({ declaration: d.declaration });
      });
    });

  nodeOpts(federation.command('configure'))
    .description('Set where the peer interface listens (written to <data-dir>/federation/federation.json)')
    .option('--peer-port <port>', 'TCP port of the peer interface (default 9443, or OPENPRUM_PEER_PORT)')
    .option('--peer-host <host>', 'address it listens on (default 127.0.0.1, or OPENPRUM_PEER_HOST)')
    .action((opts: NodeSel & { peerPort?: string; peerHost?: string }) => {
      const dir = federationDir(resolveDataDir(sel(opts)));
      if (!hasCredentials(dir)) throw new OpenPrumError('federation-not-configured', `${dir} holds no node certificate; issue one first: openprum pki issue`);
      const port = opts.peerPort === undefined ? undefined : Number(opts.peerPort);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new OpenPrumError('usage', '--peer-port must be a whole number from 0 to 65535');
      writeFederationConfig(dir, { peerPort: port, peerHost: opts.peerHost });
      printJson(readFederationConfig(dir));
    });

  nodeOpts(federation.command('status'))
    .description('This node\'s declaration, peers and outbox (JSON)')
    .action(async (opts: NodeSel) => {
      await withNode(sel(opts), { logLevel: 'silent' }, async (node) => {
        const dir = federationDir(node.config.dataDir);
        const outbox = await node.db.selectFrom('federation_targets').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
        printJson({
          country: node.country,
          certificate: hasCredentials(dir) ? loadCredentials(dir, node.country).identity : null,
          peerInterface: readFederationConfig(dir),
          declaration: (await latestDeclaration(node.db, node.country))?.declaration ?? null,
          peers: await listPeers(node.db),
          outbox: Object.fromEntries(outbox.map((r) => [r.status, Number(r.n)])),
        });
      });
    });
}
