// What one GET /v1/stream client is sent: its filter (from the query or a subscribe message), the
// token's scopes (read:telemetry for readings, read:fleet for alerts) and its `fleet` claim. The
// fleet is applied before any filter, so a device or gateway outside it looks exactly like one that
// sends nothing: no error, no data, the stream's form of "404, never 403" (api/access.ts).
import { CloudError } from '../errors.js';
import { seesGateway } from './access.js';
import type { Principal } from './auth.js';

export const STREAM_KINDS = ['readings', 'alerts'] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

/** Most values one filter list may hold (devices, metrics or gateways). */
export const MAX_FILTER_VALUES = 1_000;
/** Longest single filter value; longer than any id the sink accepts. */
export const MAX_FILTER_VALUE_LENGTH = 1_024;

export interface StreamFilter {
  /** Never empty: a token allowed neither kind is refused before it gets a stream. */
  kinds: ReadonlySet<StreamKind>;
  /** null: every one the token may see. */
  devices: ReadonlySet<string> | null;
  metrics: ReadonlySet<string> | null;
  gateways: ReadonlySet<string> | null;
}

/** The filter's fields as the query string or a subscribe message carry them. */
export interface FilterInput {
  device?: unknown;
  metric?: unknown;
  gateway?: unknown;
  kinds?: unknown;
}

/** The kinds the token's scopes allow: read:telemetry gives readings, read:fleet alerts, admin both. */
export function allowedKinds(p: Principal): Set<StreamKind> {
  const admin = p.scopes.has('admin');
  const kinds = new Set<StreamKind>();
  if (admin || p.scopes.has('read:telemetry')) kinds.add('readings');
  if (admin || p.scopes.has('read:fleet')) kinds.add('alerts');
  return kinds;
}

/**
 * The filter `input` asks for, limited to what `p` may see. Throws `badCode` (400) naming the field
 * for a malformed value, and FL_ERR_AUTH_SCOPE (403) when `kinds` names a kind the token's scopes do
 * not cover, or the token covers neither. Without `kinds` the stream carries every kind allowed.
 */
export function parseFilter(input: FilterInput, p: Principal, badCode: 'FL_ERR_API_BAD_PARAM' | 'FL_ERR_API_BAD_REQUEST'): StreamFilter {
  const allowed = allowedKinds(p);
  if (allowed.size === 0) throw new CloudError('FL_ERR_AUTH_SCOPE', 'needs read:telemetry (readings) or read:fleet (alerts)');
  const asked = list('kinds', input.kinds, badCode);
  let kinds: Set<StreamKind>;
  if (asked === null) kinds = allowed;
  else {
    kinds = new Set();
    for (const k of asked) {
      if (!(STREAM_KINDS as readonly string[]).includes(k)) throw new CloudError(badCode, `kinds: ${JSON.stringify(k)} is not one of ${STREAM_KINDS.join(', ')}`);
      if (!allowed.has(k as StreamKind)) throw new CloudError('FL_ERR_AUTH_SCOPE', `kinds=${k} needs ${k === 'readings' ? 'read:telemetry' : 'read:fleet'}`);
      kinds.add(k as StreamKind);
    }
    if (kinds.size === 0) throw new CloudError(badCode, `kinds: expected one or more of ${STREAM_KINDS.join(', ')}`);
  }
  return {
    kinds,
    devices: asSet(list('device', input.device, badCode)),
    metrics: asSet(list('metric', input.metric, badCode)),
    gateways: asSet(list('gateway', input.gateway, badCode)),
  };
}

/**
 * A repeated parameter (an array) or a comma list (a string), or both; null when absent. A JSON
 * array in a subscribe message is taken as it is, so an id holding a comma can be asked for there.
 */
function list(name: string, raw: unknown, badCode: 'FL_ERR_API_BAD_PARAM' | 'FL_ERR_API_BAD_REQUEST'): string[] | null {
  if (raw === undefined || raw === null) return null;
  const values: string[] = [];
  if (typeof raw === 'string') values.push(...splitComma(raw));
  else if (Array.isArray(raw)) {
    for (const v of raw) {
      if (typeof v !== 'string') throw new CloudError(badCode, `${name}: expected strings, got ${JSON.stringify(v)}`);
      // The query string's repeated values are comma lists too; a subscribe message's array items are ids.
      values.push(...(badCode === 'FL_ERR_API_BAD_PARAM' ? splitComma(v) : v === '' ? [] : [v]));
    }
  } else throw new CloudError(badCode, `${name}: expected a string, a comma list or an array of strings`);
  if (values.length === 0) throw new CloudError(badCode, `${name}: expected at least one value (leave it out for all)`);
  if (values.length > MAX_FILTER_VALUES) throw new CloudError(badCode, `${name}: at most ${MAX_FILTER_VALUES} values, got ${values.length}`);
  const long = values.find((v) => v.length > MAX_FILTER_VALUE_LENGTH);
  if (long !== undefined) throw new CloudError(badCode, `${name}: a value is longer than ${MAX_FILTER_VALUE_LENGTH} characters`);
  return values;
}

