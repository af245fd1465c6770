// GET /v1/gateways and GET /v1/gateways/{id}: fleet health (DESIGN.md "Cloud API", issue 11),
// judged by fleet/health.ts from what the fleet workers stored. Scope read:fleet.
import type { FastifyInstance } from 'fastify';
import { CloudError } from '../errors.js';
import type { DeviceHealth, FleetHealth, GatewayHealth } from '../fleet/fleet-health.js';
import type { HeartbeatRecord } from '../fleet/heartbeats.js';
import { assertGatewayVisible, guard, principalOf, seesGateway } from './access.js';
import type { Authenticator } from './auth.js';
import { ERROR_RESPONSES, idParams, isoTime, nullableIsoTime } from './schemas.js';

export interface FleetRouteDeps {
  auth: Authenticator;
  fleet: FleetHealth;
}

const STATUSES = ['online', 'offline', 'degraded'] as const;

const num = { type: ['number', 'null'] } as const;
const int = { type: ['integer', 'null'] } as const;
const str = { type: ['string', 'null'] } as const;

/** gatewayItem's shape: the contract's gateway and the heartbeat's further fields, null before the first heartbeat. */
const GATEWAY = {
  type: 'object',
  required: ['gateway_id', 'status', 'reasons'],
  properties: {
    gateway_id: { type: 'string' },
    status: { type: 'string', enum: [...STATUSES] },
    reasons: { type: 'array', items: { type: 'string' } },
    last_seen: nullableIsoTime,
    last_heartbeat_at: nullableIsoTime,
    heartbeat_received_at: nullableIsoTime,
    heartbeat_interval_ms: int,
    delayed: { type: ['boolean', 'null'] },
    firmware: str,
    uptime_s: num,
    cpu: num,
    memory: { ...num, description: 'memory in use, percent' },
    memory_used_bytes: num,
    memory_total_bytes: num,
    disk_free: { ...num, description: 'bytes free on the outbox disk' },
    disk_total: num,
    temperature: { ...num, description: '°C' },
    outbox: {
      type: ['object', 'null'],
      properties: {
        depth: { type: 'integer' },
        oldest_age_ms: { type: 'number' },
        bytes: { type: 'number' },
        full: { type: ['string', 'null'], description: 'why the gateway is not acknowledging (FL_ERR_OUTBOX_FULL: …); null while it is' },
      },
    },
    loss: {
      type: ['object', 'null'],
      properties: { rate_limited: { type: 'number' }, quarantined: { type: 'number' }, evicted: { type: 'number' } },
    },
    adapters: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, state: { type: 'string' }, detail: { type: 'string' } } },
    },
    config: {
      type: 'object',
      description: 'config from the cloud (PUT /v1/gateways/{id}/config): what was issued, and what the newest heartbeat says of it',
      properties: {
        state: {
          type: 'string',
          enum: ['none', 'pending', 'applied', 'failed', 'conflict'],
          description: 'none: nothing issued; pending: not yet received or applied; applied: the gateway runs desired_version or newer; failed: refused and rolled back (error); conflict: held back by a change made on site (conflict)',
        },
        desired_version: int,
        applied_version: int,
        seen_version: int,
        source: { type: ['string', 'null'], description: 'where the running config came from: file, cloud or local (changed on site)' },
        error: str,
        conflict: str,
      },
    },
  },
} as const;

const DEVICE = {
  type: 'object',
  properties: {
    device_id: { type: 'string' },
    last_seen: isoTime,
    completeness: {
      type: 'object',
      properties: {
        window_s: { type: 'integer' },
        received: { type: 'integer' },
        expected: num,
        ratio: num,
        rate_source: { type: 'string', enum: ['configured', 'observed', 'unknown'] },
      },
    },
  },
} as const;

const LIST_SCHEMA = {
  tags: ['fleet'],
  summary: 'Every gateway of the token\'s fleet with its health',
  querystring: { type: 'object', properties: { status: { type: 'string', enum: [...STATUSES] } } },
  response: { 200: { type: 'object', properties: { gateways: { type: 'array', items: GATEWAY } } }, ...ERROR_RESPONSES },
};

const ONE_SCHEMA = {
  tags: ['fleet'],
  summary: 'One gateway with its devices\' completeness over a window',
  params: idParams,
  querystring: {
    type: 'object',
    properties: { window: { type: 'string', maxLength: 16, description: 'seconds (3600), minutes (90m) or hours (2h); whole minutes' } },
  },
  response: {
    200: { ...GATEWAY, properties: { ...GATEWAY.properties, devices: { type: 'array', items: DEVICE } } },
    ...ERROR_RESPONSES,
  },
};

export function registerFleetRoutes(app: FastifyInstance, deps: FleetRouteDeps): void {
  const readFleet = guard(deps.auth, 'read:fleet');

  app.get<{ Querystring: { status?: string } }>('/v1/gateways', { onRequest: readFleet, schema: LIST_SCHEMA }, async (req) => {
    const status = req.query.status;
    const p = principalOf(req);
    const gateways = await deps.fleet.gateways();
    return { gateways: gateways.filter((g) => (status === undefined || g.status === status) && seesGateway(p, g.gatewayId)).map(gatewayItem) };
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>(
    '/v1/gateways/:id',
    { onRequest: readFleet, schema: ONE_SCHEMA },
    async (req) => {
      assertGatewayVisible(principalOf(req), req.params.id);
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
    config: configItem(g.desiredConfigVersion, hb?.config ?? null),
  };
}

/** The `config` of a gateway item: the version issued against what the newest heartbeat reports. */
export function configItem(desired: number | null, c: HeartbeatRecord['config'] | null): Record<string, unknown> {
  const applied = c?.version ?? null;
  const seen = c?.seenVersion ?? null;
  let state: string;
  if (desired === null) state = 'none';
  else if (applied !== null && applied >= desired) state = 'applied';
  else if (seen !== null && seen >= desired && c?.conflict) state = 'conflict';
  else if (seen !== null && seen >= desired && c?.error) state = 'failed';
  else state = 'pending';
  return {
    state,
    desired_version: desired,
    applied_version: applied,
    seen_version: seen,
    source: c?.source ?? null,
    error: c?.error ?? null,
    conflict: c?.conflict ?? null,
  };
}

function deviceItem(d: DeviceHealth): Record<string, unknown> {
  return { device_id: d.deviceId, last_seen: d.lastSeen.toISOString(), completeness: d.completeness };
}
