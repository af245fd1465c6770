// The query API against the embedded TimescaleDB (in memory): auth, parameters, errors, paging.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { openEmbedded, type Db } from '../store/db.js';
import { Store } from '../store/store.js';
import { TokenAuthority } from './auth.js';
import { StageCounters } from '../../../common/src/metrics.js';
import { CloudError } from '../errors.js';
import { buildApi } from './server.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const T0 = Date.parse('2026-11-20T10:00:00.000Z');

describe('cloud API', () => {
  let store: Store;
  let app: ReturnType<typeof buildApi>;
  const auth = new TokenAuthority(SECRET);
  let viewer: string;

  before(async () => {
    store = new Store(await openEmbedded(undefined));
    await store.migrate();
    await store.ingest([{
      gatewayId: 'gw-1', seq: 1, createdMs: T0,
      readings: Array.from({ length: 30 }, (_, i) => ({ deviceId: 'dev-1', tsMs: T0 + i * 1000, metrics: { temperature: 20 + i, humidity: 50 } })),
    }]);
    app = buildApi({ store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '' });
    viewer = await auth.issue({ subject: 't', role: 'viewer', ttlSeconds: 600 });
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  const get = (url: string, token?: string) =>
    app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers readings in the contract shape, RFC 3339 times, ascending', async () => {
    const res = await get(`/v1/devices/dev-1/readings?metric=temperature&from=${T0}&to=2026-11-20T10:00:04Z`, viewer);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      device_id: 'dev-1',
      metric: 'temperature',
      readings: [0, 1, 2, 3, 4].map((i) => ({ ts: new Date(T0 + i * 1000).toISOString(), value: 20 + i })),
      next_cursor: null,
    });
  });

  it('pages with next_cursor until every reading was returned once', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/v1/devices/dev-1/readings?metric=temperature&from=0&limit=7${cursor ? `&cursor=${cursor}` : ''}`, viewer);
      const body = res.json() as { readings: { value: number }[]; next_cursor: string | null };
      seen.push(...body.readings.map((r) => r.value));
      cursor = body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => 20 + i));
  });

  it('names the metric of each reading when none was asked for', async () => {
    const body = (await get(`/v1/devices/dev-1/readings?from=${T0}&to=${T0}`, viewer)).json() as { metric: null; readings: { metric: string }[] };
    assert.equal(body.metric, null);
    assert.deepEqual(body.readings.map((r) => r.metric).sort(), ['humidity', 'temperature']);
  });

  it('defaults to the last 24 hours', async () => {
    const now = Date.now();
    await store.ingest([{
      gatewayId: 'gw-1', seq: 2, createdMs: now,
      readings: [{ deviceId: 'dev-2', tsMs: now - 3_600_000, metrics: { t: 1 } }, { deviceId: 'dev-2', tsMs: now - 25 * 3_600_000, metrics: { t: 2 } }],
    }]);
    const body = (await get('/v1/devices/dev-2/readings?metric=t', viewer)).json() as { readings: { value: number }[] };
    assert.deepEqual(body.readings.map((r) => r.value), [1]);
  });

  const errors: [string, string, string | undefined, number, string][] = [
    ['no token', '/v1/devices/dev-1/readings', undefined, 401, 'FL_ERR_AUTH_MISSING'],
    ['a token signed with another secret', '/v1/devices/dev-1/readings', 'other', 401, 'FL_ERR_AUTH_INVALID'],
    ['an unknown device', '/v1/devices/nope/readings', 'viewer', 404, 'FL_ERR_API_DEVICE_NOT_FOUND'],
    ['a bad from', '/v1/devices/dev-1/readings?from=yesterday', 'viewer', 400, 'FL_ERR_API_BAD_PARAM'],
    ['from after to', '/v1/devices/dev-1/readings?from=2000&to=1000', 'viewer', 400, 'FL_ERR_API_BAD_PARAM'],
    ['a limit above the maximum', '/v1/devices/dev-1/readings?limit=5000', 'viewer', 400, 'FL_ERR_API_BAD_PARAM'],
    ['a negative limit', '/v1/devices/dev-1/readings?limit=-1', 'viewer', 400, 'FL_ERR_API_BAD_PARAM'],
    ['a forged cursor', '/v1/devices/dev-1/readings?cursor=AAAA', 'viewer', 400, 'FL_ERR_API_BAD_CURSOR'],
    ['an unknown route', '/v1/nothing', 'viewer', 404, 'FL_ERR_API_NOT_FOUND'],
  ];
  for (const [what, url, who, status, code] of errors) {
    it(`answers ${status} ${code} for ${what}`, async () => {
      const token = who === 'viewer' ? viewer : who === 'other' ? await new TokenAuthority('x'.repeat(40)).issue({ subject: 'x', role: 'admin', ttlSeconds: 60 }) : undefined;
      const res = await get(url, token);
      assert.equal(res.statusCode, status);
      const body = res.json() as { error: { code: string; message: string } };
      assert.equal(body.error.code, code);
      assert.ok(body.error.message.length > 0);
    });
  }

  it('refuses an expired token', async () => {
    const expired = await new SignJWT({ role: 'viewer' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('fieldline').setSubject('t')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 120).sign(new TextEncoder().encode(SECRET));
    const res = await get('/v1/devices/dev-1/readings', expired);
    assert.equal(res.statusCode, 401);
    assert.match((res.json() as { error: { message: string } }).error.message, /expired/);
  });

  it('refuses a token without read:telemetry with 403', async () => {
    const fleetOnly = await auth.issue({ subject: 'f', scopes: ['read:fleet'], ttlSeconds: 60 });
    const res = await get('/v1/devices/dev-1/readings', fleetOnly);
    assert.equal(res.statusCode, 403);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'FL_ERR_AUTH_SCOPE');
  });

  it('refuses a token with alg none', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"role":"admin","iss":"fieldline"}').toString('base64url')}.`;
    assert.equal((await get('/v1/devices/dev-1/readings', unsigned)).statusCode, 401);
  });

  it('serves /healthz without a token', async () => {
    assert.equal((await get('/healthz')).statusCode, 200);
  });

  it('counts answers of 500 and above as errors{stage="api"}, and client errors not', async () => {
    const counters = new StageCounters();
    let failure: Error = new Error('disk on fire');
    // The database itself fails under the route, whichever query the route makes.
    const failingDb = Object.create(store.db) as Db;
    failingDb.query = async () => {
      throw failure;
    };
    const failing = new Store(failingDb);
    const broken = buildApi({ store: failing, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '', counters });
    try {
      const headers = { authorization: `Bearer ${viewer}` };
      const crash = await broken.inject({ method: 'GET', url: '/v1/devices', headers });
      assert.equal(crash.statusCode, 500);
      assert.equal(crash.json().error.code, 'FL_ERR_API_INTERNAL');
      failure = new CloudError('FL_ERR_STORE_UNAVAILABLE', 'connection refused');
      assert.equal((await broken.inject({ method: 'GET', url: '/v1/devices', headers })).statusCode, 503);
      assert.equal((await broken.inject({ method: 'GET', url: '/v1/devices' })).statusCode, 401);
      assert.equal(counters.get('api', 'errors'), 2, 'the 500 and the 503; the 401 is the client\'s');
    } finally {
      await broken.close();
    }
  });
});
