// bench/mqtt-ingest.ts keeps working: a one-second run against a real gateway, where every
// acknowledged reading is found in the outbox file afterwards and nothing was throttled or refused;
// the wear figure is the gateway's own disk writes over the window (the load thread's taken out),
// per reading acknowledged in it. No speed is asserted here: the figures are the bench's to report.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchMqttIngest } from './mqtt-ingest.js';

it('benchMqttIngest counts only PUBACKed readings, the outbox file holds every one of them, and the wear figure is the gateway\'s own writes per reading', async () => {
  const r = await benchMqttIngest({ seconds: 1, clients: 2, window: 10 });
  assert.ok(r.acknowledged.messages > 0, JSON.stringify(r));
  assert.deepEqual(r.outboxDepth, r.acknowledged);
  assert.equal(r.acknowledged.readings, r.acknowledged.messages * 3);
  assert.deepEqual(r.loss, { rateLimited: 0, quarantined: 0, evicted: 0 });
  assert.equal(r.devicesRegistered, 2);
  assert.equal(r.failures, 0);
  assert.equal(r.outboxSynchronous, 'FULL');
  assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99);

  const { disk } = r;
  const detail = JSON.stringify(disk);
  // The figure's readings are the ones acknowledged inside the window, a part of all acknowledged.
  assert.equal(disk.readings % 3, 0, detail);
  assert.ok(disk.readings > 0 && disk.readings <= r.acknowledged.readings, detail);
  // The gateway's bytes are the process's minus the load thread's, over the same window: the load
  // thread's writes (module loading on a fresh checkout) are never counted as the gateway's wear.
  assert.equal(disk.writeBytes, disk.processWindow.writeBytes - disk.loadThreadWindow.writeBytes, detail);
  assert.equal(disk.netWriteBytes, disk.writeBytes - (disk.processWindow.cancelledWriteBytes - disk.loadThreadWindow.cancelledWriteBytes), detail);
  // Every PUBACK was an fsynced commit to the outbox on a disk filesystem, so the gateway itself
  // wrote: a positive, finite number of bytes per reading, and the figure is that quotient.
  assert.ok(disk.netWriteBytes > 0, `the gateway wrote nothing to disk while acknowledging ${disk.readings} readings: ${detail}`);
  assert.ok(Number.isFinite(disk.bytesPerReading) && disk.bytesPerReading > 0, detail);
  assert.equal(disk.bytesPerReading, Math.round((disk.netWriteBytes / disk.readings) * 10) / 10, detail);
});
