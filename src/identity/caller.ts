import { OpenPrumError } from '../errors/index.ts';
import type { Role } from './roles.ts';

/** Who is asking: an authenticated officer of this node. (Peer nodes join in the federation.) */
export interface OfficerCaller {
  readonly kind: 'officer';
  readonly officerId: number;
  readonly reference: string;
  readonly name: string;
  readonly roles: readonly Role[];
  readonly tokenId: number;
}

/**
 * Another state's national contact point, authenticated by its federation certificate (mutual TLS)
 * and its signature on the message. It holds no officer roles: what it may search is what this node
 * declared open to it (Prüm Decision Arts. 2(3), 12 and 36).
 */
export interface PeerCaller {
  readonly kind: 'peer';
  /** The state its certificate names (the searching body, Art. 30(2)(b)(iii)). */
  readonly country: string;
  /** SHA-256 fingerprint of the certificate it presented. */
  readonly certificateFingerprint: string;
}

export type Caller = OfficerCaller | PeerCaller;

export function hasRole(caller: Caller, role: Role): boolean {
  return caller.kind === 'officer' && caller.roles.includes(role);
}

/** Throws `forbidden` unless the caller holds one of the roles. The HTTP layer records the refusal. */
export function requireRole(caller: Caller, ...roles: Role[]): void {
  if (!roles.some((r) => hasRole(caller, r))) {
    const who = caller.kind === 'officer' ? `officer ${caller.reference} holds ${caller.roles.join(', ')}` : `the node of ${caller.country} holds no officer role`;
    throw new OpenPrumError('forbidden', `This needs the role ${roles.map((r) => `'${r}'`).join(' or ')}; ${who}`, {
      required: roles,
    });
  }
}
