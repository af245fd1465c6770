// The query bench's latency figures: nearest-rank percentiles are measured values, ranks round the
// way a reader counts them, and empty or odd input does not produce a number that looks real.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nearestRank, summarize } from './percentile.js';

describe('nearestRank', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('gives the 95th smallest of 100 samples as p95 and the 50th as p50 (no interpolation)', () => {
    assert.equal(nearestRank(hundred, 0.95), 95);
    assert.equal(nearestRank(hundred, 0.5), 50);
    assert.equal(nearestRank(hundred, 0.99), 99);
    assert.equal(nearestRank(hundred, 1), 100);
  });

  it('gives the maximum as p99 when there are fewer than 100 samples', () => {
    assert.equal(nearestRank([3, 7, 9, 12, 40], 0.99), 40);
    assert.equal(nearestRank([3, 7, 9, 12, 40], 0.5), 9);
  });

  it('is NaN for no samples and refuses a quantile outside (0, 1]', () => {
    assert.ok(Number.isNaN(nearestRank([], 0.5)));
    assert.throws(() => nearestRank([1], 0), RangeError);
    assert.throws(() => nearestRank([1], 1.5), RangeError);
  });
});

describe('summarize', () => {
  it('sorts its input, drops non-finite values and rounds to 0.1 ms', () => {
    const s = summarize([5.04, 1.26, NaN, 3, Infinity, 2]);
    assert.deepEqual(s, { samples: 4, p50: 2, p95: 5, p99: 5, max: 5, mean: 2.8 });
  });

  it('reports NaN figures for an empty run rather than zeros', () => {
    const s = summarize([]);
    assert.equal(s.samples, 0);
    assert.ok(Number.isNaN(s.p95) && Number.isNaN(s.max) && Number.isNaN(s.mean));
  });
});
