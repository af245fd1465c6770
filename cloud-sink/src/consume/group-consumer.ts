// One member of a Kafka consumer group, shared by every cloud worker that reads a topic (the store,
// the lake, the fleet consumers, the DLQ replay). It owns what they have in common: connecting,
// riding out broker outages without losing its place in the group, backing off, and committing.
//
// Lifecycle guarantees, which the workers rely on:
// - `handle` sees each poll's messages (never an empty list) one poll at a time, in partition order.
//   Without `prepare` the next poll waits for it. With `prepare`, the next poll is fetched and
//   prepared while `handle` still runs (one poll ahead, no more), so a worker bound by a database
//   decodes its next messages while the server works on the last ones; handles still run one at a
//   time in poll order, each after its own prepare.
// - With `commit: 'after-handle'` the polled offsets are committed only once `handle` has resolved,
//   so a crash anywhere replays messages and never skips one. A worker that keeps messages longer
//   (the lake holds a file's worth) uses `commit: 'manual'` and calls commit() itself.
// - A throw from `handle` drops the connection and reconnects with backoff: the group hands the
//   partitions out again from the last committed offsets, so whatever was not committed replays.
// - `onAssign`/`onRevoke` run when the group moves partitions, before messages of a newly assigned
//   partition reach `handle`.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';

export interface KafkaSettings {
  brokers: string;
  sessionTimeoutMs: number;
  /** Extra librdkafka properties (security.protocol, sasl.*, ssl.*), passed through as given. */
  rdkafka: Record<string, string | number | boolean>;
}

export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface GroupConsumerOptions<P = undefined> {
  /** The worker, for logs: "<name> consumer subscribed" marks the moment it is ready. */
  name: string;
  kafka: KafkaSettings;
  topics: string[];
  group: string;
  clientId: string;
  /** Most messages one poll hands to `handle`. */
  maxBatchMessages: number;
  commit: 'after-handle' | 'manual';
  /** How long a poll waits for more messages once it has some, in ms (default 10). */
  pollWaitMs?: number;
  log: Logger;
  /**
   * The first half of handling a poll, which may run while the previous poll's `handle` is still
   * running (decoding, checks); what it returns is handed to that poll's `handle`. It must not
   * depend on the previous poll having been handled. A throw drops the connection like one from
   * `handle`, after the previous `handle` has finished.
   */
  prepare?(messages: Kafka.Message[]): Promise<P>;
  handle(messages: Kafka.Message[], prepared: P): Promise<void>;
  /** Called when nothing arrived in a poll, so a worker can roll files by age on a quiet topic. */
  idle?(): Promise<void>;
  onAssign?(partitions: PartitionRef[]): void;
  onRevoke?(partitions: PartitionRef[]): void;
  /** Extra librdkafka properties for this group alone (e.g. the assignment strategy). */
  groupConfig?: Record<string, string | number | boolean>;
  /**
   * Where a partition with no committed offset starts (default `earliest`, so nothing is skipped);
   * `latest` for a live view that never commits (the stream's feed).
   */
  offsetReset?: 'earliest' | 'latest';
}

export interface GroupConsumerStats {
  state: 'connecting' | 'up' | 'down' | 'stopped';
  lastError: string;
  messages: number;
  /** Kafka failures ridden out (broker unreachable, failed commits, reconnects). */
  consumeErrors: number;
  lastCommitMs: number | null;
}

export class GroupConsumer<P = undefined> {
  private consumer: Kafka.KafkaConsumer | null = null;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  readonly stats: GroupConsumerStats = { state: 'connecting', lastError: '', messages: 0, consumeErrors: 0, lastCommitMs: null };

  constructor(private readonly opts: GroupConsumerOptions<P>) {}

  /** librdkafka settings for any client of the same cluster (a DLQ producer, say). */
  static clientConfig(kafka: KafkaSettings): Record<string, string | number | boolean> {
    return { 'metadata.broker.list': kafka.brokers, ...kafka.rdkafka };
  }

  start(): void {
    this.loopDone = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loopDone;
  }

  get isStopping(): boolean {
    return this.stopped;
  }

