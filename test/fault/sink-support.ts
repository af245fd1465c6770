// What the sink fault tests (sink.test.ts) need around the real sink process: batches whose every
// reading is known in advance, a producer that remembers where each message landed, a reader of
// the store group's committed offsets, and checks of the database against what was produced.
//
// The central check, committedAheadOfRows(): an offset the group committed at time t may only
// cover messages whose batch was in ingested_batches by t. ingested_at is the ledger row's
// transaction start, and a row commits after its transaction starts, so a row whose ingested_at is
// later than t cannot have been there at t: a sample that covers it is a commit ahead of its rows.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { encodeBatch, SCHEMA_VERSION, type ReadingBatch } from '../../proto/src/wire.js';
import { repoRoot, spawnLogged, waitUntil, type LoggedProcess } from '../../devstack/net.js';

// --- batches -------------------------------------------------------------------------------------

export const METRICS = ['m0', 'm1', 'm2', 'm3', 'm4'] as const;
const DEVICES_PER_GATEWAY = 50;
/** Batch seq s holds readings at T0 + s·SEQ_STRIDE_MS + (0..999) ms, so (device, metric, ts) never repeats across batches. */
export const SEQ_STRIDE_MS = 1000;
export const T0 = Date.UTC(2025, 0, 1);

/** `values` readings (metric values) for gateway `gatewayId`, batch `seq`; the same arguments give the same readings. */
export function makeBatch(gatewayId: string, seq: number, values: number): ReadingBatch {
  const messages = values / METRICS.length;
  assert.ok(Number.isInteger(messages) && messages / DEVICES_PER_GATEWAY < SEQ_STRIDE_MS, `bad batch size ${values}`);
  const readings = [];
  for (let j = 0; j < messages; j++) {
    const metrics: Record<string, number> = {};
    METRICS.forEach((m, i) => (metrics[m] = seq + j / 1000 + i));
    readings.push({
      deviceId: `${gatewayId}-d${j % DEVICES_PER_GATEWAY}`,
      tsMs: T0 + seq * SEQ_STRIDE_MS + Math.floor(j / DEVICES_PER_GATEWAY),
      metrics,
    });
  }
  return { gatewayId, seq, createdMs: Date.now(), readings, schemaVersion: SCHEMA_VERSION };
}

export const batchKey = (gatewayId: string, seq: number | string): string => `${gatewayId}/${seq}`;

// --- producing -----------------------------------------------------------------------------------

/** Produces batches like a gateway does (key, headers, LZ4 frame) and records where each landed. */
export class BatchProducer {
  /** Unique batches produced: key → readings in it. */
  readonly unique = new Map<string, number>();
  /** partition → offset → batch key, from delivery reports. */
  readonly located = new Map<number, Map<number, string>>();
  sent = 0;
  resent = 0;
  readonly failures: string[] = [];
  private readonly encoded = new Map<string, ReturnType<typeof encodeBatch>>();
  private delivered = 0;

  private constructor(
    private readonly producer: Kafka.Producer,
    private readonly topic: string,
  ) {
    producer.on('delivery-report', (err, report) => {
      this.delivered++;
      if (err) {
        this.failures.push(`${String(report.opaque)}: ${err.message}`);
        return;
      }
      const byOffset = this.located.get(report.partition) ?? new Map<number, string>();
      byOffset.set(report.offset, String(report.opaque));
      this.located.set(report.partition, byOffset);
    });
  }

  static async connect(bootstrap: string, topic: string): Promise<BatchProducer> {
    const producer = new Kafka.Producer({
      'metadata.broker.list': bootstrap,
      'client.id': 'fieldline-fault-producer',
      'enable.idempotence': true,
      'linger.ms': 5,
      dr_cb: true,
    });
    await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    producer.setPollInterval(25);
    return new BatchProducer(producer, topic);
  }

  /** Sends batch (gatewayId, seq) with `values` readings. */
  send(gatewayId: string, seq: number, values: number): void {
    const key = batchKey(gatewayId, seq);
    const msg = encodeBatch(makeBatch(gatewayId, seq, values));
    this.encoded.set(key, msg);
    this.unique.set(key, values);
    this.produce(key, msg);
  }

  /** Sends an already-sent batch again, byte for byte, as a gateway does when an ack was lost. */
  resend(gatewayId: string, seq: number): void {
    const key = batchKey(gatewayId, seq);
    const msg = this.encoded.get(key);
    assert.ok(msg, `resend of ${key}, which was never sent`);
    this.resent++;
    this.produce(key, msg);
  }

