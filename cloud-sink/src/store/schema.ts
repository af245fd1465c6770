// The database schema (DESIGN.md "Database") as numbered migrations. `migrate` is idempotent and
// safe to run from several processes at once: it takes a transaction-scoped advisory lock, applies
// the versions schema_migrations lacks, and records each in the same transaction.
//
// One schema, two shapes. With the TimescaleDB extension, `readings` is a hypertable and the
// rollups readings_1m/1h/1d are continuous aggregates; without it (vanilla PostgreSQL) they are
// plain tables with the same names and columns (plus last_ts, the time of `last`), which the sink
// updates in the transaction that inserts the readings (Store.ingest, rollup.ts). The shape chosen is
// recorded in fieldline_meta under 'capabilities', because a database keeps the shape it was
// created with even if the extension later appears or disappears.
import { StoreError } from '../errors.js';
import { ALERT_MIGRATIONS } from '../alerts/schema.js';
import { COMMAND_MIGRATIONS } from '../commands/schema.js';
import { FLEET_MIGRATIONS } from '../fleet/schema.js';
import { GATEWAY_CONFIG_MIGRATIONS } from '../gateway-config/schema.js';
import { DEVICE_MIGRATIONS } from './devices.js';
import type { Db, DbTx } from './db.js';

export interface Capabilities {
  /** readings is a hypertable. */
  timescaledb: boolean;
  /** readings_1m/1h/1d are continuous aggregates (else plain rollup tables). */
  continuousAggregates: boolean;
}

export interface MigrateResult {
  /** Versions applied by this call, in order; empty when the schema was current. */
  applied: number[];
  version: number;
  capabilities: Capabilities;
}

export interface Migration {
  version: number;
  name: string;
  up(tx: DbTx): Promise<void>;
}

/** Any constant works; it only has to be the same in every process that migrates. */
const MIGRATION_LOCK_KEY = 0x46_4c_44_42; // "FLDB"

