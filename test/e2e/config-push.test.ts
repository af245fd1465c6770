// Issue 15, acceptance 3: a Modbus register map pushed through the cloud API is applied by a running
// gateway without a restart while an MQTT device publishes at QoS 1, with no acknowledged reading
// lost and the device's session kept; a broken config is refused by the gateway, rolled back, and
// the heartbeat says why. Real Kafka, the cloud (`all`, embedded database), the gateway as a child
// process built from dist/, a pymodbus slave and an MQTT.js client.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { GatewayChild } from '../../devstack/gateway-child.js';
import { startPymodbusTcpSlave, type PymodbusTcpSlave } from '../../devstack/pymodbus.js';
import { exactlyOnce, startCloud, type CloudStack } from '../../devstack/stack.js';
import { waitUntil } from '../fault/gateway-support.js';

const GW = 'gw-cfgpush';
const A = 111;
const B = 222;

interface GatewayItem {
  status: string;
  reasons: string[];
  config: { state: string; desired_version: number | null; applied_version: number | null; seen_version: number | null; source: string | null; error: string | null; conflict: string | null };
}

/** A Modbus section polling the slave's holding registers: `metrics` maps metric name to address. */
function modbusSection(port: number, metrics: Record<string, number>): Record<string, unknown> {
  return {
    enabled: true,
    buses: [{
      type: 'tcp', name: 'plc-bus', host: '127.0.0.1', port,
      devices: [{ deviceId: 'plc-1', unitId: 1, tagGroups: [{ pollIntervalMs: 250, tags: Object.entries(metrics).map(([metric, address]) => ({ metric, function: 3, address })) }] }],
    }],
  };
}

/** One MQTT.js device publishing seq at QoS 1, remembering every seq the gateway acknowledged and every (re)connection. */
class Device {
  readonly acked: number[] = [];
  connects = 0;
  closes = 0;
  private seq = 0;
  private timer?: NodeJS.Timeout;
  private inflight = new Set<Promise<unknown>>();
  private constructor(private readonly client: mqtt.MqttClient) {
    client.on('connect', () => this.connects++);
    client.on('close', () => this.closes++);
  }

  static async start(url: string): Promise<Device> {
    const client = await mqtt.connectAsync(url, { clientId: 'cfg-dev-1', clean: false, reconnectPeriod: 500 });
    const d = new Device(client);
    d.connects = 1;
    d.timer = setInterval(() => d.publish(), 20);
    return d;
  }

  private publish(): void {
    const seq = ++this.seq;
    const p = this.client.publishAsync('devices/cfg-dev-1/telemetry', JSON.stringify({ metrics: { seq } }), { qos: 1 }).then(
      () => this.acked.push(seq),
      () => undefined,
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.race([Promise.all([...this.inflight]), new Promise((r) => setTimeout(r, 10_000))]);
    await this.client.endAsync();
  }
}

describe('config from the cloud: PUT /v1/gateways/{id}/config → iot.gateway-config → a running gateway', () => {
  let stack: CloudStack;
  let slave: PymodbusTcpSlave;
  let gw: GatewayChild;
  let dir: string;
  let admin: string;
  let device: Device | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-cfgpush-'));
    slave = await startPymodbusTcpSlave('cfgpush', {
      1: { values: [{ table: 'holding', address: 0, type: 'uint16', value: A }, { table: 'holding', address: 10, type: 'uint16', value: B }] },
    });
    stack = await startCloud();
    admin = await stack.cloud.auth.issue({ subject: 'ops-admin', role: 'admin', ttlSeconds: 3600 });
    gw = await GatewayChild.create({
      dir, gatewayId: GW, brokers: stack.kafka.bootstrap,
      config: { modbus: modbusSection(slave.port, { a: 0 }), kafka: { heartbeatIntervalMs: 1_000 }, cloudConfig: { verifyMs: 3_000 } },
    });
    await gw.start();
  });

