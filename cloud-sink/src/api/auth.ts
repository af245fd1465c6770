// Bearer JWTs. Two kinds of key, chosen by the token's header `alg` against a pinned list: HS256
// with the configured secret (dev tokens from `fieldline-cloud token`), and RS256/ES256 from a
// JWKS URL (an OIDC provider such as Keycloak, keys rotated by `kid`). A token whose `alg` is not
// pinned is refused before any key is looked at, so `alg: none` and an HS256 token "signed" with
// an RSA public key (the algorithm-confusion attack) never reach a verifier that could take them.
//
// Claims: `sub` (required), `scope` (space-separated) or `scp` (array, as some providers send),
// a role (viewer / operator / admin, from `role` or a configured claim path such as Keycloak's
// `realm_access.roles`; roles map to scope sets here so a role's meaning can change without
// reissuing tokens) and `fleet` (gateway ids; absent: every gateway; []: none).
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
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

/** Algorithms a JWKS key may sign with. HS256 is never among them: it belongs to the secret alone. */
export const JWKS_ALGORITHMS = ['RS256', 'ES256'] as const;
export type JwksAlgorithm = (typeof JWKS_ALGORITHMS)[number];

export interface JwksOptions {
  url: string;
  /** The pinned subset of JWKS_ALGORITHMS. */
  algorithms: readonly JwksAlgorithm[];
  /** One fetch of the key set, connect to last byte. */
  timeoutMs?: number;
  /** Least time between two fetches: a flood of tokens with unknown `kid`s costs one fetch per cooldown. */
  cooldownMs?: number;
  /** Keys older than this are fetched again even when every `kid` matches. */
  cacheMaxAgeMs?: number;
}

export interface TokenAuthorityOptions {
  /** The HS256 secret (at least 32 characters); without it only JWKS tokens are accepted, and none can be issued. */
  secret?: string | undefined;
  issuer?: string;
  /** Checked when set; issued tokens carry it. */
  audience?: string | undefined;
  jwks?: JwksOptions | undefined;
  /** Dotted path of the role claim: `role`, or `realm_access.roles` for Keycloak realm roles. */
  roleClaim?: string;
  /** Leeway for `exp`, `nbf` and `iat` against this host's clock. */
  clockToleranceS?: number;
}

export interface IssueOptions {
  subject: string;
  role?: Role | undefined;
  scopes?: readonly Scope[] | undefined;
  /** Gateway ids; omitted: every gateway. */
  fleet?: readonly string[] | undefined;
  ttlSeconds: number;
  /** Default: the authority's audience. */
  audience?: string | undefined;
}

export class TokenAuthority implements Authenticator {
  private readonly secret: Uint8Array | null;
  private readonly jwks: JWTVerifyGetKey | null;
  private readonly jwksAlgorithms: readonly string[];
  private readonly issuer: string;
  private readonly audience: string | undefined;
  private readonly rolePath: string[];
  private readonly clockTolerance: number;

  constructor(opts: string | TokenAuthorityOptions) {
    const o: TokenAuthorityOptions = typeof opts === 'string' ? { secret: opts } : opts;
    if (o.secret !== undefined && o.secret.length < 32) {
      // An empty or short HMAC key is guessable offline from any one token it signed.
      throw new Error('the HS256 secret must be at least 32 characters');
    }
    this.secret = o.secret === undefined ? null : new TextEncoder().encode(o.secret);
    this.jwksAlgorithms = o.jwks ? o.jwks.algorithms.filter((a) => (JWKS_ALGORITHMS as readonly string[]).includes(a)) : [];
    if (o.jwks && this.jwksAlgorithms.length === 0) throw new Error('jwks.algorithms holds none of RS256, ES256');
    this.jwks = o.jwks
      ? createRemoteJWKSet(new URL(o.jwks.url), {
          timeoutDuration: o.jwks.timeoutMs ?? 5_000,
          cooldownDuration: o.jwks.cooldownMs ?? 30_000,
          cacheMaxAge: o.jwks.cacheMaxAgeMs ?? 600_000,
        })
      : null;
    if (!this.secret && !this.jwks) throw new Error('a token authority needs a secret, a JWKS URL or both');
    this.issuer = o.issuer ?? 'fieldline';
    this.audience = o.audience;
    this.rolePath = (o.roleClaim ?? 'role').split('.');
    this.clockTolerance = o.clockToleranceS ?? 30;
  }

