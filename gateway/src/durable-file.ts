// Replacing a small file so that a power cut leaves the old content or the new, never a mix or an
// empty file: write beside the final name, fsync, rename over it, fsync the directory. The outbox's
// seq reservation, the device CA's keys and index, and the config file are written this way.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface DurableWrite {
  /** The file's mode, set at creation (so a key is never readable by others, not for a moment) and again after the umask. Default: the process's usual. */
  mode?: number;
  /** Runs on the synced temp file just before it replaces `path` (e.g. to hand it to another owner). */
  beforeRename?: (tmp: string) => void;
  /** Go on when the filesystem refuses to fsync the directory (the rename is done either way). Default: throw. */
  dirSyncOptional?: boolean;
}

export function writeFileDurably(path: string, data: string | Buffer, opts: DurableWrite = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = opts.mode === undefined ? openSync(tmp, 'wx') : openSync(tmp, 'wx', opts.mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    if (opts.mode !== undefined) chmodSync(tmp, opts.mode);
    opts.beforeRename?.(tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    syncDir(dir);
  } catch (err) {
    if (!opts.dirSyncOptional) throw err;
  }
}

/** fsyncs a directory, so a rename in it survives a power cut. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
