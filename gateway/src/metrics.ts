// Counters every component reports with the same names and a `stage` label (docs/METRICS.md),
// plus the per-device loss counters the heartbeat carries (DESIGN.md guarantee 2).

export type CounterKind = 'received' | 'sent' | 'dropped' | 'errors';
export type LossKind = 'rateLimited' | 'quarantined' | 'evicted';

export interface Loss {
  rateLimited: number;
  quarantined: number;
  evicted: number;
}

/** Where devices beyond the tracking limit are counted, so random ids cannot grow memory without bound. */
export const OTHER_DEVICES = '(other)';

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, () => number>();
  readonly deviceLoss = new Map<string, Loss>();
  readonly loss: Loss = { rateLimited: 0, quarantined: 0, evicted: 0 };
  /** Refusals by reason code, gateway-wide, including those no device can be named for. */
  readonly reasons = new Map<string, number>();
  /** Refusals per device by reason code: everything in deviceLoss plus refused logins and subscriptions. */
  readonly deviceRefusals = new Map<string, Map<string, number>>();

  /** @param maxDevices devices tracked one by one; further ids share the OTHER_DEVICES entry. */
  constructor(private readonly maxDevices = 10_000) {}

  count(stage: string, kind: CounterKind, n = 1): void {
    const key = `${kind}\u0000${stage}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  get(stage: string, kind: CounterKind): number {
    return this.counters.get(`${kind}\u0000${stage}`) ?? 0;
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

  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  /** Prometheus text exposition format 0.0.4. */
  render(prefix: string): string {
    const lines: string[] = [];
    const byKind = new Map<string, [string, number][]>();
    for (const [key, n] of this.counters) {
      const [kind, stage] = key.split('\u0000') as [string, string];
      byKind.set(kind, [...(byKind.get(kind) ?? []), [stage, n]]);
    }
    for (const [kind, rows] of byKind) {
      lines.push(`# TYPE ${prefix}_${kind}_total counter`);
      for (const [stage, n] of rows) lines.push(`${prefix}_${kind}_total{stage="${esc(stage)}"} ${n}`);
    }
    lines.push(`# TYPE ${prefix}_loss_total counter`);
    for (const [kind, n] of Object.entries(this.loss)) lines.push(`${prefix}_loss_total{kind="${kind}"} ${n}`);
    if (this.reasons.size) lines.push(`# TYPE ${prefix}_refused_total counter`);
    for (const [reason, n] of this.reasons) lines.push(`${prefix}_refused_total{reason="${esc(reason)}"} ${n}`);
    for (const [name, read] of this.gauges) {
      lines.push(`# TYPE ${prefix}_${name} gauge`, `${prefix}_${name} ${read()}`);
    }
    return lines.join('\n') + '\n';
  }
}

function esc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
