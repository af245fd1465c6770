// Commands from the cloud, the gateway's half (issue 15, acceptance 4): command messages produced
// to a real Kafka broker's iot.commands as the cloud API would, read by a real gateway process
// (dist/), handed to an MQTT device (a real MQTT.js client) or written to a real pymodbus slave,
// with the statuses read back from iot.command-status. Proves: an MQTT command is received once,
// PUBACKed (delivered) and answered (acknowledged), and not handed again after a gateway restart or
// as a duplicate message; a Modbus write sets the slave's register (read back by pymodbus itself),
// an out-of-range one fails and leaves it alone; an expired command, or one for a device that never
// subscribes before its expiry, is never delivered and ends `expired`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import Kafka from 'node-rdkafka';
import { GatewayChild } from '../../devstack/gateway-child.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { readHoldingRegisters, startPymodbusTcpSlave, type PymodbusTcpSlave } from '../../devstack/pymodbus.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { waitUntil } from '../fault/gateway-support.js';
import { readTopic } from '../fleet/support.js';

const GATEWAY = 'gw-cmd';
const DEVICE = 'dev-cmd-1';
const OFFLINE = 'dev-cmd-offline';
const SETPOINT_ADDRESS = 5;

interface Status {
  id: string;
  device_id: string;
  gateway_id: string;
  status: string;
  ts_ms: number;
  error?: string;
}

let kafka: KafkaBroker;
let slave: PymodbusTcpSlave;
let gw: GatewayChild;
let producer: Kafka.Producer;
let device: MqttClient;
let dir: string;
/** Every command message the device received, in order. */
const received: { id: string; name: string; payload: unknown }[] = [];

function produce(cmd: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    producer.produce('iot.commands', null, Buffer.from(JSON.stringify(cmd)), GATEWAY, Date.now(), undefined, [{ 'content-type': 'application/json' }]);
    producer.flush(10_000, (err) => (err ? reject(err) : resolve()));
  });
}

function command(deviceId: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return { id: randomUUID(), gateway_id: GATEWAY, device_id: deviceId, name: 'reboot', payload: { delay_s: 3 }, created_ms: now, expires_ms: now + 60_000, ...over };
}

async function statuses(): Promise<Status[]> {
  return (await readTopic(kafka.bootstrap, 'iot.command-status')).map((m) => {
    const s = JSON.parse(m.value.toString('utf8')) as Status;
    assert.equal(m.key, s.id, 'key = command id');
    assert.equal(m.headers.get('content-type'), 'application/json');
    return s;
  });
}

async function statusesOf(id: string, until: (s: string[]) => boolean, timeoutMs = 30_000): Promise<Status[]> {
  const all = await waitUntil(`statuses of ${id}`, statuses, (list) => until(list.filter((s) => s.id === id).map((s) => s.status)), timeoutMs, 300);
  return all.filter((s) => s.id === id);
}

async function readSetpoint(): Promise<number> {
  return (await readHoldingRegisters(slave.port, SETPOINT_ADDRESS))[0]!;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-commands-e2e-'));
  kafka = await startKafka({ topics: [...FIELDLINE_TOPICS] });
  slave = await startPymodbusTcpSlave('commands', { 1: { values: [{ table: 'holding', address: SETPOINT_ADDRESS, registers: [100] }] } });
  gw = await GatewayChild.create({
    dir,
    gatewayId: GATEWAY,
    brokers: kafka.bootstrap,
    config: {
      commands: { pollIntervalMs: 200 },
      devices: { known: [{ id: OFFLINE }] },
      modbus: {
        enabled: true,
        buses: [{
          type: 'tcp', host: '127.0.0.1', port: slave.port,
          devices: [{ deviceId: 'plc-cmd', unitId: 1, tagGroups: [{ pollIntervalMs: 1_000, tags: [
            { metric: 'setpoint', function: 3, address: SETPOINT_ADDRESS, type: 'int16', scale: 0.1, writable: true, min: 0, max: 100 },
          ] }] }],
        }],
      },
    },
  });
  await gw.start();
  producer = new Kafka.Producer({ 'metadata.broker.list': kafka.bootstrap, dr_cb: false }, {});
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  device = mqtt.connect(gw.mqttUrl, { clientId: DEVICE, clean: true, reconnectPeriod: 200 });
  device.on('message', (topic, payload) => {
    if (topic !== `devices/${DEVICE}/commands`) return;
    const msg = JSON.parse(payload.toString('utf8')) as { id: string; name: string; payload: unknown };
    received.push(msg);
    device.publish(`devices/${DEVICE}/commands/ack`, JSON.stringify({ id: msg.id, ok: true }), { qos: 1 });
  });
  // MQTT.js subscribes again after each reconnect (resubscribe is on by default).
  await device.subscribeAsync(`devices/${DEVICE}/commands`, { qos: 1 });
});

