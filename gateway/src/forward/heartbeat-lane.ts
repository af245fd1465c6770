// The heartbeat lane (issue 11): a heartbeat every kafka.heartbeatIntervalMs, and while the cloud
// is out of reach only the newest one waits, in the outbox's heartbeat slot, never a backlog.
//
// At most one heartbeat is in librdkafka's hands at a time. The link counts as ready whenever the
// producer is connected, and the producer stays connected through a broker outage, queueing
// whatever it is given until message.timeout.ms; producing on every tick would pile up one
// heartbeat per interval there and flood iot.heartbeats when the broker returns. So while one
// awaits its delivery report, newer ones go to the slot, each replacing the last.
//
// What the cloud wants after an outage is the gateway's state now, not its state when the link
// dropped. So when a send becomes possible again (the link comes up, or the heartbeat stuck in
// librdkafka's queue is finally delivered) and a heartbeat is waiting, a fresh one is built and
// sent at once rather than at the next tick, and the waiting one is dropped: within a run every
// figure in it is either a snapshot the fresh one renews or a counter the fresh one includes.
// A stored heartbeat goes out itself, marked `delayed`, only where no fresh one can stand in for
// it: when building a fresh one fails, and when the gateway restarted while it waited. A restart
// resets the loss counters, so the previous run's last heartbeat holds figures no heartbeat of this
// run can carry; it is held in memory at start and sent once, before this run's first.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { encodeHeartbeat, type Heartbeat } from '../../../proto/src/wire.js';
import type { Metrics } from '../metrics.js';
import type { HeartbeatSlot } from '../outbox/outbox.js';

/** The metrics stage heartbeats count under (docs/METRICS.md). */
export const HEARTBEAT_STAGE = 'heartbeat';

export type HeartbeatProducer = Pick<Kafka.Producer, 'produce'>;

/** What the lane needs of the Kafka link (forward/kafka.ts KafkaLink). */
export interface HeartbeatLink {
  readonly producer: HeartbeatProducer | null;
  readonly ready: boolean;
}

export interface HeartbeatLaneOptions {
  topic: string;
  intervalMs: number;
  /**
   * A produced heartbeat with no delivery report after this long is taken as lost, so a report
   * that never comes (its producer was replaced after a fatal error) cannot stop the lane.
   */
  reportTimeoutMs: number;
  link: HeartbeatLink;
  slot: HeartbeatSlot;
  metrics: Metrics;
  log: Logger;
  /** Milliseconds since the epoch (tests pass a fake). Default: Date.now. */
  clock?: () => number;
}

export interface HeartbeatLaneStatus {
  /** Heartbeats handed to librdkafka and not yet reported: 0 or 1. */
  inQueue: number;
  /** ts_ms of the heartbeat waiting in the slot, or null. */
  waitingTsMs: number | null;
  /** ts_ms of the previous run's last heartbeat, held to be sent before this run's, or null. */
  inheritedTsMs: number | null;
  /** When Kafka last confirmed a heartbeat (gateway clock), or null. */
  lastSentMs: number | null;
  /** The stage's counters: built (received), confirmed, replaced by a newer one, failed. */
  received: number;
  sent: number;
  dropped: number;
  errors: number;
}

type Kind = 'fresh' | 'stored' | 'inherited';

/** The opaque a heartbeat carries to its delivery report: one object per produce, so a late report for an abandoned one is told apart. */
class HeartbeatOpaque {
  constructor(readonly n: number) {}
}

interface Pending {
  opaque: HeartbeatOpaque;
  hb: Heartbeat;
  kind: Kind;
  producer: HeartbeatProducer;
  atMs: number;
}

