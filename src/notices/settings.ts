/**
 * Which node is the federation's secretariat for notices and diffusions: the node whose federation
 * certificate names the secretariat's state code. The code is `IP` unless federation.json says
 * otherwise (`"secretariat": "XX"`); every node of a federation must use the same code. Since the
 * federation CA alone issues certificates, it decides which node holds that code: a node cannot make
 * itself the secretariat, and a message that claims a secretariat act is believed only when it is
 * signed by the node of that code (see peer.ts).
 */
import type { Federation } from '../exchange/federation.ts';
import { readFederationConfig } from '../exchange/federation-config.ts';
import type { ExchangeContext } from '../exchange/context.ts';
import { OpenPrumError } from '../errors/index.ts';

export const DEFAULT_SECRETARIAT = 'IP';

const cache = new WeakMap<object, string>();

/** The secretariat's state code as this node is configured (read once per started federation). */
export function secretariatOf(ctx: ExchangeContext): string {
  const known = cache.get(ctx);
  if (known) return known;
  const dir = (ctx as Partial<Pick<Federation, 'dir'>>).dir;
  const code = (typeof dir === 'string' ? readFederationConfig(dir).secretariat : undefined) ?? DEFAULT_SECRETARIAT;
  cache.set(ctx, code);
  return code;
}

export function isSecretariat(ctx: ExchangeContext): boolean {
  return ctx.country === secretariatOf(ctx);
}

/** Throws notice-not-secretariat unless this node is the secretariat. */
export function requireSecretariat(ctx: ExchangeContext, what: string): void {
  const s = secretariatOf(ctx);
  if (ctx.country !== s) {
    throw new OpenPrumError('notice-not-secretariat', `${what} is for the secretariat (the node of ${s}); this is the node of ${ctx.country}`, { secretariat: s });
  }
}
