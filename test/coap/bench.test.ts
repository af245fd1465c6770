// bench/coap.ts keeps working: a one-second run through the real pipeline and outbox, where every
// request measured was answered 2.04 and every one of them is in the outbox. The rate is the
// bench's figure (npm run bench), not asserted here.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchCoap } from '../../bench/coap.js';

it('benchCoap measures 2.04s that are all in the outbox', async () => {
  const r = await benchCoap({ seconds: 1, endpoints: 8, devices: 10 });
  assert.ok(r.requests > 0, JSON.stringify(r));
  assert.deepEqual(r.codes, { '2.04': r.requests }, 'every measured request answered 2.04');
  assert.ok(r.committedReadings >= r.requests * 3, JSON.stringify(r));
  assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99);
});
