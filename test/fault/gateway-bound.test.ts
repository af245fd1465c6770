// Issue 4, acceptance 4: the outbox reaches its bound during a Kafka outage. With drop-oldest the
// oldest readings not yet sent are evicted, exactly those, and each is counted against its device
// (GET /status deviceLoss[d].evicted, outbox.evictedValues).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startCloud, type CloudStack } from '../../devstack/stack.js';
import { AckedFleet, GatewayChild, checkExactlyOnce, waitUntil } from './gateway-support.js';

describe('gateway outbox bound during a Kafka outage', () => {
  let cloud: CloudStack;
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
  });

  it('at the outbox bound during an outage, drop-oldest evicts the oldest unsent readings, and the per-device counters match what is missing', async (t) => {
    const maxMessages = 3_000;
    const gw = await GatewayChild.create({
      dir: join(cloud.dir, 'gw-bound'), gatewayId: 'gw-bound', brokers: cloud.kafka.bootstrap,
      config: { outbox: { maxMessages, onFull: 'drop-oldest' } },
    });
    let fleet: AckedFleet | undefined;
    try {
      await gw.start();
      // 3 devices × 100 messages/s × 2 readings.
      fleet = await AckedFleet.start({ url: gw.mqttUrl, sensors: 3, rate: 100, metrics: ['temperature'], prefix: 'bound' });
      await sleep(3_000);
      await cloud.kafka.stop();
      // Run until well past the bound: about twice its size arrives during the outage.
      await waitUntil('evictions', () => gw.status(), (s) => s.outbox.evictedValues >= maxMessages * fleet!.readingsPerMessage, 60_000, 500);
      await fleet.stop(15_000);
      const atEnd = await gw.status();
      await cloud.kafka.start();
      await waitUntil('outbox drained', () => gw.status(), (s) => s.outbox.depthMessages === 0, 90_000, 500);
      // Evicted messages stay missing: wait until no more than those are (the sink has caught up),
      // not merely until a fixed time has passed.
      const evictedMessages = (device: string) => (atEnd.deviceLoss[device]?.evicted ?? 0) / fleet!.readingsPerMessage;
      const result = await checkExactlyOnce(cloud, fleet.acked, 60_000, (r) => r.every((d) => d.missing.length <= evictedMessages(d.device)));

      const lines: string[] = [];
      let evictedSum = 0;
      for (const r of result) {
        const evicted = atEnd.deviceLoss[r.device]?.evicted ?? 0;
        evictedSum += evicted;
        assert.deepEqual(r.doubled, [], `${r.device}: doubled`);
        assert.equal(r.missing.length * fleet.readingsPerMessage, evicted, `${r.device}: ${r.missing.length} messages missing, ${evicted} readings counted evicted`);
        assert.ok(r.missing.length > 0, `${r.device}: nothing evicted`);
        // The missing ones are one run of seqs: everything older was sent before the bound was
        // reached, everything newer is stored.
        const acked = [...fleet.acked.get(r.device)!].sort((a, b) => a - b);
        const first = r.missing[0]!;
        const last = r.missing.at(-1)!;
        const inRange = acked.filter((s) => s >= first && s <= last);
        assert.equal(inRange.length, r.missing.length, `${r.device}: missing seqs ${first}..${last} are not one run (${inRange.length} acked in that range, ${r.missing.length} missing)`);
        assert.ok(acked[0]! < first, `${r.device}: the very first readings were evicted, not just unsent ones`);
        lines.push(`${r.device}: acked ${r.acked} messages, seqs ${first}..${last} missing (${r.missing.length} messages = ${evicted} readings counted evicted)`);
      }
      assert.equal(evictedSum, atEnd.outbox.evictedValues);
      assert.equal(atEnd.loss.evicted, atEnd.outbox.evictedValues);
      assert.ok(atEnd.outbox.depthMessages <= maxMessages, `${atEnd.outbox.depthMessages} messages held, bound ${maxMessages}`);
      t.diagnostic(`bound ${maxMessages} messages; ${atEnd.outbox.evictedValues} readings evicted; ${lines.join('; ')}`);
    } finally {
      await fleet?.stop(1_000).catch(() => undefined);
      await gw.stop();
      // A failed test must not leave the broker down for the next one.
      await cloud.kafka.start().catch(() => undefined);
    }
  });
});
