// The outbox's two lanes (outbox.ts LeaseOptions) on a real SQLite file with an injected clock:
// live readings are leased ahead of a backlog, each lane leases in id order (so per-device order
// holds within it), and ack, restart, eviction and export keep working with gaps between leases.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeBatch, Header, v1, type Reading } from '../../../proto/src/wire.js';
import { encodeLeasedBatch } from '../forward/encode.js';
import type { LeasedBatch } from './outbox.js';
import { SqliteOutbox, type SqliteOutboxOptions } from './sqlite-outbox.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-lanes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WINDOW = 5_000;
const live = { lane: 'live', liveWindowMs: WINDOW } as const;
const backlog = { lane: 'backlog', liveWindowMs: WINDOW } as const;

function reading(deviceId: string, n: number): Reading {
  return { deviceId, tsMs: 1_700_000_000_000 + n, metrics: { seq: n }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT };
}

/** (device, seq) of each reading in the batch, in batch order. */
function contents(b: LeasedBatch): string[] {
  return b.readings.map((r) => {
    const d = v1.Reading.decode(r);
    return `${d.deviceId}:${d.metrics.seq}`;
  });
}

function seqsOf(b: LeasedBatch): number[] {
  return b.readings.map((r) => v1.Reading.decode(r).metrics.seq as number);
}

let files = 0;
function open(clock: { t: number }, extra: Partial<SqliteOutboxOptions> = {}, name = `lanes-${++files}`): SqliteOutbox {
  return new SqliteOutbox({ path: join(dir, `${name}.db`), synchronous: 'NORMAL', clock: () => clock.t, ...extra });
}

/** Appends readings n = from..to (device by n's parity), committed at the clock's time. */
async function fill(o: SqliteOutbox, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await o.append([reading(n % 2 ? 'odd' : 'even', n)]);
}

