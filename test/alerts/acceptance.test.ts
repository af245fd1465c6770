/**
 * Issue 11's acceptance on the whole system: a real Kafka broker, the cloud in the `all` role on the
 * embedded TimescaleDB (sink, evaluator, relay, webhooks, API), a real gateway process, and
 * readings published by mosquitto_pub with their own timestamps. Rules are made through the API
 * while everything runs; alerts are read from GET /v1/alerts and from iot.alerts; the webhook
 * receiver is a real local HTTP server that checks every signature.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { verifySignature } from '../../cloud-sink/src/alerts/webhook.js';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { freePorts, run, waitUntil } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { GatewayChild } from '../fault/gateway-support.js';
import { readTopic } from '../fleet/support.js';
import { HookReceiver } from './pumps-support.js';

const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
const SECRET = 'acceptance-webhook-secret-0123456789';

interface ApiAlert {
  id: string;
  rule_id: string;
  state: string;
  target: { device?: string; gateway?: string; metric?: string };
  started_at: string;
  resolved_at: string | null;
  raised_at: string;
  late: boolean;
  value: number | null;
  message: string;
}

describe('alerting and fleet health, end to end', () => {
  let dir: string;
  let kafka: KafkaBroker;
  let cloud: Cloud;
  let gateway: GatewayChild;
  let api: string;
  let token: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-alerts-'));
    kafka = await startKafka({ topics: [...FIELDLINE_TOPICS] });
    cloud = new Cloud(
      cloudConfigSchema.parse({
        dataDir: join(dir, 'cloud'),
        kafka: { brokers: kafka.bootstrap, sessionTimeoutMs: 6_000 },
        api: { host: '127.0.0.1', port: 0 },
        lake: { enabled: false },
        alerts: {
          tickMs: 200,
          checkpointMs: 200,
          relayIntervalMs: 100,
          transitGraceMs: 1_000,
          webhooks: { intervalMs: 200, minBackoffMs: 500, maxBackoffMs: 3_000 },
        },
      }),
      'all',
      quiet,
    );
    await cloud.start();
    api = `http://127.0.0.1:${cloud.apiPort}`;
    token = await cloud.auth.issue({ subject: 'operator@example.com', role: 'operator', ttlSeconds: 3600 });
    gateway = await GatewayChild.create({
      dir: join(dir, 'gw'),
      gatewayId: 'gw-accept',
      brokers: kafka.bootstrap,
      config: { kafka: { heartbeatIntervalMs: 1_000 } },
    });
    await gateway.start();
  });

  after(async () => {
    await gateway?.kill();
    await cloud?.stop();
    await kafka?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async function createRule(rule: Record<string, unknown>): Promise<string> {
    const r = await call<{ id: string }>('POST', '/v1/rules', rule);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id;
  }

  async function alertsOf(ruleId: string): Promise<ApiAlert[]> {
    const r = await call<{ alerts: ApiAlert[] }>('GET', `/v1/alerts?state=all&rule_id=${encodeURIComponent(ruleId)}`);
    assert.equal(r.status, 200);
    return r.body.alerts;
  }

  /** One reading through the gateway, stamped `ts`, as a device on Wi-Fi would send it. */
  async function publish(deviceId: string, ts: number, metrics: Record<string, number>): Promise<void> {
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gateway.mqttPort), '-q', '1', '-i', deviceId, '-t', `devices/${deviceId}/telemetry`, '-m', JSON.stringify({ ts, metrics })]);
    assert.equal(r.code, 0, r.stderr);
  }

  it('a threshold rule created through the API applies to the next reading; it fires once, does not flap between its levels, resolves under the clear level, and a webhook receiver that fails and is down for a minute gets every event, signed', async (t) => {
    const [port] = (await freePorts(1)) as [number];
    let answered = 0;
    const hooks = new HookReceiver(port, () => (++answered <= 2 ? 500 : 200));
    // Closed however the test ends: a receiver left listening keeps the test process alive.
    t.after(() => hooks.close());
    await hooks.listen();
    const t0 = Date.now();
    // A reading over the level before the rule exists raises nothing.
    await publish('th-dev', t0, { temp: 40 });
    const ruleId = await createRule({
      name: 'boiler too hot',
      kind: 'threshold',
      target: { device: 'th-dev', metric: 'temp' },
      params: { op: 'above', value: 30, clear: 25 },
      severity: 'critical',
      webhook: { url: `${hooks.url}/hooks/fieldline`, secret: SECRET },
    });
    // The next reading over it fires, without a restart.
    await publish('th-dev', t0 + 1000, { temp: 31 });
    await waitUntil(async () => (await alertsOf(ruleId)).length === 1, { what: 'the firing alert in GET /v1/alerts', timeoutMs: 20_000 });
    const [firing] = await alertsOf(ruleId);
    assert.equal(firing!.state, 'firing');
    assert.equal(firing!.started_at, new Date(t0 + 1000).toISOString(), 'started at the reading that crossed');
    assert.equal(firing!.value, 31);
    assert.deepEqual(firing!.target, { gateway: 'gw-accept', device: 'th-dev', metric: 'temp' });
    const open = await call<{ alerts: ApiAlert[] }>('GET', '/v1/alerts?state=firing');
    assert.equal(open.body.alerts.filter((a) => a.rule_id === ruleId).length, 1, 'listed under state=firing');

    // The first two deliveries failed (500); now the receiver goes away for a minute.
    await waitUntil(async () => answered >= 2, { what: 'two failed webhook tries', timeoutMs: 20_000 });
    await hooks.close();
    const downSince = Date.now();

    // Between the clear and the fire level: nothing. Under the clear level: resolved.
    for (const [i, v] of [28, 26, 29, 27].entries()) await publish('th-dev', t0 + 2000 + i * 1000, { temp: v });
    await publish('th-dev', t0 + 6000, { temp: 24 });
    await waitUntil(async () => (await alertsOf(ruleId))[0]?.state === 'resolved', { what: 'the alert resolved', timeoutMs: 20_000 });
    const [resolved] = await alertsOf(ruleId);
    assert.equal(resolved!.id, firing!.id);
    assert.equal(resolved!.resolved_at, new Date(t0 + 6000).toISOString(), 'resolved at the reading under the clear level');
    assert.equal((await alertsOf(ruleId)).length, 1, 'still one alert: no flap');

    // iot.alerts: exactly one firing and one resolved event for it.
    await waitUntil(async () => (await readTopic(kafka.bootstrap, 'iot.alerts')).filter((m) => m.key === firing!.id).length >= 2, { what: 'both events on iot.alerts', timeoutMs: 20_000 });
    const onTopic = (await readTopic(kafka.bootstrap, 'iot.alerts')).filter((m) => m.key === firing!.id).map((m) => JSON.parse(m.value.toString()) as { event_id: string; type: string });
    assert.deepEqual(onTopic.map((e) => e.type), ['firing', 'resolved']);

    // Back after a minute: every event arrives, each with a signature made with the rule's secret.
    const downFor = 60_000 - (Date.now() - downSince);
    if (downFor > 0) await new Promise((r) => setTimeout(r, downFor));
    await hooks.listen();
    await waitUntil(async () => hooks.delivered.length >= 2, { what: 'both events delivered after the receiver came back', timeoutMs: 30_000 });
    const delivered = hooks.delivered.map((h) => ({ h, event: JSON.parse(h.body) as { event_id: string; type: string; alert: { id: string } } }));
    assert.deepEqual(delivered.map((d) => d.event.type).sort(), ['firing', 'resolved']);
    assert.deepEqual(new Set(delivered.map((d) => d.event.event_id)), new Set(onTopic.map((e) => e.event_id)), 'the same events as on iot.alerts');
    for (const { h } of delivered) {
      assert.ok(verifySignature(SECRET, h.body, h.headers['x-fieldline-timestamp'], h.headers['x-fieldline-signature'], h.atS), `signature of ${h.body.slice(0, 60)}…`);
      assert.equal(verifySignature('another-secret-0123456789', h.body, h.headers['x-fieldline-timestamp'], h.headers['x-fieldline-signature'], h.atS), false);
    }
    await hooks.close();
  });

  it('a device that stops raises an absence alert within its window plus 5 s; a stopped gateway shows offline and raises its alert, not its devices’; both resolve when data returns', async () => {
    const absenceId = await createRule({ name: 'sensor silent', kind: 'absence', target: { device_pattern: 'abs-*' }, params: { for_s: 5 } });
    const offlineId = await createRule({ name: 'gateway lost', kind: 'gateway_offline', target: { gateway: 'gw-accept' }, params: { intervals: 3 } });
    const gatewayStatus = async () => (await call<{ status: string; reasons: string[] }>('GET', '/v1/gateways/gw-accept')).body;

    // The device reports every half second for a while, then stops.
    let last = 0;
    for (let i = 0; i < 6; i++) {
      last = Date.now();
      await publish('abs-1', last, { level: i });
      await new Promise((r) => setTimeout(r, 500));
    }
    await waitUntil(async () => (await alertsOf(absenceId)).length === 1, { what: 'the absence alert', timeoutMs: 30_000 });
    const [absent] = await alertsOf(absenceId);
    assert.equal(absent!.target.device, 'abs-1');
    assert.equal(absent!.started_at, new Date(last + 5_000).toISOString(), 'absent from the end of its window');
    const raisedAfter = Date.parse(absent!.raised_at) - last;
    assert.ok(raisedAfter <= 10_000, `raised ${raisedAfter} ms after the last reading (window 5 s + 5 s)`);
    // Data returns: resolved.
    await publish('abs-1', Date.now(), { level: 9 });
    await waitUntil(async () => (await alertsOf(absenceId))[0]?.state === 'resolved', { what: 'the absence alert resolved', timeoutMs: 20_000 });

    // The gateway process is stopped: its device cannot report either.
    assert.equal((await gatewayStatus()).status, 'online');
    await publish('abs-1', Date.now(), { level: 10 });
    await gateway.kill();
    await waitUntil(async () => (await gatewayStatus()).status === 'offline', { what: 'GET /v1/gateways/gw-accept offline', timeoutMs: 30_000 });
    const list = await call<{ gateways: Array<{ gateway_id: string; status: string }> }>('GET', '/v1/gateways');
    assert.equal(list.body.gateways.find((g) => g.gateway_id === 'gw-accept')?.status, 'offline');
    await waitUntil(async () => (await alertsOf(offlineId)).some((a) => a.state === 'firing'), { what: 'the gateway offline alert', timeoutMs: 30_000 });
    // Well past the device's window, still only the gateway's alert.
    await new Promise((r) => setTimeout(r, 8_000));
    assert.equal((await alertsOf(absenceId)).length, 1, 'no absence alert for the offline gateway’s device');

    await gateway.start();
    await publish('abs-1', Date.now(), { level: 11 });
    await waitUntil(async () => (await alertsOf(offlineId)).every((a) => a.state === 'resolved'), { what: 'the offline alert resolved', timeoutMs: 30_000 });
    await waitUntil(async () => (await gatewayStatus()).status === 'online', { what: 'the gateway online again', timeoutMs: 30_000 });
    assert.equal((await alertsOf(offlineId)).length, 1, 'one offline alert');
    assert.equal((await alertsOf(absenceId)).length, 1, 'still no second absence alert');
  });
});