export class HeartbeatLane {
  private build?: () => Promise<Heartbeat>;
  private timer?: NodeJS.Timeout;
  private pending: Pending | null = null;
  /** The newest heartbeat of this run not yet sent; the slot holds the same (when the disk let it). */
  private waiting: Heartbeat | null = null;
  private inherited: Heartbeat | null = null;
  /** A build under way for a send (ticks and sends never build two at once). */
  private building = false;
  private ticking = false;
  private stopped = false;
  private produced = 0;
  private lastSentMs: number | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: HeartbeatLaneOptions) {
    this.now = opts.clock ?? Date.now;
  }

  /**
   * Starts the timer, with a first heartbeat at once. `build` makes a heartbeat of the gateway as it
   * is now. Anything in the slot at this point was left there by the previous run.
   */
  start(build: () => Promise<Heartbeat>): void {
    this.build = build;
    this.inherited = this.opts.slot.waitingHeartbeat();
    if (this.inherited) {
      this.opts.metrics.count(HEARTBEAT_STAGE, 'received');
      this.opts.log.info({ tsMs: ts(this.inherited) }, 'the previous run left a heartbeat unsent; it goes first, marked delayed');
    }
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** The link has (re)connected: a heartbeat that waited goes now, not at the next tick. */
  linkUp(): void {
    this.next();
  }

  /** Whether this delivery report is a heartbeat's (the forwarder routes reports by opaque). */
  owns(opaque: unknown): boolean {
    return opaque instanceof HeartbeatOpaque;
  }

  onDelivery(err: { message: string } | null, opaque: unknown): void {
    const p = this.pending;
    // A report for a heartbeat already given up as lost: it was counted then.
    if (!p || p.opaque !== opaque) return;
    this.pending = null;
    if (err) return this.failed(p, err.message);
    const m = this.opts.metrics;
    m.count(HEARTBEAT_STAGE, 'sent');
    this.lastSentMs = this.now();
    if (p.kind === 'inherited') {
      this.inherited = null;
    } else if (this.waiting && ts(this.waiting) <= ts(p.hb)) {
      // A fresh one makes what waited redundant; a stored one was what waited.
      if (p.kind === 'fresh') m.count(HEARTBEAT_STAGE, 'dropped');
      this.waiting = null;
    }
    this.onDisk('clearing the heartbeat slot', () => this.opts.slot.clearHeartbeat(ts(p.hb)));
    this.next();
  }

  /** Stops the timer; a heartbeat still in librdkafka's hands may yet be reported (the link flushes). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /**
   * After the link has stopped: a heartbeat it never reported goes to the slot, so the next start
   * sends it as the previous run's last.
   */
  abandonPending(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.failed(p, 'not confirmed before the gateway stopped');
  }

  status(): HeartbeatLaneStatus {
    const m = this.opts.metrics;
    return {
      inQueue: this.pending ? 1 : 0,
      waitingTsMs: this.waiting ? ts(this.waiting) : null,
      inheritedTsMs: this.inherited ? ts(this.inherited) : null,
      lastSentMs: this.lastSentMs,
      received: m.get(HEARTBEAT_STAGE, 'received'),
      sent: m.get(HEARTBEAT_STAGE, 'sent'),
      dropped: m.get(HEARTBEAT_STAGE, 'dropped'),
      errors: m.get(HEARTBEAT_STAGE, 'errors'),
    };
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      this.expireLostReport();
      const hb = await this.fresh();
      if (hb) this.offer(hb);
    } finally {
      this.ticking = false;
    }
  }

  /** Builds a heartbeat of now; null (logged) when that fails. */
  private async fresh(): Promise<Heartbeat | null> {
    if (!this.build) return null;
    try {
      const hb = await this.build();
      this.opts.metrics.count(HEARTBEAT_STAGE, 'received');
      return hb;
    } catch (err) {
      // After stop() the outbox may be closed under a build; nothing is owed then.
      if (!this.stopped) this.opts.log.warn({ err: (err as Error).message }, 'building a heartbeat failed');
      return null;
    }
  }

  /** Sends `hb` if nothing stands before it, else keeps it as the one waiting. */
  private offer(hb: Heartbeat): void {
    const producer = this.sendable();
    // A send already building a fresh heartbeat will carry newer figures than this one.
    if (producer && !this.inherited && !this.building) return this.produce(producer, hb, 'fresh');
    this.keep(hb);
    this.next();
  }

  /** The next send, when one is possible and something is owed: the inherited heartbeat, else a fresh one. */
  private next(): void {
    if (this.building) return;
    const producer = this.sendable();
    if (!producer) return;
    if (this.inherited) return this.produce(producer, { ...this.inherited, delayed: true }, 'inherited');
    if (this.waiting) void this.sendFresh();
  }

  private async sendFresh(): Promise<void> {
    this.building = true;
    let hb: Heartbeat | null;
    try {
      hb = await this.fresh();
    } finally {
      this.building = false;
    }
    if (this.stopped) return;
    const producer = this.sendable();
    if (hb) {
      if (producer) this.produce(producer, hb, 'fresh');
      else this.keep(hb);
    } else if (producer && this.waiting) {
      this.produce(producer, { ...this.waiting, delayed: true }, 'stored');
    }
  }

  /** The producer, when a heartbeat may be handed to it now. */
  private sendable(): HeartbeatProducer | null {
    if (this.stopped || this.pending || !this.opts.link.ready) return null;
    return this.opts.link.producer;
  }

  private produce(producer: HeartbeatProducer, hb: Heartbeat, kind: Kind): void {
    const msg = encodeHeartbeat(hb);
    const opaque = new HeartbeatOpaque(++this.produced);
    const pending: Pending = { opaque, hb, kind, producer, atMs: this.now() };
    try {
      producer.produce(
        this.opts.topic, null, msg.value, msg.key, this.now(), opaque, Object.entries(msg.headers).map(([k, v]) => ({ [k]: v })),
      );
    } catch (err) {
      // Usually the local queue is full of batches; the heartbeat waits for the next chance.
      return this.failed(pending, (err as Error).message);
    }
    this.pending = pending;
  }

  /** Not delivered: counted, and a heartbeat of this run waits unless a newer one already does. */
  private failed(p: Pending, reason: string): void {
    this.opts.metrics.count(HEARTBEAT_STAGE, 'errors');
    this.opts.log.debug({ reason, kind: p.kind }, 'heartbeat not delivered; the newest waits for the link');
    // An inherited or stored heartbeat is still where it was (in memory, in the slot).
    if (p.kind === 'fresh') this.keep(p.hb);
  }

  /** Makes `hb` the one waiting; whichever of it and the waiting one is older is dropped. */
  private keep(hb: Heartbeat): void {
    const m = this.opts.metrics;
    if (this.waiting) {
      m.count(HEARTBEAT_STAGE, 'dropped');
      if (ts(this.waiting) > ts(hb)) return;
    }
    this.waiting = hb;
    // Not stored (disk full): it still waits in memory, only a restart would lose it.
    if (!this.onDisk('keeping a heartbeat', () => this.opts.slot.keepHeartbeat(hb))) this.opts.log.debug('heartbeat not kept on disk; it waits in memory');
  }

  /**
   * The slot's writes run in timers and in librdkafka's delivery callbacks, where a throw would end
   * the process; a heartbeat is not worth that.
   */
  private onDisk(what: string, write: () => boolean): boolean {
    try {
      return write();
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, `${what} failed`);
      return false;
    }
  }

  private expireLostReport(): void {
    const p = this.pending;
    if (!p) return;
    const replaced = this.opts.link.producer !== p.producer;
    if (!replaced && this.now() - p.atMs < this.opts.reportTimeoutMs) return;
    this.pending = null;
    this.failed(p, replaced ? 'its producer was replaced' : 'no delivery report');
  }
}

function ts(hb: Heartbeat): number {
  return Number(hb.tsMs ?? 0);
}
