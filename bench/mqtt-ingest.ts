// MQTT ingest capacity: QoS 1 readings per second acknowledged by a real Gateway, i.e. committed to its
// SQLite outbox, with the default validation pipeline (rate limits, device registry with
// auto-registration, decode, normalize, range checks). Kafka points at a port nothing listens on, so
// the forwarder never takes anything out of the outbox: this measures ingest, not forwarding (the
// end-to-end bench measures that). At the end the outbox is reopened from its file and must hold every
// acknowledged reading, or the bench fails.
//
// SD-card wear: the bytes the gateway sent toward the disk over the measured window divided by the
// readings acknowledged in it. The MQTT load runs in a worker thread of the same process, so the
// gateway's bytes are the process's (/proc/self/io write_bytes, see disk-io.ts) minus the load
// thread's own (/proc/thread-self/io), both read at the window's two ends; the load's are reported
// beside the figure (normally 0: its bytes go to sockets).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../gateway/src/config/schema.js';
import { Gateway } from '../gateway/src/gateway.js';
import { SqliteOutbox } from '../gateway/src/outbox/sqlite-outbox.js';
import { freePort } from '../devstack/net.js';
import { benchDataDir } from './data-dir.js';
import { describeFilesystem, diskWrites, ioMinus, type DiskWrites, type ProcIo } from './disk-io.js';
import type { MqttLoadParams, MqttLoadReport } from './mqtt-load.js';
import { runIfMain } from './run-alone.js';

export interface MqttIngestBenchOptions {
  /** Measured seconds (after a one-second warm-up). Default $BENCH_SECONDS or 10. */
  seconds?: number;
  /** MQTT connections; each is one device. */
  clients?: number;
  /** PUBLISHes each client keeps waiting for their PUBACK. */
  window?: number;
  /** Metric values per message (each one a reading): seq, temperature, humidity, then extras. */
  metricsPerMessage?: number;
  /** The outbox's SQLite synchronous setting; the gateway's default is FULL. */
  synchronous?: 'FULL' | 'NORMAL';
}

export interface MqttIngestBenchResult {
  /** Readings (metric values) acknowledged per second: messagesPerSecond × readingsPerMessage. */
  readingsPerSecond: number;
  /** QoS 1 PUBLISHes acknowledged (PUBACK) per second. */
  messagesPerSecond: number;
  readingsPerMessage: number;
  seconds: number;
  clients: number;
  window: number;
  /** Publish → PUBACK of the messages acknowledged while measuring. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Over the whole run (warm-up and drain included). */
  acknowledged: { messages: number; readings: number };
  /** Recounted from the SQLite file after the gateway stopped; equals `acknowledged`. */
  outboxDepth: { messages: number; readings: number };
  /** Devices in the gateway's registry at the end: one per client, auto-registered. */
  devicesRegistered: number;
  /** Publishes that got no PUBACK (must be 0). */
  failures: number;
  /** The gateway's loss counters at the end (must all be 0: nothing throttled, quarantined or evicted). */
  loss: { rateLimited: number; quarantined: number; evicted: number };
  outboxSynchronous: 'FULL' | 'NORMAL';
  /** MQTT session state in LevelDB (the gateway's default) or in memory. */
  persistSessions: boolean;
  validation: string;
  rateLimit: string;
  /** The gateway's disk writes over the measured window (the load thread's taken out), per reading acknowledged in it. */
  disk: DiskWrites & {
    /** Where the gateway's data directory (outbox, MQTT sessions) lived. */
    filesystem: string;
    /** The whole process over the window: the gateway's writes plus loadThreadWindow. */
    processWindow: ProcIo;
    /** The load worker thread's own counters over the window, taken out of the figure. */
    loadThreadWindow: ProcIo;
    /** The load worker thread's own counters over the whole run, start-up included. */
    loadThread: ProcIo;
  };
}

/** High enough that no bucket ever runs dry: the step runs, and never throttles. */
const UNTHROTTLED = { ratePerSecond: 1_000_000, burst: 1_000_000 };
const DEVICE_PREFIX = 'bench-mqtt-';

