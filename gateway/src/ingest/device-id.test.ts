// One device id rule for every way an id enters the gateway: an id one adapter takes, every other
// adapter and the config take too, and a bad one is refused everywhere with FL_ERR_INGEST_DEVICE_ID
// (from devices) or a config problem naming the key (from the operator).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gatewayConfigSchema } from '../config/schema.js';
import { catalogue } from '../errors.js';
import { Code, Opt, type CoapMessage } from './coap/message.js';
import { routeRequest } from './coap/route.js';
import { DEVICE_ID_EXPECTED, DEVICE_ID_MAX_LENGTH, deviceIdSchema, isDeviceId, toDeviceId } from './device-id.js';
import { modbusConfigSchema } from './modbus/config.js';
import { parseTopic } from './mqtt/topic.js';

const GOOD = ['a', 'boiler-07', 'meter_7.v2', 'urn:dev:3', 'A-Z.a-z:0-9_', 'x'.repeat(128)];
const BAD = ['', 'x'.repeat(129), 'bad id', 'slash/inside', 'plus+', 'hash#', 'ümlaut', 'tab\t', 'new\nline', '$SYS'];

function coapPost(deviceId: string): CoapMessage {
  const options = ['telemetry', deviceId].map((p) => ({ number: Opt.URI_PATH, value: Buffer.from(p) }));
  return { type: 'CON', code: Code.POST, messageId: 1, token: Buffer.alloc(0), options, payload: Buffer.from('{}') };
}

function coapVerdict(deviceId: string): string {
  const r = routeRequest(coapPost(deviceId), { maxPayloadBytes: 1024 });
  if (r.kind !== 'telemetry') return `reply ${r.reason}`;
  return r.preRejection?.code ?? 'accepted';
}

function modbusProblems(deviceId: string): string[] {
  const tags = [{ metric: 'temperature', function: 3, address: 0 }];
  const r = modbusConfigSchema.safeParse({ enabled: true, buses: [{ type: 'tcp', host: '127.0.0.1', devices: [{ deviceId, tagGroups: [{ tags }] }] }] });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function gatewayProblems(input: Record<string, unknown>): string[] {
  const r = gatewayConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('the device id rule', () => {
  test('takes 1-128 characters of A-Z a-z 0-9 _ . : - and nothing else', () => {
    assert.equal(DEVICE_ID_MAX_LENGTH, 128);
    for (const id of GOOD) assert.ok(isDeviceId(id), JSON.stringify(id));
    for (const id of BAD) assert.ok(!isDeviceId(id), JSON.stringify(id));
    assert.equal(deviceIdSchema.safeParse('x'.repeat(128)).success, true);
    const tooLong = deviceIdSchema.safeParse('x'.repeat(129));
    assert.equal(tooLong.error?.issues[0]?.message, DEVICE_ID_EXPECTED);
  });

  test('the config and the error catalogue describe the same rule', () => {
    const rule = DEVICE_ID_EXPECTED.replace(/^expected /, '');
    assert.ok(catalogue.FL_ERR_INGEST_DEVICE_ID.message.endsWith(rule), catalogue.FL_ERR_INGEST_DEVICE_ID.message);
  });

  test('MQTT: a telemetry topic with a bad id is told apart, so the adapter quarantines it as FL_ERR_INGEST_DEVICE_ID', () => {
    for (const id of GOOD.filter((g) => !g.includes('/'))) {
      assert.deepEqual(parseTopic(`devices/${id}/telemetry`), { kind: 'telemetry', deviceId: id, format: 'json' });
      assert.deepEqual(parseTopic(`devices/${id}/telemetry/pb`), { kind: 'telemetry', deviceId: id, format: 'protobuf' });
    }
    for (const id of BAD.filter((b) => !b.includes('/'))) assert.deepEqual(parseTopic(`devices/${id}/telemetry`), { kind: 'bad-device-id', deviceId: id });
  });

  test('CoAP: POST /telemetry/{id} with a bad id goes to quarantine as FL_ERR_INGEST_DEVICE_ID', () => {
    for (const id of GOOD) assert.equal(coapVerdict(id), 'accepted', JSON.stringify(id));
    // A slash inside a Uri-Path option is one segment's content, not a separator (RFC 7252 §6.4).
    for (const id of BAD) assert.equal(coapVerdict(id), 'FL_ERR_INGEST_DEVICE_ID', JSON.stringify(id));
    const r = routeRequest(coapPost('y'.repeat(200)), { maxPayloadBytes: 1024 });
    assert.equal(r.kind === 'telemetry' && r.deviceId, 'y'.repeat(128));
  });

  test('Modbus: a register map naming a bad deviceId stops start-up, naming the key', () => {
    for (const id of GOOD) assert.deepEqual(modbusProblems(id), [], JSON.stringify(id));
    assert.deepEqual(modbusProblems('x'.repeat(129)), [`buses.0.devices.0.deviceId: ${DEVICE_ID_EXPECTED}`]);
    assert.deepEqual(modbusProblems('bad id'), [`buses.0.devices.0.deviceId: ${DEVICE_ID_EXPECTED}`]);
  });

  test('gateway config: devices.known, mqtt.credentials and gatewayId follow the rule', () => {
    assert.deepEqual(gatewayProblems({ gatewayId: 'x'.repeat(128), devices: { known: [{ id: 'x'.repeat(128) }] } }), []);
    assert.deepEqual(gatewayProblems({ devices: { known: [{ id: 'x'.repeat(129) }] } }), [`devices.known.0.id: ${DEVICE_ID_EXPECTED}`]);
    assert.deepEqual(gatewayProblems({ gatewayId: 'gw 1' }), [`gatewayId: ${DEVICE_ID_EXPECTED}`]);
    assert.deepEqual(
      gatewayProblems({ mqtt: { credentials: [{ username: 'u', password: 'p', deviceId: 'a/b' }] } }),
      [`mqtt.credentials.0.deviceId: ${DEVICE_ID_EXPECTED}`],
    );
  });

  test('an id the gateway derives itself (its hostname) is made valid rather than refused', () => {
    assert.equal(toDeviceId('gw-1.local', 'gateway'), 'gw-1.local');
    assert.equal(toDeviceId('büro gw', 'gateway'), 'b-ro-gw');
    assert.equal(toDeviceId('h'.repeat(200), 'gateway'), 'h'.repeat(128));
    assert.equal(toDeviceId('', 'gateway'), 'gateway');
    assert.ok(isDeviceId(toDeviceId('any thing/at#all', 'gateway')));
  });
});
