// The command service against fake adapters and an injected clock, on a real ledger file: a
// command is handed to a device at most once (also after the ledger is closed and opened again, as
// in a restart), expiry follows the gateway clock, statuses only move forwards, and every refusal
// carries its catalogued code.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { modbusConfigSchema, type DeviceConfig } from '../ingest/modbus/config.js';
import type { WriteRequest } from '../ingest/modbus/writes.js';
import { CommandLedger, mayMove } from './ledger.js';
import { CommandService, type MqttCommandTarget, type ModbusCommandTarget } from './service.js';
import type { CommandMessage, CommandStatus } from './wire.js';

const log = pino({ level: 'silent' });
const T0 = 1_800_000_000_000;

class FakeMqtt implements MqttCommandTarget {
  readonly subs = new Set<string>();
  readonly online_ = new Set<string>();
  readonly sent: { deviceId: string; message: unknown; puback: () => void }[] = [];
  subscribed(id: string): boolean {
    return this.subs.has(id);
  }
  online(id: string): boolean {
    return this.online_.has(id) || this.subs.has(id);
  }
  send(deviceId: string, message: Buffer, onPuback: () => void): boolean {
    if (!this.subs.has(deviceId)) return false;
    this.sent.push({ deviceId, message: JSON.parse(message.toString()), puback: onPuback });
    return true;
  }
}

class FakeModbus implements ModbusCommandTarget {
  readonly writes: { deviceId: string; req: WriteRequest }[] = [];
  fail: Error | null = null;
  /** The next write never answers: a stop in the middle of it. */
  hang = false;
  constructor(private readonly plc: DeviceConfig) {}
  device(id: string) {
    return id === this.plc.deviceId ? { device: this.plc } : undefined;
  }
  async write(deviceId: string, req: WriteRequest): Promise<void> {
    if (this.fail) throw this.fail;
    if (this.hang) return new Promise<void>(() => undefined);
    this.writes.push({ deviceId, req });
  }
}

const plc = modbusConfigSchema.parse({
  enabled: true,
  buses: [{ type: 'tcp', host: 'h', devices: [{ deviceId: 'plc-1', tagGroups: [{ tags: [
    { metric: 'setpoint', function: 3, address: 0, type: 'int16', writable: true, min: 0, max: 100 },
    { metric: 'status', function: 3, address: 1 },
  ] }] }] }],
}).buses[0]!.devices[0]!;

let dir: string;
let ledger: CommandLedger;
let now: number;
let mqtt: FakeMqtt;
let modbus: FakeModbus;
let known: Set<string>;

function service(): CommandService {
  return new CommandService({
    gatewayId: 'gw-1', ledger, log, now: () => now,
    targets: { mqtt: () => mqtt, modbus: () => modbus, knownDevice: (id) => known.has(id) },
  });
}

function command(over: Partial<CommandMessage> = {}): Buffer {
  const cmd: CommandMessage = { id: 'c1', gateway_id: 'gw-1', device_id: 'dev-1', name: 'reboot', payload: { delay: 5 }, created_ms: now, expires_ms: now + 60_000, ...over };
  return Buffer.from(JSON.stringify(cmd));
}

function statuses(): CommandStatus[] {
  return ledger.outgoing(0, 1000).map((r) => JSON.parse(r.value) as CommandStatus);
}

function restart(): void {
  ledger.close();
  ledger = new CommandLedger(join(dir, 'commands.db'));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-commands-'));
  ledger = new CommandLedger(join(dir, 'commands.db'));
  now = T0;
  mqtt = new FakeMqtt();
  modbus = new FakeModbus(plc);
  known = new Set(['dev-1']);
});

