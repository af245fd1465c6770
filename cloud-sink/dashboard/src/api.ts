// Calls to the cloud API with the session's bearer token, and the shapes it answers with
// (DESIGN.md "Cloud API"). A 401 anywhere signs out, with the API's reason, through onUnauthorized.

import { clearToken, storedToken } from './session';

export interface GatewayItem {
  gateway_id: string;
  status: 'online' | 'offline' | 'degraded';
  reasons: string[];
  last_seen: string | null;
  firmware: string | null;
  uptime_s: number | null;
  cpu: number | null;
  memory: number | null;
  disk_free: number | null;
  temperature: number | null;
  outbox: { depth: number; oldest_age_ms: number } | null;
  loss: { rate_limited: number; quarantined: number; evicted: number } | null;
  adapters: { name: string; state: string; detail?: string }[];
}

export interface GatewayDetail extends GatewayItem {
  devices: { device_id: string; last_seen: string; completeness: { window_s: number; received: number; expected: number | null; ratio: number | null } }[];
}

export interface DeviceMeta {
  device_id: string;
  gateway_id?: string | null;
  name?: string | null;
  type?: string | null;
  location?: { lat?: number; lon?: number; label?: string } | null;
  tags?: Record<string, string> | null;
  metrics?: string[];
  first_seen?: string | null;
  last_seen?: string | null;
}

export interface Latest {
  device_id: string;
  metrics: Record<string, { ts: string; value: number }>;
}

export interface AggPoint {
  ts: string;
  avg: number | null;
  min: number | null;
  max: number | null;
  count: number;
  last: number | null;
}

export interface Aggregates {
  device_id: string;
  metric: string;
  bucket: string;
  source: string;
  points: AggPoint[];
}

export interface AlertItem {
  id: string;
  rule_id: string;
  target: { device?: string; metric?: string; gateway?: string };
  state: 'firing' | 'resolved';
  severity: 'info' | 'warning' | 'critical';
  value: number | null;
  started_at: string;
  resolved_at: string | null;
  acked_by: string | null;
  acked_at: string | null;
  message: string;
}

export type RuleKind = 'threshold' | 'rate' | 'absence' | 'gateway_offline' | 'gateway_degraded' | 'quality' | 'anomaly';

export interface Rule {
  id: string;
  name: string;
  kind: RuleKind;
  target: { device?: string; device_pattern?: string; metric?: string; gateway?: string };
  params: Record<string, unknown>;
  severity: 'info' | 'warning' | 'critical';
  enabled: boolean;
  version?: number;
  webhook?: { url: string; has_secret?: boolean; secret?: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: (reason: string) => void = () => undefined;

/** Where a 401 goes: the app returns to the login screen with the reason. */
export function setUnauthorizedHandler(fn: (reason: string) => void): void {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = storedToken();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    const e = new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? (text || res.statusText));
    if (res.status === 401) {
      const reason = `${e.message} (${e.code})`;
      clearToken(reason);
      onUnauthorized(reason);
    }
    throw e;
  }
  return parsed as T;
}

export const enc = encodeURIComponent;
