// Every register type in every byte order, laid out back to back, for the tests against real slaves:
// the tags the gateway polls, the values the slave is told to hold (it encodes them itself), and the
// values the readings must carry.
import type { PyValue } from './support.js';

const TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const;
const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
const WIDTH = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, float64: 4 } as const;

function valueFor(type: (typeof TYPES)[number], i: number): number {
  switch (type) {
    case 'int16':
      return -1234 - i;
    case 'uint16':
      return 60_000 + i;
    case 'int32':
      return -2_000_000_000 + i;
    case 'uint32':
      return 4_000_000_000 + i;
    case 'float32':
      return 1234.5 + i * 0.25; // exact in float32
    case 'float64':
      return -9876.54321 + i;
  }
}

export interface Matrix {
  tags: { metric: string; function: 3 | 4; address: number; type: string; byteOrder: string; scale?: number; offset?: number }[];
  slaveValues: PyValue[];
  expected: Record<string, number>;
  /** Registers the matrix spans from its first address. */
  registers: number;
}

/** The 24 type × order tags for `fn`, starting at `address`, plus one scaled tag at the end. */
export function typeMatrix(fn: 3 | 4, address: number): Matrix {
  const m: Matrix = { tags: [], slaveValues: [], expected: {}, registers: 0 };
  let at = address;
  let i = 0;
  for (const type of TYPES) {
    for (const order of ORDERS) {
      const value = valueFor(type, i++);
      const metric = `fc${fn}_${type}_${order.toLowerCase()}`;
      m.tags.push({ metric, function: fn, address: at, type, byteOrder: order });
      m.slaveValues.push({ table: fn === 3 ? 'holding' : 'input', address: at, type, order, value });
      m.expected[metric] = type === 'float32' ? Math.fround(value) : value;
      at += WIDTH[type];
    }
  }
  // Scale and offset after decoding: raw −500 → −500 × 0.1 + 20.
  const metric = `fc${fn}_scaled`;
  m.tags.push({ metric, function: fn, address: at, type: 'int16', byteOrder: 'BADC', scale: 0.1, offset: 20 });
  m.slaveValues.push({ table: fn === 3 ? 'holding' : 'input', address: at, type: 'int16', order: 'BADC', value: -500 });
  m.expected[metric] = -500 * 0.1 + 20;
  at += 1;
  m.registers = at - address;
  return m;
}

/** Coils (fn 1) or discrete inputs (fn 2): a fixed pattern of `n` bits from `address`. */
export function bitMatrix(fn: 1 | 2, address: number, n = 11): { tags: Matrix['tags'] | { metric: string; function: 1 | 2; address: number }[]; slaveValues: PyValue[]; expected: Record<string, number> } {
  const bits = Array.from({ length: n }, (_, i) => (i * 7 + fn) % 3 === 0);
  return {
    tags: bits.map((_, i) => ({ metric: `fc${fn}_bit${i}`, function: fn, address: address + i })),
    slaveValues: [{ table: fn === 1 ? 'coils' : 'discrete', address, bits }],
    expected: Object.fromEntries(bits.map((b, i) => [`fc${fn}_bit${i}`, b ? 1 : 0])),
  };
}
