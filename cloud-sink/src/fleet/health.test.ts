// Fleet health rules with a fixed clock: when a gateway is offline, each degraded reason, and
// completeness from a configured interval, an observed rate, or neither.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudConfigSchema } from '../config/schema.js';
import {
  completeness,
  degradedReasons,
  duration,
  gatewayStatus,
  observedHourlyRate,
  type HealthThresholds,
} from './health.js';
import type { HeartbeatRecord } from './heartbeats.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const GiB = 2 ** 30;

/** The documented defaults, as the config gives them. */
const CONFIG = cloudConfigSchema.parse({}).fleet.health;
const DEFAULTS: HealthThresholds = CONFIG;

/** A heartbeat of a healthy gateway: nothing in it is a reason. */
function hb(over: Partial<HeartbeatRecord> = {}): HeartbeatRecord {
  return {
    gatewayId: 'gw-1', tsMs: NOW - 5_000, firmware: '1.4.0', uptimeS: 7_200, cpuPercent: 20,
    memoryUsedBytes: GiB / 2, memoryTotalBytes: GiB, diskFreeBytes: 16 * GiB, diskTotalBytes: 32 * GiB, temperatureC: 45,
    outboxDepth: 12, outboxOldestAgeMs: 800, outboxBytes: 4_000, outboxFull: null, outboxRecovered: null,
    drainSentPerS: 100, drainInPerS: 100, drainEtaS: 0,
    adapters: [{ name: 'mqtt', state: 'up', detail: '3 clients', counters: {} }, { name: 'coap', state: 'disabled', detail: '', counters: {} }],
    loss: { rate_limited: 5, quarantined: 2, evicted: 0 }, refusals: {}, intervalMs: 10_000, delayed: false,
    ...over,
  };
}

describe('fleet health: online and offline', () => {
  it('the documented defaults: offline after 3 intervals of 30 s when unsaid, backlog 5 min, disk 10 %, adapters and any loss rise count, CPU and temperature unchecked', () => {
    assert.deepEqual(CONFIG, {
      offlineAfterIntervals: 3, defaultIntervalMs: 30_000, maxBacklogAgeMs: 300_000, minDiskFreeRatio: 0.1,
      maxCpuPercent: null, maxTemperatureC: null, adaptersDown: true, lossIncrease: 0, configProblems: true,
      completeness: { windowS: 3600, maxWindowS: 86_400, settleMs: 15_000, observedHours: 24, lookbackHours: 168, percentile: 0.9 },
    });
  });

  it('a gateway is online until 3 of its own intervals pass without a stored heartbeat, then offline with how long', () => {
    const last = hb({ intervalMs: 10_000 });
    const at = (silentMs: number) => gatewayStatus({ heartbeatReceivedAtMs: NOW - silentMs, heartbeat: last }, null, DEFAULTS, NOW);
    assert.deepEqual(at(29_999), { status: 'online', reasons: [] });
    assert.deepEqual(at(30_000), { status: 'online', reasons: [] });
    assert.deepEqual(at(31_000), { status: 'offline', reasons: ['no heartbeat for 31 s (3 intervals of 10 s)'] });
    assert.deepEqual(at(125_000), { status: 'offline', reasons: ['no heartbeat for 2 min 5 s (3 intervals of 10 s)'] });
  });

  it('a gateway that does not say its interval (interval_ms 0) is judged by defaultIntervalMs', () => {
    const last = hb({ intervalMs: null });
    assert.equal(gatewayStatus({ heartbeatReceivedAtMs: NOW - 89_000, heartbeat: last }, null, DEFAULTS, NOW).status, 'online');
    assert.deepEqual(gatewayStatus({ heartbeatReceivedAtMs: NOW - 91_000, heartbeat: last }, null, DEFAULTS, NOW), {
      status: 'offline', reasons: ['no heartbeat for 1 min 31 s (3 intervals of 30 s)'],
    });
  });

  it('a gateway known only from its batches is offline: no heartbeat received yet', () => {
    assert.deepEqual(gatewayStatus({ heartbeatReceivedAtMs: null, heartbeat: null }, null, DEFAULTS, NOW), {
      status: 'offline', reasons: ['no heartbeat received yet'],
    });
  });

  it('offline wins over what the last heartbeat of a silent gateway said', () => {
    const full = hb({ diskFreeBytes: GiB, outboxFull: 'FL_ERR_OUTBOX_DISK_FULL: 1 GiB free' });
    const r = gatewayStatus({ heartbeatReceivedAtMs: NOW - 3_600_000, heartbeat: full }, null, DEFAULTS, NOW);
    assert.deepEqual(r, { status: 'offline', reasons: ['no heartbeat for 1 h (3 intervals of 10 s)'] });
  });

  it('a heartbeat that says something is wrong makes an online gateway degraded, with the reasons', () => {
    const r = gatewayStatus({ heartbeatReceivedAtMs: NOW - 1_000, heartbeat: hb({ diskFreeBytes: 1.28 * GiB }) }, null, DEFAULTS, NOW);
    assert.deepEqual(r, { status: 'degraded', reasons: ['disk 4 % free (limit 10 %)'] });
  });
});

