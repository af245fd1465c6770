// A serial line for tests whose two ends must agree on the baud rate (devstack/baud_pty.py), so a
// scan at the wrong rate hears nothing, as on a real wire; socat's pty pair carries bytes at any rate.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLogDir, repoRoot, spawnLogged, waitUntil } from '../../devstack/net.js';
import { python, type PtyPair } from './support.js';

export async function startBaudPtyPair(dir: string, name = 'baud-line'): Promise<PtyPair & { dropped(): number }> {
  const a = join(dir, `${name}-a`);
  const b = join(dir, `${name}-b`);
  const proc = spawnLogged(python(), ['-u', join(repoRoot(), 'devstack', 'baud_pty.py'), a, b], {
    logDir: defaultLogDir(),
    logName: `modbus-baud-pty-${name}-${process.pid}.log`,
    truncate: true,
  });
  await waitUntil(async () => existsSync(a) && existsSync(b) && proc.logTail(2000).includes('READY'), { what: 'baud-aware pty pair', timeoutMs: 10_000, intervalMs: 20, process: proc });
  return {
    a,
    b,
    dropped: () => (proc.logTail(100_000).match(/^dropped /gm) ?? []).length,
    stop: async () => void (await proc.stop('SIGTERM', 3_000)),
  };
}