  /**
   * Commits the given next offsets. Asynchronous: librdkafka's synchronous commit waits with no
   * time limit while the group coordinator is unreachable. A commit that fails only means a replay.
   */
  commit(offsets: Kafka.TopicPartitionOffset[]): void {
    if (!this.consumer || offsets.length === 0) return;
    try {
      this.consumer.commit(offsets);
      this.stats.lastCommitMs = Date.now();
    } catch (err) {
      this.noteTransient(err as Error);
    }
  }

  /** The partitions this member holds now. */
  assignments(): PartitionRef[] {
    try {
      return this.consumer?.assignments().map((a) => ({ topic: a.topic, partition: a.partition })) ?? [];
    } catch {
      return [];
    }
  }

  /** The group's committed next offset per partition (-1001 when none), or null when unreachable. */
  async committed(partitions: PartitionRef[], timeoutMs = 5_000): Promise<Map<string, number> | null> {
    const c = this.consumer;
    if (!c || partitions.length === 0) return new Map();
    return new Promise((resolve) => {
      c.committed(partitions.map((p) => ({ ...p, offset: 0 })), timeoutMs, (err, tps) => {
        if (err) return resolve(null);
        resolve(new Map(tps.map((t) => [partitionKey(t), t.offset ?? -1001])));
      });
    });
  }

  /**
   * The partition's high watermark as the last fetch response reported it (no broker round trip;
   * at most fetch.wait.max.ms old while the partition is fetched), or null before the first.
   */
  fetchedHighWatermark(p: PartitionRef): number | null {
    try {
      const w = this.consumer?.getWatermarkOffsets(p.topic, p.partition);
      const high = w ? Number(w.highOffset) : -1;
      return high >= 0 ? high : null;
    } catch {
      return null;
    }
  }

