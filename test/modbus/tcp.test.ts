// The gateway polling a real pymodbus Modbus/TCP slave (devstack/pymodbus_slave.py) over one
// connection carrying several unit ids: values decode to what the slave holds, merged requests show
// in the slave's own request log, exceptions are counted, and a unit that never answers does not
// hold up the others by more than one timeout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ModbusAdapter, type ModbusDeviceStats } from '../../gateway/src/ingest/modbus/adapter.js';
import { modbusConfigSchema } from '../../gateway/src/ingest/modbus/config.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { SourceProtocol } from '../../proto/src/wire.js';
import { startPymodbusTcpSlave, type PymodbusTcpSlave } from '../../devstack/pymodbus.js';
import { bitMatrix, typeMatrix } from './matrix.js';
import { eventually, maxGap, recordingIngest, silentLog, watchUnhandledRejections } from './support.js';

const DEAD_TIMEOUT_MS = 250;
const POLL_MS = 50;

const unhandled = watchUnhandledRejections();
const holding = typeMatrix(3, 100);
const input = typeMatrix(4, 0);
const coils = bitMatrix(1, 10);
const discrete = bitMatrix(2, 0);
const rec = recordingIngest();
let slave: PymodbusTcpSlave;
let adapter: ModbusAdapter;
let stats: Map<string, ModbusDeviceStats>;

before(async () => {
  slave = await startPymodbusTcpSlave('tcp', {
    1: { values: [...holding.slaveValues, ...input.slaveValues, ...coils.slaveValues, ...discrete.slaveValues] },
    2: { values: [{ table: 'holding', address: 0, registers: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19] }] },
    3: { values: [{ table: 'input', address: 0, registers: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }] },
    4: { fault: { exception: 6 } },
    5: { size: 100 },
    9: { fault: 'silent' },
  });
  const port = slave.port;
  const cfg = modbusConfigSchema.parse({
    enabled: true,
    buses: [
      {
        type: 'tcp',
        host: '127.0.0.1',
        port,
        devices: [
          // The silent unit first, so it has the first turn on the connection.
          { deviceId: 'silent', unitId: 9, timeoutMs: DEAD_TIMEOUT_MS, retries: 2, backoff: { initialMs: 600, maxMs: 600, multiplier: 1 }, tagGroups: [{ pollIntervalMs: POLL_MS, tags: [{ metric: 'x', function: 3, address: 0 }] }] },
          { deviceId: 'all-types', unitId: 1, tagGroups: [{ pollIntervalMs: 200, tags: [...holding.tags, ...input.tags, ...coils.tags, ...discrete.tags] }] },
          {
            deviceId: 'ten-adjacent',
            unitId: 2,
            tagGroups: [{ pollIntervalMs: POLL_MS, tags: Array.from({ length: 10 }, (_, i) => ({ metric: `r${i}`, function: 3, address: 9 - i })) }],
          },
          {
            deviceId: 'gapped',
            unitId: 3,
            maxGap: 3,
            tagGroups: [{ pollIntervalMs: 200, tags: [0, 4, 10].map((address) => ({ metric: `i${address}`, function: 4, address })) }],
          },
          { deviceId: 'busy', unitId: 4, retries: 1, tagGroups: [{ pollIntervalMs: 200, tags: [{ metric: 'x', function: 3, address: 0 }] }] },
          { deviceId: 'no-such-register', unitId: 5, retries: 2, tagGroups: [{ pollIntervalMs: 200, tags: [{ metric: 'x', function: 3, address: 200 }] }] },
        ],
      },
    ],
  });
  adapter = new ModbusAdapter(cfg, new Metrics(), silentLog);
  await adapter.start(rec.ingest);
  await eventually(() => adapter.stats().buses[0]!.devices[0]!.state === 'backoff' && rec.of('ten-adjacent').length >= 20, 'the silent unit backing off', 15_000);
  await new Promise((resolve) => setTimeout(resolve, 300)); // polls of the others while it backs off
  await adapter.stop();
  stats = new Map(adapter.stats().buses[0]!.devices.map((d) => [d.deviceId, d]));
});

