// The MQTT load generator every broker comparison and the deployed-pipeline bench share: a Go program
// (bench/loadgen, Eclipse Paho) in its own process, so the measured broker never shares an event loop
// or a garbage collector with the load, and Mosquitto, plain aedes and the gateway all get exactly the
// same clients. Built once per source through the Go module proxy into the cache.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureGoBinary, go } from '../devstack/go.js';
import { repoRoot } from '../devstack/net.js';

export interface LoadOptions {
  /** mqtt://host:port of the broker under test. */
  url: string;
  /** Connections; client i is device `${devicePrefix}${i}`. */
  clients: number;
  /** QoS 1 PUBLISHes each client keeps waiting for their PUBACK. */
  window: number;
  /** Readings per message: seq, temperature, humidity, then m3, m4… (bench/mqtt-load.ts payload(), plus ts). */
  metricsPerMessage: number;
  devicePrefix: string;
  /** Measured seconds, after the warm-up. */
  seconds: number;
  /** Default 1. */
  warmupSeconds?: number;
  /** Readings per second offered by all clients together; unset: as fast as the windows allow. */
  rate?: number;
}

export interface LoadReport {
  readingsPerMessage: number;
  clients: number;
  window: number;
  offeredReadingsPerSecond: number;
  warmupSeconds: number;
  measuredSeconds: number;
  /** PUBACKs that arrived inside the measured window, whenever their PUBLISH left. */
  measuredAcks: number;
  messagesPerSecond: number;
  readingsPerSecond: number;
  /** PUBACKs over the whole run: warm-up, window and the last in-flight ones. */
  totalAcks: number;
  /** PUBLISHes that got no PUBACK (connection lost, refused, timed out). */
  failures: number;
  firstFailure: string | null;
  /** Publish → PUBACK inside the window. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** PUBACKs per second since the load started (warm-up included), with that second's latencies. */
  timeline: { t: number; acks: number; p50Ms: number; p99Ms: number }[];
  /** Each device published seqs 1..lastSeq; with failures 0 every one of them was PUBACKed. */
  devices: { deviceId: string; published: number; acked: number; lastSeq: number; failures: number }[];
  /** CPU seconds the load generator itself used (it shares the machine with what it measures). */
  loadCpuSeconds: number;
}

const SOURCE_DIR = (): string => join(repoRoot(), 'bench', 'loadgen');

/** Path of the built load generator; the first call on a machine builds it (needs the Go module proxy). */
export async function loadgenBinary(): Promise<string> {
  const dir = SOURCE_DIR();
  const digest = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) digest.update(f).update(readFileSync(join(dir, f)));
  return ensureGoBinary({
    dirName: 'loadgen',
    binary: 'loadgen',
    source: `bench/loadgen ${digest.digest('hex').slice(0, 16)}`,
    build: async (scratch) => {
      await go(['build', '-trimpath', '-o', join(scratch, 'loadgen'), '.'], { cwd: dir });
    },
  });
}

export interface RunningLoad {
  pid: number;
  /** Resolves with the report when the load has run its time and every in-flight PUBLISH settled. */
  done: Promise<LoadReport>;
  /** Ends the load early (SIGTERM): publishing stops, in-flight PUBLISHes settle, the report follows. */
  stop(): Promise<LoadReport>;
}

/** Starts the load in its own process. */
export async function startLoad(o: LoadOptions): Promise<RunningLoad> {
  const bin = await loadgenBinary();
  const url = o.url.replace(/^mqtt:/, 'tcp:');
  const args = [
    '-url', url,
    '-clients', String(o.clients),
    '-window', String(o.window),
    '-metrics', String(o.metricsPerMessage),
    '-prefix', o.devicePrefix,
    '-seconds', `${o.seconds}s`,
    '-warmup', `${o.warmupSeconds ?? 1}s`,
    '-rate', String(o.rate ?? 0),
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<LoadReport>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`loadgen ${args.join(' ')} exited ${code ?? signal}: ${stderr.trim() || '(no output)'}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as LoadReport);
      } catch (err) {
        reject(new Error(`loadgen printed no report (${(err as Error).message}): ${stdout.slice(0, 200)}`));
      }
    });
  });
  return {
    pid: child.pid!,
    done,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return done;
    },
  };
}

/** Runs the load to the end and returns its report. */
export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  return (await startLoad(o)).done;
}
