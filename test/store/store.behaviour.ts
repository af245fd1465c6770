// One behaviour suite for every store backend (CONVENTIONS point 5): the embedded TimescaleDB and
// a vanilla PostgreSQL server must pass the same expectations, because the cloud runs the same SQL
// on both. A backend file calls storeBehaviour() with a factory for fresh, empty databases.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Reading } from '../../proto/src/wire.js';
import { StoreError } from '../../cloud-sink/src/errors.js';
import type { Db, DbTx, QueryResult, Row } from '../../cloud-sink/src/store/db.js';
import { FLEET_MIGRATIONS } from '../../cloud-sink/src/fleet/schema.js';
import { LATEST_VERSION, migrate } from '../../cloud-sink/src/store/schema.js';
import { Store, type Capabilities, type IngestBatch, type StoredReading } from '../../cloud-sink/src/store/store.js';

export interface BackendUnderTest {
  name: string;
  /** A new, empty database each call; the suite closes what it opens. */
  open(): Promise<Db>;
  /** What the backend's schema must come out as. */
  expect: Capabilities;
}

const BASE = Date.UTC(2025, 0, 15, 8, 0, 0); // fixed and in the past: rollup refreshes cover it

/** Every migration a new database gets: the store's own and the fleet's (cloud-sink/src/fleet/schema.ts). */
export const ALL_VERSIONS = [1, 2, 3, ...FLEET_MIGRATIONS.map((m) => m.version)];

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
        return fn({
          query: async <R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
            if (pattern.test(sql) && ++seen === nth) await tx.query('SELECT 1 / (SELECT 0) AS boom');
            return tx.query<R>(sql, params);
          },
        });
      }),
  };
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
      assert.deepEqual(versions.rows.map((r) => Number(r.version)), ALL_VERSIONS);
    });

    it('two processes migrating a new database at once apply each migration exactly once', async () => {
      const other = await fresh();
      const [a, b] = await Promise.all([migrate(other), migrate(other)]);
      assert.deepEqual([...a.applied, ...b.applied].sort((x, y) => x - y), ALL_VERSIONS);
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
      // 12,000 rows span two INSERT statements; the second one fails, after the ledger rows,
      // batch A's readings and part of batch B's were already written in the transaction.
      const a = batch('gw-atom', 1, series('dev-atom-a', 4000, ['x', 'y']));
      const b = batch('gw-atom', 2, series('dev-atom-b', 2000, ['x', 'y']));
      const broken = new Store(sabotaged(db, /INSERT INTO readings \(/, 2));
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
        await other.query('DELETE FROM schema_migrations WHERE version = 3');
        assert.deepEqual((await s.migrate()).applied, [3]);
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
