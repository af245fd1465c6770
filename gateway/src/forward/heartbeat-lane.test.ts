// The heartbeat lane against a real SQLite outbox and a stand-in for librdkafka's producer whose
// delivery reports the test gives by hand: what waits while the link is down, what goes when it
// comes back, and that no more than one heartbeat is ever in the producer's hands.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { decodeHeartbeat, type Heartbeat } from '../../../proto/src/wire.js';
import { Metrics } from '../metrics.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { HEARTBEAT_STAGE, HeartbeatLane, type HeartbeatLink, type HeartbeatProducer } from './heartbeat-lane.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-heartbeat-lane-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;

interface Produced {
  topic: string;
  hb: Heartbeat;
  opaque: unknown;
}

class FakeProducer {
  readonly produced: Produced[] = [];
  refuse: string | null = null;

  produce(topic: string, _partition: null, value: Buffer, _key: string, _ts: number, opaque: unknown): void {
    if (this.refuse) throw new Error(this.refuse);
    this.produced.push({ topic, hb: decodeHeartbeat(value), opaque });
  }
}

class FakeLink implements HeartbeatLink {
  ready = false;
  producer: HeartbeatProducer | null;
  constructor(readonly fake = new FakeProducer()) {
    this.producer = fake as unknown as HeartbeatProducer;
  }
}

/** A lane on its own outbox file; `tick()` stands in for the timer, which is set an hour apart. */
function setup(name: string, opts: { link?: FakeLink; build?: () => Promise<Heartbeat> } = {}) {
  const outbox = new SqliteOutbox({ path: join(dir, `${name}.db`) });
  const metrics = new Metrics();
  const link = opts.link ?? new FakeLink();
  let n = 0;
  let clock = T0;
  const build = opts.build ?? (async (): Promise<Heartbeat> => ({ gatewayId: 'gw-1', tsMs: T0 + ++n, uptimeS: n, intervalMs: 3_600_000 }));
  const lane = new HeartbeatLane({
    topic: 'iot.heartbeats', intervalMs: 3_600_000, reportTimeoutMs: 40_000, link, slot: outbox, metrics, log: pino({ level: 'silent' }),
    clock: () => clock,
  });
  const internals = lane as unknown as { tick(): Promise<void> };
  return {
    outbox, metrics, link, lane, build,
    produced: link.fake.produced,
    tick: () => internals.tick(),
    advance: (ms: number) => (clock += ms),
    count: (kind: 'received' | 'sent' | 'dropped' | 'errors') => metrics.get(HEARTBEAT_STAGE, kind),
    waitingTs: () => {
      const hb = outbox.waitingHeartbeat();
      return hb ? Number(hb.tsMs) : null;
    },
    report: (i: number, err: string | null = null) => lane.onDelivery(err ? { message: err } : null, link.fake.produced[i]!.opaque),
    close: () => {
      lane.stop();
      outbox.close();
    },
  };
}

