// Fleet health (issue 11) as pure functions of stored heartbeats and reading counts, so the API and
// the alert evaluator judge a gateway the same way and tests can pin every rule with a fixed clock.
//
// - online / offline: by the cloud's clock, from when the newest heartbeat was stored. A gateway's
//   own clock may be wrong, and a heartbeat that waited in the outbox says nothing about now.
// - degraded: from what the newest heartbeat (and the one before it) says, each threshold a field
//   of HealthThresholds; every reason is a sentence an operator can act on.
// - completeness: readings received in a window against readings expected from the device's
//   configured interval, else from the rate it kept in its recent hours (docs/ARCHITECTURE.md,
//   "Fleet health").
import type { HeartbeatRecord, LossCounts } from './heartbeats.js';

export interface HealthThresholds {
  /** Offline once the newest heartbeat was stored longer ago than this many intervals. */
  offlineAfterIntervals: number;
  /** The interval of a gateway whose heartbeats do not say (interval_ms 0). */
  defaultIntervalMs: number;
  /** Degraded: the outbox's oldest reading waited longer than this. */
  maxBacklogAgeMs: number;
  /** Degraded: less than this share of the disk free (0.1 is 10 %). */
  minDiskFreeRatio: number;
  /** Degraded: CPU above this percentage; null: not checked. */
  maxCpuPercent: number | null;
  /** Degraded: temperature above this (°C); null: not checked. */
  maxTemperatureC: number | null;
  /** Degraded: an adapter is down or degraded. */
  adaptersDown: boolean;
  /** Degraded: a loss counter rose by more than this since the previous heartbeat (0: any rise); null: not checked. */
  lossIncrease: number | null;
  /** Degraded: the gateway refused its newest cloud config version, or holds one back for a change made on site. Absent: true. */
  configProblems?: boolean;
}

export type GatewayStatus = 'online' | 'offline' | 'degraded';

/** What the cloud knows of a gateway: its newest heartbeat and when that was stored. */
export interface GatewayState {
  /** Cloud clock, epoch ms; null when no heartbeat came yet (a gateway known from its batches only). */
  heartbeatReceivedAtMs: number | null;
  /** The newest heartbeat; null when none came yet. */
  heartbeat: HeartbeatRecord | null;
}

/** The interval the gateway says it heartbeats at, or the default when it does not say. */
export function heartbeatIntervalMs(hb: HeartbeatRecord | null, t: Pick<HealthThresholds, 'defaultIntervalMs'>): number {
  const own = hb?.intervalMs;
  return own && own > 0 ? own : t.defaultIntervalMs;
}

/** Why the gateway counts as offline at `nowMs`, or null while it does not. */
export function offlineReason(row: GatewayState, t: HealthThresholds, nowMs: number): string | null {
  if (row.heartbeatReceivedAtMs === null || row.heartbeat === null) return 'no heartbeat received yet';
  const interval = heartbeatIntervalMs(row.heartbeat, t);
  const silentMs = nowMs - row.heartbeatReceivedAtMs;
  if (silentMs <= t.offlineAfterIntervals * interval) return null;
  return `no heartbeat for ${duration(silentMs)} (${count(t.offlineAfterIntervals)} intervals of ${duration(interval)})`;
}

/**
 * Why the gateway whose newest heartbeat is `hb` counts as degraded: empty when it does not.
 * `prev` is the heartbeat before it (null: none), for the loss counters' rise.
 */
export function degradedReasons(hb: HeartbeatRecord, prev: HeartbeatRecord | null, t: HealthThresholds): string[] {
  const reasons: string[] = [];
  if (hb.outboxFull) reasons.push(`outbox full: ${hb.outboxFull}`);
  if (hb.outboxDepth > 0 && hb.outboxOldestAgeMs > t.maxBacklogAgeMs) {
    reasons.push(`backlog ${duration(hb.outboxOldestAgeMs)} old (limit ${duration(t.maxBacklogAgeMs)})`);
  }
  // A total of 0 is a gateway that could not read its disk, not a full one.
  if (hb.diskTotalBytes > 0 && hb.diskFreeBytes / hb.diskTotalBytes < t.minDiskFreeRatio) {
    reasons.push(`disk ${percent(hb.diskFreeBytes / hb.diskTotalBytes)} free (limit ${percent(t.minDiskFreeRatio)})`);
  }
  if (t.maxCpuPercent !== null && hb.cpuPercent > t.maxCpuPercent) {
    reasons.push(`CPU ${count(hb.cpuPercent)} % (limit ${count(t.maxCpuPercent)} %)`);
  }
  if (t.maxTemperatureC !== null && hb.temperatureC !== null && hb.temperatureC > t.maxTemperatureC) {
    reasons.push(`temperature ${count(hb.temperatureC)} °C (limit ${count(t.maxTemperatureC)} °C)`);
  }
  if (t.adaptersDown) {
    for (const a of hb.adapters) {
      if (a.state === 'down' || a.state === 'degraded') reasons.push(`adapter ${a.name} ${a.state}${a.detail ? `: ${a.detail}` : ''}`);
    }
  }
  if (t.configProblems !== false && hb.config) {
    // Running, but not the config the operator issued: a sentence they can act on (docs/OPERATIONS.md).
    if (hb.config.error) reasons.push(`cloud config refused: ${hb.config.error}`);
    if (hb.config.conflict) reasons.push(`cloud config held back: ${hb.config.conflict}`);
  }
  if (t.lossIncrease !== null && prev) {
    const rise = lossRise(hb, prev);
    for (const [key, words] of LOSS_WORDS) {
      const n = rise[key];
      if (n > t.lossIncrease) reasons.push(`${count(n)} ${n === 1 ? 'reading' : 'readings'} ${words} since the previous heartbeat`);
    }
  }
  return reasons;
}

