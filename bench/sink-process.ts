// The cloud sink as deployed, alone: a `fieldline-cloud sink` process (built from dist/) consuming a
// backlog of gateway batches from a real Kafka topic into a real PostgreSQL 15 server. The topic is
// filled before the sink starts, with the gateway's encoder (LZ4 frame around a protobuf
// ReadingBatch, the same headers and key), in batches of the forwarder's default size; then the
// clock runs from the sink's "store consumer subscribed" to the last reading being a row.
//
// CPU per reading comes from the sink's /proc/<pid>/stat (utime + stime) over the same interval, so
// a figure taken while other processes share the cores still says what the sink itself spends.
// With `cpuProfileDir` the sink runs under `node --cpu-prof` and leaves its profile there on exit.
// With `pgStatements` the server loads pg_stat_statements and the result lists which statements
// took the server's time.
//
// Checked before anything is reported: readings, ingested_batches and each rollup's count sum must
// equal what was produced, every (device, metric, ts) once, and the values' sum must match.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { encodeBatch, SCHEMA_VERSION, type ReadingBatch } from '../proto/src/wire.js';
import { startKafka, type KafkaBroker } from '../devstack/kafka.js';
import { defaultLogDir, repoRoot, spawnLogged, waitUntil, type LoggedProcess } from '../devstack/net.js';
import { startPostgres, type PgServer } from '../devstack/postgres.js';
import { summarize, type LatencySummary } from './percentile.js';
import { processCpuSeconds, processTreeCpuSeconds } from './proc-cpu.js';
import { runIfMain } from './run-alone.js';

export interface SinkProcessBenchOptions {
  /** Readings (metric values) in the backlog; default 1,000,000. */
  readings?: number;
  /**
   * Live instead of a backlog: batches are produced at this many readings/s for `seconds` while the
   * sink runs, stamped with the wall clock, and each batch's latency (produced → its ledger row
   * visible) is measured.
   */
  rate?: number;
  seconds?: number;
  /** Readings per Kafka message; default 5,000 (the forwarder's kafka.batchMaxReadings) for a backlog, 1,000 live. */
  readingsPerBatch?: number;
  /** Gateways the batches come from (each its own key, so its own partition order). */
  gateways?: number;
  /** Devices per gateway. */
  devicesPerGateway?: number;
  /** Time between two messages of one device; 1,000 ms puts one reading in each (device, metric, second). */
  deviceIntervalMs?: number;
  partitions?: number;
  /** The sink's kafka settings beyond the broker and topic (maxBatchMessages, …); the config's defaults otherwise. */
  sinkKafka?: Record<string, number>;
  /** Write the sink's CPU profile (node --cpu-prof) into this directory. */
  cpuProfileDir?: string;
  /** Load pg_stat_statements and report the statements that took the server's time. */
  pgStatements?: boolean;
  /** Reuse running services; the bench starts (and destroys) its own otherwise. */
  broker?: KafkaBroker;
  postgres?: PgServer;
  timeoutMs?: number;
}

export interface StatementShare {
  /** The statement's first 90 characters, whitespace collapsed. */
  query: string;
  calls: number;
  totalMs: number;
  /** Share of the total execution time of all statements, percent. */
  percent: number;
}

export interface SinkProcessBenchResult {
  mode: 'backlog' | 'live';
  readings: number;
  batches: number;
  readingsPerBatch: number;
  gateways: number;
  devices: number;
  partitions: number;
  sinkKafka: Record<string, number>;
  /** Live: the rate produced at; null for a backlog. */
  offeredRate: number | null;
  /** Readings committed per second, from the sink's subscription to the last row. */
  readingsPerSecond: number;
  seconds: number;
  /** Live: per batch, produced → ledger row seen by a 50 ms poll (an upper bound by up to one poll); null for a backlog. */
  latencyMs: LatencySummary | null;
  /** The sink process's CPU seconds (user + system) over the same interval, per million readings. */
  cpuSecondsPerMillion: number;
  /** Its CPU use over the interval, in cores (1 = one core busy the whole time). */
  cores: number;
  /** The same for the PostgreSQL server's processes (backends, WAL writer, checkpointer). */
  server: { cpuSecondsPerMillion: number; cores: number };
  /** Counted back with SQL; every figure equals `readings` (or `batches`). */
  counted: { readings: number; distinctKeys: number; batches: number; readings_1m: number; readings_1h: number; readings_1d: number };
  /** Statements by share of the server's execution time; null unless asked for. */
  statements: StatementShare[] | null;
  cpuProfile: string | null;
}

