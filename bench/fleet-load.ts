// The fleet-scale bench's load: one step's batches from `gateways` simulated gateway ids, produced
// straight to iot.readings in the gateway's own wire format. Each Reading is protobuf-encoded as the
// outbox stores it and the batch is built by the forwarder's own encodeLeasedBatch, so key, headers
// and LZ4 frame are byte for byte what a gateway sends; the producer takes the gateway's
// producerConfig (idempotent, acks=all, no second compression).
//
// Runs as its own process (`node dist/bench/fleet-load.js '<json params>'`), spawned by
// bench/fleet-scale.ts, so encoding and librdkafka's threads do not share the measured processes'
// CPU accounting or event loop. Prints one JSON line (FleetLoadReport) on stdout when every batch
// has its delivery report; any delivery error fails the run.
//
// The readings are a pure function of (step, gateway, message index), so the bench can say what the
// database must hold without being sent the rows: every (device, metric, ts) is distinct and every
// value an integer, so a sum over the step is exact in a double.
import Kafka from 'node-rdkafka';
import { gatewayConfigSchema } from '../gateway/src/config/schema.js';
import { encodeLeasedBatch } from '../gateway/src/forward/encode.js';
import { producerConfig } from '../gateway/src/forward/kafka.js';
import { SourceProtocol, v1, type Reading } from '../proto/src/wire.js';

export interface FleetLoadParams {
  bootstrap: string;
  topic: string;
  /** Gateway ids and device ids of this step start with it, so each step's rows can be told apart. */
  prefix: string;
  gateways: number;
  batchesPerGateway: number;
  /** Device messages per batch; each carries every one of METRICS. */
  messagesPerBatch: number;
  devicesPerGateway: number;
  /** The newest reading's time; a device's messages are spread evenly over the day before it. */
  endMs: number;
}

export interface FleetLoadReport {
  batches: number;
  /** Metric values, as every throughput figure counts them. */
  readings: number;
  /** Sum of every value produced: the database's sum over the step's rows must equal it. */
  valueSum: number;
  /** Kafka message value bytes (the LZ4 frames), headers and key left out. */
  valueBytes: number;
  /** Kafka message bytes with key and header names and values. */
  messageBytes: number;
  /** First produce to last delivery report. */
  seconds: number;
}

export const METRICS = ['temperature', 'humidity', 'pressure', 'battery'] as const;
const DAY_MS = 86_400_000;

export function gatewayId(prefix: string, g: number): string {
  return `${prefix}gw${String(g).padStart(5, '0')}`;
}

export function deviceId(prefix: string, g: number, d: number): string {
  return `${gatewayId(prefix, g)}-d${d}`;
}

/** How one gateway's messages map to devices and times: message i is device i % D's (i / D)-th. */
export function deviceSchedule(p: Pick<FleetLoadParams, 'batchesPerGateway' | 'messagesPerBatch' | 'devicesPerGateway' | 'endMs'>): {
  messagesPerDevice: number;
  spacingMs: number;
  tsOf: (k: number) => number;
} {
  const messagesPerDevice = Math.ceil((p.batchesPerGateway * p.messagesPerBatch) / p.devicesPerGateway);
  const spacingMs = Math.max(1, Math.floor(DAY_MS / messagesPerDevice));
  return { messagesPerDevice, spacingMs, tsOf: (k) => p.endMs - (messagesPerDevice - k) * spacingMs };
}

function value(g: number, d: number, k: number, metric: number): number {
  return (k * 7 + metric * 13 + d * 3 + g) % 1000;
}

async function produce(p: FleetLoadParams): Promise<FleetLoadReport> {
  const cfg = gatewayConfigSchema.parse({ gatewayId: 'fleet-load', kafka: { brokers: p.bootstrap, readingsTopic: p.topic } });
  const producer = new Kafka.Producer({
    ...producerConfig(cfg.kafka, cfg.gatewayId),
    // One producer stands for the whole fleet: room for every gateway's batches in flight at once.
    'queue.buffering.max.messages': 100_000,
    'queue.buffering.max.kbytes': 262_144,
  });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 15_000 }, (err) => (err ? reject(err) : resolve())));
  producer.setPollInterval(10);
  let delivered = 0;
  let firstError: string | null = null;
  producer.on('delivery-report', (err) => {
    delivered++;
    if (err) firstError ??= err.message;
  });
  const schedule = deviceSchedule(p);
  let batches = 0;
  let readings = 0;
  let valueSum = 0;
  let valueBytes = 0;
  let messageBytes = 0;
  const started = performance.now();
  try {
    // Seq-major order: every gateway's first batch, then every second one, as a live fleet
    // interleaves on the topic; each gateway's own seqs still go out 1, 2, 3… in order.
    for (let seq = 1; seq <= p.batchesPerGateway; seq++) {
      for (let g = 0; g < p.gateways; g++) {
        const encoded: Uint8Array[] = [];
        for (let j = 0; j < p.messagesPerBatch; j++) {
          const i = (seq - 1) * p.messagesPerBatch + j;
          const d = i % p.devicesPerGateway;
          const k = Math.floor(i / p.devicesPerGateway);
          const metrics: Record<string, number> = {};
          METRICS.forEach((m, mi) => {
            const v = value(g, d, k, mi);
            metrics[m] = v;
            valueSum += v;
          });
          const reading: Reading = { deviceId: deviceId(p.prefix, g, d), tsMs: schedule.tsOf(k), metrics, source: SourceProtocol.SOURCE_PROTOCOL_MQTT };
          encoded.push(v1.Reading.encode(reading).finish());
        }
        const values = p.messagesPerBatch * METRICS.length;
        const msg = encodeLeasedBatch(gatewayId(p.prefix, g), { seq, createdMs: Date.now(), values, readings: encoded });
        const headers = Object.entries(msg.headers).map(([k, v]) => ({ [k]: v }));
        valueBytes += msg.value.length;
        messageBytes += msg.value.length + Buffer.byteLength(msg.key) + Object.entries(msg.headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
        for (;;) {
          try {
            producer.produce(p.topic, null, msg.value, msg.key, Date.now(), undefined, headers);
            break;
          } catch (err) {
            // The local queue is full: let delivery reports drain it, then offer the batch again.
            if ((err as Kafka.LibrdKafkaError).code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw err;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        batches++;
        readings += values;
      }
    }
    await new Promise<void>((resolve, reject) => producer.flush(120_000, (err) => (err ? reject(err) : resolve())));
    const deadline = Date.now() + 60_000;
    while (delivered < batches && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
  if (firstError !== null) throw new Error(`fleet load: a batch was not delivered: ${firstError}`);
  if (delivered !== batches) throw new Error(`fleet load: ${delivered} delivery reports for ${batches} batches`);
  return { batches, readings, valueSum, valueBytes, messageBytes, seconds: (performance.now() - started) / 1000 };
}

if (process.argv[1]?.endsWith('fleet-load.js') && process.argv[2]) {
  produce(JSON.parse(process.argv[2]) as FleetLoadParams).then(
    (report) => {
      process.stdout.write(JSON.stringify(report) + '\n');
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
