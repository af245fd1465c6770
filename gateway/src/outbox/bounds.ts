// The outbox's limits: its size bound with the onFull policy, and the disk it lives on.
//
// At the bound, drop-oldest evicts the oldest readings not yet handed to the forwarder (each one
// counted per device through onEvict), refuse-new rejects the append so nothing is acknowledged.
// Below minFreeBytes of free disk, or when SQLite reports the disk full, appends are rejected until
// space is back (checked again at most every second), so deletes always find room to run. The
// forwarder's writes never throw on a full disk (DiskGuard.attempt): an exception in a Kafka
// callback would take the gateway down.
import { statfsSync } from 'node:fs';
import { OutboxFullError, type OutboxBounds, type OutboxFull } from './outbox.js';

/** How much beyond the bare need one eviction frees, so a full outbox does not evict on every commit. */
const EVICT_SLACK = 0.01;
const DISK_CHECK_MS = 1_000;

export interface Eviction {
  messages: number;
  values: number;
  bytes: number;
  byDevice: Map<string, number>;
}

export interface EvictableRow {
  id: number;
  device_id: string;
  n_values: number;
  bytes: number;
}

/**
 * The store's side of an eviction, run inside its commit transaction. Leased batches (possibly in
 * Kafka already) may sit anywhere among the rows since the outbox leases in two lanes, so the store
 * skips them itself.
 */
export interface EvictableRows {
  /** Eviction looks at rows after this id. */
  evictAfter(): number;
  /** Unleased rows after `afterId`, oldest first. */
  page(afterId: number, limit: number): EvictableRow[];
  /** Deletes the unleased rows from firstId to lastId; leased rows among them stay. */
  delete(firstId: number, lastId: number): void;
}

export class SizeBound {
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly onFull: 'drop-oldest' | 'refuse-new';
  /** refuse-new turned an append away at the bound; cleared once the outbox is below it again. */
  private atBound: OutboxFull | null = null;

  constructor(bounds: OutboxBounds) {
    this.maxMessages = bounds.maxMessages ?? 0;
    this.maxBytes = bounds.maxBytes ?? 0;
    this.onFull = bounds.onFull ?? 'drop-oldest';
  }

  /**
   * Inside the commit transaction: room for `messages` more messages of `bytes` in total beside
   * `depth`. Evicts the oldest unleased rows under drop-oldest; throws OutboxFullError under
   * refuse-new, or when leased rows alone fill the bound.
   */
  makeRoom(depth: { messages: number; bytes: number }, messages: number, bytes: number, rows: EvictableRows): Eviction | null {
    const overMessages = this.maxMessages > 0 ? depth.messages + messages - this.maxMessages : 0;
    const overBytes = this.maxBytes > 0 ? depth.bytes + bytes - this.maxBytes : 0;
    if (overMessages <= 0 && overBytes <= 0) return null;
    const what = overMessages > 0 ? `${this.maxMessages} messages` : `${this.maxBytes} bytes`;
    if (this.onFull === 'refuse-new') throw new OutboxFullError('FL_ERR_OUTBOX_FULL', `the outbox holds its limit of ${what} (onFull: refuse-new)`);
    const needMessages = overMessages > 0 ? overMessages + Math.ceil(this.maxMessages * EVICT_SLACK) : 0;
    const needBytes = overBytes > 0 ? overBytes + Math.ceil(this.maxBytes * EVICT_SLACK) : 0;
    const ev: Eviction = { messages: 0, values: 0, bytes: 0, byDevice: new Map() };
    let after = rows.evictAfter();
    const first = after + 1;
    while (ev.messages < needMessages || ev.bytes < needBytes) {
      const page = rows.page(after, 1_000);
      if (page.length === 0) break;
      for (const r of page) {
        after = r.id;
        ev.messages++;
        ev.values += r.n_values;
        ev.bytes += r.bytes;
        ev.byDevice.set(r.device_id, (ev.byDevice.get(r.device_id) ?? 0) + r.n_values);
        if (ev.messages >= needMessages && ev.bytes >= needBytes) break;
      }
    }
    if (ev.messages === 0 || (overMessages > 0 && ev.messages < overMessages) || (overBytes > 0 && ev.bytes < overBytes)) {
      throw new OutboxFullError('FL_ERR_OUTBOX_FULL', `the outbox holds its limit of ${what} in batches waiting for the cloud; nothing left to evict`);
    }
    rows.delete(first, after);
    return ev;
  }

