// The outbox's memory of message keys (MessageKey in outbox.ts): opaque strings and digests it
// stores and looks up for a ResendScreen, and never interprets.
//
// A resend can arrive after its message was delivered and deleted, and after a crash or power loss,
// so the keys must outlive both. On disk each key is in its message's row (rkey, rdigest) and, once
// the row is delivered and deleted, in sent_keys: one sequential append per delivery and no index,
// which is cheap enough for every ack. A restart reloads the newest of both. That covers the
// acknowledgement still in a send buffer when the gateway died although the message had already
// gone to Kafka, which kill -9 under load does hit.
import type Database from 'better-sqlite3';
import type { KeyLookup, StoredKey } from './outbox.js';

/**
 * Keys remembered (the newest win): far more than every sender's messages in flight at a crash. A
 * key forgotten only means a resend of its message is stored again.
 */
export const KEYS_KEEP = 100_000;

/** Delivered rows' keys, by their readings id: appended on delete, trimmed from the front. */
export const SENT_KEYS_SCHEMA = `
CREATE TABLE IF NOT EXISTS sent_keys (id INTEGER PRIMARY KEY, rkey TEXT NOT NULL, rdigest BLOB NOT NULL, received_ms INTEGER);
`;

/** Brings a file written before keys, or before their commit time, to the current layout in place. */
export function migrateKeyColumns(db: Database.Database): void {
  // Older files get the two nullable columns; their rows simply have no key.
  if (!hasColumn(db, 'readings', 'rkey')) db.exec('ALTER TABLE readings ADD COLUMN rkey TEXT; ALTER TABLE readings ADD COLUMN rdigest BLOB');
  // Their sent_keys rows stay, without a time.
  if (!hasColumn(db, 'sent_keys', 'received_ms')) db.exec('ALTER TABLE sent_keys ADD COLUMN received_ms INTEGER');
}

/** A read-only look may find a file from before keys; nothing is ever written to it. */
export function hasKeyColumns(db: Database.Database): boolean {
  return hasColumn(db, 'readings', 'rkey');
}

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);
}

function prepare(db: Database.Database) {
  return {
    waiting: db.prepare('SELECT id, rkey, rdigest, received_ms FROM readings WHERE rkey IS NOT NULL ORDER BY id DESC LIMIT ?'),
    sent: db.prepare('SELECT id, rkey, rdigest, received_ms FROM sent_keys ORDER BY id DESC LIMIT ?'),
    keep: db.prepare(
      'INSERT OR IGNORE INTO sent_keys (id, rkey, rdigest, received_ms) SELECT id, rkey, rdigest, received_ms FROM readings WHERE id BETWEEN ? AND ? AND rkey IS NOT NULL',
    ),
    trim: db.prepare('DELETE FROM sent_keys WHERE id <= (SELECT MAX(id) FROM sent_keys) - ?'),
  };
}

type KeyRow = { id: number; rkey: string; rdigest: Buffer; received_ms: number | null };

export class SentKeys implements KeyLookup {
  /**
   * Key → hex digest, in two generations: when the newer holds KEYS_KEEP / 2 keys the older is
   * dropped, so memory stays bounded at O(1) a commit (deleting a Map's oldest entry one at a time
   * gets slower as the deletions pile up).
   */
  private newer = new Map<string, string>();
  private older = new Map<string, string>();
  private acksSinceTrim = 0;
  private readonly stmt: ReturnType<typeof prepare>;

  /** The file must already have the current layout (migrateKeyColumns). */
  constructor(db: Database.Database) {
    this.stmt = prepare(db);
  }

  /** The newest keys in the file, waiting and delivered, oldest first; they are remembered too. */
  load(): StoredKey[] {
    const rows = [...(this.stmt.sent.all(KEYS_KEEP) as KeyRow[]), ...(this.stmt.waiting.all(KEYS_KEEP) as KeyRow[])]
      .sort((a, b) => a.id - b.id)
      .slice(-KEYS_KEEP);
    return rows.map((r) => {
      const digest = hex(r.rdigest);
      this.remember(r.rkey, digest);
      return { key: r.rkey, digest, receivedMs: r.received_ms };
    });
  }

  /** A message was stored under `key`. Digests are kept as hex strings: a third of a Buffer's memory. */
  remember(key: string, digestHex: string): void {
    if (this.newer.size >= KEYS_KEEP / 2) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(key, digestHex);
  }

  lastDigest(key: string): string | undefined {
    return this.newer.get(key) ?? this.older.get(key);
  }

  /** Inside the transaction that deletes the delivered rows firstId..lastId, before the delete. */
  keepDelivered(firstId: number, lastId: number): void {
    this.stmt.keep.run(firstId, lastId);
    if (++this.acksSinceTrim >= 100) {
      this.stmt.trim.run(KEYS_KEEP);
      this.acksSinceTrim = 0;
    }
  }
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