/** Lets the lane's awaited builds finish (they are promises, not timers). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('heartbeat lane', () => {
  it('while the link is down every heartbeat replaces the one waiting: one in the slot, none produced, none an error', async () => {
    const t = setup('down');
    t.lane.start(t.build);
    await settle();
    for (let i = 0; i < 99; i++) await t.tick();
    assert.equal(t.produced.length, 0);
    assert.equal(t.waitingTs(), T0 + 100, 'the newest of 100 waits');
    assert.equal(t.count('received'), 100);
    assert.equal(t.count('dropped'), 99, 'each replaced one is dropped');
    assert.equal(t.count('errors'), 0, 'waiting is not failing');
    assert.equal(t.lane.status().waitingTsMs, T0 + 100);
    t.close();
  });

  it('when the link comes up a fresh heartbeat goes at once, not the one that waited, and its delivery empties the slot', async () => {
    const t = setup('up');
    t.lane.start(t.build);
    await settle();
    for (let i = 0; i < 9; i++) await t.tick();
    t.link.ready = true;
    t.lane.linkUp();
    await settle();
    assert.equal(t.produced.length, 1);
    const sent = t.produced[0]!;
    assert.equal(sent.topic, 'iot.heartbeats');
    assert.equal(Number(sent.hb.tsMs), T0 + 11, 'built after the link came up');
    assert.equal(sent.hb.delayed, false);
    assert.equal(t.waitingTs(), T0 + 10, 'what waited stays until the fresh one is confirmed');
    t.report(0);
    assert.equal(t.waitingTs(), null);
    assert.equal(t.count('sent'), 1);
    assert.equal(t.count('dropped'), 10, 'nine replaced, the last superseded by the fresh one');
    await t.tick();
    assert.equal(t.produced.length, 2, 'then one per tick');
    t.close();
  });

  it('while one heartbeat awaits its delivery report (broker gone, producer still connected), newer ones wait in the slot, not in the producer', async () => {
    const t = setup('stuck');
    t.link.ready = true;
    t.lane.start(t.build);
    await settle();
    assert.equal(t.produced.length, 1);
    for (let i = 0; i < 50; i++) {
      await t.tick();
      assert.ok(t.lane.status().inQueue <= 1);
    }
    assert.equal(t.produced.length, 1, 'one in the producer however many ticks pass');
    assert.equal(t.waitingTs(), T0 + 51);
    // The broker is back: librdkafka delivers the one it held, and the lane follows with a fresh one.
    t.report(0);
    await settle();
    assert.equal(t.produced.length, 2);
    assert.equal(Number(t.produced[1]!.hb.tsMs), T0 + 52);
    t.report(1);
    assert.equal(t.waitingTs(), null);
    assert.deepEqual([t.count('received'), t.count('sent'), t.count('dropped'), t.count('errors')], [52, 2, 50, 0]);
    t.close();
  });

  it('a failed delivery or a refused produce is an error, and the heartbeat waits for the next chance', async () => {
    const t = setup('failed');
    t.link.ready = true;
    t.lane.start(t.build);
    await settle();
    t.report(0, 'Local: Message timed out');
    assert.equal(t.count('errors'), 1);
    assert.equal(t.waitingTs(), T0 + 1);
    assert.equal(t.produced.length, 1, 'no retry in a tight loop: the next tick sends');
    t.link.fake.refuse = 'Local: Queue full';
    await t.tick();
    assert.equal(t.count('errors'), 2);
    assert.equal(t.waitingTs(), T0 + 2, 'the refused one is newer, so it waits instead');
    t.link.fake.refuse = null;
    await t.tick();
    assert.equal(t.produced.length, 2);
    t.report(1);
    assert.equal(t.waitingTs(), null);
    assert.deepEqual([t.count('received'), t.count('sent'), t.count('dropped')], [3, 1, 2]);
    t.close();
  });

  it('a heartbeat whose report never comes (its producer replaced after a fatal error) does not hold the lane', async () => {
    const t = setup('replaced');
    t.link.ready = true;
    t.lane.start(t.build);
    await settle();
    const second = new FakeProducer();
    t.link.producer = second as unknown as HeartbeatProducer;
    await t.tick();
    assert.equal(t.count('errors'), 1);
    assert.equal(second.produced.length, 1, 'the new producer got the next one');
    t.report(0);
    assert.equal(t.count('sent'), 0, 'a report for the abandoned one changes nothing');
    t.close();
  });

  it('after a restart the previous run\'s last heartbeat goes first, once, marked delayed; then a fresh one', async () => {
    const first = setup('restart');
    first.lane.start(first.build);
    await settle();
    for (let i = 0; i < 4; i++) await first.tick();
    first.close();

    const t = setup('restart', {
      build: async () => ({ gatewayId: 'gw-1', tsMs: T0 + 1_000, uptimeS: 1, intervalMs: 3_600_000 }),
    });
    t.lane.start(t.build);
    await settle();
    assert.equal(t.lane.status().inheritedTsMs, T0 + 5);
    assert.equal(t.produced.length, 0, 'link down');
    t.link.ready = true;
    t.lane.linkUp();
    await settle();
    assert.equal(t.produced.length, 1);
    assert.deepEqual([Number(t.produced[0]!.hb.tsMs), t.produced[0]!.hb.uptimeS, t.produced[0]!.hb.delayed], [T0 + 5, 5, true]);
    t.report(0);
    await settle();
    assert.equal(t.produced.length, 2);
    assert.deepEqual([Number(t.produced[1]!.hb.tsMs), t.produced[1]!.hb.delayed], [T0 + 1_000, false]);
    t.report(1);
    assert.equal(t.waitingTs(), null);
    assert.equal(t.lane.status().inheritedTsMs, null);
    t.close();
  });

  it('when no fresh heartbeat can be built, the one waiting is sent instead, marked delayed', async () => {
    let broken = false;
    let n = 0;
    const t = setup('no-fresh', {
      build: async () => {
        if (broken) throw new Error('host sample failed');
        return { gatewayId: 'gw-1', tsMs: T0 + ++n, uptimeS: n };
      },
    });
    t.lane.start(t.build);
    await settle();
    await t.tick();
    broken = true;
    t.link.ready = true;
    t.lane.linkUp();
    await settle();
    assert.equal(t.produced.length, 1);
    assert.deepEqual([Number(t.produced[0]!.hb.tsMs), t.produced[0]!.hb.delayed], [T0 + 2, true]);
    t.report(0);
    assert.equal(t.waitingTs(), null);
    assert.equal(t.count('dropped'), 1, 'only the one it replaced');
    t.close();
  });

  it('a slot that throws (a damaged disk) costs the heartbeat its durability, never the process', async () => {
    const link = new FakeLink();
    const metrics = new Metrics();
    let n = 0;
    const lane = new HeartbeatLane({
      topic: 'iot.heartbeats', intervalMs: 3_600_000, reportTimeoutMs: 40_000, link, metrics, log: pino({ level: 'silent' }),
      slot: {
        keepHeartbeat: () => { throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }); },
        waitingHeartbeat: () => null,
        clearHeartbeat: () => { throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }); },
      },
    });
    lane.start(async () => ({ gatewayId: 'gw-1', tsMs: T0 + ++n }));
    await settle();
    assert.equal(lane.status().waitingTsMs, T0 + 1, 'it waits in memory');
    link.ready = true;
    lane.linkUp();
    await settle();
    assert.equal(link.fake.produced.length, 1);
    lane.onDelivery(null, link.fake.produced[0]!.opaque);
    assert.equal(lane.status().waitingTsMs, null);
    assert.equal(metrics.get(HEARTBEAT_STAGE, 'sent'), 1);
    lane.stop();
  });

  it('a heartbeat still unreported when the gateway stops waits in the slot for the next run', async () => {
    const t = setup('stop');
    t.link.ready = true;
    t.lane.start(t.build);
    await settle();
    t.lane.stop();
    t.lane.abandonPending();
    assert.equal(t.waitingTs(), T0 + 1);
    t.outbox.close();
  });
});