/** The rollups, in dependency order: each hour is built from minutes, each day from hours. */
export const ROLLUPS = [
  { view: 'readings_1m', width: '1 minute', source: null, scheduleEvery: '1 minute' },
  { view: 'readings_1h', width: '1 hour', source: 'readings_1m', scheduleEvery: '5 minutes' },
  { view: 'readings_1d', width: '1 day', source: 'readings_1h', scheduleEvery: '1 hour' },
] as const;

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'readings, ledger, gateways, devices, alerts',
    async up(tx) {
      await tx.query(`CREATE TABLE fieldline_meta (key text PRIMARY KEY, value jsonb NOT NULL)`);

      const timescaledb = await tryCreateTimescale(tx);
      await tx.query(`
        CREATE TABLE readings (
          ts         timestamptz      NOT NULL,
          gateway_id text             NOT NULL,
          device_id  text             NOT NULL,
          metric     text             NOT NULL,
          value      double precision NOT NULL
        )`);
      if (timescaledb.ok) {
        // The pre-2.13 call form, so an older TimescaleDB server takes it too. One-day chunks
        // keep a day of a busy fleet's rows and its index in memory.
        await tx.query(`SELECT create_hypertable('readings', 'ts', chunk_time_interval => INTERVAL '1 day')`);
      }
      await tx.query(`CREATE INDEX readings_device_metric_ts ON readings (device_id, metric, ts DESC)`);

      // The exactly-once ledger: a batch's row commits with its readings or not at all.
      await tx.query(`
        CREATE TABLE ingested_batches (
          gateway_id    text        NOT NULL,
          seq           bigint      NOT NULL,
          created_ms    bigint      NOT NULL,
          reading_count integer     NOT NULL,
          ingested_at   timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (gateway_id, seq)
        )`);

      // first_seen/last_seen: when the cloud stored a batch from the gateway (wall clock).
      await tx.query(`
        CREATE TABLE gateways (
          gateway_id        text        PRIMARY KEY,
          first_seen        timestamptz NOT NULL,
          last_seen         timestamptz NOT NULL,
          last_seq          bigint      NOT NULL,
          batches_ingested  bigint      NOT NULL DEFAULT 0,
          readings_ingested bigint      NOT NULL DEFAULT 0
        )`);

      // first_seen/last_seen: the earliest and latest reading time (device clock), so a replay
      // of old data does not make a silent device look alive.
      await tx.query(`
        CREATE TABLE devices (
          device_id  text        PRIMARY KEY,
          gateway_id text        NOT NULL,
          first_seen timestamptz NOT NULL,
          last_seen  timestamptz NOT NULL,
          metrics    text[]      NOT NULL DEFAULT '{}'
        )`);
      await tx.query(`CREATE INDEX devices_gateway ON devices (gateway_id)`);

      // Minimal on purpose: the alerts component owns these and extends them in its migrations.
      await tx.query(`
        CREATE TABLE alert_rules (
          id         text        PRIMARY KEY,
          name       text        NOT NULL,
          rule       jsonb       NOT NULL,
          enabled    boolean     NOT NULL DEFAULT true,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()
        )`);
      await tx.query(`
        CREATE TABLE alerts (
          id          text        PRIMARY KEY,
          rule_id     text        NOT NULL,
          device_id   text,
          state       text        NOT NULL CHECK (state IN ('firing', 'resolved', 'acknowledged')),
          fired_at    timestamptz NOT NULL,
          resolved_at timestamptz,
          acked_at    timestamptz,
          acked_by    text,
          detail      jsonb       NOT NULL DEFAULT '{}'
        )`);
      await tx.query(`CREATE INDEX alerts_state_fired ON alerts (state, fired_at DESC)`);

      await writeCapabilities(tx, { timescaledb: timescaledb.ok, continuousAggregates: false }, timescaledb.why);
    },
  },
  {
    version: 2,
    name: 'rollups readings_1m, readings_1h, readings_1d',
    async up(tx) {
      const caps = await readCapabilities(tx);
      let why: string | undefined;
      if (caps.timescaledb) {
        const r = await attempt(tx, 'fl_caggs', () => createContinuousAggregates(tx));
        caps.continuousAggregates = r.ok;
        why = r.why;
      }
      if (!caps.continuousAggregates) await createRollupTables(tx);
      await writeCapabilities(tx, caps, why);
    },
  },
  {
    version: 3,
    name: 'plain rollup tables kept by the sink: last_ts, and built from the readings already stored',
    async up(tx) {
      if ((await readCapabilities(tx)).continuousAggregates) return;
      for (const r of ROLLUPS) {
        // Nothing filled them before this version; they are rebuilt from the readings below.
        await tx.query(`ALTER TABLE ${r.view} ADD COLUMN last_ts timestamptz NOT NULL DEFAULT 'epoch'`);
        await tx.query(`ALTER TABLE ${r.view} ALTER COLUMN last_ts DROP DEFAULT`);
        await tx.query(`DELETE FROM ${r.view}`);
      }
      await tx.query(rollupUpsert('SELECT ts, device_id, metric, value FROM readings'));
    },
  },
  {
    version: 4,
    name: 'continuous aggregates: the minute avg as sum / count',
    async up(tx) {
      // Version 2's minute level used avg(value), whose sum of squares overflows for two values
      // near MAX_ABS_VALUE in one minute: the refresh and every query of all three levels then
      // failed, for every device. The aggregates are rebuilt from readings (real-time, so no
      // reader sees a gap; the next refresh materialises them again). The plain tables of a
      // vanilla server carry sums already (rollupUpsert, rollup.ts).
      if (!(await readCapabilities(tx)).continuousAggregates) return;
      for (const r of [...ROLLUPS].reverse()) await tx.query(`DROP MATERIALIZED VIEW ${r.view}`);
      await createContinuousAggregates(tx);
    },
  },
  // Numbered in the core's range, so they sit here: applied in list order, recorded by number.
  ...COMMAND_MIGRATIONS,
  {
    version: 7,
    name: 'reading_time_flags: readings a gateway stamped on a clock it could not trust or correct',
    async up(tx) {
      // Beside readings rather than a column of it: readings' columns are the contract (DESIGN.md),
      // and flagged rows are rare, so the join that shows them costs an index probe per row read.
      await tx.query(`
        CREATE TABLE reading_time_flags (
          gateway_id text        NOT NULL,
          device_id  text        NOT NULL,
          metric     text        NOT NULL,
          ts         timestamptz NOT NULL,
          reason     text        NOT NULL,
          PRIMARY KEY (device_id, metric, ts, gateway_id)
        )`);
    },
  },
  {
    version: 8,
    name: 'plain rollup tables keep free space in each page, so the sink updates their buckets in place (HOT)',
    async up(tx) {
      // Every ingest transaction updates each (device, metric) bucket it touches at three levels.
      // In full pages every such update writes its new row version to another page and a new entry
      // into the primary key: none was HOT, and readings_1d grew to 8.6 MB for 4,000 buckets in a
      // million readings. With free space the new version stays on the page and the index is left
      // alone (heap-only tuple); docs/profiles/sink.md has the server CPU it saves.
      // Continuous aggregates (TimescaleDB) are views the sink never updates: left alone. A bucket
      // on a page written before this moves once, at its next update, to a page that has the room.
      const plain = await tx.query<{ relname: string }>(
        `SELECT n.name AS relname FROM unnest($1::text[]) AS n(name) JOIN pg_class c ON c.oid = to_regclass(n.name) WHERE c.relkind = 'r'`,
        [ROLLUPS.map((r) => r.view)],
      );
      const tables = new Set(plain.rows.map((r) => r.relname));
      for (const r of ROLLUPS) {
        if (tables.has(r.view)) await tx.query(`ALTER TABLE ${r.view} SET (fillfactor = ${ROLLUP_FILLFACTOR})`);
      }
    },
  },
  ...FLEET_MIGRATIONS,
  ...ALERT_MIGRATIONS,
  ...DEVICE_MIGRATIONS,
  ...GATEWAY_CONFIG_MIGRATIONS,
];

