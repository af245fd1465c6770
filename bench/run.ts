// npm run bench: the benchmark suite. Writes bench/results/latest.json and latest.md.
// The end-to-end benches run first, on the whole stack; the stack is stopped before the backlog
// drain (its own broker) and the ingest benches (MQTT, CoAP, Modbus), so those have the two cores
// to themselves.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../devstack/stack.js';
import { benchAlerts } from './alerts.js';
import { benchCoap } from './coap.js';
import { describeFilesystem, filesystemOf } from './disk-io.js';
import { benchDrain } from './drain.js';
import { benchDrainLive } from './drain-live.js';
import { benchEndToEnd } from './e2e.js';
import { benchLake } from './lake.js';
import { benchModbus } from './modbus.js';
import { benchMqttIngest } from './mqtt-ingest.js';
import { benchQuery } from './query.js';
import { benchSinkPg } from './sink-pg.js';
import { benchStore } from './store.js';
import { benchFleetScale, fleetScaleRows } from './fleet-scale.js';
import { benchGatewayResources } from './gateway-resources.js';
import { benchMqttCompare } from './mqtt-compare.js';
import { benchPipeline } from './pipeline.js';
import { writeReport } from './report.js';
import { benchSinkProcess } from './sink-process.js';
import { namedFigures, pipelineProfiles, targets } from './summary.js';
import { benchWire } from './wire.js';

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
  rmSync(join(ROOT, 'bench', 'results', 'partial.json'), { force: true });
  const parts = new Parts(process.env.BENCH_ONLY);
  const latencyRate = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
  let e2e: Awaited<ReturnType<typeof benchEndToEnd>>;
  let steady: Awaited<ReturnType<typeof benchEndToEnd>>;
  let alerts: Awaited<ReturnType<typeof benchAlerts>>;
  if (parts.runs('endToEnd') || parts.runs('steady') || parts.runs('alertLatency')) {
    const stack = await startStack();
    try {
      e2e = await parts.part('endToEnd', () => {
        console.log(`end to end: MQTT QoS 1 → outbox → Kafka → embedded TimescaleDB, ${seconds} s at full load…`);
        return benchEndToEnd(stack, { clients: 8, window: 100, seconds, tag: 'max' });
      });
      steady = await parts.part('steady', () => {
        console.log(`publish → row latency at ${latencyRate} readings/s offered, ${seconds} s…`);
        return benchEndToEnd(stack, { clients: 8, window: 100, seconds, rate: latencyRate, tag: 'steady' });
      });
      alerts = await parts.part('alertLatency', () => {
        console.log(`alert latency: reading published → event on iot.alerts at ${latencyRate} readings/s offered, ${seconds} s…`);
        return benchAlerts(stack, { rate: latencyRate, seconds });
      });
    } finally {
      await stack.stop();
    }
  } else {
    e2e = await parts.part('endToEnd', never);
    steady = await parts.part('steady', never);
    alerts = await parts.part('alertLatency', never);
  }

  const drainReadings = Number(process.env.BENCH_DRAIN_READINGS ?? 1_000_000);
  const drain = await parts.part('backlogDrain', () => {
    console.log(`backlog drain: ${drainReadings} readings in the outbox → forwarder → Kafka, then Kafka → embedded TimescaleDB…`);
    return benchDrain({ readings: drainReadings });
  });
  const mqtt = await parts.part('mqttIngest', () => {
    console.log(`MQTT ingest: QoS 1 → validation → SQLite outbox (Kafka unreachable), synchronous=FULL, ${seconds} s…`);
    return benchMqttIngest({ seconds });
  });
  const mqttNormal = await parts.part('mqttIngestNormal', () => {
    console.log(`MQTT ingest again with synchronous=NORMAL, ${seconds} s…`);
    return benchMqttIngest({ seconds, synchronous: 'NORMAL' });
  });
  const coap = await parts.part('coapIngest', () => {
    console.log(`CoAP ingest: confirmable POSTs → pipeline → SQLite outbox, ${seconds} s…`);
    return benchCoap({ seconds });
  });
  const modbus = await parts.part('modbusTcp', () => {
    console.log(`Modbus: polling the pymodbus Modbus/TCP slave, ${seconds} s…`);
    return benchModbus({ seconds });
  });
  const store = await parts.part('storeIngest', () => {
    console.log('cloud store: Store.ingest into the embedded TimescaleDB, 1,000,000 rows…');
    return benchStore();
  });
  const sinkPg = await parts.part('storeIngestPostgres', () => {
    console.log('cloud store on PostgreSQL 15: Store.ingest beside a bare COPY of the same rows, 1,000,000 rows each, each device every 100 s…');
    return benchSinkPg();
  });
  // The same with each device reporting every second (100 devices in turn, 10 ms apart): a minute
  // bucket then holds 60 readings instead of one, which is what the rollups' cost depends on.
  const sinkPgDense = await parts.part('storeIngestPostgresDense', () => {
    console.log('…and again with each device every second…');
    return benchSinkPg({ spacingMs: 10 });
  });
  const lake = await parts.part('lake', () => {
    console.log('lake: a Kafka backlog of 200,000 readings → Parquet files in place and committed…');
    return benchLake();
  });
  const query = await parts.part('query', () => {
    console.log('query API: 20 clients over ≥ 10 M readings in PostgreSQL 15 and a year in the lake…');
    return benchQuery();
  });
  checkpoint({ e2e, steady, alerts, drain, mqtt, mqttNormal, coap, modbus, store, sinkPg, sinkPgDense, lake, query });

  // Issue 14: side by side with the alternatives, the whole pipeline as deployed, the fleet sweep.
  const compare = await parts.part('mqttCompare', () => {
    console.log(`MQTT QoS 1 ingest side by side: Mosquitto, plain aedes, the gateway (NORMAL, FULL), the Go load generator, ${seconds} s each…`);
    return benchMqttCompare({ seconds });
  });
  const wire = await parts.part('wire', async () => {
    console.log('bytes on the wire per reading: LZ4 protobuf batches, protobuf alone, JSON per message…');
    return { load: await benchWire(), noisy: await benchWire({ values: 'noisy' }) };
  });
  const rssSeconds = Number(process.env.BENCH_RSS_SECONDS ?? 60);
  const resources = await parts.part('gatewayResources', () => {
    console.log(`the gateway process at 1,000 and 10,000 readings/s forwarding to Kafka, ${rssSeconds} s each: RSS, CPU, disk…`);
    return benchGatewayResources({ rates: [1_000, 10_000], seconds: rssSeconds });
  });
  const sinkRate = Number(process.env.BENCH_SINK_RATE ?? 50_000);
  const sinkLive = await parts.part('sinkLive', () => {
    console.log(`the sink process alone: ${sinkRate} readings/s produced live into Kafka → PostgreSQL 15, 30 s…`);
    return benchSinkProcess({ rate: sinkRate, seconds: 30 });
  });
  const pipelineSeconds = Number(process.env.BENCH_PIPELINE_SECONDS ?? 300);
  const pipelineRate = Number(process.env.BENCH_PIPELINE_RATE ?? 50_000);
  const pipelineLoad = { seconds: pipelineSeconds, clients: 100, window: 20, metricsPerMessage: 10, reportLoss: true } as const;
  const { profiles, ...pipelinePg } = await parts.part('pipelinePg', async () => {
    const profileDir = mkdtempSync(join(tmpdir(), 'fieldline-bench-prof-'));
    try {
      console.log(`whole pipeline as deployed: Go load → gateway process → Kafka → sink process → PostgreSQL 15 (durable), ${pipelineRate} readings/s offered, ${pipelineSeconds} s, CPU profiles on…`);
      const run = await benchPipeline({ ...pipelineLoad, database: 'postgres', rate: pipelineRate, cpuProfileDir: profileDir });
      return { ...run, profiles: pipelineProfiles(run) };
    } finally {
      rmSync(profileDir, { recursive: true, force: true });
    }
  });
  const lowRate = Number(process.env.BENCH_PIPELINE_LOW_RATE ?? 20_000);
  const pipelinePgLow = await parts.part('pipelinePgLow', () => {
    console.log(`…again into PostgreSQL at ${lowRate} readings/s offered for 60 s: the latency when the pipeline has room…`);
    return benchPipeline({ ...pipelineLoad, seconds: 60, database: 'postgres', rate: lowRate });
  });
  checkpoint({ compare, wire, resources, sinkLive, pipelinePg, pipelinePgLow });
  const embeddedRate = Number(process.env.BENCH_PIPELINE_EMBEDDED_RATE ?? 20_000);
  const pipelineEmbedded = await parts.part('pipelineEmbedded', () => {
    console.log(`…and into the embedded TimescaleDB (fieldline-cloud all, the demo's set-up), ${embeddedRate} readings/s offered, ${pipelineSeconds} s…`);
    return benchPipeline({ ...pipelineLoad, database: 'embedded', rate: embeddedRate });
  });
  // Issue 15: live readings ahead of a drained backlog, as deployed (gateway and sink processes, PostgreSQL 15).
  const drainLiveReadings = Number(process.env.BENCH_DRAIN_LIVE_READINGS ?? 10_000_000);
  const drainLive = await parts.part('drainLive', () => {
    console.log(`backlog of ${drainLiveReadings} readings draining while devices publish 1,000 readings/s live: live end-to-end latency, loss row by row…`);
    return benchDrainLive({ readings: drainLiveReadings, log: (line) => console.log(`  ${line}`) });
  });
  checkpoint({ drainLive });
  const fleetGateways = (process.env.BENCH_FLEET_GATEWAYS ?? '10,100,1000,10000').split(',').map(Number);
  const fleet = await parts.part('fleetScale', () => {
    console.log(`fleet sweep: ${fleetGateways.join(', ')} gateway ids feeding Kafka, one sink into PostgreSQL 15, rows accumulating…`);
    return benchFleetScale({
      gateways: fleetGateways,
      readingsPerStep: Number(process.env.BENCH_FLEET_READINGS ?? 400_000),
      readingsPerBatch: Number(process.env.BENCH_FLEET_BATCH ?? 40),
      requests: Number(process.env.BENCH_FLEET_REQUESTS ?? 100),
      aggregatesPublisher: process.env.BENCH_FLEET_AGGREGATES !== '0',
    });
  });

  const summaryInputs = {
    compare,
    wire,
    resources,
    pipelinePg,
    pipelineEmbedded,
    pipelinePgLow,
    sinkVsCopy: { ratio: sinkPg.ratio, ratioDense: sinkPgDense.ratio, storeRowsPerSecond: sinkPg.storeRowsPerSecond, bareCopyRowsPerSecond: sinkPg.bareCopyRowsPerSecond },
    drain: { drainReadingsPerSecond: drain.drain.readingsPerSecond, liveReadingsPerSecond: mqtt.readingsPerSecond },
    fleet,
    drainLive,
  };
  const figures = namedFigures(summaryInputs);
  const goals = targets(figures);

  const results = {
    date: new Date().toISOString(),
    machine,
    source,
    ...(parts.carried() ? { carried: parts.carried() } : {}),
    ...figures,
    targets: goals,
    endToEnd: e2e,
    steady: { offeredReadingsPerSecond: latencyRate, ...steady },
    alertLatency: alerts,
    mqttIngest: mqtt,
    mqttIngestNormal: mqttNormal,
    backlogDrain: drain,
    drainLive,
    coapIngest: coap,
    modbusTcp: modbus,
    storeIngest: store,
    storeIngestPostgres: sinkPg,
    storeIngestPostgresDense: sinkPgDense,
    lake,
    query,
    mqttCompare: compare,
    wire,
    gatewayResources: resources,
    sinkLive,
    pipelinePg: { ...pipelinePg, profiles },
    pipelinePgLow,
    pipelineEmbedded,
    fleetScale: fleet,
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
    ...issue14Rows(summaryInputs, figures, sinkLive),
    `| live first while a backlog drains (issue 15): ${drainLive.readings} backlog readings, ${drainLive.liveRate} live readings/s, gateway and sink processes, PostgreSQL 15: live p50 / p99 ms; backlog stored readings/s; lost / doubled (${drainLive.checkedMessages} messages checked) | ${drainLive.latency.p50} / ${drainLive.latency.p99}; ${drainLive.drainReadingsPerSecond}; ${drainLive.lost} / ${drainLive.doubled} |`,
    ...fleetScaleRows(fleet),
  ].join('\n');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(
    join(ROOT, 'bench', 'results', 'latest.md'),
    `Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}; data directories in ${machine.tmpdir}\n` +
      `Source: ${source.commit}${source.uncommitted.length ? `, with uncommitted changes in ${source.uncommitted.join(', ')}` : ''}${carriedNote(parts.carried())}\n\n${table}\n`,
  );
  console.log(table);

  // The plots and the latest-run section of docs/BENCHMARKS.md, from the files just written.
  await writeReport(ROOT);
  console.log(`wrote bench/results/latest.json, latest.md, docs/bench/*.svg and the latest run in docs/BENCHMARKS.md`);
}

