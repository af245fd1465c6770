// Acceptance 1 of issue 10: the same readings give the same aggregate numbers on both databases.
// One fixed dataset goes into the embedded TimescaleDB (continuous aggregates) and into a vanilla
// PostgreSQL 15 (the sink's own rollups), through Store.ingest as the consumer calls it, and the
// rows of readings_1m, readings_1h and readings_1d are compared one by one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Reading } from '../../proto/src/wire.js';
import { openEmbedded, openPostgres } from '../../cloud-sink/src/store/db.js';
import { Store, type IngestBatch } from '../../cloud-sink/src/store/store.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { assertSameRollup, rollupRows } from './store.behaviour.js';

/**
 * Four devices, three metrics, from 22:50 UTC on one day to 01:20 two days later: minute, hour and
 * day boundaries. Devices send at different rates (7 s to 3 min) with odd milliseconds. Delivered
 * in batches of 200 readings from two gateways, calls of three batches in shuffled order, then two
 * batches that arrive hours late, and replays of batches already stored.
 */
function dataset(): IngestBatch[][] {
  let seed = 20250101;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const start = Date.UTC(2025, 2, 9, 22, 50, 0);
  const end = Date.UTC(2025, 2, 11, 1, 20, 0);
  const rates = [7_000, 29_000, 61_000, 180_000];
  const readings: Reading[] = [];
  rates.forEach((every, d) => {
    for (let t = start + d * 113; t < end; t += every) {
      readings.push({ deviceId: `same-${d}`, tsMs: t, metrics: { temp: Math.round((rnd() * 60 - 20) * 1000) / 1000, hum: rnd() * 100, volts: 3 + rnd() } });
    }
  });
  // Hold back two stretches as the late batches.
  const lateFrom = Date.UTC(2025, 2, 10, 9, 0, 0);
  const isLate = (r: Reading): boolean => r.tsMs! >= lateFrom && r.tsMs! < lateFrom + 40 * 60_000;
  const onTime = readings.filter((r) => !isLate(r)).sort((a, b) => a.tsMs! - b.tsMs!);
  const late = readings.filter(isLate);
  const batches: IngestBatch[] = [];
  for (let i = 0; i < onTime.length; i += 200) {
    const gw = (i / 200) % 2 === 0 ? 'gw-same-a' : 'gw-same-b';
    batches.push({ gatewayId: gw, seq: batches.length + 1, createdMs: 0, readings: onTime.slice(i, i + 200) });
  }
  const calls: IngestBatch[][] = [];
  const order = batches.map((b, i) => ({ b, k: rnd() + (i % 5) })).sort((x, y) => x.k - y.k).map((x) => x.b);
  for (let i = 0; i < order.length; i += 3) calls.push(order.slice(i, i + 3));
  calls.push([{ gatewayId: 'gw-same-a', seq: 10_001, createdMs: 0, readings: late.slice(0, 100) }, batches[0]!]);
  calls.push([{ gatewayId: 'gw-same-b', seq: 10_002, createdMs: 0, readings: late.slice(100) }, batches[3]!, batches[4]!]);
  return calls;
}

async function load(store: Store, calls: IngestBatch[][]): Promise<number> {
  let rows = 0;
  for (const call of calls) {
    const r = await store.ingest(call);
    rows += r.rowsInserted;
    if (r.freshTimeRange) await store.refreshRange(r.freshTimeRange.fromMs, r.freshTimeRange.toMs);
  }
  return rows;
}

describe('the same readings give the same rollups on the embedded TimescaleDB and on PostgreSQL 15 (issue 10, acceptance 1)', () => {
  let server: PgServer;
  let embedded: Store;
  let vanilla: Store;
  const calls = dataset();
  const sent = calls.flat().filter((b, i, all) => all.findIndex((x) => x.gatewayId === b.gatewayId && x.seq === b.seq) === i)
    .reduce((n, b) => n + b.readings.length * 3, 0);

  before(async () => {
    server = await startPostgres();
    embedded = new Store(await openEmbedded(undefined));
    vanilla = new Store(await openPostgres(await server.createDatabase('same_aggregates'), 2));
    await embedded.migrate();
    await vanilla.migrate();
    assert.equal(await load(embedded, calls), sent);
    assert.equal(await load(vanilla, calls), sent);
    await embedded.refreshAggregates();
  });
  after(async () => {
    await embedded?.close();
    await vanilla?.close();
    await server?.destroy();
  });

  for (const view of ['readings_1m', 'readings_1h', 'readings_1d']) {
    it(`${view}: every row equal (bucket, device, metric, min, max, count, last; avg within 1e-9)`, async () => {
      const fromTimescale = await rollupRows(embedded.db, view, 'same-');
      const fromVanilla = await rollupRows(vanilla.db, view, 'same-');
      assert.ok(fromTimescale.length > 0);
      assertSameRollup(fromVanilla, fromTimescale, view);
      assert.equal(fromVanilla.reduce((n, r) => n + r.count, 0), sent);
    });
  }
});
