// One behaviour suite for every store backend (CONVENTIONS point 5): the embedded TimescaleDB and
// a vanilla PostgreSQL server must pass the same expectations, because the cloud runs the same SQL
// on both. A backend file calls storeBehaviour() with a factory for fresh, empty databases.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Reading } from '../../proto/src/wire.js';
import { StoreError } from '../../cloud-sink/src/errors.js';
import type { Db, DbTx, QueryResult, Row } from '../../cloud-sink/src/store/db.js';
import { ALERT_MIGRATIONS } from '../../cloud-sink/src/alerts/schema.js';
import { COMMAND_MIGRATIONS } from '../../cloud-sink/src/commands/schema.js';
import { DEVICE_MIGRATIONS } from '../../cloud-sink/src/store/devices.js';
import { FLEET_MIGRATIONS } from '../../cloud-sink/src/fleet/schema.js';
import { GATEWAY_CONFIG_MIGRATIONS } from '../../cloud-sink/src/gateway-config/schema.js';
import { LATEST_VERSION, migrate } from '../../cloud-sink/src/store/schema.js';
import { Store, type Capabilities, type IngestBatch, type IngestResult, type StoredReading } from '../../cloud-sink/src/store/store.js';

export interface BackendUnderTest {
  name: string;
  /** A new, empty database each call; the suite closes what it opens. */
  open(): Promise<Db>;
  /** What the backend's schema must come out as. */
  expect: Capabilities;
}

const BASE = Date.UTC(2025, 0, 15, 8, 0, 0); // fixed and in the past: rollup refreshes cover it

/** Every migration a new database gets: the store's own and the fleet's (cloud-sink/src/fleet/schema.ts). */
export const ALL_VERSIONS = [
  1, 2, 3, 4, ...COMMAND_MIGRATIONS.map((m) => m.version), 7, 8, ...FLEET_MIGRATIONS.map((m) => m.version), ...ALERT_MIGRATIONS.map((m) => m.version), ...DEVICE_MIGRATIONS.map((m) => m.version),
  // Applied last although numbered 5: it alters gateway_heartbeats, which migration 20 creates.
  ...GATEWAY_CONFIG_MIGRATIONS.map((m) => m.version),
];

function batch(gatewayId: string, seq: number, readings: Reading[]): IngestBatch {
  return { gatewayId, seq, createdMs: BASE + seq, readings };
}

/** `count` readings of `metrics` for one device, one second apart from `start`. */
function series(deviceId: string, count: number, metrics: string[], start = BASE): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < count; i++) {
    const m: Record<string, number> = {};
    metrics.forEach((name, k) => (m[name] = i * 10 + k + 0.5));
    out.push({ deviceId, tsMs: start + i * 1000, metrics: m });
  }
  return out;
}

function sortKey(a: StoredReading, b: StoredReading): number {
  return a.ts.getTime() - b.ts.getTime() || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0) || a.value - b.value;
}

/** Every reading of a device in [from, to], by following the cursor; fails on a loop. */
async function readAll(store: Store, q: { deviceId: string; metric?: string; from: Date; to: Date }, limit: number) {
  const all: StoredReading[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.readings({ ...q, limit, ...(cursor ? { cursor } : {}) });
    assert.ok(page.readings.length <= limit, 'a page never exceeds the limit');
    all.push(...page.readings);
    pages++;
    assert.ok(pages < 100_000, 'pagination terminates');
    if (page.nextCursor === null) break;
    assert.ok(page.readings.length === limit, 'only a full page has a next cursor');
    cursor = page.nextCursor;
  }
  return { all, pages };
}

async function ledgerRows(db: Db, gatewayId: string): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM ingested_batches WHERE gateway_id = $1', [gatewayId]);
  return Number(r.rows[0]?.n);
}

/**
 * A Db whose transactions are sabotaged from inside: before the `nth` statement matching
 * `pattern`, it runs a statement the database itself fails (division by zero), so the real
 * transaction aborts part-way through its work, as it would on a crash or a bad row.
 */
function sabotaged(db: Db, pattern: RegExp, nth: number): Db {
  return {
    kind: db.kind,
    query: <T extends object = Row>(sql: string, params?: readonly unknown[]) => db.query<T>(sql, params),
    close: () => Promise.resolve(),
    transaction: <T>(fn: (tx: DbTx) => Promise<T>) =>
      db.transaction((tx) => {
        let seen = 0;
        const boom = async (sql: string): Promise<void> => {
          if (pattern.test(sql) && ++seen === nth) await tx.query('SELECT 1 / (SELECT 0) AS boom');
        };
        return fn({
          query: async <R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
            await boom(sql);
            return tx.query<R>(sql, params);
          },
          ...(tx.copyFrom
            ? {
                copyFrom: async (sql: string, data: Iterable<Uint8Array>) => {
                  await boom(sql);
                  return tx.copyFrom!(sql, data);
                },
              }
            : {}),
        });
      }),
  };
}


const ROLLUP_LEVELS = [
  ['readings_1m', '1 minute'],
  ['readings_1h', '1 hour'],
  ['readings_1d', '1 day'],
] as const;

export interface RollupRow {
  bucket: Date;
  device_id: string;
  metric: string;
  avg: number;
  min: number;
  max: number;
  count: number;
  last: number;
}

