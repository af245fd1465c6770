// The cloud's /metrics (docs/METRICS.md): the stage counters of the shared contract over one
// prom-client Registry per process, with prom-client's default process metrics. The consumer keeps
// its own tallies (ConsumerStats, also on /healthz); they are read into the counters at scrape time.
import type { Registry } from 'prom-client';
import { counterFrom, processRegistry, registerStageCounters, StageCounters, type CounterKind, type Labels, type Samples } from '../../common/src/metrics.js';
import type { ConsumerStats } from './consume/store-consumer.js';
import type { LakeStats } from './lake/worker.js';

export const CLOUD_PREFIX = 'fieldline_cloud';

/** What another sink worker (the fleet's, say) has counted, under its own stage. */
export interface WorkerTallies {
  stage: string;
  received: number;
  sent: number;
  /** By reason. */
  dropped: Record<string, number>;
  errors: number;
  /** Messages the worker sent to the DLQ, by code (beside the store consumer's in dead_letters_total). */
  deadLettersByCode?: Record<string, number>;
}

export class CloudMetrics extends StageCounters {
  private registry: Registry | undefined;

  /**
   * @param consumer the sink's tallies, undefined while no consumer runs (the `api` role).
   * @param workers the other workers' tallies, read at scrape time like the consumer's.
   * @param lake the lake writer's own figures (files, bytes, ranges), undefined while none runs; its
   *   stage counters come with `workers`.
   */
  constructor(
    private readonly consumer: () => ConsumerStats | undefined,
    private readonly workers: () => readonly WorkerTallies[] = () => [],
    private readonly lake: () => LakeStats | undefined = () => undefined,
  ) {
    super();
  }

  /** The stage counters with the workers' tallies beside them (the `dropped` ones by reason). */
  override *samples(kind: CounterKind): Generator<readonly [Labels, number]> {
    yield* super.samples(kind);
    for (const w of this.workers()) {
      if (kind === 'dropped') for (const [reason, n] of Object.entries(w.dropped)) yield [{ stage: w.stage, reason }, n];
      else yield [{ stage: w.stage }, w[kind]];
    }
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
    const byCode = (counts: Record<string, number>): Samples => Object.entries(counts).map(([code, n]) => [{ code }, n] as const);
    counterFrom(registry, `${CLOUD_PREFIX}_dead_letters_total`, 'messages sent to the DLQ, by the FL_ERR_ code in their error header', ['code'], () => [
      ...from((c) => byCode(c.deadLettersByCode))(),
      ...this.workers().flatMap((w) => [...byCode(w.deadLettersByCode ?? {})]),
    ]);
    counterFrom(registry, `${CLOUD_PREFIX}_schema_header_mismatches_total`, 'batches whose schema-version header disagrees with their schema_version field (the field is used)', [], from((c) =>
      [[{}, c.schemaHeaderMismatches]],
    ));
    counterFrom(registry, `${CLOUD_PREFIX}_readings_time_flagged_total`, 'readings stored with a time their gateway could not trust or correct (reading_time_flags), by reason', ['reason'], from((c) =>
      Object.entries(c.rowsTimeFlagged).map(([reason, n]) => [{ reason }, n] as const),
    ));
    counterFrom(registry, `${CLOUD_PREFIX}_lane_batches_total`, 'batches stored per gateway lane (live, or a backlog drained after an outage)', ['lane'], from((c) =>
      Object.entries(c.lanes).map(([lane, n]) => [{ lane }, n.batches] as const),
    ));
    counterFrom(registry, `${CLOUD_PREFIX}_lane_readings_total`, 'readings in the batches stored per gateway lane', ['lane'], from((c) =>
      Object.entries(c.lanes).map(([lane, n]) => [{ lane }, n.readings] as const),
    ));
    registerStageCounters(registry, CLOUD_PREFIX, this, {
      received: { read: from((c) => [[{ stage: 'consume' }, c.messages]]) },
      sent: { read: from((c) => [[{ stage: 'store' }, c.rowsInserted]]) },
      dropped: {
        labelNames: ['reason'],
        read: from((c) => [
          [{ stage: 'store', reason: 'duplicate_batch' }, c.batchesSkipped],
          [{ stage: 'consume', reason: 'dead_letter' }, c.deadLettered],
          [{ stage: 'store', reason: 'invalid' }, c.rowsRejected],
        ]),
      },
      errors: {
        read: from((c) => [
          [{ stage: 'consume' }, c.consumeErrors],
          [{ stage: 'store' }, c.storeErrors],
        ]),
      },
    });
    const lakeCounter = (name: string, help: string, read: (l: LakeStats) => number): void =>
      counterFrom(registry, `${CLOUD_PREFIX}_lake_${name}_total`, help, [], () => {
        const l = this.lake();
        return l ? [[{}, read(l)]] : [];
      });
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