/** A bench that is never run: the part is always carried (the stack is started only for a part that runs). */
const never = (): Promise<never> => Promise.reject(new Error('carried parts are not run'));

type Origin = { date: string; source: { commit: string; uncommitted: string[] } };

/**
 * BENCH_ONLY=part,part… runs only those parts of the suite (named as their keys in latest.json, e.g.
 * mqttCompare,wire,gatewayResources,sinkLive,pipelinePg,pipelinePgLow,pipelineEmbedded) and carries
 * every other part's figures over from the previous bench/results/latest.json, which records where
 * each carried part was measured (`carried`: part → date and source), so the report can say so.
 * A part the previous results lack is run. Unset: everything runs.
 */
class Parts {
  private readonly only: Set<string> | null;
  private readonly previous: Record<string, unknown> & { date?: string; source?: Origin['source']; carried?: Record<string, Origin> };
  private readonly carriedFrom: Record<string, Origin> = {};

  constructor(only: string | undefined) {
    const names = (only ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    this.only = names.length ? new Set(names) : null;
    try {
      this.previous = this.only ? JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'latest.json'), 'utf8')) : {};
    } catch {
      this.previous = {};
    }
  }

  runs(name: string): boolean {
    return !this.only || this.only.has(name) || this.previous[name] === undefined;
  }

  async part<T>(name: string, run: () => Promise<T>): Promise<T> {
    if (this.runs(name)) return run();
    this.carriedFrom[name] = this.previous.carried?.[name] ?? { date: String(this.previous.date), source: this.previous.source ?? { commit: 'unknown', uncommitted: [] } };
    console.log(`${name}: carried from the run of ${this.carriedFrom[name]!.date} (BENCH_ONLY)`);
    return this.previous[name] as T;
  }

  carried(): Record<string, Origin> | null {
    return Object.keys(this.carriedFrom).length ? this.carriedFrom : null;
  }
}

