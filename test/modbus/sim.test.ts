// The firmware simulator's Modbus slaves (firmware-sim/src/modbus-slave.ts) polled by the adapter:
// values, and each fault mode switched on and off while the gateway polls.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startModbusRtuSlave, startModbusTcpSlave, type ModbusSlave } from '../../firmware-sim/src/modbus-slave.js';
import { ModbusAdapter } from '../../gateway/src/ingest/modbus/adapter.js';
import { modbusConfigSchema } from '../../gateway/src/ingest/modbus/config.js';
import { localTcpModbus } from '../../devstack/modbus-config.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { freePort } from '../../devstack/net.js';
import { recordingClock } from '../support/virtual-clock.js';
import { eventually, recordingIngest, scratchDir, silentLog, startPtyPair, watchUnhandledRejections } from './support.js';

const unhandled = watchUnhandledRejections();
after(() => {
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no unhandled promise rejection');
});

function deviceStats(adapter: ModbusAdapter, deviceId: string) {
  const d = adapter.stats().buses.flatMap((b) => b.devices).find((x) => x.deviceId === deviceId);
  assert.ok(d);
  return d;
}

describe('firmware-sim Modbus slaves', () => {
  test('TCP slave: values, then stop answering, recover, answer with an exception, answer too late', async () => {
    const slave = await startModbusTcpSlave({
      units: {
        3: {
          holdingRegisters: { 0: 0x1234 },
          values: [
            { table: 'inputRegisters', address: 10, type: 'float32', byteOrder: 'CDAB', value: 21.5 },
            { table: 'inputRegisters', address: 12, type: 'int32', byteOrder: 'DCBA', value: -7 },
          ],
          coils: { 5: true },
        },
      },
    });
    assert.throws(() => slave.setFault(3, { kind: 'corrupt-crc' }), /no CRC/);
    const cfg = localTcpModbus(slave.port, [
            {
              deviceId: 'sim-3',
              unitId: 3,
              timeoutMs: 100,
              retries: 1,
              backoff: { initialMs: 100, maxMs: 100, multiplier: 1 },
              tagGroups: [
                {
                  pollIntervalMs: 30,
                  tags: [
                    { metric: 'h', function: 3, address: 0 },
                    { metric: 't', function: 4, address: 10, type: 'float32', byteOrder: 'CDAB' },
                    { metric: 'n', function: 4, address: 12, type: 'int32', byteOrder: 'DCBA' },
                    { metric: 'c', function: 1, address: 5 },
                  ],
                },
              ],
            },
    ]);
    const adapter = new ModbusAdapter(cfg, new Metrics(), silentLog);
    const rec = recordingIngest();
    try {
      await adapter.start(rec.ingest);
      await eventually(() => rec.envelopes.length >= 2, 'first readings');
      assert.deepEqual(rec.envelopes[0]?.reading?.metrics, { h: 0x1234, t: 21.5, n: -7, c: 1 });
      assert.deepEqual(
        [...new Set(slave.requests.map((r) => `${r.fn}@${r.address}x${r.count}`))].sort(),
        ['1@5x1', '3@0x1', '4@10x4'],
        'the float32 and int32 are one request',
      );

      slave.setFault(3, { kind: 'silent' });
      await eventually(() => deviceStats(adapter, 'sim-3').state === 'backoff', 'backoff after silence');
      assert.ok(deviceStats(adapter, 'sim-3').timeout >= 2);
      slave.setFault(3, null);
      const before = rec.envelopes.length;
      await eventually(() => deviceStats(adapter, 'sim-3').state === 'up' && rec.envelopes.length > before + 2, 'recovery after the fault clears');

      slave.setFault(3, { kind: 'exception', code: 4 });
      await eventually(() => (deviceStats(adapter, 'sim-3').exception['4'] ?? 0) >= 3, 'exception 4 counted');

      slave.setFault(3, { kind: 'delay', ms: 150 });
      const timeouts = deviceStats(adapter, 'sim-3').timeout;
      await eventually(() => deviceStats(adapter, 'sim-3').timeout > timeouts, 'late answers time out');
      slave.setFault(3, null);
      // Late answers to timed-out requests arrive in the middle of later exchanges; each must still
      // be matched to its own request (MBAP transaction ids), so values stay right.
      await sleep(400);
      const n = rec.envelopes.length;
      await eventually(() => rec.envelopes.length > n + 2, 'readings after the late answers');
      for (const env of rec.envelopes) assert.equal(env.reading?.metrics?.h, 0x1234);
    } finally {
      await adapter.stop();
      await slave.stop();
    }
  });

  test('TCP: a slave that restarts is reconnected to, and polling resumes; no reconnect wait is longer than reconnectMaxMs', async () => {
    const port = await freePort({ stable: true });
    const units = { 1: { holdingRegisters: { 0: 5 } } };
    let slave = await startModbusTcpSlave({ port, units });
    // Real time, but every wait the bus asks for is recorded: reopening is bounded by what it asks.
    const clock = recordingClock();
    const adapter = new ModbusAdapter(
      modbusConfigSchema.parse({
        enabled: true,
        buses: [{ type: 'tcp', host: '127.0.0.1', port, reconnectMinMs: 20, reconnectMaxMs: 50, devices: [{ deviceId: 'd', timeoutMs: 100, tagGroups: [{ pollIntervalMs: 20, tags: [{ metric: 'v', function: 3, address: 0 }] }] }] }],
      }),
      new Metrics(),
      silentLog,
      { clock },
    );
    const rec = recordingIngest();
    try {
      await adapter.start(rec.ingest);
      await eventually(() => rec.envelopes.length >= 3, 'readings');
      await slave.stop();
      await eventually(() => adapter.status().state === 'down' && adapter.stats().buses[0]!.connectErrors >= 5, 'the bus down, failing to reopen a few times');
      const waitsWhileDown = clock.sleeps.length;
      slave = await startModbusTcpSlave({ port, units });
      const failedOpensAtRestart = adapter.stats().buses[0]!.connectErrors;
      const n = rec.envelopes.length;
      await eventually(() => rec.envelopes.length >= n + 3, 'readings after the restart');
      const bus = adapter.stats().buses[0]!;
      assert.equal(bus.connects, 2);
      // Reopening is bounded by reconnectMaxMs (50 ms), not by waiting on the dead socket: every wait
      // the bus asked for was at most that (the poll interval is 20 ms), the backoff did grow to it,
      // and the first open after the slave was back succeeded (one already under way may have failed).
      assert.ok(waitsWhileDown > 0);
      assert.ok(Math.max(...clock.sleeps) <= 50, `the bus asked to wait ${Math.max(...clock.sleeps)} ms`);
      assert.ok(clock.sleeps.includes(50), `the reconnect backoff never reached reconnectMaxMs: ${clock.sleeps.join(',')}`);
      assert.ok(bus.connectErrors - failedOpensAtRestart <= 1, `${bus.connectErrors - failedOpensAtRestart} failed opens after the slave was back`);
      assert.equal(adapter.status().state, 'up');
    } finally {
      await adapter.stop();
      await slave.stop();
    }
  });

  test('RTU slave on a pty: values decode, a corrupted CRC is counted, and a late reply never passes for the next answer', async () => {
    const scratch = scratchDir('sim-rtu');
    const line = await startPtyPair(scratch.dir);
    let slave: ModbusSlave | undefined;
    const adapter = new ModbusAdapter(
      modbusConfigSchema.parse({
        enabled: true,
        buses: [
          {
            type: 'rtu',
            path: line.a,
            parity: 'none',
            devices: [
              { deviceId: 'rtu-1', unitId: 1, timeoutMs: 80, retries: 0, backoff: { initialMs: 50, maxMs: 50, multiplier: 1 }, tagGroups: [{ pollIntervalMs: 20, tags: [{ metric: 'a', function: 3, address: 0 }, { metric: 'b', function: 3, address: 1, type: 'int16' }] }] },
              { deviceId: 'rtu-2', unitId: 2, timeoutMs: 80, retries: 1, tagGroups: [{ pollIntervalMs: 20, tags: [{ metric: 'a', function: 3, address: 0 }, { metric: 'b', function: 3, address: 1, type: 'int16' }] }] },
            ],
          },
        ],
      }),
      new Metrics(),
      silentLog,
    );
    const rec = recordingIngest();
    try {
      slave = await startModbusRtuSlave({
        path: line.b,
        units: { 1: { holdingRegisters: { 0: 111, 1: 0xfff6 } }, 2: { holdingRegisters: { 0: 222, 1: 5 }, fault: { kind: 'corrupt-crc' } } },
      });
      await adapter.start(rec.ingest);
      await eventually(() => rec.of('rtu-1').length >= 3 && deviceStats(adapter, 'rtu-2').crcError >= 4, 'readings and CRC errors');
      assert.deepEqual(rec.of('rtu-1')[0]?.reading?.metrics, { a: 111, b: -10 });
      assert.equal(rec.of('rtu-2').length, 0);
      slave.setFault(2, null);
      await eventually(() => rec.of('rtu-2').length >= 2, 'unit 2 readings once its CRC is right');
      assert.deepEqual(rec.of('rtu-2')[0]?.reading?.metrics, { a: 222, b: 5 });
      // Unit 1 answers after its timeout: the reply lands while the master waits for unit 2.
      slave.setFault(1, { kind: 'delay', ms: 100 });
      await eventually(() => deviceStats(adapter, 'rtu-1').timeout >= 3, 'unit 1 timing out');
      slave.setFault(1, null);
      await sleep(200);
      for (const env of rec.of('rtu-2')) assert.deepEqual(env.reading?.metrics, { a: 222, b: 5 }, 'a late reply from unit 1 was taken for unit 2');
      for (const env of rec.of('rtu-1')) assert.deepEqual(env.reading?.metrics, { a: 111, b: -10 });
    } finally {
      await adapter.stop();
      await slave?.stop();
      await line.stop();
      scratch.remove();
    }
  });
});
