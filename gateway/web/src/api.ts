// Calls to the gateway's local API with the admin token, and the shapes it answers with (DESIGN.md
// "Gateway local API"; the routes in gateway/src/api/). The token lives in sessionStorage: it
// survives a reload but not closing the tab, so a laptop left in a cabinet does not keep it. A 401
// anywhere forgets it and brings the prompt back, with the gateway's reason.

const KEY = 'fieldline.gateway.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/** A field-level problem the config check reported: `path` is dotted ("kafka.brokers", "modbus.buses.0.devices.1.unitId"). */
export interface Issue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
  }
}

let onUnauthorized: (reason: string) => void = () => undefined;

export function setUnauthorizedHandler(fn: (reason: string) => void): void {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = contentType;
    payload = typeof body === 'string' && contentType !== 'application/json' ? body : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
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
    const err = (parsed as { error?: { code?: string; message?: string; issues?: Issue[] } } | null)?.error;
    const e = new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? (text || res.statusText), err?.issues ?? []);
    if (res.status === 401) {
      clearToken();
      onUnauthorized(`${e.message} (${e.code})`);
    }
    throw e;
  }
  return parsed as T;
}

export const enc = encodeURIComponent;

/** An issue's message without the dotted key it starts with, for showing it next to that field. */
export function withoutKey(issue: Issue): string {
  return issue.message.startsWith(`${issue.path}: `) ? issue.message.slice(issue.path.length + 2) : issue.message;
}

export function describe(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

// --- GET /status (gateway.ts status()) ------------------------------------------------------------

export type AdapterState = 'up' | 'down' | 'degraded' | 'disabled';

export interface Status {
  gatewayId: string;
  version: string;
  uptimeS: number;
  adapters: { name: string; state: AdapterState; detail: string; counters?: Record<string, number> }[];
  outbox: {
    depthMessages: number;
    depthValues: number;
    depthBytes: number;
    oldestAgeMs: number;
    quarantinePending: number;
    evictedValues: number;
    full: { code: string; reason: string; sinceMs: number } | null;
    recovery: { atMs: number; reason: string; movedTo: string } | null;
  };
  cloud: {
    link: 'connecting' | 'up' | 'down';
    lastError: string;
    deliveredBatches: number;
    deliveredReadings: number;
    lastDeliveryMs: number | null;
    drain: { sentPerSecond: number; inPerSecond: number; etaS: number | null };
  };
  loss: { rateLimited: number; quarantined: number; evicted: number };
  refusals: Record<string, number>;
  host: { cpuPercent: number; memoryUsedBytes: number; memoryTotalBytes: number; diskFreeBytes: number; diskTotalBytes: number; temperatureC: number | null } | null;
  /** Config from the cloud (absent from gateways before issue 15). */
  cloudConfig?: { source: 'file' | 'cloud' | 'local'; version: number; seenVersion: number; error: string; conflict: string };
}

// --- /config (config routes) ----------------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ConfigView {
  /** null: the gateway was started without --config, so nothing can be saved. */
  file: string | null;
  /** The file as written; secrets read "********". null when there is no file or it does not parse. */
  config: JsonObject | null;
  /** With every default filled in. */
  effective: JsonObject;
  /** Dotted paths an environment variable overrides. */
  envOverrides: string[];
  writable: boolean;
  /** What is wrong with a file someone broke by hand (the gateway runs on what it loaded before). */
  issues?: Issue[];
}

export interface PatchResult {
  config: JsonObject;
  backup: string;
  applied: string[];
  restartRequired: string[];
  failed: { part: string; code: string; message: string }[];
}

/** The value a secret reads as; sending it back keeps the secret. */
export const SECRET = '********';

// --- /mqtt/clients --------------------------------------------------------------------------------

export interface MqttClient {
  clientId: string;
  deviceId: string;
  listener: string;
  remoteAddress: string;
  connectedAt: number | string;
  certificateSerial?: string;
}

// --- /modbus --------------------------------------------------------------------------------------

export interface LastError {
  atMs: number;
  code: string;
  message: string;
  exceptionCode?: number;
}

export interface DeviceStats {
  deviceId: string;
  unitId: number;
  state: 'up' | 'backoff' | 'down' | 'unknown';
  ok: number;
  timeout: number;
  crcError: number;
  exception: Record<string, number>;
  protocolError: number;
  retries: number;
  polls: { complete: number; partial: number; failed: number; skipped: number; missed: number };
  lastOkMs: number | null;
  lastError: LastError | null;
  readings: { accepted: number; refused: number; uncommitted: number };
}

export interface BusStats {
  name: string;
  type: 'tcp' | 'rtu';
  connected: boolean;
  connects: number;
  connectErrors: number;
  requests: number;
  manualRequests: number;
  lastError: LastError | null;
  devices: DeviceStats[];
}

export interface ModbusView {
  buses: { name: string; type: 'tcp' | 'rtu'; connected: boolean }[];
  stats: { buses: BusStats[] };
}

export type Parity = 'none' | 'even' | 'odd';

/** Where a scan or a read goes: a configured bus, or a line that is not configured yet. */
export type Line =
  | { bus: string }
  | { tcp: { host: string; port: number } }
  | { rtu: { path: string; baudRate: number; parity: Parity; stopBits: 1 | 2 } };

export interface ScanJob {
  id: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  line: unknown;
  progress: { probed: number; total: number; percent: number; etaMs: number | null; current: { baudRate?: number; unitId: number } | null };
  /** `port`: the bus name, "tcp:host:port" or the serial path; `baudRate` null on a bus or TCP. */
  found: { port: string; baudRate: number | null; unitId: number; answer: 'data' | 'exception'; exception?: string; exceptionCode?: number; ms: number }[];
  garbled: { port: string; baudRate: number | null; unitId: number; kind: string; message: string }[];
  error?: { code: string; message: string };
  startedAt: number | string;
  finishedAt: number | string | null;
}

export interface Decoding {
  type: string;
  byteOrder: string;
  value: number;
  values: number[];
}

export interface ReadResult {
  unit: number;
  fn: number;
  address: number;
  count: number;
  elapsedMs: number;
  hex: string;
  registers?: number[];
  bits?: boolean[];
  decodings?: Decoding[];
}

export interface TemplateSummary {
  id: string;
  name: string;
  description: string;
  manufacturer?: string;
  model?: string;
  defaults: { unitId?: number; baudRate?: number; parity?: Parity; pollIntervalMs?: number };
  tagCount: number;
}

export interface Tag {
  metric: string;
  function: 1 | 2 | 3 | 4;
  address: number;
  type?: string;
  byteOrder?: string;
  scale?: number;
  offset?: number;
  unit?: string;
}

export interface TagGroup {
  name?: string;
  pollIntervalMs?: number;
  tags: Tag[];
}

export interface Template extends TemplateSummary {
  tagGroups: TagGroup[];
}

// --- /quarantine ----------------------------------------------------------------------------------

export interface QuarantineItem {
  id: number;
  tsMs: number;
  deviceId: string;
  source: number;
  reasonCode: string;
  reason: string;
  topic: string;
  /** base64 */
  raw: string;
}
