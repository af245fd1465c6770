// Backlog drain progress for the status page and the heartbeat: how fast readings leave for the
// cloud, how fast new ones arrive, and when the outbox will be empty at those rates.

export interface DrainProgress {
  /** Readings confirmed by Kafka per second, over the last window. */
  sentPerSecond: number;
  /** Readings committed to the outbox per second, over the last window. */
  inPerSecond: number;
  /** Seconds until the outbox is empty at these rates; null when it is not shrinking. */
  etaS: number | null;
}

interface Sample {
  atMs: number;
  sent: number;
  committed: number;
}

export class DrainMeter {
  private readonly samples: Sample[] = [];

  /** @param windowMs how far back the rates look */
  constructor(private readonly windowMs = 10_000) {}

  /** Feed running totals; call about once a second. */
  sample(atMs: number, sent: number, committed: number): void {
    this.samples.push({ atMs, sent, committed });
    while (this.samples.length > 2 && atMs - this.samples[1]!.atMs >= this.windowMs) this.samples.shift();
  }

  progress(depthValues: number): DrainProgress {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.atMs <= first.atMs) return { sentPerSecond: 0, inPerSecond: 0, etaS: depthValues === 0 ? 0 : null };
    const s = (last.atMs - first.atMs) / 1000;
    const sentPerSecond = (last.sent - first.sent) / s;
    const inPerSecond = (last.committed - first.committed) / s;
    const net = sentPerSecond - inPerSecond;
    const etaS = depthValues === 0 ? 0 : net > 0 ? depthValues / net : null;
    return { sentPerSecond: round(sentPerSecond), inPerSecond: round(inPerSecond), etaS: etaS === null ? null : round(etaS) };
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
