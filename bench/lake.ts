// Parquet lake: how fast the lake writer turns a Kafka backlog into Parquet files, and what a
// reading costs on disk. A real broker is filled with ReadingBatch messages first (a gateway's
// key, headers and LZ4 framing); then a LakeWorker with the default settings but for the roll
// size and interval (below) consumes the topic in its own group, and the clock runs from its first
// poll until every reading is in a file in place (and every partition's end offset is then checked
// committed). Each partition's last, partial file waits for the age roll, so the figure includes up
// to one roll interval (1 s here). Decoding the batches (the LZ4 frame and protobuf, the same code
// as the store consumer's) costs about as much as writing the Parquet.
//
// The figure is checked before it is reported: the lake is read back with DuckDB (LakeReader) and
// must hold exactly the readings sent, row for row; and the group's committed offsets must be the
// partitions' ends. Bytes per reading are the Parquet files' sizes over the readings in them
// (zstd at the default level, rows sorted by device, metric, time).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { cloudConfigSchema } from '../cloud-sink/src/config/schema.js';
import { LakeReader } from '../cloud-sink/src/lake/reader.js';
import { LakeWorker } from '../cloud-sink/src/lake/worker.js';
import { encodeBatch, SCHEMA_VERSION, type Reading } from '../proto/src/wire.js';
import { startKafka } from '../devstack/kafka.js';
import { waitUntil } from '../devstack/net.js';
import { benchDataDir } from './data-dir.js';
import { describeFilesystem } from './disk-io.js';
import { runIfMain } from './run-alone.js';

export interface LakeBenchOptions {
  /** Readings (metric values) in the backlog. Default $BENCH_LAKE_READINGS or 200,000. */
  readings?: number;
  /** Device messages per batch (four metric values each). */
  messagesPerBatch?: number;
  partitions?: number;
  /** lake.maxRowsPerFile for the run. */
  maxRowsPerFile?: number;
}

export interface LakeBenchResult {
  /** Readings per second from the first poll to the last commit. */
  rowsPerSecond: number;
  readings: number;
  messages: number;
  partitions: number;
  seconds: number;
  /** From start() to the first poll: DuckDB, the destination, joining the group. */
  startupSeconds: number;
  files: number;
  bytes: number;
  bytesPerReading: number;
  maxRowsPerFile: number;
  rowGroupSize: number;
  compressionLevel: number;
  /** Rows read back with DuckDB; equals `readings` or the bench fails. */
  rowsReadBack: number;
  filesystem: string;
}

const METRICS = ['temperature', 'humidity', 'pressure', 'battery'] as const;
const DEVICES = 200;

/** Sensor-like values: a slow random walk per device and metric, two decimals, from a fixed seed. */
function makeReadings(count: number, startMs: number, firstMessage: number, state: Float64Array, rand: () => number): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < count; i++) {
    const n = firstMessage + i;
    const device = n % DEVICES;
    const metrics: Record<string, number> = {};
    METRICS.forEach((m, k) => {
      const j = device * METRICS.length + k;
      state[j] = state[j]! + (rand() - 0.5) * 0.2;
      metrics[m] = Math.round(state[j]! * 100) / 100;
    });
    // Each device reports every 10 s.
    out.push({ deviceId: `sensor-${String(device).padStart(4, '0')}`, tsMs: startMs + Math.floor(n / DEVICES) * 10_000, metrics });
  }
  return out;
}

