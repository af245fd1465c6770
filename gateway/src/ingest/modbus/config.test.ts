// Bad Modbus settings stop start-up with a message naming the key, the value and what was expected.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../../../common/src/config.js';
import { repoRoot } from '../../../../devstack/net.js';
import { modbusConfigSchema, type ModbusConfig, type RtuBusConfig } from './config.js';

// The gateway mounts the schema under `modbus`; the same wrapper here gives the same key paths.
const schema = z.strictObject({ modbus: modbusConfigSchema });

function load(modbus: unknown): ModbusConfig {
  return loadConfig(schema, { envPrefix: 'FIELDLINE_TEST_UNUSED_', env: {}, overrides: { modbus: modbus as Record<string, unknown> } }).modbus;
}

function problems(modbus: unknown): string[] {
  try {
    load(modbus);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}

function tcpBus(devices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'tcp', host: '127.0.0.1', ...extra, devices };
}

function device(tags: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { deviceId: 'dev-1', ...extra, tagGroups: [{ tags }] };
}

/** Asserts one problem mentions every fragment. */
function refuses(modbus: unknown, ...fragments: string[]): void {
  const found = problems(modbus);
  assert.ok(
    found.some((p) => fragments.every((f) => p.includes(f))),
    `no problem mentions all of ${JSON.stringify(fragments)}; got:\n  ${found.join('\n  ')}`,
  );
}

describe('Modbus config refusals', () => {
  test('overlapping tags of one function', () => {
    refuses(
      { buses: [tcpBus([{ deviceId: 'd', tagGroups: [{ tags: [{ metric: 'a', function: 3, address: 10, type: 'float32' }] }, { tags: [{ metric: 'b', function: 3, address: 11 }] }] }])] },
      'modbus.buses.0.devices.0.tagGroups.1.tags.0.address',
      '(got 11)',
      'occupies 10-11',
    );
  });

  test('the same address under another function is not an overlap', () => {
    load({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 10 }, { metric: 'b', function: 4, address: 10 }])])] });
  });

  test('a value running past the last address', () => {
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 4, address: 65535, type: 'float32' }])])] }, 'tags.0.address', '(got 65535)', 'expected at most 65534');
  });

  test('a request size beyond the function limit', () => {
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 0 }], { maxRegistersPerRead: 126 })])] }, 'devices.0.maxRegistersPerRead', '(got 126)', 'expected at most 125');
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 1, address: 0 }], { maxBitsPerRead: 2001 })])] }, 'devices.0.maxBitsPerRead', '(got 2001)', 'expected at most 2000');
  });

  test('a type wider than the device reads at once', () => {
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 0, type: 'float64' }], { maxRegistersPerRead: 2 })])] }, 'tags.0.type', '"float64"', 'at most 2 registers');
  });

  test('a 32-bit type on a coil function', () => {
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 1, address: 0, type: 'int32' }])])] }, 'tags.0.type', '(got "int32")', 'function 1 reads single bits');
  });

  test('bool on a register function, and a byte order on a bool', () => {
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 0, type: 'bool' }])])] }, 'tags.0.type', '(got "bool")', 'function 3 reads 16-bit registers');
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 2, address: 0, byteOrder: 'DCBA' }])])] }, 'tags.0.byteOrder', '(got "DCBA")', 'no byteOrder on a bool tag');
  });

  test('an unknown byte order, type or function', () => {
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 0, type: 'float32', byteOrder: 'ABDC' }])])] }, 'tags.0.byteOrder', '"ABDC"', 'ABCD');
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 0, type: 'double' }])])] }, 'tags.0.type', '"double"', 'float64');
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 5, address: 0 }])])] }, 'tags.0.function', '(got 5)', 'expected a read function');
  });

  test('a serial slave address outside 1-247', () => {
    for (const unitId of [0, 248]) {
      refuses({ buses: [{ type: 'rtu', path: '/dev/ttyUSB0', devices: [device([{ metric: 'a', function: 3, address: 0 }], { unitId })] }] }, 'devices.0.unitId', `(got ${unitId})`, 'expected 1-247');
    }
    // Unit 0 is fine on Modbus/TCP.
    load({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 0 }], { unitId: 0 })])] });
  });

  test('duplicate device ids, unit ids, metrics, and two buses on one port', () => {
    const tags = [{ metric: 'a', function: 3, address: 0 }];
    refuses({ buses: [tcpBus([device(tags)]), tcpBus([device(tags)], { port: 5020 })] }, 'buses.1.devices.0.deviceId', '"dev-1"', 'unique across all buses');
    refuses({ buses: [tcpBus([device(tags), device(tags, { deviceId: 'dev-2' })])] }, 'devices.1.unitId', '(got 1)', 'unique on the bus');
    refuses({ buses: [tcpBus([device([...tags, { metric: 'a', function: 3, address: 5 }])])] }, 'tags.1.metric', '"a"', 'unique within the device');
    refuses(
      { buses: [{ type: 'rtu', path: '/dev/ttyS0', devices: [device(tags)] }, { type: 'rtu', path: '/dev/ttyS0', name: 'other', devices: [device(tags, { deviceId: 'dev-2' })] }] },
      'buses.1.path',
      '"/dev/ttyS0"',
      'one bus only',
    );
  });

  test('unknown keys, bad metric names, 7 data bits', () => {
    refuses({ buses: [tcpBus([device([{ metric: 'a', function: 3, address: 0 }], { slaveId: 3 })])] }, 'unknown key slaveId', 'modbus.buses.0.devices.0');
    refuses({ buses: [tcpBus([device([{ metric: 'bad name', function: 3, address: 0 }])])] }, 'tags.0.metric', '"bad name"', 'expected 1-64 characters');
    refuses({ buses: [{ type: 'rtu', path: '/dev/ttyS0', dataBits: 7, devices: [device([{ metric: 'a', function: 3, address: 0 }])] }] }, 'buses.0.dataBits', '(got 7)', 'expected 8');
    refuses({ buses: [{ type: 'serial', path: '/dev/ttyS0', devices: [] }] }, 'buses.0.type', 'expected type: tcp or type: rtu');
  });
});

