// The gateway's MQTT QoS 1 ingest side by side with what people would pick instead, in the same run,
// with the same load generator (bench/loadgen, its own process) and the same load: 8 devices × 100
// PUBLISHes in flight, 3 readings a message. Each broker runs alone, in its own process:
//   - Mosquitto 2 (Debian) with persistence off: a PUBACK there means "received", nothing more;
//   - plain aedes, the library the gateway is built on, with no pipeline and in-memory state;
//   - the gateway with synchronous=NORMAL: validated and committed to the outbox, but the commit is
//     not fsynced (safe against a crash of the process, not of the power);
//   - the gateway as shipped, synchronous=FULL: validated and fsynced before the PUBACK.
// So gateway FULL ÷ Mosquitto is the headline, gateway FULL ÷ aedes the whole cost of what we add,
// gateway NORMAL ÷ aedes the cost of the pipeline and the outbox without the fsync, and gateway FULL
// ÷ gateway NORMAL the cost of the fsync alone. Kafka is unreachable, so the forwarder takes nothing
// out of the outbox: this is ingest. Afterwards the outbox file must hold every acknowledged reading.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOYED_GATEWAY_ENV, GatewayChild } from '../devstack/gateway-child.js';
import { freePort, repoRoot, spawnLogged, waitForPort, type LoggedProcess } from '../devstack/net.js';
import { SqliteOutbox } from '../gateway/src/outbox/sqlite-outbox.js';
import { benchDataDir } from './data-dir.js';
import { startLoad, type LoadOptions, type LoadReport } from './loadgen.js';
import { sampleProcess, type ProcSeries } from './proc-stats.js';
import { runIfMain } from './run-alone.js';

export interface BrokerRun {
  broker: string;
  /** PUBACKs inside the measured window, and the window: the rates are these divided. */
  measuredAcks: number;
  measuredSeconds: number;
  readingsPerSecond: number;
  messagesPerSecond: number;
  latencyMs: LoadReport['latencyMs'];
  acknowledgedMessages: number;
  failures: number;
  /** The broker process over the measured run: RSS and CPU (% of one core). */
  process: Pick<ProcSeries, 'peakRssMb' | 'steadyRssMb' | 'cpuPct' | 'cpuSeconds'>;
  /** CPU seconds the load generator used beside it. */
  loadCpuSeconds: number;
  timeline: LoadReport['timeline'];
}

export interface MqttCompareResult {
  load: { clients: number; window: number; readingsPerMessage: number; seconds: number; generator: string };
  mosquitto: BrokerRun & { version: string };
  aedes: BrokerRun;
  gatewayNormal: BrokerRun & { outboxReadings: number };
  gateway: BrokerRun & { outboxReadings: number };
  /** Gateway (FULL) ÷ Mosquitto: the headline; target ≥ 0.8. */
  ratioToMosquitto: number;
  /** Gateway (FULL) ÷ plain aedes: what the pipeline and durability cost together. */
  ratioToAedes: number;
  /** Gateway (NORMAL) ÷ plain aedes: the pipeline and the outbox without the fsync. */
  pipelineRatio: number;
  /** Gateway FULL ÷ gateway NORMAL: the fsync before each PUBACK. */
  durabilityRatio: number;
}

export interface MqttCompareOptions {
  seconds?: number;
  clients?: number;
  window?: number;
  metricsPerMessage?: number;
}

const ratio = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 100) / 100 : NaN);

async function measure(broker: string, pid: number, load: LoadOptions): Promise<BrokerRun> {
  const running = await startLoad(load);
  const sampler = sampleProcess(pid, 500);
  let report: LoadReport;
  let series: ProcSeries;
  try {
    report = await running.done;
  } finally {
    series = sampler.stop();
  }
  if (report.failures > 0) throw new Error(`${broker}: ${report.failures} PUBLISHes got no PUBACK (first: ${report.firstFailure})`);
  return {
    broker,
    measuredAcks: report.measuredAcks,
    measuredSeconds: report.measuredSeconds,
    readingsPerSecond: Math.round((report.measuredAcks * report.readingsPerMessage) / report.measuredSeconds),
    messagesPerSecond: Math.round(report.measuredAcks / report.measuredSeconds),
    latencyMs: report.latencyMs,
    acknowledgedMessages: report.totalAcks,
    failures: report.failures,
    process: { peakRssMb: series.peakRssMb, steadyRssMb: series.steadyRssMb, cpuPct: series.cpuPct, cpuSeconds: series.cpuSeconds },
    loadCpuSeconds: report.loadCpuSeconds,
    timeline: report.timeline,
  };
}

