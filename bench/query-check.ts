// The query bench's correctness checks, run on a sample of the answers it timed before any figure
// is reported: an aggregate from the database must equal the same buckets computed by SQL from the
// raw rows of readings; a raw page must be exactly the rows SQL finds; an aggregate from the lake
// must equal what the bench wrote there (it knows every value: query-data.ts valueAt) and its counts
// what DuckDB counts in the Parquet files themselves.
import { join } from 'node:path';
import type { Duck } from '../cloud-sink/src/lake/duckdb.js';
import { sqlString } from '../cloud-sink/src/lake/duckdb.js';
import type { Db } from '../cloud-sink/src/store/db.js';
import { HOUR_MS, lakeRangeMs, valueAt, type QueryDataShape } from './query-data.js';

export interface AggregateBody {
  device_id: string;
  metric: string;
  bucket: '1m' | '1h' | '1d';
  source: 'hot' | 'lake' | 'mixed';
  points: { ts: string; avg: number; min: number; max: number; count: number; last: number }[];
}

export interface ReadingsBody {
  device_id: string;
  metric: string | null;
  readings: { ts: string; value: number }[];
  next_cursor: string | null;
}

/** What a request asked: epoch ms, both inclusive, as the API takes them. */
export interface Asked {
  device: number;
  metric: number;
  fromMs: number;
  toMs: number;
}

export const BUCKET_MS = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 } as const;

interface Point {
  tsMs: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  last: number;
}

/** The buckets an aggregate covers (store/aggregates.ts): from the one holding `from` to the one holding `to`. */
export function coveredBuckets(bucketMs: number, fromMs: number, toMs: number): { startMs: number; endMs: number } {
  return { startMs: Math.floor(fromMs / bucketMs) * bucketMs, endMs: Math.floor(toMs / bucketMs) * bucketMs + bucketMs };
}

