// Issue 11, the gateway's part: a heartbeat every interval, and while Kafka is out of reach only the
// newest one waits. The real gateway (a child process) against a real broker that the tests stop
// and start; what reaches iot.heartbeats is read back by a consumer from the beginning of the topic
// to its end. A 200 ms interval makes a few seconds of outage many missed intervals: a gateway that
// queued one heartbeat per interval would deliver dozens of stale ones when the broker returns.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import type { HeartbeatLaneStatus } from '../../gateway/src/forward/heartbeat-lane.js';
import { decodeHeartbeat } from '../../proto/src/wire.js';
import { readTopic } from '../fleet/support.js';
import { GatewayChild, waitUntil, type GatewayStatus } from './gateway-support.js';

const INTERVAL_MS = 200;

type Status = GatewayStatus & { cloud: { heartbeat: HeartbeatLaneStatus } };

/** One heartbeat as it sits on the topic. */
interface OnTopic {
  offset: number;
  tsMs: number;
  uptimeS: number;
  intervalMs: number;
  delayed: boolean;
}

/** Every heartbeat of `gatewayId` on iot.heartbeats, in offset order (the key keeps one gateway on one partition). */
async function heartbeatsOnTopic(bootstrap: string, gatewayId: string): Promise<OnTopic[]> {
  // To the partitions' ends as they are when it starts: kcat -e, which waits for every partition to
  // be at its end at once, did not return while the gateway kept producing every 200 ms.
  const out: (OnTopic & { partition: number })[] = [];
  for (const m of await readTopic(bootstrap, 'iot.heartbeats', 15_000)) {
    if (m.headers.get('gateway-id') !== gatewayId) continue;
    const hb = decodeHeartbeat(m.value);
    out.push({ partition: m.partition, offset: m.offset, tsMs: Number(hb.tsMs), uptimeS: hb.uptimeS, intervalMs: hb.intervalMs, delayed: hb.delayed });
  }
  assert.ok(new Set(out.map((x) => x.partition)).size <= 1, `${gatewayId}'s heartbeats span partitions`);
  return out.sort((a, b) => a.offset - b.offset).map(({ partition: _, ...x }) => x);
}

/** The topic as it is now, or null while the broker cannot answer for it yet. */
function topicNow(bootstrap: string, gatewayId: string): () => Promise<OnTopic[] | null> {
  return () => heartbeatsOnTopic(bootstrap, gatewayId).catch(() => null);
}

/**
 * Reads the topic until a heartbeat stamped at least `liveMs` after the first one stamped at or after
 * `fromMs` is there. Heartbeats of one gateway share a partition, so once the live ones are there,
 * everything the gateway produced before them is too: no late flood can still be on its way.
 */
async function untilLive(bootstrap: string, gatewayId: string, fromMs: number, liveMs: number): Promise<OnTopic[]> {
  const hbs = await waitUntil(
    `${gatewayId}: heartbeats flowing again on iot.heartbeats`,
    topicNow(bootstrap, gatewayId),
    (hbs) => {
      const first = hbs?.find((h) => h.tsMs >= fromMs);
      return first !== undefined && hbs!.some((h) => h.tsMs >= first.tsMs + liveMs);
    },
    90_000,
    500,
    (hbs) => JSON.stringify(hbs?.slice(-5) ?? null),
  );
  return hbs!;
}

/** The heartbeat slot's rows in a stopped gateway's outbox file. */
function slotRows(gw: GatewayChild): number[] {
  const db = new Database(join(gw.dataDir, 'outbox.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT ts_ms FROM heartbeat_slot').all() as { ts_ms: number }[]).map((r) => r.ts_ms);
  } finally {
    db.close();
  }
}

