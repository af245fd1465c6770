// `fieldline-sim --modbus-tcp` and `--modbus-rtu` as processes, polled by a real gateway configured
// with nothing but the `modbus:` section the simulator printed: the printed register map decodes to
// the simulated values, and in fault mode the gateway's per-device counters match the simulator's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { Reading } from '../../proto/src/wire.js';
import { scratchDir, startPtyPair } from '../modbus/support.js';
import { byDevice, eventually, startGateway, startSim, total, type TestGateway } from './support.js';

const BEGIN = '# --- fieldline-sim: modbus section for gateway.yaml ---';
const END = '# --- end of modbus section ---';

/** The printed snippet, cut out between its markers and parsed as YAML. */
function printedModbusSection(output: string): unknown {
  const start = output.indexOf(BEGIN);
  const end = output.indexOf(END, start);
  assert.ok(start >= 0 && end > start, `no modbus section in:\n${output}`);
  const doc = parseYaml(output.slice(start, end + END.length)) as { modbus: unknown };
  return doc.modbus;
}

const METRICS = ['humidity', 'seq', 'setpoint', 'temperature', 'voltage'];

/**
 * Values as the register map says the simulator stores them. With faults a poll can be partial: a
 * request answered with exception 4 (final, not retried) leaves its tags out of that reading.
 */
function assertPlausible(readings: readonly Reading[], opts: { partial?: boolean } = {}): void {
  for (const r of readings) {
    const m = r.metrics ?? {};
    const names = Object.keys(m).sort();
    if (opts.partial) assert.ok(names.length > 0 && names.every((n) => METRICS.includes(n)), names.join());
    else assert.deepEqual(names, METRICS);
    if ('temperature' in m) assert.ok(m.temperature! > 10 && m.temperature! < 30, `temperature ${m.temperature}`);
    if ('humidity' in m) assert.ok(m.humidity! > 30 && m.humidity! < 60, `humidity ${m.humidity}`);
    if ('voltage' in m) assert.ok(m.voltage! > 224 && m.voltage! < 236, `voltage ${m.voltage} (float32, CDAB)`);
    if ('setpoint' in m) assert.ok(Math.abs(m.setpoint! - 21.5) < 1e-9, `setpoint ${m.setpoint}`);
    if ('seq' in m) assert.ok(Number.isInteger(m.seq) && m.seq! >= 1, `seq ${m.seq}`);
  }
  const seqs = readings.flatMap((r) => (r.metrics?.seq === undefined ? [] : [r.metrics.seq]));
  assert.ok(seqs.length >= 2 && seqs.at(-1)! > seqs[0]!, `registers change between polls: seq ${seqs.join()}`);
}

async function readingsOf(gw: TestGateway, deviceId: string, atLeast: number): Promise<Reading[]> {
  const got: Reading[] = [];
  await eventually(() => {
    got.push(...(byDevice(gw.committed()).get(deviceId) ?? []));
    return got.length >= atLeast;
  }, `${atLeast} readings from ${deviceId}`);
  return got;
}

describe('fieldline-sim Modbus slaves', () => {
  test('--modbus-tcp 1: the printed gateway.yaml section polls the slave, and SIGTERM stops it cleanly with a summary', async () => {
    const sim = startSim(['--modbus-tcp', '1', '--rate', '10']);
    let gw: TestGateway | undefined;
    try {
      await sim.waitFor(/running until SIGINT or SIGTERM/);
      assert.match(sim.output(), /Modbus\/TCP slave on 127\.0\.0\.1:\d+: unit 1 \(sim-modbus-tcp1-unit1\)/);
      assert.match(sim.output(), /input registers 2-3 +voltage +float32 CDAB V/, 'the register map is printed');
      gw = await startGateway({ modbus: printedModbusSection(sim.output()) });
      const readings = await readingsOf(gw, 'sim-modbus-tcp1-unit1', 5);
      assertPlausible(readings);

      await gw.stop();
      const device = gw.gateway.modbus!.stats().buses[0]!.devices[0]!;
      const { exit, summary } = await sim.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM is a clean stop');
      const s = summary.modbusTcp!;
      assert.ok(s.updates >= 5, JSON.stringify(s));
      assert.equal(s.requests, s.answered, 'no fault mode: every request answered');
      // Function 4 (addresses 0-5, one merged read) and function 3 (address 0) per poll.
      assert.equal(device.ok, s.requests, 'every request the gateway made was answered with data');
    } finally {
      await sim.kill();
      await gw?.stop();
    }
  });

  test('--modbus-rtu on a socat pty pair with --faults malformed,exceptions: the RTU bus polls it, and CRC errors and exceptions match', async () => {
    const scratch = scratchDir('sim-cli-rtu');
    const line = await startPtyPair(scratch.dir);
    const sim = startSim(['--modbus-rtu', line.b, '--modbus-rtu-peer', line.a, '--rate', '10', '--faults', 'malformed,exceptions', '--fault-rate', '0.2']);
    let gw: TestGateway | undefined;
    try {
      await sim.waitFor(/running until SIGINT or SIGTERM/);
      assert.match(sim.output(), /Modbus RTU slave on \S+ \(19200 8E1\): address 1 \(sim-modbus-rtu-unit1\)/);
      const section = printedModbusSection(sim.output()) as { buses: { type: string; path: string; parity: string }[] };
      assert.equal(section.buses[0]?.type, 'rtu');
      assert.equal(section.buses[0]?.path, line.a, "the gateway's end of the line");
      assert.equal(section.buses[0]?.parity, 'even');
      gw = await startGateway({ modbus: section });
      const readings = await readingsOf(gw, 'sim-modbus-rtu-unit1', 5);
      assertPlausible(readings, { partial: true });
      assert.ok(readings.some((r) => Object.keys(r.metrics ?? {}).length === METRICS.length), 'whole polls too');
      await eventually(() => {
        const d = gw!.gateway.modbus!.stats().buses[0]!.devices[0]!;
        return d.crcError > 0 && total(d.exception) > 0;
      }, 'CRC errors and exceptions seen by the gateway');

      // The gateway first, so no request is left unanswered when the counts are compared.
      await gw.stop();
      const bus = gw.gateway.modbus!.stats().buses[0]!;
      const device = bus.devices[0]!;
      const { exit, summary } = await sim.stop('SIGINT');
      assert.deepEqual(exit, { code: 0, signal: null }, 'SIGINT is a clean stop');
      const s = summary.modbusRtu!;
      assert.equal(s.faults.silent, 0, 'timeouts were not asked for');
      assert.equal(s.requests, bus.requests, 'the slave saw every request the bus sent');
      assert.equal(device.crcError, s.faults.corruptCrc, 'each corrupted answer is a CRC error at the gateway');
      assert.deepEqual(device.exception, s.faults.exceptions, 'each exception answer counted under its code');
      assert.equal(device.ok, s.answered);
      // A share, not all: with some 15 requests the share itself swings (7 of 15 were seen), so no bound on it.
      assert.ok(s.answered > 0 && s.faults.corruptCrc + total(s.faults.exceptions) < s.requests, `faults are a share of the traffic: ${JSON.stringify(s)}`);
    } finally {
      await sim.kill();
      await gw?.stop();
      await line.stop();
      scratch.remove();
    }
  });
});
