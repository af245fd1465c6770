// Counters every component reports with the same names and a `stage` label (docs/METRICS.md),
// plus the per-device loss counters the heartbeat carries (DESIGN.md guarantee 2), served on the
// local API's /metrics through the gateway's own prom-client Registry.
import type { Registry } from 'prom-client';
import { counterFrom, gaugeFrom, processRegistry, registerStageCounters, StageCounters, type CounterKind } from '../../common/src/metrics.js';

export type { CounterKind };
export type LossKind = 'rateLimited' | 'quarantined' | 'evicted';

export interface Loss {
  rateLimited: number;
  quarantined: number;
  evicted: number;
}

/** Where devices beyond the tracking limit are counted, so random ids cannot grow memory without bound. */
export const OTHER_DEVICES = '(other)';

export class Metrics extends StageCounters {
  private readonly gauges = new Map<string, { help: string; read: () => number }>();
  private registry: Registry | undefined;
  readonly deviceLoss = new Map<string, Loss>();
  readonly loss: Loss = { rateLimited: 0, quarantined: 0, evicted: 0 };
  /** Refusals by reason code, gateway-wide, including those no device can be named for. */
  readonly reasons = new Map<string, number>();
  /** Refusals per device by reason code: everything in deviceLoss plus refused logins and subscriptions. */
  readonly deviceRefusals = new Map<string, Map<string, number>>();

  /**
   * @param maxDevices devices tracked one by one; further ids share the OTHER_DEVICES entry.
   * @param prefix the metric name prefix on /metrics.
   */
  constructor(
    private readonly maxDevices = 10_000,
    private readonly prefix = 'fieldline_gateway',
  ) {
    super();
  }

  /** A reading that will not reach the cloud: counted per device, in the totals, and as a refusal. */
  lose(deviceId: string, kind: LossKind, n = 1, reason?: string): void {
    const id = this.tracked(this.deviceLoss, deviceId);
    let d = this.deviceLoss.get(id);
    if (!d) this.deviceLoss.set(id, (d = { rateLimited: 0, quarantined: 0, evicted: 0 }));
    d[kind] += n;
    this.loss[kind] += n;
    if (reason) this.refuse(deviceId, reason, n);
  }

  /** Anything refused, by reason code; deviceId null when the refused party names no device. */
  refuse(deviceId: string | null, reason: string, n = 1): void {
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + n);
    if (deviceId === null) return;
    const id = this.tracked(this.deviceRefusals, deviceId);
    let byReason = this.deviceRefusals.get(id);
    if (!byReason) this.deviceRefusals.set(id, (byReason = new Map()));
    byReason.set(reason, (byReason.get(reason) ?? 0) + n);
  }

  private tracked(map: Map<string, unknown>, deviceId: string): string {
    return map.has(deviceId) || map.size < this.maxDevices ? deviceId : OTHER_DEVICES;
  }

  /** A value read when /metrics is scraped, as `<prefix>_<name>`. */
  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
    if (this.registry) gaugeFrom(this.registry, `${this.prefix}_${name}`, help, read);
  }

  /**
   * The Registry /metrics serves, made on first use: the process metrics it starts (an event-loop
   * delay monitor among them) are for a running gateway, not for every Metrics a unit test makes.
   */
  private ensureRegistry(): Registry {
    if (this.registry) return this.registry;
    const registry = processRegistry();
    const p = this.prefix;
    registerStageCounters(registry, p, this);
    counterFrom(registry, `${p}_loss_total`, 'readings that will not reach the cloud, by kind (the heartbeat loss counters)', ['kind'], () =>
      Object.entries(this.loss).map(([kind, n]) => [{ kind }, n] as const),
    );
    counterFrom(registry, `${p}_refused_total`, 'refusals by catalogued reason code', ['reason'], () =>
      [...this.reasons].map(([reason, n]) => [{ reason }, n] as const),
    );
    for (const [name, g] of this.gauges) gaugeFrom(registry, `${p}_${name}`, g.help, g.read);
    this.registry = registry;
    return registry;
  }

  /** Prometheus text exposition format, with the runtime's default process metrics. */
  async render(): Promise<string> {
    return this.ensureRegistry().metrics();
  }

  /** The Content-Type that goes with render()'s text. */
  get contentType(): string {
    return this.ensureRegistry().contentType;
  }
}
