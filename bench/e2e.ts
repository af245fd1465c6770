// End-to-end figure: MQTT QoS 1 in, rows committed in the database out.
// Load clients publish as fast as their in-flight window allows; a probe device publishes 20 times a
// second, and a poller records when each probe message becomes a row, for publish-to-row latency.
import mqtt from 'mqtt';
import type { Stack } from '../devstack/stack.js';

export interface E2eResult {
  readingsPerSecond: number;
  readingsStored: number;
  readingsAcked: number;
  seconds: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
}

const VALUES_PER_MESSAGE = 3; // seq, temperature, humidity

/**
 * opts.rate unset: every client publishes as fast as its in-flight window allows (throughput).
 * opts.rate set: the clients together offer that many readings per second (latency at a known load).
 */
export async function benchEndToEnd(stack: Stack, opts: { clients: number; window: number; seconds: number; rate?: number; tag: string }): Promise<E2eResult> {
  const db = stack.cloud.db!;
  const count = async (prefix: string) =>
    Number((await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM readings WHERE device_id LIKE $1`, [`${prefix}%`])).rows[0]!.n);

  // Probe: publish times by seq, and a poller for when each seq turns into a row.
  const probeId = `bench-probe-${opts.tag}`;
  const loadPrefix = `bench-load-${opts.tag}-`;
  const probe = await mqtt.connectAsync(stack.mqttUrl, { clientId: probeId });
  const publishedAt = new Map<number, number>();
  const seenAt = new Map<number, number>();
  let probeSeq = 0;
  const probeTimer = setInterval(() => {
    const seq = ++probeSeq;
    publishedAt.set(seq, performance.now());
    void probe.publishAsync(`devices/${probeId}/telemetry`, JSON.stringify({ metrics: { seq } }), { qos: 1 });
  }, 50);
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const rows = (await db.query<{ v: number }>(
        `SELECT value AS v FROM readings WHERE device_id = $1 AND metric = 'seq' AND value > $2`, [probeId, Math.max(0, ...seenAt.keys())],
      )).rows;
      const now = performance.now();
      for (const r of rows) if (!seenAt.has(r.v)) seenAt.set(r.v, now);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  const clients = await Promise.all(Array.from({ length: opts.clients }, (_, i) => mqtt.connectAsync(stack.mqttUrl, { clientId: `${loadPrefix}${i}` })));
  const perClientPerSecond = opts.rate === undefined ? Infinity : opts.rate / VALUES_PER_MESSAGE / opts.clients;
  let acked = 0;
  let running = true;
  const start = performance.now();
  const loops = clients.map(async (c, i) => {
    let seq = 0;
    const inflight = new Set<Promise<unknown>>();
    const t0 = performance.now();
    while (running) {
      const allowed = perClientPerSecond === Infinity ? Infinity : ((performance.now() - t0) / 1000) * perClientPerSecond;
      if (seq >= allowed) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      while (inflight.size < opts.window && running && seq < allowed) {
        const n = ++seq;
        const p = c
          .publishAsync(`devices/${loadPrefix}${i}/telemetry`, JSON.stringify({ metrics: { seq: n, temperature: 20 + (n % 10), humidity: 50 } }), { qos: 1 })
          .then(() => void (acked += VALUES_PER_MESSAGE))
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (inflight.size >= opts.window) await Promise.race(inflight);
    }
    await Promise.allSettled([...inflight]);
  });
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  running = false;
  await Promise.all(loops);
  clearInterval(probeTimer);

  // Done when every acknowledged reading is a row.
  let stored = await count(loadPrefix);
  const deadline = Date.now() + 300_000;
  while (stored < acked && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    stored = await count(loadPrefix);
  }
  const seconds = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  polling = false;
  await poller;
  await Promise.all([...clients, probe].map((c) => c.endAsync()));

  const lat = [...seenAt].filter(([s]) => publishedAt.has(s)).map(([s, t]) => t - publishedAt.get(s)!).sort((a, b) => a - b);
  const pct = (q: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]! : NaN);
  return {
    readingsPerSecond: Math.round(stored / seconds),
    readingsStored: stored,
    readingsAcked: acked,
    seconds: Math.round(seconds * 10) / 10,
    latencyMs: { p50: Math.round(pct(0.5)), p99: Math.round(pct(0.99)), max: Math.round(lat[lat.length - 1] ?? NaN), samples: lat.length },
  };
}