  private produce(key: string, msg: ReturnType<typeof encodeBatch>): void {
    const headers = Object.entries(msg.headers).map(([k, v]) => ({ [k]: v }));
    this.producer.produce(this.topic, null, msg.value, msg.key, Date.now(), key, headers);
    this.sent++;
  }

  /** Drops the kept payloads of batches that will not be resent any more (memory). */
  forget(gatewayId: string, seq: number): void {
    this.encoded.delete(batchKey(gatewayId, seq));
  }

  get uniqueReadings(): number {
    let n = 0;
    for (const v of this.unique.values()) n += v;
    return n;
  }

  /** Waits until every message sent has its delivery report. */
  async settle(timeoutMs = 60_000): Promise<void> {
    await new Promise<void>((resolve, reject) => this.producer.flush(timeoutMs, (err) => (err ? reject(err) : resolve())));
    await waitUntil(async () => this.delivered >= this.sent, { what: 'delivery reports for every message produced', timeoutMs });
    assert.deepEqual(this.failures, [], 'every batch produced reached Kafka');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }
}

// --- committed offsets ---------------------------------------------------------------------------

export interface OffsetSample {
  /** Date.now() after the broker answered: the commit it reports happened at or before this. */
  t: number;
  /** partition → committed offset (the next message to read; 0 when nothing is committed). */
  offsets: Map<number, number>;
}

/**
 * Reads a consumer group's committed offsets from a consumer that has the group's id but never
 * subscribes, so it never joins the group or changes its assignment.
 */
export class CommittedOffsets {
  readonly samples: OffsetSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  readonly errors: string[] = [];

  private constructor(
    private readonly consumer: Kafka.KafkaConsumer,
    private readonly topic: string,
    private readonly partitions: number,
  ) {}

  static async connect(bootstrap: string, group: string, topic: string, partitions: number): Promise<CommittedOffsets> {
    const consumer = new Kafka.KafkaConsumer(
      { 'metadata.broker.list': bootstrap, 'group.id': group, 'client.id': 'fieldline-fault-offsets', 'enable.auto.commit': false },
      {},
    );
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    return new CommittedOffsets(consumer, topic, partitions);
  }

  /** The group's committed offsets now; recorded as a sample. */
  async read(): Promise<Map<number, number>> {
    const toppars = Array.from({ length: this.partitions }, (_, partition) => ({ topic: this.topic, partition }));
    const got = await new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) =>
      this.consumer.committed(toppars, 5_000, (err, tps) => (err ? reject(err) : resolve(tps))),
    );
    const t = Date.now();
    const offsets = new Map<number, number>();
    for (const tp of got) offsets.set(tp.partition, tp.offset >= 0 ? tp.offset : 0);
    this.samples.push({ t, offsets });
    return offsets;
  }

  /** Each partition's high watermark: the offset the next message produced will get. */
  async ends(): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (let p = 0; p < this.partitions; p++) {
      const w = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
        this.consumer.queryWatermarkOffsets(this.topic, p, 5_000, (err, o) => (err ? reject(err) : resolve(o))),
      );
      out.set(p, w.highOffset);
    }
    return out;
  }

  /** Samples every intervalMs in the background until stopSampling(). */
  startSampling(intervalMs: number): void {
    const tick = (): void => {
      this.sampling = this.read().then(
        () => undefined,
        (err: Error) => void this.errors.push(err.message),
      );
      this.timer = setTimeout(() => void this.sampling.then(tick), intervalMs);
    };
    tick();
  }

  async stopSampling(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  async close(): Promise<void> {
    await this.stopSampling();
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
  }
}

/**
 * Samples whose committed offset covers a message whose batch was not yet in the ledger (or never
 * got there). `ledger` maps batch key → ingested_at in epoch ms (floored). Returns one line per
 * offending sample, naming the first uncovered message.
 */
