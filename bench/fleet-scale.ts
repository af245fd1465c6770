// How the cloud's cost grows with the fleet (issue 14): the same number of readings, in batches of
// the same size, from 10, 100, 1,000 and 10,000 simulated gateway ids, each with its own devices and
// its own seqs 1, 2, 3…, through the real parts: a Kafka broker, one `fieldline-cloud sink` process
// writing to PostgreSQL 15, and a `fieldline-cloud api` process answering /v1.
//
// Each step: the load tool (bench/fleet-load.ts, its own process) produces the step's batches to
// iot.readings while no sink runs; then one sink instance is started and catches up. Its rate is the
// step's readings over the time from the first ledger row's transaction start (ingested_at) to the
// moment every one of the step's readings is counted in the ledger (polled every 100 ms, so the
// figure errs low by at most that). Before any figure is kept, the step is counted back row by row:
// every (device, metric, ts) produced is in readings exactly once, the value sum matches, every
// gateway's seqs 1..n are in the ledger once, and each rollup's count sum equals the rows.
//
// The database accumulates across steps (10 gateways' rows, then 100's on top, …), so query
// latency is measured as the stored rows grow; the database bytes per reading are given both over
// everything stored and for what the step added. The sink is stopped while the API is asked, so the
// query figures are those of a database at rest.
//
// Run alone: `node dist/bench/fleet-scale.js`. BENCH_FLEET_GATEWAYS (default 10,100,1000,10000),
// BENCH_FLEET_READINGS (readings per step, default 1,000,000), BENCH_FLEET_BATCH (readings per
// batch, default 100), BENCH_FLEET_REQUESTS (requests per query kind and step, default 100).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenAuthority } from '../cloud-sink/src/api/auth.js';
import { cloudConfigSchema } from '../cloud-sink/src/config/schema.js';
import { openPostgres, type Db } from '../cloud-sink/src/store/db.js';
import { Store } from '../cloud-sink/src/store/store.js';
import { startKafka } from '../devstack/kafka.js';
import { freePort, removeOnExit, spawnLogged, waitUntil, type LoggedProcess } from '../devstack/net.js';
import { startPostgres } from '../devstack/postgres.js';
import { FIELDLINE_TOPICS } from '../devstack/topics.js';
import { deviceId, deviceSchedule, METRICS, type FleetLoadParams, type FleetLoadReport } from './fleet-load.js';
import { mulberry32 } from './lake.js';
import { summarize, type LatencySummary } from './percentile.js';
import { ApiClient, runAll, type Answer } from './query-client.js';
import { processCpuSeconds, processTreeCpuSeconds } from './proc-cpu.js';
import { runIfMain } from './run-alone.js';

export interface FleetScaleOptions {
  /** Fleet sizes, one step each, in this order. */
  gateways?: number[];
  /** Readings (metric values) produced in each step. */
  readingsPerStep?: number;
  /** Readings per batch; a multiple of the 4 metrics a device message carries. */
  readingsPerBatch?: number;
  devicesPerGateway?: number;
  partitions?: number;
  /** Timed requests per query kind and step (the fleet list gets a tenth). */
  requests?: number;
  /** Concurrent API clients. */
  clients?: number;
  /**
   * The sink's per-minute aggregates publisher (fleet.aggregates), on as deployed. The step's
   * readings are up to a day old when stored, so it takes nearly every minute for a late one and
   * queues it in aggregate_late: off, the figures are the database writer's alone.
   */
  aggregatesPublisher?: boolean;
}

export interface QueryFigure {
  path: string;
  requests: number;
  latencyMs: LatencySummary;
  /** Readings, points, metrics or gateways per answer, on average. */
  itemsPerAnswer: number;
  /** Answers compared with SQL and found equal. */
  checked: number;
}

export interface DbSize {
  /** pg_total_relation_size (heap, indexes, TOAST, free space map) of each table, bytes. */
  tables: Record<string, number>;
  /** readings + readings_1m/1h/1d + ingested_batches, over the rows stored. */
  bytesPerReading: number;
  /** The same tables' growth in this step, over the step's readings. */
  stepBytesPerReading: number;
  /** gateways + devices (the catalog, which grows with the fleet, not with readings), bytes. */
  catalogBytes: number;
}

