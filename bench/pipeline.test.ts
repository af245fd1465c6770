// bench/pipeline.ts keeps working: a few seconds of the deployed pipeline at a low rate into a real
// PostgreSQL 15 and into the embedded TimescaleDB, where every acknowledged reading is found as a
// row exactly once; and the row-by-row check itself counts: rows taken away, doubled or added
// behind its back are each reported as such. No speed is asserted: the figures are the bench's.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openPostgres } from '../cloud-sink/src/store/db.js';
import { Store } from '../cloud-sink/src/store/store.js';
import { startPostgres } from '../devstack/postgres.js';
import { benchPipeline, checkRows, LOAD_PREFIX, metricNames, PROBE_ID, type PipelineBenchResult } from './pipeline.js';

function assertCleanRun(r: PipelineBenchResult): void {
  const detail = JSON.stringify({ ...r, timeline: undefined, gateway: undefined, sink: undefined });
  assert.equal(r.loadFailures, 0, detail);
  assert.ok(r.ackedReadings > 0, detail);
  // Every reading the load generator got a PUBACK for is one row, and nothing else is there.
  assert.equal(r.loss.expectedRows, r.ackedReadings, detail);
  assert.equal(r.loss.rows, r.ackedReadings, detail);
  assert.deepEqual(
    { lost: r.loss.lost, duplicated: r.loss.duplicated, extra: r.loss.extra, valueMismatches: r.loss.valueMismatches, incompleteMessages: r.loss.incompleteMessages, clean: r.loss.clean },
    { lost: 0, duplicated: 0, extra: 0, valueMismatches: 0, incompleteMessages: 0, clean: true },
    detail,
  );
  assert.equal(r.loss.probe.found, r.loss.probe.acked, detail);
  assert.ok(r.latencyMs.samples > 0 && r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99, detail);
  assert.ok(r.readingsPerSecond > 0 && r.storedSeconds > 0, detail);
  assert.ok(r.timeline.length > 0, detail);
  assert.ok(r.polling.polls > 0, detail);
  // The samplers read real processes: both held memory and used CPU while the load ran.
  for (const p of [r.gateway, r.sink]) assert.ok(p.steadyRssMb > 0 && p.cpuSeconds > 0 && p.samples.length > 0, detail);
}

