// Backlog drain: how fast the gateway empties an outbox that filled while the cloud was unreachable.
// An outbox is filled with `readings` readings (device messages of four metric values each: seq,
// temperature, humidity, battery) by appending straight to a SqliteOutbox in group commits of the
// gateway's default size, then the real Forwarder is started against a real Kafka broker with the
// gateway's default kafka settings, and the clock runs until every reading is delivery-confirmed:
// acked by Kafka (acks=all) and deleted from the outbox.
//
// The figure is checked before it is reported: the topic is read back from the beginning and must
// hold every batch seq once, in one unbroken run, with exactly the readings appended, each device's
// message seqs 1..n once each; otherwise the bench fails.
//
// Disk writes (SD-card wear) for the fill and the drain come from /proc/self/io (disk-io.ts). The
// broker is a separate process, so its own log writes are not counted; nothing else in this
// process writes to disk while the clock runs.
//
// Then, optionally, the cloud's side of the same catch-up: a sink with the embedded TimescaleDB
// (PGlite) consumes the drained topic from the beginning, and the clock runs until every reading
// is a row.
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { Cloud } from '../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../cloud-sink/src/config/schema.js';
import { gatewayConfigSchema } from '../gateway/src/config/schema.js';
import { Forwarder } from '../gateway/src/forward/forwarder.js';
import { producerConfig } from '../gateway/src/forward/kafka.js';
import { Metrics } from '../gateway/src/metrics.js';
import { SqliteOutbox } from '../gateway/src/outbox/sqlite-outbox.js';
import { decodeBatch, Header, SourceProtocol, type Reading } from '../proto/src/wire.js';
import { startKafka, type KafkaBroker } from '../devstack/kafka.js';
import { benchDataDir } from './data-dir.js';
import { describeFilesystem, diskWrites, filesystemOf, ioDelta, processIo, type DiskWrites } from './disk-io.js';
import { runIfMain } from './run-alone.js';

export interface DrainBenchOptions {
  /** Readings (metric values) in the backlog. Default $BENCH_DRAIN_READINGS or 1,000,000. */
  readings?: number;
  /** Devices the messages rotate through. */
  devices?: number;
  /** The outbox's SQLite synchronous setting; the gateway's default is FULL. */
  synchronous?: 'FULL' | 'NORMAL';
  /** A running broker to use; without one the bench starts its own and destroys it afterwards. */
  broker?: KafkaBroker;
  /** Give up (and fail) if the drain takes longer. */
  timeoutMs?: number;
  /** Then consume the topic into the embedded TimescaleDB and time that too. Default $BENCH_DRAIN_SINK !== '0'. */
  sink?: boolean;
}

export interface DrainBenchResult {
  readings: number;
  messages: number;
  readingsPerMessage: number;
  devices: number;
  outboxSynchronous: 'FULL' | 'NORMAL';
  /** Where the outbox lived. */
  filesystem: string;
  fill: {
    /** Readings committed per second, appended straight to the outbox (no MQTT, no pipeline). */
    readingsPerSecond: number;
    seconds: number;
    /** Messages per group commit (the gateway's outbox.groupCommitMaxRows). */
    messagesPerCommit: number;
    disk: DiskWrites;
    /** outbox.db plus its WAL once the backlog was in: what 1,000,000 waiting readings take on the card. */
    outboxFileBytes: number;
  };
  drain: {
    /** Readings delivery-confirmed (Kafka ack, rows deleted) per second, from Forwarder.start() to an empty outbox. */
    readingsPerSecond: number;
    seconds: number;
    /** From Forwarder.start() until the producer is connected. */
    connectedMs: number;
    /** From Forwarder.start() until the first delivery report (connect, producer id, the first round trip). */
    firstDeliveryMs: number;
    /** Readings per second from the first delivery report to an empty outbox: the rate once the link is up. */
    afterFirstDeliveryReadingsPerSecond: number;
    batches: number;
    disk: DiskWrites;
  };
  /** What the topic holds afterwards, read back from the beginning. */
  verified: { batches: number; readings: number; firstSeq: number; lastSeq: number };
  /** The drained topic consumed into the embedded TimescaleDB by the cloud sink; null when not run. */
  sink: SinkCatchUp | null;
  kafka: { batchMaxReadings: number; maxInflightBatches: number; lingerMs: number; partitions: number; brokerJvm: string };
}

