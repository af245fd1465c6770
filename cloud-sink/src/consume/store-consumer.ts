// Consumes iot.readings into the database. Offsets are committed only after the transaction that
// holds the batches' rows and their ingested_batches entries has committed, so a crash anywhere
// replays messages, and the ledger turns each replay into a no-op (DESIGN.md guarantee 1).
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { decodeBatch, Header, WireError } from '../../../proto/src/wire.js';
import type { CloudConfig } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import type { IngestBatch, Store } from '../store/store.js';

export interface ConsumerStats {
  state: 'connecting' | 'up' | 'down' | 'stopped';
  lastError: string;
  messages: number;
  batchesInserted: number;
  batchesSkipped: number;
  rowsInserted: number;
  /** Values the store could not hold (e.g. not finite); the rest of their batch was stored. */
  rowsRejected: number;
  deadLettered: number;
  /** Kafka failures the consumer rode out (broker unreachable, failed commits, reconnects). */
  consumeErrors: number;
  /** Database writes that failed and were retried with the offsets held. */
  storeErrors: number;
  lastCommitMs: number | null;
}

export class StoreConsumer {
  private consumer: Kafka.KafkaConsumer | null = null;
  private dlq: Kafka.Producer | null = null;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  readonly stats: ConsumerStats = {
    state: 'connecting', lastError: '', messages: 0, batchesInserted: 0, batchesSkipped: 0, rowsInserted: 0, rowsRejected: 0, deadLettered: 0, consumeErrors: 0, storeErrors: 0, lastCommitMs: null,
  };

