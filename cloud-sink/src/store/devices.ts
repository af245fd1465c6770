// Devices as the query API shows them: what the sink learnt (gateway, first and last reading time,
// metrics) beside what operators set (name, type, location, tags, expected_interval_ms), and each
// device's newest value per metric. The sink's upsert (store.ts upsertDevices) touches only its own
// columns, so an operator's edits survive every batch.
import type { Db } from './db.js';
import type { Migration } from './schema.js';

/**
 * Versions 40 and up are this module's. Imports only types from schema.ts, which includes the list:
 * a value import back would make that list depend on which module loaded first.
 */
export const DEVICE_MIGRATIONS: readonly Migration[] = [
  {
    version: 40,
    name: 'devices: operator metadata (name, type, location, tags)',
    async up(tx) {
      // location and tags are jsonb: their shapes are checked by the API's schema, and jsonb keeps
      // a later field (an altitude, a floor) from needing a migration.
      await tx.query(`
        ALTER TABLE devices
          ADD COLUMN name     text,
          ADD COLUMN type     text,
          ADD COLUMN location jsonb,
          ADD COLUMN tags     jsonb NOT NULL DEFAULT '{}'`);
    },
  },
];

/** Where a device is: a point, a label ("pump house 2"), or both. */
export interface DeviceLocation {
  lat?: number;
  lon?: number;
  label?: string;
}

export interface DeviceRecord {
  deviceId: string;
  gatewayId: string;
  firstSeen: Date;
  lastSeen: Date;
  metrics: string[];
  name: string | null;
  type: string | null;
  location: DeviceLocation | null;
  tags: Record<string, string>;
  expectedIntervalMs: number | null;
}

/** An operator's edit: a field left out stays, null clears it (tags: to {}). */
export interface DevicePatch {
  name?: string | null;
  type?: string | null;
  location?: DeviceLocation | null;
  tags?: Record<string, string> | null;
  expectedIntervalMs?: number | null;
}

export interface DeviceListQuery {
  /** Only devices behind these gateways (the token's fleet); null: all. */
  fleet: string[] | null;
  gateway?: string | undefined;
  /** Case-insensitive substring of the device id or the name. */
  search?: string | undefined;
  /** Device ids after this one (paging). */
  after?: string | undefined;
  limit: number;
}

const COLUMNS = 'device_id, gateway_id, first_seen, last_seen, metrics, name, type, location, tags, expected_interval_ms';

interface DeviceRow {
  device_id: string;
  gateway_id: string;
  first_seen: Date;
  last_seen: Date;
  metrics: string[];
  name: string | null;
  type: string | null;
  location: unknown;
  tags: unknown;
  expected_interval_ms: number | string | null;
}

export class DeviceCatalog {
  constructor(private readonly db: Db) {}

  /** Ordered by device id ("C" collation, the same on every backend). */
  async list(q: DeviceListQuery): Promise<DeviceRecord[]> {
    const params: unknown[] = [q.fleet, q.gateway ?? null, q.search === undefined ? null : `%${likeEscape(q.search)}%`, q.after ?? null, q.limit];
    const r = await this.db.query<DeviceRow>(
      `SELECT ${COLUMNS} FROM devices
        WHERE ($1::text[] IS NULL OR gateway_id = ANY($1::text[]))
          AND ($2::text IS NULL OR gateway_id = $2)
          AND ($3::text IS NULL OR device_id ILIKE $3 OR name ILIKE $3)
          AND ($4::text IS NULL OR device_id COLLATE "C" > $4::text COLLATE "C")
        ORDER BY device_id COLLATE "C"
        LIMIT $5`,
      params,
    );
    return r.rows.map(toRecord);
  }

  async get(deviceId: string): Promise<DeviceRecord | null> {
    const r = await this.db.query<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE device_id = $1`, [deviceId]);
    const row = r.rows[0];
    return row ? toRecord(row) : null;
  }

  /** Applies the fields `patch` names; null when the device does not exist. */
  async patch(deviceId: string, patch: DevicePatch): Promise<DeviceRecord | null> {
    const sets: string[] = [];
    const params: unknown[] = [deviceId];
    const set = (column: string, value: unknown, cast = ''): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (patch.name !== undefined) set('name', patch.name);
    if (patch.type !== undefined) set('type', patch.type);
    if (patch.location !== undefined) set('location', patch.location === null ? null : JSON.stringify(patch.location), '::jsonb');
    if (patch.tags !== undefined) set('tags', JSON.stringify(patch.tags ?? {}), '::jsonb');
    if (patch.expectedIntervalMs !== undefined) set('expected_interval_ms', patch.expectedIntervalMs);
    if (sets.length === 0) return this.get(deviceId);
    const r = await this.db.query<DeviceRow>(`UPDATE devices SET ${sets.join(', ')} WHERE device_id = $1 RETURNING ${COLUMNS}`, params);
    const row = r.rows[0];
    return row ? toRecord(row) : null;
  }

  /**
   * The newest stored reading of each metric the device has sent: one index probe per metric
   * (readings_device_metric_ts, newest first), however many rows the device has. A metric whose
   * raw rows retention already dropped is left out.
   */
  async latest(deviceId: string): Promise<Map<string, { ts: Date; value: number }>> {
    const r = await this.db.query<{ metric: string; ts: Date; value: number }>(
      `SELECT m.metric, x.ts, x.value
         FROM devices d
        CROSS JOIN LATERAL unnest(d.metrics) AS m(metric)
        CROSS JOIN LATERAL (
          SELECT ts, value FROM readings
           WHERE device_id = d.device_id AND metric = m.metric
           ORDER BY ts DESC LIMIT 1) x
        WHERE d.device_id = $1
        ORDER BY m.metric COLLATE "C"`,
      [deviceId],
    );
    return new Map(r.rows.map((row) => [row.metric, { ts: row.ts, value: row.value }]));
  }
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function parseJson(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

function toRecord(d: DeviceRow): DeviceRecord {
  const tags = parseJson(d.tags);
  const location = parseJson(d.location);
  return {
    deviceId: d.device_id,
    gatewayId: d.gateway_id,
    firstSeen: d.first_seen,
    lastSeen: d.last_seen,
    metrics: d.metrics,
    name: d.name,
    type: d.type,
    location: location && typeof location === 'object' ? (location as DeviceLocation) : null,
    tags: tags && typeof tags === 'object' ? (tags as Record<string, string>) : {},
    expectedIntervalMs: d.expected_interval_ms === null ? null : Number(d.expected_interval_ms),
  };
}