const TOPIC = 'iot.readings';
const METRICS = ['temperature', 'humidity', 'pressure', 'battery'] as const;
const T0 = Date.UTC(2026, 0, 1);

/** Batch `b` of gateway `g`: consecutive device messages, each device reporting every `intervalMs`. */
function makeBatch(g: number, seq: number, perBatch: number, devices: number, intervalMs: number, t0: number): ReadingBatch {
  const messages = perBatch / METRICS.length;
  const readings = [];
  for (let j = 0; j < messages; j++) {
    const i = (seq - 1) * messages + j; // message index within the gateway
    const round = Math.floor(i / devices);
    const metrics: Record<string, number> = {};
    METRICS.forEach((m, k) => (metrics[m] = valueOf(g, i, k)));
    readings.push({ deviceId: `gw${g}-d${i % devices}`, tsMs: t0 + round * intervalMs + (i % devices), metrics });
  }
  return { gatewayId: `gw-bench-${g}`, seq, createdMs: Date.now(), readings, schemaVersion: SCHEMA_VERSION };
}

/** Values with a fraction, so the sum check sees a lost or doubled row; integers stay exact in float8 sums below 2^53. */
const valueOf = (g: number, i: number, k: number): number => ((g * 7 + i * 13 + k * 5) % 1000) + 0.25 * k;

/** Produces batches as a gateway's forwarder does (key, headers, LZ4 frame) and sums their values. */
class BatchProducer {
  valueSum = 0;
  sent = 0;
  private delivered = 0;
  private failed = '';

  private constructor(
    private readonly producer: Kafka.Producer,
    private readonly topic: string,
  ) {
    producer.on('delivery-report', (err) => {
      if (err) this.failed ||= err.message;
      this.delivered++;
    });
  }

  static async connect(bootstrap: string, topic: string): Promise<BatchProducer> {
    const producer = new Kafka.Producer({
      'metadata.broker.list': bootstrap,
      'client.id': 'fieldline-bench-sink-load',
      'enable.idempotence': true,
      // The forwarder's own linger (gateway/src/forward/kafka.ts).
      'linger.ms': 5,
      'queue.buffering.max.kbytes': 262_144,
      dr_cb: true,
    });
    await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    producer.setPollInterval(20);
    return new BatchProducer(producer, topic);
  }

  async send(batch: ReadingBatch): Promise<void> {
    for (const r of batch.readings ?? []) for (const v of Object.values(r.metrics ?? {})) this.valueSum += v;
    const msg = encodeBatch(batch);
    const headers = Object.entries(msg.headers).map(([k, v]) => ({ [k]: v }));
    for (;;) {
      try {
        this.producer.produce(this.topic, null, msg.value, msg.key, Date.now(), undefined, headers);
        this.sent++;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // queue full: let deliveries drain it
      }
    }
  }

  async close(): Promise<void> {
    try {
      await waitUntil(async () => this.delivered >= this.sent, { what: 'every batch delivered to Kafka', timeoutMs: 300_000, intervalMs: 20 });
      if (this.failed) throw new Error(`sink-process bench: producing failed: ${this.failed}`);
    } finally {
      await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
    }
  }
}

