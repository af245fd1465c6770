// The gateway polling a pymodbus RTU slave over a real serial line: a socat pty pair, the slave on
// one end and the adapter's serial port on the other. Every type and byte order decodes to the value
// the slave holds; CRC errors and a silent slave are handled; the inter-frame gap is kept.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ModbusAdapter, type ModbusDeviceStats } from '../../gateway/src/ingest/modbus/adapter.js';
import { modbusConfigSchema } from '../../gateway/src/ingest/modbus/config.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { SourceProtocol } from '../../proto/src/wire.js';
import { bitMatrix, typeMatrix } from './matrix.js';
import {
  eventually,
  recordingIngest,
  scratchDir,
  silentLog,
  startPtyPair,
  startPymodbusSlave,
  watchUnhandledRejections,
  type PtyPair,
  type PySlave,
} from './support.js';

const DEAD_TIMEOUT_MS = 250;
const POLL_MS = 60;
/** Far above t3.5 at 19200 baud (2 ms), so the gap is measurable through the slave's log. */
const GAP_MS = 12;

const unhandled = watchUnhandledRejections();
const scratch = scratchDir('rtu');
const holding = typeMatrix(3, 0);
const input = typeMatrix(4, 500);
const coils = bitMatrix(1, 0);
const discrete = bitMatrix(2, 40);
const rec = recordingIngest();
let line: PtyPair;
let slave: PySlave;
let adapter: ModbusAdapter;
let stats: Map<string, ModbusDeviceStats>;

before(async () => {
  line = await startPtyPair(scratch.dir);
  slave = await startPymodbusSlave(scratch.dir, 'rtu', {
    transport: 'rtu',
    device: line.b,
    baudrate: 19200,
    units: {
      1: { values: [...holding.slaveValues, ...input.slaveValues, ...coils.slaveValues, ...discrete.slaveValues] },
      2: { values: [{ table: 'input', address: 0, registers: [7, 8, 9] }] },
      4: { fault: 'crc', values: [{ table: 'holding', address: 0, registers: [42] }] },
      9: { fault: 'silent' },
    },
  });
  const cfg = modbusConfigSchema.parse({
    enabled: true,
    buses: [
      {
        type: 'rtu',
        path: line.a,
        baudRate: 19200,
        parity: 'none', // a pty takes no parity setting; the line is a pipe
        interFrameDelayMs: GAP_MS,
        devices: [
          { deviceId: 'silent', unitId: 9, timeoutMs: DEAD_TIMEOUT_MS, retries: 2, backoff: { initialMs: 800, maxMs: 800, multiplier: 1 }, tagGroups: [{ pollIntervalMs: POLL_MS, tags: [{ metric: 'x', function: 3, address: 0 }] }] },
          { deviceId: 'all-types', unitId: 1, tagGroups: [{ pollIntervalMs: 300, tags: [...holding.tags, ...input.tags, ...coils.tags, ...discrete.tags] }] },
          { deviceId: 'steady', unitId: 2, tagGroups: [{ pollIntervalMs: POLL_MS, tags: [0, 1, 2].map((address) => ({ metric: `v${address}`, function: 4, address })) }] },
          { deviceId: 'bad-crc', unitId: 4, retries: 1, tagGroups: [{ pollIntervalMs: 300, tags: [{ metric: 'x', function: 3, address: 0 }] }] },
        ],
      },
    ],
  });
  adapter = new ModbusAdapter(cfg, new Metrics(), silentLog);
  await adapter.start(rec.ingest);
  await eventually(() => adapter.stats().buses[0]!.devices[0]!.state === 'backoff' && rec.of('all-types').length >= 3, 'polls and the silent slave backing off', 15_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await adapter.stop();
  stats = new Map(adapter.stats().buses[0]!.devices.map((d) => [d.deviceId, d]));
});

after(async () => {
  await adapter?.stop();
  await slave?.stop();
  await line?.stop();
  scratch.remove();
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no unhandled promise rejection');
});

describe('Modbus RTU over a socat pty pair against a pymodbus serial slave', () => {
  test('every type in every byte order, coils and discrete inputs decode to the values the slave holds', () => {
    const envs = rec.of('all-types');
    assert.ok(envs.length >= 3);
    for (const env of envs) {
      assert.equal(env.source, SourceProtocol.SOURCE_PROTOCOL_MODBUS_RTU);
      assert.deepEqual(env.reading?.metrics, { ...holding.expected, ...input.expected, ...coils.expected, ...discrete.expected });
    }
    const shapes = new Set(slave.requests().filter((r) => r.unit === 1).map((r) => `${r.fc}@${r.address}x${r.count}`));
    assert.deepEqual([...shapes].sort(), ['1@0x11', '2@40x11', `3@0x${holding.registers}`, `4@500x${input.registers}`]);
  });

  test('a corrupted CRC is counted, retried, and never becomes a reading', () => {
    const bad = stats.get('bad-crc')!;
    assert.ok(bad.crcError >= 2, `${bad.crcError} CRC errors`);
    assert.ok(bad.retries >= 1);
    assert.equal(bad.ok, 0);
    assert.equal(bad.lastError?.kind, 'crc');
    assert.equal(rec.of('bad-crc').length, 0);
    // The line is in step after each bad frame: the next device's answer is read correctly.
    assert.ok(rec.of('steady').every((e) => e.reading?.metrics?.v0 === 7 && e.reading.metrics.v2 === 9));
  });

  test('a silent slave delays another slave on the line by at most one timeout', () => {
    const silent = stats.get('silent')!;
    assert.ok(silent.timeout >= 3);
    assert.equal(silent.state, 'backoff');
    // Counted on the line, from the slave's own log rather than a stopwatch: between two requests to
    // the live slave (always due: its interval is far below one timeout) the silent one got at most
    // one try; its retries waited for their turn instead of holding the line back to back.
    const order = slave.requests().map((r) => r.unit);
    const triesOfSilent = order.filter((u) => u === 9).length;
    assert.ok(triesOfSilent >= 3, `the slave logged ${triesOfSilent} requests to the silent unit: ${order.join(',')}`);
    let sinceSteady = 0;
    let worst = 0;
    for (const unit of order.slice(order.indexOf(2))) {
      if (unit === 2) sinceSteady = 0;
      else if (unit === 9) worst = Math.max(worst, ++sinceSteady);
    }
    assert.equal(worst, 1, `the silent unit got ${worst} tries in a row between two polls of the live one: ${order.join(',')}`);
  });

  test('requests keep the inter-frame gap after every answer', () => {
    // The slave stamps each request when it has decoded it; consecutive answered requests are at
    // least the answer, the gap and the next request apart.
    const times = slave.requests().map((r) => r.t * 1000);
    const spacing = times.slice(1).map((t, i) => t - (times[i] as number));
    assert.ok(spacing.length > 20);
    assert.ok(Math.min(...spacing) >= GAP_MS - 3, `two requests only ${Math.min(...spacing).toFixed(1)} ms apart`);
  });
});
