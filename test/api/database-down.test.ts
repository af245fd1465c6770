// The API over a real PostgreSQL 15 server that stops, and one that hangs: requests answer 503
// FL_ERR_API_UNAVAILABLE with Retry-After in seconds instead of hanging, /healthz says the database
// is unreachable, and both recover by themselves once the server is back.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TokenAuthority } from '../../cloud-sink/src/api/auth.js';
import { buildApi } from '../../cloud-sink/src/api/server.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { openDb, type Db } from '../../cloud-sink/src/store/db.js';
import { Store } from '../../cloud-sink/src/store/store.js';
import { runOk, waitUntil } from '../../devstack/net.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';

const SECRET = 'database-down-test-secret-0123456789abcdef';
/** Longer than any answer may take: a request still open after this is a hang, whatever the load. */
const HANG_MS = 30_000;

describe('API while PostgreSQL is down', () => {
  let pg: PgServer;
  let db: Db;
  let app: ReturnType<typeof buildApi>;
  let base = '';
  let token = '';

  before(async () => {
    pg = await startPostgres();
    db = await openDb({ databaseUrl: pg.url, poolSize: 4, connectTimeoutMs: 1_000, queryTimeoutMs: 2_000 });
    const store = new Store(db);
    await store.migrate();
    await store.ingest([{ gatewayId: 'gw-1', seq: 1, createdMs: Date.now(), readings: [{ deviceId: 'dev-1', tsMs: Date.now() - 60_000, metrics: { t: 21.5 } }] }]);
    const auth = new TokenAuthority(SECRET);
    const protection = cloudConfigSchema.parse({ api: { underPressure: { retryAfterS: 3 } } }).api;
    app = buildApi({
      store, auth, maxLimit: 1000, protection,
      health: () => ({ ok: true, detail: { database: db.kind } }),
      metrics: async () => '',
      ping: () => db.query('SELECT 1'),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    token = await auth.issue({ subject: 'ops', role: 'viewer', ttlSeconds: 3600 });
  });

  after(async () => {
    await app?.close();
    await db?.close();
    await pg?.destroy();
  });

  const get = async (path: string) => {
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(HANG_MS) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
  };
  const readings = '/v1/devices/dev-1/readings?metric=t';

  async function assertUnavailable(): Promise<void> {
    const r = await get(readings);
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'FL_ERR_API_UNAVAILABLE');
    assert.equal(r.retryAfter, '3');
    const h = await get('/healthz');
    assert.equal(h.status, 503);
    assert.equal(h.body.database_reachable, false);
  }

  async function assertRecovers(): Promise<void> {
    await waitUntil(async () => (await get(readings)).status === 200, { what: 'readings after the database came back', timeoutMs: 60_000, intervalMs: 250 });
    const r = await get(readings);
    assert.deepEqual((r.body as { readings: { value: number }[] }).readings.map((x) => x.value), [21.5]);
    const h = await get('/healthz');
    assert.deepEqual([h.status, h.body.database_reachable], [200, true]);
  }

  it('answers readings and a healthy /healthz while the server runs', async () => {
    assert.equal((await get(readings)).status, 200);
    assert.deepEqual([(await get('/healthz')).status, (await get('/healthz')).body.database_reachable], [200, true]);
  });

  it('answers 503 with Retry-After while the server is stopped, and 200 again once it is started', async () => {
    await pg.stop();
    try {
      await assertUnavailable();
    } finally {
      await pg.start();
    }
    await assertRecovers();
  });

  it('answers 503 with Retry-After while the server hangs (SIGSTOP), instead of holding the request', async () => {
    // Warm the pool, so both paths are taken: queries on open connections and new connections.
    await Promise.all([get(readings), get(readings), get(readings)]);
    const postmaster = Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = (await runOk('pgrep', ['-P', String(postmaster)])).stdout.split('\n').filter(Boolean).map(Number);
    const frozen = [postmaster, ...children];
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      await assertUnavailable();
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    await assertRecovers();
  });
});
