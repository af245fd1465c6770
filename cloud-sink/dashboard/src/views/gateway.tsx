// One gateway: its heartbeat's figures and the devices behind it with how complete their data is
// (GET /v1/gateways/{id}).
import { api, enc, type GatewayDetail } from '../api';
import { duration, num, relativeTime } from '../format';
import { usePolling } from './polling';

const GiB = 2 ** 30;

export function Gateway(props: { id: string }) {
  const { data: g, error, at } = usePolling(() => api<GatewayDetail>('GET', `/v1/gateways/${enc(props.id)}`), 5000, [props.id]);
  const now = at ?? Date.now();
  return (
    <section aria-labelledby="gw-title">
      <p class="crumbs">
        <a href="#/gateways">Fleet</a> / gateway
      </p>
      <div class="title-row">
        <h1 id="gw-title">{props.id}</h1>
        {g && <span class={`status ${g.status}`}>{g.status}</span>}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {g && (
        <>
          {g.reasons.length > 0 && (
            <ul class="reasons-list" aria-label="Reasons">
              {g.reasons.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          )}
          <dl class="facts">
            <dt>Last seen</dt>
            <dd>{relativeTime(g.last_seen, now)}</dd>
            <dt>Firmware</dt>
            <dd>{g.firmware ?? '—'}</dd>
            <dt>Uptime</dt>
            <dd>{g.uptime_s !== null ? duration(g.uptime_s * 1000) : '—'}</dd>
            <dt>CPU</dt>
            <dd>{g.cpu !== null ? `${num(g.cpu, 1)} %` : '—'}</dd>
            <dt>Memory</dt>
            <dd>{g.memory !== null ? `${num(g.memory, 1)} %` : '—'}</dd>
            <dt>Disk free</dt>
            <dd>{g.disk_free !== null ? `${num(g.disk_free / GiB, 1)} GiB` : '—'}</dd>
            <dt>Temperature</dt>
            <dd>{g.temperature !== null ? `${num(g.temperature, 1)} °C` : '—'}</dd>
            <dt>Outbox</dt>
            <dd>{g.outbox ? `${g.outbox.depth.toLocaleString('en')} readings, oldest ${duration(g.outbox.oldest_age_ms)}` : '—'}</dd>
            <dt>Loss</dt>
            <dd>{g.loss ? `${g.loss.rate_limited} rate-limited, ${g.loss.quarantined} quarantined, ${g.loss.evicted} evicted` : '—'}</dd>
            <dt>Adapters</dt>
            <dd>{g.adapters.length ? g.adapters.map((a) => `${a.name}: ${a.state}`).join(', ') : '—'}</dd>
          </dl>
          <h2>Devices ({g.devices.length})</h2>
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Last seen</th>
                <th scope="col">Completeness</th>
                <th scope="col">Received / expected</th>
              </tr>
            </thead>
            <tbody>
              {g.devices.map((d) => (
                <tr key={d.device_id}>
                  <td>
                    <a href={`#/devices/${enc(d.device_id)}`}>{d.device_id}</a>
                  </td>
                  <td title={d.last_seen}>{relativeTime(d.last_seen, now)}</td>
                  <td>
                    {d.completeness.ratio !== null ? (
                      <meter min={0} max={1} low={0.9} high={0.99} optimum={1} value={d.completeness.ratio} title={`${num(d.completeness.ratio * 100, 1)} %`}>
                        {num(d.completeness.ratio * 100, 1)} %
                      </meter>
                    ) : (
                      '—'
                    )}{' '}
                    {d.completeness.ratio !== null ? `${num(d.completeness.ratio * 100, 1)} %` : ''}
                  </td>
                  <td>
                    {d.completeness.received} / {d.completeness.expected ?? '?'} in {duration(d.completeness.window_s * 1000)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
