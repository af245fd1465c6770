// Bytes on the wire per reading, the same readings several ways: our Kafka value (the LZ4 frame of a
// ReadingBatch, built by the forwarder's own encoder from batches cut the way the outbox leases
// them) in the encoding the forwarder ships by default (forward.encoding: columns) and in the
// readings encoding older sinks read, that protobuf without LZ4, and one JSON Kafka message per
// device message, what a plain MQTT-to-Kafka bridge would send. The fleet is bench/mqtt-load.ts's devices: the same payloads,
// each device once per interval, their phases spread over it, in arrival order at the gateway.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatewayConfigSchema } from '../gateway/src/config/schema.js';
import { DEFAULT_ENCODING, encodeLeasedBatch } from '../gateway/src/forward/encode.js';
import type { LeasedBatch } from '../gateway/src/outbox/outbox.js';
import { decodeBatch, lz4Unframe, SourceProtocol, v1, type BatchEncoding, type EncodedMessage, type Reading } from '../proto/src/wire.js';
import { payload } from './mqtt-load.js';
import { runIfMain } from './run-alone.js';

export interface WireOptions {
  /** Metric values in each device message, as bench/mqtt-load.ts's payload() makes them (seq, temperature, humidity, m3…); 3 by default. */
  readingsPerMessage?: number;
  /** Device messages in all; 100,000 by default. */
  messages?: number;
  /** 100 by default. */
  devices?: number;
  /** How often each device reports, ms; 1,000 by default. */
  intervalMs?: number;
  /** The forwarder's batch bound; the gateway's default (kafka.batchMaxReadings) unless given. */
  batchMaxReadings?: number;
  /**
   * 'load': bench/mqtt-load.ts's payloads as they are (temperature and humidity cycle through 10
   * and 20 whole values, which LZ4 finds easy); 'noisy': the same messages with temperature and
   * humidity as a sensor reports them, a random walk at 0.01 °C and 0.1 %RH resolution. 'load' by default.
   */
  values?: 'load' | 'noisy';
  /** When set, each Kafka value is written there (batch-<seq>.lz4, one JSON message a line in json-per-message.jsonl) so others can check them. */
  writeDir?: string;
}

/** One device message as the gateway receives it over MQTT and stamps it. */
export interface FleetMessage {
  deviceId: string;
  tsMs: number;
  /** The MQTT payload, bytes as the device sent them. */
  payload: string;
  metrics: Record<string, number>;
}

export interface WireSizes {
  /** In the forwarder's default encoding (`encoding`). */
  lz4Batch: number;
  protobufBatch: number;
  jsonPerMessage: number;
  /** The same batches in the readings encoding (forward.encoding: readings; one Reading message each). */
  readingsLz4Batch: number;
  readingsProtobufBatch: number;
}

export interface WireResult {
  values: 'load' | 'noisy';
  /** The encoding lz4Batch and ratioToJson are of: the forwarder's default (forward.encoding). */
  encoding: BatchEncoding;
  devices: number;
  messages: number;
  readingsPerMessage: number;
  readings: number;
  batchMaxReadings: number;
  batches: number;
  /** Total bytes of Kafka message values for all the readings, each way. */
  valueBytes: WireSizes & { devicePayload: number };
  /** valueBytes / readings, two decimals. */
  bytesPerReading: WireSizes & { devicePayload: number };
  /** lz4Batch ÷ jsonPerMessage, from the byte totals (four decimals): `wire.ratio_to_json`. */
  ratioToJson: number;
  /** protobufBatch ÷ jsonPerMessage: what the protobuf alone saves, before LZ4. */
  protobufRatioToJson: number;
  /** readingsLz4Batch ÷ jsonPerMessage: the readings encoding, for sinks before schema major 2 (`wire.readings_ratio_to_json`). */
  readingsRatioToJson: number;
  /** The target: ≤ 1/8 of JSON per message. */
  target: { maxRatio: number; met: boolean };
  /** The same with what Kafka adds to each record (record framing, key, headers), see `counted`. */
  withKafkaRecord: { bytes: WireSizes; bytesPerReading: WireSizes; ratioToJson: number };
  /**
   * Every batch, in both encodings, was decoded back with the sink's decodeBatch and held every
   * device message's readings, each device's in order, values bit for bit (counted once).
   */
  verified: { batches: number; messages: number; readings: number };
  counted: Record<'lz4Batch' | 'protobufBatch' | 'jsonPerMessage' | 'devicePayload' | 'kafkaRecord' | 'readingsLz4Batch', string>;
}

const GATEWAY_ID = 'gw-bench-wire-01';
/** Kafka's record batch header (magic 2): paid once per producer batch, whatever it holds. */
const RECORD_BATCH_HEADER = 61;

