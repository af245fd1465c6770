// The SQLite outbox (better-sqlite3, WAL). Durability before acknowledgement is its whole purpose:
// append() resolves only after the transaction holding the reading has committed and, with
// synchronous=FULL, after the WAL is on stable storage.
//
// Bounds: at most maxMessages device messages and maxBytes of stored payload. At the bound,
// drop-oldest evicts the oldest readings not yet handed to the forwarder (each one counted per
// device through onEvict), refuse-new rejects the append so nothing is acknowledged. Below
// minFreeBytes of free disk, or when SQLite reports the disk full, appends are rejected until
// space is back (checked again at most every second), so deletes always find room to run.
//
// A file that fails SQLite's quick_check at open, or that is not a database at all, is moved
// aside and a fresh outbox started; the seq reservation (seq-reservation.ts) keeps seqs unique.
//
// The forwarder's writes (lease, delete after delivery, quarantine marks) never throw on a full
// disk: a lease waits, a delete is done before the next lease. A device's resend (MQTT DUP=1) of a
// message already committed is acknowledged without storing it again (Redelivery in outbox.ts), and
// so is a resend without DUP=1 of a message committed just before a restart.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { countValues, v1, type QuarantinedReading, type Reading } from '../../../proto/src/wire.js';
import type { GatewayConfig } from '../config/schema.js';
import type { LeasedBatch, Outbox, OutboxBounds, OutboxFull, OutboxRecovery, OutboxStats, QuarantineRow, Redelivery } from './outbox.js';
import { OutboxFullError } from './outbox.js';
import { SeqReservation } from './seq-reservation.js';

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

/** How much beyond the bare need one eviction frees, so a full outbox does not evict on every commit. */
const EVICT_SLACK = 0.01;
const DISK_CHECK_MS = 1_000;

