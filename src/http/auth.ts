/**
 * Authentication (bearer API tokens) and authorisation (roles) of API calls. A call by an
 * authenticated officer who lacks the role is refused with 403 and the refusal is recorded.
 */
import type { FastifyRequest } from 'fastify';
import { OpenPrumError } from '../errors/index.ts';
import { requireRole, type OfficerCaller } from '../identity/caller.ts';
import type { Role } from '../identity/roles.ts';
import type { NodeContext } from '../node/node.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: OfficerCaller;
  }
  interface FastifyContextConfig {
    /** Roles that may call the route; absent: public. An empty list: any authenticated caller. */
    roles?: readonly Role[];
  }
}

export async function authenticate(node: NodeContext, request: FastifyRequest): Promise<OfficerCaller> {
  const header = request.headers.authorization;
  if (!header) throw new OpenPrumError('unauthenticated', 'Send an API token: Authorization: Bearer <token>');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new OpenPrumError('unauthenticated', 'The Authorization header must be "Bearer <token>"');
  return node.officers.authenticate(m[1]!);
}

/** preHandler: authenticates when the route declares roles, then checks them. */
export function authorise(node: NodeContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const roles = request.routeOptions.config.roles;
    if (roles === undefined) return;
    request.caller = await authenticate(node, request);
    if (roles.length > 0) requireRole(request.caller, ...roles);
  };
}
