// Disk writes for the SD-card wear figures, from the kernel's per-process I/O accounting
// (/proc/<pid>/io, Documentation/filesystems/proc.rst): `write_bytes` counts the bytes this process
// caused to be sent to the storage layer, charged when a page-cache page turns dirty;
// `cancelled_write_bytes` the dirty bytes a truncate or delete then discarded before writeback.
// Neither counts the filesystem's own journal (ext4's jbd2 writes in a kernel thread), so the
// figures are a floor for what the card sees. `wchar` counts every write() and pwrite() call's
// bytes, to disk or not (sockets and pipes included), so it is reported only as a cross-check.
import { readFileSync, realpathSync } from 'node:fs';

export interface ProcIo {
  wchar: number;
  writeBytes: number;
  cancelledWriteBytes: number;
}

function parseIo(text: string): ProcIo {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}: (\\d+)$`, 'm').exec(text);
    if (!m) throw new Error(`/proc io accounting has no ${name} field (kernel without CONFIG_TASK_IO_ACCOUNTING?)`);
    return Number(m[1]);
  };
  return { wchar: field('wchar'), writeBytes: field('write_bytes'), cancelledWriteBytes: field('cancelled_write_bytes') };
}

/** The whole process, every thread summed (worker threads, libuv's pool and librdkafka's threads included). */
export function processIo(): ProcIo {
  return parseIo(readFileSync('/proc/self/io', 'utf8'));
}

/** Another process, every thread summed (the benches' gateway and sink children). */
export function pidIo(pid: number): ProcIo {
  return parseIo(readFileSync(`/proc/${pid}/io`, 'utf8'));
}

/** The calling thread only (a worker thread reads its own). */
export function threadIo(): ProcIo {
  return parseIo(readFileSync('/proc/thread-self/io', 'utf8'));
}

export function ioDelta(before: ProcIo, after: ProcIo): ProcIo {
  return {
    wchar: after.wchar - before.wchar,
    writeBytes: after.writeBytes - before.writeBytes,
    cancelledWriteBytes: after.cancelledWriteBytes - before.cancelledWriteBytes,
  };
}

/** One set of counters with another's taken out: a process's minus one of its threads'. */
export function ioMinus(total: ProcIo, part: ProcIo): ProcIo {
  return {
    wchar: total.wchar - part.wchar,
    writeBytes: total.writeBytes - part.writeBytes,
    cancelledWriteBytes: total.cancelledWriteBytes - part.cancelledWriteBytes,
  };
}

export interface DiskWrites {
  /** write_bytes over the window: bytes sent toward the disk. */
  writeBytes: number;
  /** write_bytes − cancelled_write_bytes: what was not discarded before writeback. */
  netWriteBytes: number;
  /** All write() bytes, disk or not; a cross-check, not a disk figure. */
  wchar: number;
  /** netWriteBytes / readings. */
  bytesPerReading: number;
  readings: number;
}

export function diskWrites(delta: ProcIo, readings: number): DiskWrites {
  const net = delta.writeBytes - delta.cancelledWriteBytes;
  return {
    writeBytes: delta.writeBytes,
    netWriteBytes: net,
    wchar: delta.wchar,
    bytesPerReading: readings > 0 ? Math.round((net / readings) * 10) / 10 : 0,
    readings,
  };
}

export interface Filesystem {
  /** e.g. ext4, xfs, tmpfs. */
  type: string;
  /** The device or source of the mount, e.g. /dev/vda. */
  source: string;
  mountPoint: string;
}

/** Filesystems whose writes never reach a disk: write_bytes stays 0 there. */
const MEMORY_FILESYSTEMS = new Set(['tmpfs', 'ramfs', 'devtmpfs']);

/** The mount holding `path` (longest mount point that is a prefix of its real path), from /proc/self/mounts. */
export function filesystemOf(path: string): Filesystem {
  const real = realpathSync(path);
  let best: Filesystem | null = null;
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [source, mountPointRaw, type] = line.split(' ');
    if (!source || !mountPointRaw || !type) continue;
    // /proc/mounts escapes space, tab, newline and backslash as octal.
    const mountPoint = mountPointRaw.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const inside = mountPoint === '/' || real === mountPoint || real.startsWith(`${mountPoint}/`);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { type, source, mountPoint };
  }
  if (!best) throw new Error(`no mount found for ${real}`);
  return best;
}

/** False for tmpfs and the like, where writes never reach a disk and write_bytes stays 0. */
export function isDiskFilesystem(fs: Filesystem): boolean {
  return !MEMORY_FILESYSTEMS.has(fs.type);
}

export function describeFilesystem(fs: Filesystem): string {
  return `${fs.type} on ${fs.source} (mounted at ${fs.mountPoint})`;
}
