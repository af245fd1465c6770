// Alert latency (issue 11, acceptance 6): a reading published at the gateway → its event on
// iot.alerts, under a background load of readings through the gateway (MQTT QoS 1, as bench/e2e.ts).
//
// One threshold rule, made through POST /v1/rules as an operator would, covers every bench device's
// `level` metric. Each device publishes messages of three readings (`seq`, `temperature`, `level`)
// and stamps `ts` itself, strictly increasing (the evaluator skips a reading not newer than the
// last of its series). `level` stays under the clear level except for `highForMs` of every
// `crossEveryMs` (the devices staggered over that period): the first message over the fire level
// fires an alert, the first one back under resolves it. The bench keeps each crossing's publish
// time; an event names its crossing by device, type and `at` (the crossing reading's `ts`).
// Latency = when a reader got the event from iot.alerts − when the crossing reading was published.
// The reader is a child process (bench/alerts-reader.ts), so its read times are not held up by
// the stack's busy event loop.
//
// Checked before it is reported (the bench throws otherwise): no publish failed; every acknowledged
// reading is a row in `readings`; every crossing the devices made has exactly one event_id on
// iot.alerts; the rule's events in the outbox (alert_events) are exactly those, all published; no
// event of the rule matches no crossing; every alert it raised is resolved. A second copy of an
// event_id (the relay is at least once; event_id is the consumer's key) is counted, not timed.
//
// Where the time goes, per event: gateway = publish → the forwarder leased the reading's batch
// (the batch's Kafka timestamp; the reader decodes iot.readings to find it); evaluator = → the
// event recorded (its `emitted_at`, stamped when the checkpoint transaction began); relay = → the
// event produced to iot.alerts (its Kafka timestamp: the rest of that transaction, the relay's
// wake-up and its own queries); delivery = → read by the reader.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import Kafka from 'node-rdkafka';
import { startStack, type Stack } from '../devstack/stack.js';
import { waitUntil } from '../devstack/net.js';
import { startPostgres } from '../devstack/postgres.js';
import type { ReaderLine, ReaderParams } from './alerts-reader.js';
import { runIfMain } from './run-alone.js';

export interface AlertBenchOptions {
  /** Readings per second the devices offer together. Default $BENCH_LATENCY_RATE or 10,000. */
  rate?: number;
  /** Load duration. Default $BENCH_SECONDS or 20. */
  seconds?: number;
  /** Devices, one MQTT connection each. */
  devices?: number;
  /** Messages each device keeps waiting for their PUBACK. */
  window?: number;
  /** Each device crosses the level once this often… */
  crossEveryMs?: number;
  /** …and stays over it this long: the alert's firing and its resolution are two moments apart. */
  highForMs?: number;
  /** Names the bench's devices and consumer groups, so two runs on one stack do not meet. */
  tag?: string;
  /** Give up (and fail) when the readings or the events are not all in this long after the load. */
  settleTimeoutMs?: number;
}