/**
 * Percent of a rollup table's pages that inserts fill (migration 8 says why). 70 for the minutes
 * left a tenth of their updates without room and the table larger than at 50.
 */
const ROLLUP_FILLFACTOR = 50;

/**
 * How a stored bucket takes in a new share of its rows (`excluded`): avg weighted by count, min,
 * max, count, and the `last` with the later last_ts (the incoming one on equal times). Shared by
 * the sink's ingest (rollupMergePartials) and migration 3 (rollupUpsert), so both merge alike.
 */
const ROLLUP_MERGE = `ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
       avg = (t.avg * t.count + excluded.avg * excluded.count) / (t.count + excluded.count),
       min = least(t.min, excluded.min),
       max = greatest(t.max, excluded.max),
       count = t.count + excluded.count,
       last = CASE WHEN excluded.last_ts >= t.last_ts THEN excluded.last ELSE t.last END,
       last_ts = greatest(t.last_ts, excluded.last_ts)`;

/**
 * One statement that folds readings-shaped rows (ts, device_id, metric, value) from `source` into
 * readings_1m, _1h and _1d: minutes from the rows, hours from those minutes, days from those
 * hours, each level upserted into its table (data-modifying CTEs). Buckets start at UTC minute,
 * hour and midnight, as time_bucket's do. A level carries sum, not avg: PostgreSQL's avg(float8)
 * also sums squares, which overflows for values near MAX_ABS_VALUE. Rows go in key order, so two
 * sinks updating the same buckets wait for each other instead of deadlocking. Migration 3 builds
 * the rollups from stored readings with it; the sink's ingest folds in JS instead (rollup.ts).
 */
