// The dashboard's files as the API serves them (api/dashboard-routes.ts) from what `npm run build`
// wrote to dist/dashboard: content types, caching, a strict Content-Security-Policy, nothing loaded
// from another origin, and a clear 503 when the dashboard was not built.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_DASHBOARD_DIR } from '../../cloud-sink/src/api/dashboard-routes.js';
import { TokenAuthority } from '../../cloud-sink/src/api/auth.js';
import { buildApi, type ApiDeps } from '../../cloud-sink/src/api/server.js';
import type { Store } from '../../cloud-sink/src/store/store.js';

/** XML namespace names in Preact's DOM code: identifiers, never fetched. */
const NAMESPACES = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/XML/1998/namespace']);

function api(dashboardDir?: string, extra: Partial<ApiDeps> = {}): FastifyInstance {
  return buildApi({
    // The dashboard's routes touch no store; the API's other routes are not called here.
    store: {} as Store,
    auth: new TokenAuthority('dashboard-serve-test-secret-0123456789'),
    maxLimit: 1000,
    health: () => ({ ok: true, detail: {} }),
    metrics: async () => '',
    ...(dashboardDir ? { dashboard: { dir: dashboardDir } } : {}),
    ...extra,
  });
}

describe('the dashboard served at /', () => {
  let app: FastifyInstance;
  before(async () => {
    assert.ok(existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html')), `${DEFAULT_DASHBOARD_DIR} is built (npm run build runs scripts/build-dashboard.mjs)`);
    app = api();
    await app.ready();
  });
  after(async () => app?.close());

  it('serves index.html with no token, revalidated on every load, under a CSP that allows scripts and styles from its own origin only', async () => {
    const res = await app.inject({ method: 'GET', url: '/', headers: { host: 'ops.example.com:8090' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-cache');
    const csp = String(res.headers['content-security-policy']);
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), `${d} in ${csp}`);
    assert.match(csp, /connect-src 'self' ws:\/\/ops\.example\.com:8090 wss:\/\/ops\.example\.com:8090(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    // No inline script: the one <script> has a src on this origin.
    const scripts = [...res.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0]![1]!, /src="\/assets\/app-[A-Z0-9]+\.js"/);
    assert.equal(scripts[0]![2]!.trim(), '');
    assert.doesNotMatch(res.body, /\sstyle=|\son[a-z]+=/i, 'no inline style or event handler attributes');
  });

  it('serves the hashed script and stylesheet it names with their content types, cached for a year, under the same CSP', async () => {
    const page = (await app.inject({ method: 'GET', url: '/' })).body;
    const assets = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(assets.map((a) => a.replace(/-[A-Z0-9]+\./, '-HASH.')).sort(), ['/assets/app-HASH.css', '/assets/app-HASH.js']);
    for (const url of assets) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], url.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.match(String(res.headers['content-security-policy']), /^default-src 'self'/);
      assert.ok(res.body.length > 1000, `${url} has content`);
    }
  });

  it('answers 404 for an unknown or path-like asset name, and keeps the static files out of the OpenAPI document', async () => {
    for (const url of ['/assets/nope-123.js', '/assets/..%2F..%2Fpackage.json', '/assets/app.exe']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().error.code, 'FL_ERR_API_NOT_FOUND');
    }
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    assert.ok(!('/' in doc.paths) && !('/assets/{name}' in doc.paths), Object.keys(doc.paths).join(', '));
  });

  it('the built files name no other origin: every asset is local (no CDN, no web fonts)', () => {
    const files = [join(DEFAULT_DASHBOARD_DIR, 'index.html'), ...readdirSync(join(DEFAULT_DASHBOARD_DIR, 'assets')).map((f) => join(DEFAULT_DASHBOARD_DIR, 'assets', f))];
    const external: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const [url] of text.matchAll(/(?:https?:)?\/\/[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'`)]*/g)) {
        if (!NAMESPACES.has(url)) external.push(`${url} in ${f}`);
      }
      assert.doesNotMatch(text, /@import|@font-face/, `${f} imports no stylesheet or font`);
    }
    assert.deepEqual(external, []);
  });
});

describe('the dashboard with an SSO login configured', () => {
  it("adds the provider's token endpoint origin to connect-src, since the browser trades the code there itself", async () => {
    const app = api(undefined, {
      oidc: { authorizationUrl: 'https://sso.example.com/auth', tokenUrl: 'https://sso.example.com:8443/realms/ops/token', clientId: 'fieldline-dashboard', scope: 'openid' },
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/', headers: { host: 'ops.example.com' } });
      assert.match(String(res.headers['content-security-policy']), /connect-src 'self' ws:\/\/ops\.example\.com wss:\/\/ops\.example\.com https:\/\/sso\.example\.com:8443(;|$)/);
      const cfg = await app.inject({ method: 'GET', url: '/v1/auth/oidc' });
      assert.equal(cfg.statusCode, 200);
      assert.deepEqual(Object.keys(cfg.json()).sort(), ['authorization_url', 'client_id', 'scope', 'token_url'], 'the shape the login screen reads');
    } finally {
      await app.close();
    }
  });
});

describe('the dashboard before it is built', () => {
  it('answers / with a 503 JSON error telling to run npm run build', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'fieldline-nodash-'));
    const app = api(empty);
    try {
      for (const url of ['/', '/assets/app-ABC.js']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 503, url);
        const body = res.json() as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'FL_ERR_API_DASHBOARD_MISSING');
        assert.match(body.error.message, /npm run build/);
      }
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
