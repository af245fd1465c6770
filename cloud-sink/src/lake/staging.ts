// Each lake writer stages its files in a folder of its own, <staging root>/<host>-<pid>-<random>,
// so writers sharing a lake never clear each other's work. At start a writer removes the folders of
// writers that are gone: on this host, those whose process no longer exists; from other hosts (a
// shared disk), those untouched for a day.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';

const OTHER_HOST_STALE_MS = 24 * 3_600_000;
/** Loose temp files (a manifest on its way to link(2)) live for milliseconds. */
const LOOSE_FILE_STALE_MS = 3_600_000;
const OWNED = /^(.+)-(\d+)-[0-9a-f]{8}$/;

export async function claimStaging(root: string, log: Logger): Promise<string> {
  await mkdir(root, { recursive: true });
  const host = hostname();
  for (const name of await readdir(root)) {
    const path = join(root, name);
    const info = await stat(path).catch(() => null);
    if (!info) continue;
    const m = OWNED.exec(name);
    let stale: boolean;
    if (info.isDirectory() && m) {
      stale = m[1] === host ? !alive(Number(m[2])) : Date.now() - info.mtimeMs > OTHER_HOST_STALE_MS;
    } else {
      stale = Date.now() - info.mtimeMs > LOOSE_FILE_STALE_MS;
    }
    if (!stale) continue;
    await rm(path, { recursive: true, force: true });
    log.info({ path }, 'removed a stale lake staging folder');
  }
  const mine = join(root, `${host}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(mine, { recursive: true });
  return mine;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
