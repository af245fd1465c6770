// The local API's view of MQTT devices for the commissioning page: who is connected now
// (GET /mqtt/clients) and which devices hold a certificate of the gateway's CA (GET /pki/devices,
// the list `fieldline-gateway device list` prints). Refusals: 503 FL_ERR_MQTT_DISABLED when MQTT
// is off; 503 FL_ERR_MQTT_DISABLED for /pki/devices too when the gateway wired no PKI view.
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors.js';
import type { MqttClientInfo } from '../ingest/mqtt/adapter.js';
import type { PkiCertificateRow } from '../pki/store.js';

export interface MqttApiDeps {
  /** The connected clients; undefined when mqtt.enabled is false. */
  clients?: (() => MqttClientInfo[]) | undefined;
  /** Every certificate the gateway's CA issued, with its state. */
  pkiDevices: () => PkiCertificateRow[];
}

export function mqttRoutes(app: FastifyInstance, deps: MqttApiDeps | undefined): void {
  app.get('/mqtt/clients', async () => {
    if (!deps?.clients) throw new GatewayError('FL_ERR_MQTT_DISABLED');
    return { clients: deps.clients() };
  });

  app.get('/pki/devices', async () => {
    if (!deps) throw new GatewayError('FL_ERR_MQTT_DISABLED', 'this API was started without the device CA view');
    return { devices: deps.pkiDevices() };
  });
}
