// Consumes iot.readings into the database. Offsets are committed only after the transaction that
// holds the batches' rows and their ingested_batches entries has committed, so a crash anywhere
// replays messages, and the ledger turns each replay into a no-op (DESIGN.md guarantee 1). A message
// that is no batch, or a batch the sanity checks (sanity.ts) or the database refuse, goes to the DLQ
// untouched, and the partition moves on past it.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { countValues, Header, SCHEMA_VERSION, WireError, type Lane } from '../../../proto/src/wire.js';
import type { CloudConfig } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import type { IngestBatch, Store, TimeRange } from '../store/store.js';
import { dlqHeaders, headerText } from './dlq.js';
import { connectProducer, disconnectProducer, flushProducer, GroupConsumer, sleep } from './group-consumer.js';
import { admitBatch, type Clock, type SanityLimits } from './sanity.js';

export interface ConsumerStats {
  state: 'connecting' | 'up' | 'down' | 'stopped';
  lastError: string;
  messages: number;
  batchesInserted: number;
  batchesSkipped: number;
  rowsInserted: number;
  /** Values the store could not hold (e.g. not finite); the rest of their batch was stored. */
  rowsRejected: number;
  /** Stored values whose gateway flagged their time (reading_time_flags), by reason. */
  rowsTimeFlagged: Record<string, number>;
  deadLettered: number;
  /** The same messages by the code in their `error` header. */
  deadLettersByCode: Record<string, number>;
  /** Batches whose schema-version header names another version than their field (the field was used). */
  schemaHeaderMismatches: number;
  /** Kafka failures the consumer rode out (broker unreachable, failed commits, reconnects). */
  consumeErrors: number;
  /** Database writes that failed and were retried with the offsets held. */
  storeErrors: number;
  lastCommitMs: number | null;
  /** Batches and readings stored (or found already stored) per gateway lane (ReadingBatch.backlog). */
  lanes: Record<Lane, { batches: number; readings: number }>;
}

export interface StoreConsumerOptions {
  limits: SanityLimits;
  /** The cloud's clock for the time checks; Date.now unless a test injects one. */
  now?: Clock;
  /**
   * Runs after a poll's batches are in the database and before their offsets are committed, with
   * every batch of the poll that was admitted (stored now or already in the ledger, so a replay
   * after a crash in between runs it again). Retried like the write until it succeeds: what it
   * records (late minutes to republish, aggregate ranges to refresh) must not be skipped.
   */
  afterStore?: (batches: readonly IngestBatch[], freshTimeRange: TimeRange | null) => Promise<void>;
}

/** A poll's messages decoded and checked, ready for its transaction; the rest went to the DLQ. */
type Admitted = { msg: Kafka.Message; batch: IngestBatch; backlog: boolean }[];

export class StoreConsumer {
  private readonly group: GroupConsumer<Admitted>;
  /** A promise, not the producer: with prefetch, a poll's prepare and the last poll's handle may both dead-letter at once. */
  private dlq: Promise<Kafka.Producer> | null = null;
  private readonly counts = {
    batchesInserted: 0, batchesSkipped: 0, rowsInserted: 0, rowsRejected: 0, deadLettered: 0, storeErrors: 0, schemaHeaderMismatches: 0,
    rowsTimeFlagged: {} as Record<string, number>,
  };
  private readonly deadLettersByCode: Record<string, number> = {};
  private readonly lanes: Record<Lane, { batches: number; readings: number }> = { live: { batches: 0, readings: 0 }, backlog: { batches: 0, readings: 0 } };
  private readonly limits: SanityLimits;
  private readonly now: Clock;
  private readonly afterStore: StoreConsumerOptions['afterStore'];

