// The MQTT ingest bench's load, run in a worker thread so the clients do not share the gateway's
// event loop: `clients` MQTT.js connections, each a device publishing QoS 1 JSON readings to
// devices/{id}/telemetry and keeping up to `window` PUBLISHes waiting for their PUBACK.
// Kept apart from bench/mqtt-ingest.ts so the worker loads only mqtt, not the gateway's native modules.
import mqtt from 'mqtt';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ioDelta, processIo, threadIo, type ProcIo } from './disk-io.js';

export interface MqttLoadParams {
  role: 'mqtt-ingest-bench-load';
  url: string;
  clients: number;
  window: number;
  metricsPerMessage: number;
  devicePrefix: string;
  warmupMs: number;
  measureMs: number;
}

export interface MqttLoadReport {
  /** PUBACKs received inside the measured window. */
  measuredAcks: number;
  measuredMs: number;
  /** PUBACKs received over the whole run: warm-up, window and the drain of the last in-flight ones. */
  totalAcks: number;
  /** Publishes that failed (connection lost, refused): never counted as acknowledged. */
  failures: number;
  firstFailure: string | null;
  /** Publish → PUBACK of every PUBACK received inside the window, in ms. */
  latencies: Float64Array;
  /**
   * The whole process's I/O accounting (/proc/self/io) over the measured window, read here so it
   * brackets exactly the window the PUBACKs are counted in.
   */
  processIoWindow: ProcIo;
  /** This worker thread's own I/O over the whole load (/proc/thread-self/io); its disk writes should be 0. */
  loadThreadIo: ProcIo;
  /**
   * This worker thread's own I/O over the measured window, read at the same moments as
   * processIoWindow: subtracted from it, what is left is the gateway's writes.
   */
  loadThreadIoWindow: ProcIo;
}

/** One message's payload: `seq`, then temperature and humidity inside the default ranges, then plain extra metrics. */
export function payload(seq: number, metrics: number): string {
  const m: Record<string, number> = { seq };
  if (metrics >= 2) m['temperature'] = 20 + (seq % 10);
  if (metrics >= 3) m['humidity'] = 40 + (seq % 20);
  for (let i = 3; i < metrics; i++) m[`m${i}`] = seq % 1000;
  return JSON.stringify({ metrics: m });
}

async function load(p: MqttLoadParams): Promise<MqttLoadReport> {
  const threadIoStart = threadIo();
  // No reconnects: a dropped connection must show up as failures, not as silently resent messages.
  const clients = await Promise.all(
    Array.from({ length: p.clients }, (_, i) => mqtt.connectAsync(p.url, { clientId: `${p.devicePrefix}${i}`, reconnectPeriod: 0, clean: true })),
  );
  let measuring = false;
  let running = true;
  let measuredAcks = 0;
  let totalAcks = 0;
  let failures = 0;
  let firstFailure: string | null = null;
  const latencies: number[] = [];

  const loops = clients.map(async (client, i) => {
    const topic = `devices/${p.devicePrefix}${i}/telemetry`;
    const inflight = new Set<Promise<void>>();
    let seq = 0;
    while (running) {
      while (inflight.size < p.window && running) {
        const sentAt = performance.now();
        const pub: Promise<void> = client
          .publishAsync(topic, payload(++seq, p.metricsPerMessage), { qos: 1 })
          .then(
            () => {
              totalAcks++;
              // The rate counts PUBACKs that arrive inside the window, whenever their PUBLISH left.
              if (measuring) {
                measuredAcks++;
                latencies.push(performance.now() - sentAt);
              }
            },
            (err: unknown) => {
              failures++;
              firstFailure ??= (err as Error).message;
            },
          )
          .finally(() => inflight.delete(pub));
        inflight.add(pub);
      }
      if (inflight.size > 0) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  });

  await new Promise((resolve) => setTimeout(resolve, p.warmupMs));
  const threadIoWindowStart = threadIo();
  const ioStart = processIo();
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, p.measureMs));
  measuring = false;
  const measuredMs = performance.now() - started;
  const processIoWindow = ioDelta(ioStart, processIo());
  const loadThreadIoWindow = ioDelta(threadIoWindowStart, threadIo());
  running = false;
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.endAsync()));
  const loadThreadIo = ioDelta(threadIoStart, threadIo());
  return {
    measuredAcks, measuredMs, totalAcks, failures, firstFailure, latencies: Float64Array.from(latencies), processIoWindow, loadThreadIo, loadThreadIoWindow,
  };
}

if (!isMainThread && (workerData as Partial<MqttLoadParams> | null)?.role === 'mqtt-ingest-bench-load') {
  load(workerData as MqttLoadParams).then(
    (report) => parentPort?.postMessage(report, [report.latencies.buffer as ArrayBuffer]),
    (err: unknown) => {
      throw err;
    },
  );
}