/** One rollup's rows for devices whose id starts with `prefix`, in key order. */
export async function rollupRows(db: Db, view: string, prefix: string): Promise<RollupRow[]> {
  const r = await db.query<RollupRow>(
    `SELECT bucket, device_id, metric, avg, min, max, count, last FROM ${view}
      WHERE device_id LIKE $1 ORDER BY device_id COLLATE "C", metric COLLATE "C", bucket`,
    [`${prefix}%`],
  );
  return r.rows.map((x) => ({ ...x, count: Number(x.count) }));
}

/** What a rollup must hold, from a GROUP BY over readings (no two readings of a series share a time in these tests). */
async function expectedRollup(db: Db, width: string, prefix: string): Promise<RollupRow[]> {
  const r = await db.query<RollupRow>(
    `SELECT date_bin(INTERVAL '${width}', ts, timestamptz 'epoch') AS bucket, device_id, metric,
            sum(value) / count(*) AS avg, min(value) AS min, max(value) AS max, count(*) AS count,
            (array_agg(value ORDER BY ts DESC))[1] AS last
       FROM readings WHERE device_id LIKE $1
      GROUP BY 1, 2, 3 ORDER BY device_id COLLATE "C", metric COLLATE "C", bucket`,
    [`${prefix}%`],
  );
  return r.rows.map((x) => ({ ...x, count: Number(x.count) }));
}

/**
 * Row by row: bucket, device, metric, min, max, count and last exactly; avg within 1e-9 of the
 * bucket's magnitude (sums taken in another order differ in their last bits).
 */
