// Modbus reads through the real pipeline into the real SQLite outbox: an accepted poll is on disk
// as a Reading, and a poll the pipeline refuses (a NaN from the device) is in quarantine with the
// register bytes it came from.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startModbusTcpSlave } from '../../firmware-sim/src/modbus-slave.js';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { ModbusAdapter } from '../../gateway/src/ingest/modbus/adapter.js';
import { localTcpModbus } from '../../devstack/modbus-config.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { SqliteOutbox } from '../../gateway/src/outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from '../../gateway/src/pipeline/pipeline.js';
import { SourceProtocol, v1 } from '../../proto/src/wire.js';
import { eventually, scratchDir, silentLog } from './support.js';

test('accepted Modbus polls are committed Readings in the outbox; a NaN poll is quarantined with its registers', async () => {
  const scratch = scratchDir('pipeline');
  const slave = await startModbusTcpSlave({
    units: {
      1: { values: [{ table: 'holdingRegisters', address: 0, type: 'float32', value: 12.25 }], holdingRegisters: { 2: 300 } },
      2: { values: [{ table: 'holdingRegisters', address: 0, type: 'float32', value: Number.NaN }] },
    },
  });
  const outbox = new SqliteOutbox({ path: join(scratch.dir, 'outbox.db') });
  const metrics = new Metrics();
  const gw = gatewayConfigSchema.parse({});
  const pipeline = new Pipeline('gw-test', defaultSteps(gw), outbox, metrics);
  const adapter = new ModbusAdapter(
    localTcpModbus(slave.port, [
      { deviceId: 'flow-meter', unitId: 1, tagGroups: [{ pollIntervalMs: 40, tags: [{ metric: 'flow', function: 3, address: 0, type: 'float32' }, { metric: 'level', function: 3, address: 2, scale: 0.5 }] }] },
      { deviceId: 'broken-sensor', unitId: 2, tagGroups: [{ pollIntervalMs: 200, tags: [{ metric: 'flow', function: 3, address: 0, type: 'float32' }] }] },
    ]),
    metrics,
    silentLog,
  );
  try {
    await adapter.start((env) => pipeline.process(env));
    await eventually(() => {
      const [meter, broken] = adapter.stats().buses[0]!.devices;
      return (meter?.readings.accepted ?? 0) >= 5 && (broken?.readings.refused ?? 0) >= 1;
    }, 'committed and refused polls');
    await adapter.stop();
    const [meter, broken] = adapter.stats().buses[0]!.devices;
    // Every accepted poll is one message in the outbox: accepted means on disk.
    assert.equal(outbox.stats().depthMessages, meter!.readings.accepted);
    const batch = outbox.lease(1_000_000);
    assert.ok(batch);
    const readings = batch.readings.map((bytes) => v1.Reading.decode(bytes));
    assert.equal(readings.length, meter!.readings.accepted);
    for (const r of readings) {
      assert.equal(r.deviceId, 'flow-meter');
      assert.equal(r.source, SourceProtocol.SOURCE_PROTOCOL_MODBUS_TCP);
      assert.deepEqual({ ...r.metrics }, { flow: 12.25, level: 150 });
      assert.ok(Number(r.tsMs) > Date.now() - 60_000);
    }
    const times = readings.map((r) => Number(r.tsMs));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'readings in poll order');

    const quarantined = outbox.recentQuarantine(10).filter((q) => q.deviceId === 'broken-sensor');
    assert.equal(quarantined.length, broken!.readings.refused);
    assert.equal(quarantined[0]?.reasonCode, 'FL_ERR_VALIDATE_NOT_FINITE');
    assert.deepEqual([...quarantined[0]!.raw], [0x7f, 0xc0, 0x00, 0x00], 'the register bytes the NaN came from');
    assert.equal(quarantined[0]?.topic, `modbus/tcp:127.0.0.1:${slave.port}/unit/2/group-0`);
    assert.equal(metrics.loss.quarantined, broken!.readings.refused);
  } finally {
    await adapter.stop();
    await slave.stop();
    outbox.close();
    scratch.remove();
  }
});
