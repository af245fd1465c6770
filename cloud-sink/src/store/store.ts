// The cloud's reads and writes of telemetry, over either database backend (db.ts).
//
// ingest() is where delivery becomes exactly-once (DESIGN.md guarantee 1): one transaction
// records each batch in ingested_batches and inserts its readings; a batch already recorded is
// skipped, so a redelivered Kafka message (sink crash before the offset commit, rebalance, replay)
// changes nothing. Concurrent sinks given the same batch serialise on the ledger's primary key.
import type { Reading } from '../../../proto/src/wire.js';
import { StoreError } from '../errors.js';
import { BinaryCopyWriter, epochMsToUs } from './copy.js';
import { sqlState, type Db, type DbTx } from './db.js';
import { RollupFold, type PartialBucket } from './rollup.js';
import {
  applyTimescaleSettings,
  refreshMaterialised,
  refreshWindowStarts,
  runPolicyJobs,
  type TimescaleApplied,
  type TimescaleSettings,
} from './timescale.js';
import { badCursor, decodeCursor, encodeCursor } from './cursor.js';
import {
  migrate,
  PARTIALS_STAGING,
  readCapabilities,
  rollupMergePartials,
  rollupMergeStaged,
  ROLLUPS,
  type Capabilities,
  type MigrateResult,
} from './schema.js';

export type { Capabilities, MigrateResult } from './schema.js';
export type { TimescaleApplied, TimescaleSettings } from './timescale.js';

export interface IngestBatch {
  gatewayId: string;
  seq: number;
  createdMs: number;
  readings: Reading[];
}

export interface IngestResult {
  batchesInserted: number;
  /** Batches already in the ledger (or repeated within this call): their readings were not written again. */
  batchesSkipped: number;
  rowsInserted: number;
  /**
   * Values of newly inserted batches that no row can hold (no device id, no time, empty metric
   * name, a NUL character, a value that is not a finite number within ±MAX_ABS_VALUE). The rest of the batch is stored
   * (guarantee 4: bad input loses no good data with it); the caller counts these as dropped.
   */
  rowsRejected: number;
  /** Why the first rejected value was rejected, for the log; null when none was. */
  firstRejection: string | null;
  /** Stored rows whose gateway flagged their time (Reading.time_flag), by reason. */
  rowsTimeFlagged: Record<string, number>;
  /**
   * Earliest and latest reading time (epoch ms, inclusive) among the rows this call stored; null
   * when it stored none. Hand it to Store.refreshRange once the call has returned.
   */
  freshTimeRange: TimeRange | null;
}

/** Epoch milliseconds, both ends inclusive. */
export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export interface ReadingsQuery {
  deviceId: string;
  metric?: string | undefined;
  /** Inclusive. */
  from: Date;
  /** Inclusive. */
  to: Date;
  limit: number;
  cursor?: string | undefined;
}

export interface StoredReading {
  ts: Date;
  metric: string;
  value: number;
  /** The gateway could not trust or correct this time: why (FL_ERR_CLOCK_…). */
  flag?: string;
}

export interface ReadingsPage {
  readings: StoredReading[];
  /** Pass back as `cursor` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

export interface DeviceInfo {
  deviceId: string;
  /** The gateway that delivered the device's latest reading. */
  gatewayId: string;
  /** Earliest and latest reading time seen (device clock). */
  firstSeen: Date;
  lastSeen: Date;
  metrics: string[];
}

/** Upper bound on `limit`, so one request cannot ask the database for everything. */
export const MAX_PAGE = 100_000;

/** Rows per INSERT statement: large enough to amortise the round trip, small enough to bound memory. */
const INSERT_CHUNK = 10_000;

/**
 * Values beyond this are refused: two readings near the float8 limit in one rollup bucket make
 * sum() overflow, and an overflow fails the refresh of the whole continuous aggregate, every
 * device's buckets with it. No sensor measures anything this large; 1e300 leaves room to add up
 * 1e8 of them.
 */
export const MAX_ABS_VALUE = 1e300;

/** timestamptz has microsecond precision and ends at 294276 AD; JS Dates end sooner. */
const MIN_TS_MS = -210_866_803_200_000; // 4713-11-24 BC, PostgreSQL's earliest timestamptz

