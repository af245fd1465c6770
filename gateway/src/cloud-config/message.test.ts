// The config topic's messages as the gateway reads them, and the partition a gateway's key is in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configPartition, parseConfigMessage, sectionsOf } from './message.js';

const value = (o: unknown) => Buffer.from(JSON.stringify(o));
const good = { gateway_id: 'gw-1', version: 2, issued_ms: 1_700_000_000_000, issued_by: 'ops', section: 'modbus', config: { enabled: true } };

describe('config topic messages', () => {
  it('reads a one-section version and a several-section one', () => {
    const m = parseConfigMessage('gw-1', value(good), 'gw-1');
    assert.ok(typeof m !== 'string');
    assert.deepEqual(sectionsOf(m), { modbus: { enabled: true } });
    const several = parseConfigMessage('gw-1', value({ ...good, section: undefined, config: { modbus: { enabled: false }, pipeline: {} } }), 'gw-1');
    assert.ok(typeof several !== 'string');
    assert.deepEqual(sectionsOf(several), { modbus: { enabled: false }, pipeline: {} });
  });

  it('says why a message is not a config for this gateway', () => {
    const cases: [string | null, Buffer | null, RegExp][] = [
      ['gw-2', value(good), /not this gateway/],
      ['gw-1', null, /tombstone/],
      ['gw-1', Buffer.from('{'), /not JSON/],
      ['gw-1', value([1]), /not a JSON object/],
      ['gw-1', value({ ...good, gateway_id: 'gw-2' }), /is not the key/],
      ['gw-1', value({ ...good, version: 0 }), /version 0/],
      ['gw-1', value({ ...good, version: 1.5 }), /version 1.5/],
      ['gw-1', value({ ...good, issued_ms: 'x' }), /issued_ms/],
      ['gw-1', value({ ...good, section: 'api' }), /section "api" is not one of/],
      ['gw-1', value({ ...good, section: undefined, config: { kafka: {} } }), /sets kafka, which only the gateway's own file sets/],
      ['gw-1', value({ ...good, config: 'x' }), /config is not a JSON object/],
    ];
    for (const [key, v, why] of cases) {
      const m = parseConfigMessage(key, v, 'gw-1');
      assert.equal(typeof m, 'string', String(why));
      assert.match(m as string, why);
    }
  });

  it("a key's partition is CRC-32 of its bytes modulo the partition count (librdkafka's consistent partitioner)", () => {
    // CRC-32 of "123456789" is 0xCBF43926, the check value of the IEEE polynomial.
    assert.equal(configPartition('123456789', 1_000_000), 0xcbf43926 % 1_000_000);
    assert.equal(configPartition('gw-1', 1), 0);
    const p = configPartition('gw-1', 3);
    assert.ok(p >= 0 && p < 3);
    assert.equal(configPartition('gw-1', 3), p, 'the same key always lands in the same partition');
    assert.throws(() => configPartition('gw-1', 0), RangeError);
  });
});