afterEach(() => {
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('MQTT commands', () => {
  test('a subscribed device gets {id, name, payload} once; PUBACK → delivered, ack ok → acknowledged', () => {
    const svc = service();
    mqtt.subs.add('dev-1');
    svc.receive(command());
    assert.equal(mqtt.sent.length, 1);
    assert.deepEqual(mqtt.sent[0]!.message, { id: 'c1', name: 'reboot', payload: { delay: 5 } });
    assert.deepEqual(statuses(), [], 'nothing to report before the PUBACK');
    mqtt.sent[0]!.puback();
    svc.deviceAck('dev-1', Buffer.from('{"id":"c1","ok":true}'));
    assert.deepEqual(statuses().map((s) => s.status), ['delivered', 'acknowledged']);
    assert.deepEqual(statuses()[0], { id: 'c1', device_id: 'dev-1', gateway_id: 'gw-1', status: 'delivered', ts_ms: T0 });
  });

  test('the same id again — duplicate message, redelivery, after a restart — is never handed again', () => {
    mqtt.subs.add('dev-1');
    service().receive(command());
    service().receive(command());
    restart();
    const svc = service();
    svc.receive(command());
    svc.sweep();
    assert.equal(mqtt.sent.length, 1);
    assert.equal(svc.counters.duplicates, 1);
  });

  test('a command handed over just before a restart is not handed again after it, and fails unconfirmed at its expiry', () => {
    mqtt.subs.add('dev-1');
    service().receive(command({ expires_ms: T0 + 10_000 }));
    restart();
    const svc = service();
    svc.recover();
    svc.sweep();
    assert.equal(mqtt.sent.length, 1);
    now = T0 + 10_000;
    svc.sweep();
    const s = statuses();
    assert.equal(s.length, 1);
    assert.equal(s[0]!.status, 'failed');
    assert.match(s[0]!.error!, /^FL_ERR_COMMAND_UNCONFIRMED: /);
  });

  test('a device not subscribed yet: the command waits, goes when it subscribes, and expires by the gateway clock if it never does', () => {
    const svc = service();
    svc.receive(command({ id: 'early', expires_ms: T0 + 30_000 }));
    svc.receive(command({ id: 'late', expires_ms: T0 + 5_000 }));
    now = T0 + 5_000;
    svc.sweep();
    assert.deepEqual(statuses().map((s) => [s.id, s.status]), [['late', 'expired']]);
    assert.match(statuses()[0]!.error!, /^FL_ERR_COMMAND_EXPIRED: /);
    mqtt.subs.add('dev-1');
    svc.deliverMqtt('dev-1');
    assert.deepEqual(mqtt.sent.map((s) => (s.message as { id: string }).id), ['early']);
  });

  test('a command already past its expiry when it arrives is expired, never handed over', () => {
    mqtt.subs.add('dev-1');
    service().receive(command({ expires_ms: T0 - 1 }));
    assert.equal(mqtt.sent.length, 0);
    assert.deepEqual(statuses().map((s) => s.status), ['expired']);
  });

  test('ack ok:false → failed with the device\'s reason; a later ok is ignored (status only moves forwards)', () => {
    const svc = service();
    mqtt.subs.add('dev-1');
    svc.receive(command());
    mqtt.sent[0]!.puback();
    svc.deviceAck('dev-1', Buffer.from('{"id":"c1","ok":false,"error":"busy"}'));
    svc.deviceAck('dev-1', Buffer.from('{"id":"c1","ok":true}'));
    mqtt.sent[0]!.puback();
    const s = statuses();
    assert.deepEqual(s.map((x) => x.status), ['delivered', 'failed']);
    assert.equal(s[1]!.error, 'FL_ERR_COMMAND_REJECTED: busy');
  });

  test('an ack from another device, or for an unknown id, changes nothing', () => {
    const svc = service();
    mqtt.subs.add('dev-1');
    svc.receive(command());
    svc.deviceAck('dev-2', Buffer.from('{"id":"c1","ok":true}'));
    svc.deviceAck('dev-1', Buffer.from('{"id":"zz","ok":true}'));
    svc.deviceAck('dev-1', Buffer.from('not json'));
    assert.deepEqual(statuses(), []);
  });

  test('an unknown device fails at once; a malformed command with an id fails with the field named', () => {
    const svc = service();
    svc.receive(command({ device_id: 'stranger' }));
    svc.receive(Buffer.from(JSON.stringify({ id: 'bad', device_id: 'dev-1', gateway_id: 'gw-1', name: 'x', created_ms: T0 })));
    svc.receive(Buffer.from('{not json'));
    svc.receive(command({ id: 'other-gw', gateway_id: 'gw-2' }));
    const s = statuses();
    assert.deepEqual(s.map((x) => [x.id, x.status]), [['c1', 'failed'], ['bad', 'failed'], ['other-gw', 'failed']]);
    assert.match(s[0]!.error!, /^FL_ERR_COMMAND_UNKNOWN_DEVICE: /);
    assert.match(s[1]!.error!, /^FL_ERR_COMMAND_MALFORMED: .*expires_ms/);
    assert.match(s[2]!.error!, /^FL_ERR_COMMAND_MALFORMED: .*gateway_id "gw-2" is not this gateway/);
    assert.equal(svc.counters.malformed, 3);
    assert.equal(mqtt.sent.length, 0);
  });
});

describe('Modbus write commands', () => {
  const write = (over: Partial<CommandMessage> = {}) => command({ device_id: 'plc-1', name: 'write', tag: 'setpoint', value: 42, payload: undefined, ...over });

  test('a write in range → the request on the bus, delivered then acknowledged', async () => {
    const svc = service();
    svc.receive(write());
    await svc.idle();
    assert.equal(modbus.writes.length, 1);
    const req = modbus.writes[0]!.req;
    assert.equal(req.fn, 6);
    assert.deepEqual(req.fn === 6 && [...req.registers], [0, 42]);
    assert.deepEqual(statuses().map((s) => s.status), ['delivered', 'acknowledged']);
  });

  test('out of range, not writable, unknown tag: failed with the reason, nothing written', async () => {
    const svc = service();
    svc.receive(write({ id: 'a', value: 101 }));
    svc.receive(write({ id: 'b', tag: 'status', value: 1 }));
    svc.receive(write({ id: 'c', tag: 'nope' }));
    svc.receive(write({ id: 'd', device_id: 'plc-9' }));
    await svc.idle();
    assert.equal(modbus.writes.length, 0);
    assert.deepEqual(statuses().map((s) => [s.id, s.status, s.error!.split(':')[0]]), [
      ['a', 'failed', 'FL_ERR_COMMAND_OUT_OF_RANGE'],
      ['b', 'failed', 'FL_ERR_COMMAND_NOT_WRITABLE'],
      ['c', 'failed', 'FL_ERR_COMMAND_UNKNOWN_TAG'],
      ['d', 'failed', 'FL_ERR_COMMAND_UNKNOWN_DEVICE'],
    ]);
  });

  test('an exception response fails the command with its code, and it is not written again', async () => {
    const svc = service();
    modbus.fail = Object.assign(new Error('exception 2 (illegal data address)'), { code: 'FL_ERR_MODBUS_EXCEPTION' });
    svc.receive(write());
    await svc.idle();
    modbus.fail = null;
    svc.receive(write());
    svc.sweep();
    await svc.idle();
    assert.equal(modbus.writes.length, 0);
    assert.deepEqual(statuses().map((s) => s.status), ['failed']);
    assert.match(statuses()[0]!.error!, /^FL_ERR_MODBUS_EXCEPTION: exception 2/);
  });

  test('a write interrupted by a stop (left handing) fails as interrupted at the next start, never written again', async () => {
    modbus.hang = true;
    const first = service();
    first.receive(write({ expires_ms: T0 + 1_000_000 }));
    await new Promise((r) => setImmediate(r));
    assert.equal(ledger.get('c1')?.state, 'handing', 'the write is on its way');
    restart();
    modbus.hang = false;
    const svc = service();
    svc.recover();
    svc.receive(write());
    await svc.idle();
    assert.deepEqual(statuses().map((s) => s.status), ['failed']);
    assert.match(statuses()[0]!.error!, /^FL_ERR_COMMAND_INTERRUPTED: /);
  });
});

describe('status moves', () => {
  test('only forwards: queued → delivered → acknowledged|failed, queued → expired, queued|delivered → failed', () => {
    assert.equal(mayMove('pending', 'handing'), true);
    assert.equal(mayMove('pending', 'expired'), true);
    assert.equal(mayMove('handing', 'delivered'), true);
    assert.equal(mayMove('delivered', 'acknowledged'), true);
    assert.equal(mayMove('delivered', 'failed'), true);
    assert.equal(mayMove('delivered', 'expired'), false);
    assert.equal(mayMove('acknowledged', 'failed'), false);
    assert.equal(mayMove('failed', 'acknowledged'), false);
    assert.equal(mayMove('expired', 'delivered'), false);
    assert.equal(mayMove('handing', 'pending'), false);
  });
});
