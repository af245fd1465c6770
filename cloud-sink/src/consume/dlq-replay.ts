// Reads the DLQ from where a run starts to where the DLQ ended when it started, for
// `fieldline-cloud dlq list` (print) and `dlq replay` (re-produce to the source topic).
//
// Why it ends at the DLQ's end as it was at the start: a replayed message that is still poisonous
// comes back to the DLQ, behind that end, so one run never meets it again and cannot loop on it.
//
// Why a replay feeds a message once: its place in the DLQ is a consumer group's committed offset,
// and an offset is committed only after Kafka has confirmed the produce of the message before it
// (a delivery report), so a second run starts behind everything the first one fed. A replay with
// filters keeps its own group (replayGroupName), since one committed offset cannot mark the messages
// a filter passed over as "not yet". What still feeds a batch twice (a crash between the delivery
// report and the commit, or a replay under another filter) is harmless: the sink's ledger
// (ingested_batches) stores a batch once, whatever number of times it arrives.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import { CloudError } from '../errors.js';
import { describeDlqMessage, originalHeaders, type DlqEntry } from './dlq.js';
import { connectProducer, disconnectProducer, GroupConsumer, partitionKey, sleep } from './group-consumer.js';

export interface DlqFilter {
  /** Only messages with one of these codes in their `error` header; empty: any. */
  codes: readonly string[];
  /** Only messages from one of these gateways; empty: any. */
  gateways: readonly string[];
}

export type DlqAction =
  /** `dlq list` printed it. */
  | 'listed'
  /** Produced to its source topic and confirmed. */
  | 'replayed'
  /** `--dry-run`: would have been replayed. */
  | 'would-replay'
  /** Left out by the filter. */
  | 'skipped'
  /** Has no source-topic header, so there is nowhere to send it back to. */
  | 'unroutable';

export interface DlqRunOptions {
  kafka: CloudConfig['kafka'];
  mode: 'list' | 'replay' | 'dry-run';
  filter: DlqFilter;
  /** The replay's consumer group (replayGroupName); `list` reads with a throwaway group instead. */
  group: string;
  log: Logger;
  /** Called once per message read, in partition order, after a replayed message is confirmed. */
  onEntry(entry: DlqEntry, action: DlqAction): void;
}

export interface DlqRunResult {
  /** The group whose offsets mark the run's place ('' for list). */
  group: string;
  /** Per DLQ partition, the end (next offset) when the run started: where it stopped. */
  ends: Record<number, number>;
  counts: Record<DlqAction, number>;
}

/** The replay group of a filter: the configured name for no filter, else the name plus the filter. */
export function replayGroupName(base: string, filter: DlqFilter): string {
  const parts: string[] = [];
  if (filter.codes.length > 0) parts.push(`code=${[...new Set(filter.codes)].sort().join(',')}`);
  if (filter.gateways.length > 0) parts.push(`gateway=${[...new Set(filter.gateways)].sort().join(',')}`);
  return parts.length === 0 ? base : `${base}:${parts.join(';')}`;
}

export function matchesFilter(entry: DlqEntry, filter: DlqFilter): boolean {
  if (filter.codes.length > 0 && !filter.codes.includes(entry.code)) return false;
  if (filter.gateways.length > 0 && (entry.gatewayId === undefined || !filter.gateways.includes(entry.gatewayId))) return false;
  return true;
}

export async function runDlq(opts: DlqRunOptions): Promise<DlqRunResult> {
  const { kafka, mode } = opts;
  const topic = kafka.dlqTopic;
  // The producer doubles as the metadata client, so `list` needs it too.
  const producer = await connectProducer(kafka, `fieldline-dlq-${mode}`, { dr_cb: true, 'message.timeout.ms': 30_000 });
  const counts: Record<DlqAction, number> = { listed: 0, replayed: 0, 'would-replay': 0, skipped: 0, unroutable: 0 };
  const group = mode === 'list' ? '' : opts.group;
  try {
    const marks = await watermarks(producer, topic);
    const ends: Record<number, number> = {};
    for (const [p, w] of marks) ends[p] = w.highOffset;
    if ([...marks.values()].every((w) => w.highOffset <= w.lowOffset)) return { group, ends, counts };
    const run = new DlqRun(opts, producer, marks, counts);
    await run.execute(mode === 'list' ? `fieldline-dlq-list-${process.pid}-${Date.now()}` : opts.group);
    return { group, ends, counts };
  } finally {
    await disconnectProducer(producer);
  }
}

