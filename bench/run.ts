// npm run bench: the benchmark suite. Writes bench/results/latest.json and latest.md.
// The end-to-end benches run first, on the whole stack; the stack is stopped before the backlog
// drain (its own broker) and the ingest benches (MQTT, CoAP, Modbus), so those have the two cores
// to themselves.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../devstack/stack.js';
import { benchAlerts } from './alerts.js';
import { benchCoap } from './coap.js';
import { describeFilesystem, filesystemOf } from './disk-io.js';
import { benchDrain } from './drain.js';
import { benchEndToEnd } from './e2e.js';
import { benchLake } from './lake.js';
import { benchModbus } from './modbus.js';
import { benchMqttIngest } from './mqtt-ingest.js';
import { benchQuery } from './query.js';
import { benchSinkPg } from './sink-pg.js';
import { benchStore } from './store.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 20);
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    /** Where every bench's data directories (outboxes, broker, database) live: the disk figures need a real disk. */
    tmpdir: `${tmpdir()}: ${describeFilesystem(filesystemOf(tmpdir()))}`,
  };
  const source = sourceState();
  console.log(`machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}; source ${source.commit}${source.uncommitted.length ? ` + ${source.uncommitted.length} uncommitted files` : ''}`);
  const latencyRate = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
  const stack = await startStack();
  let e2e: Awaited<ReturnType<typeof benchEndToEnd>>;
  let steady: Awaited<ReturnType<typeof benchEndToEnd>>;
  let alerts: Awaited<ReturnType<typeof benchAlerts>>;
  try {
    console.log(`end to end: MQTT QoS 1 → outbox → Kafka → embedded TimescaleDB, ${seconds} s at full load…`);
    e2e = await benchEndToEnd(stack, { clients: 8, window: 100, seconds, tag: 'max' });
    console.log(`publish → row latency at ${latencyRate} readings/s offered, ${seconds} s…`);
    steady = await benchEndToEnd(stack, { clients: 8, window: 100, seconds, rate: latencyRate, tag: 'steady' });
    console.log(`alert latency: reading published → event on iot.alerts at ${latencyRate} readings/s offered, ${seconds} s…`);
    alerts = await benchAlerts(stack, { rate: latencyRate, seconds });
  } finally {
    await stack.stop();
  }

  const drainReadings = Number(process.env.BENCH_DRAIN_READINGS ?? 1_000_000);
  console.log(`backlog drain: ${drainReadings} readings in the outbox → forwarder → Kafka, then Kafka → embedded TimescaleDB…`);
  const drain = await benchDrain({ readings: drainReadings });
  console.log(`MQTT ingest: QoS 1 → validation → SQLite outbox (Kafka unreachable), synchronous=FULL, ${seconds} s…`);
  const mqtt = await benchMqttIngest({ seconds });
  console.log(`MQTT ingest again with synchronous=NORMAL, ${seconds} s…`);
  const mqttNormal = await benchMqttIngest({ seconds, synchronous: 'NORMAL' });
  console.log(`CoAP ingest: confirmable POSTs → pipeline → SQLite outbox, ${seconds} s…`);
  const coap = await benchCoap({ seconds });
  console.log(`Modbus: polling the pymodbus Modbus/TCP slave, ${seconds} s…`);
  const modbus = await benchModbus({ seconds });
  console.log('cloud store: Store.ingest into the embedded TimescaleDB, 1,000,000 rows…');
  const store = await benchStore();
  console.log('cloud store on PostgreSQL 15: Store.ingest beside a bare COPY of the same rows, 1,000,000 rows each, each device every 100 s…');
  const sinkPg = await benchSinkPg();
  // The same with each device reporting every second (100 devices in turn, 10 ms apart): a minute
  // bucket then holds 60 readings instead of one, which is what the rollups' cost depends on.
  console.log('…and again with each device every second…');
  const sinkPgDense = await benchSinkPg({ spacingMs: 10 });
  console.log('lake: a Kafka backlog of 200,000 readings → Parquet files in place and committed…');
  const lake = await benchLake();
  console.log('query API: 20 clients over ≥ 10 M readings in PostgreSQL 15 and a year in the lake…');
  const query = await benchQuery();

  const results = {
    date: new Date().toISOString(),
    machine,
    source,
    endToEnd: e2e,
    steady: { offeredReadingsPerSecond: latencyRate, ...steady },
    alertLatency: alerts,
    mqttIngest: mqtt,
    mqttIngestNormal: mqttNormal,
    backlogDrain: drain,
    coapIngest: coap,
    modbusTcp: modbus,
    storeIngest: store,
    storeIngestPostgres: sinkPg,
    storeIngestPostgresDense: sinkPgDense,
    lake,
    query,
  };
  const table = [
    '| figure | value |',
    '|---|---|',
    `| end to end readings/s (MQTT QoS 1 in → rows in the embedded TimescaleDB) | ${e2e.readingsPerSecond} |`,
    `| readings acknowledged / stored | ${e2e.readingsAcked} / ${e2e.readingsStored} |`,
    `| publish → row latency p50 / p99 / max at full load (ms, ${e2e.latencyMs.samples} probe samples) | ${e2e.latencyMs.p50} / ${e2e.latencyMs.p99} / ${e2e.latencyMs.max} |`,
    `| publish → row latency p50 / p99 / max at ${latencyRate} readings/s offered (ms, ${steady.latencyMs.samples} probe samples) | ${steady.latencyMs.p50} / ${steady.latencyMs.p99} / ${steady.latencyMs.max} |`,
    `| alert latency at ${alerts.offeredReadingsPerSecond} readings/s offered (${alerts.acceptedReadingsPerSecond} accepted, ${alerts.readingsStored} of ${alerts.readingsAcked} acknowledged stored): reading published → event read from iot.alerts, p50 / p95 / p99 / max (ms, ${alerts.latencyMs.samples} events; target p99 ≤ ${alerts.target.p99Ms} ms ${alerts.target.met ? 'met' : 'missed'}) | ${alerts.latencyMs.p50} / ${alerts.latencyMs.p95} / ${alerts.latencyMs.p99} / ${alerts.latencyMs.max} |`,
    `| alert events: crossings made / distinct events read (each crossing's once) / copies redelivered | ${alerts.events.expected} / ${alerts.events.received} / ${alerts.events.redelivered} |`,
    `| alert latency p50 by stage: gateway / evaluator / relay / delivery (ms; event loop delay p50 / p99 ${alerts.eventLoopDelayMs.p50} / ${alerts.eventLoopDelayMs.p99} ms) | ${alerts.stagesMs.gateway.p50} / ${alerts.stagesMs.evaluator.p50} / ${alerts.stagesMs.relay.p50} / ${alerts.stagesMs.delivery.p50} |`,
    `| MQTT QoS 1 ingest readings/s into the outbox, validation on (${mqtt.clients} clients × ${mqtt.window} in flight, ${mqtt.readingsPerMessage} readings a message, synchronous=${mqtt.outboxSynchronous}) | ${mqtt.readingsPerSecond} |`,
    `| MQTT QoS 1 ingest messages/s (PUBACKs) | ${mqtt.messagesPerSecond} |`,
    `| MQTT publish → PUBACK p50 / p99 / max (ms) | ${mqtt.latencyMs.p50} / ${mqtt.latencyMs.p99} / ${mqtt.latencyMs.max} |`,
    `| MQTT readings acknowledged / in the outbox after the run (rate limits raised so nothing throttles; ${mqtt.loss.rateLimited + mqtt.loss.quarantined + mqtt.loss.evicted} lost) | ${mqtt.acknowledged.readings} / ${mqtt.outboxDepth.readings} |`,
    `| MQTT QoS 1 ingest, synchronous=FULL: bytes written to disk per reading (/proc/self/io write_bytes over the window, ${mib(mqtt.disk.netWriteBytes)} for ${mqtt.disk.readings} readings) | ${mqtt.disk.bytesPerReading} |`,
    `| MQTT QoS 1 ingest, synchronous=NORMAL: readings/s / bytes written per reading | ${mqttNormal.readingsPerSecond} / ${mqttNormal.disk.bytesPerReading} |`,
    `| backlog fill: ${drain.readings} readings (${drain.messages} messages × ${drain.readingsPerMessage}) appended straight to the outbox in ${drain.fill.messagesPerCommit}-message group commits, readings/s (s) | ${drain.fill.readingsPerSecond} (${drain.fill.seconds}) |`,
    `| backlog fill: bytes written per reading / outbox file bytes per waiting reading | ${drain.fill.disk.bytesPerReading} / ${round1(drain.fill.outboxFileBytes / drain.readings)} |`,
    `| backlog drain outbox → Kafka, delivery-confirmed and deleted, readings/s (s; forwarder defaults: ${drain.kafka.batchMaxReadings} readings a batch, ${drain.kafka.maxInflightBatches} in flight) | ${drain.drain.readingsPerSecond} (${drain.drain.seconds}) |`,
    `| backlog drain: readings/s after the first delivery report (producer connected at / first report at, ms) | ${drain.drain.afterFirstDeliveryReadingsPerSecond} (${drain.drain.connectedMs} / ${drain.drain.firstDeliveryMs}) |`,
    `| backlog drain: bytes written per reading (lease and delete) | ${drain.drain.disk.bytesPerReading} |`,
    `| backlog drain: batches in Kafka / readings read back (seqs ${drain.verified.firstSeq}–${drain.verified.lastSeq}, each device message once) | ${drain.verified.batches} / ${drain.verified.readings} |`,
    ...(drain.sink
      ? [`| cloud catch-up: the drained topic → embedded TimescaleDB rows, readings/s (s; ${drain.sink.rows} rows) | ${drain.sink.readingsPerSecond} (${drain.sink.seconds}) |`]
      : []),
    `| CoAP confirmable requests/s answered 2.04 (${coap.endpoints} endpoints, ${coap.devices} devices, synchronous=${coap.outboxSynchronous}, rate limit ${coap.rateLimit}) | ${coap.requestsPerSecond} |`,
    `| CoAP readings/s (3 a request) | ${coap.readingsPerSecond} |`,
    `| CoAP request → response p50 / p99 / max (ms) | ${coap.latencyMs.p50} / ${coap.latencyMs.p99} / ${coap.latencyMs.max} |`,
    `| Modbus/TCP registers/s (pymodbus slave, one connection, ${modbus.registersPerRequest}-register reads) | ${modbus.registersPerSecond} |`,
    `| Modbus/TCP requests/s / ms per request / errors | ${modbus.requestsPerSecond} / ${modbus.msPerRequest} / ${modbus.errors} |`,
    `| cloud store ingest rows/s (Store.ingest, ${store.backend}, ${store.batchesPerCall} batches a call; ${store.rows} rows, ${store.rowsStored} counted back) | ${store.rowsPerSecond} |`,
    `| cloud store ingest rows/s into PostgreSQL 15, each device every 100 s (Store.ingest: ledger, binary COPY, rollups; ${sinkPg.batchesPerCall} batches a call; ${sinkPg.rows} rows, all counted back) | ${sinkPg.storeRowsPerSecond} |`,
    `| bare binary COPY of the same rows into a table like readings (no ledger, no rollups), rows/s / Store.ingest ÷ bare COPY | ${sinkPg.bareCopyRowsPerSecond} / ${sinkPg.ratio} |`,
    `| the same, each device every second: Store.ingest rows/s / bare COPY rows/s / ratio | ${sinkPgDense.storeRowsPerSecond} / ${sinkPgDense.bareCopyRowsPerSecond} / ${sinkPgDense.ratio} |`,
    `| lake rows/s: ${lake.readings} readings from Kafka (${lake.partitions} partitions) to zstd Parquet files in place and committed (${lake.files} files, ${lake.rowsReadBack} rows read back with DuckDB) | ${lake.rowsPerSecond} |`,
    `| lake bytes per reading on disk (${lake.bytes} bytes of Parquet) | ${lake.bytesPerReading} |`,
    ...queryRows(query),
  ].join('\n');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(
    join(ROOT, 'bench', 'results', 'latest.md'),
    `Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}; data directories in ${machine.tmpdir}\n` +
      `Source: ${source.commit}${source.uncommitted.length ? `, with uncommitted changes in ${source.uncommitted.join(', ')}` : ''}\n\n${table}\n`,
  );
  console.log(table);
}

