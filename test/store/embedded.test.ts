// The store behaviour suite on the embedded backend: PGlite with the TimescaleDB extension, in
// process, as `fieldline-cloud all` runs it without DATABASE_URL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openDb, openEmbedded } from '../../cloud-sink/src/store/db.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { Store, type TimescaleSettings } from '../../cloud-sink/src/store/store.js';
import { ALL_VERSIONS, storeBehaviour } from './store.behaviour.js';

storeBehaviour({
  name: 'embedded PGlite + TimescaleDB',
  open: () => openEmbedded(undefined),
  expect: { timescaledb: true, continuousAggregates: true },
});

describe('embedded store on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('openDb without a database URL picks the embedded backend', async () => {
    const db = await openDb({ dataDir: undefined });
    try {
      assert.equal(db.kind, 'pglite');
    } finally {
      await db.close();
    }
  });

  it('a reopened data directory keeps its readings, and its hypertable with continuous aggregates stays writable', async () => {
    const dataDir = join(dir, 'pgdata');
    const reading = (seq: number) => ({
      gatewayId: 'gw-disk', seq, createdMs: 0,
      readings: [{ deviceId: 'dev-disk', tsMs: Date.UTC(2025, 0, 1) + seq * 1000, metrics: { t: seq } }],
    });
    const first = new Store(await openEmbedded(dataDir));
    assert.deepEqual((await first.migrate()).applied, ALL_VERSIONS);
    await first.ingest([reading(1)]);
    await first.close();

    // Reopening is where TimescaleDB in PGlite used to break: without the library loaded first,
    // the insert below fails with "continuous_agg_invalidation_trigger is not supported".
    const second = new Store(await openEmbedded(dataDir));
    try {
      assert.deepEqual((await second.migrate()).applied, []);
      assert.deepEqual(await second.capabilities(), { timescaledb: true, continuousAggregates: true });
      const r = await second.ingest([reading(1), reading(2)]);
      assert.deepEqual([r.batchesInserted, r.batchesSkipped], [1, 1]);
      assert.equal(await second.countReadings({ deviceId: 'dev-disk' }), 2);
      await second.refreshAggregates();
      const m = await second.db.query<{ n: number }>(`SELECT sum(count)::int AS n FROM readings_1m WHERE device_id = 'dev-disk'`);
      assert.equal(m.rows[0]?.n, 2);
    } finally {
      await second.close();
    }
  });

  it('the timescale settings land (chunk interval, compression, retention), a second apply changes nothing, and runPolicyJobs runs what PGlite never schedules', async () => {
    const store = new Store(await openEmbedded(undefined));
    try {
      await store.migrate();
      const defaults: TimescaleSettings = cloudConfigSchema.parse({}).timescale;
      const settings: TimescaleSettings = {
        ...defaults,
        chunkInterval: '12 hours',
        compressAfter: '30 days',
        readingsRetention: '400 days',
        rollupRetention: { readings_1m: '500 days', readings_1h: null, readings_1d: null },
      };
      const first = await store.applyTimescaleSettings(settings);
      assert.equal(first.timescaledb, true);
      assert.ok(first.changes.length >= 4, first.changes.join('; '));
      assert.deepEqual((await store.applyTimescaleSettings(settings)).changes, [], 'idempotent');
      const q = async <T extends object>(sql: string) => (await store.db.query<T>(sql)).rows;
      assert.deepEqual(await q(`SELECT time_interval::text AS i FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'`), [{ i: '12:00:00' }]);
      assert.deepEqual(
        await q(`SELECT attname, segmentby_column_index AS s, orderby_column_index AS o, orderby_asc AS asc
                   FROM timescaledb_information.compression_settings WHERE hypertable_name = 'readings' ORDER BY attname`),
        [{ attname: 'device_id', s: 1, o: null, asc: null }, { attname: 'metric', s: 2, o: null, asc: null }, { attname: 'ts', s: null, o: 1, asc: false }],
      );
      const jobs = await q<{ proc_name: string; name: string; config: Record<string, unknown> }>(
        `SELECT j.proc_name, coalesce(c.view_name, j.hypertable_name) AS name, j.config FROM timescaledb_information.jobs j
           LEFT JOIN timescaledb_information.continuous_aggregates c ON c.materialization_hypertable_name = j.hypertable_name
          WHERE j.proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate') ORDER BY 1, 2`,
      );
      const by = (proc: string, name: string) => jobs.find((j) => j.proc_name === proc && j.name === name)?.config;
      assert.equal(by('policy_compression', 'readings')?.compress_after, '30 days');
      assert.equal(by('policy_retention', 'readings')?.drop_after, '400 days');
      assert.equal(by('policy_retention', 'readings_1m')?.drop_after, '500 days');
      // Refreshes stay out of what retention drops one level down, or they would delete those buckets.
      assert.equal(by('policy_refresh_continuous_aggregate', 'readings_1m')?.start_offset, '400 days');
      assert.equal(by('policy_refresh_continuous_aggregate', 'readings_1h')?.start_offset, '500 days');
      assert.equal(by('policy_refresh_continuous_aggregate', 'readings_1d')?.start_offset, null);

      // A reading 300 days old and one 60 days old, rolled up; then retention shortens to 200 days:
      // the old raw reading is dropped, the 60-day-old chunk compressed, and the rollups keep both.
      const day = 86_400_000;
      const old = Date.now() - 300 * day;
      const monthOld = Date.now() - 60 * day;
      await store.ingest([{ gatewayId: 'gw-ts', seq: 1, createdMs: 0, readings: [
        { deviceId: 'dev-ts', tsMs: old, metrics: { t: 1 } },
        { deviceId: 'dev-ts', tsMs: monthOld, metrics: { t: 2 } },
      ] }]);
      await store.refreshAggregates();
      const shorter = await store.applyTimescaleSettings({ ...settings, readingsRetention: '200 days' });
      assert.ok(shorter.changes.includes('readings_1m refreshes from 200 days ago'), shorter.changes.join('; '));
      const ran = await store.runPolicyJobs();
      assert.ok(ran.length >= 3, `jobs run: ${ran.join(', ')}`);
      assert.equal(await store.countReadings({ deviceId: 'dev-ts' }), 1, 'the 300-day-old reading was dropped');
      const chunks = await q<{ c: boolean }>(`SELECT bool_or(is_compressed) AS c FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'`);
      assert.equal(chunks[0]?.c, true, 'the 60-day-old chunk is compressed');
      await store.refreshAggregates();
      for (const view of ['readings_1m', 'readings_1h', 'readings_1d']) {
        const n = await q<{ n: number }>(`SELECT sum(count)::int AS n FROM ${view} WHERE device_id = 'dev-ts'`);
        assert.equal(n[0]?.n, 2, `${view} keeps the dropped reading`);
      }
      // A compressed chunk still takes a late reading.
      await store.ingest([{ gatewayId: 'gw-ts', seq: 2, createdMs: 0, readings: [{ deviceId: 'dev-ts', tsMs: monthOld + 1, metrics: { t: 3 } }] }]);
      assert.equal(await store.countReadings({ deviceId: 'dev-ts' }), 2);

      const off = await store.applyTimescaleSettings({ ...settings, compression: false, readingsRetention: null });
      assert.ok(off.changes.includes('readings compression policy removed'), off.changes.join('; '));
      assert.ok(off.changes.includes('readings retention removed'), off.changes.join('; '));
    } finally {
      await store.close();
    }
  });

  it('a closed database answers FL_ERR_STORE_UNAVAILABLE', async () => {
    const db = await openEmbedded(undefined);
    await db.close();
    await db.close();
    await assert.rejects(db.query('SELECT 1'), { code: 'FL_ERR_STORE_UNAVAILABLE' });
  });
});
