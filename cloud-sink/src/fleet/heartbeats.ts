// iot.heartbeats into the database: every heartbeat into the history (gateway_heartbeats), and the
// newest one per gateway, by the gateway's own clock, into that gateway's row of `gateways`.
//
// Replays (a rebalance, a reset consumer group) and reordering must not wind a gateway's state back,
// so the row only changes for a heartbeat stamped later than the one it holds. The one exception is
// a stored heartbeat stamped further in the future than fleet.heartbeats.futureToleranceMs: that is
// a gateway clock that jumped, and it gives way to the next heartbeat rather than freeze the state.
//
// first_seen / last_seen in `gateways` mean "when the cloud first / last heard from the gateway"
// (cloud clock), by a stored batch (Store.ingest) or by a heartbeat that moved its state forward; a
// replayed old heartbeat does not make a silent gateway look alive.
import type Kafka from 'node-rdkafka';
import { decodeHeartbeat, WireError } from '../../../proto/src/wire.js';
import { CloudError } from '../errors.js';
import type { Db, DbTx } from '../store/db.js';
import { isUsableTime, pgText, pgTextOrNull } from './text.js';

export interface AdapterState {
  name: string;
  /** "up", "down", "degraded" or "disabled". */
  state: string;
  detail: string;
  counters: Record<string, number>;
}

/** Readings the gateway did not forward, gateway totals (DESIGN.md guarantee 2). */
export interface LossCounts {
  rate_limited: number;
  quarantined: number;
  evicted: number;
}

/** A heartbeat as the database keeps it; jsonb fields in the API's snake_case. */
export interface HeartbeatRecord {
  gatewayId: string;
  /** The gateway's clock, epoch ms. */
  tsMs: number;
  firmware: string;
  uptimeS: number;
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskFreeBytes: number;
  diskTotalBytes: number;
  temperatureC: number | null;
  outboxDepth: number;
  outboxOldestAgeMs: number;
  outboxBytes: number;
  /** Why the gateway is not acknowledging ("FL_ERR_OUTBOX_FULL: …"); null while it is. */
  outboxFull: string | null;
  /** Where a damaged outbox file went, and why; null when none was found. */
  outboxRecovered: string | null;
  drainSentPerS: number;
  drainInPerS: number;
  /** Seconds until the outbox is empty; null while it grows. */
  drainEtaS: number | null;
  adapters: AdapterState[];
  loss: LossCounts;
  /** Gateway totals of refusals by FL_ERR_… reason. */
  refusals: Record<string, number>;
  /**
   * The gateway's heartbeat interval; null (or absent) when it did not say, as gateways before
   * proto revision 2 do not.
   */
  intervalMs?: number | null;
  /** The heartbeat waited in the outbox while the link was down: its figures are from tsMs. */
  delayed?: boolean;
  /**
   * Config from the cloud (proto revision 3): the version running, the newest received, where the
   * running config came from, and any refusal or conflict. null / '' from older gateways.
   */
  config?: HeartbeatConfig;
}

export interface HeartbeatConfig {
  version: number | null;
  seenVersion: number | null;
  /** "file", "cloud" or "local"; null from gateways before revision 3. */
  source: string | null;
  error: string | null;
  conflict: string | null;
}