function splitComma(s: string): string[] {
  return s.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

function asSet(values: string[] | null): Set<string> | null {
  return values === null ? null : new Set(values);
}

/** The filter as the `subscribed` message reports it: null for "all", lists sorted. */
export function filterView(f: StreamFilter): Record<string, unknown> {
  const view = (s: ReadonlySet<string> | null): string[] | null => (s === null ? null : [...s].sort());
  return { kinds: STREAM_KINDS.filter((k) => f.kinds.has(k)), device: view(f.devices), metric: view(f.metrics), gateway: view(f.gateways) };
}

/** Whether readings from `gatewayId` may reach this client at all (kind, fleet, gateway filter). */
export function wantsGateway(f: StreamFilter, p: Principal, gatewayId: string): boolean {
  return f.kinds.has('readings') && seesGateway(p, gatewayId) && (f.gateways === null || f.gateways.has(gatewayId));
}

/** One device message of a batch, turned into the stream's `reading` frame at most once per projection. */
export class ReadingView {
  private full: string | undefined;
  readonly ts: string;

  constructor(
    readonly gatewayId: string,
    readonly deviceId: string,
    tsMs: number,
    /** Finite values only: JSON has no NaN or Infinity. */
    readonly metrics: ReadonlyMap<string, number>,
  ) {
    this.ts = new Date(tsMs).toISOString();
  }

  /**
   * Builds a view of a decoded Reading, or null for one the stream cannot show: no device, a time
   * no Date holds, no finite value.
   */
  static of(gatewayId: string, deviceId: string | null | undefined, tsMs: number | null | undefined, metrics: Record<string, number> | null | undefined): ReadingView | null {
    const ts = Number(tsMs);
    if (!deviceId || !Number.isFinite(ts) || Math.abs(ts) > 8.64e15) return null;
    const values = new Map<string, number>();
    for (const [name, value] of Object.entries(metrics ?? {})) if (Number.isFinite(value)) values.set(name, value);
    if (values.size === 0) return null;
    return new ReadingView(gatewayId, deviceId, ts, values);
  }

  /** The frame for a client whose gateway check passed, or null when its device or metric filter leaves nothing. */
  frameFor(f: StreamFilter): string | null {
    if (f.devices !== null && !f.devices.has(this.deviceId)) return null;
    if (f.metrics === null) return (this.full ??= this.frame(this.metrics));
    const picked = new Map<string, number>();
    for (const m of f.metrics) {
      const v = this.metrics.get(m);
      if (v !== undefined) picked.set(m, v);
    }
    return picked.size === 0 ? null : this.frame(picked);
  }

  private frame(metrics: ReadonlyMap<string, number>): string {
    return JSON.stringify({ type: 'reading', gateway_id: this.gatewayId, device_id: this.deviceId, ts: this.ts, metrics: Object.fromEntries(metrics) });
  }
}

/** The parts of an iot.alerts event (alerts/events.ts AlertEvent) the filter looks at. */
export interface AlertTarget {
  gateway?: string;
  device?: string;
  metric?: string;
}

/** Reads the alert's target from an event; null when the event has none (then it is shown to no one). */
export function alertTarget(event: unknown): AlertTarget | null {
  if (typeof event !== 'object' || event === null) return null;
  const alert = (event as { alert?: unknown }).alert;
  if (typeof alert !== 'object' || alert === null) return null;
  const target = (alert as { target?: unknown }).target;
  if (typeof target !== 'object' || target === null) return null;
  const t = target as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const out: AlertTarget = {};
  const gateway = str(t.gateway);
  const device = str(t.device);
  const metric = str(t.metric);
  if (gateway !== undefined) out.gateway = gateway;
  if (device !== undefined) out.device = device;
  if (metric !== undefined) out.metric = metric;
  return out;
}

/**
 * Whether an alert event reaches this client. Its gateway must be in the token's fleet (an alert
 * with no gateway is shown only to tokens without a fleet claim); each filter list set must hold the
 * target's value, so a device filter passes device alerts of those devices and no gateway alerts.
 */
export function alertPasses(target: AlertTarget, f: StreamFilter, p: Principal): boolean {
  if (!f.kinds.has('alerts')) return false;
  if (p.fleet !== null && !seesGateway(p, target.gateway)) return false;
  const within = (set: ReadonlySet<string> | null, v: string | undefined): boolean => set === null || (v !== undefined && set.has(v));
  return within(f.gateways, target.gateway) && within(f.devices, target.device) && within(f.metrics, target.metric);
}
