// A pymodbus Modbus/TCP slave (test/modbus/pymodbus_slave.py) on a free port, in a scratch directory
// of its own: the one start-up shared by the Modbus/TCP tests and the Modbus benchmark.
import { freePort } from './net.js';
import { scratchDir, startPymodbusSlave, type PySlave, type PyUnit, type SlaveRequestLine } from '../modbus/support.js';

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