/** Decodes a message of iot.heartbeats; throws a catalogued error for one that is not a usable heartbeat. */
export function heartbeatRecord(msg: Kafka.Message): HeartbeatRecord {
  if (!msg.value) throw new WireError('FL_ERR_WIRE_EMPTY');
  const hb = decodeHeartbeat(msg.value);
  if (!hb.gatewayId) throw new CloudError('FL_ERR_FLEET_BAD_HEARTBEAT', 'gateway_id is empty');
  if (!isUsableTime(hb.tsMs)) throw new CloudError('FL_ERR_FLEET_BAD_HEARTBEAT', `gateway ${hb.gatewayId}: ts_ms ${String(hb.tsMs)}`);
  const num = (v: number | null | undefined): number => Number(v ?? 0);
  const counts = (m: Record<string, unknown> | null | undefined): Record<string, number> =>
    Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [pgText(k), Number(v)]));
  return {
    gatewayId: pgText(hb.gatewayId),
    tsMs: hb.tsMs,
    firmware: pgText(hb.firmwareVersion ?? ''),
    uptimeS: num(hb.uptimeS),
    cpuPercent: num(hb.cpuPercent),
    memoryUsedBytes: num(hb.memoryUsedBytes),
    memoryTotalBytes: num(hb.memoryTotalBytes),
    diskFreeBytes: num(hb.diskFreeBytes),
    diskTotalBytes: num(hb.diskTotalBytes),
    temperatureC: hb.temperatureC ?? null,
    outboxDepth: num(hb.outboxDepth),
    outboxOldestAgeMs: num(hb.outboxOldestAgeMs),
    outboxBytes: num(hb.outboxBytes),
    outboxFull: pgTextOrNull(hb.outboxFull),
    outboxRecovered: pgTextOrNull(hb.outboxRecovered),
    drainSentPerS: num(hb.drainSentPerSecond),
    drainInPerS: num(hb.drainInPerSecond),
    drainEtaS: hb.drainEtaS ?? null,
    adapters: (hb.adapters ?? []).map((a) => ({
      name: pgText(a.name ?? ''),
      state: pgText(a.state ?? ''),
      detail: pgText(a.detail ?? ''),
      counters: counts(a.counters),
    })),
    loss: { rate_limited: num(hb.loss?.rateLimited), quarantined: num(hb.loss?.quarantined), evicted: num(hb.loss?.evicted) },
    refusals: counts(hb.refusals),
    intervalMs: hb.intervalMs ? num(hb.intervalMs) : null,
    delayed: hb.delayed === true,
    config: {
      version: hb.configSource ? num(hb.configVersion) : null,
      seenVersion: hb.configSource ? num(hb.configSeenVersion) : null,
      source: pgTextOrNull(hb.configSource),
      error: pgTextOrNull(hb.configError),
      conflict: pgTextOrNull(hb.configConflict),
    },
  };
}

/**
 * The columns a heartbeat fills, in both tables: name, the array type it travels as through
 * unnest(), and the value; `inGateways` where `gateways` names it otherwise. `received_at` is
 * heartbeat_received_at in `gateways`.
 */
