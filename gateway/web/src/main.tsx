// The commissioning page: one page served by the gateway at `/`, tabs in the hash (#/overview,
// #/cloud, #/mqtt, #/modbus, #/quarantine) so the gateway serves a single index.html.
import './app.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, clearToken, describe, saveToken, setUnauthorizedHandler, storedToken, type Status } from './api';
import { duration } from './format';
import { usePolling } from './poll';
import { Badge, StateBadge } from './ui';
import { CloudSettings } from './views/cloud';
import { Modbus } from './views/modbus';
import { MqttClients } from './views/mqtt';
import { Overview } from './views/overview';
import { Quarantine } from './views/quarantine';

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'cloud', label: 'Cloud & identity' },
  { id: 'mqtt', label: 'MQTT clients' },
  { id: 'modbus', label: 'Modbus' },
  { id: 'quarantine', label: 'Quarantine' },
] as const;
type TabId = (typeof TABS)[number]['id'];

function parseTab(hash: string): TabId {
  const id = hash.replace(/^#\/?/, '').split('/')[0];
  return TABS.find((t) => t.id === id)?.id ?? 'overview';
}

function useTab(): TabId {
  const [tab, setTab] = useState(() => parseTab(location.hash));
  useEffect(() => {
    const on = (): void => setTab(parseTab(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return tab;
}

function Login({ reason, onIn }: { reason: string | null; onIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    saveToken(token.trim());
    try {
      await api('GET', '/status');
      onIn();
    } catch (err) {
      clearToken();
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Fieldline gateway</h1>
      <p>Enter the gateway's local admin token (<code>api.adminToken</code> in its config file, or the token it logged at start-up).</p>
      {reason && <p class="error" role="alert">Signed out: {reason}</p>}
      <form onSubmit={(e) => void submit(e)}>
        <label class="field">
          <span class="label">Admin token</span>
          <input name="token" type="password" autocomplete="current-password" value={token} onInput={(e) => setToken(e.currentTarget.value)} required autofocus />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="actions">
          <button type="submit" disabled={busy || token.trim() === ''}>Sign in</button>
        </div>
      </form>
      <p class="hint">The token is kept for this browser tab only and sent with each request to this gateway.</p>
    </main>
  );
}

function Header({ onOut }: { onOut: () => void }) {
  // A light poll of its own, so the header shows who this is from any tab.
  const s = usePolling(() => api<Status>('GET', '/status'), 5_000);
  const link = s.data?.cloud.link;
  return (
    <header class="top">
      <span class="brand">Fieldline gateway</span>
      <span class="gw-id" data-testid="header-gateway">{s.data ? s.data.gatewayId : '…'}</span>
      {s.data && <span class="muted-light">v{s.data.version} · up {duration(s.data.uptimeS * 1000)}</span>}
      {link && (
        <span class="header-link">
          cloud <StateBadge state={link} />
        </span>
      )}
      {s.error && <Badge tone="bad">gateway unreachable</Badge>}
      <button type="button" class="secondary" onClick={onOut}>Sign out</button>
    </header>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(() => storedToken() !== null);
  const [reason, setReason] = useState<string | null>(null);
  const tab = useTab();
  useEffect(() => {
    setUnauthorizedHandler((why) => {
      setReason(why);
      setSignedIn(false);
    });
  }, []);
  if (!signedIn) {
    return (
      <Login
        reason={reason}
        onIn={() => {
          setReason(null);
          setSignedIn(true);
        }}
      />
    );
  }
  const signOut = (): void => {
    clearToken();
    setReason(null);
    setSignedIn(false);
  };
  return (
    <div class="shell">
      <Header onOut={signOut} />
      <nav class="tabs" aria-label="Sections">
        {TABS.map((t) => (
          <a key={t.id} href={`#/${t.id}`} aria-current={tab === t.id ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      <main>
        {tab === 'overview' && <Overview />}
        {tab === 'cloud' && <CloudSettings />}
        {tab === 'mqtt' && <MqttClients />}
        {tab === 'modbus' && <Modbus />}
        {tab === 'quarantine' && <Quarantine />}
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
