// The whole pipeline as deployed (issue 14): simulated sensors (the Go load generator, its own
// process) → the gateway (its own process, built from dist) → Kafka → the cloud sink (its own
// process: `fieldline-cloud sink` against a PostgreSQL 15 server, or `fieldline-cloud all` with the
// embedded TimescaleDB) → rows.
//
// End-to-end latency comes from a probe device in this process publishing ~20 QoS 1 messages a
// second while the load runs, and a poller looking for each probe seq's row. The poller reads only
// the probe device's newest rows through the (device_id, metric, ts) index (or the API for the
// embedded database), never count(*) over millions of rows, so it costs the database little.
//
// Before any figure is reported the stored rows are checked row by row against what the load
// generator had acknowledged: for every load device every seq 1..lastSeq is there exactly once,
// every other metric has exactly lastSeq rows whose values sum to what the seqs imply, and every
// message (device, ts) holds all its metrics. A run that is not clean fails unless `reportLoss`.
// Run alone: `node dist/bench/pipeline.js` (BENCH_PIPELINE_SECONDS, BENCH_PIPELINE_RATE,
// BENCH_PIPELINE_DB=postgres|embedded, BENCH_PIPELINE_PROFILE_DIR, BENCH_PIPELINE_REPORT_LOSS=1,
// BENCH_PIPELINE_DRAIN_S).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { TokenAuthority } from '../cloud-sink/src/api/auth.js';
import { openEmbedded, openPostgres, type Db } from '../cloud-sink/src/store/db.js';
import { DEPLOYED_GATEWAY_ENV, GatewayChild } from '../devstack/gateway-child.js';
import { startKafka, type KafkaBroker } from '../devstack/kafka.js';
import { freePort, repoRoot, spawnLogged, type LoggedProcess } from '../devstack/net.js';
import { startPostgres, type PgServer } from '../devstack/postgres.js';
import { FIELDLINE_TOPICS } from '../devstack/topics.js';
import { benchDataDir } from './data-dir.js';
import { describeFilesystem, filesystemOf } from './disk-io.js';
import { startLoad, type LoadReport } from './loadgen.js';
import { summarize, type LatencySummary } from './percentile.js';
import { sampleProcess, type ProcSeries } from './proc-stats.js';
import { runIfMain } from './run-alone.js';

export interface PipelineBenchOptions {
  database: 'postgres' | 'embedded';
  /** Seconds of load (after a one-second warm-up). */
  seconds: number;
  /** Readings per second offered by all load devices together. */
  rate: number;
  /** Load devices, one MQTT connection each. */
  clients: number;
  /** QoS 1 PUBLISHes each device keeps waiting for their PUBACK. */
  window: number;
  /** Readings per message: 10 is a multi-channel meter (seq, temperature, humidity, m3…m9). */
  metricsPerMessage: number;
  /** Run the gateway and the sink with --cpu-prof into this directory and return the profiles. */
  cpuProfileDir?: string;
  /** Return the result even when the row-by-row check finds loss (default: throw). */
  reportLoss?: boolean;
  /** How long to wait after the load for the backlog to reach the database; default max(120, 3 × seconds). */
  drainTimeoutS?: number;
}

export interface LossCheck {
  /** Load devices checked, and the readings the load generator had acknowledged for them. */
  devices: number;
  expectedRows: number;
  rows: number;
  /** Acknowledged readings with no row. */
  lost: number;
  /** Rows beyond the first for one reading. */
  duplicated: number;
  /** Rows no acknowledged reading accounts for (a seq past lastSeq, an unknown device). */
  extra: number;
  /** (device, metric) pairs whose values do not sum to what the seqs imply. */
  valueMismatches: number;
  /** Messages (device, ts) that do not hold all their metrics. */
  incompleteMessages: number;
  /** Probe messages acknowledged and found as rows (exactly once each). */
  probe: { acked: number; found: number; duplicated: number };
  clean: boolean;
}

export interface PipelineTimelinePoint {
  /** Seconds since the load started (end of the 5-s bucket). */
  t: number;
  acceptedReadingsPerSecond: number;
  storedReadingsPerSecond: number;
  /** Gateway outbox depth in readings at the end of the bucket. */
  outboxDepthReadings: number;
  /** Probe latency of messages published in the bucket. */
  e2eP50Ms: number | null;
  e2eP99Ms: number | null;
}

