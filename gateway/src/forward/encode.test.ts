// encodeLeasedBatch, shared by the forwarder and `outbox export`: columns unless forward.encoding
// says readings, which is then byte for byte the batch older sinks read; both carry the same
// readings under the same (gateway_id, seq), lane and reading count.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COLUMNS_SCHEMA_VERSION, decodeBatch, encodeBatchFromEncoded, Header, lz4Unframe, SCHEMA_VERSION, v1, type Reading } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import type { LeasedBatch } from '../outbox/outbox.js';
import { DEFAULT_ENCODING, encodeLeasedBatch } from './encode.js';

const T0 = Date.UTC(2026, 10, 30, 12);
const readings: Reading[] = [
  { deviceId: 'd1', tsMs: T0, metrics: { temperature: 21.37, humidity: 40.1 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT },
  { deviceId: 'd2', tsMs: T0 + 3, metrics: { temperature: 19.02 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_COAP },
  { deviceId: 'd1', tsMs: T0 + 1_000, metrics: { temperature: 21.41, humidity: 40 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT },
];
const batch: LeasedBatch = { seq: 12, createdMs: T0 + 1_020, values: 5, backlog: true, readings: readings.map((r) => v1.Reading.encode(r).finish()) };

describe('encodeLeasedBatch', () => {
  it('sends columns by default, as forward.encoding does', () => {
    assert.equal(DEFAULT_ENCODING, 'columns');
    assert.equal(gatewayConfigSchema.parse({}).forward.encoding, DEFAULT_ENCODING);
    const m = encodeLeasedBatch('gw-1', batch);
    const wire = v1.ReadingBatch.decode(lz4Unframe(m.value));
    assert.equal(wire.readings.length, 0);
    assert.deepEqual(wire.columns.map((c) => c.deviceId), ['d1', 'd2']);
    assert.equal(wire.schemaVersion, COLUMNS_SCHEMA_VERSION);
    assert.equal(m.headers[Header.schemaVersion], String(COLUMNS_SCHEMA_VERSION));
  });

  it("'readings' is byte for byte the major-1 batch, and both decode to the same readings, lane and count", () => {
    const cols = encodeLeasedBatch('gw-1', batch, 'columns');
    const plain = encodeLeasedBatch('gw-1', batch, 'readings');
    assert.deepEqual(plain, encodeBatchFromEncoded({ gatewayId: 'gw-1', seq: 12, createdMs: T0 + 1_020, values: 5, backlog: true }, batch.readings));
    assert.equal(plain.headers[Header.schemaVersion], String(SCHEMA_VERSION));
    const a = decodeBatch(cols.value);
    const b = decodeBatch(plain.value);
    for (const d of [a, b]) {
      assert.equal(d.gatewayId, 'gw-1');
      assert.equal(d.seq, 12);
      assert.equal(d.createdMs, T0 + 1_020);
      assert.equal(d.backlog, true);
    }
    const perDevice = (rs: Reading[]) => ['d1', 'd2'].map((id) => rs.filter((r) => r.deviceId === id));
    assert.deepStrictEqual(perDevice(a.readings), perDevice(b.readings));
    for (const k of [Header.gatewayId, Header.batchSeq, Header.readingCount, Header.lane, Header.contentEncoding]) assert.equal(cols.headers[k], plain.headers[k], k);
    assert.equal(cols.headers[Header.lane], 'backlog');
    assert.ok(cols.value.length < plain.value.length);
  });
});
