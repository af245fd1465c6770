// Query latency (issue 12, acceptance 4): the cloud API in the `api` role over a real PostgreSQL 15
// holding ≥ 10 M readings with their rollups, and a Parquet lake holding the year before them, asked
// by 20 concurrent clients over keep-alive HTTP with a real token:
//
// - a 24 h aggregate of one device's metric (the API picks 1-minute buckets: 1,440 points),
// - a 7-day aggregate (1-hour buckets: 168 points),
// - a raw page of 1,000 readings,
// - a year-long aggregate older than the database's retention, so answered from the lake (1-day
//   buckets: 365 points; `source` must say "lake").
//
// Every request of a kind asks a different (device, metric, range in whole buckets), so the API's
// aggregate cache (a few seconds, keyed by exactly that) never answers one: those are the uncached
// figures. A second pass then repeats a few aggregates over and over, which is what the cache is for
// (dashboards polling the same chart). Each kind is warmed up first (connections, plans, the lake
// reader's DuckDB) and timed alone.
//
// Before anything is reported a sample of the timed answers is checked (query-check.ts) and the
// rollups' count sums are checked against readings; any difference fails the bench.
//
// Run alone: `node dist/bench/query.js`. BENCH_QUERY_DEVICES (default 100), BENCH_QUERY_STEP_S
// (seconds between two readings of a device, default 20), BENCH_QUERY_REQUESTS (per kind, default
// 400), BENCH_QUERY_LAKE_REQUESTS (default 20; 0 leaves the lake out), BENCH_QUERY_LAKE_DEVICES (default 50).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { TokenAuthority } from '../cloud-sink/src/api/auth.js';
import { cloudConfigSchema } from '../cloud-sink/src/config/schema.js';
import { openDuck } from '../cloud-sink/src/lake/duckdb.js';
import { openPostgres } from '../cloud-sink/src/store/db.js';
import { Store } from '../cloud-sink/src/store/store.js';
import { freePort, spawnLogged, waitUntil, type LoggedProcess } from '../devstack/net.js';
import { startPostgres } from '../devstack/postgres.js';
import { summarize, type LatencySummary } from './percentile.js';
import { ApiClient, runAll, type Answer } from './query-client.js';
import { checkHotAggregate, checkLakeAggregate, checkRawPage, type AggregateBody, type Asked, type ReadingsBody } from './query-check.js';
import { DAY_MS, deviceId, HOUR_MS, hotStartMs, lakeRangeMs, loadHot, MINUTE_MS, writeLake, type QueryDataShape } from './query-data.js';
import { mulberry32 } from './lake.js';
import { runIfMain } from './run-alone.js';

export interface QueryBenchOptions {
  devices?: number;
  stepMs?: number;
  hotDays?: number;
  lakeDevices?: number;
  lakeDays?: number;
  lakeStepMs?: number;
  clients?: number;
  /** Timed requests per database kind. */
  requests?: number;
  /** Timed requests of the year-long lake range, which are slower. */
  lakeRequests?: number;
  /** Untimed requests per kind before its timed ones. */
  warmup?: number;
  /** Answers per kind checked against SQL / the lake. */
  checks?: number;
}

export interface QueryKindResult {
  what: string;
  requests: number;
  latencyMs: LatencySummary;
  /** The bucket the API chose and the source it named (aggregates). */
  bucket: string | null;
  source: string | null;
  /** Points or rows per answer, on average. */
  itemsPerAnswer: number;
  /** Answers compared with SQL over raw rows (or with the lake's files) and found equal. */
  checked: number;
  /** Answers per second over the timed phase: with every client always waiting, latency ≈ clients ÷ this. */
  requestsPerSecond: number;
}

/** Where an aggregate's time goes: one client alone, and the rollup query alone on the database. */
export interface AloneResult {
  what: string;
  requests: number;
  /** One client, one request at a time, over HTTP: the API's own time per request, without queueing. */
  httpMs: LatencySummary;
  /** The rows the route reads (the rollup table's buckets in range), by SQL from this process, one at a time. */
  sqlMs: LatencySummary;
}

