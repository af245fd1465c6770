// Writes for the PKI directory. A key or index half-written by a power cut would lock every device
// out, so each file is written beside its final name, synced, renamed over it and the directory
// synced: a reader sees the old file or the new one, never a mix. When root runs a `device`
// command for a gateway that runs as a service user, new files are handed to the directory's
// owner, or the service could not read its own index.
import { chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileDurably } from '../durable-file.js';

/** Creates `dir` (and parents) and makes it private: 0700. */
export function ensurePrivateDir(dir: string): void {
  const made = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  chmodSync(dir, 0o700);
  // Made by root for a service user's data dir: the directory is the service user's too.
  if (made) matchOwner(dir, dirname(dir));
}

/** Writes `data` to `path` atomically with `mode` (0600 for keys, 0644 for certificates). */
export function writeAtomic(path: string, data: string | Buffer, mode: number): void {
  writeFileDurably(path, data, { mode, beforeRename: (tmp) => matchOwner(tmp, dirname(path)) });
}

/** As root, gives `path` to the owner of `dir`; as anyone else the file is already the caller's. */
export function matchOwner(path: string, dir: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(dir);
  if (uid !== 0 || gid !== 0) chownSync(path, uid, gid);
}