export interface FleetStep {
  gateways: number;
  devices: number;
  batches: number;
  batchesPerGateway: number;
  readings: number;
  /** Readings a device sent in the step, spread evenly over the day before the step's end. */
  readingsPerDevicePerMetric: number;
  load: { seconds: number; readingsPerSecond: number; wireBytesPerReading: number; wireBytesPerReadingWithHeaders: number };
  sink: {
    /** Step readings ÷ (first ledger row's transaction start → every reading counted). */
    readingsPerSecond: number;
    seconds: number;
    /** Process spawn to the first ledger row (start-up, migration check, group join). */
    startSeconds: number;
    /**
     * CPU time per million readings stored, spawn to the last reading counted: the sink process's
     * own (start-up included), and the PostgreSQL server's (every backend, the bench's 100 ms polls
     * and autovacuum included). Less sensitive to other jobs on the machine than the rate.
     */
    cpuSecondsPerMillion: { sink: number; postgres: number };
  };
  /** Counted back with SQL before the figures were kept; lost and duplicated are 0 or the bench fails. */
  counted: { rows: number; distinctRows: number; valueSum: number; ledgerBatches: number; gatewaysWithAllSeqs: number; rollup1m: number; rollup1h: number; rollup1d: number; lost: number; duplicated: number };
  /** Rows in readings after the step (every step so far). */
  storedRows: number;
  db: DbSize;
  queries: { raw1h: QueryFigure; day1m: QueryFigure; latest: QueryFigure; fleet: QueryFigure };
}

export interface FleetScaleResult {
  backend: string;
  setup: {
    readingsPerStep: number;
    readingsPerBatch: number;
    messagesPerBatch: number;
    metricsPerMessage: number;
    devicesPerGateway: number;
    partitions: number;
    sinkInstances: 1;
    sinkMaxBatchMessages: number;
    sinkPoolSize: number;
    queryClients: number;
    /** The database keeps every step's rows: step n is measured on top of steps 1..n-1. */
    accumulates: true;
    aggregatesPublisher: boolean;
  };
  steps: FleetStep[];
  totalSeconds: number;
}

const TOPIC = 'iot.readings';
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const CLI = join(import.meta.dirname, '..', 'cloud-sink', 'src', 'cli', 'main.js');
const LOAD = join(import.meta.dirname, 'fleet-load.js');
const STORED_TABLES = ['readings', 'readings_1m', 'readings_1h', 'readings_1d', 'ingested_batches'] as const;
const CATALOG_TABLES = ['gateways', 'devices'] as const;

/** A step's ids sort between these bounds (collation C): an index range, where LIKE 'p%' with a parameter may not be. */
function prefixRange(prefix: string): [string, string] {
  return [prefix, prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)];
}

async function one<T>(db: Db, sql: string, params: unknown[] = []): Promise<T> {
  const row = (await db.query<Record<string, unknown>>(sql, params)).rows[0];
  if (!row) throw new Error(`no row from ${sql}`);
  return row as T;
}

async function runLoad(p: FleetLoadParams, dir: string, name: string): Promise<FleetLoadReport> {
  const proc = spawnLogged(process.execPath, [LOAD, JSON.stringify(p)], { logDir: dir, logName: `${name}.log`, truncate: true });
  const exit = await proc.exited;
  const out = readFileSync(proc.logFile, 'utf8');
  const line = out.split('\n').find((l) => l.startsWith('{"batches"'));
  if (exit.code !== 0 || !line) throw new Error(`the fleet load tool failed (${JSON.stringify(exit)}): ${out.slice(-2000)}`);
  return JSON.parse(line) as FleetLoadReport;
}

async function sizes(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [...STORED_TABLES, ...CATALOG_TABLES]) {
    out[t] = Number((await one<{ n: string }>(db, `SELECT pg_total_relation_size($1::regclass) AS n`, [t])).n);
  }
  return out;
}

const storedBytes = (s: Record<string, number>): number => STORED_TABLES.reduce((n, t) => n + (s[t] ?? 0), 0);

