// npm run bench: the benchmark suite. Writes bench/results/latest.json and latest.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../test/e2e/harness.js';
import { benchEndToEnd } from './e2e.js';

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
  const stack = await startStack();
  try {
    console.log(`end to end: MQTT QoS 1 → outbox → Kafka → embedded TimescaleDB, ${seconds} s at full load…`);
    const e2e = await benchEndToEnd(stack, { clients: 8, window: 100, seconds, tag: 'max' });
    const latencyRate = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
    console.log(`publish → row latency at ${latencyRate} readings/s offered, ${seconds} s…`);
    const steady = await benchEndToEnd(stack, { clients: 8, window: 100, seconds, rate: latencyRate, tag: 'steady' });
    const results = { date: new Date().toISOString(), machine, endToEnd: e2e, steady: { offeredReadingsPerSecond: latencyRate, ...steady } };
    const table = [
      '| figure | value |',
      '|---|---|',
      `| end to end readings/s (MQTT QoS 1 in → rows in the embedded TimescaleDB) | ${e2e.readingsPerSecond} |`,
      `| readings acknowledged / stored | ${e2e.readingsAcked} / ${e2e.readingsStored} |`,
      `| publish → row latency p50 / p99 / max at full load (ms, ${e2e.latencyMs.samples} probe samples) | ${e2e.latencyMs.p50} / ${e2e.latencyMs.p99} / ${e2e.latencyMs.max} |`,
      `| publish → row latency p50 / p99 / max at ${latencyRate} readings/s offered (ms, ${steady.latencyMs.samples} probe samples) | ${steady.latencyMs.p50} / ${steady.latencyMs.p99} / ${steady.latencyMs.max} |`,
    ].join('\n');
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2) + '\n');
    writeFileSync(join(ROOT, 'bench', 'results', 'latest.md'), `Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}\n\n${table}\n`);
    console.log(table);
  } finally {
    await stack.stop();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
