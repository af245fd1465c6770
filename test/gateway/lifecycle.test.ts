// Stopping a gateway whose Kafka connection attempt is still pending (no cloud link, the field
// default) must leave nothing behind that throws later: node-rdkafka throws "Producer not
// connected" from the connect callback if the stopped link disconnects a producer that never
// connected. Runs in a child process, where such an uncaught exception is a non-zero exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../devstack/net.js';

test('a gateway stopped while its first Kafka connection attempt is pending stays quiet afterwards', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-lifecycle-'));
  try {
    const dist = join(repoRoot(), 'dist');
    const script = `
      const { Gateway } = await import(${JSON.stringify(join(dist, 'gateway/src/gateway.js'))});
      const { gatewayConfigSchema } = await import(${JSON.stringify(join(dist, 'gateway/src/config/schema.js'))});
      const cfg = gatewayConfigSchema.parse({ dataDir: ${JSON.stringify(dir)}, logLevel: 'silent', mqtt: { host: '127.0.0.1', port: 0 },
        coap: { enabled: false }, api: { enabled: false }, kafka: { brokers: '127.0.0.1:1' } });
      const g = new Gateway(cfg);
      await g.start();
      await new Promise((r) => setTimeout(r, 200));
      if (g.forwarder.status().link !== 'connecting') throw new Error('the attempt was no longer pending; the test proves nothing');
      await g.stop();
      // librdkafka gives up on the attempt after its 5 s connect timeout.
      await new Promise((r) => setTimeout(r, 7000));
      console.log('quiet');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /quiet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