export class Store {
  /** Read once: a database keeps the shape it was created with (schema.ts). */
  private shape: Promise<Capabilities> | null = null;
  /** refreshRange: the refresh running (or done), and the one waiting for it, whose range grows. */
  private refreshRunning: Promise<void> = Promise.resolve();
  private refreshQueued: { fromMs: number; toMs: number; done: Promise<void> } | null = null;

  /** Batches flattened ahead of their ingest by prepare(); dropped with the batch objects. */
  private readonly flattened = new WeakMap<IngestBatch, Flattened>();

  constructor(readonly db: Db) {}

  /**
   * Does ingest()'s work on these batches that needs no database (checking and flattening their
   * readings) now, so a caller can do it while an earlier ingest still waits for the server. Only
   * a cache: ingest() of the same batch objects uses it, of any other does the work itself.
   */
  prepare(batches: readonly IngestBatch[]): void {
    for (const b of batches) if (!this.flattened.has(b)) this.flattened.set(b, flatten(b));
  }

  /** Brings the schema up to date; idempotent, and safe from several processes at once. */
  migrate(): Promise<MigrateResult> {
    return migrate(this.db);
  }

  capabilities(): Promise<Capabilities> {
    return readCapabilities(this.db);
  }

  /** The capabilities, cached after the first read (inside the ingest transaction, after migrate). */
  private shapeOf(tx: DbTx): Promise<Capabilities> {
    this.shape ??= readCapabilities(tx).catch((err: unknown) => {
      this.shape = null;
      throw err;
    });
    return this.shape;
  }

  async ingest(batches: readonly IngestBatch[]): Promise<IngestResult> {
    const result: IngestResult = {
      batchesInserted: 0,
      batchesSkipped: 0,
      rowsInserted: 0,
      rowsRejected: 0,
      firstRejection: null,
      rowsTimeFlagged: {},
      freshTimeRange: null,
    };
    const unique = new Map<string, Flattened>();
    for (const b of batches) {
      checkBatchIdentity(b);
      const key = `${b.gatewayId}\u0000${b.seq}`;
      if (unique.has(key)) result.batchesSkipped++;
      else unique.set(key, this.flattened.get(b) ?? flatten(b));
    }
    if (unique.size === 0) return result;
    // Ledger rows are taken in key order, so two sinks handed overlapping sets (a rebalance)
    // wait for each other instead of deadlocking.
    const pending = [...unique.values()].sort(
      (a, b) => (a.batch.gatewayId < b.batch.gatewayId ? -1 : a.batch.gatewayId > b.batch.gatewayId ? 1 : a.batch.seq - b.batch.seq),
    );

    try {
      await this.db.transaction(async (tx) => {
        const recorded = await tx.query<{ gateway_id: string; seq: number | bigint }>(
          `INSERT INTO ingested_batches (gateway_id, seq, created_ms, reading_count)
           SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int4[])
           ON CONFLICT (gateway_id, seq) DO NOTHING
           RETURNING gateway_id, seq`,
          [
            pending.map((f) => f.batch.gatewayId),
            pending.map((f) => f.batch.seq),
            pending.map((f) => Math.trunc(f.batch.createdMs)),
            pending.map((f) => f.rows.length),
          ],
        );
        const isNew = new Set(recorded.rows.map((r) => `${r.gateway_id}\u0000${String(r.seq)}`));
        const fresh = pending.filter((f) => isNew.has(`${f.batch.gatewayId}\u0000${f.batch.seq}`));
        result.batchesInserted = fresh.length;
        result.batchesSkipped += pending.length - fresh.length;
        for (const f of fresh) {
          result.rowsRejected += f.rejected;
          result.firstRejection ??= f.firstRejection;
        }
        result.rowsInserted = await insertReadings(tx, fresh, !(await this.shapeOf(tx)).continuousAggregates);
        result.rowsTimeFlagged = await insertTimeFlags(tx, fresh);
        result.freshTimeRange = timeRangeOf(fresh);
        await upsertGateways(tx, fresh);
        await upsertDevices(tx, fresh);
      });
    } catch (err) {
      // Data the database refuses (SQLSTATE class 22 data exception, 23 constraint) fails the
      // same way on every retry: say so, so the caller can dead-letter instead of looping.
      const state = sqlState(err);
      if (state && (state.startsWith('22') || state.startsWith('23'))) {
        throw new StoreError('FL_ERR_STORE_BAD_BATCH', `${(err as Error).message} (SQLSTATE ${state})`, { cause: err });
      }
      throw err;
    }
    return result;
  }

