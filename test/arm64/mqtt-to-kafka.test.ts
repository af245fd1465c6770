// The gateway's whole path on whatever CPU runs it: MQTT QoS 1 publish → outbox commit → PUBACK →
// forwarder → a real Kafka broker, where the batch arrives LZ4-framed with its headers.
// Natively it is one more gateway test; test/arm64/gateway-arm64.test.ts runs it again under the
// arm64 node, where every native addon on that path (better-sqlite3, node-rdkafka with librdkafka,
// lz4, classic-level for the MQTT sessions) is the arm64 build.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { freePort, waitUntil } from '../../devstack/net.js';
import { decodeBatch } from '../../proto/src/wire.js';

const GATEWAY_ID = 'gw-arm64-path';
let kafka: KafkaBroker;
let gw: Gateway;
let dir: string;
let mqttPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-mqtt-kafka-'));
  kafka = await startKafka({ topics: [{ name: 'iot.readings', partitions: 1 }, { name: 'iot.heartbeats', partitions: 1 }, { name: 'iot.quarantine', partitions: 1 }] });
  mqttPort = await freePort();
  gw = new Gateway(
    gatewayConfigSchema.parse({
      gatewayId: GATEWAY_ID,
      dataDir: dir,
      logLevel: 'silent',
      mqtt: { host: '127.0.0.1', port: mqttPort },
      coap: { enabled: false },
      api: { enabled: false },
      kafka: { brokers: kafka.bootstrap },
    }),
  );
  await gw.start();
});

after(async () => {
  await gw?.stop();
  await kafka?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every iot.readings batch of this gateway, read with kcat from the start to the current end. */
function batchesOnKafka(): { headers: Record<string, string>; values: number[] }[] {
  const r = spawnSync('kcat', ['-C', '-b', kafka.bootstrap, '-t', 'iot.readings', '-o', 'beginning', '-e', '-q', '-f', '%h\\n%R%s'], { timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr?.toString());
  const out: { headers: Record<string, string>; values: number[] }[] = [];
  const buf = r.stdout;
  for (let pos = 0; pos < buf.length; ) {
    const nl = buf.indexOf(0x0a, pos);
    const headers = Object.fromEntries(buf.subarray(pos, nl).toString('utf8').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
    const len = buf.readInt32BE(nl + 1);
    const batch = decodeBatch(Buffer.from(buf.subarray(nl + 5, nl + 5 + len)));
    pos = nl + 5 + len;
    if (headers['gateway-id'] !== GATEWAY_ID) continue;
    out.push({ headers, values: batch.readings.map((rd) => rd.metrics?.['temperature'] ?? NaN) });
  }
  return out;
}

test('readings published with QoS 1 are acknowledged, reach a real Kafka as LZ4 ReadingBatches with their headers, and leave the outbox empty', async () => {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'arm64-sensor-1', clean: true, reconnectPeriod: 0 });
  try {
    const sent = [20.25, 21.5, 22.75];
    for (const value of sent) {
      // Resolves on the PUBACK, which the gateway sends only after the outbox commit.
      await client.publishAsync('devices/arm64-sensor-1/telemetry', JSON.stringify({ metrics: { temperature: value } }), { qos: 1 });
    }
    let arrived: ReturnType<typeof batchesOnKafka> = [];
    await waitUntil(
      async () => {
        arrived = batchesOnKafka();
        const values = arrived.flatMap((b) => b.values);
        return sent.every((v) => values.includes(v));
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'the readings on iot.readings' },
    );
    for (const b of arrived) {
      assert.equal(b.headers['content-encoding'], 'lz4');
      assert.equal(Number(b.headers['reading-count']), b.values.length);
    }
    assert.deepEqual(arrived.flatMap((b) => b.values).sort(), [...sent].sort());
    await waitUntil(async () => gw.outbox.stats().depthValues === 0, { timeoutMs: 60_000, what: 'the outbox to drain after delivery' });
  } finally {
    await client.endAsync();
  }
});
