// GET /mqtt/clients and GET /pki/devices on the local API: the shapes the commissioning page reads,
// and 503 FL_ERR_MQTT_DISABLED with MQTT off, behind the admin token like every other route.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildLocalApi, type LocalApiDeps } from './server.js';

const base: LocalApiDeps = {
  token: 'x'.repeat(20),
  status: () => ({}),
  metrics: async () => '',
  quarantine: () => [],
  devices: () => [],
};
const auth = { authorization: `Bearer ${'x'.repeat(20)}` };
const client = { clientId: 'c1', deviceId: 'sensor-1', listener: 'tls' as const, remoteAddress: '10.0.0.7', connectedAt: '2026-01-01T00:00:00.000Z', certificateSerial: '4A' };
const cert = { deviceId: 'sensor-1', serial: '4A', issuedAt: 'a', notBefore: 'b', notAfter: 'c', state: 'valid' as const };

describe('local API: MQTT clients and device certificates', () => {
  it('lists the connected clients and the issued certificates', async () => {
    const app = buildLocalApi({ ...base, mqtt: { clients: () => [client], pkiDevices: () => [cert] } });
    const clients = await app.inject({ url: '/mqtt/clients', headers: auth });
    assert.equal(clients.statusCode, 200);
    assert.deepEqual(clients.json(), { clients: [client] });
    const devices = await app.inject({ url: '/pki/devices', headers: auth });
    assert.deepEqual(devices.json(), { devices: [cert] });
    assert.equal((await app.inject({ url: '/mqtt/clients' })).statusCode, 401, 'behind the admin token');
  });

  it('answers 503 FL_ERR_MQTT_DISABLED for the clients with MQTT off, and still lists certificates', async () => {
    const app = buildLocalApi({ ...base, mqtt: { clients: undefined, pkiDevices: () => [] } });
    const res = await app.inject({ url: '/mqtt/clients', headers: auth });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().error.code, 'FL_ERR_MQTT_DISABLED');
    assert.deepEqual((await app.inject({ url: '/pki/devices', headers: auth })).json(), { devices: [] });
  });
});
