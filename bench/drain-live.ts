// Issue 15, acceptance 1, as a figure: a gateway process starts on an outbox holding a backlog
// (committed ten minutes ago, as an outage leaves it) while devices publish 1,000 readings/s live
// over MQTT. Real Kafka, the real gateway and sink processes, PostgreSQL 15. drain_live.p99_ms is
// the live end-to-end latency while the backlog drains, from the moment its first batch is stored
// (the start-up of the two processes is not the drain): a probe device (50 QoS 1 messages/s, one
// reading each) stamps each reading with its send time; the database is polled every 100 ms and the
// first poll that sees a reading is its arrival, so the figures are upper bounds. Then every
// acknowledged reading, backlog, live and probe, is checked row by row: lost and doubled must be 0.
//
// 10,000,000 backlog readings by default ($BENCH_DRAIN_LIVE_READINGS); test/fault/gateway-live-first
// runs the same with 300,000 and asserts on it, bench/drain-live.test.ts with a few thousand.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pgClient from 'pg';
import { startMqttFleet, type MqttFleet } from '../firmware-sim/src/mqtt-sensor.js';
import { GatewayChild } from '../devstack/gateway-child.js';
import { startKafka, type KafkaBroker } from '../devstack/kafka.js';
import { repoRoot, spawnLogged, waitUntil, type LoggedProcess } from '../devstack/net.js';
import { startPostgres, type PgServer } from '../devstack/postgres.js';
import { exactlyOnce } from '../devstack/stack.js';
import { FIELDLINE_TOPICS } from '../devstack/topics.js';
import { SqliteOutbox } from '../gateway/src/outbox/sqlite-outbox.js';
import { SourceProtocol, type Reading } from '../proto/src/wire.js';
import { summarize, type LatencySummary } from './percentile.js';
import { runIfMain } from './run-alone.js';

/** Backlog messages carry seq + three metrics. */
const PER_MESSAGE = 4;
const BACKLOG_DEVICES = 50;
const PROBE = 'probe-live';
/** Probe messages per second (one reading each): enough samples for a p99 within a few seconds of drain. */
const PROBE_RATE = 50;

export interface DrainLiveOptions {
  /** Backlog readings. Default $BENCH_DRAIN_LIVE_READINGS or 10,000,000. */
  readings?: number;
  /** forward.liveFirst for the gateway; false is the control (one lane, oldest first). Default true. */
  liveFirst?: boolean;
  /** Live readings per second from the MQTT fleet (4 readings a message, 5 devices). Default 1,000. */
  liveRate?: number;
  /** Give up (and fail) if the backlog is not stored by then. Default 60 min, or 4 min below 1M readings (10 M took over 20 min on a busy 2-core machine). */
  timeoutMs?: number;
  /** Extra gateway settings, deep-merged over the test defaults. */
  gatewayConfig?: Record<string, unknown>;
  /** Progress lines (the soak and 10M runs take a while). */
  log?: (line: string) => void;
}

export interface DrainLiveResult {
  readings: number;
  liveFirst: boolean;
  liveRate: number;
  fillSeconds: number;
  /** From the probe's first message until the whole backlog was in the database. */
  drainSeconds: number;
  /** Backlog readings stored per second over drainSeconds. */
  drainReadingsPerSecond: number;
  /** Live end-to-end latency of the probe readings sent while the backlog drained, ms. */
  latency: LatencySummary;
  /** The five slowest probe readings: seconds after the probe started, and their latency in ms. */
  slowest: { atS: number; ms: number }[];
  /** Acknowledged readings (seq metric) checked row by row, and what was wrong. */
  checkedMessages: number;
  lost: number;
  doubled: number;
  /** The gateway's /status lanes figures at the end of the drain. */
  lanes: unknown;
}

/**
 * Appends the backlog straight to the gateway's outbox file, committed `agoMs` in the past: what an
 * outage leaves behind, in a fraction of the time an outage takes. Device d's readings have seq
 * 1..n and ts T0 + seq, so each is a distinct row.
 */
