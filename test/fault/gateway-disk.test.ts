// Issue 4, acceptance 5: the gateway's data directory on a small tmpfs that fills up while devices
// publish. No crash; acknowledgements stop while there is no room (the free-disk floor, or SQLite's
// own SQLITE_FULL with no floor); they resume by themselves once space is freed, with no restart;
// and every acknowledged reading still reaches the database exactly once.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startCloud, type CloudStack } from '../../devstack/stack.js';
import {
  GatewayChild, WireFleet, assertExactlyOnce, checkExactlyOnce, fillDisk, freeBytes, mountTmpfs, waitUntil,
} from './gateway-support.js';

const MiB = 1 << 20;

describe('gateway on a disk that fills', () => {
  let cloud: CloudStack;
  let disk: Awaited<ReturnType<typeof mountTmpfs>> | undefined;
  before(async () => {
    cloud = await startCloud();
    disk = await mountTmpfs(cloud.dir, '24m');
  });
  after(async () => {
    await disk?.unmount();
    await cloud?.stop();
  });

  /**
   * Deletes the filler, then waits for acknowledgements to come back and the status flag to clear,
   * with no restart; stops the fleet and checks nothing it sent is still unacknowledged. Returns
   * how long after the delete the first new acknowledgement came.
   */
  async function freeAndResume(gw: GatewayChild, fleet: WireFleet, filler: string): Promise<number> {
    rmSync(filler);
    const freedAt = Date.now();
    const ackBefore = fleet.ackCount;
    await waitUntil('acknowledgements again', async () => fleet.ackCount, (n) => n > ackBefore, 15_000, 50);
    const resumedMs = Date.now() - freedAt;
    await waitUntil('status outbox.full clears', () => gw.status(), (s) => s.outbox.full === null, 10_000);
    await sleep(2_000);
    await fleet.stop(20_000);
    assert.equal(fleet.pending, 0, 'acknowledgements still missing after the drain');
    return resumedMs;
  }

  /** Acknowledgements over `ms`, once the ones already under way have landed. */
  async function acksOver(fleet: WireFleet, ms: number): Promise<number> {
    await sleep(1_500);
    const before = fleet.ackCount;
    await sleep(ms);
    return fleet.ackCount - before;
  }

  it('below the free-disk floor acknowledgements stop with FL_ERR_OUTBOX_DISK_FULL, and resume by themselves when space is freed', async (t) => {
    const gw = await GatewayChild.create({
      dir: join(cloud.dir, 'gw-floor'), gatewayId: 'gw-floor', brokers: cloud.kafka.bootstrap, dataDir: join(disk!.dir, 'floor'),
      config: { outbox: { minFreeBytes: 2 * MiB } },
    });
    const filler = join(disk!.dir, 'filler-floor');
    let fleet: WireFleet | undefined;
    try {
      await gw.start();
      fleet = WireFleet.start({ port: gw.mqttPort, sensors: 3, rate: 50, metrics: ['temperature', 'humidity'], prefix: 'floor' });
      await sleep(3_000);
      assert.ok(fleet.ackCount > 0, 'no acknowledgements before the disk filled');

      const filled = fillDisk(filler, 1 * MiB);
      const freeAfterFill = freeBytes(disk!.dir);
      const fullAt = Date.now();
      const full = await waitUntil('status outbox.full', () => gw.status(), (s) => s.outbox.full !== null, 10_000);
      assert.equal(full.outbox.full!.code, 'FL_ERR_OUTBOX_DISK_FULL');
      assert.match(full.outbox.full!.reason, /free, below the floor of 2097152/);
      const connectsBefore = fleet.connects;
      const stalled = await acksOver(fleet, 4_000);
      assert.equal(stalled, 0, `${stalled} acknowledgements while the disk was below the floor`);
      // No PUBACK, and the connection closed so each device sends again after reconnecting [MQTT-4.4.0-1].
      assert.ok(fleet.connects > connectsBefore, 'the gateway kept the connections open while refusing');
      assert.ok(gw.running(), 'the gateway died on a full disk');
      const pendingWhileFull = fleet.pending;

      const resumedMs = await freeAndResume(gw, fleet, filler);
      const result = await checkExactlyOnce(cloud, fleet.acked, 60_000);
      t.diagnostic(
        `filler of ${Math.round(filled / MiB)} MiB left ${Math.round(freeAfterFill / 1024)} KiB free; ` +
          `flag after ${full.outbox.full!.sinceMs - fullAt} ms: ${JSON.stringify(full.outbox.full)}; ${pendingWhileFull} messages waiting for a PUBACK while full; ` +
          `acknowledgements resumed ${resumedMs} ms after the filler was deleted; ${fleet.ackCount} acknowledged messages checked; ${fleet.connects} device connections`,
      );
      assertExactlyOnce(result);
      assert.ok(gw.running());
      assert.equal(gw.starts, 1);
    } finally {
      await fleet?.stop(1_000).catch(() => undefined);
      rmSync(filler, { force: true });
      await gw.stop();
    }
  });

  it('with no floor, SQLite itself reports the disk full: the gateway survives it, also with Kafka back while still full, and recovers when space is freed', async (t) => {
    const gw = await GatewayChild.create({
      dir: join(cloud.dir, 'gw-sqlite-full'), gatewayId: 'gw-sqlite-full', brokers: cloud.kafka.bootstrap, dataDir: join(disk!.dir, 'sqlite'),
      config: { outbox: { minFreeBytes: 0 } },
    });
    const filler = join(disk!.dir, 'filler-sqlite');
    let fleet: WireFleet | undefined;
    try {
      await gw.start();
      fleet = WireFleet.start({ port: gw.mqttPort, sensors: 3, rate: 100, metrics: ['temperature', 'humidity'], prefix: 'sqlfull' });
      await sleep(2_000);
      // With Kafka down the outbox must grow, so SQLite needs new pages and a longer WAL: that is
      // where a full disk bites.
      await cloud.kafka.stop();
      fillDisk(filler, 0);
      const full = await waitUntil('SQLite disk full', () => gw.status(), (s) => s.outbox.full !== null, 60_000, 250);
      assert.equal(full.outbox.full!.code, 'FL_ERR_OUTBOX_DISK_FULL');
      assert.match(full.outbox.full!.reason, /^SQLite: /);
      const stalled = await acksOver(fleet, 3_000);
      assert.equal(stalled, 0, `${stalled} acknowledgements while SQLite could not write`);

      // Kafka back while the disk is still full: deliveries must delete rows and lease batches
      // with no room to write.
      await cloud.kafka.start();
      await sleep(8_000);
      assert.ok(gw.running(), `the gateway died with the disk full and Kafka back:\n${gw.logTail(3000)}`);
      const whileFull = await gw.status();

      const resumedMs = await freeAndResume(gw, fleet, filler);
      await waitUntil('outbox drained', () => gw.status(), (s) => s.outbox.depthMessages === 0, 60_000);
      const result = await checkExactlyOnce(cloud, fleet.acked, 60_000);
      t.diagnostic(
        `flag: ${JSON.stringify(full.outbox.full)}; with Kafka back and the disk still full: link ${whileFull.cloud.link}, ` +
          `outbox ${whileFull.outbox.depthMessages} messages; acknowledgements resumed ${resumedMs} ms after the filler was deleted; ` +
          `${fleet.ackCount} acknowledged messages checked`,
      );
      assertExactlyOnce(result);
      assert.ok(gw.running());
      assert.equal(gw.starts, 1);
    } finally {
      await fleet?.stop(1_000).catch(() => undefined);
      rmSync(filler, { force: true });
      await gw.stop();
      await cloud.kafka.start().catch(() => undefined);
    }
  });
});
