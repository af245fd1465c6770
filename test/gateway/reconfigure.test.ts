// Issue 13: a config change made through the local API while devices publish is written to the file
// (validated, with a backup) and applied without restarting the gateway, and nothing a device was
// acknowledged for is lost on the way. A real gateway (MQTT on a free port, a real outbox in a temp
// folder, Kafka unreachable so every reading stays in the outbox to be counted), a real MQTT client
// publishing QoS 1 readings continuously, real HTTP requests to /config.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../common/src/config.js';
import { freePort, listenOn } from '../../devstack/net.js';
import { buildLocalApi } from '../../gateway/src/api/server.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { writeConfigAtomic } from '../../gateway/src/config/file.js';
import { Gateway } from '../../gateway/src/gateway.js';
import { v1 } from '../../proto/src/wire.js';
import { eventually } from '../modbus/support.js';

const TOKEN = 'reconfigure-test-token-0123456789';

describe('PATCH /config applies changes live and loses no acknowledged reading', () => {
  let dir: string;
  let file: string;
  let original: string;
  let gw: Gateway;
  let stopped = false;
  let mqttPort: number;
  let publisher: MqttClient | undefined;
  const acked = new Set<number>();
  let publishing = true;
  let loop: Promise<void> = Promise.resolve();

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${gw.apiPort}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) } });
  const patch = (body: unknown, query = '') =>
    api(`/config${query}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify(body) });

  /** One QoS 1 publish; resolves on PUBACK (mqtt.js resends it across reconnects until then). */
  const publish = (client: MqttClient, deviceId: string, body: unknown, padTo = 0): Promise<void> =>
    new Promise((resolve, reject) =>
      client.publish(`devices/${deviceId}/telemetry`, JSON.stringify(body).padEnd(padTo, ' '), { qos: 1 }, (err) => (err ? reject(err) : resolve())));

  const connect = (clientId: string): Promise<MqttClient> =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId, reconnectPeriod: 100, connectTimeout: 5_000 });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-reconfigure-'));
    file = join(dir, 'gateway.yaml');
    mqttPort = await freePort({ stable: true });
    original = `# written by the test, edited through the API
${stringify({
  gatewayId: 'gw-reconfigure',
  dataDir: join(dir, 'data'),
  logLevel: 'silent',
  // One side client speaks for several test devices.
  mqtt: { host: '127.0.0.1', port: mqttPort, enforceAcl: false },
  coap: { enabled: false },
  rateLimit: { profiles: { default: { ratePerSecond: 10_000, burst: 10_000 } } },
  kafka: { brokers: `127.0.0.1:${await freePort()}` },
  api: { host: '127.0.0.1', port: 0, adminToken: TOKEN },
})}`;
    writeConfigAtomic(file, original, 0);
    const cfg = loadConfig(gatewayConfigSchema, { file, env: {}, envPrefix: GATEWAY_ENV_PREFIX });
    gw = new Gateway(cfg, pino({ level: 'silent' }), { configFile: file });
    await gw.start();
    publisher = await connect('rc-1');
    let seq = 0;
    loop = (async () => {
      while (publishing) {
        const n = ++seq;
        await publish(publisher!, 'rc-1', { metrics: { temperature: 20, seq: n } });
        acked.add(n);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  });

  after(async () => {
    publishing = false;
    publisher?.end(true);
    if (!stopped) await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /config shows the file and the effective settings with the admin token redacted', async () => {
    const res = await api('/config');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { file: string; config: { api: { adminToken: string } }; effective: { api: { adminToken: string }; mqtt: { maxPayloadBytes: number } }; envOverrides: string[]; writable: boolean };
    assert.equal(body.file, file);
    assert.equal(body.config.api.adminToken, '********');
    assert.equal(body.effective.api.adminToken, '********');
    assert.equal(body.effective.mqtt.maxPayloadBytes, 65_536, 'defaults are filled in');
    assert.equal(body.writable, true);
    assert.ok(!JSON.stringify(body).includes(TOKEN));
  });

  it('changes mqtt and pipeline settings while readings flow: new limits in force, every PUBACKed reading in the outbox', async () => {
    const side = await connect('rc-side');
    try {
      // Before: a 400-byte payload and a 50 °C reading are accepted.
      // Trailing blanks keep the JSON valid while making it 400 bytes.
      const big = { metrics: { temperature: 21 } };
      await publish(side, 'rc-big-before', big, 400);
      await publish(side, 'rc-hot-before', { metrics: { temperature: 50 } });
      await eventually(() => acked.size >= 20, 'readings acknowledged before the change', 30_000);

      const res = await patch({ mqtt: { maxPayloadBytes: 256 }, pipeline: { ranges: { temperature: { min: -10, max: 30 } } } });
      const body = (await res.json()) as { applied: string[]; restartRequired: string[]; failed: unknown[]; backup: string; config: { api: { adminToken: string } } };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.deepEqual([...body.applied].sort(), ['mqtt', 'pipeline']);
      assert.deepEqual(body.restartRequired, []);
      assert.deepEqual(body.failed, []);
      assert.equal(body.backup, `${file}.bak`);
      assert.equal(body.config.api.adminToken, '********');
      assert.equal(readFileSync(`${file}.bak`, 'utf8'), original, 'the backup holds the previous file');
      assert.equal(statSync(file).mode & 0o777, 0o600);

      const afterChange = acked.size;
      await eventually(() => acked.size >= afterChange + 20, 'readings acknowledged after the MQTT restart', 30_000);

      // After: the same payloads are quarantined, each with its reason.
      await eventually(() => side.connected, 'the side client reconnected', 15_000);
      await publish(side, 'rc-big-after', big, 400);
      await publish(side, 'rc-hot-after', { metrics: { temperature: 50 } });
      const q = (await (await api('/quarantine?limit=100')).json()) as { items: { deviceId: string; reasonCode: string }[] };
      const reasons = Object.fromEntries(q.items.map((i) => [i.deviceId, i.reasonCode]));
      assert.equal(reasons['rc-big-after'], 'FL_ERR_INGEST_TOO_LARGE');
      assert.equal(reasons['rc-hot-after'], 'FL_ERR_VALIDATE_OUT_OF_RANGE');
      assert.equal(reasons['rc-big-before'], undefined);
      assert.equal(reasons['rc-hot-before'], undefined);
    } finally {
      side.end(true);
    }
  });

  it('an invalid PATCH answers 400 naming the key and leaves the file byte-identical; a dry run writes nothing', async () => {
    const before = readFileSync(file);
    const res = await patch({ mqtt: { maxPayloadBytes: 'big' }, modbus: { buses: [{ name: 'x', type: 'tcp' }] } });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string; issues: { path: string; message: string }[] } };
    assert.equal(body.error.code, 'FL_ERR_CONFIG_INVALID');
    const issue = body.error.issues.find((i) => i.path === 'mqtt.maxPayloadBytes');
    assert.ok(issue, JSON.stringify(body.error.issues));
    assert.match(issue.message, /expected number.*\(got "big"\)/);
    assert.deepEqual(readFileSync(file), before);

    const dry = await patch({ mqtt: { maxPayloadBytes: 512 }, gatewayId: 'gw-renamed' }, '?dryRun=true');
    assert.equal(dry.status, 200);
    const d = (await dry.json()) as { dryRun: boolean; wouldApply: string[]; restartRequired: string[] };
    assert.deepEqual(d.wouldApply, ['mqtt']);
    assert.deepEqual(d.restartRequired, ['gatewayId']);
    assert.deepEqual(readFileSync(file), before);
  });

  it('an MQTT port already taken fails the apply: the answer and /status say so and MQTT keeps running on the old port', async () => {
    const blocker = await listenOn(await freePort({ stable: true }), '127.0.0.1');
    const taken = (blocker.address() as { port: number }).port;
    try {
      const res = await patch({ mqtt: { port: taken } });
      const body = (await res.json()) as { applied: string[]; failed: { part: string; code: string; message: string }[] };
      assert.equal(res.status, 200);
      assert.equal(body.failed.length, 1, JSON.stringify(body));
      assert.equal(body.failed[0]!.part, 'mqtt');
      assert.equal(body.failed[0]!.code, 'FL_ERR_CONFIG_APPLY');
      assert.match(body.failed[0]!.message, /EADDRINUSE.*running the previous settings/);
      const status = (await (await api('/status')).json()) as { adapters: { name: string; state: string; detail: string }[] };
      const m = status.adapters.find((a) => a.name === 'mqtt')!;
      assert.equal(m.state, 'degraded');
      assert.match(m.detail, /previous settings/);
      assert.equal(gw.mqtt?.boundPort, mqttPort);
      const n = acked.size;
      await eventually(() => acked.size >= n + 10, 'readings still acknowledged on the old port', 30_000);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
    // Back to the port in use: the file matches what runs again, so nothing restarts and the failure clears.
    const res = await patch({ mqtt: { port: mqttPort } });
    const body = (await res.json()) as { applied: string[]; failed: unknown[] };
    assert.deepEqual(body.failed, []);
    assert.deepEqual(body.applied, []);
    const status = (await (await api('/status')).json()) as { adapters: { name: string; state: string }[] };
    assert.equal(status.adapters.find((a) => a.name === 'mqtt')!.state, 'up');
  });

  it('PUT /config/files/:name keeps PEM text under <dataDir>/certs, 0600, and refuses other bodies and names', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vy\n-----END CERTIFICATE-----\n';
    const ok = await api('/config/files/kafka-ca.pem', { method: 'PUT', headers: { 'content-type': 'application/x-pem-file' }, body: pem });
    assert.equal(ok.status, 200);
    const { path } = (await ok.json()) as { path: string };
    assert.equal(path, join(dir, 'data', 'certs', 'kafka-ca.pem'));
    assert.equal(readFileSync(path, 'utf8'), pem);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const notPem = await api('/config/files/kafka-ca.pem', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(notPem.status, 400);
    assert.equal(((await notPem.json()) as { error: { code: string } }).error.code, 'FL_ERR_CONFIG_NOT_PEM');
    const badName = await api('/config/files/..%2Fescape.pem', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: pem });
    assert.equal(badName.status, 400);
    assert.equal(((await badName.json()) as { error: { code: string } }).error.code, 'FL_ERR_CONFIG_FILE_NAME');
  });

  it('a kafka change restarts the cloud link in place while readings keep being acknowledged', async () => {
    const old = gw.forwarder;
    const res = await patch({ kafka: { brokers: `127.0.0.1:${await freePort()}`, heartbeatIntervalMs: 1_000 } });
    const body = (await res.json()) as { applied: string[]; failed: unknown[]; restartRequired: string[] };
    assert.equal(res.status, 200);
    assert.deepEqual(body.applied, ['kafka']);
    assert.deepEqual(body.failed, []);
    assert.notEqual(gw.forwarder, old, 'a new forwarder runs');
    const n = acked.size;
    await eventually(() => acked.size >= n + 10, 'readings acknowledged after the link restart', 30_000);
    const status = (await (await api('/status')).json()) as { cloud: { link: string } };
    assert.notEqual(status.cloud.link, 'up', 'nothing listens on the new broker address');
  });

  it('every reading acknowledged to the device through all of this is in the outbox', async () => {
    publishing = false;
    await loop;
    stopped = true;
    await gw.stop();
    const db = new Database(join(dir, 'data', 'outbox.db'), { readonly: true });
    try {
      const rows = db.prepare("SELECT payload FROM readings WHERE device_id = 'rc-1'").all() as { payload: Buffer }[];
      const stored = new Set(rows.map((r) => v1.Reading.decode(r.payload).metrics['seq']));
      const missing = [...acked].filter((n) => !stored.has(n));
      assert.ok(acked.size >= 50, `published enough to mean something (${acked.size})`);
      assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged readings missing`);
      assert.equal(rows.length, stored.size, 'and none twice');
    } finally {
      db.close();
    }
  });
});