async function fillBacklog(path: string, readings: number, agoMs: number): Promise<Map<string, number>> {
  const clock = () => Date.now() - agoMs;
  const o = new SqliteOutbox({ path, synchronous: 'NORMAL', maxMessages: 0, maxBytes: 0, clock });
  const perDevice = new Map<string, number>();
  const T0 = Date.now() - agoMs - 3_600_000;
  try {
    const messages = Math.ceil(readings / PER_MESSAGE);
    const CHUNK = 5_000;
    for (let at = 0; at < messages; at += CHUNK) {
      const group: Reading[] = [];
      for (let i = at; i < Math.min(messages, at + CHUNK); i++) {
        const deviceId = `backlog-${i % BACKLOG_DEVICES}`;
        const seq = (perDevice.get(deviceId) ?? 0) + 1;
        perDevice.set(deviceId, seq);
        group.push({ deviceId, tsMs: T0 + seq, metrics: { seq, a: seq / 2, b: seq / 3, c: seq / 4 }, source: SourceProtocol.SOURCE_PROTOCOL_MQTT });
      }
      await o.append(group);
    }
  } finally {
    o.close();
  }
  return perDevice;
}

/** One QoS 1 device publishing { ts, seq } at PROBE_RATE; remembers which seqs were acknowledged. */
class Probe {
  readonly acked = new Set<number>();
  /** seq → the ts it carried (its send time). */
  readonly sentAt = new Map<number, number>();
  private seq = 0;
  private timer?: NodeJS.Timeout;
  private constructor(private readonly client: mqtt.MqttClient) {}

  static async start(url: string): Promise<Probe> {
    const client = await mqtt.connectAsync(url, { clientId: PROBE, clean: true, reconnectPeriod: 200 });
    const p = new Probe(client);
    p.timer = setInterval(() => p.publish(), 1000 / PROBE_RATE);
    return p;
  }

  private publish(): void {
    const seq = ++this.seq;
    const ts = Date.now();
    this.sentAt.set(seq, ts);
    this.client.publish(`devices/${PROBE}/telemetry`, JSON.stringify({ ts, metrics: { seq } }), { qos: 1 }, (err) => {
      if (!err) this.acked.add(seq);
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await waitUntil(async () => this.acked.size >= this.seq - 5, { what: 'the probe\'s last acknowledgements', timeoutMs: 10_000 }).catch(() => undefined);
    await this.client.endAsync();
  }
}

/** The MQTT fleet's acknowledged seqs per device. */
async function ackedFleet(url: string, rate: number, prefix: string): Promise<{ fleet: MqttFleet; acked: Map<string, Set<number>> }> {
  const acked = new Map<string, Set<number>>();
  const fleet = await startMqttFleet({
    url, sensors: 5, rate, qos: 1, prefix, metrics: ['temperature', 'humidity', 'pressure'],
    onAck: (deviceId, seq) => {
      let set = acked.get(deviceId);
      if (!set) acked.set(deviceId, (set = new Set()));
      set.add(seq);
    },
  });
  for (const d of fleet.deviceIds) if (!acked.has(d)) acked.set(d, new Set());
  return { fleet, acked };
}

/** `fieldline-cloud sink` as its own process on DATABASE_URL; resolves once its store consumer has subscribed. */
async function startSink(dir: string, databaseUrl: string, brokers: string): Promise<LoggedProcess> {
  const configFile = join(dir, 'sink.yaml');
  // JSON is YAML. The database writer alone, as the sink fault tests run it.
  writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'sink-data'), logLevel: 'info', kafka: { brokers }, database: { poolSize: 4 }, alerts: { enabled: false } }));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_')) env[k] = v;
  env.DATABASE_URL = databaseUrl;
  const proc = spawnLogged(process.execPath, [join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js'), 'sink', '--config', configFile], {
    logDir: dir, logName: 'sink.log', truncate: true, cwd: dir, env,
  });
  const subscribed = (): boolean => {
    try {
      return readFileSync(proc.logFile, 'utf8').includes('store consumer subscribed');
    } catch {
      return false;
    }
  };
  await waitUntil(async () => subscribed(), { what: 'the sink', timeoutMs: 60_000, intervalMs: 50, process: proc });
  return proc;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the whole drain; throws if the backlog is not stored in time. */