export function assertSameRollup(got: RollupRow[], want: RollupRow[], what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} rows, expected ${want.length}`);
  want.forEach((w, i) => {
    const g = got[i]!;
    const where = `${what} row ${i} (${w.device_id}/${w.metric} at ${w.bucket.toISOString()})`;
    assert.deepEqual(
      { bucket: g.bucket.getTime(), device_id: g.device_id, metric: g.metric, min: g.min, max: g.max, count: g.count, last: g.last },
      { bucket: w.bucket.getTime(), device_id: w.device_id, metric: w.metric, min: w.min, max: w.max, count: w.count, last: w.last },
      where,
    );
    const scale = Math.max(Math.abs(w.avg), Math.abs(g.avg), Math.abs(w.min), Math.abs(w.max));
    assert.ok(Math.abs(g.avg - w.avg) <= 1e-9 * scale, `${where}: avg ${g.avg}, expected ${w.avg}`);
  });
}

/** readings_1m/1h/1d for devices starting with `prefix` equal a GROUP BY over their readings. */
export async function assertRollupsMatchReadings(db: Db, prefix: string, levels: readonly string[] = ['readings_1m', 'readings_1h', 'readings_1d']): Promise<void> {
  let rows = 0;
  for (const [view, width] of ROLLUP_LEVELS) {
    if (!levels.includes(view)) continue;
    const want = await expectedRollup(db, width, prefix);
    assertSameRollup(await rollupRows(db, view, prefix), want, view);
    rows += want.length;
  }
  assert.ok(rows > 0, `there are rollup rows for ${prefix}* to compare`);
}

/**
 * Store.ingest followed by Store.refreshRange over what it stored, as the consumer calls them:
 * with continuous aggregates, rows older than their watermark (all of these tests' rows, once any
 * test has refreshed) show in the rollups only after that.
 */
async function ingestAsConsumer(store: Store, batches: IngestBatch[]): Promise<IngestResult> {
  const r = await store.ingest(batches);
  if (r.freshTimeRange) await store.refreshRange(r.freshTimeRange.fromMs, r.freshTimeRange.toMs);
  return r;
}

/** A small deterministic generator, so a failure can be reproduced. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/**
 * Readings for `devices` × metrics a and b from `start`, one every `stepMs` per device for
 * `count` steps, values from `value` (distinct times per series, so `last` is well defined).
 */
function grid(prefix: string, devices: number, start: number, count: number, stepMs: number, value: (i: number, d: number) => number): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < devices; d++) {
      out.push({ deviceId: `${prefix}${d}`, tsMs: start + i * stepMs + d * 7, metrics: { a: value(i, d), b: -value(i, d) / 3 } });
    }
  }
  return out;
}

export function storeBehaviour(backend: BackendUnderTest): void {
  describe(`store behaviour: ${backend.name}`, () => {
    const opened: Db[] = [];
    let db: Db;
    let store: Store;
    const fresh = async (): Promise<Db> => {
      const d = await backend.open();
      opened.push(d);
      return d;
    };

    before(async () => {
      db = await fresh();
      store = new Store(db);
      const first = await store.migrate();
      assert.deepEqual(first.applied, ALL_VERSIONS);
    });

    after(async () => {
      for (const d of opened) await d.close();
    });

    it('migrations are idempotent: running them again applies nothing and keeps the data', async () => {
      await store.ingest([batch('gw-mig', 1, series('dev-mig', 3, ['t']))]);
      const again = await store.migrate();
      assert.deepEqual(again.applied, []);
      assert.equal(again.version, LATEST_VERSION);
      assert.deepEqual(again.capabilities, backend.expect);
      assert.equal(await store.countReadings({ deviceId: 'dev-mig' }), 3);
      const versions = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(versions.rows.map((r) => Number(r.version)), [...ALL_VERSIONS].sort((a, b) => a - b));
    });

    it('two processes migrating a new database at once apply each migration exactly once', async () => {
      const other = await fresh();
      const [a, b] = await Promise.all([migrate(other), migrate(other)]);
      assert.deepEqual([...a.applied, ...b.applied].sort((x, y) => x - y), [...ALL_VERSIONS].sort((x, y) => x - y));
      assert.deepEqual(a.capabilities, backend.expect);
      assert.deepEqual(b.capabilities, backend.expect);
    });

    it('refuses a database whose schema is newer than the program', async () => {
      await db.query(`INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')`);
      try {
        await assert.rejects(store.migrate(), (err: unknown) => err instanceof StoreError && err.code === 'FL_ERR_STORE_SCHEMA_TOO_NEW');
      } finally {
        await db.query('DELETE FROM schema_migrations WHERE version = 999');
      }
    });

    it(`readings is ${backend.expect.timescaledb ? 'a hypertable' : 'a plain table'} indexed on (device_id, metric, ts desc)`, async () => {
      assert.deepEqual(await store.capabilities(), backend.expect);
      const ext = await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
      assert.equal(ext.rows.length, backend.expect.timescaledb ? 1 : 0);
      if (backend.expect.timescaledb) {
        const h = await db.query(`SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'`);
        assert.equal(h.rows.length, 1, 'readings is a hypertable');
      } else {
        const k = await db.query<{ relkind: string }>(`SELECT relkind FROM pg_class WHERE relname = 'readings'`);
        assert.equal(k.rows[0]?.relkind, 'r', 'readings is an ordinary table');
      }
      const idx = await db.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'readings'`);
      assert.ok(
        idx.rows.some((r) => r.indexdef.includes('(device_id, metric, ts DESC)')),
        `index on (device_id, metric, ts desc) among ${JSON.stringify(idx.rows)}`,
      );
    });

    it(`rollups readings_1m/1h/1d exist as ${backend.expect.continuousAggregates ? 'continuous aggregates' : 'plain tables'} with the contract's columns`, async () => {
      for (const view of ['readings_1m', 'readings_1h', 'readings_1d']) {
        await db.query(`SELECT bucket, device_id, metric, avg, min, max, count, last FROM ${view} LIMIT 0`);
      }
      if (backend.expect.continuousAggregates) {
        const c = await db.query<{ view_name: string }>(`SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY view_name`);
        assert.deepEqual(c.rows.map((r) => r.view_name), ['readings_1d', 'readings_1h', 'readings_1m']);
      } else {
        const k = await db.query<{ relname: string }>(
          `SELECT relname FROM pg_class WHERE relname IN ('readings_1m', 'readings_1h', 'readings_1d') AND relkind = 'r' ORDER BY relname`,
        );
        assert.deepEqual(k.rows.map((r) => r.relname), ['readings_1d', 'readings_1h', 'readings_1m']);
      }
    });

    it('exactly-once: a batch ingested twice (and twice within one call) stores its rows once', async () => {
      const b = batch('gw-eo', 1, series('dev-eo', 50, ['temp', 'hum']));
      const first = await store.ingest([b]);
      assert.deepEqual(
        { inserted: first.batchesInserted, skipped: first.batchesSkipped, rows: first.rowsInserted },
        { inserted: 1, skipped: 0, rows: 100 },
      );
      const replay = await store.ingest([b]);
      assert.deepEqual(
        { inserted: replay.batchesInserted, skipped: replay.batchesSkipped, rows: replay.rowsInserted },
        { inserted: 0, skipped: 1, rows: 0 },
      );
      const b2 = batch('gw-eo', 2, series('dev-eo', 5, ['temp'], BASE + 3_600_000));
      const dup = await store.ingest([b2, b2, b]);
      assert.deepEqual(
        { inserted: dup.batchesInserted, skipped: dup.batchesSkipped, rows: dup.rowsInserted },
        { inserted: 1, skipped: 2, rows: 5 },
      );
      assert.equal(await store.countReadings({ deviceId: 'dev-eo' }), 105);
      assert.equal(await ledgerRows(db, 'gw-eo'), 2);
    });

    it('time flags: a reading its gateway flagged is stored at its stamped time with the reason, in the ingest transaction, once', async () => {
      const yearBack = BASE - 365 * 86_400_000;
      const b = batch('gw-tf', 1, [
        { deviceId: 'dev-tf', tsMs: yearBack, metrics: { t: 1, h: 2 }, timeFlag: 'FL_ERR_CLOCK_REBOOTED' },
        { deviceId: 'dev-tf', tsMs: BASE, metrics: { t: 3 }, timeCorrected: true },
      ]);
      const r = await store.ingest([b]);
      assert.deepEqual(r.rowsTimeFlagged, { FL_ERR_CLOCK_REBOOTED: 2 });
      assert.deepEqual((await store.ingest([b])).rowsTimeFlagged, {}, 'a replayed batch adds no flags');
      const page = await store.readings({ deviceId: 'dev-tf', from: new Date(0), to: new Date(BASE + 1), limit: 10 });
      assert.deepEqual(
        page.readings.map((x) => [x.ts.getTime(), x.metric, x.value, x.flag ?? null]),
        [[yearBack, 'h', 2, 'FL_ERR_CLOCK_REBOOTED'], [yearBack, 't', 1, 'FL_ERR_CLOCK_REBOOTED'], [BASE, 't', 3, null]],
      );
      const flags = await db.query<{ n: number | bigint }>("SELECT count(*) AS n FROM reading_time_flags WHERE gateway_id = 'gw-tf'");
      assert.equal(Number(flags.rows[0]!.n), 2);
    });

    it('two batches with different seq from the same gateway both land, and the gateway row tracks them', async () => {
      const r = await store.ingest([batch('gw-seq', 7, series('dev-seq', 3, ['v'])), batch('gw-seq', 8, series('dev-seq', 4, ['v'], BASE + 60_000))]);
      assert.equal(r.batchesInserted, 2);
      assert.equal(r.rowsInserted, 7);
      assert.equal(await store.countReadings({ deviceId: 'dev-seq' }), 7);
      const g = await db.query<{ last_seq: number; batches_ingested: number; readings_ingested: number }>(
        'SELECT last_seq, batches_ingested, readings_ingested FROM gateways WHERE gateway_id = $1',
        ['gw-seq'],
      );
      assert.deepEqual(g.rows.map((x) => [Number(x.last_seq), Number(x.batches_ingested), Number(x.readings_ingested)]), [[8, 2, 7]]);
    });

    it('a 5,000-reading batch round-trips exactly: values, time to the millisecond, device and metric', async () => {
      const devices = ['rt-a', 'rt-b', 'rt-c', 'rt-d', 'rt-e'];
      const special = [1 / 3, -273.15, 5e-324, 1e300, -1e300, -1e-300, 0, 123456789.123456789, Math.PI, 2 ** 53 + 2];
      const readings: Reading[] = [];
      let seed = 42;
      const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      for (let i = 0; i < 5000; i++) {
        const v = special[i % 97] ?? (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12 - 4);
        // Odd milliseconds and a spread over days, so any rounding or time-zone slip shows.
        readings.push({ deviceId: devices[i % 5]!, tsMs: BASE - 3 * 86_400_000 + i * 104_729 + (i % 1000), metrics: { [`m${i % 3}`]: v } });
      }
      const r = await store.ingest([batch('gw-rt', 1, readings)]);
      assert.equal(r.rowsInserted, 5000);
      assert.equal(r.rowsRejected, 0);
      const window = { from: new Date(BASE - 4 * 86_400_000), to: new Date(BASE + 10 * 86_400_000) };
      for (const deviceId of devices) {
        const expected = readings
          .filter((x) => x.deviceId === deviceId)
          .flatMap((x) => Object.entries(x.metrics!).map(([metric, value]) => ({ ts: new Date(x.tsMs!), metric, value })))
          .sort(sortKey);
        const { all } = await readAll(store, { deviceId, ...window }, 400);
        assert.equal(all.length, 1000);
        assert.deepEqual(all, expected);
      }
    });

    it('readings: filters by metric and time range (both ends inclusive), all metrics by default, ascending by time then metric', async () => {
      await store.ingest([batch('gw-q', 1, series('dev-q', 100, ['temp', 'hum']))]);
      const from = new Date(BASE + 10_000);
      const to = new Date(BASE + 19_000);

      const temp = await store.readings({ deviceId: 'dev-q', metric: 'temp', from, to, limit: 1000 });
      assert.deepEqual(
        temp.readings,
        Array.from({ length: 10 }, (_, k) => ({ ts: new Date(BASE + (10 + k) * 1000), metric: 'temp', value: (10 + k) * 10 + 0.5 })),
      );
      assert.equal(temp.nextCursor, null);

      const both = await store.readings({ deviceId: 'dev-q', from, to, limit: 1000 });
      assert.equal(both.readings.length, 20);
      assert.deepEqual(both.readings.slice(0, 2).map((x) => x.metric), ['hum', 'temp']);
      assert.deepEqual([...both.readings].sort(sortKey), both.readings, 'sorted by time, then metric');

      const exact = await store.readings({ deviceId: 'dev-q', metric: 'hum', from, to: from, limit: 10 });
      assert.deepEqual(exact.readings, [{ ts: from, metric: 'hum', value: 101.5 }]);

      const fullPage = await store.readings({ deviceId: 'dev-q', metric: 'temp', from, to, limit: 10 });
      assert.equal(fullPage.readings.length, 10);
      assert.equal(fullPage.nextCursor, null, 'no cursor when nothing follows a full page');

      const none = await store.readings({ deviceId: 'dev-q', from: new Date(BASE - 10_000), to: new Date(BASE - 1), limit: 5 });
      assert.deepEqual(none, { readings: [], nextCursor: null });
      const other = await store.readings({ deviceId: 'no-such-device', from, to, limit: 5 });
      assert.deepEqual(other, { readings: [], nextCursor: null });
      const noMetric = await store.readings({ deviceId: 'dev-q', metric: 'pressure', from, to, limit: 5 });
      assert.deepEqual(noMetric.readings, []);
    });

    it('readings: the cursor pages through without gaps or repeats, also through runs of identical rows', async () => {
      await store.ingest([batch('gw-pg', 1, series('dev-pg', 97, ['a', 'b', 'c']))]);
      const window = { from: new Date(BASE), to: new Date(BASE + 3_600_000) };
      const whole = await store.readings({ deviceId: 'dev-pg', ...window, limit: 10_000 });
      assert.equal(whole.readings.length, 291);
      for (const limit of [1, 7, 97, 290]) {
        const { all, pages } = await readAll(store, { deviceId: 'dev-pg', ...window }, limit);
        assert.deepEqual(all, whole.readings, `limit ${limit}`);
        assert.equal(pages, Math.ceil(291 / limit));
      }
      const onlyB = await readAll(store, { deviceId: 'dev-pg', metric: 'b', ...window }, 10);
      assert.deepEqual(onlyB.all, whole.readings.filter((x) => x.metric === 'b'));

      // The same (time, metric) from several batches: five identical rows and two other values.
      const t = BASE + 5_000_000;
      const same = (seq: number, value: number): IngestBatch => batch('gw-ties', seq, [{ deviceId: 'dev-ties', tsMs: t, metrics: { x: value } }]);
      await store.ingest([same(1, 1), same(2, 1), same(3, 1), same(4, 1), same(5, 1), same(6, 0), same(7, 2)]);
      await store.ingest([batch('gw-ties', 8, [{ deviceId: 'dev-ties', tsMs: t + 1, metrics: { x: 1 } }])]);
      const tieWindow = { deviceId: 'dev-ties', from: new Date(t), to: new Date(t + 1) };
      for (const limit of [1, 2, 3, 4, 6]) {
        const { all } = await readAll(store, tieWindow, limit);
        assert.deepEqual(
          all.map((x) => [x.ts.getTime() - t, x.value]),
          [[0, 0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [0, 2], [1, 1]],
          `limit ${limit}`,
        );
      }
    });

    it('readings: a malformed cursor is refused with FL_ERR_API_BAD_CURSOR (400)', async () => {
      const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
      const bad = ['', 'not base64!', 'aGVsbG8', enc({ t: 1 }), enc([1, 1, 'm', '1']), enc([2, 1, 'm', '1', 1]), enc([1, 1.5, 'm', '1', 1]),
        enc([1, 1, 'm', '1; DROP TABLE readings', 1]), enc([1, 1, 'm', '1', 0]), enc([1, 1, 5, '1', 1])];
      for (const cursor of bad) {
        await assert.rejects(
          store.readings({ deviceId: 'dev-q', from: new Date(BASE), to: new Date(BASE + 1000), limit: 5, cursor }),
          (err: unknown) => err instanceof StoreError && err.code === 'FL_ERR_API_BAD_CURSOR' && err.statusCode === 400,
          `cursor ${JSON.stringify(cursor)}`,
        );
      }
      await assert.rejects(
        store.readings({ deviceId: 'dev-q', from: new Date(BASE), to: new Date(BASE), limit: 0 }),
        (err: unknown) => err instanceof StoreError && err.code === 'FL_ERR_API_BAD_QUERY',
      );
    });

    it('atomicity: a failure part-way through an ingest leaves neither readings nor ledger rows, and the retry stores everything once', async () => {
      // It fails after the ledger rows and some readings were written in the transaction: with the
      // embedded backend's INSERTs the second of two 10,000-row statements; with the server's COPY
      // (all rows at once), the merge into readings_1d, after the readings, minutes and hours.
      const a = batch('gw-atom', 1, series('dev-atom-a', 4000, ['x', 'y']));
      const b = batch('gw-atom', 2, series('dev-atom-b', 2000, ['x', 'y']));
      const broken = new Store(
        backend.expect.continuousAggregates ? sabotaged(db, /INSERT INTO readings \(/, 2) : sabotaged(db, /INSERT INTO readings_1d/, 1),
      );
      await assert.rejects(broken.ingest([a, b]), (err: unknown) => err instanceof StoreError && err.code === 'FL_ERR_STORE_BAD_BATCH');
      assert.equal(await store.countReadings({ deviceId: 'dev-atom-a' }), 0);
      assert.equal(await store.countReadings({ deviceId: 'dev-atom-b' }), 0);
      assert.equal(await ledgerRows(db, 'gw-atom'), 0);
      assert.equal(await store.deviceExists('dev-atom-a'), false);

      // Failing at the very end (the device upsert) undoes everything as well.
      const late = new Store(sabotaged(db, /INSERT INTO devices/, 1));
      await assert.rejects(late.ingest([a, b]));
      assert.equal(await ledgerRows(db, 'gw-atom'), 0);
      assert.equal(await store.countReadings({ deviceId: 'dev-atom-a' }), 0);

      const retry = await store.ingest([a, b]);
      assert.equal(retry.batchesInserted, 2);
      assert.equal(retry.rowsInserted, 12_000);
      assert.equal(await store.countReadings({ deviceId: 'dev-atom-a' }), 8000);
      assert.equal(await store.countReadings({ deviceId: 'dev-atom-b' }), 4000);
    });

    it('values no row can hold (or that would overflow the rollups) are counted as rejected; the rest of the batch is stored', async () => {
      const r = await store.ingest([
        batch('gw-bad', 1, [
          { deviceId: 'dev-bad', tsMs: BASE, metrics: { ok: 1, nan: Number.NaN, inf: Number.POSITIVE_INFINITY, huge: -1.7976931348623157e308, '': 3, 'nul\u0000': 4 } },
          { deviceId: '', tsMs: BASE, metrics: { a: 1 } },
          { tsMs: BASE, metrics: { a: 1, b: 2 } },
          { deviceId: 'dev-bad', metrics: { a: 1 } },
          { deviceId: 'dev-bad', tsMs: 9e15, metrics: { a: 1 } },
          { deviceId: 'dev-bad', tsMs: BASE + 1, metrics: { ok: 2 } },
        ]),
      ]);
      assert.equal(r.batchesInserted, 1);
      assert.equal(r.rowsInserted, 2);
      assert.equal(r.rowsRejected, 10);
      assert.match(r.firstRejection ?? '', /gw-bad\/1/);
      assert.equal(await store.countReadings({ deviceId: 'dev-bad' }), 2);
      const bad = await store.ingest([{ gatewayId: '', seq: 1, createdMs: 0, readings: [] }]).catch((e: unknown) => e);
      assert.ok(bad instanceof StoreError && bad.code === 'FL_ERR_STORE_BAD_BATCH');
    });

    it('devices: listed with gateway and first/last reading time; a newer reading via another gateway moves the device, an older replay does not', async () => {
      await store.ingest([batch('gw-dev1', 1, series('dev-move', 10, ['t']))]);
      assert.equal(await store.deviceExists('dev-move'), true);
      assert.equal(await store.deviceExists('dev-never'), false);
      const find = async () => (await store.devices()).find((d) => d.deviceId === 'dev-move');
      assert.deepEqual(await find(), {
        deviceId: 'dev-move', gatewayId: 'gw-dev1', firstSeen: new Date(BASE), lastSeen: new Date(BASE + 9000), metrics: ['t'],
      });
      await store.ingest([batch('gw-dev2', 1, series('dev-move', 1, ['h'], BASE + 3_600_000))]);
      assert.deepEqual(await find(), {
        deviceId: 'dev-move', gatewayId: 'gw-dev2', firstSeen: new Date(BASE), lastSeen: new Date(BASE + 3_600_000), metrics: ['h', 't'],
      });
      await store.ingest([batch('gw-dev1', 2, series('dev-move', 1, ['t'], BASE - 60_000))]);
      assert.deepEqual(await find(), {
        deviceId: 'dev-move', gatewayId: 'gw-dev2', firstSeen: new Date(BASE - 60_000), lastSeen: new Date(BASE + 3_600_000), metrics: ['h', 't'],
      });
      const list = await store.devices();
      assert.deepEqual(list.map((d) => d.deviceId), [...list.map((d) => d.deviceId)].sort());
    });

    it(
      `rollups: readings_1m/1h/1d aggregate avg, min, max, count and last, before and after a refresh, late rows included (${backend.expect.continuousAggregates ? 'continuous aggregates' : 'kept by the sink'})`,
      async () => {
        const t0 = BASE - 86_400_000; // a day before BASE, on a minute boundary
        const rows: Reading[] = [1, 5, 3].map((v, i) => ({ deviceId: 'dev-agg', tsMs: t0 + i * 10_000, metrics: { p: v } }));
        rows.push({ deviceId: 'dev-agg', tsMs: t0 + 60_000, metrics: { p: 10 } });
        await store.ingest([batch('gw-agg', 1, rows)]);
        type Agg = { bucket: Date; avg: number; min: number; max: number; count: number; last: number };
        const agg = async (view: string): Promise<Agg[]> =>
          (await db.query<Agg>(`SELECT bucket, avg, min, max, count, last FROM ${view} WHERE device_id = 'dev-agg' AND metric = 'p' ORDER BY bucket`)).rows.map(
            (r) => ({ ...r, count: Number(r.count) }),
          );
        const minutes = [
          { bucket: new Date(t0), avg: 3, min: 1, max: 5, count: 3, last: 3 },
          { bucket: new Date(t0 + 60_000), avg: 10, min: 10, max: 10, count: 1, last: 10 },
        ];
        const hour = [{ bucket: new Date(t0), avg: 4.75, min: 1, max: 10, count: 4, last: 10 }];
        assert.deepEqual(await agg('readings_1m'), minutes, 'real-time, before any refresh');
        assert.deepEqual(await agg('readings_1h'), hour);
        assert.deepEqual(await agg('readings_1d'), [{ ...hour[0]!, bucket: new Date(Date.UTC(2025, 0, 14)) }]);
        await store.refreshAggregates();
        assert.deepEqual(await agg('readings_1m'), minutes, 'materialised');
        assert.deepEqual(await agg('readings_1h'), hour);

        // A late reading into an already materialised minute shows after the next refresh.
        await store.ingest([batch('gw-agg', 2, [{ deviceId: 'dev-agg', tsMs: t0 + 30_000, metrics: { p: -7 } }])]);
        await store.refreshAggregates();
        assert.deepEqual((await agg('readings_1m'))[0], { bucket: new Date(t0), avg: 0.5, min: -7, max: 5, count: 4, last: -7 });
        assert.deepEqual(await agg('readings_1h'), [{ bucket: new Date(t0), avg: 2.4, min: -7, max: 10, count: 5, last: 10 }]);
      },
    );

    // Continuous aggregates build themselves; migration 3 is for the plain rollup tables only.
    if (!backend.expect.continuousAggregates) {
      it('a database from before the sink kept the plain rollups gets them built from its readings by migration 3', async () => {
        const other = await fresh();
        const s = new Store(other);
        await s.migrate();
        const t0 = BASE + 3 * 86_400_000;
        const rows: Reading[] = [4, 2, 9].map((v, i) => ({ deviceId: 'dev-m3', tsMs: t0 + i * 40_000, metrics: { p: v, q: -v } }));
        await s.ingest([batch('gw-m3', 1, rows)]);
        const read = async (): Promise<unknown[]> =>
          (
            await other.query(
              `SELECT 'm' AS level, bucket, metric, avg, min, max, count, last FROM readings_1m WHERE device_id = 'dev-m3'
               UNION ALL SELECT 'h', bucket, metric, avg, min, max, count, last FROM readings_1h WHERE device_id = 'dev-m3'
               UNION ALL SELECT 'd', bucket, metric, avg, min, max, count, last FROM readings_1d WHERE device_id = 'dev-m3'
               ORDER BY 1, 2, 3`,
            )
          ).rows;
        const kept = await read();
        assert.equal(kept.length, 2 * 2 + 2 + 2, 'minutes t0 and t0+1m, one hour, one day, for p and q');
        // Back to version 2: rollup tables without last_ts, empty because nothing filled them then.
        for (const view of ['readings_1m', 'readings_1h', 'readings_1d']) await other.query(`ALTER TABLE ${view} DROP COLUMN last_ts`);
        for (const view of ['readings_1m', 'readings_1h', 'readings_1d']) await other.query(`DELETE FROM ${view}`);
        await other.query('DELETE FROM schema_migrations WHERE version IN (3, 4)');
        assert.deepEqual((await s.migrate()).applied, [3, 4]);
        assert.deepEqual(await read(), kept);
        // And the sink keeps them from there on: a late row joins the first minute; `last` stays the latest.
        await s.ingest([batch('gw-m3', 2, [{ deviceId: 'dev-m3', tsMs: t0 + 10_000, metrics: { p: 1 } }])]);
        const minute = await other.query<{ avg: number; count: number | string; last: number }>(
          `SELECT avg, count, last FROM readings_1m WHERE device_id = 'dev-m3' AND metric = 'p' AND bucket = $1`,
          [new Date(t0)],
        );
        assert.deepEqual(minute.rows.map((r) => ({ ...r, count: Number(r.count) })), [{ avg: 7 / 3, count: 3, last: 2 }]);
      });
    }

    it('rollups equal a GROUP BY over readings row by row: buckets filled by several batches over several calls, out of order, replays never counted twice', async () => {
      const rnd = lcg(7);
      // 23:00 to 02:00 UTC: minute, hour and day boundaries; 13 s apart so minutes hold 4 or 5 readings.
      const start = Date.UTC(2025, 0, 20, 23, 0, 0);
      const rows = grid('gb-', 3, start, 800, 13_000, () => Math.round((rnd() - 0.5) * 2e6) / 100);
      const batches: IngestBatch[] = [];
      for (let i = 0; i < rows.length; i += 150) batches.push(batch('gw-gb', batches.length + 1, rows.slice(i, i + 150)));
      // Later batches first, a batch twice in one call, and replays of batches already stored.
      const order = [...batches].reverse();
      for (let i = 0; i < order.length; i += 3) {
        const call = order.slice(i, i + 3);
        const r = await ingestAsConsumer(store, [...call, call[0]!]);
        assert.equal(r.batchesSkipped, 1);
        if (i === 6) await store.refreshAggregates();
      }
      const replay = await store.ingest([batches[0]!, batches[5]!, batches[9]!]);
      assert.deepEqual([replay.batchesInserted, replay.batchesSkipped, replay.rowsInserted], [0, 3, 0]);
      assert.equal(replay.freshTimeRange, null);
      assert.equal(await store.countReadings({ deviceId: 'gb-0' }), 1600);
      await assertRollupsMatchReadings(db, 'gb-');
      await store.refreshAggregates();
      await assertRollupsMatchReadings(db, 'gb-');
      const hourTotal = await db.query<{ n: number }>(`SELECT sum(count)::int AS n FROM readings_1h WHERE device_id LIKE 'gb-%'`);
      assert.equal(hourTotal.rows[0]?.n, 800 * 3 * 2);
    });

    it('two ingests at once into the same buckets: neither deadlocks, and the rollups hold both', async () => {
      const start = Date.UTC(2025, 0, 21, 10, 59, 0);
      const calls = (gateway: string, offsetMs: number): IngestBatch[][] => {
        const out: IngestBatch[][] = [];
        for (let c = 0; c < 8; c++) {
          const call: IngestBatch[] = [];
          for (let k = 0; k < 3; k++) {
            const seq = c * 3 + k + 1;
            // Both gateways' batches cover the same devices, minutes and hours (and 10:59 → 11:00).
            call.push(batch(gateway, seq, grid('cc-', 8, start + seq * 3_000 + offsetMs, 40, 3_000 * 24, (i, d) => seq * 1000 + i * 10 + d + (offsetMs ? 0.25 : 0))));
          }
          out.push(c % 2 ? call.reverse() : call);
        }
        return out;
      };
      const run = async (gateway: string, offsetMs: number): Promise<number> => {
        let n = 0;
        for (const call of calls(gateway, offsetMs)) n += (await ingestAsConsumer(store, call)).rowsInserted;
        return n;
      };
      const [x, y] = await Promise.all([run('gw-cc1', 0), run('gw-cc2', 1)]);
      assert.equal(x + y, 2 * 8 * 3 * 40 * 8 * 2);
      await assertRollupsMatchReadings(db, 'cc-');
      const total = await db.query<{ n: number }>(`SELECT sum(count)::int AS n FROM readings_1d WHERE device_id LIKE 'cc-%'`);
      assert.equal(total.rows[0]?.n, x + y);
    });

    it('values near ±1e300 aggregate without overflow, in every rollup', async () => {
      const start = Date.UTC(2025, 0, 22, 12, 0, 0);
      const big = [1e300, 9.99e299, -1e300, -5e299, 1e300, 1e300, 7e299, -1e300, 1e300, 2.5e299];
      // Positive on device 0, negative on device 1, both signs on device 2: sums that do not cancel to noise on 0 and 1.
      const rows = grid('big-', 2, start, 120, 5_000, (i, d) => (d === 0 ? 1 : -1) * Math.abs(big[i % big.length]!));
      rows.push(...grid('big-2', 1, start, 120, 5_000, (i) => big[i % big.length]!).map((r) => ({ ...r, metrics: { a: r.metrics!.a! } })));
      await ingestAsConsumer(store, [batch('gw-big', 1, rows.slice(0, 200)), batch('gw-big', 2, rows.slice(200))]);
      await assertRollupsMatchReadings(db, 'big-0');
      await assertRollupsMatchReadings(db, 'big-1');
      const mixed = await rollupRows(db, 'readings_1m', 'big-2');
      assert.deepEqual(mixed.map((r) => [r.min, r.max, r.count]), mixed.map(() => [-1e300, 1e300, 12]));
      await store.refreshAggregates();
      await assertRollupsMatchReadings(db, 'big-0');
      const hour = await rollupRows(db, 'readings_1h', 'big-0');
      assert.deepEqual(hour.map((r) => [r.device_id, r.metric, r.count, r.max, r.min]), [
        ['big-0', 'a', 120, 1e300, 2.5e299],
        ['big-0', 'b', 120, -2.5e299 / 3, -1e300 / 3],
      ]);
    });

    it('backfill: readings 2 hours late appear in readings_1m and readings_1h for their own time (after refreshRange on TimescaleDB)', async () => {
      const h = Date.UTC(2025, 0, 23, 6, 0, 0);
      const live: IngestBatch[] = [];
      for (let k = 0; k < 4; k++) live.push(batch('gw-bf', k + 1, grid('bf-', 2, h + k * 3_600_000, 60, 60_000, (i, d) => k * 100 + i + d)));
      for (const b of live) await store.ingest([b]);
      await store.refreshAggregates(); // H..H+3 materialised, as a server's policy would have them
      const before = await rollupRows(db, 'readings_1h', 'bf-');
      // Two hours before the newest reading, into minutes and an hour already materialised.
      const newest = h + 3 * 3_600_000 + 59 * 60_000;
      const late = grid('bf-', 2, newest - 2 * 3_600_000 + 30_000, 20, 60_000, (i, d) => -1000 - i - d);
      const r = await store.ingest([batch('gw-bf', 5, late)]);
      assert.deepEqual(r.freshTimeRange, { fromMs: newest - 2 * 3_600_000 + 30_000, toMs: newest - 2 * 3_600_000 + 30_000 + 19 * 60_000 + 7 });
      if (backend.expect.continuousAggregates) {
        // The materialised buckets do not see them yet: this is what refreshRange is for.
        assert.deepEqual(await rollupRows(db, 'readings_1h', 'bf-'), before);
      }
      await store.refreshRange(r.freshTimeRange!.fromMs, r.freshTimeRange!.toMs);
      await assertRollupsMatchReadings(db, 'bf-', ['readings_1m', 'readings_1h']);
      const hours = (await rollupRows(db, 'readings_1h', 'bf-0')).filter((x) => x.metric === 'a');
      assert.deepEqual(hours.map((x) => [x.bucket.getTime() - h, x.count]), [[0, 60], [3_600_000, 61], [7_200_000, 79], [10_800_000, 60]]);
      // Calls made while one runs are merged; each caller still sees its range refreshed.
      const more = await store.ingest([batch('gw-bf', 6, grid('bf-', 2, h + 5_000, 3, 60_000, (i) => 5000 + i))]);
      await Promise.all([store.refreshRange(more.freshTimeRange!.fromMs, more.freshTimeRange!.toMs), store.refreshRange(h, h + 1)]);
      await assertRollupsMatchReadings(db, 'bf-', ['readings_1m', 'readings_1h']);
    });

    // The ingest rate is measured in bench/store.ts (npm run bench), not asserted here.
    it('a 100,000-row ingest in four-batch calls, as the consumer hands them over, stores every row once', async () => {
      const batches: IngestBatch[] = [];
      for (let s = 0; s < 20; s++) {
        const readings: Reading[] = [];
        for (let i = 0; i < 2500; i++) {
          readings.push({ deviceId: `perf-${i % 100}`, tsMs: BASE + 86_400_000 + s * 2_500_000 + i * 1000, metrics: { temp: 20 + (i % 7), hum: 40 + (i % 11) } });
        }
        batches.push(batch('gw-perf', s + 1, readings));
      }
      let rows = 0;
      for (let i = 0; i < batches.length; i += 4) rows += (await store.ingest(batches.slice(i, i + 4))).rowsInserted;
      assert.equal(rows, 100_000);
      const stored = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM readings WHERE device_id LIKE 'perf-%'`);
      assert.equal(Number(stored.rows[0]?.n), 100_000);
      assert.equal(await ledgerRows(db, 'gw-perf'), 20);
    });
  });
}
