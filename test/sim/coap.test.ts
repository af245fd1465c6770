// `fieldline-sim --coap N` as a process against a real gateway: the readings it saw acknowledged are
// in the gateway's outbox, and in fault mode its summary accounts for every refusal the gateway
// counted, reason by reason.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { byDevice, startGateway, startSim, total, type CoapStats } from './support.js';

/** Answers that mean "quarantined": every 4.xx but 4.29 (rate-limited, which is not quarantined). */
function quarantinedAnswers(answers: Record<string, number> | undefined): number {
  return Object.entries(answers ?? {})
    .filter(([code]) => code.startsWith('4.') && code !== '4.29')
    .reduce((n, [, k]) => n + k, 0);
}

describe('fieldline-sim --coap', () => {
  test('--coap 3 --duration 3: readings from three devices reach the outbox, one per 2.04 the simulator got', async () => {
    const gw = await startGateway();
    const sim = startSim(['--coap', '3', '--duration', '3', '--rate', '5', '--coap-url', `coap://127.0.0.1:${gw.gateway.coap!.boundPort}`]);
    try {
      const { exit, summary } = await sim.finished();
      assert.deepEqual(exit, { code: 0, signal: null });
      const coap = summary.coap!;
      assert.ok(coap.acked >= 30, `about 3 s × 5 Hz × 3 sensors acknowledged: ${JSON.stringify(coap)}`);
      assert.equal(coap.acked, coap.sent, 'no fault mode: every request answered 2.04');
      assert.equal(coap.good, coap.sent);

      const devices = byDevice(gw.committed());
      assert.deepEqual([...devices.keys()].sort(), ['sim-coap-0001', 'sim-coap-0002', 'sim-coap-0003']);
      // 2.04 is sent only after the commit, so the outbox holds exactly what was acknowledged.
      assert.equal([...devices.values()].reduce((n, rs) => n + rs.length, 0), coap.acked);
      for (const [id, readings] of devices) {
        const seqs = readings.map((r) => r.metrics?.seq).sort((a, b) => (a ?? 0) - (b ?? 0));
        assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${id}: seq 1..n, none lost or doubled`);
        for (const r of readings) {
          const t = r.metrics?.temperature ?? NaN;
          assert.ok(t > 10 && t < 30, `${id}: plausible temperature ${t}`);
        }
      }
    } finally {
      await sim.kill();
      await gw.stop();
    }
  });

  test('--coap 2 --faults: the gateway refuses each fault kind, good readings still arrive, and the summary matches its counters', async () => {
    const gw = await startGateway();
    const coapPort = gw.gateway.coap!.boundPort;
    // 30% faulty messages (10% per kind) and a burst every second, so 3 s show every kind for sure.
    const sim = startSim(['--coap', '2', '--faults', '--fault-rate', '0.3', '--rate', '20', '--burst-every', '1', '--duration', '3', '--coap-url', `coap://127.0.0.1:${coapPort}`]);
    try {
      const { exit, summary } = await sim.finished();
      assert.deepEqual(exit, { code: 0, signal: null });
      const s: CoapStats = summary.coap!;
      for (const kind of ['badValues', 'skew', 'malformedPayload', 'burstMessages', 'malformed', 'randomBytes']) {
        assert.ok((s.faults[kind] ?? 0) > 0, `${kind} sent: ${JSON.stringify(s.faults)}`);
      }
      assert.equal(s.sent, s.good + s.faults.badValues! + s.faults.skew! + s.faults.malformedPayload! + s.faults.burstMessages!, 'every request is of one kind');
      // Every request was answered, so the per-kind answers below are the whole story.
      assert.equal(s.timeouts + s.errors, 0, JSON.stringify(s));
      for (const [kind, answers] of Object.entries(s.answers)) {
        assert.equal(total(answers), kind === 'good' ? s.good : s.faults[kind], `${kind}: one answer per request`);
      }

      const status = await gw.api<{ refusals: Record<string, number>; deviceLoss: Record<string, { quarantined: number; rateLimited: number }> }>('/status');
      const loss = Object.entries(status.deviceLoss).filter(([id]) => id.startsWith('sim-coap-'));
      const quarantined = loss.reduce((n, [, l]) => n + l.quarantined, 0);
      const rateLimited = loss.reduce((n, [, l]) => n + l.rateLimited, 0);
      const refused = status.refusals;

      // Good readings and burst messages are never quarantined; a fault is quarantined unless the
      // rate limiter got to it first (it runs before decoding, and a burst leaves the device's bucket
      // empty). So the exact relation is per answer: the gateway quarantined exactly the requests it
      // answered with a 4.xx other than 4.29, reason by reason, and rate-limited exactly the 4.29s.
      assert.equal(quarantinedAnswers(s.answers.good) + quarantinedAnswers(s.answers.burstMessages), 0, 'good readings are never refused');
      assert.equal(refused.FL_ERR_VALIDATE_TIMESTAMP ?? 0, quarantinedAnswers(s.answers.skew), 'skew ↔ FL_ERR_VALIDATE_TIMESTAMP');
      assert.equal(refused.FL_ERR_DECODE_JSON ?? 0, quarantinedAnswers(s.answers.malformedPayload), 'malformed ↔ FL_ERR_DECODE_JSON');
      assert.equal(
        (refused.FL_ERR_VALIDATE_OUT_OF_RANGE ?? 0) + (refused.FL_ERR_VALIDATE_NOT_NUMBER ?? 0) + (refused.FL_ERR_VALIDATE_SHAPE ?? 0),
        quarantinedAnswers(s.answers.badValues),
        'bad values ↔ OUT_OF_RANGE + NOT_NUMBER + SHAPE',
      );
      for (const code of ['FL_ERR_VALIDATE_TIMESTAMP', 'FL_ERR_DECODE_JSON', 'FL_ERR_VALIDATE_NOT_NUMBER', 'FL_ERR_RATE_LIMITED']) {
        assert.ok((refused[code] ?? 0) > 0, `${code} counted: ${JSON.stringify(refused)}`);
      }
      const faultsSent = s.faults.badValues! + s.faults.skew! + s.faults.malformedPayload!;
      const faultsRateLimited = (s.answers.badValues?.['4.29'] ?? 0) + (s.answers.skew?.['4.29'] ?? 0) + (s.answers.malformedPayload?.['4.29'] ?? 0);
      assert.equal(quarantined, faultsSent - faultsRateLimited, 'quarantined = bad values + skew + malformed sent, less those rate-limited first');
      assert.equal(rateLimited, s.rateLimited, 'rate-limited ↔ 4.29 answers');
      assert.equal(refused.FL_ERR_RATE_LIMITED, s.rateLimited);
      assert.ok(s.rateLimited > 0 && s.faults.burstMessages! > 0, 'bursts outran the default allowance of 200');
      assert.ok(gw.gateway.coap!.counts.malformed >= s.faults.malformed!, 'malformed CoAP datagrams dropped at the screen');

      const quarantine = await gw.api<{ items: { deviceId: string; reasonCode: string }[] }>('/quarantine?limit=1000');
      assert.equal(quarantine.items.length, quarantined, 'the local API lists every quarantined message');

      const devices = byDevice(gw.committed());
      assert.deepEqual([...devices.keys()].sort(), ['sim-coap-0001', 'sim-coap-0002'], 'good readings from both sensors');
      assert.equal([...devices.values()].reduce((n, rs) => n + rs.length, 0), s.acked, 'one committed reading per 2.04');
      assert.ok((s.answers.good?.['2.04'] ?? 0) > 0.5 * s.good, `most good readings accepted: ${JSON.stringify(s.answers.good)}`);
    } finally {
      await sim.kill();
      await gw.stop();
    }
  });
});
