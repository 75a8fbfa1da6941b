/**
 * `openprum audit …`: the tamper-evident record of supplies (Prüm Decision Art. 30) as an RFC 9162
 * Merkle-tree log. seal, head, export, verify (offline, for the data-protection authority), purge
 * (retention, Art. 30(4) and (5)) and erase (an erasure order).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createWriteStream, readFileSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { openExport } from '../audit/export.ts';
import { formatAuditReport, verifyAuditExport } from '../audit/export-verify.ts';
import { keyIdOf, signedTreeHeadFromJson, signedTreeHeadToJson, type SignedTreeHead } from '../audit/merkle/index.ts';
import { eraseRecordsByOrder, purgeExpiredRecords } from '../audit/retention.ts';
import { sealLog } from '../audit/sequencer.ts';
import { latestHead } from '../audit/store.ts';
import { OpenPrumError } from '../errors/index.ts';
import { parsePositiveInt, printJson, say, withNode } from './common.ts';

interface NodeOpts {
  dataDir?: string;
  country?: string;
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpenPrumError('file-unreadable', `Cannot read the ${what} ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OpenPrumError('input-invalid', `The ${what} ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

function readPublicKey(file: string, what: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpenPrumError('file-unreadable', `Cannot read the ${what} ${file}: ${(e as Error).message}`);
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`an ${key.asymmetricKeyType ?? 'unknown'} key`);
    return key;
  } catch (e) {
    throw new OpenPrumError('input-invalid', `The ${what} ${file} is not an Ed25519 public key in PEM form (${(e as Error).message}); the node's is <data-dir>/keys/node-signing-key.pub.pem`);
  }
}

/** Heads from a file: one head, an array of heads, or an export (its heads). */
function readTrustedHeads(file: string): SignedTreeHead[] {
  const json = readJsonFile(file, 'trusted head file');
  const list = Array.isArray(json) ? json : typeof json === 'object' && json !== null && Array.isArray((json as { heads?: unknown }).heads) ? (json as { heads: unknown[] }).heads : [json];
  return list.map((h, i) => signedTreeHeadFromJson(h, `${file}[${i}]`));
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('The record of supplies as a tamper-evident log (RFC 9162): seal, head, export, verify, purge, erase');
  const nodeOpts = (c: Command) => c.option('--data-dir <dir>', "the node's data directory").option('--country <XX>', 'use ./var/<country>');

  nodeOpts(audit.command('seal'))
    .description('Integrate every record written so far into the log and sign a tree head (JSON)')
    .option('--force', 'sign a fresh head even if the log did not grow')
    .action(async (opts: NodeOpts & { force?: boolean }) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const r = await sealLog(node, { forceHead: opts.force === true });
        printJson({ appended: r.appended, treeSize: r.treeSize, head: r.head ? signedTreeHeadToJson(r.head) : null });
      });
    });

  nodeOpts(audit.command('head'))
    .description('Print the latest signed tree head (JSON); keep it to check later exports with verify --trusted-head')
    .action(async (opts: NodeOpts) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const stored = await latestHead(node.db);
        if (!stored) throw new OpenPrumError('audit-log-empty', 'The audit log has no signed tree head yet; run openprum audit seal');
        printJson(signedTreeHeadToJson(stored.head));
      });
    });

  nodeOpts(audit.command('export'))
    .description('Export the records of a period with their log entries, leaf hashes, the signed head and proofs (Prüm Decision Art. 30(3))')
    .option('--from <time>', 'records recorded at or after this time (ISO 8601)')
    .option('--to <time>', 'records recorded before this time (ISO 8601)')
    .option('--since-size <n>', 'a tree size you hold a head of: include the consistency proof from it')
    .requiredOption('--out <file>', 'where to write the export (JSON)')
    .action(async (opts: NodeOpts & { from?: string; to?: string; sinceSize?: string; out: string }) => {
      const out = resolve(opts.out);
      const sinceSizes = opts.sinceSize !== undefined ? [opts.sinceSize === '0' ? 0 : parsePositiveInt('--since-size', opts.sinceSize)] : [];
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        await sealLog(node); // so that every record written so far is in the signed log
        const { plan, chunks } = await openExport(node, { from: opts.from, to: opts.to, sinceSizes });
        const partial = `${out}.partial`;
        try {
          await pipeline(Readable.from(chunks), createWriteStream(partial, { mode: 0o600 }));
          renameSync(partial, out);
        } catch (e) {
          rmSync(partial, { force: true });
          throw new OpenPrumError('internal', `Cannot write the export to ${out}: ${(e as Error).message}`, undefined, { cause: e });
        }
        printJson({
          out,
          treeSize: plan.head.treeSize,
          range: plan.range,
          entries: plan.range.to - plan.range.from,
          period: plan.period,
          unsealed: plan.unsealed,
          publicKey: `${node.config.dataDir}/keys/node-signing-key.pub.pem`,
          keyId: keyIdOf(node.keys.publicKey),
        });
      });
    });

  audit
    .command('verify')
    .description('Check an export offline against the node\'s public key; exits 1 when tampering, deletion or rewriting is found')
    .argument('<file>', 'the export (from openprum audit export or GET /v1/audit/export)')
    .requiredOption('--public-key <pem>', "the node's Ed25519 public key (keys/node-signing-key.pub.pem of its data directory)")
    .option('--trusted-head <file>', 'a head you trust (openprum audit head, an earlier export, a peer): the log must extend it (repeatable)', collect)
    .option('--witness <CC:pem>', "a peer's country and public key, to check its countersignatures (repeatable)", collect)
    .option('--json', 'print the report as JSON')
    .action((file: string, opts: { publicKey: string; trustedHead?: string[]; witness?: string[]; json?: boolean }) => {
      const publicKey = readPublicKey(opts.publicKey, 'public key');
      const witnesses = new Map<string, KeyObject>();
      for (const w of opts.witness ?? []) {
        const m = /^([A-Z]{2}):(.+)$/.exec(w);
        if (!m) throw new OpenPrumError('usage', `--witness is COUNTRY:KEY.pem such as DE:de.pub.pem, not ${JSON.stringify(w)}`);
        const key = readPublicKey(m[2] as string, 'witness key');
        witnesses.set(`${m[1]}/${keyIdOf(key)}`, key);
      }
      const trustedHeads = (opts.trustedHead ?? []).flatMap(readTrustedHeads);
      const report = verifyAuditExport(readJsonFile(file, 'export'), { publicKey, witnesses, trustedHeads });
      if (opts.json) printJson(report);
      else process.stdout.write(formatAuditReport(report));
      if (!report.ok) {
        throw new OpenPrumError('audit-verification-failed', `${report.findings.length} finding(s): the export is not the log the node signed (see the report)`);
      }
    });

  nodeOpts(audit.command('purge'))
    .description('Delete records older than two years with their log entries\' content (Art. 30(4)) and check results older than 18 months (Art. 30(5))')
    .action(async (opts: NodeOpts) => {
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        const r = await purgeExpiredRecords(node);
        if (r.anomalies.length > 0) say(`warning: ${r.anomalies.length} log entries had lost their record before the purge (kept as evidence): ${r.anomalies.slice(0, 20).join(', ')}`);
        printJson(r);
      });
    });

  nodeOpts(audit.command('erase'))
    .description('Erase records on an order of the data-protection authority (Directive (EU) 2016/680 Art. 16(2)); the erasure is recorded')
    .requiredOption('--record <id>', 'id of a record to erase (repeatable)', collect)
    .requiredOption('--order <reference>', "reference of the authority's decision")
    .requiredOption('--ordered-by <authority>', 'who ordered the erasure')
    .requiredOption('--reason <text>', 'why')
    .action(async (opts: NodeOpts & { record: string[]; order: string; orderedBy: string; reason: string }) => {
      const recordIds = opts.record.map((r) => parsePositiveInt('--record', r));
      await withNode(opts, { logLevel: 'silent' }, async (node) => {
        printJson(await eraseRecordsByOrder(node, { recordIds, order: opts.order, orderedBy: opts.orderedBy, reason: opts.reason }));
      });
    });
}