  /** One page of a device's readings, ascending by time then metric, from `from` to `to` inclusive. */
  async readings(q: ReadingsQuery): Promise<ReadingsPage> {
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_PAGE) {
      throw new StoreError('FL_ERR_API_BAD_QUERY', `limit ${q.limit} is not an integer from 1 to ${MAX_PAGE}`);
    }
    if (Number.isNaN(q.from.getTime()) || Number.isNaN(q.to.getTime())) {
      throw new StoreError('FL_ERR_API_BAD_QUERY', 'from and to must be valid times');
    }
    const after = q.cursor === undefined ? null : decodeReadingsCursor(q.cursor);

    const params: unknown[] = [q.deviceId, q.from, q.to];
    const where = ['device_id = $1', 'ts >= $2', 'ts <= $3'];
    if (q.metric !== undefined) {
      params.push(q.metric);
      where.push(`metric = $${params.length}`);
    }
    let offset = '';
    if (after) {
      params.push(after.us, after.metric, after.value);
      const n = params.length;
      where.push(
        `(ts, metric COLLATE "C", value) >= (timestamptz 'epoch' + $${n - 2}::float8 * INTERVAL '1 microsecond', $${n - 1}::text COLLATE "C", $${n}::float8)`,
      );
      params.push(after.seen);
      offset = `OFFSET $${params.length}`;
    }
    params.push(q.limit + 1);
    // value is the last sort key so that the order is total up to identical rows, and identical
    // rows are what the cursor's `seen` count steps over: no row is skipped or repeated at a
    // page boundary even when one (ts, metric) holds several values. "C" collation gives the same
    // metric order on every backend.
    // The page is chosen first, then its flags are looked up: the join runs on the page's rows only.
    const r = await this.db.query<{ ts: Date; us: number | bigint | string; metric: string; value: number; flag: string | null }>(
      `SELECT p.ts, p.us, p.metric, p.value, f.reason AS flag
         FROM (SELECT ts, (extract(epoch FROM ts) * 1000000)::int8 AS us, gateway_id, metric, value
                 FROM readings
                WHERE ${where.join(' AND ')}
                ORDER BY ts, metric COLLATE "C", value
                ${offset}
                LIMIT $${params.length}) p
         LEFT JOIN reading_time_flags f ON f.device_id = $1 AND f.metric = p.metric AND f.ts = p.ts AND f.gateway_id = p.gateway_id
        ORDER BY p.ts, p.metric COLLATE "C", p.value`,
      params,
    );

