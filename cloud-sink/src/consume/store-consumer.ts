// Consumes iot.readings into the database. Offsets are committed only after the transaction that
// holds the batches' rows and their ingested_batches entries has committed, so a crash anywhere
// replays messages, and the ledger turns each replay into a no-op (DESIGN.md guarantee 1).
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { decodeBatch, Header, WireError } from '../../../proto/src/wire.js';
import type { CloudConfig } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import type { IngestBatch, Store } from '../store/store.js';
import { connectProducer, disconnectProducer, flushProducer, GroupConsumer, sleep } from './group-consumer.js';

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
  private readonly group: GroupConsumer;
  private dlq: Kafka.Producer | null = null;
  private readonly counts = {
    batchesInserted: 0, batchesSkipped: 0, rowsInserted: 0, rowsRejected: 0, deadLettered: 0, storeErrors: 0,
  };

  constructor(
    private readonly cfg: CloudConfig['kafka'],
    private readonly store: Store,
    private readonly log: Logger,
  ) {
    this.group = new GroupConsumer({
      name: 'store',
      kafka: cfg,
      topics: [cfg.readingsTopic],
      group: cfg.storeGroup,
      clientId: 'fieldline-sink-store',
      maxBatchMessages: cfg.maxBatchMessages,
      commit: 'after-handle',
      log,
      handle: (messages) => this.handle(messages),
    });
  }

  get stats(): ConsumerStats {
    const g = this.group.stats;
    return { state: g.state, lastError: g.lastError, messages: g.messages, consumeErrors: g.consumeErrors, lastCommitMs: g.lastCommitMs, ...this.counts };
  }

  async start(): Promise<void> {
    this.group.start();
  }

  async stop(): Promise<void> {
    await this.group.stop();
    const p = this.dlq;
    this.dlq = null;
    if (p) await disconnectProducer(p);
  }

  /** Writes the messages' batches, retrying the database until it takes them or we stop. */
  private async handle(messages: Kafka.Message[]): Promise<void> {
    const decoded: { msg: Kafka.Message; batch: IngestBatch }[] = [];
    for (const msg of messages) {
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
        this.counts.batchesInserted += r.batchesInserted;
        this.counts.batchesSkipped += r.batchesSkipped;
        this.counts.rowsInserted += r.rowsInserted;
        this.counts.rowsRejected += r.rowsRejected;
        if (r.rowsRejected) this.log.warn({ rejected: r.rowsRejected, first: r.firstRejection }, 'values the database cannot hold were dropped');
        return;
      } catch (err) {
        if (isBadBatch(err)) throw err;
        this.counts.storeErrors++;
        this.group.stats.lastError = (err as Error).message;
        if (attempt === 0) this.log.warn({ err: (err as Error).message }, 'database write failed; retrying (offsets held)');
        if (this.group.isStopping) throw err;
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** The original bytes go to the DLQ untouched, with why and where they came from in headers. */
  private async deadLetter(msg: Kafka.Message, err: Error): Promise<void> {
    this.dlq ??= await connectProducer(this.cfg, 'fieldline-sink-dlq');
    const dlq = this.dlq;
    // A catalogued error keeps its own code (a refused batch is FL_ERR_STORE_BAD_BATCH, not a decoding failure).
    const known = err instanceof FieldlineError ? err : new WireError('FL_ERR_WIRE_DECODE', err.message, { cause: err });
    this.counts.deadLettered++;
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
    await flushProducer(dlq);
  }
}

function isBadBatch(err: unknown): boolean {
  return err instanceof FieldlineError && err.code === 'FL_ERR_STORE_BAD_BATCH';
}
