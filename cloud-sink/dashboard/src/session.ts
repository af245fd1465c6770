// The operator's token, kept for this tab only (sessionStorage: closing the tab signs out), and
// what the dashboard shows of it. The claims are decoded, not verified: the API verifies every call.

const TOKEN_KEY = 'fieldline.token';
const REASON_KEY = 'fieldline.signout-reason';

export interface Claims {
  subject: string;
  role: string | null;
  scopes: string[];
  /** Seconds since the epoch, or null for a token without `exp`. */
  exp: number | null;
  fleet: string[] | null;
}

const ROLE_SCOPES: Record<string, string[]> = {
  viewer: ['read:telemetry', 'read:fleet'],
  operator: ['read:telemetry', 'read:fleet', 'write:rules', 'write:commands'],
  admin: ['read:telemetry', 'read:fleet', 'write:rules', 'write:commands', 'admin'],
};

function base64UrlDecode(part: string): string {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The claims of a JWT, or an error message saying why it is not one. */
export function decodeToken(token: string): Claims | string {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) return 'not a JWT: expected three dot-separated parts';
  let payload: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(base64UrlDecode(parts[1]));
    if (typeof parsed !== 'object' || parsed === null) return 'the token payload is not a JSON object';
    payload = parsed as Record<string, unknown>;
  } catch {
    return 'the token payload is not base64url JSON';
  }
  const role = typeof payload.role === 'string' ? payload.role : null;
  const scopes = new Set<string>(role ? (ROLE_SCOPES[role] ?? []) : []);
  if (typeof payload.scope === 'string') for (const s of payload.scope.split(' ')) if (s) scopes.add(s);
  return {
    subject: typeof payload.sub === 'string' ? payload.sub : '',
    role,
    scopes: [...scopes],
    exp: typeof payload.exp === 'number' ? payload.exp : null,
    fleet: Array.isArray(payload.fleet) ? payload.fleet.filter((g): g is string => typeof g === 'string') : null,
  };
}

export function can(claims: Claims | null, scope: string): boolean {
  return claims !== null && (claims.scopes.includes(scope) || claims.scopes.includes('admin'));
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  sessionStorage.removeItem(REASON_KEY);
}

/** Forgets the token; `reason` is shown on the login screen. */
export function clearToken(reason?: string): void {
  sessionStorage.removeItem(TOKEN_KEY);
  if (reason) sessionStorage.setItem(REASON_KEY, reason);
  else sessionStorage.removeItem(REASON_KEY);
}

export function signoutReason(): string | null {
  return sessionStorage.getItem(REASON_KEY);
}
