// Moves batches from the outbox to iot.readings. A batch's readings leave the outbox only after
// Kafka's delivery report says it is stored (acks=all); a failed batch is resent with the same
// seq and bytes after a backoff, so the sink's ingested_batches ledger can drop any copy that did
// arrive (DESIGN.md guarantee 1). Quarantined records go to iot.quarantine on the same producer,
// one message each, and are marked forwarded only after their delivery reports. Heartbeats share
// the producer through their own lane (heartbeat-lane.ts).
//
// Live first (forward.liveFirst): each free in-flight slot goes to the outbox's live lane first;
// the backlog lane gets a slot only when no live readings wait, one slot is left free for live,
// its byte budget allows (forward.backlogMaxBytesPerSecond) and the sink is keeping up
// (sink-lag.ts). Live batches are never held back by any of these.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { encodeQuarantined, type EncodedMessage } from '../../../proto/src/wire.js';
import { gatewayConfigSchema, type GatewayConfig } from '../config/schema.js';
import { failpoint } from '../failpoints.js';
import type { Metrics } from '../metrics.js';
import type { LeasedBatch, Outbox } from '../outbox/outbox.js';
import { ByteBudget } from './byte-budget.js';
import { DrainMeter, type DrainProgress } from './drain.js';
import { encodeLeasedBatch } from './encode.js';
import { HeartbeatLane, type HeartbeatLaneStatus } from './heartbeat-lane.js';
import { KafkaLink, type LinkState } from './kafka.js';
import { kafkaCommittedReader, SinkLagWatch, type CommittedReader, type SinkLagStatus } from './sink-lag.js';

/** What held the backlog lane back at its last try; null when it was not held back. */
export type BacklogHold = 'live-reserve' | 'byte-budget' | 'sink-lag' | null;

/** Per-lane progress for /status. */
export interface LanesStatus {
  liveFirst: boolean;
  liveWindowMs: number;
  live: { inflightBatches: number; deliveredBatches: number; deliveredReadings: number };
  backlog: {
    inflightBatches: number;
    deliveredBatches: number;
    deliveredReadings: number;
    /** Compressed bytes produced for backlog batches (what backlogMaxBytesPerSecond caps). */
    producedBytes: number;
    heldBy: BacklogHold;
    maxBytesPerSecond: number;
  };
  sinkLag: SinkLagStatus;
}

export interface ForwarderOptions {
  /** gateway.yaml's forward section; default: its defaults. */
  forward?: GatewayConfig['forward'];
  /** Replaces the librdkafka reader of the sink group's offsets (tests). */
  committedReader?: () => CommittedReader;
}

export interface ForwarderStatus {
  link: LinkState;
  lastError: string;
  inflightBatches: number;
  retryingBatches: number;
  deliveredBatches: number;
  deliveredReadings: number;
  lastDeliveryMs: number | null;
  deliveredQuarantined: number;
  /** Backlog drain: rates out and in, and the time to an empty outbox. */
  drain: DrainProgress;
  heartbeat: HeartbeatLaneStatus;
  lanes: LanesStatus;
}

/** The opaque a quarantine message carries through librdkafka to its delivery report. */
interface QuarantineOpaque {
  quarantineId: number;
}

const QUARANTINE_CHUNK = 200;
/** How often the forwarder looks for batches another process leased (outbox export). */
const ADOPT_CHECK_MS = 1_000;

/**
 * Another sender on this forwarder's producer (commands/status-lane.ts): pumped whenever the link
 * is ready, and handed the delivery reports of the messages it produced (it recognises its opaques).
 */
export interface ProducerLane {
  owns(opaque: unknown): boolean;
  onDelivery(err: { message: string } | null, opaque: unknown): void;
  pump(producer: NonNullable<KafkaLink['producer']>): void;
  /** The producer is being replaced: what it held unconfirmed must be sent again. */
  reset(): void;
}

export class Forwarder {
  private readonly producerLanes: ProducerLane[] = [];
  private readonly link: KafkaLink;
  /** The Gateway starts it with its heartbeat builder; the lane uses this forwarder's producer and the outbox's slot. */
  readonly heartbeats: HeartbeatLane;
  private readonly inflight = new Map<number, LeasedBatch>();
  /** Leased batches waiting to be (re)sent, in seq order: replayed after a restart or failed. */
  private queue: LeasedBatch[] = [];
  private pausedUntil = 0;
  private backoffMs: number;
  private timer?: NodeJS.Timeout;
  private meterTimer?: NodeJS.Timeout;
  private readonly meter = new DrainMeter();
  private deliveredBatches = 0;
  private deliveredReadings = 0;
  private lastDeliveryMs: number | null = null;
  private readonly quarantineInflight = new Set<number>();
  private quarantineDelivered: number[] = [];
  private deliveredQuarantined = 0;
  private nextAdoptCheckMs = 0;
  private readonly fwd: GatewayConfig['forward'];
  private readonly budget: ByteBudget;
  private readonly sinkLag: SinkLagWatch;
  private readonly laneCounts = {
    live: { deliveredBatches: 0, deliveredReadings: 0 },
    backlog: { deliveredBatches: 0, deliveredReadings: 0, producedBytes: 0 },
  };
  private heldBy: BacklogHold = null;
  /** After stop(): batches whose lease becomes durable later stay leased for the next start. */
  private stopped = false;

