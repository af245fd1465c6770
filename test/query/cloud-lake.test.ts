// `fieldline-cloud api` as configured, not as a test wires it: with timescale retention set, a range
// older than the database keeps is answered from the lake folder the config names, opened by the
// first query that needs it and closed with the process; recent ranges stay in the database.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { LocalDestination } from '../../cloud-sink/src/lake/local.js';
import { ParquetWriter } from '../../cloud-sink/src/lake/parquet.js';
import { openEmbedded } from '../../cloud-sink/src/store/db.js';
import { Store } from '../../cloud-sink/src/store/store.js';
import { freePort } from '../../devstack/net.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('the api role reads the lake for old ranges', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-cloud-lake-'));
  const now = Date.now();
  const old = Math.floor((now - 3 * DAY) / HOUR) * HOUR; // an hour 3 days ago, in the lake only
  let cloud: Cloud;

  before(async () => {
    // Recent readings in the database, old ones in the lake: as after retention dropped them.
    const store = new Store(await openEmbedded(join(dir, 'data', 'pgdata')));
    await store.migrate();
    await store.ingest([{ gatewayId: 'gw-l', seq: 2, createdMs: now, readings: [{ deviceId: 'dev-l', tsMs: now - HOUR, metrics: { t: 10 } }] }]);
    await store.close();
    const lake = new LocalDestination(join(dir, 'lake'));
    await lake.open();
    const writer = await ParquetWriter.open({ threads: 1, memoryLimit: '256MB', tempDirectory: join(dir, 'tmp'), rowGroupSize: 2_048, compressionLevel: 3 });
    try {
      const rows = [1, 2, 3, 6].map((v, i) => ({ tsMs: old + i * 60_000, deviceId: 'dev-l', metric: 't', value: v }));
      const written = await writer.writeRange({ partition: 0, start: 0, end: 0 }, [
        { offset: 0, gatewayId: 'gw-l', seq: 1, rows, rejected: 0, skipped: null, bytes: 0, arrivedMs: 0 },
      ], lake.stagingRoot);
      for (const f of written.files) await lake.put(f.key, f.path);
    } finally {
      writer.close();
    }
    const cfg = cloudConfigSchema.parse({
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      // Nothing listens there: the api role's rule publisher only retries in the background.
      kafka: { brokers: `127.0.0.1:${await freePort()}` },
      api: { host: '127.0.0.1', port: 0 },
      lake: { dir: join(dir, 'lake') },
      timescale: { readingsRetention: '1 day', rollupRetention: { readings_1m: '2 days', readings_1h: '3 days' } },
    });
    cloud = new Cloud(cfg, 'api', pino({ level: 'silent' }));
    await cloud.start();
  });

  after(async () => {
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers an hour 3 days ago from the lake ("lake"), the last day from the database ("hot"), and both at once ("mixed")', async () => {
    const token = await cloud.auth.issue({ subject: 'bench', role: 'viewer', ttlSeconds: 600 });
    const ask = async (query: string) => {
      const res = await fetch(`http://127.0.0.1:${cloud.apiPort}/v1/devices/dev-l/aggregates?metric=t&${query}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()) as { source: string; bucket: string; points: { ts: string; avg: number; count: number; last: number; p50?: number }[] };
    };
    const cold = await ask(`bucket=1h&from=${old}&to=${old + 10 * 60_000}&percentiles=50`);
    assert.equal(cold.source, 'lake');
    assert.deepEqual(cold.points, [{ ts: new Date(old).toISOString(), avg: 3, min: 1, max: 6, count: 4, last: 6, p50: 2.5 }]);

    const hot = await ask(`from=${now - 2 * HOUR}`);
    assert.equal(hot.source, 'hot');
    assert.deepEqual(hot.points.map((p) => [p.count, p.last]), [[1, 10]]);

    const both = await ask(`bucket=1d&from=${old}`);
    assert.equal(both.source, 'hot', 'readings_1d is kept for ever: the database answers the whole range');
    const mixed = await ask(`bucket=1h&from=${old}`);
    assert.equal(mixed.source, 'mixed');
    assert.deepEqual(mixed.points.map((p) => p.count), [4, 1]);
  });
});