export interface PipelineBenchResult {
  database: string;
  /** How the database was set up: server settings and where its data lived. */
  databaseSetup: string;
  offeredReadingsPerSecond: number;
  readingsPerMessage: number;
  clients: number;
  window: number;
  seconds: number;
  /** Load rows ÷ seconds from the first publish to the last load row visible. */
  readingsPerSecond: number;
  /** Readings PUBACKed per second inside the load's measured window. */
  acceptedReadingsPerSecond: number;
  /** Every reading the load generator got a PUBACK for (warm-up and the last in-flight ones included). */
  ackedReadings: number;
  /** From the first publish until the last load row was visible. */
  storedSeconds: number;
  /** After the load stopped, until the last row was visible (the backlog's drain). */
  drainSeconds: number;
  /**
   * False when the backlog had not reached the database by drainTimeoutS: the readings still in the
   * gateway's outbox or in Kafka (undrainedReadings) then show up as lost in `loss`.
   */
  drained: boolean;
  undrainedReadings: number;
  /** Publish → row visible, probe messages (poll interval included: ~50 ms PostgreSQL, ~100 ms embedded). */
  latencyMs: LatencySummary;
  /** Publish → PUBACK of the load, from the load generator. */
  pubackLatencyMs: { p50: number; p99: number; max: number };
  /**
   * PostgreSQL only, per batch leased during the load: the gateway's lease (its created_ms) → the
   * start of the sink transaction that stored it (ingested_at, the transaction's now()): the
   * forwarder, Kafka and the sink's queue. The rest of publish → row is the outbox commit and
   * waiting for the lease before, the transaction itself and the probe's poll after.
   */
  leaseToTransactionMs: LatencySummary | null;
  loss: LossCheck;
  /** How promptly the bench saw the database: slow polls coarsen the latency and the timeline. */
  polling: PollStats;
  loadFailures: number;
  timeline: PipelineTimelinePoint[];
  gateway: ProcSeries;
  sink: ProcSeries;
  /** The sink process's command: `fieldline-cloud sink` or `fieldline-cloud all`. */
  sinkRole: 'sink' | 'all';
  cpuProfiles: { gateway: string[]; sink: string[] } | null;
  loadCpuSeconds: number;
  dataFilesystem: string;
}

