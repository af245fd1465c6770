// PUT /v1/gateways/{id}/config's body, checked with the gateway's own schemas; and how a gateway's
// config state is read from the version issued against its newest heartbeat.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configItem } from '../api/fleet-routes.js';
import { degradedReasons } from '../fleet/health.js';
import type { HeartbeatRecord } from '../fleet/heartbeats.js';
import { checkConfigBody } from './body.js';

const MODBUS = { enabled: true, buses: [{ type: 'tcp', host: '10.0.0.5', port: 502, devices: [{ deviceId: 'pump-1', tagGroups: [{ tags: [{ metric: 'flow', function: 3, address: 0 }] }] }] }] };

describe('the body of PUT /v1/gateways/{id}/config', () => {
  it('takes one section, or several by name, and keeps them as written (no defaults filled in)', () => {
    assert.deepEqual(checkConfigBody({ section: 'modbus', config: MODBUS }), { ok: true, body: { section: 'modbus', config: MODBUS } });
    assert.deepEqual(checkConfigBody({ config: { modbus: MODBUS, devices: { autoRegister: false } } }), { ok: true, body: { config: { modbus: MODBUS, devices: { autoRegister: false } } } });
  });

  it('refuses with the problems the gateway\'s start-up would name', () => {
    const bad = checkConfigBody({ section: 'modbus', config: { ...MODBUS, buses: [{ ...MODBUS.buses[0], port: 70000 }], pollEvery: 1 } });
    assert.equal(bad.ok, false);
    const problems = bad.ok ? [] : bad.problems;
    assert.ok(problems.some((p) => p.path === 'modbus.buses.0.port' && /70000/.test(p.message)), JSON.stringify(problems));
    assert.ok(problems.some((p) => p.path === 'modbus.pollEvery' && /unknown key pollEvery/.test(p.message)), JSON.stringify(problems));
  });

  it('refuses the sections only the gateway\'s own file sets, and malformed bodies', () => {
    const cases: [unknown, RegExp][] = [
      [{ config: { kafka: { brokers: 'evil:9092' } } }, /kafka is set only in the gateway's own file/],
      [{ config: { gatewayId: 'x', modbus: MODBUS } }, /gatewayId is set only/],
      [{ section: 'api', config: {} }, /"api" is not one of mqtt, coap, modbus, pipeline, devices, rateLimit/],
      [{ section: 'modbus' }, /expected a JSON object/],
      [{ config: {} }, /at least one of/],
      [{ config: { modbus: MODBUS }, version: 3 }, /unknown key version/],
      [[MODBUS], /expected a JSON object/],
      [{ section: 'devices', config: { known: [{ id: 'a\u0000b' }] } }, /U\+0000/],
    ];
    for (const [body, why] of cases) {
      const r = checkConfigBody(body);
      assert.equal(r.ok, false, JSON.stringify(body));
      assert.match(r.ok ? '' : r.problems.map((p) => p.message).join('\n'), why);
    }
  });
});

describe("a gateway's config state", () => {
  const hb = (c: Partial<NonNullable<HeartbeatRecord['config']>>): NonNullable<HeartbeatRecord['config']> => ({ version: 0, seenVersion: 0, source: 'file', error: null, conflict: null, ...c });
  it('none, pending, applied, failed, conflict', () => {
    assert.equal(configItem(null, hb({})).state, 'none');
    assert.equal(configItem(2, null).state, 'pending', 'no heartbeat yet');
    assert.equal(configItem(2, hb({ version: 1, seenVersion: 1 })).state, 'pending', 'not received yet');
    assert.equal(configItem(2, hb({ version: 2, seenVersion: 2, source: 'cloud' })).state, 'applied');
    assert.equal(configItem(2, hb({ version: 1, seenVersion: 2, error: 'version 2: …' })).state, 'failed');
    assert.equal(configItem(2, hb({ version: 1, seenVersion: 2, conflict: 'version 2, issued …' })).state, 'conflict');
    assert.equal(configItem(3, hb({ version: 1, seenVersion: 2, error: 'version 2: …' })).state, 'pending', 'an error about an older version says nothing of the newest');
    assert.deepEqual(configItem(2, hb({ version: 1, seenVersion: 2, source: 'cloud', error: 'e' })), {
      state: 'failed', desired_version: 2, applied_version: 1, seen_version: 2, source: 'cloud', error: 'e', conflict: null,
    });
  });

  it('a refused or held-back version makes the gateway degraded, with the gateway\'s sentence', () => {
    const base = {
      gatewayId: 'gw', tsMs: 1, firmware: '', uptimeS: 1, cpuPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: 0, diskFreeBytes: 1, diskTotalBytes: 1,
      temperatureC: null, outboxDepth: 0, outboxOldestAgeMs: 0, outboxBytes: 0, outboxFull: null, outboxRecovered: null, drainSentPerS: 0, drainInPerS: 0,
      drainEtaS: null, adapters: [], loss: { rate_limited: 0, quarantined: 0, evicted: 0 }, refusals: {},
    } satisfies HeartbeatRecord;
    const t = { offlineAfterIntervals: 3, defaultIntervalMs: 1_000, maxBacklogAgeMs: 1e9, minDiskFreeRatio: 0, maxCpuPercent: null, maxTemperatureC: null, adaptersDown: true, lossIncrease: null };
    assert.deepEqual(degradedReasons({ ...base, config: hb({ error: 'version 2: FL_ERR_CONFIG_CLOUD_FAILED: modbus is down' }) }, null, t), [
      'cloud config refused: version 2: FL_ERR_CONFIG_CLOUD_FAILED: modbus is down',
    ]);
    assert.deepEqual(degradedReasons({ ...base, config: hb({ conflict: 'version 3 …' }) }, null, t), ['cloud config held back: version 3 …']);
    assert.deepEqual(degradedReasons({ ...base, config: hb({ error: 'x' }) }, null, { ...t, configProblems: false }), []);
    assert.deepEqual(degradedReasons(base, null, t), [], 'a gateway before revision 3 says nothing');
  });
});
