// bench/query.ts keeps working: on a small database (4 devices, a week and a bit, no lake) the
// whole harness runs against the real API on PostgreSQL 15, and the sampled answers of every kind
// equal SQL over the raw rows (the bench itself throws otherwise). No latency is asserted here:
// the figures are the bench's to report.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchQuery } from './query.js';

it('benchQuery on 4 devices finds the sampled 24 h and 7-day aggregates and raw pages equal to SQL over the raw rows', async () => {
  const r = await benchQuery({ devices: 4, stepMs: 60_000, lakeDevices: 0, lakeRequests: 0, requests: 30, warmup: 5, checks: 10, clients: 5 });
  const detail = JSON.stringify(r);
  assert.equal(r.data.readings, 4 * 3 * 8 * 1440, detail);
  assert.equal(r.data.rollups.readings_1m, r.data.readings, detail);
  for (const k of [r.kinds.agg24h, r.kinds.agg7d, r.kinds.raw1000]) {
    assert.equal(k.requests, 30, detail);
    assert.equal(k.checked, 10, detail);
    assert.ok(k.latencyMs.p50 > 0 && k.latencyMs.p50 <= k.latencyMs.p99, detail);
  }
  assert.equal(r.kinds.agg24h.bucket, '1m', detail);
  assert.equal(r.kinds.agg24h.itemsPerAnswer, 1440, detail);
  assert.equal(r.kinds.agg7d.bucket, '1h', detail);
  assert.equal(r.kinds.agg7d.itemsPerAnswer, 168, detail);
  assert.equal(r.kinds.raw1000.itemsPerAnswer, 1000, detail);
  assert.equal(r.kinds.lakeYear, null, detail);
});
