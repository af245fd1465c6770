// Aggregates over a device's metric, hot and cold (DESIGN.md "Cloud API", issue 12).
//
// Buckets are whole: a range [from, to] covers every bucket from the one holding `from` to the one
// holding `to`, each aggregated over all its readings, so a point means the same whichever part of
// the storage answers it. The range is split once, at a bucket boundary:
//
// - the hot part, from the database: readings_1m/1h/1d (the level's retention bounds it), except the
//   newest bucket, still open, which is taken from raw rows so it is current; with percentiles
//   every bucket comes from raw rows (percentile_cont), so the raw readings' retention bounds it.
// - the cold part, before that boundary, from the Parquet lake (DuckDB over its `readings` view),
//   with the same arithmetic. Without a lake, or with no rows in it for that part, the database
//   answers the cold part with what it still holds.
//
// The boundary is the retention the config gives (timescale.readingsRetention and
// timescale.rollupRetention.*), counted back from now in calendar units as PostgreSQL counts them,
// and rounded up to the bucket. TimescaleDB drops only whole chunks older than that, so from the
// boundary on, the database holds everything; before it, it may hold some rows or none, and the lake
// is asked. On vanilla PostgreSQL nothing is dropped by those settings, and the lake holds the same
// rows, so the answer is the same from either side.
import type { LakeReader } from '../lake/reader.js';
import type { Db } from './db.js';

export type BucketName = '1m' | '1h' | '1d';

export const BUCKETS: Record<BucketName, { ms: number; view: 'readings_1m' | 'readings_1h' | 'readings_1d'; interval: string }> = {
  '1m': { ms: 60_000, view: 'readings_1m', interval: '1 minute' },
  '1h': { ms: 3_600_000, view: 'readings_1h', interval: '1 hour' },
  '1d': { ms: 86_400_000, view: 'readings_1d', interval: '1 day' },
};

export const PERCENTILES = [50, 95, 99] as const;
export type Percentile = (typeof PERCENTILES)[number];

/** PostgreSQL interval text as config/schema.ts accepts it ('7 days', '1 month'); null keeps data for ever. */
export interface Retention {
  readings: string | null;
  readings_1m: string | null;
  readings_1h: string | null;
  readings_1d: string | null;
}

export const KEEP_ALL: Retention = { readings: null, readings_1m: null, readings_1h: null, readings_1d: null };

export interface AggregatePoint {
  /** Bucket start, epoch ms. */
  tsMs: number;
  avg: number;
  min: number;
  max: number;
  count: number;
  last: number;
  /** Only the percentiles asked for. */
  percentiles: Partial<Record<Percentile, number>>;
}

export type Source = 'hot' | 'lake' | 'mixed';

export interface AggregateRequest {
  deviceId: string;
  metric: string;
  bucket: BucketName;
  /** Epoch ms, both inclusive; widened to whole buckets. */
  fromMs: number;
  toMs: number;
  percentiles: readonly Percentile[];
  nowMs: number;
}

export interface AggregateAnswer {
  source: Source;
  points: AggregatePoint[];
}

/** The buckets a request covers: [startMs, endMs), whole buckets. */
export function bucketSpan(bucket: BucketName, fromMs: number, toMs: number): { startMs: number; endMs: number; count: number } {
  const w = BUCKETS[bucket].ms;
  const startMs = Math.floor(fromMs / w) * w;
  const endMs = Math.floor(toMs / w) * w + w;
  return { startMs, endMs, count: (endMs - startMs) / w };
}

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 };

/**
 * `nowMs` minus a retention interval, as PostgreSQL subtracts it from now() in UTC: months and
 * years by the calendar (a month back from 31 March is 28 or 29 February), the rest by length.
 */
export function retentionCutoffMs(nowMs: number, interval: string | null): number {
  if (interval === null) return -Infinity;
  const m = /^(\d+) (minute|hour|day|week|month|year)s?$/.exec(interval.trim());
  if (!m) throw new TypeError(`retention ${JSON.stringify(interval)} is not '<count> <unit>'`);
  const n = Number(m[1]);
  const unit = m[2]!;
  if (unit === 'month' || unit === 'year') {
    const d = new Date(nowMs);
    const months = unit === 'year' ? 12 * n : n;
    const day = d.getUTCDate();
    d.setUTCDate(1);
    d.setUTCMonth(d.getUTCMonth() - months);
    // PostgreSQL clamps to the month's last day rather than overflowing into the next month.
    const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    d.setUTCDate(Math.min(day, last));
    return d.getTime();
  }
  return nowMs - n * UNIT_MS[unit]!;
}

interface PointRow {
  bucket_ms: number | bigint | string;
  avg: number;
  min: number;
  max: number;
  count: number | bigint | string;
  last: number;
  pct?: number[] | null;
}

export class AggregateQueries {
  constructor(
    private readonly db: Db,
    private readonly retention: Retention,
    /** The lake, opened when first needed; null: there is none. */
    private readonly lake: () => Promise<LakeReader | null> = async () => null,
  ) {}

  /** Where the database's data for this request begins (a bucket boundary), or -Infinity. */
  hotStartMs(bucket: BucketName, percentiles: boolean, nowMs: number): number {
    const w = BUCKETS[bucket].ms;
    const level = percentiles ? this.retention.readings : this.retention[BUCKETS[bucket].view];
    const cutoff = retentionCutoffMs(nowMs, level);
    return cutoff === -Infinity ? cutoff : Math.ceil(cutoff / w) * w;
  }

