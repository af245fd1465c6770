// The lake in a local folder. A file becomes visible by rename(2) from the staging folder inside the
// lake root (same filesystem, so the rename is atomic), after the file itself and then its folder
// have been fsynced: after a power cut a name under readings/ always points at a whole file.
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LakeDestination, LakeObject } from './destination.js';

export class LocalDestination implements LakeDestination {
  readonly kind = 'local' as const;
  readonly stagingRoot: string;
  readonly exclusiveCreate = true;

  constructor(readonly root: string) {
    // Outside readings/, so no reader's glob ever sees a file being written.
    this.stagingRoot = join(root, '_staging');
  }

  get location(): string {
    return this.root;
  }

  async open(): Promise<void> {
    await mkdir(this.stagingRoot, { recursive: true });
  }

  async put(key: string, localFile: string): Promise<void> {
    const target = this.path(key);
    await fsyncPath(localFile, 'file');
    await ensureDir(dirname(target));
    await rename(localFile, target);
    await fsyncPath(dirname(target), 'dir');
  }

  async putIfAbsent(key: string, bytes: Buffer): Promise<boolean> {
    const target = this.path(key);
    await ensureDir(dirname(target));
    // link(2) fails with EEXIST when the name is taken, and the name appears with the whole
    // content at once; open(…, 'wx') would be exclusive too but show a reader a half-written file.
    const tmp = join(this.stagingRoot, `.${randomBytes(8).toString('hex')}.tmp`);
    await writeFile(tmp, bytes, { flush: true });
    try {
      await link(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    await fsyncPath(dirname(target), 'dir');
    return true;
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.path(key));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<LakeObject[]> {
    // The prefix is a folder or a name start; walk from the folder it lies in.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const out: LakeObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) {
          const key = relative(this.root, p).split(sep).join('/');
          if (!key.startsWith(prefix)) continue;
          const s = await stat(p).catch(() => null);
          if (s) out.push({ key, size: s.size, version: `${s.size}-${s.mtimeMs}` });
        }
      }
    };
    await walk(join(this.root, ...base.split('/').filter(Boolean)));
    return out;
  }

  async close(): Promise<void> {}

  private path(key: string): string {
    const parts = key.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new Error(`lake key ${JSON.stringify(key)} is not a plain relative path`);
    return join(this.root, ...parts);
  }
}

/** fsync(2) a file's data, or a folder's entries (so a rename or link in it survives a power cut). */
export async function fsyncPath(path: string, kind: 'file' | 'dir'): Promise<void> {
  const fh = await open(path, kind === 'dir' ? constants.O_RDONLY | constants.O_DIRECTORY : constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p that also fsyncs the parent of every folder it created, so the new folders survive a power cut. */
export async function ensureDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // Created: `first` and everything below it on the way to `dir`; each one's parent needs a sync.
  for (let d = dir; ; d = dirname(d)) {
    await fsyncPath(dirname(d), 'dir');
    if (d === first || dirname(d) === d) break;
  }
}