const COLUMNS: readonly { name: string; type: string; value(r: HeartbeatRecord): unknown; expr?: string; inGateways?: string }[] = [
  { name: 'ts', type: 'float8', value: (r) => r.tsMs, expr: `timestamptz 'epoch' + u.ts * INTERVAL '1 millisecond'`, inGateways: 'last_heartbeat_at' },
  { name: 'gateway_id', type: 'text', value: (r) => r.gatewayId },
  { name: 'firmware', type: 'text', value: (r) => r.firmware },
  { name: 'uptime_s', type: 'float8', value: (r) => r.uptimeS },
  { name: 'cpu_percent', type: 'float8', value: (r) => r.cpuPercent },
  { name: 'memory_used_bytes', type: 'float8', value: (r) => r.memoryUsedBytes },
  { name: 'memory_total_bytes', type: 'float8', value: (r) => r.memoryTotalBytes },
  { name: 'disk_free_bytes', type: 'float8', value: (r) => r.diskFreeBytes },
  { name: 'disk_total_bytes', type: 'float8', value: (r) => r.diskTotalBytes },
  { name: 'temperature_c', type: 'float8', value: (r) => r.temperatureC },
  { name: 'outbox_depth', type: 'int8', value: (r) => r.outboxDepth },
  { name: 'outbox_oldest_age_ms', type: 'int8', value: (r) => r.outboxOldestAgeMs },
  { name: 'outbox_bytes', type: 'int8', value: (r) => r.outboxBytes },
  { name: 'outbox_full', type: 'text', value: (r) => r.outboxFull },
  { name: 'outbox_recovered', type: 'text', value: (r) => r.outboxRecovered },
  { name: 'drain_sent_per_s', type: 'float8', value: (r) => r.drainSentPerS },
  { name: 'drain_in_per_s', type: 'float8', value: (r) => r.drainInPerS },
  { name: 'drain_eta_s', type: 'float8', value: (r) => r.drainEtaS },
  { name: 'adapters', type: 'text', value: (r) => JSON.stringify(r.adapters), expr: 'u.adapters::jsonb' },
  { name: 'loss', type: 'text', value: (r) => JSON.stringify(r.loss), expr: 'u.loss::jsonb' },
  { name: 'refusals', type: 'text', value: (r) => JSON.stringify(r.refusals), expr: 'u.refusals::jsonb' },
  { name: 'interval_ms', type: 'int8', value: (r) => r.intervalMs ?? null, inGateways: 'heartbeat_interval_ms' },
  { name: 'delayed', type: 'bool', value: (r) => r.delayed === true, inGateways: 'heartbeat_delayed' },
  { name: 'config_version', type: 'int8', value: (r) => r.config?.version ?? null },
  { name: 'config_seen_version', type: 'int8', value: (r) => r.config?.seenVersion ?? null },
  { name: 'config_source', type: 'text', value: (r) => r.config?.source ?? null },
  { name: 'config_error', type: 'text', value: (r) => r.config?.error ?? null },
  { name: 'config_conflict', type: 'text', value: (r) => r.config?.conflict ?? null },
];

const UNNEST = `unnest(${COLUMNS.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) AS u(${COLUMNS.map((c) => c.name).join(', ')})`;
const SELECTED = COLUMNS.map((c) => c.expr ?? `u.${c.name}`);
const IN_GATEWAYS = COLUMNS.map((c) => c.inGateways ?? c.name);

const INSERT_HISTORY = `
  INSERT INTO gateway_heartbeats (${COLUMNS.map((c) => c.name).join(', ')}, received_at)
  SELECT ${SELECTED.join(', ')}, now() FROM ${UNNEST}
  ORDER BY u.gateway_id, u.ts
  ON CONFLICT (gateway_id, ts) DO NOTHING
  RETURNING 1`;

const UPSERT_LATEST = `
  INSERT INTO gateways AS g (${IN_GATEWAYS.join(', ')}, heartbeat_received_at, first_seen, last_seen)
  SELECT ${SELECTED.join(', ')}, now(), now(), now() FROM ${UNNEST}
  ORDER BY u.gateway_id
  ON CONFLICT (gateway_id) DO UPDATE SET
    ${IN_GATEWAYS.filter((c) => c !== 'gateway_id').map((c) => `${c} = excluded.${c}`).join(',\n    ')},
    heartbeat_received_at = excluded.heartbeat_received_at,
    last_seen = greatest(g.last_seen, excluded.last_seen)
  WHERE g.last_heartbeat_at IS NULL
     OR excluded.last_heartbeat_at > g.last_heartbeat_at
     OR g.last_heartbeat_at > now() + $${COLUMNS.length + 1}::float8 * INTERVAL '1 millisecond'
  RETURNING 1`;

function columnArrays(records: readonly HeartbeatRecord[]): unknown[][] {
  return COLUMNS.map((c) => records.map((r) => c.value(r)));
}

export interface HeartbeatWrite {
  /** Heartbeats new to the history. */
  stored: number;
  /** Heartbeats the history already held (replays). */
  duplicates: number;
  /** Gateways whose latest state moved forward. */
  updated: number;
}

