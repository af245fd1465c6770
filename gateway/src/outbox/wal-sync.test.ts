import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { v1 } from '../../../proto/src/wire.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { WalSync, type WalFile } from './wal-sync.js';

/** A WAL file whose syncs wait until the test ends them, one by one, and may fail. */
class HeldFile implements WalFile {
  opened = 0;
  closed = 0;
  nowSyncs = 0;
  failNow: Error | null = null;
  readonly held: ((err: Error | null) => void)[] = [];
  open(): number {
    return ++this.opened;
  }
  sync(_fd: number, cb: (err: Error | null) => void): void {
    this.held.push(cb);
  }
  syncNow(): void {
    this.nowSyncs++;
    if (this.failNow) throw this.failNow;
  }
  close(): void {
    this.closed++;
  }
  /** Ends the oldest sync still running. */
  finish(err: Error | null = null): void {
    const cb = this.held.shift();
    assert.ok(cb, 'a sync was running');
    cb(err);
  }
}

function recorder() {
  const seen: string[] = [];
  return { seen, as: (name: string) => (err: Error | null) => seen.push(err ? `${name}:${err.message}` : name) };
}

describe('WalSync: commits made durable off the event loop', () => {
  it('commits made while a sync runs wait for the next, which covers all of them', () => {
    const file = new HeldFile();
    const w = new WalSync('/x-wal', file);
    const r = recorder();
    w.afterCommit(r.as('a'));
    assert.equal(file.held.length, 1, 'the first commit starts a sync at once');
    w.afterCommit(r.as('b'));
    w.afterCommit(r.as('c'));
    assert.equal(file.held.length, 1, 'b and c do not start syncs of their own');
    assert.deepEqual(r.seen, [], 'nothing is durable before a sync ends');
    file.finish();
    assert.deepEqual(r.seen, ['a'], 'b and c were committed after the running sync started');
    assert.equal(file.held.length, 1, 'the next sync starts by itself');
    file.finish();
    assert.deepEqual(r.seen, ['a', 'b', 'c'], 'one sync for both');
    assert.equal(file.held.length, 0, 'nothing left to sync');
    assert.equal(w.syncs, 2);
    assert.equal(file.opened, 1, 'the descriptor is kept between syncs');
  });

  it('a failed sync fails the commits it covered, and the file is reopened for the next', () => {
    const file = new HeldFile();
    const w = new WalSync('/x-wal', file);
    const r = recorder();
    w.afterCommit(r.as('a'));
    file.finish(new Error('EIO'));
    assert.deepEqual(r.seen, ['a:EIO']);
    assert.equal(file.closed, 1);
    w.afterCommit(r.as('b'));
    file.finish();
    assert.deepEqual(r.seen, ['a:EIO', 'b']);
    assert.equal(file.opened, 2);
  });

  it('syncNow settles every commit so far, and a sync that fails there throws to its caller too', () => {
    const file = new HeldFile();
    const w = new WalSync('/x-wal', file);
    const r = recorder();
    w.afterCommit(r.as('a'));
    w.syncNow();
    assert.deepEqual(r.seen, ['a'], 'durable as soon as the blocking sync returns');
    file.finish();
    assert.deepEqual(r.seen, ['a'], 'the slower background sync settles nothing twice');
    w.afterCommit(r.as('b'));
    file.failNow = new Error('EIO');
    assert.throws(() => w.syncNow(), /EIO/);
    assert.deepEqual(r.seen, ['a', 'b:EIO']);
  });

  it('a commit nobody waited for is synced by the next whenDurable, or at close', async () => {
    const file = new HeldFile();
    const w = new WalSync('/x-wal', file);
    assert.equal(w.whenDurable(), null, 'nothing committed');
    w.noteCommit();
    const d = w.whenDurable();
    assert.ok(d);
    file.finish();
    await d;
    assert.equal(w.whenDurable(), null, 'covered');
    w.noteCommit();
    w.close();
    assert.equal(file.nowSyncs, 1, 'close syncs what was committed since');
  });

  it('close settles what waits before the descriptor goes', () => {
    const file = new HeldFile();
    const w = new WalSync('/x-wal', file);
    const r = recorder();
    w.afterCommit(r.as('a'));
    w.close();
    assert.deepEqual(r.seen, ['a']);
    assert.equal(file.nowSyncs, 1);
    assert.equal(file.closed, 1);
  });
});

describe('SQLite outbox with synchronous=FULL: acknowledged only after the WAL sync', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-walsync-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const reading = (n: number) => ({ deviceId: 'd1', tsMs: 1_700_000_000_000 + n, metrics: { seq: n }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT });
  const settled = async <T>(p: Promise<T>) => {
    let state = 'pending';
    p.then(() => (state = 'resolved'), (e: Error) => (state = `rejected: ${e.message}`));
    // Let the group commit (setImmediate) and any promise reactions run.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    return state;
  };

  it('append resolves only when the sync that follows its commit ends; the rows are leasable before', async () => {
    const file = new HeldFile();
    const o = new SqliteOutbox({ path: join(dir, 'held.db'), walFile: file });
    try {
      const first = o.append([reading(1)]);
      assert.equal(await settled(first), 'pending', 'committed but not yet on the disk');
      assert.equal(file.held.length, 1);
      assert.equal(o.stats().depthMessages, 1, 'counted at commit');
      file.finish();
      assert.equal(await settled(first), 'resolved');
      assert.equal(o.durable(), null, 'nothing committed since the last sync');
      const batch = o.lease(100);
      assert.ok(batch);
      const leaseDurable = o.durable();
      assert.ok(leaseDurable, 'a fresh lease is not yet on the disk');
      assert.equal(await settled(leaseDurable), 'pending');
      assert.equal(file.held.length, 1, 'its sync runs off the event loop');
      file.finish();
      assert.equal(await settled(leaseDurable), 'resolved');
      assert.equal(o.durable(), null);
      assert.equal(file.nowSyncs, 0, 'nothing blocked the event loop');
    } finally {
      o.close();
    }
  });

  it('a failed sync rejects the appends it covered', async () => {
    const file = new HeldFile();
    const o = new SqliteOutbox({ path: join(dir, 'failed.db'), walFile: file });
    try {
      const a = o.append([reading(1)]);
      await settled(a);
      file.finish(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      assert.match(await settled(a), /^rejected: .*EIO/);
    } finally {
      o.close();
    }
  });

  it('with synchronous=NORMAL nothing waits for a sync', async () => {
    const file = new HeldFile();
    const o = new SqliteOutbox({ path: join(dir, 'normal.db'), synchronous: 'NORMAL', walFile: file });
    try {
      assert.equal(await settled(o.append([reading(1)])), 'resolved');
      assert.ok(o.lease(100));
      assert.equal(o.durable(), null, 'a lease needs no wait either');
      assert.equal(file.held.length + file.nowSyncs, 0);
    } finally {
      o.close();
    }
  });
});
