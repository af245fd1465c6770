// The process the fuzz tests attack: a whole Gateway (every adapter its config turns on, the
// pipeline, the SQLite outbox, the forwarder, the local API), alone in a child process so that a
// crash shows as a dead process. argv[2] is the config as JSON (gatewayConfigSchema input). Talks
// to its parent over the IPC channel (see target.ts): says "ready" with the bound ports, answers
// "stats" with counters and memory, and stops the gateway and exits 0 on "exit" or when the parent
// goes away. Nothing here catches errors: an uncaught one must kill the process.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import type { CounterKind } from '../../gateway/src/metrics.js';
import type { TargetRequest, TargetStats, TargetMessage } from './target.js';

const send = (m: TargetMessage) => process.send?.(m);
const gw = new Gateway(gatewayConfigSchema.parse(JSON.parse(process.argv[2] ?? '{}')));
await gw.start();
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

function stats(req: Extract<TargetRequest, { cmd: 'stats' }>): TargetStats {
  if (req.gc) {
    // Twice: the first pass can leave objects with finalizers for the second.
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('the target needs --expose-gc');
    gc();
    gc();
  }
  const kinds: CounterKind[] = ['received', 'sent', 'dropped', 'errors'];
  const stages = Object.fromEntries(
    ['mqtt', 'coap', 'ingest', 'commit'].map((stage) => [stage, Object.fromEntries(kinds.map((k) => [k, gw.metrics.get(stage, k)]))]),
  ) as TargetStats['stages'];
  const status = gw.status();
  const mem = process.memoryUsage();
  const out: TargetStats = {
    stages,
    coapCounts: gw.coap ? { ...gw.coap.counts } : null,
    adapters: status.adapters,
    outbox: gw.outbox.stats(),
    loss: { ...gw.metrics.loss },
    deviceLoss: Object.fromEntries((req.devices ?? []).map((d) => [d, gw.metrics.deviceLoss.get(d) ?? null])),
    trackedDevices: gw.metrics.deviceLoss.size,
    refusals: status.refusals,
    tcpSockets: process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length,
    memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers },
    maxEventLoopDelayMs: lag.max / 1e6,
  };
  if (req.gc) lag.reset();
  return out;
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  lag.disable();
  await gw.stop();
  process.exit(0);
}

process.on('message', (req: TargetRequest) => {
  if (req.cmd === 'stats') send({ id: req.id, stats: stats(req) });
  else if (req.cmd === 'exit') void stop();
});
process.on('disconnect', () => void stop());
send({
  id: 0,
  ready: { mqtt: gw.mqtt?.boundPort ?? 0, ws: gw.mqtt?.wsPort ?? 0, coap: gw.coap?.boundPort ?? 0, api: gw.apiPort },
});
