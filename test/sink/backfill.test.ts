// Issue 10, "Backfill", end to end through Kafka: a gateway's backlog drained two hours late shows
// in readings_1m and readings_1h for its own time on the embedded TimescaleDB without waiting for
// the periodic refresh. The late rows land below the continuous aggregates' materialised range,
// where the real-time part does not look; the store consumer refreshes the range they touched
// after it stores them (cloud.ts afterStore → Store.refreshRange). The periodic refresh is set to
// an hour here, so only that path can make them appear.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';
import { encodeBatch, SCHEMA_VERSION, type ReadingBatch } from '../../proto/src/wire.js';

const TOPIC = 'backfill.readings';
const MINUTE = 60_000;
const HOUR = 3_600_000;

let dir: string;
let kafka: KafkaBroker;
let cloud: Cloud;
let producer: Kafka.Producer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-backfill-'));
  kafka = await startKafka({ logDir: dir });
  await kafka.createTopics([{ name: TOPIC, partitions: 1 }]);
  cloud = new Cloud(
    cloudConfigSchema.parse({
      dataDir: join(dir, 'cloud'),
      kafka: { brokers: kafka.bootstrap, readingsTopic: TOPIC, storeGroup: 'backfill-store', dlqTopic: 'backfill.dlq' },
      aggregates: { embeddedRefreshMs: HOUR },
      fleet: { heartbeats: { enabled: false }, quarantine: { enabled: false }, aggregates: { enabled: false } },
    }),
    'sink',
    pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' }),
  );
  await cloud.start();
  producer = new Kafka.Producer({ 'metadata.broker.list': kafka.bootstrap, 'client.id': 'backfill-test', dr_cb: false });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
});

after(async () => {
  if (producer) await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  await cloud?.stop();
  await kafka?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function send(batch: ReadingBatch): void {
  const msg = encodeBatch(batch);
  producer.produce(TOPIC, null, msg.value, msg.key, Date.now(), undefined, Object.entries(msg.headers).map(([k, v]) => ({ [k]: v })));
  producer.flush(10_000, () => {});
}

/** One reading a second for `minutes` minutes from `startMs`, values from `base`. */
function batch(seq: number, startMs: number, minutes: number, base: number): ReadingBatch {
  const readings = [];
  for (let i = 0; i < minutes * 60; i++) readings.push({ deviceId: 'dev-late', tsMs: startMs + i * 1000, metrics: { t: base + (i % 17) } });
  return { gatewayId: 'gw-late', seq, createdMs: Date.now(), readings, schemaVersion: SCHEMA_VERSION };
}

interface Bucket {
  bucket: string;
  count: number;
  avg: number;
  min: number;
  max: number;
}

async function rollup(view: string, fromMs: number, toMs: number): Promise<Bucket[]> {
  const r = await cloud.db!.query<Bucket>(
    `SELECT bucket::text, count::int, avg, min, max FROM ${view}
      WHERE device_id = 'dev-late' AND bucket >= $1 AND bucket < $2 ORDER BY bucket`,
    [new Date(fromMs), new Date(toMs)],
  );
  return r.rows;
}

async function fromReadings(width: string, fromMs: number, toMs: number): Promise<Bucket[]> {
  const r = await cloud.db!.query<Bucket>(
    `SELECT time_bucket(INTERVAL '${width}', ts)::text AS bucket, count(*)::int AS count, avg(value) AS avg, min(value) AS min, max(value) AS max
       FROM readings WHERE device_id = 'dev-late' AND ts >= $1 AND ts < $2 GROUP BY 1 ORDER BY 1`,
    [new Date(fromMs), new Date(toMs)],
  );
  return r.rows;
}

function close(a: Bucket[], b: Bucket[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i]!;
      return x.bucket === y.bucket && x.count === y.count && x.min === y.min && x.max === y.max && Math.abs(x.avg - y.avg) <= 1e-9 * Math.max(1, Math.abs(y.avg));
    })
  );
}

it('readings drained two hours late reach readings_1m and readings_1h for their own time without the periodic refresh (embedded TimescaleDB)', { timeout: 180_000 }, async () => {
  const nowHour = Math.floor(Date.now() / HOUR) * HOUR;
  // Live data first, in the previous hour, then everything up to a minute ago materialised.
  const liveStart = nowHour - HOUR + 10 * MINUTE;
  send(batch(1, liveStart, 5, 100));
  await waitUntil(async () => (await cloud.store!.countReadings({ deviceId: 'dev-late' })) === 300, { what: 'the live batch stored', timeoutMs: 60_000 });
  await cloud.store!.refreshAggregates();

  // The backlog: five minutes from two hours before the live data.
  const lateStart = liveStart - 2 * HOUR;
  const lateEnd = lateStart + 5 * MINUTE;
  assert.deepEqual(await rollup('readings_1m', lateStart, lateEnd), [], 'nothing there before the backlog');
  send(batch(2, lateStart, 5, 500));
  await waitUntil(async () => (await cloud.store!.countReadings({ deviceId: 'dev-late' })) === 600, { what: 'the late batch stored', timeoutMs: 60_000 });

  const expectedMinutes = await fromReadings('1 minute', lateStart, lateEnd);
  assert.equal(expectedMinutes.length, 5);
  await waitUntil(async () => close(await rollup('readings_1m', lateStart, lateEnd), expectedMinutes), {
    what: 'readings_1m to show the late minutes',
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  const hourStart = Math.floor(lateStart / HOUR) * HOUR;
  const expectedHour = await fromReadings('1 hour', hourStart, hourStart + HOUR);
  assert.equal(expectedHour[0]?.count, 300);
  await waitUntil(async () => close(await rollup('readings_1h', hourStart, hourStart + HOUR), expectedHour), {
    what: 'readings_1h to show the late hour',
    timeoutMs: 60_000,
    intervalMs: 200,
  });
});
