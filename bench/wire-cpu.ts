// CPU per reading of the wire codec, both encodings: the gateway's encode (encodeLeasedBatch from the
// outbox's stored Reading bytes, LZ4 included), which runs on its main thread, and the sink's decode
// (decodeBatch: LZ4, protobuf, columns back into Reading objects). Batches of bench/wire.ts's noisy
// fleet, cut at the forwarder's bound. CPU time (process.cpuUsage), not wall time, so another
// process on the machine does not count; the two encodings alternate round by round so a change in
// load hits both alike. Run alone: `node dist/bench/wire-cpu.js [batches]`.
import { encodeLeasedBatch } from '../gateway/src/forward/encode.js';
import type { LeasedBatch } from '../gateway/src/outbox/outbox.js';
import { decodeBatch, SourceProtocol, v1, type BatchEncoding } from '../proto/src/wire.js';
import { runIfMain } from './run-alone.js';
import { fleetMessages } from './wire.js';

export interface WireCpuOptions {
  /** Batches encoded and decoded per encoding; 200 by default. */
  batches?: number;
  /** Readings (metric values) per batch; 5,000 (kafka.batchMaxReadings) by default. */
  batchReadings?: number;
  /** Rounds the batches are split into, alternating the encodings; 10 by default. */
  rounds?: number;
}

export interface WireCpuResult {
  readingsPerEncoding: number;
  /** µs of CPU per reading (metric value), two decimals. */
  encodeUsPerReading: Record<BatchEncoding, number>;
  decodeUsPerReading: Record<BatchEncoding, number>;
  /** Compressed bytes per reading, as a check that the batches are the ones bench/wire.ts measures. */
  bytesPerReading: Record<BatchEncoding, number>;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export async function benchWireCpu(opts: WireCpuOptions = {}): Promise<WireCpuResult> {
  const batchCount = opts.batches ?? 200;
  const perBatch = opts.batchReadings ?? 5_000;
  const rounds = Math.max(1, Math.min(opts.rounds ?? 10, batchCount));
  const messagesPerBatch = Math.floor(perBatch / 3);
  // A few distinct batches (the fleet's first hours), reused: what matters is the per-reading work.
  const distinct = Math.min(batchCount, 20);
  const fleet = fleetMessages({ messages: distinct * messagesPerBatch, devices: 100, readingsPerMessage: 3, intervalMs: 1_000, values: 'noisy' });
  const batches: LeasedBatch[] = [];
  for (let b = 0; b < distinct; b++) {
    const slice = fleet.slice(b * messagesPerBatch, (b + 1) * messagesPerBatch);
    const readings = slice.map((m) => Buffer.from(v1.Reading.encode({ deviceId: m.deviceId, tsMs: m.tsMs, metrics: m.metrics, source: SourceProtocol.SOURCE_PROTOCOL_MQTT }).finish()));
    batches.push({ seq: b + 1, createdMs: slice.at(-1)!.tsMs + 20, values: messagesPerBatch * 3, readings });
  }
  const encodings: BatchEncoding[] = ['readings', 'columns'];
  const encodeUs = { readings: 0, columns: 0 };
  const decodeUs = { readings: 0, columns: 0 };
  const bytes = { readings: 0, columns: 0 };
  const values = { readings: 0, columns: 0 };
  // Warm both paths up, so the JIT's work is not billed to whichever runs first.
  for (const e of encodings) for (const b of batches) decodeBatch(encodeLeasedBatch('gw-cpu', b, e).value);
  for (let round = 0; round < rounds; round++) {
    const n = Math.floor(batchCount / rounds) + (round < batchCount % rounds ? 1 : 0);
    for (const e of round % 2 === 0 ? encodings : [...encodings].reverse()) {
      const values0 = values[e];
      let t = cpuUs();
      const encoded = [];
      for (let i = 0; i < n; i++) {
        const b = batches[i % batches.length]!;
        encoded.push(encodeLeasedBatch('gw-cpu', b, e).value);
        values[e] += b.values;
      }
      encodeUs[e] += cpuUs() - t;
      t = cpuUs();
      let decoded = 0;
      for (const v of encoded) decoded += decodeBatch(v).readings.length * 3;
      decodeUs[e] += cpuUs() - t;
      if (decoded !== values[e] - values0) throw new Error(`${e}: decoded ${decoded} readings, encoded ${values[e] - values0}`);
      for (const v of encoded) bytes[e] += v.length;
    }
  }
  const per = (t: Record<BatchEncoding, number>): Record<BatchEncoding, number> => ({
    readings: Math.round((t.readings / values.readings) * 100) / 100,
    columns: Math.round((t.columns / values.columns) * 100) / 100,
  });
  return { readingsPerEncoding: values.columns, encodeUsPerReading: per(encodeUs), decodeUsPerReading: per(decodeUs), bytesPerReading: per(bytes) };
}

runIfMain(import.meta.url, async () => benchWireCpu({ batches: Number(process.argv[2] ?? 200) }));