  constructor(
    private readonly cfg: CloudConfig['kafka'],
    private readonly store: Store,
    private readonly log: Logger,
    opts: StoreConsumerOptions,
  ) {
    this.limits = opts.limits;
    this.now = opts.now ?? Date.now;
    this.afterStore = opts.afterStore;
    this.group = new GroupConsumer({
      name: 'store',
      kafka: cfg,
      topics: [cfg.readingsTopic],
      group: cfg.storeGroup,
      clientId: 'fieldline-sink-store',
      maxBatchMessages: cfg.maxBatchMessages,
      commit: 'after-handle',
      log,
      // Decoding a poll needs nothing from the one before, so with prefetch it runs while the
      // database still commits that one: the sink's CPU and the server's overlap instead of taking turns.
      ...(cfg.prefetch ? { prepare: (messages: Kafka.Message[]) => this.admit(messages) } : {}),
      handle: async (messages, admitted) => this.handle(admitted ?? (await this.admit(messages))),
    });
  }

  get stats(): ConsumerStats {
    const g = this.group.stats;
    return {
      state: g.state, lastError: g.lastError, messages: g.messages, consumeErrors: g.consumeErrors, lastCommitMs: g.lastCommitMs,
      ...this.counts, rowsTimeFlagged: { ...this.counts.rowsTimeFlagged }, deadLettersByCode: { ...this.deadLettersByCode },
      lanes: { live: { ...this.lanes.live }, backlog: { ...this.lanes.backlog } },
    };
  }

  async start(): Promise<void> {
    this.group.start();
  }

  async stop(): Promise<void> {
    await this.group.stop();
    const p = this.dlq;
    this.dlq = null;
    const producer = await p?.catch(() => null);
    if (producer) await disconnectProducer(producer);
  }

  /** Decodes and checks a poll's messages; those refused go to the DLQ (flushed before any commit of their offsets). */
  private async admit(messages: Kafka.Message[]): Promise<Admitted> {
    const decoded: Admitted = [];
    const nowMs = this.now();
    for (const msg of messages) {
      try {
        const admitted = admitBatch(msg.value, this.limits, nowMs);
        this.compareSchemaHeader(msg, admitted.schemaVersion);
        decoded.push({ msg, batch: admitted.batch, backlog: admitted.backlog });
      } catch (err) {
        await this.deadLetter(msg, err as Error);
      }
    }
    this.store.prepare(decoded.map((d) => d.batch));
    return decoded;
  }

  /** Writes the admitted batches, retrying the database until it takes them or we stop. */
  private async handle(decoded: Admitted): Promise<void> {
    if (decoded.length === 0) return;
    const stored: IngestBatch[] = [];
    let fresh: TimeRange | null = null;
    const widen = (r: TimeRange | null): void => {
      if (r) fresh = fresh ? { fromMs: Math.min(fresh.fromMs, r.fromMs), toMs: Math.max(fresh.toMs, r.toMs) } : r;
    };
    // A poll that holds a gateway's live batches behind its backlog ones writes the live ones first,
    // in their own transaction, so they wait for no backlog in the database either (issue 15). Both
    // commit before the offsets do, and the ledger makes a replay of either a no-op.
    const live = decoded.filter((d) => !d.backlog);
    const backlog = decoded.filter((d) => d.backlog);
    for (const group of live.length && backlog.length ? [live, backlog] : [decoded]) {
      stored.push(...(await this.writeGroup(group, widen)));
    }
    if (this.afterStore && stored.length > 0) await this.afterStoreRetrying(stored, fresh);
    // Counted, never logged: a drain sends thousands of batches.
    const kept = new Set(stored);
    for (const d of decoded) {
      if (!kept.has(d.batch)) continue;
      const lane = this.lanes[d.backlog ? 'backlog' : 'live'];
      lane.batches++;
      lane.readings += countValues(d.batch.readings);
    }
  }

