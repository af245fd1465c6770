// Counters every component reports with the same names and a `stage` label (docs/METRICS.md),
// plus the per-device loss counters the heartbeat carries (DESIGN.md guarantee 2).

export type CounterKind = 'received' | 'sent' | 'dropped' | 'errors';
export type LossKind = 'rateLimited' | 'quarantined' | 'evicted';

export interface Loss {
  rateLimited: number;
  quarantined: number;
  evicted: number;
}

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, () => number>();
  readonly deviceLoss = new Map<string, Loss>();
  readonly loss: Loss = { rateLimited: 0, quarantined: 0, evicted: 0 };
  /** Refusals by reason code, for the status page. */
  readonly reasons = new Map<string, number>();

  count(stage: string, kind: CounterKind, n = 1): void {
    const key = `${kind}\u0000${stage}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  get(stage: string, kind: CounterKind): number {
    return this.counters.get(`${kind}\u0000${stage}`) ?? 0;
  }

  lose(deviceId: string, kind: LossKind, n = 1, reason?: string): void {
    let d = this.deviceLoss.get(deviceId);
    if (!d) this.deviceLoss.set(deviceId, (d = { rateLimited: 0, quarantined: 0, evicted: 0 }));
    d[kind] += n;
    this.loss[kind] += n;
    if (reason) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + n);
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
