// The SQLite outbox (better-sqlite3, WAL). Durability before acknowledgement is its whole purpose:
// append() resolves only after the transaction holding the reading has committed and, with
// synchronous=FULL, after the WAL is on stable storage.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { countValues, v1, type QuarantinedReading, type Reading } from '../../../proto/src/wire.js';
import type { LeasedBatch, Outbox, OutboxStats, QuarantineRow } from './outbox.js';

export interface SqliteOutboxOptions {
  path: string;
  synchronous?: 'FULL' | 'NORMAL';
  groupCommitMaxRows?: number;
  quarantineKeep?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  n_values INTEGER NOT NULL,
  payload BLOB NOT NULL
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
`;

type Pending =
  | { kind: 'reading'; reading: Reading; resolve: () => void; reject: (e: Error) => void }
  | { kind: 'quarantine'; record: QuarantinedReading; resolve: () => void; reject: (e: Error) => void };

export class SqliteOutbox implements Outbox {
  private readonly db: Database.Database;
  private readonly maxRows: number;
  private readonly quarantineKeep: number;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly stmt;
  private readonly commitGroup: (items: Pending[]) => void;
  private readonly leaseTx: (maxValues: number, now: number) => LeasedBatch | null;
  private readonly ackTx: (seq: number) => void;
  private readonly markForwardedTx: (ids: readonly number[]) => void;
  /** Kept in memory so stats() costs nothing on the hot path. */
  private depthMessages = 0;
  private depthValues = 0;
  private quarantineInserts = 0;

  constructor(opts: SqliteOutboxOptions) {
    mkdirSync(dirname(opts.path), { recursive: true });
    this.maxRows = opts.groupCommitMaxRows ?? 5_000;
    this.quarantineKeep = opts.quarantineKeep ?? 10_000;
    this.db = new Database(opts.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    this.db.exec(SCHEMA);
    this.stmt = {
      insertReading: this.db.prepare('INSERT INTO readings (device_id, received_ms, n_values, payload) VALUES (?, ?, ?, ?)'),
      insertQuarantine: this.db.prepare(
        'INSERT INTO quarantine (ts_ms, device_id, source, reason_code, reason, topic, raw) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      trimQuarantine: this.db.prepare('DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?'),
      leasedUpTo: this.db.prepare('SELECT COALESCE(MAX(last_id), 0) AS id FROM batches'),
      nextRows: this.db.prepare('SELECT id, n_values, payload FROM readings WHERE id > ? ORDER BY id LIMIT ?'),
      nextSeq: this.db.prepare("SELECT value FROM meta WHERE key = 'next_seq'"),
      setNextSeq: this.db.prepare("UPDATE meta SET value = ? WHERE key = 'next_seq'"),
      insertBatch: this.db.prepare('INSERT INTO batches (seq, first_id, last_id, n_values, created_ms) VALUES (?, ?, ?, ?, ?)'),
      batches: this.db.prepare('SELECT seq, first_id, last_id, n_values, created_ms FROM batches ORDER BY seq'),
      batchRows: this.db.prepare('SELECT payload FROM readings WHERE id BETWEEN ? AND ? ORDER BY id'),
      batch: this.db.prepare('SELECT first_id, last_id, n_values FROM batches WHERE seq = ?'),
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
      depth: this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(n_values), 0) AS v FROM readings'),
      leasedCount: this.db.prepare('SELECT COUNT(*) AS n FROM batches'),
    };
    const depth = this.stmt.depth.get() as { n: number; v: number };
    this.depthMessages = depth.n;
    this.depthValues = depth.v;

    this.commitGroup = this.db.transaction((items: Pending[]) => {
      for (const item of items) {
        if (item.kind === 'reading') {
          const r = item.reading;
          const n = countValues([r]);
          this.stmt.insertReading.run(r.deviceId, Date.now(), n, v1.Reading.encode(r).finish());
        } else {
          const q = item.record;
          this.stmt.insertQuarantine.run(
            q.tsMs ?? Date.now(), q.deviceId ?? '', q.source ?? 0, q.reasonCode ?? '', q.reason ?? '', q.topic ?? '',
            Buffer.from(q.raw ?? new Uint8Array()),
          );
          this.quarantineInserts++;
        }
      }
      if (this.quarantineInserts >= 1_000) {
        this.stmt.trimQuarantine.run(this.quarantineKeep);
        this.quarantineInserts = 0;
      }
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
      this.stmt.setNextSeq.run(seq + 1);
      const first = taken[0]!.id;
      const last = taken[taken.length - 1]!.id;
      this.stmt.insertBatch.run(seq, first, last, values, now);
      return { seq, createdMs: now, values, readings: taken.map((r) => r.payload) };
    });

    this.ackTx = this.db.transaction((seq: number) => {
      const b = this.stmt.batch.get(seq) as { first_id: number; last_id: number; n_values: number } | undefined;
      if (!b) return;
      const deleted = this.stmt.deleteRows.run(b.first_id, b.last_id).changes;
      this.stmt.deleteBatch.run(seq);
      this.depthMessages -= deleted;
      this.depthValues -= b.n_values;
    });

    this.markForwardedTx = this.db.transaction((ids: readonly number[]) => {
      for (const id of ids) this.stmt.markForwarded.run(id);
    });
  }

  append(readings: Reading[]): Promise<void> {
    if (readings.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('outbox is closed'));
      // All readings of one call commit together; resolve after the last one's group commits.
      let left = readings.length;
      const done = () => {
        if (--left === 0) resolve();
      };
      for (const reading of readings) this.pending.push({ kind: 'reading', reading, resolve: done, reject });
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
      try {
        this.commitGroup(group);
      } catch (err) {
        for (const item of group) item.reject(err as Error);
        continue;
      }
      for (const item of group) {
        if (item.kind === 'reading') {
          this.depthMessages++;
          this.depthValues += countValues([item.reading]);
        }
      }
      for (const item of group) item.resolve();
    }
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

  lease(maxValues: number): LeasedBatch | null {
    return this.leaseTx(maxValues, Date.now());
  }

  ack(seq: number): void {
    this.ackTx(seq);
  }

  recentQuarantine(limit: number): QuarantineRow[] {
    return (this.stmt.recentQuarantine.all(limit) as QuarantineDbRow[]).map(toQuarantineRow);
  }

  pendingQuarantine(limit: number): QuarantineRow[] {
    return (this.stmt.pendingQuarantine.all(limit) as QuarantineDbRow[]).map(toQuarantineRow);
  }

  markQuarantineForwarded(ids: readonly number[]): void {
    if (ids.length) this.markForwardedTx(ids);
  }

  stats(): OutboxStats {
    const oldest = this.depthMessages > 0 ? (this.stmt.oldest.get() as { received_ms: number } | undefined) : undefined;
    return {
      depthMessages: this.depthMessages,
      depthValues: this.depthValues,
      oldestMs: oldest?.received_ms ?? null,
      leasedBatches: (this.stmt.leasedCount.get() as { n: number }).n,
      nextSeq: (this.stmt.nextSeq.get() as { value: number }).value,
      quarantinePending: (this.stmt.pendingCount.get() as { n: number }).n,
    };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

interface QuarantineDbRow {
  id: number; ts_ms: number; device_id: string; source: number; reason_code: string; reason: string; topic: string; raw: Buffer;
}

function toQuarantineRow(r: QuarantineDbRow): QuarantineRow {
  return {
    id: r.id, tsMs: r.ts_ms, deviceId: r.device_id, source: r.source, reasonCode: r.reason_code, reason: r.reason, topic: r.topic, raw: r.raw,
  };
}
