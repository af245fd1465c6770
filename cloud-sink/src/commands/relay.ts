// Puts on Kafka what the commands table says Kafka still lacks (CommandStore.unpublished): a new
// command on the commands topic, and the status events this cloud owes (queued, expired) on the
// status topic. A row is marked only after Kafka confirmed its message, so a crash, a Kafka outage
// or a failed delivery only means the next run sends it again: at least once, and the gateway and
// the status consumer both deduplicate by command id. The API asks for a run after each new
// command; the sweep after each expiry; a timer catches whatever those missed.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { connectProducer, disconnectProducer, type KafkaSettings } from '../consume/group-consumer.js';
import { CloudError } from '../errors.js';
import type { WorkerTallies } from '../metrics.js';
import { cloudStatusEvent, commandMessage, type CommandStore } from './store.js';
import { commandRecord, statusRecord } from './wire.js';

export interface CommandRelayOptions {
  store: CommandStore;
  kafka: KafkaSettings;
  commandsTopic: string;
  statusTopic: string;
  /** How often the relay looks for rows Kafka lacks when nothing woke it sooner. */
  syncMs: number;
  log: Logger;
  /** How long the API waits for its command's run before it answers anyway (default 2 s). */
  publishWaitMs?: number;
  /** librdkafka's message.timeout.ms (default 10 s). */
  deliveryTimeoutMs?: number;
  now?: () => number;
}

export interface CommandRelayStats {
  state: 'stopped' | 'idle' | 'up' | 'down';
  commandsSent: number;
  eventsSent: number;
  failedRuns: number;
  lastError: string;
}

/** Most rows one run sends; a run that found this many runs again at once. */
const RUN_BATCH = 500;

type Record_ = { key: string; value: Buffer; headers: Kafka.MessageHeader[] };

export class CommandRelay {
  readonly stats: CommandRelayStats = { state: 'stopped', commandsSent: 0, eventsSent: 0, failedRuns: 0, lastError: '' };
  private producer: Kafka.Producer | null = null;
  private readonly pending = new Map<number, (err: Error | null) => void>();
  private nextOpaque = 1;
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private requested = 0;
  private readonly waiters = new Set<{ seq: number; done: () => void }>();
  private readonly now: () => number;

  constructor(private readonly opts: CommandRelayOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stats.state = 'idle';
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loopDone;
    await this.dropProducer();
    for (const w of this.waiters) w.done();
    this.waiters.clear();
    this.stats.state = 'stopped';
  }

  /** Resolves once a run that started after this call has finished, or after timeoutMs. */
  runNow(timeoutMs = 30_000): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const seq = ++this.requested;
    this.wake?.();
    return new Promise<void>((resolve) => {
      const waiter = { seq, done: () => finish() };
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
  }

  /** After a change: a run, waited for briefly unless Kafka is known to be down (the row is safe either way). */
  async publishSoon(): Promise<void> {
    if (this.stopped) return;
    const wait = this.runNow(this.opts.publishWaitMs ?? 2_000);
    if (this.stats.state !== 'down') await wait;
  }

  tallies(): WorkerTallies {
    return { stage: 'commands_publish', received: 0, sent: this.stats.commandsSent + this.stats.eventsSent, dropped: {}, errors: this.stats.failedRuns };
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const seq = this.requested;
      let again = false;
      try {
        again = await this.runOnce();
        if (this.stats.state === 'down') this.opts.log.info('command publishing recovered');
        this.stats.state = 'up';
      } catch (err) {
        this.stats.failedRuns++;
        const message = (err as Error).message;
        if (this.stats.state !== 'down') this.opts.log.warn({ err: message }, 'commands or their status events could not be published; retrying (the database has them)');
        this.stats.state = 'down';
        this.stats.lastError = message;
        await this.dropProducer();
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

  /**
   * One pass over the rows Kafka lacks. A row's owed `queued` event goes before its command, so the
   * status topic never shows a gateway's `delivered` ahead of the cloud's `queued` for it.
   */
  private async runOnce(): Promise<boolean> {
    const { store } = this.opts;
    const rows = await store.unpublished(this.now(), RUN_BATCH);
    if (rows.length === 0) return false;
    const producer = await this.ensureProducer();
    let firstError: Error | null = null;
    const owed = rows.filter((r) => r.event_pending !== null);
    const events = await Promise.all(owed.map((r) => this.produce(producer, this.opts.statusTopic, statusRecord(cloudStatusEvent(r, r.event_pending!)))));
    const eventFailed = new Set<string>();
    for (const [i, row] of owed.entries()) {
      const err = events[i];
      if (err) {
        firstError ??= err;
        eventFailed.add(row.id);
        continue;
      }
      this.stats.eventsSent++;
      await store.markEventPublished(row.id, row.event_pending!);
    }
    const nowMs = this.now();
    const toSend = rows.filter((r) => r.sent_at === null && r.status === 'queued' && r.expires_at.getTime() > nowMs && !eventFailed.has(r.id));
    const sent = await Promise.all(toSend.map((r) => this.produce(producer, this.opts.commandsTopic, commandRecord(commandMessage(r)))));
    for (const [i, row] of toSend.entries()) {
      const err = sent[i];
      if (err) {
        firstError ??= err;
        continue;
      }
      this.stats.commandsSent++;
      await store.markSent(row.id, this.now());
    }
    if (firstError) throw new CloudError('FL_ERR_COMMANDS_PUBLISH', firstError.message, { cause: firstError });
    return rows.length === RUN_BATCH;
  }

  private produce(producer: Kafka.Producer, topic: string, m: Record_): Promise<Error | null> {
    const opaque = this.nextOpaque++;
    const limitMs = (this.opts.deliveryTimeoutMs ?? 10_000) + 5_000;
    return new Promise<Error | null>((resolve) => {
      // The margin covers a report that never comes because the producer itself went away.
      const timer = setTimeout(() => settle(new Error(`no delivery report within ${limitMs} ms`)), limitMs);
      const settle = (err: Error | null): void => {
        clearTimeout(timer);
        this.pending.delete(opaque);
        resolve(err);
      };
      this.pending.set(opaque, settle);
      try {
        producer.produce(topic, null, m.value, m.key, this.now(), opaque, m.headers);
      } catch (err) {
        settle(err as Error);
      }
    });
  }

  private async ensureProducer(): Promise<Kafka.Producer> {
    if (this.producer) return this.producer;
    const p = await connectProducer(this.opts.kafka, 'fieldline-commands-relay', { dr_cb: true, 'message.timeout.ms': this.opts.deliveryTimeoutMs ?? 10_000 });
    p.on('delivery-report', (err, report) => {
      const settle = typeof report.opaque === 'number' ? this.pending.get(report.opaque) : undefined;
      settle?.(err ? new Error(err.message) : null);
    });
    this.producer = p;
    return p;
  }

  private async dropProducer(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) await disconnectProducer(p);
    for (const settle of [...this.pending.values()]) settle(new Error('the producer was closed'));
  }
}
