// The lake on object storage (issue 10, "the lake on object storage"), against a real S3 server
// (SeaweedFS, devstack/seaweedfs.ts) and a real Kafka broker: whether the server honours
// If-None-Match on PutObject (which the range manifests rely on), and the kill -9 scenario of
// kill.test.ts with both lake processes writing to one bucket. The bucket is read back through
// the AWS SDK into a scratch folder, and through LakeReader's mirror.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { removeOnExit } from '../../devstack/net.js';
import { startS3, type S3Server } from '../../devstack/seaweedfs.js';
import { LakeReader } from '../../cloud-sink/src/lake/reader.js';
import { S3Destination } from '../../cloud-sink/src/lake/s3.js';
import { killMidStream } from './kill-support.js';
import { lakeFiles } from './support.js';

const BUCKET = 'fieldline-lake';
let kafka: KafkaBroker;
let pg: PgServer;
let s3: S3Server;
let client: S3Client;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-lake-s3-'));
  removeOnExit(dir);
  s3 = await startS3({ buckets: [BUCKET], logDir: dir });
  kafka = await startKafka({ logDir: dir });
  pg = await startPostgres({ logDir: dir });
  client = new S3Client(s3.clientConfig);
});

after(async () => {
  client?.destroy();
  await kafka?.destroy();
  await pg?.destroy();
  await s3?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function destination(prefix: string): S3Destination {
  return new S3Destination({
    endpoint: s3.endpoint, region: s3.region, bucket: BUCKET, prefix, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true, partSizeBytes: 5 * 1024 * 1024, conditionalPut: 'auto', stagingRoot: join(dir, `staging-${prefix.replace(/\W/g, '')}`),
    log: pino({ level: 'silent' }),
  });
}

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    out.push(...(r.Contents ?? []).map((o) => o.Key!));
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out;
}

it('SeaweedFS refuses a second PutObject with If-None-Match: *, so a range manifest is created once: of ten racing writers one wins', async () => {
  const dest = destination('probe/');
  await dest.open();
  try {
    assert.equal(dest.exclusiveCreate, true, 'the server honours If-None-Match: * (the open() probe)');
    const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => dest.putIfAbsent('_manifests/readings/p000/o7.json', Buffer.from(`writer ${i}`))));
    assert.equal(wins.filter(Boolean).length, 1, `exactly one writer created the manifest: ${JSON.stringify(wins)}`);
    assert.equal((await dest.get('_manifests/readings/p000/o7.json'))?.toString(), `writer ${wins.indexOf(true)}`);
    assert.equal(await dest.putIfAbsent('_manifests/readings/p000/o7.json', Buffer.from('late')), false);
    // Files go up whole: a 12 MB file in 5 MiB parts.
    mkdirSync(dest.stagingRoot, { recursive: true });
    const big = join(dest.stagingRoot, 'big.tmp');
    writeFileSync(big, Buffer.alloc(12 * 1024 * 1024, 7));
    await dest.put('readings/date=2025-01-01/hour=00/part-p000-o00000000000000000000-00000000000000000009.parquet', big);
    const listed = await dest.list('readings/');
    assert.deepEqual(listed.map((o) => [o.key, o.size]), [['readings/date=2025-01-01/hour=00/part-p000-o00000000000000000000-00000000000000000009.parquet', 12 * 1024 * 1024]]);
  } finally {
    await dest.close();
  }
});

it('the same with the lake in an S3 bucket: two sinks and two lakes on a 6-partition topic, a sink and the lakes killed with SIGKILL mid-stream and restarted: 200,000 readings each once in PostgreSQL and in exactly one object (DuckDB and pyarrow)', { timeout: 480_000 }, async () => {
  const prefix = 'kill/';
  const lake = {
    destination: 's3',
    s3: { endpoint: s3.endpoint, region: s3.region, bucket: BUCKET, prefix, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, conditionalPut: 'required' },
  };
  const copy = join(dir, 'copy');
  const result = await killMidStream({
    kafka, dir, logDir: dir, databaseUrl: await pg.createDatabase('lake_s3_kill'), topic: 'lake-s3-kill', lake,
    countFiles: async () => (await keys(`${prefix}readings/`)).length,
    async localCopy() {
      for (const key of await keys(`${prefix}readings/`)) {
        const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const path = join(copy, key.slice(prefix.length));
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, await r.Body!.transformToByteArray());
      }
      return copy;
    },
  });
  assert.equal(result.kills, 3);
  assert.equal(result.readings, 200_000, 'the stream was 200,000 readings');
  assert.equal(result.databaseRows, 200_000, 'the database holds 200,000 rows');
  assert.deepEqual((await keys(prefix)).filter((k) => !k.startsWith(`${prefix}readings/`) && !k.startsWith(`${prefix}_manifests/readings/`)), [], 'nothing but files and manifests in the bucket');
  console.log(`kill -9 x${result.kills} on S3: ${result.readings} readings in ${result.files} objects, ${result.replayed} ranges replayed from manifests`);

  // LakeReader mirrors the bucket (only what changed) and reads the same readings.
  const reader = await LakeReader.open({ destination: destination(prefix), cacheDir: join(dir, 'reader-cache') });
  try {
    assert.deepEqual(await reader.sync(), { downloaded: lakeFiles(copy).length, removed: 0 });
    assert.equal(await reader.readingsCount(), result.readings);
    assert.deepEqual(await reader.sync(), { downloaded: 0, removed: 0 }, 'a second sync fetches nothing');
  } finally {
    await reader.close();
  }
});
