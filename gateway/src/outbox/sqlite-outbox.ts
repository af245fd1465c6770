// The SQLite outbox (better-sqlite3, WAL): the readings table, group commit, lease, ack and replay.
// Durability before acknowledgement is its whole purpose: append() resolves only after the
// transaction holding the reading has committed and, with synchronous=FULL, after the WAL is on
// stable storage. That sync runs off the event loop (wal-sync.ts): the connection itself runs at
// synchronous=NORMAL and each group's waiters are released by an fdatasync on the thread pool.
//
// A file that fails SQLite's quick_check at open, or that is not a database at all, is moved
// aside and a fresh outbox started; the seq reservation (seq-reservation.ts) keeps seqs unique.
// The size bound and the full disk are bounds.ts; message keys, kept for the ingest's
// ResendScreen so a resend is acknowledged without storing it again, are sent-keys.ts; the one
// heartbeat that waits while the cloud is out of reach is heartbeat-slot.ts.
//
// Leases come in two lanes (LeaseOptions in outbox.ts): live readings are leased ahead of a backlog.
// A batch is still one contiguous id range of rows no other batch holds, but leased ranges may now
// have unleased rows between them, so "the first unleased row" is found by skipping the few leased
// ranges (the batches table holds only what is in flight) rather than read off MAX(last_id). The
// live lane keeps its own pointer in meta (live_after) so it leases strictly in id order.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { countValues, v1, type Heartbeat, type QuarantinedReading, type Reading } from '../../../proto/src/wire.js';
import type { UntrustedStamp } from '../clock/retime.js';
import type { GatewayConfig } from '../config/schema.js';
import { DiskGuard, SizeBound, type EvictableRows, type Eviction } from './bounds.js';
import { HEARTBEAT_SLOT_SCHEMA, HeartbeatSlotTable, hasHeartbeatSlot } from './heartbeat-slot.js';
import { DEFAULT_LIVE_WINDOW_MS, type LeasedBatch, type LeaseOptions, type MessageKey, type Outbox, type OutboxBounds, type OutboxRecovery, type OutboxStats, type QuarantineRow, type ResendScreen } from './outbox.js';
import { hasKeyColumns, hex, migrateKeyColumns, SENT_KEYS_SCHEMA, SentKeys } from './sent-keys.js';
import { SeqReservation } from './seq-reservation.js';
import { WalSync, type WalFile } from './wal-sync.js';

export interface SqliteOutboxOptions extends OutboxBounds {
  path: string;
  synchronous?: 'FULL' | 'NORMAL';
  groupCommitMaxRows?: number;
  quarantineKeep?: number;
  /** Appends are refused while the filesystem has less free space than this; 0: no floor. */
  minFreeBytes?: number;
  /** Free bytes on the filesystem holding `dir` (tests pass a fake). Default: statfs. */
  freeBytes?: (dir: string) => number;
  /** Only look (stats, leases are refused): no check, no repair, no writes. For `outbox stats`. */
  readOnly?: boolean;
  /** Tells resends among keyed appends. Without one every message is stored (its key is kept all the same). */
  resends?: ResendScreen;
  /** Milliseconds since the epoch (tests pass a fake). Default: Date.now. */
  clock?: () => number;
  /**
   * Applied at lease time to each reading appended with an UntrustedStamp (clock/retime.ts): its
   * encoded Reading with the time corrected or flagged, which replaces the stored one, or 'hold'
   * to end the batch before it. Without it such readings go as stored.
   */
  retime?: (row: { payload: Uint8Array } & UntrustedStamp) => Uint8Array | 'hold';
  /** After the oldest reading was held, leases answer null for this long (ms, monotonic). Default 1,000. */
  holdRecheckMs?: number;
  /** How the WAL is synced with synchronous=FULL (tests pass a fake to hold or fail a sync). Default: node:fs. */
  walFile?: WalFile;
}

/** The outbox as gateway.yaml's `outbox` section describes it, under `dataDir` unless it names a path. */
export function outboxOptions(cfg: GatewayConfig['outbox'], dataDir: string): SqliteOutboxOptions {
  return {
    path: cfg.path ?? join(dataDir, 'outbox.db'),
    synchronous: cfg.synchronous,
    groupCommitMaxRows: cfg.groupCommitMaxRows,
    quarantineKeep: cfg.quarantineKeep,
    maxMessages: cfg.maxMessages,
    maxBytes: cfg.maxBytes,
    onFull: cfg.onFull,
    minFreeBytes: cfg.minFreeBytes,
  };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  n_values INTEGER NOT NULL,
  payload BLOB NOT NULL,
  rkey TEXT,
  rdigest BLOB,
  mono_ms REAL,
  boot_id TEXT
);
CREATE TABLE IF NOT EXISTS batches (
  seq INTEGER PRIMARY KEY,
  first_id INTEGER NOT NULL,
  last_id INTEGER NOT NULL,
  n_values INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  backlog INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1);
