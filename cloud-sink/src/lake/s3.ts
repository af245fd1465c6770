// The lake in an S3-compatible bucket, through the AWS SDK for JavaScript v3. Files go up with
// lib-storage's Upload (multipart above one part), and an object becomes visible only once the
// upload completes, so readers never see part of a file. Manifests are created with PutObject and
// If-None-Match: * (a 412 means someone else's manifest is there), which AWS S3 honours since
// 2024; open() checks that this server does too.
import { createReadStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from 'pino';
import { CloudError } from '../errors.js';
import type { LakeDestination, LakeObject } from './destination.js';

export interface S3DestinationOptions {
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  prefix: string;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  forcePathStyle: boolean;
  partSizeBytes: number;
  conditionalPut: 'auto' | 'required';
  stagingRoot: string;
  log: Logger;
}

/** Uploads older than this that never completed belong to a writer that died; younger ones may be live. */
const STALE_UPLOAD_MS = 3_600_000;

export class S3Destination implements LakeDestination {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  readonly stagingRoot: string;
  private conditional = true;
  private readonly prefix: string;

  constructor(private readonly opts: S3DestinationOptions) {
    this.stagingRoot = opts.stagingRoot;
    this.prefix = opts.prefix === '' || opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`;
    this.client = new S3Client({
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.accessKeyId && opts.secretAccessKey
        ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } }
        : {}),
      // The SDK's default since 3.729 adds CRC trailers to every upload, which several
      // S3-compatible servers refuse; checksums only where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get location(): string {
    return `s3://${this.opts.bucket}/${this.prefix}`;
  }

  get exclusiveCreate(): boolean {
    return this.conditional;
  }

  async open(): Promise<void> {
    this.conditional = await this.probeConditionalPut();
    if (!this.conditional) {
      if (this.opts.conditionalPut === 'required') {
        throw new CloudError('FL_ERR_LAKE_CONDITIONAL_PUT', `${this.location}: a second PutObject with If-None-Match: * succeeded (lake.s3.conditionalPut is required)`);
      }
      this.opts.log.warn(
        { location: this.location },
        'the object store ignores If-None-Match on PutObject; range manifests are created look-then-put, guarded by partition ownership only',
      );
    }
    await this.abortStaleUploads();
  }

  async put(key: string, localFile: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.opts.bucket, Key: this.key(key), Body: createReadStream(localFile), ContentType: 'application/vnd.apache.parquet' },
      partSize: this.opts.partSizeBytes,
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
    await unlink(localFile);
  }

  async putIfAbsent(key: string, bytes: Buffer): Promise<boolean> {
    if (!this.conditional) {
      if (await this.exists(key)) return false;
      await this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key), Body: bytes, ContentType: 'application/json' }));
      return true;
    }
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key), Body: bytes, ContentType: 'application/json', IfNoneMatch: '*' }),
      );
      return true;
    } catch (err) {
      // 412: the key exists. 409: another conditional write to it is in progress; either way
      // someone else's manifest wins and the caller reads it.
      const status = httpStatus(err);
      if (status === 412 || status === 409) return false;
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }));
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<LakeObject[]> {
    const out: LakeObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: this.key(prefix), ContinuationToken: token }),
      );
      for (const o of r.Contents ?? []) {
        if (!o.Key) continue;
        out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, version: o.ETag ?? `${o.Size}-${o.LastModified?.getTime()}` });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  /** Writes a scratch key twice with If-None-Match: *; a server that honours it refuses the second. */
  private async probeConditionalPut(): Promise<boolean> {
    const key = `_staging/probe-${randomBytes(8).toString('hex')}`;
    const put = (): Promise<unknown> =>
      this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key), Body: 'probe', IfNoneMatch: '*' }));
    try {
      await put();
      try {
        await put();
        return false;
      } catch (err) {
        const status = httpStatus(err);
        if (status === 412 || status === 409) return true;
        throw err;
      }
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) })).catch(() => undefined);
    }
  }

  /** Multipart uploads a killed writer left behind hold storage until aborted. */
  private async abortStaleUploads(): Promise<void> {
    try {
      const r = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.opts.bucket, Prefix: this.prefix }));
      for (const u of r.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Initiated || Date.now() - u.Initiated.getTime() < STALE_UPLOAD_MS) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: u.Key, UploadId: u.UploadId }));
        this.opts.log.info({ key: u.Key }, 'aborted a stale multipart upload');
      }
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'could not list stale multipart uploads; they are left to the bucket lifecycle');
    }
  }
}

function httpStatus(err: unknown): number | undefined {
  if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode;
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return meta?.httpStatusCode;
}
