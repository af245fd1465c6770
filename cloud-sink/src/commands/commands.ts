// Device commands, the cloud side (issue 15), as the cloud wires them:
// - the relay (every role with a database that makes or expires commands: api, sink, all) puts new
//   commands and the cloud's own status events on Kafka;
// - in the sink roles, the status consumer moves rows forward from iot.command-status, and the
//   expiry sweep expires commands still queued past their expiry.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import type { WorkerTallies } from '../metrics.js';
import type { Db } from '../store/db.js';
import { RecordConsumer } from '../fleet/record-consumer.js';
import { CommandRelay } from './relay.js';
import { CommandStore, type ApplyOutcome } from './store.js';
import { ExpirySweeper } from './sweeper.js';
import { decodeStatusEvent, type StatusEvent } from './wire.js';

export type CommandSettings = CloudConfig['commands'];

export interface CommandsOptions {
  cfg: Pick<CloudConfig, 'kafka' | 'commands'>;
  db: Db;
  log: Logger;
  /** Run the status consumer and the expiry sweep (the sink and all roles). */
  sinkWork: boolean;
  /** Epoch ms for the sweep, the relay and status changes; tests move it. */
  now?: () => number;
}

export class Commands {
  readonly store: CommandStore;
  readonly relay: CommandRelay;
  readonly sweeper?: ExpirySweeper;
  readonly status?: RecordConsumer<StatusEvent>;
  /** Status events that changed nothing, by why (ApplyOutcome): also on /metrics as dropped. */
  readonly ignored: Record<Exclude<ApplyOutcome, 'applied'>, number> = { duplicate: 0, backwards: 0, unknown: 0, wrong_gateway: 0 };
  private readonly now: () => number;

  constructor(private readonly opts: CommandsOptions) {
    const { kafka, commands } = opts.cfg;
    this.now = opts.now ?? Date.now;
    this.store = new CommandStore(opts.db);
    this.relay = new CommandRelay({
      store: this.store, kafka, commandsTopic: commands.topic, statusTopic: commands.statusTopic,
      syncMs: commands.relaySyncMs, log: opts.log.child({ part: 'commands-relay' }), now: this.now,
    });
    if (!opts.sinkWork) return;
    this.sweeper = new ExpirySweeper({
      store: this.store, relay: this.relay, intervalMs: commands.sweepIntervalMs, graceMs: commands.expiryGraceMs,
      log: opts.log.child({ part: 'commands-sweep' }), now: this.now,
    });
    const log = opts.log.child({ part: 'command-status' });
    this.status = new RecordConsumer<StatusEvent>({
      stage: 'command_status',
      kafka,
      topic: commands.statusTopic,
      group: commands.statusGroup,
      log,
      worker: {
        decode: (msg: Kafka.Message) => decodeStatusEvent(msg),
        write: async (events) => {
          let stored = 0;
          // One at a time, in partition order: one command's events are in order under its key.
          for (const e of events) {
            const outcome = await this.store.apply(e, this.now());
            if (outcome === 'applied') {
              stored++;
              continue;
            }
            this.ignored[outcome]++;
            // The cloud's own queued and expired events come back on the topic: not worth a line.
            if (outcome !== 'duplicate') log.warn({ command: e.id, status: e.status, gateway: e.gateway_id, outcome }, 'command status event ignored');
          }
          return { stored, duplicates: events.length - stored };
        },
      },
    });
  }

  start(): void {
    this.relay.start();
    this.status?.start();
    this.sweeper?.start();
  }

  async stop(): Promise<void> {
    await this.sweeper?.stop();
    await this.status?.stop();
    await this.relay.stop();
  }

  tallies(): WorkerTallies[] {
    const out = [this.relay.tallies()];
    if (this.status) {
      const t = this.status.tallies();
      const { duplicate: _dup, ...rest } = t.dropped;
      out.push({ ...t, dropped: { ...rest, ...this.ignored } });
    }
    return out;
  }

  health(): Record<string, unknown> {
    const r = this.relay.stats;
    return {
      relay: { state: r.state, commandsSent: r.commandsSent, eventsSent: r.eventsSent, lastError: r.lastError },
      ...(this.status ? { status: { state: this.status.stats.state, lastCommitMs: this.status.stats.lastCommitMs, ignored: this.ignored } } : {}),
      ...(this.sweeper ? { sweep: { expired: this.sweeper.expired, errors: this.sweeper.errors } } : {}),
    };
  }
}