describe('outbox lanes: live first during a drain', () => {
  it('leases live readings ahead of the backlog, each batch flagged by its lane', async () => {
    const clock = { t: 1_000_000 };
    const o = open(clock);
    try {
      await fill(o, 1, 100); // the outage's backlog
      clock.t += 60_000;
      await fill(o, 101, 110); // just arrived
      const l = o.lease(1_000, live)!;
      assert.deepEqual(seqsOf(l), range(101, 110), 'the live lane takes only what arrived within the window');
      assert.equal(l.backlog, false);
      assert.equal(o.lease(1_000, live), null, 'nothing more is live');
      const b = o.lease(30, backlog)!;
      assert.deepEqual(seqsOf(b), range(1, 30), 'the backlog lane starts at the oldest');
      assert.equal(b.backlog, true);
      await fill(o, 111, 115);
      assert.deepEqual(seqsOf(o.lease(1_000, live)!), range(111, 115), 'new live readings go at once, the backlog still waiting');
      const rest = o.lease(1_000, backlog)!;
      assert.deepEqual(seqsOf(rest), range(31, 100), 'the backlog lane stops where the live lane took over');
      assert.equal(o.lease(1_000, backlog), null, 'and has nothing left');
      assert.equal(o.stats().leasedBatches, 4);
    } finally {
      o.close();
    }
  });

  it('with nothing backlogged the live lane is the one lane, leasing exactly what a plain lease would', async () => {
    const clock = { t: 2_000_000 };
    const a = open(clock);
    const b = open(clock);
    try {
      for (let round = 0; round < 5; round++) {
        await fill(a, round * 20 + 1, round * 20 + 20);
        await fill(b, round * 20 + 1, round * 20 + 20);
        clock.t += 100;
        const x = a.lease(7, live)!;
        const y = b.lease(7)!;
        assert.deepEqual(contents(x), contents(y));
        assert.equal(x.backlog, false);
        assert.equal(y.backlog, false);
        assert.equal(a.lease(1_000, backlog), null, 'no backlog: the backlog lane leases nothing');
        a.ack(x.seq);
        b.ack(y.seq);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it('keeps per-device order within each lane, whichever lane goes first', async () => {
    const clock = { t: 3_000_000 };
    const o = open(clock);
    const lanes: Record<'live' | 'backlog', string[]> = { live: [], backlog: [] };
    try {
      await fill(o, 1, 200);
      let n = 200;
      // Live readings keep arriving while the backlog drains in small batches, acked out of order.
      for (let step = 0; step < 40; step++) {
        clock.t += WINDOW + 1; // whatever the live lane did not take by now is backlog
        await fill(o, n + 1, n + 5);
        n += 5;
        const got: LeasedBatch[] = [];
        const l = step % 3 === 0 ? null : o.lease(3, live); // sometimes the live lane is busy
        if (l) got.push(l);
        const b = o.lease(4, backlog);
        if (b) got.push(b);
        for (const x of got) lanes[x.backlog ? 'backlog' : 'live'].push(...contents(x));
        for (const x of got.reverse()) o.ack(x.seq);
      }
      clock.t += WINDOW + 1;
      for (let b = o.lease(50, backlog); b; b = o.lease(50, backlog)) {
        lanes.backlog.push(...contents(b));
        o.ack(b.seq);
      }
      assert.equal(o.stats().depthMessages, 0, 'everything was leased once the clock moved on');
      const all = [...lanes.live, ...lanes.backlog];
      assert.equal(all.length, n, 'each reading leased once');
      assert.equal(new Set(all).size, n, 'never twice');
      assert.ok(lanes.live.length > 0 && lanes.backlog.length > 0, 'both lanes were used');
      for (const [lane, list] of Object.entries(lanes)) {
        for (const device of ['odd', 'even']) {
          const s = list.filter((x) => x.startsWith(`${device}:`)).map((x) => Number(x.split(':')[1]));
          assert.deepEqual(s, [...s].sort((p, q) => p - q), `${device} in order within the ${lane} lane`);
        }
      }
    } finally {
      o.close();
    }
  });

  it('a live reading the live lane did not take within the window is left to the backlog lane', async () => {
    const clock = { t: 4_000_000 };
    const o = open(clock);
    try {
      await fill(o, 1, 10);
      assert.deepEqual(seqsOf(o.lease(1_000, live)!), range(1, 10), 'fresh: live');
      await fill(o, 11, 20);
      clock.t += WINDOW + 1;
      await fill(o, 21, 25);
      assert.deepEqual(seqsOf(o.lease(1_000, live)!), range(21, 25), 'the live lane skips what aged');
      const b = o.lease(1_000, backlog)!;
      assert.deepEqual(seqsOf(b), range(11, 20));
      assert.equal(b.backlog, true);
    } finally {
      o.close();
    }
  });

  it('the plain lease (liveFirst off, outbox export) takes the oldest first and flags it by age', async () => {
    const clock = { t: 5_000_000 };
    const o = open(clock);
    try {
      await fill(o, 1, 10);
      clock.t += 60_000;
      await fill(o, 11, 20);
      const a = o.lease(10, { liveWindowMs: WINDOW })!;
      assert.deepEqual(seqsOf(a), range(1, 10));
      assert.equal(a.backlog, true);
      const b = o.lease(10, { liveWindowMs: WINDOW })!;
      assert.deepEqual(seqsOf(b), range(11, 20));
      assert.equal(b.backlog, false);
    } finally {
      o.close();
    }
  });

  it('after a restart, batches of both lanes are resent with their seqs, content and flag; nothing is leased twice', async () => {
    const clock = { t: 6_000_000 };
    const name = 'restart';
    const a = open(clock, {}, name);
    await fill(a, 1, 100);
    clock.t += 60_000;
    await fill(a, 101, 120);
    const l1 = a.lease(10, live)!;
    const b1 = a.lease(30, backlog)!;
    const l2 = a.lease(10, live)!;
    a.ack(l1.seq);
    a.close();

    const b = open(clock, {}, name);
    try {
      const unacked = b.unacked();
      assert.deepEqual(unacked.map((x) => [x.seq, x.backlog, contents(x)]), [b1, l2].map((x) => [x.seq, x.backlog, contents(x)]));
      await fill(b, 121, 125);
      assert.deepEqual(seqsOf(b.lease(1_000, live)!), range(121, 125), 'the live lane resumes after its last lease');
      assert.deepEqual(seqsOf(b.lease(1_000, backlog)!), range(31, 100), 'the backlog lane after its in-flight batch');
      assert.equal(b.lease(1_000, live), null);
      assert.equal(b.lease(1_000, backlog), null);
      assert.equal(b.lease(1_000), null, 'nor does a plain lease find anything: no row is leased twice');
    } finally {
      b.close();
    }
  });

  it('at the bound, drop-oldest evicts the oldest unleased rows around leased batches of both lanes, never a leased one', async () => {
    const clock = { t: 7_000_000 };
    const evicted: number[] = [];
    const o = open(clock, { maxMessages: 100, onFull: 'drop-oldest', onEvict: (m) => m.forEach((n) => evicted.push(n)) });
    try {
      await fill(o, 1, 60);
      const b1 = o.lease(10, { liveWindowMs: WINDOW })!; // 1..10 in flight (was live when leased)
      clock.t += 60_000;
      await fill(o, 61, 90);
      const l1 = o.lease(10, live)!; // 61..70 in flight, a gap 11..60 below it
      assert.deepEqual(seqsOf(l1), range(61, 70));
      await fill(o, 91, 130); // 30 over the bound
      assert.ok(o.stats().depthMessages <= 100, `depth ${o.stats().depthMessages}`);
      const left: number[] = [...seqsOf(b1), ...seqsOf(l1)];
      o.ack(b1.seq);
      o.ack(l1.seq);
      clock.t += 60_000;
      for (let b = o.lease(1_000); b; b = o.lease(1_000)) {
        left.push(...seqsOf(b));
        o.ack(b.seq);
      }
      const missing = range(1, 130).filter((n) => !left.includes(n));
      assert.ok(missing.length >= 30, `${missing.length} evicted`);
      assert.deepEqual(missing, range(11, 10 + missing.length), 'the oldest unleased rows went, from the gap between the leases');
      assert.equal(evicted.reduce((s, n) => s + n, 0), missing.length, 'each counted');
      assert.equal(o.stats().depthMessages, 0);
    } finally {
      o.close();
    }
  });

  it('an export sees both lanes\' leases, each encoded with its lane in the field and the header', async () => {
    const clock = { t: 8_000_000 };
    const o = open(clock);
    try {
      await fill(o, 1, 10);
      clock.t += 60_000;
      await fill(o, 11, 12);
      const l = o.lease(100, live)!;
      const b = o.lease(100, backlog)!;
      const seen = o.withUnacked((batches, readingsOf) => batches.map((x) => encodeLeasedBatch('gw', { ...x, readings: readingsOf(x.seq) })));
      assert.deepEqual(seen.map((m) => m.headers[Header.lane]), ['live', 'backlog']);
      assert.deepEqual(seen.map((m) => decodeBatch(m.value).backlog), [false, true]);
      assert.deepEqual(seen.map((m) => Number(m.headers[Header.batchSeq])), [l.seq, b.seq]);
      // The wire keeps each device's order (columns group a batch by device), not the order across devices.
      const seqs = (device: string) => decodeBatch(seen[1]!.value).readings.filter((r) => r.deviceId === device).map((r) => r.metrics!.seq);
      assert.deepEqual(seqs('odd'), range(1, 10).filter((n) => n % 2 === 1));
      assert.deepEqual(seqs('even'), range(1, 10).filter((n) => n % 2 === 0));
    } finally {
      o.close();
    }
  });

  it('finds the live edge at the end of a large backlog (the binary search over ids)', async () => {
    const clock = { t: 9_000_000 };
    const o = open(clock, { groupCommitMaxRows: 5_000 });
    try {
      const many = Array.from({ length: 200_000 }, (_, i) => reading('d', i + 1));
      await o.append(many);
      clock.t += 60_000;
      await o.append([reading('d', 200_001)]);
      const l = o.lease(10, live)!;
      assert.deepEqual(seqsOf(l), [200_001]);
      assert.equal(o.lease(10, live), null);
      assert.deepEqual(seqsOf(o.lease(3, backlog)!), [1, 2, 3]);
    } finally {
      o.close();
    }
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