export async function benchFleetScale(opts: FleetScaleOptions = {}): Promise<FleetScaleResult> {
  const began = performance.now();
  const fleets = opts.gateways ?? [10, 100, 1000, 10_000];
  const readingsPerStep = opts.readingsPerStep ?? Number(process.env.BENCH_FLEET_READINGS ?? 1_000_000);
  const readingsPerBatch = opts.readingsPerBatch ?? 100;
  const devicesPerGateway = opts.devicesPerGateway ?? 5;
  const partitions = opts.partitions ?? 3;
  const requests = opts.requests ?? 100;
  const clients = opts.clients ?? 4;
  const aggregatesPublisher = opts.aggregatesPublisher ?? true;
  if (readingsPerBatch % METRICS.length !== 0) throw new Error(`readingsPerBatch must be a multiple of ${METRICS.length}, got ${readingsPerBatch}`);
  const messagesPerBatch = readingsPerBatch / METRICS.length;
  for (const g of fleets) {
    if (!Number.isInteger(readingsPerStep / (g * readingsPerBatch)) || readingsPerStep < g * readingsPerBatch) {
      throw new Error(`${readingsPerStep} readings do not split into whole batches of ${readingsPerBatch} for each of ${g} gateways`);
    }
  }

  const dir = mkdtempSync(join(tmpdir(), 'fieldline-bench-fleet-'));
  const forgetDir = removeOnExit(dir);
  const broker = await startKafka();
  let server: Awaited<ReturnType<typeof startPostgres>> | undefined;
  let db: Db | undefined;
  let api: LoggedProcess | undefined;
  let sink: LoggedProcess | undefined;
  let client: ApiClient | undefined;
  try {
    await broker.createTopics(FIELDLINE_TOPICS.map((t) => (t.name === TOPIC ? { ...t, partitions } : t)));
    server = await startPostgres();
    const databaseUrl = await server.createDatabase('fleet_scale');
    db = await openPostgres(databaseUrl, 2);
    await new Store(db).migrate();
    const version = (await one<{ server_version: string }>(db, 'SHOW server_version')).server_version;

    const port = await freePort();
    const secret = randomBytes(32).toString('hex');
    const base = {
      logLevel: 'info',
      kafka: { brokers: broker.bootstrap, readingsTopic: TOPIC },
      // The database writer alone: the evaluator is not what this bench sizes.
      alerts: { enabled: false },
    };
    const sinkConfig = { ...base, dataDir: join(dir, 'sink'), fleet: { aggregates: { enabled: aggregatesPublisher } } };
    const apiConfig = {
      ...base,
      dataDir: join(dir, 'api'),
      // One token stands for every client here; a per-token limit would measure the limiter.
      api: { host: '127.0.0.1', port, jwtSecret: secret, rateLimit: { enabled: false }, stream: { enabled: false } },
    };
    const sinkParsed = cloudConfigSchema.parse({ ...sinkConfig, database: { url: databaseUrl } });
    cloudConfigSchema.parse({ ...apiConfig, database: { url: databaseUrl } });
    writeFileSync(join(dir, 'sink.yaml'), JSON.stringify(sinkConfig));
    writeFileSync(join(dir, 'api.yaml'), JSON.stringify(apiConfig));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_')) env[k] = v;
    env.DATABASE_URL = databaseUrl;

    api = spawnLogged(process.execPath, [CLI, 'api', '--config', join(dir, 'api.yaml')], { logDir: dir, logName: 'api.log', truncate: true, env });
    const apiBase = `http://127.0.0.1:${port}`;
    await waitUntil(async () => (await fetch(`${apiBase}/healthz`).catch(() => null))?.ok === true, { what: 'the API process', timeoutMs: 60_000, process: api });
    const token = await new TokenAuthority(secret).issue({ subject: 'fleet-scale-bench', role: 'viewer', ttlSeconds: 6 * 3600 });
    client = new ApiClient(apiBase, token, clients);

    const steps: FleetStep[] = [];
    let before = await sizes(db);
    for (const [index, gateways] of fleets.entries()) {
      const prefix = `fs${index + 1}-`;
      const [lo, hi] = prefixRange(prefix);
      const batchesPerGateway = readingsPerStep / (gateways * readingsPerBatch);
      const endMs = Math.floor(Date.now() / 60_000) * 60_000;
      const params: FleetLoadParams = { bootstrap: broker.bootstrap, topic: TOPIC, prefix, gateways, batchesPerGateway, messagesPerBatch, devicesPerGateway, endMs };
      console.log(`fleet scale: ${gateways} gateways × ${batchesPerGateway} batches of ${readingsPerBatch} readings → Kafka…`);
      const load = await runLoad(params, dir, `load-${index + 1}`);
      if (load.readings !== readingsPerStep) throw new Error(`the load tool produced ${load.readings} readings, ${readingsPerStep} were asked for`);

      console.log(`fleet scale: one sink catching up on ${load.readings} readings…`);
      const postmaster = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      const pgCpuBefore = processTreeCpuSeconds(postmaster);
      const spawned = Date.now();
      sink = spawnLogged(process.execPath, [CLI, 'sink', '--config', join(dir, 'sink.yaml')], { logDir: dir, logName: `sink-${index + 1}.log`, truncate: true, env });
      let doneAt = 0;
      let firstAt = 0;
      const timeoutMs = Math.max(180_000, (readingsPerStep / 2_000) * 1000);
      await waitUntil(async () => {
        const r = await one<{ n: string | null; first: Date | null }>(
          db!,
          'SELECT sum(reading_count) AS n, min(ingested_at) AS first FROM ingested_batches WHERE gateway_id >= $1 AND gateway_id < $2',
          [lo, hi],
        );
        if (Number(r.n ?? 0) < readingsPerStep) return false;
        doneAt = Date.now();
        firstAt = r.first!.getTime();
        return true;
      }, { what: `the sink storing step ${index + 1}'s ${readingsPerStep} readings`, timeoutMs, intervalMs: 100, process: sink });
      const sinkCpu = processCpuSeconds(sink.pid);
      const pgCpu = processTreeCpuSeconds(postmaster) - pgCpuBefore;
      await sink.stop('SIGTERM', 30_000);
      sink = undefined;
      const sinkSeconds = (doneAt - firstAt) / 1000;

      console.log('fleet scale: counting the step back row by row…');
      const counted = await countBack(db, prefix, lo, hi, readingsPerStep, load, gateways, batchesPerGateway);
      const storedRows = Number((await one<{ n: string }>(db, 'SELECT count(*) AS n FROM readings')).n);
      const after = await sizes(db);
      const dbSize: DbSize = {
        tables: after,
        bytesPerReading: round1(storedBytes(after) / storedRows),
        stepBytesPerReading: round1((storedBytes(after) - storedBytes(before)) / readingsPerStep),
        catalogBytes: CATALOG_TABLES.reduce((n, t) => n + (after[t] ?? 0), 0),
      };
      before = after;

      console.log('fleet scale: asking the API…');
      const queries = await askApi(client, db, { prefix, gateways, devicesPerGateway, endMs, requests, clients, seed: index + 1 });
      const schedule = deviceSchedule(params);
      steps.push({
        gateways,
        devices: gateways * devicesPerGateway,
        batches: load.batches,
        batchesPerGateway,
        readings: load.readings,
        readingsPerDevicePerMetric: schedule.messagesPerDevice,
        load: {
          seconds: round1(load.seconds),
          readingsPerSecond: Math.round(load.readings / load.seconds),
          wireBytesPerReading: round2(load.valueBytes / load.readings),
          wireBytesPerReadingWithHeaders: round2(load.messageBytes / load.readings),
        },
        sink: { readingsPerSecond: Math.round(readingsPerStep / sinkSeconds), seconds: Math.round(sinkSeconds * 1000) / 1000, startSeconds: round1((firstAt - spawned) / 1000),
          cpuSecondsPerMillion: { sink: round1((sinkCpu * 1e6) / readingsPerStep), postgres: round1((pgCpu * 1e6) / readingsPerStep) },
        },
        counted,
        storedRows,
        db: dbSize,
        queries,
      });
      const s = steps.at(-1)!;
      console.log(`fleet scale: ${gateways} gateways: sink ${s.sink.readingsPerSecond} readings/s, ${s.db.stepBytesPerReading} B/reading, p95 raw ${s.queries.raw1h.latencyMs.p95} / 1m ${s.queries.day1m.latencyMs.p95} / latest ${s.queries.latest.latencyMs.p95} / fleet ${s.queries.fleet.latencyMs.p95} ms`);
    }

    return {
      backend: `PostgreSQL ${version} (devstack/postgres.ts defaults: fsync off, synchronous_commit off), rollups kept by the sink; Kafka ${partitions} partitions on ${TOPIC}`,
      setup: {
        readingsPerStep,
        readingsPerBatch,
        messagesPerBatch,
        metricsPerMessage: METRICS.length,
        devicesPerGateway,
        partitions,
        sinkInstances: 1,
        sinkMaxBatchMessages: sinkParsed.kafka.maxBatchMessages,
        sinkPoolSize: sinkParsed.database.poolSize,
        queryClients: clients,
        accumulates: true,
        aggregatesPublisher,
      },
      steps,
      totalSeconds: round1((performance.now() - began) / 1000),
    };
  } finally {
    client?.close();
    await sink?.stop('SIGKILL').catch(() => undefined);
    await api?.stop('SIGTERM', 30_000).catch(() => undefined);
    await db?.close().catch(() => undefined);
    await server?.destroy().catch(() => undefined);
    await broker.destroy().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  }
}

