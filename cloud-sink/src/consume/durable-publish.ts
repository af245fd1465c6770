// What the cloud's database-to-Kafka publishers share (the rule book, the gateway config book, the
// command relay): a producer whose every message is awaited until Kafka confirmed it, and a loop that
// re-runs the publisher's sync until the database has nothing Kafka lacks. A row is marked published
// only after its delivery report, so a failed run only means the next one sends it again.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { connectProducer, disconnectProducer, type KafkaSettings } from './group-consumer.js';

export interface DeliveredProducerOptions {
  kafka: KafkaSettings;
  clientId: string;
  /** librdkafka's message.timeout.ms (default 10 s). */
  deliveryTimeoutMs?: number;
  /** The message timestamp's clock (default Date.now). */
  now?: () => number;
  /** For tests: what connects and disconnects the producer (default group-consumer's). */
  connect?: (kafka: KafkaSettings, clientId: string, extra: Record<string, string | number | boolean>) => Promise<Kafka.Producer>;
  disconnect?: (p: Kafka.Producer) => Promise<void>;
}

/** A producer whose produce() resolves with the message's delivery error, or null once Kafka has it. */
export class DeliveredProducer {
  private producer: Kafka.Producer | null = null;
  private readonly pending = new Map<number, (err: Error | null) => void>();
  private nextOpaque = 1;
  private readonly deliveryTimeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: DeliveredProducerOptions) {
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** The connected producer, connecting one first if there is none; throws when Kafka cannot be reached. */
  async connect(): Promise<Kafka.Producer> {
    if (this.producer) return this.producer;
    const connect = this.opts.connect ?? connectProducer;
    const p = await connect(this.opts.kafka, this.opts.clientId, { dr_cb: true, 'message.timeout.ms': this.deliveryTimeoutMs });
    p.on('delivery-report', (err, report) => {
      const settle = typeof report.opaque === 'number' ? this.pending.get(report.opaque) : undefined;
      settle?.(err ? new Error(err.message) : null);
    });
    this.producer = p;
    return p;
  }

  /** Produces one message on the producer connect() returned; partition null leaves it to the partitioner. */
  produce(topic: string, key: string, value: Buffer | null, headers: Kafka.MessageHeader[], partition: number | null = null): Promise<Error | null> {
    const producer = this.producer;
    if (!producer) return Promise.resolve(new Error('the producer is not connected'));
    const opaque = this.nextOpaque++;
    const limitMs = this.deliveryTimeoutMs + 5_000;
    return new Promise<Error | null>((resolve) => {
      // librdkafka reports every message by message.timeout.ms; the margin covers a report that
      // never comes because the producer itself went away.
      const timer = setTimeout(() => settle(new Error(`no delivery report within ${limitMs} ms`)), limitMs);
      const settle = (err: Error | null): void => {
        clearTimeout(timer);
        this.pending.delete(opaque);
        resolve(err);
      };
      this.pending.set(opaque, settle);
      try {
        producer.produce(topic, partition, value, key, this.now(), opaque, headers);
      } catch (err) {
        settle(err as Error);
      }
    });
  }

  /** Disconnects; every delivery still awaited fails. The next connect() makes a new producer. */
  async close(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) await (this.opts.disconnect ?? disconnectProducer)(p);
    for (const settle of [...this.pending.values()]) settle(new Error('the producer was closed'));
  }
}

/**
 * Calls marked(row) for each row whose message Kafka confirmed, one after the other, and returns the
 * first delivery error: the rows that failed are left unmarked for the next run.
 */
export async function markDelivered<T>(rows: readonly T[], results: readonly (Error | null)[], marked: (row: T) => Promise<void>): Promise<Error | null> {
  let firstError: Error | null = null;
  for (const [i, row] of rows.entries()) {
    const err = results[i];
    if (err) {
      firstError ??= err;
      continue;
    }
    await marked(row);
  }
  return firstError;
}

/** The fields of a publisher's stats the loop keeps; the publisher's own stats object is passed in and written to. */
export interface SyncStats {
  state: 'stopped' | 'idle' | 'up' | 'down';
  /** Runs that failed; each is retried after syncMs. */
  failedRuns: number;
  lastError: string;
}

export interface SyncLoopOptions {
  /** One run; resolves true when there may be more to do (the loop runs again at once), throws when it failed. */
  run: () => Promise<boolean>;
  /** How long the loop sleeps when nothing asked for a run sooner. */
  syncMs: number;
  /** How long publishSoon waits for its run (default 2 s). */
  publishWaitMs?: number;
  stats: SyncStats;
  log: Logger;
  /** Logged (info) on the first good run after a failed one. */
  recoveredMessage: string;
  /** Logged (warn, with the error) on the first failed run after a good one; later failures are only counted. */
  failedMessage: string;
  onSuccess?: () => void;
  onError?: () => void;
  /**
   * Called after a failed run and on stop: the next run gets a new producer, and whatever the old one
   * still held is sent again anyway.
   */
  dropProducer: () => Promise<void>;
}

interface Waiter {
  seq: number;
  done: () => void;
}

export class SyncLoop {
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  /** Runs asked for; a waiter is done once a run that started after its request has finished. */
  private requested = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly opts: SyncLoopOptions) {}

  /** A run now, then every syncMs and whenever asked. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.opts.stats.state = 'idle';
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loopDone;
    await this.opts.dropProducer();
    for (const w of this.waiters) w.done();
    this.waiters.clear();
    this.opts.stats.state = 'stopped';
  }

  /** Resolves once a run that started after this call has finished (or after timeoutMs). */
  syncNow(timeoutMs = 30_000): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const seq = ++this.requested;
    this.wake?.();
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { seq, done: () => finish() };
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * After a change: asks for a run and waits for it briefly, so the caller usually answers once the
   * change is on Kafka. Not waited for while Kafka is known to be down: the database has the change
   * and a later run sends it.
   */
  async publishSoon(): Promise<void> {
    if (this.stopped) return;
    const wait = this.syncNow(this.opts.publishWaitMs ?? 2_000);
    if (this.opts.stats.state !== 'down') await wait;
  }

  private async loop(): Promise<void> {
    const { stats, log } = this.opts;
    while (!this.stopped) {
      const seq = this.requested;
      let again = false;
      try {
        again = await this.opts.run();
        if (stats.state === 'down') log.info(this.opts.recoveredMessage);
        stats.state = 'up';
        this.opts.onSuccess?.();
      } catch (err) {
        stats.failedRuns++;
        this.opts.onError?.();
        const message = (err as Error).message;
        if (stats.state !== 'down') log.warn({ err: message }, this.opts.failedMessage);
        stats.state = 'down';
        stats.lastError = message;
        await this.opts.dropProducer();
      }
      for (const w of this.waiters) if (w.seq <= seq) w.done();
      if (this.stopped) break;
      if (again || this.requested > seq) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.syncMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}
