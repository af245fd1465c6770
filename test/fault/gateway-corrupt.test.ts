// Issue 4, acceptance 6: the outbox file damaged while the gateway was down, with readings buffered
// in it (Kafka unreachable). The gateway starts anyway, says so (GET /status outbox.recovery, the
// damaged file kept where it says, a log line), acknowledges and delivers new readings, and numbers
// its new batches above every earlier one: the sink's ledger would drop a reused seq, so the new
// readings being in the database is the proof.
import assert from 'node:assert/strict';
import { existsSync, openSync, closeSync, statSync, truncateSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startCloud, type CloudStack } from '../../devstack/stack.js';
import { freePort } from '../../devstack/net.js';
import { GatewayChild, WireFleet, assertExactlyOnce, checkExactlyOnce, kafkaBatches, waitUntil } from './gateway-support.js';

type Damage = 'corrupted' | 'truncated';

function damage(file: string, how: Damage): string {
  const size = statSync(file).size;
  if (how === 'truncated') {
    truncateSync(file, Math.floor(size / 2));
    return `truncated from ${size} to ${Math.floor(size / 2)} bytes`;
  }
  // Garbage over the middle of the file; the 100-byte header stays, so SQLite still opens it.
  const at = Math.floor(size / 2) - 32_768;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, randomBytes(65_536), 0, 65_536, at);
  } finally {
    closeSync(fd);
  }
  return `64 KiB of random bytes written at offset ${at} of ${size}`;
}

describe('gateway start-up on a damaged outbox file', () => {
  let cloud: CloudStack;
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await cloud?.stop();
  });

  for (const how of ['corrupted', 'truncated'] as const) {
    it(`a ${how} outbox: the gateway starts, reports where the file went, and serves with seqs above every earlier one`, async (t) => {
      const gatewayId = `gw-${how}`;
      const gw = await GatewayChild.create({ dir: join(cloud.dir, gatewayId), gatewayId, brokers: cloud.kafka.bootstrap });
      const fleetOpts = { port: gw.mqttPort, sensors: 2, rate: 100, metrics: ['temperature'] };
      const fleets: WireFleet[] = [];
      try {
        // 1. Deliver some batches, so the sink's ledger holds this gateway's first seqs.
        await gw.start();
        const delivered = WireFleet.start({ ...fleetOpts, prefix: `${how}-a` });
        fleets.push(delivered);
        await sleep(3_000);
        await delivered.stop(10_000);
        await waitUntil('first readings delivered', () => gw.status(), (s) => s.outbox.depthMessages === 0, 30_000);
        const earlier = await kafkaBatches(cloud.kafka.bootstrap, gatewayId);
        const lastEarlierSeq = Math.max(...earlier.map((b) => b.seq));

        // 2. Buffer readings with Kafka unreachable, then stop the gateway.
        await gw.stop();
        gw.writeConfig({ kafka: { brokers: `127.0.0.1:${await freePort()}` } });
        await gw.start();
        const buffered = WireFleet.start({ ...fleetOpts, prefix: `${how}-b` });
        fleets.push(buffered);
        await sleep(4_000);
        await buffered.stop(10_000);
        const held = await gw.status();
        assert.ok(held.outbox.depthMessages > 100, `only ${held.outbox.depthMessages} messages buffered`);
        assert.equal((await gw.stop()).code, 0);

        // 3. Damage the file, and start against the reachable broker again.
        const outboxFile = join(gw.dataDir, 'outbox.db');
        const what = damage(outboxFile, how);
        gw.writeConfig({});
        await gw.start();
        const s = await gw.status();
        assert.ok(s.outbox.recovery, `no recovery reported for a ${how} file (${what})`);
        assert.ok(existsSync(s.outbox.recovery.movedTo), `recovery.movedTo ${s.outbox.recovery.movedTo} does not exist`);
        assert.ok(s.outbox.recovery.movedTo.startsWith(`${outboxFile}.corrupt-`), s.outbox.recovery.movedTo);
        assert.ok(statSync(s.outbox.recovery.movedTo).size > 0, 'the damaged file was not kept');
        const logLine = gw.log().split('\n').find((l) => l.includes('the outbox file was damaged'));
        assert.ok(logLine, 'no log line about the damaged outbox');
        assert.equal(s.outbox.depthMessages, 0);

        // 4. New readings are acknowledged, delivered under higher seqs, and stored.
        const after = WireFleet.start({ ...fleetOpts, prefix: `${how}-c` });
        fleets.push(after);
        await sleep(3_000);
        await after.stop(10_000);
        assert.ok(after.ackCount > 100, `only ${after.ackCount} messages acknowledged after the recovery`);
        await waitUntil('new readings delivered', () => gw.status(), (st) => st.outbox.depthMessages === 0, 30_000);
        const result = await checkExactlyOnce(cloud, new Map([...delivered.acked, ...after.acked]), 60_000);
        const newBatches = (await kafkaBatches(cloud.kafka.bootstrap, gatewayId)).filter((b) => b.readings.some((r) => r.deviceId.startsWith(`${how}-c`)));
        const lost = buffered.ackCount;
        t.diagnostic(
          `${what}; recovery reason "${s.outbox.recovery.reason.split('\n').slice(0, 2).join(' ')}", movedTo ${s.outbox.recovery.movedTo}; ` +
            `log: "${(JSON.parse(logLine) as { msg: string }).msg}"; ` +
            `${lost} acknowledged messages were only in the damaged file; earlier batches up to seq ${lastEarlierSeq}, ` +
            `new ones ${Math.min(...newBatches.map((b) => b.seq))}..${Math.max(...newBatches.map((b) => b.seq))}; ` +
            `${after.ackCount} new messages acknowledged and checked`,
        );
        assertExactlyOnce(result);
        assert.ok(newBatches.length > 0, 'no new batch on iot.readings');
        for (const b of newBatches) assert.ok(b.seq > lastEarlierSeq, `new batch seq ${b.seq} not above the earlier ${lastEarlierSeq}`);
        assert.ok(gw.running());
      } finally {
        for (const f of fleets) await f.stop(500).catch(() => undefined);
        await gw.stop();
      }
    });
  }
});