describe('fleet health: degraded reasons', () => {
  it('a healthy heartbeat has none; a disabled adapter is not a reason', () => {
    assert.deepEqual(degradedReasons(hb(), hb({ tsMs: NOW - 15_000 }), DEFAULTS), []);
  });

  const cases: [string, Partial<HeartbeatRecord>, Partial<HealthThresholds>, string[]][] = [
    ['an old backlog', { outboxDepth: 5_000, outboxOldestAgeMs: 12 * 60_000 + 5_000 }, {}, ['backlog 12 min old (limit 5 min)']],
    ['a backlog just at the limit', { outboxDepth: 5_000, outboxOldestAgeMs: 300_000 }, {}, []],
    ['an empty outbox whatever its age says', { outboxDepth: 0, outboxOldestAgeMs: 3_600_000 }, {}, []],
    ['a full disk', { diskFreeBytes: 1.28 * GiB }, {}, ['disk 4 % free (limit 10 %)']],
    ['a disk the gateway could not read (total 0)', { diskFreeBytes: 0, diskTotalBytes: 0 }, {}, []],
    ['a full outbox', { outboxFull: 'FL_ERR_OUTBOX_FULL: 100000 readings at the bound' }, {}, ['outbox full: FL_ERR_OUTBOX_FULL: 100000 readings at the bound']],
    ['a busy CPU, when checked', { cpuPercent: 97.25 }, { maxCpuPercent: 90 }, ['CPU 97.3 % (limit 90 %)']],
    ['a busy CPU, unchecked by default', { cpuPercent: 99 }, {}, []],
    ['a hot board, when checked', { temperatureC: 85 }, { maxTemperatureC: 80 }, ['temperature 85 °C (limit 80 °C)']],
    ['a board without a sensor', { temperatureC: null }, { maxTemperatureC: 80 }, []],
    [
      'adapters down and degraded',
      { adapters: [{ name: 'modbus', state: 'down', detail: 'bus rtu-1: /dev/ttyUSB0 gone', counters: {} }, { name: 'mqtt', state: 'degraded', detail: '', counters: {} }] },
      {},
      ['adapter modbus down: bus rtu-1: /dev/ttyUSB0 gone', 'adapter mqtt degraded'],
    ],
    ['adapters down, when not checked', { adapters: [{ name: 'modbus', state: 'down', detail: 'x', counters: {} }] }, { adaptersDown: false }, []],
  ];
  for (const [what, over, t, want] of cases) {
    it(`${what}: ${want.length ? want.join('; ') : 'no reason'}`, () => {
      assert.deepEqual(degradedReasons(hb(over), null, { ...DEFAULTS, ...t }), want);
    });
  }

  it('loss counters that rose since the previous heartbeat, each counter its own reason', () => {
    const prev = hb({ tsMs: NOW - 15_000, loss: { rate_limited: 5, quarantined: 2, evicted: 0 } });
    const now = hb({ loss: { rate_limited: 6, quarantined: 2, evicted: 120 } });
    assert.deepEqual(degradedReasons(now, prev, DEFAULTS), [
      '1 reading rate-limited since the previous heartbeat',
      '120 readings evicted since the previous heartbeat',
    ]);
    assert.deepEqual(degradedReasons(now, prev, { ...DEFAULTS, lossIncrease: 10 }), ['120 readings evicted since the previous heartbeat']);
    assert.deepEqual(degradedReasons(now, prev, { ...DEFAULTS, lossIncrease: null }), []);
    assert.deepEqual(degradedReasons(now, null, DEFAULTS), [], 'no previous heartbeat, nothing to compare');
  });

  it('after a gateway restart (uptime went down) the counters start again: the new totals are the rise', () => {
    const prev = hb({ tsMs: NOW - 15_000, uptimeS: 90_000, loss: { rate_limited: 500, quarantined: 9, evicted: 3 } });
    const restarted = hb({ uptimeS: 10, loss: { rate_limited: 0, quarantined: 4, evicted: 0 } });
    assert.deepEqual(degradedReasons(restarted, prev, DEFAULTS), ['4 readings quarantined since the previous heartbeat']);
  });

  it('several problems at once are all named', () => {
    const r = degradedReasons(
      hb({ outboxFull: 'FL_ERR_OUTBOX_DISK_FULL: disk full', diskFreeBytes: 0.5 * GiB, outboxDepth: 9, outboxOldestAgeMs: 7_200_000 }),
      null,
      DEFAULTS,
    );
    assert.deepEqual(r, ['outbox full: FL_ERR_OUTBOX_DISK_FULL: disk full', 'backlog 2 h old (limit 5 min)', 'disk 1.6 % free (limit 10 %)']);
  });

  it('durations read as an operator would say them', () => {
    assert.deepEqual(
      [850, 1_500, 30_000, 59_999, 60_000, 91_000, 12 * 60_000 + 59_000, 3_600_000, 3 * 3_600_000 + 5 * 60_000, 86_400_000, 52 * 3_600_000].map(duration),
      ['850 ms', '1.5 s', '30 s', '59.9 s', '1 min', '1 min 31 s', '12 min', '1 h', '3 h 5 min', '1 d', '2 d 4 h'],
    );
  });
});

