// The commissioning tools against a scripted read function: what a scan reports for each kind of
// answer, what a test read decodes, and how unit lists are read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeTransport } from '../../../../test/modbus/fake-transport.js';
import { VirtualClock } from '../../../../test/support/virtual-clock.js';
import { encodeValue } from '../../../../firmware-sim/src/modbus-slave.js';
import { FieldlineError, GatewayError } from '../../errors.js';
import type { ReadFunction } from './spec.js';
import { DEFAULT_SCAN_UNITS, checkUnits, parseUnits, scanUnits, testRead, transportReader, type ReadFn } from './tools.js';
import { ModbusFailure } from './transport.js';

/** Requests that started before the previous one ended. */
function overlapping(transport: FakeTransport): number {
  return transport.calls.slice(1).filter((c, i) => c.startMs < transport.calls[i]!.endMs).length;
}

type Script = Record<number, 'data' | 'timeout' | 'crc' | 'connection' | { exception: number }>;

/** A read function with one scripted answer per unit (silent when unlisted) that records its calls. */
function scripted(script: Script, data = Buffer.from([0x12, 0x34])) {
  const calls: { unit: number; fn: ReadFunction; address: number; count: number; timeoutMs: number }[] = [];
  const read: ReadFn = async (unit, fn, address, count, timeoutMs) => {
    calls.push({ unit, fn, address, count, timeoutMs });
    const answer = script[unit] ?? 'timeout';
    if (answer === 'data') return data;
    if (answer === 'timeout') throw new ModbusFailure('timeout', 'no response within the timeout');
    if (answer === 'crc') throw new ModbusFailure('crc', 'response failed its CRC check');
    if (answer === 'connection') throw new ModbusFailure('connection', 'port not open');
    throw new ModbusFailure('exception', `exception ${answer.exception}`, answer.exception);
  };
  return { read, calls };
}

