import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v1 } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { defaultSteps } from './pipeline.js';
import type { Envelope, StepResult } from './types.js';

const cfg = gatewayConfigSchema.parse({});
const steps = defaultSteps(cfg);
const NOW = 1_700_000_000_000;

function run(payload: string | Buffer, format: Envelope['format'] = 'json'): { result: StepResult; env: Envelope } {
  const env: Envelope = {
    deviceId: 'd1', source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT, format, raw: Buffer.from(payload), receivedMs: NOW, topic: 't',
  };
  for (const s of steps) {
    const result = s.run(env);
    if (result) return { result, env };
  }
  return { result: undefined, env };
}

describe('pipeline steps', () => {
  it('accepts a well-formed reading and stamps a missing ts with the receive time', () => {
    const { result, env } = run('{"metrics":{"temperature":21.5,"humidity":40}}');
    assert.equal(result, undefined);
    assert.equal(env.reading?.tsMs, NOW);
    assert.deepEqual(env.reading?.metrics, { temperature: 21.5, humidity: 40 });
  });

  it('keeps a device timestamp inside the window', () => {
    assert.equal(run(`{"ts":${NOW - 60_000},"metrics":{"t":1}}`).env.reading?.tsMs, NOW - 60_000);
  });

  it('accepts a protobuf Reading', () => {
    const bytes = v1.Reading.encode({ tsMs: NOW - 1, metrics: { t: 2 } }).finish();
    const { result, env } = run(Buffer.from(bytes), 'protobuf');
    assert.equal(result, undefined);
    assert.equal(env.reading?.metrics?.t, 2);
  });

  const refusals: [string, string | Buffer, string][] = [
    ['non-JSON', 'temperature=21', 'FL_ERR_DECODE_JSON'],
    ['NaN literal', '{"metrics":{"t":NaN}}', 'FL_ERR_DECODE_JSON'],
    ['a string for a number', '{"metrics":{"t":"21.5"}}', 'FL_ERR_VALIDATE_NOT_NUMBER'],
    ['null for a number', '{"metrics":{"t":null}}', 'FL_ERR_VALIDATE_NOT_NUMBER'],
    ['an array payload', '[1,2]', 'FL_ERR_VALIDATE_SHAPE'],
    ['missing metrics', '{"ts":1}', 'FL_ERR_VALIDATE_SHAPE'],
    ['empty metrics', '{"metrics":{}}', 'FL_ERR_VALIDATE_NO_METRICS'],
    ['an unknown field', '{"metrics":{"t":1},"extra":true}', 'FL_ERR_VALIDATE_SHAPE'],
    ['infinite number', '{"metrics":{"t":1e400}}', 'FL_ERR_VALIDATE_NOT_FINITE'],
    ['a bad metric name', '{"metrics":{"t t":1}}', 'FL_ERR_VALIDATE_METRIC_NAME'],
    ['a prototype key beside a good one', '{"metrics":{"t":1,"__proto__":1}}', 'FL_ERR_VALIDATE_METRIC_NAME'],
    ['a fractional ts', '{"ts":1.5,"metrics":{"t":1}}', 'FL_ERR_VALIDATE_TIMESTAMP'],
    ['a ts far in the future', `{"ts":${NOW + 3_600_000},"metrics":{"t":1}}`, 'FL_ERR_VALIDATE_TIMESTAMP'],
    ['a ts in seconds, not ms', `{"ts":${NOW / 1000},"metrics":{"t":1}}`, 'FL_ERR_VALIDATE_TIMESTAMP'],
    ['too many metrics', JSON.stringify({ metrics: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, i])) }), 'FL_ERR_VALIDATE_TOO_MANY_METRICS'],
    ['truncated protobuf', Buffer.from([0x1a, 0xff]), 'FL_ERR_DECODE_PROTOBUF'],
  ];
  for (const [what, payload, code] of refusals) {
    it(`refuses ${what} with ${code}`, () => {
      const fmt = Buffer.isBuffer(payload) ? 'protobuf' : 'json';
      assert.equal(run(payload, fmt).result?.code, code);
    });
  }
});
