// Manual requests through a running bus (Bus.request, behind the commissioning scan and test read),
// against scripted slaves: they share the line with the polls without interleaving, keep the RTU gap,
// are counted on the bus and not against any device, and always settle. The bus and the fake slaves
// share a VirtualClock: the times asserted are the scheduler's, not the test machine's speed.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeTransport } from '../../../../test/modbus/fake-transport.js';
import { VirtualClock } from '../../../../test/support/virtual-clock.js';
import { silentLog, watchUnhandledRejections } from '../../../../test/modbus/support.js';
import { FieldlineError } from '../../errors.js';
import { Bus, MAX_MANUAL_QUEUE, type PollResult } from './bus.js';
import { modbusConfigSchema, type BusConfig } from './config.js';
import { ModbusFailure } from './transport.js';

const unhandled = watchUnhandledRejections();
after(() => {
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no promise may be rejected without a handler');
});

function busConfig(bus: Record<string, unknown> = { type: 'tcp', host: 'fake' }, pollIntervalMs = 20): BusConfig {
  return modbusConfigSchema.parse({
    enabled: true,
    buses: [{ ...bus, reconnectMinMs: 20, reconnectMaxMs: 40, devices: [{ deviceId: 'polled', unitId: 1, tagGroups: [{ pollIntervalMs, tags: [{ metric: 'v', function: 3, address: 7 }] }] }] }],
  }).buses[0] as BusConfig;
}

/** A clock and a fake line on it. */
function line(kind: 'tcp' | 'rtu', latencyMs = 2): { clock: VirtualClock; transport: FakeTransport } {
  const clock = new VirtualClock();
  return { clock, transport: new FakeTransport(kind, latencyMs, clock) };
}

async function started({ clock, transport }: { clock: VirtualClock; transport: FakeTransport }, cfg = busConfig()): Promise<{ bus: Bus; polls: PollResult[]; stop: () => Promise<void> }> {
  const polls: PollResult[] = [];
  const bus = new Bus(cfg, transport, { poll: (r) => polls.push(r) }, silentLog, clock);
  bus.start();
  await clock.until(() => bus.connected, 'the bus to connect');
  return { bus, polls, stop: () => clock.run(bus.stop(), 'the bus to stop') };
}

/** Overlapping calls on the transport: what "interleaved" would mean. */
function overlaps(transport: FakeTransport): number {
  let n = 0;
  for (let i = 1; i < transport.calls.length; i++) if ((transport.calls[i]!.startMs) < transport.calls[i - 1]!.endMs) n++;
  return n;
}

