// rateLimit.disconnectAfter over a real MQTT connection (MQTT.js against the adapter's aedes
// broker): a client throttled that many times in a row is disconnected, every throttled message is
// counted as rate-limited loss, and another device on the same gateway is not affected.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../../config/schema.js';
import { Metrics } from '../../metrics.js';
import { SqliteOutbox } from '../../outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from '../../pipeline/pipeline.js';
import { MqttAdapter } from './adapter.js';

const DISCONNECT_AFTER = 5;
const BURST = 2;

describe('MQTT rateLimit.disconnectAfter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-mqtt-ratelimit-'));
  const metrics = new Metrics();
  let outbox: SqliteOutbox;
  let adapter: MqttAdapter;
  let url: string;

  before(async () => {
    const cfg = gatewayConfigSchema.parse({
      mqtt: { host: '127.0.0.1', port: 0, persistSessions: false },
      // A burst of two, and practically no refill while the test runs: the third message in a row
      // and every one after it is throttled, however slow the machine.
      rateLimit: { profiles: { default: { ratePerSecond: 0.001, burst: BURST } }, disconnectAfter: DISCONNECT_AFTER },
    });
    outbox = new SqliteOutbox({ path: join(dir, 'outbox.db') });
    const pipeline = new Pipeline('gw', defaultSteps(cfg), outbox, metrics);
    adapter = new MqttAdapter(cfg.mqtt, cfg.rateLimit, metrics, pino({ level: 'silent' }));
    await adapter.start((env) => pipeline.process(env));
    url = `mqtt://127.0.0.1:${adapter.boundPort}`;
  });

  after(async () => {
    await adapter.stop();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`a client throttled ${DISCONNECT_AFTER} times in a row is disconnected; every throttled message is counted; another device is unaffected`, async () => {
    const flooder = await mqtt.connectAsync(url, { clientId: 'flooder', reconnectPeriod: 0 });
    const neighbour = await mqtt.connectAsync(url, { clientId: 'neighbour', reconnectPeriod: 0 });
    try {
      const closed = new Promise<'closed'>((resolve) => flooder.once('close', () => resolve('closed')));
      const outcomes: string[] = [];
      // One message at a time, each waiting for its PUBACK or the connection's end.
      for (let i = 1; i <= BURST + DISCONNECT_AFTER + 3; i++) {
        const pub = flooder.publishAsync('devices/flooder/telemetry', JSON.stringify({ metrics: { seq: i } }), { qos: 1 }).then(() => 'acked' as const);
        pub.catch(() => undefined);
        const outcome = await Promise.race([pub, closed]);
        outcomes.push(outcome);
        if (outcome === 'closed') break;
      }
      // The burst is committed; the throttled ones are acknowledged (MQTT 3.1.1 has no negative
      // PUBACK) until the DISCONNECT_AFTER-th throttled message in a row, which closes the connection.
      assert.deepEqual(outcomes, [...Array<string>(BURST + DISCONNECT_AFTER - 1).fill('acked'), 'closed']);
      assert.equal(outbox.stats().depthValues, BURST, 'only the burst reached the outbox');
      assert.equal(metrics.deviceLoss.get('flooder')?.rateLimited, DISCONNECT_AFTER, 'every throttled message counted, the last one too');
      assert.equal(metrics.deviceRefusals.get('flooder')?.get('FL_ERR_RATE_LIMITED'), DISCONNECT_AFTER);
      assert.equal(adapter.status().counters?.abuseDisconnects, 1);

      // The neighbour has its own bucket and its own count: still connected, its burst committed.
      for (let i = 1; i <= BURST; i++) await neighbour.publishAsync('devices/neighbour/telemetry', JSON.stringify({ metrics: { seq: i } }), { qos: 1 });
      assert.equal(neighbour.connected, true);
      assert.equal(metrics.deviceLoss.get('neighbour'), undefined);
      assert.equal(outbox.stats().depthValues, 2 * BURST);
      assert.equal(adapter.status().counters?.abuseDisconnects, 1);
    } finally {
      flooder.end(true);
      await neighbour.endAsync();
    }
  });
});