/** Every partition of `topic` with its low and high watermark; empty when the topic does not exist. */
async function watermarks(client: Kafka.Producer, topic: string): Promise<Map<number, Kafka.WatermarkOffsets>> {
  const meta = await new Promise<Kafka.Metadata>((resolve, reject) =>
    client.getMetadata({ topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))),
  );
  const partitions = meta.topics.find((t) => t.name === topic)?.partitions.map((p) => p.id) ?? [];
  const out = new Map<number, Kafka.WatermarkOffsets>();
  for (const p of partitions.sort((a, b) => a - b)) {
    out.set(p, await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
      client.queryWatermarkOffsets(topic, p, 10_000, (err, w) => (err ? reject(err) : resolve(w))),
    ));
  }
  return out;
}

class DlqRun {
  /** Per partition, the next offset this run has reached (its start, then one past each message read). */
  private readonly reached = new Map<number, number>();
  /** Per partition, the offset this run committed last. */
  private readonly committedTo = new Map<number, number>();
  private assigned: number[] | null = null;
  private startsKnown = false;
  private failure: Error | null = null;
  private finish!: () => void;
  private readonly finished = new Promise<void>((resolve) => (this.finish = resolve));
  private readonly deliveries = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private nextDelivery = 0;

  constructor(
    private readonly opts: DlqRunOptions,
    private readonly producer: Kafka.Producer,
    private readonly marks: ReadonlyMap<number, Kafka.WatermarkOffsets>,
    private readonly counts: Record<DlqAction, number>,
  ) {
    producer.on('delivery-report', (err, report) => {
      const waiter = this.deliveries.get(report.opaque as number);
      if (!waiter) return;
      this.deliveries.delete(report.opaque as number);
      if (err) waiter.reject(new CloudError('FL_ERR_DLQ_DELIVERY', `${report.topic}: ${err.message}`, { cause: err }));
      else waiter.resolve();
    });
  }

  async execute(groupId: string): Promise<void> {
    const { kafka, log } = this.opts;
    const topic = kafka.dlqTopic;
    const consumer = new GroupConsumer({
      name: `dlq ${this.opts.mode}`,
      kafka,
      topics: [topic],
      group: groupId,
      clientId: `fieldline-dlq-${this.opts.mode}`,
      maxBatchMessages: kafka.maxBatchMessages,
      commit: 'manual',
      pollWaitMs: 100,
      log,
      handle: async (messages) => {
        await this.learnStarts(consumer);
        await this.handle(consumer, messages);
        this.checkDone();
      },
      idle: async () => {
        await this.learnStarts(consumer);
        this.checkDone();
      },
      onAssign: (parts) => {
        const mine = parts.filter((p) => p.topic === topic).map((p) => p.partition);
        if (mine.length < this.marks.size) {
          this.fail(new CloudError('FL_ERR_DLQ_BUSY', `group ${groupId} gave this run partitions ${mine.join(', ') || 'none'} of ${this.marks.size}`));
        }
        this.assigned = mine;
        this.startsKnown = false;
      },
      onRevoke: () => {
        this.assigned = null;
      },
    });
    consumer.start();
    try {
      await this.finished;
      // Also after a failure: what was fed before it must not be fed again by the next run.
      if (this.committedTo.size > 0) {
        try {
          await this.confirmCommits(consumer);
        } catch (err) {
          this.failure ??= err as Error;
        }
      }
    } finally {
      await consumer.stop();
    }
    if (this.failure) throw this.failure;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.finish();
  }

  /**
   * Where each assigned partition starts: the group's committed offset, or the low watermark when
   * there is none or retention has deleted past it (auto.offset.reset: earliest). A partition whose
   * start is already at its end has nothing for this run, and no message will ever say so.
   */
  private async learnStarts(consumer: GroupConsumer): Promise<void> {
    if (this.startsKnown || !this.assigned || this.assigned.length === 0) return;
    const topic = this.opts.kafka.dlqTopic;
    const committed = await consumer.committed(this.assigned.map((partition) => ({ topic, partition })));
    if (!committed) return; // unreachable for now: asked again at the next poll
    for (const p of this.assigned) {
      const c = committed.get(partitionKey({ topic, partition: p })) ?? -1001;
      const low = this.marks.get(p)?.lowOffset ?? 0;
      this.reach(p, c >= 0 ? Math.max(c, low) : low);
    }
    this.startsKnown = true;
  }

