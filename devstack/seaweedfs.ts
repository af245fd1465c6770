/**
 * A real S3-compatible server for tests: SeaweedFS (`weed server -s3`) in one process, with master,
 * volume server, filer and S3 gateway on free ports of 127.0.0.1, its data in a temp directory, and
 * signed requests required (one identity, written to the -s3.config file). Only the S3 API checks
 * credentials; master, volume server and filer answer anyone who can reach them, hence 127.0.0.1.
 *
 * `weed` is built from source with Go on first use (devstack/go.ts; scripts/ci-install.sh builds it
 * ahead on CI): `go install …/weed@version` is refused because SeaweedFS's go.mod has replace
 * directives, so the module is downloaded and built in place, where its go.mod is the main one.
 *
 * Start-up takes about 3 s to a signed answer. The first write to a new server then waits several
 * more seconds inside weed: its filer asks the master for its configuration before the master has
 * elected itself, sleeps 7 s before asking again, and only then joins the lock ring that S3 writes
 * lock through (the writes wait, they do not fail). Reads and listings are not held up.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { downloadModule, ensureGoBinary, go } from './go.js';
import { defaultLogDir, freePorts, removeOnExit, spawnLogged, waitForPort, waitUntil, type LoggedProcess } from './net.js';

/** A commit of SeaweedFS's main branch (Go pseudo-version): the module has no tagged Go versions. */
export const SEAWEEDFS_VERSION = 'v0.0.0-20261109003541-7506e5f91cd6';
export const SEAWEEDFS_MODULE = 'github.com/seaweedfs/seaweedfs';

/** Path of the weed binary, `<cache>/seaweedfs-<version>/weed`, built on first use. */
export function ensureWeed(): Promise<string> {
  return ensureGoBinary({
    dirName: `seaweedfs-${SEAWEEDFS_VERSION}`,
    binary: 'weed',
    source: `${SEAWEEDFS_MODULE}@${SEAWEEDFS_VERSION}`,
    build: async (scratch) => {
      const source = await downloadModule(`${SEAWEEDFS_MODULE}@${SEAWEEDFS_VERSION}`);
      await go(['build', '-ldflags=-s -w', '-o', join(scratch, 'weed'), './weed'], { cwd: source });
    },
  });
}

export interface S3Server {
  /** http://127.0.0.1:PORT, for S3Client's `endpoint` (with forcePathStyle). */
  endpoint: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Settings for `new S3Client(…)` that reach this server: endpoint, region, credentials, path-style. */
  clientConfig: S3ClientConfig & { endpoint: string; region: string; forcePathStyle: true };
  /** Holds the identities file and the stored objects; kept across stop() and start(). */
  dataDir: string;
  /** weed's output (stdout and stderr, every restart appended). */
  logFile: string;
  /** Creates buckets; ones that exist already are left as they are. */
  createBuckets(names: readonly string[]): Promise<void>;
  /** SIGTERM, then SIGKILL after STOP_GRACE_MS (see there). Data is kept. */
  stop(): Promise<void>;
  /** Starts the server again after stop(): same ports, same credentials, same data. Does nothing while it runs. */
  start(): Promise<void>;
  /** stop(), then delete dataDir if startS3 created it. */
  destroy(): Promise<void>;
}

export interface StartS3Options {
  /** S3 port; default a free port below the ephemeral range (see FreePortOptions.stable). The other seven ports are always free ones. */
  port?: number;
  /** Buckets to create once the server is up. */
  buckets?: readonly string[];
  /** Default: a new directory under the OS temp dir, removed by destroy(). */
  dataDir?: string;
  /** Default: the one in an existing dataDir (a dev stack keeps its credentials across runs), else 'fieldline-test'. */
  accessKeyId?: string;
  /** Default: the one in an existing dataDir, else 40 random hex characters. */
  secretAccessKey?: string;
  /** Where the weed log goes; default defaultLogDir(). */
  logDir?: string;
  startTimeoutMs?: number;
}

const REGION = 'us-east-1';

/**
 * How long weed gets to stop on SIGTERM before it is killed. Its services stop in turn, and the
 * volume server usually goes before the filer, whose last act is then to write its metadata change
 * log (the feed for filer.sync and subscribers, not the stored objects) to volumes that are gone:
 * it retries that for a hard-coded 15 s and then drops it. Every object S3 acknowledged has been
 * written by then (a killed process loses nothing it wrote), so waiting out those 15 s buys nothing.
 */
