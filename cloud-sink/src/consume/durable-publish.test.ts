import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { DeliveredProducer, markDelivered, SyncLoop, type SyncStats } from './durable-publish.js';

type Report = (err: { message: string } | null, report: { opaque: unknown }) => void;

/** Just what DeliveredProducer touches: produce() is recorded, delivery reports are sent by hand. */
class FakeProducer {
  readonly sent: { topic: string; partition: number | null; value: Buffer | null; key: string; timestamp: number; opaque: number; headers: Kafka.MessageHeader[] }[] = [];
  disconnected = false;
  throwOnProduce: Error | null = null;
  private report: Report = () => {};

  on(event: string, cb: Report): this {
    if (event === 'delivery-report') this.report = cb;
    return this;
  }

  produce(topic: string, partition: number | null, value: Buffer | null, key: string, timestamp: number, opaque: number, headers: Kafka.MessageHeader[]): void {
    if (this.throwOnProduce) throw this.throwOnProduce;
    this.sent.push({ topic, partition, value, key, timestamp, opaque, headers });
  }

  deliver(opaque: number, err: string | null = null): void {
    this.report(err === null ? null : { message: err }, { opaque });
  }
}

function delivered(opts: { deliveryTimeoutMs?: number } = {}): { out: DeliveredProducer; fakes: FakeProducer[]; extras: Record<string, unknown>[] } {
  const fakes: FakeProducer[] = [];
  const extras: Record<string, unknown>[] = [];
  const out = new DeliveredProducer({
    kafka: {} as never,
    clientId: 'test',
    ...opts,
    now: () => 1234,
    connect: async (_kafka, _clientId, extra) => {
      extras.push(extra);
      const f = new FakeProducer();
      fakes.push(f);
      return f as unknown as Kafka.Producer;
    },
    disconnect: async (p) => {
      (p as unknown as FakeProducer).disconnected = true;
    },
  });
  return { out, fakes, extras };
}

describe('DeliveredProducer', () => {
  it('resolves each message with its own delivery report, matched by opaque, and asks librdkafka for reports', async () => {
    const { out, fakes, extras } = delivered({ deliveryTimeoutMs: 7_000 });
    await out.connect();
    assert.deepEqual(extras, [{ dr_cb: true, 'message.timeout.ms': 7_000 }]);
    const a = out.produce('t', 'k1', Buffer.from('a'), [{ h: '1' }]);
    const b = out.produce('t', 'k2', null, [], 3);
    const fake = fakes[0]!;
    assert.deepEqual(
      fake.sent.map((m) => [m.topic, m.partition, m.key, m.timestamp]),
      [
        ['t', null, 'k1', 1234],
        ['t', 3, 'k2', 1234],
      ],
    );
    fake.deliver(fake.sent[1]!.opaque, 'broker said no');
    fake.deliver(fake.sent[0]!.opaque);
    assert.equal(await a, null);
    assert.equal((await b)?.message, 'broker said no');
  });

  it('connects once and reuses the producer until closed', async () => {
    const { out, fakes } = delivered();
    const p1 = await out.connect();
    assert.equal(await out.connect(), p1);
    await out.close();
    assert.notEqual(await out.connect(), p1);
    assert.equal(fakes.length, 2);
  });

  it('fails a message whose report never comes after message.timeout.ms + 5 s', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { out } = delivered({ deliveryTimeoutMs: 1_000 });
    await out.connect();
    let settled: Error | null | undefined;
    void out.produce('t', 'k', null, []).then((r) => (settled = r));
    // A function, so the check after the first tick does not narrow what the second one reads.
    const result = (): Error | null | undefined => settled;
    t.mock.timers.tick(5_999);
    await new Promise(setImmediate);
    assert.equal(result(), undefined);
    t.mock.timers.tick(1);
    await new Promise(setImmediate);
    assert.equal(result()?.message, 'no delivery report within 6000 ms');
  });

  it('fails every pending message when closed, and disconnects the producer', async () => {
    const { out, fakes } = delivered();
    await out.connect();
    const a = out.produce('t', 'k1', null, []);
    const b = out.produce('t', 'k2', null, []);
    await out.close();
    assert.equal((await a)?.message, 'the producer was closed');
    assert.equal((await b)?.message, 'the producer was closed');
    assert.equal(fakes[0]!.disconnected, true);
  });

  it('resolves with the error produce() throws (a full queue), and fails without a producer', async () => {
    const { out, fakes } = delivered();
    assert.equal((await out.produce('t', 'k', null, []))?.message, 'the producer is not connected');
    await out.connect();
    fakes[0]!.throwOnProduce = new Error('Local: Queue full');
    assert.equal((await out.produce('t', 'k', null, []))?.message, 'Local: Queue full');
  });
});

function fakeLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = {
    info: (msg: string) => lines.push(`info ${msg}`),
    warn: (_obj: unknown, msg: string) => lines.push(`warn ${msg}`),
  } as unknown as Logger;
  return { log, lines };
}

