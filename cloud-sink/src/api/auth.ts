// Bearer JWTs (HS256). A token carries `scope` (space-separated) and/or `role`; roles map to scope
// sets here so a role's meaning can change without reissuing tokens.
import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import { CloudError } from '../errors.js';

export const SCOPES = ['read:telemetry', 'read:fleet', 'write:rules', 'write:commands', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
export type Role = 'viewer' | 'operator' | 'admin';

export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  viewer: ['read:telemetry', 'read:fleet'],
  operator: ['read:telemetry', 'read:fleet', 'write:rules', 'write:commands'],
  admin: SCOPES,
};

export interface Principal {
  subject: string;
  scopes: Set<Scope>;
  /**
   * The token's `fleet` claim: the gateway ids it may see, or null for every gateway. Outside it a
   * device or gateway does not exist for this token (404, never 403: api/access.ts).
   */
  fleet: ReadonlySet<string> | null;
}

/** What the API needs of whatever checks its tokens. */
export interface Authenticator {
  verify(header: string | undefined): Promise<Principal>;
}

export class TokenAuthority implements Authenticator {
  private readonly key: Uint8Array;
  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(opts: { subject: string; role?: Role; scopes?: Scope[]; ttlSeconds: number }): Promise<string> {
    const claims: Record<string, string> = {};
    if (opts.role) claims.role = opts.role;
    if (opts.scopes?.length) claims.scope = opts.scopes.join(' ');
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(opts.subject)
      .setIssuedAt()
      .setIssuer('fieldline')
      .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlSeconds)
      .sign(this.key);
  }

  async verify(header: string | undefined): Promise<Principal> {
    if (!header) throw new CloudError('FL_ERR_AUTH_MISSING');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new CloudError('FL_ERR_AUTH_MISSING', 'expected "Authorization: Bearer <token>"');
    try {
      const { payload } = await jwtVerify(m[1]!, this.key, { algorithms: ['HS256'], issuer: 'fieldline' });
      const scopes = new Set<Scope>();
      if (typeof payload.role === 'string' && payload.role in ROLE_SCOPES) {
        for (const s of ROLE_SCOPES[payload.role as Role]) scopes.add(s);
      }
      if (typeof payload.scope === 'string') {
        for (const s of payload.scope.split(' ')) if ((SCOPES as readonly string[]).includes(s)) scopes.add(s as Scope);
      }
      return { subject: payload.sub ?? '', scopes, fleet: fleetClaim(payload.fleet) };
    } catch (err) {
      const detail = err instanceof joseErrors.JWTExpired ? 'token expired' : 'signature or claims invalid';
      throw new CloudError('FL_ERR_AUTH_INVALID', detail);
    }
  }
}

export function requireScope(p: Principal, scope: Scope): void {
  if (!p.scopes.has(scope) && !p.scopes.has('admin')) throw new CloudError('FL_ERR_AUTH_SCOPE', `needs ${scope}`);
}

/** The `fleet` claim: absent = every gateway; a list of gateway ids; anything else is refused, never read as "all". */
function fleetClaim(claim: unknown): ReadonlySet<string> | null {
  if (claim === undefined) return null;
  if (Array.isArray(claim) && claim.every((g) => typeof g === 'string')) return new Set(claim);
  throw new CloudError('FL_ERR_AUTH_INVALID', 'the fleet claim must be a list of gateway ids');
}