  after(async () => {
    await device?.stop().catch(() => undefined);
    await gw?.stop().catch(() => undefined);
    await stack?.stop();
    await slave?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string, token = admin) => fetch(`${stack.apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const put = (body: unknown, token = admin, id = GW) =>
    fetch(`${stack.apiUrl}/v1/gateways/${id}/config`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const gateway = async (): Promise<GatewayItem | null> => {
    const res = await get(`/v1/gateways/${GW}`);
    return res.status === 200 ? ((await res.json()) as GatewayItem) : null;
  };
  const values = async (metric: string): Promise<{ ts: string; value: number }[]> => {
    const res = await get(`/v1/devices/plc-1/readings?metric=${metric}&from=0&limit=10000`);
    return res.status === 200 ? ((await res.json()) as { readings: { ts: string; value: number }[] }).readings : [];
  };

  it('a pushed register map is polled without a restart; the MQTT device loses nothing and keeps its session', { timeout: 180_000 }, async () => {
    const first = await waitUntil('the gateway\'s first heartbeat through the API', gateway, (g) => g !== null && g.config.source === 'file', 60_000);
    assert.equal(first!.config.state, 'none');
    await waitUntil('register a polled', () => values('a'), (v) => v.length > 0 && v[0]!.value === A, 60_000);
    const pid = gw.pid;
    const mqttStarts = (gw.log().match(/"msg":"mqtt listening"/g) ?? []).length;
    assert.ok(mqttStarts >= 1, 'the MQTT adapter logs its start');
    device = await Device.start(gw.mqttUrl);
    await waitUntil('the device publishing', async () => device!.acked.length, (n) => n >= 50, 30_000);

    const res = await put({ section: 'modbus', config: modbusSection(slave.port, { a: 0, b: 10 }) });
    assert.equal(res.status, 202, await res.clone().text());
    const issued = (await res.json()) as { version: number; state: string; gateway_id: string; issued_by: string };
    assert.equal(issued.version, 1);
    assert.equal(issued.state, 'pending');
    assert.equal(issued.issued_by, 'ops-admin');

    const applied = await waitUntil('version 1 applied, by the heartbeat', gateway, (g) => g?.config.state === 'applied', 60_000);
    assert.deepEqual(applied!.config, { state: 'applied', desired_version: 1, applied_version: 1, seen_version: 1, source: 'cloud', error: null, conflict: null });
    const b = await waitUntil('register b polled under the new map', () => values('b'), (v) => v.length >= 3, 60_000);
    assert.ok(b.every((r) => r.value === B));
    assert.equal(gw.pid, pid, 'the same process');
    assert.equal(gw.starts, 1);
    assert.match(gw.log(), /cloud config version applied/);
    // A Modbus-only change leaves the MQTT adapter alone: its clients never see a disconnection.
    assert.equal((gw.log().match(/"msg":"mqtt listening"/g) ?? []).length, mqttStarts, 'the MQTT adapter was not restarted');
    assert.match(gw.log(), /"applied":\["modbus"\][^\n]*"msg":"configuration applied"/);
    const status = (await (await fetch(`http://127.0.0.1:${gw.apiPort}/status`, { headers: { authorization: 'Bearer fault-test-admin-token' } })).json()) as { cloudConfig: { source: string; version: number } };
    assert.equal(status.cloudConfig.source, 'cloud');
    assert.equal(status.cloudConfig.version, 1);

    const acked = device.acked.length;
    await waitUntil('the device publishing after the change', async () => device!.acked.length, (n) => n >= acked + 50, 30_000);
    assert.equal(device.connects, 1, 'the device never reconnected');
    assert.equal(device.closes, 0, 'the device\'s connection never closed');
  });

