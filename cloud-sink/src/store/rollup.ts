// The sink's own rollups for vanilla PostgreSQL (schema.ts: readings_1m/1h/1d as plain tables).
// The sink holds the rows it is about to insert, so it folds them here into partial buckets per
// (device, metric, minute), then hours from those minutes and days from those hours, and the
// database only merges the partials into the stored buckets (schema.ts rollupMergeStaged): a level
// has at most as many rows as the one below, far fewer when devices send often, and no statement
// re-sorts or re-groups raw readings. docs/ARCHITECTURE.md ("Rollups on vanilla PostgreSQL") has
// the measurements behind this.
import { ROLLUPS } from './schema.js';

/** One bucket's share of the rows folded so far. Times are epoch microseconds, as stored. */
export interface PartialBucket {
  bucketUs: number;
  deviceId: string;
  metric: string;
  /** A sum, not an average: merged by count in the database, so an average is divided once. */
  sum: number;
  count: number;
  min: number;
  max: number;
  /** The value with the latest time; on equal times the one folded last. */
  last: number;
  lastUs: number;
}

export const MINUTE_US = 60_000_000;
export const HOUR_US = 3_600_000_000;
export const DAY_US = 86_400_000_000;
/** Bucket widths in microseconds, in the order of ROLLUPS; checked against it below. */
const WIDTHS_US: readonly number[] = [MINUTE_US, HOUR_US, DAY_US];
if (ROLLUPS.map((r) => r.width).join() !== '1 minute,1 hour,1 day') throw new Error('rollup.ts widths disagree with schema.ts ROLLUPS');

/**
 * The start of `us`'s bucket, counted from the epoch as date_bin and time_bucket count: floor, also
 * before 1970. `%` on doubles is exact, where a division would round for the largest times.
 */
export function bucketStart(us: number, widthUs: number): number {
  const r = us % widthUs;
  return r < 0 ? us - r - widthUs : us - r;
}

type Buckets = Map<string, Map<string, Map<number, PartialBucket>>>;

export class RollupFold {
  private readonly first: Buckets = new Map();

  /** `widthsUs`: each level's bucket width, each a multiple of the one before (ROLLUPS' by default). */
  constructor(private readonly widthsUs: readonly number[] = WIDTHS_US) {}

  /** Folds one stored row in; `us` is its time exactly as stored (epoch microseconds). */
  add(us: number, deviceId: string, metric: string, value: number): void {
    merge(this.first, {
      bucketUs: bucketStart(us, this.widthsUs[0]!),
      deviceId,
      metric,
      sum: value,
      count: 1,
      min: value,
      max: value,
      last: value,
      lastUs: us,
    });
  }

  /**
   * The partials of each level, in the order of ROLLUPS (minutes, hours, days), each sorted by (device, metric,
   * bucket): two sinks upserting overlapping buckets then lock them in the same order and wait
   * for each other instead of deadlocking.
   */
  levels(): PartialBucket[][] {
    const out: PartialBucket[][] = [];
    let level = this.first;
    for (let i = 0; i < this.widthsUs.length; i++) {
      if (i > 0) {
        const next: Buckets = new Map();
        const width = this.widthsUs[i]!;
        for (const b of sorted(level)) merge(next, { ...b, bucketUs: bucketStart(b.bucketUs, width) });
        level = next;
      }
      out.push(sorted(level));
    }
    return out;
  }
}

function merge(into: Buckets, p: PartialBucket): void {
  let byMetric = into.get(p.deviceId);
  if (!byMetric) into.set(p.deviceId, (byMetric = new Map()));
  let byBucket = byMetric.get(p.metric);
  if (!byBucket) byMetric.set(p.metric, (byBucket = new Map()));
  const b = byBucket.get(p.bucketUs);
  if (!b) {
    byBucket.set(p.bucketUs, p);
    return;
  }
  b.sum += p.sum;
  b.count += p.count;
  if (p.min < b.min) b.min = p.min;
  if (p.max > b.max) b.max = p.max;
  // `>=`, as the database's merge takes the incoming `last` on equal times.
  if (p.lastUs >= b.lastUs) {
    b.last = p.last;
    b.lastUs = p.lastUs;
  }
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sorted(level: Buckets): PartialBucket[] {
  const out: PartialBucket[] = [];
  for (const device of [...level.keys()].sort(byCodeUnit)) {
    const byMetric = level.get(device)!;
    for (const metric of [...byMetric.keys()].sort(byCodeUnit)) {
      const byBucket = byMetric.get(metric)!;
      for (const bucket of [...byBucket.keys()].sort((a, b) => a - b)) out.push(byBucket.get(bucket)!);
    }
  }
  return out;
}
