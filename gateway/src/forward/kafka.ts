// One librdkafka producer, connected in the background so the gateway starts and serves with no
// cloud link (field techs commission gateways offline), and recreated after a fatal error.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';

export type LinkState = 'connecting' | 'up' | 'down';

export function producerConfig(cfg: GatewayConfig['kafka'], gatewayId: string): Kafka.ProducerGlobalConfig {
  return {
    'metadata.broker.list': cfg.brokers,
    'client.id': `fieldline-gateway-${gatewayId}`,
    // acks=all, no duplicates from librdkafka's own retries, per-partition order kept.
    'enable.idempotence': true,
    dr_cb: true,
    // Values are LZ4 frames already (DESIGN.md "Wire formats"); compressing again gains nothing.
    'compression.codec': 'none',
    'message.timeout.ms': cfg.messageTimeoutMs,
    'linger.ms': 5,
    'socket.keepalive.enable': true,
    'reconnect.backoff.ms': 100,
    'reconnect.backoff.max.ms': 5_000,
    'log.connection.close': false,
    ...cfg.rdkafka,
  } as Kafka.ProducerGlobalConfig;
}

/**
 * For the gateway's consumers (commands, cloud config). librdkafka prefetches up to 64 MB and
 * 100,000 messages per partition by default: the config follower reads a compacted partition that
 * every gateway hashing there shares, and the commands consumer every partition of iot.commands,
 * so a busy fleet could fill a gateway's memory with other gateways' messages. Both topics carry a
 * few small messages for this gateway; 1 MB of prefetch is plenty. kafka.rdkafka may override them.
 */
export const CONSUMER_PREFETCH_BOUNDS = {
  'queued.max.messages.kbytes': 1024,
  'queued.min.messages': 1000,
} as const;

export interface DeliveryHandler {
  /** `report` says where the message landed (partition, offset): the forwarder's sink-lag watch reads it. */
  (err: Kafka.LibrdKafkaError | null, opaque: unknown, report?: Kafka.DeliveryReport): void;
}

export class KafkaLink {
  producer: Kafka.Producer | null = null;
  state: LinkState = 'connecting';
  lastError = '';
  private stopped = false;
  private probeTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly cfg: GatewayConfig['kafka'],
    private readonly gatewayId: string,
    private readonly onDelivery: DeliveryHandler,
    private readonly onReady: () => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.connect(0);
    this.probeTimer = setInterval(() => this.probe(), 5_000);
    this.probeTimer.unref();
  }

  get ready(): boolean {
    return this.producer !== null && this.producer.isConnected();
  }

  private connect(attempt: number): void {
    if (this.stopped) return;
    const producer = new Kafka.Producer(producerConfig(this.cfg, this.gatewayId), {});
    producer.on('delivery-report', (err, report) => this.onDelivery(err ?? null, report.opaque, report));
    producer.on('event.error', (err) => {
      this.lastError = err.message;
      if (err.isFatal) {
        // A fatal idempotence error leaves the producer unusable; a new one starts a new producer id.
        this.log.error({ err: err.message }, 'fatal Kafka producer error; recreating the producer');
        this.state = 'down';
        this.replace(producer);
      }
    });
    producer.connect({ topic: this.cfg.readingsTopic, timeout: 5_000 }, (err) => {
      if (this.stopped) {
        // Stopped while connecting: a producer that never connected throws on disconnect().
        if (!err) producer.disconnect(() => undefined);
        return;
      }
      if (err) {
        this.state = 'down';
        this.lastError = err.message;
        const delay = Math.min(this.cfg.retryBackoffMaxMs, this.cfg.retryBackoffMinMs * 2 ** Math.min(attempt, 10));
        if (attempt === 0) this.log.warn({ err: err.message, brokers: this.cfg.brokers }, 'Kafka unreachable; buffering in the outbox');
        this.retryTimer = setTimeout(() => this.connect(attempt + 1), delay);
        return;
      }
      producer.setPollInterval(20);
      this.producer = producer;
      this.state = 'up';
      this.log.info({ brokers: this.cfg.brokers }, 'Kafka connected');
      this.onReady();
    });
  }

  private replace(old: Kafka.Producer): void {
    if (this.producer === old) this.producer = null;
    old.disconnect(() => undefined);
    if (!this.stopped) this.retryTimer = setTimeout(() => this.connect(1), this.cfg.retryBackoffMinMs);
  }

  /** The cloud link state the status page and heartbeat report, refreshed from broker metadata. */
  private probe(): void {
    const p = this.producer;
    if (!p || this.stopped) return;
    p.getMetadata({ topic: this.cfg.readingsTopic, timeout: 3_000 }, (err) => {
      if (err) {
        this.lastError = err.message;
        this.state = 'down';
      } else {
        this.state = 'up';
      }
    });
  }

  markDown(reason: string): void {
    this.state = 'down';
    this.lastError = reason;
  }

  markUp(): void {
    this.state = 'up';
  }

  async stop(flushMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    clearTimeout(this.retryTimer);
    const p = this.producer;
    this.producer = null;
    if (!p) return;
    await new Promise<void>((resolve) => p.flush(flushMs, () => resolve()));
    await new Promise<void>((resolve) => p.disconnect(() => resolve()));
  }
}
