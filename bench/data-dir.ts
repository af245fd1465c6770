// A fresh data directory for a bench, on a filesystem that writes to a disk: the OS temp dir when
// it is on one, else under the repository's cache (<repo>/.cache or $FIELDLINE_CACHE). On tmpfs
// the SD-card wear figures would read 0 and fsync would cost nothing, flattering every figure.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../devstack/net.js';
import { filesystemOf, isDiskFilesystem, type Filesystem } from './disk-io.js';

export function benchDataDir(prefix: string): { dir: string; filesystem: Filesystem } {
  const candidates = [tmpdir(), join(cacheDir(), 'bench-tmp')];
  for (const base of candidates) {
    mkdirSync(base, { recursive: true });
    const filesystem = filesystemOf(base);
    if (isDiskFilesystem(filesystem)) return { dir: mkdtempSync(join(base, prefix)), filesystem };
  }
  throw new Error(`no disk filesystem for the bench's data: ${candidates.join(' and ')} are in memory (tmpfs); set TMPDIR or FIELDLINE_CACHE`);
}