export function committedAheadOfRows(
  samples: readonly OffsetSample[],
  located: ReadonlyMap<number, ReadonlyMap<number, string>>,
  ledger: ReadonlyMap<string, number>,
): string[] {
  // readyAt[p][o]: when messages 0..o of partition p were all in the ledger (Infinity: never).
  const readyAt = new Map<number, number[]>();
  for (const [p, byOffset] of located) {
    let last = -1;
    for (const o of byOffset.keys()) last = Math.max(last, o);
    const arr: number[] = [];
    let acc = -Infinity;
    for (let o = 0; o <= last; o++) {
      const key = byOffset.get(o);
      acc = Math.max(acc, key === undefined ? Infinity : (ledger.get(key) ?? Infinity));
      arr.push(acc);
    }
    readyAt.set(p, arr);
  }
  const out: string[] = [];
  for (const s of samples) {
    for (const [p, committed] of s.offsets) {
      if (committed <= 0) continue;
      const ready = readyAt.get(p)?.[committed - 1] ?? Infinity;
      if (ready <= s.t) continue;
      const byOffset = located.get(p);
      let first = 0;
      for (; first < committed; first++) {
        const key = byOffset?.get(first);
        if (key === undefined || (ledger.get(key) ?? Infinity) > s.t) break;
      }
      const key = byOffset?.get(first);
      const at = key === undefined ? undefined : ledger.get(key);
      out.push(
        `at ${new Date(s.t).toISOString()} partition ${p} had offset ${committed} committed, but message ${first} ` +
          `(batch ${key ?? 'unknown'}) ${at === undefined ? 'is not in ingested_batches at all' : `entered ingested_batches only at ${new Date(at).toISOString()}`}`,
      );
    }
  }
  return out;
}

// --- the database --------------------------------------------------------------------------------

/** The test's own connections to the sink's database; survives the server going away. */
export class TestDb {
  private constructor(readonly pool: pg.Pool) {}

