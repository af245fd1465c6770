// Issue 12, acceptance 2, on any store: the aggregates API over the HTTP routes against numbers
// computed here with our own SQL over the raw rows, and across the retention boundary with the old
// part only in the Parquet lake (written by the lake's own ParquetWriter in the lake layout).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApi } from '../../cloud-sink/src/api/server.js';
import { TokenAuthority } from '../../cloud-sink/src/api/auth.js';
import { DEFAULT_QUERY_SETTINGS } from '../../cloud-sink/src/api/device-routes.js';
import type { Retention } from '../../cloud-sink/src/store/aggregates.js';
import { LocalDestination } from '../../cloud-sink/src/lake/local.js';
import { ParquetWriter } from '../../cloud-sink/src/lake/parquet.js';
import { LakeReader } from '../../cloud-sink/src/lake/reader.js';
import type { BufferedMessage } from '../../cloud-sink/src/lake/rows.js';
import type { Db } from '../../cloud-sink/src/store/db.js';
import { Store, type IngestBatch } from '../../cloud-sink/src/store/store.js';

const SECRET = 'aggregates-acceptance-secret-long-enough-for-hs256';
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** What the database keeps in these tests; drop() must make the database hold no more than this. */
// readings_1h at 3 days: the day level is refreshed from it, and TimescaleDB wants that window to span 3 days.
export const RETENTION: Retention = { readings: '1 day', readings_1m: '2 days', readings_1h: '3 days', readings_1d: null };

export interface Backend {
  name: string;
  open(): Promise<Db>;
  /** Removes what RETENTION no longer keeps, as the backend's retention would (nowMs: the API's clock). */
  drop(store: Store, nowMs: number): Promise<void>;
  close?(): Promise<void>;
}

interface Row {
  tsMs: number;
  value: number;
}

/** A deterministic, irregular series: readings 7–33 s apart with values that are not round. */
function series(fromMs: number, toMs: number, seed: number): Row[] {
  let x = seed;
  const rand = (): number => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
  const rows: Row[] = [];
  for (let t = fromMs + Math.floor(rand() * 10_000); t < toMs; t += 7_000 + Math.floor(rand() * 26_000)) {
    rows.push({ tsMs: t, value: Math.round((20 + 10 * Math.sin(t / 3_600_000) + 5 * rand()) * 1e6) / 1e6 - (rand() < 0.01 ? 1e4 : 0) });
  }
  // One in the newest millisecond, so the open bucket always holds readings.
  rows.push({ tsMs: toMs - 1, value: 21.125 + seed });
  return rows;
}

interface Point {
  ts: string;
  avg: number;
  min: number;
  max: number;
  count: number;
  last: number;
  p50?: number;
  p95?: number;
  p99?: number;
}

interface Answer {
  device_id: string;
  metric: string;
  bucket: string;
  source: 'hot' | 'lake' | 'mixed';
  points: Point[];
}

const close = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

