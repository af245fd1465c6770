// The sink's fleet workers (issue 10), each switched on or off by its fleet.* section:
// - heartbeats: iot.heartbeats → gateways (latest state) and gateway_heartbeats (history)
// - quarantine: iot.quarantine → quarantine
// - aggregates: readings_1m → iot.aggregates.1m
// Each consumer has its own consumer group, so one falling behind holds up none of the others.
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import type { WorkerTallies } from '../metrics.js';
import type { Db } from '../store/db.js';
import { AggregatePublisher, systemClock, type Clock } from './aggregates.js';
import { heartbeatRecord, writeHeartbeats, type HeartbeatRecord } from './heartbeats.js';
import { quarantineRecord, writeQuarantine, type QuarantineRecord } from './quarantine.js';
import { RecordConsumer, type RecordConsumerStats } from './record-consumer.js';

export class Fleet {
  readonly heartbeats?: RecordConsumer<HeartbeatRecord>;
  readonly quarantine?: RecordConsumer<QuarantineRecord>;
  /** The store consumer tells it about late readings (noteBatches, then flushLate). */
  readonly aggregates?: AggregatePublisher;

  constructor(cfg: Pick<CloudConfig, 'kafka' | 'fleet'>, db: Db, log: Logger, clock: Clock = systemClock) {
    const { kafka, fleet } = cfg;
    if (fleet.heartbeats.enabled) {
      this.heartbeats = new RecordConsumer({
        stage: 'heartbeat',
        kafka,
        topic: kafka.heartbeatsTopic,
        group: fleet.heartbeats.group,
        log: log.child({ part: 'heartbeats' }),
        worker: {
          decode: heartbeatRecord,
          write: async (records) => {
            const r = await writeHeartbeats(db, records, fleet.heartbeats.futureToleranceMs);
            return { stored: r.stored, duplicates: r.duplicates };
          },
        },
      });
    }
    if (fleet.quarantine.enabled) {
      this.quarantine = new RecordConsumer({
        stage: 'quarantine',
        kafka,
        topic: kafka.quarantineTopic,
        group: fleet.quarantine.group,
        log: log.child({ part: 'quarantine' }),
        worker: {
          decode: quarantineRecord,
          write: async (records) => {
            const stored = await writeQuarantine(db, records);
            return { stored, duplicates: records.length - stored };
          },
        },
      });
    }
    if (fleet.aggregates.enabled) {
      this.aggregates = new AggregatePublisher({ db, kafka, settings: fleet.aggregates, log: log.child({ part: 'aggregates' }), clock });
    }
  }

  start(): void {
    this.heartbeats?.start();
    this.quarantine?.start();
    this.aggregates?.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.heartbeats?.stop(), this.quarantine?.stop(), this.aggregates?.stop()]);
  }

  tallies(): WorkerTallies[] {
    return [this.heartbeats?.tallies(), this.quarantine?.tallies(), this.aggregates?.tallies()].filter((t) => t !== undefined);
  }

  /** The /healthz detail line: each running worker's state. */
  health(): Record<string, unknown> {
    const consumer = ({ stats: s }: { stats: RecordConsumerStats }) => ({ state: s.state, lastCommitMs: s.lastCommitMs, deadLettered: s.deadLettered });
    return {
      ...(this.heartbeats ? { heartbeats: consumer(this.heartbeats) } : {}),
      ...(this.quarantine ? { quarantine: consumer(this.quarantine) } : {}),
      ...(this.aggregates ? { aggregates: this.aggregates.health() } : {}),
    };
  }
}
