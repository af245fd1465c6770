// A consumer-group worker that turns each message of one topic into a record and writes each poll's
// records in one database call: the heartbeat and quarantine writers are two of these.
//
// Offsets move only after the write (GroupConsumer `commit: 'after-handle'`), and every write is
// idempotent (a primary key with ON CONFLICT), so a replay after a crash changes nothing. A message
// that does not decode, and a record the database refuses however often it is retried, go to the
// DLQ untouched and the partition keeps moving; any other database failure is retried with the
// offsets held.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import { DeadLetters } from '../consume/dead-letter.js';
import { GroupConsumer, sleep } from '../consume/group-consumer.js';
import { CloudError, FieldlineError } from '../errors.js';
import type { WorkerTallies } from '../metrics.js';
import { sqlState } from '../store/db.js';

export interface RecordWorker<R> {
  /** Throws (a catalogued error, ideally) for a message that cannot become a record. */
  decode(msg: Kafka.Message): R;
  /** Writes the records; resolves with how many were new and how many the database already held. */
  write(records: readonly R[]): Promise<{ stored: number; duplicates: number }>;
}

export interface RecordConsumerOptions<R> {
  /** The metrics stage and the log name: "heartbeat", "quarantine". */
  stage: string;
  kafka: CloudConfig['kafka'];
  topic: string;
  group: string;
  log: Logger;
  worker: RecordWorker<R>;
}

export interface RecordConsumerStats {
  state: 'connecting' | 'up' | 'down' | 'stopped';
  lastError: string;
  messages: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
  /** Kafka failures ridden out (broker unreachable, failed commits, reconnects). */
  consumeErrors: number;
  /** Database writes that failed and were retried with the offsets held. */
  writeErrors: number;
  lastCommitMs: number | null;
}

export class RecordConsumer<R> {
  private readonly group: GroupConsumer;
  private readonly dlq: DeadLetters;
  private readonly counts = { stored: 0, duplicates: 0, writeErrors: 0 };

  constructor(private readonly opts: RecordConsumerOptions<R>) {
    this.dlq = new DeadLetters(opts.kafka, opts.kafka.dlqTopic, `fieldline-sink-${opts.stage}-dlq`, opts.log);
    this.group = new GroupConsumer({
      name: opts.stage,
      kafka: opts.kafka,
      topics: [opts.topic],
      group: opts.group,
      clientId: `fieldline-sink-${opts.stage}`,
      maxBatchMessages: opts.kafka.maxBatchMessages,
      commit: 'after-handle',
      log: opts.log,
      handle: (messages) => this.handle(messages),
    });
  }

  get stats(): RecordConsumerStats {
    const g = this.group.stats;
    return {
      state: g.state, lastError: g.lastError, messages: g.messages, consumeErrors: g.consumeErrors, lastCommitMs: g.lastCommitMs,
      deadLettered: this.dlq.sent, ...this.counts,
    };
  }

  /** This worker's counts for /metrics (docs/METRICS.md). */
  tallies(): WorkerTallies {
    const s = this.stats;
    return {
      stage: this.opts.stage,
      received: s.messages,
      sent: s.stored,
      dropped: { duplicate: s.duplicates, dead_letter: s.deadLettered },
      errors: s.consumeErrors + s.writeErrors,
      deadLettersByCode: { ...this.dlq.byCode },
    };
  }

  start(): void {
    this.group.start();
  }

  async stop(): Promise<void> {
    await this.group.stop();
    await this.dlq.close();
  }

  private async handle(messages: Kafka.Message[]): Promise<void> {
    const decoded: { msg: Kafka.Message; record: R }[] = [];
    for (const msg of messages) {
      try {
        decoded.push({ msg, record: this.opts.worker.decode(msg) });
      } catch (err) {
        await this.dlq.send(msg, err as Error);
      }
    }
    if (decoded.length === 0) return;
    try {
      await this.writeRetrying(decoded.map((d) => d.record));
    } catch (err) {
      if (!isRefused(err)) throw err;
      // Some record the database refuses every time: write them one by one, dead-letter that one.
      for (const d of decoded) {
        try {
          await this.writeRetrying([d.record]);
        } catch (e) {
          if (!isRefused(e)) throw e;
          await this.dlq.send(d.msg, e as Error);
        }
      }
    }
  }

  private async writeRetrying(records: R[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.opts.worker.write(records);
        this.counts.stored += r.stored;
        this.counts.duplicates += r.duplicates;
        return;
      } catch (err) {
        // SQLSTATE class 22 (data exception) or 23 (constraint): the same data fails the same way.
        const state = sqlState(err);
        if (state && (state.startsWith('22') || state.startsWith('23'))) {
          throw new CloudError('FL_ERR_FLEET_REFUSED', `${(err as Error).message} (SQLSTATE ${state})`, { cause: err });
        }
        this.counts.writeErrors++;
        this.group.stats.lastError = (err as Error).message;
        if (attempt === 0) this.opts.log.warn({ err: (err as Error).message }, 'database write failed; retrying (offsets held)');
        if (this.group.isStopping) throw err;
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
      }
    }
  }
}

function isRefused(err: unknown): boolean {
  return err instanceof FieldlineError && err.code === 'FL_ERR_FLEET_REFUSED';
}
