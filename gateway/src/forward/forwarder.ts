// Moves batches from the outbox to iot.readings. A batch's readings leave the outbox only after
// Kafka's delivery report says it is stored (acks=all); a failed batch is resent with the same
// seq and bytes after a backoff, so the sink's ingested_batches ledger can drop any copy that did
// arrive (DESIGN.md guarantee 1).
import type { Logger } from 'pino';
import { encodeBatchFromEncoded, type EncodedMessage } from '../../../proto/src/wire.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Metrics } from '../metrics.js';
import type { LeasedBatch, Outbox } from '../outbox/outbox.js';
import { KafkaLink, type LinkState } from './kafka.js';

export interface ForwarderStatus {
  link: LinkState;
  lastError: string;
  inflightBatches: number;
  retryingBatches: number;
  deliveredBatches: number;
  deliveredReadings: number;
  lastDeliveryMs: number | null;
}

export class Forwarder {
  private readonly link: KafkaLink;
  private readonly inflight = new Map<number, LeasedBatch>();
  /** Leased batches waiting to be (re)sent, in seq order: replayed after a restart or failed. */
  private queue: LeasedBatch[] = [];
  private pausedUntil = 0;
  private backoffMs: number;
  private timer?: NodeJS.Timeout;
  private deliveredBatches = 0;
  private deliveredReadings = 0;
  private lastDeliveryMs: number | null = null;

  constructor(
    private readonly cfg: GatewayConfig['kafka'],
    private readonly gatewayId: string,
    private readonly outbox: Outbox,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.backoffMs = cfg.retryBackoffMinMs;
    this.link = new KafkaLink(cfg, gatewayId, (err, opaque) => this.onDelivery(err, opaque), () => this.pump(), log);
  }

  start(): void {
    this.queue = this.outbox.unacked();
    if (this.queue.length) this.log.info({ batches: this.queue.length }, 'resending batches leased before the last stop');
    this.link.start();
    this.timer = setInterval(() => this.pump(), 20);
  }

  /** Fills the in-flight window from the retry queue first, then from new outbox rows. */
  pump(): void {
    const producer = this.link.producer;
    if (!producer || !this.link.ready || Date.now() < this.pausedUntil) return;
    while (this.inflight.size < this.cfg.maxInflightBatches) {
      const batch = this.queue.shift() ?? this.outbox.lease(this.cfg.batchMaxReadings);
      if (!batch) return;
      const msg = this.encode(batch);
      this.inflight.set(batch.seq, batch);
      try {
        producer.produce(
          this.cfg.readingsTopic, null, msg.value, msg.key, batch.createdMs, batch.seq,
          Object.entries(msg.headers).map(([k, v]) => ({ [k]: v })),
        );
        this.metrics.count('forward', 'received', batch.values);
      } catch (err) {
        // Usually a full local queue; the batch stays leased and goes out again after the pause.
        this.inflight.delete(batch.seq);
        this.fail(batch, (err as Error).message);
        return;
      }
    }
  }

  private encode(batch: LeasedBatch): EncodedMessage {
    return encodeBatchFromEncoded(
      { gatewayId: this.gatewayId, seq: batch.seq, createdMs: batch.createdMs, values: batch.values },
      batch.readings,
    );
  }

  private onDelivery(err: { message: string } | null, opaque: unknown): void {
    const seq = typeof opaque === 'number' ? opaque : Number(opaque);
    const batch = this.inflight.get(seq);
    if (!batch) return;
    this.inflight.delete(seq);
    if (err) return this.fail(batch, err.message);
    this.outbox.ack(seq);
    this.backoffMs = this.cfg.retryBackoffMinMs;
    this.deliveredBatches++;
    this.deliveredReadings += batch.values;
    this.lastDeliveryMs = Date.now();
    this.metrics.count('forward', 'sent', batch.values);
    this.link.markUp();
    this.pump();
  }

  private fail(batch: LeasedBatch, reason: string): void {
    this.metrics.count('forward', 'errors');
    this.link.markDown(reason);
    this.queue.push(batch);
    this.queue.sort((a, b) => a.seq - b.seq);
    if (Date.now() >= this.pausedUntil) {
      this.log.warn({ seq: batch.seq, reason, retryInMs: this.backoffMs }, 'batch not delivered; will resend');
      this.pausedUntil = Date.now() + this.backoffMs;
      this.backoffMs = Math.min(this.cfg.retryBackoffMaxMs, this.backoffMs * 2);
    }
  }

  status(): ForwarderStatus {
    return {
      link: this.link.state,
      lastError: this.link.lastError,
      inflightBatches: this.inflight.size,
      retryingBatches: this.queue.length,
      deliveredBatches: this.deliveredBatches,
      deliveredReadings: this.deliveredReadings,
      lastDeliveryMs: this.lastDeliveryMs,
    };
  }

  /** Gives in-flight batches flushMs to be confirmed; unconfirmed ones stay leased for next start. */
  async stop(flushMs = 5_000): Promise<void> {
    clearInterval(this.timer);
    await this.link.stop(flushMs);
  }

  /** For the heartbeat: the same producer carries it, best effort. */
  produceRaw(topic: string, msg: EncodedMessage): boolean {
    const p = this.link.producer;
    if (!p || !this.link.ready) return false;
    try {
      p.produce(topic, null, msg.value, msg.key, Date.now(), 'heartbeat', Object.entries(msg.headers).map(([k, v]) => ({ [k]: v })));
      return true;
    } catch {
      return false;
    }
  }
}
