// The fleet behaviour suite on the embedded TimescaleDB (gateway_heartbeats a hypertable,
// readings_1m a continuous aggregate), and the fleet workers wired into a whole `all` cloud.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { openEmbedded } from '../../cloud-sink/src/store/db.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { encodeHeartbeat, encodeQuarantined } from '../../proto/src/wire.js';
import { fleetBehaviour } from './fleet.behaviour.js';
import { heartbeat, SOURCE_COAP, TestProducer } from './support.js';

fleetBehaviour({
  name: 'embedded PGlite + TimescaleDB',
  open: () => openEmbedded(undefined),
  continuousAggregates: true,
});

describe('fleet workers in a cloud started with the all role', () => {
  let dir: string;
  let kafka: KafkaBroker;
  let cloud: Cloud;
  let producer: TestProducer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-fleet-'));
    kafka = await startKafka({ topics: [...FIELDLINE_TOPICS] });
    cloud = new Cloud(
      cloudConfigSchema.parse({ dataDir: join(dir, 'cloud'), kafka: { brokers: kafka.bootstrap }, api: { host: '127.0.0.1', port: 0 } }),
      'all',
      pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' }),
    );
    await cloud.start();
    producer = await TestProducer.connect(kafka.bootstrap);
  });

  after(async () => {
    await producer?.close();
    await cloud?.stop();
    await kafka?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores heartbeats and quarantined readings from the default topics, dead-letters a garbage heartbeat, publishes aggregates, and reports all three on /healthz and /metrics', async () => {
    const now = Date.now();
    await producer.send('iot.heartbeats', [{ key: 'gw-cloud', value: Buffer.from('not a heartbeat') }, encodeHeartbeat(heartbeat('gw-cloud', now))]);
    await producer.send('iot.quarantine', [
      encodeQuarantined({ gatewayId: 'gw-cloud', deviceId: 'dev-cloud', tsMs: now, raw: Buffer.from('{'), source: SOURCE_COAP, reasonCode: 'FL_ERR_DECODE_JSON', reason: 'bad', topic: '/telemetry/dev-cloud' }),
    ]);
    const db = cloud.db!;
    await waitUntil(
      async () =>
        (await db.query(`SELECT 1 FROM gateways WHERE gateway_id = 'gw-cloud' AND last_heartbeat_at IS NOT NULL`)).rows.length === 1 &&
        (await db.query(`SELECT 1 FROM quarantine WHERE gateway_id = 'gw-cloud'`)).rows.length === 1 &&
        cloud.fleet?.aggregates?.stats.publishedToMs != null,
      { what: 'the heartbeat, the quarantined reading and a first aggregates run', timeoutMs: 60_000 },
    );

    const base = `http://127.0.0.1:${cloud.apiPort}`;
    const health = (await (await fetch(`${base}/healthz`)).json()) as { fleet: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(health.fleet).sort(), ['aggregates', 'heartbeats', 'quarantine']);
    assert.equal(health.fleet.heartbeats!.state, 'up');
    assert.equal(health.fleet.quarantine!.state, 'up');
    assert.match(String(health.fleet.aggregates!.publishedTo), /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const line of [
      'fieldline_cloud_received_total{stage="heartbeat"} 2',
      'fieldline_cloud_sent_total{stage="heartbeat"} 1',
      'fieldline_cloud_dropped_total{stage="heartbeat",reason="dead_letter"} 1',
      'fieldline_cloud_dead_letters_total{code="FL_ERR_WIRE_LZ4"} 1',
      'fieldline_cloud_received_total{stage="quarantine"} 1',
      'fieldline_cloud_sent_total{stage="quarantine"} 1',
      'fieldline_cloud_dropped_total{stage="quarantine",reason="dead_letter"} 0',
      'fieldline_cloud_errors_total{stage="aggregates"} 0',
    ]) {
      assert.ok(metrics.split('\n').includes(line), `/metrics has ${line}`);
    }
  });
});
