// A short-lived cache of aggregate answers: a dashboard that polls, or twenty viewers of one chart,
// ask the same question within seconds. Entries live `ttlMs` at most, so the open bucket (taken
// from raw rows, still changing) is never older than that; the oldest entry goes when the cache is
// full. The key is the request with its range rounded to whole buckets, which is what the answer
// depends on (store/aggregates.ts bucketSpan).
export interface AggregateCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Epoch ms; tests move it. */
  now?: () => number;
}

export class AggregateCache<T> {
  private readonly entries = new Map<string, { value: T; expiresMs: number }>();
  private readonly now: () => number;
  /** Answers served from the cache, and those that were not. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(private readonly opts: AggregateCacheOptions) {
    this.now = opts.now ?? Date.now;
  }

  static key(parts: readonly (string | number)[]): string {
    return JSON.stringify(parts);
  }

  /** The cached answer for `key`, or `compute()`'s, kept for ttlMs. A failure is not cached. */
  async get(key: string, compute: () => Promise<T>): Promise<T> {
    if (this.opts.ttlMs <= 0 || this.opts.maxEntries <= 0) return compute();
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresMs > now) {
      this.stats.hits++;
      return hit.value;
    }
    if (hit) this.entries.delete(key);
    this.stats.misses++;
    const value = await compute();
    // Map order is insertion order: the first key is the oldest entry.
    while (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresMs: this.now() + this.opts.ttlMs });
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
