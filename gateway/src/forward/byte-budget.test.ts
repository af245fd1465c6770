// The backlog's byte budget on an injected clock: the rate holds on average whatever the batch
// sizes, a batch larger than a second's worth still goes (then waits off its debt), and idle time
// saves up at most the burst.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBudget } from './byte-budget.js';

describe('ByteBudget', () => {
  it('0 means no cap', () => {
    const b = new ByteBudget(0, 0);
    b.spend(1e12, 0);
    assert.equal(b.mayGo(0), true);
    assert.equal(b.waitMs(0), 0);
  });

  it('holds the average rate over uneven batches, within one batch of the exact figure', () => {
    const rate = 10_000;
    const b = new ByteBudget(rate, 0);
    const sizes = [3_000, 25_000, 700, 12_000, 9_999];
    let sent = 0;
    let t = 0;
    const end = 60_000;
    for (let i = 0; t <= end; t += 10) {
      if (!b.mayGo(t)) continue;
      const n = sizes[i++ % sizes.length]!;
      b.spend(n, t);
      sent += n;
    }
    const allowed = rate * (end / 1000) + rate; // the rate over the minute, plus the initial burst
    assert.ok(sent <= allowed + 25_000, `${sent} bytes sent, at most ${allowed} + one batch`);
    assert.ok(sent >= allowed - 25_000, `${sent} bytes sent, at least ${allowed} less one batch: the cap does not starve`);
  });

  it('a batch larger than a second\'s worth goes, and the next waits until the debt is paid', () => {
    const b = new ByteBudget(1_000, 0);
    assert.equal(b.mayGo(0), true);
    b.spend(5_000, 0); // 1,000 saved, 4,000 in debt
    assert.equal(b.mayGo(0), false);
    assert.equal(b.waitMs(0), 4_001);
    assert.equal(b.mayGo(3_999), false);
    assert.equal(b.mayGo(4_001), true);
  });

  it('a clock stepping back takes nothing away, and idle time saves up only the burst', () => {
    const b = new ByteBudget(1_000, 10_000);
    b.spend(1_000, 10_000);
    assert.equal(b.mayGo(5_000), false, 'back in time: still in no credit');
    assert.equal(b.mayGo(10_500), true);
    b.spend(500, 10_500);
    assert.equal(b.mayGo(1_000_000), true);
    b.spend(1_000, 1_000_000);
    assert.equal(b.mayGo(1_000_000), false, 'a long idle spell saved one second\'s worth, no more');
  });
});