export interface QueryBenchResult {
  backend: string;
  clients: number;
  data: {
    devices: number;
    metrics: number;
    stepS: number;
    hotDays: number;
    readings: number;
    rollups: { readings_1m: number; readings_1h: number; readings_1d: number };
    lake: { devices: number; days: number; stepS: number; rows: number; files: number; bytes: number };
  };
  loadSeconds: { database: number; indexes: number; lake: number };
  kinds: { agg24h: QueryKindResult; agg7d: QueryKindResult; raw1000: QueryKindResult; /** Null when run without the lake (lakeRequests 0: a quicker run of the database kinds). */
    lakeYear: QueryKindResult | null };
  /** The same few aggregates asked again and again within the cache's lifetime. */
  repeated: { agg24h: QueryKindResult; agg7d: QueryKindResult; distinctQueries: number };
  alone: { agg24h: AloneResult; agg7d: AloneResult };
  target: { p95Ms: number; aggregatesP95Ms: number; met: boolean };
  totalSeconds: number;
}

const METRICS = ['humidity', 'pressure', 'temperature'] as const;
const TARGET_P95_MS = 50;
const RAW_LIMIT = 1000;
/** Requests of each aggregate kind asked by one client alone. */
const ALONE = 50;
/** The built CLI, beside this file under dist/. */
const CLOUD_CLI = join(import.meta.dirname, '..', 'cloud-sink', 'src', 'cli', 'main.js');
/** The database keeps this much (the API's retention setting): the lake's year lies before it. */
const RETENTION_DAYS = 8;

/**
 * `count` distinct requests: device and metric at random, the range's start at random among
 * `starts` whole steps of `stepMs` after `firstMs`. Distinct in (device, metric, start), which is
 * what the cache keys on once the range is rounded to buckets.
 */