/** CPU-seconds of a PostgreSQL server so far: the postmaster, its reaped and its live backends. */
function serverCpuSeconds(serverDir: string): number {
  return processTreeCpuSeconds(Number(readFileSync(join(serverDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]));
}

export async function benchSinkProcess(opts: SinkProcessBenchOptions = {}): Promise<SinkProcessBenchResult> {
  const live = opts.rate !== undefined;
  const gateways = opts.gateways ?? 10;
  const perBatch = opts.readingsPerBatch ?? (live ? 1_000 : 5_000);
  const devicesPerGateway = opts.devicesPerGateway ?? 100;
  const intervalMs = opts.deviceIntervalMs ?? 1_000;
  const partitions = opts.partitions ?? 3;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const readings = live ? Math.round((opts.rate! * (opts.seconds ?? 30)) / (perBatch * gateways)) * perBatch * gateways : (opts.readings ?? 1_000_000);
  if (perBatch % METRICS.length !== 0 || readings <= 0 || readings % (perBatch * gateways) !== 0) {
    throw new Error(`sink-process bench: readings (${readings}) must be a positive multiple of readingsPerBatch × gateways (${perBatch} × ${gateways}), readingsPerBatch of ${METRICS.length}`);
  }
  const perGateway = readings / perBatch / gateways;
  const order: { g: number; seq: number }[] = [];
  // Gateways interleaved, as they would arrive live.
  for (let seq = 1; seq <= perGateway; seq++) for (let g = 0; g < gateways; g++) order.push({ g, seq });

  const dir = mkdtempSync(join(tmpdir(), 'fieldline-bench-sink-'));
  const broker = opts.broker ?? (await startKafka());
  let server: PgServer | undefined;
  let sink: LoggedProcess | undefined;
  let client: pg.Client | undefined;
  let producer: BatchProducer | undefined;
  try {
    server =
      opts.postgres ??
      (await startPostgres(opts.pgStatements ? { settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } } : {}));
    // A topic and group of its own, so a run on a shared broker never sees another run's messages.
    const topic = `${TOPIC}.bench-${process.pid}-${Date.now()}`;
    await broker.createTopics([{ name: topic, partitions }]);
    producer = await BatchProducer.connect(broker.bootstrap, topic);
    // A backlog is stamped from a fixed day; live readings are stamped when they are produced.
    const t0 = live ? 0 : T0;
    if (!live) {
      for (const { g, seq } of order) await producer.send(makeBatch(g, seq, perBatch, devicesPerGateway, intervalMs, t0));
      await producer.close();
      producer = undefined;
    }
    const url = await server.createDatabase(`sink_process_${process.pid}_${Date.now() % 100_000}`);
    client = new pg.Client({ connectionString: url });
    await client.connect();
    if (opts.pgStatements) await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');

    const configFile = join(dir, 'cloud.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: join(dir, 'data'),
        logLevel: 'info',
        kafka: { brokers: broker.bootstrap, readingsTopic: topic, storeGroup: `fieldline-bench-store-${topic}`, ...opts.sinkKafka },
        // The database writer alone; the evaluator reads the topic too and would share the measured process.
        alerts: { enabled: false },
      }),
    );
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_')) env[k] = v;
    env.DATABASE_URL = url;
    const nodeArgs = opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : [];
    sink = spawnLogged(process.execPath, [...nodeArgs, join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js'), 'sink', '--config', configFile], {
      logDir: defaultLogDir(),
      logName: `bench-sink-${process.pid}.log`,
      truncate: true,
      cwd: dir,
      env,
    });
    const proc = sink;
    await waitUntil(async () => proc.logTail(200_000).includes('store consumer subscribed'), { what: 'the sink subscribed', timeoutMs: 60_000, intervalMs: 20, process: proc });
    if (opts.pgStatements) await client.query('SELECT pg_stat_statements_reset()');
    const db = client;
    const serverDir = server.dir;
    const cpu0 = processCpuSeconds(proc.pid);
    const pgCpu0 = serverCpuSeconds(serverDir);
    const start = performance.now();

    // Visibility: a batch counts as stored when this poll first sees its ledger row, which commits
    // with its readings; the figure is an upper bound by up to one poll interval.
    const seen = new Map<string, number>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const r = await db.query<{ gateway_id: string; seq: string; created_ms: string }>(
          `SELECT gateway_id, seq, created_ms FROM ingested_batches WHERE ingested_at > now() - INTERVAL '60 seconds'`,
        );
        const at = Date.now();
        for (const row of r.rows) {
          const key = `${row.gateway_id}/${row.seq}`;
          if (!seen.has(key)) seen.set(key, at - Number(row.created_ms));
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    try {
      if (live) {
        // Paced: batch i goes out at start + i / batchesPerSecond, gateways in turn.
        const batchesPerSecond = opts.rate! / perBatch;
        // Each device's readings follow the wall clock, so no minute is late and the aggregate
        // publisher sees what it sees live.
        const liveT0 = Date.now();
        const liveInterval = Math.max(1, Math.round((1000 * devicesPerGateway * gateways * METRICS.length) / opts.rate!));
        for (let i = 0; i < order.length; i++) {
          const due = start + (i / batchesPerSecond) * 1000;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((res) => setTimeout(res, wait));
          const { g, seq } = order[i]!;
          await producer!.send(makeBatch(g, seq, perBatch, devicesPerGateway, liveInterval, liveT0));
        }
        await producer!.close();
        producer = undefined;
      }
      await waitUntil(async () => seen.size >= order.length, { what: `the sink storing ${order.length} batches`, timeoutMs, intervalMs: 20, process: proc });
    } finally {
      watching = false;
      await watch;
    }
    const seconds = (performance.now() - start) / 1000;
    const cpuSeconds = processCpuSeconds(proc.pid) - cpu0;
    const pgCpuSeconds = serverCpuSeconds(serverDir) - pgCpu0;
    const statements = opts.pgStatements ? await topStatements(client) : null;
    await sink.stop('SIGTERM', 30_000);
    sink = undefined;

    const one = async (sql: string): Promise<number> => Number((await db.query<{ n: string | null }>(sql)).rows[0]?.n ?? 0);
    const counted = {
      readings: await one('SELECT count(*) AS n FROM readings'),
      distinctKeys: await one('SELECT count(*) AS n FROM (SELECT DISTINCT device_id, metric, ts FROM readings) k'),
      batches: await one('SELECT count(*) AS n FROM ingested_batches'),
      readings_1m: await one('SELECT sum(count) AS n FROM readings_1m'),
      readings_1h: await one('SELECT sum(count) AS n FROM readings_1h'),
      readings_1d: await one('SELECT sum(count) AS n FROM readings_1d'),
    };
    const storedSum = await one('SELECT sum(value) AS n FROM readings');
    const valueSum = expectedSum(order, perBatch, devicesPerGateway);
    const problems = [
      ...Object.entries(counted).filter(([k, n]) => n !== (k === 'batches' ? order.length : readings)).map(([k, n]) => `${k} ${n}`),
      storedSum !== valueSum && `values sum to ${storedSum}, ${valueSum} produced`,
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length) throw new Error(`sink-process bench is not honest (${readings} readings, ${order.length} batches produced): ${problems.join('; ')}`);
    return {
      mode: live ? 'live' : 'backlog',
      readings,
      batches: order.length,
      readingsPerBatch: perBatch,
      gateways,
      devices: gateways * devicesPerGateway,
      partitions,
      sinkKafka: opts.sinkKafka ?? {},
      offeredRate: opts.rate ?? null,
      readingsPerSecond: Math.round(readings / seconds),
      seconds: Number(seconds.toFixed(2)),
      latencyMs: live ? summarize([...seen.values()]) : null,
      cpuSecondsPerMillion: Number(((cpuSeconds / readings) * 1e6).toFixed(2)),
      cores: Number((cpuSeconds / seconds).toFixed(2)),
      server: { cpuSecondsPerMillion: Number(((pgCpuSeconds / readings) * 1e6).toFixed(2)), cores: Number((pgCpuSeconds / seconds).toFixed(2)) },
      counted,
      statements,
      cpuProfile: opts.cpuProfileDir ?? null,
    };
  } finally {
    await sink?.stop('SIGKILL').catch(() => undefined);
    await producer?.close().catch(() => undefined);
    await client?.end().catch(() => undefined);
    if (!opts.broker) await broker.destroy();
    if (!opts.postgres) await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The sum of every value produced, worked out again from the batch numbers rather than trusted from the producer. */
function expectedSum(order: readonly { g: number; seq: number }[], perBatch: number, devices: number): number {
  let sum = 0;
  for (const { g, seq } of order) for (const r of makeBatch(g, seq, perBatch, devices, 1, 0).readings ?? []) for (const v of Object.values(r.metrics ?? {})) sum += v;
  return sum;
}

async function topStatements(client: pg.Client): Promise<StatementShare[]> {
  const r = await client.query<{ query: string; calls: string; total: number }>(
    `SELECT query, calls, total_exec_time AS total FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC`,
  );
  const all = r.rows.reduce((s, x) => s + x.total, 0) || 1;
  return r.rows.slice(0, 12).map((x) => ({
    query: x.query.replace(/\s+/g, ' ').slice(0, 90),
    calls: Number(x.calls),
    totalMs: Math.round(x.total),
    percent: Number(((100 * x.total) / all).toFixed(1)),
  }));
}

// `node dist/bench/sink-process.js` runs it alone: a backlog of BENCH_SINK_READINGS (default
// 1,000,000), or live at BENCH_SINK_RATE readings/s for BENCH_SINK_SECONDS; BENCH_SINK_PROFILE=<dir>
// adds a CPU profile, BENCH_SINK_PGSTAT=1 the server's statement times, BENCH_SINK_KAFKA='{"…":…}'
// the sink's kafka settings.
const env = process.env;
runIfMain(import.meta.url, () =>
  benchSinkProcess({
    ...(env.BENCH_SINK_RATE ? { rate: Number(env.BENCH_SINK_RATE), seconds: Number(env.BENCH_SINK_SECONDS ?? 30) } : { readings: Number(env.BENCH_SINK_READINGS ?? 1_000_000) }),
    ...(env.BENCH_SINK_PROFILE ? { cpuProfileDir: env.BENCH_SINK_PROFILE } : {}),
    ...(env.BENCH_SINK_KAFKA ? { sinkKafka: JSON.parse(env.BENCH_SINK_KAFKA) as Record<string, number> } : {}),
    pgStatements: env.BENCH_SINK_PGSTAT === '1',
  }),
);
