// bench/drain.ts keeps working: a 50,000-reading backlog drained by the real forwarder into a real
// Kafka broker leaves the outbox empty, and the topic holds every batch seq once and every device
// message once (the bench itself throws otherwise); the disk figures come from a real disk.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchDrain } from './drain.js';

it('benchDrain empties a 50,000-reading outbox into Kafka and finds every reading in the topic once', async () => {
  const r = await benchDrain({ readings: 50_000, devices: 10, sink: false, timeoutMs: 60_000 });
  assert.equal(r.messages, 12_500);
  assert.equal(r.verified.readings, 50_000);
  assert.equal(r.verified.batches, r.drain.batches);
  assert.equal(r.verified.lastSeq - r.verified.firstSeq + 1, r.verified.batches);
  assert.ok(r.drain.readingsPerSecond > 0 && r.fill.readingsPerSecond > 0, JSON.stringify(r));
  assert.ok(r.fill.disk.writeBytes > 0 && r.drain.disk.writeBytes > 0, `no disk writes counted: ${JSON.stringify(r)}`);
  assert.equal(r.sink, null);
});