const GATEWAY_ID = 'gw-bench-pipeline';
export const LOAD_PREFIX = 'bench-pl-d';
export const PROBE_ID = 'bench-pl-probe';
const CLOUD_MAIN = (): string => join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js');
/** A fixed secret for the embedded run's API, so this process can sign the token it polls with. */
const JWT_SECRET = 'bench-pipeline-secret-0123456789abcdef';
/** The gateway's kafka settings as deployed (GatewayChild's test defaults are quicker to retry). */
const DEPLOYED_KAFKA = { retryBackoffMinMs: 500, retryBackoffMaxMs: 30_000, messageTimeoutMs: 30_000, heartbeatIntervalMs: 30_000 };
const DURABLE_PG = { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' };

/** What one message's metric m holds for seq s (bench/loadgen/main.go payload()). */
function metricValue(metric: string, seq: number): number {
  if (metric === 'seq') return seq;
  if (metric === 'temperature') return 20 + (seq % 10);
  if (metric === 'humidity') return 40 + (seq % 20);
  return seq % 1000;
}

export function metricNames(metricsPerMessage: number): string[] {
  const names = ['seq', 'temperature', 'humidity'].slice(0, metricsPerMessage);
  for (let i = 3; i < metricsPerMessage; i++) names.push(`m${i}`);
  return names;
}

/** The sum of metric's values over seqs 1..last, as the stored rows must add up to. */
function expectedSum(metric: string, last: number): number {
  let s = 0;
  for (let q = 1; q <= last; q++) s += metricValue(metric, q);
  return s;
}

interface Probe {
  publishedAt: Map<number, number>;
  tsOf: Map<number, number>;
  seenAt: Map<number, number>;
  acked: Set<number>;
  stop(): Promise<void>;
}

async function startProbe(url: string): Promise<Probe> {
  const client = await mqtt.connectAsync(url, { clientId: PROBE_ID, reconnectPeriod: 1_000 });
  const publishedAt = new Map<number, number>();
  const tsOf = new Map<number, number>();
  const acked = new Set<number>();
  const pending = new Set<Promise<unknown>>();
  let seq = 0;
  const timer = setInterval(() => {
    const n = ++seq;
    const ts = Date.now();
    publishedAt.set(n, performance.now());
    tsOf.set(n, ts);
    const p = client
      .publishAsync(`devices/${PROBE_ID}/telemetry`, JSON.stringify({ ts, metrics: { seq: n } }), { qos: 1 })
      .then(() => void acked.add(n), () => undefined)
      .finally(() => pending.delete(p));
    pending.add(p);
  }, 50);
  return {
    publishedAt,
    tsOf,
    seenAt: new Map(),
    acked,
    async stop() {
      clearInterval(timer);
      await Promise.race([Promise.allSettled([...pending]), sleep(30_000)]);
      await client.endAsync();
    },
  };
}

/** Reads the database while the pipeline runs: the probe's newest rows and the stored-readings counter. */
interface Watcher {
  /** Probe seqs stored with ts ≥ fromMs. */
  probeSeqs(fromMs: number): Promise<number[]>;
  /** Readings stored so far (every device, the probe's included). */
  stored(): Promise<number>;
  close(): Promise<void>;
}

async function pgWatcher(url: string): Promise<Watcher> {
  const db = await openPostgres(url, 6);
  return {
    async probeSeqs(fromMs) {
      const rows = (await db.query<{ v: number }>(
        `SELECT value AS v FROM readings WHERE device_id = $1 AND metric = 'seq' AND ts >= to_timestamp($2::float8 / 1000)`,
        [PROBE_ID, fromMs],
      )).rows;
      return rows.map((r) => Number(r.v));
    },
    // The ledger has a row per batch (tens a second), so summing it stays cheap as readings grow.
    async stored() {
      return Number((await db.query<{ n: string | number }>('SELECT coalesce(sum(reading_count), 0) AS n FROM ingested_batches')).rows[0]?.n ?? 0);
    },
    close: () => db.close(),
  };
}

async function apiWatcher(apiUrl: string): Promise<Watcher> {
  const token = await new TokenAuthority({ secret: JWT_SECRET, issuer: 'fieldline' }).issue({ subject: 'bench-pipeline', role: 'viewer', ttlSeconds: 86_400 });
  const headers = { authorization: `Bearer ${token}` };
  return {
    async probeSeqs(fromMs) {
      const q = new URLSearchParams({ metric: 'seq', from: String(fromMs), to: String(Date.now() + 60_000), limit: '10000' });
      const res = await fetch(`${apiUrl}/v1/devices/${PROBE_ID}/readings?${q}`, { headers, signal: AbortSignal.timeout(10_000) });
      if (res.status === 404) return [];
      if (!res.ok) throw new Error(`API ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { readings: { value: number }[] }).readings.map((r) => r.value);
    },
    // The sink's own count of rows inserted: PGlite lives inside the cloud process, out of our reach.
    async stored() {
      const res = await fetch(`${apiUrl}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      const m = /^fieldline_cloud_sent_total\{stage="store"\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
      return m ? Number(m[1]) : 0;
    },
    close: async () => undefined,
  };
}

export interface PollStats {
  polls: number;
  /** The slowest probe poll: a figure's resolution is no better than the gap between polls. */
  maxPollMs: number;
  /** The slowest timeline sample (stored counter and gateway /status). */
  maxSampleMs: number;
}

/**
 * Polls for probe rows until stopped. A new poll starts every interval even while earlier ones are
 * still out (up to four), so one query stalled behind a checkpoint does not stop the clock. A row
 * counts as visible when the first poll that found it returned: the poll's snapshot may be taken
 * any time between sending and answering (it can wait for a connection or behind other queries),
 * so only the answer's time is sure to come after the row was visible.
 */
function pollProbe(w: Watcher, probe: Probe, intervalMs: number, stats: PollStats): { stop(): Promise<void> } {
  let running = true;
  const inFlight = new Set<Promise<void>>();
  const pollOnce = async (): Promise<void> => {
    // From the oldest probe message not yet seen (a second early for clock granularity).
    let from = Number.POSITIVE_INFINITY;
    for (const [seq, ts] of probe.tsOf) if (!probe.seenAt.has(seq)) from = Math.min(from, ts);
    if (!Number.isFinite(from)) return;
    const sentAt = performance.now();
    try {
      const seqs = await w.probeSeqs(from - 1_000);
      const now = performance.now();
      for (const s of seqs) if (!probe.seenAt.has(s)) probe.seenAt.set(s, now);
    } catch {
      // the database is busy; the next poll catches up
    }
    stats.polls++;
    stats.maxPollMs = Math.max(stats.maxPollMs, Math.round(performance.now() - sentAt));
  };
  const loop = (async () => {
    while (running) {
      if (inFlight.size < 4) {
        const p = pollOnce().finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(intervalMs);
    }
    await Promise.allSettled([...inFlight]);
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

function startCloudProcess(o: { dir: string; role: 'sink' | 'all'; brokers: string; databaseUrl?: string; apiPort: number; nodeArgs: string[] }): LoggedProcess {
  const config = {
    dataDir: join(o.dir, 'cloud'),
    kafka: { brokers: o.brokers },
    database: o.databaseUrl ? { url: o.databaseUrl } : {},
    api: { host: '127.0.0.1', port: o.apiPort, jwtSecret: JWT_SECRET },
  };
  const file = join(o.dir, 'cloud.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  return spawnLogged(process.execPath, [...o.nodeArgs, CLOUD_MAIN(), o.role, '--config', file], { logDir: o.dir, logName: `cloud-${o.role}.log`, truncate: true, env });
}

/**
 * Row-by-row check of the load devices' rows (device ids starting with LOAD_PREFIX) against what
 * the load generator had acknowledged, and of the probe's rows against its acknowledged seqs.
 */
export async function checkRows(
  db: Db,
  devices: readonly { deviceId: string; lastSeq: number }[],
  metricsPerMessage: number,
  probeAcked: ReadonlySet<number>,
): Promise<LossCheck> {
  const names = metricNames(metricsPerMessage);
  const lastSeq = new Map(devices.map((d) => [d.deviceId, d.lastSeq]));
  const perMetric = (await db.query<{ device_id: string; metric: string; n: number | string; in_range: number | string; out_of_range: number | string; total: number | string }>(
    `WITH e AS (SELECT * FROM unnest($1::text[], $2::int8[]) AS e(device_id, last_seq))
     SELECT r.device_id, r.metric, count(*) AS n,
            count(DISTINCT r.value) FILTER (WHERE r.value BETWEEN 1 AND e.last_seq AND r.value = trunc(r.value)) AS in_range,
            count(*) FILTER (WHERE NOT (r.value BETWEEN 1 AND e.last_seq AND r.value = trunc(r.value))) AS out_of_range,
            sum(r.value) AS total
       FROM readings r LEFT JOIN e ON e.device_id = r.device_id
      WHERE r.device_id LIKE $3
      GROUP BY r.device_id, r.metric`,
    [devices.map((d) => d.deviceId), devices.map((d) => d.lastSeq), `${LOAD_PREFIX}%`],
  )).rows;
  let rows = 0;
  let lost = 0;
  let duplicated = 0;
  let extra = 0;
  let valueMismatches = 0;
  const seen = new Set<string>();
  for (const r of perMetric) {
    const n = Number(r.n);
    rows += n;
    const last = lastSeq.get(r.device_id);
    if (last === undefined || !names.includes(r.metric)) {
      extra += n;
      continue;
    }
    seen.add(`${r.device_id}\u0000${r.metric}`);
    if (r.metric === 'seq') {
      const inRange = Number(r.in_range);
      const outOfRange = Number(r.out_of_range);
      lost += last - inRange;
      extra += outOfRange;
      duplicated += n - inRange - outOfRange;
    } else {
      // Values repeat across seqs here (seq % 10…), so count and sum stand in for identity; the
      // per-message check below ties each of these rows to a message that has its seq row.
      lost += Math.max(0, last - n);
      duplicated += Math.max(0, n - last);
      if (Number(r.total) !== expectedSum(r.metric, last)) valueMismatches++;
    }
  }
  for (const d of devices) for (const m of names) if (d.lastSeq > 0 && !seen.has(`${d.deviceId}\u0000${m}`)) lost += d.lastSeq;
  const incompleteMessages = Number((await db.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM (
       SELECT count(*) AS n, count(*) FILTER (WHERE metric = 'seq') AS s FROM readings WHERE device_id LIKE $1 GROUP BY device_id, ts
     ) g WHERE g.n <> g.s * $2`,
    [`${LOAD_PREFIX}%`, metricsPerMessage],
  )).rows[0]?.n ?? 0);
  const probeRows = (await db.query<{ v: number }>(`SELECT value AS v FROM readings WHERE device_id = $1 AND metric = 'seq'`, [PROBE_ID])).rows.map((r) => Number(r.v));
  const probeSet = new Set(probeRows);
  const probeFound = [...probeAcked].filter((s) => probeSet.has(s)).length;
  const expectedRows = devices.reduce((s, d) => s + d.lastSeq, 0) * metricsPerMessage;
  const probeDup = probeRows.length - probeSet.size;
  const clean = lost === 0 && duplicated === 0 && extra === 0 && valueMismatches === 0 && incompleteMessages === 0 && rows === expectedRows
    && probeFound === probeAcked.size && probeDup === 0;
  return {
    devices: devices.length,
    expectedRows,
    rows,
    lost,
    duplicated,
    extra,
    valueMismatches,
    incompleteMessages,
    probe: { acked: probeAcked.size, found: probeFound, duplicated: probeDup },
    clean,
  };
}

function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export async function benchPipeline(opts: PipelineBenchOptions): Promise<PipelineBenchResult> {
  const { dir, filesystem } = benchDataDir('fieldline-bench-pipeline-');
  const role = opts.database === 'postgres' ? 'sink' : 'all';
  const profileDirs = opts.cpuProfileDir ? { gateway: join(opts.cpuProfileDir, 'gateway'), sink: join(opts.cpuProfileDir, `cloud-${role}`) } : null;
  if (profileDirs) for (const d of Object.values(profileDirs)) mkdirSync(d, { recursive: true });
  const profileArgs = (d: string | undefined): string[] => (d ? ['--cpu-prof', '--cpu-prof-dir', d] : []);

  let kafka: KafkaBroker | undefined;
  let pg: PgServer | undefined;
  let gateway: GatewayChild | undefined;
  let cloud: LoggedProcess | undefined;
  let watcher: Watcher | undefined;
  let probe: Probe | undefined;
  let poller: { stop(): Promise<void> } | undefined;
  let load: Awaited<ReturnType<typeof startLoad>> | undefined;
  try {
    kafka = await startKafka({ dataDir: join(dir, 'kafka'), logDir: dir });
    await kafka.createTopics([...FIELDLINE_TOPICS]);

    let databaseUrl: string | undefined;
    let databaseSetup: string;
    if (opts.database === 'postgres') {
      // The server's data on the same disk as the bench's (the directory above benchDataDir's, which
      // the postgres user can enter), with durability on as deployed: devstack's defaults turn it off.
      const saved = process.env.FIELDLINE_PG_TMPDIR;
      process.env.FIELDLINE_PG_TMPDIR = dirname(dir);
      try {
        pg = await startPostgres({ logDir: dir, settings: DURABLE_PG });
      } finally {
        if (saved === undefined) delete process.env.FIELDLINE_PG_TMPDIR;
        else process.env.FIELDLINE_PG_TMPDIR = saved;
      }
      databaseUrl = pg.url;
      const settings = (await pg.psql(
        `SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'wal_level')`,
      )).trim();
      const version = (await pg.psql('SHOW server_version')).trim();
      databaseSetup = `PostgreSQL ${version} server, data on ${describeFilesystem(filesystemOf(pg.dir))}, ${settings}`;
    } else {
      databaseSetup = `embedded TimescaleDB (PGlite) inside \`fieldline-cloud all\` (lake writer and API in the same process), data on ${describeFilesystem(filesystem)}`;
    }

    const apiPort = await freePort();
    cloud = startCloudProcess({ dir, role, brokers: kafka.bootstrap, ...(databaseUrl ? { databaseUrl } : {}), apiPort, nodeArgs: profileArgs(profileDirs?.sink) });
    gateway = await GatewayChild.create({ dir: join(dir, 'gateway'), gatewayId: GATEWAY_ID, brokers: kafka.bootstrap, ...(profileDirs ? { nodeArgs: profileArgs(profileDirs.gateway) } : {}) });
    gateway.writeConfig({ kafka: DEPLOYED_KAFKA });
    await gateway.start(DEPLOYED_GATEWAY_ENV);

    if (databaseUrl) {
      watcher = await pgWatcher(databaseUrl);
    } else {
      const apiUrl = `http://127.0.0.1:${apiPort}`;
      const started = Date.now();
      while (!(await fetch(`${apiUrl}/healthz`).then((r) => r.ok, () => false))) {
        if (!cloud.running()) throw new Error(`fieldline-cloud all exited during start-up\n${cloud.logTail(4000)}`);
        if (Date.now() - started > 120_000) throw new Error(`fieldline-cloud all did not answer /healthz in 120 s\n${cloud.logTail(4000)}`);
        await sleep(200);
      }
      watcher = await apiWatcher(apiUrl);
    }

    // Warm: the probe's first rows prove the whole path (consumer groups assigned, schema made).
    probe = await startProbe(gateway.mqttUrl);
    const pollStats: PollStats = { polls: 0, maxPollMs: 0, maxSampleMs: 0 };
    poller = pollProbe(watcher, probe, opts.database === 'postgres' ? 50 : 100, pollStats);
    const warmStart = Date.now();
    while (probe.seenAt.size === 0) {
      if (!cloud.running()) throw new Error(`the cloud process exited\n${cloud.logTail(4000)}`);
      if (Date.now() - warmStart > 180_000) throw new Error(`no probe row within 180 s\n${cloud.logTail(4000)}\n${gateway.logTail(4000)}`);
      await sleep(100);
    }
    // Latency counts only from the load's start; warm-up probes are left out below.
    const firstMeasuredProbe = probe.publishedAt.size + 1;

    const gwSampler = sampleProcess(gateway.pid);
    const sinkSampler = sampleProcess(cloud.pid);
    const storedBefore = await watcher.stored();
    const loadStart = performance.now();
    load = await startLoad({
      url: gateway.mqttUrl,
      clients: opts.clients,
      window: opts.window,
      metricsPerMessage: opts.metricsPerMessage,
      devicePrefix: LOAD_PREFIX,
      seconds: opts.seconds,
      rate: opts.rate,
    });
    const samples: { t: number; stored: number; outbox: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t = (performance.now() - loadStart) / 1000;
        try {
          const [stored, status] = await Promise.all([watcher!.stored(), gateway!.status()]);
          samples.push({ t, stored: stored - storedBefore, outbox: status.outbox.depthValues });
          pollStats.maxSampleMs = Math.max(pollStats.maxSampleMs, Math.round((performance.now() - loadStart) - t * 1000));
        } catch {
          // a busy moment; the next sample comes in a second
        }
        await sleep(1_000);
      }
    })();
    const report = await load.done;
    load = undefined;
    const loadEnd = performance.now();

    // Drain: until every acknowledged load reading and probe reading is a row.
    const probeStopAt = probe.publishedAt.size;
    await probe.stop();
    const want = report.totalAcks * opts.metricsPerMessage + probe.acked.size;
    const drainLimitMs = (opts.drainTimeoutS ?? Math.max(120, 3 * opts.seconds)) * 1000;
    let lastRowAt = performance.now();
    let storedAtEnd = 0;
    for (;;) {
      const stored = await watcher.stored().catch(() => -1);
      lastRowAt = performance.now();
      // Both sides count every device's readings, the warm-up probe's included.
      storedAtEnd = Math.max(storedAtEnd, stored);
      if (stored >= want) break;
      if (lastRowAt - loadEnd > drainLimitMs) break;
      if (!cloud.running()) throw new Error(`the cloud process exited during the drain\n${cloud.logTail(4000)}`);
      await sleep(100);
    }
    // The last probe rows arrive with the backlog; give the poller one more round.
    await sleep(300);
    await poller.stop();
    poller = undefined;
    sampling = false;
    await sampler;
    // The drain's own last reading of the counter, so the timeline's end does not rest on a sample
    // the busy database never answered.
    if (storedAtEnd > 0) samples.push({ t: (lastRowAt - loadStart) / 1000, stored: storedAtEnd - storedBefore, outbox: samples.at(-1)?.outbox ?? 0 });
    const gatewaySeries = gwSampler.stop();
    const sinkSeries = sinkSampler.stop();
    await watcher.close();
    watcher = undefined;

    const gwExit = await gateway.stop(60_000);
    const cloudExit = await cloud.stop('SIGTERM', 120_000);
    if (profileDirs && (gwExit.code !== 0 || cloudExit.code !== 0)) {
      throw new Error(`--cpu-prof writes only on a clean exit: gateway ${JSON.stringify(gwExit)}, cloud ${JSON.stringify(cloudExit)}`);
    }

    let check: LossCheck;
    let leaseToTransaction: number[] = [];
    if (pg) {
      const db = await openPostgres(pg.url, 1);
      try {
        check = await checkRows(db, report.devices, opts.metricsPerMessage, probe.acked);
        leaseToTransaction = (await db.query<{ ms: number }>(
          `SELECT extract(epoch FROM ingested_at) * 1000 - created_ms AS ms FROM ingested_batches WHERE gateway_id = $1 AND created_ms BETWEEN $2 AND $3`,
          // loadStart/loadEnd are performance.now(); the ledger holds epoch ms.
          [GATEWAY_ID, Math.round(performance.timeOrigin + loadStart), Math.round(performance.timeOrigin + loadEnd)],
        )).rows.map((r) => Number(r.ms));
      } finally {
        await db.close();
      }
    } else {
      const db = await openEmbedded(join(dir, 'cloud', 'pgdata'));
      try {
        check = await checkRows(db, report.devices, opts.metricsPerMessage, probe.acked);
      } finally {
        await db.close();
      }
    }

    const lat = [...probe.seenAt]
      .filter(([s]) => s >= firstMeasuredProbe && s <= probeStopAt)
      .map(([s, at]) => ({ s, ms: at - probe!.publishedAt.get(s)!, t: (probe!.publishedAt.get(s)! - loadStart) / 1000 }));
    const timeline = buildTimeline(report, samples, lat, opts.metricsPerMessage);
    const storedSeconds = (lastRowAt - loadStart) / 1000;
    const loadRows = check.rows;
    const result: PipelineBenchResult = {
      database: opts.database === 'postgres' ? 'PostgreSQL 15 server' : 'embedded TimescaleDB (PGlite)',
      databaseSetup,
      offeredReadingsPerSecond: opts.rate,
      readingsPerMessage: opts.metricsPerMessage,
      clients: opts.clients,
      window: opts.window,
      seconds: opts.seconds,
      readingsPerSecond: Math.round(loadRows / storedSeconds),
      acceptedReadingsPerSecond: Math.round(report.readingsPerSecond),
      ackedReadings: report.totalAcks * opts.metricsPerMessage,
      storedSeconds: round1(storedSeconds),
      drainSeconds: round1((lastRowAt - loadEnd) / 1000),
      drained: storedAtEnd >= want,
      undrainedReadings: Math.max(0, want - storedAtEnd),
      latencyMs: summarize(lat.map((l) => l.ms)),
      pubackLatencyMs: { p50: report.latencyMs.p50, p99: report.latencyMs.p99, max: report.latencyMs.max },
      leaseToTransactionMs: leaseToTransaction.length ? summarize(leaseToTransaction) : null,
      loss: check,
      polling: pollStats,
      loadFailures: report.failures,
      timeline,
      gateway: gatewaySeries,
      sink: sinkSeries,
      sinkRole: role,
      cpuProfiles: profileDirs ? { gateway: profilesIn(profileDirs.gateway), sink: profilesIn(profileDirs.sink) } : null,
      loadCpuSeconds: report.loadCpuSeconds,
      dataFilesystem: describeFilesystem(filesystem),
    };
    if (result.cpuProfiles && (result.cpuProfiles.gateway.length === 0 || result.cpuProfiles.sink.length === 0)) {
      throw new Error(`a process wrote no CPU profile: ${JSON.stringify(result.cpuProfiles)}`);
    }
    if ((!check.clean || report.failures > 0) && !opts.reportLoss) {
      throw new Error(`pipeline bench: the run is not clean (${report.failures} load failures): ${JSON.stringify(check)}`);
    }
    return result;
  } finally {
    await load?.stop().catch(() => undefined);
    await poller?.stop().catch(() => undefined);
    await probe?.stop().catch(() => undefined);
    await watcher?.close().catch(() => undefined);
    await gateway?.stop(30_000).catch(() => undefined);
    await cloud?.stop('SIGTERM', 60_000).catch(() => undefined);
    await pg?.destroy().catch(() => undefined);
    await kafka?.destroy().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Five-second buckets: the load's PUBACKs, the rows' counter, the outbox depth, the probe's latency. */
function buildTimeline(
  report: LoadReport,
  samples: readonly { t: number; stored: number; outbox: number }[],
  lat: readonly { ms: number; t: number }[],
  metricsPerMessage: number,
): PipelineTimelinePoint[] {
  const BUCKET = 5;
  const end = Math.max(samples.at(-1)?.t ?? 0, report.timeline.at(-1)?.t ?? 0);
  const out: PipelineTimelinePoint[] = [];
  // Samples come late when the database is busy: the counter is read between two samples by
  // straight-line interpolation, so a slow sample spreads its rows over the time they took instead
  // of showing as a zero and then a spike.
  const storedAt = (t: number): number => {
    const after = samples.findIndex((x) => x.t >= t);
    if (after === -1) return samples.at(-1)?.stored ?? 0;
    const b = samples[after]!;
    const a = samples[after - 1];
    if (!a || b.t === a.t) return b.stored;
    return a.stored + ((b.stored - a.stored) * (t - a.t)) / (b.t - a.t);
  };
  let prevStored = 0;
  for (let t0 = 0; t0 < end; t0 += BUCKET) {
    const t1 = t0 + BUCKET;
    const acks = report.timeline.filter((p) => p.t >= t0 && p.t < t1).reduce((s, p) => s + p.acks, 0);
    const last = samples.filter((s) => s.t < t1).at(-1);
    const stored = storedAt(Math.min(t1, end));
    const span = Math.min(t1, end) - t0;
    const l = summarize(lat.filter((x) => x.t >= t0 && x.t < t1).map((x) => x.ms));
    out.push({
      t: t1,
      acceptedReadingsPerSecond: Math.round((acks * metricsPerMessage) / BUCKET),
      storedReadingsPerSecond: Math.round((stored - prevStored) / Math.max(span, 1)),
      outboxDepthReadings: last?.outbox ?? 0,
      e2eP50Ms: l.samples ? l.p50 : null,
      e2eP99Ms: l.samples ? l.p99 : null,
    });
    prevStored = stored;
  }
  return out;
}

runIfMain(import.meta.url, () =>
  benchPipeline({
    database: process.env.BENCH_PIPELINE_DB === 'embedded' ? 'embedded' : 'postgres',
    seconds: Number(process.env.BENCH_PIPELINE_SECONDS ?? 300),
    rate: Number(process.env.BENCH_PIPELINE_RATE ?? 50_000),
    clients: Number(process.env.BENCH_PIPELINE_CLIENTS ?? 100),
    window: Number(process.env.BENCH_PIPELINE_WINDOW ?? 20),
    metricsPerMessage: 10,
    ...(process.env.BENCH_PIPELINE_PROFILE_DIR ? { cpuProfileDir: process.env.BENCH_PIPELINE_PROFILE_DIR } : {}),
    reportLoss: process.env.BENCH_PIPELINE_REPORT_LOSS === '1',
    ...(process.env.BENCH_PIPELINE_DRAIN_S ? { drainTimeoutS: Number(process.env.BENCH_PIPELINE_DRAIN_S) } : {}),
  }),
);
