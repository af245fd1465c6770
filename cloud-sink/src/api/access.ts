// Who may see what: the route guard that checks a token's scope and keeps its principal on the
// request, and the `fleet` claim's filter. A device or gateway outside the token's fleet answers
// 404 like one that does not exist, so a token cannot probe another fleet's ids (DESIGN.md "Cloud API").
import type { FastifyRequest } from 'fastify';
import { CloudError } from '../errors.js';
import { requireScope, type Authenticator, type Principal, type Scope } from './auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `guard` before the handler runs. */
    principal?: Principal;
    /** The one verification of this request's Authorization header (verifyOnce). */
    verification?: Promise<Principal>;
  }
}

/**
 * Verifies the request's bearer token once, however many hooks ask: the rate limiter keys on the
 * principal before the route's guard runs, and a second JWKS signature check would double the cost.
 */
export function verifyOnce(req: FastifyRequest, auth: Authenticator): Promise<Principal> {
  if (!req.verification) {
    req.verification = auth.verify(req.headers.authorization);
    // A hook that only peeks (the limiter) must not leave a rejection unhandled.
    req.verification.catch(() => {});
  }
  return req.verification;
}

/** An onRequest hook: 401 without a valid token, 403 without the scope; keeps the principal on the request. */
export function guard(auth: Authenticator, scope: Scope) {
  return async (req: FastifyRequest): Promise<void> => {
    const p = await verifyOnce(req, auth);
    requireScope(p, scope);
    req.principal = p;
  };
}

/** The principal `guard` stored; a route without a guard has none, which is a programming error. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new Error(`route ${req.routeOptions.url ?? req.url} has no guard`);
  return req.principal;
}

/** Whether the principal may see the gateway (and the devices behind it). */
export function seesGateway(p: Principal, gatewayId: string | null | undefined): boolean {
  return p.fleet === null || (gatewayId !== null && gatewayId !== undefined && p.fleet.has(gatewayId));
}

/** The gateway ids to limit a query to, or null for no limit: `WHERE gateway_id = ANY($n)` when not null. */
export function fleetFilter(p: Principal): string[] | null {
  return p.fleet === null ? null : [...p.fleet];
}

/** 404 for a gateway outside the fleet, exactly as for one that does not exist. */
export function assertGatewayVisible(p: Principal, gatewayId: string): void {
  if (!seesGateway(p, gatewayId)) throw new CloudError('FL_ERR_API_GATEWAY_NOT_FOUND', gatewayId);
}