  /** How many partitions each topic has, from the cluster's metadata; null when unreachable. */
  async partitionCounts(timeoutMs = 5_000): Promise<Map<string, number> | null> {
    const c = this.consumer;
    if (!c) return null;
    return new Promise((resolve) => {
      c.getMetadata({ timeout: timeoutMs }, (err, md) => {
        if (err) return resolve(null);
        resolve(new Map(md.topics.map((t) => [t.name, t.partitions.length])));
      });
    });
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        await this.connect();
        attempt = 0;
        this.stats.state = 'up';
        await this.consumeLoop();
      } catch (err) {
        this.stats.consumeErrors++;
        this.stats.state = 'down';
        this.stats.lastError = (err as Error).message;
        if (attempt === 0) this.opts.log.warn({ err: (err as Error).message }, 'Kafka consumer unavailable; retrying');
        await this.disconnect();
        if (!this.stopped) await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt++, 6)));
      }
    }
    await this.disconnect();
    this.stats.state = 'stopped';
  }

  private async connect(): Promise<void> {
    const { kafka } = this.opts;
    const consumer = new Kafka.KafkaConsumer(
      {
        ...GroupConsumer.clientConfig(kafka),
        'group.id': this.opts.group,
        'client.id': this.opts.clientId,
        'enable.auto.commit': false,
        'allow.auto.create.topics': true,
        'socket.keepalive.enable': true,
        // After a broker restart the group waits this long for members it lost track of before it
        // hands out partitions again; the 45 s default would hold every reading that long.
        'session.timeout.ms': kafka.sessionTimeoutMs,
        'heartbeat.interval.ms': Math.max(500, Math.floor(kafka.sessionTimeoutMs / 4)),
        rebalance_cb: true,
        ...this.opts.groupConfig,
      } as Kafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': this.opts.offsetReset ?? 'earliest' },
    );
    consumer.on('rebalance', (err, assignment) => {
      const parts = (assignment ?? []).map((a) => ({ topic: a.topic, partition: a.partition }));
      if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) this.opts.onAssign?.(parts);
      else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) this.opts.onRevoke?.(parts);
    });
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));
    this.consumer = consumer;
    // librdkafka's batch consume returns only when it has maxBatchMessages or waited this long for
    // the next one; a short wait keeps a steady trickle from being held until the batch fills.
    consumer.setDefaultConsumeTimeout(this.opts.pollWaitMs ?? 10);
    consumer.subscribe(this.opts.topics);
    this.opts.log.info({ topics: this.opts.topics, group: this.opts.group }, `${this.opts.name} consumer subscribed`);
  }

  private async consumeLoop(): Promise<void> {
    const consumer = this.consumer!;
    const prepare = this.opts.prepare;
    // The previous poll's handle and commit, still running while the next poll is fetched and
    // prepared (only with `prepare`). Its offsets are committed by it, after its handle resolved.
    let handling: Promise<void> | null = null;
    try {
      while (!this.stopped) {
        let messages: Kafka.Message[];
        try {
          messages = await new Promise<Kafka.Message[]>((resolve, reject) =>
            consumer.consume(this.opts.maxBatchMessages, (err, msgs) => (err ? reject(err) : resolve(msgs))),
          );
        } catch (err) {
          // Broker outages surface here as transient errors. Keeping the same consumer matters: a new
          // one would wait out the old member's session timeout before the group gives it partitions.
          if ((err as Kafka.LibrdKafkaError).isFatal) throw err;
          this.noteTransient(err as Error);
          await sleep(500);
          continue;
        }
        if (messages.length === 0) {
          if (handling) {
            const h = handling;
            handling = null;
            await h;
          }
          await this.opts.idle?.();
          continue;
        }
        this.stats.messages += messages.length;
        if (!prepare) {
          await this.handleAndCommit(messages, undefined as P);
          continue;
        }
        const prepared = await prepare(messages);
        if (handling) {
          const h = handling;
          handling = null;
          await h;
        }
        handling = this.handleAndCommit(messages, prepared);
        // Awaited at the next turn (or below); until then a rejection must not count as unhandled.
        handling.catch(() => {});
      }
      if (handling) await handling;
    } catch (err) {
      // Whatever fails, the handle still running finishes before the connection goes: its commit
      // needs the consumer. Its own failure only means a replay, like this one's.
      if (handling) await handling.catch(() => {});
      throw err;
    }
  }

  private async handleAndCommit(messages: Kafka.Message[], prepared: P): Promise<void> {
    await this.opts.handle(messages, prepared);
    this.stats.state = 'up';
    if (this.opts.commit === 'after-handle') this.commit(nextOffsets(messages));
  }

  private noteTransient(err: Error): void {
    this.stats.consumeErrors++;
    if (this.stats.state !== 'down') this.opts.log.warn({ err: err.message }, 'Kafka unavailable; the consumer keeps retrying');
    this.stats.state = 'down';
    this.stats.lastError = err.message;
  }

  private async disconnect(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    if (c) await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}

export function partitionKey(p: PartitionRef): string {
  return `${p.topic}\u0000${p.partition}`;
}

/** The offsets to commit after `messages`: one past the highest per partition. */
export function nextOffsets(messages: readonly Kafka.Message[]): Kafka.TopicPartitionOffset[] {
  const next = new Map<string, Kafka.TopicPartitionOffset>();
  for (const m of messages) {
    const key = partitionKey(m);
    const cur = next.get(key);
    if (!cur || m.offset + 1 > cur.offset) next.set(key, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
  }
  return [...next.values()];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A producer connected and polling, for workers that write back to Kafka (DLQ, aggregates). `extra`
 * adds librdkafka properties, e.g. `dr_cb: true` for a worker that waits for each delivery report.
 */
export async function connectProducer(kafka: KafkaSettings, clientId: string, extra: Record<string, string | number | boolean> = {}): Promise<Kafka.Producer> {
  const p = new Kafka.Producer({ ...GroupConsumer.clientConfig(kafka), 'client.id': clientId, 'enable.idempotence': true, dr_cb: false, ...extra } as Kafka.ProducerGlobalConfig);
  await new Promise<void>((resolve, reject) => p.connect({ timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));
  p.setPollInterval(100);
  return p;
}

export function flushProducer(p: Kafka.Producer, timeoutMs = 10_000): Promise<void> {
  return new Promise<void>((resolve, reject) => p.flush(timeoutMs, (e) => (e ? reject(e) : resolve())));
}

export function disconnectProducer(p: Kafka.Producer): Promise<void> {
  return new Promise<void>((resolve) => p.disconnect(() => resolve()));
}
