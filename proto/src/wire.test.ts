import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBatch, decodeHeartbeat, decodeQuarantined, encodeBatch, encodeBatchFromEncoded, encodeQuarantined, Header, lz4Frame, SCHEMA_VERSION, v1, WireError, type Reading } from './wire.js';

const readings: Reading[] = [
  { deviceId: 'd1', tsMs: 1_700_000_000_123, metrics: { temperature: 21.5, humidity: 40 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT },
  { deviceId: 'd2', tsMs: 1_700_000_000_456, metrics: { pressure: -3.25e-7 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_COAP },
];

describe('wire codec', () => {
  it('builds the same bytes from pre-encoded readings as from objects', () => {
    const meta = { gatewayId: 'gw-1', seq: 42, createdMs: 1_700_000_001_000 };
    const a = encodeBatch({ ...meta, readings, schemaVersion: SCHEMA_VERSION });
    const b = encodeBatchFromEncoded({ ...meta, values: 3 }, readings.map((r) => v1.Reading.encode(r).finish()));
    assert.deepEqual(decodeBatch(b.value).toJSON(), decodeBatch(a.value).toJSON());
    assert.deepEqual(b.headers, a.headers);
    assert.equal(b.headers[Header.readingCount], '3');
    assert.equal(b.key, 'gw-1');
  });

  it('frames the value as one LZ4 frame (magic 0x184D2204)', () => {
    const m = encodeBatch({ gatewayId: 'g', seq: 1, createdMs: 1, readings, schemaVersion: 1 });
    assert.equal(m.value.readUInt32LE(0), 0x184d2204);
  });

  it('round-trips seq and timestamps beyond 32 bits exactly', () => {
    const m = encodeBatch({ gatewayId: 'g', seq: 2 ** 40 + 7, createdMs: 1_700_000_000_999, readings, schemaVersion: 1 });
    const d = decodeBatch(m.value);
    assert.equal(d.seq, 2 ** 40 + 7);
    assert.equal(d.readings[0]!.tsMs, 1_700_000_000_123);
    assert.equal(d.readings[1]!.metrics!.pressure, -3.25e-7);
  });

  it('reads 64-bit fields absent from the bytes as the number 0, like every other number', () => {
    const d = decodeBatch(encodeBatch({ gatewayId: 'g', readings: [{ deviceId: 'd', metrics: { x: 1 } }] }).value);
    assert.equal(d.seq, 0);
    assert.equal(d.createdMs, 0);
    assert.equal(d.readings[0]!.tsMs, 0);
    assert.equal(v1.Heartbeat.decode(v1.Heartbeat.encode({ gatewayId: 'g' }).finish()).outboxBytes, 0);
    assert.equal(v1.LossCounters.decode(new Uint8Array()).evicted, 0);
  });

  it('names what is wrong with a value that is not an LZ4-framed batch', () => {
    assert.throws(() => decodeBatch(Buffer.from('garbage')), (e: unknown) => e instanceof WireError && e.code === 'FL_ERR_WIRE_LZ4');
  });

  it('frames a quarantined reading with its raw bytes, and its reason code in a header', () => {
    const q = { gatewayId: 'gw-1', deviceId: 'd9', tsMs: 1_700_000_000_001, raw: Buffer.from([0, 255, 1]), source: v1.SourceProtocol.SOURCE_PROTOCOL_COAP, reasonCode: 'FL_ERR_DECODE_CBOR', reason: 'not CBOR', topic: '/telemetry/d9' };
    const m = encodeQuarantined(q);
    assert.equal(m.key, 'gw-1');
    assert.equal(m.headers[Header.reasonCode], 'FL_ERR_DECODE_CBOR');
    assert.equal(m.value.readUInt32LE(0), 0x184d2204);
    const d = decodeQuarantined(m.value);
    assert.deepEqual({ ...d.toJSON(), raw: Buffer.from(d.raw).toString('hex') }, { ...v1.QuarantinedReading.create(q).toJSON(), raw: '00ff01' });
  });

  it('names the broken layer of a heartbeat or quarantined reading: the LZ4 frame, or the protobuf inside it', () => {
    for (const decode of [decodeHeartbeat, decodeQuarantined]) {
      assert.throws(() => decode(Buffer.from('garbage')), (e: unknown) => e instanceof WireError && e.code === 'FL_ERR_WIRE_LZ4');
      // A field tag with wire type 7, which protobuf does not have.
      assert.throws(() => decode(lz4Frame(Buffer.from([0x0f, 0x01]))), (e: unknown) => e instanceof WireError && e.code === 'FL_ERR_WIRE_PROTOBUF');
    }
  });
});