  constructor(
    private readonly cfg: GatewayConfig['kafka'],
    private readonly gatewayId: string,
    private readonly outbox: Outbox,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    opts: ForwarderOptions = {},
  ) {
    this.fwd = opts.forward ?? gatewayConfigSchema.parse({}).forward;
    this.budget = new ByteBudget(this.fwd.backlogMaxBytesPerSecond, Date.now());
    this.sinkLag = new SinkLagWatch({
      topic: cfg.readingsTopic,
      group: this.fwd.sinkGroup,
      maxLagBatches: this.fwd.liveFirst ? this.fwd.backlogMaxSinkLagBatches : 0,
      pollMs: this.fwd.sinkLagPollMs,
      reader: opts.committedReader ?? (() => kafkaCommittedReader(cfg, this.fwd.sinkGroup, gatewayId)),
      log,
    });
    this.backoffMs = cfg.retryBackoffMinMs;
    this.link = new KafkaLink(cfg, gatewayId, (err, opaque, report) => this.onDelivery(err, opaque, report), () => this.linkUp(), log);
    this.heartbeats = new HeartbeatLane({
      topic: cfg.heartbeatsTopic,
      intervalMs: cfg.heartbeatIntervalMs,
      // librdkafka reports every message by message.timeout.ms; the rest is slack for a busy loop.
      reportTimeoutMs: cfg.messageTimeoutMs + 10_000,
      link: this.link,
      slot: outbox,
      metrics,
      log,
    });
  }

  start(): void {
    this.queue = this.outbox.unacked();
    if (this.queue.length) this.log.info({ batches: this.queue.length }, 'resending batches leased before the last stop');
    this.link.start();
    this.sinkLag.start();
    this.timer = setInterval(() => this.pump(), 20);
    const sample = () => this.meter.sample(Date.now(), this.deliveredReadings, this.metrics.get('commit', 'sent'));
    sample();
    this.meterTimer = setInterval(sample, 1_000);
    this.meterTimer.unref();
  }

  private linkUp(): void {
    this.pump();
    this.heartbeats.linkUp();
  }

  /** Adds a sender that shares this producer; the next forwarder after a reconfigure needs it added again. */
  addLane(lane: ProducerLane): void {
    lane.reset();
    this.producerLanes.push(lane);
  }

  /** Fills the in-flight window from the retry queue first, then from new outbox rows. */
  pump(): void {
    const producer = this.link.producer;
    if (!producer || !this.link.ready) return;
    for (const lane of this.producerLanes) lane.pump(producer);
    if (Date.now() < this.pausedUntil) return;
    this.pumpQuarantine(producer);
    this.adoptForeignLeases();
    const leased: Outgoing[] = [];
    while (this.inflight.size < this.cfg.maxInflightBatches) {
      // Batches leased before (a resend, a restart, another process's) go first, whatever their lane.
      const queued = this.queue.shift();
      const batch = queued ?? this.leaseNext();
      if (!batch) break;
      this.inflight.set(batch.seq, batch);
      // Encoded and counted against the backlog's byte budget now, so the next lease sees it spent.
      const out = this.prepare(batch);
      if (!queued) leased.push(out);
      // The queue is drained before anything is leased, so no batch of this pump is left behind here.
      else if (!this.send(producer, out)) break;
    }
    if (leased.length) this.sendWhenDurable(leased);
  }

  /**
   * Freshly leased batches leave once their leases are on the disk (Outbox.durable): with
   * synchronous=FULL one fsync, off the event loop, covers every lease of the pump, and the window
   * counts the batches meanwhile. Already durable (NORMAL): they go at once.
   */
  private sendWhenDurable(batches: Outgoing[]): void {
    const durable = this.outbox.durable();
    if (!durable) return this.sendLeased(batches);
    durable.then(
      () => this.sendLeased(batches),
      (err: Error) => {
        // They keep their slots and wait for a sync that succeeds: none leaves before its lease is safe.
        this.metrics.count('forward', 'errors');
        this.log.warn({ seqs: [batches[0]!.batch.seq, batches.at(-1)!.batch.seq], reason: err.message, retryInMs: this.backoffMs }, 'leases not yet on the disk; will retry');
        setTimeout(() => {
          if (!this.stopped) this.sendWhenDurable(batches);
        }, this.backoffMs).unref();
      },
    );
  }

