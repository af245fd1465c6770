// "Sign in with SSO": the OAuth 2.0 authorization code flow with PKCE (RFC 7636), all in the
// browser, against the provider GET /v1/auth/oidc names. No client secret: the dashboard is a public
// client, and the code verifier is what proves the code was asked for by this tab.

export interface OidcConfig {
  authorization_url: string;
  token_url: string;
  client_id: string;
  scope: string;
}

const PENDING_KEY = 'fieldline.oidc';

function base64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(32)));
}

function redirectUri(): string {
  return `${location.origin}/`;
}

/** The provider's settings, or null when the API has no SSO configured (404) or cannot say. */
export async function fetchOidcConfig(): Promise<OidcConfig | null> {
  try {
    const res = await fetch('/v1/auth/oidc', { headers: { accept: 'application/json' } });
    if (!res.ok) return null;
    const body = (await res.json()) as Partial<OidcConfig>;
    if (!body.authorization_url || !body.token_url || !body.client_id) return null;
    return { authorization_url: body.authorization_url, token_url: body.token_url, client_id: body.client_id, scope: body.scope ?? 'openid' };
  } catch {
    return null;
  }
}

/** Sends the browser to the provider; it comes back to `/?code=…&state=…`. */
export async function startSso(cfg: OidcConfig): Promise<void> {
  const verifier = randomString();
  const state = randomString();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, token_url: cfg.token_url, client_id: cfg.client_id }));
  const url = new URL(cfg.authorization_url);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', cfg.client_id);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('scope', cfg.scope);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', base64Url(digest));
  url.searchParams.set('code_challenge_method', 'S256');
  location.assign(url.toString());
}

/**
 * On the way back from the provider: trades the code for a token. Returns the token, an error
 * message, or null when this page load is not a return from the provider.
 */
export async function finishSso(): Promise<{ token: string } | { error: string } | null> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return null;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (error) return { error: `the identity provider said: ${params.get('error_description') ?? error}` };
  if (!raw) return { error: 'no sign-in was started from this tab' };
  const pending = JSON.parse(raw) as { verifier: string; state: string; token_url: string; client_id: string };
  if (params.get('state') !== pending.state) return { error: 'the sign-in answer does not match the request (state)' };
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: code!,
    redirect_uri: redirectUri(),
    client_id: pending.client_id,
    code_verifier: pending.verifier,
  });
  try {
    const res = await fetch(pending.token_url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!res.ok || !body.access_token) return { error: `token exchange failed: ${body.error_description ?? body.error ?? res.status}` };
    return { token: body.access_token };
  } catch (err) {
    return { error: `token exchange failed: ${(err as Error).message}` };
  }
}
