// The heartbeat slot (issue 11): the newest heartbeat that could not be sent, kept in the outbox
// file so that it outlives a restart. One row, replaced by each newer heartbeat: a heartbeat is a
// snapshot, and a backlog of snapshots would only flood the cloud with stale figures after an
// outage. The forwarder's heartbeat lane (forward/heartbeat-lane.ts) decides what goes in and out.
import type Database from 'better-sqlite3';
import { v1, type Heartbeat } from '../../../proto/src/wire.js';

/** The CHECK makes a second row impossible, whatever a caller does. */
export const HEARTBEAT_SLOT_SCHEMA = `
CREATE TABLE IF NOT EXISTS heartbeat_slot (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  ts_ms INTEGER NOT NULL,
  payload BLOB NOT NULL
);
`;

/** A read-only look may find a file from before the slot; it then simply has none waiting. */
export function hasHeartbeatSlot(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'heartbeat_slot'").get() !== undefined;
}

export class HeartbeatSlotTable {
  private readonly stmt;

  /** The file must already have the table (HEARTBEAT_SLOT_SCHEMA). */
  constructor(db: Database.Database) {
    this.stmt = {
      put: db.prepare('INSERT OR REPLACE INTO heartbeat_slot (id, ts_ms, payload) VALUES (1, ?, ?)'),
      get: db.prepare('SELECT ts_ms, payload FROM heartbeat_slot WHERE id = 1'),
      clear: db.prepare('DELETE FROM heartbeat_slot WHERE id = 1 AND ts_ms <= ?'),
    };
  }

  put(hb: Heartbeat): void {
    this.stmt.put.run(Number(hb.tsMs ?? 0), Buffer.from(v1.Heartbeat.encode(hb).finish()));
  }

  get(): Heartbeat | null {
    const row = this.stmt.get.get() as { ts_ms: number; payload: Buffer } | undefined;
    if (!row) return null;
    try {
      return v1.Heartbeat.toObject(v1.Heartbeat.decode(row.payload), { longs: Number }) as Heartbeat;
    } catch {
      // Written by this module, so only a damaged page gets here; a lost snapshot costs nothing.
      return null;
    }
  }

  /** Returns whether a row went. */
  clear(upToTsMs: number): boolean {
    return this.stmt.clear.run(upToTsMs).changes > 0;
  }
}
