// Command status events to iot.command-status on the gateway's one producer (forward/kafka.ts),
// beside the batches: they wait in the ledger's status_out table, so statuses reached while Kafka
// is out of reach go when it is back, and each row is deleted only once Kafka confirms it.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { ProducerLane } from '../forward/forwarder.js';
import type { CommandLedger } from './ledger.js';

interface StatusOpaque {
  commandStatusSeq: number;
}

function isStatusOpaque(o: unknown): o is StatusOpaque {
  return typeof o === 'object' && o !== null && typeof (o as StatusOpaque).commandStatusSeq === 'number';
}

/** Status events produced and not yet confirmed; more wait in the ledger. */
const MAX_INFLIGHT = 64;

export class StatusLane implements ProducerLane {
  private readonly inflight = new Set<number>();
  /** The highest seq handed to the producer; the next read starts after it. */
  private producedUpTo = 0;
  /** Something may be waiting: skip the ledger query while nothing changed. */
  private dirty = true;
  private pausedUntil = 0;
  private backoffMs: number;
  sent = 0;
  lastError = '';

  constructor(
    private readonly topic: string,
    private readonly ledger: CommandLedger,
    private readonly log: Logger,
    private readonly backoff: { minMs: number; maxMs: number },
    private readonly now: () => number = Date.now,
  ) {
    this.backoffMs = backoff.minMs;
  }

  /** A status was queued in the ledger. */
  wake(): void {
    this.dirty = true;
  }

  owns(opaque: unknown): boolean {
    return isStatusOpaque(opaque);
  }

  pump(producer: Kafka.Producer): void {
    if (!this.dirty || this.now() < this.pausedUntil || this.inflight.size >= MAX_INFLIGHT) return;
    const rows = this.ledger.outgoing(this.producedUpTo, MAX_INFLIGHT - this.inflight.size);
    if (rows.length === 0) {
      this.dirty = false;
      return;
    }
    for (const row of rows) {
      if (this.inflight.has(row.seq)) continue;
      const opaque: StatusOpaque = { commandStatusSeq: row.seq };
      try {
        producer.produce(this.topic, null, Buffer.from(row.value), row.commandId, Date.now(), opaque, [{ 'content-type': 'application/json' }]);
      } catch (err) {
        // A full local queue: these rows stay in the ledger and go after the pause.
        this.retryLater((err as Error).message);
        return;
      }
      this.inflight.add(row.seq);
      this.producedUpTo = row.seq;
    }
  }

  onDelivery(err: { message: string } | null, opaque: unknown): void {
    const seq = (opaque as StatusOpaque).commandStatusSeq;
    this.inflight.delete(seq);
    if (err) return this.retryLater(err.message);
    this.ledger.sent(seq);
    this.sent++;
    this.backoffMs = this.backoff.minMs;
  }

  /**
   * After a backoff, reads again from the oldest row still in the ledger. A row sent twice is
   * harmless: statuses only move forwards on the cloud side.
   */
  private retryLater(reason: string): void {
    this.lastError = reason;
    if (this.now() >= this.pausedUntil) {
      this.log.warn({ reason, retryInMs: this.backoffMs }, 'command status not delivered; will resend');
      this.pausedUntil = this.now() + this.backoffMs;
      this.backoffMs = Math.min(this.backoff.maxMs, this.backoffMs * 2);
    }
    const first = this.ledger.outgoing(0, 1)[0];
    if (first) this.producedUpTo = Math.min(this.producedUpTo, first.seq - 1);
    this.dirty = true;
  }

  /** The producer is gone (stop, reconfigure): whatever it held unconfirmed is sent again by the next one. */
  reset(): void {
    this.inflight.clear();
    this.producedUpTo = 0;
    this.dirty = true;
  }

  waiting(): number {
    return this.ledger.outgoingCount();
  }
}
