// What `npm run bench` makes of its results: the figures the issues name (issue 14's
// `pipeline_pg.readings_per_s`, `mqtt_vs_mosquitto.ratio`, …), each target with met or missed and by
// how much, the plots, and the section of docs/BENCHMARKS.md that shows the latest run.
import type { DrainLiveResult } from './drain-live.js';
import { existsSync } from 'node:fs';
import type { GatewayResourcesResult } from './gateway-resources.js';
import type { MqttCompareResult } from './mqtt-compare.js';
import type { PipelineBenchResult } from './pipeline.js';
import { barChartSvg, lineChartSvg } from './plots.js';
import { newestCpuProfile, profileMarkdown, summarizeCpuProfile, type CpuProfileSummary } from './profile-summary.js';
import type { WireResult } from './wire.js';
import type { FleetScaleResult } from './fleet-scale.js';

export interface SummaryInputs {
  compare: MqttCompareResult;
  wire: { load: WireResult; noisy: WireResult };
  resources: GatewayResourcesResult;
  pipelinePg: PipelineBenchResult;
  pipelineEmbedded: PipelineBenchResult;
  /** The same pipeline into PostgreSQL at a rate it has room for. */
  pipelinePgLow: PipelineBenchResult;
  /** Bare COPY ratio from bench/sink-pg.ts, sparse and dense devices. */
  sinkVsCopy: { ratio: number; ratioDense: number; storeRowsPerSecond: number; bareCopyRowsPerSecond: number };
  /** Backlog drain (outbox → Kafka) and live MQTT ingest, readings/s. */
  drain: { drainReadingsPerSecond: number; liveReadingsPerSecond: number };
  fleet: FleetScaleResult;
  /** Issue 15: live readings while a backlog drains (bench/drain-live.ts); absent from runs before it. */
  drainLive?: DrainLiveResult;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;
const r1 = (x: number): number => Math.round(x * 10) / 10;

function pipelineFigures(p: PipelineBenchResult) {
  return {
    readings_per_s: p.readingsPerSecond,
    accepted_readings_per_s: p.acceptedReadingsPerSecond,
    offered_readings_per_s: p.offeredReadingsPerSecond,
    readings_per_message: p.readingsPerMessage,
    seconds: p.seconds,
    p50_ms: p.latencyMs.p50,
    p99_ms: p.latencyMs.p99,
    lost: p.loss.lost,
    duplicated: p.loss.duplicated,
    drained: p.drained,
    gateway_peak_rss_mb: p.gateway.peakSampledRssMb,
    sink_peak_rss_mb: p.sink.peakSampledRssMb,
  };
}

/** The named figures, as issue 14 spells them; latest.json carries them at its top level. */
export function namedFigures(s: SummaryInputs) {
  const res = (key: string) => {
    const r = s.resources.rates[key];
    if (!r) throw new Error(`gateway resources bench has no ${key} figure`);
    return r;
  };
  const at1k = res('at_1k');
  const at10k = res('at_10k');
  return {
    pipeline_pg: pipelineFigures(s.pipelinePg),
    pipeline_pg_low: pipelineFigures(s.pipelinePgLow),
    pipeline_embedded: pipelineFigures(s.pipelineEmbedded),
    mqtt_vs_mosquitto: {
      ratio: s.compare.ratioToMosquitto,
      gateway_readings_per_s: s.compare.gateway.readingsPerSecond,
      mosquitto_readings_per_s: s.compare.mosquitto.readingsPerSecond,
    },
    mqtt_vs_aedes: {
      ratio: s.compare.ratioToAedes,
      aedes_readings_per_s: s.compare.aedes.readingsPerSecond,
      /** The pipeline and the outbox without the fsync ÷ plain aedes. */
      pipeline_ratio: s.compare.pipelineRatio,
      /** Gateway FULL ÷ gateway NORMAL: the fsync's share. */
      durability_ratio: s.compare.durabilityRatio,
    },
    wire: {
      /** With sensor-like noisy values: what a real fleet sends. */
      ratio_to_json: s.wire.noisy.ratioToJson,
      ratio_to_json_load_values: s.wire.load.ratioToJson,
      /** The readings encoding (forward.encoding: readings, for sinks before schema major 2), noisy values. */
      readings_ratio_to_json: s.wire.noisy.readingsRatioToJson,
      readings_lz4_bytes_per_reading: s.wire.noisy.bytesPerReading.readingsLz4Batch,
      lz4_bytes_per_reading: s.wire.noisy.bytesPerReading.lz4Batch,
      protobuf_bytes_per_reading: s.wire.noisy.bytesPerReading.protobufBatch,
      json_bytes_per_reading: s.wire.noisy.bytesPerReading.jsonPerMessage,
    },
    gateway_rss_mb: {
      idle: at1k.idleRssMb,
      /** The most RSS sampled while the load ran. */
      at_1k: at1k.series.peakSampledRssMb,
      at_10k: at10k.series.peakSampledRssMb,
      steady_at_1k: at1k.steadyRssMb,
      steady_at_10k: at10k.steadyRssMb,
      /** VmHWM: the most the process ever held, start-up included. */
      hwm_at_1k: at1k.peakRssMb,
      hwm_at_10k: at10k.peakRssMb,
    },
    gateway_cpu_pct: { at_1k: at1k.cpuPct, at_10k: at10k.cpuPct },
    gateway_disk_bytes_per_reading: { at_1k: at1k.diskBytesPerReading, at_10k: at10k.diskBytesPerReading },
    sink_vs_copy: { ratio: s.sinkVsCopy.ratio, ratio_dense: s.sinkVsCopy.ratioDense },
    drain_vs_live: {
      ratio: r2(s.drain.drainReadingsPerSecond / s.drain.liveReadingsPerSecond),
      drain_readings_per_s: s.drain.drainReadingsPerSecond,
      live_readings_per_s: s.drain.liveReadingsPerSecond,
    },
    ...(s.drainLive ? { drain_live: drainLiveFigures(s.drainLive) } : {}),
  };
}

function drainLiveFigures(d: DrainLiveResult) {
  return {
    p99_ms: d.latency.p99,
    p50_ms: d.latency.p50,
    backlog_readings: d.readings,
    live_readings_per_s: d.liveRate,
    drain_readings_per_s: d.drainReadingsPerSecond,
    lost: d.lost,
    doubled: d.doubled,
  };
}

export type NamedFigures = ReturnType<typeof namedFigures>;

export interface Target {
  what: string;
  target: string;
  measured: string;
  met: boolean;
  /** How far off a missed target is, in words ("23 % short", "1.4× over"). */
  gap: string;
}

function atLeast(what: string, value: number, min: number, unit: string, note = ''): Target {
  const met = value >= min;
  const short = (1 - value / min) * 100;
  return { what, target: `≥ ${min}${unit}`, measured: `${value}${unit}${note}`, met, gap: met ? '' : `${short < 10 ? short.toFixed(1) : Math.round(short)} % short` };
}

function atMost(what: string, value: number, max: number, unit: string): Target {
  const met = value <= max;
  return { what, target: `≤ ${max}${unit}`, measured: `${value}${unit}`, met, gap: met ? '' : `${r2(value / max)}× the limit` };
}

/** Issue 14's targets on 2 cores, and issue 15's live-first drain. */
export function targets(f: NamedFigures): Target[] {
  const pg = f.pipeline_pg;
  return [
    atLeast('whole pipeline into PostgreSQL, readings/s sustained', pg.readings_per_s, 50_000, '', ` (offered ${pg.offered_readings_per_s}, accepted ${pg.accepted_readings_per_s})`),
    atMost('whole pipeline into PostgreSQL, end-to-end p99', pg.p99_ms, 1000, ' ms'),
    { what: 'whole pipeline into PostgreSQL, loss (row by row)', target: '0', measured: `${pg.lost} lost, ${pg.duplicated} doubled`, met: pg.lost === 0 && pg.duplicated === 0, gap: pg.lost ? `${pg.lost} readings` : '' },
    atLeast('gateway durable QoS 1 ingest ÷ Mosquitto (persistence off)', f.mqtt_vs_mosquitto.ratio, 0.8, '×'),
    atMost('bytes on the wire ÷ JSON per message (noisy sensor values)', f.wire.ratio_to_json, 0.125, '×'),
    atMost('gateway RSS at 1,000 readings/s (most sampled)', f.gateway_rss_mb.at_1k, 80, ' MB'),
    atMost('gateway RSS at 10,000 readings/s (most sampled)', f.gateway_rss_mb.at_10k, 120, ' MB'),
    // Issue 15, acceptance 1.
    ...('drain_live' in f && f.drain_live
      ? [
        atMost(`live readings at ${f.drain_live.live_readings_per_s}/s while ${f.drain_live.backlog_readings} backlog readings drain, end-to-end p99`, f.drain_live.p99_ms, 2000, ' ms'),
        { what: 'backlog drain with live data first, loss (row by row)', target: '0', measured: `${f.drain_live.lost} lost, ${f.drain_live.doubled} doubled`, met: f.drain_live.lost === 0 && f.drain_live.doubled === 0, gap: f.drain_live.lost ? `${f.drain_live.lost} readings` : '' },
      ]
      : []),
  ];
}

export function targetsMarkdown(ts: Target[]): string {
  return ['| target | wanted | measured | |', '|---|---|---|---|', ...ts.map((t) => `| ${t.what} | ${t.target} | ${t.measured} | ${t.met ? 'met' : `**missed** (${t.gap})`} |`)].join('\n');
}

/** The plots, name → SVG; docs/BENCHMARKS.md links them from docs/bench/<name>.svg. */
export function plots(s: SummaryInputs): Record<string, Promise<string>> {
  const pg = s.pipelinePg;
  const emb = s.pipelineEmbedded;
  const rssSeries = (name: string, samples: { t: number; rssMb: number }[]) => ({ name, points: samples.map((x) => ({ x: x.t, y: x.rssMb })) });
  const at1k = s.resources.rates['at_1k'];
  const at10k = s.resources.rates['at_10k'];
  const c = s.compare;
  return {
    'pipeline-throughput': lineChartSvg({
      title: `Whole pipeline: readings/s accepted and stored (offered ${pg.offeredReadingsPerSecond.toLocaleString('en')}/s)`,
      xTitle: 'time since the load started (s)',
      yTitle: 'readings/s',
      series: [
        { name: 'PostgreSQL: accepted (PUBACKed)', points: pg.timeline.map((p) => ({ x: p.t, y: p.acceptedReadingsPerSecond })) },
        { name: 'PostgreSQL: stored', points: pg.timeline.map((p) => ({ x: p.t, y: p.storedReadingsPerSecond })) },
        { name: `PostgreSQL at ${s.pipelinePgLow.offeredReadingsPerSecond.toLocaleString('en')}/s: stored`, points: s.pipelinePgLow.timeline.map((p) => ({ x: p.t, y: p.storedReadingsPerSecond })) },
        { name: `embedded: stored (offered ${emb.offeredReadingsPerSecond.toLocaleString('en')}/s)`, points: emb.timeline.map((p) => ({ x: p.t, y: p.storedReadingsPerSecond })) },
      ],
    }),
    'pipeline-latency': lineChartSvg({
      title: 'Whole pipeline: publish → row visible, probe messages, per 5 s',
      xTitle: 'time since the load started (s)',
      yTitle: 'latency (ms, log)',
      yLog: true,
      series: [
        { name: 'PostgreSQL p50', points: pg.timeline.map((p) => ({ x: p.t, y: p.e2eP50Ms ?? NaN })) },
        { name: 'PostgreSQL p99', points: pg.timeline.map((p) => ({ x: p.t, y: p.e2eP99Ms ?? NaN })) },
        { name: `PostgreSQL at ${s.pipelinePgLow.offeredReadingsPerSecond.toLocaleString('en')}/s p99`, points: s.pipelinePgLow.timeline.map((p) => ({ x: p.t, y: p.e2eP99Ms ?? NaN })) },
        { name: 'embedded p50', points: emb.timeline.map((p) => ({ x: p.t, y: p.e2eP50Ms ?? NaN })) },
        { name: 'embedded p99', points: emb.timeline.map((p) => ({ x: p.t, y: p.e2eP99Ms ?? NaN })) },
      ],
    }),
    'memory': lineChartSvg({
      title: 'Resident memory over the runs',
      xTitle: 'time since sampling started (s)',
      yTitle: 'RSS (MB)',
      series: [
        rssSeries('gateway, pipeline into PostgreSQL', pg.gateway.samples),
        rssSeries('sink, pipeline into PostgreSQL', pg.sink.samples),
        ...(at1k ? [rssSeries('gateway at 1,000 readings/s', at1k.series.samples)] : []),
        ...(at10k ? [rssSeries('gateway at 10,000 readings/s', at10k.series.samples)] : []),
      ],
    }),
    'mqtt-compare': barChartSvg({
      title: `MQTT QoS 1 ingest, same load: Mosquitto without persistence, plain aedes, the gateway with its outbox at synchronous NORMAL and FULL`,
      yTitle: 'readings/s acknowledged',
      bars: [
        { label: 'Mosquitto', value: c.mosquitto.readingsPerSecond, group: 'alternative' },
        { label: 'plain aedes', value: c.aedes.readingsPerSecond, group: 'alternative' },
        { label: 'gateway NORMAL', value: c.gatewayNormal.readingsPerSecond, group: 'Fieldline' },
        { label: 'gateway FULL', value: c.gateway.readingsPerSecond, group: 'Fieldline' },
      ],
    }),
    'mqtt-ratios': barChartSvg({
      title: 'Gateway (durable) ÷ the alternatives',
      yTitle: 'ratio',
      bars: [
        { label: '÷ Mosquitto', value: c.ratioToMosquitto },
        { label: '÷ plain aedes', value: c.ratioToAedes },
        { label: 'NORMAL ÷ aedes', value: c.pipelineRatio },
        { label: 'FULL ÷ NORMAL (fsync)', value: c.durabilityRatio },
      ],
      rule: { value: 0.8, label: 'target 0.8×' },
    }),
    'wire': barChartSvg({
      title: 'Bytes on the wire per reading',
      yTitle: 'bytes per reading',
      bars: (['load', 'noisy'] as const).flatMap((v) => [
        { label: `JSON per message (${v})`, value: s.wire[v].bytesPerReading.jsonPerMessage, group: `${v} values` },
        { label: `protobuf batch (${v})`, value: s.wire[v].bytesPerReading.protobufBatch, group: `${v} values` },
        { label: `LZ4 protobuf batch (${v})`, value: s.wire[v].bytesPerReading.lz4Batch, group: `${v} values` },
      ]),
    }),
    'fleet-scale': barChartSvg({
      title: 'One sink instance as the fleet grows (gateway ids feeding Kafka)',
      yTitle: 'readings/s stored into PostgreSQL 15',
      bars: s.fleet.steps.map((x) => ({ label: `${x.gateways.toLocaleString('en')} gateways`, value: x.sink.readingsPerSecond })),
    }),
  };
}

export interface ProfileSummaries {
  gateway: CpuProfileSummary | null;
  sink: CpuProfileSummary | null;
}

/** The newest profile each process of the pipeline run left. */
export function pipelineProfiles(p: PipelineBenchResult): ProfileSummaries {
  const pick = (paths: string[] | undefined): CpuProfileSummary | null => {
    const path = (paths ?? []).find((x) => existsSync(x)) ?? null;
    return path ? summarizeCpuProfile(path, { top: 12 }) : null;
  };
  return { gateway: pick(p.cpuProfiles?.gateway), sink: pick(p.cpuProfiles?.sink) };
}

export function profilesMarkdown(p: ProfileSummaries, rate: number): string {
  // The fifteen biggest areas say where the time goes; the long tail of small packages is in latest.json.
  const top = (x: CpuProfileSummary): CpuProfileSummary => ({ ...x, byArea: x.byArea.slice(0, 15) });
  p = { gateway: p.gateway && top(p.gateway), sink: p.sink && top(p.sink) };
  return [
    p.gateway ? profileMarkdown(p.gateway, `gateway process, pipeline into PostgreSQL at ${rate.toLocaleString('en')} readings/s offered`) : '(no gateway profile)',
    p.sink ? profileMarkdown(p.sink, `sink process (fieldline-cloud sink), same run`) : '(no sink profile)',
  ].join('\n\n');
}

export { newestCpuProfile, r1 };
