// The operators' dashboard: one page, client-side routes in the hash (#/gateways, #/gateways/ID,
// #/devices/ID, #/alerts, #/rules) so the API serves a single index.html.
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { setUnauthorizedHandler } from './api';
import { clearToken, decodeToken, storedToken, type Claims } from './session';
import { Alerts } from './views/alerts';
import { Device } from './views/device';
import { Fleet } from './views/fleet';
import { Gateway } from './views/gateway';
import { Login } from './views/login';
import { Rules } from './views/rules';

type Route = { view: 'gateways' } | { view: 'gateway'; id: string } | { view: 'device'; id: string } | { view: 'alerts' } | { view: 'rules' };

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map((p) => decodeURIComponent(p));
  const [head, id] = parts;
  if (head === 'gateways' && id) return { view: 'gateway', id };
  if (head === 'devices' && id) return { view: 'device', id };
  if (head === 'alerts') return { view: 'alerts' };
  if (head === 'rules') return { view: 'rules' };
  return { view: 'gateways' };
}

function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function currentClaims(): Claims | null {
  const t = storedToken();
  if (!t) return null;
  const c = decodeToken(t);
  return typeof c === 'string' ? null : c;
}

function App() {
  const [claims, setClaims] = useState<Claims | null>(currentClaims);
  const route = useHashRoute();

  useEffect(() => {
    setUnauthorizedHandler(() => setClaims(null));
  }, []);

  if (!claims) return <Login onSignedIn={setClaims} />;

  const signOut = (): void => {
    clearToken();
    setClaims(null);
  };
  const active = route.view === 'gateway' || route.view === 'device' ? 'gateways' : route.view;
  const expires = claims.exp ? new Date(claims.exp * 1000).toISOString().replace('T', ' ').slice(0, 16) + 'Z' : 'never';
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Fieldline</span>
        <nav aria-label="Main">
          <a href="#/gateways" aria-current={active === 'gateways' ? 'page' : undefined}>Fleet</a>
          <a href="#/alerts" aria-current={active === 'alerts' ? 'page' : undefined}>Alerts</a>
          <a href="#/rules" aria-current={active === 'rules' ? 'page' : undefined}>Rules</a>
        </nav>
        <span class="who" title={`scopes: ${claims.scopes.join(' ')}`}>
          {claims.subject || 'unknown'} · {claims.role ?? 'custom scopes'} · expires {expires}
        </span>
        <button type="button" class="secondary" onClick={signOut}>Sign out</button>
      </header>
      <main>
        {route.view === 'gateways' && <Fleet />}
        {route.view === 'gateway' && <Gateway id={route.id} />}
        {route.view === 'device' && <Device id={route.id} claims={claims} />}
        {route.view === 'alerts' && <Alerts claims={claims} />}
        {route.view === 'rules' && <Rules claims={claims} />}
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