async function startMosquitto(dir: string): Promise<{ proc: LoggedProcess; url: string }> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // Persistence off and no limits that would throttle the load: Mosquitto at its fastest.
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_type error', 'log_type warning', ''].join('\n'));
  const proc = spawnLogged(MOSQUITTO, ['-c', conf], { logDir: dir, logName: 'mosquitto.log' });
  await waitForPort(port);
  return { proc, url: `mqtt://127.0.0.1:${port}` };
}

async function startAedes(dir: string): Promise<{ proc: LoggedProcess; url: string }> {
  const port = await freePort();
  const proc = spawnLogged(process.execPath, [join(repoRoot(), 'dist', 'bench', 'aedes-plain.js'), String(port)], { logDir: dir, logName: 'aedes.log' });
  await waitForPort(port);
  return { proc, url: `mqtt://127.0.0.1:${port}` };
}

async function runBroker(name: string, started: { proc: LoggedProcess; url: string }, load: Omit<LoadOptions, 'url'>): Promise<BrokerRun> {
  try {
    return await measure(name, started.proc.pid, { ...load, url: started.url });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${started.proc.logTail(2000)}`);
  } finally {
    await started.proc.stop('SIGTERM');
  }
}

const MOSQUITTO = process.env.FIELDLINE_MOSQUITTO ?? '/usr/sbin/mosquitto';

/** "mosquitto version 2.0.11" from `mosquitto -h`'s first line. */
function mosquittoVersion(): string {
  const r = spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' });
  return /mosquitto version \S+/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? 'mosquitto (version unknown)';
}

async function runGateway(dir: string, name: string, synchronous: 'FULL' | 'NORMAL', load: Omit<LoadOptions, 'url'>): Promise<BrokerRun & { outboxReadings: number }> {
  const gw = await GatewayChild.create({
    dir: join(dir, name),
    gatewayId: `gw-compare-${name}`,
    // Nothing listens there: the forwarder never takes anything out of the outbox.
    brokers: `127.0.0.1:${await freePort()}`,
    config: { logLevel: 'warn', outbox: { synchronous } },
  });
  let run: BrokerRun;
  await gw.start(DEPLOYED_GATEWAY_ENV);
  try {
    run = await measure(`gateway (outbox synchronous=${synchronous})`, gw.pid, { ...load, url: gw.mqttUrl });
  } finally {
    await gw.stop();
  }
  // What was acknowledged is on disk: recount it from the file the stopped gateway left.
  const outbox = new SqliteOutbox({ path: join(gw.dataDir, 'outbox.db') });
  const outboxReadings = outbox.stats().depthValues;
  outbox.close();
  const acked = run.acknowledgedMessages * load.metricsPerMessage;
  if (outboxReadings !== acked) throw new Error(`${run.broker}: ${acked} readings acknowledged but ${outboxReadings} in the outbox file`);
  return { ...run, outboxReadings };
}

export async function benchMqttCompare(opts: MqttCompareOptions = {}): Promise<MqttCompareResult> {
  const seconds = opts.seconds ?? Number(process.env.BENCH_SECONDS ?? 20);
  const base = {
    clients: opts.clients ?? 8,
    window: opts.window ?? 100,
    metricsPerMessage: opts.metricsPerMessage ?? 3,
    seconds,
    warmupSeconds: 1,
  };
  const load = (prefix: string): Omit<LoadOptions, 'url'> => ({ ...base, devicePrefix: prefix });
  const { dir } = benchDataDir('fieldline-bench-compare-');
  try {
    const mosquitto = await runBroker('Mosquitto (persistence false)', await startMosquitto(dir), load('cmp-mosq-'));
    const aedes = await runBroker('plain aedes (in-memory, no pipeline)', await startAedes(dir), load('cmp-aedes-'));
    const gatewayNormal = await runGateway(dir, 'normal', 'NORMAL', load('cmp-gwn-'));
    const gateway = await runGateway(dir, 'full', 'FULL', load('cmp-gw-'));
    return {
      load: { clients: base.clients, window: base.window, readingsPerMessage: base.metricsPerMessage, seconds, generator: 'bench/loadgen (Go, Eclipse Paho MQTT 1.5), its own process' },
      mosquitto: { ...mosquitto, version: mosquittoVersion() },
      aedes,
      gatewayNormal,
      gateway,
      ratioToMosquitto: ratio(gateway.readingsPerSecond, mosquitto.readingsPerSecond),
      ratioToAedes: ratio(gateway.readingsPerSecond, aedes.readingsPerSecond),
      pipelineRatio: ratio(gatewayNormal.readingsPerSecond, aedes.readingsPerSecond),
      durabilityRatio: ratio(gateway.readingsPerSecond, gatewayNormal.readingsPerSecond),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node dist/bench/mqtt-compare.js` runs it alone.
runIfMain(import.meta.url, () => benchMqttCompare());
