// The command ledger: every command id this gateway has seen, with its state, in its own SQLite file
// (<dataDir>/commands.db, apart from the outbox so commands never touch the readings' hot path).
// A command is recorded here before it is first handed to a device, synchronously with
// synchronous=FULL, and a command id already here is never handed again: that is the at-most-once
// guarantee, across restarts, Kafka redeliveries and duplicate messages. The status events for the
// cloud are written in the same transaction as the state change that causes them and wait in
// `status_out` until Kafka confirms them.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CommandMessage, CommandStatus } from './wire.js';

/**
 * pending: recorded, not yet handed to the device. handing: being (or was being) handed over, no
 * confirmation yet; never handed again. The rest are the wire's statuses.
 */
export type LedgerState = 'pending' | 'handing' | 'delivered' | 'acknowledged' | 'failed' | 'expired';

export type Route = 'mqtt' | 'modbus';

export interface LedgerRow {
  id: string;
  deviceId: string;
  route: Route;
  state: LedgerState;
  command: CommandMessage;
  expiresMs: number;
  receivedMs: number;
}

export interface OutgoingStatus {
  seq: number;
  commandId: string;
  value: string;
}

/**
 * How far along each state is. A move is allowed only forwards (DESIGN: queued → delivered →
 * acknowledged|failed; queued → expired; queued|delivered → failed); terminal states never move.
 */
const RANK: Record<LedgerState, number> = { pending: 0, handing: 1, delivered: 2, acknowledged: 3, failed: 3, expired: 3 };
const ALLOWED: Record<LedgerState, readonly LedgerState[]> = {
  pending: ['handing', 'expired', 'failed'],
  handing: ['delivered', 'failed'],
  delivered: ['acknowledged', 'failed'],
  acknowledged: [],
  failed: [],
  expired: [],
};

export function mayMove(from: LedgerState, to: LedgerState): boolean {
  return ALLOWED[from].includes(to) && RANK[to] >= RANK[from];
}

interface Row {
  id: string;
  device_id: string;
  route: Route;
  state: LedgerState;
  body: string;
  expires_ms: number;
  received_ms: number;
}

export class CommandLedger {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // A command marked handing must still say so after a power cut, or it could be handed again.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS commands (
        id TEXT PRIMARY KEY, device_id TEXT NOT NULL, route TEXT NOT NULL, state TEXT NOT NULL,
        body TEXT NOT NULL, expires_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL, error TEXT
      );
      CREATE INDEX IF NOT EXISTS commands_open ON commands (state) WHERE state IN ('pending', 'handing');
      CREATE TABLE IF NOT EXISTS status_out (seq INTEGER PRIMARY KEY AUTOINCREMENT, command_id TEXT NOT NULL, value TEXT NOT NULL);
    `);
    this.stmts = {
      insert: this.db.prepare(
        'INSERT INTO commands (id, device_id, route, state, body, expires_ms, received_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      ),
      get: this.db.prepare('SELECT * FROM commands WHERE id = ?'),
      reopen: this.db.prepare("UPDATE commands SET state = 'pending', updated_ms = ? WHERE id = ? AND state = 'handing'"),
      setState: this.db.prepare('UPDATE commands SET state = ?, updated_ms = ?, error = ? WHERE id = ?'),
      open: this.db.prepare("SELECT * FROM commands WHERE state IN ('pending', 'handing') ORDER BY received_ms, rowid"),
      pendingOf: this.db.prepare("SELECT * FROM commands WHERE state = 'pending' AND device_id = ? ORDER BY received_ms, rowid"),
      addStatus: this.db.prepare('INSERT INTO status_out (command_id, value) VALUES (?, ?)'),
      outgoing: this.db.prepare('SELECT seq, command_id AS commandId, value FROM status_out WHERE seq > ? ORDER BY seq LIMIT ?'),
      sent: this.db.prepare('DELETE FROM status_out WHERE seq = ?'),
      outgoingCount: this.db.prepare('SELECT count(*) FROM status_out').pluck(),
      // Only rows past their expiry too: a pruned id seen again is then refused as expired, never handed.
      prune: this.db.prepare("DELETE FROM commands WHERE state NOT IN ('pending', 'handing') AND updated_ms < ? AND expires_ms < ?"),
    };
  }

  /**
   * Records a command never seen before, in state `state`. false when its id is already here: the
   * caller must not hand it to the device again.
   */
  admit(cmd: CommandMessage, route: Route, nowMs: number, state: LedgerState = 'pending'): boolean {
    const r = this.stmts.insert.run(cmd.id, cmd.device_id, route, state, JSON.stringify(cmd), cmd.expires_ms, nowMs, nowMs);
    return r.changes === 1;
  }

  get(id: string): LedgerRow | undefined {
    const r = this.stmts.get.get(id) as Row | undefined;
    return r && toRow(r);
  }

  /**
   * Moves a command to `to` and queues `status` (when given) for the cloud, in one transaction. A
   * move that is not forwards is ignored; returns whether the state changed.
   */
  move(id: string, to: LedgerState, nowMs: number, status?: CommandStatus): boolean {
    return this.db.transaction(() => {
      const r = this.stmts.get.get(id) as Row | undefined;
      if (!r || !mayMove(r.state, to)) return false;
      this.stmts.setState.run(to, nowMs, status?.error ?? null, id);
      if (status) this.stmts.addStatus.run(id, JSON.stringify(status));
      return true;
    })();
  }

  /**
   * handing → pending, for a publish that found no subscriber after all: nothing left the gateway,
   * so the command may still be handed over once. The only backward move, and no status goes out.
   */
  reopen(id: string, nowMs: number): void {
    this.stmts.reopen.run(nowMs, id);
  }

  /** Queues a status event that changes no state (a malformed command's failure, which has no row). */
  queueStatus(status: CommandStatus): void {
    this.stmts.addStatus.run(status.id, JSON.stringify(status));
  }

  /** Commands not finished: pending and handing, oldest first. */
  open(): LedgerRow[] {
    return (this.stmts.open.all() as Row[]).map(toRow);
  }

  pendingFor(deviceId: string): LedgerRow[] {
    return (this.stmts.pendingOf.all(deviceId) as Row[]).map(toRow);
  }

  /** Status events waiting for Kafka, after `afterSeq`, oldest first. */
  outgoing(afterSeq: number, limit: number): OutgoingStatus[] {
    return this.stmts.outgoing.all(afterSeq, limit) as OutgoingStatus[];
  }

  outgoingCount(): number {
    return this.stmts.outgoingCount.get() as number;
  }

  /** Kafka confirmed this status event. */
  sent(seq: number): void {
    this.stmts.sent.run(seq);
  }

  /** Forgets finished commands last changed, and expiring, before `beforeMs`. */
  prune(beforeMs: number): number {
    return this.stmts.prune.run(beforeMs, beforeMs).changes;
  }

  close(): void {
    this.db.close();
  }
}

function toRow(r: Row): LedgerRow {
  return {
    id: r.id,
    deviceId: r.device_id,
    route: r.route,
    state: r.state,
    command: JSON.parse(r.body) as CommandMessage,
    expiresMs: r.expires_ms,
    receivedMs: r.received_ms,
  };
}