function carriedNote(carried: Record<string, Origin> | null): string {
  if (!carried) return '';
  return `\nCarried over, not measured in this run (BENCH_ONLY): ${Object.entries(carried).map(([part, o]) => `${part} (${o.date.slice(0, 16).replace('T', ' ')} UTC, source ${o.source.commit})`).join(', ')}`;
}

/**
 * What the suite has measured so far, in bench/results/partial.json (not committed): a bench that
 * fails an hour in does not take the figures before it along.
 */
function checkpoint(figures: Record<string, unknown>): void {
  const file = join(ROOT, 'bench', 'results', 'partial.json');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  let sofar: Record<string, unknown> = {};
  try {
    sofar = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // first checkpoint of the run
  }
  writeFileSync(file, JSON.stringify({ ...sofar, ...figures, checkpointAt: new Date().toISOString() }, null, 2) + '\n');
}

/** The table's rows for issue 14's comparisons and the whole pipeline. */
function issue14Rows(
  s: Parameters<typeof namedFigures>[0],
  f: ReturnType<typeof namedFigures>,
  sinkLive: Awaited<ReturnType<typeof benchSinkProcess>>,
): string[] {
  const c = s.compare;
  const run = (r: typeof c.aedes) => `${r.readingsPerSecond} (p99 ${r.latencyMs.p99} ms, RSS ${r.process.steadyRssMb} MB, CPU ${r.process.cpuPct} %)`;
  const pipe = (p: typeof s.pipelinePg) =>
    `${p.readingsPerSecond} stored / ${p.acceptedReadingsPerSecond} accepted; p50 ${p.latencyMs.p50} / p99 ${p.latencyMs.p99} ms; ${p.loss.lost} lost, ${p.loss.duplicated} doubled (${p.loss.rows} rows checked)`;
  const r1k = s.resources.rates['at_1k'];
  const r10k = s.resources.rates['at_10k'];
  return [
    `| MQTT QoS 1 side by side (${c.load.clients} clients × ${c.load.window} in flight, ${c.load.readingsPerMessage} readings a message, ${c.load.seconds} s, ${c.load.generator}): Mosquitto ${c.mosquitto.version}, persistence false, readings/s | ${run(c.mosquitto)} |`,
    `| … plain aedes (in-memory, no pipeline), readings/s | ${run(c.aedes)} |`,
    `| … gateway, outbox synchronous=NORMAL, readings/s | ${run(c.gatewayNormal)} |`,
    `| … gateway as shipped, synchronous=FULL (validated, fsynced before PUBACK), readings/s | ${run(c.gateway)} |`,
    `| mqtt_vs_mosquitto.ratio / mqtt_vs_aedes.ratio / pipeline (NORMAL ÷ aedes) / fsync (FULL ÷ NORMAL) | ${c.ratioToMosquitto} / ${c.ratioToAedes} / ${c.pipelineRatio} / ${c.durabilityRatio} |`,
    `| bytes on the wire per reading, noisy sensor values: LZ4 batch / protobuf batch / JSON per message (wire.ratio_to_json; forward.encoding: columns) | ${s.wire.noisy.bytesPerReading.lz4Batch} / ${s.wire.noisy.bytesPerReading.protobufBatch} / ${s.wire.noisy.bytesPerReading.jsonPerMessage} (${s.wire.noisy.ratioToJson}) |`,
    `| … the load generator's values (seq, cycling temperature and humidity) | ${s.wire.load.bytesPerReading.lz4Batch} / ${s.wire.load.bytesPerReading.protobufBatch} / ${s.wire.load.bytesPerReading.jsonPerMessage} (${s.wire.load.ratioToJson}) |`,
    `| … noisy values in the readings encoding (forward.encoding: readings; wire.readings_ratio_to_json) | ${s.wire.noisy.bytesPerReading.readingsLz4Batch} / ${s.wire.noisy.bytesPerReading.readingsProtobufBatch} / ${s.wire.noisy.bytesPerReading.jsonPerMessage} (${s.wire.noisy.readingsRatioToJson}) |`,
    `| backlog drain ÷ live MQTT ingest (drain_vs_live.ratio: ${f.drain_vs_live.drain_readings_per_s} ÷ ${f.drain_vs_live.live_readings_per_s} readings/s) | ${f.drain_vs_live.ratio} |`,
    `| sink into PostgreSQL ÷ bare COPY of the same rows (sink_vs_copy: each device every 100 s / every second) | ${f.sink_vs_copy.ratio} / ${f.sink_vs_copy.ratio_dense} |`,
    ...(r1k && r10k
      ? [
          `| gateway process RSS idle / at 1,000 / at 10,000 readings/s, most sampled (steady; VmHWM) MB, forwarding to Kafka, ${s.resources.seconds} s each | ${f.gateway_rss_mb.idle} / ${f.gateway_rss_mb.at_1k} (${f.gateway_rss_mb.steady_at_1k}; ${f.gateway_rss_mb.hwm_at_1k}) / ${f.gateway_rss_mb.at_10k} (${f.gateway_rss_mb.steady_at_10k}; ${f.gateway_rss_mb.hwm_at_10k}) |`,
          `| gateway process CPU % of one core / disk bytes written per reading, at 1,000 and 10,000 readings/s (accepted ${r1k.acceptedReadingsPerSecond} and ${r10k.acceptedReadingsPerSecond}) | ${r1k.cpuPct} / ${r1k.diskBytesPerReading}; ${r10k.cpuPct} / ${r10k.diskBytesPerReading} |`,
        ]
      : []),
    `| sink process alone, ${sinkLive.readings} readings produced live at ${sinkLive.offeredRate ?? 'backlog'} readings/s into PostgreSQL 15: stored readings/s; produced → ledger p50 / p99 ms; CPU µs per reading sink / server | ${sinkLive.readingsPerSecond}; ${sinkLive.latencyMs?.p50 ?? '–'} / ${sinkLive.latencyMs?.p99 ?? '–'}; ${us(sinkLive.cpuSecondsPerMillion)} / ${us(sinkLive.server.cpuSecondsPerMillion)} |`,
    `| whole pipeline into PostgreSQL 15 as deployed (${s.pipelinePg.offeredReadingsPerSecond} readings/s offered, ${s.pipelinePg.readingsPerMessage} a message, ${s.pipelinePg.clients} devices, ${s.pipelinePg.seconds} s; ${s.pipelinePg.databaseSetup}) | ${pipe(s.pipelinePg)} |`,
    `| … the same at ${s.pipelinePgLow.offeredReadingsPerSecond} readings/s offered for ${s.pipelinePgLow.seconds} s (pipeline_pg_low) | ${pipe(s.pipelinePgLow)} |`,
    `| whole pipeline into the embedded TimescaleDB (fieldline-cloud all; ${s.pipelineEmbedded.offeredReadingsPerSecond} readings/s offered, ${s.pipelineEmbedded.seconds} s) | ${pipe(s.pipelineEmbedded)} |`,
  ];
}

/** CPU seconds per million readings are CPU microseconds per reading. */
const us = (cpuSecondsPerMillion: number): number => Math.round(cpuSecondsPerMillion * 100) / 100;

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
