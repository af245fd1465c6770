// bench/alerts.ts keeps working: a short run on a whole stack (real Kafka, the gateway, the cloud
// in the `all` role on the embedded TimescaleDB) where a rule made through the API turns every
// crossing the devices made into exactly one firing and one resolved event on iot.alerts, read by
// a reader in its own process, and every acknowledged reading is a row (the bench itself throws
// otherwise). No latency is asserted here: the figures are the bench's to report.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchAlertsAlone } from './alerts.js';

it('benchAlerts finds one event on iot.alerts for every level crossing the devices made, and every acknowledged reading stored', async () => {
  const r = await benchAlertsAlone({ seconds: 3, rate: 1_200, devices: 4, window: 20, crossEveryMs: 1_000, highForMs: 300 });
  const detail = JSON.stringify(r);
  assert.ok(r.events.expected > 0, detail);
  assert.equal(r.events.firing, r.events.resolved, detail);
  assert.equal(r.events.received, r.events.expected, detail);
  assert.equal(r.latencyMs.samples, r.events.expected, detail);
  assert.equal(r.latencyMs.firing.samples + r.latencyMs.resolved.samples, r.events.expected, detail);
  assert.ok(r.readingsAcked > 0 && r.readingsStored === r.readingsAcked, detail);
  assert.equal(r.readingsAcked % 3, 0, detail);
  // Every event's reading was found on iot.readings, so each one has the split by stage.
  assert.equal(r.stagesMs.gateway.samples, r.events.expected, detail);
  assert.equal(r.stagesMs.delivery.samples, r.events.expected, detail);
  assert.equal(r.idleLatencyMs.samples, 6, detail);
  assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max, detail);
});