describe('Modbus config defaults', () => {
  test('the RTU inter-frame delay is 3.5 character times, 1.75 ms above 19200 baud, unless set', () => {
    const tags = [{ metric: 'a', function: 3, address: 0 }];
    const delay = (bus: Record<string, unknown>): number =>
      (load({ buses: [{ type: 'rtu', path: '/dev/ttyS0', ...bus, devices: [device(tags)] }] }).buses[0] as RtuBusConfig).interFrameDelayMs;
    assert.equal(delay({ baudRate: 9600, parity: 'even' }), (3.5 * 11 * 1000) / 9600); // 11-bit characters: 4.01 ms
    assert.equal(delay({ baudRate: 19200, parity: 'none' }), (3.5 * 10 * 1000) / 19200); // 8N1: 1.82 ms
    assert.equal(delay({ baudRate: 38400 }), 1.75);
    assert.equal(delay({ baudRate: 115200, interFrameDelayMs: 5 }), 5);
  });

  test('tags default to bool on functions 1/2, uint16 on 3/4, ABCD, scale 1, offset 0', () => {
    const cfg = load({ buses: [tcpBus([device([{ metric: 'a', function: 1, address: 0 }, { metric: 'b', function: 4, address: 0 }])])] });
    const tags = cfg.buses[0]!.devices[0]!.tagGroups[0]!.tags;
    assert.deepEqual(tags.map((t) => [t.type, t.byteOrder, t.scale, t.offset]), [['bool', 'ABCD', 1, 0], ['uint16', 'ABCD', 1, 0]]);
    assert.equal(cfg.enabled, false);
    assert.equal(cfg.buses[0]!.name, 'tcp:127.0.0.1:502');
  });

  test('sample.yaml is valid and means what its comments say', () => {
    const file = join(repoRoot(), 'gateway', 'src', 'ingest', 'modbus', 'sample.yaml');
    const cfg = loadConfig(schema, { file, envPrefix: 'FIELDLINE_TEST_UNUSED_', env: {} }).modbus;
    assert.equal(cfg.enabled, true);
    assert.deepEqual(cfg.buses.map((b) => b.name), ['plant-gateway', 'rtu:/dev/ttyUSB0']);
    assert.equal((cfg.buses[1] as RtuBusConfig).interFrameDelayMs.toFixed(2), '4.01');
  });
});
