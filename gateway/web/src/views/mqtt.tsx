// The sensors connected to the gateway's MQTT broker right now, and how each one proved who it is.
import { api, type MqttClient } from '../api';
import { ago, clock } from '../format';
import { usePolling } from '../poll';
import { Badge, Panel, Stale } from '../ui';

const LISTENERS: Record<string, string> = { tcp: 'plain TCP', tls: 'TLS', ws: 'WebSocket' };

export function MqttClients() {
  const s = usePolling(() => api<{ clients: MqttClient[] }>('GET', '/mqtt/clients'), 5_000);
  const missing = s.error?.includes('FL_ERR_API_NOT_FOUND');
  const off = s.error?.includes('FL_ERR_MQTT_DISABLED');
  const clients = s.data?.clients ?? [];
  return (
    <div>
      <div class="title-row">
        <h1>MQTT clients</h1>
        <Stale at={s.at} error={missing || off ? null : s.error} />
      </div>
      {missing && <p class="notice">This gateway's version does not list MQTT clients.</p>}
      {off && <p class="notice">MQTT is off on this gateway (mqtt.enabled: false).</p>}
      <Panel title={`Connected now: ${clients.length}`}>
        {clients.length === 0 ? (
          <p class="muted">No client is connected. A sensor shows here from its CONNECT on.</p>
        ) : (
          <table class="table" data-testid="mqtt-clients">
            <thead>
              <tr>
                <th>Client id</th>
                <th>Device</th>
                <th>Listener</th>
                <th>From</th>
                <th>Connected</th>
                <th>Identity</th>
              </tr>
            </thead>
            <tbody>
              {clients.map((c) => (
                <tr key={c.clientId}>
                  <td>{c.clientId}</td>
                  <td>{c.deviceId}</td>
                  <td>{LISTENERS[c.listener] ?? c.listener}</td>
                  <td>{c.remoteAddress}</td>
                  <td title={clock(c.connectedAt)}>{ago(typeof c.connectedAt === 'number' ? c.connectedAt : Date.parse(c.connectedAt))}</td>
                  <td>{c.certificateSerial ? <Badge tone="ok">certificate {c.certificateSerial}</Badge> : <Badge tone="idle">password / none</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}

