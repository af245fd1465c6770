// How far the cloud sink is behind on the gateway's readings partition, so the backlog lane does not
// fill Kafka faster than the sink stores: Kafka acks a batch long before the sink has written it,
// and a live batch produced behind a deep queue of backlog in the same partition waits for all of it.
//
// Delivery reports say where each batch landed (partition, offset); the sink's store group commits
// the offset after each stored poll (cloud-sink consume/store-consumer.ts). This gateway's backlog
// batches at or past that offset are the backlog a new live batch would queue behind. Only backlog
// batches are counted: live ones are small and many, and counting them would let live traffic hold
// the drain back. Other gateways' messages on the partition are theirs to bound. The committed offset is read with a KafkaConsumer that carries
// the sink's group.id but never subscribes or assigns: an OffsetFetch to the group coordinator, no
// JoinGroup, so the sink's group is neither joined nor rebalanced, and nothing is committed
// (enable.auto.commit off). Where it cannot be read (no Describe right on the group, an error) the
// watch says so once in the log and in /status, and the backlog goes by the in-flight window alone.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';

/** Reads one consumer group's committed offsets. */
export interface CommittedReader {
  /** The next offset the group will read in topic/partition; null when it has committed none. */
  committed(topic: string, partition: number): Promise<number | null>;
  close(): Promise<void>;
}

export type SinkLagState =
  /** No bound configured (backlogMaxSinkLagBatches 0). */
  | 'off'
  /** Nothing delivered yet, so the partition is not known; or not read yet. */
  | 'waiting'
  | 'ok'
  /** The group has no committed offset on the partition (a sink that never stored from it). */
  | 'no-offset'
  /** The offset could not be read: the in-flight window alone holds the backlog back. */
  | 'unavailable';

export interface SinkLagStatus {
  state: SinkLagState;
  group: string;
  partition: number | null;
  /** Offset of the last batch Kafka confirmed on that partition. */
  lastOffset: number | null;
  /** The sink group's committed (next to read) offset there, as last read. */
  committedOffset: number | null;
  /** This gateway's backlog batches on the partition the sink has not stored yet. */
  lagBatches: number | null;
  maxLagBatches: number;
  lastError: string;
  checkedMs: number | null;
}

export interface SinkLagOptions {
  topic: string;
  group: string;
  maxLagBatches: number;
  pollMs: number;
  /** Made on first need, so a gateway with no backlog never opens the extra connection. */
  reader: () => CommittedReader;
  log: Logger;
  clock?: () => number;
}

/** Polls stop this long after the backlog lane last asked: a gateway with no backlog reads nothing. */
const IDLE_AFTER_MS = 5_000;
/**
 * The reader (a librdkafka client: its threads, buffers and a broker connection, a few MB) is closed
 * this long after the backlog lane last asked, and made again at the next drain: a drain's gaps are
 * shorter than this, and between outages the gateway holds only the clients it uses.
 */
const CLOSE_AFTER_MS = 60_000;
/**
 * Until the first committed offset is read (or while the group has none yet), every backlog batch
 * delivered counts as unstored, so a drain's first seconds cannot flood the partition before the
 * watch knows anything. A group that still has no offset after this long is taken to be no help
 * (a wrong sinkGroup, say): the backlog then goes by the in-flight window, rather than stall.
 */
const NO_OFFSET_GRACE_MS = 15_000;

