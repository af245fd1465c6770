// bench/drain-live.ts keeps working: a 100,000-reading backlog drained by a real gateway process
// into a real sink and PostgreSQL while devices publish live, every acknowledged reading checked row
// by row (the figure's own bounds are asserted in test/fault/gateway-live-first.test.ts).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchDrainLive } from './drain-live.js';

it('benchDrainLive drains a small backlog under live load and reports its latency, lost and doubled', async () => {
  const r = await benchDrainLive({ readings: 100_000, timeoutMs: 180_000 });
  assert.equal(r.readings, 100_000);
  assert.equal(r.lost, 0);
  assert.equal(r.doubled, 0);
  assert.ok(r.latency.samples > 0 && Number.isFinite(r.latency.p99), JSON.stringify(r.latency));
  assert.ok(r.drainReadingsPerSecond > 0);
  assert.ok(r.checkedMessages >= 5_000);
});
