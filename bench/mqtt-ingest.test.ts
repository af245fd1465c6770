// bench/mqtt-ingest.ts keeps working: a one-second run against a real gateway, where every
// acknowledged reading is found in the outbox file afterwards and nothing was throttled or refused;
// the window's disk writes are counted.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchMqttIngest } from './mqtt-ingest.js';

it('benchMqttIngest counts only PUBACKed readings, and the outbox file holds every one of them', async () => {
  const r = await benchMqttIngest({ seconds: 1, clients: 2, window: 10 });
  assert.ok(r.messagesPerSecond > 0, JSON.stringify(r));
  assert.deepEqual(r.outboxDepth, r.acknowledged);
  assert.equal(r.acknowledged.readings, r.acknowledged.messages * 3);
  assert.deepEqual(r.loss, { rateLimited: 0, quarantined: 0, evicted: 0 });
  assert.equal(r.devicesRegistered, 2);
  assert.equal(r.failures, 0);
  assert.equal(r.outboxSynchronous, 'FULL');
  assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99);
  // Every PUBACK was an fsynced commit, so the window wrote to disk. The load thread's own writes
  // are reported, not asserted: on a fresh checkout it wrote 40-72 KiB (module loading).
  assert.ok(r.disk.writeBytes > 0 && r.disk.bytesPerReading > 0, JSON.stringify(r.disk));
  assert.equal(typeof r.disk.loadThread.writeBytes, 'number');
});
