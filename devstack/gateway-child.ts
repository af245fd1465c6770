// The gateway as a child process (`node dist/gateway/src/cli/main.js --config <file>`): what the
// fault tests kill and restart, and what the benches measure as deployed, in its own process.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GENEROUS_LIMITS } from './stack.js';
import { freePorts, repoRoot, spawnLogged, type LoggedProcess, type ProcessExit } from './net.js';

/**
 * The environment the shipped gateway runs with (deploy/systemd/fieldline-gateway.service and
 * deploy/balena/Dockerfile.template set the same variables; test/deploy/node-options.test.ts keeps
 * them in step): the benches start it this way so its memory is what a deployed one's is. The V8
 * young generation otherwise grows to 64 MB under steady ingest, and glibc gives each thread that
 * allocates (librdkafka's, libuv's, V8's) an arena of its own, up to 8 per core, each keeping
 * what it freed (docs/profiles/gateway-ingest.md).
 */
export const DEPLOYED_GATEWAY_ENV: Record<string, string> = { NODE_OPTIONS: '--max-semi-space-size=8', MALLOC_ARENA_MAX: '2' };

export const GATEWAY_CHILD_ADMIN_TOKEN = 'fault-test-admin-token';
const GATEWAY_MAIN = join(repoRoot(), 'dist', 'gateway', 'src', 'cli', 'main.js');

/** What the tests read from the gateway's GET /status. */
export interface GatewayStatus {
  outbox: {
    depthMessages: number;
    depthValues: number;
    depthBytes: number;
    oldestAgeMs: number;
    leasedBatches: number;
    nextSeq: number;
    evictedValues: number;
    /** Resends of messages already committed (DUP=1, or just before a restart), acknowledged without storing them twice. */
    redeliveriesDropped: number;
    full: { code: string; reason: string; sinceMs: number } | null;
    recovery: { atMs: number; reason: string; movedTo: string } | null;
  };
  cloud: {
    link: string;
    lastError: string;
    deliveredReadings: number;
    deliveredBatches: number;
    lastDeliveryMs: number | null;
    drain?: { sentPerSecond: number; inPerSecond: number; etaS: number | null };
    /** Per-lane figures (gateway/src/forward/forwarder.ts LanesStatus); absent from gateways before issue 15. */
    lanes?: Record<string, unknown>;
  };
  loss: { rateLimited: number; quarantined: number; evicted: number };
  deviceLoss: Record<string, { rateLimited: number; quarantined: number; evicted: number }>;
  refusals: Record<string, number>;
}

type Tree = Record<string, unknown>;

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const isTree = (x: unknown): x is Tree => typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = isTree(b) && isTree(v) ? merge(b, v) : v;
  }
  return out;
}

export interface GatewayChildOptions {
  /** Holds the config file and the log; the data dir defaults to <dir>/data. */
  dir: string;
  gatewayId: string;
  /** Kafka bootstrap servers. */
  brokers: string;
  dataDir?: string;
  /** Deep-merged over the test defaults (e.g. { outbox: { maxMessages: 2000 } }). */
  config?: Tree;
  /** Options for node itself, before the script (e.g. --cpu-prof for the benches' profiles). */
  nodeArgs?: string[];
}

/**
 * `node dist/gateway/src/cli/main.js --config <file>` in its own process group, output appended to
 * one log file across restarts. The MQTT and API ports are chosen once, below the ephemeral range,
 * so devices reconnecting while it is down cannot take the port (devstack/net.ts freePorts).
 */
export class GatewayChild {
  readonly configFile: string;
  readonly logDir: string;
  readonly logName: string;
  readonly dataDir: string;
  private proc: LoggedProcess | undefined;
  starts = 0;

  private constructor(
    readonly opts: GatewayChildOptions,
    readonly mqttPort: number,
    readonly apiPort: number,
  ) {
    this.dataDir = opts.dataDir ?? join(opts.dir, 'data');
    this.configFile = join(opts.dir, `${opts.gatewayId}.yaml`);
    this.logDir = opts.dir;
    this.logName = `${opts.gatewayId}.log`;
    this.writeConfig(opts.config ?? {});
  }

