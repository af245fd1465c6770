// Which devices the gateway accepts. Listed devices always; others only with devices.autoRegister,
// in which case the first message registers them (kept on disk so a field tech sees every device
// the gateway has ever heard from, also after a restart). Devices enrolled with `fieldline-gateway
// device add` (pki/enrol.ts) are marked `enrolled` in the same file and admitted with
// autoRegister off too; the CLI writes while the gateway runs, so with autoRegister off the
// gateway looks again whenever another connection changed the file (PRAGMA data_version).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { Step } from './types.js';

export interface DeviceRow {
  deviceId: string;
  firstSeenMs: number;
  source: number;
  listed: boolean;
}

export class DeviceRegistry {
  private readonly db: Database.Database;
  private readonly known = new Map<string, DeviceRow>();
  private readonly insert: Database.Statement;
  private readonly dataVersion: Database.Statement;
  private readonly enrolledRows: Database.Statement;
  private seenVersion = -1;

  constructor(path: string, private readonly cfg: GatewayConfig['devices']) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    // An enrolled device's row exists before it was first seen (first_seen_ms 0): fill it in then.
    this.insert = this.db.prepare(
      'INSERT INTO devices (device_id, first_seen_ms, source) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET first_seen_ms = excluded.first_seen_ms, source = excluded.source WHERE first_seen_ms = 0',
    );
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.enrolledRows = this.db.prepare('SELECT device_id, first_seen_ms, source, enrolled FROM devices WHERE enrolled = 1');
    for (const d of cfg.known) this.known.set(d.id, { deviceId: d.id, firstSeenMs: 0, source: 0, listed: true });
    const rows = this.db.prepare('SELECT device_id, first_seen_ms, source, enrolled FROM devices').all() as Row[];
    for (const r of rows) {
      const listed = this.known.has(r.device_id);
      if (listed || cfg.autoRegister || r.enrolled) this.known.set(r.device_id, { deviceId: r.device_id, firstSeenMs: r.first_seen_ms, source: r.source, listed });
    }
    this.seenVersion = this.dataVersion.get() as number;
  }

  /** With autoRegister off: take in devices enrolled, and drop devices un-enrolled, by another process. */
  private syncEnrolments(): void {
    const version = this.dataVersion.get() as number;
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    const enrolled = new Map((this.enrolledRows.all() as Row[]).map((r) => [r.device_id, r]));
    for (const [id, row] of this.known) if (!row.listed && !enrolled.has(id)) this.known.delete(id);
    for (const [id, r] of enrolled) {
      if (!this.known.has(id)) this.known.set(id, { deviceId: id, firstSeenMs: r.first_seen_ms, source: r.source, listed: false });
    }
  }

  /** true when the device may send; registers it on first sight when auto-registration is on. */
  admit(deviceId: string, source: number, now: number): boolean {
    if (!this.cfg.autoRegister) this.syncEnrolments();
    const row = this.known.get(deviceId);
    if (row) {
      if (row.firstSeenMs === 0) this.record(row, source, now);
      return true;
    }
    if (!this.cfg.autoRegister) return false;
    const fresh = { deviceId, firstSeenMs: 0, source, listed: false };
    this.known.set(deviceId, fresh);
    this.record(fresh, source, now);
    return true;
  }

  private record(row: DeviceRow, source: number, now: number): void {
    row.firstSeenMs = now;
    row.source = source;
    this.insert.run(row.deviceId, now, source);
  }

  list(): DeviceRow[] {
    return [...this.known.values()];
  }

  close(): void {
    this.db.close();
  }
}

interface Row {
  device_id: string;
  first_seen_ms: number;
  source: number;
  enrolled: number;
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, first_seen_ms INTEGER NOT NULL, source INTEGER NOT NULL)');
  const columns = db.prepare('PRAGMA table_info(devices)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'enrolled')) db.exec('ALTER TABLE devices ADD COLUMN enrolled INTEGER NOT NULL DEFAULT 0');
}

/**
 * Marks a device enrolled (it holds a certificate of the gateway's CA) or not, in the registry file
 * at `path`; safe beside a running gateway, which picks the change up at the device's next message.
 */
export function setEnrolled(path: string, deviceId: string, enrolled: boolean): void {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    db.prepare('INSERT INTO devices (device_id, first_seen_ms, source, enrolled) VALUES (?, 0, 0, ?) ON CONFLICT (device_id) DO UPDATE SET enrolled = excluded.enrolled')
      .run(deviceId, enrolled ? 1 : 0);
  } finally {
    db.close();
  }
}

export function registryStep(registry: DeviceRegistry): Step {
  return {
    name: 'registry',
    run(env) {
      if (registry.admit(env.deviceId, env.source, env.receivedMs)) return undefined;
      return { code: 'FL_ERR_VALIDATE_UNKNOWN_DEVICE', detail: `${env.deviceId} is not in devices.known and autoRegister is off` };
    },
  };
}