/**
 * The step's rows, row by row: readings produced are distinct in (device, metric, ts), so a count
 * equal to the distinct count and to the readings produced means each is there exactly once; the
 * value sum ties the rows to what was sent. Every gateway must have seqs 1..n in the ledger.
 */
async function countBack(
  db: Db, prefix: string, lo: string, hi: string, expected: number, load: FleetLoadReport, gateways: number, batchesPerGateway: number,
): Promise<FleetStep['counted']> {
  const rows = await one<{ n: string; d: string; s: number | null }>(
    db,
    `SELECT count(*) AS n, count(DISTINCT (device_id, metric, ts)) AS d, sum(value) AS s
       FROM readings WHERE device_id >= $1 AND device_id < $2 AND gateway_id >= $1 AND gateway_id < $2`,
    [lo, hi],
  );
  const ledger = await one<{ n: string; full: string }>(
    db,
    `SELECT sum(k) AS n, count(*) FILTER (WHERE k = $3 AND lo = 1 AND hi = $3) AS full
       FROM (SELECT count(*) AS k, min(seq) AS lo, max(seq) AS hi FROM ingested_batches
              WHERE gateway_id >= $1 AND gateway_id < $2 GROUP BY gateway_id) g`,
    [lo, hi, batchesPerGateway],
  );
  const rollup = async (t: string): Promise<number> =>
    Number((await one<{ n: string | null }>(db, `SELECT sum(count) AS n FROM ${t} WHERE device_id >= $1 AND device_id < $2`, [lo, hi])).n ?? 0);
  const n = Number(rows.n);
  const distinct = Number(rows.d);
  const counted = {
    rows: n,
    distinctRows: distinct,
    valueSum: Number(rows.s ?? 0),
    ledgerBatches: Number(ledger.n ?? 0),
    gatewaysWithAllSeqs: Number(ledger.full ?? 0),
    rollup1m: await rollup('readings_1m'),
    rollup1h: await rollup('readings_1h'),
    rollup1d: await rollup('readings_1d'),
    lost: expected - distinct,
    duplicated: n - distinct,
  };
  const problems = [
    counted.lost !== 0 && `${counted.lost} of ${expected} readings are missing`,
    counted.duplicated !== 0 && `${counted.duplicated} readings are stored twice`,
    counted.valueSum !== load.valueSum && `the stored values sum to ${counted.valueSum}, the produced ones to ${load.valueSum}`,
    counted.ledgerBatches !== load.batches && `the ledger holds ${counted.ledgerBatches} batches, ${load.batches} were produced`,
    counted.gatewaysWithAllSeqs !== gateways && `${counted.gatewaysWithAllSeqs} of ${gateways} gateways have seqs 1..${batchesPerGateway} in the ledger`,
    [counted.rollup1m, counted.rollup1h, counted.rollup1d].some((c) => c !== expected) &&
      `rollup count sums ${counted.rollup1m} / ${counted.rollup1h} / ${counted.rollup1d}, ${expected} readings`,
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length) throw new Error(`fleet-scale bench is not honest (step ${prefix}): ${problems.join('; ')}`);
  return counted;
}