  static async create(opts: GatewayChildOptions): Promise<GatewayChild> {
    mkdirSync(opts.dir, { recursive: true });
    const [mqttPort, apiPort] = (await freePorts(2, { stable: true })) as [number, number];
    return new GatewayChild(opts, mqttPort, apiPort);
  }

  /** Rewrites the config file (takes effect at the next start). */
  writeConfig(overrides: Tree): void {
    const cfg = merge(
      {
        gatewayId: this.opts.gatewayId,
        dataDir: this.dataDir,
        logLevel: 'info',
        mqtt: { host: '127.0.0.1', port: this.mqttPort },
        coap: { enabled: false },
        api: { host: '127.0.0.1', port: this.apiPort, adminToken: GATEWAY_CHILD_ADMIN_TOKEN },
        rateLimit: GENEROUS_LIMITS,
        kafka: {
          brokers: this.opts.brokers,
          retryBackoffMinMs: 200,
          retryBackoffMaxMs: 2_000,
          messageTimeoutMs: 5_000,
          heartbeatIntervalMs: 5_000,
        },
      },
      overrides,
    );
    // JSON is YAML.
    writeFileSync(this.configFile, JSON.stringify(cfg, null, 2));
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  get logFile(): string {
    return join(this.logDir, this.logName);
  }

  /** The running process's pid (the benches read its /proc entries). */
  get pid(): number {
    if (!this.proc) throw new Error('gateway child not started');
    return this.proc.pid;
  }

  running(): boolean {
    return this.proc?.running() ?? false;
  }

  /** Settles when the current process exits. */
  get exited(): Promise<ProcessExit> {
    if (!this.proc) throw new Error('gateway child not started');
    return this.proc.exited;
  }

  /** Starts the process and waits until GET /status answers (MQTT listens before the API does). */
  async start(env: Record<string, string> = {}, timeoutMs = 30_000): Promise<void> {
    if (this.running()) throw new Error(`gateway ${this.opts.gatewayId} is already running`);
    const proc = spawnLogged(process.execPath, [...(this.opts.nodeArgs ?? []), GATEWAY_MAIN, '--config', this.configFile], {
      logDir: this.logDir,
      logName: this.logName,
      env: { ...process.env, ...env },
    });
    this.proc = proc;
    this.starts++;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!proc.running()) {
        const exit = await proc.exited;
        throw new Error(`gateway ${this.opts.gatewayId} exited during start-up (${JSON.stringify(exit)})\n${proc.logTail(6000)}`);
      }
      if ((await this.tryStatus()) !== null) return;
      if (Date.now() > deadline) throw new Error(`gateway ${this.opts.gatewayId} did not answer /status within ${timeoutMs} ms\n${proc.logTail(6000)}`);
      await sleep(50);
    }
  }

  /** kill -9 (the whole process group). */
  async kill(): Promise<ProcessExit> {
    return this.proc ? this.proc.stop('SIGKILL') : { code: null, signal: null };
  }

  /** SIGTERM: the gateway's own clean shutdown. */
  async stop(timeoutMs = 20_000): Promise<ProcessExit> {
    return this.proc ? this.proc.stop('SIGTERM', timeoutMs) : { code: null, signal: null };
  }

  private async tryStatus(): Promise<GatewayStatus | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.apiPort}/status`, {
        headers: { authorization: `Bearer ${GATEWAY_CHILD_ADMIN_TOKEN}` },
        signal: AbortSignal.timeout(5_000),
      });
      if (!res.ok) return null;
      return (await res.json()) as GatewayStatus;
    } catch {
      return null;
    }
  }

  async status(): Promise<GatewayStatus> {
    const s = await this.tryStatus();
    if (s === null) throw new Error(`gateway ${this.opts.gatewayId} /status did not answer\n${this.proc?.logTail(4000) ?? ''}`);
    return s;
  }

  /** The whole log (every start appended). */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(bytes = 4000): string {
    return this.proc?.logTail(bytes) ?? '';
  }
}