/**
 * The commit the benches were built from, and the files under the measured code that differed from
 * it: the working tree is shared, so a figure can include someone's work in progress.
 */
function sourceState(): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  try {
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    // Porcelain lines are "XY path"; X may be a space, so the output is not trimmed before slicing.
    const status = git('status', '--porcelain', '--', 'gateway', 'cloud-sink', 'proto', 'common', 'devstack');
    return { commit, uncommitted: status.split('\n').filter((l) => l.length > 3).map((l) => l.slice(3)) };
  } catch {
    return { commit: 'unknown (no git)', uncommitted: [] };
  }
}

/** The query bench's lines: one per kind, uncached then repeated (the cache's case). */
function queryRows(q: Awaited<ReturnType<typeof benchQuery>>): string[] {
  const d = q.data;
  const ms = (k: { latencyMs: { p50: number; p95: number; p99: number } }): string => `${k.latencyMs.p50} / ${k.latencyMs.p95} / ${k.latencyMs.p99}`;
  const kind = (k: NonNullable<(typeof q.kinds)[keyof typeof q.kinds]>, detail: string): string =>
    `| query ${k.what} (${detail}; ${k.requests} requests, ${k.checked} answers checked), p50 / p95 / p99 ms | ${ms(k)} |`;
  return [
    `| query bench data: readings in PostgreSQL (${d.devices} devices × ${d.metrics} metrics every ${d.stepS} s, ${d.hotDays} days) / lake rows (${d.lake.devices} devices every ${d.lake.stepS} s, ${d.lake.days} days, ${d.lake.files} files); load s (database / lake, side by side) | ${d.readings} / ${d.lake.rows}; ${q.loadSeconds.database} / ${q.loadSeconds.lake} |`,
    kind(q.kinds.agg24h, `bucket ${q.kinds.agg24h.bucket}, ${q.kinds.agg24h.itemsPerAnswer} points, ${q.clients} clients, uncached`),
    kind(q.kinds.agg7d, `bucket ${q.kinds.agg7d.bucket}, ${q.kinds.agg7d.itemsPerAnswer} points, uncached`),
    kind(q.kinds.raw1000, `${q.kinds.raw1000.itemsPerAnswer} rows`),
    ...(q.kinds.lakeYear ? [kind(q.kinds.lakeYear, `source ${q.kinds.lakeYear.source}, bucket ${q.kinds.lakeYear.bucket}, ${q.kinds.lakeYear.itemsPerAnswer} points`)] : []),
    `| query aggregates repeated (${q.repeated.distinctQueries} distinct, the cache's case): 24 h / 7-day p95 ms | ${q.repeated.agg24h.latencyMs.p95} / ${q.repeated.agg7d.latencyMs.p95} |`,
    `| query target: aggregates' p95 ≤ ${q.target.p95Ms} ms uncached (${q.target.met ? 'met' : 'missed'}); whole query bench s | ${q.target.aggregatesP95Ms}; ${q.totalSeconds} |`,
  ];
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
