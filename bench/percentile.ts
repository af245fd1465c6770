// Latency summaries for the benches. Nearest-rank percentiles: p95 of 100 samples is the 95th
// smallest, a value that was measured, never an interpolation between two; with fewer samples than
// 1 / (1 - q) a high percentile is the maximum, which is what a reader of "p99 of 20 samples" should get.

export interface LatencySummary {
  samples: number;
  /** Milliseconds, one decimal. */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The nearest-rank q-quantile (0 < q ≤ 1) of `sorted`, ascending; NaN when there are no samples. */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile ${q} is not in (0, 1]`);
  if (sorted.length === 0) return NaN;
  // The rank is ceil(q·n); q·n is rounded first so that 0.95 · 100 (95.00000000000001) is rank 95.
  const rank = Math.ceil(Math.round(q * sorted.length * 1e9) / 1e9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** p50 / p95 / p99 / max / mean of durations in ms; non-finite values are left out. */
export function summarize(values: readonly number[]): LatencySummary {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  const mean = v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
  return {
    samples: v.length,
    p50: r1(nearestRank(v, 0.5)),
    p95: r1(nearestRank(v, 0.95)),
    p99: r1(nearestRank(v, 0.99)),
    max: r1(v.at(-1) ?? NaN),
    mean: r1(mean),
  };
}
