// The bus scheduler against scripted slaves (test/modbus/fake-transport.ts): fairness when a slave
// is dead, retries, backoff, exception and CRC handling, the RTU gap, reconnecting. The bus, the
// slaves' latencies and timeouts run on one VirtualClock, so every time asserted here is what the
// scheduler did, never how fast the machine running the test happened to be.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeTransport } from '../../../../test/modbus/fake-transport.js';
import { VirtualClock } from '../../../../test/support/virtual-clock.js';
import { maxGap, silentLog, watchUnhandledRejections } from '../../../../test/modbus/support.js';
import { Bus, type PollResult } from './bus.js';
import { modbusConfigSchema, type BusConfig } from './config.js';

const unhandled = watchUnhandledRejections();
after(() => {
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no promise may be rejected without a handler');
});

interface DeviceSpec {
  deviceId: string;
  unitId: number;
  timeoutMs?: number;
  retries?: number;
  pollIntervalMs?: number;
  backoff?: { initialMs: number; maxMs: number; multiplier: number };
  tags?: unknown[];
}

function busConfig(devices: DeviceSpec[], bus: Record<string, unknown> = { type: 'tcp', host: 'fake' }): BusConfig {
  const cfg = modbusConfigSchema.parse({
    enabled: true,
    buses: [
      {
        ...bus,
        reconnectMinMs: 20,
        reconnectMaxMs: 40,
        devices: devices.map(({ pollIntervalMs, tags, ...d }) => ({
          ...d,
          tagGroups: [{ pollIntervalMs: pollIntervalMs ?? 50, tags: tags ?? [{ metric: 'v', function: 3, address: 7 }] }],
        })),
      },
    ],
  });
  return cfg.buses[0] as BusConfig;
}

/** A clock and a fake line on it. */
function line(kind: 'tcp' | 'rtu', latencyMs = 2): { clock: VirtualClock; transport: FakeTransport } {
  const clock = new VirtualClock();
  return { clock, transport: new FakeTransport(kind, latencyMs, clock) };
}

/** Runs a bus for `ms` of virtual time (or through `during`), then stops it. */
async function runBus(cfg: BusConfig, { clock, transport }: { clock: VirtualClock; transport: FakeTransport }, ms: number, during?: (bus: Bus) => Promise<void>): Promise<{ bus: Bus; polls: PollResult[] }> {
  const polls: PollResult[] = [];
  const bus = new Bus(cfg, transport, { poll: (r) => polls.push(r) }, silentLog, clock);
  bus.start();
  try {
    if (during) await during(bus);
    else await clock.advance(ms);
  } finally {
    await clock.run(bus.stop(), 'the bus to stop');
  }
  return { bus, polls };
}

function device(bus: Bus, deviceId: string) {
  const d = bus.snapshot().devices.find((x) => x.deviceId === deviceId);
  assert.ok(d, `no device ${deviceId}`);
  return d;
}

