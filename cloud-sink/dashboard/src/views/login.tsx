// Sign in: paste a token (its claims are shown before it is used), or SSO when the API has a
// provider configured (GET /v1/auth/oidc; the button is hidden when that answers 404).
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { fetchOidcConfig, finishSso, startSso, type OidcConfig } from '../oidc';
import { clearToken, decodeToken, signoutReason, storeToken, type Claims } from '../session';

export function Login(props: { onSignedIn: (c: Claims) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(signoutReason());
  const [oidc, setOidc] = useState<OidcConfig | null>(null);
  const [busy, setBusy] = useState(false);
  const decoded = text.trim() ? decodeToken(text) : null;

  const signIn = async (token: string): Promise<void> => {
    const claims = decodeToken(token);
    if (typeof claims === 'string') {
      setError(claims);
      return;
    }
    if (claims.exp !== null && claims.exp * 1000 < Date.now()) {
      setError('this token has expired');
      return;
    }
    setBusy(true);
    storeToken(token);
    try {
      // One call proves the API takes the token before any view is shown.
      await api('GET', claims.scopes.includes('read:fleet') || claims.scopes.includes('admin') ? '/v1/gateways?status=offline' : '/v1/devices');
      props.onSignedIn(claims);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) clearToken();
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    void fetchOidcConfig().then(setOidc);
    void finishSso().then((r) => {
      if (r === null) return;
      if ('error' in r) setError(r.error);
      else void signIn(r.token);
    });
  }, []);

  return (
    <main class="login">
      <h1>Fieldline</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void signIn(text);
        }}
      >
        <label for="token">API token</label>
        <textarea id="token" name="token" rows={5} spellcheck={false} autocomplete="off" placeholder="eyJhbGciOi…" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        {decoded && typeof decoded !== 'string' && (
          <dl class="claims" aria-label="Token claims">
            <dt>Subject</dt>
            <dd>{decoded.subject || '—'}</dd>
            <dt>Role</dt>
            <dd>{decoded.role ?? '—'}</dd>
            <dt>Scopes</dt>
            <dd>{decoded.scopes.join(' ') || '—'}</dd>
            <dt>Expires</dt>
            <dd>{decoded.exp ? new Date(decoded.exp * 1000).toISOString() : 'never'}</dd>
            {decoded.fleet && (
              <>
                <dt>Fleet</dt>
                <dd>{decoded.fleet.join(', ')}</dd>
              </>
            )}
          </dl>
        )}
        {typeof decoded === 'string' && <p class="error">{decoded}</p>}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" disabled={busy || !text.trim()}>
            Sign in
          </button>
          {oidc && (
            <button type="button" class="secondary" onClick={() => void startSso(oidc)}>
              Sign in with SSO
            </button>
          )}
        </div>
      </form>
      <p class="hint">
        A token comes from <code>fieldline-cloud token --role operator</code> or from <code>npm run demo</code>. It is kept in this tab only.
      </p>
    </main>
  );
}
