// The outbox's durability without blocking the event loop. With synchronous=FULL, SQLite fsyncs
// the WAL inside every COMMIT, and better-sqlite3 runs the COMMIT on the main thread: every PUBACK,
// lease and socket write waited for the disk (about 9–13 % of the gateway's main thread at 50,000
// readings/s). Instead the connection runs at synchronous=NORMAL — in WAL mode that keeps the file
// consistent (checkpoints and the WAL header after a restart are still synced) but leaves commits to
// the page cache — and this class makes the commits durable by fdatasync-ing the WAL file on the
// libuv thread pool. An fdatasync flushes every byte written to the file before it started, through
// whichever descriptor, so one sync covers every commit made before it (group commit); commits made
// while it runs wait for the next one. A caller is told "durable" only after a sync that started
// after its commit has finished, which is what synchronous=FULL promised.
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';

interface Waiter {
  /** The commit this waiter follows (commits are numbered in the order they were made). */
  commit: number;
  done: (err: Error | null) => void;
}

/** File operations, so a test can count and fail them. */
export interface WalFile {
  open(path: string): number;
  sync(fd: number, cb: (err: Error | null) => void): void;
  syncNow(fd: number): void;
  close(fd: number): void;
}

const nodeFs: WalFile = {
  open: (path) => openSync(path, 'r'),
  sync: (fd, cb) => fdatasync(fd, cb),
  syncNow: (fd) => fdatasyncSync(fd),
  close: (fd) => closeSync(fd),
};

export class WalSync {
  private fd: number | null = null;
  private commits = 0;
  /** Every commit up to this one is known to be on stable storage. */
  private synced = 0;
  private running = false;
  private readonly waiters: Waiter[] = [];
  /** Syncs started, for /status and the tests: far fewer than commits under load. */
  syncs = 0;

  constructor(private readonly walPath: string, private readonly fs: WalFile = nodeFs) {}

  /** Call right after a COMMIT: `done` runs once that commit is on stable storage, or with the error. */
  afterCommit(done: (err: Error | null) => void): void {
    this.wait(++this.commits, done);
  }

  /** A commit nobody waits for yet (a lease): a later whenDurable() or close() covers it. */
  noteCommit(): void {
    this.commits++;
  }

  /** Null when every commit so far is already on stable storage; else a promise of it. */
  whenDurable(): Promise<void> | null {
    if (this.synced >= this.commits) return null;
    const upTo = this.commits;
    return new Promise((resolve, reject) => this.wait(upTo, (err) => (err ? reject(err) : resolve())));
  }

  /** `done` runs once a sync that started after commit `upTo` has ended. */
  private wait(upTo: number, done: (err: Error | null) => void): void {
    this.waiters.push({ commit: upTo, done });
    this.start();
  }

  /** Blocks until everything committed so far is on stable storage. */
  syncNow(): void {
    const upTo = this.commits;
    let err: Error | null = null;
    try {
      this.syncs++;
      this.fs.syncNow(this.descriptor());
    } catch (e) {
      err = e as Error;
      this.forget();
    }
    this.settle(upTo, err);
    // A sync that failed here must fail the caller too: what it needed is not durable.
    if (err) throw err;
  }

  /** Everything committed is made durable first (or its waiters fail); later calls must not be made. */
  close(): void {
    if (this.synced < this.commits) {
      try {
        this.syncNow();
      } catch {
        // The waiters were told; close still releases the descriptor.
      }
    }
    this.forget();
  }

  private start(): void {
    if (this.running || this.waiters.length === 0) return;
    const upTo = this.commits;
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (e) {
      this.settle(upTo, e as Error);
      return;
    }
    this.running = true;
    this.syncs++;
    this.fs.sync(fd, (err) => {
      this.running = false;
      if (err) this.forget();
      this.settle(upTo, err);
      this.start();
    });
  }

  /** Waiters are kept in commit order, so the settled ones are a prefix. */
  private settle(upTo: number, err: Error | null): void {
    if (!err) this.synced = Math.max(this.synced, upTo);
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.commit <= upTo) n++;
    for (const w of this.waiters.splice(0, n)) w.done(err);
  }

  /** Opened on first use: the -wal file exists once the connection has written. */
  private descriptor(): number {
    this.fd ??= this.fs.open(this.walPath);
    return this.fd;
  }

  /** After an error the descriptor is reopened on the next sync, in case the file was replaced. */
  private forget(): void {
    if (this.fd === null) return;
    try {
      this.fs.close(this.fd);
    } catch {
      // Already closed or invalid: nothing to release.
    }
    this.fd = null;
  }
}