describe('Modbus bus scheduler', () => {
  test('a silent slave delays another slave on the same bus by at most one timeout per poll', async () => {
    const TIMEOUT = 200;
    const INTERVAL = 50;
    const LATENCY = 2;
    const fake = line('rtu', LATENCY);
    const { transport } = fake;
    transport.behaviour.set(1, { kind: 'silent' });
    const cfg = busConfig([
      // Listed first so it gets the first turn; three tries per request, each a full timeout.
      { deviceId: 'dead', unitId: 1, timeoutMs: TIMEOUT, retries: 2, pollIntervalMs: INTERVAL, backoff: { initialMs: 400, maxMs: 400, multiplier: 1 } },
      { deviceId: 'alive', unitId: 2, timeoutMs: TIMEOUT, pollIntervalMs: INTERVAL },
    ]);
    const { bus, polls } = await runBus(cfg, fake, 2_000);
    const alive = polls.filter((p) => p.device.deviceId === 'alive').map((p) => p.tsMs);
    // Back to back, the three tries would hold the line for 600 ms; taking turns, the live slave waits
    // behind one timeout at a time: at most its interval, one timeout and one answer's latency.
    assert.ok(maxGap(alive) <= INTERVAL + TIMEOUT + LATENCY, `live slave's polls were ${maxGap(alive)} virtual ms apart`);
    assert.ok(alive.length >= 15, `only ${alive.length} polls of the live slave in 2 virtual s`);
    // The dead slave's tries really were interleaved with the live slave's requests.
    const order = transport.calls.map((c) => c.unitId);
    const firstDead = order.indexOf(1);
    const secondDead = order.indexOf(1, firstDead + 1);
    assert.ok(order.slice(firstDead + 1, secondDead).includes(2), `retry was not preceded by the live slave's turn: ${order.slice(0, 10).join(',')}`);
    const dead = device(bus, 'dead');
    assert.ok(dead.timeout >= 3, `dead slave timeouts: ${dead.timeout}`);
    assert.equal(dead.ok, 0);
    assert.ok(dead.polls.skipped > 0, 'polls due during backoff are skipped');
    assert.ok(dead.lastError?.kind === 'timeout');
    assert.equal(device(bus, 'alive').timeout, 0);
  });

  test('a dead slave backs off exponentially and is polled again when it answers', async () => {
    const fake = line('tcp');
    const { clock, transport } = fake;
    transport.behaviour.set(1, { kind: 'silent' });
    const cfg = busConfig([{ deviceId: 'dead', unitId: 1, timeoutMs: 20, retries: 0, pollIntervalMs: 10, backoff: { initialMs: 60, maxMs: 240, multiplier: 2 } }]);
    const { bus } = await runBus(cfg, fake, 0, async (b) => {
      await clock.advance(900);
      assert.equal(device(b, 'dead').state === 'backoff' || device(b, 'dead').state === 'down', true);
      transport.behaviour.set(1, { kind: 'ok' });
      await clock.advance(400); // longer than the longest backoff
    });
    const tries = transport.calls.filter((c) => c.outcome === 'timeout').map((c) => c.startMs);
    const waits = tries.slice(1).map((t, i) => t - (tries[i] as number) - 20); // minus the timeout itself
    // 60, 120, 240, 240, … (plus up to one poll interval, 10 ms, to the next slot on the poll grid)
    assert.ok(waits.length >= 4, `only ${tries.length} tries`);
    [60, 120, 240, 240].forEach((want, i) => {
      const got = waits[i] as number;
      assert.ok(got >= want && got <= want + 10, `backoff ${i + 1} was ${got} virtual ms, expected ${want}: ${waits.join(',')}`);
    });
    const d = device(bus, 'dead');
    assert.equal(d.state, 'up');
    assert.ok(d.ok > 5, 'polled normally again after answering');
  });

  test('exception 2 is final, exception 6 is retried, exception 11 backs off like silence', async () => {
    const fake = line('tcp');
    const { transport } = fake;
    transport.behaviour.set(1, { kind: 'exception', code: 2 });
    transport.behaviour.set(2, { kind: 'flaky', failFirst: 1, then: { exception: 6 } });
    transport.behaviour.set(3, { kind: 'exception', code: 11 });
    const cfg = busConfig([
      { deviceId: 'illegal', unitId: 1, retries: 3, pollIntervalMs: 100 },
      { deviceId: 'busy', unitId: 2, retries: 3, pollIntervalMs: 100 },
      { deviceId: 'behind-gateway', unitId: 3, retries: 1, pollIntervalMs: 100, backoff: { initialMs: 5_000, maxMs: 5_000, multiplier: 1 } },
    ]);
    const { bus, polls } = await runBus(cfg, fake, 330);
    const illegal = device(bus, 'illegal');
    assert.equal(illegal.retries, 0, 'an illegal address is not asked again within the poll');
    assert.equal(illegal.exception['2'], transport.calls.filter((c) => c.unitId === 1).length);
    assert.equal(illegal.state, 'up', 'an exception response means the device is there');
    assert.equal(illegal.polls.failed, illegal.exception['2']);
    const busy = device(bus, 'busy');
    assert.equal(busy.exception['6'], 1);
    assert.equal(busy.retries, 1);
    assert.ok(polls.some((p) => p.device.deviceId === 'busy' && p.metrics.v === 7), 'the retried read delivered its value');
    const gw = device(bus, 'behind-gateway');
    assert.equal(gw.exception['11'], 2, 'one try and one retry');
    assert.equal(gw.state, 'backoff');
  });

  test('a CRC error is counted and retried; a poll answered on retry is complete', async () => {
    const fake = line('rtu');
    const { transport } = fake;
    transport.behaviour.set(1, { kind: 'flaky', failFirst: 2, then: 'crc' });
    transport.behaviour.set(2, { kind: 'crc' });
    const cfg = busConfig([
      { deviceId: 'noisy', unitId: 1, retries: 2, pollIntervalMs: 1_000 },
      { deviceId: 'broken', unitId: 2, retries: 2, pollIntervalMs: 1_000 },
    ]);
    const { bus, polls } = await runBus(cfg, fake, 150);
    const noisy = device(bus, 'noisy');
    assert.equal(noisy.crcError, 2);
    assert.equal(noisy.polls.complete, 1);
    assert.deepEqual(polls.find((p) => p.device.deviceId === 'noisy')?.metrics, { v: 7 });
    const broken = device(bus, 'broken');
    assert.equal(broken.crcError, 3);
    assert.equal(broken.polls.failed, 1);
    assert.equal(broken.backoffUntilMs, null, 'a garbled answer is still an answer: no backoff');
  });

  test('a poll with one failed request still reports the tags that were read', async () => {
    const fake = line('tcp');
    const { transport } = fake;
    const cfg = busConfig([
      {
        deviceId: 'd',
        unitId: 1,
        pollIntervalMs: 1_000,
        tags: [
          { metric: 'h', function: 3, address: 10 },
          { metric: 'i', function: 4, address: 20, type: 'int32' },
        ],
      },
    ]);
    const original = transport.read.bind(transport);
    transport.read = async (unit, fn, address, count, timeoutMs) => {
      if (fn === 4) throw new (await import('./transport.js')).ModbusFailure('exception', 'exception 2', 2);
      return original(unit, fn, address, count, timeoutMs);
    };
    const { bus, polls } = await runBus(cfg, fake, 100);
    assert.equal(polls.length, 1);
    assert.deepEqual(polls[0]?.metrics, { h: 10 });
    assert.equal(polls[0]?.failedRequests, 1);
    assert.equal(device(bus, 'd').polls.partial, 1);
  });

  test('RTU requests keep the configured silent interval after every frame', async () => {
    const fake = line('rtu', 1);
    const { clock, transport } = fake;
    const cfg = busConfig(
      [
        { deviceId: 'a', unitId: 1, pollIntervalMs: 10, tags: [{ metric: 'x', function: 3, address: 0 }, { metric: 'y', function: 4, address: 0 }] },
        { deviceId: 'b', unitId: 2, pollIntervalMs: 10 },
      ],
      { type: 'rtu', path: '/dev/fake', interFrameDelayMs: 15 },
    );
    await runBus(cfg, fake, 400);
    // Times are the virtual clock's: the gap is what the bus waited for, to the millisecond.
    const gaps = transport.calls.slice(1).map((c, i) => c.startMs - (transport.calls[i] as { endMs: number }).endMs);
    assert.ok(gaps.length >= 10, `only ${gaps.length + 1} requests`);
    assert.ok(Math.min(...gaps) >= 15, `a request followed the previous frame after ${Math.min(...gaps)} ms: ${gaps.join(',')}`);
    // The polls are always due (10 ms interval), so no wait is longer than the gap either.
    assert.equal(Math.max(...gaps), 15, `gaps ${gaps.join(',')}`);
    assert.ok(clock.sleeps.includes(15), `the bus asked for the 15 ms silence: ${clock.sleeps.slice(0, 20).join(',')}`);
  });

  test('a bus that cannot open keeps trying; a lost connection is reopened and the same request sent again', async () => {
    const fake = line('tcp');
    const { clock, transport } = fake;
    transport.failOpens = 2;
    const cfg = busConfig([{ deviceId: 'd', unitId: 1, pollIntervalMs: 20 }]);
    const { bus, polls } = await runBus(cfg, fake, 0, async (b) => {
      await clock.until(() => transport.opens > 0, 'the first successful open');
      transport.dropReads = 1;
      await clock.advance(200);
      assert.equal(b.connected, true);
    });
    const s = bus.snapshot();
    assert.equal(s.connectErrors, 3, 'two failed opens and one dropped read');
    assert.equal(transport.opens, 2);
    const d = s.devices[0]!;
    assert.equal(d.timeout + d.crcError + d.protocolError, 0, 'the line failing is not held against the device');
    assert.equal(d.retries, 0);
    assert.ok(polls.length >= 5);
  });
});