export async function benchDrainLive(opts: DrainLiveOptions = {}): Promise<DrainLiveResult> {
  const readings = opts.readings ?? (Number(process.env.BENCH_DRAIN_LIVE_READINGS ?? 0) || 10_000_000);
  const liveFirst = opts.liveFirst ?? true;
  const liveRate = opts.liveRate ?? 1_000;
  const timeoutMs = opts.timeoutMs ?? (readings >= 1_000_000 ? 60 * 60_000 : 4 * 60_000);
  const log = opts.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-drain-live-'));
  let kafka: KafkaBroker | undefined;
  let pg: PgServer | undefined;
  let sink: LoggedProcess | undefined;
  let gw: GatewayChild | undefined;
  let pool: pgClient.Pool | undefined;
  let fleet: MqttFleet | undefined;
  let probe: Probe | undefined;
  try {
    [kafka, pg] = await Promise.all([startKafka({ dataDir: join(dir, 'kafka'), logDir: dir }), startPostgres({ logDir: dir })]);
    await kafka.createTopics([...FIELDLINE_TOPICS]);
    const name = liveFirst ? 'gw-live-first' : 'gw-one-lane';
    const gwDir = join(dir, name);
    mkdirSync(join(gwDir, 'data'), { recursive: true });
    pool = new pgClient.Pool({ connectionString: pg.url, max: 2, application_name: 'fieldline-bench' });
    const db = pool;
    const count = async (sql: string): Promise<number> => Number((await db.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
    gw = await GatewayChild.create({
      dir: gwDir, gatewayId: name, brokers: kafka.bootstrap,
      config: { outbox: { maxMessages: 0, maxBytes: 0 }, forward: { liveFirst }, kafka: { heartbeatIntervalMs: 30_000 }, ...opts.gatewayConfig },
    });
    const filled = Date.now();
    const backlog = await fillBacklog(join(gw.dataDir, 'outbox.db'), readings, 600_000);
    const fillSeconds = (Date.now() - filled) / 1000;
    const backlogRows = [...backlog.values()].reduce((s, n) => s + n, 0) * PER_MESSAGE;
    log(`backlog of ${backlogRows} readings written in ${fillSeconds.toFixed(1)} s`);
    sink = await startSink(dir, pg.url, kafka.bootstrap);
    await gw.start();
    // 5 devices × rate messages/s × 4 readings, and the probe.
    const live = await ackedFleet(gw.mqttUrl, liveRate / 5 / PER_MESSAGE, `${name}-live`);
    fleet = live.fleet;
    // The probe measures the drain, not the start of two processes (the gateway's Kafka connect, the
    // sink's first write, both warming up on a busy machine cost the first readings up to 2 s): it
    // runs from now, but its window opens once the first backlog batch is in the database. Started
    // before that, so a small backlog that drains in a moment still has probe readings inside it.
    probe = await Probe.start(gw.mqttUrl);
    await waitUntil(async () => (await count(`SELECT count(*) AS n FROM readings WHERE device_id LIKE 'backlog-%'`)) > 0, { what: 'the first backlog batch stored', timeoutMs: 60_000, intervalMs: 50 });
    const probeStart = Date.now();

    // Arrival of each probe reading: the first poll that sees it.
    const arrived = new Map<number, number>();
    let seen = 0;
    const poll = async (): Promise<void> => {
      const { rows } = await db.query<{ seq: number }>(`SELECT value AS seq FROM readings WHERE device_id = $1 AND metric = 'seq' AND value > $2`, [PROBE, seen]);
      const now = Date.now();
      for (const r of rows) {
        if (!arrived.has(r.seq)) arrived.set(r.seq, now);
        seen = Math.max(seen, r.seq);
      }
    };
    const backlogStored = async (): Promise<number> => count(`SELECT count(*) AS n FROM readings WHERE device_id LIKE 'backlog-%'`);
    const deadline = Date.now() + timeoutMs;
    let stored = 0;
    let lastCount = 0;
    let lastLog = Date.now();
    while (Date.now() < deadline) {
      await poll();
      if (Date.now() - lastCount > 1_000) {
        stored = await backlogStored();
        lastCount = Date.now();
        if (stored >= backlogRows) break;
        if (Date.now() - lastLog > 30_000) {
          log(`${stored} of ${backlogRows} backlog readings stored after ${Math.round((Date.now() - probeStart) / 1000)} s`);
          lastLog = Date.now();
        }
      }
      await sleep(100);
    }
    const drainedAt = Date.now();
    const lanes = (await gw.status()).cloud.lanes ?? null;
    if (stored < backlogRows) throw new Error(`backlog not stored within ${timeoutMs} ms: ${stored} of ${backlogRows}; gateway lanes ${JSON.stringify(lanes)}`);
    // Every probe reading sent during the drain, once it has arrived.
    const p = probe;
    await waitUntil(async () => (await poll(), [...p.sentAt.keys()].every((s) => s > seen || arrived.has(s))), { what: 'probe readings sent during the drain', timeoutMs: 60_000 });
    const during = [...p.sentAt].filter(([, ts]) => ts >= probeStart && ts <= drainedAt).map(([seq, ts]) => ({ atS: Math.round((ts - probeStart) / 100) / 10, ms: arrived.get(seq)! - ts }));
    if (during.length === 0) throw new Error(`the backlog drained in ${drainedAt - probeStart} ms, before a probe reading was sent: no latency to report; use a larger backlog`);
    const latencies = during.map((x) => x.ms);
    const slowest = [...during].sort((a, b) => b.ms - a.ms).slice(0, 5);
    await fleet.stop(15_000);
    await probe.stop();
    const drainSeconds = (drainedAt - probeStart) / 1000;

    // Row by row: every acknowledged reading of every device once, the backlog's in full.
    const expected = new Map<string, Iterable<number>>();
    for (const [device, n] of backlog) expected.set(device, Array.from({ length: n }, (_, i) => i + 1));
    for (const [device, seqs] of live.acked) expected.set(device, seqs);
    expected.set(PROBE, probe.acked);
    let checked = { messages: 0, lost: 0, doubled: 0 };
    const check = async (): Promise<boolean> => {
      const { rows } = await db.query<{ device_id: string; seqs: string[] }>(
        `SELECT device_id, array_agg(value::int8) AS seqs FROM readings WHERE metric = 'seq' GROUP BY device_id`,
      );
      const byDevice = new Map(rows.map((r) => [r.device_id, r.seqs.map(Number)]));
      checked = { messages: 0, lost: 0, doubled: 0 };
      for (const [device, acked] of expected) {
        const list = [...acked];
        const r = exactlyOnce(list, byDevice.get(device) ?? []);
        checked.messages += list.length;
        checked.lost += r.missing.length;
        checked.doubled += r.doubled.length;
      }
      // Every backlog reading of all four metrics, once: the seq check above covers one metric.
      const rowsNow = await backlogStored();
      if (rowsNow !== backlogRows) checked.lost += Math.max(0, backlogRows - rowsNow);
      if (rowsNow > backlogRows) checked.doubled += rowsNow - backlogRows;
      return checked.lost === 0 && checked.doubled === 0;
    };
    await waitUntil(check, { what: 'every acknowledged reading stored', timeoutMs: 120_000, intervalMs: 1_000 }).catch(() => undefined);
    return {
      readings: backlogRows,
      liveFirst,
      liveRate,
      fillSeconds,
      drainSeconds,
      drainReadingsPerSecond: Math.round(backlogRows / drainSeconds),
      latency: summarize(latencies),
      slowest,
      checkedMessages: checked.messages,
      lost: checked.lost,
      doubled: checked.doubled,
      lanes,
    };
  } finally {
    await probe?.stop().catch(() => undefined);
    await fleet?.stop(1_000).catch(() => undefined);
    await gw?.stop().catch(() => undefined);
    await sink?.stop('SIGKILL').catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await kafka?.destroy().catch(() => undefined);
    await pg?.destroy().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, () => benchDrainLive({ log: (l) => console.error(l) }));
