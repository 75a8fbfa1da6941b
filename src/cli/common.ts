/** Helpers shared by the CLI commands: resolving the node, printing results and errors. */
import { resolve } from 'node:path';
import { OpenPrumError } from '../errors/index.ts';
import { checkCountry, defaultDataDir, loadConfig, type ConfigOverrides } from '../node/config.ts';
import { openNode, type NodeContext } from '../node/node.ts';

export interface NodeFlags {
  readonly dataDir?: string;
  readonly country?: string;
}

/** --data-dir, or ./var/<country> from --country. */
export function resolveDataDir(flags: NodeFlags): string {
  if (flags.dataDir) return resolve(flags.dataDir);
  if (flags.country) return defaultDataDir(checkCountry(flags.country));
  throw new OpenPrumError('usage', 'Say which node: --data-dir DIR, or --country XX for ./var/XX');
}

export async function withNode<T>(flags: NodeFlags, overrides: ConfigOverrides, run: (node: NodeContext) => Promise<T>): Promise<T> {
  const node = await openNode(loadConfig(resolveDataDir(flags), overrides));
  try {
    return await run(node);
  } finally {
    await node.close();
  }
}

/** Results go to stdout as JSON (one document), so that scripts can read them. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Progress and messages for people go to stderr, never mixed into results. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function parsePositiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new OpenPrumError('usage', `${name} must be a positive whole number, not ${JSON.stringify(value)}`);
  return n;
}

/** "30d", "12h", "90m" → milliseconds. */
export function parseDuration(name: string, value: string): number {
  const m = /^([1-9][0-9]{0,5})([dhm])$/.exec(value);
  if (!m) throw new OpenPrumError('usage', `${name} is a duration such as 30d, 12h or 90m, not ${JSON.stringify(value)}`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm'];
  return Number(m[1]) * unit;
}
