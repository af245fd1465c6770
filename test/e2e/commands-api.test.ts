// Commands from the cloud API to a device and back (issue 15, acceptance 4), both halves together:
// POST /v1/devices/{id}/commands on the cloud (real Kafka, the embedded database) → iot.commands →
// a real gateway process → an MQTT device (a real MQTT.js client) or a pymodbus slave's register →
// the statuses on iot.command-status → GET /v1/devices/{id}/commands. The cloud learns which gateway
// a device is behind from its readings, so each device publishes (or is polled) first.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { GatewayChild } from '../../devstack/gateway-child.js';
import { readHoldingRegisters, startPymodbusTcpSlave, type PymodbusTcpSlave } from '../../devstack/pymodbus.js';
import { startCloud, type CloudStack } from '../../devstack/stack.js';
import { waitUntil } from '../fault/gateway-support.js';
import { postCommand, statusEventsFor, waitForCommandStatus, type CommandView } from '../support/commands.js';

const GATEWAY = 'gw-cmd-api';
const DEVICE = 'dev-api-1';
const PLC = 'plc-api';
const SETPOINT_ADDRESS = 7;

let stack: CloudStack;
let slave: PymodbusTcpSlave;
let gw: GatewayChild;
let device: MqttClient;
let operator: string;
let dir: string;
const received: { id: string; name: string; payload: unknown }[] = [];

async function readSetpoint(): Promise<number> {
  return (await readHoldingRegisters(slave.port, SETPOINT_ADDRESS))[0]!;
}

/** GET /v1/devices/{id}/commands as the given token. */
async function listCommands(deviceId: string, token: string): Promise<{ status: number; body: { commands?: CommandView[] } }> {
  const res = await fetch(`${stack.apiUrl}/v1/devices/${deviceId}/commands`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as { commands?: CommandView[] } };
}

/** Until the cloud has stored a reading of the device, and so knows its gateway. */
async function knownToCloud(deviceId: string): Promise<void> {
  await waitUntil(`${deviceId} known to the cloud`, async () => {
    const res = await fetch(`${stack.apiUrl}/v1/devices/${deviceId}`, { headers: { authorization: `Bearer ${stack.token}` } });
    return res.status === 200 ? ((await res.json()) as { gateway_id?: string }).gateway_id : undefined;
  }, (g) => g === GATEWAY, 60_000, 300);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-commands-api-'));
  stack = await startCloud();
  operator = await stack.cloud.auth.issue({ subject: 'op', role: 'operator', ttlSeconds: 3600 });
  slave = await startPymodbusTcpSlave('commands-api', { 1: { values: [{ table: 'holding', address: SETPOINT_ADDRESS, registers: [200] }] } });
  gw = await GatewayChild.create({
    dir,
    gatewayId: GATEWAY,
    brokers: stack.kafka.bootstrap,
    config: {
      commands: { pollIntervalMs: 200 },
      modbus: {
        enabled: true,
        buses: [{
          type: 'tcp', host: '127.0.0.1', port: slave.port,
          devices: [{ deviceId: PLC, unitId: 1, tagGroups: [{ pollIntervalMs: 500, tags: [
            { metric: 'setpoint', function: 3, address: SETPOINT_ADDRESS, type: 'uint16', scale: 0.1, writable: true, min: 0, max: 50 },
          ] }] }],
        }],
      },
    },
  });
  await gw.start();
  device = mqtt.connect(gw.mqttUrl, { clientId: DEVICE, clean: true, reconnectPeriod: 200 });
  device.on('message', (topic, payload) => {
    if (topic !== `devices/${DEVICE}/commands`) return;
    const msg = JSON.parse(payload.toString('utf8')) as { id: string; name: string; payload: unknown };
    received.push(msg);
    device.publish(`devices/${DEVICE}/commands/ack`, JSON.stringify({ id: msg.id, ok: true }), { qos: 1 });
  });
  await device.subscribeAsync(`devices/${DEVICE}/commands`, { qos: 1 });
  await device.publishAsync(`devices/${DEVICE}/telemetry`, JSON.stringify({ metrics: { temperature: 21.5 } }), { qos: 1 });
  await knownToCloud(DEVICE);
  await knownToCloud(PLC);
});

after(async () => {
  await device?.endAsync(true).catch(() => undefined);
  await gw?.stop();
  await slave?.stop();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('commands through the cloud API, end to end', () => {
  test('an MQTT command posted to the API reaches the device once and ends acknowledged, in GET and on iot.command-status', async () => {
    const posted = await postCommand(stack.apiUrl, operator, DEVICE, { name: 'set-interval', payload: { seconds: 30 }, expires_in_s: 120 });
    assert.equal(posted.status, 'queued');
    assert.equal(posted.gateway_id, GATEWAY);
    const done = await waitForCommandStatus(stack.apiUrl, operator, DEVICE, posted.id, 'acknowledged', 60_000);
    assert.equal(done.error, undefined);
    assert.deepEqual(received, [{ id: posted.id, name: 'set-interval', payload: { seconds: 30 } }]);
    const events = (await statusEventsFor(stack.kafka.bootstrap, posted.id)).map((e) => e.status);
    // The cloud's queued may be there twice (produced at least once); the gateway's once each.
    assert.deepEqual([...new Set(events)], ['queued', 'delivered', 'acknowledged'], events.join(','));
    // A viewer reads the status too (read:telemetry) but cannot send.
    const list = await listCommands(DEVICE, stack.token);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.commands?.map((c) => [c.id, c.status]), [[posted.id, 'acknowledged']]);
    const refused = await fetch(`${stack.apiUrl}/v1/devices/${DEVICE}/commands`, {
      method: 'POST', headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'reboot' }),
    });
    assert.equal(refused.status, 403);
  });

  test('a Modbus write posted to the API sets the slave\'s register; an out-of-range one fails with the reason and writes nothing', async () => {
    assert.equal(await readSetpoint(), 200);
    const write = await postCommand(stack.apiUrl, operator, PLC, { name: 'write', tag: 'setpoint', value: 37.5 });
    await waitForCommandStatus(stack.apiUrl, operator, PLC, write.id, 'acknowledged', 60_000);
    assert.equal(await readSetpoint(), 375, '37.5 at 0.1 per step');
    const tooHigh = await postCommand(stack.apiUrl, operator, PLC, { name: 'write', tag: 'setpoint', value: 60 });
    const failed = await waitForCommandStatus(stack.apiUrl, operator, PLC, tooHigh.id, 'failed', 60_000);
    assert.match(failed.error ?? '', /FL_ERR_COMMAND_OUT_OF_RANGE/);
    assert.equal(await readSetpoint(), 375, 'unchanged by the refused write');
  });
});