export function rollupUpsert(source: string): string {
  const [m, h, d] = ROLLUPS;
  const level = (from: string, width: string, first: boolean) =>
    first
      ? `SELECT date_bin(INTERVAL '${width}', ts, timestamptz 'epoch') AS bucket, device_id, metric,
                sum(value) AS sum, min(value) AS min, max(value) AS max, count(*) AS count,
                (array_agg(value ORDER BY ts DESC))[1] AS last, max(ts) AS last_ts
           FROM ${from} GROUP BY 1, device_id, metric`
      : `SELECT date_bin(INTERVAL '${width}', bucket, timestamptz 'epoch') AS bucket, device_id, metric,
                sum(sum) AS sum, min(min) AS min, max(max) AS max, sum(count)::bigint AS count,
                (array_agg(last ORDER BY last_ts DESC))[1] AS last, max(last_ts) AS last_ts
           FROM ${from} GROUP BY 1, device_id, metric`;
  const upsert = (view: string, from: string) =>
    `INSERT INTO ${view} AS t (bucket, device_id, metric, avg, min, max, count, last, last_ts)
     SELECT bucket, device_id, metric, sum / count, min, max, count, last, last_ts FROM ${from}
      ORDER BY device_id, metric, bucket
     ${ROLLUP_MERGE}`;
  return `WITH fresh AS (${source}),
       lm AS (${level('fresh', m.width, true)}),
       lh AS (${level('lm', h.width, false)}),
       ld AS (${level('lh', d.width, false)}),
       um AS (${upsert(m.view, 'lm')}),
       uh AS (${upsert(h.view, 'lh')})
  ${upsert(d.view, 'ld')}`;
}

/**
 * Merges partial buckets (rollup.ts PartialBucket), given as parallel arrays $1…$9 (bucket µs,
 * device_id, metric, sum, count, min, max, last, last_ts µs), into one rollup table. Rows are
 * merged in the arrays' order, which the caller sorts by key (see RollupFold.levels). Times travel
 * as epoch microseconds in float8: exact (integers below 2^53) and cheap to send.
 */
export function rollupMergePartials(view: string): string {
  return `INSERT INTO ${view} AS t (bucket, device_id, metric, avg, min, max, count, last, last_ts)
     SELECT timestamptz 'epoch' + u.bucket_us * INTERVAL '1 microsecond', u.device_id, u.metric,
            u.sum / u.count, u.min, u.max, u.count, u.last,
            timestamptz 'epoch' + u.last_us * INTERVAL '1 microsecond'
       FROM unnest($1::float8[], $2::text[], $3::text[], $4::float8[], $5::int8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[])
            WITH ORDINALITY AS u(bucket_us, device_id, metric, sum, count, min, max, last, last_us, n)
      ORDER BY u.n
     ${ROLLUP_MERGE}`;
}

/**
 * Where the server backend stages partial buckets for the merge (rollupMergeStaged): a temporary
 * table of the session, emptied at every commit. Binary COPY into it and one INSERT … SELECT per
 * level measured faster than passing the partials as arrays (docs/ARCHITECTURE.md).
 */
export const PARTIALS_STAGING = {
  create: `CREATE TEMPORARY TABLE IF NOT EXISTS fl_rollup_partials (
             level smallint NOT NULL, n integer NOT NULL, bucket timestamptz NOT NULL, device_id text NOT NULL,
             metric text NOT NULL, sum float8 NOT NULL, count int8 NOT NULL, min float8 NOT NULL, max float8 NOT NULL,
             last float8 NOT NULL, last_ts timestamptz NOT NULL
           ) ON COMMIT DELETE ROWS`,
  copy: 'COPY fl_rollup_partials (level, n, bucket, device_id, metric, sum, count, min, max, last, last_ts) FROM STDIN (FORMAT binary)',
};

/** Merges the staged partials of one level (PARTIALS_STAGING) into its table, in the order staged. */
export function rollupMergeStaged(view: string, level: number): string {
  return `INSERT INTO ${view} AS t (bucket, device_id, metric, avg, min, max, count, last, last_ts)
     SELECT bucket, device_id, metric, sum / count, min, max, count, last, last_ts
       FROM fl_rollup_partials WHERE level = ${level} ORDER BY n
     ${ROLLUP_MERGE}`;
}

export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

export async function migrate(db: Db): Promise<MigrateResult> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer     PRIMARY KEY,
        name       text        NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)),
    );
    const newest = Math.max(0, ...done);
    if (newest > LATEST_VERSION) {
      throw new StoreError('FL_ERR_STORE_SCHEMA_TOO_NEW', `database is at version ${newest}, this program knows up to ${LATEST_VERSION}`);
    }
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await m.up(tx);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return { applied, version: LATEST_VERSION, capabilities: await readCapabilities(tx) };
  });
}

