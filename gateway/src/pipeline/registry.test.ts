// The registry step with devices.autoRegister off: a device not in devices.known is refused with
// FL_ERR_VALIDATE_UNKNOWN_DEVICE, its message quarantined and counted against it; a listed one is
// committed. With autoRegister on, a new device is registered and remembered across a restart.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { v1 } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { Metrics } from '../metrics.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from './pipeline.js';
import { DeviceRegistry } from './registry.js';
import type { Envelope } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-registry-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NOW = 1_700_000_000_000;

function envelope(deviceId: string): Envelope {
  return {
    deviceId,
    source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT,
    format: 'json',
    raw: Buffer.from('{"metrics":{"temperature":21.5,"humidity":40}}'),
    receivedMs: NOW,
    topic: `devices/${deviceId}/telemetry`,
  };
}

describe('device registry', () => {
  it('autoRegister off: an unknown device is refused with FL_ERR_VALIDATE_UNKNOWN_DEVICE, quarantined and counted; a known one is committed', async () => {
    const cfg = gatewayConfigSchema.parse({ devices: { autoRegister: false, known: [{ id: 'listed-1' }] } });
    const outbox = new SqliteOutbox({ path: join(dir, 'off-outbox.db') });
    const registry = new DeviceRegistry(join(dir, 'off-devices.db'), cfg.devices);
    const metrics = new Metrics();
    const pipeline = new Pipeline('gw', defaultSteps(cfg, registry), outbox, metrics);
    try {
      const refused = await pipeline.process(envelope('stranger-1'));
      assert.deepEqual(refused.ok ? refused : { ok: refused.ok, stage: refused.stage, code: refused.rejection.code }, {
        ok: false,
        stage: 'registry',
        code: 'FL_ERR_VALIDATE_UNKNOWN_DEVICE',
      });
      assert.deepEqual(await pipeline.process(envelope('listed-1')), { ok: true, values: 2 });

      // The refused message is in quarantine with its reason, counted against the device, and
      // nothing of it reached the outbox's readings.
      const q = outbox.recentQuarantine(10);
      assert.equal(q.length, 1, JSON.stringify(q));
      assert.equal(q[0]?.deviceId, 'stranger-1');
      assert.equal(q[0]?.reasonCode, 'FL_ERR_VALIDATE_UNKNOWN_DEVICE');
      assert.deepEqual(metrics.deviceLoss.get('stranger-1'), { rateLimited: 0, quarantined: 1, evicted: 0 });
      assert.equal(metrics.deviceRefusals.get('stranger-1')?.get('FL_ERR_VALIDATE_UNKNOWN_DEVICE'), 1);
      assert.equal(metrics.get('registry', 'dropped'), 1);
      assert.equal(metrics.deviceLoss.get('listed-1'), undefined, 'the listed device lost nothing');
      assert.equal(outbox.stats().depthValues, 2, 'only the listed device\'s two readings were committed');
      assert.deepEqual(registry.list().map((d) => d.deviceId), ['listed-1'], 'the stranger was not registered');
    } finally {
      outbox.close();
      registry.close();
    }
  });

  it('autoRegister on: a new device is admitted and registered, and still known after a restart with autoRegister off only if listed', () => {
    const path = join(dir, 'on-devices.db');
    const on = gatewayConfigSchema.parse({ devices: { autoRegister: true } }).devices;
    const first = new DeviceRegistry(path, on);
    assert.equal(first.admit('newcomer', 1, NOW), true);
    assert.deepEqual(first.list().map((d) => [d.deviceId, d.firstSeenMs, d.listed]), [['newcomer', NOW, false]]);
    first.close();
    const again = new DeviceRegistry(path, on);
    assert.deepEqual(again.list().map((d) => d.deviceId), ['newcomer'], 'remembered across a restart');
    again.close();
    // Switching auto-registration off later: a device only auto-registered before is refused.
    const off = new DeviceRegistry(path, gatewayConfigSchema.parse({ devices: { autoRegister: false } }).devices);
    assert.equal(off.admit('newcomer', 1, NOW), false);
    off.close();
  });
});
