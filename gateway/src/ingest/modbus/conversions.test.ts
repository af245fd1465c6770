// Golden cases in test/modbus/golden/<name>/{registers.json, tag.json, expected.json}; the values
// were encoded by Python's struct (make_golden.py there), not by the code under test.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../../../../devstack/net.js';
import { BYTE_ORDERS, VALUE_TYPES, decodeTag, type ByteOrder, type ValueType } from './conversions.js';

const GOLDEN = join(repoRoot(), 'test', 'modbus', 'golden');

interface GoldenTag {
  type: ValueType;
  byteOrder?: ByteOrder;
  scale?: number;
  offset?: number;
  item?: number;
}

function readJson<T>(dir: string, file: string): T {
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
}

function dataBytes(registers: string[] | { packedBits: number[] }): Buffer {
  if (!Array.isArray(registers)) return Buffer.from(registers.packedBits);
  const out = Buffer.alloc(registers.length * 2);
  registers.forEach((r, i) => out.writeUInt16BE(Number.parseInt(r, 16), i * 2));
  return out;
}

const cases = readdirSync(GOLDEN)
  .filter((name) => statSync(join(GOLDEN, name)).isDirectory())
  .sort();

describe('Modbus type conversions (golden cases)', () => {
  for (const name of cases) {
    test(name, () => {
      const dir = join(GOLDEN, name);
      const tag = readJson<GoldenTag>(dir, 'tag.json');
      const { value } = readJson<{ value: number | 'NaN' }>(dir, 'expected.json');
      const got = decodeTag(dataBytes(readJson(dir, 'registers.json')), tag.item ?? 0, {
        type: tag.type,
        byteOrder: tag.byteOrder ?? 'ABCD',
        scale: tag.scale ?? 1,
        offset: tag.offset ?? 0,
      });
      if (value === 'NaN') assert.ok(Number.isNaN(got), `expected NaN, got ${got}`);
      else if (tag.type === 'float32') assert.equal(got, Math.fround(value));
      else assert.equal(got, value);
    });
  }

  test('every register type is pinned in all four byte orders', () => {
    for (const type of VALUE_TYPES.filter((t) => t !== 'bool')) {
      for (const order of BYTE_ORDERS) {
        assert.ok(
          cases.some((c) => c.startsWith(`${type}-${order.toLowerCase()}-`)),
          `no golden case for ${type} ${order}`,
        );
      }
    }
  });

  test('a value that does not fit the response is refused, not read from beyond it', () => {
    assert.throws(() => decodeTag(Buffer.alloc(4), 1, { type: 'float32', byteOrder: 'ABCD', scale: 1, offset: 0 }), RangeError);
    assert.throws(() => decodeTag(Buffer.alloc(1), 8, { type: 'bool', byteOrder: 'ABCD', scale: 1, offset: 0 }), RangeError);
  });
});