export interface Spread {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface AlertBenchResult {
  offeredReadingsPerSecond: number;
  /** Readings PUBACKed by the gateway, per second from the first publish to the last PUBACK. */
  acceptedReadingsPerSecond: number;
  /** Readings stored, per second from the first publish until the last is a row (as bench/e2e.ts counts). */
  storedReadingsPerSecond: number;
  readingsAcked: number;
  readingsStored: number;
  seconds: number;
  devices: number;
  window: number;
  crossEveryMs: number;
  highForMs: number;
  rule: { kind: 'threshold'; op: 'above'; value: number; clear: number; metric: string; devicePattern: string };
  events: {
    /** Crossings the devices made: one firing and one resolution each. */
    expected: number;
    firing: number;
    resolved: number;
    /** Distinct event_ids read from iot.alerts (each one matched a crossing). */
    received: number;
    /** Copies of an event_id already read. */
    redelivered: number;
    /** Events the evaluator marked late (readings older than alerts.lateAfterMs when judged). */
    late: number;
  };
  /** Publish of the crossing reading → its event read from iot.alerts. */
  latencyMs: Spread & { firing: Spread; resolved: Spread };
  /** The same split by where the time went (see the file's head); from the events whose reading the reader found on iot.readings. */
  stagesMs: { gateway: Spread; evaluator: Spread; relay: Spread; delivery: Spread };
  /** A few crossings on the idle stack before the load: the chain's floor. */
  idleLatencyMs: Spread;
  /**
   * How late the process's event loop ran timers during the load (perf_hooks, 10 ms resolution):
   * the gateway, the cloud and the load all wait on that one loop.
   */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** libuv's thread pool, which every node-rdkafka consume call and flush holds a thread of while it waits. */
  uvThreadpoolSize: number;
  /** The machine's 1-minute load average when the load started and when it ended: other work on the cores shows here. */
  loadAverage: { start: number; end: number };
  target: { p99Ms: number; met: boolean };
  /** What the cloud's alerting did over the whole run (warm-up included). */
  cloud: { evaluatorCheckpoints: number; evaluatorCheckpointErrors: number; relayRuns: number; relayPublished: number; relayErrors: number };
}

const TARGET_P99_MS = 2_000;
const METRIC = 'level';
const LOW = 10;
const HIGH = 90;
const FIRE_LEVEL = 50;
const CLEAR_LEVEL = 40;
const READINGS_PER_MESSAGE = 3;

interface Crossing {
  device: string;
  type: 'firing' | 'resolved';
  ts: number;
  publishedAt: number;
  /** The Kafka timestamp of the crossing reading's batch: when the gateway's forwarder leased it. */
  batchTs?: number;
}

interface Received {
  key: string;
  readAt: number;
  emittedAt: number;
  producedAt: number;
  late: boolean;
}

const crossingKey = (device: string, type: string, ts: number): string => `${device}|${type}|${ts}`;

/** Runs the bench on a started stack (the suite's); the stack's cloud must run alerting with its defaults. */
export async function benchAlerts(stack: Stack, opts: AlertBenchOptions = {}): Promise<AlertBenchResult> {
  const rate = opts.rate ?? Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
  const seconds = opts.seconds ?? Number(process.env.BENCH_SECONDS ?? 20);
  const devices = opts.devices ?? 16;
  const window = opts.window ?? 100;
  const crossEveryMs = opts.crossEveryMs ?? 2_000;
  const highForMs = opts.highForMs ?? 500;
  if (!(highForMs > 0 && highForMs < crossEveryMs)) throw new Error(`alert bench: highForMs ${highForMs} must be within (0, crossEveryMs ${crossEveryMs})`);
  const tag = opts.tag ?? `${process.pid}-${Date.now()}`;
  const settleTimeoutMs = opts.settleTimeoutMs ?? 300_000;
  const { cloud } = stack;
  const alerting = cloud.alerting;
  const db = cloud.db;
  if (!alerting || !db) throw new Error('the alert bench needs a cloud that runs alerting (alerts.enabled) on a database');
  const prefix = `bench-alerts-${tag}-`;
  const warmupDevice = `${prefix}warmup`;

  const ruleId = await createRule(stack, prefix);
  await waitUntil(async () => alerting.rules.rules().has(ruleId), { what: `rule ${ruleId} in the evaluator's rule table`, timeoutMs: 30_000 });

  const expected = new Map<string, Crossing>();
  const received = new Map<string, Received>(); // by event_id
  const byKey = new Map<string, string[]>();
  let redelivered = 0;
  let foreign = 0;
  const reader = startReader(
    {
      kafka: { brokers: cloud.cfg.kafka.brokers, sessionTimeoutMs: cloud.cfg.kafka.sessionTimeoutMs, rdkafka: cloud.cfg.kafka.rdkafka },
      alertsTopic: cloud.cfg.alerts.alertsTopic,
      readingsTopic: cloud.cfg.kafka.readingsTopic,
      ruleId,
      devicePrefix: prefix,
      metric: METRIC,
      fromMs: Date.now(),
      tag,
    },
    (line) => {
      if (line.kind === 'event') {
        if (received.has(line.eventId)) {
          redelivered++;
          return;
        }
        const key = crossingKey(line.device, line.type, line.atMs);
        if (!expected.has(key)) foreign++;
        received.set(line.eventId, { key, readAt: line.readMs, emittedAt: line.emittedMs, producedAt: line.producedMs, late: line.late });
        byKey.set(key, [...(byKey.get(key) ?? []), line.eventId]);
      } else if (line.kind === 'change') {
        const type = line.value > FIRE_LEVEL ? 'firing' : 'resolved';
        const c = expected.get(crossingKey(line.device, type, line.tsMs));
        if (c) c.batchTs = line.batchMs;
      }
    },
  );
  const clients: MqttClient[] = [];
  try {
    await reader.ready;

    // Warm-up on the idle stack: the rule is in force, the relay's producer and the reader are
    // live. Its crossings give the chain's floor and are not part of the figure.
    const warm = await mqtt.connectAsync(stack.mqttUrl, { clientId: warmupDevice, reconnectPeriod: 0 });
    clients.push(warm);
    const idle: Crossing[] = [];
    let warmTs = Date.now();
    const warmPublish = async (level: number, type?: Crossing['type']) => {
      warmTs = Math.max(Date.now(), warmTs + 1);
      const c: Crossing | undefined = type ? { device: warmupDevice, type, ts: warmTs, publishedAt: Date.now() } : undefined;
      if (c) {
        expected.set(crossingKey(c.device, c.type, c.ts), c);
        idle.push(c);
      }
      await warm.publishAsync(`devices/${warmupDevice}/telemetry`, JSON.stringify({ ts: warmTs, metrics: { seq: 0, temperature: 20, [METRIC]: level } }), { qos: 1 });
    };
    await warmPublish(LOW);
    for (let i = 0; i < 3; i++) {
      const before = received.size;
      await warmPublish(HIGH, 'firing');
      await warmPublish(LOW, 'resolved');
      await waitUntil(async () => received.size >= before + 2, { what: 'a warm-up crossing on iot.alerts', timeoutMs: 60_000, intervalMs: 5 });
    }
    const idleLatencyMs = spread(idle.map((c) => readAtOf(c) - c.publishedAt));

    // The load.
    for (let i = 0; i < devices; i++) clients.push(await mqtt.connectAsync(stack.mqttUrl, { clientId: `${prefix}${i}`, reconnectPeriod: 0 }));
    const loadClients = clients.slice(1);
    const perDevicePerSecond = rate / READINGS_PER_MESSAGE / devices;
    let acked = 0;
    let failures = 0;
    let firstFailure = '';
    let lastAckAt = 0;
    let running = true;
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const loadAtStart = loadavg()[0]!;
    const start = Date.now();
    const loops = loadClients.map(async (client, i) => {
      const device = `${prefix}${i}`;
      const topic = `devices/${device}/telemetry`;
      // Device i first crosses (i + 0.5) / devices of a period in, so the crossings are spread out.
      const offset = ((i + 0.5) * crossEveryMs) / devices;
      let lastTs = 0;
      let high = false;
      let seq = 0;
      const inflight = new Set<Promise<void>>();
      const send = (final: boolean) => {
        const now = Date.now();
        const ts = Math.max(now, lastTs + 1); // strictly increasing: the evaluator skips a reading not newer than the last
        lastTs = ts;
        const phase = now - start - offset;
        const wantHigh = !final && phase >= 0 && phase % crossEveryMs < highForMs;
        if (wantHigh !== high) {
          high = wantHigh;
          const type = high ? 'firing' : 'resolved';
          expected.set(crossingKey(device, type, ts), { device, type, ts, publishedAt: now });
        }
        const level = high ? HIGH : LOW;
        const n = ++seq;
        const p: Promise<void> = client
          .publishAsync(topic, JSON.stringify({ ts, metrics: { seq: n, temperature: 20 + (n % 10), [METRIC]: level } }), { qos: 1 })
          .then(
            () => {
              acked += READINGS_PER_MESSAGE;
              lastAckAt = Date.now();
            },
            (err: unknown) => {
              failures++;
              firstFailure ||= (err as Error).message;
            },
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      };
      while (running) {
        const allowed = ((Date.now() - start) / 1000) * perDevicePerSecond;
        if (seq >= allowed) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        while (inflight.size < window && running && seq < allowed) send(false);
        if (inflight.size >= window) await Promise.race(inflight);
      }
      await Promise.allSettled([...inflight]);
      // A last reading under the clear level, so no alert is left open.
      send(true);
      await Promise.allSettled([...inflight]);
    });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    running = false;
    loopDelay.disable();
    const loadAtEnd = loadavg()[0]!;
    await Promise.all(loops);
    if (failures > 0) throw new Error(`alert bench: ${failures} publishes failed (${firstFailure}); the figure would count readings the gateway may not have`);
    const acceptedSeconds = (lastAckAt - start) / 1000;

    // Every acknowledged reading a row, and every crossing's event read.
    const count = async () =>
      Number((await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM readings WHERE device_id LIKE $1 AND device_id <> $2`, [`${prefix}%`, warmupDevice])).rows[0]!.n);
    let stored = await count();
    const deadline = Date.now() + settleTimeoutMs;
    while (stored < acked && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await count();
    }
    const storedSeconds = (Date.now() - start) / 1000;
    const missing = () => [...expected.keys()].filter((k) => !byKey.has(k));
    while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Judged to the end: no event can still come from a reading the evaluator has not seen.
    // Every reading is on iot.readings by now (each is a row); the evaluator's checkpointed
    // offsets must have reached the topic's end, partition by partition.
    const ends = await topicEnds(stack.kafka.bootstrap, stack.cloud.cfg.kafka.readingsTopic);
    const behind = async () => {
      const rows = (
        await db.query<{ partition: number; next_offset: string | number }>(`SELECT partition, next_offset FROM evaluator_offsets WHERE grp = $1 AND topic = $2`, [
          stack.cloud.cfg.alerts.group,
          stack.cloud.cfg.kafka.readingsTopic,
        ])
      ).rows;
      const judged = new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
      return [...ends].filter(([p, end]) => end > 0 && (judged.get(p) ?? 0) < end).map(([p, end]) => `partition ${p} at ${judged.get(p) ?? 0} of ${end}`);
    };
    let unjudged = await behind();
    while (unjudged.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      unjudged = await behind();
    }

    // The outbox holds exactly the expected events, all published; none was read that is not one.
    const outbox = (
      await db.query<{ n: string | number; unpublished: string | number }>(
        `SELECT count(*) AS n, count(*) FILTER (WHERE published_at IS NULL) AS unpublished FROM alert_events WHERE rule_id = $1`,
        [ruleId],
      )
    ).rows[0]!;
    const alerts = (
      await db.query<{ n: string | number; open: string | number }>(`SELECT count(*) AS n, count(*) FILTER (WHERE state <> 'resolved') AS open FROM alerts WHERE rule_id = $1`, [ruleId])
    ).rows[0]!;
    const lost = missing();
    const doubled = [...byKey].filter(([, ids]) => ids.length > 1).map(([k]) => k);
    const firings = [...expected.values()].filter((c) => c.type === 'firing').length;
    const problems = [
      stored !== acked && `${stored} of ${acked} acknowledged readings are rows`,
      unjudged.length > 0 && `the evaluator's checkpoint has not reached the end of ${unjudged.join(', ')}`,
      lost.length > 0 && `${lost.length} of ${expected.size} crossings have no event on iot.alerts (first: ${lost[0]})`,
      doubled.length > 0 && `${doubled.length} crossings have more than one event_id (first: ${doubled[0]})`,
      foreign > 0 && `${foreign} events on iot.alerts match no crossing the devices made`,
      Number(outbox.n) !== expected.size && `alert_events holds ${outbox.n} events of the rule, the devices made ${expected.size} crossings`,
      Number(outbox.unpublished) !== 0 && `${outbox.unpublished} events are still unpublished`,
      Number(alerts.n) !== firings && `the rule raised ${alerts.n} alerts for ${firings} crossings`,
      Number(alerts.open) !== 0 && `${alerts.open} alerts are still open after the last reading under the clear level`,
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length) throw new Error(`alert bench is not honest: ${problems.join('; ')}`);

    const load = [...expected.values()].filter((c) => c.device !== warmupDevice);
    const events = load.map((c) => ({ c, r: received.get(byKey.get(crossingKey(c.device, c.type, c.ts))![0]!)! }));
    const latency = (of: typeof events) => spread(of.map(({ c, r }) => r.readAt - c.publishedAt));
    const traced = events.filter(({ c }) => c.batchTs !== undefined);
    const latencyMs = { ...latency(events), firing: latency(events.filter(({ c }) => c.type === 'firing')), resolved: latency(events.filter(({ c }) => c.type === 'resolved')) };
    const ev = alerting.evaluator.stats;
    const relay = alerting.relay.stats;
    return {
      offeredReadingsPerSecond: rate,
      acceptedReadingsPerSecond: Math.round(acked / acceptedSeconds),
      storedReadingsPerSecond: Math.round(stored / storedSeconds),
      readingsAcked: acked,
      readingsStored: stored,
      seconds,
      devices,
      window,
      crossEveryMs,
      highForMs,
      rule: { kind: 'threshold', op: 'above', value: FIRE_LEVEL, clear: CLEAR_LEVEL, metric: METRIC, devicePattern: `${prefix}*` },
      events: {
        expected: load.length,
        firing: load.filter((c) => c.type === 'firing').length,
        resolved: load.filter((c) => c.type === 'resolved').length,
        received: events.length,
        redelivered,
        late: events.filter(({ r }) => r.late).length,
      },
      latencyMs,
      stagesMs: {
        gateway: spread(traced.map(({ c }) => c.batchTs! - c.publishedAt)),
        evaluator: spread(traced.map(({ c, r }) => r.emittedAt - c.batchTs!)),
        relay: spread(events.map(({ r }) => r.producedAt - r.emittedAt)),
        delivery: spread(events.map(({ r }) => r.readAt - r.producedAt)),
      },
      idleLatencyMs,
      eventLoopDelayMs: { p50: Math.round(loopDelay.percentile(50) / 1e6), p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) },
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      loadAverage: { start: round1(loadAtStart), end: round1(loadAtEnd) },
      target: { p99Ms: TARGET_P99_MS, met: latencyMs.p99 <= TARGET_P99_MS },
      cloud: { evaluatorCheckpoints: ev.checkpoints, evaluatorCheckpointErrors: ev.checkpointErrors, relayRuns: relay.runs, relayPublished: relay.published, relayErrors: relay.errors },
    };
  } finally {
    await Promise.allSettled(clients.map((c) => c.endAsync()));
    await reader.stop();
  }

  function readAtOf(c: Crossing): number {
    const id = byKey.get(crossingKey(c.device, c.type, c.ts))?.[0];
    const r = id === undefined ? undefined : received.get(id);
    if (!r) throw new Error(`alert bench: no event for the warm-up crossing ${crossingKey(c.device, c.type, c.ts)}`);
    return r.readAt;
  }
}

/** Starts bench/alerts-reader.ts as a child process; `ready` resolves once it reads both topics. */
function startReader(params: ReaderParams, onLine: (line: ReaderLine) => void): { ready: Promise<void>; stop(): Promise<void> } {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'alerts-reader.js'), JSON.stringify(params)], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined); // a reader that already died: its exit says why
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString('utf8')).slice(-4_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as ReaderLine;
      if (line.kind === 'ready') resolve();
      else onLine(line);
    });
    void exited.then((code) => reject(new Error(`alert bench: the reader exited (${code}) before it was ready: ${stderr}`)));
    setTimeout(() => reject(new Error(`alert bench: the reader was not reading both topics after 60 s: ${stderr}`)), 60_000).unref();
  });
  return {
    ready,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The bench's rule, through POST /v1/rules with an operator's token. */
async function createRule(stack: Stack, prefix: string): Promise<string> {
  const token = await stack.cloud.auth.issue({ subject: 'bench@fieldline', role: 'operator', ttlSeconds: 3_600 });
  const res = await fetch(`${stack.apiUrl}/v1/rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'bench: level over 50',
      kind: 'threshold',
      target: { device_pattern: `${prefix}*`, metric: METRIC },
      params: { op: 'above', value: FIRE_LEVEL, clear: CLEAR_LEVEL },
      severity: 'warning',
    }),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`alert bench: POST /v1/rules answered ${res.status}: ${JSON.stringify(body)}`);
  return body.id;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function spread(values: number[]): Spread {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const pct = (q: number) => (v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))]! : NaN);
  return { samples: v.length, p50: Math.round(pct(0.5)), p95: Math.round(pct(0.95)), p99: Math.round(pct(0.99)), max: Math.round(v.at(-1) ?? NaN) };
}

/**
 * Starts its own stack (devstack/stack.ts, as the suite's), runs the bench on it and stops it.
 * `database: 'postgres'` ($BENCH_ALERTS_DATABASE=postgres) puts the cloud on a PostgreSQL 15
 * server (devstack/postgres.ts) instead of the embedded TimescaleDB.
 */
export async function benchAlertsAlone(opts: AlertBenchOptions = {}, database = process.env.BENCH_ALERTS_DATABASE ?? 'embedded'): Promise<AlertBenchResult & { database: string }> {
  if (database !== 'embedded' && database !== 'postgres') throw new Error(`BENCH_ALERTS_DATABASE must be embedded or postgres, got ${database}`);
  const pg = database === 'postgres' ? await startPostgres() : null;
  try {
    const stack = await startStack(pg ? { databaseUrl: pg.url } : {});
    try {
      return { ...(await benchAlerts(stack, opts)), database: pg ? 'PostgreSQL 15 (devstack/postgres.ts test settings)' : 'embedded TimescaleDB (PGlite)' };
    } finally {
      await stack.stop();
    }
  } finally {
    await pg?.destroy();
  }
}

// `node dist/bench/alerts.js` runs it alone.
runIfMain(import.meta.url, () => benchAlertsAlone());

/** The end offset of each partition of `topic` now. */
async function topicEnds(bootstrap: string, topic: string): Promise<Map<number, number>> {
  const c = new Kafka.KafkaConsumer({ 'metadata.broker.list': bootstrap, 'group.id': 'fieldline-bench-ends', 'enable.auto.commit': false }, {});
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  try {
    const md = await new Promise<Kafka.Metadata>((resolve, reject) => c.getMetadata({ topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
    const ends = new Map<number, number>();
    for (const p of md.topics.find((t) => t.name === topic)?.partitions ?? []) {
      const w = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) => c.queryWatermarkOffsets(topic, p.id, 10_000, (err, o) => (err ? reject(err) : resolve(o))));
      ends.set(p.id, Number(w.highOffset));
    }
    return ends;
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}
