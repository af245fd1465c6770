/**
 * The S3 helper is a real S3 server, as the AWS SDK v3 sees it: signed requests only, buckets, a
 * multipart upload through lib-storage that stays invisible until it is completed and then reads
 * back byte for byte, data kept across stop/start on the same port, and nothing left after destroy.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { GO_TOOLCHAIN } from '../../devstack/go.js';
import { repoRoot, waitForPort } from '../../devstack/net.js';
import { SEAWEEDFS_VERSION, ensureWeed, startS3, type S3Server } from '../../devstack/seaweedfs.js';

const MiB = 1024 * 1024;

before(
  async () => {
    await ensureWeed();
  },
  // On a machine where weed is not in the cache yet this builds it from source: many minutes.
  { timeout: 45 * 60_000 },
);

async function listening(port: number): Promise<boolean> {
  return waitForPort(port, '127.0.0.1', 0).then(
    () => true,
    () => false,
  );
}

async function keys(client: S3Client, bucket: string): Promise<Array<{ key: string; size: number }>> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => ({ key: o.Key ?? '', size: o.Size ?? -1 }));
}

async function read(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  assert.ok(object.Body, `GetObject ${key} has a body`);
  return Buffer.from(await object.Body.transformToByteArray());
}

async function notFound(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } },
  );
  assert.ok(err, 'the request fails');
  assert.equal(err.$metadata?.httpStatusCode, 404, `404, not ${err.name}: ${err.message}`);
  return err.name;
}

test('SeaweedFS serves S3 with credentials: a lib-storage multipart upload is invisible until completed, then reads back byte-equal, across a restart', { timeout: 240_000 }, async (t) => {
  const startedAt = performance.now();
  const s3: S3Server = await startS3({ buckets: ['lake'] });
  t.after(() => s3.destroy());
  t.diagnostic(`weed started and answered a signed ListBuckets in ${Math.round(performance.now() - startedAt)} ms (${s3.endpoint})`);
  assert.equal(s3.endpoint, `http://127.0.0.1:${s3.port}`);

  const client = new S3Client(s3.clientConfig);
  t.after(() => client.destroy());
  const buckets = (await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name);
  assert.deepEqual(buckets, ['lake'], 'the bucket asked for at start exists');
  await s3.createBuckets(['lake', 'second']);
  assert.deepEqual((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name).sort(), ['lake', 'second'], 'createBuckets leaves existing ones alone');

  // Credentials are checked: a wrong secret, and no signature at all, are refused.
  const impostor = new S3Client({ ...s3.clientConfig, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' }, maxAttempts: 1 });
  t.after(() => impostor.destroy());
  await assert.rejects(impostor.send(new ListBucketsCommand({})), (err: Error) => /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/.test(err.name), 'a wrong secret is refused');
  const anonymous = await fetch(`${s3.endpoint}/lake?list-type=2`);
  assert.equal(anonymous.status, 403, 'an unsigned listing is refused');

  // 11 MiB and a bit, in 5 MiB parts: three parts, the last one short.
  const body = randomBytes(11 * MiB + 12_345);
  const key = 'readings/date=2026-11-29/hour=23/p0-0-999.parquet';
  const uploader = new S3Client(s3.clientConfig);
  t.after(() => uploader.destroy());
  let seenBeforeCompletion: { parts: number[]; listed: Array<{ key: string; size: number }>; head: string } | undefined;
  // Runs just before lib-storage sends CompleteMultipartUpload: every part is stored by then.
  uploader.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'CompleteMultipartUploadCommand') {
        const input = args.input as { UploadId?: string };
        const parts = await client.send(new ListPartsCommand({ Bucket: 'lake', Key: key, UploadId: input.UploadId }));
        seenBeforeCompletion = {
          parts: (parts.Parts ?? []).map((p) => p.Size ?? -1),
          listed: await keys(client, 'lake'),
          head: await notFound(client.send(new HeadObjectCommand({ Bucket: 'lake', Key: key }))),
        };
      }
      return next(args);
    },
    { step: 'initialize', name: 'observeBeforeComplete' },
  );
  const upload = new Upload({ client: uploader, params: { Bucket: 'lake', Key: key, Body: body }, partSize: 5 * MiB, queueSize: 2, leavePartsOnError: false });
  const uploadStartedAt = performance.now();
  const done = await upload.done();
  assert.equal(done.Key, key);
  t.diagnostic(`multipart upload of ${body.length} bytes took ${Math.round(performance.now() - uploadStartedAt)} ms (the bucket's first write)`);

  assert.ok(seenBeforeCompletion, 'the upload went through CompleteMultipartUpload (a multipart upload, not one PUT)');
  assert.deepEqual(seenBeforeCompletion.parts, [5 * MiB, 5 * MiB, body.length - 10 * MiB], 'all three parts were stored before completion');
  assert.deepEqual(seenBeforeCompletion.listed, [], 'the object was not listed before completion');
  assert.equal(seenBeforeCompletion.head, 'NotFound', 'nor could it be read');

  assert.deepEqual(await keys(client, 'lake'), [{ key, size: body.length }], 'after completion it is listed, with its full size');
  assert.ok((await read(client, 'lake', key)).equals(body), 'and reads back byte-equal');

  const stopAt = performance.now();
  await s3.stop();
  const stopMs = performance.now() - stopAt;
  assert.equal(await listening(s3.port), false, 'nothing listens on the S3 port while stopped');
  const restartAt = performance.now();
  await s3.start();
  t.diagnostic(`stop took ${Math.round(stopMs)} ms, restart ${Math.round(performance.now() - restartAt)} ms`);
  assert.equal(await listening(s3.port), true, 'the server is back on the same port');
  assert.ok((await read(client, 'lake', key)).equals(body), 'the object survives a restart byte-equal');

  const { dataDir, port } = s3;
  await s3.destroy();
  assert.equal(await listening(port), false, 'the server is gone after destroy');
  assert.equal(existsSync(dataDir), false, 'its data dir is removed');
});

test('scripts/ci-install.sh builds the same weed with the same Go, so CI finds it in the cache', () => {
  const script = readFileSync(join(repoRoot(), 'scripts', 'ci-install.sh'), 'utf8');
  assert.ok(script.includes(`\nseaweedfs_version=${SEAWEEDFS_VERSION}\n`), `ci-install.sh sets seaweedfs_version=${SEAWEEDFS_VERSION}`);
  assert.ok(script.includes(`\ngo_want=${GO_TOOLCHAIN}\n`), `ci-install.sh sets go_want=${GO_TOOLCHAIN}`);
});