describe('fleet health: completeness', () => {
  const s = CONFIG.completeness;
  const HOUR = 3_600_000;

  it('a device at its configured interval is complete (1.0); one at half of it is at 0.5', () => {
    // Every 10 s, 2 metrics: 720 readings an hour.
    const full = completeness({ windowMs: HOUR, received: 720, expectedIntervalMs: 10_000, metricCount: 2, hourlyCounts: [] }, s);
    assert.deepEqual(full, { window_s: 3600, received: 720, expected: 720, ratio: 1, rate_source: 'configured' });
    const half = completeness({ windowMs: HOUR, received: 360, expectedIntervalMs: 10_000, metricCount: 2, hourlyCounts: [720, 720] }, s);
    assert.deepEqual(half, { window_s: 3600, received: 360, expected: 720, ratio: 0.5, rate_source: 'configured' });
  });

  it('without a configured interval the observed rate counts: 1.0 for a device keeping its pace, 0.5 for one that lost half', () => {
    // Every 5 minutes, one metric: 12 an hour.
    const slow = Array(24).fill(12) as number[];
    assert.deepEqual(completeness({ windowMs: HOUR, received: 12, expectedIntervalMs: null, metricCount: 1, hourlyCounts: slow }, s), {
      window_s: 3600, received: 12, expected: 12, ratio: 1, rate_source: 'observed',
    });
    // 10 a second, three metrics: 108,000 an hour; half lost in the window.
    const fast = Array(24).fill(108_000) as number[];
    assert.equal(completeness({ windowMs: HOUR, received: 54_000, expectedIntervalMs: null, metricCount: 3, hourlyCounts: fast }, s).ratio, 0.5);
    // A window of 15 minutes expects a quarter of an hour's readings.
    assert.deepEqual(completeness({ windowMs: HOUR / 4, received: 3, expectedIntervalMs: null, metricCount: 1, hourlyCounts: slow }, s), {
      window_s: 900, received: 3, expected: 3, ratio: 1, rate_source: 'observed',
    });
  });

  it('a device down half the day is measured by the hours it was up; lossy hours and a burst hour do not move its rate', () => {
    // 12 hours up (hours without readings are not in the list), of which two lost half and one had a burst.
    const day = [720, 720, 360, 720, 720, 720, 2_000, 720, 360, 720, 720, 720];
    assert.equal(observedHourlyRate(day, s), 720);
    assert.equal(completeness({ windowMs: HOUR, received: 360, expectedIntervalMs: null, metricCount: 2, hourlyCounts: day }, s).ratio, 0.5);
  });

  it('only the newest observedHours hours with readings count, so a device whose rate changed is judged by its new one', () => {
    const old = Array(30).fill(60) as number[];
    const now = Array(24).fill(720) as number[];
    assert.equal(observedHourlyRate([...old, ...now], s), 720);
    assert.equal(observedHourlyRate([...now, ...old], s), 60);
    assert.equal(observedHourlyRate([0, 0, 5], s), 5, 'hours without readings are left out');
  });

  it('no configured interval and no complete hour with readings: expected and ratio unknown', () => {
    assert.deepEqual(completeness({ windowMs: HOUR, received: 40, expectedIntervalMs: null, metricCount: 1, hourlyCounts: [] }, s), {
      window_s: 3600, received: 40, expected: null, ratio: null, rate_source: 'unknown',
    });
  });

  it('a silent device with a known rate is at 0, not unknown', () => {
    assert.deepEqual(completeness({ windowMs: HOUR, received: 0, expectedIntervalMs: null, metricCount: 1, hourlyCounts: [12, 12] }, s), {
      window_s: 3600, received: 0, expected: 12, ratio: 0, rate_source: 'observed',
    });
  });
});
