// The fleet workers' behaviour suite (issue 10), run on every store backend like the store's own
// (CONVENTIONS point 5): a real Kafka broker, and the embedded TimescaleDB or a real PostgreSQL 15.
// Each test has topics and consumer groups of its own; the publisher's watermark is one per
// database, so the aggregate tests run in order on minutes that follow each other.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { cloudConfigSchema, type CloudConfig } from '../../cloud-sink/src/config/schema.js';
import { AggregatePublisher, MINUTE_MS, PUBLISH_LOCK_KEY, type PublishRun } from '../../cloud-sink/src/fleet/aggregates.js';
import { Fleet } from '../../cloud-sink/src/fleet/fleet.js';
import type { Db, DbTx, QueryResult, Row } from '../../cloud-sink/src/store/db.js';
import { Store, type IngestBatch } from '../../cloud-sink/src/store/store.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';
import { encodeHeartbeat, encodeQuarantined, type Reading } from '../../proto/src/wire.js';
import { heartbeat, readTopic, SOURCE_COAP, TestClock, TestProducer } from './support.js';

export interface FleetBackend {
  name: string;
  /** A new, empty database; the suite closes it. */
  open(): Promise<Db>;
  /** readings_1m is a TimescaleDB continuous aggregate rather than a table the sink keeps. */
  continuousAggregates: boolean;
}

const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });

interface Names {
  id: string;
  heartbeats: string;
  quarantine: string;
  dlq: string;
  aggregates: string;
}

interface AggregateValue {
  device_id: string;
  metric: string;
  bucket: string;
  avg: number;
  min: number;
  max: number;
  count: number;
  last: number;
}

/** Readings one second apart or more, never two at the same instant for a (device, metric), so `last` is defined. */
function minuteOfReadings(devices: string[], metrics: string[], minuteStart: number, seed: number): Reading[] {
  const out: Reading[] = [];
  devices.forEach((deviceId, d) => {
    for (let j = 0; j < 5; j++) {
      const m: Record<string, number> = {};
      metrics.forEach((name, k) => (m[name] = (((seed * 31 + j * 17 + d * 7 + k * 3) % 23) - 5.5) * 1.25));
      out.push({ deviceId, tsMs: minuteStart + j * 11_000 + d * 1000, metrics: m });
    }
  });
  return out;
}