/**
 * The fleet's messages in arrival order: device i reports every intervalMs at a phase of its own,
 * with a few ms of jitter, counting seq up from 1 like bench/mqtt-load.ts's clients.
 */
export function fleetMessages(opts: {
  messages: number;
  devices: number;
  readingsPerMessage: number;
  intervalMs: number;
  values?: 'load' | 'noisy';
  startMs?: number;
}): FleetMessage[] {
  const start = opts.startMs ?? Date.UTC(2026, 10, 30, 12, 0, 0);
  const out: FleetMessage[] = [];
  const seqs = new Array<number>(opts.devices).fill(0);
  const sensors = opts.values === 'noisy' ? Array.from({ length: opts.devices }, (_, d) => new NoisySensor(d)) : null;
  for (let k = 0; out.length < opts.messages; k++) {
    const round: FleetMessage[] = [];
    for (let d = 0; d < opts.devices && out.length + round.length < opts.messages; d++) {
      const seq = ++seqs[d]!;
      const phase = Math.floor((d * opts.intervalMs) / opts.devices);
      // A deterministic jitter of 0-6 ms: clocks and radios are never exactly periodic.
      const jitter = (d * 7 + k * 13) % 7;
      let text = payload(seq, opts.readingsPerMessage);
      const metrics = (JSON.parse(text) as { metrics: Record<string, number> }).metrics;
      if (sensors) {
        sensors[d]!.step(metrics);
        text = JSON.stringify({ metrics });
      }
      round.push({ deviceId: `dev-${String(d).padStart(4, '0')}`, tsMs: start + k * opts.intervalMs + phase + jitter, payload: text, metrics });
    }
    round.sort((a, b) => a.tsMs - b.tsMs);
    out.push(...round);
  }
  return out;
}

/** A device's temperature and humidity drifting the way a room's do, seeded by the device's index so runs repeat. */
class NoisySensor {
  private state: number;
  private temperature: number;
  private humidity: number;

  constructor(device: number) {
    this.state = (device + 1) * 0x9e3779b9;
    this.temperature = 18 + (device % 10) + this.random();
    this.humidity = 35 + (device % 30) + this.random() * 5;
  }

  /** mulberry32: a small deterministic generator, uniform in [0, 1). */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Replaces the payload's cycling values (only those it has) with the next step of the walk. */
  step(metrics: Record<string, number>): void {
    this.temperature += (this.random() - 0.5) * 0.1;
    this.humidity = Math.min(95, Math.max(5, this.humidity + (this.random() - 0.5) * 0.6));
    if ('temperature' in metrics) metrics['temperature'] = Math.round(this.temperature * 100) / 100;
    if ('humidity' in metrics) metrics['humidity'] = Math.round(this.humidity * 10) / 10;
  }
}

/** The JSON a bridge would put on Kafka for one device message: who sent it, when, and its metrics. */
export function jsonMessage(gatewayId: string, m: FleetMessage): string {
  return JSON.stringify({ gatewayId, deviceId: m.deviceId, ts: m.tsMs, metrics: m.metrics });
}

/**
 * Cuts encoded readings into batches as SqliteOutbox.lease does: whole messages in append order,
 * as many as fit under maxValues, a message larger than the bound alone.
 */
function leaseAll(encoded: Uint8Array[], values: number[], maxValues: number, createdMs: (lastIndex: number) => number): LeasedBatch[] {
  const batches: LeasedBatch[] = [];
  let i = 0;
  while (i < encoded.length) {
    const readings: Uint8Array[] = [];
    let n = 0;
    while (i < encoded.length && (readings.length === 0 || n + values[i]! <= maxValues)) {
      readings.push(encoded[i]!);
      n += values[i]!;
      i++;
    }
    batches.push({ seq: batches.length + 1, createdMs: createdMs(i - 1), values: n, readings });
  }
  return batches;
}

/** Bytes of a zigzag varint, as Kafka's record format (v2) writes lengths and deltas. */
function varintBytes(n: number): number {
  let z = n >= 0 ? 2 * n : -2 * n - 1;
  let bytes = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    bytes++;
  }
  return bytes;
}

/**
 * One record's bytes in a Kafka v2 record batch: length, attributes, timestamp and offset deltas
 * (counted at their 1-byte minimum), key, value, headers.
 */
function recordBytes(key: string, valueBytes: number, headers: Record<string, string>): number {
  const k = Buffer.byteLength(key);
  let body = 1 + 1 + 1 + varintBytes(k) + k + varintBytes(valueBytes) + valueBytes;
  const hs = Object.entries(headers);
  body += varintBytes(hs.length);
  for (const [hk, hv] of hs) {
    const a = Buffer.byteLength(hk);
    const b = Buffer.byteLength(hv);
    body += varintBytes(a) + a + varintBytes(b) + b;
  }
  return varintBytes(body) + body;
}

