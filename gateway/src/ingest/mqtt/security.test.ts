// MQTT security with real clients (mosquitto_pub, MQTT.js) against a real TLS listener and
// certificates made by openssl: who may connect, and where a device may publish and subscribe.
// Also the known aedes crash inputs (issue 3, acceptance 1 and 4).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../../config/schema.js';
import { Metrics } from '../../metrics.js';
import { SqliteOutbox } from '../../outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from '../../pipeline/pipeline.js';
import { v1 } from '../../../../proto/src/wire.js';
import { hashPassword } from './credentials.js';
import { MqttAdapter } from './adapter.js';

const run = promisify(execFile);

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1, and client certificates named by CN. */
function makePki(dir: string, name: string, clients: string[]): void {
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name} CA`, '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`);
  for (const cn of ['server', ...clients]) {
    openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`,
      '-keyout', `${name}-${cn}.key`, '-out', `${name}-${cn}.csr`);
    writeFileSync(join(dir, `${cn}.ext`), cn === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : `subjectAltName=DNS:${cn}\n`);
    openssl(dir, 'x509', '-req', '-in', `${name}-${cn}.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial',
      '-days', '2', '-extfile', `${cn}.ext`, '-out', `${name}-${cn}.pem`);
  }
}

describe('MQTT security', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-mqtt-sec-'));
  let outbox: SqliteOutbox;
  let adapter: MqttAdapter;
  const metrics = new Metrics();

  before(async () => {
    makePki(dir, 'fleet', ['sensor-1']);
    makePki(dir, 'rogue', ['sensor-1']);
    const cfg = gatewayConfigSchema.parse({
      mqtt: {
        host: '127.0.0.1', port: 0, persistSessions: false,
        tls: { enabled: true, port: 0, certFile: join(dir, 'fleet-server.pem'), keyFile: join(dir, 'fleet-server.key'), caFile: join(dir, 'fleet-ca.pem') },
        credentials: [{ username: 'meter-7', password: hashPassword('s3cret-pass') }],
      },
    });
    outbox = new SqliteOutbox({ path: join(dir, 'outbox.db') });
    const pipeline = new Pipeline('gw', defaultSteps(cfg), outbox, metrics);
    adapter = new MqttAdapter(cfg.mqtt, cfg.rateLimit, metrics, pino({ level: 'silent' }));
    await adapter.start((env) => pipeline.process(env));
  });
  after(async () => {
    await adapter.stop();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function devicesInOutbox(): string[] {
    const out: string[] = [];
    for (let b = outbox.lease(10_000); b; b = outbox.lease(10_000)) {
      for (const r of b.readings) out.push(v1.Reading.decode(r).deviceId);
      outbox.ack(b.seq);
    }
    return out;
  }

  const tlsPub = (prefix: string, topic: string, extra: string[] = []) =>
    run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(adapter.tlsPort), '--cafile', join(dir, 'fleet-ca.pem'),
      ...(prefix ? ['--cert', join(dir, `${prefix}-sensor-1.pem`), '--key', join(dir, `${prefix}-sensor-1.key`)] : []),
      '-q', '1', '-t', topic, '-m', '{"metrics":{"t":21}}', ...extra], { timeout: 10_000 });

  it('mosquitto_pub with a client certificate signed by the fleet CA publishes over TLS', async () => {
    await tlsPub('fleet', 'devices/sensor-1/telemetry', ['-i', 'any-client-id']);
    assert.deepEqual(devicesInOutbox(), ['sensor-1']);
  });

  it('refuses a TLS client without a certificate', async () => {
    await assert.rejects(tlsPub('', 'devices/sensor-1/telemetry'));
    assert.deepEqual(devicesInOutbox(), []);
  });

  it('refuses a certificate from another CA', async () => {
    await assert.rejects(tlsPub('rogue', 'devices/sensor-1/telemetry'));
    assert.deepEqual(devicesInOutbox(), []);
  });

  it("refuses a certified device publishing to another device's topic, and counts it against the sender", async () => {
    const before = metrics.deviceLoss.get('sensor-1')?.quarantined ?? 0;
    await assert.rejects(tlsPub('fleet', 'devices/sensor-2/telemetry'));
    assert.deepEqual(devicesInOutbox(), []);
    assert.equal(metrics.deviceLoss.get('sensor-1')?.quarantined, before + 1);
    assert.ok((metrics.reasons.get('FL_ERR_MQTT_ACL_DENIED') ?? 0) >= 1);
    assert.equal(outbox.recentQuarantine(1)[0]?.reasonCode, 'FL_ERR_MQTT_ACL_DENIED');
  });

  it('takes a login on the plain port and binds it to its device; refuses a wrong password', async () => {
    const url = `mqtt://127.0.0.1:${adapter.boundPort}`;
    const ok = await mqtt.connectAsync(url, { username: 'meter-7', password: 's3cret-pass', clientId: 'c1', reconnectPeriod: 0 });
    await ok.publishAsync('devices/meter-7/telemetry', '{"metrics":{"kwh":1.5}}', { qos: 1 });
    await ok.endAsync();
    assert.deepEqual(devicesInOutbox(), ['meter-7']);
    await assert.rejects(mqtt.connectAsync(url, { username: 'meter-7', password: 'wrong', reconnectPeriod: 0 }));
  });

  it('refuses subscriptions to #, $SYS and other devices, and allows its own subtree', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${adapter.boundPort}`, { clientId: 'dev-a', reconnectPeriod: 0 });
    const outcome: Record<string, string> = {};
    for (const topic of ['#', '$SYS/#', 'devices/dev-b/#', '+/+/telemetry', 'devices/dev-a/commands']) {
      // MQTT.js turns a 0x80 return code in the SUBACK into a rejected promise.
      outcome[topic] = await c.subscribeAsync(topic).then((g) => `granted qos ${g[0]?.qos}`, () => 'refused');
    }
    await c.endAsync();
    assert.deepEqual(outcome, {
      '#': 'refused', '$SYS/#': 'refused', 'devices/dev-b/#': 'refused', '+/+/telemetry': 'refused', 'devices/dev-a/commands': 'granted qos 0',
    });
  });

  describe('known aedes crash inputs leave the broker serving', () => {
    const stillServes = async () => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${adapter.boundPort}`, { clientId: 'healthy', reconnectPeriod: 0 });
      await c.publishAsync('devices/healthy/telemetry', '{"metrics":{"t":1}}', { qos: 1 });
      await c.endAsync();
      assert.deepEqual(devicesInOutbox(), ['healthy']);
    };

    for (const clientId of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
      it(`client id ${clientId}`, async () => {
        const c = mqtt.connect(`mqtt://127.0.0.1:${adapter.boundPort}`, { clientId, reconnectPeriod: 0, connectTimeout: 3000 });
        c.on('error', () => undefined);
        const connected = await new Promise<boolean>((r) => {
          c.once('connect', () => r(true));
          c.once('close', () => r(false));
          setTimeout(() => r(false), 3000);
        });
        c.end(true);
        assert.equal(connected, false, 'refused');
        await stillServes();
      });
    }

    for (const topic of ['__proto__', 'devices/__proto__/telemetry', 'constructor/prototype', '']) {
      it(`publish to topic ${JSON.stringify(topic)}`, async () => {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${adapter.boundPort}`, { clientId: 'fuzzer', reconnectPeriod: 0 });
        c.on('error', () => undefined);
        await Promise.race([c.publishAsync(topic, 'x', { qos: 1 }).catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
        c.end(true);
        await stillServes();
      });
    }

    it('a 64 KiB topic', async () => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${adapter.boundPort}`, { clientId: 'fuzzer2', reconnectPeriod: 0 });
      c.on('error', () => undefined);
      await Promise.race([c.publishAsync('devices/fuzzer2/' + 'a'.repeat(65_500), 'x', { qos: 1 }).catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
      c.end(true);
      await stillServes();
    });

    it('a packet header announcing 256 MB is cut off before it is buffered', async () => {
      const sock = netConnect(adapter.boundPort, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      // CONNECT with Remaining Length 0x0FFFFFFF (268,435,455), then a trickle of body bytes.
      sock.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
      sock.write(Buffer.alloc(1024, 1));
      const closed = await new Promise<boolean>((r) => {
        sock.once('close', () => r(true));
        setTimeout(() => r(false), 3000);
      });
      sock.destroy();
      assert.ok(closed, 'the connection is closed');
      await stillServes();
    });
  });
});
