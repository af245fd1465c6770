// npm run bench: the benchmark suite. Writes bench/results/latest.json and latest.md.
// The end-to-end benches run first, on the whole stack; the stack is stopped before the ingest
// benches (MQTT, CoAP, Modbus), so those have the two cores to themselves.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../test/e2e/harness.js';
import { benchCoap } from './coap.js';
import { benchEndToEnd } from './e2e.js';
import { benchModbus } from './modbus.js';
import { benchMqttIngest } from './mqtt-ingest.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 20);
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  console.log(`machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}`);
  const latencyRate = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
  const stack = await startStack();
  let e2e: Awaited<ReturnType<typeof benchEndToEnd>>;
  let steady: Awaited<ReturnType<typeof benchEndToEnd>>;
  try {
    console.log(`end to end: MQTT QoS 1 → outbox → Kafka → embedded TimescaleDB, ${seconds} s at full load…`);
    e2e = await benchEndToEnd(stack, { clients: 8, window: 100, seconds, tag: 'max' });
    console.log(`publish → row latency at ${latencyRate} readings/s offered, ${seconds} s…`);
    steady = await benchEndToEnd(stack, { clients: 8, window: 100, seconds, rate: latencyRate, tag: 'steady' });
  } finally {
    await stack.stop();
  }

  console.log(`MQTT ingest: QoS 1 → validation → SQLite outbox (Kafka unreachable), ${seconds} s…`);
  const mqtt = await benchMqttIngest({ seconds });
  console.log(`CoAP ingest: confirmable POSTs → pipeline → SQLite outbox, ${seconds} s…`);
  const coap = await benchCoap({ seconds });
  console.log(`Modbus: polling the pymodbus Modbus/TCP slave, ${seconds} s…`);
  const modbus = await benchModbus({ seconds });

  const results = {
    date: new Date().toISOString(),
    machine,
    endToEnd: e2e,
    steady: { offeredReadingsPerSecond: latencyRate, ...steady },
    mqttIngest: mqtt,
    coapIngest: coap,
    modbusTcp: modbus,
  };
  const table = [
    '| figure | value |',
    '|---|---|',
    `| end to end readings/s (MQTT QoS 1 in → rows in the embedded TimescaleDB) | ${e2e.readingsPerSecond} |`,
    `| readings acknowledged / stored | ${e2e.readingsAcked} / ${e2e.readingsStored} |`,
    `| publish → row latency p50 / p99 / max at full load (ms, ${e2e.latencyMs.samples} probe samples) | ${e2e.latencyMs.p50} / ${e2e.latencyMs.p99} / ${e2e.latencyMs.max} |`,
    `| publish → row latency p50 / p99 / max at ${latencyRate} readings/s offered (ms, ${steady.latencyMs.samples} probe samples) | ${steady.latencyMs.p50} / ${steady.latencyMs.p99} / ${steady.latencyMs.max} |`,
    `| MQTT QoS 1 ingest readings/s into the outbox, validation on (${mqtt.clients} clients × ${mqtt.window} in flight, ${mqtt.readingsPerMessage} readings a message, synchronous=${mqtt.outboxSynchronous}) | ${mqtt.readingsPerSecond} |`,
    `| MQTT QoS 1 ingest messages/s (PUBACKs) | ${mqtt.messagesPerSecond} |`,
    `| MQTT publish → PUBACK p50 / p99 / max (ms) | ${mqtt.latencyMs.p50} / ${mqtt.latencyMs.p99} / ${mqtt.latencyMs.max} |`,
    `| MQTT readings acknowledged / in the outbox after the run (rate limits raised so nothing throttles; ${mqtt.loss.rateLimited + mqtt.loss.quarantined + mqtt.loss.evicted} lost) | ${mqtt.acknowledged.readings} / ${mqtt.outboxDepth.readings} |`,
    `| CoAP confirmable requests/s answered 2.04 (${coap.endpoints} endpoints, ${coap.devices} devices, synchronous=${coap.outboxSynchronous}, rate limit ${coap.rateLimit}) | ${coap.requestsPerSecond} |`,
    `| CoAP readings/s (3 a request) | ${coap.readingsPerSecond} |`,
    `| CoAP request → response p50 / p99 / max (ms) | ${coap.latencyMs.p50} / ${coap.latencyMs.p99} / ${coap.latencyMs.max} |`,
    `| Modbus/TCP registers/s (pymodbus slave, one connection, ${modbus.registersPerRequest}-register reads) | ${modbus.registersPerSecond} |`,
    `| Modbus/TCP requests/s / ms per request / errors | ${modbus.requestsPerSecond} / ${modbus.msPerRequest} / ${modbus.errors} |`,
  ].join('\n');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.md'), `Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}\n\n${table}\n`);
  console.log(table);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