  it('a config that fails to apply is refused and rolled back; the heartbeat says why; the previous map still polls', { timeout: 180_000 }, async () => {
    // Valid by the schema, but its serial port does not exist on this machine: the bus never opens.
    const broken = { enabled: true, buses: [{ type: 'rtu', path: join(dir, 'ttyFL-missing'), devices: [{ deviceId: 'plc-9', unitId: 9, tagGroups: [{ tags: [{ metric: 'x', function: 3, address: 0 }] }] }] }] };
    const res = await put({ section: 'modbus', config: broken });
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { version: number }).version, 2);
    const g = await waitUntil('version 2 refused, by the heartbeat', gateway, (x) => x?.config.state === 'failed', 60_000);
    assert.equal(g!.config.applied_version, 1);
    assert.equal(g!.config.seen_version, 2);
    assert.match(g!.config.error ?? '', /^version 2: FL_ERR_CONFIG_CLOUD_FAILED: modbus is down with the new settings .*ttyFL-missing.*; the previous config runs again$/);
    assert.equal(g!.status, 'degraded');
    assert.ok(g!.reasons.some((r) => r.startsWith('cloud config refused: version 2')), JSON.stringify(g!.reasons));
    const failedAt = Date.now();
    await waitUntil('register b polled again under version 1', () => values('b'), (v) => v.some((r) => Date.parse(r.ts) > failedAt), 60_000);
    assert.equal(gw.starts, 1);
    assert.match(gw.log(), /cloud config version refused; rolled back/);
  });

  it('answers 400 for a body that fails validation, 403 without admin, 404 outside the token\'s fleet', async () => {
    const bad = await put({ section: 'modbus', config: { enabled: 'yes', buses: [] } });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: { code: string; message: string; issues: { path: string }[] } };
    assert.equal(body.error.code, 'FL_ERR_API_BAD_CONFIG');
    assert.ok(body.error.issues.some((i) => i.path === 'modbus.enabled'), JSON.stringify(body));
    const local = await put({ config: { kafka: { brokers: 'elsewhere:9092' } } });
    assert.equal(local.status, 400);
    assert.match(await local.text(), /kafka is set only in the gateway's own file/);

    const operator = await stack.cloud.auth.issue({ subject: 'op', role: 'operator', ttlSeconds: 600 });
    const denied = await put({ section: 'modbus', config: { enabled: false } }, operator);
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'FL_ERR_AUTH_SCOPE');

    const otherFleet = await stack.cloud.auth.issue({ subject: 'other', role: 'admin', fleet: ['gw-elsewhere'], ttlSeconds: 600 });
    const hidden = await put({ section: 'modbus', config: { enabled: false } }, otherFleet);
    assert.equal(hidden.status, 404);
    assert.equal(((await hidden.json()) as { error: { code: string } }).error.code, 'FL_ERR_API_GATEWAY_NOT_FOUND');
    // None of them was stored: the next version is still 3.
    assert.equal((await gateway())!.config.desired_version, 2);
  });

  it('a change made on site shows as local; a cloud version issued after it wins', { timeout: 120_000 }, async () => {
    const patch = await fetch(`http://127.0.0.1:${gw.apiPort}/config`, {
      method: 'PATCH',
      headers: { authorization: 'Bearer fault-test-admin-token', 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ pipeline: { maxMetricsPerReading: 32 } }),
    });
    assert.equal(patch.status, 200, await patch.clone().text());
    await waitUntil('the heartbeat says the config was changed on site', gateway, (x) => x?.config.source === 'local', 30_000);
    const res = await put({ section: 'pipeline', config: { maxMetricsPerReading: 48 } });
    assert.equal(res.status, 202);
    const g = await waitUntil('version 3 applied over the local change', gateway, (x) => x?.config.state === 'applied' && x.config.applied_version === 3, 60_000);
    assert.equal(g!.config.source, 'cloud');
    assert.equal(g!.config.conflict, null);
  });

  it('a cloud version issued before a change made on site is held back, and the conflict shows on both sides; a newer one resolves it', { timeout: 240_000 }, async () => {
    // Kafka down: the version is stored but cannot reach the gateway before the change on site.
    await stack.kafka.stop();
    let issuedBefore: { version: number; published: boolean };
    try {
      const res = await put({ section: 'pipeline', config: { maxMetricsPerReading: 40 } });
      assert.equal(res.status, 202);
      issuedBefore = (await res.json()) as { version: number; published: boolean };
      assert.equal(issuedBefore.version, 4);
      assert.equal(issuedBefore.published, false, 'Kafka is down: stored, not yet on the topic');
      await new Promise((r) => setTimeout(r, 50));
      const patch = await fetch(`http://127.0.0.1:${gw.apiPort}/config`, {
        method: 'PATCH',
        headers: { authorization: 'Bearer fault-test-admin-token', 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({ pipeline: { maxMetricsPerReading: 30 } }),
      });
      assert.equal(patch.status, 200);
    } finally {
      await stack.kafka.start();
    }
    const g = await waitUntil('the conflict in the heartbeat', gateway, (x) => x?.config.state === 'conflict', 120_000);
    assert.equal(g!.config.applied_version, 3);
    assert.equal(g!.config.seen_version, 4);
    assert.equal(g!.config.source, 'local');
    assert.match(g!.config.conflict ?? '', /^version 4, issued .*, predates the change made on site at .* \(on top of version 3\)/);
    assert.equal(g!.status, 'degraded');
    assert.ok(g!.reasons.some((r) => r.startsWith('cloud config held back: version 4')), JSON.stringify(g!.reasons));
    const local = (await (await fetch(`http://127.0.0.1:${gw.apiPort}/status`, { headers: { authorization: 'Bearer fault-test-admin-token' } })).json()) as {
      cloudConfig: { conflict: string; source: string };
    };
    assert.equal(local.cloudConfig.source, 'local');
    assert.match(local.cloudConfig.conflict, /^version 4, issued/);
    const cfg = (await (await fetch(`http://127.0.0.1:${gw.apiPort}/config`, { headers: { authorization: 'Bearer fault-test-admin-token' } })).json()) as {
      config: { pipeline: { maxMetricsPerReading: number } };
    };
    assert.equal(cfg.config.pipeline.maxMetricsPerReading, 30, 'the local change is what the file holds');

    const res = await put({ section: 'pipeline', config: { maxMetricsPerReading: 50 } });
    assert.equal(((await res.json()) as { version: number }).version, 5);
    const resolved = await waitUntil('version 5 applied, the conflict gone', gateway, (x) => x?.config.state === 'applied' && x.config.applied_version === 5, 90_000);
    assert.equal(resolved!.config.conflict, null);
    assert.equal(resolved!.config.source, 'cloud');
  });

  it('every acknowledged MQTT reading is in the database exactly once', { timeout: 180_000 }, async () => {
    assert.ok(device, 'the device ran');
    await device.stop();
    const acked = [...device.acked];
    assert.ok(acked.length > 200, `acked ${acked.length}`);
    const stored = await stack.waitFor(() => stack.seqsOf('cfg-dev-1'), (s) => s.length >= acked.length, 120_000);
    assert.deepEqual(exactlyOnce(acked, stored), { missing: [], doubled: [] });
    assert.equal(device.connects, 1, 'one connection from start to end');
    assert.equal(device.closes, 1, 'closed once, by the test');
    device = undefined;
  });
});