export async function benchWire(opts: WireOptions = {}): Promise<WireResult> {
  const readingsPerMessage = opts.readingsPerMessage ?? 3;
  const messagesWanted = opts.messages ?? 100_000;
  const devices = opts.devices ?? 100;
  const intervalMs = opts.intervalMs ?? 1_000;
  const batchMaxReadings = opts.batchMaxReadings ?? gatewayConfigSchema.parse({}).kafka.batchMaxReadings;
  if (readingsPerMessage < 1 || messagesWanted < 1 || devices < 1) throw new RangeError('readingsPerMessage, messages and devices must be at least 1');

  const valuesKind = opts.values ?? 'load';
  const fleet = fleetMessages({ messages: messagesWanted, devices, readingsPerMessage, intervalMs, values: valuesKind });
  // What the MQTT adapter and the pipeline make of each message, encoded as the outbox stores it.
  const readings: Reading[] = fleet.map((m) => ({ deviceId: m.deviceId, tsMs: m.tsMs, metrics: m.metrics, source: SourceProtocol.SOURCE_PROTOCOL_MQTT }));
  const encoded = readings.map((r) => v1.Reading.encode(r).finish());
  const values = fleet.map((m) => Object.keys(m.metrics).length);
  const totalReadings = values.reduce((a, b) => a + b, 0);
  // A batch is leased moments after its last message was committed.
  const batches = leaseAll(encoded, values, batchMaxReadings, (last) => fleet[last]!.tsMs + 20);
  const encoding = DEFAULT_ENCODING;
  const kafkaValues: EncodedMessage[] = batches.map((b) => encodeLeasedBatch(GATEWAY_ID, b, encoding));
  const readingsValues: EncodedMessage[] = batches.map((b) => encodeLeasedBatch(GATEWAY_ID, b, 'readings'));

  const verified = verify(kafkaValues, fleet);
  const verifiedReadings = verify(readingsValues, fleet);
  for (const v of [verified, verifiedReadings]) {
    if (v.readings !== totalReadings || v.messages !== fleet.length) {
      throw new Error(`decoded ${v.readings} readings in ${v.messages} messages; ${totalReadings} in ${fleet.length} were encoded`);
    }
  }

  const valueBytes = { lz4Batch: 0, protobufBatch: 0, jsonPerMessage: 0, readingsLz4Batch: 0, readingsProtobufBatch: 0, devicePayload: 0 };
  const recordTotals = { lz4Batch: 0, protobufBatch: 0, jsonPerMessage: 0, readingsLz4Batch: 0, readingsProtobufBatch: 0 };
  const count = (msgs: EncodedMessage[], lz4: 'lz4Batch' | 'readingsLz4Batch', pb: 'protobufBatch' | 'readingsProtobufBatch'): void => {
    for (const msg of msgs) {
      const plain = lz4Unframe(msg.value).length;
      valueBytes[lz4] += msg.value.length;
      valueBytes[pb] += plain;
      recordTotals[lz4] += RECORD_BATCH_HEADER + recordBytes(msg.key, msg.value.length, msg.headers);
      // The same record without LZ4 says so in its content-encoding header.
      recordTotals[pb] += RECORD_BATCH_HEADER + recordBytes(msg.key, plain, { ...msg.headers, 'content-encoding': 'identity' });
    }
  };
  count(kafkaValues, 'lz4Batch', 'protobufBatch');
  count(readingsValues, 'readingsLz4Batch', 'readingsProtobufBatch');
  const jsonLines: string[] = [];
  for (const m of fleet) {
    const json = jsonMessage(GATEWAY_ID, m);
    const n = Buffer.byteLength(json);
    if (opts.writeDir) jsonLines.push(json);
    valueBytes.jsonPerMessage += n;
    valueBytes.devicePayload += Buffer.byteLength(m.payload);
    // Key gateway_id like ours (same partitioning); no headers: the body already says everything.
    recordTotals.jsonPerMessage += recordBytes(GATEWAY_ID, n, {});
  }

  if (opts.writeDir) {
    mkdirSync(opts.writeDir, { recursive: true });
    for (let i = 0; i < kafkaValues.length; i++) writeFileSync(join(opts.writeDir, `batch-${batches[i]!.seq}.lz4`), kafkaValues[i]!.value);
    writeFileSync(join(opts.writeDir, 'json-per-message.jsonl'), jsonLines.join('\n') + '\n');
  }

  const per = <T extends Record<string, number>>(t: T): T =>
    Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round((v / totalReadings) * 100) / 100])) as T;
  const ratio = (a: number, b: number): number => Math.round((a / b) * 10_000) / 10_000;
  const ratioToJson = ratio(valueBytes.lz4Batch, valueBytes.jsonPerMessage);
  return {
    values: valuesKind,
    encoding,
    devices,
    messages: fleet.length,
    readingsPerMessage,
    readings: totalReadings,
    batchMaxReadings,
    batches: batches.length,
    valueBytes,
    bytesPerReading: per(valueBytes),
    ratioToJson,
    protobufRatioToJson: ratio(valueBytes.protobufBatch, valueBytes.jsonPerMessage),
    readingsRatioToJson: ratio(valueBytes.readingsLz4Batch, valueBytes.jsonPerMessage),
    target: { maxRatio: 0.125, met: ratioToJson <= 0.125 },
    withKafkaRecord: { bytes: recordTotals, bytesPerReading: per(recordTotals), ratioToJson: ratio(recordTotals.lz4Batch, recordTotals.jsonPerMessage) },
    verified,
    counted: {
      lz4Batch: `the Kafka message value the forwarder produces by default (encodeLeasedBatch, forward.encoding ${encoding}: one LZ4 frame of a ReadingBatch, gateway id, seq, created_ms, schema_version and up to ${batchMaxReadings} readings, whole messages only, cut as the outbox leases them)`,
      protobufBatch: 'the same ReadingBatch protobuf bytes, not compressed',
      readingsLz4Batch: 'the same batches in the readings encoding (forward.encoding: readings, one Reading message each, what sinks before schema major 2 read); readingsProtobufBatch: those, not compressed',
      jsonPerMessage: 'one Kafka message value per device message: {"gatewayId","deviceId","ts","metrics":{…}} as compact JSON (UTF-8 bytes)',
      devicePayload: 'for reference, the MQTT payload the device sent ({"metrics":{…}}, no ts: the gateway stamps it), without the MQTT header and topic',
      kafkaRecord: `withKafkaRecord adds each Kafka v2 record's framing (length, attributes, key, value length, headers; timestamp and offset deltas at 1 byte) to its value; ours carry key = gateway id and the contract's five headers (gateway-id, batch-seq, schema-version, content-encoding, reading-count) plus a ${RECORD_BATCH_HEADER}-byte record batch header each, as if every batch went alone; JSON records carry key = gateway id, no headers and no batch header, as if perfectly batched: the comparison leans toward JSON`,
    },
  };
}