export interface SinkCatchUp {
  /** Rows written per second, from the consumer's start (database open and migrated) to the last row. */
  readingsPerSecond: number;
  seconds: number;
  /** Opening the embedded database and running the migrations, before the clock starts. */
  openSeconds: number;
  /** Rows in `readings` and batches in `ingested_batches` afterwards, counted with SQL. */
  rows: number;
  batches: number;
  maxBatchMessages: number;
  database: string;
}

const METRICS_PER_MESSAGE = 4;
const GATEWAY_ID = 'gw-bench-drain';
const TOPIC = 'iot.readings';
/** A message every 10 s per device: the backlog a long outage leaves behind. */
const DEVICE_INTERVAL_MS = 10_000;

/** One device message as the pipeline would commit it. */
function message(i: number, devices: number, startMs: number): Reading {
  const device = i % devices;
  const seq = Math.floor(i / devices) + 1;
  return {
    deviceId: `bench-drain-${String(device).padStart(3, '0')}`,
    tsMs: startMs + seq * DEVICE_INTERVAL_MS + device,
    source: SourceProtocol.SOURCE_PROTOCOL_MQTT,
    metrics: { seq, temperature: 18 + ((seq * 7) % 100) / 10, humidity: 40 + ((seq * 13) % 300) / 10, battery: 3.3 - (seq % 1000) / 10_000 },
  };
}

