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

export type Caller = OfficerCaller;

export function hasRole(caller: Caller, role: Role): boolean {
  return caller.roles.includes(role);
}

/** Throws `forbidden` unless the caller holds one of the roles. The HTTP layer records the refusal. */
export function requireRole(caller: Caller, ...roles: Role[]): void {
  if (!roles.some((r) => hasRole(caller, r))) {
    throw new OpenPrumError('forbidden', `This needs the role ${roles.map((r) => `'${r}'`).join(' or ')}; officer ${caller.reference} holds ${caller.roles.join(', ')}`, {
      required: roles,
    });
  }
}
