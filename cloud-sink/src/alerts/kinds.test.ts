import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anomalyStep, qualityStep, rateStep, thresholdStep, type AnomalyState, type QualityState, type RateState, type ThresholdState, type Verdict } from './kinds.js';
import { PARAMS, type ParamsOf } from './rule.js';

/** Feeds values one second apart through a step, tracking the alert state as the evaluator would. */
function run<S>(state: S, step: (s: S, firing: boolean, ts: number, v: number) => Verdict, values: number[]): string[] {
  let firing = false;
  const out: string[] = [];
  values.forEach((v, i) => {
    const verdict = step(state, firing, i * 1000, v);
    if (verdict.holds === true && !firing) {
      firing = true;
      out.push(`fire@${i}`);
    } else if (verdict.holds === false && firing) {
      firing = false;
      out.push(`resolve@${i}`);
    }
  });
  return out;
}

const params = <K extends keyof typeof PARAMS>(kind: K, p: unknown): ParamsOf<K> => PARAMS[kind].parse(p) as ParamsOf<K>;

describe('threshold', () => {
  const th = (p: unknown) => (s: ThresholdState, firing: boolean, ts: number, value: number) => thresholdStep(s, params('threshold', p), firing, { ts, value });

  it('fires once over the level, does not flap between the clear and fire levels, resolves under the clear level', () => {
    const events = run({ pendingSince: null }, th({ op: 'above', value: 30, clear: 25 }), [20, 31, 29, 26, 31, 27, 24, 26, 29]);
    assert.deepEqual(events, ['fire@1', 'resolve@6']);
  });

  it('"below" mirrors it', () => {
    assert.deepEqual(run({ pendingSince: null }, th({ op: 'below', value: 5, clear: 8 }), [10, 4, 6, 7, 4, 9]), ['fire@1', 'resolve@5']);
  });

  it('with for_s, fires only once the value stayed over the level that long, dated from when it crossed', () => {
    const s: ThresholdState = { pendingSince: null };
    const step = th({ op: 'above', value: 10, for_s: 3 });
    assert.equal(step(s, false, 0, 11).holds, null);
    assert.equal(step(s, false, 2000, 12).holds, null);
    const v = step(s, false, 3000, 12);
    assert.equal(v.holds, true);
    assert.equal(v.since, 0);
    // A dip resets the wait.
    const s2: ThresholdState = { pendingSince: null };
    assert.deepEqual(run(s2, step, [11, 11, 9, 11, 11, 11, 11]), ['fire@6']);
  });
});

describe('rate of change', () => {
  it('fires when the change per second over the window passes the limit and resolves when it calms', () => {
    const step = (s: RateState, firing: boolean, ts: number, value: number) => rateStep(s, params('rate', { op: 'above', value: 2, window_s: 3 }), firing, { ts, value });
    // Steady, then rising 5 per second, then flat again.
    const events = run({ window: [] }, step, [10, 10, 10, 10, 15, 20, 25, 25, 25, 25, 25]);
    assert.equal(events[0], 'fire@5');
    assert.ok(events[1]?.startsWith('resolve@'), `resolved: ${events.join(',')}`);
    assert.equal(events.length, 2);
  });

  it('keeps only the window, plus the reading that opens it', () => {
    const s: RateState = { window: [] };
    const p = params('rate', { op: 'above', value: 100, window_s: 2 });
    for (let i = 0; i < 50; i++) rateStep(s, p, false, { ts: i * 1000, value: i });
    assert.ok(s.window.length <= 4, `window holds ${s.window.length}`);
  });
});

describe('anomaly (EWMA z-score)', () => {
  const p = params('anomaly', { z: 4, warmup: 20, alpha: 0.1 });
  const step = (s: AnomalyState, firing: boolean, ts: number, value: number) => anomalyStep(s, p, firing, { ts, value });

  it('says nothing during the warm-up, however odd the values', () => {
    const s: AnomalyState = { n: 0, mean: 0, variance: 0 };
    const verdicts = [1, 1000, -1000, 5].map((v, i) => step(s, false, i, v).holds);
    assert.deepEqual(verdicts, [null, null, null, null]);
  });

  it('fires on a spike far outside the usual noise and resolves when values are usual again', () => {
    const noise = Array.from({ length: 40 }, (_, i) => 20 + ((i * 7) % 5) / 10);
    const events = run({ n: 0, mean: 0, variance: 0 }, step, [...noise, 35, 20.2, 20.1]);
    assert.deepEqual(events, ['fire@40', 'resolve@41']);
  });
});

describe('quality', () => {
  it('fires when the share quarantined in the window passes the limit, once there are enough readings, and resolves under the clear share', () => {
    const p = params('quality', { max_quarantined_pct: 10, window_s: 100, min_readings: 10 });
    const s: QualityState = { slices: [] };
    let firing = false;
    const seen: string[] = [];
    const feed = (ts: number, kind: 'accepted' | 'quarantined') => {
      const v = qualityStep(s, p, firing, ts, kind);
      if (v.holds === true && !firing) (firing = true), seen.push(`fire@${ts}`);
      if (v.holds === false && firing) (firing = false), seen.push(`resolve@${ts}`);
    };
    // 9 readings, 5 of them quarantined: too few to judge.
    for (let i = 0; i < 4; i++) feed(i * 1000, 'accepted');
    for (let i = 4; i < 9; i++) feed(i * 1000, 'quarantined');
    assert.deepEqual(seen, []);
    feed(9_000, 'quarantined');
    assert.deepEqual(seen, ['fire@9000']);
    // 200 s of clean readings later, the bad ones have left the window.
    for (let t = 10_000; t <= 210_000; t += 1000) feed(t, 'accepted');
    assert.equal(seen.length, 2);
    assert.match(String(seen[1]), /^resolve@/);
  });
});