after(async () => {
  await adapter?.stop();
  await slave?.stop();
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no unhandled promise rejection');
});

describe('Modbus/TCP against a pymodbus slave', () => {
  test('every type in every byte order, coils and discrete inputs decode to the values the slave holds', () => {
    const envs = rec.of('all-types');
    assert.ok(envs.length >= 2);
    for (const env of envs) {
      assert.equal(env.source, SourceProtocol.SOURCE_PROTOCOL_MODBUS_TCP);
      assert.deepEqual(env.reading?.metrics, { ...holding.expected, ...input.expected, ...coils.expected, ...discrete.expected });
      // raw holds the four responses' data: 2 bytes a register, a byte per 8 bits.
      assert.equal(env.raw.length, holding.registers * 2 + input.registers * 2 + 2 + 2);
    }
  });

  test('ten adjacent tags are one read request in the slave log, and a poll is one envelope', () => {
    const requests = slave.requests().filter((r) => r.unit === 2);
    assert.ok(requests.length >= 20);
    for (const r of requests) assert.deepEqual([r.fc, r.address, r.count], [3, 0, 10]);
    const envs = rec.of('ten-adjacent');
    // The poll in flight when the adapter stopped may have reached the slave without a reading.
    assert.ok(requests.length - envs.length <= 1, `${requests.length} requests, ${envs.length} readings`);
    assert.deepEqual(envs[0]?.reading?.metrics, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`r${i}`, 19 - i])));
    // Whole merged requests for the other devices too: 4 per poll of all 24+24+11+11 tags.
    const allTypes = slave.requests().filter((r) => r.unit === 1);
    assert.deepEqual(
      [...new Set(allTypes.map((r) => `${r.fc}@${r.address}x${r.count}`))].sort(),
      ['1@10x11', '2@0x11', `3@100x${holding.registers}`, `4@0x${input.registers}`],
    );
  });

  test('maxGap merges across a small hole, not a larger one', () => {
    const shapes = new Set(slave.requests().filter((r) => r.unit === 3).map((r) => `${r.fc}@${r.address}x${r.count}`));
    assert.deepEqual([...shapes].sort(), ['4@0x5', '4@10x1']);
    assert.deepEqual(rec.of('gapped')[0]?.reading?.metrics, { i0: 0, i4: 4, i10: 10 });
  });

  test('exception responses are counted by code; busy is retried, an illegal address is not', () => {
    const busy = stats.get('busy')!;
    assert.ok((busy.exception['6'] ?? 0) >= 2);
    assert.ok(busy.retries >= 1);
    assert.equal(busy.lastError?.exceptionCode, 6);
    assert.equal(busy.lastError?.code, 'FL_ERR_MODBUS_EXCEPTION');
    const illegal = stats.get('no-such-register')!;
    const asked = slave.requests().filter((r) => r.unit === 5).length;
    assert.ok(asked >= 2);
    assert.equal(illegal.exception['2'], asked, 'one request per poll: exception 2 is not retried');
    assert.equal(illegal.retries, 0);
    assert.equal(rec.of('busy').length + rec.of('no-such-register').length, 0, 'no reading without values');
  });

  test('a unit that never answers delays the others by at most one timeout', () => {
    const silent = stats.get('silent')!;
    assert.ok(silent.timeout >= 3, `${silent.timeout} timeouts`);
    assert.equal(silent.state, 'backoff');
    assert.equal(silent.lastError?.code, 'FL_ERR_MODBUS_TIMEOUT');
    assert.ok(silent.polls.skipped > 0);
    const times = rec.of('ten-adjacent').map((e) => e.reading!.tsMs as number);
    const gap = maxGap(times);
    // Three tries back to back would be 750 ms; one timeout plus one interval is the bound.
    assert.ok(gap <= POLL_MS + DEAD_TIMEOUT_MS + 60, `polls of a live unit were ${gap} ms apart`);
  });
});
