// A serial line that carries frames only at one baud rate (devstack/baud_line.py), for tests of a
// baud-rate scan: over a plain socat pty pair a slave answers at every rate tried.
import { join } from 'node:path';
import { python } from './pymodbus.js';
import { defaultLogDir, repoRoot, spawnLogged, waitUntil, type LoggedProcess } from './net.js';

export interface BaudLine {
  /** The master's (gateway's) end. */
  a: string;
  /** The slave's end. */
  b: string;
  baudRate: number;
  proc: LoggedProcess;
  stop(): Promise<void>;
}

export async function startBaudLine(dir: string, baudRate: number, name = 'baud-line'): Promise<BaudLine> {
  const a = join(dir, `${name}-a`);
  const b = join(dir, `${name}-b`);
  const proc = spawnLogged(python(), ['-u', join(repoRoot(), 'devstack', 'baud_line.py'), a, b, String(baudRate)], {
    logDir: defaultLogDir(),
    logName: `${name}-${process.pid}.log`,
    truncate: true,
  });
  await waitUntil(async () => proc.logTail(200).includes('READY'), { what: `serial line at ${baudRate} baud`, timeoutMs: 10_000, intervalMs: 20, process: proc });
  return { a, b, baudRate, proc, stop: async () => void (await proc.stop('SIGTERM', 3_000)) };
}
