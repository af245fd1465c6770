// Issue 15, acceptance 2: a real gateway process whose clock is a year back and unsynchronised (the
// test clock source, clock.source: file), devices publishing over MQTT without a time, Kafka up
// throughout. What it stamps waits in the outbox; a simulated reboot (a new boot id) before the
// clock is trusted makes the first boot's readings uncorrectable, and they reach the database at
// their stamped time, flagged FL_ERR_CLOCK_REBOOTED; once the clock is synchronised the second
// boot's readings reach it at their true time. Without the correction they would land a year back.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { startCloud, type CloudStack } from '../../devstack/stack.js';
import { GatewayChild, waitUntil } from '../fault/gateway-support.js';

const YEAR_MS = 365 * 86_400_000;

interface ApiReading {
  ts: string;
  value: number;
  flag?: string;
}

interface ClockStatus {
  clock: { synced: boolean; source: string; lastJumpMs: number; bootId: string };
  outbox: { depthValues: number };
}

/** Publishes seq 1..n without ts at QoS 1, one at a time; returns when each was sent and acknowledged. */
async function publishUntimed(url: string, deviceId: string, n: number): Promise<{ seq: number; sentMs: number; ackedMs: number }[]> {
  const client = await mqtt.connectAsync(url, { clientId: deviceId, reconnectPeriod: 0 });
  try {
    const out = [];
    for (let seq = 1; seq <= n; seq++) {
      const sentMs = Date.now();
      await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ metrics: { seq } }), { qos: 1 });
      out.push({ seq, sentMs, ackedMs: Date.now() });
      // Apart enough that each reading's time is told from its neighbours'.
      await sleep(50);
    }
    return out;
  } finally {
    await client.endAsync();
  }
}

async function readingsOf(cloud: CloudStack, deviceId: string): Promise<ApiReading[]> {
  const q = new URLSearchParams({ metric: 'seq', from: '0', limit: '1000' });
  const res = await fetch(`${cloud.apiUrl}/v1/devices/${encodeURIComponent(deviceId)}/readings?${q}`, { headers: { authorization: `Bearer ${cloud.token}` } });
  if (res.status === 404) return [];
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { readings: ApiReading[] }).readings;
}

describe('a gateway whose clock cannot be trusted', () => {
  let cloud: CloudStack;
  let gw: GatewayChild | undefined;
  before(async () => {
    cloud = await startCloud();
  });
  after(async () => {
    await gw?.stop().catch(() => undefined);
    await cloud?.stop();
  });

  it('booted a year back and unsynchronised: readings land at their true time once the clock is synchronised; readings from before a reboot are flagged', async () => {
    const clockFile = join(cloud.dir, 'clock.json');
    const setClock = (c: { offsetMs: number; synced: boolean; bootId: string }) => writeFileSync(clockFile, JSON.stringify(c));
    setClock({ offsetMs: -YEAR_MS, synced: false, bootId: 'boot-A' });
    gw = await GatewayChild.create({
      dir: join(cloud.dir, 'gw-clock'),
      gatewayId: 'gw-clock',
      brokers: cloud.kafka.bootstrap,
      // Held for an hour: the test decides when the clock is trusted, not the hold running out.
      config: { clock: { source: 'file', file: clockFile, pollMs: 200, holdUnsyncedMs: 3_600_000 } },
    });
    const status = async () => (await gw!.status()) as unknown as ClockStatus;

    // Boot A: a year back, unsynchronised. Kafka is up, yet what the gateway stamps stays in the outbox.
    // Generous waits throughout: the machine is shared with other suites.
    await gw.start({}, 90_000);
    assert.deepEqual([(await status()).clock.synced, (await status()).clock.source], [false, 'file']);
    const bootA = await publishUntimed(gw.mqttUrl, 'clk-a', 5);
    await waitUntil('boot A readings in the outbox', status, (s) => s.outbox.depthValues === 5, 30_000);
    // A device that keeps its own (true) time is a year "ahead" of this clock; it is not judged by it.
    const deviceTs = Date.now();
    const dev = await mqtt.connectAsync(gw.mqttUrl, { clientId: 'clk-timed', reconnectPeriod: 0 });
    await dev.publishAsync('devices/clk-timed/telemetry', JSON.stringify({ ts: deviceTs, metrics: { seq: 1 } }), { qos: 1 });
    await dev.endAsync();

    // The reboot: the monotonic stamps of boot A mean nothing in boot B. Still unsynchronised.
    await gw.stop();
    setClock({ offsetMs: -YEAR_MS, synced: false, bootId: 'boot-B' });
    await gw.start({}, 90_000);
    const bootB = await publishUntimed(gw.mqttUrl, 'clk-b', 5);

    // Boot A's readings cannot be corrected: they go at once, at the stamped (year-back) time, flagged.
    const a = await waitUntil('boot A readings in the database', () => readingsOf(cloud, 'clk-a'), (r) => r.length === 5, 60_000);
    for (const [i, r] of a.entries()) {
      const sent = bootA[i]!;
      assert.equal(r.value, sent.seq);
      assert.equal(r.flag, 'FL_ERR_CLOCK_REBOOTED', JSON.stringify(r));
      const ts = Date.parse(r.ts);
      assert.ok(ts >= sent.sentMs - YEAR_MS - 50 && ts <= sent.ackedMs - YEAR_MS + 50, `seq ${sent.seq} flagged at ${r.ts}, not at its stamped time`);
    }
    const timed = await waitUntil('the device-timed reading', () => readingsOf(cloud, 'clk-timed'), (r) => r.length === 1, 30_000);
    assert.deepEqual([Date.parse(timed[0]!.ts), timed[0]!.flag], [deviceTs, undefined]);
    // Boot B's are of this boot: they wait for the clock.
    await sleep(1_000);
    assert.deepEqual(await readingsOf(cloud, 'clk-b'), [], 'boot B readings left the outbox on an untrusted clock');
    assert.equal((await status()).outbox.depthValues, 5);

    // NTP (here the test clock) synchronises: the wall clock steps a year forward.
    setClock({ offsetMs: 0, synced: true, bootId: 'boot-B' });
    const synced = await waitUntil('the clock trusted', status, (s) => s.clock.synced, 30_000);
    assert.ok(Math.abs(synced.clock.lastJumpMs - YEAR_MS) < 5_000, `the step seen: ${synced.clock.lastJumpMs} ms`);
    const b = await waitUntil('boot B readings in the database', () => readingsOf(cloud, 'clk-b'), (r) => r.length === 5, 60_000);
    // The true time of each reading lies between its publish and its PUBACK; the correction is exact
    // to the millisecond (the same monotonic clock stamps and corrects), so 50 ms covers rounding
    // and the moments between the socket read and the stamp, nothing more.
    for (const [i, r] of b.entries()) {
      const sent = bootB[i]!;
      assert.equal(r.value, sent.seq);
      assert.equal(r.flag, undefined, JSON.stringify(r));
      const ts = Date.parse(r.ts);
      assert.ok(ts >= sent.sentMs - 50 && ts <= sent.ackedMs + 50, `seq ${sent.seq} stored at ${r.ts}; published ${new Date(sent.sentMs).toISOString()}, acknowledged ${new Date(sent.ackedMs).toISOString()}`);
    }
    await waitUntil('the outbox empty', status, (s) => s.outbox.depthValues === 0, 30_000);
    const metrics = await (await fetch(`${cloud.apiUrl}/metrics`)).text();
    assert.match(metrics, /^fieldline_cloud_readings_time_flagged_total\{reason="FL_ERR_CLOCK_REBOOTED"\} 5$/m);
  });
});
