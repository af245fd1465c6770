// bench/sink-pg.ts keeps working: Store.ingest and a bare binary COPY of the same rows into a real
// PostgreSQL 15, each counted back (readings, the bare table and every rollup hold every row), and
// the ratio is the quotient of the two measured rates. No speed is asserted.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchSinkPg } from './sink-pg.js';

it('benchSinkPg stores every row both ways, counts them back, and derives the ratio from the two rates', async () => {
  const r = await benchSinkPg({ batches: 8, batchesPerCall: 2 });
  assert.ok(r.rows > 0, JSON.stringify(r));
  assert.deepEqual(r.counted, { readings: r.rows, bare: r.rows, readings_1m: r.rows, readings_1h: r.rows, readings_1d: r.rows });
  assert.ok(r.storeRowsPerSecond > 0 && r.bareCopyRowsPerSecond > 0, JSON.stringify(r));
  assert.equal(r.ratio, Number((r.storeRowsPerSecond / r.bareCopyRowsPerSecond).toFixed(2)));
});