describe('benchPipeline', () => {
  it('PostgreSQL: every acknowledged reading is one row, probe latency is sampled, and both processes leave a CPU profile on SIGTERM', async () => {
    const profiles = mkdtempSync(join(tmpdir(), 'fieldline-pipeline-prof-'));
    try {
      const r = await benchPipeline({ database: 'postgres', seconds: 4, rate: 1_000, clients: 5, window: 10, metricsPerMessage: 10, cpuProfileDir: profiles });
      assertCleanRun(r);
      assert.equal(r.sinkRole, 'sink');
      assert.match(r.databaseSetup, /fsync=on/);
      assert.match(r.databaseSetup, /synchronous_commit=on/);
      assert.ok(r.cpuProfiles, 'profiles were asked for');
      for (const f of [...r.cpuProfiles.gateway, ...r.cpuProfiles.sink]) assert.ok(existsSync(f) && statSync(f).size > 0, f);
      assert.equal(r.cpuProfiles.gateway.length, 1);
      assert.equal(r.cpuProfiles.sink.length, 1);
    } finally {
      rmSync(profiles, { recursive: true, force: true });
    }
  });

  it('embedded TimescaleDB: every acknowledged reading is one row, counted by opening the data directory after `fieldline-cloud all` stopped', async () => {
    const r = await benchPipeline({ database: 'embedded', seconds: 3, rate: 500, clients: 5, window: 10, metricsPerMessage: 10 });
    assertCleanRun(r);
    assert.equal(r.sinkRole, 'all');
  });

  it('the row-by-row check reports a missing, a doubled, an extra and a wrong row, each as what it is', async () => {
    const pg = await startPostgres();
    const db = await openPostgres(pg.url, 1);
    try {
      await new Store(db).migrate();
      const metrics = 3;
      const devices = [{ deviceId: `${LOAD_PREFIX}0`, lastSeq: 5 }, { deviceId: `${LOAD_PREFIX}1`, lastSeq: 4 }];
      const ins = (device: string, seq: number, metric: string, value: number): Promise<unknown> =>
        db.query(`INSERT INTO readings (ts, gateway_id, device_id, metric, value) VALUES (to_timestamp($1::float8 / 1000), 'gw', $2, $3, $4)`, [1_700_000_000_000 + seq * 10, device, metric, value]);
      const value = (metric: string, seq: number): number => (metric === 'seq' ? seq : metric === 'temperature' ? 20 + (seq % 10) : 40 + (seq % 20));
      for (const d of devices) for (let s = 1; s <= d.lastSeq; s++) for (const m of metricNames(metrics)) await ins(d.deviceId, s, m, value(m, s));
      await ins(PROBE_ID, 1, 'seq', 1);
      const probe = new Set([1]);

      const clean = await checkRows(db, devices, metrics, probe);
      assert.deepEqual({ ...clean, probe: undefined }, { devices: 2, expectedRows: 27, rows: 27, lost: 0, duplicated: 0, extra: 0, valueMismatches: 0, incompleteMessages: 0, clean: true, probe: undefined });

      // One reading's row goes: lost, and its message is incomplete.
      await db.query(`DELETE FROM readings WHERE device_id = $1 AND metric = 'humidity' AND value = $2`, [`${LOAD_PREFIX}0`, value('humidity', 3)]);
      let c = await checkRows(db, devices, metrics, probe);
      assert.equal(c.lost, 1);
      assert.equal(c.incompleteMessages, 1);
      assert.equal(c.clean, false);
      await ins(`${LOAD_PREFIX}0`, 3, 'humidity', value('humidity', 3));

      // A seq stored twice: duplicated (its message now holds one seq row too many for its metrics).
      await ins(`${LOAD_PREFIX}1`, 2, 'seq', 2);
      c = await checkRows(db, devices, metrics, probe);
      assert.deepEqual([c.lost, c.duplicated, c.extra], [0, 1, 0]);
      await db.query(`DELETE FROM readings WHERE ctid IN (SELECT ctid FROM readings WHERE device_id = $1 AND metric = 'seq' AND value = 2 LIMIT 1)`, [`${LOAD_PREFIX}1`]);

      // A seq past what was acknowledged, and a device nobody loaded: extra.
      await ins(`${LOAD_PREFIX}1`, 7, 'seq', 7);
      await ins(`${LOAD_PREFIX}9`, 1, 'seq', 1);
      c = await checkRows(db, devices, metrics, probe);
      assert.deepEqual([c.lost, c.duplicated, c.extra], [0, 0, 2]);
      await db.query(`DELETE FROM readings WHERE (device_id = $1 AND metric = 'seq' AND value = 7) OR device_id = $2`, [`${LOAD_PREFIX}1`, `${LOAD_PREFIX}9`]);

      // The right number of rows with a wrong value: a value mismatch.
      await db.query(`UPDATE readings SET value = value + 1 WHERE device_id = $1 AND metric = 'temperature' AND ts = to_timestamp($2::float8 / 1000)`, [`${LOAD_PREFIX}0`, 1_700_000_000_000 + 20]);
      c = await checkRows(db, devices, metrics, probe);
      assert.deepEqual([c.lost, c.duplicated, c.extra, c.valueMismatches, c.clean], [0, 0, 0, 1, false]);

      // A probe reading acknowledged with no row.
      c = await checkRows(db, devices, metrics, new Set([1, 2]));
      assert.deepEqual(c.probe, { acked: 2, found: 1, duplicated: 0 });
    } finally {
      await db.close();
      await pg.destroy();
    }
  });
});
