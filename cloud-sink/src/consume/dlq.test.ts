import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Kafka from 'node-rdkafka';
import { encodeBatch } from '../../../proto/src/wire.js';
import { describeDlqMessage, dlqHeaders, headerText, originalHeaders } from './dlq.js';
import { matchesFilter, replayGroupName } from './dlq-replay.js';

function message(over: Partial<Kafka.Message>): Kafka.Message {
  return { topic: 'iot.readings', partition: 2, offset: 41, value: null, size: 0, ...over };
}

describe('DLQ message format', () => {
  it('appends why and where from to the original headers, and takes exactly those off again', () => {
    const own: Kafka.MessageHeader[] = [{ 'gateway-id': 'gw-1' }, { error: Buffer.from('a header of the producer that happens to be called error') }, { 'x-trace': 'abc' }];
    const msg = message({ headers: own });
    const dlq = dlqHeaders(msg, 'FL_ERR_SINK_TIME_AHEAD', 'a reading is stamped further ahead…');
    assert.deepEqual(dlq.slice(0, 3), own);
    assert.deepEqual(dlq.slice(3), [
      { error: 'FL_ERR_SINK_TIME_AHEAD: a reading is stamped further ahead…' },
      { 'source-topic': 'iot.readings' },
      { 'source-partition': '2' },
      { 'source-offset': '41' },
    ]);
    assert.deepEqual(originalHeaders(dlq), own, "the producer's own `error` header survives");
    assert.deepEqual(originalHeaders(dlqHeaders(message({}), 'FL_ERR_WIRE_LZ4', 'x')), []);
  });

  it('reads the last value of a header, as text whether Kafka gave a string or bytes', () => {
    const headers: Kafka.MessageHeader[] = [{ a: '1' }, { a: Buffer.from('2') }, { b: '3' }];
    assert.equal(headerText(headers, 'a'), '2');
    assert.equal(headerText(headers, 'c'), undefined);
    assert.equal(headerText(undefined, 'a'), undefined);
  });

  it('describes a dead-lettered batch from its value: code, gateway, seq, reading count, source', () => {
    const m = encodeBatch({ gatewayId: 'gw-7', seq: 12, createdMs: 1, schemaVersion: 1, readings: [{ deviceId: 'd', tsMs: 5, metrics: { a: 1, b: 2 } }] });
    // Headers that lie about the batch: the value is what the sink saw, so it wins.
    const original = message({ value: m.value, key: 'gw-7', timestamp: 1_700_000_000_000, headers: [{ 'gateway-id': 'other' }, { 'batch-seq': '99' }] });
    const e = describeDlqMessage(message({ ...original, topic: 'iot.sink-dlq', partition: 0, offset: 3, headers: dlqHeaders(original, 'FL_ERR_SINK_TIME_AHEAD', 'x') }));
    assert.deepEqual(e, {
      partition: 0, offset: 3, timestampMs: 1_700_000_000_000, code: 'FL_ERR_SINK_TIME_AHEAD', error: 'FL_ERR_SINK_TIME_AHEAD: x',
      sourceTopic: 'iot.readings', sourcePartition: 2, sourceOffset: 41, gatewayId: 'gw-7', seq: 12, readings: 2,
    });
  });

  it('describes bytes that are no batch from the headers and the key, or not at all', () => {
    const original = message({ value: Buffer.from('junk'), key: Buffer.from('gw-key'), headers: [{ 'batch-seq': '5' }, { 'reading-count': '9' }] });
    const e = describeDlqMessage(message({ ...original, headers: dlqHeaders(original, 'FL_ERR_WIRE_LZ4', 'not an LZ4 frame') }));
    assert.deepEqual([e.code, e.gatewayId, e.seq, e.readings, e.timestampMs], ['FL_ERR_WIRE_LZ4', 'gw-key', 5, 9, null]);
    const bare = describeDlqMessage(message({}));
    assert.deepEqual([bare.code, bare.gatewayId, bare.seq, bare.readings, bare.sourceTopic], ['', undefined, undefined, undefined, undefined]);
  });
});

describe('DLQ replay filters', () => {
  const entry = describeDlqMessage(message({ headers: [{ 'gateway-id': 'gw-1' }, { error: 'FL_ERR_SINK_VALUE: …' }] }));

  it('match on any of the codes and any of the gateways given, and everything when none is given', () => {
    assert.ok(matchesFilter(entry, { codes: [], gateways: [] }));
    assert.ok(matchesFilter(entry, { codes: ['FL_ERR_WIRE_LZ4', 'FL_ERR_SINK_VALUE'], gateways: [] }));
    assert.ok(!matchesFilter(entry, { codes: ['FL_ERR_SINK_VALUE_X'], gateways: [] }), 'whole codes, not prefixes');
    assert.ok(matchesFilter(entry, { codes: ['FL_ERR_SINK_VALUE'], gateways: ['gw-1'] }));
    assert.ok(!matchesFilter(entry, { codes: ['FL_ERR_SINK_VALUE'], gateways: ['gw-2'] }));
  });

  it('keep one replay group per filter, the same whatever the order the options came in', () => {
    assert.equal(replayGroupName('fieldline-dlq-replay', { codes: [], gateways: [] }), 'fieldline-dlq-replay');
    const a = replayGroupName('fieldline-dlq-replay', { codes: ['FL_ERR_SINK_VALUE', 'FL_ERR_SINK_TIME_AHEAD'], gateways: ['gw-2', 'gw-1'] });
    const b = replayGroupName('fieldline-dlq-replay', { codes: ['FL_ERR_SINK_TIME_AHEAD', 'FL_ERR_SINK_VALUE', 'FL_ERR_SINK_VALUE'], gateways: ['gw-1', 'gw-2'] });
    assert.equal(a, 'fieldline-dlq-replay:code=FL_ERR_SINK_TIME_AHEAD,FL_ERR_SINK_VALUE;gateway=gw-1,gw-2');
    assert.equal(a, b);
  });
});