interface Ask {
  prefix: string;
  gateways: number;
  devicesPerGateway: number;
  endMs: number;
  requests: number;
  clients: number;
  seed: number;
}

/**
 * The step's devices, each request a distinct (device, metric) so the API's aggregate cache never
 * answers; a few answers of each kind are compared with SQL before the latencies are kept.
 */
async function askApi(client: ApiClient, db: Db, a: Ask): Promise<FleetStep['queries']> {
  const rand = mulberry32(a.seed);
  const devices = a.gateways * a.devicesPerGateway;
  const n = Math.min(a.requests, devices * METRICS.length);
  const seen = new Set<number>();
  const picks: Array<{ device: string; metric: string }> = [];
  while (picks.length < n) {
    const x = Math.floor(rand() * devices * METRICS.length);
    if (seen.has(x)) continue;
    seen.add(x);
    const d = Math.floor(x / METRICS.length);
    picks.push({ device: deviceId(a.prefix, Math.floor(d / a.devicesPerGateway), d % a.devicesPerGateway), metric: METRICS[x % METRICS.length]! });
  }
  const iso = (ms: number): string => new Date(ms).toISOString();
  const hourFrom = a.endMs - HOUR_MS;
  const dayFrom = a.endMs - DAY_MS;
  const raw = (p: (typeof picks)[number]): string => `/v1/devices/${p.device}/readings?metric=${p.metric}&from=${iso(hourFrom)}&to=${iso(a.endMs)}&limit=10000`;
  const day = (p: (typeof picks)[number]): string => `/v1/devices/${p.device}/aggregates?metric=${p.metric}&bucket=1m&from=${iso(dayFrom)}&to=${iso(a.endMs)}`;
  const latest = (p: (typeof picks)[number]): string => `/v1/devices/${p.device}/latest`;
  const warm = Math.min(5, n);

  const timed = async (paths: string[], itemsOf: (body: unknown) => number): Promise<{ fig: QueryFigure; answers: Answer[] }> => {
    await runAll(client, paths.slice(0, warm), a.clients);
    const answers = await runAll(client, paths, a.clients);
    const items = answers.reduce((s, x) => s + itemsOf(JSON.parse(x.body)), 0);
    return { fig: { path: paths[0]!.replace(/\?.*/, '').replace(/devices\/[^/]+/, 'devices/{id}'), requests: answers.length, latencyMs: summarize(answers.map((x) => x.ms)), itemsPerAnswer: round1(items / answers.length), checked: 0 }, answers };
  };
  const count = async (sql: string, params: unknown[]): Promise<number> => Number((await one<{ n: string }>(db, sql, params)).n);
  const checks = Math.min(3, n);

  const r = await timed(picks.map(raw), (b) => (b as { readings: unknown[] }).readings.length);
  for (let i = 0; i < checks; i++) {
    const p = picks[i]!;
    const want = await count('SELECT count(*) AS n FROM readings WHERE device_id = $1 AND metric = $2 AND ts >= $3 AND ts <= $4', [p.device, p.metric, new Date(hourFrom), new Date(a.endMs)]);
    const got = (JSON.parse(r.answers[i]!.body) as { readings: unknown[] }).readings.length;
    if (got !== want) throw new Error(`GET ${raw(p)} gave ${got} readings, the database holds ${want}`);
  }
  r.fig.checked = checks;

  const g = await timed(picks.map(day), (b) => (b as { points: unknown[] }).points.length);
  for (let i = 0; i < checks; i++) {
    const p = picks[i]!;
    const want = await count('SELECT count(*) AS n FROM readings WHERE device_id = $1 AND metric = $2', [p.device, p.metric]);
    const got = (JSON.parse(g.answers[i]!.body) as { points: Array<{ count: number }> }).points.reduce((s, x) => s + x.count, 0);
    if (got !== want) throw new Error(`GET ${day(p)}: the points count ${got} readings, the database holds ${want}`);
  }
  g.fig.checked = checks;

  const l = await timed(picks.map(latest), (b) => Object.keys((b as { metrics: object }).metrics).length);
  for (let i = 0; i < checks; i++) {
    const p = picks[i]!;
    const want = (await one<{ ts: Date }>(db, 'SELECT max(ts) AS ts FROM readings WHERE device_id = $1', [p.device])).ts.toISOString();
    const body = JSON.parse(l.answers[i]!.body) as { metrics: Record<string, { ts: string }> };
    const got = body.metrics[p.metric]?.ts;
    if (Object.keys(body.metrics).length !== METRICS.length || got !== want) throw new Error(`GET ${latest(p)} gave ${JSON.stringify(body)}, the newest row is at ${want}`);
  }
  l.fig.checked = checks;

  // Every gateway stored so far, every step's: the list grows with the fleet, not with the step.
  const fleetRequests = Math.max(3, Math.ceil(a.requests / 10));
  const f = await timed(Array.from({ length: fleetRequests }, () => '/v1/gateways'), (b) => (b as { gateways: unknown[] }).gateways.length);
  const want = await count('SELECT count(*) AS n FROM gateways', []);
  const got = (JSON.parse(f.answers[0]!.body) as { gateways: unknown[] }).gateways.length;
  if (got !== want) throw new Error(`GET /v1/gateways listed ${got} gateways, the database holds ${want}`);
  f.fig.checked = 1;

  return { raw1h: r.fig, day1m: g.fig, latest: l.fig, fleet: f.fig };
}