  constructor(
    private readonly cfg: CloudConfig['kafka'],
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.loopDone = this.run();
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
        if (attempt === 0) this.log.warn({ err: (err as Error).message }, 'Kafka consumer unavailable; retrying');
        await this.disconnect();
        await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt++, 6)));
      }
    }
    await this.disconnect();
    this.stats.state = 'stopped';
  }

  private async connect(): Promise<void> {
    const common = { 'metadata.broker.list': this.cfg.brokers, ...this.cfg.rdkafka } as Record<string, string | number | boolean>;
    const consumer = new Kafka.KafkaConsumer(
      {
        ...common,
        'group.id': this.cfg.storeGroup,
        'client.id': 'fieldline-sink-store',
        'enable.auto.commit': false,
        'allow.auto.create.topics': true,
        'socket.keepalive.enable': true,
        // After a broker restart the group waits this long for members it lost track of before it
        // hands out partitions again; the 45 s default would hold every reading that long.
        'session.timeout.ms': this.cfg.sessionTimeoutMs,
        'heartbeat.interval.ms': Math.max(500, Math.floor(this.cfg.sessionTimeoutMs / 4)),
      } as Kafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    const dlq = new Kafka.Producer({ ...common, 'client.id': 'fieldline-sink-dlq', 'enable.idempotence': true, dr_cb: false } as Kafka.ProducerGlobalConfig);
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));
    this.consumer = consumer;
    await new Promise<void>((resolve, reject) => dlq.connect({ timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));
    dlq.setPollInterval(100);
    this.dlq = dlq;
    // librdkafka's batch consume returns only when it has maxBatchMessages or waited this long for
    // the next one; a short wait keeps a steady trickle from being held until the batch fills.
    consumer.setDefaultConsumeTimeout(10);
    consumer.subscribe([this.cfg.readingsTopic]);
    this.log.info({ topic: this.cfg.readingsTopic, group: this.cfg.storeGroup }, 'store consumer subscribed');
  }

  private async consumeLoop(): Promise<void> {
    const consumer = this.consumer!;
    while (!this.stopped) {
      let messages: Kafka.Message[];
      try {
        messages = await new Promise<Kafka.Message[]>((resolve, reject) =>
          consumer.consume(this.cfg.maxBatchMessages, (err, msgs) => (err ? reject(err) : resolve(msgs))),
        );
      } catch (err) {
        // Broker outages surface here as transient errors. Keeping the same consumer matters: a new
        // one would wait out the old member's session timeout before the group gives it partitions.
        if ((err as Kafka.LibrdKafkaError).isFatal) throw err;
        this.noteTransient(err as Error);
        await sleep(500);
        continue;
      }
      if (messages.length === 0) continue;
      await this.handle(messages);
      this.stats.state = 'up';
      // Asynchronous: librdkafka's synchronous commit waits with no time limit while the group
      // coordinator is unreachable, which would freeze this whole process during a broker outage.
      // A commit that fails only means a replay, which the ledger skips.
      try {
        consumer.commit(commitOffsets(messages));
        this.stats.lastCommitMs = Date.now();
      } catch (err) {
        this.noteTransient(err as Error);
      }
    }
  }

  private noteTransient(err: Error): void {
    this.stats.consumeErrors++;
    if (this.stats.state !== 'down') this.log.warn({ err: err.message }, 'Kafka unavailable; the consumer keeps retrying');
    this.stats.state = 'down';
    this.stats.lastError = err.message;
  }

  /** Writes the messages' batches, retrying the database until it takes them or we stop. */
  private async handle(messages: Kafka.Message[]): Promise<void> {
    const decoded: { msg: Kafka.Message; batch: IngestBatch }[] = [];
    for (const msg of messages) {
      this.stats.messages++;
      try {
        if (!msg.value) throw new WireError('FL_ERR_WIRE_EMPTY');
        const b = decodeBatch(msg.value);
        if (!b.gatewayId || !b.seq) throw new WireError('FL_ERR_WIRE_BATCH_ID');
        decoded.push({ msg, batch: { gatewayId: b.gatewayId, seq: b.seq, createdMs: b.createdMs, readings: b.readings } });
      } catch (err) {
        await this.deadLetter(msg, err as Error);
      }
    }
    if (decoded.length === 0) return;
    try {
      await this.ingestRetrying(decoded.map((d) => d.batch));
    } catch (err) {
      if (!isBadBatch(err)) throw err;
      // Some batch the database refuses however often it is retried: find it by writing the
      // batches one at a time, and dead-letter only that one.
      for (const d of decoded) {
        try {
          await this.ingestRetrying([d.batch]);
        } catch (e) {
          if (!isBadBatch(e)) throw e;
          await this.deadLetter(d.msg, e as Error);
        }
      }
    }
  }

  private async ingestRetrying(batches: IngestBatch[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.store.ingest(batches);
        this.stats.batchesInserted += r.batchesInserted;
        this.stats.batchesSkipped += r.batchesSkipped;
        this.stats.rowsInserted += r.rowsInserted;
        this.stats.rowsRejected += r.rowsRejected;
        if (r.rowsRejected) this.log.warn({ rejected: r.rowsRejected, first: r.firstRejection }, 'values the database cannot hold were dropped');
        return;
      } catch (err) {
        if (isBadBatch(err)) throw err;
        this.stats.storeErrors++;
        this.stats.lastError = (err as Error).message;
        if (attempt === 0) this.log.warn({ err: (err as Error).message }, 'database write failed; retrying (offsets held)');
        if (this.stopped) throw err;
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** The original bytes go to the DLQ untouched, with why and where they came from in headers. */
  private async deadLetter(msg: Kafka.Message, err: Error): Promise<void> {
    const dlq = this.dlq!;
    // A catalogued error keeps its own code (a refused batch is FL_ERR_STORE_BAD_BATCH, not a decoding failure).
    const known = err instanceof FieldlineError ? err : new WireError('FL_ERR_WIRE_DECODE', err.message, { cause: err });
    this.stats.deadLettered++;
    this.log.warn({ partition: msg.partition, offset: msg.offset, err: err.message }, 'undecodable message sent to the DLQ');
    const headers: Kafka.MessageHeader[] = [
      ...(msg.headers ?? []),
      { [Header.error]: `${known.code}: ${known.message}` },
      { 'source-topic': msg.topic },
      { 'source-partition': String(msg.partition) },
      { 'source-offset': String(msg.offset) },
    ];
    dlq.produce(this.cfg.dlqTopic, null, msg.value ?? null, msg.key ?? null, msg.timestamp ?? null, undefined, headers);
    // Flushed before the source offset is committed, so a crash cannot lose the bad message.
    await new Promise<void>((resolve, reject) => dlq.flush(10_000, (e) => (e ? reject(e) : resolve())));
  }

  private async disconnect(): Promise<void> {
    const c = this.consumer;
    const p = this.dlq;
    this.consumer = null;
    this.dlq = null;
    if (c) await new Promise<void>((resolve) => c.disconnect(() => resolve()));
    if (p) await new Promise<void>((resolve) => p.disconnect(() => resolve()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loopDone;
  }
}

function commitOffsets(messages: Kafka.Message[]): Kafka.TopicPartitionOffset[] {
  const next = new Map<string, Kafka.TopicPartitionOffset>();
  for (const m of messages) {
    const key = `${m.topic}\u0000${m.partition}`;
    const cur = next.get(key);
    if (!cur || m.offset + 1 > cur.offset) next.set(key, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
  }
  return [...next.values()];
}

function isBadBatch(err: unknown): boolean {
  return err instanceof FieldlineError && err.code === 'FL_ERR_STORE_BAD_BATCH';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