  /** Writes the batches in one transaction; returns those stored (a batch the database refuses is dead-lettered alone). */
  private async writeGroup(group: { msg: Kafka.Message; batch: IngestBatch }[], widen: (r: TimeRange | null) => void): Promise<IngestBatch[]> {
    try {
      widen(await this.ingestRetrying(group.map((d) => d.batch)));
      return group.map((d) => d.batch);
    } catch (err) {
      if (!isBadBatch(err)) throw err;
      // Some batch the database refuses however often it is retried: find it by writing the
      // batches one at a time, and dead-letter only that one.
      const stored: IngestBatch[] = [];
      for (const d of group) {
        try {
          widen(await this.ingestRetrying([d.batch]));
          stored.push(d.batch);
        } catch (e) {
          if (!isBadBatch(e)) throw e;
          await this.deadLetter(d.msg, e as Error);
        }
      }
      return stored;
    }
  }

  private async afterStoreRetrying(batches: readonly IngestBatch[], fresh: TimeRange | null): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.afterStore!(batches, fresh);
        return;
      } catch (err) {
        this.counts.storeErrors++;
        this.group.stats.lastError = (err as Error).message;
        if (attempt === 0) this.log.warn({ err: (err as Error).message }, 'after-store step failed; retrying (offsets held)');
        if (this.group.isStopping) throw err;
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** Returns the time range of the rows stored now (null when every batch was already there). */
  private async ingestRetrying(batches: IngestBatch[]): Promise<TimeRange | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.store.ingest(batches);
        this.counts.batchesInserted += r.batchesInserted;
        this.counts.batchesSkipped += r.batchesSkipped;
        this.counts.rowsInserted += r.rowsInserted;
        this.counts.rowsRejected += r.rowsRejected;
        for (const [reason, n] of Object.entries(r.rowsTimeFlagged)) this.counts.rowsTimeFlagged[reason] = (this.counts.rowsTimeFlagged[reason] ?? 0) + n;
        if (r.rowsRejected) this.log.warn({ rejected: r.rowsRejected, first: r.firstRejection }, 'values the database cannot hold were dropped');
        return r.freshTimeRange;
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

  /**
   * The field decides which schema a batch is (wire.ts checkSchemaVersion says why); a header that
   * disagrees is only counted and logged, as a sign of a producer or a copying tool that sets it wrong.
   */
  private compareSchemaHeader(msg: Kafka.Message, field: number): void {
    const header = headerText(msg.headers, Header.schemaVersion);
    if (header === undefined) return;
    const effective = field === 0 ? SCHEMA_VERSION : field;
    if (header === String(effective) || (field === 0 && header === '0')) return;
    // The first one is news; the rest are on /metrics, and in the log at debug level.
    const level = this.counts.schemaHeaderMismatches++ === 0 ? 'warn' : 'debug';
    this.log[level]({ partition: msg.partition, offset: msg.offset, header, field }, 'schema-version header disagrees with the batch; the field is used');
  }

  /** The original bytes go to the DLQ untouched, with why and where they came from in headers. */
  private async deadLetter(msg: Kafka.Message, err: Error): Promise<void> {
    this.dlq ??= connectProducer(this.cfg, 'fieldline-sink-dlq').catch((err: unknown) => {
      // Not kept: the next dead letter tries to connect again.
      this.dlq = null;
      throw err;
    });
    const dlq = await this.dlq;
    // A catalogued error keeps its own code (a refused batch is FL_ERR_STORE_BAD_BATCH, not a decoding failure).
    const known = err instanceof FieldlineError ? err : new WireError('FL_ERR_WIRE_DECODE', err.message, { cause: err });
    this.counts.deadLettered++;
    this.deadLettersByCode[known.code] = (this.deadLettersByCode[known.code] ?? 0) + 1;
    this.log.warn({ partition: msg.partition, offset: msg.offset, code: known.code, err: known.message }, 'message sent to the DLQ');
    const headers = dlqHeaders(msg, known.code, known.message);
    dlq.produce(this.cfg.dlqTopic, null, msg.value ?? null, msg.key ?? null, msg.timestamp ?? null, undefined, headers);
    // Flushed before the source offset is committed, so a crash cannot lose the bad message.
    await flushProducer(dlq);
  }
}

function isBadBatch(err: unknown): boolean {
  return err instanceof FieldlineError && err.code === 'FL_ERR_STORE_BAD_BATCH';
}
