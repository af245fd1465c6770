// TimescaleDB's upkeep of the store: chunk interval, compression and retention policies (the
// `timescale` config section), refreshing the continuous aggregates over a backfilled range, and
// running the policies' jobs where no background worker does (PGlite). Nothing here applies to
// vanilla PostgreSQL, where the sink keeps its own rollups (schema.ts).
import type { Db } from './db.js';
import { ROLLUPS, type Capabilities } from './schema.js';

/** Intervals are PostgreSQL interval text ('1 day', '12 hours'); the config schema checks them. */
export interface TimescaleSettings {
  /** Time span of one chunk of readings; applies to chunks created from now on. */
  chunkInterval: string;
  /** Compress chunks of readings (segmentby device_id, metric; orderby ts DESC) once older than compressAfter. */
  compression: boolean;
  compressAfter: string;
  /** Drop chunks of readings older than this; null keeps them. */
  readingsRetention: string | null;
  /** Drop a rollup's materialised chunks older than this; null keeps them. */
  rollupRetention: Record<'readings_1m' | 'readings_1h' | 'readings_1d', string | null>;
}

export interface TimescaleApplied {
  /** False on a database without TimescaleDB: nothing was applied. */
  timescaledb: boolean;
  /** What changed, one line each; empty when the database already had these settings. */
  changes: string[];
}

const SEGMENT_BY = ['device_id', 'metric'];
const ORDER_BY = 'ts DESC';

export async function applyTimescaleSettings(db: Db, caps: Capabilities, s: TimescaleSettings): Promise<TimescaleApplied> {
  if (!caps.timescaledb) return { timescaledb: false, changes: [] };
  const changes: string[] = [];
  const same = async (a: string | null | undefined, b: string | null): Promise<boolean> => {
    if (a == null || b === null) return (a ?? null) === b;
    const r = await db.query<{ same: boolean }>('SELECT $1::interval = $2::interval AS same', [a, b]);
    return r.rows[0]?.same === true;
  };

  const dim = await db.query<{ time_interval: string }>(
    `SELECT time_interval::text FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings' AND column_name = 'ts'`,
  );
  if (!(await same(dim.rows[0]?.time_interval, s.chunkInterval))) {
    await db.query(`SELECT set_chunk_time_interval('readings', $1::interval)`, [s.chunkInterval]);
    changes.push(`readings chunk interval ${s.chunkInterval} (for chunks created from now on)`);
  }

  const compressJob = await policyJob(db, 'readings', 'policy_compression');
  if (s.compression) {
    const cols = await db.query<{ attname: string; segmentby_column_index: number | null; orderby_column_index: number | null; orderby_asc: boolean | null }>(
      `SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc
         FROM timescaledb_information.compression_settings WHERE hypertable_name = 'readings'`,
    );
    const segmentBy = cols.rows.filter((c) => c.segmentby_column_index !== null).sort((a, b) => a.segmentby_column_index! - b.segmentby_column_index!);
    const orderBy = cols.rows.filter((c) => c.orderby_column_index !== null);
    const configured =
      segmentBy.map((c) => c.attname).join() === SEGMENT_BY.join() &&
      orderBy.length === 1 && orderBy[0]!.attname === 'ts' && orderBy[0]!.orderby_asc === false;
    if (!configured) {
      if (await hasCompressedChunks(db)) {
        changes.push('readings compression settings differ, but some chunks are compressed already: left as they are');
      } else {
        await db.query(
          `ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = '${SEGMENT_BY.join(', ')}',
                                     timescaledb.compress_orderby = '${ORDER_BY}')`,
        );
        changes.push(`readings compression on: segmentby ${SEGMENT_BY.join(', ')}, orderby ${ORDER_BY}`);
      }
    }
    if (!compressJob || !(await same(compressJob.config.compress_after, s.compressAfter))) {
      if (compressJob) await db.query(`SELECT remove_compression_policy('readings', if_exists => true)`);
      await db.query(`SELECT add_compression_policy('readings', $1::interval)`, [s.compressAfter]);
      changes.push(`readings compression policy: chunks older than ${s.compressAfter}`);
    }
  } else if (compressJob) {
    // Compressed chunks stay compressed (decompressing is an operator's call); no new ones.
    await db.query(`SELECT remove_compression_policy('readings', if_exists => true)`);
    changes.push('readings compression policy removed');
  }

  const retention: [string, string | null][] = [['readings', s.readingsRetention]];
  // Rollups that are plain tables (the extension is there, but its aggregates could not be made)
  // take no retention policy.
  if (caps.continuousAggregates) retention.push(...Object.entries(s.rollupRetention));
  for (const [table, dropAfter] of retention) {
    const job = await policyJob(db, table, 'policy_retention');
    if (await same(job?.config.drop_after, dropAfter)) continue;
    if (job) await db.query('SELECT remove_retention_policy($1::regclass, if_exists => true)', [table]);
    if (dropAfter !== null) await db.query('SELECT add_retention_policy($1::regclass, $2::interval)', [table, dropAfter]);
    changes.push(dropAfter === null ? `${table} retention removed` : `${table} retention: chunks older than ${dropAfter}`);
  }

  // A refresh recomputes every bucket in its window from the level below, so a window reaching
  // into chunks that retention dropped there deletes those buckets. Each level's refreshes start
  // no earlier than the retention of its source (refreshWindowStarts).
  if (caps.continuousAggregates) {
    const sources: Record<string, string | null> = { readings: s.readingsRetention, ...s.rollupRetention };
    for (const r of ROLLUPS) {
      const startOffset = sources[r.source ?? 'readings'] ?? null;
      const job = await policyJob(db, r.view, 'policy_refresh_continuous_aggregate');
      if (job && (await same(job.config.start_offset, startOffset))) continue;
      await db.query('SELECT remove_continuous_aggregate_policy($1::regclass, if_exists => true)', [r.view]);
      await db.query(
        `SELECT add_continuous_aggregate_policy($1::regclass, start_offset => $2::interval,
                 end_offset => INTERVAL '${r.width}', schedule_interval => INTERVAL '${r.scheduleEvery}')`,
        [r.view, startOffset],
      );
      changes.push(`${r.view} refreshes from ${startOffset === null ? 'the first reading' : `${startOffset} ago`}`);
    }
  }
  return { timescaledb: true, changes };
}

