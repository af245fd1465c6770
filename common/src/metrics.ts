// The metrics contract both sides share (docs/METRICS.md): every component counts what it
// received, sent on, dropped and failed at, under the same four names with a `stage` label, and
// /metrics serves them through prom-client beside the runtime's default process metrics.
//
// Each process (a gateway, a cloud) owns one prom-client Registry; nothing goes to prom-client's
// global registry, so tests that run many gateways in one process never see each other's counts.
// The counts themselves live in plain Maps that the hot paths bump (one Map update per call, no
// label hashing) and are copied into the registry's counters when it is scraped.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export type CounterKind = 'received' | 'sent' | 'dropped' | 'errors';
export const COUNTER_KINDS: readonly CounterKind[] = ['received', 'sent', 'dropped', 'errors'];

const HELP: Record<CounterKind, string> = {
  received: 'messages or readings that reached the stage',
  sent: 'readings the stage passed on',
  dropped: 'messages the stage refused or skipped',
  errors: 'failures at the stage that were not the input’s fault',
};

export type Labels = Record<string, string>;
/** What a counter or gauge holds at scrape time: one value per label set. */
export type Samples = Iterable<readonly [Labels, number]>;

/** received / sent / dropped / errors by stage, counted on the hot path without touching prom-client. */
export class StageCounters {
  private readonly values = new Map<string, number>();

  count(stage: string, kind: CounterKind, n = 1): void {
    const key = `${kind}\u0000${stage}`;
    this.values.set(key, (this.values.get(key) ?? 0) + n);
  }

  get(stage: string, kind: CounterKind): number {
    return this.values.get(`${kind}\u0000${stage}`) ?? 0;
  }

  /** Every stage that counted `kind`, with its count. */
  *samples(kind: CounterKind): Generator<readonly [Labels, number]> {
    for (const [key, n] of this.values) {
      const [k, stage] = key.split('\u0000') as [string, string];
      if (k === kind) yield [{ stage }, n];
    }
  }
}

/** The Content-Type of the Prometheus text format the registries render. */
export const PROMETHEUS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

/** A new Registry with prom-client's default process metrics (nodejs_version_info, heap, event-loop lag, RSS…). */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A counter whose values are read from `read` at every scrape (the counts are kept elsewhere). */
export function counterFrom(registry: Registry, name: string, help: string, labelNames: readonly string[], read: () => Samples): void {
  registry.registerMetric(
    new Counter({
      name,
      help,
      labelNames,
      registers: [],
      collect() {
        this.reset();
        for (const [labels, n] of read()) this.inc(labels, n);
      },
    }),
  );
}

/** A gauge read from `read` at every scrape. */
export function gaugeFrom(registry: Registry, name: string, help: string, read: () => number): void {
  registry.registerMetric(
    new Gauge({
      name,
      help,
      registers: [],
      collect() {
        this.set(read());
      },
    }),
  );
}

/**
 * Registers `<prefix>_<kind>_total` for the four kinds. `extra` adds samples counted elsewhere (the
 * cloud's consumer keeps its own tallies); a kind whose samples carry more labels than `stage`
 * names them in `labelNames`.
 */
export function registerStageCounters(
  registry: Registry,
  prefix: string,
  counters: StageCounters,
  extra: Partial<Record<CounterKind, { labelNames?: readonly string[]; read: () => Samples }>> = {},
): void {
  for (const kind of COUNTER_KINDS) {
    const more = extra[kind];
    counterFrom(registry, `${prefix}_${kind}_total`, HELP[kind], ['stage', ...(more?.labelNames ?? [])], function* () {
      yield* counters.samples(kind);
      if (more) yield* more.read();
    });
  }
}
