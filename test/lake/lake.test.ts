// The Parquet lake against a real Kafka broker (issue 10, "Parquet lake"): the layout and the rows,
// read back by DuckDB and pyarrow and compared with what the database stores from the same
// messages; the age roll of a quiet partition; and a crash between the renames and the offset
// commit, replayed with a different roll size.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeBatch, type ReadingBatch } from '../../proto/src/wire.js';
import { admitBatch, sanityLimits } from '../../cloud-sink/src/consume/sanity.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { removeOnExit, waitUntil } from '../../devstack/net.js';
import { openEmbedded } from '../../cloud-sink/src/store/db.js';
import { Store, type IngestBatch } from '../../cloud-sink/src/store/store.js';
import { LakeReader } from '../../cloud-sink/src/lake/reader.js';
import { parseFileKey } from '../../cloud-sink/src/lake/layout.js';
import type { LakeWorker } from '../../cloud-sink/src/lake/worker.js';
import { CommittedOffsets } from '../fault/sink-support.js';
import {
  checkRanges, diffRows, duckRows, HOUR, inProcessLake, lakeFiles, LakeProcess, makeBatch, pyarrowRows, rowKey, rowsOf, sorted, TestProducer, waitCommitted,
} from './support.js';

let kafka: KafkaBroker;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-lake-'));
  removeOnExit(dir);
  kafka = await startKafka({ logDir: dir });
});