  async run(req: AggregateRequest): Promise<AggregateAnswer> {
    const { startMs, endMs } = bucketSpan(req.bucket, req.fromMs, req.toMs);
    const withPct = req.percentiles.length > 0;
    const hotStart = Math.max(startMs, this.hotStartMs(req.bucket, withPct, req.nowMs));
    const parts: Source[] = [];
    const points: AggregatePoint[] = [];

    if (startMs < hotStart) {
      const coldEnd = Math.min(endMs, hotStart);
      const lake = await this.lake();
      const fromLake = lake ? await this.lakePoints(lake, req, startMs, coldEnd) : [];
      if (fromLake.length > 0) {
        points.push(...fromLake);
        parts.push('lake');
      } else {
        points.push(...(await this.hotPoints(req, startMs, coldEnd)));
        parts.push('hot');
      }
    }
    if (hotStart < endMs) {
      points.push(...(await this.hotPoints(req, hotStart, endMs)));
      parts.push('hot');
    }
    const source: Source = parts.every((p) => p === 'lake') ? 'lake' : parts.every((p) => p === 'hot') ? 'hot' : 'mixed';
    return { source, points };
  }

  /**
   * Readings the database holds for the range, from readings_1h: what a percentile request would
   * sort. Cheap (an hour's bucket per row), and exact for the hours it covers.
   */
  async countRows(deviceId: string, metric: string, fromMs: number, toMs: number): Promise<number> {
    const r = await this.db.query<{ n: number | string | null }>(
      `SELECT sum(count)::float8 AS n FROM readings_1h WHERE device_id = $1 AND metric = $2 AND bucket >= $3 AND bucket < $4`,
      [deviceId, metric, new Date(Math.floor(fromMs / 3_600_000) * 3_600_000), new Date(toMs)],
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  /** The database's points in [fromMs, toMs): raw rows with percentiles, else the rollup with its open bucket from raw rows. */
  private async hotPoints(req: AggregateRequest, fromMs: number, toMs: number): Promise<AggregatePoint[]> {
    if (req.percentiles.length > 0) return this.rawPoints(req, fromMs, toMs);
    const b = BUCKETS[req.bucket];
    const r = await this.db.query<PointRow>(
      `SELECT (extract(epoch FROM bucket) * 1000)::int8 AS bucket_ms, avg, min, max, count, last
         FROM ${b.view}
        WHERE device_id = $1 AND metric = $2 AND bucket >= $3 AND bucket < $4
        ORDER BY bucket`,
      [req.deviceId, req.metric, new Date(fromMs), new Date(toMs)],
    );
    const points = r.rows.map((row) => toPoint(row, []));
    const open = Math.floor(req.nowMs / b.ms) * b.ms;
    if (open >= fromMs && open < toMs && open >= retentionCutoffMs(req.nowMs, this.retention.readings)) {
      const fresh = await this.rawPoints(req, open, open + b.ms);
      const kept = points.filter((p) => p.tsMs !== open);
      kept.push(...fresh);
      return kept.sort((x, y) => x.tsMs - y.tsMs);
    }
    return points;
  }

  private async rawPoints(req: AggregateRequest, fromMs: number, toMs: number): Promise<AggregatePoint[]> {
    const pct = req.percentiles.length > 0;
    const r = await this.db.query<PointRow>(
      `SELECT (extract(epoch FROM date_bin($3::interval, ts, timestamptz 'epoch')) * 1000)::int8 AS bucket_ms,
              sum(value) / count(*) AS avg, min(value) AS min, max(value) AS max, count(*) AS count,
              (array_agg(value ORDER BY ts DESC))[1] AS last
              ${pct ? ', percentile_cont($6::float8[]) WITHIN GROUP (ORDER BY value) AS pct' : ''}
         FROM readings
        WHERE device_id = $1 AND metric = $2 AND ts >= $4 AND ts < $5
        GROUP BY 1 ORDER BY 1`,
      [req.deviceId, req.metric, BUCKETS[req.bucket].interval, new Date(fromMs), new Date(toMs), ...(pct ? [req.percentiles.map((p) => p / 100)] : [])],
    );
    return r.rows.map((row) => toPoint(row, req.percentiles));
  }

  private async lakePoints(lake: LakeReader, req: AggregateRequest, fromMs: number, toMs: number): Promise<AggregatePoint[]> {
    const w = BUCKETS[req.bucket].ms;
    const pct = req.percentiles.length > 0 ? `, quantile_cont(value, [${req.percentiles.map((p) => p / 100).join(', ')}]) AS pct` : '';
    // Integer arithmetic on epoch ms buckets exactly as date_bin from the epoch does.
    const rows = await lake.query(
      `SELECT (epoch_ms(ts) // ${w}) * ${w} AS bucket_ms,
              sum(value) / count(*) AS avg, min(value) AS min, max(value) AS max, count(*) AS count,
              arg_max(value, ts) AS last${pct}
         FROM readings
        WHERE device_id = $1 AND metric = $2 AND ts >= make_timestamptz($3::BIGINT) AND ts < make_timestamptz($4::BIGINT)
        GROUP BY 1 ORDER BY 1`,
      [req.deviceId, req.metric, BigInt(fromMs) * 1000n, BigInt(toMs) * 1000n],
    );
    return rows.map((row) => toPoint(row as unknown as PointRow, req.percentiles));
  }
}

function toPoint(row: PointRow, percentiles: readonly Percentile[]): AggregatePoint {
  const p: Partial<Record<Percentile, number>> = {};
  percentiles.forEach((q, i) => {
    const v = row.pct?.[i];
    if (typeof v === 'number') p[q] = v;
  });
  return {
    tsMs: Number(row.bucket_ms),
    avg: Number(row.avg),
    min: Number(row.min),
    max: Number(row.max),
    count: Number(row.count),
    last: Number(row.last),
    percentiles: p,
  };
}
