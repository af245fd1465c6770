// bench/gateway-resources.ts keeps working: a few seconds at a low rate against a real gateway
// process and a real Kafka broker, where the samples come from the live process (it held memory and
// used CPU), every acknowledged reading was forwarded, and the bytes-per-reading figure is the
// process's disk writes over the acknowledged readings. No speed or size is asserted.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchGatewayResources, rateKey } from './gateway-resources.js';

it('benchGatewayResources samples the live gateway process and divides its disk writes by the readings it acknowledged', async () => {
  const r = await benchGatewayResources({ rates: [500, 1_000], seconds: 3, clients: 5, idleSeconds: 1 });
  assert.deepEqual(Object.keys(r.rates), ['at_500', 'at_1k']);
  for (const [key, x] of Object.entries(r.rates)) {
    const detail = `${key}: ${JSON.stringify({ ...x, series: undefined, idle: undefined })}`;
    assert.equal(x.failures, 0, detail);
    assert.ok(x.ackedReadings > 0 && x.ackedReadings % r.readingsPerMessage === 0, detail);
    assert.equal(x.forwardedReadings, x.ackedReadings, detail);
    assert.ok(x.idleRssMb > 0 && x.steadyRssMb > 0 && x.peakRssMb >= x.steadyRssMb, detail);
    assert.ok(x.cpuSeconds > 0 && x.cpuPct > 0, detail);
    assert.ok(x.series.samples.length >= 2 && x.idle.samples.length >= 1, detail);
    // Every PUBACK followed an fsynced outbox commit on a disk filesystem: the process wrote.
    assert.ok(x.diskWriteBytes > 0, detail);
    assert.equal(x.diskBytesPerReading, Math.round((x.diskWriteBytes / x.ackedReadings) * 10) / 10, detail);
  }
  assert.equal(rateKey(10_000), 'at_10k');
});
