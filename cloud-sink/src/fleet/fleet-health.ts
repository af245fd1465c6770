// Reads what fleet health is judged from (gateways, gateway_heartbeats, devices, readings_1m/1h) and
// judges it with health.ts. The same SQL on both shapes: readings_1m/1h are real-time continuous
// aggregates on TimescaleDB and the sink's own tables on PostgreSQL, with the same columns.
//
// Every "now" is the database's: heartbeat_received_at is stamped by it, so an API host whose clock
// is off cannot call a live gateway offline.
import type { CloudConfig } from '../config/schema.js';
import type { Db } from '../store/db.js';
import { completeness, gatewayStatus, type Completeness, type GatewayStatus } from './health.js';
import { heartbeatFromRow, heartbeatSelect, type HeartbeatRecord } from './heartbeats.js';

export type FleetHealthSettings = CloudConfig['fleet']['health'];

export interface GatewayHealth {
  gatewayId: string;
  status: GatewayStatus;
  reasons: string[];
  /** When the cloud last heard from the gateway, by a batch or a heartbeat (cloud clock). */
  lastSeen: Date;
  /** When the newest heartbeat was stored (cloud clock); null before the first. */
  heartbeatReceivedAt: Date | null;
  /** The newest heartbeat; null before the first. */
  heartbeat: HeartbeatRecord | null;
  /** The newest config version the cloud issued for it (PUT /v1/gateways/{id}/config); null: none. */
  desiredConfigVersion: number | null;
}

export interface DeviceHealth {
  deviceId: string;
  /** The device's newest reading time (its clock). */
  lastSeen: Date;
  completeness: Completeness;
}

export interface GatewayDetail {
  gateway: GatewayHealth;
  /** The devices whose newest reading came through this gateway, by id. */
  devices: DeviceHealth[];
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

const GATEWAYS = `
  SELECT g.last_seen, g.heartbeat_received_at, now() AS db_now,
         (SELECT max(c.version) FROM gateway_configs c WHERE c.gateway_id = g.gateway_id) AS desired_config_version,
         ${heartbeatSelect('g', 'gateways')},
         ${heartbeatSelect('p', 'gateway_heartbeats', 'prev_')}
    FROM gateways g
    LEFT JOIN LATERAL (
      SELECT * FROM gateway_heartbeats h
       WHERE h.gateway_id = g.gateway_id AND h.ts < g.last_heartbeat_at
       ORDER BY h.ts DESC LIMIT 1
    ) p ON true`;

interface GatewayRow extends Record<string, unknown> {
  gateway_id: string;
  last_seen: Date;
  heartbeat_received_at: Date | null;
  db_now: Date;
  desired_config_version: number | string | null;
}

export class FleetHealth {
  constructor(
    private readonly db: Db,
    readonly settings: FleetHealthSettings,
  ) {}

  /** Every gateway the cloud has heard of, by id. */
  async gateways(): Promise<GatewayHealth[]> {
    const r = await this.db.query<GatewayRow>(`${GATEWAYS} ORDER BY g.gateway_id COLLATE "C"`);
    return r.rows.map((row) => this.judge(row));
  }

  /** One gateway with its devices' completeness over the `windowMs` before now; null for a gateway never heard of. */
  async gateway(gatewayId: string, windowMs: number): Promise<GatewayDetail | null> {
    const r = await this.db.query<GatewayRow>(`${GATEWAYS} WHERE g.gateway_id = $1`, [gatewayId]);
    const row = r.rows[0];
    if (!row) return null;
    return { gateway: this.judge(row), devices: await this.devices(gatewayId, windowMs, row.db_now.getTime()) };
  }

  private judge(row: GatewayRow): GatewayHealth {
    const heartbeat = heartbeatFromRow(row);
    const { status, reasons } = gatewayStatus(
      { heartbeatReceivedAtMs: row.heartbeat_received_at?.getTime() ?? null, heartbeat },
      heartbeatFromRow(row, 'prev_'),
      this.settings,
      row.db_now.getTime(),
    );
    const desiredConfigVersion = row.desired_config_version === null ? null : Number(row.desired_config_version);
    return { gatewayId: row.gateway_id, status, reasons, lastSeen: row.last_seen, heartbeatReceivedAt: row.heartbeat_received_at, heartbeat, desiredConfigVersion };
  }

  private async devices(gatewayId: string, windowMs: number, nowMs: number): Promise<DeviceHealth[]> {
    const c = this.settings.completeness;
    const devices = (
      await this.db.query<{ device_id: string; first_seen: Date; last_seen: Date; expected_interval_ms: number | null; metric_count: number }>(
        `SELECT device_id, first_seen, last_seen, expected_interval_ms, cardinality(metrics) AS metric_count
           FROM devices WHERE gateway_id = $1 ORDER BY device_id COLLATE "C"`,
        [gatewayId],
      )
    ).rows;
    if (devices.length === 0) return [];
    const ids = devices.map((d) => d.device_id);
    // Whole minutes, ending settleMs before now: readings_1m's buckets, and no reading still in flight counted as missing.
    const end = Math.floor((nowMs - c.settleMs) / MINUTE_MS) * MINUTE_MS;
    const start = end - windowMs;
    const received = new Map(
      (
        await this.db.query<{ device_id: string; n: number }>(
          `SELECT device_id, sum(count)::float8 AS n FROM readings_1m
            WHERE device_id = ANY($1::text[]) AND bucket >= $2 AND bucket < $3 GROUP BY device_id`,
          [ids, new Date(start), new Date(end)],
        )
      ).rows.map((x) => [x.device_id, Number(x.n)]),
    );
    // Complete hours only: the hour the window ends in is still filling.
    const hoursEnd = Math.floor(end / HOUR_MS) * HOUR_MS;
    const hourly = new Map<string, { bucket: number; n: number }[]>();
    for (const x of (
      await this.db.query<{ device_id: string; bucket: Date; n: number }>(
        `SELECT device_id, bucket, sum(count)::float8 AS n FROM readings_1h
          WHERE device_id = ANY($1::text[]) AND bucket >= $2 AND bucket < $3
          GROUP BY device_id, bucket ORDER BY device_id, bucket`,
        [ids, new Date(hoursEnd - c.lookbackHours * HOUR_MS), new Date(hoursEnd)],
      )
    ).rows) {
      const list = hourly.get(x.device_id) ?? [];
      list.push({ bucket: x.bucket.getTime(), n: Number(x.n) });
      hourly.set(x.device_id, list);
    }
    return devices.map((d) => ({
      deviceId: d.device_id,
      lastSeen: d.last_seen,
      completeness: completeness(
        {
          windowMs,
          received: received.get(d.device_id) ?? 0,
          expectedIntervalMs: d.expected_interval_ms === null ? null : Number(d.expected_interval_ms),
          metricCount: Number(d.metric_count),
          // The hour the device's first reading fell in is partly before it: not a measure of its rate.
          hourlyCounts: (hourly.get(d.device_id) ?? []).filter((h) => h.bucket >= d.first_seen.getTime()).map((h) => h.n),
        },
        c,
      ),
    }));
  }
}