/** Writes heartbeats in one transaction: every one into the history, the newest per gateway into `gateways`. */
export async function writeHeartbeats(db: Db, records: readonly HeartbeatRecord[], futureToleranceMs: number): Promise<HeartbeatWrite> {
  if (records.length === 0) return { stored: 0, duplicates: 0, updated: 0 };
  // Within one poll the newest sane heartbeat per gateway wins: one stamped beyond the tolerance
  // only when the gateway sent nothing else.
  const saneBefore = Date.now() + futureToleranceMs;
  const rank = (r: HeartbeatRecord): [number, number] => [r.tsMs > saneBefore ? 0 : 1, r.tsMs];
  const newest = new Map<string, HeartbeatRecord>();
  for (const r of records) {
    const cur = newest.get(r.gatewayId);
    const [a, b] = [rank(r), cur && rank(cur)];
    if (!b || a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])) newest.set(r.gatewayId, r);
  }
  return db.transaction(async (tx: DbTx) => {
    const history = await tx.query(INSERT_HISTORY, columnArrays(records));
    const latest = await tx.query(UPSERT_LATEST, [...columnArrays([...newest.values()]), futureToleranceMs]);
    return { stored: history.rows.length, duplicates: records.length - history.rows.length, updated: latest.rows.length };
  });
}

/**
 * A select list of one heartbeat's columns from the table aliased `alias` (`gateways` or
 * `gateway_heartbeats`), each named `<prefix><gateway_heartbeats name>` for heartbeatFromRow.
 */
export function heartbeatSelect(alias: string, table: 'gateways' | 'gateway_heartbeats', prefix = ''): string {
  return COLUMNS.map((c) => `${alias}.${table === 'gateways' ? (c.inGateways ?? c.name) : c.name} AS ${prefix}${c.name}`).join(', ');
}

/** The heartbeat in a row selected with heartbeatSelect; null where it has none (its ts is NULL). */
export function heartbeatFromRow(row: Record<string, unknown>, prefix = ''): HeartbeatRecord | null {
  const get = (name: string): unknown => row[prefix + name];
  const ts = get('ts');
  if (!(ts instanceof Date)) return null;
  const num = (name: string): number => Number(get(name) ?? 0);
  const numOrNull = (name: string): number | null => (get(name) === null || get(name) === undefined ? null : Number(get(name)));
  const text = (name: string): string | null => (typeof get(name) === 'string' ? (get(name) as string) : null);
  const json = <T>(name: string, fallback: T): T => {
    const v = get(name);
    // jsonb comes back parsed from both backends; text only from a driver set up otherwise.
    return (typeof v === 'string' ? JSON.parse(v) : (v ?? fallback)) as T;
  };
  return {
    gatewayId: String(get('gateway_id')),
    tsMs: ts.getTime(),
    firmware: text('firmware') ?? '',
    uptimeS: num('uptime_s'),
    cpuPercent: num('cpu_percent'),
    memoryUsedBytes: num('memory_used_bytes'),
    memoryTotalBytes: num('memory_total_bytes'),
    diskFreeBytes: num('disk_free_bytes'),
    diskTotalBytes: num('disk_total_bytes'),
    temperatureC: numOrNull('temperature_c'),
    outboxDepth: num('outbox_depth'),
    outboxOldestAgeMs: num('outbox_oldest_age_ms'),
    outboxBytes: num('outbox_bytes'),
    outboxFull: text('outbox_full'),
    outboxRecovered: text('outbox_recovered'),
    drainSentPerS: num('drain_sent_per_s'),
    drainInPerS: num('drain_in_per_s'),
    drainEtaS: numOrNull('drain_eta_s'),
    adapters: json<AdapterState[]>('adapters', []),
    loss: { rate_limited: 0, quarantined: 0, evicted: 0, ...json<Partial<LossCounts>>('loss', {}) },
    refusals: json<Record<string, number>>('refusals', {}),
    intervalMs: numOrNull('interval_ms'),
    delayed: get('delayed') === true,
    config: {
      version: numOrNull('config_version'),
      seenVersion: numOrNull('config_seen_version'),
      source: text('config_source'),
      error: text('config_error'),
      conflict: text('config_conflict'),
    },
  };
}
