// The fieldline-sim tests' two parts: the built CLI as a child process (its own process group, so a
// failed test leaves nothing running), and a real Gateway (gateway/src/gateway.ts) on free ports in
// a temp dir. The gateway's Kafka brokers point at a port nothing listens on: the forwarder keeps
// retrying, so every reading stays in the SQLite outbox, where the test reads it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import { v1, type Reading } from '../../proto/src/wire.js';
import { defaultLogDir, freePort, removeOnExit, repoRoot, spawnLogged, waitUntil, type LoggedProcess, type ProcessExit } from '../../devstack/net.js';

export const SIM_CLI = join(repoRoot(), 'dist', 'firmware-sim', 'src', 'main.js');
export const API_TOKEN = 'sim-tests-admin-token-0123456789';

export interface Sim {
  proc: LoggedProcess;
  /** Everything it printed so far (stdout and stderr, in order). */
  output(): string;
  /** Waits until the output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Waits for it to exit by itself (--duration); SIGKILLs it after timeoutMs. */
  finished(timeoutMs?: number): Promise<SimResult>;
  /** Sends `signal`, waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<SimResult>;
  /** For finally blocks: makes sure it is gone, whatever state the test left it in. */
  kill(): Promise<void>;
}

export interface SimResult {
  exit: ProcessExit;
  output: string;
  /** The JSON summary: the last line of the output that is a JSON object. */
  summary: SimSummary;
}

export interface MessageStats {
  sent: number;
  acked: number;
  errors: number;
  good: number;
  faults: Record<string, number>;
}

export interface CoapStats extends MessageStats {
  timeouts: number;
  rateLimited: number;
  byCode: Record<string, number>;
  answers: Record<string, Record<string, number>>;
}

export interface ModbusStats {
  requests: number;
  answered: number;
  faults: { silent: number; exceptions: Record<string, number>; corruptCrc: number };
  updates: number;
}

export interface SimSummary {
  mqtt?: MessageStats;
  coap?: CoapStats;
  modbusTcp?: ModbusStats;
  modbusRtu?: ModbusStats;
  totals: Record<string, number>;
}

let simCount = 0;

export function startSim(args: readonly string[]): Sim {
  const proc = spawnLogged(process.execPath, [SIM_CLI, ...args], {
    logDir: defaultLogDir(),
    logName: `sim-${process.pid}-${++simCount}.log`,
    truncate: true,
  });
  const output = () => readFileSync(proc.logFile, 'utf8');
  const result = async (exit: ProcessExit): Promise<SimResult> => {
    const text = output();
    const last = text.split('\n').filter((l) => l.startsWith('{')).at(-1);
    if (!last) throw new Error(`fieldline-sim printed no summary (exit ${JSON.stringify(exit)}):\n${text}`);
    return { exit, output: text, summary: JSON.parse(last) as SimSummary };
  };
  return {
    proc,
    output,
    waitFor: (pattern, timeoutMs = 15_000) =>
      waitUntil(async () => pattern.test(output()), { what: `fieldline-sim output ${pattern}`, timeoutMs, intervalMs: 50, process: proc }),
    async finished(timeoutMs = 30_000) {
      const timer = setTimeout(() => void proc.stop('SIGKILL', 0), timeoutMs);
      try {
        return await result(await proc.exited.then(() => proc.stop('SIGKILL', 0)));
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(signal = 'SIGTERM') {
      return result(await proc.stop(signal, 20_000));
    },
    async kill() {
      await proc.stop('SIGKILL', 5_000);
    },
  };
}

export interface TestGateway {
  gateway: Gateway;
  apiUrl: string;
  /** Readings committed to the outbox since the last call (leases them; the forwarder never does, with no Kafka). */
  committed(): Reading[];
  /** GET on the local API with the bearer token. */
  api<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

/** A Gateway with MQTT off (unless `mqtt` says otherwise), CoAP on a free port, and `extra` settings. */
export async function startGateway(extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-sim-gw-'));
  const forget = removeOnExit(dir);
  const cfg = gatewayConfigSchema.parse({
    gatewayId: 'gw-sim-test',
    dataDir: dir,
    logLevel: 'silent',
    mqtt: { enabled: false },
    coap: { host: '127.0.0.1', port: 0 },
    api: { host: '127.0.0.1', port: 0, adminToken: API_TOKEN },
    kafka: { brokers: `127.0.0.1:${await freePort()}` },
    ...extra,
  });
  const gateway = new Gateway(cfg, pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' }));
  await gateway.start();
  const apiUrl = `http://127.0.0.1:${gateway.apiPort}`;
  let stopped = false;
  return {
    gateway,
    apiUrl,
    committed() {
      const out: Reading[] = [];
      for (let batch = gateway.outbox.lease(100_000); batch; batch = gateway.outbox.lease(100_000)) {
        for (const bytes of batch.readings) out.push(v1.Reading.decode(bytes));
      }
      return out;
    },
    async api<T>(path: string): Promise<T> {
      const res = await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

/** Readings per device id. */
export function byDevice(readings: readonly Reading[]): Map<string, Reading[]> {
  const out = new Map<string, Reading[]>();
  for (const r of readings) {
    const id = r.deviceId ?? '';
    out.set(id, [...(out.get(id) ?? []), r]);
  }
  return out;
}

/** Polls until check() holds; throws with `what` after timeoutMs. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  await waitUntil(async () => check(), { what, timeoutMs, intervalMs: 50 });
}

/** The sum of a record's values. */
export function total(counts: Record<string, number> | undefined): number {
  return Object.values(counts ?? {}).reduce((a, b) => a + b, 0);
}