  static open(url: string): TestDb {
    const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'fieldline-fault-test', connectionTimeoutMillis: 5_000 });
    pool.on('error', () => {}); // the server is stopped on purpose in these tests
    return new TestDb(pool);
  }

  async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  async count(sql: string): Promise<number> {
    const rows = await this.query<{ n: string }>(sql);
    return Number(rows[0]?.n ?? 0);
  }

  /** ingested_batches as batch key → ingested_at (epoch ms, floored). */
  async ledger(): Promise<Map<string, number>> {
    const rows = await this.query<{ gateway_id: string; seq: string; at: string }>(
      `SELECT gateway_id, seq::text, floor(extract(epoch FROM ingested_at) * 1000)::int8::text AS at FROM ingested_batches`,
    );
    return new Map(rows.map((r) => [batchKey(r.gateway_id, r.seq), Number(r.at)]));
  }

  /** Transactions this database has rolled back, including those of clients that vanished mid-transaction. */
  async rollbacks(): Promise<number> {
    return this.count(`SELECT xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`);
  }

  /** The sink's server backends (its pool is named 'fieldline-cloud'), with whether each is inside a transaction. */
  async sinkBackends(): Promise<{ pid: number; state: string; inTx: boolean; query: string }[]> {
    const rows = await this.query<{ pid: number; state: string | null; in_tx: boolean; query: string }>(
      `SELECT pid, state, xact_start IS NOT NULL AND state IN ('active', 'idle in transaction') AS in_tx, left(query, 60) AS query
         FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'fieldline-cloud'`,
    );
    return rows.map((r) => ({ pid: r.pid, state: r.state ?? '', inTx: r.in_tx, query: r.query }));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * What the issue's acceptance asks of the database once the sink has drained: rows = unique
 * readings produced, each batch in the ledger once and complete, no reading twice, none missing.
 */
export async function assertStoredExactlyOnce(db: TestDb, producer: BatchProducer): Promise<{ rows: number; batches: number }> {
  const expectedRows = producer.uniqueReadings;
  const duplicates = await db.query<{ device_id: string; metric: string; ts: Date; n: string }>(
    `SELECT device_id, metric, ts, count(*) AS n FROM readings GROUP BY device_id, metric, ts HAVING count(*) > 1 LIMIT 5`,
  );
  assert.deepEqual(duplicates, [], 'no (device, metric, ts) is stored twice');

  const rows = await db.count(`SELECT count(*) AS n FROM readings`);
  assert.equal(rows, expectedRows, `rows in readings = unique readings produced (${producer.unique.size} batches)`);

  const ledger = await db.query<{ gateway_id: string; seq: string; reading_count: number }>(
    `SELECT gateway_id, seq::text, reading_count FROM ingested_batches`,
  );
  assert.equal(ledger.length, producer.unique.size, 'one ingested_batches row per unique batch produced');
  for (const r of ledger) {
    const key = batchKey(r.gateway_id, r.seq);
    assert.equal(producer.unique.get(key), r.reading_count, `ledger row ${key} is a batch produced, with its reading count`);
  }

  // Every batch whole: its readings all carry times inside its own seq's window.
  const perBatch = await db.query<{ gateway_id: string; seq: string; n: string }>(
    `SELECT gateway_id, floor((extract(epoch FROM ts) * 1000 - $1) / $2)::int8::text AS seq, count(*) AS n
       FROM readings GROUP BY 1, 2`,
    [T0, SEQ_STRIDE_MS],
  );
  const stored = new Map(perBatch.map((r) => [batchKey(r.gateway_id, r.seq), Number(r.n)]));
  const missing: string[] = [];
  const partial: string[] = [];
  for (const [key, values] of producer.unique) {
    const n = stored.get(key);
    if (n === undefined) missing.push(key);
    else if (n !== values) partial.push(`${key}: ${n} of ${values}`);
  }
  assert.deepEqual(missing.slice(0, 10), [], `no batch is missing (${missing.length} are)`);
  assert.deepEqual(partial.slice(0, 10), [], `every batch is stored whole (${partial.length} are not)`);
  assert.equal(stored.size, producer.unique.size, 'no readings outside the batches produced');

  const totals = await db.query<{ batches: string; readings: string }>(
    `SELECT sum(batches_ingested)::text AS batches, sum(readings_ingested)::text AS readings FROM gateways`,
  );
  assert.deepEqual(
    { batches: Number(totals[0]?.batches), readings: Number(totals[0]?.readings) },
    { batches: producer.unique.size, readings: expectedRows },
    'the gateways table counted each batch once',
  );
  return { rows, batches: ledger.length };
}

// --- the sink process ----------------------------------------------------------------------------

export interface SinkSettings {
  name: string;
  dir: string;
  logDir: string;
  databaseUrl: string;
  brokers: string;
  readingsTopic: string;
  dlqTopic: string;
  storeGroup: string;
  maxBatchMessages: number;
}

/** `fieldline-cloud sink` as its own process, restartable, every run appending to one log. */
export class SinkProcess {
  readonly configFile: string;
  readonly logName: string;
  proc: LoggedProcess | undefined;
  starts = 0;

  constructor(private readonly s: SinkSettings) {
    this.configFile = join(s.dir, `${s.name}.yaml`);
    this.logName = `${s.name}.log`;
    // JSON is YAML; the file is what an operator would write.
    const config = {
      dataDir: join(s.dir, `${s.name}-data`),
      logLevel: 'info',
      kafka: {
        brokers: s.brokers,
        readingsTopic: s.readingsTopic,
        dlqTopic: s.dlqTopic,
        storeGroup: s.storeGroup,
        // The schema's minimum: a killed sink's partitions come back to its successor this soon.
        sessionTimeoutMs: 6_000,
        maxBatchMessages: s.maxBatchMessages,
      },
      database: { poolSize: 4 },
      // The database writer alone: the alert evaluator has its own kill test (test/alerts/kill).
      alerts: { enabled: false },
    };
    writeFileSync(this.configFile, JSON.stringify(config, null, 2));
  }

  get logFile(): string {
    return join(this.s.logDir, this.logName);
  }

  /** Starts the sink and waits until it has subscribed (database migrated, Kafka connected). */
  async start(): Promise<LoggedProcess> {
    // The first start empties the log (a previous run's may be there); later ones append to it.
    const before = this.starts === 0 ? 0 : this.countInLog('store consumer subscribed');
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_')) env[k] = v;
    env.DATABASE_URL = this.s.databaseUrl;
    const proc = spawnLogged(process.execPath, [join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js'), 'sink', '--config', this.configFile], {
      logDir: this.s.logDir,
      logName: this.logName,
      truncate: this.starts === 0,
      cwd: this.s.dir,
      env,
    });
    this.proc = proc;
    this.starts++;
    await waitUntil(async () => this.countInLog('store consumer subscribed') > before, {
      what: `sink ${this.s.name} (start ${this.starts})`,
      timeoutMs: 60_000,
      intervalMs: 50,
      process: proc,
    });
    return proc;
  }

  countInLog(text: string): number {
    let log: string;
    try {
      log = readFileSync(this.logFile, 'utf8');
    } catch {
      return 0;
    }
    return log.split(text).length - 1;
  }

  async kill(): Promise<void> {
    await this.proc?.stop('SIGKILL');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