  private reach(partition: number, next: number): void {
    this.reached.set(partition, Math.max(this.reached.get(partition) ?? 0, next));
  }

  private checkDone(): void {
    if (this.failure) return;
    for (const [p, w] of this.marks) if ((this.reached.get(p) ?? -1) < w.highOffset) return;
    this.finish();
  }

  private async handle(consumer: GroupConsumer, messages: Kafka.Message[]): Promise<void> {
    if (this.failure) return;
    const { mode, filter, onEntry } = this.opts;
    // Produced first and confirmed after, so one poll's messages share the wait for Kafka.
    const steps: { msg: Kafka.Message; entry: DlqEntry; action: DlqAction; delivered?: Promise<void> }[] = [];
    for (const msg of messages) {
      const end = this.marks.get(msg.partition)?.highOffset ?? 0;
      if (msg.offset >= end) {
        // Arrived after the run started (a replayed message coming back, say): the next run's.
        this.reach(msg.partition, end);
        continue;
      }
      const entry = describeDlqMessage(msg);
      let action: DlqAction;
      if (!matchesFilter(entry, filter)) action = 'skipped';
      else if (mode === 'list') action = 'listed';
      else if (!entry.sourceTopic) action = 'unroutable';
      else action = mode === 'dry-run' ? 'would-replay' : 'replayed';
      const step: (typeof steps)[number] = { msg, entry, action };
      if (action === 'replayed') {
        try {
          step.delivered = this.produce(entry.sourceTopic!, msg);
        } catch (err) {
          this.fail(err as Error);
          break;
        }
      }
      steps.push(step);
    }
    const commit = new Map<number, number>();
    for (const s of steps) {
      if (s.delivered) {
        try {
          await s.delivered;
        } catch (err) {
          this.fail(err as Error);
          break;
        }
      }
      this.counts[s.action]++;
      onEntry(s.entry, s.action);
      this.reach(s.msg.partition, s.msg.offset + 1);
      commit.set(s.msg.partition, s.msg.offset + 1);
    }
    if (mode !== 'replay' || commit.size === 0) return;
    const topic = this.opts.kafka.dlqTopic;
    consumer.commit([...commit].map(([partition, offset]) => ({ topic, partition, offset })));
    for (const [p, o] of commit) this.committedTo.set(p, o);
  }

  /** The original value, key and headers, to the topic the sink read it from; resolves on the delivery report. */
  private produce(topic: string, msg: Kafka.Message): Promise<void> {
    const id = this.nextDelivery++;
    const delivered = new Promise<void>((resolve, reject) => this.deliveries.set(id, { resolve, reject }));
    try {
      // No timestamp: the copy is a new event on the topic; the batch keeps its own created_ms.
      this.producer.produce(topic, null, msg.value, msg.key, null, id, originalHeaders(msg.headers));
    } catch (err) {
      this.deliveries.delete(id);
      throw new CloudError('FL_ERR_DLQ_DELIVERY', `${topic}: ${(err as Error).message}`, { cause: err });
    }
    return delivered;
  }

  /**
   * Commits are asynchronous (GroupConsumer.commit); before the run reports success, the group must
   * show them, or a second run would feed the same messages again.
   */
  private async confirmCommits(consumer: GroupConsumer): Promise<void> {
    const topic = this.opts.kafka.dlqTopic;
    const parts = [...this.committedTo.keys()].map((partition) => ({ topic, partition }));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const got = await consumer.committed(parts);
      if (got && [...this.committedTo].every(([partition, o]) => (got.get(partitionKey({ topic, partition })) ?? -1) >= o)) return;
      if (Date.now() > deadline) {
        throw new CloudError('FL_ERR_DLQ_COMMIT', `group ${this.opts.group} does not show offsets ${[...this.committedTo].map(([p, o]) => `${p}:${o}`).join(' ')}`);
      }
      await sleep(200);
    }
  }
}
