// The parent's side of gateway-target.ts: start a whole Gateway in a child process, ask it for
// stats, stop it. A crash is a dead child (exit code or signal, and the tail of its stderr); a hang
// is a stats request with no answer within the timeout.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { AdapterStatus } from '../../gateway/src/ingest/adapter.js';
import type { Loss } from '../../gateway/src/metrics.js';
import type { OutboxStats } from '../../gateway/src/outbox/outbox.js';
import { freePort } from '../../devstack/net.js';

export type TargetRequest = { id: number; cmd: 'stats'; gc?: boolean; devices?: string[] } | { id: number; cmd: 'exit' };

export interface TargetPorts {
  mqtt: number;
  ws: number;
  coap: number;
  api: number;
}

type Counters = Record<'received' | 'sent' | 'dropped' | 'errors', number>;

export interface TargetStats {
  stages: Record<'mqtt' | 'coap' | 'ingest' | 'commit', Counters>;
  coapCounts: Record<string, number> | null;
  adapters: AdapterStatus[];
  outbox: OutboxStats;
  loss: Loss;
  /** Loss counters of the devices the request named (null: none recorded). */
  deviceLoss: Record<string, Loss | null>;
  /** Devices with loss counters: these live as long as the process, so they must stay few here. */
  trackedDevices: number;
  refusals: Record<string, number>;
  /** Open TCP sockets in the gateway process (listeners included). */
  tcpSockets: number;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  /** Longest event-loop stall since the previous stats request with `gc` (or since start). */
  maxEventLoopDelayMs: number;
}

/** Clients the MQTT adapter counts as connected, from its status line ("3 clients; tcp:… ws:…"). */
export function mqttClients(s: TargetStats): number {
  const m = /^(\d+) clients/.exec(s.adapters.find((a) => a.name === 'mqtt')?.detail ?? '');
  return m ? Number(m[1]) : -1;
}

export type TargetMessage = { id: number; ready: TargetPorts } | { id: number; stats: TargetStats };

/**
 * The settings every fuzz target shares: quiet, on 127.0.0.1 with ports picked by the kernel, and
 * Kafka pointed at a free port nobody listens on, so readings stay in the outbox where the test
 * can count them (the forwarder only retries in the background).
 */
export async function targetConfig(dataDir: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return {
    gatewayId: 'gw-fuzz',
    dataDir,
    logLevel: process.env.FIELDLINE_TEST_LOG_LEVEL ?? 'silent',
    mqtt: { host: '127.0.0.1', port: 0 },
    coap: { host: '127.0.0.1', port: 0 },
    api: { host: '127.0.0.1', port: 0, adminToken: 'fuzz-target-admin-token' },
    kafka: { brokers: `127.0.0.1:${await freePort()}`, retryBackoffMinMs: 1_000, retryBackoffMaxMs: 5_000 },
    ...extra,
  };
}

export class GatewayProcess {
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  private stderr = '';
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: TargetMessage) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;
  private readonly killOnExit = () => this.child.kill('SIGKILL');

  private constructor(private readonly child: ChildProcess, readonly ports: TargetPorts) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Forks the target with `config` and resolves once the gateway has started. */
  static async start(config: Record<string, unknown>, startTimeoutMs = 30_000): Promise<GatewayProcess> {
    const child = fork(join(import.meta.dirname, 'gateway-target.js'), [JSON.stringify(config)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    const ready = await new Promise<TargetPorts>((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not start within ${startTimeoutMs} ms`), startTimeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`gateway target ${why}\n--- stderr ---\n${stderr}`));
      };
      child.once('exit', (code, signal) => fail(`exited during start-up (code ${code}, signal ${signal})`));
      child.once('message', (m: TargetMessage) => {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        if ('ready' in m) resolve(m.ready);
        else fail(`said ${JSON.stringify(m)} instead of ready`);
      });
    });
    const p = new GatewayProcess(child, ready);
    p.stderr = stderr;
    child.stderr!.removeAllListeners('data');
    child.stderr!.on('data', (d: Buffer) => (p.stderr = (p.stderr + d.toString()).slice(-20_000)));
    child.on('message', (m: TargetMessage) => {
      const w = p.waiting.get(m.id);
      p.waiting.delete(m.id);
      w?.resolve(m);
    });
    child.once('exit', (code, signal) => {
      p.exit = { code, signal };
      process.off('exit', p.killOnExit);
      for (const w of p.waiting.values()) w.reject(new Error(`gateway target died (${p.describeExit()})\n--- stderr ---\n${p.stderr}`));
      p.waiting.clear();
    });
    process.once('exit', p.killOnExit); // a test process that dies must not leave a gateway behind
    return p;
  }

  alive(): boolean {
    return this.exit === undefined;
  }

  describeExit(): string {
    return this.exit ? `code ${this.exit.code}, signal ${this.exit.signal}` : 'running';
  }

  stderrTail(): string {
    return this.stderr;
  }

  /** Counters and memory; with `gc`, after two full collections so heap figures compare. */
  async stats(opts: { gc?: boolean; devices?: string[]; timeoutMs?: number } = {}): Promise<TargetStats> {
    if (!this.alive()) throw new Error(`gateway target is dead (${this.describeExit()})\n--- stderr ---\n${this.stderr}`);
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const m = await new Promise<TargetMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`gateway target did not answer a stats request within ${timeoutMs} ms (hung?)`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ id, cmd: 'stats', gc: opts.gc ?? false, devices: opts.devices ?? [] } satisfies TargetRequest);
    });
    if (!('stats' in m)) throw new Error(`unexpected answer ${JSON.stringify(m)}`);
    return m.stats;
  }

  /** Stops the gateway the way its CLI would and waits for the exit; SIGKILL after timeoutMs. */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; graceful: boolean }> {
    let graceful = true;
    if (this.alive()) {
      this.child.send({ id: this.nextId++, cmd: 'exit' } satisfies TargetRequest);
      const timer = setTimeout(() => {
        graceful = false;
        this.child.kill('SIGKILL');
      }, timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    return { ...this.exit!, graceful };
  }

  /** For after hooks: make sure it is gone, however the test ended. */
  async kill(): Promise<void> {
    if (this.alive()) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