/**
 * The sweep as markdown table rows (`| figure | value |`, as bench/run.ts's table), one group per
 * fleet size; a reader sees the load the figures were made under in the first row.
 */
export function fleetScaleRows(r: FleetScaleResult): string[] {
  const s = r.setup;
  const rows = [
    `| fleet scale: ${s.readingsPerStep} readings a step in batches of ${s.readingsPerBatch} (${s.messagesPerBatch} messages × ${s.metricsPerMessage} metrics), ${s.devicesPerGateway} devices a gateway, ${s.partitions} partitions, one sink process (aggregates publisher ${s.aggregatesPublisher ? 'on' : 'off'}), rows accumulating across steps; query p95 with ${s.queryClients} clients | gateways: ${r.steps.map((x) => x.gateways).join(' / ')} |`,
  ];
  const each = (f: (x: FleetStep) => string | number): string => r.steps.map(f).join(' / ');
  rows.push(
    `| fleet scale: sink readings/s, one instance, a Kafka backlog into PostgreSQL 15 (every reading counted back: lost ${each((x) => x.counted.lost)}) | ${each((x) => x.sink.readingsPerSecond)} |`,
    `| fleet scale: CPU-seconds per million readings stored, sink process / PostgreSQL server | ${each((x) => `${x.sink.cpuSecondsPerMillion.sink} + ${x.sink.cpuSecondsPerMillion.postgres}`)} |`,
    `| fleet scale: database bytes per reading, readings + rollups + ledger, what the step added / all stored (rows stored ${each((x) => x.storedRows)}) | ${each((x) => `${x.db.stepBytesPerReading} / ${x.db.bytesPerReading}`)} |`,
    `| fleet scale: catalog bytes (gateways + devices tables) | ${each((x) => x.db.catalogBytes)} |`,
    `| fleet scale: Kafka value bytes per reading (LZ4 batches) | ${each((x) => x.load.wireBytesPerReading)} |`,
    `| fleet scale: p95 ms, one device's last hour raw (${r.steps[0]?.queries.raw1h.path ?? ''}) | ${each((x) => x.queries.raw1h.latencyMs.p95)} |`,
    `| fleet scale: p95 ms, one device's day in 1-minute buckets | ${each((x) => x.queries.day1m.latencyMs.p95)} |`,
    `| fleet scale: p95 ms, one device's latest | ${each((x) => x.queries.latest.latencyMs.p95)} |`,
    `| fleet scale: p95 ms, the fleet list GET /v1/gateways (gateways listed ${each((x) => x.queries.fleet.itemsPerAnswer)}) | ${each((x) => x.queries.fleet.latencyMs.p95)} |`,
  );
  return rows;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

runIfMain(import.meta.url, () =>
  benchFleetScale({
    gateways: (process.env.BENCH_FLEET_GATEWAYS ?? '10,100,1000,10000').split(',').map(Number),
    readingsPerStep: Number(process.env.BENCH_FLEET_READINGS ?? 1_000_000),
    readingsPerBatch: Number(process.env.BENCH_FLEET_BATCH ?? 100),
    requests: Number(process.env.BENCH_FLEET_REQUESTS ?? 100),
    aggregatesPublisher: process.env.BENCH_FLEET_AGGREGATES !== '0',
  }),
);