const STOP_GRACE_MS = 5_000;

interface WeedPorts {
  s3: number;
  s3Grpc: number;
  master: number;
  masterGrpc: number;
  volume: number;
  volumeGrpc: number;
  filer: number;
  filerGrpc: number;
}

async function choosePorts(s3?: number): Promise<WeedPorts> {
  // Eight, so that seven remain when the caller's S3 port happens to be among them.
  const free = (await freePorts(8, { stable: true })).filter((port) => port !== s3);
  const [a, b, c, d, e, f, g, h] = free as [number, number, number, number, number, number, number, number];
  if (s3 === undefined) return { s3: a, s3Grpc: b, master: c, masterGrpc: d, volume: e, volumeGrpc: f, filer: g, filerGrpc: h };
  return { s3, s3Grpc: a, master: b, masterGrpc: c, volume: d, volumeGrpc: e, filer: f, filerGrpc: g };
}

/**
 * The smallest `weed server` that serves S3: every listener on 127.0.0.1 and on a port of ours (a
 * gRPC port left 0 would be HTTP port + 10000, which nobody checked), no Iceberg or Lance
 * listeners, no usage report to seaweedfs.com, and no 10 s pause before the volume server stops.
 * Volumes are 64 MB, not 30 GB, and as many as the disk holds (a bucket takes seven at its first write).
 */
function weedArgs(ports: WeedPorts, dataDir: string): string[] {
  return [
    '-logtostderr',
    'server',
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    `-dir=${join(dataDir, 'data')}`,
    `-master.port=${ports.master}`,
    `-master.port.grpc=${ports.masterGrpc}`,
    '-master.telemetry=false',
    // A single master waits this long after a restart before electing itself (default 10 s).
    '-master.electionTimeout=1s',
    '-master.volumeSizeLimitMB=64',
    '-volume.max=0',
    `-volume.port=${ports.volume}`,
    `-volume.port.grpc=${ports.volumeGrpc}`,
    '-volume.preStopSeconds=0',
    `-filer.port=${ports.filer}`,
    `-filer.port.grpc=${ports.filerGrpc}`,
    `-filer.localSocket=${join(dataDir, 'filer.sock')}`,
    '-s3',
    `-s3.port=${ports.s3}`,
    `-s3.port.grpc=${ports.s3Grpc}`,
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    // As AWS does: writing to a bucket nobody created is an error, not a new bucket.
    '-s3.autoCreateBucket=false',
    `-s3.localSocket=${join(dataDir, 's3.sock')}`,
    `-s3.config=${join(dataDir, 's3.json')}`,
  ];
}