function assertSamePoints(actual: Point[], expected: Point[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: number of points`);
  assert.ok(expected.length > 0, `${what}: the range holds readings`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const at = `${what}, bucket ${e.ts}`;
    assert.equal(a.ts, e.ts, at);
    assert.equal(a.count, e.count, `${at}: count`);
    assert.equal(a.min, e.min, `${at}: min`);
    assert.equal(a.max, e.max, `${at}: max`);
    assert.equal(a.last, e.last, `${at}: last`);
    assert.ok(close(a.avg, e.avg), `${at}: avg ${a.avg} vs ${e.avg}`);
    for (const p of ['p50', 'p95', 'p99'] as const) {
      if (e[p] === undefined) assert.equal(a[p], undefined, `${at}: ${p} not asked for`);
      else assert.ok(a[p] !== undefined && close(a[p], e[p]), `${at}: ${p} ${a[p]} vs ${e[p]}`);
    }
  }
}

/**
 * The expected points from the raw rows in the database, with SQL written for this test:
 * whole buckets from the one holding fromMs to the one holding toMs.
 */
async function expectedFromRaw(db: Db, deviceId: string, widthMs: number, fromMs: number, toMs: number, pct: boolean): Promise<Point[]> {
  const start = Math.floor(fromMs / widthMs) * widthMs;
  const end = Math.floor(toMs / widthMs) * widthMs + widthMs;
  const r = await db.query<{ b: number | string; n: number | string; mn: number; mx: number; av: number; la: number; p50: number; p95: number; p99: number }>(
    `SELECT (floor(extract(epoch FROM ts) * 1000 / $2) * $2)::int8 AS b,
            count(*) AS n, min(value) AS mn, max(value) AS mx, avg(value) AS av,
            (array_agg(value ORDER BY ts DESC))[1] AS la,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY value) AS p99
       FROM readings
      WHERE device_id = $1 AND metric = 'temp' AND ts >= $3 AND ts < $4
      GROUP BY 1 ORDER BY 1`,
    [deviceId, widthMs, new Date(start), new Date(end)],
  );
  return r.rows.map((x) => ({
    ts: new Date(Number(x.b)).toISOString(), avg: x.av, min: x.mn, max: x.mx, count: Number(x.n), last: x.la,
    ...(pct ? { p50: x.p50, p95: x.p95, p99: x.p99 } : {}),
  }));
}

export function aggregatesAcceptance(backend: Backend): void {
  describe(`aggregates acceptance (${backend.name})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldline-query-'));
    const auth = new TokenAuthority(SECRET);
    // Whole seconds, so "now" falls inside the series' newest (open) minute.
    const nowMs = Math.floor(Date.now() / 1000) * 1000;
    const firstMs = nowMs - 4 * DAY;
    let store: Store;
    let lake: LakeReader;
    let token: string;

    before(async () => {
      store = new Store(await backend.open());
      await store.migrate();
      const devices: [string, Row[]][] = [['dev-q', series(firstMs, nowMs, 7)], ['dev-other', series(firstMs, nowMs, 99).map((r) => ({ ...r, value: r.value * 3 }))]];
      // The same batches into the database and into the lake, as the store and the lake consumer
      // each read them from iot.readings.
      const batches: IngestBatch[] = [];
      let seq = 0;
      for (const [deviceId, rows] of devices) {
        for (let i = 0; i < rows.length; i += 500) {
          batches.push({ gatewayId: 'gw-q', seq: ++seq, createdMs: nowMs, readings: rows.slice(i, i + 500).map((r) => ({ deviceId, tsMs: r.tsMs, metrics: { temp: r.value } })) });
        }
      }
      for (let i = 0; i < batches.length; i += 20) await store.ingest(batches.slice(i, i + 20));
      const destination = new LocalDestination(join(dir, 'lake'));
      await destination.open();
      const writer = await ParquetWriter.open({ threads: 1, memoryLimit: '256MB', tempDirectory: join(dir, 'tmp'), rowGroupSize: 2_048, compressionLevel: 3 });
      try {
        const messages: BufferedMessage[] = batches.map((b, offset) => ({
          offset, gatewayId: b.gatewayId, seq: b.seq, rejected: 0, skipped: null, bytes: 0, arrivedMs: 0,
          rows: b.readings.map((r) => ({ tsMs: Number(r.tsMs), deviceId: String(r.deviceId), metric: 'temp', value: r.metrics!.temp! })),
        }));
        const written = await writer.writeRange({ partition: 0, start: 0, end: messages.length - 1 }, messages, destination.stagingRoot);
        for (const f of written.files) await destination.put(f.key, f.path);
      } finally {
        writer.close();
      }
      lake = await LakeReader.open({ dir: join(dir, 'lake') });
      token = await auth.issue({ subject: 'acceptance', role: 'viewer', ttlSeconds: 3600 });
    });

    after(async () => {
      await lake?.close();
      await store?.close();
      await backend.close?.();
      rmSync(dir, { recursive: true, force: true });
    });

    const ask = async (app: ReturnType<typeof buildApi>, query: string): Promise<Answer> => {
      const res = await app.inject({ method: 'GET', url: `/v1/devices/dev-q/aggregates?metric=temp&${query}`, headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as Answer;
    };

    it('aggregates over the last 24 h (1m and 1h buckets, with and without percentiles, the open bucket included) equal SQL over the raw rows', async () => {
      // No cache, so each answer is computed; the rollups as the store keeps them at first (the
      // real-time part on TimescaleDB), then after a refresh materialised them.
      const app = buildApi({
        store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '',
        query: { ...DEFAULT_QUERY_SETTINGS, cacheTtlMs: 0, now: () => nowMs },
      });
      try {
        const from = nowMs - DAY;
        for (const refreshed of [false, true]) {
          if (refreshed) await store.refreshAggregates();
          for (const [bucket, width] of [['1m', MIN], ['1h', HOUR]] as const) {
            for (const pct of [false, true]) {
              const got = await ask(app, `bucket=${bucket}&from=${from}&to=${nowMs}${pct ? '&percentiles=50,95,99' : ''}`);
              assert.equal(got.source, 'hot');
              assert.equal(got.bucket, bucket);
              const want = await expectedFromRaw(store.db, 'dev-q', width, from, nowMs, pct);
              assertSamePoints(got.points, want, `${bucket}${pct ? ' with percentiles' : ''}${refreshed ? ' after a refresh' : ''}`);
              assert.equal(got.points.at(-1)!.ts, new Date(Math.floor(nowMs / width) * width).toISOString(), 'the open bucket is in');
            }
          }
        }
        // Without from/to and bucket: the last 24 hours in minutes.
        const auto = await ask(app, 'percentiles=95');
        assert.equal(auto.bucket, '1m');
        assertSamePoints(auto.points, (await expectedFromRaw(store.db, 'dev-q', MIN, nowMs - DAY, nowMs, true)).map(({ p50: _a, p99: _b, ...p }) => p), 'the default range');
      } finally {
        await app.close();
      }
    });

    it('a range across the retention boundary, its old part only in the lake, equals the same range from all raw rows and says "mixed"; a range wholly older says "lake"', async () => {
      await store.refreshAggregates();
      const cases = [
        { what: '1h over 4 days (readings_1h kept 3 days)', bucket: '1h', width: HOUR, from: firstMs, to: nowMs, pct: false, source: 'mixed' },
        { what: '1m over 10 hours around 2 days ago (readings_1m kept 2 days)', bucket: '1m', width: MIN, from: nowMs - 2 * DAY - 5 * HOUR, to: nowMs - 2 * DAY + 5 * HOUR, pct: false, source: 'mixed' },
        { what: '1h with percentiles over 36 hours (raw readings kept 1 day)', bucket: '1h', width: HOUR, from: nowMs - 36 * HOUR, to: nowMs, pct: true, source: 'mixed' },
        { what: '1m with percentiles over 2 hours around a day ago', bucket: '1m', width: MIN, from: nowMs - DAY - HOUR, to: nowMs - DAY + HOUR, pct: true, source: 'mixed' },
        { what: '1d over all 4 days (readings_1d kept for ever)', bucket: '1d', width: DAY, from: firstMs, to: nowMs, pct: false, source: 'hot' },
        { what: '1h over the oldest 23 hours', bucket: '1h', width: HOUR, from: firstMs, to: firstMs + DAY - HOUR, pct: false, source: 'lake' },
        { what: '1m with percentiles over 3 hours 3 days ago', bucket: '1m', width: MIN, from: nowMs - 3 * DAY, to: nowMs - 3 * DAY + 3 * HOUR, pct: true, source: 'lake' },
      ] as const;
      // Computed before anything is dropped: from every raw row.
      const wanted = [];
      for (const c of cases) wanted.push(await expectedFromRaw(store.db, 'dev-q', c.width, c.from, c.to, c.pct));

      await backend.drop(store, nowMs);
      const oldRaw = await store.db.query<{ n: number | string }>('SELECT count(*) AS n FROM readings WHERE ts < $1', [new Date(nowMs - 2 * DAY)]);
      assert.equal(Number(oldRaw.rows[0]!.n), 0, 'the raw rows older than the retention are gone from the database');

      const withLake = buildApi({
        store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '',
        query: { ...DEFAULT_QUERY_SETTINGS, retention: RETENTION, cacheTtlMs: 0, now: () => nowMs },
        lake: async () => lake,
      });
      try {
        for (let i = 0; i < cases.length; i++) {
          const c = cases[i]!;
          const got = await ask(withLake, `bucket=${c.bucket}&from=${c.from}&to=${c.to}${c.pct ? '&percentiles=50,95,99' : ''}`);
          assert.equal(got.source, c.source, c.what);
          assertSamePoints(got.points, wanted[i]!, c.what);
        }
      } finally {
        await withLake.close();
      }

      // Without a lake the database answers with what it still has, and says so.
      const noLake = buildApi({
        store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '',
        query: { ...DEFAULT_QUERY_SETTINGS, retention: RETENTION, cacheTtlMs: 0, now: () => nowMs },
      });
      try {
        const got = await ask(noLake, `bucket=1m&from=${nowMs - 3 * DAY}&to=${nowMs - 3 * DAY + 3 * HOUR}&percentiles=50`);
        assert.equal(got.source, 'hot');
        assert.deepEqual(got.points, [], 'the raw rows of that range are gone');
      } finally {
        await noLake.close();
      }
    });
  });
}
