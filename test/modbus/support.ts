// Helpers for the Modbus tests: a pymodbus slave as a child process, a socat pty pair, a recording
// ingest, and the checks every test wants (nothing left running, no unhandled rejection).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import type { Envelope, Outcome } from '../../gateway/src/pipeline/types.js';
import { defaultLogDir, freePort, removeOnExit, repoRoot, spawnLogged, waitUntil, type LoggedProcess } from '../support/net.js';

export const silentLog = pino({ level: 'silent' });

/** The interpreter with pymodbus installed (scripts/ci-install.sh); FIELDLINE_PYTHON overrides. */
export function python(): string {
  return process.env.FIELDLINE_PYTHON ?? 'python3';
}

export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `fieldline-modbus-${prefix}-`));
  const forget = removeOnExit(dir);
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

export interface SlaveRequestLine {
  unit: number;
  fc: number;
  address: number | null;
  count: number | null;
  /** Seconds since the epoch, when the slave decoded the request. */
  t: number;
}

export type PyValue =
  | { table: 'holding' | 'input'; address: number; type: string; order?: string; value: number }
  | { table: 'holding' | 'input'; address: number; registers: number[] }
  | { table: 'coils' | 'discrete'; address: number; bits: boolean[] };

export interface PyUnit {
  size?: number;
  values?: PyValue[];
  fault?: null | 'silent' | 'crc' | { exception: number };
}

export type PySlaveConfig =
  | { transport: 'tcp'; port: number; units: Record<string, PyUnit> }
  | { transport: 'rtu'; device: string; baudrate?: number; units: Record<string, PyUnit> };

export interface PySlave {
  proc: LoggedProcess;
  requests(): SlaveRequestLine[];
  stop(): Promise<void>;
}

/** Starts test/modbus/pymodbus_slave.py and waits until it serves. */
export async function startPymodbusSlave(dir: string, name: string, cfg: PySlaveConfig): Promise<PySlave> {
  const log = join(dir, `${name}.requests.jsonl`);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...cfg, parity: 'N', log }));
  const proc = spawnLogged(python(), ['-u', join(repoRoot(), 'test', 'modbus', 'pymodbus_slave.py'), file], {
    logDir: defaultLogDir(),
    logName: `modbus-${name}-${process.pid}.log`,
    truncate: true,
  });
  await waitUntil(async () => proc.logTail(2000).includes('READY'), { what: `pymodbus slave ${name}`, timeoutMs: 15_000, intervalMs: 25, process: proc });
  return {
    proc,
    requests: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as SlaveRequestLine)
        : [],
    stop: async () => {
      await proc.stop('SIGTERM', 3_000);
    },
  };
}

export interface PtyPair {
  /** The gateway's end. */
  a: string;
  /** The slave's end. */
  b: string;
  stop(): Promise<void>;
}

/** `socat -d -d pty,raw,echo=0,link=<a> pty,raw,echo=0,link=<b>`: a serial line with two ends. */
export async function startPtyPair(dir: string, name = 'line'): Promise<PtyPair> {
  const a = join(dir, `${name}-a`);
  const b = join(dir, `${name}-b`);
  const proc = spawnLogged('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    logDir: defaultLogDir(),
    logName: `modbus-socat-${name}-${process.pid}.log`,
    truncate: true,
  });
  await waitUntil(async () => existsSync(a) && existsSync(b) && proc.logTail(4000).includes('starting data transfer loop'), {
    what: 'socat pty pair',
    timeoutMs: 10_000,
    intervalMs: 20,
    process: proc,
  });
  return { a, b, stop: async () => void (await proc.stop('SIGTERM', 3_000)) };
}

/** An ingest that records envelopes and answers like a pipeline that committed them. */
export function recordingIngest(answer: (env: Envelope) => Promise<Outcome> = async (env) => ({ ok: true, values: Object.keys(env.reading?.metrics ?? {}).length })) {
  const envelopes: Envelope[] = [];
  return {
    envelopes,
    ingest: async (env: Envelope): Promise<Outcome> => {
      envelopes.push(env);
      return answer(env);
    },
    of: (deviceId: string) => envelopes.filter((e) => e.deviceId === deviceId),
  };
}

export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Collects unhandled rejections for the duration of a test file. */
export function watchUnhandledRejections(): { rejections: unknown[]; dispose: () => void } {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  process.on('unhandledRejection', onRejection);
  return { rejections, dispose: () => process.off('unhandledRejection', onRejection) };
}

/** Largest gap between consecutive values. */
export function maxGap(times: readonly number[]): number {
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] as number) - (times[i - 1] as number));
  return gap;
}

/**
 * A real Gateway polling the given Modbus buses, with its local API on 127.0.0.1 behind `token`;
 * MQTT and CoAP off, Kafka pointed where nothing listens (readings stay in the outbox).
 */
export async function startModbusGateway(opts: { gatewayId: string; dataDir: string; token: string; buses: unknown[] }): Promise<Gateway> {
  const gw = new Gateway(
    gatewayConfigSchema.parse({
      gatewayId: opts.gatewayId,
      dataDir: opts.dataDir,
      logLevel: 'silent',
      mqtt: { enabled: false },
      coap: { enabled: false },
      kafka: { brokers: `127.0.0.1:${await freePort()}` },
      api: { host: '127.0.0.1', port: 0, adminToken: opts.token },
      modbus: { enabled: true, buses: opts.buses },
    }),
    silentLog,
  );
  await gw.start();
  return gw;
}
