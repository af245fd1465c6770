// Issue 10, acceptance 2, run against a lake folder (kill.test.ts) and an S3 bucket (s3.test.ts):
// two `fieldline-cloud sink` processes (into a real PostgreSQL 15) and two `fieldline-cloud lake`
// processes share a 6-partition topic while a 200,000-reading stream goes in. The lake writers are
// killed with SIGKILL in turn while files are being written (the first one by its own failpoint,
// between the renames of a range and its commit), one sink is killed mid-stream, and each is
// started again. Then every reading is checked in the database and in every file (DuckDB, pyarrow).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';
import { SinkProcess, TestDb } from '../fault/sink-support.js';
import { checkRanges, diffRows, duckRows, LakeProcess, lakeFiles, makeBatch, pyarrowRows, rowsOf, TestProducer, waitCommitted } from './support.js';

export interface KillScenario {
  kafka: KafkaBroker;
  /** Scratch folder for configs, data folders and logs. */
  dir: string;
  topic: string;
  /** Lake settings both processes share beyond the scenario's (a folder, or destination s3 and its settings). */
  lake: Record<string, unknown>;
  /** Files under readings/ so far, to see the writers make progress. */
  countFiles(): Promise<number>;
  /** A local folder holding the lake's readings/ tree, once everything is committed. */
  localCopy(): Promise<string>;
  env?: Record<string, string>;
  /** The database the two sinks write to (an empty one: the sinks migrate it). */
  databaseUrl: string;
  logDir: string;
}

/** The first "kill" is the first writer's own: its failpoint SIGKILLs it between the renames of its second range and that range's commit. */
const FAILPOINT = 'crash-after-rename:2';

export interface KillResult {
  kills: number;
  readings: number;
  files: number;
  /** Ranges the restarted writers ended where a killed one's manifest said (from their logs). */
  replayed: number;
  /** Rows in the database's readings table. */
  databaseRows: number;
}

const GATEWAYS = ['gw-k1', 'gw-k2', 'gw-k3', 'gw-k4', 'gw-k5', 'gw-k6', 'gw-k7', 'gw-k8'];
const KILLS = 3;

/** The stream: 2,000 batches of 50 device messages × 2 metrics. */
const BATCHES = 2_000;

