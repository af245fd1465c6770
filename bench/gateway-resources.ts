// The gateway's resident memory, CPU and disk writes at a given load (issue 14's targets: RSS ≤ 80 MB
// at 1,000 readings/s and ≤ 120 MB at 10,000). The gateway runs as deployed, in its own process from
// dist with its default settings (outbox synchronous FULL, MQTT sessions persisted, forwarding to a
// real Kafka broker with the deployed kafka settings), its data on a disk filesystem. Each rate gets
// a fresh gateway process, so one rate's heap growth does not carry over into the next: the idle RSS
// is sampled first (after start-up settles), then the Go load generator offers the rate for
// `seconds` while /proc is sampled.
//
// Disk bytes per reading are the gateway process's /proc write_bytes over the sampled window divided
// by the readings acknowledged in it (the load generator's PUBACKs over its whole run, which the
// window encloses). Before the figures are reported the gateway must have forwarded every
// acknowledged reading (its /status), with nothing rate-limited, quarantined or evicted.
// Run alone: `node dist/bench/gateway-resources.js` (BENCH_RSS_SECONDS, default 60).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEPLOYED_GATEWAY_ENV, GatewayChild } from '../devstack/gateway-child.js';
import { startKafka, type KafkaBroker } from '../devstack/kafka.js';
import { FIELDLINE_TOPICS } from '../devstack/topics.js';
import { benchDataDir } from './data-dir.js';
import { describeFilesystem } from './disk-io.js';
import { runLoad } from './loadgen.js';
import { sampleProcess, type ProcSeries } from './proc-stats.js';
import { runIfMain } from './run-alone.js';

export interface GatewayResourcesOptions {
  /** Offered readings per second, one gateway process each. Default [1000, 10000]. */
  rates?: number[];
  /** Seconds of load at each rate. Default $BENCH_RSS_SECONDS or 60. */
  seconds?: number;
  /** Default 100 devices. */
  clients?: number;
  /** Default 10 readings a message (a multi-channel meter), as in the pipeline bench. */
  metricsPerMessage?: number;
  window?: number;
  /** Seconds of idle sampling after start-up settled. Default 5. */
  idleSeconds?: number;
}

export interface GatewayResourcesAtRate {
  offeredReadingsPerSecond: number;
  /** Readings PUBACKed per second inside the load's measured window. */
  acceptedReadingsPerSecond: number;
  /** Readings PUBACKed over the load's whole run (the denominator of bytesPerReading). */
  ackedReadings: number;
  /** Load publishes that got no PUBACK (must be 0). */
  failures: number;
  /** Before the load: the median RSS over idleSeconds, after start-up settled. */
  idleRssMb: number;
  /** VmHWM at the end of the load: the most the process ever held resident. */
  peakRssMb: number;
  /** Median RSS over the second half of the load. */
  steadyRssMb: number;
  /** Average over the load, % of one core. */
  cpuPct: number;
  cpuSeconds: number;
  diskWriteBytes: number;
  /** diskWriteBytes ÷ ackedReadings. */
  diskBytesPerReading: number;
  /** The gateway's delivered-readings counter at the end (every acknowledged reading was forwarded). */
  forwardedReadings: number;
  series: ProcSeries;
  idle: ProcSeries;
}

export interface GatewayResourcesResult {
  /** Figures keyed by rate: `at_1k`, `at_10k` (…`at_<n>k`), for gateway_rss_mb.at_1k / at_10k. */
  rates: Record<string, GatewayResourcesAtRate>;
  seconds: number;
  clients: number;
  readingsPerMessage: number;
  dataFilesystem: string;
  setup: string;
}

const GATEWAY_ID = 'gw-bench-rss';
const DEVICE_PREFIX = 'bench-rss-';
/** The gateway's kafka settings as deployed (GatewayChild's test defaults retry sooner). */
const DEPLOYED_KAFKA = { retryBackoffMinMs: 500, retryBackoffMaxMs: 30_000, messageTimeoutMs: 30_000, heartbeatIntervalMs: 30_000 };

/** `at_1k` for 1000, `at_10k` for 10000, `at_2500` for a rate that is not whole thousands. */
export function rateKey(rate: number): string {
  return rate % 1000 === 0 ? `at_${rate / 1000}k` : `at_${rate}`;
}

