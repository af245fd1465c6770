// The commissioning page's files answer without the admin token and under a strict CSP; everything
// else on the local API still wants the token; a gateway whose page was never built says so.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildLocalApi } from './server.js';

const TOKEN = 'page-routes-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'fieldline-page-'));
mkdirSync(join(dir, 'assets'));
writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/app-ABC123.js"></script>');
writeFileSync(join(dir, 'assets', 'app-ABC123.js'), 'console.log(1)');
after(() => rmSync(dir, { recursive: true, force: true }));

function api(pageDir: string) {
  return buildLocalApi({
    token: TOKEN,
    status: () => ({ ok: true }),
    metrics: async () => '',
    quarantine: () => [],
    devices: () => [],
    page: { dir: pageDir },
  });
}

describe('commissioning page routes', () => {
  test('/ and /assets/* answer without the token, with a CSP that allows no inline script and no other origin', async () => {
    const app = api(dir);
    for (const url of ['/', '/index.html', '/assets/app-ABC123.js']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'(;|$)/, url);
      assert.match(csp, /connect-src 'self'(;|$)/, url);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url);
      assert.equal(res.headers['x-frame-options'], 'DENY');
    }
    const js = await app.inject({ url: '/assets/app-ABC123.js' });
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(String(js.headers['cache-control']), /immutable/);
    assert.equal((await app.inject({ url: '/' })).headers['cache-control'], 'no-cache');
    await app.close();
  });

  test('the API behind the page still wants the token; unknown or path-escaping asset names are 404', async () => {
    const app = api(dir);
    const status = await app.inject({ url: '/status' });
    assert.equal(status.statusCode, 401);
    assert.equal(status.json().error.code, 'FL_ERR_API_UNAUTHORIZED');
    assert.equal((await app.inject({ url: '/status', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200);
    for (const url of ['/assets/nope-1.js', '/assets/..%2Findex.html', '/assets/app.exe']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().error.code, 'FL_ERR_API_NOT_FOUND', url);
    }
    // Not a page route: the token check comes first, so nothing says which paths exist.
    assert.equal((await app.inject({ url: '/nothing-here' })).statusCode, 401);
    await app.close();
  });

  test('a gateway whose page was not built answers 503 FL_ERR_API_PAGE_MISSING naming the build step', async () => {
    const app = api(join(dir, 'missing'));
    const res = await app.inject({ url: '/' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().error.code, 'FL_ERR_API_PAGE_MISSING');
    assert.match(res.json().error.message, /npm run build/);
    await app.close();
  });
});
