// What a config change restarts, rebuilds or leaves for the next start.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedKeys, planApply, runningConfig } from './apply.js';
import { gatewayConfigSchema, type GatewayConfig } from './schema.js';

const base = (over: Record<string, unknown> = {}): GatewayConfig => gatewayConfigSchema.parse({ gatewayId: 'gw-1', dataDir: '/tmp/x', ...over });

describe('planApply', () => {
  it('an identical config changes nothing', () => {
    const p = planApply(base(), base());
    assert.deepEqual(p, { adapters: { mqtt: 'none', coap: 'none', modbus: 'none' }, pipeline: false, kafka: false, restartRequired: [] });
  });

  it('a changed adapter section restarts that adapter only; enabling starts, disabling stops', () => {
    const p = planApply(base(), base({ mqtt: { maxPayloadBytes: 1000 }, coap: { enabled: false }, modbus: { enabled: true } }));
    assert.deepEqual(p.adapters, { mqtt: 'restart', coap: 'stop', modbus: 'start' });
    assert.equal(p.pipeline, false);
    assert.equal(p.kafka, false);
  });

  it('a disabled adapter whose settings change stays stopped', () => {
    assert.equal(planApply(base({ coap: { enabled: false } }), base({ coap: { enabled: false, port: 5999 } })).adapters.coap, 'none');
  });

  it('pipeline, devices and rateLimit rebuild the pipeline; disconnectAfter also restarts MQTT, which reads it', () => {
    assert.equal(planApply(base(), base({ pipeline: { ranges: { temperature: { min: 0, max: 30 } } } })).pipeline, true);
    assert.equal(planApply(base(), base({ devices: { autoRegister: false } })).pipeline, true);
    const p = planApply(base(), base({ rateLimit: { disconnectAfter: 5 } }));
    assert.equal(p.pipeline, true);
    assert.equal(p.adapters.mqtt, 'restart');
  });

  it('forward changes restart the forwarder too (it reads them at construction)', () => {
    assert.equal(planApply(base(), base({ forward: { liveWindowMs: 2_000 } })).kafka, true);
    assert.equal(planApply(base(), base({ forward: { liveWindowMs: 5_000 } })).kafka, false, 'the default again: no change');
  });

  it('kafka changes restart the forwarder', () => {
    assert.equal(planApply(base(), base({ kafka: { brokers: 'other:9092' } })).kafka, true);
  });

  it('identity, data folder, outbox, API and log level are reported by dotted key as needing a restart', () => {
    const p = planApply(base(), base({ gatewayId: 'gw-2', dataDir: '/tmp/y', outbox: { path: '/tmp/o.db', maxBytes: 5 }, api: { port: 9000 }, logLevel: 'debug' }));
    assert.deepEqual(p.restartRequired, ['gatewayId', 'dataDir', 'logLevel', 'outbox.maxBytes', 'outbox.path', 'api.port']);
    assert.deepEqual(p.adapters, { mqtt: 'none', coap: 'none', modbus: 'none' });
  });

  it('the running config keeps restart-only sections and failed adapters at their old values', () => {
    const prev = base();
    const next = base({ gatewayId: 'gw-2', mqtt: { port: 1999 }, pipeline: { maxMetricsPerReading: 3 } });
    const run = runningConfig(prev, next, ['mqtt']);
    assert.equal(run.gatewayId, 'gw-1');
    assert.equal(run.mqtt.port, 1883);
    assert.equal(run.pipeline.maxMetricsPerReading, 3);
  });

  it('changedKeys goes down to leaves and stops at arrays', () => {
    assert.deepEqual(changedKeys({ a: { b: 1, c: [1] } }, { a: { b: 2, c: [1, 2] }, d: 1 }, 'x'), ['x.a.b', 'x.a.c', 'x.d']);
  });
});