export async function killMidStream(s: KillScenario): Promise<KillResult> {
  const partitions = 6;
  await s.kafka.createTopics([{ name: s.topic, partitions }, { name: `${s.topic}.dlq`, partitions: 1 }]);
  const sinkSettings = (name: string) => ({
    name, dir: s.dir, logDir: s.logDir, databaseUrl: s.databaseUrl, brokers: s.kafka.bootstrap,
    readingsTopic: s.topic, dlqTopic: `${s.topic}.dlq`, storeGroup: `${s.topic}-store`, maxBatchMessages: 100,
  });
  const sinks = [new SinkProcess(sinkSettings(`${s.topic}-sink-a`)), new SinkProcess(sinkSettings(`${s.topic}-sink-b`))];
  let sinkKilled = false;
  const settings = (name: string) => ({
    brokers: s.kafka.bootstrap, topic: s.topic, group: s.topic, dataDir: join(s.dir, `${name}-data`),
    lake: { rollIntervalMs: 1_000, maxRowsPerFile: 2_000, ...s.lake },
  });
  const writers = [new LakeProcess(`${s.topic}-a`, s.dir, s.dir, settings(`${s.topic}-a`), s.env), new LakeProcess(`${s.topic}-b`, s.dir, s.dir, settings(`${s.topic}-b`), s.env)];
  const producer = await TestProducer.connect(s.kafka.bootstrap, s.topic);
  const expected: string[] = [];
  const T0 = Date.UTC(2025, 3, 7, 23, 0, 0);
  let batches = 0;
  let kills = 0;
  try {
    await Promise.all(sinks.map((x) => x.start()));
    await writers[0]!.start({ FIELDLINE_LAKE_FAILPOINT: FAILPOINT });
    await writers[1]!.start();
    // A steady stream, about 2,000 readings a second, until the kills are over and at least
    // 50,000 readings went in (at most 200,000).
    const streaming = (async () => {
      let seq = 0;
      while (batches < BATCHES) {
        seq++;
        for (const gw of GATEWAYS) {
          const gateway = GATEWAYS[(seq + GATEWAYS.indexOf(gw)) % GATEWAYS.length]!;
          const b = makeBatch(gateway, seq, T0 + seq * 10_000, 50, 2);
          producer.send(b);
          expected.push(...rowsOf(b));
          batches++;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    for (let k = 0; k < KILLS; k++) {
      const victim = writers[k % 2]!;
      if (k === 0) {
        const proc = victim.proc!;
        await waitUntil(async () => !proc.running(), { what: `${victim.name} killed by its failpoint ${FAILPOINT}`, timeoutMs: 120_000, intervalMs: 100 });
        assert.equal((await proc.exited).signal, 'SIGKILL', proc.logTail());
      } else {
        const before = await s.countFiles();
        // Mid-stream: files are being rolled when the kill comes.
        await waitUntil(async () => (await s.countFiles()) >= before + 3, { what: `lake progress before kill ${k + 1}`, timeoutMs: 120_000, intervalMs: 100 });
      }
      await victim.kill();
      kills++;
      if (k === 1) {
        // One sink too, mid-stream: its partitions go to the other until it is back.
        await sinks[0]!.kill();
        sinkKilled = true;
      }
      await victim.start();
      if (k === 1) await sinks[0]!.start();
    }
    await streaming;
    await producer.settle();
    assert.equal(expected.length, BATCHES * 100, 'the stream was 200,000 readings');
    assert.ok(sinkKilled, 'a sink was killed mid-stream');

    const ends = await waitCommitted(s.kafka.bootstrap, s.topic, s.topic, partitions);
    for (const w of writers) await w.stop();

    await waitCommitted(s.kafka.bootstrap, `${s.topic}-store`, s.topic, partitions);
    for (const x of sinks) await x.proc?.stop('SIGTERM');
    const db = TestDb.open(s.databaseUrl);
    let databaseRows = 0;
    try {
      // The database has no batch seq column: compare everything else, as a multiset.
      const stored = await db.query<{ us: string; gateway_id: string; device_id: string; metric: string; value: number }>(
        `SELECT (extract(epoch FROM ts) * 1000000)::int8::text AS us, gateway_id, device_id, metric, value FROM readings`,
      );
      databaseRows = stored.length;
      const withoutSeq = (key: string) => key.slice(0, key.lastIndexOf('|'));
      assert.deepEqual(
        diffRows(stored.map((r) => `${r.us}|${r.gateway_id}|${r.device_id}|${r.metric}|${r.value}`), expected.map(withoutSeq)),
        { missing: [], extra: [] },
        `every reading exactly once in the database (${expected.length} readings)`,
      );
    } finally {
      await db.close();
    }

    const lakeDir = await s.localCopy();
    const files = lakeFiles(lakeDir);
    assert.deepEqual(checkRanges(files, ends), [], 'no two files\' offset ranges overlap, and together they cover every offset');
    const rows = await duckRows(lakeDir, files);
    assert.deepEqual(diffRows(rows.map((r) => r.key), expected), { missing: [], extra: [] }, `every reading exactly once, read by DuckDB (${expected.length} readings)`);
    const arrow = await pyarrowRows(lakeDir, files);
    assert.deepEqual(diffRows(arrow.map((r) => r.key), expected), { missing: [], extra: [] }, 'every reading exactly once, read by pyarrow');
    const replayed = writers.reduce((n, w) => n + w.countInLog('replaying a range from its manifest'), 0);
    // The range the failpoint left in place uncommitted was finished by whoever took its partition next.
    assert.ok(replayed >= 1, 'a range was replayed from its manifest');
    return { kills, readings: expected.length, files: files.length, replayed, databaseRows };
  } finally {
    for (const w of writers) await w.kill().catch(() => undefined);
    for (const x of sinks) await x.kill().catch(() => undefined);
    await producer.close();
  }
}

