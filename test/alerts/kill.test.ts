/**
 * Issue 11 acceptance 3: `kill -9` of the evaluator during a stream creates no duplicate open alert
 * and loses no event. The evaluator runs as `fieldline-cloud alerts` in its own process against a
 * real PostgreSQL 15 and a real Kafka broker; the rule goes in through the API of a cloud in the
 * `api` role; three gateways' readings are produced to iot.readings as gateways encode them, each
 * device crossing the threshold and back many times. The evaluator is killed twice mid-stream and
 * started again. At the end the alerts must be exactly the ones the rule's own logic gives for the
 * readings (computed here with the same step function, in event time), and iot.alerts must carry
 * each of their events.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { thresholdStep, type ThresholdState } from '../../cloud-sink/src/alerts/kinds.js';
import { PARAMS, type ParamsOf } from '../../cloud-sink/src/alerts/rule.js';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { openPostgres, type Db } from '../../cloud-sink/src/store/db.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { repoRoot, spawnLogged, waitUntil, type LoggedProcess } from '../../devstack/net.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import type { Reading } from '../../proto/src/wire.js';
import { readTopic, TestProducer } from '../fleet/support.js';
import { alertsOf, FakeGateway } from './support.js';

const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
const GATEWAYS = ['gw-k1', 'gw-k2', 'gw-k3'];
const DEVICES_PER_GATEWAY = 8;
const WAVES = 600;
const PARAMS_TH = { op: 'above', value: 30, clear: 10 } as const;

/** Device d's value in wave k: over the level for 7 waves out of every 20, phase-shifted per device. */
const valueAt = (k: number, d: number): number => ((k + d * 3) % 20 < 7 ? 35 : (k + d) % 3 === 0 ? 20 : 5);

