// Reads this gateway's configs from the compacted config topic. No consumer group: a gateway reads
// one key, so it assigns itself the one partition that key hashes to (configPartition, which the
// cloud produces to explicitly) from the beginning at every connection, and never commits. What
// was applied is remembered in dataDir (state.ts), which a committed offset could not do for a
// version that was refused or held back; and thousands of gateways would otherwise be thousands of
// groups on the coordinator for no gain. Replays are harmless: versions decide.
//
// Until the partition is read to its end once, only the newest version is kept; then that one is
// handed on, so a gateway that was offline through several versions applies only the newest.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import { CONSUMER_PREFETCH_BOUNDS } from '../forward/kafka.js';
import { configPartition, parseConfigMessage, type CloudConfigMessage } from './message.js';

/** librdkafka's RD_KAFKA_OFFSET_BEGINNING. */
const OFFSET_BEGINNING = -2;

export interface ConfigConsumerOptions {
  kafka: GatewayConfig['kafka'];
  topic: string;
  gatewayId: string;
  log: Logger;
  /** Gets each newer version, one at a time; the consumer waits for it before reading on. */
  deliver(m: CloudConfigMessage): Promise<void>;
}

export interface ConfigConsumerStatus {
  state: 'stopped' | 'connecting' | 'loading' | 'up' | 'down';
  partition: number | null;
  messages: number;
  skipped: number;
  lastError: string;
}

export class ConfigConsumer {
  readonly stats: ConfigConsumerStatus = { state: 'stopped', partition: null, messages: 0, skipped: 0, lastError: '' };
  private consumer: Kafka.KafkaConsumer | null = null;
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;

  constructor(private readonly opts: ConfigConsumerOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stats.state = 'connecting';
    this.loopDone = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loopDone;
    this.stats.state = 'stopped';
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let warned = false;
    while (!this.stopped) {
      try {
        const consumer = await this.connect();
        const partition = configPartition(this.opts.gatewayId, await this.partitionCount(consumer));
        this.stats.partition = partition;
        // An empty partition may report no end at all: nothing to wait for there.
        let eof = await this.isEmpty(consumer, partition);
        consumer.on('partition.eof', () => {
          eof = true;
        });
        consumer.assign([{ topic: this.opts.topic, partition, offset: OFFSET_BEGINNING }]);
        this.stats.state = 'loading';
        attempt = 0;
        warned = false;
        let newest: CloudConfigMessage | null = null;
        while (!this.stopped) {
          const batch = await new Promise<Kafka.Message[]>((resolve, reject) => consumer.consume(64, (err, msgs) => (err ? reject(err) : resolve(msgs))));
          for (const msg of batch) {
            this.stats.messages++;
            const key = msg.key === undefined || msg.key === null ? null : Buffer.isBuffer(msg.key) ? msg.key.toString('utf8') : String(msg.key);
            // Other gateways' keys share the partition; only this one's matter, and are no error.
            if (key !== this.opts.gatewayId) continue;
            const m = parseConfigMessage(key, msg.value ?? null, this.opts.gatewayId);
            if (typeof m === 'string') {
              this.stats.skipped++;
              this.opts.log.warn({ offset: msg.offset, reason: m }, new GatewayError('FL_ERR_CONFIG_CLOUD_MESSAGE', m).message);
              continue;
            }
            if (!newest || m.version > newest.version) newest = m;
          }
          if (eof) this.stats.state = 'up';
          if (newest && this.stats.state === 'up') {
            const m = newest;
            newest = null;
            await this.opts.deliver(m);
          }
        }
      } catch (err) {
        this.stats.lastError = (err as Error).message;
        this.stats.state = 'down';
        if (!warned) this.opts.log.warn({ err: this.stats.lastError, topic: this.opts.topic }, new GatewayError('FL_ERR_CONFIG_CLOUD_TOPIC').message);
        warned = true;
        await this.disconnect();
        if (!this.stopped) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Math.min(30_000, 500 * 2 ** Math.min(attempt++, 6)));
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = null;
        }
      }
    }
    await this.disconnect();
  }

  private async connect(): Promise<Kafka.KafkaConsumer> {
    const consumer = new Kafka.KafkaConsumer(
      {
        'metadata.broker.list': this.opts.kafka.brokers,
        // Required by librdkafka even for a consumer that only assigns; this one never joins or commits.
        'group.id': `fieldline-gateway-config-${this.opts.gatewayId}`,
        'client.id': `fieldline-gateway-${this.opts.gatewayId}-config`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'enable.partition.eof': true,
        'allow.auto.create.topics': false,
        'socket.keepalive.enable': true,
        'log.connection.close': false,
        ...CONSUMER_PREFETCH_BOUNDS,
        ...this.opts.kafka.rdkafka,
      } as Kafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    this.consumer = consumer;
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));
    consumer.setDefaultConsumeTimeout(500);
    return consumer;
  }

  private async partitionCount(consumer: Kafka.KafkaConsumer): Promise<number> {
    const md = await new Promise<Kafka.Metadata>((resolve, reject) =>
      consumer.getMetadata({ topic: this.opts.topic, timeout: 5_000 }, (err, m) => (err ? reject(err) : resolve(m))),
    );
    const n = md.topics.find((t) => t.name === this.opts.topic)?.partitions.length ?? 0;
    if (n === 0) throw new GatewayError('FL_ERR_CONFIG_CLOUD_TOPIC', `topic ${this.opts.topic} does not exist (the cloud creates it compacted)`);
    return n;
  }

  private async isEmpty(consumer: Kafka.KafkaConsumer, partition: number): Promise<boolean> {
    const w = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
      consumer.queryWatermarkOffsets(this.opts.topic, partition, 5_000, (err, o) => (err ? reject(err) : resolve(o))),
    );
    return w.highOffset <= w.lowOffset;
  }

  private async disconnect(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    if (!c) return;
    await new Promise<void>((resolve) => {
      try {
        c.disconnect(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