/** The -s3.config file: one identity allowed everything. Without identities weed would serve anonymous requests. */
function identities(accessKeyId: string, secretAccessKey: string): string {
  const config = {
    identities: [
      {
        name: 'fieldline',
        credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
        actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'],
      },
    ],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

interface MasterStatus {
  IsLeader?: boolean;
  Topology?: { DataCenters?: Array<{ Racks?: Array<{ DataNodes?: unknown[] }> }> };
}

async function masterGet(port: number, path: string): Promise<MasterStatus | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? ((await response.json()) as MasterStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** The master is the raft leader and knows a volume server. */
async function masterReady(port: number): Promise<boolean> {
  if ((await masterGet(port, '/cluster/status'))?.IsLeader !== true) return false;
  const dataCenters = (await masterGet(port, '/dir/status'))?.Topology?.DataCenters ?? [];
  return dataCenters.some((dc) => (dc.Racks ?? []).some((rack) => (rack.DataNodes ?? []).length > 0));
}

/** The credentials in an existing -s3.config file, if there is one. */
function previousCredentials(file: string): { accessKey?: string; secretKey?: string } {
  try {
    const config = JSON.parse(readFileSync(file, 'utf8')) as { identities?: Array<{ credentials?: Array<{ accessKey?: string; secretKey?: string }> }> };
    return config.identities?.[0]?.credentials?.[0] ?? {};
  } catch {
    return {};
  }
}

/** Builds weed if needed, starts it on free ports and waits until it is ready to store and read objects. */
export async function startS3(opts: StartS3Options = {}): Promise<S3Server> {
  const weed = await ensureWeed();
  const { S3Client, ListBucketsCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const ports = await choosePorts(opts.port);
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'fieldline-s3-'));
  mkdirSync(join(dataDir, 'data'), { recursive: true });
  const forgetDataDir = ownsDataDir ? removeOnExit(dataDir) : () => undefined;
  const logDir = opts.logDir ?? defaultLogDir();
  const logName = `seaweedfs-${ports.s3}.log`;
  const configFile = join(dataDir, 's3.json');
  const previous = previousCredentials(configFile);
  const accessKeyId = opts.accessKeyId ?? previous.accessKey ?? 'fieldline-test';
  const secretAccessKey = opts.secretAccessKey ?? previous.secretKey ?? randomBytes(20).toString('hex');
  writeFileSync(configFile, identities(accessKeyId, secretAccessKey), { mode: 0o600 });
  const endpoint = `http://127.0.0.1:${ports.s3}`;
  const clientConfig = {
    endpoint,
    region: REGION,
    forcePathStyle: true as const,
    credentials: { accessKeyId, secretAccessKey },
  };
  const timeoutMs = opts.startTimeoutMs ?? 60_000;

  let proc: LoggedProcess | undefined;
  let firstStart = true;

  const withClient = async <T>(use: (client: S3Client) => Promise<T>): Promise<T> => {
    const client = new S3Client({ ...clientConfig, maxAttempts: 1 });
    try {
      return await use(client);
    } finally {
      client.destroy();
    }
  };

  /**
   * Ready to store and read objects: the master leads (after a restart it first waits out an
   * election), the volume server has reported its volumes to it, and the gateway answers a signed
   * request, which needs the filer behind it up and the identities loaded. A gateway that merely
   * answers would fail reads with "volume not found" until the first two hold.
   */
  const ready = async (): Promise<boolean> => {
    if (!(await waitForPort(ports.s3, '127.0.0.1', 0).then(() => true, () => false))) return false;
    if (!(await masterReady(ports.master))) return false;
    return withClient((client) => client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(5_000) })).then(
      () => true,
      () => false,
    );
  };

  const start = async (): Promise<void> => {
    if (proc?.running()) return;
    const started = spawnLogged(weed, weedArgs(ports, dataDir), { logDir, logName, truncate: firstStart, cwd: dataDir });
    firstStart = false;
    proc = started;
    try {
      await waitUntil(ready, { what: `SeaweedFS S3 on ${endpoint}`, timeoutMs, intervalMs: 100, process: started });
    } catch (err) {
      await started.stop('SIGKILL');
      throw err;
    }
  };

  const stop = async (): Promise<void> => {
    if (proc === undefined) return;
    await proc.stop('SIGTERM', STOP_GRACE_MS);
    // weed puts its in-process gRPC sockets in /tmp, named after the ports, and may leave them behind.
    for (const [name, port] of [['master', ports.masterGrpc], ['volume', ports.volumeGrpc], ['filer', ports.filerGrpc], ['s3', ports.s3Grpc]] as const) {
      rmSync(`/tmp/seaweedfs-${name}-grpc-${port}.sock`, { force: true });
    }
  };

  const createBuckets = async (names: readonly string[]): Promise<void> => {
    await withClient(async (client) => {
      for (const name of names) {
        try {
          await client.send(new CreateBucketCommand({ Bucket: name }));
        } catch (err) {
          if ((err as Error).name !== 'BucketAlreadyOwnedByYou' && (err as Error).name !== 'BucketAlreadyExists') {
            throw new Error(`creating bucket ${name} on ${endpoint} failed: ${(err as Error).message}`);
          }
        }
      }
    });
  };

  const server: S3Server = {
    endpoint,
    port: ports.s3,
    region: REGION,
    accessKeyId,
    secretAccessKey,
    clientConfig,
    dataDir,
    logFile: join(logDir, logName),
    createBuckets,
    start,
    stop,
    async destroy() {
      await stop();
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
      forgetDataDir();
    },
  };

  try {
    await start();
    await createBuckets(opts.buckets ?? []);
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}