  /** A group failed with `err`: a refusal at the bound is kept for the status until there is room. */
  failed(err: Error, nowMs: number): void {
    if (err instanceof OutboxFullError && err.code === 'FL_ERR_OUTBOX_FULL') this.atBound ??= { code: err.code, reason: err.message, sinceMs: nowMs };
  }

  /** Something left the outbox: the next append may fit (if not, it refuses again). */
  roomAgain(): void {
    this.atBound = null;
  }

  get refusal(): OutboxFull | null {
    return this.atBound;
  }
}

export interface DiskGuardOptions {
  /** The folder holding the outbox file. */
  dir: string;
  /** Appends are refused while the filesystem has less free space than this; 0: no floor. */
  minFreeBytes: number;
  freeBytes?: (dir: string) => number;
  clock: () => number;
}

export class DiskGuard {
  /** Disk below its floor, or SQLite said it was full. */
  private full: OutboxFull | null = null;
  private checkedMs = 0;
  private readonly freeBytes: (dir: string) => number;

  constructor(private readonly opts: DiskGuardOptions) {
    this.freeBytes = opts.freeBytes ?? statfsFree;
  }

  /** Throws while the disk is below its floor; re-measures at most once a second. */
  check(): void {
    const now = this.opts.clock();
    const { minFreeBytes } = this.opts;
    if (minFreeBytes > 0 && now - this.checkedMs >= DISK_CHECK_MS) {
      this.checkedMs = now;
      const free = this.freeBytes(this.opts.dir);
      if (free < minFreeBytes) {
        this.full ??= { code: 'FL_ERR_OUTBOX_DISK_FULL', reason: `${free} bytes free, below the floor of ${minFreeBytes}`, sinceMs: now };
      } else {
        this.full = null;
      }
    } else if (minFreeBytes === 0 && this.full && now - this.checkedMs >= DISK_CHECK_MS) {
      // No floor configured: after SQLite said the disk was full, simply try again.
      this.full = null;
    }
    if (this.full) throw new OutboxFullError(this.full.code, this.full.reason);
  }

  /** SQLite's "disk full" becomes the status flag and a catalogued error; anything else passes through. */
  classify(err: Error): Error {
    const code = String((err as { code?: unknown }).code ?? '');
    // ENOSPC: the seq reservation file beside the database (seq-reservation.ts).
    if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_FSYNC' || code === 'ENOSPC') {
      const now = this.opts.clock();
      const reason = code === 'ENOSPC' ? err.message : `SQLite: ${err.message}`;
      this.full = { code: 'FL_ERR_OUTBOX_DISK_FULL', reason, sinceMs: this.full?.sinceMs ?? now };
      this.checkedMs = now;
      return new OutboxFullError('FL_ERR_OUTBOX_DISK_FULL', err.message);
    }
    return err;
  }

  /**
   * One of the forwarder's writes (lease, delete, mark): on a full disk the flag is set and the
   * write reported as not done, rather than thrown.
   */
  attempt(write: () => void): boolean {
    try {
      write();
      return true;
    } catch (err) {
      if (this.classify(err as Error) instanceof OutboxFullError) return false;
      throw err;
    }
  }

  /** The flag, re-measured when due, so it clears by itself when space comes back with no append to notice. */
  status(): OutboxFull | null {
    if (this.full && this.opts.clock() - this.checkedMs >= DISK_CHECK_MS) {
      try {
        this.check();
      } catch {
        // still full
      }
    }
    return this.full;
  }
}

function statfsFree(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}