    const rows = r.rows;
    const hasMore = rows.length > q.limit;
    const page = hasMore ? rows.slice(0, q.limit) : rows;
    let nextCursor: string | null = null;
    const last = page[page.length - 1];
    if (hasMore && last) {
      const key: CursorKey = { us: Number(last.us), metric: last.metric, value: String(last.value) };
      let seen = 0;
      for (let i = page.length - 1; i >= 0; i--) {
        const row = page[i]!;
        if (Number(row.us) !== key.us || row.metric !== key.metric || String(row.value) !== key.value) break;
        seen++;
      }
      // A run of identical rows longer than a page: the earlier pages' share is still ahead of
      // the `>=` bound, so it stays in the count.
      if (seen === page.length && after && after.us === key.us && after.metric === key.metric && after.value === key.value) {
        seen += after.seen;
      }
      nextCursor = encodeReadingsCursor({ ...key, seen });
    }
    return { readings: page.map((x) => ({ ts: x.ts, metric: x.metric, value: x.value, ...(x.flag ? { flag: x.flag } : {}) })), nextCursor };
  }

  async devices(): Promise<DeviceInfo[]> {
    const r = await this.db.query<{ device_id: string; gateway_id: string; first_seen: Date; last_seen: Date; metrics: string[] }>(
      'SELECT device_id, gateway_id, first_seen, last_seen, metrics FROM devices ORDER BY device_id',
    );
    return r.rows.map((d) => ({
      deviceId: d.device_id,
      gatewayId: d.gateway_id,
      firstSeen: d.first_seen,
      lastSeen: d.last_seen,
      metrics: d.metrics,
    }));
  }

  async deviceExists(deviceId: string): Promise<boolean> {
    const r = await this.db.query('SELECT 1 FROM devices WHERE device_id = $1', [deviceId]);
    return r.rows.length > 0;
  }

  async countReadings(filter: { deviceId?: string | undefined } = {}): Promise<number> {
    const r =
      filter.deviceId === undefined
        ? await this.db.query<{ n: number | bigint }>('SELECT count(*) AS n FROM readings')
        : await this.db.query<{ n: number | bigint }>('SELECT count(*) AS n FROM readings WHERE device_id = $1', [filter.deviceId]);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Materialises the continuous aggregates now. A TimescaleDB server does this on its own by
   * policy; PGlite runs no background jobs, so the embedded cloud calls this from time to time
   * (queries are right without it, only slower). The newest bucket of each level is left to the
   * real-time part, where late rows still show up at once. A no-op without continuous aggregates.
   */
  async refreshAggregates(): Promise<void> {
    if (!(await this.capabilities()).continuousAggregates) return;
    // Not into ranges that retention dropped below a level: the refresh would delete those buckets.
    const starts = await refreshWindowStarts(this.db);
    for (const r of ROLLUPS) {
      const start = starts.get(r.view);
      await this.db.query(
        `CALL refresh_continuous_aggregate('${r.view}', ${start ? `'${start.toISOString()}'` : 'NULL'}, now() - INTERVAL '${r.width}')`,
      );
    }
  }

  /**
   * Makes readings stored in an already materialised time range show in readings_1m/1h/1d: a
   * backfill (a gateway back after hours offline) lands below the continuous aggregates'
   * watermark, where the real-time part of the views does not look, and stays invisible until that
   * range is refreshed. This refreshes, minutes first, what each level needs for rows stored in
   * [fromMs, toMs] (epoch ms, inclusive) to show (timescale.ts refreshMaterialised says which).
   *
   * Who calls it: the store consumer, with IngestResult.freshTimeRange after each Store.ingest that
   * returns one, once that call has returned (refresh_continuous_aggregate cannot run inside a
   * transaction). It need not wait for the refresh before its next poll, but should catch the
   * promise and log a failure (the next periodic refresh covers the range anyway). Calls made while
   * a refresh runs are merged into one refresh after it, so calling it for every ingest costs at
   * most one refresh running and one waiting; a range wholly above the watermarks (live data)
   * costs a few small queries. A no-op, with no query, without continuous aggregates: the sink's
   * own rollups are current at commit. A TimescaleDB server's refresh policies would fold the rows
   * in by themselves, but only at their next run.
   */
  refreshRange(fromMs: number, toMs: number): Promise<void> {
    if (!(Number.isFinite(fromMs) && Number.isFinite(toMs)) || fromMs > toMs) {
      return Promise.reject(new RangeError(`refreshRange: ${fromMs} to ${toMs} is not a time range`));
    }
    const queued = this.refreshQueued;
    if (queued) {
      queued.fromMs = Math.min(queued.fromMs, fromMs);
      queued.toMs = Math.max(queued.toMs, toMs);
      return queued.done;
    }
    const next = { fromMs, toMs, done: Promise.resolve() };
    next.done = this.refreshRunning
      .catch(() => {})
      .then(async () => {
        this.refreshQueued = null;
        if ((await this.shapeOf(this.db)).continuousAggregates) await refreshMaterialised(this.db, next.fromMs, next.toMs);
      });
    // Handled here too, so a caller that does not wait for it cannot end the process with an
    // unhandled rejection; a caller that waits still gets the error.
    next.done.catch(() => {});
    this.refreshQueued = next;
    this.refreshRunning = next.done;
    return next.done;
  }

  /**
   * Applies the `timescale` settings (chunk interval, compression, retention) to a TimescaleDB
   * database; idempotent, so the cloud calls it at every start-up, after migrate(). Without
   * TimescaleDB it changes nothing and says so in the result, for the caller to log.
   */
  async applyTimescaleSettings(settings: TimescaleSettings): Promise<TimescaleApplied> {
    return applyTimescaleSettings(this.db, await this.capabilities(), settings);
  }

  /**
   * Runs the compression and retention policies' jobs now. A TimescaleDB server runs them by
   * schedule; PGlite has no background workers, so the embedded cloud calls this from time to
   * time (e.g. beside refreshAggregates), or its chunks are never compressed nor dropped.
   * Returns the jobs run; none without TimescaleDB or without such policies.
   */
  async runPolicyJobs(): Promise<number[]> {
    return runPolicyJobs(this.db, await this.capabilities());
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

function timeRangeOf(batches: readonly Flattened[]): TimeRange | null {
  let fromMs = Infinity;
  let toMs = -Infinity;
  for (const b of batches) {
    for (const r of b.rows) {
      if (r.tsMs < fromMs) fromMs = r.tsMs;
      if (r.tsMs > toMs) toMs = r.tsMs;
    }
  }
  return fromMs <= toMs ? { fromMs, toMs } : null;
}

// --- ingest helpers --------------------------------------------------------------------------

/** A batch's storable rows, and what was rejected of it; the lake writes the same rows (cloud-sink/src/lake). */
export interface Flattened {
  batch: IngestBatch;
  rows: { tsMs: number; deviceId: string; metric: string; value: number }[];
  /** Indexes into rows of those whose reading carried a time_flag, with it. */
  flags: { row: number; reason: string }[];
  rejected: number;
  firstRejection: string | null;
}

/** Throws FL_ERR_STORE_BAD_BATCH for a batch no ledger row can name. */
export function checkBatchIdentity(b: IngestBatch): void {
  if (typeof b.gatewayId !== 'string' || b.gatewayId === '' || b.gatewayId.includes('\u0000')) {
    throw new StoreError('FL_ERR_STORE_BAD_BATCH', `gateway id ${JSON.stringify(b.gatewayId)} is empty or not text`);
  }
  if (!Number.isSafeInteger(b.seq) || b.seq < 0) {
    throw new StoreError('FL_ERR_STORE_BAD_BATCH', `batch ${b.gatewayId}: seq ${String(b.seq)} is not a non-negative integer`);
  }
  if (!Number.isFinite(b.createdMs)) {
    throw new StoreError('FL_ERR_STORE_BAD_BATCH', `batch ${b.gatewayId}/${b.seq}: created_ms ${String(b.createdMs)} is not a number`);
  }
}

/** One row per storable value; the rest are counted as rejected, with the first reason. */
export function flatten(batch: IngestBatch): Flattened {
  const f: Flattened = { batch, rows: [], flags: [], rejected: 0, firstRejection: null };
  const reject = (why: string, count = 1): void => {
    f.rejected += count;
    f.firstRejection ??= `batch ${batch.gatewayId}/${batch.seq}: ${why}`;
  };
  for (const r of batch.readings) {
    const metrics = r.metrics ?? {};
    const names = Object.keys(metrics);
    const deviceId = r.deviceId;
    if (typeof deviceId !== 'string' || deviceId === '' || deviceId.includes('\u0000')) {
      reject(`device id ${JSON.stringify(deviceId)} is empty or not text`, names.length);
      continue;
    }
    const tsMs = r.tsMs;
    if (typeof tsMs !== 'number' || !Number.isFinite(tsMs) || tsMs < MIN_TS_MS || Number.isNaN(new Date(tsMs).getTime())) {
      reject(`device ${deviceId}: time ${String(tsMs)} is not a representable epoch-ms`, names.length);
      continue;
    }
    for (const metric of names) {
      const value = metrics[metric];
      if (metric === '' || metric.includes('\u0000')) reject(`device ${deviceId}: metric name ${JSON.stringify(metric)} is empty or not text`);
      else if (typeof value !== 'number' || !(Math.abs(value) <= MAX_ABS_VALUE)) {
        reject(`device ${deviceId}: ${metric}=${String(value)} is not a number within ±${MAX_ABS_VALUE}`);
      }
      else {
        if (r.timeFlag) f.flags.push({ row: f.rows.length, reason: r.timeFlag });
        f.rows.push({ tsMs, deviceId, metric, value });
      }
    }
  }
  return f;
}

/**
 * The time flags of the rows just inserted, in the same transaction, so a flagged reading is never
 * visible without its flag. Two readings of one device, metric and time from one gateway share one
 * flag (the first reason is kept).
 */
async function insertTimeFlags(tx: DbTx, batches: readonly Flattened[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const gw: string[] = [];
  const dev: string[] = [];
  const met: string[] = [];
  const ms: number[] = [];
  const reason: string[] = [];
  for (const b of batches) {
    for (const f of b.flags) {
      const row = b.rows[f.row]!;
      gw.push(b.batch.gatewayId);
      dev.push(row.deviceId);
      met.push(row.metric);
      ms.push(row.tsMs);
      reason.push(f.reason);
      counts[f.reason] = (counts[f.reason] ?? 0) + 1;
    }
  }
  if (gw.length === 0) return counts;
  await tx.query(
    `INSERT INTO reading_time_flags (gateway_id, device_id, metric, ts, reason)
     SELECT u.gw, u.dev, u.met, timestamptz 'epoch' + u.ms * INTERVAL '1 millisecond', u.reason
       FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[]) AS u(gw, dev, met, ms, reason)
     ON CONFLICT DO NOTHING`,
    [gw, dev, met, ms, reason],
  );
  return counts;
}

const READINGS_COPY = 'COPY readings (ts, gateway_id, device_id, metric, value) FROM STDIN (FORMAT binary)';

/**
 * Writes the rows of `batches` into readings and, without continuous aggregates, folds them into
 * readings_1m/1h/1d (`fold`), all in the caller's transaction: a replayed batch, which the ledger
 * skips, is never counted twice, and the rollups are current the moment the rows are. On the
 * server the rows go in by one binary COPY; on the embedded backend by INSERT … unnest().
 */
async function insertReadings(tx: DbTx, batches: readonly Flattened[], keepRollups: boolean): Promise<number> {
  const fold = keepRollups ? new RollupFold() : null;
  const inserted = tx.copyFrom
    ? await tx.copyFrom(READINGS_COPY, encodeReadings(batches, fold))
    : await insertReadingsUnnest(tx, batches, fold);
  if (fold) await mergeRollups(tx, fold);
  return inserted;
}

/** -0 is stored as 0, as the unnest path's text parameters store it. */
const stored = (v: number): number => (v === 0 ? 0 : v);

/** The rows as one binary COPY payload, encoded lazily as the COPY stream takes it. */
function* encodeReadings(batches: readonly Flattened[], fold: RollupFold | null): Generator<Buffer> {
  const w = new BinaryCopyWriter(5);
  for (const b of batches) {
    const gw = b.batch.gatewayId;
    for (const row of b.rows) {
      const us = epochMsToUs(row.tsMs);
      const value = stored(row.value);
      w.beginRow(w.rowBytes([gw, row.deviceId, row.metric], 24));
      w.timestampUs(us);
      w.textField(gw);
      w.textField(row.deviceId);
      w.textField(row.metric);
      w.float8(value);
      fold?.add(us, row.deviceId, row.metric, value);
      yield* w.take();
    }
  }
  yield* w.finish();
}

async function insertReadingsUnnest(tx: DbTx, batches: readonly Flattened[], fold: RollupFold | null): Promise<number> {
  let inserted = 0;
  let ts: number[] = [];
  let gw: string[] = [];
  let dev: string[] = [];
  let met: string[] = [];
  let val: number[] = [];
  const flush = async (): Promise<void> => {
    if (ts.length === 0) return;
    // Epoch milliseconds travel as float8 and become timestamptz in the database: exact to the
    // millisecond (and to the microsecond for fractional ms), and cheaper than formatting dates.
    await tx.query(
      `INSERT INTO readings (ts, gateway_id, device_id, metric, value)
       SELECT timestamptz 'epoch' + u.ms * INTERVAL '1 millisecond', u.gw, u.dev, u.met, u.val
         FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::float8[]) AS u(ms, gw, dev, met, val)`,
      [ts, gw, dev, met, val],
    );
    inserted += ts.length;
    ts = [];
    gw = [];
    dev = [];
    met = [];
    val = [];
  };
  for (const b of batches) {
    for (const row of b.rows) {
      ts.push(row.tsMs);
      gw.push(b.batch.gatewayId);
      dev.push(row.deviceId);
      met.push(row.metric);
      val.push(row.value);
      fold?.add(epochMsToUs(row.tsMs), row.deviceId, row.metric, stored(row.value));
      if (ts.length >= INSERT_CHUNK) await flush();
    }
  }
  await flush();
  return inserted;
}

/**
 * Each level's partial buckets merged into its table, minutes first. On the server they are staged
 * by one binary COPY and merged by one INSERT … SELECT per level: with devices that send less than
 * once a minute there are about as many minutes as rows, and arrays as parameters measured slower
 * there (docs/ARCHITECTURE.md). Elsewhere as arrays, INSERT_CHUNK at a time.
 */
async function mergeRollups(tx: DbTx, fold: RollupFold): Promise<void> {
  const levels = fold.levels();
  if (tx.copyFrom) {
    await tx.query(PARTIALS_STAGING.create);
    await tx.copyFrom(PARTIALS_STAGING.copy, encodePartials(levels));
    for (let i = 0; i < ROLLUPS.length; i++) await tx.query(rollupMergeStaged(ROLLUPS[i]!.view, i));
    return;
  }
  for (let i = 0; i < ROLLUPS.length; i++) {
    const parts = levels[i]!;
    const sql = rollupMergePartials(ROLLUPS[i]!.view);
    for (let at = 0; at < parts.length; at += INSERT_CHUNK) {
      const p = parts.slice(at, at + INSERT_CHUNK);
      await tx.query(sql, [
        p.map((x) => x.bucketUs),
        p.map((x) => x.deviceId),
        p.map((x) => x.metric),
        p.map((x) => x.sum),
        p.map((x) => x.count),
        p.map((x) => x.min),
        p.map((x) => x.max),
        p.map((x) => x.last),
        p.map((x) => x.lastUs),
      ]);
    }
  }
}

/** Partial buckets in the staging table's binary COPY format (level, n, bucket, …); exported for bench/rollup-options.ts. */
export function* encodePartials(levels: readonly (readonly PartialBucket[])[]): Generator<Buffer> {
  const w = new BinaryCopyWriter(11);
  for (let level = 0; level < levels.length; level++) {
    const parts = levels[level]!;
    for (let n = 0; n < parts.length; n++) {
      const p = parts[n]!;
      w.beginRow(w.rowBytes([p.deviceId, p.metric], 6 + 8 + 12 * 7));
      w.int2(level);
      w.int4(n);
      w.timestampUs(p.bucketUs);
      w.textField(p.deviceId);
      w.textField(p.metric);
      w.float8(p.sum);
      w.int8(p.count);
      w.float8(p.min);
      w.float8(p.max);
      w.float8(p.last);
      w.timestampUs(p.lastUs);
      yield* w.take();
    }
  }
  yield* w.finish();
}

async function upsertGateways(tx: DbTx, batches: readonly Flattened[]): Promise<void> {
  const byGateway = new Map<string, { lastSeq: number; batches: number; rows: number }>();
  for (const b of batches) {
    const g = byGateway.get(b.batch.gatewayId) ?? { lastSeq: b.batch.seq, batches: 0, rows: 0 };
    g.lastSeq = Math.max(g.lastSeq, b.batch.seq);
    g.batches++;
    g.rows += b.rows.length;
    byGateway.set(b.batch.gatewayId, g);
  }
  if (byGateway.size === 0) return;
  // Sorted keys: concurrent sinks lock rows in the same order and cannot deadlock.
  const ids = [...byGateway.keys()].sort();
  const gs = ids.map((id) => byGateway.get(id)!);
  await tx.query(
    `INSERT INTO gateways AS g (gateway_id, first_seen, last_seen, last_seq, batches_ingested, readings_ingested)
     SELECT u.id, now(), now(), u.seq, u.batches, u.rows
       FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS u(id, seq, batches, rows)
     ON CONFLICT (gateway_id) DO UPDATE SET
       last_seen = now(),
       last_seq = greatest(g.last_seq, excluded.last_seq),
       batches_ingested = g.batches_ingested + excluded.batches_ingested,
       readings_ingested = g.readings_ingested + excluded.readings_ingested`,
    [ids, gs.map((g) => g.lastSeq), gs.map((g) => g.batches), gs.map((g) => g.rows)],
  );
}

async function upsertDevices(tx: DbTx, batches: readonly Flattened[]): Promise<void> {
  const byDevice = new Map<string, { gatewayId: string; first: number; last: number; metrics: Set<string> }>();
  for (const b of batches) {
    for (const row of b.rows) {
      const d = byDevice.get(row.deviceId);
      if (!d) {
        byDevice.set(row.deviceId, { gatewayId: b.batch.gatewayId, first: row.tsMs, last: row.tsMs, metrics: new Set([row.metric]) });
        continue;
      }
      if (row.tsMs < d.first) d.first = row.tsMs;
      if (row.tsMs >= d.last) {
        d.last = row.tsMs;
        d.gatewayId = b.batch.gatewayId;
      }
      d.metrics.add(row.metric);
    }
  }
  if (byDevice.size === 0) return;
  const ids = [...byDevice.keys()].sort();
  const ds = ids.map((id) => byDevice.get(id)!);
  // Metric lists are ragged, so they travel as one JSON array per device.
  await tx.query(
    `INSERT INTO devices AS d (device_id, gateway_id, first_seen, last_seen, metrics)
     SELECT u.id, u.gw,
            timestamptz 'epoch' + u.first_ms * INTERVAL '1 millisecond',
            timestamptz 'epoch' + u.last_ms * INTERVAL '1 millisecond',
            ARRAY(SELECT m FROM json_array_elements_text(u.metrics::json) AS m ORDER BY m COLLATE "C")
       FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::text[]) AS u(id, gw, first_ms, last_ms, metrics)
     ON CONFLICT (device_id) DO UPDATE SET
       gateway_id = CASE WHEN excluded.last_seen >= d.last_seen THEN excluded.gateway_id ELSE d.gateway_id END,
       first_seen = least(d.first_seen, excluded.first_seen),
       last_seen = greatest(d.last_seen, excluded.last_seen),
       metrics = CASE WHEN excluded.metrics <@ d.metrics THEN d.metrics
                      ELSE ARRAY(SELECT m FROM unnest(d.metrics || excluded.metrics) AS m GROUP BY m ORDER BY m COLLATE "C") END
     WHERE excluded.last_seen >= d.last_seen OR excluded.first_seen < d.first_seen OR NOT excluded.metrics <@ d.metrics`,
    [ids, ds.map((d) => d.gatewayId), ds.map((d) => d.first), ds.map((d) => d.last), ds.map((d) => JSON.stringify([...d.metrics]))],
  );
}

// --- cursor ----------------------------------------------------------------------------------

interface CursorKey {
  /** Microseconds since the epoch: the database's own precision, so the bound is exact. */
  us: number;
  metric: string;
  /** The value's shortest round-trip text, which float8 parses back to the same double. */
  value: string;
}

interface Cursor extends CursorKey {
  /** How many rows equal to the key the caller has already been given. */
  seen: number;
}

const CURSOR_VERSION = 1;

/** What String(number) produces, which is also what float8 input accepts. */
const FLOAT_TEXT = /^(-?(\d+(\.\d+)?(e[+-]\d+)?|Infinity)|NaN)$/;

function encodeReadingsCursor(c: Cursor): string {
  return encodeCursor(CURSOR_VERSION, [c.us, c.metric, c.value, c.seen]);
}

function decodeReadingsCursor(text: string): Cursor {
  const [us, metric, value, seen] = decodeCursor(text, CURSOR_VERSION, 4);
  if (typeof us !== 'number' || !Number.isSafeInteger(us)) throw badCursor('bad time');
  if (typeof metric !== 'string' || metric.includes('\u0000')) throw badCursor('bad metric');
  if (typeof value !== 'string' || !FLOAT_TEXT.test(value)) throw badCursor('bad value');
  if (typeof seen !== 'number' || !Number.isSafeInteger(seen) || seen < 1) throw badCursor('bad count');
  return { us, metric, value, seen };
}
