// Write commands as Modbus requests. The encodings are checked against the golden cases of the read
// direction (registers made by Python's struct, test/modbus/golden), so a write and a read of the
// same tag agree with an implementation that is not ours; the rest pins the function chosen, the
// range and resolution checks, and the refusals.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../../../../devstack/net.js';
import { modbusConfigSchema, type DeviceConfig, type ModbusConfig } from './config.js';
import { decodeTag, encodeRegisters, type ByteOrder, type RegisterType } from './conversions.js';
import { planWrite, rawValue, type WriteRequest } from './writes.js';

const GOLDEN = join(repoRoot(), 'test', 'modbus', 'golden');

function device(tags: Record<string, unknown>[]): DeviceConfig {
  const cfg = modbusConfigSchema.parse({
    enabled: true,
    buses: [{ type: 'tcp', host: '127.0.0.1', devices: [{ deviceId: 'plc', tagGroups: [{ tags }] }] }],
  }) as ModbusConfig;
  return cfg.buses[0]!.devices[0]!;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

function registers(req: WriteRequest): string[] {
  assert.ok(req.fn === 6 || req.fn === 16, `function ${req.fn} carries no registers`);
  return Array.from({ length: req.registers.length / 2 }, (_, i) => `0x${req.registers.readUInt16BE(i * 2).toString(16).padStart(4, '0')}`);
}

describe('encoding a value for a write matches the golden registers (Python struct)', () => {
  const cases = readdirSync(GOLDEN).filter((n) => statSync(join(GOLDEN, n)).isDirectory());
  for (const name of cases) {
    const dir = join(GOLDEN, name);
    const tag = JSON.parse(readFileSync(join(dir, 'tag.json'), 'utf8')) as { type: string; byteOrder?: ByteOrder; scale?: number; offset?: number; item?: number };
    const { value } = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { value: number | 'NaN' };
    const regs = JSON.parse(readFileSync(join(dir, 'registers.json'), 'utf8')) as string[] | { packedBits: number[] };
    // Bits, NaN and values taken from the middle of a merged response say nothing about a write.
    if (tag.type === 'bool' || value === 'NaN' || !Array.isArray(regs) || (tag.item ?? 0) !== 0) continue;
    test(name, () => {
      const t = { metric: 'x', function: 3 as const, address: 0, type: tag.type as RegisterType, byteOrder: tag.byteOrder ?? 'ABCD', scale: tag.scale ?? 1, offset: tag.offset ?? 0, writable: true };
      const wire = encodeRegisters(rawValue(t, value), t.type, t.byteOrder);
      const want = Buffer.alloc(regs.length * 2);
      regs.forEach((r, i) => want.writeUInt16BE(Number.parseInt(r, 16), i * 2));
      assert.deepEqual(wire, want);
      assert.equal(decodeTag(wire, 0, t), value, 'reads back as the value written');
    });
  }
});

describe('the function a write uses', () => {
  const d = device([
    { metric: 'pump', function: 1, address: 0, writable: true },
    { metric: 'fan', function: 1, address: 1, writable: true },
    { metric: 'alarm', function: 1, address: 2 },
    { metric: 'setpoint', function: 3, address: 10, type: 'int16', scale: 0.1, writable: true, min: -20, max: 80 },
    { metric: 'speed', function: 3, address: 11, type: 'uint16', writable: true },
    { metric: 'flow', function: 3, address: 12, type: 'float32', byteOrder: 'CDAB', writable: true },
    { metric: 'total', function: 3, address: 14, type: 'float64', byteOrder: 'DCBA', writable: true },
    { metric: 'counter', function: 3, address: 18, type: 'uint32', writable: true, max: 100000 },
    { metric: 'status', function: 4, address: 0 },
    { metric: 'readonly-hr', function: 3, address: 30 },
  ]);

  test('one coil: function 5; true and 1 both switch it on', () => {
    assert.deepEqual(planWrite(d, 'pump', true), { fn: 5, address: 0, coil: true });
    assert.deepEqual(planWrite(d, 'pump', 0), { fn: 5, address: 0, coil: false });
  });

  test('several coils: function 15 over consecutive writable coil tags', () => {
    assert.deepEqual(planWrite(d, 'pump', [true, false]), { fn: 15, address: 0, coils: [true, false] });
  });

  test('one 16-bit register: function 6, value back through scale (21.5 at 0.1 per step is 215)', () => {
    const req = planWrite(d, 'setpoint', 21.5);
    assert.equal(req.fn, 6);
    assert.deepEqual(registers(req), ['0x00d7']);
    assert.deepEqual(registers(planWrite(d, 'setpoint', -12.5)), ['0xff83'], 'negative int16 in two\'s complement');
  });

  test('32- and 64-bit values: function 16, in the tag\'s byte and word order', () => {
    const flow = planWrite(d, 'flow', 1.5);
    assert.equal(flow.fn, 16);
    assert.deepEqual(registers(flow), ['0x0000', '0x3fc0'], 'float32 1.5 is 3FC0 0000, word-swapped');
    const total = planWrite(d, 'total', 1);
    assert.deepEqual(registers(total), ['0x0000', '0x0000', '0x0000', '0xf03f'], 'float64 1.0 is 3FF0 0…0, fully little-endian');
    assert.deepEqual(registers(planWrite(d, 'counter', 70000)), ['0x0001', '0x1170']);
  });

  test('several registers: function 16 across consecutive tags of different types', () => {
    const req = planWrite(d, 'setpoint', [20, 1500, 2.5]);
    assert.equal(req.fn, 16);
    assert.equal(req.address, 10);
    assert.deepEqual(registers(req), ['0x00c8', '0x05dc', '0x0000', '0x4020']);
  });

  test('refusals name what is wrong, before anything is sent', () => {
    assert.equal(codeOf(() => planWrite(d, 'nope', 1)), 'FL_ERR_COMMAND_UNKNOWN_TAG');
    assert.equal(codeOf(() => planWrite(d, 'alarm', true)), 'FL_ERR_COMMAND_NOT_WRITABLE');
    assert.equal(codeOf(() => planWrite(d, 'readonly-hr', 1)), 'FL_ERR_COMMAND_NOT_WRITABLE');
    assert.equal(codeOf(() => planWrite(d, 'fan', [true, true])), 'FL_ERR_COMMAND_NOT_WRITABLE', 'the second coil (alarm) is not writable');
    assert.equal(codeOf(() => planWrite(d, 'setpoint', 80.1)), 'FL_ERR_COMMAND_OUT_OF_RANGE', 'above max');
    assert.equal(codeOf(() => planWrite(d, 'setpoint', -20.5)), 'FL_ERR_COMMAND_OUT_OF_RANGE', 'below min');
    assert.equal(codeOf(() => planWrite(d, 'speed', 65536)), 'FL_ERR_COMMAND_OUT_OF_RANGE', 'beyond uint16');
    assert.equal(codeOf(() => planWrite(d, 'speed', -1)), 'FL_ERR_COMMAND_OUT_OF_RANGE', 'negative uint16');
    assert.equal(codeOf(() => planWrite(d, 'counter', 100001)), 'FL_ERR_COMMAND_OUT_OF_RANGE');
    assert.equal(codeOf(() => planWrite(d, 'setpoint', 21.55)), 'FL_ERR_COMMAND_BAD_VALUE', 'finer than 0.1 per step');
    assert.equal(codeOf(() => planWrite(d, 'speed', true)), 'FL_ERR_COMMAND_BAD_VALUE', 'a boolean for a register');
    assert.equal(codeOf(() => planWrite(d, 'pump', 2)), 'FL_ERR_COMMAND_BAD_VALUE', '2 for a coil');
    assert.equal(codeOf(() => planWrite(d, 'counter', [1, 2])), 'FL_ERR_COMMAND_BAD_VALUE', 'no tag after counter');
    assert.equal(codeOf(() => planWrite(d, 'speed', [])), 'FL_ERR_COMMAND_BAD_VALUE');
  });
});

describe('writable in the register map', () => {
  test('only coils and holding registers can be writable, and min must not exceed max', () => {
    const parse = (tag: Record<string, unknown>) =>
      modbusConfigSchema.safeParse({ enabled: true, buses: [{ type: 'tcp', host: 'h', devices: [{ deviceId: 'd', tagGroups: [{ tags: [tag] }] }] }] });
    assert.equal(parse({ metric: 'x', function: 3, address: 0, writable: true }).success, true);
    assert.equal(parse({ metric: 'x', function: 1, address: 0, writable: true }).success, true);
    const input = parse({ metric: 'x', function: 4, address: 0, writable: true });
    assert.equal(input.success, false);
    assert.match(JSON.stringify(input.error?.issues), /only coils \(1\) and holding registers \(3\) can be written/);
    assert.equal(parse({ metric: 'x', function: 2, address: 0, writable: true }).success, false);
    assert.equal(parse({ metric: 'x', function: 3, address: 0, writable: true, min: 5, max: 1 }).success, false);
    assert.equal(device([{ metric: 'x', function: 3, address: 0 }]).tagGroups[0]!.tags[0]!.writable, false, 'default false');
  });
});