/**
 * Decodes every value back as the sink does (decodeBatch) and checks each reading against the
 * message it came from: each device's in the order it sent them (the contract's order; columns put a
 * batch's readings device by device), values bit for bit.
 */
function verify(kafkaValues: EncodedMessage[], fleet: FleetMessage[]): WireResult['verified'] {
  let m = 0;
  let readings = 0;
  for (const msg of kafkaValues) {
    const batch = decodeBatch(msg.value);
    if (batch.gatewayId !== GATEWAY_ID) throw new Error(`batch ${batch.seq} names gateway ${batch.gatewayId}`);
    const wanted = new Map<string, FleetMessage[]>();
    for (let i = 0; i < batch.readings.length; i++) {
      const want = fleet[m + i];
      if (!want) throw new Error(`batch ${batch.seq} holds more readings than the fleet sent`);
      wanted.set(want.deviceId, [...(wanted.get(want.deviceId) ?? []), want]);
    }
    m += batch.readings.length;
    let values = 0;
    for (const r of batch.readings) {
      const metrics = r.metrics ?? {};
      const want = wanted.get(r.deviceId ?? '')?.shift();
      if (!want || Number(r.tsMs) !== want.tsMs) {
        throw new Error(`batch ${batch.seq}: ${r.deviceId}@${String(r.tsMs)} is not ${r.deviceId}'s next message (${want?.tsMs})`);
      }
      for (const [k, v] of Object.entries(want.metrics)) {
        if (!Object.is(metrics[k], v)) throw new Error(`batch ${batch.seq}: ${want.deviceId}@${want.tsMs} ${k} is ${metrics[k]}, expected ${v}`);
      }
      const n = Object.keys(metrics).length;
      if (n !== Object.keys(want.metrics).length) throw new Error(`batch ${batch.seq}: ${want.deviceId}@${want.tsMs} has ${n} metrics`);
      values += n;
    }
    if (String(values) !== msg.headers['reading-count']) throw new Error(`batch ${batch.seq}: reading-count header ${msg.headers['reading-count']}, ${values} inside`);
    readings += values;
  }
  return { batches: kafkaValues.length, messages: m, readings };
}

runIfMain(import.meta.url, async () => ({ load: await benchWire(), noisy: await benchWire({ values: 'noisy' }) }));