export async function benchMqttIngest(opts: MqttIngestBenchOptions = {}): Promise<MqttIngestBenchResult> {
  const seconds = opts.seconds ?? Number(process.env.BENCH_SECONDS ?? 10);
  const clients = opts.clients ?? 8;
  const window = opts.window ?? 100;
  const metricsPerMessage = opts.metricsPerMessage ?? 3;
  const synchronous = opts.synchronous ?? 'FULL';
  const { dir, filesystem } = benchDataDir('fieldline-bench-mqtt-');
  const cfg = gatewayConfigSchema.parse({
    gatewayId: 'gw-bench',
    dataDir: dir,
    logLevel: 'silent',
    mqtt: { host: '127.0.0.1', port: 0 },
    coap: { enabled: false },
    api: { host: '127.0.0.1', port: 0, adminToken: 'local-admin-token-for-the-bench' },
    outbox: { synchronous },
    // Nothing listens there, so the forwarder never leases from the outbox.
    kafka: { brokers: `127.0.0.1:${await freePort()}` },
    rateLimit: { profiles: { default: UNTHROTTLED }, perProtocol: { mqtt: UNTHROTTLED, coap: UNTHROTTLED, modbus: UNTHROTTLED } },
  });
  const gateway = new Gateway(cfg, pino({ level: 'silent' }));
  let stopped = false;
  try {
    await gateway.start();
    const params: MqttLoadParams = {
      role: 'mqtt-ingest-bench-load',
      url: `mqtt://127.0.0.1:${gateway.mqtt!.boundPort}`,
      clients,
      window,
      metricsPerMessage,
      devicePrefix: DEVICE_PREFIX,
      warmupMs: 1_000,
      measureMs: seconds * 1_000,
    };
    const report = await new Promise<MqttLoadReport>((resolve, reject) => {
      const worker = new Worker(new URL('./mqtt-load.js', import.meta.url), { workerData: params });
      worker.once('message', (m: MqttLoadReport) => resolve(m));
      worker.once('error', reject);
      worker.once('exit', (code) => code !== 0 && reject(new Error(`MQTT load worker exited with ${code}`)));
    });
    const forwarded = gateway.forwarder.status().deliveredReadings;
    const loss = { ...gateway.metrics.loss };
    const devicesRegistered = gateway.registry.list().filter((d) => d.deviceId.startsWith(DEVICE_PREFIX)).length;
    await gateway.stop();
    stopped = true;
    // Recount from the file rather than trust the in-memory counter: what was acknowledged is on disk.
    const reopened = new SqliteOutbox({ path: join(dir, 'outbox.db') });
    const depth = reopened.stats();
    reopened.close();

    const acknowledged = { messages: report.totalAcks, readings: report.totalAcks * metricsPerMessage };
    const outboxDepth = { messages: depth.depthMessages, readings: depth.depthValues };
    const problems = [
      forwarded !== 0 && `the forwarder delivered ${forwarded} readings; Kafka was meant to be unreachable`,
      outboxDepth.readings !== acknowledged.readings && `outbox holds ${outboxDepth.readings} readings, ${acknowledged.readings} were acknowledged`,
      outboxDepth.messages !== acknowledged.messages && `outbox holds ${outboxDepth.messages} messages, ${acknowledged.messages} were acknowledged`,
      report.failures !== 0 && `${report.failures} publishes failed (first: ${report.firstFailure})`,
      loss.rateLimited + loss.quarantined + loss.evicted !== 0 && `loss counters not zero: ${JSON.stringify(loss)}`,
      devicesRegistered !== clients && `${devicesRegistered} devices registered, expected ${clients}`,
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length) throw new Error(`MQTT ingest bench is not honest: ${problems.join('; ')}`);

    const sorted = Array.from(report.latencies).sort((a, b) => a - b);
    const pct = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    const messagesPerSecond = report.measuredAcks / (report.measuredMs / 1_000);
    return {
      readingsPerSecond: Math.round(messagesPerSecond * metricsPerMessage),
      messagesPerSecond: Math.round(messagesPerSecond),
      readingsPerMessage: metricsPerMessage,
      seconds: Number((report.measuredMs / 1_000).toFixed(1)),
      clients,
      window,
      latencyMs: { p50: pct(0.5), p99: pct(0.99), max: round(sorted.at(-1) ?? 0) },
      acknowledged,
      outboxDepth,
      devicesRegistered,
      failures: report.failures,
      loss,
      outboxSynchronous: cfg.outbox.synchronous,
      persistSessions: cfg.mqtt.persistSessions,
      validation: `default pipeline: rate limit, registry (autoRegister ${cfg.devices.autoRegister}), decode, normalize, ranges ${Object.keys(cfg.pipeline.ranges).join(' and ')}`,
      rateLimit: `on, limits raised to ${UNTHROTTLED.ratePerSecond.toLocaleString('en')} messages/s (burst ${UNTHROTTLED.burst.toLocaleString('en')}) per device and per protocol so nothing is throttled`,
      disk: {
        ...diskWrites(ioMinus(report.processIoWindow, report.loadThreadIoWindow), report.measuredAcks * metricsPerMessage),
        filesystem: describeFilesystem(filesystem),
        processWindow: report.processIoWindow,
        // The load worker should write nothing; on a fresh checkout it was seen writing 40-72 KiB
        // over the whole run (module loading). Whatever it writes in the window is not the gateway's.
        loadThreadWindow: report.loadThreadIoWindow,
        loadThread: report.loadThreadIo,
      },
    };
  } finally {
    if (!stopped) {
      await gateway.stop().catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

// `node dist/bench/mqtt-ingest.js` runs it alone.
runIfMain(import.meta.url, () => benchMqttIngest());
