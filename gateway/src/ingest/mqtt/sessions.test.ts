// Persistent sessions (mqtt.persistSessions, aedes-persistence-level under <dataDir>/mqtt): a
// device's subscriptions and the QoS 1 messages queued for it while it was offline survive a
// gateway restart. Real broker, real LevelDB, MQTT.js clients.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../../config/schema.js';
import { Metrics } from '../../metrics.js';
import { MqttAdapter } from './adapter.js';

describe('MQTT sessions survive a gateway restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-mqtt-sessions-'));
  // Commands to a device come from another client here, so the per-device ACL is off.
  const cfg = gatewayConfigSchema.parse({ mqtt: { host: '127.0.0.1', port: 0, persistSessions: true, enforceAcl: false } });
  let adapter: MqttAdapter | undefined;

  async function startGateway(): Promise<string> {
    adapter = new MqttAdapter(cfg.mqtt, cfg.rateLimit, new Metrics(), pino({ level: 'silent' }), dir);
    await adapter.start(async () => ({ ok: true, values: 1 }));
    return `mqtt://127.0.0.1:${adapter.boundPort}`;
  }
  async function restartGateway(): Promise<string> {
    await adapter?.stop();
    return startGateway();
  }

  after(async () => {
    await adapter?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a subscription and a QoS 1 message queued while the device was away are there after two restarts', async () => {
    let url = await startGateway();
    const first = await mqtt.connectAsync(url, { clientId: 'valve-1', clean: false, reconnectPeriod: 0 });
    await first.subscribeAsync('devices/valve-1/cmd', { qos: 1 });
    await first.endAsync();

    url = await restartGateway();
    const operator = await mqtt.connectAsync(url, { clientId: 'operator', reconnectPeriod: 0 });
    await operator.publishAsync('devices/valve-1/cmd', 'close', { qos: 1 });
    await operator.endAsync();

    url = await restartGateway();
    const received: string[] = [];
    // Listening before the CONNACK: the queued message may follow it at once.
    const again = mqtt.connect(url, { clientId: 'valve-1', clean: false, reconnectPeriod: 0 });
    again.on('message', (_topic, payload) => received.push(payload.toString()));
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      again.once('connect', resolve);
      again.once('error', reject);
    });
    try {
      assert.equal(connack.sessionPresent, true, 'the broker still knows the session');
      const deadline = Date.now() + 5_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(received, ['close'], 'the queued QoS 1 message is delivered after the restarts');
    } finally {
      await again.endAsync();
    }
  });
});