async function atRate(kafka: KafkaBroker, dir: string, rate: number, o: Required<GatewayResourcesOptions>): Promise<GatewayResourcesAtRate> {
  const gateway = await GatewayChild.create({ dir, gatewayId: GATEWAY_ID, brokers: kafka.bootstrap });
  try {
    gateway.writeConfig({ kafka: DEPLOYED_KAFKA });
    await gateway.start(DEPLOYED_GATEWAY_ENV);
    // Start-up's own allocations (modules, the outbox's first pages) settle before idle is read.
    await sleep(3_000);
    const idleSampler = sampleProcess(gateway.pid, 500);
    await sleep(o.idleSeconds * 1000);
    const idle = idleSampler.stop();

    const sampler = sampleProcess(gateway.pid);
    let series: ProcSeries;
    let report;
    try {
      report = await runLoad({
        url: gateway.mqttUrl,
        clients: o.clients,
        window: o.window,
        metricsPerMessage: o.metricsPerMessage,
        devicePrefix: DEVICE_PREFIX,
        seconds: o.seconds,
        rate,
      });
    } finally {
      series = sampler.stop();
    }
    const ackedReadings = report.totalAcks * o.metricsPerMessage;

    // Forwarded, not merely stored: the figure is for the gateway doing its whole job.
    const deadline = Date.now() + 120_000;
    let status = await gateway.status();
    while (status.cloud.deliveredReadings < ackedReadings && Date.now() < deadline) {
      await sleep(250);
      status = await gateway.status();
    }
    const loss = status.loss;
    if (report.failures > 0 || status.cloud.deliveredReadings !== ackedReadings || loss.rateLimited + loss.quarantined + loss.evicted > 0) {
      throw new Error(
        `gateway-resources at ${rate}/s is not clean: ${report.failures} load failures (${report.firstFailure}), ${ackedReadings} acknowledged, ` +
          `${status.cloud.deliveredReadings} forwarded, loss ${JSON.stringify(loss)}`,
      );
    }
    return {
      offeredReadingsPerSecond: rate,
      acceptedReadingsPerSecond: Math.round(report.readingsPerSecond),
      ackedReadings,
      failures: report.failures,
      idleRssMb: idle.steadyRssMb,
      peakRssMb: series.peakRssMb,
      steadyRssMb: series.steadyRssMb,
      cpuPct: series.cpuPct,
      cpuSeconds: series.cpuSeconds,
      diskWriteBytes: series.diskWriteBytes,
      diskBytesPerReading: ackedReadings > 0 ? Math.round((series.diskWriteBytes / ackedReadings) * 10) / 10 : 0,
      forwardedReadings: status.cloud.deliveredReadings,
      series,
      idle,
    };
  } finally {
    await gateway.stop(30_000);
  }
}

export async function benchGatewayResources(opts: GatewayResourcesOptions = {}): Promise<GatewayResourcesResult> {
  const o: Required<GatewayResourcesOptions> = {
    rates: opts.rates ?? [1_000, 10_000],
    seconds: opts.seconds ?? Number(process.env.BENCH_RSS_SECONDS ?? 60),
    clients: opts.clients ?? 100,
    metricsPerMessage: opts.metricsPerMessage ?? 10,
    window: opts.window ?? 10,
    idleSeconds: opts.idleSeconds ?? 5,
  };
  const { dir, filesystem } = benchDataDir('fieldline-bench-rss-');
  let kafka: KafkaBroker | undefined;
  try {
    kafka = await startKafka({ dataDir: join(dir, 'kafka'), logDir: dir });
    await kafka.createTopics([...FIELDLINE_TOPICS]);
    const rates: Record<string, GatewayResourcesAtRate> = {};
    for (const [i, rate] of o.rates.entries()) {
      rates[rateKey(rate)] = await atRate(kafka, join(dir, `gateway-${i}`), rate, o);
    }
    return {
      rates,
      seconds: o.seconds,
      clients: o.clients,
      readingsPerMessage: o.metricsPerMessage,
      dataFilesystem: describeFilesystem(filesystem),
      setup: 'gateway process from dist, default settings (outbox synchronous FULL, persisted MQTT sessions), deployed kafka settings, generous rate limits; a fresh process per rate; Kafka broker on the same machine',
    };
  } finally {
    await kafka?.destroy().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, () => benchGatewayResources());
