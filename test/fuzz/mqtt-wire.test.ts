// The fuzz tests' MQTT encoder against the spec's own examples: a variable byte integer's size
// boundaries [MQTT-1.5.5, table 1-1], length-prefixed strings, and a reader that finds packets
// across arbitrary chunk boundaries. The gateway accepting its CONNECT and PUBLISH is checked in
// ingest.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as mq from '../support/mqtt-wire.js';

describe('MQTT test encoder', () => {
  it('encodes variable byte integers with the fewest bytes, up to 268,435,455', () => {
    const cases: Array<[number, number[]]> = [
      [0, [0x00]], [127, [0x7f]], [128, [0x80, 0x01]], [16_383, [0xff, 0x7f]], [16_384, [0x80, 0x80, 0x01]],
      [2_097_151, [0xff, 0xff, 0x7f]], [2_097_152, [0x80, 0x80, 0x80, 0x01]], [268_435_455, [0xff, 0xff, 0xff, 0x7f]],
    ];
    for (const [n, bytes] of cases) {
      assert.deepEqual([...mq.varint(n)], bytes, String(n));
      assert.deepEqual(mq.readVarint(Buffer.from(bytes), 0), { value: n, bytes: bytes.length });
    }
    assert.throws(() => mq.varint(268_435_456), RangeError);
    assert.equal(mq.readVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), 0), null, 'five bytes are refused');
    assert.equal(mq.readVarint(Buffer.from([0x80]), 0), null, 'incomplete');
  });

  it('writes a CONNECT as in the MQTT 3.1.1 example, and a QoS 1 PUBLISH with its packet id', () => {
    // Fixed header 0x10, length, "MQTT", level 4, flags 0x02 (clean), keep alive 60, client id "a".
    assert.deepEqual([...mq.connect({ version: 4, clientId: 'a' })], [0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, 0, 1, 0x61]);
    assert.deepEqual([...mq.publish({ version: 4, topic: 'a/b', payload: 'x', qos: 1, messageId: 258 })], [0x32, 8, 0, 3, 0x61, 0x2f, 0x62, 1, 2, 0x78]);
    assert.deepEqual([...mq.ack(mq.Type.PUBREL, 7)], [0x62, 2, 0, 7]);
  });

  it('reads packets split anywhere across chunks', () => {
    const stream = Buffer.concat([mq.frame(mq.Type.CONNACK, 0, Buffer.from([0, 0])), mq.ack(mq.Type.PUBACK, 42), mq.frame(mq.Type.PUBLISH, 0, Buffer.alloc(300, 1))]);
    for (let cut = 1; cut < stream.length; cut += 7) {
      const reader = new mq.PacketReader();
      const got = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      assert.deepEqual(got.map((p) => [p.type, p.body.length]), [[2, 2], [4, 2], [3, 300]], `cut at ${cut}`);
    }
  });
});
