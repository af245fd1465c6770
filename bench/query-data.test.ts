// The query bench loads its rollups with its own streaming fold instead of the sink's RollupFold (too
// slow for 10 M rows); these pin that the two give the same buckets, to the last bit, so the tables
// the bench measures hold what the sink would have made of the same rows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RollupFold, type PartialBucket } from '../cloud-sink/src/store/rollup.js';
import { SeriesFold, valueAt } from './query-data.js';

function streamed(series: { device: string; metric: string; rows: [number, number][] }[]): PartialBucket[][] {
  const out: PartialBucket[][] = [[], [], []];
  for (const s of series) {
    const fold = new SeriesFold(s.device, s.metric, out);
    for (const [us, v] of s.rows) fold.add(us, v);
    fold.end();
  }
  return out;
}

function sinkFold(series: { device: string; metric: string; rows: [number, number][] }[]): PartialBucket[][] {
  const fold = new RollupFold();
  for (const s of series) for (const [us, v] of s.rows) fold.add(us, s.device, s.metric, v);
  return fold.levels();
}

describe('SeriesFold', () => {
  it('folds 20-second rows over two and a half days into the same minute, hour and day buckets as RollupFold, bit for bit', () => {
    const start = Date.UTC(2026, 0, 1, 22, 59, 40) * 1000;
    const series = ['a', 'b'].flatMap((device, d) =>
      ['humidity', 'temperature'].map((metric, m) => ({
        device,
        metric,
        rows: Array.from({ length: 2.5 * 4320 }, (_, i): [number, number] => [start + i * 20_000_000, valueAt(d, m, start / 1000 + i * 20_000)]),
      })),
    );
    assert.deepEqual(streamed(series), sinkFold(series));
  });

  it('takes repeated times, negative values and times before 1970 as RollupFold does', () => {
    const rows: [number, number][] = [[-90_000_000, 1.5], [-60_000_000, -2.25], [-60_000_000, 7], [0, -0.1], [59_999_999, 3], [3_600_000_000, -8]];
    const series = [{ device: 'd', metric: 'm', rows }];
    const got = streamed(series);
    assert.deepEqual(got, sinkFold(series));
    assert.deepEqual(got.map((l) => l.length), [4, 3, 2]);
  });

  it('refuses rows that go back in time instead of splitting a bucket in two', () => {
    const fold = new SeriesFold('d', 'm', [[], [], []]);
    fold.add(120_000_000, 1);
    assert.throws(() => fold.add(0, 2), RangeError);
  });
});

describe('valueAt', () => {
  it('is a pure function of device, metric and time with two decimals', () => {
    const t = Date.UTC(2026, 5, 1);
    assert.equal(valueAt(3, 1, t), valueAt(3, 1, t));
    assert.notEqual(valueAt(3, 1, t), valueAt(4, 1, t));
    for (let i = 0; i < 1000; i++) {
      const v = valueAt(i % 7, i % 3, t + i * 60_000);
      assert.equal(Math.round(v * 100) / 100, v);
    }
  });
});
