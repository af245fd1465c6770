// decodeAll, the test read's "every type and word order side by side": a known float32 shows its
// value under the one byte order it was written in and not under the others; 16-bit types appear in
// their two distinct orders; widths the read cannot hold are left out; scale and offset apply.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeAll } from './conversions.js';

/** 231.5 as a big-endian float32 (0x43 0x67 0x80 0x00) laid out on the wire in `order`. */
function wire(order: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA'): Buffer {
  const be = Buffer.alloc(4);
  be.writeFloatBE(231.5);
  const [a, b, c, d] = [...be] as [number, number, number, number];
  const bytes = { ABCD: [a, b, c, d], CDAB: [c, d, a, b], BADC: [b, a, d, c], DCBA: [d, c, b, a] }[order];
  return Buffer.from(bytes);
}

describe('decodeAll', () => {
  for (const order of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
    test(`a float32 written ${order} reads 231.5 under float32 ${order} only`, () => {
      const rows = decodeAll(wire(order));
      const float32 = rows.filter((r) => r.type === 'float32');
      assert.deepEqual(float32.map((r) => r.byteOrder), ['ABCD', 'CDAB', 'BADC', 'DCBA']);
      assert.deepEqual(float32.filter((r) => r.value === 231.5).map((r) => r.byteOrder), [order]);
    });
  }

  test('two registers give int16/uint16 in ABCD and BADC (two values each), 32-bit types in four orders, no float64', () => {
    const rows = decodeAll(Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    assert.deepEqual(rows.map((r) => `${r.type} ${r.byteOrder}`), [
      'int16 ABCD', 'int16 BADC', 'uint16 ABCD', 'uint16 BADC',
      'int32 ABCD', 'int32 CDAB', 'int32 BADC', 'int32 DCBA',
      'uint32 ABCD', 'uint32 CDAB', 'uint32 BADC', 'uint32 DCBA',
      'float32 ABCD', 'float32 CDAB', 'float32 BADC', 'float32 DCBA',
    ]);
    const row = (t: string, o: string) => rows.find((r) => r.type === t && r.byteOrder === o)!;
    assert.deepEqual(row('int16', 'ABCD').values, [-2, 1]);
    assert.deepEqual(row('uint16', 'BADC').values, [0xfeff, 0x0100]);
    assert.equal(row('int32', 'ABCD').value, -131071);
    assert.equal(row('uint32', 'CDAB').value, 0x0001fffe);
  });

  test('one register shows only the 16-bit types; four show float64 too; scale and offset apply to every value', () => {
    assert.deepEqual([...new Set(decodeAll(Buffer.from([0, 215])).map((r) => r.type))], ['int16', 'uint16']);
    const f64 = Buffer.alloc(8);
    f64.writeDoubleBE(-12.375);
    const rows = decodeAll(f64, 10, 1);
    assert.equal(rows.find((r) => r.type === 'float64' && r.byteOrder === 'ABCD')?.value, -122.75);
    assert.equal(rows.find((r) => r.type === 'int16' && r.byteOrder === 'ABCD')?.values.length, 4);
    assert.equal(decodeAll(Buffer.from([0, 215]), 0.1, 0)[0]?.value, 21.5);
  });
});
