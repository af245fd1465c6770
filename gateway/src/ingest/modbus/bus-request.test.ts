// Manual requests through a running bus (Bus.request, behind the commissioning scan and test read),
// against scripted slaves: they share the line with the polls without interleaving, keep the RTU gap,
// are counted on the bus and not against any device, and always settle.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeTransport } from '../../../../test/modbus/fake-transport.js';
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

async function started(transport: FakeTransport, cfg = busConfig()): Promise<{ bus: Bus; polls: PollResult[] }> {
  const polls: PollResult[] = [];
  const bus = new Bus(cfg, transport, { poll: (r) => polls.push(r) }, silentLog);
  bus.start();
  while (!bus.connected) await sleep(2);
  return { bus, polls };
}

/** Overlapping calls on the transport: what "interleaved" would mean. */
function overlaps(transport: FakeTransport): number {
  let n = 0;
  for (let i = 1; i < transport.calls.length; i++) if ((transport.calls[i]!.startMs) < transport.calls[i - 1]!.endMs) n++;
  return n;
}

describe('Bus.request: manual reads through a running bus', () => {
  test('served between polls: answers with the data, never overlaps a poll, polls keep their pace', async () => {
    const transport = new FakeTransport('tcp', 3);
    transport.behaviour.set(9, { kind: 'silent' });
    const { bus, polls } = await started(transport);
    try {
      const before = polls.length;
      // A scan's worth of requests, one after another, half of them to a silent unit.
      for (let i = 0; i < 10; i++) {
        const data = await bus.request(2, 3, 100 + i, 2, 1000);
        assert.deepEqual([...data], [0, 100 + i, 0, 101 + i], 'register i holds i on the fake slave');
        await assert.rejects(bus.request(9, 3, 0, 1, 30), (e: unknown) => e instanceof ModbusFailure && e.kind === 'timeout');
      }
      assert.ok(polls.length - before >= 8, `only ${polls.length - before} polls during ~400 ms of manual requests`);
      const s = bus.snapshot();
      assert.equal(s.manualRequests, 20);
      assert.ok(s.requests >= 20 + polls.length);
      const d = s.devices[0]!;
      assert.equal(d.timeout, 0, 'a silent unit asked manually is not held against the polled device');
      assert.equal(d.ok, polls.length);
    } finally {
      await bus.stop();
    }
    assert.equal(overlaps(transport), 0, 'no two requests were on the line at once');
    assert.ok(transport.calls.some((c) => c.unitId === 1) && transport.calls.some((c) => c.unitId === 2));
  });

  test('an idle bus is woken: the request does not wait for the next poll', async () => {
    const transport = new FakeTransport('tcp', 1);
    const { bus } = await started(transport, busConfig({ type: 'tcp', host: 'fake' }, 60_000));
    try {
      await sleep(30); // the first poll is done; the loop sleeps until the next, up to its 1 s nap
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await bus.request(2, 3, 0, 1, 500);
        const ms = performance.now() - t0;
        assert.ok(ms < 100, `a request on an idle bus took ${ms.toFixed(0)} ms`);
        await sleep(50);
      }
    } finally {
      await bus.stop();
    }
  });

  test('RTU: a manual request keeps the silent interval after the previous frame, and the next poll after it', async () => {
    const transport = new FakeTransport('rtu', 1);
    const { bus } = await started(transport, busConfig({ type: 'rtu', path: '/dev/fake', interFrameDelayMs: 15 }, 10));
    try {
      for (let i = 0; i < 5; i++) await bus.request(2, 4, 0, 1, 500);
      await sleep(60);
    } finally {
      await bus.stop();
    }
    const gaps = transport.calls.slice(1).map((c, i) => ({ gap: c.startMs - transport.calls[i]!.endMs, unit: c.unitId, prev: transport.calls[i]!.unitId }));
    const around = gaps.filter((g) => g.unit === 2 || g.prev === 2);
    assert.ok(around.length >= 9, `only ${around.length} gaps next to manual requests`);
    const min = Math.min(...around.map((g) => g.gap));
    assert.ok(min >= 14.5, `a frame next to a manual request followed the previous one after ${min.toFixed(2)} ms`);
  });

  test('refused at once when the bus is not running or not connected; waiting requests are settled by stop()', async () => {
    const transport = new FakeTransport('tcp');
    const idle = new Bus(busConfig(), transport, { poll: () => undefined }, silentLog);
    await assert.rejects(idle.request(1, 3, 0, 1, 100), (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection' && /not running/.test(e.message));

    transport.failOpens = 1_000;
    idle.start();
    await sleep(20);
    await assert.rejects(idle.request(1, 3, 0, 1, 100), (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection' && /not connected/.test(e.message));
    await idle.stop();

    const slow = new FakeTransport('tcp');
    slow.behaviour.set(5, { kind: 'silent' });
    const { bus } = await started(slow);
    const inFlight = bus.request(5, 3, 0, 1, 150);
    const waiting = [bus.request(2, 3, 0, 1, 150), bus.request(2, 3, 1, 1, 150)];
    await sleep(20);
    await bus.stop();
    await assert.rejects(inFlight, (e: unknown) => e instanceof ModbusFailure && e.kind === 'timeout', 'the request on the line runs to its end');
    for (const w of waiting) await assert.rejects(w, (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection' && /stopped/.test(e.message));
  });

  test('a request that finds the line gone fails with connection, and the bus reconnects', async () => {
    const transport = new FakeTransport('tcp');
    const { bus } = await started(transport);
    try {
      transport.dropReads = 1;
      // The drop may hit a poll first; then the bus is reconnecting and the request is refused at once.
      await assert.rejects(bus.request(2, 3, 0, 1, 100), (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection');
      while (!bus.connected) await sleep(2);
      assert.equal((await bus.request(2, 3, 4, 1, 100)).readUInt16BE(0), 4);
      assert.ok(bus.snapshot().connectErrors >= 1);
    } finally {
      await bus.stop();
    }
  });

  test(`more than ${MAX_MANUAL_QUEUE} waiting requests are refused with FL_ERR_MODBUS_BUSY; bad arguments with RangeError`, async () => {
    const transport = new FakeTransport('tcp');
    transport.behaviour.set(5, { kind: 'silent' });
    const { bus } = await started(transport);
    try {
      const flood = Array.from({ length: MAX_MANUAL_QUEUE + 3 }, () => bus.request(5, 3, 0, 1, 10).then(() => 'ok', (e: unknown) => e));
      const outcomes = await Promise.all(flood);
      const busy = outcomes.filter((e) => e instanceof FieldlineError && e.code === 'FL_ERR_MODBUS_BUSY');
      assert.equal(busy.length, 3, 'the three beyond the queue limit');
      assert.ok(outcomes.filter((e) => e instanceof ModbusFailure && e.kind === 'timeout').length >= MAX_MANUAL_QUEUE);
      await assert.rejects(bus.request(1, 3, 0, 126, 100), RangeError);
      await assert.rejects(bus.request(1, 7 as 3, 0, 1, 100), RangeError);
      await assert.rejects(bus.request(256, 3, 0, 1, 100), RangeError);
    } finally {
      await bus.stop();
    }
  });
});
