// The adapter's side of the contract: one Envelope per device per poll with the reading filled in,
// a poll counted as accepted only after the pipeline's promise resolves, and status/stats.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SourceProtocol } from '../../../../proto/src/wire.js';
import { FakeTransport } from '../../../../test/modbus/fake-transport.js';
import { VirtualClock } from '../../../../test/support/virtual-clock.js';
import { eventually, recordingIngest, silentLog, watchUnhandledRejections } from '../../../../test/modbus/support.js';
import { Metrics } from '../../metrics.js';
import type { Outcome } from '../../pipeline/types.js';
import { ModbusAdapter } from './adapter.js';
import { modbusConfigSchema } from './config.js';

const unhandled = watchUnhandledRejections();
after(() => {
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, []);
});

const cfg = modbusConfigSchema.parse({
  enabled: true,
  buses: [
    {
      type: 'rtu',
      path: '/dev/fake',
      interFrameDelayMs: 0,
      devices: [
        {
          deviceId: 'boiler',
          unitId: 5,
          tagGroups: [
            {
              name: 'fast',
              pollIntervalMs: 30,
              tags: [
                { metric: 'temperature', function: 4, address: 200, type: 'int16', scale: 0.1, offset: -10 },
                { metric: 'pressure', function: 4, address: 201 },
              ],
            },
          ],
        },
      ],
    },
    {
      type: 'tcp',
      host: 'fake',
      devices: [{ deviceId: 'meter', timeoutMs: 100, tagGroups: [{ pollIntervalMs: 30, tags: [{ metric: 'on', function: 1, address: 3 }] }] }],
    },
  ],
});

describe('ModbusAdapter', () => {
  test('each poll becomes one Envelope carrying the decoded reading and the register bytes', async () => {
    // On a virtual clock, so the reading's times can be checked exactly against the slave's calls.
    const START = Date.UTC(2026, 0, 1);
    const clock = new VirtualClock(START);
    const transports: FakeTransport[] = [];
    const adapter = new ModbusAdapter(cfg, new Metrics(), silentLog, {
      clock,
      transportFor: (bus) => {
        const t = new FakeTransport(bus.type, 2, clock);
        transports.push(t);
        return t;
      },
    });
    const rec = recordingIngest();
    await adapter.start(rec.ingest);
    await clock.until(() => rec.of('boiler').length >= 2 && rec.of('meter').length >= 2, 'polls of both devices');
    await clock.run(adapter.stop());
    const env = rec.of('boiler')[0]!;
    assert.equal(env.format, 'reading');
    assert.equal(env.source, SourceProtocol.SOURCE_PROTOCOL_MODBUS_RTU);
    // Register i holds i: 200 × 0.1 − 10 and 201.
    assert.deepEqual(env.reading?.metrics, { temperature: 200 * 0.1 - 10, pressure: 201 });
    assert.equal(env.reading?.deviceId, 'boiler');
    assert.equal(env.reading?.source, SourceProtocol.SOURCE_PROTOCOL_MODBUS_RTU);
    assert.deepEqual([...env.raw], [0x00, 0xc8, 0x00, 0xc9], 'raw holds the two registers as read');
    assert.equal(env.topic, 'modbus/rtu:/dev/fake/unit/5/fast');
    const call = transports[0]!.calls[0]!;
    assert.equal(env.reading!.tsMs, START + call.startMs, 'tsMs is when the poll began');
    assert.equal(env.receivedMs, START + call.endMs, 'received when the poll\'s (only) request was answered');
    const meter = rec.of('meter')[0]!;
    assert.equal(meter.source, SourceProtocol.SOURCE_PROTOCOL_MODBUS_TCP);
    assert.deepEqual(meter.reading?.metrics, { on: 1 });
    assert.deepEqual(adapter.plan().map((p) => p.requests.length), [1, 1], 'the two adjacent registers are one request');
  });

  test('a poll is accepted only when the pipeline resolves; refusals and failed commits are counted apart', async () => {
    const metrics = new Metrics();
    const adapter = new ModbusAdapter(cfg, metrics, silentLog, { transportFor: (bus) => new FakeTransport(bus.type) });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let n = 0;
    const rec = recordingIngest(async (env): Promise<Outcome> => {
      if (env.deviceId === 'meter') {
        n++;
        if (n % 2) return { ok: false, stage: 'validate', rejection: { code: 'FL_ERR_VALIDATE_NOT_FINITE', detail: 'x' } };
        throw new Error('disk full');
      }
      await gate; // the outbox has not committed yet
      return { ok: true, values: 2 };
    });
    await adapter.start(rec.ingest);
    await eventually(() => rec.of('boiler').length >= 2 && rec.of('meter').length >= 4, 'polls');
    const before = adapter.stats().buses[0]!.devices[0]!.readings;
    assert.equal(before.accepted, 0, 'nothing is accepted before the commit resolves');
    const stopping = adapter.stop();
    release();
    await stopping; // stop() waits for the readings already handed over
    const boiler = adapter.stats().buses[0]!.devices[0]!.readings;
    assert.equal(boiler.accepted, rec.of('boiler').length);
    const meter = adapter.stats().buses[1]!.devices[0]!.readings;
    assert.equal(meter.refused + meter.uncommitted, rec.of('meter').length);
    assert.ok(meter.refused >= 2 && meter.uncommitted >= 2);
    assert.equal(metrics.get('modbus', 'received'), rec.envelopes.length);
    assert.equal(metrics.get('modbus', 'errors'), meter.uncommitted);
  });

  test('status shows per-slave counters and degrades while a slave is silent', async () => {
    const adapter = new ModbusAdapter(cfg, new Metrics(), silentLog, {
      transportFor: (bus) => {
        const t = new FakeTransport(bus.type);
        if (bus.type === 'tcp') t.behaviour.set(1, { kind: 'silent' });
        return t;
      },
    });
    assert.equal(adapter.status().state, 'down');
    await adapter.start(recordingIngest().ingest);
    await eventually(() => adapter.stats().buses[1]!.devices[0]!.state === 'backoff', 'the silent meter backing off', 15_000);
    const status = adapter.status();
    await adapter.stop();
    assert.equal(status.state, 'degraded');
    assert.match(status.detail, /boiler\(unit 5\) up ok=\d+ timeout=0 crcError=0 exception=\{\}/);
    assert.match(status.detail, /meter\(unit 1\) backoff ok=0 timeout=3 .*lastError="no response within the timeout"/);
  });
});
