// What the fleet tests need around a real broker: a producer that sends messages as a gateway does
// and waits for Kafka to confirm them, a reader of a topic from the beginning to its current end
// (a plain node-rdkafka consumer), heartbeats to send, and a clock the test moves.
import assert from 'node:assert/strict';
import Kafka from 'node-rdkafka';
import { v1, type EncodedMessage, type Heartbeat } from '../../proto/src/wire.js';

export class TestProducer {
  private delivered = 0;
  private sent = 0;
  private readonly failures: string[] = [];

  constructor(private readonly producer: Kafka.Producer) {
    producer.on('delivery-report', (err) => {
      this.delivered++;
      if (err) this.failures.push(err.message);
    });
  }

  /** Connects a producer of this class (a subclass gets its own kind). */
  static async connect<P extends TestProducer>(this: new (producer: Kafka.Producer) => P, bootstrap: string): Promise<P> {
    const p = new Kafka.Producer({ 'metadata.broker.list': bootstrap, 'client.id': 'fieldline-test', 'enable.idempotence': true, dr_cb: true });
    await new Promise<void>((resolve, reject) => p.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    p.setPollInterval(20);
    return new this(p);
  }

  /** Sends wire-encoded messages (key, headers, LZ4 value) or raw bytes, and waits until Kafka has them. */
  async send(topic: string, messages: readonly (EncodedMessage | { key: string; value: Buffer })[]): Promise<void> {
    for (const m of messages) {
      this.produce(topic, null, m.value, m.key, 'headers' in m ? Object.entries(m.headers).map(([k, v]) => ({ [k]: v })) : undefined);
    }
    await this.settle();
  }

  /** Queues one message; partition null: by key. settle() waits for it. */
  produce(topic: string, partition: number | null, value: Buffer, key: string, headers?: Kafka.MessageHeader[]): void {
    this.producer.produce(topic, partition, value, key, Date.now(), undefined, headers);
    this.sent++;
  }

  /** Waits until Kafka confirmed every message produced so far, and asserts none failed. */
  async settle(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.producer.flush(30_000, (err) => (err ? reject(err) : resolve())));
    const deadline = Date.now() + 30_000;
    while (this.delivered < this.sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(this.delivered, this.sent, 'delivery reports for every message sent');
    assert.deepEqual(this.failures, [], 'every message reached Kafka');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }
}

export interface TopicMessage {
  partition: number;
  offset: number;
  key: string;
  headers: Map<string, string>;
  value: Buffer;
}

/**
 * Every message of `topic` from the beginning to its end as it stands now, in offset order per
 * partition, read by a plain consumer that is assigned the partitions (it joins no group).
 */
export async function readTopic(bootstrap: string, topic: string, timeoutMs = 30_000): Promise<TopicMessage[]> {
  const c = new Kafka.KafkaConsumer(
    { 'metadata.broker.list': bootstrap, 'group.id': 'fieldline-fleet-test-reader', 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  try {
    const md = await new Promise<Kafka.Metadata>((resolve, reject) =>
      c.getMetadata({ topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))),
    );
    const partitions = (md.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => p.id);
    const ends = new Map<number, number>();
    for (const p of partitions) {
      const w = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
        c.queryWatermarkOffsets(topic, p, 10_000, (err, o) => (err ? reject(err) : resolve(o))),
      );
      ends.set(p, w.highOffset);
    }
    const next = new Map(partitions.map((p) => [p, 0]));
    const done = (): boolean => partitions.every((p) => (next.get(p) ?? 0) >= (ends.get(p) ?? 0));
    c.assign(partitions.map((partition) => ({ topic, partition, offset: 0 })));
    const out: TopicMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      assert.ok(Date.now() < deadline, `reading ${topic} to its end took over ${timeoutMs} ms`);
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(500, (err, m) => (err ? reject(err) : resolve(m))));
      for (const m of batch) {
        next.set(m.partition, m.offset + 1);
        const headers = new Map<string, string>();
        for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers.set(k, Buffer.from(v as Buffer).toString('utf8'));
        out.push({ partition: m.partition, offset: m.offset, key: m.key ? Buffer.from(m.key).toString('utf8') : '', headers, value: m.value ?? Buffer.alloc(0) });
      }
    }
    return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}

/** A heartbeat with every field set, so a test can check each one lands where it should. */
export function heartbeat(gatewayId: string, tsMs: number, over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    gatewayId,
    tsMs,
    firmwareVersion: `fw-${tsMs}`,
    uptimeS: 3600.5,
    cpuPercent: 12.5,
    memoryUsedBytes: 512 * 2 ** 20,
    memoryTotalBytes: 2 ** 30,
    diskFreeBytes: 8 * 2 ** 30,
    diskTotalBytes: 32 * 2 ** 30,
    temperatureC: 48.25,
    outboxDepth: 1500,
    outboxOldestAgeMs: 42_000,
    outboxBytes: 96_000,
    outboxFull: '',
    outboxRecovered: '',
    drainSentPerSecond: 250,
    drainInPerSecond: 100,
    drainEtaS: 10,
    adapters: [
      { name: 'mqtt', state: 'up', detail: '3 clients', counters: { clients: 3, refusedConnections: 1 } },
      { name: 'modbus', state: 'degraded', detail: 'boiler-1 timing out', counters: { 'boiler-1.timeout': 7 } },
    ],
    loss: { rateLimited: 4, quarantined: 2, evicted: 1 },
    deviceLoss: { 'dev-1': { rateLimited: 4, quarantined: 2, evicted: 1 } },
    refusals: { FL_ERR_DECODE_JSON: 2, FL_ERR_RATE_LIMITED: 4 },
    ...over,
  };
}

export const SOURCE_COAP = v1.SourceProtocol.SOURCE_PROTOCOL_COAP;

/** A clock that stands still until the test moves it. */
export class TestClock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}
