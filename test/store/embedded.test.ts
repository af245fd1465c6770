// The store behaviour suite on the embedded backend: PGlite with the TimescaleDB extension, in
// process, as `fieldline-cloud all` runs it without DATABASE_URL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openDb, openEmbedded } from '../../cloud-sink/src/store/db.js';
import { Store } from '../../cloud-sink/src/store/store.js';
import { storeBehaviour } from './store.behaviour.js';

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
    assert.deepEqual((await first.migrate()).applied, [1, 2, 3, 4]);
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

  it('a closed database answers FL_ERR_STORE_UNAVAILABLE', async () => {
    const db = await openEmbedded(undefined);
    await db.close();
    await db.close();
    await assert.rejects(db.query('SELECT 1'), { code: 'FL_ERR_STORE_UNAVAILABLE' });
  });
});
