// CoAP ingest capacity: confirmable POSTs per second answered 2.04 through the adapter, the real
// pipeline and the SQLite outbox (synchronous=FULL, so every 2.04 is on disk). The load comes from a
// worker thread (this same file), so on a small machine the client does not take the gateway's
// event loop: many endpoints, each a device that keeps one request outstanding (RFC 7252 §4.7
// NSTART = 1) and retransmits after ACK_TIMEOUT like a real one.
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../gateway/src/config/schema.js';
import { CoapAdapter } from '../gateway/src/ingest/coap/adapter.js';
import { coapConfigSchema } from '../gateway/src/ingest/coap/config.js';
import { Code, ContentFormat, Opt, codeString, emptyMessage, encodeMessage, encodeUint, parseMessage } from '../gateway/src/ingest/coap/message.js';
import { Metrics } from '../gateway/src/metrics.js';
import { SqliteOutbox } from '../gateway/src/outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from '../gateway/src/pipeline/pipeline.js';

export interface CoapBenchOptions {
  /** Measured seconds (after a one-second warm-up). Default BENCH_SECONDS or 10. */
  seconds?: number;
  /** Client endpoints (UDP sockets), each with one request outstanding. */
  endpoints?: number;
  /** Device ids the requests rotate through. */
  devices?: number;
}

export interface CoapBenchResult {
  /** Confirmable POSTs answered 2.04 per second. */
  requestsPerSecond: number;
  /** The same in readings (each request carries 3 metric values). */
  readingsPerSecond: number;
  requests: number;
  seconds: number;
  endpoints: number;
  devices: number;
  /** Every response code seen while measuring. */
  codes: Record<string, number>;
  retransmissions: number;
  /** Request sent → response received. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Readings in the outbox at the end: at least 3 × every 2.04 (warm-up included). */
  committedReadings: number;
  outboxSynchronous: 'FULL';
  /** The per-device and per-protocol rate limits are off: this measures capacity, not the configured cap. */
  rateLimit: 'off';
}

interface LoadParams {
  role: 'coap-bench-load';
  port: number;
  endpoints: number;
  devices: number;
  warmupMs: number;
  measureMs: number;
}

interface LoadReport {
  requests: number;
  codes: Record<string, number>;
  retransmissions: number;
  latencies: number[];
  measuredMs: number;
}

const VALUES_PER_REQUEST = 3;
const ACK_TIMEOUT_MS = 2000;

