// GET /v1/stream end to end: a real Kafka broker (KRaft), the cloud's `api` role in this process
// with the embedded TimescaleDB, gateway-encoded batches and relay-shaped alert events produced to
// iot.readings and iot.alerts, and real WebSocket clients (issue 12, "GET /v1/stream").
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { CLOSE } from '../../cloud-sink/src/api/live-feed.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { removeOnExit, waitUntil } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { committedOffsets, FeedProducer, firingEvent, Listener, signToken, stalledClient } from './support.js';

const SECRET = 'a-stream-test-secret-long-enough-for-hs256';
const READINGS = 'iot.readings';
const ALERTS = 'iot.alerts';
const PARTITIONS = 3;
const MAX_BUFFERED = 64 * 1024;

describe('GET /v1/stream: live readings and alerts from Kafka, filtered and fleet-limited', () => {
  let kafka: KafkaBroker;
  let dataDir: string;
  let keepDir: () => void;
  let cloud: Cloud;
  let cloudStopped = false;
  let producer: FeedProducer;
  let port: number;
  let admin: string;
  const listeners: Listener[] = [];
  let seq = 1;

  const url = (token: string, query = ''): string => `ws://127.0.0.1:${port}/v1/stream?access_token=${token}${query ? `&${query}` : ''}`;
  const listen = async (token: string, query = ''): Promise<Listener> => {
    const l = await Listener.open(url(token, query));
    listeners.push(l);
    return l;
  };
  const now = Date.now();

  before(async () => {
    kafka = await startKafka();
    await kafka.createTopics(FIELDLINE_TOPICS.filter((t) => [READINGS, ALERTS, 'iot.rules'].includes(t.name)));
    dataDir = mkdtempSync(join(tmpdir(), 'fieldline-stream-'));
    keepDir = removeOnExit(dataDir);
    const cfg = cloudConfigSchema.parse({
      dataDir,
      logLevel: 'silent',
      kafka: { brokers: kafka.bootstrap },
      api: { host: '127.0.0.1', port: 0, jwtSecret: SECRET, stream: { maxBufferedBytes: MAX_BUFFERED } },
      lake: { enabled: false },
    });
    cloud = new Cloud(cfg, 'api', pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' }));
    await cloud.start();
    port = cloud.apiPort;
    producer = await FeedProducer.connect(kafka.bootstrap);
    admin = await signToken(SECRET, { role: 'admin' });

    // The feed starts at the end of each partition once it has its assignment and has looked the
    // ends up; until then what is produced may be skipped. Probe every partition of both topics
    // until a client has seen each probe.
    const probe = await listen(admin, 'gateway=probe-0,probe-1,probe-2');
    await waitUntil(
      async () => {
        for (let p = 0; p < PARTITIONS; p++) {
          producer.batch(READINGS, `probe-${p}`, seq++, [{ device: `probe-${p}`, ts: Date.now(), metrics: { up: 1 } }], p);
          producer.alert(ALERTS, firingEvent({ gateway: `probe-${p}` }), p);
        }
        await producer.settle();
        await new Promise((r) => setTimeout(r, 300));
        const readingGws = new Set(probe.readings().map((r) => r.gateway_id));
        const alertGws = new Set(probe.alerts().map((a) => a.gateway));
        return readingGws.size === PARTITIONS && alertGws.size === PARTITIONS;
      },
      { what: 'a probe from every partition of iot.readings and iot.alerts through the stream', timeoutMs: 90_000, intervalMs: 10 },
    );
    await probe.close();
  });

  after(async () => {
    for (const l of listeners) await l.close().catch(() => undefined);
    await producer?.close();
    if (!cloudStopped) await cloud?.stop();
    await kafka?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    keepDir?.();
  });

  it('without a token the upgrade is refused with 401 as plain HTTP JSON, before any stream exists', async () => {
    const err = (await Listener.open(`ws://127.0.0.1:${port}/v1/stream`).then(
      () => assert.fail('the upgrade was accepted'),
      (e: unknown) => e,
    )) as { status: number; body: { error: { code: string } } };
    assert.equal(err.status, 401);
    assert.equal(err.body.error.code, 'FL_ERR_AUTH_MISSING');
    assert.equal(cloud.stream!.open(), 0);
  });

  it("sends readings filtered by device and metric; a fleet token never gets another fleet's readings or alerts; without read:fleet no alerts", async () => {
    const everything = await listen(admin);
    const a1Temperature = await listen(await signToken(SECRET, { role: 'viewer' }), 'device=a1&metric=temperature');
    const fleetA = await listen(await signToken(SECRET, { role: 'viewer', fleet: ['gw-a'] }));
    const fleetAAsksB = await listen(await signToken(SECRET, { role: 'viewer', fleet: ['gw-a'] }), 'device=b1&gateway=gw-b');
    const telemetryOnly = await listen(await signToken(SECRET, { scope: 'read:telemetry' }));
    assert.deepEqual(telemetryOnly.frames[0], { type: 'subscribed', kinds: ['readings'], device: null, metric: null, gateway: null });

    producer.batch(READINGS, 'gw-a', seq++, [
      { device: 'a1', ts: now, metrics: { temperature: 21.5, humidity: 40 } },
      { device: 'a2', ts: now + 1, metrics: { temperature: 19 } },
    ]);
    producer.batch(READINGS, 'gw-b', seq++, [{ device: 'b1', ts: now + 2, metrics: { temperature: 30, humidity: 10 } }]);
    const alertA = firingEvent({ gateway: 'gw-a', device: 'a1', metric: 'temperature' });
    const alertB = firingEvent({ gateway: 'gw-b' });
    producer.alert(ALERTS, alertA);
    producer.alert(ALERTS, alertB);
    await producer.settle();

    await waitUntil(async () => everything.readings().length >= 3 && everything.alerts().length >= 2, { what: 'every reading and alert at the unfiltered client', timeoutMs: 30_000, intervalMs: 20 });
    // Each of the others answers a subscribe (the same filter) only after every frame it was sent before.
    await a1Temperature.subscribe({ device: 'a1', metric: 'temperature' });
    await fleetA.subscribe({});
    await fleetAAsksB.subscribe({ device: 'b1', gateway: 'gw-b' });
    await telemetryOnly.subscribe({});

    const ts = (ms: number): string => new Date(ms).toISOString();
    const byDevice = (a: Record<string, unknown>, b: Record<string, unknown>): number => String(a.device_id).localeCompare(String(b.device_id));
    assert.deepEqual([...everything.readings()].sort(byDevice), [
      { type: 'reading', gateway_id: 'gw-a', device_id: 'a1', ts: ts(now), metrics: { temperature: 21.5, humidity: 40 } },
      { type: 'reading', gateway_id: 'gw-a', device_id: 'a2', ts: ts(now + 1), metrics: { temperature: 19 } },
      { type: 'reading', gateway_id: 'gw-b', device_id: 'b1', ts: ts(now + 2), metrics: { temperature: 30, humidity: 10 } },
    ]);
    assert.deepEqual(everything.of('alert').map((f) => f.event).sort((x, y) => String((x as { event_id: string }).event_id).localeCompare((y as { event_id: string }).event_id)), [alertA, alertB]);

    assert.deepEqual(a1Temperature.readings(), [{ type: 'reading', gateway_id: 'gw-a', device_id: 'a1', ts: ts(now), metrics: { temperature: 21.5 } }]);
    assert.deepEqual(a1Temperature.alerts().map((a) => a.event_id), [alertA.event_id], 'the device filter passes the device alert of a1 only');

    assert.deepEqual(fleetA.readings().map((r) => r.device_id).sort(), ['a1', 'a2']);
    assert.deepEqual(fleetA.alerts().map((a) => a.event_id), [alertA.event_id]);
    assert.ok(!JSON.stringify(fleetA.frames).includes('gw-b'), 'nothing of gw-b reached the fleet-limited client');

    assert.deepEqual(fleetAAsksB.of('error'), [], 'asking for a device outside the fleet is no error…');
    assert.deepEqual([...fleetAAsksB.readings(), ...fleetAAsksB.alerts()], [], '…and brings nothing, as for an unknown device');

    assert.deepEqual(telemetryOnly.readings().map((r) => r.device_id).sort(), ['a1', 'a2', 'b1']);
    assert.deepEqual(telemetryOnly.alerts(), [], 'no alerts without read:fleet');
  });

  it('one consumer in a group of its own holds every partition of both topics and commits nothing, so it moves no other reader’s place', async () => {
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { stream: { state: string; group: string; partitions: number; received: number } };
    assert.equal(health.stream.state, 'up');
    assert.equal(health.stream.partitions, 2 * PARTITIONS);
    assert.match(health.stream.group, /^fieldline-stream-/);
    assert.ok(health.stream.received > 0);
    for (const topic of [READINGS, ALERTS]) {
      assert.deepEqual(await committedOffsets(kafka.bootstrap, health.stream.group, topic, PARTITIONS), [-1001, -1001, -1001], `${topic}: no committed offset`);
    }
  });

  it('a subscribe message moves a stream to other devices without reconnecting', async () => {
    const l = await listen(admin, 'device=x1');
    assert.deepEqual((await l.subscribe({ device: ['x2'], kinds: 'readings' })).device, ['x2']);
    producer.batch(READINGS, 'gw-x', seq++, [{ device: 'x1', ts: now, metrics: { t: 1 } }, { device: 'x2', ts: now, metrics: { t: 2 } }]);
    await producer.settle();
    await waitUntil(async () => l.readings().length >= 1, { what: 'the x2 reading', timeoutMs: 30_000, intervalMs: 20 });
    await l.subscribe({ device: ['x2'], kinds: 'readings' });
    assert.deepEqual(l.readings().map((r) => r.device_id), ['x2']);
  });

  it('a client that never reads is dropped once past api.stream.maxBufferedBytes (counted on /metrics) while a reading client gets every frame', async () => {
    // The earlier tests' clients would get the flood too; they have had their say.
    for (const l of listeners.splice(0)) await l.close();
    await waitUntil(async () => cloud.stream!.open() === 0, { what: 'the earlier clients gone', timeoutMs: 10_000, intervalMs: 10 });
    const keeper = await listen(admin, 'gateway=gw-flood&kinds=readings');
    let stalled: Socket | undefined;
    try {
      stalled = await stalledClient(port, `/v1/stream?access_token=${admin}&gateway=gw-flood&kinds=readings`);
      await waitUntil(async () => cloud.stream!.open() === 2, { what: 'both flood clients attached', timeoutMs: 10_000, intervalMs: 10 });
      // ~1 KB frames: the kernel's socket buffers fill first (a few MB on loopback), then the
      // server's; batches go on until the server gives up on the stalled client.
      const metrics = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`metric_${String(i).padStart(2, '0')}`, i + 0.123456789]));
      let sent = 0;
      await waitUntil(
        async () => {
          producer.batch(READINGS, 'gw-flood', seq++, Array.from({ length: 500 }, (_, i) => ({ device: `f${i % 20}`, ts: now + sent + i, metrics })));
          sent += 500;
          await producer.settle();
          return cloud.stream!.stats.slowClients >= 1;
        },
        { what: 'the stalled client dropped', timeoutMs: 240_000, intervalMs: 10 },
      );
      assert.ok(sent <= 200_000, `dropped within ${sent} frames`);
      console.log(`# the stalled client was dropped after ${sent} frames of about 1 KB`);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, /fieldline_cloud_dropped_total\{stage="stream",reason="slow_client"\} 1\b/);

      producer.batch(READINGS, 'gw-flood', seq++, [{ device: 'last', ts: now, metrics: { t: 1 } }]);
      await producer.settle();
      await waitUntil(async () => keeper.readings().some((r) => r.device_id === 'last'), { what: 'the reading client still served', timeoutMs: 60_000, intervalMs: 20 });
      assert.equal(keeper.readings().length, sent + 1, 'the reading client got every frame, before and after the drop');

      // The server cut the stalled connection: reading again finds its end.
      const ended = new Promise<void>((resolve) => stalled!.once('close', () => resolve()));
      stalled.on('data', () => undefined);
      stalled.resume();
      await ended;
      await waitUntil(async () => cloud.stream!.open() === 1, { what: 'the dropped client forgotten', timeoutMs: 10_000, intervalMs: 10 });
    } finally {
      stalled?.destroy();
      await keeper.close();
    }
  });

  it('stopping the cloud closes every stream with 1001', async () => {
    const l = await listen(admin);
    await cloud.stop();
    cloudStopped = true;
    await waitUntil(async () => l.closeCode !== null, { what: 'the close', timeoutMs: 10_000, intervalMs: 10 });
    assert.equal(l.closeCode, CLOSE.goingAway);
  });
});