describe('gateway heartbeats across a Kafka outage', () => {
  let kafka: KafkaBroker;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-heartbeat-'));
    kafka = await startKafka({
      logDir: dir,
      topics: FIELDLINE_TOPICS.filter((t) => ['iot.readings', 'iot.heartbeats', 'iot.quarantine'].includes(t.name)),
    });
  });
  after(async () => {
    await kafka?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function gateway(gatewayId: string, intervalMs: number): Promise<GatewayChild> {
    return GatewayChild.create({ dir: join(dir, gatewayId), gatewayId, brokers: kafka.bootstrap, config: { kafka: { heartbeatIntervalMs: intervalMs } } });
  }

  const status = async (gw: GatewayChild) => (await gw.status()) as Status;

  it('Kafka unreachable for dozens of intervals, with a gateway restart in between: one heartbeat row waits on disk, and once Kafka is back the topic gets the previous run\'s last heartbeat once (delayed) and then fresh ones, not one per missed interval', async (t) => {
    await kafka.stop();
    const gw = await gateway('gw-hb-restart', INTERVAL_MS);
    try {
      await gw.start();
      const run1 = await waitUntil('run 1: 30 heartbeats built with Kafka down', () => status(gw), (s) => s.cloud.heartbeat.received >= 30, 60_000);
      assert.notEqual(run1.cloud.link, 'up');
      assert.equal(run1.cloud.heartbeat.errors, 0, 'a heartbeat waiting for the link is not an error');
      assert.ok(run1.cloud.heartbeat.dropped >= 28, `each replaced heartbeat counts as dropped: ${JSON.stringify(run1.cloud.heartbeat)}`);
      await gw.kill();
      const left = slotRows(gw);
      assert.equal(left.length, 1, `one heartbeat row after ${run1.cloud.heartbeat.received} heartbeats: ${JSON.stringify(left)}`);
      const lastOfRun1 = left[0]!;

      await gw.start();
      const run2 = await waitUntil('run 2: 20 heartbeats built with Kafka still down', () => status(gw), (s) => s.cloud.heartbeat.received >= 20, 60_000);
      assert.equal(run2.cloud.heartbeat.inheritedTsMs, lastOfRun1, 'run 2 holds run 1\'s last heartbeat');

      const backAt = Date.now();
      await kafka.start();
      const hbs = await untilLive(kafka.bootstrap, 'gw-hb-restart', backAt, 10 * INTERVAL_MS);
      const stale = hbs.filter((h) => h.tsMs < backAt);
      t.diagnostic(`${run1.cloud.heartbeat.received}+ heartbeats built in run 1 and ${run2.cloud.heartbeat.received}+ in run 2 with Kafka down; ` +
        `${stale.length} stamped before Kafka came back reached the topic; the first fresh one stamped ${(hbs.find((h) => h.tsMs >= backAt)?.tsMs ?? NaN) - backAt} ms after the broker restart began`);
      assert.deepEqual(stale.map((h) => [h.tsMs, h.delayed]), [[lastOfRun1, true]], 'of every heartbeat built while Kafka was down, only run 1\'s last arrives');
      assert.equal(hbs[0]!.tsMs, lastOfRun1, 'and it comes first');
      assert.deepEqual(hbs.filter((h) => h.delayed).length, 1, 'no other heartbeat is marked delayed');
      assert.deepEqual([...new Set(hbs.map((h) => h.intervalMs))], [INTERVAL_MS], 'interval_ms is on the wire');
      const after = await waitUntil('the slot emptied', () => status(gw), (s) => s.cloud.heartbeat.waitingTsMs === null && s.cloud.heartbeat.inheritedTsMs === null, 30_000);
      assert.ok(after.cloud.heartbeat.inQueue <= 1);
    } finally {
      await gw.stop();
      await kafka.start();
    }
  });

  it('with a 2-minute interval, a fresh heartbeat goes as soon as Kafka is reachable, without waiting for the next tick', async () => {
    const intervalMs = 120_000;
    await kafka.stop();
    const gw = await gateway('gw-hb-prompt', intervalMs);
    try {
      await gw.start();
      const waiting = await waitUntil('the first heartbeat waiting', () => status(gw), (s) => s.cloud.heartbeat.waitingTsMs !== null, 30_000);
      assert.equal(waiting.cloud.heartbeat.received, 1);
      const backAt = Date.now();
      await kafka.start();
      const hbs = (await waitUntil('a heartbeat on iot.heartbeats', topicNow(kafka.bootstrap, 'gw-hb-prompt'), (h) => (h?.length ?? 0) > 0, 100_000, 500))!;
      assert.equal(hbs.length, 1, JSON.stringify(hbs));
      const hb = hbs[0]!;
      assert.ok(hb.tsMs >= backAt, 'built after Kafka came back: fresh, not the one that waited');
      assert.equal(hb.delayed, false);
      assert.equal(hb.intervalMs, intervalMs);
      // The timer's second heartbeat is due at 120 s of uptime; this one came before it.
      assert.ok(hb.uptimeS < intervalMs / 1000, `uptime ${hb.uptimeS} s: the timer sent it, not the link coming up`);
      const s = await waitUntil('its delivery confirmed', () => status(gw), (x) => x.cloud.heartbeat.sent === 1, 30_000);
      assert.equal(s.cloud.heartbeat.waitingTsMs, null);
      assert.equal(s.cloud.heartbeat.dropped, 1, 'the one that waited was superseded');
    } finally {
      await gw.stop();
      await kafka.start();
    }
  });

  it('a broker outage while connected (the producer stays connected and would queue): at most one heartbeat waits in librdkafka, and the topic gets at most two stamped during the outage', async (t) => {
    const gw = await gateway('gw-hb-broker', INTERVAL_MS);
    try {
      await gw.start();
      await waitUntil('heartbeats confirmed before the outage', () => status(gw), (s) => s.cloud.heartbeat.sent >= 5, 60_000);
      await kafka.stop();
      const downAt = Date.now();
      const atStop = await status(gw);
      const samples: Status[] = [];
      await waitUntil(
        'dozens of intervals with the broker down',
        async () => {
          const s = await status(gw);
          samples.push(s);
          return s;
        },
        (s) => s.cloud.heartbeat.received >= atStop.cloud.heartbeat.received + 40,
        60_000,
      );
      assert.ok(samples.every((s) => s.cloud.heartbeat.inQueue <= 1));
      const backAt = Date.now();
      await kafka.start();
      const hbs = await untilLive(kafka.bootstrap, 'gw-hb-broker', backAt, 10 * INTERVAL_MS);
      const stale = hbs.filter((h) => h.tsMs >= downAt && h.tsMs < backAt);
      const built = samples.at(-1)!.cloud.heartbeat.received - atStop.cloud.heartbeat.received;
      t.diagnostic(`${built} heartbeats built while the broker was down, ${stale.length} of them reached the topic`);
      assert.ok(stale.length <= 2, `${stale.length} heartbeats stamped during the outage reached the topic (${built} were built): ${JSON.stringify(stale)}`);
      assert.ok(hbs.every((h) => !h.delayed), 'nothing stored was sent: fresh ones replaced it');
      // Live again: one heartbeat an interval, no burst. The ones after the outage are no denser than the timer makes them.
      const fresh = hbs.filter((h) => h.tsMs >= backAt);
      const spanMs = fresh.at(-1)!.tsMs - fresh[0]!.tsMs;
      assert.ok(fresh.length <= spanMs / INTERVAL_MS + 3, `${fresh.length} heartbeats over ${spanMs} ms`);
    } finally {
      await gw.stop();
    }
  });
});