describe('Bus.request: manual reads through a running bus', () => {
  test('served between polls: answers with the data, never overlaps a poll, polls keep their pace', async () => {
    const fake = line('tcp', 3);
    const { clock, transport } = fake;
    transport.behaviour.set(9, { kind: 'silent' });
    const { bus, polls, stop } = await started(fake);
    try {
      const before = polls.length;
      const t0 = clock.now();
      // A scan's worth of requests, one after another, half of them to a silent unit.
      for (let i = 0; i < 10; i++) {
        const data = await clock.run(bus.request(2, 3, 100 + i, 2, 1000));
        assert.deepEqual([...data], [0, 100 + i, 0, 101 + i], 'register i holds i on the fake slave');
        await assert.rejects(clock.run(bus.request(9, 3, 0, 1, 30)), (e: unknown) => e instanceof ModbusFailure && e.kind === 'timeout');
      }
      // Polls are due every 20 ms; each round holds at most one manual request (30 ms at worst) and
      // one poll, so the polls go on at one per round at least.
      const elapsed = clock.now() - t0;
      const during = polls.length - before;
      assert.ok(during >= Math.floor(elapsed / (30 + 3 + 3)), `only ${during} polls during ${elapsed} virtual ms of manual requests`);
      assert.ok(during >= 8, `only ${during} polls during the manual requests`);
      const s = bus.snapshot();
      assert.equal(s.manualRequests, 20);
      assert.ok(s.requests >= 20 + polls.length);
      const d = s.devices[0]!;
      assert.equal(d.timeout, 0, 'a silent unit asked manually is not held against the polled device');
      assert.equal(d.ok, polls.length);
    } finally {
      await stop();
    }
    assert.equal(overlaps(transport), 0, 'no two requests were on the line at once');
    assert.ok(transport.calls.some((c) => c.unitId === 1) && transport.calls.some((c) => c.unitId === 2));
  });

  test('an idle bus is woken: the request does not wait for the next poll', async () => {
    const fake = line('tcp', 1);
    const { clock } = fake;
    const { bus, stop } = await started(fake, busConfig({ type: 'tcp', host: 'fake' }, 60_000));
    try {
      await clock.advance(30); // the first poll is done; the loop sleeps until the next, up to its 1 s nap
      for (let i = 0; i < 3; i++) {
        const t0 = clock.now();
        await clock.run(bus.request(2, 3, 0, 1, 500));
        // Served at once: the only time that passed is the fake slave's 1 ms answer, not the nap.
        assert.equal(clock.now() - t0, 1, `a request on an idle bus was answered after ${clock.now() - t0} virtual ms`);
        await clock.advance(50);
      }
    } finally {
      await stop();
    }
  });

  test('RTU: a manual request keeps the silent interval after the previous frame, and the next poll after it', async () => {
    const fake = line('rtu', 1);
    const { clock, transport } = fake;
    const { bus, stop } = await started(fake, busConfig({ type: 'rtu', path: '/dev/fake', interFrameDelayMs: 15 }, 10));
    try {
      for (let i = 0; i < 5; i++) await clock.run(bus.request(2, 4, 0, 1, 500));
      await clock.advance(60);
    } finally {
      await stop();
    }
    const gaps = transport.calls.slice(1).map((c, i) => ({ gap: c.startMs - transport.calls[i]!.endMs, unit: c.unitId, prev: transport.calls[i]!.unitId }));
    const around = gaps.filter((g) => g.unit === 2 || g.prev === 2);
    assert.ok(around.length >= 9, `only ${around.length} gaps next to manual requests`);
    const min = Math.min(...around.map((g) => g.gap));
    assert.ok(min >= 15, `a frame next to a manual request followed the previous one after ${min} virtual ms`);
  });

  test('refused at once when the bus is not running or not connected; waiting requests are settled by stop()', async () => {
    const down = line('tcp');
    const idle = new Bus(busConfig(), down.transport, { poll: () => undefined }, silentLog, down.clock);
    await assert.rejects(idle.request(1, 3, 0, 1, 100), (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection' && /not running/.test(e.message));

    down.transport.failOpens = 1_000;
    idle.start();
    await down.clock.advance(20);
    await assert.rejects(idle.request(1, 3, 0, 1, 100), (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection' && /not connected/.test(e.message));
    await down.clock.run(idle.stop());

    const slow = line('tcp');
    slow.transport.behaviour.set(5, { kind: 'silent' });
    const { bus, stop } = await started(slow);
    // The checks are attached before the stop settles the requests, so none is ever unhandled.
    const inFlight = assert.rejects(bus.request(5, 3, 0, 1, 150), (e: unknown) => e instanceof ModbusFailure && e.kind === 'timeout', 'the request on the line runs to its end');
    const waiting = [bus.request(2, 3, 0, 1, 150), bus.request(2, 3, 1, 1, 150)].map((w) =>
      assert.rejects(w, (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection' && /stopped/.test(e.message)),
    );
    await slow.clock.advance(20);
    await stop();
    await inFlight;
    await Promise.all(waiting);
  });

  test('a request that finds the line gone fails with connection, and the bus reconnects', async () => {
    const fake = line('tcp');
    const { clock, transport } = fake;
    const { bus, stop } = await started(fake);
    try {
      transport.dropReads = 1;
      // The drop may hit a poll first; then the bus is reconnecting and the request is refused at once.
      await assert.rejects(clock.run(bus.request(2, 3, 0, 1, 100)), (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection');
      await clock.until(() => bus.connected, 'the bus to reconnect');
      assert.equal((await clock.run(bus.request(2, 3, 4, 1, 100))).readUInt16BE(0), 4);
      assert.ok(bus.snapshot().connectErrors >= 1);
    } finally {
      await stop();
    }
  });

  test(`more than ${MAX_MANUAL_QUEUE} waiting requests are refused with FL_ERR_MODBUS_BUSY; bad arguments with RangeError`, async () => {
    const fake = line('tcp');
    const { clock, transport } = fake;
    transport.behaviour.set(5, { kind: 'silent' });
    const { bus, stop } = await started(fake);
    try {
      const flood = Array.from({ length: MAX_MANUAL_QUEUE + 3 }, () => bus.request(5, 3, 0, 1, 10).then(() => 'ok', (e: unknown) => e));
      const outcomes = await clock.run(Promise.all(flood));
      const busy = outcomes.filter((e) => e instanceof FieldlineError && e.code === 'FL_ERR_MODBUS_BUSY');
      assert.equal(busy.length, 3, 'the three beyond the queue limit');
      assert.ok(outcomes.filter((e) => e instanceof ModbusFailure && e.kind === 'timeout').length >= MAX_MANUAL_QUEUE);
      await assert.rejects(bus.request(1, 3, 0, 126, 100), RangeError);
      await assert.rejects(bus.request(1, 7 as 3, 0, 1, 100), RangeError);
      await assert.rejects(bus.request(256, 3, 0, 1, 100), RangeError);
    } finally {
      await stop();
    }
  });
});
