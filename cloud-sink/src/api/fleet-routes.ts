// GET /v1/gateways and GET /v1/gateways/{id}: fleet health (DESIGN.md "Cloud API", issue 11),
// judged by fleet/health.ts from what the fleet workers stored. Scope read:fleet.
import type { FastifyInstance } from 'fastify';
import { CloudError } from '../errors.js';
import type { DeviceHealth, FleetHealth, GatewayHealth } from '../fleet/fleet-health.js';
import { guard } from './access.js';
import type { Authenticator } from './auth.js';

export interface FleetRouteDeps {
  auth: Authenticator;
  fleet: FleetHealth;
}

const STATUSES = ['online', 'offline', 'degraded'] as const;

export function registerFleetRoutes(app: FastifyInstance, deps: FleetRouteDeps): void {
  const readFleet = guard(deps.auth, 'read:fleet');

  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/gateways', { onRequest: readFleet }, async (req) => {
    const status = req.query.status;
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw new CloudError('FL_ERR_API_BAD_PARAM', `status=${JSON.stringify(status)} must be one of ${STATUSES.join(', ')}`);
    }
    const gateways = await deps.fleet.gateways();
    return { gateways: gateways.filter((g) => status === undefined || g.status === status).map(gatewayItem) };
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>(
    '/v1/gateways/:id',
    { onRequest: readFleet },
    async (req) => {
      const c = deps.fleet.settings.completeness;
      const windowS = parseWindow(req.query.window, c.windowS, c.maxWindowS);
      const detail = await deps.fleet.gateway(req.params.id, windowS * 1000);
      if (!detail) throw new CloudError('FL_ERR_API_GATEWAY_NOT_FOUND', req.params.id);
      return { ...gatewayItem(detail.gateway), devices: detail.devices.map(deviceItem) };
    },
  );
}

/**
 * `window=` in seconds (`3600`, `3600s`), minutes (`60m`) or hours (`1h`); whole minutes, since
 * completeness is counted from readings_1m, from 1 min to the configured maximum.
 */
export function parseWindow(raw: string | undefined, fallbackS: number, maxS: number): number {
  if (raw === undefined || raw === '') return fallbackS;
  const m = /^(\d{1,9})(s|m|h)?$/.exec(raw);
  const s = m ? Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1) : NaN;
  if (!(s >= 60 && s <= maxS && s % 60 === 0)) {
    throw new CloudError('FL_ERR_API_BAD_PARAM', `window=${JSON.stringify(raw)} must be whole minutes from 60s to ${maxS}s (e.g. 3600, 90m, 2h)`);
  }
  return s;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** One gateway in the contract's shape; the heartbeat's fields are null before its first heartbeat. */
export function gatewayItem(g: GatewayHealth): Record<string, unknown> {
  const hb = g.heartbeat;
  return {
    gateway_id: g.gatewayId,
    status: g.status,
    reasons: g.reasons,
    last_seen: iso(g.lastSeen),
    last_heartbeat_at: hb ? new Date(hb.tsMs).toISOString() : null,
    heartbeat_received_at: iso(g.heartbeatReceivedAt),
    heartbeat_interval_ms: hb?.intervalMs ?? null,
    delayed: hb?.delayed ?? null,
    firmware: hb?.firmware ?? null,
    uptime_s: hb?.uptimeS ?? null,
    cpu: hb?.cpuPercent ?? null,
    memory: hb && hb.memoryTotalBytes > 0 ? round1((hb.memoryUsedBytes / hb.memoryTotalBytes) * 100) : null,
    memory_used_bytes: hb?.memoryUsedBytes ?? null,
    memory_total_bytes: hb?.memoryTotalBytes ?? null,
    disk_free: hb?.diskFreeBytes ?? null,
    disk_total: hb?.diskTotalBytes ?? null,
    temperature: hb?.temperatureC ?? null,
    outbox: hb ? { depth: hb.outboxDepth, oldest_age_ms: hb.outboxOldestAgeMs, bytes: hb.outboxBytes, full: hb.outboxFull } : null,
    loss: hb ? { ...hb.loss } : null,
    adapters: hb ? hb.adapters.map((a) => ({ name: a.name, state: a.state, detail: a.detail })) : [],
  };
}

function deviceItem(d: DeviceHealth): Record<string, unknown> {
  return { device_id: d.deviceId, last_seen: d.lastSeen.toISOString(), completeness: d.completeness };
}