  /** Freshly leased batches, in seq order, once their leases are durable. */
  private sendLeased(batches: Outgoing[]): void {
    if (this.stopped) return;
    const producer = this.link.producer;
    for (const [i, out] of batches.entries()) {
      if (!producer || !this.link.ready) return this.requeue(batches.slice(i).map((o) => o.batch));
      if (!this.send(producer, out)) return this.requeue(batches.slice(i + 1).map((o) => o.batch));
    }
  }

  private prepare(batch: LeasedBatch): Outgoing {
    const msg = this.encode(batch);
    if (batch.backlog) {
      this.budget.spend(msg.value.length, Date.now());
      this.laneCounts.backlog.producedBytes += msg.value.length;
    }
    return { batch, msg };
  }

  /** Hands one batch to the producer; false when it would not take it (the batch is then queued to retry). */
  private send(producer: NonNullable<KafkaLink['producer']>, { batch, msg }: Outgoing): boolean {
    try {
      producer.produce(
        this.cfg.readingsTopic, null, msg.value, msg.key, batch.createdMs, batch.seq, headerList(msg),
      );
      this.metrics.count('forward', 'received', batch.values);
      return true;
    } catch (err) {
      // Usually a full local queue; the batch stays leased and goes out again after the pause.
      this.inflight.delete(batch.seq);
      this.fail(batch, (err as Error).message);
      return false;
    }
  }

  /** Leased batches not handed to the producer go back to the retry queue, in seq order. */
  private requeue(batches: LeasedBatch[]): void {
    if (batches.length === 0) return;
    for (const b of batches) this.inflight.delete(b.seq);
    this.queue.push(...batches);
    this.queue.sort((a, b) => a.seq - b.seq);
  }

  /** The next batch from the outbox: live readings first, then backlog if nothing holds it back. */
  private leaseNext(): LeasedBatch | null {
    const max = this.cfg.batchMaxReadings;
    const liveWindowMs = this.fwd.liveWindowMs;
    // One lane, oldest first, as before lanes existed.
    if (!this.fwd.liveFirst) return this.outbox.lease(max, { liveWindowMs });
    const live = this.outbox.lease(max, { lane: 'live', liveWindowMs });
    if (live) return live;
    this.heldBy = this.backlogHold();
    if (this.heldBy) return null;
    return this.outbox.lease(max, { lane: 'backlog', liveWindowMs });
  }

  private backlogHold(): BacklogHold {
    let inflightBacklog = 0;
    for (const b of this.inflight.values()) if (b.backlog) inflightBacklog++;
    // The outside causes first, so /status names the one an operator can act on.
    if (!this.sinkLag.allows(inflightBacklog)) return 'sink-lag';
    if (!this.budget.mayGo(Date.now())) return 'byte-budget';
    // One slot stays free for live readings arriving while backlog fills the window.
    if (this.cfg.maxInflightBatches > 1 && inflightBacklog >= this.cfg.maxInflightBatches - 1) return 'live-reserve';
    return null;
  }

  /**
   * `outbox export` run beside this process leases what it exports; those rows are behind this
   * forwarder's lease pointer, so it would never send them until a restart. Once a second, when
   * the retry queue is empty, it takes every leased batch it does not track into the queue.
   */
  private adoptForeignLeases(): void {
    const now = Date.now();
    if (this.queue.length > 0 || now < this.nextAdoptCheckMs) return;
    this.nextAdoptCheckMs = now + ADOPT_CHECK_MS;
    const foreign = new Set(this.outbox.leasedSeqs().filter((seq) => !this.inflight.has(seq)));
    if (foreign.size === 0) return;
    this.queue = this.outbox.unacked().filter((b) => foreign.has(b.seq));
    if (this.queue.length) this.log.info({ batches: this.queue.length, seqs: [this.queue[0]!.seq, this.queue.at(-1)!.seq] }, 'sending batches leased by another process (outbox export)');
  }

  /** Sends the next chunk of pending quarantine records once the previous chunk is settled. */
  private pumpQuarantine(producer: NonNullable<KafkaLink['producer']>): void {
    if (this.quarantineInflight.size > 0) return;
    for (const row of this.outbox.pendingQuarantine(QUARANTINE_CHUNK)) {
      const msg = encodeQuarantined({
        gatewayId: this.gatewayId, deviceId: row.deviceId, tsMs: row.tsMs, raw: row.raw, source: row.source,
        reasonCode: row.reasonCode, reason: row.reason, topic: row.topic,
      });
      const opaque: QuarantineOpaque = { quarantineId: row.id };
      try {
        producer.produce(this.cfg.quarantineTopic, null, msg.value, msg.key, row.tsMs, opaque, headerList(msg));
      } catch (err) {
        // Not sent: it stays pending and goes with the next chunk.
        this.metrics.count('forward', 'errors');
        this.log.warn({ reason: (err as Error).message }, 'quarantine record not queued; will retry');
        return;
      }
      this.quarantineInflight.add(row.id);
    }
  }