export async function readCapabilities(tx: DbTx): Promise<Capabilities> {
  const r = await tx.query<{ value: unknown }>(`SELECT value FROM fieldline_meta WHERE key = 'capabilities'`);
  const v = r.rows[0]?.value;
  const parsed: unknown = typeof v === 'string' ? JSON.parse(v) : v;
  if (typeof parsed !== 'object' || parsed === null) return { timescaledb: false, continuousAggregates: false };
  const o = parsed as Record<string, unknown>;
  return { timescaledb: o.timescaledb === true, continuousAggregates: o.continuousAggregates === true };
}

async function writeCapabilities(tx: DbTx, caps: Capabilities, why: string | undefined): Promise<void> {
  // `why` keeps the reason a feature fell back, for whoever wonders later.
  const value = JSON.stringify({ ...caps, ...(why ? { why } : {}) });
  await tx.query(
    `INSERT INTO fieldline_meta (key, value) VALUES ('capabilities', $1::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [value],
  );
}

/**
 * The extension may be absent (vanilla PostgreSQL), present but not preloaded, or refused to a
 * non-superuser; each of those leaves plain tables, so the attempt runs under a savepoint.
 */
async function tryCreateTimescale(tx: DbTx): Promise<{ ok: boolean; why?: string }> {
  const avail = await tx.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`);
  if (avail.rows.length === 0) return { ok: false, why: 'timescaledb extension not available' };
  return attempt(tx, 'fl_timescaledb', async () => {
    await tx.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
  });
}

/**
 * Real-time aggregates (materialized_only = false): a query sees rows not yet materialised, so
 * the rollups are right even where no refresh policy runs (PGlite has no background workers;
 * Store.refreshAggregates materialises on demand there). The policies serve a real server.
 * Hour and day are built from the level below (hierarchical aggregates), which is why avg is
 * re-weighted by count rather than averaged. sum / count rather than avg(): PostgreSQL's
 * avg(float8) also sums squares, which overflows for values near MAX_ABS_VALUE.
 */
async function createContinuousAggregates(tx: DbTx): Promise<void> {
  for (const r of ROLLUPS) {
    const select =
      r.source === null
        ? `SELECT time_bucket(INTERVAL '${r.width}', ts) AS bucket, device_id, metric,
                  sum(value) / count(*) AS avg, min(value) AS min, max(value) AS max,
                  count(*) AS count, last(value, ts) AS last
             FROM readings`
        : `SELECT time_bucket(INTERVAL '${r.width}', bucket) AS bucket, device_id, metric,
                  sum(avg * count) / sum(count) AS avg, min(min) AS min, max(max) AS max,
                  sum(count)::bigint AS count, last(last, bucket) AS last
             FROM ${r.source}`;
    await tx.query(`
      CREATE MATERIALIZED VIEW ${r.view}
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      ${select}
      GROUP BY 1, device_id, metric
      WITH NO DATA`);
    // start_offset NULL: late readings (a gateway back from a week offline) still get folded in;
    // a refresh only recomputes the buckets that changed, so that costs little.
    await tx.query(
      `SELECT add_continuous_aggregate_policy('${r.view}', start_offset => NULL,
               end_offset => INTERVAL '${r.width}', schedule_interval => INTERVAL '${r.scheduleEvery}')`,
    );
  }
}

async function createRollupTables(tx: DbTx): Promise<void> {
  for (const r of ROLLUPS) {
    await tx.query(`
      CREATE TABLE ${r.view} (
        bucket    timestamptz      NOT NULL,
        device_id text             NOT NULL,
        metric    text             NOT NULL,
        avg       double precision NOT NULL,
        min       double precision NOT NULL,
        max       double precision NOT NULL,
        count     bigint           NOT NULL,
        last      double precision NOT NULL,
        PRIMARY KEY (device_id, metric, bucket)
      )`);
  }
}

async function attempt(tx: DbTx, savepoint: string, fn: () => Promise<void>): Promise<{ ok: boolean; why?: string }> {
  await tx.query(`SAVEPOINT ${savepoint}`);
  try {
    await fn();
    await tx.query(`RELEASE SAVEPOINT ${savepoint}`);
    return { ok: true };
  } catch (err) {
    await tx.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    return { ok: false, why: err instanceof Error ? err.message : String(err) };
  }
}