export async function benchCoap(opts: CoapBenchOptions = {}): Promise<CoapBenchResult> {
  const seconds = opts.seconds ?? Number(process.env.BENCH_SECONDS ?? 10);
  const endpoints = opts.endpoints ?? 64;
  const devices = opts.devices ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-bench-coap-'));
  const metrics = new Metrics();
  const outbox = new SqliteOutbox({ path: join(dir, 'outbox.db'), synchronous: 'FULL' });
  const pipeline = new Pipeline('bench', defaultSteps(benchConfig()), outbox, metrics);
  const adapter = new CoapAdapter(coapConfigSchema.parse({ host: '127.0.0.1', port: 0 }), metrics, pino({ level: 'warn' }));
  try {
    await adapter.start((env) => pipeline.process(env));
    const params: LoadParams = { role: 'coap-bench-load', port: adapter.boundPort, endpoints, devices, warmupMs: 1000, measureMs: seconds * 1000 };
    const report = await new Promise<LoadReport>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: params });
      worker.once('message', (m: LoadReport) => resolve(m));
      worker.once('error', reject);
      worker.once('exit', (code) => code !== 0 && reject(new Error(`load worker exited with ${code}`)));
    });
    const sorted = [...report.latencies].sort((a, b) => a - b);
    const pct = (p: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
    const perSecond = report.requests / (report.measuredMs / 1000);
    return {
      requestsPerSecond: Math.round(perSecond),
      readingsPerSecond: Math.round(perSecond * VALUES_PER_REQUEST),
      requests: report.requests,
      seconds,
      endpoints,
      devices,
      codes: report.codes,
      retransmissions: report.retransmissions,
      latencyMs: { p50: pct(0.5), p99: pct(0.99), max: round(sorted.at(-1) ?? 0) },
      committedReadings: outbox.stats().depthValues,
      outboxSynchronous: 'FULL',
      rateLimit: 'off',
    };
  } finally {
    await adapter.stop();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The gateway's defaults with rate limiting switched off, where this version of the schema has it. */
function benchConfig() {
  const defaults = gatewayConfigSchema.parse({});
  return 'rateLimit' in defaults ? gatewayConfigSchema.parse({ rateLimit: { enabled: false } }) : defaults;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The worker: closed-loop confirmable POSTs from `endpoints` sockets. */
async function load(p: LoadParams): Promise<LoadReport> {
  const codes: Record<string, number> = {};
  const latencies: number[] = [];
  let requests = 0;
  let retransmissions = 0;
  let measuring = false;
  let sending = true;
  let outstanding = 0;
  let seq = 0;
  let drained: (() => void) | undefined;
  const sockets: Socket[] = [];
  const pending = new Set<NodeJS.Timeout>();

  const endpoint = async (index: number): Promise<void> => {
    const socket = createSocket('udp4');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    let messageId = (index * 1000) & 0xffff;
    let current: { token: Buffer; messageId: number; bytes: Buffer; sentAt: number; timer: NodeJS.Timeout } | undefined;
    const sendNext = () => {
      if (!sending) {
        if (outstanding === 0) drained?.();
        return;
      }
      const n = ++seq;
      messageId = (messageId + 1) & 0xffff;
      const token = Buffer.alloc(4);
      token.writeUInt32BE(n);
      const bytes = encodeMessage({
        type: 'CON', code: Code.POST, messageId, token,
        options: [
          { number: Opt.URI_PATH, value: Buffer.from('telemetry') },
          { number: Opt.URI_PATH, value: Buffer.from(`bench-coap-${n % p.devices}`) },
          { number: Opt.CONTENT_FORMAT, value: encodeUint(ContentFormat.JSON) },
        ],
        payload: Buffer.from(JSON.stringify({ metrics: { seq: n, temperature: 21.5, humidity: 40 } })),
      });
      const retransmit = (): NodeJS.Timeout => {
        const timer = setTimeout(() => {
          pending.delete(timer);
          retransmissions++;
          socket.send(bytes, p.port, '127.0.0.1');
          if (current) current.timer = retransmit();
        }, ACK_TIMEOUT_MS);
        pending.add(timer);
        return timer;
      };
      current = { token, messageId, bytes, sentAt: performance.now(), timer: retransmit() };
      outstanding++;
      socket.send(bytes, p.port, '127.0.0.1');
    };
    socket.on('message', (buf) => {
      const r = parseMessage(buf);
      if (!r.ok || !current) return;
      const m = r.message;
      // §5.2.2: a separate response comes as a CON of its own and must be acknowledged.
      if (m.type === 'CON') socket.send(emptyMessage('ACK', m.messageId), p.port, '127.0.0.1');
      if (m.code === Code.EMPTY || !m.token.equals(current.token)) return;
      clearTimeout(current.timer);
      pending.delete(current.timer);
      if (measuring) {
        const code = codeString(m.code);
        codes[code] = (codes[code] ?? 0) + 1;
        if (m.code === Code.CHANGED) requests++;
        latencies.push(performance.now() - current.sentAt);
      }
      current = undefined;
      outstanding--;
      sendNext();
    });
    sendNext();
  };

  await Promise.all(Array.from({ length: p.endpoints }, (_, i) => endpoint(i)));
  await new Promise((resolve) => setTimeout(resolve, p.warmupMs));
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, p.measureMs));
  const measuredMs = performance.now() - started;
  measuring = false;
  sending = false;
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([new Promise<void>((resolve) => (drained = resolve)), new Promise((resolve) => (giveUp = setTimeout(resolve, 5000)))]);
  clearTimeout(giveUp);
  for (const t of pending) clearTimeout(t);
  for (const s of sockets) s.close();
  return { requests, codes, retransmissions, latencies, measuredMs };
}

if (!isMainThread && (workerData as Partial<LoadParams> | null)?.role === 'coap-bench-load') {
  load(workerData as LoadParams).then(
    (report) => parentPort?.postMessage(report),
    (err: unknown) => {
      throw err;
    },
  );
}