export async function benchDrain(opts: DrainBenchOptions = {}): Promise<DrainBenchResult> {
  const readings = opts.readings ?? Number(process.env.BENCH_DRAIN_READINGS ?? 1_000_000);
  if (!Number.isInteger(readings) || readings <= 0 || readings % METRICS_PER_MESSAGE !== 0) {
    throw new Error(`the drain bench needs a positive multiple of ${METRICS_PER_MESSAGE} readings, got ${readings}`);
  }
  const messages = readings / METRICS_PER_MESSAGE;
  const devices = opts.devices ?? 100;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const { dir, filesystem } = benchDataDir('fieldline-bench-drain-');
  const broker = opts.broker ?? (await startKafka());
  const ownsBroker = opts.broker === undefined;
  let outbox: SqliteOutbox | undefined;
  let forwarder: Forwarder | undefined;
  try {
    await broker.createTopics([{ name: TOPIC, partitions: 3 }]);
    const cfg = gatewayConfigSchema.parse({
      gatewayId: GATEWAY_ID,
      dataDir: dir,
      logLevel: 'silent',
      outbox: { synchronous: opts.synchronous ?? 'FULL' },
      kafka: { brokers: broker.bootstrap, readingsTopic: TOPIC },
    });
    // The same options the gateway opens its outbox with.
    const path = join(dir, 'outbox.db');
    outbox = new SqliteOutbox({
      path,
      synchronous: cfg.outbox.synchronous,
      groupCommitMaxRows: cfg.outbox.groupCommitMaxRows,
      quarantineKeep: cfg.outbox.quarantineKeep,
      maxMessages: cfg.outbox.maxMessages,
      maxBytes: cfg.outbox.maxBytes,
      onFull: cfg.outbox.onFull,
      minFreeBytes: cfg.outbox.minFreeBytes,
    });

    // Fill: one group commit per append call, as many messages as the gateway puts in one.
    const chunk = cfg.outbox.groupCommitMaxRows;
    const startMs = Date.now() - (messages / devices + 1) * DEVICE_INTERVAL_MS;
    const fillIo = processIo();
    const fillStart = performance.now();
    for (let i = 0; i < messages; i += chunk) {
      const batch: Reading[] = [];
      for (let j = i; j < Math.min(messages, i + chunk); j++) batch.push(message(j, devices, startMs));
      await outbox.append(batch);
    }
    const fillSeconds = (performance.now() - fillStart) / 1_000;
    const fillDisk = diskWrites(ioDelta(fillIo, processIo()), readings);
    const filled = outbox.stats();
    if (filled.depthValues !== readings || filled.depthMessages !== messages || filled.evictedValues !== 0) {
      throw new Error(`drain bench: the outbox holds ${filled.depthValues} readings in ${filled.depthMessages} messages after the fill, expected ${readings} in ${messages}`);
    }
    const outboxFileBytes = fileSize(path) + fileSize(`${path}-wal`);

    // Drain: the real forwarder, default kafka settings, until every reading is confirmed and deleted.
    forwarder = new Forwarder(cfg.kafka, cfg.gatewayId, outbox, new Metrics(), pino({ level: 'silent' }));
    const drainIo = processIo();
    const drainStart = performance.now();
    forwarder.start();
    let connectedMs = -1;
    let firstDeliveryMs = -1;
    let firstDelivered = 0;
    for (;;) {
      const { deliveredReadings: delivered, link } = forwarder.status();
      if (connectedMs < 0 && link === 'up') connectedMs = performance.now() - drainStart;
      if (firstDeliveryMs < 0 && delivered > 0) {
        firstDeliveryMs = performance.now() - drainStart;
        firstDelivered = delivered;
      }
      if (delivered >= readings) break;
      if (performance.now() - drainStart > timeoutMs) {
        throw new Error(`drain bench: ${delivered} of ${readings} readings delivered after ${timeoutMs} ms (link ${forwarder.status().link}: ${forwarder.status().lastError})`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const drainSeconds = (performance.now() - drainStart) / 1_000;
    const drainDisk = diskWrites(ioDelta(drainIo, processIo()), readings);
    const status = forwarder.status();
    const left = outbox.stats();
    await forwarder.stop();
    forwarder = undefined;
    outbox.close();
    outbox = undefined;
    if (left.depthValues !== 0 || left.depthMessages !== 0 || left.leasedBatches !== 0 || status.deliveredReadings !== readings) {
      throw new Error(
        `drain bench: ${status.deliveredReadings} readings confirmed, but the outbox still holds ${left.depthValues} readings ` +
          `(${left.depthMessages} messages, ${left.leasedBatches} leased batches)`,
      );
    }

    const verified = await readBack(broker.bootstrap, readings, messages, devices);
    if (verified.batches !== status.deliveredBatches) {
      throw new Error(`drain bench: ${status.deliveredBatches} batches confirmed, ${verified.batches} in the topic`);
    }
    const sink = (opts.sink ?? process.env.BENCH_DRAIN_SINK !== '0')
      ? await sinkCatchUp(broker.bootstrap, join(dir, 'cloud'), readings, verified.batches, timeoutMs)
      : null;
    return {
      readings,
      messages,
      readingsPerMessage: METRICS_PER_MESSAGE,
      devices,
      outboxSynchronous: cfg.outbox.synchronous,
      filesystem: describeFilesystem(filesystem),
      fill: {
        readingsPerSecond: Math.round(readings / fillSeconds),
        seconds: round1(fillSeconds),
        messagesPerCommit: chunk,
        disk: fillDisk,
        outboxFileBytes,
      },
      drain: {
        readingsPerSecond: Math.round(readings / drainSeconds),
        seconds: round1(drainSeconds),
        connectedMs: Math.round(connectedMs),
        firstDeliveryMs: Math.round(firstDeliveryMs),
        afterFirstDeliveryReadingsPerSecond: Math.round((readings - firstDelivered) / (drainSeconds - firstDeliveryMs / 1_000)),
        batches: status.deliveredBatches,
        disk: drainDisk,
      },
      verified,
      sink,
      kafka: {
        batchMaxReadings: cfg.kafka.batchMaxReadings,
        maxInflightBatches: cfg.kafka.maxInflightBatches,
        lingerMs: Number(producerConfig(cfg.kafka, cfg.gatewayId)['linger.ms']),
        partitions: 3,
        brokerJvm: ownsBroker ? 'devstack/kafka.ts defaults (-Xmx512m, SerialGC, C1 only)' : 'caller-provided broker',
      },
    };
  } finally {
    await forwarder?.stop(1_000).catch(() => undefined);
    outbox?.close();
    if (ownsBroker) await broker.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Reads the topic from the beginning and checks it holds the backlog exactly once: unique batch
 * seqs in one unbroken run, the reading-count headers and the decoded values summing to `readings`,
 * and every device's message seqs 1..n once each.
 */
async function readBack(bootstrap: string, readings: number, messages: number, devices: number): Promise<DrainBenchResult['verified']> {
  const consumer = new Kafka.KafkaConsumer(
    { 'metadata.broker.list': bootstrap, 'group.id': `bench-drain-verify-${process.pid}-${Date.now()}`, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  const seqs = new Set<number>();
  const seenPerDevice = new Map<string, Uint8Array>();
  const perDevice = Math.ceil(messages / devices);
  let headerReadings = 0;
  let decodedReadings = 0;
  let duplicates = 0;
  try {
    consumer.setDefaultConsumeTimeout(200);
    consumer.subscribe([TOPIC]);
    const deadline = Date.now() + 120_000;
    while (decodedReadings < readings && Date.now() < deadline) {
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) => consumer.consume(500, (err, m) => (err ? reject(err) : resolve(m))));
      for (const msg of batch) {
        const headers = Object.assign({}, ...(msg.headers ?? [])) as Record<string, Buffer | string>;
        headerReadings += Number(String(headers[Header.readingCount] ?? 'NaN'));
        const b = decodeBatch(msg.value!);
        if (seqs.has(b.seq)) duplicates++;
        seqs.add(b.seq);
        for (const r of b.readings) {
          const metrics = r.metrics ?? {};
          const deviceId = r.deviceId ?? '';
          decodedReadings += Object.keys(metrics).length;
          let seen = seenPerDevice.get(deviceId);
          if (!seen) seenPerDevice.set(deviceId, (seen = new Uint8Array(perDevice + 1)));
          const seq = metrics['seq'] ?? 0;
          if (seq >= 1 && seq <= perDevice) seen[seq]!++;
        }
      }
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
  const sorted = [...seqs].sort((a, b) => a - b);
  const firstSeq = sorted[0] ?? 0;
  const lastSeq = sorted.at(-1) ?? 0;
  let messagesOnce = 0;
  for (const seen of seenPerDevice.values()) for (const n of seen) if (n === 1) messagesOnce++;
  const problems = [
    duplicates !== 0 && `${duplicates} batch seqs arrived twice`,
    lastSeq - firstSeq + 1 !== seqs.size && `batch seqs ${firstSeq}..${lastSeq} have gaps (${seqs.size} batches)`,
    decodedReadings !== readings && `the topic holds ${decodedReadings} readings, ${readings} were appended`,
    headerReadings !== readings && `the reading-count headers sum to ${headerReadings}, ${readings} were appended`,
    seenPerDevice.size !== devices && `${seenPerDevice.size} devices in the topic, ${devices} appended`,
    messagesOnce !== messages && `${messagesOnce} of ${messages} device messages found exactly once`,
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length) throw new Error(`drain bench is not honest: ${problems.join('; ')}`);
  return { batches: seqs.size, readings: decodedReadings, firstSeq, lastSeq };
}

/** The cloud sink (embedded TimescaleDB) consumes the whole topic; done when every reading is a row. */
async function sinkCatchUp(bootstrap: string, dataDir: string, readings: number, batches: number, timeoutMs: number): Promise<SinkCatchUp> {
  const cfg = cloudConfigSchema.parse({ dataDir, logLevel: 'silent', kafka: { brokers: bootstrap, readingsTopic: TOPIC } });
  const cloud = new Cloud(cfg, 'sink', pino({ level: 'silent' }));
  const openStart = performance.now();
  try {
    await cloud.start();
    const start = performance.now();
    // stats is a snapshot: read it again on every turn.
    const consumer = cloud.consumer!;
    let stats = consumer.stats;
    while (stats.rowsInserted + stats.rowsRejected < readings) {
      if (performance.now() - start > timeoutMs) {
        throw new Error(`drain bench: the sink wrote ${stats.rowsInserted} of ${readings} readings in ${timeoutMs} ms (${stats.state}: ${stats.lastError})`);
      }
      await new Promise((r) => setTimeout(r, 10));
      stats = consumer.stats;
    }
    const seconds = (performance.now() - start) / 1_000;
    const db = cloud.db!;
    const caps = await cloud.store!.capabilities();
    const rows = Number((await db.query<{ n: string | number }>('SELECT count(*) AS n FROM readings')).rows[0]!.n);
    const stored = Number((await db.query<{ n: string | number }>('SELECT count(*) AS n FROM ingested_batches')).rows[0]!.n);
    const problems = [
      rows !== readings && `readings holds ${rows} rows, ${readings} were drained`,
      stored !== batches && `ingested_batches holds ${stored} batches, ${batches} were drained`,
      stats.rowsRejected !== 0 && `${stats.rowsRejected} values rejected`,
      stats.deadLettered !== 0 && `${stats.deadLettered} messages dead-lettered`,
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length) throw new Error(`drain bench (sink) is not honest: ${problems.join('; ')}`);
    return {
      readingsPerSecond: Math.round(readings / seconds),
      seconds: round1(seconds),
      openSeconds: round1((start - openStart) / 1_000),
      rows,
      batches: stored,
      maxBatchMessages: cfg.kafka.maxBatchMessages,
      database: `${db.kind}, readings ${caps.timescaledb ? 'a TimescaleDB hypertable' : 'a plain table'}${caps.continuousAggregates ? ' with continuous aggregates' : ''}, data directory on ${describeFilesystem(filesystemOf(dataDir))}`,
    };
  } finally {
    await cloud.stop().catch(() => undefined);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

// `node dist/bench/drain.js` runs it alone.
runIfMain(import.meta.url, () => benchDrain());
