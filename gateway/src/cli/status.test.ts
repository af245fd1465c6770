// The field tech's status screen and the gateway's clock: an unsynchronised clock is a reason the
// gateway is degraded (its stamped readings wait), and the screen says what the clock source said.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { degraded, renderOnline, type StatusAnswer } from './status.js';

const answer = (clock?: StatusAnswer['clock']): StatusAnswer => ({
  gatewayId: 'gw-1',
  version: '1.0.0',
  uptimeS: 10,
  adapters: [],
  outbox: {
    depthMessages: 0, depthValues: 0, depthBytes: 0, oldestMs: null, oldestAgeMs: 0, leasedBatches: 0, nextSeq: 1, quarantinePending: 0,
    evictedValues: 0, redeliveriesDropped: 0, full: null, recovery: null,
  },
  cloud: { link: 'up', lastError: '', lastDeliveryMs: null, deliveredBatches: 0, deliveredReadings: 0, retryingBatches: 0 },
  loss: { rateLimited: 0, quarantined: 0, evicted: 0 },
  ...(clock ? { clock } : {}),
});

it('an unsynchronised clock degrades the gateway and shows with what the source said; a synchronised one shows its last step', () => {
  const off = answer({ synced: false, source: 'system', detail: 'kernel NTP state: unsynchronised', lastJumpMs: 0 });
  assert.deepEqual(degraded(off), ['clock not synchronised (readings the gateway stamps wait in the outbox)']);
  assert.match(renderOnline(off, degraded(off), 'x'), /NOT SYNCHRONISED \(system\): kernel NTP state/);
  const on = answer({ synced: true, source: 'system', detail: 'kernel NTP state: synchronised', lastJumpMs: 3_600_000 });
  assert.deepEqual(degraded(on), []);
  assert.match(renderOnline(on, [], 'x'), /synchronised \(system\), last step \+1h00m: kernel/);
  assert.doesNotMatch(renderOnline(answer(), [], 'x'), /clock/, 'a gateway from before the clock shows no clock section');
});
