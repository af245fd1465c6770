// What buildHeartbeat puts on the wire beyond the figures: the interval the cloud counts missed
// heartbeats in, and `delayed` false (only the heartbeat lane marks a heartbeat that waited).
import assert from 'node:assert/strict';
import { tmpdir, totalmem } from 'node:os';
import { it } from 'node:test';
import { decodeHeartbeat, encodeHeartbeat } from '../../../proto/src/wire.js';
import { Metrics } from '../metrics.js';
import { buildHeartbeat, sampleHost } from './heartbeat.js';

function base() {
  return {
    gatewayId: 'gw-1',
    firmwareVersion: '1.0.0',
    startedMs: Date.now() - 5_000,
    host: { cpuPercent: 1, memoryUsedBytes: 1, memoryTotalBytes: 2, diskFreeBytes: 1, diskTotalBytes: 2, temperatureC: null },
    outbox: {
      depthMessages: 0, depthValues: 0, oldestMs: null, leasedBatches: 0, nextSeq: 1, quarantinePending: 0, depthBytes: 0,
      evictedValues: 0, redeliveriesDropped: 0, full: null, recovery: null,
    },
    adapters: [],
    metrics: new Metrics(),
    intervalMs: 1_000,
  };
}

it('a heartbeat carries the clock state on the wire: synced, the last step seen, the source', () => {
  const wire = decodeHeartbeat(encodeHeartbeat(buildHeartbeat({ ...base(), clock: { synced: false, lastJumpMs: 31_536_000_000, source: 'system' } })).value);
  assert.deepEqual([wire.clockSynced, wire.clockOffsetMs, wire.clockSource], [false, 31_536_000_000, 'system']);
});

it('a heartbeat carries the gateway\'s heartbeat interval on the wire, and is not marked delayed', () => {
  const hb = buildHeartbeat({
    gatewayId: 'gw-1',
    firmwareVersion: '1.0.0',
    startedMs: Date.now() - 5_000,
    host: { cpuPercent: 1, memoryUsedBytes: 1, memoryTotalBytes: 2, diskFreeBytes: 1, diskTotalBytes: 2, temperatureC: null },
    outbox: {
      depthMessages: 0, depthValues: 0, oldestMs: null, leasedBatches: 0, nextSeq: 1, quarantinePending: 0, depthBytes: 0,
      evictedValues: 0, redeliveriesDropped: 0, full: null, recovery: null,
    },
    adapters: [],
    metrics: new Metrics(),
    intervalMs: 12_345,
  });
  const wire = decodeHeartbeat(encodeHeartbeat(hb).value);
  assert.equal(wire.intervalMs, 12_345);
  assert.equal(wire.delayed, false);
  assert.equal(decodeHeartbeat(encodeHeartbeat({ ...hb, delayed: true }).value).delayed, true);
});

it('sampleHost reads this machine through systeminformation\'s own cpu, memory and filesystem modules: total memory as the OS says, the data disk\'s size, a CPU load in 0–100', async () => {
  const host = await sampleHost(tmpdir());
  assert.equal(host.memoryTotalBytes, totalmem());
  assert.ok(host.memoryUsedBytes > 0 && host.memoryUsedBytes <= host.memoryTotalBytes, JSON.stringify(host));
  assert.ok(host.diskTotalBytes > 0 && host.diskFreeBytes <= host.diskTotalBytes, JSON.stringify(host));
  assert.ok(host.cpuPercent >= 0 && host.cpuPercent <= 100, JSON.stringify(host));
  assert.ok(host.temperatureC === null || Number.isFinite(host.temperatureC), JSON.stringify(host));
});