const LOSS_WORDS: readonly [keyof LossCounts, string][] = [
  ['rate_limited', 'rate-limited'],
  ['quarantined', 'quarantined'],
  ['evicted', 'evicted'],
];

/**
 * How much each loss counter rose from `prev` to `hb`. The counters are totals since the gateway
 * process started: after a restart (uptime went down, or a counter did) the new total is the rise.
 */
export function lossRise(hb: HeartbeatRecord, prev: HeartbeatRecord): LossCounts {
  const restarted = hb.uptimeS < prev.uptimeS;
  const rise = (k: keyof LossCounts): number => {
    const d = hb.loss[k] - prev.loss[k];
    return restarted || d < 0 ? hb.loss[k] : d;
  };
  return { rate_limited: rise('rate_limited'), quarantined: rise('quarantined'), evicted: rise('evicted') };
}

/**
 * online, offline or degraded, with the reasons. Offline wins: the figures of a silent gateway's
 * last heartbeat say nothing about it now.
 */
export function gatewayStatus(
  row: GatewayState,
  prev: HeartbeatRecord | null,
  t: HealthThresholds,
  nowMs: number,
): { status: GatewayStatus; reasons: string[] } {
  const offline = offlineReason(row, t, nowMs);
  if (offline !== null || row.heartbeat === null) return { status: 'offline', reasons: [offline ?? 'no heartbeat received yet'] };
  const reasons = degradedReasons(row.heartbeat, prev, t);
  return { status: reasons.length > 0 ? 'degraded' : 'online', reasons };
}

// --- completeness ------------------------------------------------------------------------------

export interface CompletenessSettings {
  /** The percentile of hourly counts taken as the device's observed rate (0.9). */
  percentile: number;
  /** How many of the newest complete hours with readings the observed rate is taken over. */
  observedHours: number;
}

export interface DeviceCounts {
  /** The window's length. */
  windowMs: number;
  /** Readings (metric values) stored with a time inside the window. */
  received: number;
  /** How often the device is meant to send each metric (devices.expected_interval_ms); null: not set. */
  expectedIntervalMs: number | null;
  /** How many metrics the device has sent (devices.metrics). */
  metricCount: number;
  /** Readings per complete hour that holds any, oldest first (hours with none are left out). */
  hourlyCounts: readonly number[];
}

export interface Completeness {
  window_s: number;
  received: number;
  /** null when neither a configured interval nor an observed rate is known. */
  expected: number | null;
  /** received / expected, rounded to 3 decimals; above 1 when the device sent more than expected. */
  ratio: number | null;
  rate_source: 'configured' | 'observed' | 'unknown';
}

/**
 * The device's observed rate, in readings per hour: the `percentile` of the hourly counts of its
 * newest `observedHours` hours with readings, nearest rank. Hours without readings are left out,
 * so a device that was down half the day is measured by the hours it was up; a high percentile
 * keeps hours with losses from lowering the rate, and stays below a burst hour. Null without one
 * such hour.
 */
export function observedHourlyRate(hourlyCounts: readonly number[], s: CompletenessSettings): number | null {
  const recent = hourlyCounts.filter((n) => n > 0).slice(-s.observedHours);
  if (recent.length === 0) return null;
  const sorted = [...recent].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(s.percentile * sorted.length)));
  return sorted[rank - 1]!;
}

/** Received against expected over the window (DeviceCounts), from the configured interval if set, else the observed rate. */
export function completeness(d: DeviceCounts, s: CompletenessSettings): Completeness {
  let expected: number | null = null;
  let source: Completeness['rate_source'] = 'unknown';
  if (d.expectedIntervalMs !== null && d.expectedIntervalMs > 0) {
    expected = (d.windowMs / d.expectedIntervalMs) * Math.max(1, d.metricCount);
    source = 'configured';
  } else {
    const perHour = observedHourlyRate(d.hourlyCounts, s);
    if (perHour !== null) {
      expected = (perHour * d.windowMs) / 3_600_000;
      source = 'observed';
    }
  }
  return {
    window_s: Math.round(d.windowMs / 1000),
    received: d.received,
    expected: expected === null ? null : round(expected, 2),
    ratio: expected === null || expected === 0 ? null : round(d.received / expected, 3),
    rate_source: source,
  };
}

// --- wording -----------------------------------------------------------------------------------

function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

/** 3, 2.5, 0.1: at most one decimal, none when whole. */
function count(x: number): string {
  return String(round(x, 1));
}

/** A ratio as a percentage: "4 %", "3.1 %". */
function percent(ratio: number): string {
  return `${count(ratio * 100)} %`;
}

/** "850 ms", "30 s", "1 min 31 s", "12 min", "3 h 5 min", "2 d 4 h": rounded down to the unit shown. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${count(Math.floor(ms / 100) / 10)} s`;
  const min = Math.floor(ms / 60_000);
  const sec = Math.floor((ms % 60_000) / 1000);
  if (min < 10 && sec > 0) return `${min} min ${sec} s`;
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}