describe('scanUnits', () => {
  test('reports units answering with data or an exception, counts silence, lists garbled answers', async () => {
    const { read, calls } = scripted({ 1: 'data', 3: { exception: 2 }, 4: 'crc', 6: { exception: 11 }, 7: { exception: 6 } });
    const r = await scanUnits(read, { units: parseUnits('1-8'), timeoutMs: 50 });
    assert.deepEqual(r.units.map((u) => [u.unitId, u.answer, u.exceptionCode, u.exception]), [
      [1, 'data', undefined, undefined],
      [3, 'exception', 2, 'illegal data address'],
      [7, 'exception', 6, 'server device busy'],
    ]);
    assert.equal(r.found, 3);
    assert.equal(r.exceptions, 2);
    assert.equal(r.silent, 4, 'units 2, 5, 8 time out; exception 11 is a gateway saying its target is not there');
    assert.deepEqual(r.garbled.map((g) => [g.unitId, g.kind]), [[4, 'crc']]);
    assert.equal(r.probed, 8);
    assert.equal(r.complete, true);
    assert.deepEqual(calls.map((c) => c.unit), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.ok(calls.every((c) => c.fn === 3 && c.address === 0 && c.count === 1 && c.timeoutMs === 50), 'default probe: holding register 0');
  });

  test('defaults to every serial slave address; a lost line or a full queue ends the scan with that error', async () => {
    const all = scripted({});
    const r = await scanUnits(all.read);
    assert.equal(all.calls.length, 247);
    assert.deepEqual([all.calls[0]?.unit, all.calls.at(-1)?.unit], [1, 247]);
    assert.equal(r.silent, 247);
    await assert.rejects(scanUnits(scripted({ 1: 'data', 2: 'connection' }).read, { units: [1, 2, 3] }), (e: unknown) => e instanceof ModbusFailure && e.kind === 'connection');
    const busy: ReadFn = async () => {
      throw new GatewayError('FL_ERR_MODBUS_BUSY');
    };
    await assert.rejects(scanUnits(busy, { units: [1] }), FieldlineError);
    await assert.rejects(scanUnits(all.read, { count: 126 }), RangeError);
  });

  test('stops between units when its signal is aborted', async () => {
    const ac = new AbortController();
    const { read, calls } = scripted({ 1: 'data' });
    const r = await scanUnits(read, { units: [1, 2, 3, 4], signal: ac.signal, onUnit: (unit) => unit === 2 && ac.abort() });
    assert.deepEqual(calls.map((c) => c.unit), [1, 2]);
    assert.equal(r.complete, false);
    assert.equal(r.found, 1);
  });
});

describe('testRead', () => {
  test('decodes a float32 CDAB with scale and offset through conversions.ts, and shows the raw registers', async () => {
    const registers = encodeValue('float32', 231.5, 'CDAB');
    const data = Buffer.alloc(8);
    registers.forEach((r, i) => data.writeUInt16BE(r, i * 2));
    encodeValue('float32', -2, 'CDAB').forEach((r, i) => data.writeUInt16BE(r, 4 + i * 2));
    const { read, calls } = scripted({ 1: 'data' }, data);
    const r = await testRead(read, { unit: 1, address: 10, count: 4, type: 'float32', byteOrder: 'CDAB', scale: 0.1, offset: 1 });
    assert.deepEqual(calls[0], { unit: 1, fn: 3, address: 10, count: 4, timeoutMs: 1000 });
    assert.deepEqual(r.registers, [...registers, ...encodeValue('float32', -2, 'CDAB')]);
    assert.equal(r.hex, data.toString('hex'));
    assert.ok(Math.abs((r.decoded?.value ?? 0) - 24.15) < 1e-9, `decoded ${r.decoded?.value}`);
    assert.deepEqual(r.decoded?.values.map((v) => Math.round(v * 1000) / 1000), [24.15, 0.8]);
    assert.equal(r.decoded?.byteOrder, 'CDAB');
  });

  test('count defaults to the width of the type; bits come back as booleans; a failure says which read it was', async () => {
    const f64 = scripted({ 1: 'data' }, Buffer.from('4045000000000000', 'hex'));
    const r = await testRead(f64.read, { unit: 1, address: 0, type: 'float64' });
    assert.equal(f64.calls[0]?.count, 4);
    assert.equal(r.decoded?.value, 42);
    const bits = await testRead(scripted({ 2: 'data' }, Buffer.from([0b101])).read, { unit: 2, fn: 1, address: 5, count: 3 });
    assert.deepEqual(bits.bits, [true, false, true]);
    assert.equal(bits.registers, undefined);
    await assert.rejects(testRead(scripted({ 3: { exception: 2 } }).read, { unit: 3, address: 9, timeoutMs: 70 }), (e: unknown) => e instanceof ModbusFailure && e.exceptionCode === 2 && /^unit 3, function 3, address 9, count 1: /.test(e.message));
    await assert.rejects(testRead(scripted({}).read, { unit: 4, address: 0, timeoutMs: 70 }), (e: unknown) => e instanceof ModbusFailure && e.kind === 'timeout' && /unit 4.*\(70 ms\)/.test(e.message));
    await assert.rejects(testRead(f64.read, { unit: 1, address: 0, count: 2, type: 'float64' }), RangeError);
  });

  test('over a Transport the caller owns: one request at a time, with the RTU gap between frames', async () => {
    // The reader and the fake slave on one virtual clock: the gaps are what the reader waited for.
    const clock = new VirtualClock();
    const transport = new FakeTransport('rtu', 1, clock);
    await clock.run(transport.open());
    const read = transportReader(transport, 12, clock);
    // Called all at once, as a careless caller might: they still go out one by one.
    await clock.run(Promise.all([1, 2, 3, 4].map((unit) => read(unit, 3, 0, 1, 100))));
    assert.equal(overlapping(transport), 0, 'no two requests on the line at once');
    const gaps = transport.calls.slice(1).map((c, i) => c.startMs - transport.calls[i]!.endMs);
    assert.deepEqual(gaps, [12, 12, 12], 'the 12 ms silence after every frame, and no longer');
  });
});

describe('unit lists', () => {
  test('ranges, lists, and what a serial line allows', () => {
    assert.deepEqual(parseUnits('3, 1-2,17,2'), [1, 2, 3, 17]);
    assert.throws(() => parseUnits('1-300'), /past 255/);
    assert.throws(() => parseUnits('5-3'), /backwards/);
    assert.throws(() => parseUnits('a'), /not a unit id/);
    assert.equal(checkUnits([0, 255], 'tcp'), undefined);
    assert.match(checkUnits([1, 248], 'rtu') ?? '', /unit 248 is not a serial slave address/);
    assert.equal(DEFAULT_SCAN_UNITS.length, 247);
  });
});