export class SinkLagWatch {
  private state: SinkLagState;
  private partition: number | null = null;
  private lastOffset: number | null = null;
  /** Offsets of delivered backlog batches not yet known stored, ascending. */
  private backlogOffsets: number[] = [];
  private committedOffset: number | null = null;
  private lastError = '';
  private checkedMs: number | null = null;
  private reader: CommittedReader | null = null;
  private closing: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private askedMs = -Infinity;
  private firstBacklogMs: number | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly opts: SinkLagOptions) {
    this.now = opts.clock ?? Date.now;
    this.state = opts.maxLagBatches > 0 ? 'waiting' : 'off';
  }

  start(): void {
    if (this.state === 'off') return;
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.timer.unref();
  }

  /** A delivery report for a readings batch. */
  delivered(partition: number, offset: number, backlog: boolean): void {
    if (this.state === 'off') return;
    if (this.partition !== partition) {
      // The key decides the partition; a new one (partitions added) starts afresh.
      this.partition = partition;
      this.committedOffset = null;
      this.lastOffset = null;
      this.backlogOffsets = [];
    }
    if (this.lastOffset === null || offset > this.lastOffset) this.lastOffset = offset;
    if (backlog && (this.committedOffset === null || offset >= this.committedOffset)) {
      this.firstBacklogMs ??= this.now();
      this.backlogOffsets.push(offset);
      // Reports come in produce order, so this is almost always already sorted.
      if (this.backlogOffsets.length > 1 && this.backlogOffsets.at(-2)! > offset) this.backlogOffsets.sort((a, b) => a - b);
      // While offsets cannot be read, nothing prunes the list: keep it bounded.
      if (this.backlogOffsets.length > 10_000) this.backlogOffsets.splice(0, this.backlogOffsets.length - 10_000);
    }
  }

  /**
   * This gateway's backlog batches the sink has not stored, not counting those produced and not yet
   * confirmed; null when unknown (then the in-flight window alone bounds the backlog).
   */
  lag(): number | null {
    if (this.committedOffset !== null) return this.backlogOffsets.length;
    const early = this.state === 'waiting' || this.state === 'no-offset';
    if (early && this.firstBacklogMs !== null && this.now() - this.firstBacklogMs < NO_OFFSET_GRACE_MS) return this.backlogOffsets.length;
    return null;
  }

  /**
   * Whether one more backlog batch may be produced with `inflight` backlog batches still awaiting
   * their delivery report. Without a reading (not yet, no offset, unavailable) it allows: the
   * forwarder's in-flight window is then the only bound.
   */
  allows(inflight: number): boolean {
    if (this.state === 'off') return true;
    this.askedMs = this.now();
    const lag = this.lag();
    if (lag === null) return true;
    return lag + inflight < this.opts.maxLagBatches;
  }

  /** One read of the committed offset; public so tests can drive it without the timer. */
  async poll(): Promise<void> {
    if (this.stopped || this.polling || this.partition === null) return;
    const quiet = this.now() - this.askedMs;
    if (quiet > CLOSE_AFTER_MS && this.reader) this.closeReader();
    if (quiet > IDLE_AFTER_MS) return;
    this.polling = true;
    const partition = this.partition;
    try {
      // A reader being closed finishes first: never two clients with the same group at once.
      await this.closing;
      this.reader ??= this.opts.reader();
      const offset = await this.reader.committed(this.opts.topic, partition);
      if (this.partition !== partition) return;
      if (this.state === 'unavailable') this.opts.log.info({ group: this.opts.group }, 'sink group offsets readable again; backlog paced by the sink\'s progress');
      this.committedOffset = offset;
      if (offset !== null) {
        let stored = 0;
        while (stored < this.backlogOffsets.length && this.backlogOffsets[stored]! < offset) stored++;
        if (stored) this.backlogOffsets.splice(0, stored);
      }
      this.state = offset === null ? 'no-offset' : 'ok';
      this.lastError = '';
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.state !== 'unavailable') {
        this.opts.log.warn(
          { group: this.opts.group, err: this.lastError },
          'cannot read the sink group\'s committed offsets; the backlog is held back by the in-flight window alone',
        );
      }
      this.state = 'unavailable';
      this.committedOffset = null;
    } finally {
      this.checkedMs = this.now();
      this.polling = false;
    }
  }

  status(): SinkLagStatus {
    return {
      state: this.state,
      group: this.opts.group,
      partition: this.partition,
      lastOffset: this.lastOffset,
      committedOffset: this.committedOffset,
      lagBatches: this.lag(),
      maxLagBatches: this.opts.maxLagBatches,
      lastError: this.lastError,
      checkedMs: this.checkedMs,
    };
  }

  /** Whether a reader (and so its Kafka client) is open now. */
  get readerOpen(): boolean {
    return this.reader !== null;
  }

  private closeReader(): void {
    const r = this.reader;
    this.reader = null;
    if (r) this.closing = this.closing.then(() => r.close()).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.closeReader();
    await this.closing;
  }
}

/**
 * The sink group's committed offsets through librdkafka: a consumer that is connected and asked,
 * never subscribed or assigned, so it does not join the group.
 */
export function kafkaCommittedReader(cfg: GatewayConfig['kafka'], group: string, gatewayId: string): CommittedReader {
  const consumer = new Kafka.KafkaConsumer(
    {
      'metadata.broker.list': cfg.brokers,
      'group.id': group,
      'client.id': `fieldline-gateway-${gatewayId}-sink-lag`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'socket.keepalive.enable': true,
      'log.connection.close': false,
      ...cfg.rdkafka,
    } as Kafka.ConsumerGlobalConfig,
    {},
  );
  // Errors reach the caller through committed(); an unhandled 'event.error' would only add noise.
  consumer.on('event.error', () => undefined);
  let connected: Promise<void> | null = null;
  const connect = (): Promise<void> => {
    connected ??= new Promise<void>((resolve, reject) => {
      consumer.connect({ timeout: 5_000 }, (err) => {
        if (err) {
          connected = null;
          reject(new Error(err.message));
        } else resolve();
      });
    });
    return connected;
  };
  return {
    async committed(topic, partition) {
      await connect();
      return new Promise<number | null>((resolve, reject) => {
        consumer.committed([{ topic, partition }], 5_000, (err, tps) => {
          if (err) return reject(new Error(err.message));
          const tp = tps.find((t) => t.topic === topic && t.partition === partition);
          // librdkafka reports "no committed offset" as a negative offset (RD_KAFKA_OFFSET_INVALID).
          if (tp && 'error' in tp && tp.error) return reject(new Error(String((tp.error as { message?: string }).message ?? tp.error)));
          resolve(tp && tp.offset >= 0 ? tp.offset : null);
        });
      });
    },
    async close() {
      if (!connected) return;
      await connected.catch(() => undefined);
      if (!consumer.isConnected()) return;
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    },
  };
}