function distinctAsks(rand: () => number, count: number, devices: number, firstMs: number, starts: number, stepMs: number, lengthMs: number): Asked[] {
  const seen = new Set<string>();
  const out: Asked[] = [];
  if (devices * METRICS.length * starts < count * 2) throw new Error(`only ${devices * METRICS.length * starts} distinct requests for ${count}`);
  while (out.length < count) {
    const device = Math.floor(rand() * devices);
    const metric = Math.floor(rand() * METRICS.length);
    const start = Math.floor(rand() * starts);
    const key = `${device}/${metric}/${start}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const fromMs = firstMs + start * stepMs;
    out.push({ device, metric, fromMs, toMs: fromMs + lengthMs - 1 });
  }
  return out;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const aggPath = (a: Asked): string => `/v1/devices/${deviceId(a.device)}/aggregates?metric=${METRICS[a.metric]}&from=${iso(a.fromMs)}&to=${iso(a.toMs)}`;
const rawPath = (a: Asked): string => `/v1/devices/${deviceId(a.device)}/readings?metric=${METRICS[a.metric]}&from=${iso(a.fromMs)}&to=${iso(a.toMs)}&limit=${RAW_LIMIT}`;

export async function benchQuery(opts: QueryBenchOptions = {}): Promise<QueryBenchResult> {
  const began = performance.now();
  const clients = opts.clients ?? 20;
  const requests = opts.requests ?? 400;
  const lakeRequests = opts.lakeRequests ?? 20;
  const warmup = opts.warmup ?? 40;
  const checks = opts.checks ?? 25;
  const hotDays = opts.hotDays ?? RETENTION_DAYS;
  const shape: QueryDataShape = {
    devices: opts.devices ?? 100,
    metrics: METRICS,
    stepMs: opts.stepMs ?? 20_000,
    hotDays,
    hotEndMs: Math.floor(Date.now() / HOUR_MS) * HOUR_MS,
    lakeDevices: opts.lakeDevices ?? 50,
    // A year of ranges ending two days before the database's first reading, a few days apart.
    lakeDays: opts.lakeDays ?? 370,
    lakeStepMs: opts.lakeStepMs ?? HOUR_MS,
    devicesPerGateway: 10,
  };
  if (shape.lakeDevices > shape.devices) throw new Error('the lake devices are the first of the database devices');
  if (shape.lakeDays < 368) throw new Error('the lake needs 368 days or more: a year-long range ending two days before the database begins');

  const dir = mkdtempSync(join(tmpdir(), 'fieldline-bench-query-'));
  const lakeDir = join(dir, 'lake');
  const server = await startPostgres({
    // Room for the hot week in memory, as a query server would be given; the load's index builds get more work memory.
    settings: { shared_buffers: '1GB', maintenance_work_mem: '512MB', max_wal_size: '8GB', effective_cache_size: '4GB' },
  });
  let api: LoggedProcess | undefined;
  let client: ApiClient | undefined;
  const databaseUrl = await server.createDatabase('query_bench');
  const db = await openPostgres(databaseUrl, 2);
  const duck = await openDuck({ threads: 1, memoryLimit: '512MB', tempDirectory: join(dir, 'duck') });
  try {
    await new Store(db).migrate();
    console.log(`query bench: loading ${shape.devices} devices × ${METRICS.length} metrics every ${shape.stepMs / 1000} s over ${hotDays} days into PostgreSQL${lakeRequests > 0 ? `, and ${shape.lakeDays} days of ${shape.lakeDevices} devices into the lake` : ''}…`);
    // Side by side: the lake's time goes mostly to DuckDB writing ~8,900 small files, the database's to the server's COPY.
    const withLake = lakeRequests > 0;
    const lakeWritten = withLake ? writeLake(lakeDir, shape) : Promise.resolve({ rows: 0, files: 0, bytes: 0, seconds: 0 });
    lakeWritten.catch(() => undefined);
    const hot = await loadHot(db, shape);
    const counted = (await db.query<{ r: string; m: string; h: string; d: string }>(
      `SELECT (SELECT count(*) FROM readings) AS r, (SELECT sum(count) FROM readings_1m) AS m,
              (SELECT sum(count) FROM readings_1h) AS h, (SELECT sum(count) FROM readings_1d) AS d`,
    )).rows[0]!;
    if ([counted.r, counted.m, counted.h, counted.d].some((n) => Number(n) !== hot.rows)) {
      throw new Error(`query bench is not honest: ${hot.rows} readings loaded, counted ${JSON.stringify(counted)}`);
    }
    console.log(`query bench: ${hot.rows} readings in ${hot.seconds.toFixed(1)} s`);
    const lake = await lakeWritten;
    console.log(`query bench: ${lake.rows} lake rows in ${lake.files} files in ${lake.seconds.toFixed(1)} s`);

    const retention = `${RETENTION_DAYS} days`;
    // The API runs as `fieldline-cloud api` in its own process, as it is deployed: in this one, the
    // 20 clients' JSON parsing would share the event loop with the server they time.
    const port = await freePort();
    const secret = randomBytes(32).toString('hex');
    const config = {
      dataDir: join(dir, 'cloud'),
      logLevel: 'warn',
      // No broker: the api role only publishes rule changes (none are made) and feeds /v1/stream (off).
      kafka: { brokers: '127.0.0.1:9' },
      database: { url: databaseUrl },
      // The per-token rate limit is off: the 20 clients share one token here, where 20 dashboards
      // would each have their own; the overload guard and the API's pool keep their defaults.
      api: { host: '127.0.0.1', port, jwtSecret: secret, rateLimit: { enabled: false }, stream: { enabled: false } },
      lake: { dir: lakeDir },
      timescale: { readingsRetention: retention, rollupRetention: { readings_1m: retention, readings_1h: retention, readings_1d: retention } },
    };
    cloudConfigSchema.parse(config);
    const configFile = join(dir, 'cloud.yaml');
    writeFileSync(configFile, stringifyYaml(config));
    api = spawnLogged(process.execPath, [CLOUD_CLI, 'api', '--config', configFile], { logDir: dir, logName: 'api.log' });
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok === true, { what: 'the API process', timeoutMs: 60_000 });
    const token = await new TokenAuthority(secret).issue({ subject: 'query-bench', role: 'viewer', ttlSeconds: 3600 });
    client = new ApiClient(base, token, clients);

    const rand = mulberry32(12);
    // Ranges start three hours into the database's data, past the retention boundary however long the load took.
    const firstHot = hotStartMs(shape) + 3 * HOUR_MS;
    const hotEnd = shape.hotEndMs;
    const ask = {
      agg24h: distinctAsks(rand, warmup + requests + ALONE, shape.devices, firstHot, (hotEnd - DAY_MS - firstHot) / MINUTE_MS, MINUTE_MS, DAY_MS),
      agg7d: distinctAsks(rand, warmup + requests + ALONE, shape.devices, firstHot, (hotEnd - 7 * DAY_MS - firstHot) / HOUR_MS, HOUR_MS, 7 * DAY_MS),
      // A raw page starts anywhere a full page of the metric follows, and may run to the data's end.
      raw1000: distinctAsks(rand, warmup + requests, shape.devices, firstHot, (hotEnd - firstHot) / MINUTE_MS - Math.ceil((RAW_LIMIT * shape.stepMs) / MINUTE_MS), MINUTE_MS, 0)
        .map((a) => ({ ...a, toMs: hotEnd })),
      lakeYear: withLake ? distinctAsks(rand, warmup + lakeRequests, shape.lakeDevices, lakeRangeMs(shape).fromMs + DAY_MS, shape.lakeDays - 367, DAY_MS, 365 * DAY_MS) : [],
    };

    const timed = async (kind: keyof typeof ask, what: string, path: (a: Asked) => string, warm = warmup): Promise<{ result: QueryKindResult; answers: Answer[]; asked: Asked[] }> => {
      const all = ask[kind].slice(warmup - warm, kind === 'agg24h' || kind === 'agg7d' ? -ALONE : undefined);
      const n = all.length - warm;
      console.log(`query bench: ${what}, ${warm} warm-up then ${n} requests from ${clients} clients…`);
      await runAll(client!, all.slice(0, warm).map(path), clients);
      const asked = all.slice(warm);
      const t = performance.now();
      const answers = await runAll(client!, asked.map(path), clients);
      const result = kindResult(what, answers, (performance.now() - t) / 1000);
      console.log(`query bench: ${what}: ${JSON.stringify(result.latencyMs)}`);
      return { result, answers, asked };
    };

    const agg24h = await timed('agg24h', '24 h aggregate', aggPath);
    const agg7d = await timed('agg7d', '7-day aggregate', aggPath);
    const raw1000 = await timed('raw1000', `raw page of ${RAW_LIMIT} readings`, rawPath);
    // One warm-up opens the API's lake reader; its DuckDB answers one query at a time, so 20
    // clients asking at once queue behind each other, which is part of the figure.
    const lakeYear = withLake ? await timed('lakeYear', 'year-long aggregate from the lake', aggPath, 1) : null;

    // Dashboards polling a few charts: 20 distinct queries asked round-robin, already cached once.
    const distinct = 20;
    const repeatedRun = async (asked: Asked[], what: string): Promise<QueryKindResult> => {
      const few = asked.slice(0, distinct);
      await runAll(client!, few.map(aggPath), clients);
      const t = performance.now();
      const answers = await runAll(client!, Array.from({ length: requests }, (_, i) => aggPath(few[i % distinct]!)), clients);
      return kindResult(what, answers, (performance.now() - t) / 1000);
    };
    console.log(`query bench: the same ${distinct} aggregates asked ${requests} times (the cache's case)…`);
    const repeated = {
      agg24h: await repeatedRun(agg24h.asked, '24 h aggregate, repeated'),
      agg7d: await repeatedRun(agg7d.asked, '7-day aggregate, repeated'),
      distinctQueries: distinct,
    };

    // The same kinds of question, not asked before (so not cached), one at a time.
    const aloneRun = async (asked: Asked[], what: string, view: string, widthMs: number): Promise<AloneResult> => {
      const http: number[] = [];
      const sql: number[] = [];
      for (const a of asked) {
        http.push((await client!.get(aggPath(a))).ms);
        const t = performance.now();
        await db.query(
          `SELECT bucket, avg, min, max, count, last FROM ${view} WHERE device_id = $1 AND metric = $2 AND bucket >= $3 AND bucket < $4 ORDER BY bucket`,
          [deviceId(a.device), METRICS[a.metric], new Date(Math.floor(a.fromMs / widthMs) * widthMs), new Date(Math.floor(a.toMs / widthMs) * widthMs + widthMs)],
        );
        sql.push(performance.now() - t);
      }
      return { what, requests: asked.length, httpMs: summarize(http), sqlMs: summarize(sql) };
    };
    console.log(`query bench: ${ALONE} more of each aggregate from one client, and their rollup queries alone…`);
    const alone = {
      agg24h: await aloneRun(ask.agg24h.slice(-ALONE), '24 h aggregate, one client', 'readings_1m', MINUTE_MS),
      agg7d: await aloneRun(ask.agg7d.slice(-ALONE), '7-day aggregate, one client', 'readings_1h', HOUR_MS),
    };
    console.log(`query bench: alone ${JSON.stringify(alone)}`);

    console.log(`query bench: checking ${checks} answers of each kind…`);
    const sample = <T>(xs: readonly T[]): number[] => Array.from({ length: Math.min(checks, xs.length) }, (_, i) => Math.floor((i * xs.length) / Math.min(checks, xs.length)));
    for (const i of sample(agg24h.answers)) await checkHotAggregate(db, shape, agg24h.asked[i]!, JSON.parse(agg24h.answers[i]!.body) as AggregateBody);
    agg24h.result.checked = sample(agg24h.answers).length;
    for (const i of sample(agg7d.answers)) await checkHotAggregate(db, shape, agg7d.asked[i]!, JSON.parse(agg7d.answers[i]!.body) as AggregateBody);
    agg7d.result.checked = sample(agg7d.answers).length;
    for (const i of sample(raw1000.answers)) await checkRawPage(db, shape, raw1000.asked[i]!, RAW_LIMIT, JSON.parse(raw1000.answers[i]!.body) as ReadingsBody);
    raw1000.result.checked = sample(raw1000.answers).length;
    // Three: DuckDB reads every one of the lake's files for each.
    if (lakeYear) {
      const lakeSample = sample(lakeYear.answers).slice(0, 3);
      for (const i of lakeSample) await checkLakeAggregate(duck, lakeDir, shape, lakeYear.asked[i]!, JSON.parse(lakeYear.answers[i]!.body) as AggregateBody);
      lakeYear.result.checked = lakeSample.length;
    }

    const aggregatesP95Ms = Math.max(agg24h.result.latencyMs.p95, agg7d.result.latencyMs.p95);
    return {
      backend: `PostgreSQL ${(await db.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?'} (devstack/postgres.ts, shared_buffers 1GB), the API (fieldline-cloud api, its own process) with a pool of ${cloudConfigSchema.parse(config).api.database.poolSize} connections`,
      clients,
      data: {
        devices: shape.devices,
        metrics: METRICS.length,
        stepS: shape.stepMs / 1000,
        hotDays,
        readings: hot.rows,
        rollups: hot.rollupRows,
        lake: { devices: shape.lakeDevices, days: shape.lakeDays, stepS: shape.lakeStepMs / 1000, rows: lake.rows, files: lake.files, bytes: lake.bytes },
      },
      loadSeconds: { database: round1(hot.seconds), indexes: round1(hot.indexSeconds), lake: round1(lake.seconds) },
      kinds: { agg24h: agg24h.result, agg7d: agg7d.result, raw1000: raw1000.result, lakeYear: lakeYear?.result ?? null },
      repeated,
      alone,
      target: { p95Ms: TARGET_P95_MS, aggregatesP95Ms, met: aggregatesP95Ms <= TARGET_P95_MS },
      totalSeconds: round1((performance.now() - began) / 1000),
    };
  } finally {
    client?.close();
    await api?.stop('SIGTERM', 30_000).catch(() => undefined);
    duck.close();
    await db.close();
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function kindResult(what: string, answers: readonly Answer[], seconds: number): QueryKindResult {
  let items = 0;
  let bucket: string | null = null;
  let source: string | null = null;
  for (const a of answers) {
    const body = JSON.parse(a.body) as Partial<AggregateBody & ReadingsBody>;
    items += body.points?.length ?? body.readings?.length ?? 0;
    bucket ??= body.bucket ?? null;
    source ??= body.source ?? null;
  }
  return {
    what,
    requests: answers.length,
    latencyMs: summarize(answers.map((a) => a.ms)),
    bucket,
    source,
    itemsPerAnswer: answers.length ? round1(items / answers.length) : 0,
    checked: 0,
    requestsPerSecond: round1(answers.length / seconds),
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

runIfMain(import.meta.url, () =>
  benchQuery({
    devices: Number(process.env.BENCH_QUERY_DEVICES ?? 100),
    stepMs: Number(process.env.BENCH_QUERY_STEP_S ?? 20) * 1000,
    requests: Number(process.env.BENCH_QUERY_REQUESTS ?? 400),
    lakeRequests: Number(process.env.BENCH_QUERY_LAKE_REQUESTS ?? 20),
    lakeDevices: Number(process.env.BENCH_QUERY_LAKE_DEVICES ?? 50),
  }),
);
