// The request bodies of POST /modbus/scan and /modbus/read, which the CLI checks the same way: a bad
// field is named with what was expected and the value given, and defaults fill the rest.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_SCAN_UNITS } from '../ingest/modbus/tools.js';
import { describeIssues, readRequestSchema, scanRequestSchema } from './modbus-schemas.js';

describe('Modbus request schemas shared by the local API and the CLI', () => {
  test('a scan defaults to every serial slave address, holding register 0, 200 ms; unit lists are sorted without repeats', () => {
    assert.deepEqual(scanRequestSchema.parse({}), { units: [...DEFAULT_SCAN_UNITS], fn: 3, address: 0, count: 1, timeoutMs: 200 });
    assert.deepEqual(scanRequestSchema.parse({ units: [5, 1, 5] }).units, [1, 5]);
    assert.deepEqual(scanRequestSchema.parse({ units: '3, 1-2' }).units, [1, 2, 3]);
  });

  test('a bad field is named, with what was expected and the value given; unknown keys are refused', () => {
    const cases: [unknown, RegExp][] = [
      [{ unit: 1, address: 0, type: 'float33' }, /^type: .*"float32".*\(got "float33"\)$/],
      [{ unit: 1, address: 0, fn: 1, type: 'int16' }, /^type: expected no type: function 1 reads single bits/],
      [{ unit: 1, address: 0, byteOrder: 'CDAB' }, /^byteOrder: expected byteOrder only together with a type/],
      [{ unit: 1, address: 0, type: 'int32', count: 1 }, /^count: expected at least 2/],
      [{ unit: 1, address: 65535, count: 2 }, /^count: address 65535 \+ count 2 runs past/],
      [{ unit: 300, address: 0 }, /^unit: .*\(got 300\)$/],
      [{ address: 0 }, /^unit: /],
      [{ unit: 1, address: 0, colour: 'red' }, /^unknown key colour$/],
      [{ unit: 1, address: 0, timeoutMs: 60_000 }, /^timeoutMs: /],
    ];
    for (const [body, want] of cases) {
      const r = readRequestSchema.safeParse(body, { reportInput: true });
      assert.equal(r.success, false, JSON.stringify(body));
      assert.match(describeIssues(r.error!), want);
    }
    const scan = scanRequestSchema.safeParse({ units: '1-999' }, { reportInput: true });
    assert.match(describeIssues(scan.error!, { units: '--units' }), /^--units: .*past 255/);
    assert.deepEqual(readRequestSchema.parse({ unit: 1, address: 0, type: 'float32' }), { unit: 1, address: 0, fn: 3, type: 'float32', count: 2, timeoutMs: 1000 });
  });
});