  private onQuarantineDelivery(err: { message: string } | null, id: number): void {
    if (!this.quarantineInflight.delete(id)) return;
    if (err) {
      this.metrics.count('forward', 'errors');
      this.link.markDown(err.message);
    } else {
      this.quarantineDelivered.push(id);
      this.deliveredQuarantined++;
    }
    // One transaction per settled chunk rather than one per record.
    if (this.quarantineInflight.size === 0) {
      this.outbox.markQuarantineForwarded(this.quarantineDelivered);
      this.quarantineDelivered = [];
    }
  }

  private encode(batch: LeasedBatch): EncodedMessage {
    return encodeLeasedBatch(this.gatewayId, batch, this.fwd.encoding);
  }

  private onDelivery(err: { message: string } | null, opaque: unknown, report?: Kafka.DeliveryReport): void {
    if (isQuarantineOpaque(opaque)) return this.onQuarantineDelivery(err, opaque.quarantineId);
    if (this.heartbeats.owns(opaque)) return this.heartbeats.onDelivery(err, opaque);
    for (const lane of this.producerLanes) if (lane.owns(opaque)) return lane.onDelivery(err, opaque);
    const seq = typeof opaque === 'number' ? opaque : Number(opaque);
    const batch = this.inflight.get(seq);
    if (!batch) return;
    this.inflight.delete(seq);
    if (err) return this.fail(batch, err.message);
    failpoint('after-delivery-before-ack');
    this.outbox.ack(seq);
    if (report) this.sinkLag.delivered(report.partition, report.offset, batch.backlog === true);
    const lane = batch.backlog ? this.laneCounts.backlog : this.laneCounts.live;
    lane.deliveredBatches++;
    lane.deliveredReadings += batch.values;
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
    this.requeue([batch]);
    if (Date.now() >= this.pausedUntil) {
      this.log.warn({ seq: batch.seq, reason, retryInMs: this.backoffMs }, 'batch not delivered; will resend');
      this.pausedUntil = Date.now() + this.backoffMs;
      this.backoffMs = Math.min(this.cfg.retryBackoffMaxMs, this.backoffMs * 2);
    }
  }

  /** Drain progress against the outbox depth the caller already has. */
  drain(depthValues: number): DrainProgress {
    return this.meter.progress(depthValues);
  }

  /** @param depthValues the outbox depth, when the caller already read the outbox's stats */
  status(depthValues = this.outbox.stats().depthValues): ForwarderStatus {
    return {
      link: this.link.state,
      lastError: this.link.lastError,
      inflightBatches: this.inflight.size,
      retryingBatches: this.queue.length,
      deliveredBatches: this.deliveredBatches,
      deliveredReadings: this.deliveredReadings,
      lastDeliveryMs: this.lastDeliveryMs,
      deliveredQuarantined: this.deliveredQuarantined,
      drain: this.drain(depthValues),
      heartbeat: this.heartbeats.status(),
      lanes: this.lanes(),
    };
  }

  lanes(): LanesStatus {
    let inflightBacklog = 0;
    for (const b of this.inflight.values()) if (b.backlog) inflightBacklog++;
    return {
      liveFirst: this.fwd.liveFirst,
      liveWindowMs: this.fwd.liveWindowMs,
      live: { inflightBatches: this.inflight.size - inflightBacklog, ...this.laneCounts.live },
      backlog: { inflightBatches: inflightBacklog, ...this.laneCounts.backlog, heldBy: this.heldBy, maxBytesPerSecond: this.fwd.backlogMaxBytesPerSecond },
      sinkLag: this.sinkLag.status(),
    };
  }

  /** Gives in-flight batches flushMs to be confirmed; unconfirmed ones stay leased for next start. */
  async stop(flushMs = 5_000): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.meterTimer);
    this.heartbeats.stop();
    await this.sinkLag.stop();
    await this.link.stop(flushMs);
    this.heartbeats.abandonPending();
    this.outbox.markQuarantineForwarded(this.quarantineDelivered);
    this.quarantineDelivered = [];
  }
}

/** A batch encoded for Kafka. */
interface Outgoing {
  batch: LeasedBatch;
  msg: EncodedMessage;
}

function headerList(msg: EncodedMessage): { [key: string]: string }[] {
  return Object.entries(msg.headers).map(([k, v]) => ({ [k]: v }));
}

function isQuarantineOpaque(opaque: unknown): opaque is QuarantineOpaque {
  return typeof opaque === 'object' && opaque !== null && typeof (opaque as QuarantineOpaque).quarantineId === 'number';
}