function statfsFree(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  n_values INTEGER NOT NULL,
  payload BLOB NOT NULL,
  rkey TEXT,
  rdigest BLOB
);
CREATE TABLE IF NOT EXISTS batches (
  seq INTEGER PRIMARY KEY,
  first_id INTEGER NOT NULL,
  last_id INTEGER NOT NULL,
  n_values INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1);
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
-- Redelivery keys of delivered rows, by their readings id: appended on delete, trimmed from the front.
CREATE TABLE IF NOT EXISTS sent_keys (id INTEGER PRIMARY KEY, rkey TEXT NOT NULL, rdigest BLOB NOT NULL, received_ms INTEGER);
`;

/**
 * Redelivery keys remembered (the newest win): far more than every device's messages in flight at
 * a crash. A key forgotten only means its resend is stored again. In memory they are a map; on disk
 * each key is in its message's row and, once the row is delivered and deleted, in sent_keys (one
 * sequential append per delivery, no index), so a restart reloads them. That covers the PUBACK still
 * in a send buffer when the gateway died although the message had already gone to Kafka, which
 * kill -9 under load does hit.
 */
const REDELIVERY_KEEP = 100_000;

/**
 * After a restart, messages committed in the last RESEND_WINDOW_MS before the newest one in the file
 * may never have had their PUBACK. Some clients (MQTT.js) resend those without DUP=1; a sender's
 * first messages after the restart that match one of them by key and digest are taken as resends
 * (see dropRedeliveries).
 */
const RESEND_WINDOW_MS = 30_000;

interface Eviction {
  messages: number;
  values: number;
  bytes: number;
  byDevice: Map<string, number>;
}

type Pending =
  | {
      kind: 'reading';
      reading: Reading;
      redelivery?: Redelivery;
      /** A resend of a message already committed: acknowledged, not stored. Without dup, it matched a restart candidate. */
      duplicate?: boolean;
      /** With false: recognised as a resend, nothing stored. */
      resolve: (stored: boolean) => void;
      reject: (e: Error) => void;
    }
  | { kind: 'quarantine'; record: QuarantinedReading; resolve: () => void; reject: (e: Error) => void };

export class SqliteOutbox implements Outbox {
  private db!: Database.Database;
  private readonly maxRows: number;
  private readonly quarantineKeep: number;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly minFreeBytes: number;
  private readonly onFull: 'drop-oldest' | 'refuse-new';
  private readonly freeBytes: (dir: string) => number;
  private readonly seqs: SeqReservation;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private stmt!: ReturnType<SqliteOutbox['prepare']>;
  private commitGroup!: (items: Pending[], encoded: (Uint8Array | null)[]) => Eviction | null;
  private leaseTx!: (maxValues: number, now: number) => LeasedBatch | null;
  private ackTx!: (seq: number) => { n: number; v: number; b: number } | null;
  private markForwardedTx!: (ids: readonly number[]) => void;
  /** Kept in memory so stats() costs nothing on the hot path. */
  private depthMessages = 0;
  private depthValues = 0;
  private depthBytes = 0;
  private evictedValues = 0;
  private quarantineInserts = 0;
  /**
   * Redelivery key → digest of the message last committed under it, in two generations: when the
   * newer holds REDELIVERY_KEEP / 2 keys the older is dropped, so memory stays bounded at O(1) a
   * commit (deleting a Map's oldest entry one at a time gets slower as the deletions pile up).
   */
  private redeliveryKeys = new Map<string, string>();
  private redeliveryKeysOlder = new Map<string, string>();
  /**
   * Sender → (key → digest) of the messages committed in the file's last RESEND_WINDOW_MS, loaded at
   * open. A sender's entries go when it sends a message that matches none of them (it is past its
   * resends); each entry matches once.
   */
  private restartCandidates = new Map<string, Map<string, string>>();
  private acksSinceTrim = 0;
  private deferredAcks: number[] = [];
  private deferredMarks = new Set<number>();
  private redeliveriesDropped = 0;
  /** Disk below its floor, or SQLite said it was full. */
  private full: OutboxFull | null = null;
  /** refuse-new turned an append away at the bound; cleared once the outbox is below it again. */
  private atBound: OutboxFull | null = null;
  private diskCheckedMs = 0;
  readonly recovery: OutboxRecovery | null;

  constructor(private readonly opts: SqliteOutboxOptions) {
    mkdirSync(dirname(opts.path), { recursive: true });
    this.maxRows = opts.groupCommitMaxRows ?? 5_000;
    this.quarantineKeep = opts.quarantineKeep ?? 10_000;
    this.maxMessages = opts.maxMessages ?? 0;
    this.maxBytes = opts.maxBytes ?? 0;
    this.minFreeBytes = opts.minFreeBytes ?? 0;
    this.onFull = opts.onFull ?? 'drop-oldest';
    this.freeBytes = opts.freeBytes ?? statfsFree;
    this.seqs = new SeqReservation(`${opts.path}.seq`);
    this.recovery = opts.readOnly ? (this.open(), null) : this.openChecked();
    const depth = this.stmt.depth.get() as { n: number; v: number; b: number };
    this.depthMessages = depth.n;
    this.depthValues = depth.v;
    this.depthBytes = depth.b;
    if (!opts.readOnly) {
      this.adoptSeqFloor();
      this.loadRedeliveryKeys();
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
      const movedTo = `${this.opts.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(this.opts.path + suffix)) renameSync(this.opts.path + suffix, movedTo + suffix);
      }
      this.open();
      return { atMs: Date.now(), reason: (err as Error).message, movedTo };
    }
  }

  private open(): void {
    if (this.opts.readOnly) {
      this.db = new Database(this.opts.path, { readonly: true, fileMustExist: true });
    } else {
      this.db = new Database(this.opts.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${this.opts.synchronous ?? 'FULL'}`);
      this.db.exec(SCHEMA);
      // Files from before redelivery keys get the two nullable columns in place.
      if (!this.hasRedeliveryColumns()) this.db.exec('ALTER TABLE readings ADD COLUMN rkey TEXT; ALTER TABLE readings ADD COLUMN rdigest BLOB');
      // Files from before the resend window keep their sent_keys rows, without a time.
      if (!this.hasColumn('sent_keys', 'received_ms')) this.db.exec('ALTER TABLE sent_keys ADD COLUMN received_ms INTEGER');
    }
    this.stmt = this.prepare();
    this.defineTransactions();
  }

  /** A fresh file starts its seqs above every seq an earlier file may have used. */
  private adoptSeqFloor(): void {
    const next = (this.stmt.nextSeq.get() as { value: number }).value;
    if (next < this.seqs.floor) this.stmt.setNextSeq.run(this.seqs.floor);
  }

  private hasRedeliveryColumns(): boolean {
    return this.hasColumn('readings', 'rkey');
  }

  private hasColumn(table: string, column: string): boolean {
    return (this.db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);
  }

  private prepare() {
    // Only a file opened read-only can lack the key columns, and it is never written to.
    const keyed = !this.opts.readOnly || this.hasRedeliveryColumns();
    // A read-only look never reloads or keeps keys.
    const sentKeys = !this.opts.readOnly;
    return {
      insertReading: this.db.prepare(
        keyed
          ? 'INSERT INTO readings (device_id, received_ms, n_values, payload, rkey, rdigest) VALUES (?, ?, ?, ?, ?, ?)'
          : 'INSERT INTO readings (device_id, received_ms, n_values, payload) VALUES (?, ?, ?, ?)',
      ),
      recentKeys: keyed
        ? this.db.prepare('SELECT id, rkey, rdigest, received_ms FROM readings WHERE rkey IS NOT NULL ORDER BY id DESC LIMIT ?')
        : null,
      recentSentKeys: sentKeys ? this.db.prepare('SELECT id, rkey, rdigest, received_ms FROM sent_keys ORDER BY id DESC LIMIT ?') : null,
      keepSentKeys: sentKeys
        ? this.db.prepare(
            'INSERT OR IGNORE INTO sent_keys (id, rkey, rdigest, received_ms) SELECT id, rkey, rdigest, received_ms FROM readings WHERE id BETWEEN ? AND ? AND rkey IS NOT NULL',
          )
        : null,
      trimSentKeys: sentKeys ? this.db.prepare('DELETE FROM sent_keys WHERE id <= (SELECT MAX(id) FROM sent_keys) - ?') : null,
      insertQuarantine: this.db.prepare(
        'INSERT INTO quarantine (ts_ms, device_id, source, reason_code, reason, topic, raw) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      trimQuarantine: this.db.prepare('DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?'),
      leasedUpTo: this.db.prepare('SELECT COALESCE(MAX(last_id), 0) AS id FROM batches'),
      nextRows: this.db.prepare('SELECT id, n_values, payload FROM readings WHERE id > ? ORDER BY id LIMIT ?'),
      evictable: this.db.prepare('SELECT id, device_id, n_values, LENGTH(payload) AS bytes FROM readings WHERE id > ? ORDER BY id LIMIT ?'),
      nextSeq: this.db.prepare("SELECT value FROM meta WHERE key = 'next_seq'"),
      setNextSeq: this.db.prepare("UPDATE meta SET value = ? WHERE key = 'next_seq'"),
      insertBatch: this.db.prepare('INSERT INTO batches (seq, first_id, last_id, n_values, created_ms) VALUES (?, ?, ?, ?, ?)'),
      batches: this.db.prepare('SELECT seq, first_id, last_id, n_values, created_ms FROM batches ORDER BY seq'),
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
      this.dropRedeliveries(items, encoded);
      let messages = 0;
      let bytes = 0;
      for (const e of encoded) {
        if (e) {
          messages++;
          bytes += e.length;
        }
      }
      const eviction = this.makeRoom(messages, bytes);
      items.forEach((item, i) => {
        if (item.kind === 'reading') {
          if (item.duplicate) return;
          const r = item.reading;
          const rd = item.redelivery;
          this.stmt.insertReading.run(r.deviceId, Date.now(), countValues([r]), encoded[i]!, rd?.key ?? null, rd ? Buffer.from(rd.digest) : null);
        } else {
          const q = item.record;
          this.stmt.insertQuarantine.run(
            q.tsMs ?? Date.now(), q.deviceId ?? '', q.source ?? 0, q.reasonCode ?? '', q.reason ?? '', q.topic ?? '',
            Buffer.from(q.raw ?? new Uint8Array()),
          );
          this.quarantineInserts++;
        }
      });
      if (this.quarantineInserts >= 1_000) {
        this.stmt.trimQuarantine.run(this.quarantineKeep);
        this.quarantineInserts = 0;
      }
      return eviction;
    });

    this.leaseTx = this.db.transaction((maxValues: number, now: number) => {
      const after = (this.stmt.leasedUpTo.get() as { id: number }).id;
      // A message is never split across batches; one that alone exceeds maxValues goes alone.
      const rows = this.stmt.nextRows.all(after, maxValues) as { id: number; n_values: number; payload: Buffer }[];
      if (rows.length === 0) return null;
      const taken: typeof rows = [];
      let values = 0;
      for (const row of rows) {
        if (taken.length > 0 && values + row.n_values > maxValues) break;
        taken.push(row);
        values += row.n_values;
      }
      const seq = (this.stmt.nextSeq.get() as { value: number }).value;
      this.seqs.ensure(seq);
      this.stmt.setNextSeq.run(seq + 1);
      const first = taken[0]!.id;
      const last = taken[taken.length - 1]!.id;
      this.stmt.insertBatch.run(seq, first, last, values, now);
      return { seq, createdMs: now, values, readings: taken.map((r) => r.payload) };
    });

    // Returns what left, so the in-memory depth changes only once the delete has committed.
    this.ackTx = this.db.transaction((seq: number) => {
      const b = this.stmt.batch.get(seq) as { first_id: number; last_id: number; n_values: number } | undefined;
      if (!b) return null;
      const gone = this.stmt.rangeBytes.get(b.first_id, b.last_id) as { n: number; b: number };
      this.stmt.keepSentKeys?.run(b.first_id, b.last_id);
      this.stmt.deleteRows.run(b.first_id, b.last_id);
      this.stmt.deleteBatch.run(seq);
      if (++this.acksSinceTrim >= 100) {
        this.stmt.trimSentKeys?.run(REDELIVERY_KEEP);
        this.acksSinceTrim = 0;
      }
      return { n: gone.n, v: b.n_values, b: gone.b };
    });

    this.markForwardedTx = this.db.transaction((ids: readonly number[]) => {
      for (const id of ids) this.stmt.markForwarded.run(id);
    });
  }

  /** Digests kept as hex strings: a third of the memory of a Buffer each. */
  private rememberRedelivery(key: string, digest: string): void {
    if (this.redeliveryKeys.size >= REDELIVERY_KEEP / 2) {
      this.redeliveryKeysOlder = this.redeliveryKeys;
      this.redeliveryKeys = new Map();
    }
    this.redeliveryKeys.set(key, digest);
  }

  private lastRedelivery(key: string): string | undefined {
    return this.redeliveryKeys.get(key) ?? this.redeliveryKeysOlder.get(key);
  }

  /**
   * The newest keys in the file, waiting and delivered, oldest first, so a resend after a crash or
   * power loss is still recognised; those of the last RESEND_WINDOW_MS also as restart candidates.
   */
  private loadRedeliveryKeys(): void {
    type Row = { id: number; rkey: string; rdigest: Buffer; received_ms: number | null };
    const rows = [
      ...((this.stmt.recentSentKeys?.all(REDELIVERY_KEEP) ?? []) as Row[]),
      ...((this.stmt.recentKeys?.all(REDELIVERY_KEEP) ?? []) as Row[]),
    ]
      .sort((a, b) => a.id - b.id)
      .slice(-REDELIVERY_KEEP);
    let newest = 0;
    for (const r of rows) {
      this.rememberRedelivery(r.rkey, hex(r.rdigest));
      newest = Math.max(newest, r.received_ms ?? 0);
    }
    for (const r of rows) {
      if (r.received_ms === null || r.received_ms < newest - RESEND_WINDOW_MS) continue;
      const sender = senderOf(r.rkey);
      const mine = this.restartCandidates.get(sender) ?? new Map<string, string>();
      mine.set(r.rkey, hex(r.rdigest));
      this.restartCandidates.set(sender, mine);
    }
  }

  /**
   * Inside the commit transaction, before anything is counted or stored, marks as duplicates (and
   * clears their encoded bytes so they take no room):
   * - a resend (dup) whose key and digest match the last message committed under that key, earlier
   *   in this group included;
   * - a first send (no dup) that matches a restart candidate of its sender by key and digest, while
   *   that sender has sent nothing else since the restart. Only what commits changes the candidates
   *   (forgetCandidates), so here a group-local view of them is kept.
   */
  private dropRedeliveries(items: Pending[], encoded: (Uint8Array | null)[]): void {
    const inGroup = new Map<string, string>();
    const usedInGroup = new Set<string>();
    const doneInGroup = new Set<string>();
    items.forEach((item, i) => {
      if (item.kind !== 'reading' || !item.redelivery) return;
      item.duplicate = false;
      const { key, dup } = item.redelivery;
      const digest = hex(item.redelivery.digest);
      if (dup) {
        const last = inGroup.get(key) ?? this.lastRedelivery(key);
        if (last === digest) {
          item.duplicate = true;
          encoded[i] = null;
          return;
        }
      } else if (this.restartCandidates.size > 0) {
        const sender = senderOf(key);
        const mine = doneInGroup.has(sender) ? undefined : this.restartCandidates.get(sender);
        if (mine && !usedInGroup.has(key) && mine.get(key) === digest) {
          usedInGroup.add(key);
          item.duplicate = true;
          encoded[i] = null;
          return;
        }
        doneInGroup.add(sender);
      }
      inGroup.set(key, digest);
    });
  }

  /** After a group committed: the candidates it matched are used up, and a sender that sent something new has none left. */
  private forgetCandidates(group: Pending[]): void {
    if (this.restartCandidates.size === 0) return;
    for (const item of group) {
      if (item.kind !== 'reading' || !item.redelivery || item.redelivery.dup) continue;
      const sender = senderOf(item.redelivery.key);
      const mine = this.restartCandidates.get(sender);
      if (!mine) continue;
      // Without dup, a duplicate is a matched restart candidate.
      if (item.duplicate) mine.delete(item.redelivery.key);
      if (!item.duplicate || mine.size === 0) this.restartCandidates.delete(sender);
    }
  }

  /**
   * Inside the commit transaction: room for `messages` more messages of `bytes` in total. Evicts
   * the oldest unleased rows under drop-oldest; throws OutboxFullError under refuse-new, or when
   * leased rows alone fill the bound.
   */
  private makeRoom(messages: number, bytes: number): Eviction | null {
    const overMessages = this.maxMessages > 0 ? this.depthMessages + messages - this.maxMessages : 0;
    const overBytes = this.maxBytes > 0 ? this.depthBytes + bytes - this.maxBytes : 0;
    if (overMessages <= 0 && overBytes <= 0) return null;
    const what = overMessages > 0 ? `${this.maxMessages} messages` : `${this.maxBytes} bytes`;
    if (this.onFull === 'refuse-new') throw new OutboxFullError('FL_ERR_OUTBOX_FULL', `the outbox holds its limit of ${what} (onFull: refuse-new)`);
    const needMessages = overMessages > 0 ? overMessages + Math.ceil(this.maxMessages * EVICT_SLACK) : 0;
    const needBytes = overBytes > 0 ? overBytes + Math.ceil(this.maxBytes * EVICT_SLACK) : 0;
    const ev: Eviction = { messages: 0, values: 0, bytes: 0, byDevice: new Map() };
    let after = (this.stmt.leasedUpTo.get() as { id: number }).id;
    const first = after + 1;
    while (ev.messages < needMessages || ev.bytes < needBytes) {
      const rows = this.stmt.evictable.all(after, 1_000) as { id: number; device_id: string; n_values: number; bytes: number }[];
      if (rows.length === 0) break;
      for (const r of rows) {
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
    this.stmt.deleteRows.run(first, after);
    return ev;
  }

  append(readings: Reading[], redelivery?: Redelivery): Promise<boolean> {
    if (readings.length === 0) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('outbox is closed'));
      if (redelivery && readings.length !== 1) return reject(new Error('a redelivery key belongs to exactly one device message'));
      // All readings of one call commit together; resolve after the last one's group commits.
      let left = readings.length;
      // A call with a redelivery holds one reading, so its one outcome is the call's.
      const done = (stored: boolean) => {
        if (--left === 0) resolve(stored);
      };
      for (const reading of readings) this.pending.push({ kind: 'reading', reading, ...(redelivery ? { redelivery } : {}), resolve: done, reject });
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
        this.checkDisk();
        const encoded = group.map((item) => (item.kind === 'reading' ? v1.Reading.encode(item.reading).finish() : null));
        eviction = this.commitGroup(group, encoded);
        for (const e of encoded) {
          if (e) {
            this.depthMessages++;
            this.depthBytes += e.length;
          }
        }
      } catch (err) {
        const e = this.diskFullError(err as Error);
        if (e instanceof OutboxFullError && e.code === 'FL_ERR_OUTBOX_FULL') this.atBound ??= { code: e.code, reason: e.message, sinceMs: Date.now() };
        for (const item of group) item.reject(e);
        continue;
      }
      for (const item of group) {
        if (item.kind !== 'reading') continue;
        if (item.duplicate) {
          this.redeliveriesDropped++;
          continue;
        }
        this.depthValues += countValues([item.reading]);
        if (item.redelivery) this.rememberRedelivery(item.redelivery.key, hex(item.redelivery.digest));
      }
      this.forgetCandidates(group);
      if (eviction) {
        this.depthMessages -= eviction.messages;
        this.depthValues -= eviction.values;
        this.depthBytes -= eviction.bytes;
        this.evictedValues += eviction.values;
        this.opts.onEvict?.(eviction.byDevice);
      }
      for (const item of group) {
        if (item.kind === 'reading') item.resolve(!item.duplicate);
        else item.resolve();
      }
    }
  }

  /** Throws while the disk is below its floor; re-measures at most once a second. */
  private checkDisk(): void {
    const now = Date.now();
    if (this.minFreeBytes > 0 && now - this.diskCheckedMs >= DISK_CHECK_MS) {
      this.diskCheckedMs = now;
      const free = this.freeBytes(dirname(this.opts.path));
      if (free < this.minFreeBytes) {
        this.full ??= { code: 'FL_ERR_OUTBOX_DISK_FULL', reason: `${free} bytes free, below the floor of ${this.minFreeBytes}`, sinceMs: now };
      } else {
        this.full = null;
      }
    } else if (this.minFreeBytes === 0 && this.full && now - this.diskCheckedMs >= DISK_CHECK_MS) {
      // No floor configured: after SQLite said the disk was full, simply try again.
      this.full = null;
    }
    if (this.full) throw new OutboxFullError(this.full.code, this.full.reason);
  }

  /** SQLite's "disk full" becomes the status flag and a catalogued error; anything else passes through. */
  private diskFullError(err: Error): Error {
    const code = String((err as { code?: unknown }).code ?? '');
    // ENOSPC: the seq reservation file beside the database (seq-reservation.ts).
    if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_FSYNC' || code === 'ENOSPC') {
      const reason = code === 'ENOSPC' ? err.message : `SQLite: ${err.message}`;
      this.full = { code: 'FL_ERR_OUTBOX_DISK_FULL', reason, sinceMs: this.full?.sinceMs ?? Date.now() };
      this.diskCheckedMs = Date.now();
      return new OutboxFullError('FL_ERR_OUTBOX_DISK_FULL', err.message);
    }
    return err;
  }

  unacked(): LeasedBatch[] {
    const rows = this.stmt.batches.all() as { seq: number; first_id: number; last_id: number; n_values: number; created_ms: number }[];
    return rows.map((b) => ({
      seq: b.seq,
      createdMs: b.created_ms,
      values: b.n_values,
      readings: (this.stmt.batchRows.all(b.first_id, b.last_id) as { payload: Buffer }[]).map((r) => r.payload),
    }));
  }

  /**
   * The forwarder's writes (lease, delete, mark) on a full disk: the flag is set and the write
   * reported as not done, rather than an exception in a Kafka callback taking the gateway down.
   */
  private tryWrite(write: () => void): boolean {
    try {
      write();
      return true;
    } catch (err) {
      if (this.diskFullError(err as Error) instanceof OutboxFullError) return false;
      throw err;
    }
  }

  /** Deletes and marks that found no room, done in order before anything new is leased. */
  private retryDeferred(): boolean {
    while (this.deferredAcks.length > 0) {
      if (!this.tryWrite(() => this.applyAck(this.deferredAcks[0]!))) return false;
      this.deferredAcks.shift();
    }
    if (this.deferredMarks.size > 0) {
      if (!this.tryWrite(() => this.markForwardedTx([...this.deferredMarks]))) return false;
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
  lease(maxValues: number): LeasedBatch | null {
    if (!this.retryDeferred()) return null;
    let batch: LeasedBatch | null = null;
    this.tryWrite(() => (batch = this.leaseTx(maxValues, Date.now())));
    return batch;
  }

  /**
   * A delivered batch whose delete finds no room stays leased and is deleted before the next lease;
   * were the gateway to stop first, it is resent and the sink's ledger drops the copy.
   */
  ack(seq: number): void {
    if (!this.retryDeferred() || !this.tryWrite(() => this.applyAck(seq))) this.deferredAcks.push(seq);
    // Room again: the next append may fit (if not, it sets the flag again).
    this.atBound = null;
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
    if (ids.length && !this.tryWrite(() => this.markForwardedTx(ids))) for (const id of ids) this.deferredMarks.add(id);
  }

  stats(): OutboxStats {
    const oldest = this.depthMessages > 0 ? (this.stmt.oldest.get() as { received_ms: number } | undefined) : undefined;
    if (this.full && Date.now() - this.diskCheckedMs >= DISK_CHECK_MS) {
      // Lets the status clear by itself when space comes back, with no append to notice it.
      try {
        this.checkDisk();
      } catch {
        // still full
      }
    }
    return {
      depthMessages: this.depthMessages,
      depthValues: this.depthValues,
      depthBytes: this.depthBytes,
      oldestMs: oldest?.received_ms ?? null,
      leasedBatches: (this.stmt.leasedCount.get() as { n: number }).n,
      nextSeq: (this.stmt.nextSeq.get() as { value: number }).value,
      quarantinePending: (this.stmt.pendingCount.get() as { n: number }).n,
      evictedValues: this.evictedValues,
      redeliveriesDropped: this.redeliveriesDropped,
      full: this.full ?? this.atBound,
      recovery: this.recovery,
    };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

/** The sender part of a redelivery key (`<sender>\u0000<message id>`). */
function senderOf(key: string): string {
  const cut = key.lastIndexOf('\u0000');
  return cut < 0 ? key : key.slice(0, cut);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

interface QuarantineDbRow {
  id: number; ts_ms: number; device_id: string; source: number; reason_code: string; reason: string; topic: string; raw: Buffer;
}

function toQuarantineRow(r: QuarantineDbRow): QuarantineRow {
  return {
    id: r.id, tsMs: r.ts_ms, deviceId: r.device_id, source: r.source, reasonCode: r.reason_code, reason: r.reason, topic: r.topic, raw: r.raw,
  };
}