/** A run function the test steers: each call takes the next outcome, or waits on a gate. */
function steered(): { run: () => Promise<boolean>; calls: () => number; outcomes: (boolean | Error | Promise<boolean>)[] } {
  let n = 0;
  const outcomes: (boolean | Error | Promise<boolean>)[] = [];
  return {
    outcomes,
    calls: () => n,
    run: async () => {
      n++;
      const o = outcomes.shift() ?? false;
      if (o instanceof Error) throw o;
      return o;
    },
  };
}

const running = new Set<SyncLoop>();
after(async () => {
  for (const s of running) await s.stop();
});

function loop(run: () => Promise<boolean>, over: { publishWaitMs?: number; syncMs?: number } = {}) {
  const stats: SyncStats = { state: 'stopped', failedRuns: 0, lastError: '' };
  const { log, lines } = fakeLog();
  const counts = { success: 0, error: 0, drops: 0 };
  const sync = new SyncLoop({
    run,
    syncMs: over.syncMs ?? 3_600_000,
    publishWaitMs: over.publishWaitMs ?? 2_000,
    stats,
    log,
    recoveredMessage: 'recovered',
    failedMessage: 'could not be published',
    onSuccess: () => counts.success++,
    onError: () => counts.error++,
    dropProducer: async () => {
      counts.drops++;
    },
  });
  running.add(sync);
  return { sync, stats, lines, counts };
}

describe('SyncLoop', () => {
  it('runs at start, and syncNow wakes the sleeping loop and resolves after a run that began after the call', async () => {
    const r = steered();
    const { sync, stats } = loop(r.run);
    assert.equal(stats.state, 'stopped');
    sync.start();
    assert.equal(stats.state, 'idle');
    await sync.syncNow(5_000);
    const before = r.calls();
    assert.ok(before >= 1);
    assert.equal(stats.state, 'up');
    // The loop now sleeps for an hour: only syncNow's wake can bring the next run.
    await sync.syncNow(5_000);
    assert.equal(r.calls(), before + 1);
    await sync.stop();
    assert.equal(stats.state, 'stopped');
  });

  it('runs again at once while a run says there is more', async () => {
    const r = steered();
    r.outcomes.push(true, true, false);
    const { sync } = loop(r.run);
    sync.start();
    await sync.syncNow(5_000);
    await sync.syncNow(5_000);
    assert.ok(r.calls() >= 4, `calls: ${r.calls()}`);
    await sync.stop();
  });

  it('goes down on a failed run (counted, logged once, producer dropped) and back up, logging the recovery', async () => {
    const r = steered();
    // The run start() begins, then one per syncNow.
    r.outcomes.push(new Error('kafka gone'), new Error('kafka still gone'));
    const { sync, stats, lines, counts } = loop(r.run);
    sync.start();
    await sync.syncNow(5_000);
    assert.equal(stats.state, 'down');
    assert.equal(stats.failedRuns, 2);
    assert.equal(stats.lastError, 'kafka still gone');
    assert.equal(counts.error, 2);
    assert.equal(counts.drops, 2);
    assert.deepEqual(lines, ['warn could not be published']);
    await sync.syncNow(5_000);
    assert.equal(stats.state, 'up');
    assert.equal(stats.failedRuns, 2);
    assert.deepEqual(lines, ['warn could not be published', 'info recovered']);
    assert.equal(counts.success, 1);
    await sync.stop();
    assert.equal(counts.drops, 3, 'stop drops the producer too');
  });

  it('publishSoon waits for its run while up, not while down', async () => {
    let release: (v: boolean) => void = () => {};
    const r = steered();
    r.outcomes.push(new Error('kafka gone'), new Error('kafka gone'));
    const { sync, stats } = loop(r.run, { publishWaitMs: 60_000 });
    sync.start();
    await sync.syncNow(5_000);
    assert.equal(stats.state, 'down');
    r.outcomes.push(new Promise<boolean>((resolve) => (release = resolve)));
    const started = Date.now();
    await sync.publishSoon();
    assert.ok(Date.now() - started < 1_000, 'answered at once while down');
    release(false);
    await sync.syncNow(5_000);
    assert.equal(stats.state, 'up');
    let done = false;
    const soon = sync.publishSoon().then(() => (done = true));
    await soon;
    assert.equal(done, true);
    await sync.stop();
  });

  it('stop releases every waiter, and syncNow after stop resolves at once', async () => {
    const r = steered();
    let release: (v: boolean) => void = () => {};
    r.outcomes.push(new Promise<boolean>((resolve) => (release = resolve)));
    const { sync } = loop(r.run);
    sync.start();
    const waiting = sync.syncNow(60_000);
    const stopping = sync.stop();
    release(false);
    await stopping;
    await waiting;
    await sync.syncNow(60_000);
  });
});

describe('markDelivered', () => {
  it('marks only the rows Kafka confirmed, in order, and returns the first delivery error', async () => {
    const marked: string[] = [];
    const err = await markDelivered(['a', 'b', 'c', 'd'], [null, new Error('first'), null, new Error('second')], async (row) => {
      marked.push(row);
    });
    assert.deepEqual(marked, ['a', 'c']);
    assert.equal(err?.message, 'first');
    assert.equal(await markDelivered(['a'], [null], async () => {}), null);
  });
});
