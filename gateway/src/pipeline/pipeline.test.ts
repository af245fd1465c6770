import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { v1 } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { MqttResendScreen, mqttKey } from '../ingest/mqtt/redelivery.js';
import { Metrics } from '../metrics.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from './pipeline.js';
import type { Envelope } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function envelope(dup: boolean): Envelope {
  return {
    deviceId: 'd1',
    source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT,
    format: 'json',
    raw: Buffer.from('{"metrics":{"temperature":21.5,"humidity":40}}'),
    receivedMs: Date.now(),
    topic: 'devices/d1/telemetry',
    redelivery: { key: mqttKey('d1', 7), digest: Buffer.from('digest'), resend: dup },
  };
}

describe('pipeline commit', () => {
  it('counts committed readings, and a recognised resend as acknowledged but not committed', async () => {
    const outbox = new SqliteOutbox({ path: join(dir, 'outbox.db'), resends: new MqttResendScreen() });
    const metrics = new Metrics();
    const pipeline = new Pipeline('gw', defaultSteps(gatewayConfigSchema.parse({})), outbox, metrics);
    try {
      assert.deepEqual(await pipeline.process(envelope(false)), { ok: true, values: 2 });
      // The same message again with DUP=1: the device gets its acknowledgement, the outbox no second copy.
      assert.deepEqual(await pipeline.process(envelope(true)), { ok: true, values: 2 });
      assert.equal(metrics.get('commit', 'sent'), 2);
      assert.equal(outbox.stats().depthValues, 2);
      assert.equal(outbox.stats().redeliveriesDropped, 1);
    } finally {
      outbox.close();
    }
  });
});