/** A fixed-seed generator (mulberry32), so two runs make the same data and ask the same questions. */
export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function benchLake(opts: LakeBenchOptions = {}): Promise<LakeBenchResult> {
  const readings = opts.readings ?? Number(process.env.BENCH_LAKE_READINGS ?? 200_000);
  const perBatch = opts.messagesPerBatch ?? 100;
  const partitions = opts.partitions ?? 3;
  const maxRowsPerFile = opts.maxRowsPerFile ?? 50_000;
  const messages = Math.ceil(readings / METRICS.length / perBatch);
  const total = messages * perBatch * METRICS.length;
  const { dir, filesystem } = benchDataDir('fieldline-bench-lake-');
  const kafka = await startKafka({ dataDir: join(dir, 'kafka'), logDir: dir });
  const topic = 'iot.readings';
  let worker: LakeWorker | undefined;
  let reader: LakeReader | undefined;
  try {
    await kafka.createTopics([{ name: topic, partitions }]);
    const expected = new Map<string, number>();
    await produce(kafka.bootstrap, topic, messages, perBatch, expected);

    const cfg = cloudConfigSchema.parse({
      dataDir: join(dir, 'cloud'),
      kafka: { brokers: kafka.bootstrap, readingsTopic: topic, maxBatchMessages: 500 },
      // The age roll only has to catch each partition's last, partial file.
      lake: { maxRowsPerFile, rollIntervalMs: 1_000 },
    });
    worker = new LakeWorker({ kafka: cfg.kafka, lake: cfg.lake, sink: cfg.sink, dataDir: cfg.dataDir, log: pino({ level: 'warn' }) });
    const launched = performance.now();
    await worker.start();
    const w = worker;
    // The clock starts at the first message polled: joining the group is start-up, not throughput.
    await waitUntil(async () => w.stats.messages > 0, { what: 'the lake polling its first messages', timeoutMs: 120_000, intervalMs: 5 });
    const started = performance.now();
    await waitUntil(async () => w.stats.rowsWritten >= total && w.stats.bufferedRows === 0, {
      what: `the lake writing ${total} readings (${JSON.stringify(w.stats)})`, timeoutMs: 600_000, intervalMs: 20,
    });
    const seconds = (performance.now() - started) / 1000;
    await checkCommitted(kafka.bootstrap, cfg.lake.group, topic, partitions);
    const stats = worker.stats;
    await worker.stop();
    worker = undefined;

    reader = await LakeReader.open({ dir: join(dir, 'cloud', 'lake') });
    const rows = await reader.query(`SELECT device_id, epoch_ms(ts) AS ms, metric, value, count(*) AS n FROM lake_rows GROUP BY ALL`);
    let readBack = 0;
    for (const r of rows) {
      const key = `${String(r.device_id)}|${String(r.ms)}|${String(r.metric)}|${String(r.value)}`;
      const n = Number(r.n);
      readBack += n;
      if (expected.get(key) !== n) throw new Error(`lake bench is not honest: ${key} is in the lake ${n} times, sent ${expected.get(key) ?? 0}`);
    }
    if (readBack !== total || rows.length !== expected.size) throw new Error(`lake bench is not honest: ${readBack} rows read back, ${total} sent`);
    const files = await reader.query(`SELECT count(*) AS files FROM glob('${join(dir, 'cloud', 'lake')}/readings/**/*.parquet')`);
    return {
      rowsPerSecond: Math.round(total / seconds),
      readings: total,
      messages,
      partitions,
      seconds: Number(seconds.toFixed(2)),
      startupSeconds: Number(((started - launched) / 1000).toFixed(2)),
      files: Number(files[0]?.files ?? 0),
      bytes: stats.bytesWritten,
      bytesPerReading: Number((stats.bytesWritten / total).toFixed(2)),
      maxRowsPerFile,
      rowGroupSize: cfg.lake.rowGroupSize,
      compressionLevel: cfg.lake.compressionLevel,
      rowsReadBack: readBack,
      filesystem: describeFilesystem(filesystem),
    };
  } finally {
    await worker?.stop().catch(() => undefined);
    await reader?.close().catch(() => undefined);
    await kafka.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function produce(bootstrap: string, topic: string, messages: number, perBatch: number, expected: Map<string, number>): Promise<void> {
  const producer = new Kafka.Producer({
    'metadata.broker.list': bootstrap, 'client.id': 'fieldline-bench-lake', 'enable.idempotence': true, 'linger.ms': 20, dr_cb: true,
  });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  producer.setPollInterval(25);
  let delivered = 0;
  const failures: string[] = [];
  producer.on('delivery-report', (err) => {
    delivered++;
    if (err) failures.push(err.message);
  });
  const rand = mulberry32(42);
  const state = new Float64Array(DEVICES * METRICS.length).fill(20);
  const start = Date.UTC(2025, 4, 1, 0, 0, 0);
  const gateways = 8;
  try {
    for (let i = 0; i < messages; i++) {
      const gatewayId = `gw-bench-${i % gateways}`;
      const readings = makeReadings(perBatch, start, i * perBatch, state, rand);
      for (const r of readings) {
        for (const [m, v] of Object.entries(r.metrics!)) {
          const key = `${r.deviceId}|${r.tsMs}|${m}|${v}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
      }
      const msg = encodeBatch({ gatewayId, seq: Math.floor(i / gateways) + 1, createdMs: start, readings, schemaVersion: SCHEMA_VERSION });
      const headers = Object.entries(msg.headers).map(([k, v]) => ({ [k]: v }));
      for (;;) {
        try {
          producer.produce(topic, null, msg.value, msg.key, Date.now(), undefined, headers);
          break;
        } catch {
          // The local queue is full: let deliveries drain it.
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }
    await new Promise<void>((resolve, reject) => producer.flush(60_000, (err) => (err ? reject(err) : resolve())));
    await waitUntil(async () => delivered >= messages, { what: 'delivery reports for the backlog', timeoutMs: 120_000 });
    if (failures.length) throw new Error(`producing the lake bench's backlog failed: ${failures[0]}`);
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}

/** The lake group's committed offsets must be the partitions' ends: everything counted was committed. */
async function checkCommitted(bootstrap: string, group: string, topic: string, partitions: number): Promise<void> {
  const c = new Kafka.KafkaConsumer({ 'metadata.broker.list': bootstrap, 'group.id': group, 'enable.auto.commit': false }, {});
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  try {
    const toppars = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
    const ok = async (): Promise<boolean> => {
      const committed = await new Promise<Kafka.TopicPartitionOffset[] | null>((resolve) =>
        c.committed(toppars, 5_000, (err, tps) => resolve(err ? null : tps)),
      );
      if (!committed) return false;
      for (const tp of committed) {
        const w = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
          c.queryWatermarkOffsets(topic, tp.partition, 5_000, (err, o) => (err ? reject(err) : resolve(o))),
        );
        if (tp.offset !== w.highOffset) return false;
      }
      return true;
    };
    // Commits are asynchronous: give the last one a moment to land.
    await waitUntil(ok, { what: `group ${group} committed every partition's end`, timeoutMs: 30_000, intervalMs: 100 });
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}

// `node dist/bench/lake.js` runs it alone.
runIfMain(import.meta.url, () => benchLake());