export function fleetBehaviour(backend: FleetBackend): void {
  describe(`fleet workers: ${backend.name}`, () => {
    let kafka: KafkaBroker;
    let db: Db;
    let store: Store;
    let producer: TestProducer;
    let seq = 0;
    const stoppers: (() => Promise<void>)[] = [];

    before(async () => {
      kafka = await startKafka();
      db = await backend.open();
      store = new Store(db);
      await store.migrate();
      producer = await TestProducer.connect(kafka.bootstrap);
    });

    after(async () => {
      for (const stop of stoppers) await stop().catch(() => undefined);
      await producer?.close();
      await db?.close();
      await kafka?.destroy();
    });

    async function names(): Promise<Names> {
      const id = String(++seq);
      const t = { id, heartbeats: `hb-${id}`, quarantine: `q-${id}`, dlq: `dlq-${id}`, aggregates: `agg-${id}` };
      await kafka.createTopics([t.heartbeats, t.quarantine, t.dlq, t.aggregates].map((name) => ({ name, partitions: 3 })));
      return t;
    }

    function config(t: Names, group: string, fleet: Record<string, unknown> = {}): CloudConfig {
      return cloudConfigSchema.parse({
        kafka: { brokers: kafka.bootstrap, heartbeatsTopic: t.heartbeats, quarantineTopic: t.quarantine, dlqTopic: t.dlq, aggregatesTopic: t.aggregates },
        fleet: {
          heartbeats: { group: `hb-${group}` },
          quarantine: { group: `q-${group}` },
          aggregates: { enabled: false },
          ...fleet,
        },
      });
    }

    function startFleet(cfg: CloudConfig): Fleet {
      const fleet = new Fleet(cfg, db, quiet);
      fleet.start();
      stoppers.push(() => fleet.stop());
      return fleet;
    }

    async function gatewayRow(gatewayId: string): Promise<Record<string, unknown> | undefined> {
      return (await db.query('SELECT * FROM gateways WHERE gateway_id = $1', [gatewayId])).rows[0];
    }

    const wait = (what: string, ready: () => boolean | Promise<boolean>) =>
      waitUntil(async () => ready(), { what, timeoutMs: 60_000, intervalMs: 50 });

    it('heartbeats land in gateways as the latest state and in gateway_heartbeats; an older one, a replayed one and a whole-topic replay change neither', async () => {
      const t = await names();
      const gw = `gw-hb-${t.id}`;
      const T = Date.UTC(2026, 0, 10, 8, 0, 0);
      const fleet = startFleet(config(t, 'a', { quarantine: { enabled: false } }));
      const newest = heartbeat(gw, T + 30_000, { firmwareVersion: '2.0.0', temperatureC: null, outboxFull: 'FL_ERR_OUTBOX_FULL: at bound', drainEtaS: null });
      await producer.send(t.heartbeats, [encodeHeartbeat(heartbeat(gw, T)), encodeHeartbeat(newest)]);
      await wait('two heartbeats stored', () => fleet.heartbeats!.stats.stored === 2);
      const row = await gatewayRow(gw);
      assert.ok(row, 'a gateway that sent heartbeats but no readings has a row');
      assert.equal((row.last_heartbeat_at as Date).getTime(), T + 30_000);
      assert.ok(row.heartbeat_received_at instanceof Date);
      assert.ok(row.first_seen instanceof Date && row.last_seen instanceof Date);
      assert.equal(row.last_seq, null, 'no batch yet');
      assert.equal(Number(row.batches_ingested), 0);
      assert.deepEqual(
        {
          firmware: row.firmware, uptime_s: row.uptime_s, cpu_percent: row.cpu_percent, memory_used_bytes: row.memory_used_bytes,
          memory_total_bytes: row.memory_total_bytes, disk_free_bytes: row.disk_free_bytes, disk_total_bytes: row.disk_total_bytes,
          temperature_c: row.temperature_c, outbox_depth: Number(row.outbox_depth), outbox_oldest_age_ms: Number(row.outbox_oldest_age_ms),
          outbox_bytes: Number(row.outbox_bytes), outbox_full: row.outbox_full, outbox_recovered: row.outbox_recovered,
          drain_sent_per_s: row.drain_sent_per_s, drain_in_per_s: row.drain_in_per_s, drain_eta_s: row.drain_eta_s,
          adapters: row.adapters, loss: row.loss, refusals: row.refusals,
        },
        {
          firmware: '2.0.0', uptime_s: 3600.5, cpu_percent: 12.5, memory_used_bytes: 512 * 2 ** 20, memory_total_bytes: 2 ** 30,
          disk_free_bytes: 8 * 2 ** 30, disk_total_bytes: 32 * 2 ** 30, temperature_c: null, outbox_depth: 1500, outbox_oldest_age_ms: 42_000,
          outbox_bytes: 96_000, outbox_full: 'FL_ERR_OUTBOX_FULL: at bound', outbox_recovered: null, drain_sent_per_s: 250, drain_in_per_s: 100,
          drain_eta_s: null,
          adapters: [
            { name: 'mqtt', state: 'up', detail: '3 clients', counters: { clients: 3, refusedConnections: 1 } },
            { name: 'modbus', state: 'degraded', detail: 'boiler-1 timing out', counters: { 'boiler-1.timeout': 7 } },
          ],
          loss: { rate_limited: 4, quarantined: 2, evicted: 1 },
          refusals: { FL_ERR_DECODE_JSON: 2, FL_ERR_RATE_LIMITED: 4 },
        },
      );

      // The first one again (a replay) and one older than both (reordering).
      await producer.send(t.heartbeats, [encodeHeartbeat(heartbeat(gw, T)), encodeHeartbeat(heartbeat(gw, T - 30_000))]);
      await wait('four heartbeats handled', () => fleet.heartbeats!.stats.stored + fleet.heartbeats!.stats.duplicates === 4);
      assert.deepEqual(await gatewayRow(gw), row, 'the latest state is untouched, received time and last_seen included');
      const history = await db.query<{ ts: Date; firmware: string; temperature_c: number | null }>(
        'SELECT ts, firmware, temperature_c FROM gateway_heartbeats WHERE gateway_id = $1 ORDER BY ts', [gw],
      );
      assert.deepEqual(
        history.rows.map((h) => [h.ts.getTime(), h.firmware, h.temperature_c]),
        [[T - 30_000, `fw-${T - 30_000}`, 48.25], [T, `fw-${T}`, 48.25], [T + 30_000, '2.0.0', null]],
      );
      assert.equal(fleet.heartbeats!.stats.duplicates, 1);

      // A new consumer group reads the whole topic again.
      await fleet.stop();
      const again = startFleet(config(t, 'b', { quarantine: { enabled: false } }));
      await wait('the topic replayed', () => again.heartbeats!.stats.duplicates === 4);
      assert.equal(again.heartbeats!.stats.stored, 0);
      assert.deepEqual(await gatewayRow(gw), row);
      assert.equal(Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM gateway_heartbeats WHERE gateway_id = $1', [gw])).rows[0]!.n), 3);
      await again.stop();

      // Batches and heartbeats share the row: each side leaves the other's columns alone.
      await store.ingest([{ gatewayId: gw, seq: 7, createdMs: T, readings: [{ deviceId: `dev-hb-${t.id}`, tsMs: T, metrics: { v: 1 } }] }]);
      const both = await gatewayRow(gw);
      assert.equal(Number(both?.last_seq), 7);
      assert.equal(Number(both?.batches_ingested), 1);
      assert.equal((both?.last_heartbeat_at as Date).getTime(), T + 30_000);
      assert.equal(both?.firmware, '2.0.0');
      assert.equal((both?.first_seen as Date).getTime(), (row.first_seen as Date).getTime());
    });

    it('a heartbeat stamped far ahead of the cloud clock (a gateway clock that jumped) gives way to the next one', async () => {
      const t = await names();
      const gw = `gw-jump-${t.id}`;
      const now = Date.now();
      const fleet = startFleet(config(t, 'a', { quarantine: { enabled: false } }));
      await producer.send(t.heartbeats, [encodeHeartbeat(heartbeat(gw, now + 86_400_000, { firmwareVersion: 'from-the-future' }))]);
      await wait('the jumped heartbeat stored', () => fleet.heartbeats!.stats.stored === 1);
      assert.equal((await gatewayRow(gw))?.firmware, 'from-the-future');
      await producer.send(t.heartbeats, [encodeHeartbeat(heartbeat(gw, now, { firmwareVersion: 'back-on-time' }))]);
      await wait('the next heartbeat stored', () => fleet.heartbeats!.stats.stored === 2);
      const row = await gatewayRow(gw);
      assert.equal(row?.firmware, 'back-on-time');
      assert.equal((row?.last_heartbeat_at as Date).getTime(), now);
      await fleet.stop();
    });

    it('the heartbeat interval and delayed flag (proto revision 2) land in both tables; interval 0 (an older gateway) is stored as unknown', async () => {
      const t = await names();
      const [said, unsaid] = [`gw-int-${t.id}`, `gw-old-${t.id}`];
      const T = Date.UTC(2026, 0, 13, 7, 0, 0);
      const fleet = startFleet(config(t, 'a', { quarantine: { enabled: false } }));
      await producer.send(t.heartbeats, [
        encodeHeartbeat(heartbeat(said, T, { intervalMs: 15_000, delayed: true })),
        encodeHeartbeat(heartbeat(unsaid, T, { intervalMs: 0 })),
      ]);
      await wait('two heartbeats stored', () => fleet.heartbeats!.stats.stored === 2);
      const latest = async (gw: string) => {
        const g = await gatewayRow(gw);
        return [g?.heartbeat_interval_ms === null ? null : Number(g?.heartbeat_interval_ms), g?.heartbeat_delayed];
      };
      assert.deepEqual(await latest(said), [15_000, true]);
      assert.deepEqual(await latest(unsaid), [null, false]);
      const history = await db.query<{ gateway_id: string; interval_ms: number | null; delayed: boolean }>(
        'SELECT gateway_id, interval_ms, delayed FROM gateway_heartbeats WHERE gateway_id = ANY($1) ORDER BY gateway_id', [[said, unsaid]],
      );
      assert.deepEqual(
        history.rows.map((h) => [h.gateway_id, h.interval_ms === null ? null : Number(h.interval_ms), h.delayed]),
        [[said, 15_000, true], [unsaid, null, false]],
      );
      await fleet.stop();
    });

    it('quarantined readings land in quarantine with their raw bytes intact, and a replay adds no row', async () => {
      const t = await names();
      const gw = `gw-q-${t.id}`;
      const T = Date.UTC(2026, 0, 11, 9, 30, 0);
      const raws = [Buffer.from([0x00, 0xff, 0x7b, 0x0a, 0x80]), Buffer.from('not json at all'), Buffer.alloc(70_000, 0xab)];
      const sent = raws.map((raw, i) => ({
        gatewayId: gw,
        deviceId: i === 1 ? '' : `dev-q-${t.id}`,
        tsMs: T + i,
        raw,
        source: SOURCE_COAP,
        reasonCode: i === 2 ? 'FL_ERR_INGEST_TOO_LARGE' : 'FL_ERR_DECODE_JSON',
        reason: `refused #${i}`,
        topic: `/telemetry/dev-q-${t.id}`,
      }));
      const fleet = startFleet(config(t, 'a', { heartbeats: { enabled: false } }));
      await producer.send(t.quarantine, sent.map((q) => encodeQuarantined(q)));
      await wait('three records stored', () => fleet.quarantine!.stats.stored === 3);

      const positions = new Map((await readTopic(kafka.bootstrap, t.quarantine)).map((m) => [`${m.partition}/${m.offset}`, m]));
      const rows = (await db.query<{
        kafka_topic: string; kafka_partition: number; kafka_offset: number | string; gateway_id: string; device_id: string | null; ts: Date;
        received_at: Date; source: string; reason_code: string; reason: string; topic: string; raw: Uint8Array;
      }>('SELECT * FROM quarantine WHERE gateway_id = $1 ORDER BY ts', [gw])).rows;
      assert.equal(rows.length, 3);
      rows.forEach((r, i) => {
        const q = sent[i]!;
        assert.ok(Buffer.from(r.raw).equals(q.raw), `raw payload ${i} byte for byte`);
        assert.deepEqual(
          [r.kafka_topic, r.gateway_id, r.device_id, r.ts.getTime(), r.source, r.reason_code, r.reason, r.topic],
          [t.quarantine, gw, q.deviceId || null, q.tsMs, 'coap', q.reasonCode, q.reason, q.topic],
        );
        assert.ok(r.received_at instanceof Date);
        assert.ok(positions.has(`${r.kafka_partition}/${Number(r.kafka_offset)}`), 'keyed by where the message is in Kafka');
      });

      await fleet.stop();
      const again = startFleet(config(t, 'b', { heartbeats: { enabled: false } }));
      await wait('the topic replayed', () => again.quarantine!.stats.duplicates === 3);
      assert.equal(again.quarantine!.stats.stored, 0);
      assert.equal(Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM quarantine WHERE gateway_id = $1', [gw])).rows[0]!.n), 3);
      await again.stop();
    });

    it('a garbage message on iot.heartbeats goes to the DLQ untouched with its code in the error header, and the next good heartbeat is still stored', async () => {
      const t = await names();
      const gw = `gw-dlq-${t.id}`;
      const T = Date.UTC(2026, 0, 12, 10, 0, 0);
      const fleet = startFleet(config(t, 'a', { quarantine: { enabled: false } }));
      const garbage = Buffer.from('garbage, not an LZ4 frame');
      const nameless = encodeHeartbeat(heartbeat('', T)).value;
      // One key, so all three are in one partition, in this order.
      await producer.send(t.heartbeats, [
        { key: gw, value: garbage },
        { key: gw, value: nameless },
        encodeHeartbeat(heartbeat(gw, T)),
      ]);
      await wait('the good heartbeat stored', () => fleet.heartbeats!.stats.stored === 1);
      assert.equal(fleet.heartbeats!.stats.deadLettered, 2);
      assert.equal(((await gatewayRow(gw))?.last_heartbeat_at as Date).getTime(), T);

      const dlq = await readTopic(kafka.bootstrap, t.dlq);
      assert.equal(dlq.length, 2);
      const [first, second] = dlq.sort((a, b) => Number(a.headers.get('source-offset')) - Number(b.headers.get('source-offset')));
      assert.ok(first!.value.equals(garbage), 'the garbage is in the DLQ byte for byte');
      assert.match(first!.headers.get('error') ?? '', /^FL_ERR_WIRE_LZ4: /);
      assert.ok(second!.value.equals(nameless));
      assert.match(second!.headers.get('error') ?? '', /^FL_ERR_FLEET_BAD_HEARTBEAT: /);
      for (const m of [first!, second!]) {
        assert.equal(m.key, gw);
        assert.equal(m.headers.get('source-topic'), t.heartbeats);
      }
      await fleet.stop();
    });

    describe('per-minute aggregates on iot.aggregates.1m', () => {
      // Minutes of their own, after anything the other tests stored.
      const T0 = Date.UTC(2026, 1, 1, 12, 0, 0);
      const devices = ['agg-d1', 'agg-d2'];
      const settings = { graceMs: 120_000, backfillMs: 10 * MINUTE_MS, maxMinutesPerRun: 4, maxCorrectionsPerRun: 1000 };
      let t: Names;
      let clock: TestClock;
      let gatewaySeq = 0;

      function publisher(topic = t.aggregates, through: Db = db): AggregatePublisher {
        const cfg = config(t, 'agg', { aggregates: { ...settings, intervalMs: 60_000 } });
        const p = new AggregatePublisher({ db: through, kafka: { ...cfg.kafka, aggregatesTopic: topic }, settings: cfg.fleet.aggregates, log: quiet, clock });
        stoppers.push(() => p.stop());
        return p;
      }

      async function catchUp(p: AggregatePublisher): Promise<PublishRun[]> {
        const runs: PublishRun[] = [];
        do runs.push(await p.runOnce());
        while (runs[runs.length - 1]!.behind);
        return runs;
      }

      async function ingest(readings: Reading[]): Promise<IngestBatch> {
        const batch = { gatewayId: `gw-agg-${t.id}`, seq: ++gatewaySeq, createdMs: T0, readings };
        assert.equal((await store.ingest([batch])).batchesInserted, 1);
        return batch;
      }

      /** What readings_1m should say, computed straight from `readings`. */
      async function expected(prefix: string): Promise<Map<string, AggregateValue>> {
        const r = await db.query<{ device_id: string; metric: string; bucket: Date; avg: number; min: number; max: number; count: number | string; last: number }>(
          `SELECT device_id, metric, date_bin(INTERVAL '1 minute', ts, timestamptz 'epoch') AS bucket,
                  avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS count,
                  (array_agg(value ORDER BY ts DESC))[1] AS last
             FROM readings WHERE device_id LIKE $1 GROUP BY 1, 2, 3`,
          [`${prefix}%`],
        );
        return new Map(
          r.rows.map((x) => [
            `${x.device_id}|${x.metric}|${x.bucket.toISOString()}`,
            { device_id: x.device_id, metric: x.metric, bucket: x.bucket.toISOString(), avg: x.avg, min: x.min, max: x.max, count: Number(x.count), last: x.last },
          ]),
        );
      }

      /** The topic's messages per (device, metric, bucket), in publishing order. */
      async function published(topic = t.aggregates): Promise<Map<string, AggregateValue[]>> {
        const out = new Map<string, AggregateValue[]>();
        for (const m of await readTopic(kafka.bootstrap, topic)) {
          const v = JSON.parse(m.value.toString('utf8')) as AggregateValue;
          assert.deepEqual(Object.keys(v), ['device_id', 'metric', 'bucket', 'avg', 'min', 'max', 'count', 'last']);
          assert.equal(m.key, v.device_id, 'keyed by device');
          const k = `${v.device_id}|${v.metric}|${v.bucket}`;
          out.set(k, [...(out.get(k) ?? []), v]);
        }
        return out;
      }

      function assertSameValues(got: AggregateValue | undefined, want: AggregateValue, key: string): void {
        assert.ok(got, `${key} published`);
        const { avg, ...exact } = want;
        const { avg: gotAvg, ...gotExact } = got;
        assert.deepEqual(gotExact, exact, key);
        assert.ok(Math.abs(gotAvg - avg) <= 1e-9 * Math.max(1, Math.abs(avg)), `${key}: avg ${gotAvg} vs ${avg}`);
      }

      async function watermark(): Promise<number> {
        return (await db.query<{ p: Date }>(`SELECT published_to AS p FROM aggregate_progress WHERE stream = '1m'`)).rows[0]!.p.getTime();
      }

      before(async () => {
        t = await names();
        for (let k = 0; k < 6; k++) await ingest(minuteOfReadings(devices, ['a', 'b'], T0 + k * MINUTE_MS, k));
        // Materialised, as a TimescaleDB server's refresh policy would have done by now: the late
        // readings below then land in minutes readings_1m serves from its materialisation.
        await store.refreshAggregates();
      });

      it('closed minutes past the grace period are published, each value equal to a GROUP BY over readings; open ones are not', async () => {
        clock = new TestClock(T0 + 4 * MINUTE_MS + 30_000);
        const p = publisher();
        const runs = await catchUp(p);
        assert.ok(runs.length > 1, 'the backlog took several runs of at most maxMinutesPerRun');
        assert.equal(await watermark(), T0 + 2 * MINUTE_MS, 'minutes that ended 2 min (graceMs) ago or earlier');
        const got = await published();
        const want = [...(await expected('agg-d'))].filter(([, v]) => Date.parse(v.bucket) < T0 + 2 * MINUTE_MS);
        assert.equal(want.length, 2 * 2 * 2, 'two minutes of two devices with two metrics');
        assert.deepEqual([...got.keys()].sort(), want.map(([k]) => k).sort());
        for (const [k, v] of want) {
          assert.equal(got.get(k)?.length, 1, `${k} published once`);
          assertSameValues(got.get(k)?.[0], v, k);
        }
        await p.stop();
      });

      it('a restarted publisher resumes at its watermark: no minute skipped, none published twice', async () => {
        clock.t = T0 + 8 * MINUTE_MS;
        const p = publisher();
        await catchUp(p);
        assert.equal(await watermark(), T0 + 6 * MINUTE_MS);
        const got = await published();
        const want = await expected('agg-d');
        assert.equal(want.size, 6 * 2 * 2);
        assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
        for (const [k, v] of want) {
          assert.equal(got.get(k)?.length, 1, `${k} published once`);
          assertSameValues(got.get(k)?.[0], v, k);
        }
        await p.stop();
      });

      it('a late batch into published minutes produces corrected messages, also when the noting publisher stopped before the next run', async () => {
        const key = `agg-d1|a|${new Date(T0 + MINUTE_MS).toISOString()}`;
        const before = (await expected('agg-d')).get(key)!;
        const late = await ingest([
          { deviceId: 'agg-d1', tsMs: T0 + MINUTE_MS + 59_500, metrics: { a: 1000 } },
          // A metric the minute never had: its first message is a correction too.
          { deviceId: 'agg-d2', tsMs: T0 + 30_500, metrics: { c: -1 } },
          // A reading into a minute not yet due is not a correction; the regular run will take it.
          { deviceId: 'agg-d2', tsMs: clock.now() - 5_000, metrics: { a: 7 } },
        ]);
        if (backend.continuousAggregates) {
          const stale = await db.query<{ count: number | string }>(
            `SELECT count FROM readings_1m WHERE device_id = 'agg-d1' AND metric = 'a' AND bucket = $1`, [new Date(T0 + MINUTE_MS)],
          );
          assert.equal(Number(stale.rows[0]?.count), before.count, 'readings_1m still serves the materialised minute, without the late reading');
        }
        const noter = publisher();
        noter.noteBatches([late]);
        await noter.flushLate();
        await noter.stop();
        const notes = await db.query<{ device_id: string; metric: string; bucket: Date }>('SELECT device_id, metric, bucket FROM aggregate_late ORDER BY 1, 2');
        assert.deepEqual(
          notes.rows.map((n) => [n.device_id, n.metric, n.bucket.getTime()]),
          [['agg-d1', 'a', T0 + MINUTE_MS], ['agg-d2', 'c', T0]],
        );

        const p = publisher();
        const run = await p.runOnce();
        assert.deepEqual([run.messages, run.corrections], [2, 2]);
        assert.equal((await db.query('SELECT 1 FROM aggregate_late')).rows.length, 0, 'published corrections are no longer noted');
        const got = await published();
        const want = await expected('agg-d');
        const corrected = got.get(key)!;
        assert.equal(corrected.length, 2, 'the minute went out again');
        assert.deepEqual([corrected[1]!.count, corrected[1]!.max, corrected[1]!.last], [before.count + 1, 1000, 1000]);
        // Downstream keeps the last message per (device, metric, bucket): that is now every minute's true value.
        for (const [k, v] of want) {
          if (Date.parse(v.bucket) >= T0 + 6 * MINUTE_MS) continue;
          assertSameValues(got.get(k)?.at(-1), v, k);
        }
        await p.stop();
      });

      it('a run whose messages Kafka refuses leaves the watermark and the noted corrections where they were', async () => {
        const tiny = `agg-tiny-${t.id}`;
        // Every aggregate message is larger than this topic takes: each delivery report is an error.
        await kafka.createTopics([{ name: tiny, partitions: 1, config: { 'max.message.bytes': '64' } }]);
        await ingest([{ deviceId: 'agg-d1', tsMs: T0 + 10_000, metrics: { late: 1 } }]);
        const p = publisher(tiny);
        p.noteLate('agg-d1', 'late', T0);
        await p.flushLate();
        clock.t = T0 + 9 * MINUTE_MS;
        const mark = await watermark();
        await assert.rejects(p.runOnce(), (err: unknown) => (err as { code?: string }).code === 'FL_ERR_FLEET_PUBLISH');
        assert.equal(await watermark(), mark);
        assert.equal((await db.query(`SELECT 1 FROM aggregate_late WHERE metric = 'late'`)).rows.length, 1);
        await p.stop();

        const good = publisher();
        const run = await good.runOnce();
        assert.equal(run.toMs, T0 + 7 * MINUTE_MS);
        assert.equal(run.corrections, 1);
        assert.equal((await published()).get(`agg-d1|late|${new Date(T0).toISOString()}`)?.length, 1);
        await good.stop();
      });

      it('while another process holds the publisher lock a run publishes nothing and leaves the watermark', async (ctx) => {
        if (db.kind !== 'postgres') {
          // One connection: a transaction holding the lock would hold up the run's own queries.
          ctx.skip('the embedded database has a single connection');
          return;
        }
        await ingest([{ deviceId: 'agg-d1', tsMs: T0 + 7 * MINUTE_MS + 1_000, metrics: { a: 3 } }]);
        clock.t = T0 + 10 * MINUTE_MS;
        const p = publisher();
        const mark = await watermark();
        const held = await db.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock($1)', [PUBLISH_LOCK_KEY]);
          return p.runOnce();
        });
        assert.deepEqual([held.ran, held.messages], [false, 0]);
        assert.equal(await watermark(), mark);
        const free = await p.runOnce();
        assert.equal(free.ran, true);
        assert.equal(free.toMs, T0 + 8 * MINUTE_MS);
        assert.equal((await published()).get(`agg-d1|a|${new Date(T0 + 7 * MINUTE_MS).toISOString()}`)?.length, 1);
        await p.stop();
      });

      it('a reading stored and noted while a run publishes its minute is in the correction the next run sends', async (ctx) => {
        if (db.kind !== 'postgres') {
          ctx.skip('the embedded database has a single connection: nothing can commit while a run holds it');
          return;
        }
        const key = `agg-d1|race|${new Date(T0).toISOString()}`;
        await ingest([{ deviceId: 'agg-d1', tsMs: T0 + 20_000, metrics: { race: 1 } }]);
        const other = publisher();
        // Between the run's reads and its clean-up of the notes it read, another sink stores a
        // reading into the same minute and notes it, as a store consumer does.
        const p = publisher(t.aggregates, interceptFirst(db, /FOR UPDATE/, async () => {
          other.noteBatches([await ingest([{ deviceId: 'agg-d1', tsMs: T0 + 40_000, metrics: { race: 2 } }])]);
          await other.flushLate();
        }));
        p.noteLate('agg-d1', 'race', T0);
        await p.flushLate();
        const first = await p.runOnce();
        assert.equal(first.corrections, 1);
        assert.equal((await published()).get(key)?.at(-1)?.count, 1, 'the run read the minute before the second reading');
        const second = await p.runOnce();
        assert.equal(second.corrections, 1, 'the note made during the first run outlived it');
        const got = (await published()).get(key)!;
        assert.equal(got.length, 2);
        assertSameValues(got[1], (await expected('agg-d1')).get(key)!, key);
        await Promise.all([p.stop(), other.stop()]);
      });
    });
  });
}

/** `db`, with `before` run ahead of the first statement of a transaction that matches `pattern`. */
function interceptFirst(db: Db, pattern: RegExp, before: () => Promise<void>): Db {
  let done = false;
  return {
    kind: db.kind,
    query: <T extends object = Row>(sql: string, params?: readonly unknown[]) => db.query<T>(sql, params),
    close: () => Promise.resolve(),
    transaction: <T>(fn: (tx: DbTx) => Promise<T>) =>
      db.transaction((tx) =>
        fn({
          query: async <R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
            if (!done && pattern.test(sql)) {
              done = true;
              await before();
            }
            return tx.query<R>(sql, params);
          },
        }),
      ),
  };
}