export async function runPolicyJobs(db: Db, caps: Capabilities): Promise<number[]> {
  if (!caps.timescaledb) return [];
  const jobs = await db.query<{ job_id: number }>(
    `SELECT job_id FROM timescaledb_information.jobs WHERE proc_name IN ('policy_compression', 'policy_retention') ORDER BY job_id`,
  );
  const ran: number[] = [];
  for (const { job_id } of jobs.rows) {
    await db.query(`CALL run_job(${Number(job_id)})`);
    ran.push(Number(job_id));
  }
  return ran;
}

/**
 * For each rollup, where its refreshes may start: now() minus its refresh policy's start_offset,
 * or null (no bound) when the policy has none. applyTimescaleSettings sets the offsets.
 */
export async function refreshWindowStarts(db: Db): Promise<Map<string, Date | null>> {
  const out = new Map<string, Date | null>();
  for (const r of ROLLUPS) {
    const job = await policyJob(db, r.view, 'policy_refresh_continuous_aggregate');
    const offset = job?.config.start_offset ?? null;
    const start = offset === null ? null : (await db.query<{ t: Date }>('SELECT now() - $1::interval AS t', [offset])).rows[0]!.t;
    out.set(r.view, start);
  }
  return out;
}

const WIDTH_MS: Record<string, number> = { '1 minute': 60_000, '1 hour': 3_600_000, '1 day': 86_400_000 };