describe('PATCH /config without a config file', () => {
  it('answers 409 FL_ERR_CONFIG_NO_FILE, and GET shows the running settings read-only', async () => {
    const cfg = gatewayConfigSchema.parse({ gatewayId: 'gw-nofile', api: { adminToken: TOKEN } });
    const app = buildLocalApi({
      token: TOKEN, status: () => ({}), metrics: async () => '', quarantine: () => [], devices: () => [],
      config: { file: null, dataDir: tmpdir(), running: () => cfg, reconfigure: async () => ({ applied: [], restartRequired: [], failed: [] }), env: {} },
    });
    try {
      const auth = { authorization: `Bearer ${TOKEN}` };
      const res = await app.inject({ method: 'PATCH', url: '/config', headers: { ...auth, 'content-type': 'application/json' }, payload: { logLevel: 'debug' } });
      assert.equal(res.statusCode, 409);
      assert.equal(res.json<{ error: { code: string } }>().error.code, 'FL_ERR_CONFIG_NO_FILE');
      const get = await app.inject({ method: 'GET', url: '/config', headers: auth });
      const body = get.json<{ file: null; writable: boolean; effective: { gatewayId: string; api: { adminToken: string } } }>();
      assert.equal(body.file, null);
      assert.equal(body.writable, false);
      assert.equal(body.effective.gatewayId, 'gw-nofile');
      assert.equal(body.effective.api.adminToken, '********');
    } finally {
      await app.close();
    }
  });
});
