// Which devices the gateway accepts. Listed devices always; others only with devices.autoRegister,
// in which case the first message registers them (kept on disk so a field tech sees every device
// the gateway has ever heard from, also after a restart).
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

  constructor(path: string, private readonly cfg: GatewayConfig['devices']) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, first_seen_ms INTEGER NOT NULL, source INTEGER NOT NULL)');
    this.insert = this.db.prepare('INSERT OR IGNORE INTO devices (device_id, first_seen_ms, source) VALUES (?, ?, ?)');
    for (const d of cfg.known) this.known.set(d.id, { deviceId: d.id, firstSeenMs: 0, source: 0, listed: true });
    const rows = this.db.prepare('SELECT device_id, first_seen_ms, source FROM devices').all() as { device_id: string; first_seen_ms: number; source: number }[];
    for (const r of rows) {
      const listed = this.known.has(r.device_id);
      if (listed || cfg.autoRegister) this.known.set(r.device_id, { deviceId: r.device_id, firstSeenMs: r.first_seen_ms, source: r.source, listed });
    }
  }

  /** true when the device may send; registers it on first sight when auto-registration is on. */
  admit(deviceId: string, source: number, now: number): boolean {
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

export function registryStep(registry: DeviceRegistry): Step {
  return {
    name: 'registry',
    run(env) {
      if (registry.admit(env.deviceId, env.source, env.receivedMs)) return undefined;
      return { code: 'FL_ERR_VALIDATE_UNKNOWN_DEVICE', detail: `${env.deviceId} is not in devices.known and autoRegister is off` };
    },
  };
}
