// Fleet health through the real path (issue 11): heartbeats and readings go through a real Kafka
// broker into a whole cloud (`all` role: sink, fleet workers and API), on the embedded TimescaleDB
// and on a real PostgreSQL 15, and GET /v1/gateways answers over HTTP.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { freePort, waitUntil } from '../../devstack/net.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { GENEROUS_LIMITS } from '../../devstack/stack.js';
import { encodeBatch, encodeHeartbeat, type Heartbeat, type Reading } from '../../proto/src/wire.js';
import { heartbeat, TestProducer } from './support.js';

const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
const GiB = 2 ** 30;

interface GatewayItem {
  gateway_id: string;
  status: 'online' | 'offline' | 'degraded';
  reasons: string[];
  last_seen: string;
  heartbeat_interval_ms: number | null;
  firmware: string | null;
  uptime_s: number | null;
  cpu: number | null;
  memory: number | null;
  disk_free: number | null;
  temperature: number | null;
  outbox: { depth: number; oldest_age_ms: number } | null;
  loss: { rate_limited: number; quarantined: number; evicted: number } | null;
  adapters: { name: string; state: string }[];
}

interface Completeness {
  window_s: number;
  received: number;
  expected: number | null;
  ratio: number | null;
  rate_source: string;
}

/** A heartbeat of a gateway with nothing wrong, every `intervalMs`. */
function healthy(gatewayId: string, intervalMs: number, over: Partial<Heartbeat> = {}): Heartbeat {
  return heartbeat(gatewayId, Date.now(), {
    intervalMs,
    outboxDepth: 3,
    outboxOldestAgeMs: 900,
    adapters: [{ name: 'mqtt', state: 'up', detail: '3 clients', counters: {} }],
    loss: { rateLimited: 0, quarantined: 0, evicted: 0 },
    ...over,
  });
}

interface Backend {
  name: string;
  databaseUrl(): Promise<string | undefined>;
}

const backends: Backend[] = [];
let kafka: KafkaBroker;
let pg: PgServer;
let run = 0;

before(async () => {
  kafka = await startKafka();
  pg = await startPostgres();
});
after(async () => {
  await pg?.destroy();
  await kafka?.destroy();
});

backends.push(
  { name: 'embedded PGlite + TimescaleDB', databaseUrl: async () => undefined },
  { name: 'PostgreSQL 15', databaseUrl: async () => pg.createDatabase(`health${++run}`) },
);

