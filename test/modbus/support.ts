// Helpers for the Modbus tests: a pymodbus slave as a child process, a socat pty pair, a recording
// ingest, and the checks every test wants (nothing left running, no unhandled rejection).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import type { Envelope, Outcome } from '../../gateway/src/pipeline/types.js';
import { defaultLogDir, freePort, spawnLogged, waitUntil } from '../../devstack/net.js';

export const silentLog = pino({ level: 'silent' });

// The pymodbus slave itself is part of the dev stack (devstack/pymodbus.ts), shared with the bench.
export { python, scratchDir, startPymodbusSlave, type PySlave, type PySlaveConfig, type PyUnit, type PyValue, type SlaveRequestLine } from '../../devstack/pymodbus.js';

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