  /** Signs an HS256 token with the secret; throws when there is none. */
  async issue(opts: IssueOptions): Promise<string> {
    if (!this.secret) throw new Error('no HS256 secret is configured, so this authority cannot issue tokens');
    const claims: Record<string, unknown> = {};
    if (opts.role) claims.role = opts.role;
    if (opts.scopes?.length) claims.scope = opts.scopes.join(' ');
    if (opts.fleet) claims.fleet = [...opts.fleet];
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(opts.subject)
      .setIssuedAt()
      .setIssuer(this.issuer)
      .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlSeconds);
    const audience = opts.audience ?? this.audience;
    if (audience !== undefined) jwt.setAudience(audience);
    return jwt.sign(this.secret);
  }

  async verify(header: string | undefined): Promise<Principal> {
    if (!header) throw new CloudError('FL_ERR_AUTH_MISSING');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new CloudError('FL_ERR_AUTH_MISSING', 'expected "Authorization: Bearer <token>"');
    return this.verifyToken(m[1]!);
  }

  /** Checks a bare token (the WebSocket route takes one from its query string). */
  async verifyToken(token: string): Promise<Principal> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw invalid('malformed token');
    }
    const verifyOpts = {
      issuer: this.issuer,
      clockTolerance: this.clockTolerance,
      requiredClaims: ['sub', 'exp'],
      ...(this.audience !== undefined ? { audience: this.audience } : {}),
    };
    let payload: JWTPayload;
    let fromJwks = false;
    try {
      if (alg === 'HS256' && this.secret) {
        ({ payload } = await jwtVerify(token, this.secret, { ...verifyOpts, algorithms: ['HS256'] }));
      } else if (typeof alg === 'string' && this.jwks && this.jwksAlgorithms.includes(alg)) {
        fromJwks = true;
        ({ payload } = await jwtVerify(token, this.jwks, { ...verifyOpts, algorithms: [...this.jwksAlgorithms] }));
      } else {
        // Never echo the attacker's header back beyond a short, printable name.
        const shown = typeof alg === 'string' && /^[A-Za-z0-9]{1,10}$/.test(alg) ? alg : 'this';
        throw invalid(`${shown} algorithm is not accepted`);
      }
    } catch (err) {
      throw refusal(err, fromJwks);
    }
    return this.principal(payload);
  }

  private principal(payload: JWTPayload): Principal {
    if (typeof payload.sub !== 'string' || payload.sub === '') throw invalid('sub claim missing');
    const scopes = new Set<Scope>();
    for (const role of strings(claimAt(payload, this.rolePath))) {
      if (Object.hasOwn(ROLE_SCOPES, role)) for (const s of ROLE_SCOPES[role as Role]) scopes.add(s);
    }
    const named = [...strings(payload.scope).flatMap((s) => s.split(' ')), ...strings(payload.scp)];
    for (const s of named) if ((SCOPES as readonly string[]).includes(s)) scopes.add(s as Scope);
    let fleet: Set<string> | null = null;
    if (payload.fleet !== undefined) {
      if (!Array.isArray(payload.fleet) || !payload.fleet.every((g) => typeof g === 'string')) {
        // A malformed fleet must not widen to "every gateway".
        throw invalid('fleet claim must be an array of gateway ids');
      }
      fleet = new Set(payload.fleet as string[]);
    }
    return { subject: payload.sub, scopes, fleet };
  }
}

export function requireScope(p: Principal, scope: Scope): void {
  if (!p.scopes.has(scope) && !p.scopes.has('admin')) throw new CloudError('FL_ERR_AUTH_SCOPE', `needs ${scope}`);
}

function invalid(reason: string): CloudError {
  return new CloudError('FL_ERR_AUTH_INVALID', reason);
}

/** A short reason for each way jose refuses a token; none repeats any part of the token. */
function refusal(err: unknown, fromJwks: boolean): CloudError {
  if (err instanceof CloudError) return err;
  if (err instanceof joseErrors.JWTExpired) return invalid('token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const reasons: Record<string, string> = { iss: 'wrong issuer', aud: 'wrong audience', nbf: 'token not yet valid', iat: 'issued in the future', sub: 'sub claim missing', exp: 'exp claim missing' };
    return invalid(reasons[err.claim] ?? `${err.claim} claim invalid`);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalid('no key in the key set matches the token');
  if (err instanceof joseErrors.JWKSTimeout) return new CloudError('FL_ERR_AUTH_KEYS_UNAVAILABLE', 'the key set did not answer in time');
  if (err instanceof joseErrors.JWKSInvalid || (err instanceof joseErrors.JOSEError && /JSON Web Key Set HTTP response/.test(err.message))) {
    // A bad answer from the provider (an error status, not JSON, no `keys`) is its fault, not the token's.
    return new CloudError('FL_ERR_AUTH_KEYS_UNAVAILABLE', 'the key set could not be read');
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('signature invalid');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalid('algorithm is not accepted');
  if (err instanceof joseErrors.JOSEError || !fromJwks) return invalid('malformed token');
  // The key set could not be fetched at all (connection refused, DNS).
  return new CloudError('FL_ERR_AUTH_KEYS_UNAVAILABLE', 'the key set could not be fetched');
}

function claimAt(payload: JWTPayload, path: readonly string[]): unknown {
  let v: unknown = payload;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
