/**
 * The alert evaluator on its own, against a real Kafka broker and the embedded TimescaleDB: gateway
 * traffic is produced to iot.readings / iot.heartbeats exactly as a gateway encodes it (the
 * gateway's own behaviour in an outage is proven by the gateway tests), so a test can lay out
 * hours of event time. Each test runs its own evaluator, with its own consumer group, rules and
 * clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { AlertEvaluator, type DegradedReasons } from '../../cloud-sink/src/alerts/evaluator.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { openEmbedded, type Db } from '../../cloud-sink/src/store/db.js';
import { Store } from '../../cloud-sink/src/store/store.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import type { Reading } from '../../proto/src/wire.js';
import { TestProducer } from '../fleet/support.js';
import { alertsOf, eventsOf, FakeGateway, makeRule, StaticRules } from './support.js';

const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
const HOUR = 3_600_000;
const noReasons: DegradedReasons = () => [];

describe('alert evaluator (real Kafka, embedded TimescaleDB)', () => {
  let kafka: KafkaBroker;
  let db: Db;
  let producer: TestProducer;
  const running: AlertEvaluator[] = [];

  before(async () => {
    kafka = await startKafka({ topics: [...FIELDLINE_TOPICS] });
    db = await openEmbedded(undefined);
    await new Store(db).migrate();
    producer = await TestProducer.connect(kafka.bootstrap);
  });

  after(async () => {
    for (const e of running) await e.stop().catch(() => undefined);
    await producer?.close();
    await db?.close();
    await kafka?.destroy();
  });

  async function evaluator(group: string, rules: StaticRules, now: () => number = Date.now): Promise<AlertEvaluator> {
    const cfg = cloudConfigSchema.parse({
      kafka: { brokers: kafka.bootstrap, sessionTimeoutMs: 6_000 },
      alerts: { group, tickMs: 100, checkpointMs: 100, transitGraceMs: 300 },
    });
    const e = new AlertEvaluator({ cfg, db, rules, log: quiet, degradedReasons: noReasons, now });
    await e.start();
    running.push(e);
    return e;
  }

  it('a threshold with a clear level fires once, does not flap between the levels, ignores a stale reading, and resolves under the clear level', async () => {
    const rule = makeRule('th-hyst', { kind: 'threshold', target: { device: 'hyst-1', metric: 'temp' }, params: { op: 'above', value: 30, clear: 25 } });
    const e = await evaluator('t-hyst', new StaticRules([rule]));
    const gw = new FakeGateway('gw-hyst', 1000);
    const t0 = Date.now() - 10_000;
    const at = (i: number, v: number): Reading => ({ deviceId: 'hyst-1', tsMs: t0 + i * 100, metrics: { temp: v } });
    // 31 fires; 29, 26, 31 stay between or over; a reading older than the last one judged (value
    // 10) must not resolve it; 24 does.
    await producer.send('iot.readings', [gw.batch([at(0, 20), at(1, 31), at(2, 29)]), gw.batch([at(3, 26), at(4, 31)]), gw.batch([at(2, 10)]), gw.batch([at(5, 24), at(6, 26)])]);
    await waitUntil(async () => (await alertsOf(db, [rule.id])).some((a) => a.state === 'resolved'), { what: 'the threshold alert resolved', timeoutMs: 30_000 });
    const alerts = await alertsOf(db, [rule.id]);
    assert.equal(alerts.length, 1, `one alert: ${JSON.stringify(alerts)}`);
    assert.equal(alerts[0]!.started_at, t0 + 100, 'started at the reading that crossed');
    assert.equal(alerts[0]!.resolved_at, t0 + 500, 'resolved at the reading under the clear level, not at the stale one');
    assert.deepEqual((await eventsOf(db, [rule.id])).map((x) => x.type), ['firing', 'resolved']);
    assert.ok(e.stats.outOfOrder >= 1, 'the stale reading was counted');
  });

  it('a gateway offline for 2 hours whose device crossed the threshold meanwhile: one late alert with the readings own times, the gateway offline alert, and no absence alert', async () => {
    // The evaluator's clock starts 2 h behind; the outage fast-forwards it through the two hours.
    let shift = -2 * HOUR - 60_000;
    const clock = () => Date.now() + shift;
    const threshold = makeRule('o-th', { kind: 'threshold', target: { device: 'out-1', metric: 'temp' }, params: { op: 'above', value: 30, clear: 25 } });
    const absence = makeRule('o-abs', { kind: 'absence', target: { device_pattern: 'out-*' }, params: { for_s: 60 } });
    const offline = makeRule('o-off', { kind: 'gateway_offline', target: { gateway: 'gw-out' }, params: { intervals: 3 } });
    const ids = [threshold.id, absence.id, offline.id];
    await evaluator('t-outage', new StaticRules([threshold, absence, offline]), clock);
    const gw = new FakeGateway('gw-out', 500);
    const reading = (ts: number, v: number): Reading => ({ deviceId: 'out-1', tsMs: ts, metrics: { temp: v } });

    // Live: heartbeats every 500 ms, a reading every 250 ms.
    for (let i = 0; i < 8; i++) {
      await producer.send('iot.heartbeats', [gw.heartbeat(clock())]);
      await producer.send('iot.readings', [gw.batch([reading(clock(), 20)])]);
      await new Promise((r) => setTimeout(r, 250));
      await producer.send('iot.readings', [gw.batch([reading(clock(), 20)])]);
      await new Promise((r) => setTimeout(r, 250));
    }
    const outageStart = clock();
    // The outage: nothing arrives while two hours pass, in 4 s.
    const ffStart = Date.now();
    const ffFrom = shift;
    await waitUntil(async () => {
      shift = Math.min(0, ffFrom + (Date.now() - ffStart) * 1800);
      return shift === 0;
    }, { what: 'two hours to pass', timeoutMs: 30_000, intervalMs: 20 });
    await waitUntil(async () => (await alertsOf(db, [offline.id])).length === 1, { what: 'the gateway offline alert', timeoutMs: 30_000 });

    // The link returns: the heartbeat first (its outbox two hours deep), then the backlog oldest
    // first, a reading every 5 s of the outage; the device ran hot from +30 to +40 minutes.
    const back = clock();
    await producer.send('iot.heartbeats', [gw.heartbeat(back, { depth: 1440, oldestAgeMs: back - outageStart })]);
    const backlog: Reading[] = [];
    for (let ts = outageStart + 5_000; ts < back; ts += 5_000) {
      const minute = (ts - outageStart) / 60_000;
      backlog.push(reading(ts, minute >= 30 && minute < 40 ? 35 : 20));
    }
    for (let i = 0; i < backlog.length; i += 100) await producer.send('iot.readings', [gw.batch(backlog.slice(i, i + 100))]);
    // Drained: live again for a few seconds.
    for (let i = 0; i < 8; i++) {
      await producer.send('iot.heartbeats', [gw.heartbeat(clock())]);
      await producer.send('iot.readings', [gw.batch([reading(clock(), 20)])]);
      await new Promise((r) => setTimeout(r, 500));
    }
    await waitUntil(async () => (await alertsOf(db, [threshold.id])).some((a) => a.state === 'resolved'), { what: 'the late threshold alert, resolved', timeoutMs: 30_000 });

    const alerts = await alertsOf(db, ids);
    const th = alerts.filter((a) => a.rule_id === threshold.id);
    assert.equal(th.length, 1, `one threshold alert: ${JSON.stringify(th)}`);
    const hot = backlog.find((r) => r.metrics!.temp === 35)!;
    const cool = backlog.find((r) => r.tsMs! > hot.tsMs! && r.metrics!.temp === 20)!;
    assert.equal(th[0]!.started_at, hot.tsMs, 'started at the first hot reading of the backlog');
    assert.equal(th[0]!.resolved_at, cool.tsMs, 'resolved at the first cool reading after it');
    assert.equal(th[0]!.late, true, 'marked as raised late');
    assert.equal(th[0]!.resolved_late, true);
    assert.match(th[0]!.message, /raised late/);
    const off = alerts.filter((a) => a.rule_id === offline.id);
    assert.equal(off.length, 1, 'one offline alert for the gateway');
    assert.equal(off[0]!.gateway_id, 'gw-out');
    assert.equal(off[0]!.state, 'resolved', 'resolved by the heartbeat that came back');
    assert.deepEqual(alerts.filter((a) => a.rule_id === absence.id), [], 'no absence alert for the gateway’s device');
  });

  it('an evaluator stopped without a final checkpoint and started again on the same group raises no second alert and loses none', async () => {
    const rule = makeRule('rs-th', { kind: 'threshold', target: { device_pattern: 'rs-*', metric: 'v' }, params: { op: 'above', value: 10, clear: 5 } });
    const rules = new StaticRules([rule]);
    const first = await evaluator('t-restart', rules);
    const gw = new FakeGateway('gw-rs', 1000);
    const t0 = Date.now() - 60_000;
    const wave = (k: number, v: number): Reading[] => ['rs-1', 'rs-2', 'rs-3'].map((d, i) => ({ deviceId: d, tsMs: t0 + k * 1000 + i, metrics: { v } }));
    await producer.send('iot.readings', [gw.batch([...wave(0, 1), ...wave(1, 20)])]);
    await waitUntil(async () => (await alertsOf(db, [rule.id])).length === 3, { what: 'three firing alerts', timeoutMs: 30_000 });
    await first.stop();
    running.splice(running.indexOf(first), 1);
    // Its successor re-reads whatever was not checkpointed; the same readings again change nothing.
    await evaluator('t-restart', rules);
    await producer.send('iot.readings', [gw.batch([...wave(2, 20), ...wave(3, 2)])]);
    await waitUntil(async () => (await alertsOf(db, [rule.id])).every((a) => a.state === 'resolved'), { what: 'all three resolved', timeoutMs: 30_000 });
    const alerts = await alertsOf(db, [rule.id]);
    assert.equal(alerts.length, 3, 'one alert per device');
    const events = await eventsOf(db, [rule.id]);
    assert.equal(events.filter((e) => e.type === 'firing').length, 3);
    assert.equal(events.filter((e) => e.type === 'resolved').length, 3);
  });
});