describe('kill -9 of the alert evaluator during a stream (real PostgreSQL, real Kafka)', () => {
  let dir: string;
  let kafka: KafkaBroker;
  let pg: PgServer;
  let dbUrl: string;
  let db: Db;
  let api: Cloud;
  let producer: TestProducer;
  let evaluator: LoggedProcess | undefined;
  let starts = 0;
  const configFile = () => join(dir, 'alerts.yaml');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-alerts-kill-'));
    kafka = await startKafka({ topics: [...FIELDLINE_TOPICS] });
    pg = await startPostgres();
    dbUrl = await pg.createDatabase('alerts_kill');
    const cfg = {
      dataDir: join(dir, 'cloud'),
      kafka: { brokers: kafka.bootstrap, sessionTimeoutMs: 6_000 },
      database: { url: dbUrl, poolSize: 4 },
      api: { host: '127.0.0.1', port: 0 },
      alerts: { tickMs: 200, checkpointMs: 300, relayIntervalMs: 100 },
    };
    api = new Cloud(cloudConfigSchema.parse(cfg), 'api', quiet);
    await api.start();
    db = await openPostgres(dbUrl, 2);
    // JSON is YAML; the evaluator process reads the same settings.
    writeFileSync(configFile(), JSON.stringify({ ...cfg, database: { poolSize: 4 } }, null, 2));
    producer = await TestProducer.connect(kafka.bootstrap);
  });

  after(async () => {
    await evaluator?.stop('SIGKILL');
    await producer?.close();
    await db?.close();
    await api?.stop();
    await pg?.destroy();
    await kafka?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const subscribedCount = (): number => {
    try {
      return readFileSync(join(dir, 'alerts.log'), 'utf8').split('alerts consumer subscribed').length - 1;
    } catch {
      return 0;
    }
  };

  async function startEvaluator(): Promise<void> {
    const before = subscribedCount();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_')) env[k] = v;
    env.DATABASE_URL = dbUrl;
    evaluator = spawnLogged(process.execPath, [join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js'), 'alerts', '--config', configFile()], {
      logDir: dir,
      logName: 'alerts.log',
      truncate: starts === 0,
      cwd: dir,
      env,
    });
    starts++;
    await waitUntil(async () => subscribedCount() > before, { what: `the evaluator (start ${starts})`, timeoutMs: 60_000, intervalMs: 50, process: evaluator });
  }

  it('creates no duplicate open alert and loses no event', async () => {
    const token = await api.auth.issue({ subject: 'kill-test', role: 'operator', ttlSeconds: 3600 });
    const res = await fetch(`http://127.0.0.1:${api.apiPort}/v1/rules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'hot', kind: 'threshold', target: { device_pattern: 'kd-*', metric: 'temp' }, params: PARAMS_TH }),
    });
    const created = await res.text();
    assert.equal(res.status, 201, created);
    const ruleId = (JSON.parse(created) as { id: string }).id;
    await startEvaluator();

    const gateways = GATEWAYS.map((g) => new FakeGateway(g, 1000));
    const t0 = Date.now() - WAVES * 1000 - 60_000;
    const series = new Map<string, Array<{ ts: number; value: number }>>();
    for (let k = 0; k < WAVES; k++) {
      const sends = gateways.map((gw, g) => {
        const readings: Reading[] = [];
        for (let i = 0; i < DEVICES_PER_GATEWAY; i++) {
          const d = g * DEVICES_PER_GATEWAY + i;
          const deviceId = `kd-${d}`;
          const r = { ts: t0 + k * 1000 + i, value: valueAt(k, d) };
          series.set(deviceId, [...(series.get(deviceId) ?? []), r]);
          readings.push({ deviceId, tsMs: r.ts, metrics: { temp: r.value } });
        }
        return gw.batch(readings);
      });
      await producer.send('iot.readings', sends);
      // Two kills mid-stream, each followed by a restart while the stream goes on.
      if (k === 200 || k === 420) {
        await evaluator!.stop('SIGKILL');
        evaluator = undefined;
      }
      if (k === 240 || k === 460) await startEvaluator();
    }

    // The rule's own logic over each device's readings in order: the alerts there must be.
    const params = PARAMS.threshold.parse(PARAMS_TH) as ParamsOf<'threshold'>;
    const expected: string[] = [];
    for (const [deviceId, points] of series) {
      const s: ThresholdState = { pendingSince: null };
      let open: number | null = null;
      for (const p of points) {
        const v = thresholdStep(s, params, open !== null, p);
        if (v.holds === true && open === null) open = v.since ?? p.ts;
        else if (v.holds === false && open !== null) {
          expected.push(`${deviceId} ${open} ${p.ts}`);
          open = null;
        }
      }
      if (open !== null) expected.push(`${deviceId} ${open} open`);
    }
    expected.sort();

    const actual = async (): Promise<string[]> =>
      (await alertsOf(db, [ruleId])).map((a) => `${a.device_id} ${a.started_at} ${a.resolved_at ?? 'open'}`).sort();
    await waitUntil(async () => (await actual()).length === expected.length && (await actual()).join() === expected.join(), {
      what: `the ${expected.length} alerts the readings call for`,
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    assert.deepEqual(await actual(), expected);
    const open = await db.query<{ n: string }>(`SELECT count(*) AS n FROM alerts WHERE rule_id = $1 AND state = 'firing'`, [ruleId]);
    assert.equal(Number(open.rows[0]!.n), expected.filter((e) => e.endsWith(' open')).length, 'one open alert per device at most');

    // Every event recorded reaches iot.alerts; at least once, so a relay killed between its
    // publish and its mark may have sent one twice, always under the same event id.
    const recorded = await db.query<{ event_id: string; type: string }>(`SELECT event_id, type FROM alert_events WHERE rule_id = $1`, [ruleId]);
    const fires = expected.length;
    const resolves = expected.filter((e) => !e.endsWith(' open')).length;
    assert.equal(recorded.rows.filter((r) => r.type === 'firing').length, fires, 'one firing event per alert');
    assert.equal(recorded.rows.filter((r) => r.type === 'resolved').length, resolves, 'one resolved event per resolved alert');
    await waitUntil(
      async () => {
        const ids = new Set((await readTopic(kafka.bootstrap, 'iot.alerts')).map((m) => m.headers.get('event-id')));
        return recorded.rows.every((r) => ids.has(r.event_id));
      },
      { what: 'every recorded event on iot.alerts', timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.ok(starts === 3, 'the evaluator was started three times');
  });
});