for (const backend of backends) {
  describe(`fleet health on ${backend.name}`, () => {
    let dir: string;
    let cloud: Cloud;
    let producer: TestProducer;
    let base: string;
    let token: string;
    const topics = { readings: '', heartbeats: '', dlq: '' };
    let seq = 0;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'fieldline-health-'));
      const id = `${backends.indexOf(backend)}-${process.pid}`;
      Object.assign(topics, { readings: `r-${id}`, heartbeats: `hb-${id}`, dlq: `dlq-${id}` });
      await kafka.createTopics(Object.values(topics).map((name) => ({ name, partitions: 3 })));
      const url = await backend.databaseUrl();
      cloud = new Cloud(
        cloudConfigSchema.parse({
          dataDir: join(dir, 'cloud'),
          kafka: { brokers: kafka.bootstrap, readingsTopic: topics.readings, heartbeatsTopic: topics.heartbeats, dlqTopic: topics.dlq },
          database: url ? { url } : {},
          api: { host: '127.0.0.1', port: 0 },
          // The embedded refresh runs often, so the readings below meet materialised minutes too.
          aggregates: { embeddedRefreshMs: 1_000 },
          lake: { enabled: false },
          fleet: {
            quarantine: { enabled: false },
            aggregates: { enabled: false },
            // The in-process gateway below does not say its interval, and heartbeats every second.
            health: { defaultIntervalMs: 1_000 },
          },
        }),
        'all',
        quiet,
      );
      await cloud.start();
      base = `http://127.0.0.1:${cloud.apiPort}`;
      token = await cloud.auth.issue({ subject: 'health-test', role: 'viewer', ttlSeconds: 3600 });
      producer = await TestProducer.connect(kafka.bootstrap);
    });

    after(async () => {
      await producer?.close();
      await cloud?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function get<T>(path: string, bearer = token): Promise<{ status: number; body: T }> {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
      return { status: res.status, body: (await res.json()) as T };
    }

    async function gateways(query = ''): Promise<GatewayItem[]> {
      const r = await get<{ gateways: GatewayItem[] }>(`/v1/gateways${query}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.gateways;
    }

    async function item(gatewayId: string): Promise<GatewayItem | undefined> {
      return (await gateways()).find((g) => g.gateway_id === gatewayId);
    }

    /** Polls GET /v1/gateways until the gateway's status is `status`; returns its item. */
    async function waitStatus(gatewayId: string, status: GatewayItem['status']): Promise<GatewayItem> {
      let last: GatewayItem | undefined;
      await waitUntil(
        async () => {
          last = await item(gatewayId);
          return last?.status === status;
        },
        { what: `${gatewayId} ${status} in GET /v1/gateways`, timeoutMs: 60_000, intervalMs: 50 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}; last seen as ${JSON.stringify(last)}`);
      });
      return last!;
    }

    async function sendReadings(gatewayId: string, readings: Reading[]): Promise<void> {
      const batches = [];
      for (let i = 0; i < readings.length; i += 200) {
        batches.push(encodeBatch({ gatewayId, seq: ++seq, createdMs: Date.now(), readings: readings.slice(i, i + 200) }));
      }
      await producer.send(topics.readings, batches);
    }

    it('a gateway whose process is stopped shows offline in GET /v1/gateways (acceptance)', async () => {
      const gateway = new Gateway(
        gatewayConfigSchema.parse({
          gatewayId: 'gw-process',
          dataDir: join(dir, 'gateway'),
          mqtt: { host: '127.0.0.1', port: await freePort(), persistSessions: false },
          coap: { host: '127.0.0.1', port: 0 },
          api: { host: '127.0.0.1', port: 0, adminToken: 'local-admin-token-for-tests' },
          rateLimit: GENEROUS_LIMITS,
          kafka: {
            brokers: kafka.bootstrap, readingsTopic: topics.readings, heartbeatsTopic: topics.heartbeats,
            heartbeatIntervalMs: 1_000, retryBackoffMinMs: 200, retryBackoffMaxMs: 2_000, messageTimeoutMs: 5_000,
          },
        }),
        quiet,
      );
      await gateway.start();
      let stopped = false;
      try {
        const live = await waitStatus('gw-process', 'online');
        assert.deepEqual(live.reasons, []);
        assert.ok(live.firmware, 'the gateway reported its firmware');
        await gateway.stop();
        stopped = true;
        const gone = await waitStatus('gw-process', 'offline');
        assert.match(gone.reasons[0] ?? '', /^no heartbeat for .+ \(3 intervals of 1 s\)$/);
        assert.equal(gone.reasons.length, 1);
      } finally {
        if (!stopped) await gateway.stop();
      }
    });

    it('heartbeats make gateways online, degraded with the reason, and offline after their intervals; a gateway with batches only is offline', async () => {
      await producer.send(topics.heartbeats, [
        // Heartbeats every 5 minutes: online for 15, longer than this test takes.
        encodeHeartbeat(healthy('gw-steady', 300_000, { firmwareVersion: '3.1.0', cpuPercent: 12.5, memoryUsedBytes: GiB / 4, memoryTotalBytes: GiB })),
        // Every second: offline three seconds after this one.
        encodeHeartbeat(healthy('gw-quiet', 1_000)),
        encodeHeartbeat(healthy('gw-disk', 300_000, { diskFreeBytes: 1 * GiB, diskTotalBytes: 32 * GiB })),
        encodeHeartbeat(healthy('gw-loss', 300_000, { tsMs: Date.now() - 60_000, loss: { rateLimited: 0, quarantined: 0, evicted: 1 } })),
        encodeHeartbeat(healthy('gw-loss', 300_000, { loss: { rateLimited: 0, quarantined: 0, evicted: 121 } })),
      ]);
      await sendReadings('gw-batches', [{ deviceId: 'dev-batches', tsMs: Date.now(), metrics: { v: 1 } }]);

      const steady = await waitStatus('gw-steady', 'online');
      assert.deepEqual(steady.reasons, []);
      assert.equal(steady.heartbeat_interval_ms, 300_000);
      assert.deepEqual(
        [steady.firmware, steady.uptime_s, steady.cpu, steady.memory, steady.disk_free, steady.temperature, steady.outbox, steady.loss, steady.adapters],
        ['3.1.0', 3600.5, 12.5, 25, 8 * GiB, 48.25, { depth: 3, oldest_age_ms: 900, bytes: 96_000, full: null }, { rate_limited: 0, quarantined: 0, evicted: 0 }, [{ name: 'mqtt', state: 'up', detail: '3 clients' }]],
      );
      assert.ok(Date.parse(steady.last_seen) > Date.now() - 600_000, 'last_seen is when the cloud heard from it');

      const disk = await waitStatus('gw-disk', 'degraded');
      assert.deepEqual(disk.reasons, ['disk 3.1 % free (limit 10 %)']);
      const loss = await waitStatus('gw-loss', 'degraded');
      assert.deepEqual(loss.reasons, ['120 readings evicted since the previous heartbeat']);

      await waitStatus('gw-quiet', 'online');
      const quiet = await waitStatus('gw-quiet', 'offline');
      assert.match(quiet.reasons[0] ?? '', /^no heartbeat for .+ \(3 intervals of 1 s\)$/);

      const batches = await waitStatus('gw-batches', 'offline');
      assert.deepEqual(batches.reasons, ['no heartbeat received yet']);
      assert.equal(batches.firmware, null);
      assert.equal(batches.outbox, null);

      const all = await gateways();
      assert.deepEqual(all.map((g) => g.gateway_id), ['gw-batches', 'gw-disk', 'gw-loss', 'gw-process', 'gw-quiet', 'gw-steady'], 'every gateway, by id');
      assert.deepEqual((await gateways('?status=degraded')).map((g) => g.gateway_id), ['gw-disk', 'gw-loss']);
      assert.deepEqual((await gateways('?status=offline')).map((g) => g.gateway_id), ['gw-batches', 'gw-process', 'gw-quiet']);
    });

    it('per-device completeness on GET /v1/gateways/{id}: 1.0 at its pace, 0.5 at half its observed or configured rate, unknown for a new device', async () => {
      const STEP = 10_000;
      const now = Math.floor(Date.now() / STEP) * STEP;
      // The readings run a few minutes past now, so the window (which ends when the API is asked)
      // lies in them however long the test takes to get there.
      const end = now + 5 * 60_000;
      const series = (deviceId: string, from: number, to: number, every: number, metrics: string[]): Reading[] => {
        const out: Reading[] = [];
        for (let t = from; t < to; t += every) out.push({ deviceId, tsMs: t, metrics: Object.fromEntries(metrics.map((m, i) => [m, t / 1000 + i])) });
        return out;
      };
      const H = 3_600_000;
      const readings = [
        ...series('dev-full', now - 3 * H, end, STEP, ['temperature', 'humidity']),
        // Its usual pace for hours, then half of it for the last 70 minutes.
        ...series('dev-half', now - 4 * H, now - 70 * 60_000, STEP, ['temperature', 'humidity']),
        ...series('dev-half', now - 70 * 60_000, end, 2 * STEP, ['temperature', 'humidity']),
        // Every 20 s where every 10 s is configured.
        ...series('dev-configured', now - 2 * H, end, 2 * STEP, ['level']),
        ...series('dev-new', now - 20 * 60_000, end, STEP, ['level']),
      ];
      await sendReadings('gw-steady', readings);
      const db = cloud.db!;
      const values = readings.reduce((n, r) => n + Object.keys(r.metrics ?? {}).length, 0);
      await waitUntil(
        async () => Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM readings WHERE gateway_id = 'gw-steady'`)).rows[0]?.n) === values,
        { what: `${values} readings stored`, timeoutMs: 120_000, intervalMs: 100 },
      );
      // What the embedded cloud's periodic refresh does: the readings that landed below the
      // continuous aggregates' watermark are folded in now rather than within a second. A no-op on
      // PostgreSQL, whose rollups the ingest transaction keeps.
      await cloud.store!.refreshAggregates();
      await db.query(`UPDATE devices SET expected_interval_ms = 10000 WHERE device_id = 'dev-configured'`);

      const r = await get<GatewayItem & { devices: { device_id: string; last_seen: string; completeness: Completeness }[] }>('/v1/gateways/gw-steady');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.gateway_id, 'gw-steady');
      const devices = new Map(r.body.devices.map((d) => [d.device_id, d]));
      assert.deepEqual([...devices.keys()], ['dev-configured', 'dev-full', 'dev-half', 'dev-new']);
      assert.deepEqual(devices.get('dev-full')?.completeness, { window_s: 3600, received: 720, expected: 720, ratio: 1, rate_source: 'observed' });
      assert.deepEqual(devices.get('dev-half')?.completeness, { window_s: 3600, received: 360, expected: 720, ratio: 0.5, rate_source: 'observed' });
      assert.deepEqual(devices.get('dev-configured')?.completeness, { window_s: 3600, received: 180, expected: 360, ratio: 0.5, rate_source: 'configured' });
      const fresh = devices.get('dev-new')?.completeness;
      assert.deepEqual([fresh?.expected, fresh?.ratio, fresh?.rate_source], [null, null, 'unknown']);
      assert.ok((fresh?.received ?? 0) >= 100, 'its readings are counted all the same');
      assert.equal(devices.get('dev-full')?.last_seen, new Date(end - STEP).toISOString());

      const short = await get<{ devices: { device_id: string; completeness: Completeness }[] }>('/v1/gateways/gw-steady?window=15m');
      assert.deepEqual(short.body.devices.find((d) => d.device_id === 'dev-half')?.completeness, {
        window_s: 900, received: 90, expected: 180, ratio: 0.5, rate_source: 'observed',
      });
    });

    it('answers 404 FL_ERR_API_GATEWAY_NOT_FOUND for an unknown gateway, 400 for a bad window or status, 403 without read:fleet', async () => {
      const cases: [string, number, string][] = [
        ['/v1/gateways/gw-nobody', 404, 'FL_ERR_API_GATEWAY_NOT_FOUND'],
        ['/v1/gateways/gw-steady?window=90', 400, 'FL_ERR_API_BAD_PARAM'],
        ['/v1/gateways/gw-steady?window=0', 400, 'FL_ERR_API_BAD_PARAM'],
        ['/v1/gateways/gw-steady?window=2d', 400, 'FL_ERR_API_BAD_PARAM'],
        ['/v1/gateways/gw-steady?window=25h', 400, 'FL_ERR_API_BAD_PARAM'],
        ['/v1/gateways?status=sleepy', 400, 'FL_ERR_API_BAD_PARAM'],
      ];
      for (const [path, status, code] of cases) {
        const r = await get<{ error: { code: string; message: string } }>(path);
        assert.deepEqual([r.status, r.body.error.code], [status, code], path);
        assert.ok(r.body.error.message.length > 0);
      }
      const telemetryOnly = await cloud.auth.issue({ subject: 't', scopes: ['read:telemetry'], ttlSeconds: 60 });
      const denied = await get<{ error: { code: string } }>('/v1/gateways', telemetryOnly);
      assert.deepEqual([denied.status, denied.body.error.code], [403, 'FL_ERR_AUTH_SCOPE']);
      assert.equal((await fetch(`${base}/v1/gateways`)).status, 401);
    });
  });
}
