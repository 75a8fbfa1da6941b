/** `openprum pki …`: the federation certificate authority, node certificates and revocation. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { OpenPrumError } from '../errors/index.ts';
import { federationDir, initCa, installCrl, issueToDir, listIssued, loadCredentials, readTrust, republishCrl, revoke } from '../exchange/pki-store.ts';
import { fingerprintOf, REVOCATION_REASONS, type RevocationReason } from '../exchange/pki.ts';
import { checkCountry, readConfigFile } from '../node/config.ts';
import { parsePositiveInt, printJson, resolveDataDir, say } from './common.ts';

export function registerPkiCommands(program: Command): void {
  const pki = program.command('pki').description('The federation\'s certificate authority: node certificates and the revocation list');

  pki
    .command('init')
    .description('Create a federation certificate authority (ECDSA P-256) in a new folder: key, certificate, revocation list')
    .requiredOption('--out <dir>', 'folder of the CA (keep it offline and safe: its key signs every node certificate)')
    .requiredOption('--federation <name>', 'name of the federation, in every certificate (O=)')
    .option('--days <n>', 'validity of the CA certificate in days', '3650')
    .option('--crl-days <n>', 'days each revocation list is valid (nodes refuse everyone once it expires)', '30')
    .action((opts: { out: string; federation: string; days: string; crlDays: string }) => {
      const ca = initCa(opts.out, { federation: opts.federation, days: parsePositiveInt('--days', opts.days), crlDays: parsePositiveInt('--crl-days', opts.crlDays) });
      printJson({ ...ca, note: `Issue node certificates with: openprum pki issue --ca ${ca.dir} --country XX --data-dir NODE_DIR` });
    });

  pki
    .command('issue')
    .description('Issue a node certificate and key for one state, with the CA certificate and current revocation list, into a node\'s data directory (or --out)')
    .requiredOption('--ca <dir>', 'folder of the CA (from pki init)')
    .requiredOption('--country <XX>', 'the state the node speaks for (its identity in the federation)')
    .option('--data-dir <dir>', 'data directory of that state\'s node: writes <data-dir>/federation/')
    .option('--out <dir>', 'or any folder, to hand over to the node\'s operator')
    .option('--days <n>', 'validity in days', '365')
    .option('--host <name...>', 'DNS names or IPv4 addresses to add for tools that check host names (optional)')
    .option('--force', 'replace a node key that is there (revoke the old certificate first)')
    .action((opts: { ca: string; country: string; dataDir?: string; out?: string; days: string; host?: string[]; force?: boolean }) => {
      const country = checkCountry(opts.country);
      if (!opts.dataDir === !opts.out) throw new OpenPrumError('usage', 'Say where to write the certificate: --data-dir NODE_DIR or --out DIR');
      let outDir: string;
      if (opts.dataDir) {
        const dataDir = resolve(opts.dataDir);
        // The certificate is the node's identity: a node cannot be given another state's.
        const node = readConfigFile(dataDir);
        if (node.country !== country) throw new OpenPrumError('pki-invalid', `The node in ${dataDir} is the node of ${node.country}; it cannot receive a certificate of ${country}`);
        outDir = federationDir(dataDir);
      } else outDir = resolve(opts.out!);
      const issued = issueToDir(opts.ca, { country, outDir, days: parsePositiveInt('--days', opts.days), ...(opts.host ? { hosts: opts.host } : {}), force: opts.force === true });
      printJson(issued);
    });

  pki
    .command('revoke')
    .description('Revoke a node certificate and publish a new revocation list (then give the list to every node: pki install-crl)')
    .requiredOption('--ca <dir>', 'folder of the CA')
    .requiredOption('--serial <hex>', 'serial number of the certificate (pki list shows them)')
    .option('--reason <reason>', `one of ${Object.keys(REVOCATION_REASONS).join(', ')}`, 'unspecified')
    .action((opts: { ca: string; serial: string; reason: string }) => {
      if (!(opts.reason in REVOCATION_REASONS)) throw new OpenPrumError('usage', `--reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
      const r = revoke(opts.ca, opts.serial, opts.reason as RevocationReason);
      printJson({ ...r, note: 'Install the new list on every node: openprum pki install-crl --data-dir NODE_DIR --crl ' + r.crl });
    });

  pki
    .command('crl')
    .description('Publish a fresh revocation list (before the current one expires)')
    .requiredOption('--ca <dir>', 'folder of the CA')
    .action((opts: { ca: string }) => printJson(republishCrl(opts.ca)));

  pki
    .command('list')
    .description('List the certificates the CA issued (JSON)')
    .requiredOption('--ca <dir>', 'folder of the CA')
    .action((opts: { ca: string }) => printJson(listIssued(opts.ca)));

  pki
    .command('install-crl')
    .description('Install the CA\'s new revocation list on a node (a running node picks it up within a minute)')
    .option('--data-dir <dir>', 'the node\'s data directory')
    .option('--country <XX>', 'use ./var/<country>')
    .requiredOption('--crl <file>', 'the list (ca.crl.pem of the CA folder)')
    .action((opts: { dataDir?: string; country?: string; crl: string }) => {
      const r = installCrl(federationDir(resolveDataDir(opts)), opts.crl);
      say(`revocation list ${r.number ?? '?'} installed: ${r.revoked} revoked, valid until ${r.nextUpdate}`);
      printJson(r);
    });

  pki
    .command('show')
    .description('Show a node\'s federation certificate and trust (JSON)')
    .option('--data-dir <dir>', 'the node\'s data directory')
    .option('--country <XX>', 'use ./var/<country>')
    .action((opts: { dataDir?: string; country?: string }) => {
      const dataDir = resolveDataDir(opts);
      const { country } = readConfigFile(dataDir);
      const dir = federationDir(dataDir);
      const creds = loadCredentials(dir, country);
      const trust = readTrust(dir);
      const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt.pem')));
      printJson({
        country: creds.identity.country,
        serial: creds.identity.serial,
        fingerprint: creds.identity.fingerprint,
        notAfter: new Date(creds.cert.validTo).toISOString(),
        federation: trust.federation,
        caFingerprint: fingerprintOf(ca),
        crl: { number: trust.crl.number, revoked: trust.crl.revoked.size, nextUpdate: trust.crl.nextUpdate.toISOString() },
      });
    });
}
