// The process the fuzz test attacks: the CoAP adapter with the real pipeline and outbox, on its own
// so that a crash shows as a dead process. Prints {"port"} once listening; answers "stats" (and
// "gc-stats", which collects garbage first so heap figures compare) on stdin with one JSON line;
// exits on "exit" or when stdin closes.
import { createInterface } from 'node:readline';
import { startRealGateway } from './support.js';

const gw = await startRealGateway();
const stats = () => ({
  received: gw.metrics.get('coap', 'received'),
  dropped: gw.metrics.get('coap', 'dropped'),
  sent: gw.metrics.get('coap', 'sent'),
  errors: gw.metrics.get('coap', 'errors'),
  counts: gw.adapter.counts,
  status: gw.adapter.status().detail,
  rssBytes: process.memoryUsage().rss,
  heapUsedBytes: process.memoryUsage().heapUsed,
});
process.stdout.write(JSON.stringify({ port: gw.port }) + '\n');

const lines = createInterface({ input: process.stdin });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await gw.stop();
  process.exit(0);
};
lines.on('line', (line) => {
  if (line === 'stats' || line === 'gc-stats') {
    if (line === 'gc-stats') globalThis.gc?.();
    process.stdout.write(JSON.stringify(stats()) + '\n');
  } else if (line === 'exit') void stop();
});
lines.on('close', () => void stop());