INSERT OR IGNORE INTO meta (key, value) VALUES ('live_after', 0);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  source INTEGER NOT NULL,
  reason_code TEXT NOT NULL,
  reason TEXT NOT NULL,
  topic TEXT NOT NULL,
  raw BLOB NOT NULL,
  forwarded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS quarantine_pending ON quarantine (id) WHERE forwarded = 0;
`;

/** How long a lease whose first reading the retime hook held waits before asking again. */
const HOLD_RECHECK_MS = 1_000;

/** Rows of one multi-row INSERT into readings, and its columns per row. */
const ROWS_PER_INSERT = 50;
const READING_COLUMNS = 8;

/** better-sqlite3 binds Buffers; a digest usually is one already, and then needs no copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
}

type Pending =
  | {
      kind: 'reading';
      reading: Reading;
      key?: MessageKey;
      /** Stamped on an untrusted clock: kept in mono_ms and boot_id until corrected at lease. */
      stamp?: UntrustedStamp;
      /** The screen recognised a resend of a message already committed: acknowledged, not stored. */
      resend?: boolean;
      /** With false: recognised as a resend, nothing stored. */
      resolve: (stored: boolean) => void;
      reject: (e: Error) => void;
    }
  | { kind: 'quarantine'; record: QuarantinedReading; resolve: () => void; reject: (e: Error) => void };

export class SqliteOutbox implements Outbox {
  private db!: Database.Database;
  private readonly maxRows: number;
  private readonly quarantineKeep: number;
  private readonly seqs: SeqReservation;
  private readonly bound: SizeBound;
  private readonly disk: DiskGuard;
  private readonly now: () => number;
  /** Null in a read-only look, which never reloads or keeps keys. */
  private readonly keys: SentKeys | null;
  /** Null in a read-only look at a file from before the slot. */
  private heartbeatSlot: HeartbeatSlotTable | null = null;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private stmt!: ReturnType<SqliteOutbox['prepare']>;
  private commitGroup!: (items: Pending[], encoded: (Uint8Array | null)[]) => Eviction | null;
  private leaseTx!: Database.Transaction<(maxValues: number, now: number, opts: LeaseOptions) => LeasedBatch | null>;
  private ackTx!: (seq: number) => { n: number; v: number; b: number } | null;
  private markForwardedTx!: (ids: readonly number[]) => void;
  /** The store's side of an eviction, for the bound. */
  private readonly evictable: EvictableRows = {
    evictAfter: () => 0,
    page: (afterId, limit) => this.stmt.evictable.all(afterId, limit) as ReturnType<EvictableRows['page']>,
    delete: (firstId, lastId) => void this.stmt.deleteUnleased.run(firstId, lastId),
  };
  /** Kept in memory so stats() costs nothing on the hot path. */
  private depthMessages = 0;
  private depthValues = 0;
  private depthBytes = 0;
  private evictedValues = 0;
  private quarantineInserts = 0;
  private deferredAcks: number[] = [];
  private deferredMarks = new Set<number>();
  private resendsDropped = 0;
  /** Payload bytes the lease transaction's time corrections added (or removed), counted once it commits. */
  private retimedBytes = 0;
  /** When a lease last found its first reading held by the retime hook (performance.now()), or null. */
  private heldSince: number | null = null;
  /** With synchronous=FULL: makes commits durable off the event loop. Null with NORMAL or read-only. */
  private walSync: WalSync | null = null;
  readonly recovery: OutboxRecovery | null;

  constructor(private readonly opts: SqliteOutboxOptions) {
    mkdirSync(dirname(opts.path), { recursive: true });
    this.maxRows = opts.groupCommitMaxRows ?? 5_000;
    this.quarantineKeep = opts.quarantineKeep ?? 10_000;
    this.now = opts.clock ?? Date.now;
    this.bound = new SizeBound(opts);
    this.disk = new DiskGuard({ dir: dirname(opts.path), minFreeBytes: opts.minFreeBytes ?? 0, freeBytes: opts.freeBytes, clock: this.now });
    this.seqs = new SeqReservation(`${opts.path}.seq`);
    this.recovery = opts.readOnly ? (this.open(), null) : this.openChecked();
    const depth = this.stmt.depth.get() as { n: number; v: number; b: number };
    this.depthMessages = depth.n;
    this.depthValues = depth.v;
    this.depthBytes = depth.b;
    if (opts.readOnly) {
      this.keys = null;
    } else {
      this.adoptSeqFloor();
      this.keys = new SentKeys(this.db);
      const stored = this.keys.load();
      opts.resends?.load(stored);
    }
  }

  /**
   * Opens the file and runs quick_check. A file SQLite calls corrupt or not a database is renamed
   * to <path>.corrupt-<time> (with its -wal and -shm) and a fresh outbox is opened in its place.
   */
  private openChecked(): OutboxRecovery | null {
    try {
      this.open();
      const check = this.db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw Object.assign(new Error(`quick_check: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
      return null;
    } catch (err) {
      const code = String((err as { code?: unknown }).code ?? '');
      if (!/^SQLITE_(CORRUPT|NOTADB)/.test(code)) throw err;
      try {
        this.db?.close();
      } catch {
        // Closing a broken handle may fail too; the file is moved aside either way.
      }
      const atMs = this.now();
      const movedTo = `${this.opts.path}.corrupt-${new Date(atMs).toISOString().replace(/[:.]/g, '-')}`;
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(this.opts.path + suffix)) renameSync(this.opts.path + suffix, movedTo + suffix);
      }
      this.open();
      return { atMs, reason: (err as Error).message, movedTo };
    }
  }

  private open(): void {
    if (this.opts.readOnly) {
      this.db = new Database(this.opts.path, { readonly: true, fileMustExist: true });
    } else {
      this.db = new Database(this.opts.path);
      this.db.pragma('journal_mode = WAL');
      // FULL is kept by syncing the WAL ourselves, off the event loop; SQLite's own commits do not wait.
      this.db.pragma('synchronous = NORMAL');
      this.walSync?.close();
      this.walSync = (this.opts.synchronous ?? 'FULL') === 'FULL' ? new WalSync(`${this.opts.path}-wal`, this.opts.walFile) : null;
      this.db.exec(SCHEMA);
      this.db.exec(SENT_KEYS_SCHEMA);
      this.db.exec(HEARTBEAT_SLOT_SCHEMA);
      migrateKeyColumns(this.db);
      migrateClockColumns(this.db);
      migrateBacklogColumn(this.db);
    }
    this.stmt = this.prepare();
    this.heartbeatSlot = hasHeartbeatSlot(this.db) ? new HeartbeatSlotTable(this.db) : null;
    this.defineTransactions();
  }

  /** A fresh file starts its seqs above every seq an earlier file may have used. */
  private adoptSeqFloor(): void {
    const next = (this.stmt.nextSeq.get() as { value: number }).value;
    if (next < this.seqs.floor) this.stmt.setNextSeq.run(this.seqs.floor);
  }

  private prepare() {
    // Only a file opened read-only can lack the key columns, and it is never written to.
    const keyed = !this.opts.readOnly || hasKeyColumns(this.db);
    // Nor the lanes' column; such a file is only looked at, never leased from.
    const laned = !this.opts.readOnly || hasBacklogColumn(this.db);
    return {
      insertReading: this.db.prepare(
        keyed
          ? 'INSERT INTO readings (device_id, received_ms, n_values, payload, rkey, rdigest, mono_ms, boot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
          : 'INSERT INTO readings (device_id, received_ms, n_values, payload) VALUES (?, ?, ?, ?)',
      ),
      insertReadings: keyed
        ? this.db.prepare(
          `INSERT INTO readings (device_id, received_ms, n_values, payload, rkey, rdigest, mono_ms, boot_id) VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        )
        : null,
      insertQuarantine: this.db.prepare(
        'INSERT INTO quarantine (ts_ms, device_id, source, reason_code, reason, topic, raw) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      trimQuarantine: this.db.prepare('DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?'),
      // Only in a writable file, which always has the clock columns.
      retimed: keyed ? this.db.prepare('UPDATE readings SET payload = ?, mono_ms = NULL, boot_id = NULL WHERE id = ?') : null,
      ranges: this.db.prepare('SELECT first_id, last_id FROM batches ORDER BY first_id'),
      rowAfter: this.db.prepare('SELECT id, received_ms FROM readings WHERE id > ? ORDER BY id LIMIT 1'),
      rowAtOrAfter: this.db.prepare('SELECT id, received_ms FROM readings WHERE id >= ? ORDER BY id LIMIT 1'),
      lastRow: this.db.prepare('SELECT id, received_ms FROM readings ORDER BY id DESC LIMIT 1'),
      rangeRows: this.db.prepare(
        hasClockColumns(this.db)
          ? 'SELECT id, n_values, payload, received_ms, mono_ms, boot_id FROM readings WHERE id >= ? AND id < ? ORDER BY id LIMIT ?'
          : 'SELECT id, n_values, payload, received_ms, NULL AS mono_ms, NULL AS boot_id FROM readings WHERE id >= ? AND id < ? ORDER BY id LIMIT ?',
      ),
      liveAfter: this.db.prepare("SELECT value FROM meta WHERE key = 'live_after'"),
      setLiveAfter: this.db.prepare("INSERT INTO meta (key, value) VALUES ('live_after', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      // Rows inside a leased batch may already be in Kafka: never evicted (the batches table is small).
      evictable: this.db.prepare(
        `SELECT id, device_id, n_values, LENGTH(payload) AS bytes FROM readings r WHERE id > ? AND ${UNLEASED} ORDER BY id LIMIT ?`,
      ),
      deleteUnleased: this.db.prepare(`DELETE FROM readings AS r WHERE id BETWEEN ? AND ? AND ${UNLEASED}`),
      nextSeq: this.db.prepare("SELECT value FROM meta WHERE key = 'next_seq'"),
      setNextSeq: this.db.prepare("UPDATE meta SET value = ? WHERE key = 'next_seq'"),
      insertBatch: this.db.prepare(
        laned
          ? 'INSERT INTO batches (seq, first_id, last_id, n_values, created_ms, backlog) VALUES (?, ?, ?, ?, ?, ?)'
          : 'INSERT INTO batches (seq, first_id, last_id, n_values, created_ms) VALUES (?, ?, ?, ?, ?)',
      ),
      batches: this.db.prepare(`SELECT seq, first_id, last_id, n_values, created_ms, ${laned ? 'backlog' : '0 AS backlog'} FROM batches ORDER BY seq`),
      batchSeqs: this.db.prepare('SELECT seq FROM batches ORDER BY seq'),
      batchRows: this.db.prepare('SELECT payload FROM readings WHERE id BETWEEN ? AND ? ORDER BY id'),
      batch: this.db.prepare('SELECT first_id, last_id, n_values FROM batches WHERE seq = ?'),
      rangeBytes: this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(payload)), 0) AS b FROM readings WHERE id BETWEEN ? AND ?'),
      deleteRows: this.db.prepare('DELETE FROM readings WHERE id BETWEEN ? AND ?'),
      deleteBatch: this.db.prepare('DELETE FROM batches WHERE seq = ?'),
      recentQuarantine: this.db.prepare(
        'SELECT id, ts_ms, device_id, source, reason_code, reason, topic, raw FROM quarantine ORDER BY id DESC LIMIT ?',
      ),
      pendingQuarantine: this.db.prepare(
        'SELECT id, ts_ms, device_id, source, reason_code, reason, topic, raw FROM quarantine WHERE forwarded = 0 ORDER BY id LIMIT ?',
      ),
      markForwarded: this.db.prepare('UPDATE quarantine SET forwarded = 1 WHERE id = ?'),
      pendingCount: this.db.prepare('SELECT COUNT(*) AS n FROM quarantine WHERE forwarded = 0'),
      oldest: this.db.prepare('SELECT received_ms FROM readings ORDER BY id LIMIT 1'),
      depth: this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(n_values), 0) AS v, COALESCE(SUM(LENGTH(payload)), 0) AS b FROM readings'),
      leasedCount: this.db.prepare('SELECT COUNT(*) AS n FROM batches'),
    };
  }

  private defineTransactions(): void {
    this.commitGroup = this.db.transaction((items: Pending[], encoded: (Uint8Array | null)[]) => {
      this.screenResends(items, encoded);
      let messages = 0;
      let bytes = 0;
      for (const e of encoded) {
        if (e) {
          messages++;
          bytes += e.length;
        }
      }
      const eviction = this.bound.makeRoom({ messages: this.depthMessages, bytes: this.depthBytes }, messages, bytes, this.evictable);
      const now = this.now();
      // Readings go in ROWS_PER_INSERT to a statement: one bind and step per row cost twice as much.
      const params: unknown[] = [];
      items.forEach((item, i) => {
        if (item.kind === 'reading') {
          if (item.resend) return;
          const r = item.reading;
          const k = item.key;
          params.push(r.deviceId, now, countValues([r]), encoded[i]!, k?.key ?? null, k ? asBuffer(k.digest) : null, item.stamp?.monoMs ?? null, item.stamp?.bootId ?? null);
          if (params.length === ROWS_PER_INSERT * READING_COLUMNS && this.stmt.insertReadings) {
            this.stmt.insertReadings.run(params);
            params.length = 0;
          }
        } else {
          const q = item.record;
          this.stmt.insertQuarantine.run(
            q.tsMs ?? now, q.deviceId ?? '', q.source ?? 0, q.reasonCode ?? '', q.reason ?? '', q.topic ?? '',
            Buffer.from(q.raw ?? new Uint8Array()),
          );
          this.quarantineInserts++;
        }
      });
      for (let at = 0; at < params.length; at += READING_COLUMNS) this.stmt.insertReading.run(params.slice(at, at + READING_COLUMNS));
      if (this.quarantineInserts >= 1_000) {
        this.stmt.trimQuarantine.run(this.quarantineKeep);
        this.quarantineInserts = 0;
      }
      return eviction;
    });

    this.leaseTx = this.db.transaction((maxValues: number, now: number, opts: LeaseOptions) => {
      const cutoff = now - (opts.liveWindowMs ?? DEFAULT_LIVE_WINDOW_MS);
      const ranges = this.stmt.ranges.all() as LeasedRange[];
      const start = opts.lane === 'live'
        ? this.firstUnleased(this.firstLiveRow((this.stmt.liveAfter.get() as { value: number } | undefined)?.value ?? 0, cutoff), ranges)
        : this.firstUnleased(this.stmt.rowAfter.get(0) as RowTime | undefined, ranges);
      if (!start) return null;
      const backlog = start.received_ms < cutoff;
      if (opts.lane === 'backlog' && !backlog) return null;
      // A batch is a contiguous range of rows no batch holds: it ends before the next leased range.
      const stop = ranges.find((r) => r.first_id > start.id)?.first_id ?? Number.MAX_SAFE_INTEGER;
      // A message is never split across batches; one that alone exceeds maxValues goes alone.
      const rows = this.stmt.rangeRows.all(start.id, stop, maxValues) as {
        id: number; n_values: number; payload: Uint8Array; received_ms: number; mono_ms: number | null; boot_id: string | null;
      }[];
      const taken: typeof rows = [];
      let values = 0;
      this.retimedBytes = 0;
      for (const row of rows) {
        if (taken.length > 0 && values + row.n_values > maxValues) break;
        // The backlog lane leaves live readings to the live lane.
        if (opts.lane === 'backlog' && taken.length > 0 && row.received_ms >= cutoff) break;
        if (row.mono_ms !== null && this.opts.retime && this.stmt.retimed) {
          const out = this.opts.retime({ payload: row.payload, monoMs: row.mono_ms, bootId: row.boot_id ?? '' });
          if (out === 'hold') {
            if (taken.length === 0) this.heldSince = performance.now();
            break;
          }
          // Stored, so a resend of this batch after a restart carries the same corrected bytes.
          this.stmt.retimed.run(asBuffer(out), row.id);
          this.retimedBytes += out.length - row.payload.length;
          row.payload = out;
        }
        taken.push(row);
        values += row.n_values;
      }
      if (taken.length === 0) return null;
      const seq = (this.stmt.nextSeq.get() as { value: number }).value;
      this.seqs.ensure(seq);
      this.stmt.setNextSeq.run(seq + 1);
      const first = taken[0]!.id;
      const last = taken[taken.length - 1]!.id;
      this.stmt.insertBatch.run(seq, first, last, values, now, backlog ? 1 : 0);
      if (opts.lane === 'live') this.stmt.setLiveAfter.run(last);
      return { seq, createdMs: now, values, readings: taken.map((r) => r.payload), backlog };
    });

    // Returns what left, so the in-memory depth changes only once the delete has committed.
    this.ackTx = this.db.transaction((seq: number) => {
      const b = this.stmt.batch.get(seq) as { first_id: number; last_id: number; n_values: number } | undefined;
      if (!b) return null;
      const gone = this.stmt.rangeBytes.get(b.first_id, b.last_id) as { n: number; b: number };
      this.keys?.keepDelivered(b.first_id, b.last_id);
      this.stmt.deleteRows.run(b.first_id, b.last_id);
      this.stmt.deleteBatch.run(seq);
      return { n: gone.n, v: b.n_values, b: gone.b };
    });

    this.markForwardedTx = this.db.transaction((ids: readonly number[]) => {
      for (const id of ids) this.stmt.markForwarded.run(id);
    });
  }

  /**
   * Inside the commit transaction, before anything is counted or stored: the keyed messages the
   * screen calls resends are marked, and their encoded bytes cleared so they take no room.
   */
  private screenResends(items: Pending[], encoded: (Uint8Array | null)[]): void {
    const screen = this.opts.resends;
    if (!screen || !this.keys) return;
    const at: number[] = [];
    const keys: MessageKey[] = [];
    items.forEach((item, i) => {
      if (item.kind !== 'reading' || !item.key) return;
      at.push(i);
      keys.push(item.key);
    });
    if (keys.length === 0) return;
    const verdicts = screen.screen(keys, this.keys);
    at.forEach((i, j) => {
      const item = items[i] as Extract<Pending, { kind: 'reading' }>;
      item.resend = verdicts[j] === true;
      if (item.resend) encoded[i] = null;
    });
  }

  /** After a group committed: its keys are remembered, and the screen hears its verdicts. */
  private keysCommitted(group: Pending[]): void {
    const keys: MessageKey[] = [];
    const verdicts: boolean[] = [];
    for (const item of group) {
      if (item.kind !== 'reading' || !item.key) continue;
      if (!item.resend) this.keys?.remember(item.key.key, hex(item.key.digest));
      keys.push(item.key);
      verdicts.push(item.resend === true);
    }
    if (keys.length > 0) this.opts.resends?.committed(keys, verdicts);
  }

  append(readings: Reading[], key?: MessageKey, stamp?: UntrustedStamp): Promise<boolean> {
    if (readings.length === 0) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('outbox is closed'));
      if (key && readings.length !== 1) return reject(new Error('a message key belongs to exactly one device message'));
      // All readings of one call commit together; resolve after the last one's group commits.
      let left = readings.length;
      // A call with a key holds one reading, so its one outcome is the call's.
      const done = (stored: boolean) => {
        if (--left === 0) resolve(stored);
      };
      for (const reading of readings) this.pending.push({ kind: 'reading', reading, ...(key ? { key } : {}), ...(stamp ? { stamp } : {}), resolve: done, reject });
      this.schedule();
    });
  }

  quarantine(record: QuarantinedReading): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('outbox is closed'));
      this.pending.push({ kind: 'quarantine', record, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.pending.length >= this.maxRows) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate lets every message already read off the sockets join this group commit.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.pending.length > 0) {
      const group = this.pending.splice(0, this.maxRows);
      let eviction: Eviction | null;
      try {
        this.disk.check();
        const encoded = group.map((item) => (item.kind === 'reading' ? v1.Reading.encode(item.reading).finish() : null));
        eviction = this.commitGroup(group, encoded);
        for (const e of encoded) {
          if (e) {
            this.depthMessages++;
            this.depthBytes += e.length;
          }
        }
      } catch (err) {
        const e = this.disk.classify(err as Error);
        this.bound.failed(e, this.now());
        for (const item of group) item.reject(e);
        continue;
      }
      for (const item of group) {
        if (item.kind !== 'reading') continue;
        if (item.resend) {
          this.resendsDropped++;
          continue;
        }
        this.depthValues += countValues([item.reading]);
      }
      this.keysCommitted(group);
      if (eviction) {
        this.depthMessages -= eviction.messages;
        this.depthValues -= eviction.values;
        this.depthBytes -= eviction.bytes;
        this.evictedValues += eviction.values;
        this.opts.onEvict?.(eviction.byDevice);
      }
      if (!this.walSync) {
        settleGroup(group, null);
        continue;
      }
      // Committed, counted and visible to leases now; acknowledged once the WAL is on the disk.
      this.walSync.afterCommit((err) => settleGroup(group, err && this.disk.classify(err)));
    }
  }

  unacked(): LeasedBatch[] {
    const rows = this.stmt.batches.all() as BatchRow[];
    return rows.map((b) => ({
      seq: b.seq,
      createdMs: b.created_ms,
      values: b.n_values,
      readings: (this.stmt.batchRows.all(b.first_id, b.last_id) as { payload: Buffer }[]).map((r) => r.payload),
      backlog: b.backlog === 1,
    }));
  }

  leasedSeqs(): number[] {
    const seqs = (this.stmt.batchSeqs.all() as { seq: number }[]).map((r) => r.seq);
    return this.deferredAcks.length ? seqs.filter((s) => !this.deferredAcks.includes(s)) : seqs;
  }

  /**
   * Every leased, unacked batch, read in one snapshot (a read transaction), so an ack by a running
   * gateway in another process cannot tear a batch between its row and its readings. `use` gets the
   * batches without their readings, and reads each one's readings when it wants them.
   */
  withUnacked<T>(use: (batches: readonly Omit<LeasedBatch, 'readings'>[], readingsOf: (seq: number) => Uint8Array[]) => T): T {
    return this.db.transaction(() => {
      const rows = this.stmt.batches.all() as BatchRow[];
      const bySeq = new Map(rows.map((b) => [b.seq, b]));
      return use(
        rows.map((b) => ({ seq: b.seq, createdMs: b.created_ms, values: b.n_values, backlog: b.backlog === 1 })),
        (seq) => {
          const b = bySeq.get(seq);
          return b ? (this.stmt.batchRows.all(b.first_id, b.last_id) as { payload: Buffer }[]).map((r) => r.payload) : [];
        },
      );
    })();
  }

  /**
   * The first row at or after `row` that no leased batch holds. Leased ranges are few (what is in
   * flight), so this is a handful of index seeks.
   */
  private firstUnleased(row: RowTime | undefined, ranges: readonly LeasedRange[]): RowTime | undefined {
    let at = row;
    while (at) {
      const id = at.id;
      const holder = ranges.find((r) => r.first_id <= id && id <= r.last_id);
      if (!holder) return at;
      at = this.stmt.rowAfter.get(holder.last_id) as RowTime | undefined;
    }
    return undefined;
  }

  /**
   * The first row after `afterId` committed at or after `cutoff`. Rows are committed in id order, so
   * commit times rise with ids and a binary search over ids finds it in ~log2(rows) seeks, without an
   * index on received_ms that every commit would pay for. Were the wall clock to step back, the
   * search still returns some row after `afterId`, so nothing is leased twice; only which lane
   * takes the rows around the step may differ.
   */
  private firstLiveRow(afterId: number, cutoff: number): RowTime | undefined {
    const first = this.stmt.rowAfter.get(afterId) as RowTime | undefined;
    if (!first || first.received_ms >= cutoff) return first;
    const last = this.stmt.lastRow.get() as RowTime;
    if (last.received_ms < cutoff) return undefined;
    // The row at or after `old` is older than cutoff; the one at or after `fresh` is not.
    let old = first.id;
    let fresh = last.id;
    while (fresh - old > 1) {
      const mid = Math.floor((old + fresh) / 2);
      if ((this.stmt.rowAtOrAfter.get(mid) as RowTime).received_ms >= cutoff) fresh = mid;
      else old = mid;
    }
    return this.stmt.rowAtOrAfter.get(fresh) as RowTime;
  }

  /** Deletes and marks that found no room, done in order before anything new is leased. */
  private retryDeferred(): boolean {
    while (this.deferredAcks.length > 0) {
      if (!this.disk.attempt(() => this.applyAck(this.deferredAcks[0]!))) return false;
      this.deferredAcks.shift();
    }
    if (this.deferredMarks.size > 0) {
      if (!this.disk.attempt(() => this.markForwardedTx([...this.deferredMarks]))) return false;
      this.deferredMarks.clear();
    }
    return true;
  }

  private applyAck(seq: number): void {
    const gone = this.ackTx(seq);
    if (!gone) return;
    this.depthMessages -= gone.n;
    this.depthValues -= gone.v;
    this.depthBytes -= gone.b;
  }

  /** Null also while the disk has no room for the lease (the flag says so); the forwarder asks again. */
  lease(maxValues: number, opts: LeaseOptions = {}): LeasedBatch | null {
    if (!this.retryDeferred()) return null;
    // The oldest reading waits for the clock: asking again at every pump (each 20 ms) would read a
    // batch's worth of rows each time for nothing. Monotonic, since the wall clock is what is wrong.
    if (this.heldSince !== null && performance.now() - this.heldSince < (this.opts.holdRecheckMs ?? HOLD_RECHECK_MS)) return null;
    this.heldSince = null;
    let batch: LeasedBatch | null = null;
    // IMMEDIATE: `outbox export` may lease from a second process; a deferred transaction that read
    // the leased ranges before the other process's lease committed could not upgrade to a write.
    if (this.disk.attempt(() => (batch = this.leaseTx.immediate(maxValues, this.now(), opts)))) this.depthBytes += this.retimedBytes;
    if (batch) this.walSync?.noteCommit();
    this.retimedBytes = 0;
    return batch;
  }

  /**
   * Null when every lease made so far is on stable storage (always, with synchronous=NORMAL); else a
   * promise of it, resolved by the next fdatasync of the WAL (wal-sync.ts), off the event loop.
   */
  durable(): Promise<void> | null {
    return this.walSync?.whenDurable() ?? null;
  }

  /** Blocks until everything committed so far is on stable storage: for a command that leases and exits. */
  syncNow(): void {
    this.walSync?.syncNow();
  }

  /**
   * A delivered batch whose delete finds no room stays leased and is deleted before the next lease;
   * were the gateway to stop first, it is resent and the sink's ledger drops the copy.
   */
  ack(seq: number): void {
    if (!this.retryDeferred() || !this.disk.attempt(() => this.applyAck(seq))) this.deferredAcks.push(seq);
    this.bound.roomAgain();
  }

  recentQuarantine(limit: number): QuarantineRow[] {
    return (this.stmt.recentQuarantine.all(limit) as QuarantineDbRow[]).map(toQuarantineRow);
  }

  pendingQuarantine(limit: number): QuarantineRow[] {
    const rows = (this.stmt.pendingQuarantine.all(limit) as QuarantineDbRow[]).map(toQuarantineRow);
    // Delivered, only not yet marked for want of disk space: not to be sent again.
    return this.deferredMarks.size ? rows.filter((r) => !this.deferredMarks.has(r.id)) : rows;
  }

  markQuarantineForwarded(ids: readonly number[]): void {
    if (ids.length && !this.disk.attempt(() => this.markForwardedTx(ids))) for (const id of ids) this.deferredMarks.add(id);
  }

  keepHeartbeat(hb: Heartbeat): boolean {
    if (this.closed || this.opts.readOnly || !this.heartbeatSlot) return false;
    const slot = this.heartbeatSlot;
    return this.disk.attempt(() => slot.put(hb));
  }

  waitingHeartbeat(): Heartbeat | null {
    return this.closed ? null : (this.heartbeatSlot?.get() ?? null);
  }

  clearHeartbeat(upToTsMs: number): boolean {
    if (this.closed || this.opts.readOnly || !this.heartbeatSlot) return false;
    const slot = this.heartbeatSlot;
    let cleared = false;
    // On a full disk the row stays; a stale heartbeat at the next start costs one message.
    this.disk.attempt(() => (cleared = slot.clear(upToTsMs)));
    return cleared;
  }

  stats(): OutboxStats {
    const oldest = this.depthMessages > 0 ? (this.stmt.oldest.get() as { received_ms: number } | undefined) : undefined;
    return {
      depthMessages: this.depthMessages,
      depthValues: this.depthValues,
      depthBytes: this.depthBytes,
      oldestMs: oldest?.received_ms ?? null,
      leasedBatches: (this.stmt.leasedCount.get() as { n: number }).n,
      nextSeq: (this.stmt.nextSeq.get() as { value: number }).value,
      quarantinePending: (this.stmt.pendingCount.get() as { n: number }).n,
      evictedValues: this.evictedValues,
      redeliveriesDropped: this.resendsDropped,
      full: this.disk.status() ?? this.bound.refusal,
      recovery: this.recovery,
    };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.walSync?.close();
    this.db.close();
  }
}

/** A group's callers hear the outcome: stored (or dropped as a resend), or the error that kept it from the disk. */
function settleGroup(group: Pending[], err: Error | null): void {
  for (const item of group) {
    if (err) item.reject(err);
    else if (item.kind === 'reading') item.resolve(!item.resend);
    else item.resolve();
  }
}

/** Files from before the clock columns get them; existing rows were stamped on a trusted clock (NULL). */
function migrateClockColumns(db: Database.Database): void {
  if (hasClockColumns(db)) return;
  db.exec('ALTER TABLE readings ADD COLUMN mono_ms REAL; ALTER TABLE readings ADD COLUMN boot_id TEXT;');
}

function hasClockColumns(db: Database.Database): boolean {
  return (db.pragma('table_info(readings)') as { name: string }[]).some((c) => c.name === 'mono_ms');
}

/** Rows outside every leased batch (a correlated test against the few in-flight batches). */
const UNLEASED = 'NOT EXISTS (SELECT 1 FROM batches b WHERE r.id BETWEEN b.first_id AND b.last_id)';

interface RowTime {
  id: number;
  received_ms: number;
}

interface LeasedRange {
  first_id: number;
  last_id: number;
}

interface BatchRow {
  seq: number;
  first_id: number;
  last_id: number;
  n_values: number;
  created_ms: number;
  backlog: number;
}

function hasBacklogColumn(db: Database.Database): boolean {
  return (db.pragma('table_info(batches)') as { name: string }[]).some((c) => c.name === 'backlog');
}

/** Files from before the lanes: their leased batches were all sent as live, which the default says. */
function migrateBacklogColumn(db: Database.Database): void {
  if (!hasBacklogColumn(db)) db.exec('ALTER TABLE batches ADD COLUMN backlog INTEGER NOT NULL DEFAULT 0');
}

interface QuarantineDbRow {
  id: number; ts_ms: number; device_id: string; source: number; reason_code: string; reason: string; topic: string; raw: Buffer;
}

function toQuarantineRow(r: QuarantineDbRow): QuarantineRow {
  return {
    id: r.id, tsMs: r.ts_ms, deviceId: r.device_id, source: r.source, reasonCode: r.reason_code, reason: r.reason, topic: r.topic, raw: r.raw,
  };
}
