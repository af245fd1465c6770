// The sink-lag watch with a fake offset reader on an injected clock: it bounds the backlog by what
// the sink has not stored, allows while it knows nothing, falls back (logged once) when the offsets
// cannot be read, reads nothing while no backlog asks, and closes its reader after a quiet minute.
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
  it('allows backlog while fewer than maxLagBatches of its backlog batches wait in the sink, counting those in flight', async () => {
    const clock = { t: 0 };
    const answer = { offset: 100 as number | null };
    const calls = { n: 0 };
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 4, pollMs: 100, reader: fakeReader(answer, calls), log: capture().log, clock: () => clock.t });
    assert.equal(w.allows(0), true, 'nothing delivered yet: the partition is unknown');
    for (let o = 100; o <= 104; o++) w.delivered(2, o, o % 2 === 0); // backlog at 100, 102, 104; live between
    await w.poll();
    assert.equal(w.status().state, 'ok');
    assert.equal(w.lag(), 3, 'the live batches are not counted');
    assert.equal(w.allows(0), true);
    assert.equal(w.allows(1), false, '3 waiting plus 1 in flight reach the bound');
    w.delivered(2, 105, false);
    assert.equal(w.allows(0), true, 'live traffic does not hold the backlog back');
    answer.offset = 103;
    await w.poll();
    assert.equal(w.lag(), 1, 'only 104 is still waiting');
    assert.deepEqual(
      { ...w.status(), checkedMs: null },
      { state: 'ok', group: 'g', partition: 2, lastOffset: 105, committedOffset: 103, lagBatches: 1, maxLagBatches: 4, lastError: '', checkedMs: null },
    );
  });

  it('falls back to allowing when the offsets cannot be read, says so in its status and logs it once', async () => {
    const clock = { t: 0 };
    const answer: { offset: number | null; error?: string } = { offset: null, error: 'Broker: Group authorization failed' };
    const calls = { n: 0 };
    const { lines, log } = capture();
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 1, pollMs: 100, reader: fakeReader(answer, calls), log, clock: () => clock.t });
    w.delivered(0, 1_000, true);
    assert.equal(w.allows(0), false, 'not read yet: the delivered batch counts as unstored');
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

  it('before the first offset, delivered backlog counts as unstored; a group with no offset for long, or a bound of 0, holds nothing back', async () => {
    const calls = { n: 0 };
    const clock = { t: 0 };
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 2, pollMs: 100, reader: fakeReader({ offset: null }, calls), log: capture().log, clock: () => clock.t });
    w.delivered(0, 50, true);
    assert.equal(w.allows(0), true);
    assert.equal(w.allows(1), false, 'not read yet: the first seconds of a drain cannot flood the partition');
    await w.poll();
    assert.equal(w.status().state, 'no-offset');
    assert.equal(w.allows(1), false, 'a sink that has not committed yet gets a grace period');
    clock.t = 60_000;
    assert.equal(w.allows(1), true, 'a group that never commits does not stall the drain');
    const off = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 0, pollMs: 100, reader: fakeReader({ offset: 0 }, calls), log: capture().log, clock: () => 0 });
    off.delivered(0, 50, true);
    assert.equal(off.status().state, 'off');
    assert.equal(off.allows(1_000), true);
  });

  it('reads nothing while no backlog asks (a gateway without backlog opens no extra connection)', async () => {
    const clock = { t: 0 };
    const calls = { n: 0 };
    let made = 0;
    const reader = fakeReader({ offset: 0 }, calls);
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 5, pollMs: 100, reader: () => (made++, reader()), log: capture().log, clock: () => clock.t });
    w.delivered(0, 10, true);
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

  it('closes its reader (a Kafka client) a minute after the backlog last asked, and makes a new one at the next drain', async () => {
    const clock = { t: 0 };
    const calls = { n: 0 };
    let made = 0;
    let closed = 0;
    const reader = fakeReader({ offset: 0 }, calls);
    const counting = (): CommittedReader => {
      made++;
      const r = reader();
      return { committed: r.committed, close: async () => void closed++ };
    };
    const w = new SinkLagWatch({ topic: 't', group: 'g', maxLagBatches: 5, pollMs: 100, reader: counting, log: capture().log, clock: () => clock.t });
    w.delivered(0, 10, true);
    w.allows(0);
    await w.poll();
    assert.deepEqual({ made, closed, open: w.readerOpen }, { made: 1, closed: 0, open: true });
    clock.t += 30_000;
    await w.poll();
    assert.deepEqual({ made, closed, open: w.readerOpen }, { made: 1, closed: 0, open: true }, 'kept through a short gap');
    clock.t += 31_000;
    await w.poll();
    // The close runs behind the poll; one turn of the loop lets it finish.
    await new Promise((done) => setImmediate(done));
    assert.equal(w.readerOpen, false);
    assert.equal(closed, 1);
    w.allows(0);
    clock.t += 1;
    w.delivered(0, 11, true);
    await w.poll();
    assert.deepEqual({ made, closed, open: w.readerOpen, reads: calls.n }, { made: 2, closed: 1, open: true, reads: 2 });
    assert.equal(w.status().state, 'ok');
    await w.stop();
    assert.equal(closed, 2, 'stop closes the open reader');
  });
});
