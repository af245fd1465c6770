import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listenNotifySocket } from '../../../test/deploy/notify-socket.js';
import { eventually } from '../../../test/modbus/support.js';
import { gatewayHealthy, gatewayStatusLine, systemdNotifier, watchdogIntervalMs } from './watchdog.js';

describe('systemd notify and watchdog', () => {
  it('reads the ping interval as half of WATCHDOG_USEC, only for the process WATCHDOG_PID names', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 7), 15_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7), 15_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7), null);
    assert.equal(watchdogIntervalMs({}, 7), null);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 7), null);
  });

  it('without NOTIFY_SOCKET every call is a no-op and no timer runs', async () => {
    const sd = systemdNotifier({ env: { WATCHDOG_USEC: '1000' }, healthy: () => true });
    assert.equal(sd.enabled, false);
    assert.equal(sd.intervalMs, null);
    await sd.ready('x');
    await sd.stopping();
    assert.deepEqual(sd.counts, { pings: 0, ticks: 0, skipped: 0 });
  });

  it('a real notify socket receives READY=1, WATCHDOG=1 while healthy, none while unhealthy, then STOPPING=1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldline-notify-'));
    const socket = await listenNotifySocket(dir);
    let healthy = true;
    const sd = systemdNotifier({
      env: { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '200000' },
      healthy: () => healthy,
      status: () => (healthy ? 'all well' : 'sick'),
    });
    try {
      assert.equal(sd.intervalMs, 100);
      await sd.ready('starting done');
      await eventually(() => socket.lines().includes('READY=1'), 'READY=1 received');
      assert.ok(socket.lines().includes('STATUS=starting done'));
      assert.ok(socket.lines().includes(`MAINPID=${process.pid}`), 'names this process as the main PID');
      await eventually(() => socket.lines().filter((l) => l === 'WATCHDOG=1').length >= 3, 'three WATCHDOG=1 pings received');
      assert.ok(socket.lines().includes('STATUS=all well'));

      healthy = false;
      // Wait for any ping already spawned to arrive, then count: no new one may come while unhealthy.
      const skippedAt = sd.counts.skipped;
      await eventually(() => sd.counts.skipped >= skippedAt + 2, 'two unhealthy ticks');
      const pingsSent = sd.counts.pings;
      await eventually(() => socket.lines().filter((l) => l === 'WATCHDOG=1').length >= pingsSent, 'pings sent before arrive');
      const received = socket.lines().filter((l) => l === 'WATCHDOG=1').length;
      await eventually(() => sd.counts.skipped >= skippedAt + 6, 'four more unhealthy ticks');
      assert.equal(sd.counts.pings, pingsSent, 'no ping sent while unhealthy');
      assert.equal(socket.lines().filter((l) => l === 'WATCHDOG=1').length, received, 'no ping received while unhealthy');

      healthy = true;
      await eventually(() => socket.lines().filter((l) => l === 'WATCHDOG=1').length > received, 'pings resume once healthy');

      await sd.stopping('bye');
      await eventually(() => socket.lines().includes('STOPPING=1'), 'STOPPING=1 received');
      const ticks = sd.counts.ticks;
      await new Promise<void>((r) => setImmediate(r));
      assert.equal(sd.counts.ticks, ticks, 'the pings end with STOPPING=1');
    } finally {
      sd.close();
      await socket.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a gateway whose outbox throws is unhealthy (no ping), a full outbox is not', () => {
    const ok = { outbox: { stats: () => ({ depthValues: 3, oldestMs: Date.now() - 5_000, full: { code: 'FL_ERR_OUTBOX_DISK_FULL' } }) } };
    assert.equal(gatewayHealthy(ok), true);
    assert.match(gatewayStatusLine(ok), /^outbox 3 readings, oldest [45]s, refusing: FL_ERR_OUTBOX_DISK_FULL$/);
    const broken = { outbox: { stats: (): never => { throw new Error('The database connection is not open'); } } };
    assert.throws(() => gatewayHealthy(broken));
    const sd = systemdNotifier({ env: {}, healthy: () => gatewayHealthy(broken) });
    assert.equal(sd.enabled, false);
    assert.match(gatewayStatusLine(broken), /outbox unreadable: The database connection is not open/);
  });
});
