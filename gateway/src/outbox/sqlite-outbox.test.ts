import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { v1 } from '../../../proto/src/wire.js';
import { OutboxFullError } from './outbox.js';
import { outboxBehaviour } from './outbox.behaviour.js';
import { SqliteOutbox } from './sqlite-outbox.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-outbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

outboxBehaviour('SQLite (synchronous=FULL)', { open: (name, bounds, resends) => new SqliteOutbox({ path: join(dir, `${name}.db`), ...bounds, resends }) });

describe('SQLite outbox: damaged files and the disk floor', () => {
  const reading = (n: number) => ({ deviceId: 'd1', tsMs: 1_700_000_000_000 + n, metrics: { seq: n }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT });

  async function usedFile(name: string): Promise<{ path: string; lastSeq: number }> {
    const path = join(dir, `${name}.db`);
    const o = new SqliteOutbox({ path });
    for (let i = 0; i < 2_000; i++) await o.append([reading(i)]);
    let lastSeq = 0;
    for (let b = o.lease(100); b; b = o.lease(100)) {
      lastSeq = b.seq;
      if (b.seq % 2) o.ack(b.seq);
    }
    o.close();
    return { path, lastSeq };
  }

  for (const damage of ['corrupted', 'truncated'] as const) {
    it(`a ${damage} file is moved aside and a fresh outbox serves, its seqs above every earlier one`, async () => {
      const { path, lastSeq } = await usedFile(damage);
      const size = statSync(path).size;
      if (damage === 'truncated') {
        truncateSync(path, Math.floor(size / 2) + 100);
      } else {
        // Garbage over the pages in the middle of the file, header left intact.
        const fd = openSync(path, 'r+');
        writeSync(fd, randomBytes(16_384), 0, 16_384, Math.floor(size / 2));
        closeSync(fd);
      }
      const o = new SqliteOutbox({ path });
      try {
        assert.ok(o.recovery, 'the damage is reported');
        assert.match(o.recovery.reason, /malformed|corrupt|quick_check|not a database/i);
        assert.ok(existsSync(o.recovery.movedTo), `kept for a post-mortem at ${o.recovery.movedTo}`);
        assert.deepEqual(o.stats().recovery, o.recovery);
        await o.append([reading(1)]);
        const b = o.lease(10)!;
        assert.ok(b.seq > lastSeq, `new seq ${b.seq} > ${lastSeq} used before`);
      } finally {
        o.close();
      }
      // A second open finds the fresh file healthy.
      const again = new SqliteOutbox({ path });
      assert.equal(again.recovery, null);
      again.close();
    });
  }

  it('a file that is not a database at all is moved aside too', async () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, randomBytes(50_000));
    const o = new SqliteOutbox({ path });
    assert.ok(o.recovery);
    await o.append([reading(1)]);
    assert.equal(o.stats().depthMessages, 1);
    o.close();
  });

  it('seqs stay above the old ones when the file is deleted by hand', async () => {
    const { path, lastSeq } = await usedFile('deleted');
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    const o = new SqliteOutbox({ path });
    await o.append([reading(1)]);
    assert.ok(o.lease(10)!.seq > lastSeq);
    o.close();
  });

  it('below the free-disk floor appends are refused with the reason, and accepted again when space is back', async () => {
    let free = 10_000_000;
    let now = 1_800_000_000_000;
    const o = new SqliteOutbox({ path: join(dir, 'floor.db'), minFreeBytes: 1_000_000, freeBytes: () => free, clock: () => now });
    try {
      await o.append([reading(1)]);
      free = 500_000;
      now += 999; // the floor is measured at most once a second
      await o.append([reading(2)]);
      now += 1;
      await assert.rejects(o.append([reading(3)]), (e: unknown) => e instanceof OutboxFullError && e.code === 'FL_ERR_OUTBOX_DISK_FULL');
      assert.equal(o.stats().full?.code, 'FL_ERR_OUTBOX_DISK_FULL');
      assert.match(o.stats().full!.reason, /500000 bytes free/);
      assert.equal(o.stats().full!.sinceMs, now);
      assert.equal(o.stats().depthMessages, 2);
      free = 10_000_000;
      now += 999;
      assert.equal(o.stats().full?.code, 'FL_ERR_OUTBOX_DISK_FULL', 'not measured again within the second');
      now += 1;
      assert.equal(o.stats().full, null, 'the flag clears by itself');
      await o.append([reading(4)]);
      assert.equal(o.stats().depthMessages, 3);
    } finally {
      o.close();
    }
  });

  it('a file from before message keys opens with its rows intact and keeps keys from then on', async () => {
    // The layout before keys, as that version created it: no rkey and rdigest columns, no sent_keys.
    const path = join(dir, 'before-keys.db');
    const db = new Database(path);
    db.exec(`
      CREATE TABLE readings (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, received_ms INTEGER NOT NULL,
        n_values INTEGER NOT NULL, payload BLOB NOT NULL);
      CREATE TABLE batches (seq INTEGER PRIMARY KEY, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL, n_values INTEGER NOT NULL, created_ms INTEGER NOT NULL);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO meta (key, value) VALUES ('next_seq', 7);
      CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, device_id TEXT NOT NULL, source INTEGER NOT NULL,
        reason_code TEXT NOT NULL, reason TEXT NOT NULL, topic TEXT NOT NULL, raw BLOB NOT NULL, forwarded INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX quarantine_pending ON quarantine (id) WHERE forwarded = 0;
    `);
    db.prepare('INSERT INTO readings (device_id, received_ms, n_values, payload) VALUES (?, ?, ?, ?)').run('d1', 1, 1, Buffer.from(v1.Reading.encode(reading(1)).finish()));
    db.close();
    // A read-only look (outbox stats) leaves the old layout as it is.
    const look = new SqliteOutbox({ path, readOnly: true });
    assert.equal(look.stats().depthMessages, 1);
    assert.equal(look.waitingHeartbeat(), null, 'no heartbeat slot in that layout');
    look.close();

    const a = new SqliteOutbox({ path });
    assert.equal(a.stats().depthMessages, 1);
    await a.append([reading(2)], { key: 'k2', digest: Buffer.from('d2'), resend: false });
    const b = a.lease(100)!;
    assert.equal(b.seq, 7);
    assert.deepEqual(b.readings.map((r) => v1.Reading.decode(r).metrics.seq), [1, 2]);
    a.ack(b.seq);
    a.close();
    const loaded: string[] = [];
    const again = new SqliteOutbox({ path, resends: { load: (keys) => loaded.push(...keys.map((k) => k.key)), screen: (g) => g.map(() => false), committed: () => {} } });
    again.close();
    assert.deepEqual(loaded, ['k2'], 'the delivered message\'s key was kept');
  });

  it('a long outage leaves exactly one heartbeat row in the file, the newest, also for a read-only look', () => {
    const path = join(dir, 'heartbeat-rows.db');
    const o = new SqliteOutbox({ path });
    // A day of heartbeats at the default 30 s interval.
    for (let i = 1; i <= 2_880; i++) o.keepHeartbeat({ gatewayId: 'gw-1', tsMs: 1_700_000_000_000 + i * 30_000, uptimeS: i * 30 });
    o.close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT ts_ms FROM heartbeat_slot').all() as { ts_ms: number }[];
    db.close();
    assert.deepEqual(rows, [{ ts_ms: 1_700_000_000_000 + 2_880 * 30_000 }]);
    const look = new SqliteOutbox({ path, readOnly: true });
    assert.equal(Number(look.waitingHeartbeat()?.uptimeS), 2_880 * 30);
    assert.equal(look.keepHeartbeat({ gatewayId: 'gw-1', tsMs: 1 }), false, 'a read-only look writes nothing');
    look.close();
  });

  it('a heartbeat that finds no room is reported not kept, and the one waiting stays', () => {
    const o = new SqliteOutbox({ path: join(dir, 'heartbeat-full.db') });
    const db = (o as unknown as { db: { pragma(s: string, o?: { simple: boolean }): unknown } }).db;
    try {
      assert.equal(o.keepHeartbeat({ gatewayId: 'gw-1', tsMs: 1, uptimeS: 1 }), true);
      db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
      // A heartbeat with many devices' loss counters needs new pages.
      const deviceLoss = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`device-${i}`, { rateLimited: i, quarantined: i, evicted: i }]));
      assert.equal(o.keepHeartbeat({ gatewayId: 'gw-1', tsMs: 2, uptimeS: 2, deviceLoss }), false);
      assert.equal(Number(o.waitingHeartbeat()?.tsMs), 1);
      assert.equal(o.stats().full?.code, 'FL_ERR_OUTBOX_DISK_FULL');
    } finally {
      o.close();
    }
  });

  it('when SQLite itself finds no room, a lease reports nothing to send instead of throwing, and leasing resumes with room', async () => {
    // Pinned by test/fault/gateway-disk.test.ts: the lease after a delivery report threw SQLITE_FULL
    // out of the Kafka callback and killed the gateway. max_page_count stands in for a full disk.
    const o = new SqliteOutbox({ path: join(dir, 'sqlite-full.db') });
    const db = (o as unknown as { db: { pragma(s: string, o?: { simple: boolean }): unknown } }).db;
    try {
      await Promise.all(Array.from({ length: 2_000 }, (_, i) => o.append([reading(i)])));
      db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
      let refused = false;
      for (let i = 0; i < 2_000 && !refused; i++) {
        await o.append([{ ...reading(1_000 + i), metrics: { seq: i, pad: Math.random() } }]).catch((e: unknown) => {
          refused = e instanceof OutboxFullError && e.code === 'FL_ERR_OUTBOX_DISK_FULL';
        });
      }
      assert.ok(refused, 'SQLite never ran out of pages');
      const before = o.stats().depthMessages;
      // One message a batch, until the batches table cannot grow either: rows are left unleased.
      for (let n = 0; n < 2_100; n++) if (o.lease(1) === null) break;
      assert.equal(o.lease(1), null);
      assert.ok(o.stats().leasedBatches < before, `all ${before} messages leased: SQLite never refused a lease`);
      assert.equal(o.stats().full?.code, 'FL_ERR_OUTBOX_DISK_FULL');
      assert.match(o.stats().full!.reason, /^SQLite: /);
      db.pragma('max_page_count = 1000000');
      assert.ok(o.lease(1_000_000), 'leasing resumes once there is room');
      assert.equal(o.stats().depthMessages, before);
    } finally {
      o.close();
    }
  });
});
