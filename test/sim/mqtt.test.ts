// `fieldline-sim --mqtt N --faults …` as a process against a real gateway's MQTT broker: with no
// bursts the gateway quarantines exactly the faults the simulator reports, reason by reason, and
// commits exactly its good messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../../devstack/net.js';
import { byDevice, startGateway, startSim } from './support.js';

test('--mqtt 2 --faults bad-values,skew,malformed: quarantined = faults sent, committed = good sent', async () => {
  const gw = await startGateway({ mqtt: { host: '127.0.0.1', port: await freePort(), persistSessions: false } });
  const url = `mqtt://127.0.0.1:${gw.gateway.mqtt!.boundPort}`;
  const sim = startSim(['--mqtt', '2', '--faults', 'bad-values,skew,malformed', '--fault-rate', '0.3', '--rate', '20', '--duration', '3', '--url', url]);
  try {
    const { exit, summary } = await sim.finished();
    assert.deepEqual(exit, { code: 0, signal: null });
    const s = summary.mqtt!;
    const { badValues = 0, skew = 0, malformedPayload = 0, burstMessages = 0 } = s.faults;
    assert.ok(badValues > 0 && skew > 0 && malformedPayload > 0, JSON.stringify(s));
    assert.equal(burstMessages, 0, 'bursts were not asked for');
    assert.equal(s.sent, s.good + badValues + skew + malformedPayload);
    // QoS 1: each PUBACK comes after the commit or the quarantine, so once all are acknowledged the
    // gateway has decided on every message.
    assert.equal(s.acked, s.sent, JSON.stringify(s));
    assert.equal(s.errors, 0);
    assert.deepEqual(summary.totals, { sent: s.sent, good: s.good, badValues, skew, malformedPayload, burstMessages: 0 });

    const status = gw.gateway.status();
    const refused = status.refusals;
    // Without bursts nothing is rate-limited (20 Hz is under the default 50/s), so MQTT, which
    // acknowledges refused messages like accepted ones, still allows exact equality.
    assert.equal(status.loss.rateLimited, 0);
    assert.equal(status.loss.quarantined, badValues + skew + malformedPayload, JSON.stringify(refused));
    assert.equal(refused.FL_ERR_VALIDATE_TIMESTAMP ?? 0, skew, 'skew ↔ FL_ERR_VALIDATE_TIMESTAMP');
    assert.equal(refused.FL_ERR_DECODE_JSON ?? 0, malformedPayload, 'malformed ↔ FL_ERR_DECODE_JSON');
    assert.equal((refused.FL_ERR_VALIDATE_OUT_OF_RANGE ?? 0) + (refused.FL_ERR_VALIDATE_NOT_NUMBER ?? 0) + (refused.FL_ERR_VALIDATE_SHAPE ?? 0), badValues);

    const devices = byDevice(gw.committed());
    assert.deepEqual([...devices.keys()].sort(), ['sim-mqtt-0001', 'sim-mqtt-0002']);
    assert.equal([...devices.values()].reduce((n, rs) => n + rs.length, 0), s.good, 'every good message committed, nothing else');
  } finally {
    await sim.kill();
    await gw.stop();
  }
});
