// Where the lake's files go: a local folder or an S3-compatible bucket, behind one small interface.
//
// Lifecycle guarantees the writer relies on:
// - put() makes a finished file visible under its key in one step: a reader sees the old object,
//   the new one, or none, never a part. It consumes the local file. Putting the same key again
//   replaces it the same way (a replayed range rewrites its files).
// - putIfAbsent() creates a small object only if the key is free, and says whether it did; two
//   writers racing for one key get exactly one `true` (see S3Destination for when a server cannot
//   promise that).
// - Keys are '/'-separated paths relative to the lake's root, made by layout.ts.
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';

export type LakeConfig = CloudConfig['lake'];

export interface LakeObject {
  key: string;
  size: number;
  /** Changes whenever the object is replaced (an ETag, or size and mtime for a file). */
  version: string;
}

export interface LakeDestination {
  readonly kind: 'local' | 's3';
  /** For logs and the demo's `Lake:` line: a folder, or s3://bucket/prefix. */
  readonly location: string;
  /** A local folder for files on their way to put(); for a folder destination, on the same filesystem. */
  readonly stagingRoot: string;
  /** Whether putIfAbsent() is exclusive on this destination (false: an S3 server that ignores If-None-Match). */
  readonly exclusiveCreate: boolean;
  /** Checks the destination is usable and clears what crashed writers left behind. */
  open(): Promise<void>;
  put(key: string, localFile: string): Promise<void>;
  putIfAbsent(key: string, bytes: Buffer): Promise<boolean>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Buffer | null>;
  exists(key: string): Promise<boolean>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): Promise<LakeObject[]>;
  close(): Promise<void>;
}

/** The destination `lake` settings name; `dataDir` is the cloud's, for the defaults below it. */
export async function destinationFor(lake: LakeConfig, dataDir: string, log: Logger): Promise<LakeDestination> {
  if (lake.destination === 'local') {
    const { LocalDestination } = await import('./local.js');
    return new LocalDestination(resolve(lake.dir ?? join(dataDir, 'lake')));
  }
  // Loaded only here: a folder lake never pays for the AWS SDK's start-up.
  const { S3Destination } = await import('./s3.js');
  const s3 = lake.s3;
  return new S3Destination({
    ...s3,
    bucket: s3.bucket!,
    stagingRoot: resolve(s3.stagingDir ?? join(dataDir, 'lake-staging')),
    log,
  });
}
