// Reads iot.commands for this gateway. It reads every partition and keeps the messages keyed with
// its own id, rather than computing the one partition its key hashes to: that would hold only while
// the cloud's producer keeps librdkafka's default partitioner (consistent_random, CRC32; the Java
// client's default is murmur2) and the topic keeps its partition count, and a wrong guess would
// lose commands without a sound. Commands are few, so reading the others' costs little.
//
// Its position is committed in its own consumer group (fieldline-gateway-<id>-commands) after each
// message is recorded in the ledger; a message read again after a crash between the two is a
// duplicate the ledger refuses. A new group starts at the earliest offset, so commands queued
// before the gateway's first start still reach it (or expire).
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { CONSUMER_PREFETCH_BOUNDS } from '../forward/kafka.js';
import type { CommandsConfig } from './config.js';

export function commandsGroupId(gatewayId: string): string {
  return `fieldline-gateway-${gatewayId}-commands`;
}

/** Messages taken per poll. */
const BATCH = 100;

export class CommandConsumer {
  private consumer: Kafka.KafkaConsumer | null = null;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private polling = false;
  state: 'connecting' | 'up' | 'down' = 'connecting';
  lastError = '';
  /** Messages for this gateway handed on, and messages for others skipped. */
  readonly counts = { mine: 0, others: 0, errors: 0 };

  constructor(
    private readonly cfg: CommandsConfig,
    private readonly kafka: GatewayConfig['kafka'],
    private readonly gatewayId: string,
    /** Called synchronously per message of this gateway; must have recorded it when it returns. */
    private readonly handle: (value: Buffer | null | undefined) => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.connect(0);
  }

  private connect(attempt: number): void {
    if (this.stopped) return;
    const consumer = new Kafka.KafkaConsumer(
      {
        // The producer's passthrough first (security settings), ours on top.
        ...CONSUMER_PREFETCH_BOUNDS,
        ...(this.kafka.rdkafka as Record<string, string | number | boolean>),
        'metadata.broker.list': this.kafka.brokers,
        'group.id': commandsGroupId(this.gatewayId),
        'client.id': `fieldline-gateway-${this.gatewayId}-commands`,
        'enable.auto.commit': false,
        // A position is stored only once its message is handled (offsetsStore below), so a commit
        // never covers a message the ledger did not take.
        'enable.auto.offset.store': false,
        'socket.keepalive.enable': true,
        'reconnect.backoff.ms': 100,
        'reconnect.backoff.max.ms': 5_000,
        'log.connection.close': false,
      } as Kafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.on('event.error', (err) => {
      this.lastError = err.message;
      this.counts.errors++;
    });
    consumer.connect({ timeout: 5_000 }, (err) => {
      if (this.stopped) {
        if (!err) consumer.disconnect(() => undefined);
        return;
      }
      if (err) {
        this.state = 'down';
        this.lastError = err.message;
        if (attempt === 0) this.log.warn({ err: err.message }, 'commands: Kafka unreachable; will keep trying');
        const delay = Math.min(this.kafka.retryBackoffMaxMs, this.kafka.retryBackoffMinMs * 2 ** Math.min(attempt, 10));
        this.timer = setTimeout(() => this.connect(attempt + 1), delay);
        return;
      }
      consumer.subscribe([this.cfg.topic]);
      this.consumer = consumer;
      this.state = 'up';
      this.log.info({ topic: this.cfg.topic, group: commandsGroupId(this.gatewayId) }, 'commands: consuming');
      this.schedule(0);
    });
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.poll(), ms);
  }

  private poll(): void {
    const consumer = this.consumer;
    if (!consumer || this.stopped || this.polling) return;
    this.polling = true;
    consumer.consume(BATCH, (err, messages) => {
      this.polling = false;
      if (this.stopped) return;
      if (err) {
        this.lastError = err.message;
        this.counts.errors++;
        return this.schedule(this.cfg.pollIntervalMs);
      }
      for (const m of messages) {
        const key = m.key === undefined || m.key === null ? '' : m.key.toString();
        if (key === this.gatewayId) {
          try {
            this.handle(m.value);
          } catch (e) {
            // The ledger could not record it (disk full?): keep what was handled, then start over
            // from the committed positions, so this message and the rest of the batch are read again.
            this.lastError = (e as Error).message;
            this.log.error({ err: this.lastError, offset: m.offset, partition: m.partition }, 'commands: could not record a command; will read it again');
            this.commit(consumer);
            void this.restart();
            return;
          }
          this.counts.mine++;
        } else {
          this.counts.others++;
        }
        consumer.offsetsStore([{ topic: m.topic, partition: m.partition, offset: m.offset + 1 }]);
      }
      if (messages.length > 0) this.commit(consumer);
      // A full batch means more is waiting: read on at once.
      this.schedule(messages.length >= BATCH ? 0 : this.cfg.pollIntervalMs);
    });
  }

  /** Commits the positions stored for the messages handled so far. */
  private commit(consumer: Kafka.KafkaConsumer): void {
    try {
      consumer.commit();
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  private async restart(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    this.state = 'down';
    if (c) await new Promise<void>((resolve) => c.disconnect(() => resolve()));
    if (!this.stopped) this.timer = setTimeout(() => this.connect(1), this.kafka.retryBackoffMinMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.consumer;
    this.consumer = null;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5_000);
      c.disconnect(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
