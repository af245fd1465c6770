// Issue 15, acceptance 1: a gateway starts on an outbox holding a large backlog (an outage's worth,
// committed ten minutes ago) while devices publish 1,000 readings/s live. Real Kafka, the real
// gateway and sink processes, PostgreSQL 15 (bench/drain-live.ts runs it and measures). Live
// readings reach the database with p99 ≤ 2 s while the backlog drains, and every acknowledged
// reading, backlog and live, is stored exactly once, row by row.
//
// The backlog is 300,000 readings (FIELDLINE_LIVE_FIRST_BACKLOG sets another size; the soak run
// FIELDLINE_SOAK=1 uses 10,000,000). FIELDLINE_LIVE_FIRST_CONTROL=1 runs the same with
// forward.liveFirst off and expects the p99 over 2 s: the control that shows this test can fail.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchDrainLive } from '../../bench/drain-live.js';
import { SOAK } from './gateway-support.js';

const BACKLOG = Number(process.env.FIELDLINE_LIVE_FIRST_BACKLOG ?? 0) || (SOAK ? 10_000_000 : 300_000);
const CONTROL = process.env.FIELDLINE_LIVE_FIRST_CONTROL === '1';

describe('gateway: live first while a backlog drains', () => {
  const liveFirst = !CONTROL;
  it(`${BACKLOG} backlog readings and 1,000 live readings/s: live p99 ${liveFirst ? '≤' : '>'} 2 s (liveFirst ${liveFirst}), nothing lost or doubled`, async (t) => {
    const r = await benchDrainLive({ readings: BACKLOG, liveFirst, timeoutMs: SOAK ? 3_600_000 : 240_000, log: (l) => t.diagnostic(l) });
    t.diagnostic(`gateway lanes at the end of the drain: ${JSON.stringify(r.lanes)}`);
    t.diagnostic(
      `live latency over ${r.latency.samples} probe readings during a ${r.drainSeconds.toFixed(1)} s drain: ` +
        `p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms; drain ≈ ${r.drainReadingsPerSecond} readings/s; ` +
        `${r.checkedMessages} acknowledged messages checked row by row; slowest ${JSON.stringify(r.slowest)}`,
    );
    assert.ok(r.latency.samples >= 50, `only ${r.latency.samples} probe readings during the drain: the backlog drained too fast to measure anything`);
    if (liveFirst) assert.ok(r.latency.p99 <= 2_000, `live p99 ${r.latency.p99} ms > 2 s`);
    else assert.ok(r.latency.p99 > 2_000, `without liveFirst the live p99 was ${r.latency.p99} ms: this test could not tell the lanes apart`);
    assert.equal(r.lost, 0, 'acknowledged readings missing from the database');
    assert.equal(r.doubled, 0, 'acknowledged readings stored twice');
    assert.ok(r.checkedMessages >= BACKLOG / 4, `${r.checkedMessages} messages checked`);
  });
});
