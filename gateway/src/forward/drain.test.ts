import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DrainMeter } from './drain.js';

describe('drain progress', () => {
  it('gives rates over the window and the time to empty at the net rate', () => {
    const m = new DrainMeter(10_000);
    for (let t = 0; t <= 20; t++) m.sample(t * 1000, t * 10_000, t * 1_000);
    const p = m.progress(90_000);
    assert.equal(p.sentPerSecond, 10_000);
    assert.equal(p.inPerSecond, 1_000);
    assert.equal(p.etaS, 10, '90,000 readings at 9,000/s net');
  });

  it('has no ETA while the backlog grows (cloud down), and zero when empty', () => {
    const m = new DrainMeter(10_000);
    for (let t = 0; t <= 5; t++) m.sample(t * 1000, 0, t * 1_000);
    assert.equal(m.progress(5_000).etaS, null);
    assert.equal(m.progress(0).etaS, 0);
    assert.deepEqual(new DrainMeter().progress(10), { sentPerSecond: 0, inPerSecond: 0, etaS: null });
  });

  it('forgets samples older than the window', () => {
    const m = new DrainMeter(5_000);
    for (let t = 0; t <= 10; t++) m.sample(t * 1000, t < 5 ? 0 : (t - 5) * 2_000, 0);
    assert.equal(m.progress(1).sentPerSecond, 2_000);
  });
});
