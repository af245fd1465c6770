// Writes for the PKI directory. A key or index half-written by a power cut would lock every device
// out, so each file is written beside its final name, synced, renamed over it and the directory
// synced: a reader sees the old file or the new one, never a mix. When root runs a `device`
// command for a gateway that runs as a service user, new files are handed to the directory's
// owner, or the service could not read its own index.
import { chmodSync, chownSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Creates `dir` (and parents) and makes it private: 0700. */
export function ensurePrivateDir(dir: string): void {
  const made = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  chmodSync(dir, 0o700);
  // Made by root for a service user's data dir: the directory is the service user's too.
  if (made) matchOwner(dir, dirname(dir));
}

/** Writes `data` to `path` atomically with `mode` (0600 for keys, 0644 for certificates). */
export function writeAtomic(path: string, data: string | Buffer, mode: number): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  // Created with the final mode: a key is never readable by others, not even for a moment.
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  chmodSync(tmp, mode); // the umask may have taken bits off
  matchOwner(tmp, dir);
  renameSync(tmp, path);
  syncDir(dir);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** As root, gives `path` to the owner of `dir`; as anyone else the file is already the caller's. */
export function matchOwner(path: string, dir: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(dir);
  if (uid !== 0 || gid !== 0) chownSync(path, uid, gid);
}