/** Throws, naming the request and the first difference, unless `got` has exactly the points `want` has. */
export function comparePoints(what: string, got: AggregateBody['points'], want: readonly Point[]): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} points answered, ${want.length} expected`);
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const ts = new Date(w.tsMs).toISOString();
    // min, max and last are values as stored, so they must be equal; avg is a sum divided, whose
    // last bits depend on the order of the additions.
    if (g.ts !== ts || g.count !== w.count || g.min !== w.min || g.max !== w.max || g.last !== w.last || !close(g.avg, w.avg)) {
      throw new Error(`${what}: point ${i} is ${JSON.stringify(g)}, expected ${JSON.stringify({ ts, count: w.count, min: w.min, max: w.max, avg: w.avg, last: w.last })}`);
    }
  }
}

/** An aggregate answered from the database, against the same buckets by SQL over readings. */
export async function checkHotAggregate(db: Db, shape: QueryDataShape, asked: Asked, body: AggregateBody): Promise<void> {
  const what = `aggregate ${describe(shape, asked)} (bucket ${body.bucket})`;
  if (body.source !== 'hot') throw new Error(`${what}: source ${body.source}, expected hot`);
  const w = BUCKET_MS[body.bucket];
  const { startMs, endMs } = coveredBuckets(w, asked.fromMs, asked.toMs);
  const r = await db.query<{ b: string | number; n: string | number; min: number; max: number; avg: number; last: number }>(
    `SELECT (extract(epoch FROM date_bin($5::interval, ts, timestamptz 'epoch')) * 1000)::int8 AS b, count(*) AS n,
            min(value) AS min, max(value) AS max, avg(value) AS avg, (array_agg(value ORDER BY ts DESC))[1] AS last
       FROM readings WHERE device_id = $1 AND metric = $2 AND ts >= $3 AND ts < $4
      GROUP BY 1 ORDER BY 1`,
    [body.device_id, body.metric, new Date(startMs), new Date(endMs), `${w / 1000} seconds`],
  );
  comparePoints(what, body.points, r.rows.map((x) => ({ tsMs: Number(x.b), count: Number(x.n), min: x.min, max: x.max, avg: x.avg, last: x.last })));
}

/** A raw page against the same rows by SQL: every row, in order, and a cursor exactly when more follow. */
export async function checkRawPage(db: Db, shape: QueryDataShape, asked: Asked, limit: number, body: ReadingsBody): Promise<void> {
  const what = `readings page ${describe(shape, asked)}`;
  const r = await db.query<{ ts: Date; value: number }>(
    `SELECT ts, value FROM readings WHERE device_id = $1 AND metric = $2 AND ts >= $3 AND ts <= $4 ORDER BY ts LIMIT $5`,
    [body.device_id, body.metric, new Date(asked.fromMs), new Date(asked.toMs), limit + 1],
  );
  const want = r.rows.slice(0, limit);
  if (body.readings.length !== want.length) throw new Error(`${what}: ${body.readings.length} rows answered, ${want.length} expected`);
  want.forEach((row, i) => {
    const g = body.readings[i]!;
    if (g.ts !== row.ts.toISOString() || g.value !== row.value) throw new Error(`${what}: row ${i} is ${JSON.stringify(g)}, expected ${row.ts.toISOString()} ${row.value}`);
  });
  if ((body.next_cursor !== null) !== (r.rows.length > limit)) throw new Error(`${what}: next_cursor ${JSON.stringify(body.next_cursor)} with ${r.rows.length} rows in range`);
}

/**
 * An aggregate answered from the lake, against the readings the bench wrote there (computed again
 * from valueAt), and its total count against DuckDB's count of the matching rows in the Parquet
 * files themselves (read_parquet, not the API's LakeReader views).
 */
export async function checkLakeAggregate(duck: Duck, lakeDir: string, shape: QueryDataShape, asked: Asked, body: AggregateBody): Promise<void> {
  const what = `lake aggregate ${describe(shape, asked)} (bucket ${body.bucket})`;
  if (body.source !== 'lake') throw new Error(`${what}: source ${body.source}, expected lake`);
  const w = BUCKET_MS[body.bucket];
  const { startMs, endMs } = coveredBuckets(w, asked.fromMs, asked.toMs);
  const lake = lakeRangeMs(shape);
  const want: Point[] = [];
  const perHour = Math.floor(HOUR_MS / shape.lakeStepMs);
  let sum = 0;
  for (let hourMs = Math.max(lake.fromMs, startMs); hourMs < Math.min(lake.toMs, endMs); hourMs += HOUR_MS) {
    for (let i = 0; i < perHour; i++) {
      const ts = hourMs + i * shape.lakeStepMs;
      const v = valueAt(asked.device, asked.metric, ts);
      const b = Math.floor(ts / w) * w;
      let p = want.at(-1);
      if (!p || p.tsMs !== b) {
        if (p) p.avg = sum / p.count;
        want.push((p = { tsMs: b, count: 0, min: v, max: v, avg: 0, last: v }));
        sum = 0;
      }
      p.count++;
      sum += v;
      p.min = Math.min(p.min, v);
      p.max = Math.max(p.max, v);
      p.last = v;
    }
  }
  const lastPoint = want.at(-1);
  if (lastPoint) lastPoint.avg = sum / lastPoint.count;
  comparePoints(what, body.points, want);

  const glob = join(lakeDir, 'readings', '**', '*.parquet');
  const r = await duck.conn.runAndReadAll(
    `SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(glob)})
      WHERE device_id = $1 AND metric = $2 AND ts >= make_timestamptz($3::BIGINT) AND ts < make_timestamptz($4::BIGINT)`,
    [body.device_id, body.metric, BigInt(startMs) * 1000n, BigInt(endMs) * 1000n],
  );
  const inFiles = Number(r.getRowObjectsJS()[0]?.n ?? -1);
  const answered = body.points.reduce((s, p) => s + p.count, 0);
  if (inFiles !== answered) throw new Error(`${what}: the answer counts ${answered} readings, the Parquet files hold ${inFiles}`);
}

function describe(shape: QueryDataShape, a: Asked): string {
  return `device ${a.device} ${shape.metrics[a.metric]} ${new Date(a.fromMs).toISOString()}..${new Date(a.toMs).toISOString()}`;
}
