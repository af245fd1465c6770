// A token bucket in bytes for the backlog lane on a metered link (forward.backlogMaxBytesPerSecond).
// A batch is produced whole or not at all and may be larger than a second's worth, so the bucket
// lets a batch go whenever it is not in debt and then charges its full size: the debt is paid off
// before the next one goes, and the average stays at the rate however batch sizes fall.
// No maintained npm library does byte budgets with debt on an injected clock (the usual ones count
// whole requests), and this is a dozen lines.

export class ByteBudget {
  private tokens: number;
  private last: number;

  /**
   * @param bytesPerSecond the rate; 0 means no cap
   * @param burstBytes most that may be saved up while idle (default one second's worth)
   */
  constructor(private readonly bytesPerSecond: number, nowMs: number, private readonly burstBytes = bytesPerSecond) {
    this.tokens = burstBytes;
    this.last = nowMs;
  }

  get unlimited(): boolean {
    return this.bytesPerSecond <= 0;
  }

  private refill(nowMs: number): void {
    // A clock that steps back must not take tokens away.
    this.tokens = Math.min(this.burstBytes, this.tokens + (Math.max(0, nowMs - this.last) / 1000) * this.bytesPerSecond);
    this.last = Math.max(this.last, nowMs);
  }

  /** Whether a batch may go now (whatever its size). */
  mayGo(nowMs: number): boolean {
    if (this.unlimited) return true;
    this.refill(nowMs);
    return this.tokens > 0;
  }

  /** Charges a produced batch. */
  spend(bytes: number, nowMs: number): void {
    if (this.unlimited) return;
    this.refill(nowMs);
    this.tokens -= bytes;
  }

  /** Milliseconds until mayGo turns true; 0 when it is. */
  waitMs(nowMs: number): number {
    if (this.unlimited) return 0;
    this.refill(nowMs);
    return this.tokens > 0 ? 0 : Math.floor((-this.tokens * 1000) / this.bytesPerSecond) + 1;
  }
}
