import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TagConfig } from './config.js';
import type { ValueType } from './conversions.js';
import { planRequests } from './plan.js';
import type { ReadFunction } from './spec.js';

function tag(metric: string, fn: ReadFunction, address: number, type: ValueType = fn <= 2 ? 'bool' : 'uint16'): TagConfig {
  return { metric, function: fn, address, type, byteOrder: 'ABCD', scale: 1, offset: 0, writable: false };
}

const LIMITS = { maxGap: 0, maxRegistersPerRead: 125, maxBitsPerRead: 2000 };

function shape(reqs: ReturnType<typeof planRequests>): string[] {
  return reqs.map((r) => `fc${r.fn}@${r.address}x${r.count}`);
}

describe('request merging', () => {
  test('ten adjacent registers of mixed widths become one request, each tag at its own offset', () => {
    const tags = [
      tag('a', 3, 100, 'float32'),
      tag('b', 3, 102, 'int16'),
      tag('c', 3, 103, 'float64'),
      tag('d', 3, 107),
      tag('e', 3, 108, 'uint32'),
    ];
    const reqs = planRequests(tags.reverse(), LIMITS);
    assert.deepEqual(shape(reqs), ['fc3@100x10']);
    assert.deepEqual(
      reqs[0]!.tags.map((t) => [t.tag.metric, t.item]),
      [['a', 0], ['b', 2], ['c', 3], ['d', 7], ['e', 8]],
    );
  });

  test('a hole splits the request unless maxGap covers it', () => {
    const tags = [tag('a', 3, 0), tag('b', 3, 3), tag('c', 3, 10)];
    assert.deepEqual(shape(planRequests(tags, LIMITS)), ['fc3@0x1', 'fc3@3x1', 'fc3@10x1']);
    assert.deepEqual(shape(planRequests(tags, { ...LIMITS, maxGap: 2 })), ['fc3@0x4', 'fc3@10x1']);
    assert.deepEqual(shape(planRequests(tags, { ...LIMITS, maxGap: 6 })), ['fc3@0x11']);
  });

  test('requests never exceed 125 registers (function 3/4 limit), and a value is never split', () => {
    const tags = Array.from({ length: 70 }, (_, i) => tag(`r${i}`, 4, i * 2, 'float32')); // 140 registers
    const reqs = planRequests(tags, LIMITS);
    assert.deepEqual(shape(reqs), ['fc4@0x124', 'fc4@124x16']);
  });

  test('requests never exceed 2000 bits (function 1/2 limit)', () => {
    const tags = Array.from({ length: 2500 }, (_, i) => tag(`c${i}`, 1, i));
    assert.deepEqual(shape(planRequests(tags, LIMITS)), ['fc1@0x2000', 'fc1@2000x500']);
  });

  test("a device's lower limit is respected", () => {
    const tags = Array.from({ length: 10 }, (_, i) => tag(`r${i}`, 3, i));
    assert.deepEqual(shape(planRequests(tags, { ...LIMITS, maxRegistersPerRead: 4 })), ['fc3@0x4', 'fc3@4x4', 'fc3@8x2']);
  });

  test('different functions are never merged, even at the same addresses', () => {
    const tags = [tag('h', 3, 0), tag('i', 4, 1), tag('c', 1, 2), tag('d', 2, 3), tag('h2', 3, 1)];
    assert.deepEqual(shape(planRequests(tags, { ...LIMITS, maxGap: 10 })), ['fc1@2x1', 'fc2@3x1', 'fc3@0x2', 'fc4@1x1']);
  });
});