after(async () => {
  await kafka?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until the group has committed every partition's end: the lake has all of it. */
function drained(group: string, topic: string, partitions: number, worker?: LakeWorker): Promise<Map<number, number>> {
  return waitCommitted(kafka.bootstrap, group, topic, partitions, {
    timeoutMs: 120_000,
    ...(worker ? { detail: () => ` (lake: ${JSON.stringify(worker.stats)})` } : {}),
  });
}

describe('the Parquet lake', () => {
  it('writes readings spanning six hours into date/hour folders, named by partition and offset range, with exactly the rows the database stores, readable by DuckDB and pyarrow', async () => {
    const topic = 'lake-hours';
    await kafka.createTopics([{ name: topic, partitions: 4 }]);
    const producer = await TestProducer.connect(kafka.bootstrap, topic);
    const T0 = Date.UTC(2025, 0, 1, 21, 0, 0); // 21:00 on 1 January to 02:59 on the 2nd
    const sent = new Map<string, ReadingBatch>();
    const expected: string[] = [];
    const gateways = ['gw-a', 'gw-b', 'gw-c', 'gw-d', 'gw-e', 'gw-f'];
    for (let k = 1; k <= 24; k++) {
      for (const gw of gateways) {
        const b = makeBatch(gw, k, T0 + (k - 1) * 15 * 60_000, 40, 3);
        sent.set(producer.send(b), b);
        expected.push(...rowsOf(b));
        // A resend of a batch (its delivery report was lost): on Kafka twice, stored once.
        if (gw === 'gw-d' && k === 5) sent.set(producer.send(b, 'gw-d/5#resent'), b);
      }
    }
    // What the store consumer dead-letters whole has no rows in the lake either: bytes that are no
    // LZ4 frame, a batch with no seq, a batch with one value no row can hold, a batch stamped two
    // days ahead of the clock.
    const refused: Buffer[] = [Buffer.from('not an LZ4 frame')];
    producer.raw(refused[0]!, 'gw-a', 'garbage');
    const noSeq = makeBatch('gw-b', 0, T0);
    producer.send(noSeq, 'gw-b/0');
    const bad: ReadingBatch = {
      gatewayId: 'gw-c', seq: 100, createdMs: T0, schemaVersion: 1,
      readings: [{ deviceId: 'gw-c-odd', tsMs: T0 + 5, metrics: { ok: 1.5, nan: Number.NaN } }],
    };
    producer.send(bad);
    const ahead = makeBatch('gw-e', 101, Date.now() + 2 * 24 * HOUR, 2, 1);
    producer.send(ahead);
    refused.push(...[noSeq, bad, ahead].map((b) => encodeBatch(b).value));
    await producer.settle();
    await producer.close();

    const lakeDir = join(dir, 'lake-hours');
    const worker = inProcessLake({
      brokers: kafka.bootstrap, topic, group: 'lake-hours', dataDir: join(dir, 'hours-data'),
      lake: { dir: lakeDir, rollIntervalMs: 1_000, maxRowsPerFile: 2_500, rowGroupSize: 2_048 },
    });
    await worker.start();
    let ends: Map<number, number>;
    try {
      ends = await drained('lake-hours', topic, 4, worker);
    } finally {
      await worker.stop();
    }
    const stats = worker.stats;
    assert.equal(stats.messagesSkipped, 4, 'what the store consumer dead-letters is skipped and counted');
    assert.deepEqual(stats.skippedByCode, { FL_ERR_WIRE_LZ4: 1, FL_ERR_WIRE_BATCH_ID: 1, FL_ERR_SINK_VALUE: 1, FL_ERR_SINK_TIME_AHEAD: 1 });
    assert.equal(stats.rowsRejected, 0);

    const files = lakeFiles(lakeDir);
    assert.ok(files.length >= 4 * 6, `a file per partition and hour at least (${files.length})`);
    assert.deepEqual(checkRanges(files, ends), [], 'per partition, the files\' ranges are disjoint and cover every offset');
    const folders = new Set(files.map((f) => f.split('/').slice(1, 3).join('/')));
    assert.deepEqual([...folders].sort(), [
      'date=2025-01-01/hour=21', 'date=2025-01-01/hour=22', 'date=2025-01-01/hour=23',
      'date=2025-01-02/hour=00', 'date=2025-01-02/hour=01', 'date=2025-01-02/hour=02',
    ]);
    const gatewayPartition = new Map<string, number>();
    for (const [id, where] of producer.landed) gatewayPartition.set(id.split('/')[0]!, where.partition);

    const rows = await duckRows(lakeDir, files);
    // Every row is in the folder of its own UTC hour, in a file of its gateway's partition.
    for (const { file, key } of rows) {
      const [us, gw] = key.split('|') as [string, string];
      const r = parseFileKey(file)!;
      const hour = new Date(Number(BigInt(us) / 1000n)).toISOString();
      assert.equal(`${r.date}T${r.hour}`, hour.slice(0, 13), `${key} in ${file}`);
      assert.equal(r.partition, gatewayPartition.get(gw), `${key} in ${file}: its gateway's partition`);
    }
    // The resent batch is written twice only if its two copies fell into different ranges; the
    // LakeReader's `readings` view (below) keeps it once either way.
    const first = producer.landed.get('gw-d/5')!;
    const again = producer.landed.get('gw-d/5#resent')!;
    const sameRange = files.some((f) => {
      const r = parseFileKey(f)!;
      return r.partition === first.partition && r.start <= first.offset && again.offset <= r.end;
    });
    const twice = sameRange ? [] : rowsOf(sent.get('gw-d/5')!);
    assert.deepEqual(diffRows(rows.map((r) => r.key), [...expected, ...twice]), { missing: [], extra: [] }, 'DuckDB reads exactly the rows sent');
    assert.equal(rows.length, expected.length + twice.length);

    const arrow = await pyarrowRows(lakeDir, files);
    assert.deepEqual(sorted(arrow.map((r) => `${r.file}|${r.key}`)), sorted(rows.map((r) => `${r.file}|${r.key}`)), 'pyarrow reads the same rows from the same files');

    // Inside a file: sorted by device_id, metric, ts.
    const byFile = new Map<string, string[][]>();
    for (const r of rows) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r.key.split('|')]);
    for (const [file, list] of byFile) {
      for (let i = 1; i < list.length; i++) {
        const [a, b] = [list[i - 1]!, list[i]!];
        const cmp = a[2]! < b[2]! ? -1 : a[2]! > b[2]! ? 1 : a[3]! < b[3]! ? -1 : a[3]! > b[3]! ? 1 : Number(BigInt(a[0]!) - BigInt(b[0]!));
        assert.ok(cmp <= 0, `${file} is sorted by device_id, metric, ts at row ${i}`);
      }
    }

    // Column types, zstd pages, row groups of at most rowGroupSize.
    const inst = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    const conn = await inst.connect();
    try {
      const glob = `${lakeDir}/readings/**/*.parquet`;
      const types = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${glob}', hive_partitioning = false)`)).getRowObjectsJS().map((r) => `${String(r.column_name)} ${String(r.column_type)}`);
      assert.deepEqual(types, ['ts TIMESTAMP WITH TIME ZONE', 'gateway_id VARCHAR', 'device_id VARCHAR', 'metric VARCHAR', 'value DOUBLE', 'batch_seq BIGINT']);
      const meta = (await conn.runAndReadAll(
        `SELECT list(DISTINCT compression) AS codecs, max(row_group_num_rows) AS biggest, count(DISTINCT (file_name, row_group_id)) AS groups
           FROM parquet_metadata('${glob}')`,
      )).getRowObjectsJS()[0]!;
      assert.deepEqual(meta.codecs, ['ZSTD']);
      assert.ok(Number(meta.biggest) <= 2_048 && Number(meta.groups) >= files.length, `row groups of at most 2,048 rows: ${JSON.stringify(meta, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`);
    } finally {
      conn.closeSync();
      inst.closeSync();
    }

    // The database, fed the same messages as the store consumer would feed it, holds the same rows
    // as the lake's `readings` view.
    const store = new Store(await openEmbedded(undefined));
    const reader = await LakeReader.open({ dir: lakeDir });
    try {
      await store.migrate();
      // Every message, as the store consumer takes it: admitted by the sanity checks, or not at all.
      const batches: IngestBatch[] = [];
      const limits = sanityLimits(cloudConfigSchema.parse({}).sink);
      for (const value of [...[...sent.values()].map((b) => encodeBatch(b).value), ...refused]) {
        try {
          batches.push(admitBatch(value, limits, Date.now()).batch);
        } catch {
          // dead-lettered
        }
      }
      assert.equal(batches.length, sent.size);
      await store.ingest(batches);
      // `readings` has no batch_seq column: the comparison is on the five columns it has.
      const stored = await store.db.query<{ us: number; gateway_id: string; device_id: string; metric: string; value: number }>(
        `SELECT (extract(epoch FROM ts) * 1000000)::int8 AS us, gateway_id, device_id, metric, value FROM readings`,
      );
      const fromStore = stored.rows.map((r) => rowKey(r.us, r.gateway_id, r.device_id, r.metric, r.value, '-'));
      const lakeRows = await reader.query(`SELECT epoch_us(ts) AS us, gateway_id, device_id, metric, value, batch_seq FROM readings`);
      const fromLake = lakeRows.map((r) => rowKey(r.us as bigint, r.gateway_id as string, r.device_id as string, r.metric as string, r.value as number, '-'));
      assert.deepEqual(diffRows(fromLake, fromStore), { missing: [], extra: [] }, 'the lake\'s readings are the database\'s, row for row');
      const withSeq = lakeRows.map((r) => rowKey(r.us as bigint, r.gateway_id as string, r.device_id as string, r.metric as string, r.value as number, r.batch_seq as bigint));
      assert.deepEqual(diffRows(withSeq, expected), { missing: [], extra: [] }, 'and carry their batch seq');
      assert.equal(await reader.readingsCount(), expected.length);
    } finally {
      await reader.close();
      await store.close();
    }
  });
  it('rolls a quiet partition by age: a batch with nothing after it still reaches a file, and its range is committed', async () => {
    const topic = 'lake-quiet';
    await kafka.createTopics([{ name: topic, partitions: 3 }]);
    const lakeDir = join(dir, 'lake-quiet');
    // Nothing but the age can roll these buffers: a million readings or 64 MiB would be needed.
    const worker = inProcessLake({
      brokers: kafka.bootstrap, topic, group: 'lake-quiet', dataDir: join(dir, 'quiet-data'),
      lake: { dir: lakeDir, rollIntervalMs: 1_500, maxRowsPerFile: 1_000_000 },
    });
    await worker.start();
    const producer = await TestProducer.connect(kafka.bootstrap, topic);
    try {
      const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
      const first = makeBatch('gw-quiet', 1, T0, 5, 2);
      producer.send(first);
      await producer.settle();
      await waitUntil(async () => lakeFiles(lakeDir).length === 1, { what: `a file for the one batch (${JSON.stringify(worker.stats)})`, timeoutMs: 60_000 });
      const p = producer.landed.get('gw-quiet/1')!.partition;
      assert.deepEqual(lakeFiles(lakeDir), [`readings/date=2025-06-01/hour=12/part-p${String(p).padStart(3, '0')}-o${'0'.repeat(20)}-${'0'.repeat(20)}.parquet`]);
      assert.deepEqual(sorted((await duckRows(lakeDir)).map((r) => r.key)), sorted(rowsOf(first)));
      await drained('lake-quiet', topic, 3);

      // The partition stays quiet; the next batch is rolled on its own by age as well.
      const second = makeBatch('gw-quiet', 2, T0 + 60_000, 5, 2);
      producer.send(second);
      await producer.settle();
      await waitUntil(async () => lakeFiles(lakeDir).length === 2, { what: 'a file for the second batch', timeoutMs: 60_000 });
      await drained('lake-quiet', topic, 3);
      assert.equal(worker.stats.rangesCommitted, 2);
      assert.equal(worker.stats.rowsWritten, 20);
      assert.equal(worker.stats.bufferedRows, 0);
    } finally {
      await producer.close();
      await worker.stop();
    }
  });

  it('a crash after the renames and before the offset commit is replayed with a different roll size into the same file names: no reading in two files', async () => {
    const topic = 'lake-crash';
    await kafka.createTopics([{ name: topic, partitions: 2 }]);
    const producer = await TestProducer.connect(kafka.bootstrap, topic);
    const T0 = Date.UTC(2025, 2, 3, 4, 0, 0);
    const expected: string[] = [];
    for (let k = 1; k <= 30; k++) {
      for (const gw of ['gw-1', 'gw-2', 'gw-3', 'gw-4']) {
        const b = makeBatch(gw, k, T0 + k * 60_000, 50, 2);
        producer.send(b);
        expected.push(...rowsOf(b));
      }
    }
    await producer.settle();
    await producer.close();
    const lakeDir = join(dir, 'lake-crash');
    const settings = { brokers: kafka.bootstrap, topic, group: 'lake-crash', dataDir: join(dir, 'crash-a'), lake: { dir: lakeDir, rollIntervalMs: 2_000, maxRowsPerFile: 1_000 } };

    // Writer A: ranges of 1,000 readings (ten messages); killed by its failpoint once the third
    // range's files are in place, before that range's commit.
    const a = new LakeProcess('lake-crash-a', dir, dir, settings, { FIELDLINE_LAKE_FAILPOINT: 'crash-after-rename:3' });
    const proc = await a.start();
    const exit = await proc.exited;
    assert.equal(exit.signal, 'SIGKILL', a.countInLog('failpoint crash-after-rename') === 1 ? 'killed by its failpoint' : `the failpoint fired\n${proc.logTail()}`);
    await proc.stop();
    const offsets = await CommittedOffsets.connect(kafka.bootstrap, 'lake-crash', topic, 2);
    let committed: Map<number, number> | null = null;
    await waitUntil(async () => (committed = await offsets.read().catch(() => null)) !== null, { what: 'committed offsets', timeoutMs: 30_000 });
    await offsets.close();
    const before = new Map(lakeFiles(lakeDir).map((f) => [f, statSync(join(lakeDir, f)).ino]));
    const uncommitted = [...before.keys()].filter((f) => {
      const r = parseFileKey(f)!;
      return r.end >= (committed!.get(r.partition) ?? 0);
    });
    assert.ok(uncommitted.length > 0, `A left files in place past the committed offsets: ${[...before.keys()].join(', ')} / ${JSON.stringify([...committed!])}`);

    // Writer B: ranges of 2,500 readings. It starts at the committed offsets, finds the manifests
    // A wrote, ends those ranges where A did and writes their files again under the same names.
    const b = inProcessLake({ ...settings, dataDir: join(dir, 'crash-b'), lake: { ...settings.lake, maxRowsPerFile: 2_500 } });
    await b.start();
    let ends: Map<number, number>;
    try {
      ends = await drained('lake-crash', topic, 2, b);
    } finally {
      await b.stop();
    }
    const files = lakeFiles(lakeDir);
    for (const f of uncommitted) {
      assert.ok(files.includes(f), `${f} is still there`);
      assert.notEqual(statSync(join(lakeDir, f)).ino, before.get(f), `${f} was written again by the replay`);
    }
    const ranges = new Set(uncommitted.map((f) => f.split('/').pop()!.replace(/\.parquet$/, '')));
    assert.ok(b.stats.rangesReplayed >= ranges.size, `B replayed ${b.stats.rangesReplayed} ranges from manifests, A left ${ranges.size}`);
    assert.deepEqual(checkRanges(files, ends), [], 'no offset range overlaps another');
    const sizes = new Set(files.map((f) => {
      const r = parseFileKey(f)!;
      return r.end - r.start + 1;
    }));
    assert.ok(sizes.has(10) && sizes.has(25), `A's ranges of 10 messages and B's of 25 are both there: ${[...sizes].join(', ')}`);

    const rows = await duckRows(lakeDir, files);
    assert.deepEqual(diffRows(rows.map((r) => r.key), expected), { missing: [], extra: [] }, 'every reading exactly once (DuckDB)');
    const arrow = await pyarrowRows(lakeDir, files);
    assert.deepEqual(diffRows(arrow.map((r) => r.key), expected), { missing: [], extra: [] }, 'every reading exactly once (pyarrow)');
  });
});
