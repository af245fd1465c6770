// The cloud's /metrics (docs/METRICS.md): the stage counters of the shared contract over one
// prom-client Registry per process, with prom-client's default process metrics. The consumer keeps
// its own tallies (ConsumerStats, also on /healthz); they are read into the counters at scrape time.
import type { Registry } from 'prom-client';
import { counterFrom, processRegistry, registerStageCounters, StageCounters, type Samples } from '../../common/src/metrics.js';
import type { ConsumerStats } from './consume/store-consumer.js';
import type { LakeStats } from './lake/worker.js';

export const CLOUD_PREFIX = 'fieldline_cloud';

export class CloudMetrics extends StageCounters {
  private registry: Registry | undefined;

  /**
   * @param consumer the sink's tallies, undefined while no consumer runs (the `api` role).
   * @param lake the lake writer's, undefined while none runs.
   */
  constructor(
    private readonly consumer: () => ConsumerStats | undefined,
    private readonly lake: () => LakeStats | undefined = () => undefined,
  ) {
    super();
  }

  /**
   * Made on the first scrape, like the gateway's: a `sink`-only process serves no /metrics and
   * should not run the process-metrics collectors (an event-loop delay monitor among them).
   */
  private ensureRegistry(): Registry {
    if (this.registry) return this.registry;
    const registry = processRegistry();
    const from = (rows: (c: ConsumerStats) => Samples) => (): Samples => {
      const c = this.consumer();
      return c ? rows(c) : [];
    };
    const fromLake = (rows: (l: LakeStats) => Samples) => (): Samples => {
      const l = this.lake();
      return l ? rows(l) : [];
    };
    const both = (a: () => Samples, b: () => Samples) => (): Samples => [...a(), ...b()];
    counterFrom(registry, `${CLOUD_PREFIX}_dead_letters_total`, 'messages sent to the DLQ, by the FL_ERR_ code in their error header', ['code'], from((c) =>
      Object.entries(c.deadLettersByCode).map(([code, n]) => [{ code }, n] as const),
    ));
    counterFrom(registry, `${CLOUD_PREFIX}_schema_header_mismatches_total`, 'batches whose schema-version header disagrees with their schema_version field (the field is used)', [], from((c) =>
      [[{}, c.schemaHeaderMismatches]],
    ));
    registerStageCounters(registry, CLOUD_PREFIX, this, {
      received: { read: both(from((c) => [[{ stage: 'consume' }, c.messages]]), fromLake((l) => [[{ stage: 'lake' }, l.messages]])) },
      sent: { read: both(from((c) => [[{ stage: 'store' }, c.rowsInserted]]), fromLake((l) => [[{ stage: 'lake' }, l.rowsWritten]])) },
      dropped: {
        labelNames: ['reason'],
        read: both(
          from((c) => [
            [{ stage: 'store', reason: 'duplicate_batch' }, c.batchesSkipped],
            [{ stage: 'consume', reason: 'dead_letter' }, c.deadLettered],
            [{ stage: 'store', reason: 'invalid' }, c.rowsRejected],
          ]),
          fromLake((l) => [
            [{ stage: 'lake', reason: 'refused' }, l.messagesSkipped],
            [{ stage: 'lake', reason: 'invalid' }, l.rowsRejected],
            [{ stage: 'lake', reason: 'duplicate_batch' }, l.duplicateBatches],
            [{ stage: 'lake', reason: 'stale' }, l.staleDropped],
          ]),
        ),
      },
      errors: {
        read: both(
          from((c) => [
            [{ stage: 'consume' }, c.consumeErrors],
            [{ stage: 'store' }, c.storeErrors],
          ]),
          fromLake((l) => [[{ stage: 'lake' }, l.consumeErrors + l.writeErrors]]),
        ),
      },
    });
    const lakeCounter = (name: string, help: string, read: (l: LakeStats) => number): void =>
      counterFrom(registry, `${CLOUD_PREFIX}_lake_${name}_total`, help, [], fromLake((l) => [[{}, read(l)]]));
    lakeCounter('files_written', 'Parquet files the lake put in place', (l) => l.filesWritten);
    lakeCounter('bytes_written', 'bytes of the Parquet files the lake put in place', (l) => l.bytesWritten);
    lakeCounter('ranges_committed', 'partition offset ranges whose files are in place and whose next offset was committed', (l) => l.rangesCommitted);
    lakeCounter('ranges_replayed', 'ranges ended where an earlier writer’s manifest said, and their files written again', (l) => l.rangesReplayed);
    lakeCounter('offsets_lost', 'offsets Kafka no longer held when the lake got to them (retention)', (l) => l.offsetsLost);
    this.registry = registry;
    return registry;
  }

  async render(): Promise<string> {
    return this.ensureRegistry().metrics();
  }
}
