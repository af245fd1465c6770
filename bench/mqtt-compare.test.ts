// bench/mqtt-compare.ts keeps working: Mosquitto, plain aedes and the gateway (NORMAL and FULL) each
// take the same short load from the Go load generator, every PUBLISH is acknowledged, the gateway's
// outbox file holds every reading it acknowledged, and each ratio is the quotient of the figures it
// names. No speed is asserted: the figures are the bench's to report.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchMqttCompare } from './mqtt-compare.js';

it('benchMqttCompare loads Mosquitto, plain aedes and the gateway alike and derives each ratio from the measured rates', async () => {
  const r = await benchMqttCompare({ seconds: 2, clients: 2, window: 10 });
  const runs = [r.mosquitto, r.aedes, r.gatewayNormal, r.gateway];
  for (const run of runs) {
    assert.equal(run.failures, 0, run.broker);
    assert.ok(run.acknowledgedMessages > 0 && run.readingsPerSecond > 0, JSON.stringify(run));
    assert.ok(run.measuredAcks > 0 && run.measuredAcks <= run.acknowledgedMessages, run.broker);
    assert.equal(run.readingsPerSecond, Math.round((run.measuredAcks * 3) / run.measuredSeconds), run.broker);
    assert.equal(run.messagesPerSecond, Math.round(run.measuredAcks / run.measuredSeconds), run.broker);
    assert.ok(run.process.peakRssMb > 0 && run.process.cpuSeconds > 0, `${run.broker}: ${JSON.stringify(run.process)}`);
    assert.ok(run.timeline.reduce((n, s) => n + s.acks, 0) === run.acknowledgedMessages, `${run.broker}: the timeline counts every PUBACK once`);
  }
  assert.match(r.mosquitto.version, /^mosquitto version \d/);
  // The bench itself throws when the outbox file holds fewer readings than were acknowledged.
  assert.equal(r.gateway.outboxReadings, r.gateway.acknowledgedMessages * 3);
  assert.equal(r.gatewayNormal.outboxReadings, r.gatewayNormal.acknowledgedMessages * 3);
  const q = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  assert.equal(r.ratioToMosquitto, q(r.gateway.readingsPerSecond, r.mosquitto.readingsPerSecond));
  assert.equal(r.ratioToAedes, q(r.gateway.readingsPerSecond, r.aedes.readingsPerSecond));
  assert.equal(r.pipelineRatio, q(r.gatewayNormal.readingsPerSecond, r.aedes.readingsPerSecond));
  assert.equal(r.durabilityRatio, q(r.gateway.readingsPerSecond, r.gatewayNormal.readingsPerSecond));
});
