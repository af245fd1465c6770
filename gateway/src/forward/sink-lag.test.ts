// The sink-lag watch with a fake offset reader on an injected clock: it bounds the backlog by what
// the sink has not stored, allows while it knows nothing, falls back (logged once) when the offsets
// cannot be read, and reads nothing while no backlog asks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { SinkLagWatch, type CommittedReader } from './sink-lag.js';

function fakeReader(answer: { offset: number | null; error?: string }, calls: { n: number }): () => CommittedReader {
  return () => ({
    committed: async () => {
      calls.n++;
      if (answer.error) throw new Error(answer.error);
      return answer.offset;
    },
    close: async () => undefined,
  });
}

function capture(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  return { lines, log: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }) as unknown as Logger };
}

describe('SinkLagWatch', () => {
  it('allows backlog while the sink is fewer than maxLagBatches messages behind, counting those in flight', async () => {
    const clock = { t: 0 };
    const answer = { offset: 100 as number | null };
    const calls = { n: 0 };
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 10, pollMs: 100, reader: fakeReader(answer, calls), log: capture().log, clock: () => clock.t });
    assert.equal(w.allows(0), true, 'nothing delivered yet: the partition is unknown');
    w.delivered(2, 104);
    await w.poll();
    assert.equal(w.status().state, 'ok');
    assert.equal(w.lag(), 5); // offsets 100..104 not stored
    assert.equal(w.allows(4), true);
    assert.equal(w.allows(5), false, '5 stored-to-be plus 5 in flight reach the bound');
    w.delivered(2, 112);
    assert.equal(w.allows(0), false, '13 behind');
    answer.offset = 110;
    await w.poll();
    assert.equal(w.lag(), 3);
    assert.equal(w.allows(0), true, 'the sink caught up');
    assert.deepEqual(
      { ...w.status(), checkedMs: null },
      { state: 'ok', group: 'g', partition: 2, lastOffset: 112, committedOffset: 110, lagBatches: 3, maxLagBatches: 10, lastError: '', checkedMs: null },
    );
  });

  it('falls back to allowing when the offsets cannot be read, says so in its status and logs it once', async () => {
    const clock = { t: 0 };
    const answer: { offset: number | null; error?: string } = { offset: null, error: 'Broker: Group authorization failed' };
    const calls = { n: 0 };
    const { lines, log } = capture();
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 1, pollMs: 100, reader: fakeReader(answer, calls), log, clock: () => clock.t });
    w.delivered(0, 1_000);
    assert.equal(w.allows(0), true);
    await w.poll();
    await w.poll();
    await w.poll();
    assert.equal(calls.n, 3, 'it keeps trying');
    assert.equal(w.status().state, 'unavailable');
    assert.match(w.status().lastError, /authorization/);
    assert.equal(w.allows(0), true, 'the in-flight window alone bounds the backlog');
    assert.equal(lines.filter((l) => l.includes('cannot read the sink group')).length, 1, 'logged once');
    delete answer.error;
    answer.offset = 1_001;
    await w.poll();
    assert.equal(w.status().state, 'ok');
    assert.equal(w.allows(0), true);
    assert.equal(lines.filter((l) => l.includes('readable again')).length, 1);
  });

  it('a group with no committed offset, or a bound of 0, holds nothing back', async () => {
    const calls = { n: 0 };
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 2, pollMs: 100, reader: fakeReader({ offset: null }, calls), log: capture().log, clock: () => 0 });
    w.delivered(0, 50);
    w.allows(0);
    await w.poll();
    assert.equal(w.status().state, 'no-offset');
    assert.equal(w.allows(0), true);
    const off = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 0, pollMs: 100, reader: fakeReader({ offset: 0 }, calls), log: capture().log, clock: () => 0 });
    off.delivered(0, 50);
    assert.equal(off.status().state, 'off');
    assert.equal(off.allows(1_000), true);
  });

  it('reads nothing while no backlog asks (a gateway without backlog opens no extra connection)', async () => {
    const clock = { t: 0 };
    const calls = { n: 0 };
    let made = 0;
    const reader = fakeReader({ offset: 0 }, calls);
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 5, pollMs: 100, reader: () => (made++, reader()), log: capture().log, clock: () => clock.t });
    w.delivered(0, 10);
    clock.t = 60_000;
    await w.poll();
    assert.equal(made, 0, 'no reader made');
    assert.equal(calls.n, 0);
    w.allows(0);
    await w.poll();
    assert.equal(calls.n, 1);
    clock.t += 10_000;
    await w.poll();
    assert.equal(calls.n, 1, 'idle again after a quiet spell');
  });
});