after(async () => {
  await device?.endAsync(true).catch(() => undefined);
  if (producer?.isConnected()) await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  await gw?.stop();
  await slave?.stop();
  await kafka?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('commands, gateway side, end to end', () => {
  test('an MQTT command is received once, delivered and acknowledged; after a restart and as a duplicate it is not handed again', async () => {
    const first = command(DEVICE);
    await produce(first);
    const s1 = await statusesOf(first.id as string, (s) => s.includes('acknowledged'));
    assert.deepEqual(s1.map((s) => s.status), ['delivered', 'acknowledged']);
    assert.deepEqual(s1.map((s) => [s.device_id, s.gateway_id]), [[DEVICE, GATEWAY], [DEVICE, GATEWAY]]);
    assert.deepEqual(received, [{ id: first.id, name: 'reboot', payload: { delay_s: 3 } }]);

    await gw.stop();
    await gw.start();
    await waitUntil('the device reconnected', async () => device.connected, (c) => c, 30_000, 100);
    // The same message again (a cloud retry or a redelivery), then a new one behind it: once the new
    // one has arrived, the gateway has read past the duplicate.
    await produce(first);
    const second = command(DEVICE, { name: 'blink', payload: null });
    await produce(second);
    await statusesOf(second.id as string, (s) => s.includes('acknowledged'));
    assert.deepEqual(received.map((m) => m.id), [first.id, second.id]);
    const again = (await statuses()).filter((s) => s.id === first.id).map((s) => s.status);
    assert.deepEqual(again, ['delivered', 'acknowledged'], 'no new status for the duplicate');
    const { commands } = (await gw.status()) as unknown as { commands: { counters: { duplicates: number; received: number } } };
    assert.equal(commands.counters.duplicates, 1, 'the duplicate was read after the restart and refused by the ledger');
  });

  test('delivered is the device\'s PUBACK alone: a device that takes the command and never answers stays delivered', async () => {
    const quiet = mqtt.connect(gw.mqttUrl, { clientId: 'dev-cmd-quiet', clean: true, reconnectPeriod: 200 });
    try {
      const got: string[] = [];
      quiet.on('message', (_t, payload) => got.push((JSON.parse(payload.toString('utf8')) as { id: string }).id));
      await quiet.subscribeAsync('devices/dev-cmd-quiet/#', { qos: 1 });
      // A client posing as the cloud on a commands topic is not passed on, retained or not.
      await quiet.publishAsync('devices/dev-cmd-quiet/commands', JSON.stringify({ id: 'spoofed', name: 'reboot', payload: null }), { qos: 1, retain: true });
      const cmd = command('dev-cmd-quiet');
      await produce(cmd);
      const s = await statusesOf(cmd.id as string, (x) => x.includes('delivered'));
      assert.deepEqual(s.map((x) => x.status), ['delivered']);
      assert.deepEqual(got, [cmd.id], 'received through a wildcard subscription, once; the spoofed one never');
    } finally {
      await quiet.endAsync(true);
    }
  });

  test('a Modbus write sets the pymodbus slave\'s register; an out-of-range value fails and leaves it alone', async () => {
    assert.equal(await readSetpoint(), 100);
    const write = command('plc-cmd', { name: 'write', tag: 'setpoint', value: 42.5, payload: undefined });
    await produce(write);
    const s = await statusesOf(write.id as string, (x) => x.includes('acknowledged') || x.includes('failed'));
    assert.deepEqual(s.map((x) => x.status), ['delivered', 'acknowledged'], JSON.stringify(s));
    assert.equal(await readSetpoint(), 425, '42.5 at 0.1 per step');
    assert.deepEqual(slave.requests().filter((r) => r.fc === 6).map((r) => r.address), [SETPOINT_ADDRESS], 'one function 6 write at the tag\'s address');

    const tooHigh = command('plc-cmd', { name: 'write', tag: 'setpoint', value: 150, payload: undefined });
    await produce(tooHigh);
    const f = await statusesOf(tooHigh.id as string, (x) => x.includes('failed'));
    assert.deepEqual(f.map((x) => x.status), ['failed']);
    assert.match(f[0]!.error!, /^FL_ERR_COMMAND_OUT_OF_RANGE: .*150.*max 100/);
    assert.equal(await readSetpoint(), 425, 'unchanged');
    assert.equal(slave.requests().filter((r) => r.fc === 6 || r.fc === 16).length, 1, 'nothing more was written');
  });

  test('an expired command, and one for a device that never subscribes before its expiry, end expired and are never delivered', async () => {
    const stale = command(DEVICE, { expires_ms: Date.now() - 1_000 });
    await produce(stale);
    const offline = command(OFFLINE, { expires_ms: Date.now() + 2_000 });
    await produce(offline);
    const s1 = await statusesOf(stale.id as string, (x) => x.length > 0);
    assert.deepEqual(s1.map((x) => x.status), ['expired']);
    assert.match(s1[0]!.error!, /^FL_ERR_COMMAND_EXPIRED: /);
    const s2 = await statusesOf(offline.id as string, (x) => x.length > 0);
    assert.deepEqual(s2.map((x) => x.status), ['expired']);
    assert.ok(s2[0]!.ts_ms >= (offline.expires_ms as number), 'expired once its expiry passed, not before');
    // A fresh command behind them arrives, so the gateway has read past both.
    const later = command(DEVICE);
    await produce(later);
    await statusesOf(later.id as string, (x) => x.includes('acknowledged'));
    assert.ok(!received.some((m) => m.id === stale.id), 'the expired command never reached the device');
  });
});
