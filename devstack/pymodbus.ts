// A real pymodbus slave (devstack/pymodbus_slave.py) as a child process, over TCP or a serial line,
// and a Modbus/TCP one on a free port in a scratch directory of its own: the start-up shared by the
// Modbus tests and the Modbus benchmark.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultLogDir, freePort, removeOnExit, repoRoot, run, spawnLogged, waitUntil, type LoggedProcess } from './net.js';

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

/** Starts devstack/pymodbus_slave.py and waits until it serves. */
export async function startPymodbusSlave(dir: string, name: string, cfg: PySlaveConfig): Promise<PySlave> {
  const log = join(dir, `${name}.requests.jsonl`);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...cfg, parity: 'N', log }));
  const proc = spawnLogged(python(), ['-u', join(repoRoot(), 'devstack', 'pymodbus_slave.py'), file], {
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

export interface PymodbusTcpSlave {
  /** Where it listens, on 127.0.0.1. */
  port: number;
  /** The child's stdout and stderr (pymodbus' own messages, READY). */
  logFile: string;
  /** Every request the slave decoded, from its request log, oldest first. */
  requests(): SlaveRequestLine[];
  /** The child process, for tests that kill or inspect it. */
  proc: PySlave['proc'];
  /** Stops the slave (SIGTERM, then SIGKILL after 3 s) and removes its scratch directory. */
  stop(): Promise<void>;
}

/** Start-up attempts, each on a new port, when the chosen one was taken before pymodbus could bind it. */
const ATTEMPTS = 3;

/**
 * Starts the slave serving `units` (unit id → registers, size, fault) on a free port and resolves once
 * it listens there. `name` names the scratch directory and the log files.
 */
export async function startPymodbusTcpSlave(name: string, units: Record<string, PyUnit>): Promise<PymodbusTcpSlave> {
  const scratch = scratchDir(name);
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const slave = await startPymodbusSlave(scratch.dir, name, { transport: 'tcp', port, units });
      // pymodbus logs a failed bind and prints READY all the same, so READY alone does not mean it
      // serves: freePort() only says the port was free a moment ago, and another process may have
      // taken it since. Then try another port.
      const failed = /Failed to start server.*|address already in use/i.exec(slave.proc.logTail(4000));
      if (failed) {
        await slave.stop();
        if (attempt < ATTEMPTS) continue;
        throw new Error(`pymodbus slave ${name} could not listen after ${ATTEMPTS} attempts: ${failed[0]} (see ${slave.proc.logFile})`);
      }
      return {
        port,
        logFile: slave.proc.logFile,
        requests: () => slave.requests(),
        proc: slave.proc,
        stop: async () => {
          await slave.stop();
          scratch.remove();
        },
      };
    }
  } catch (err) {
    scratch.remove();
    throw err;
  }
}

/**
 * Holding registers read back by pymodbus' own client (a Modbus peer other than the gateway), so a
 * test can see what a write did to the slave.
 */
export async function readHoldingRegisters(port: number, address: number, count = 1, unit = 1): Promise<number[]> {
  const script = [
    'from pymodbus.client import ModbusTcpClient',
    `c = ModbusTcpClient("127.0.0.1", port=${port})`,
    'assert c.connect()',
    `r = c.read_holding_registers(${address}, count=${count}, slave=${unit})`,
    'assert not r.isError(), r',
    'print(" ".join(str(v) for v in r.registers))',
    'c.close()',
  ].join('\n');
  const out = await run(python(), ['-c', script], { timeoutMs: 20_000 });
  if (out.code !== 0) throw new Error(`pymodbus could not read ${count} holding register(s) at ${address} of unit ${unit} on port ${port}: ${out.stderr}`);
  return out.stdout.trim().split(/\s+/).map(Number);
}
