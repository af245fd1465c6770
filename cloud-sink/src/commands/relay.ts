// Puts on Kafka what the commands table says Kafka still lacks (CommandStore.unpublished): a new
// command on the commands topic, and the status events this cloud owes (queued, expired) on the
// status topic. A row is marked only after Kafka confirmed its message, so a crash, a Kafka outage
// or a failed delivery only means the next run sends it again: at least once, and the gateway and
// the status consumer both deduplicate by command id. The API asks for a run after each new
// command; the sweep after each expiry; a timer catches whatever those missed.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { DeliveredProducer, SyncLoop } from '../consume/durable-publish.js';
import type { KafkaSettings } from '../consume/group-consumer.js';
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
  private readonly out: DeliveredProducer;
  private readonly sync: SyncLoop;
  private readonly now: () => number;

  constructor(private readonly opts: CommandRelayOptions) {
    this.now = opts.now ?? Date.now;
    this.out = new DeliveredProducer({ kafka: opts.kafka, clientId: 'fieldline-commands-relay', deliveryTimeoutMs: opts.deliveryTimeoutMs, now: this.now });
    this.sync = new SyncLoop({
      run: () => this.runOnce(),
      syncMs: opts.syncMs,
      publishWaitMs: opts.publishWaitMs,
      stats: this.stats,
      log: opts.log,
      recoveredMessage: 'command publishing recovered',
      failedMessage: 'commands or their status events could not be published; retrying (the database has them)',
      dropProducer: () => this.out.close(),
    });
  }

  start(): void {
    this.sync.start();
  }

  stop(): Promise<void> {
    return this.sync.stop();
  }

  /** Resolves once a run that started after this call has finished, or after timeoutMs. */
  runNow(timeoutMs = 30_000): Promise<void> {
    return this.sync.syncNow(timeoutMs);
  }

  /** After a change: a run, waited for briefly unless Kafka is known to be down (the row is safe either way). */
  publishSoon(): Promise<void> {
    return this.sync.publishSoon();
  }

  tallies(): WorkerTallies {
    return { stage: 'commands_publish', received: 0, sent: this.stats.commandsSent + this.stats.eventsSent, dropped: {}, errors: this.stats.failedRuns };
  }

  /**
   * One pass over the rows Kafka lacks. A row's owed `queued` event goes before its command, so the
   * status topic never shows a gateway's `delivered` ahead of the cloud's `queued` for it.
   */
  private async runOnce(): Promise<boolean> {
    const { store } = this.opts;
    const rows = await store.unpublished(this.now(), RUN_BATCH);
    if (rows.length === 0) return false;
    await this.out.connect();
    let firstError: Error | null = null;
    const owed = rows.filter((r) => r.event_pending !== null);
    const events = await Promise.all(owed.map((r) => this.produce(this.opts.statusTopic, statusRecord(cloudStatusEvent(r, r.event_pending!)))));
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
    const sent = await Promise.all(toSend.map((r) => this.produce(this.opts.commandsTopic, commandRecord(commandMessage(r)))));
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

  private produce(topic: string, m: Record_): Promise<Error | null> {
    return this.out.produce(topic, m.key, m.value, m.headers);
  }
}