/**
 * Refreshes the continuous aggregates so that rows stored in [fromMs, toMs] show in every level.
 * A level needs it where that range lies below its watermark (the end of what it has
 * materialised): above it, the views' real-time part sees new rows already. Hour and day are
 * built from the materialised level below them, not its real-time part, so a level's window must
 * first be materialised one level down; windows are worked out from days down to minutes and run
 * from minutes up. A window reaching above a level's watermark starts at or below it, because
 * materialising a window with an unmaterialised gap below would hide the gap from the real-time
 * part; and it ends where the refresh policies end (now minus one bucket), so the current bucket
 * stays real-time.
 */
export async function refreshMaterialised(db: Db, fromMs: number, toMs: number): Promise<void> {
  const floors = await refreshWindowStarts(db);
  const nowMs = (await db.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now.getTime();
  const windows: ([number, number] | null)[] = ROLLUPS.map(() => null);
  let below: [number, number] | null = null; // what the level above needs materialised here
  for (let i = ROLLUPS.length - 1; i >= 0; i--) {
    const r = ROLLUPS[i]!;
    const width = WIDTH_MS[r.width]!;
    const watermark = await watermarkMs(db, r.view);
    const own: [number, number] = [floorTo(fromMs, width), Math.min(floorTo(toMs, width) + width, watermark)];
    let win: [number, number] | null = own[0] < own[1] ? own : null;
    if (below) win = win ? [Math.min(win[0], below[0]), Math.max(win[1], below[1])] : [...below];
    if (win) {
      win[1] = Math.min(win[1], floorTo(nowMs, width) - width);
      if (win[1] > watermark) win[0] = Math.min(win[0], watermark);
      const floor = floors.get(r.view);
      if (floor) win[0] = Math.max(win[0], Math.ceil(floor.getTime() / width) * width);
      if (win[0] >= win[1]) win = null;
    }
    windows[i] = win;
    below = win;
  }
  for (let i = 0; i < ROLLUPS.length; i++) {
    const win = windows[i];
    if (!win) continue;
    const start = Number.isFinite(win[0]) ? `'${new Date(win[0]).toISOString()}'` : 'NULL';
    await db.query(`CALL refresh_continuous_aggregate('${ROLLUPS[i]!.view}', ${start}, '${new Date(win[1]).toISOString()}')`);
  }
}

function floorTo(ms: number, width: number): number {
  return Math.floor(ms / width) * width;
}

/** Epoch ms up to which `view` is materialised; -Infinity when nothing is. */
async function watermarkMs(db: Db, view: string): Promise<number> {
  const r = await db.query<{ w: Date | string | null }>(
    `SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(mat_hypertable_id)) AS w
       FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = $1`,
    [view],
  );
  const w = r.rows[0]?.w;
  const ms = w instanceof Date ? w.getTime() : NaN; // '-infinity' comes back as text or an invalid date
  return Number.isFinite(ms) ? ms : -Infinity;
}

interface PolicyJob {
  job_id: number;
  config: { compress_after?: string; drop_after?: string; start_offset?: string | null };
}

/** The policy job of `proc` on a hypertable or continuous aggregate (by view name), if any. */
async function policyJob(db: Db, relation: string, proc: string): Promise<PolicyJob | undefined> {
  const r = await db.query<{ job_id: number; config: unknown }>(
    `SELECT j.job_id, j.config
       FROM timescaledb_information.jobs j
       LEFT JOIN timescaledb_information.continuous_aggregates c ON c.materialization_hypertable_name = j.hypertable_name
      WHERE j.proc_name = $2 AND (j.hypertable_name = $1 OR c.view_name = $1)`,
    [relation, proc],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const config = typeof row.config === 'string' ? (JSON.parse(row.config) as PolicyJob['config']) : (row.config as PolicyJob['config']);
  return { job_id: Number(row.job_id), config: config ?? {} };
}

async function hasCompressedChunks(db: Db): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM timescaledb_information.chunks WHERE hypertable_name = 'readings' AND is_compressed LIMIT 1`);
  return r.rows.length > 0;
}
