// Open alerts (GET /v1/alerts?state=firing), newest first, with acknowledge. Alert events on the
// stream trigger a refetch, so a new alert shows without waiting for the periodic refresh.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, enc, type AlertItem } from '../api';
import { dateTime, num, relativeTime } from '../format';
import { can, type Claims } from '../session';
import { openStream } from '../stream';
import { usePolling } from './polling';

type Severity = '' | AlertItem['severity'];

export function Alerts(props: { claims: Claims }) {
  const [severity, setSeverity] = useState<Severity>('');
  const query = `/v1/alerts?state=firing${severity ? `&severity=${severity}` : ''}`;
  const { data, error, at, refresh } = usePolling(() => api<{ alerts: AlertItem[] }>('GET', query), 10_000, [query]);
  const [ackError, setAckError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const mayAck = can(props.claims, 'write:rules');

  useEffect(() => {
    const h = openStream(
      { kinds: 'alerts' },
      (m) => {
        if (m.type === 'alert') void refresh();
      },
      (s) => setLive(s === 'live'),
    );
    return () => h.close();
  }, []);

  const ack = async (a: AlertItem): Promise<void> => {
    try {
      await api('POST', `/v1/alerts/${enc(a.id)}/ack`);
      setAckError(null);
      await refresh();
    } catch (err) {
      setAckError(err instanceof ApiError ? `${err.message} (${err.code})` : (err as Error).message);
    }
  };

  return (
    <section aria-labelledby="alerts-title">
      <div class="title-row">
        <h1 id="alerts-title">Open alerts</h1>
        <span class={`stream ${live ? 'live' : 'retrying'}`}>{live ? 'live' : 'polling'}</span>
      </div>
      <div class="filters">
        <label>
          Severity{' '}
          <select name="severity" value={severity} onChange={(e) => setSeverity(e.currentTarget.value as Severity)}>
            <option value="">any</option>
            <option value="critical">critical</option>
            <option value="warning">warning</option>
            <option value="info">info</option>
          </select>
        </label>
        {at && <span class="muted">updated {new Date(at).toLocaleTimeString('en-GB')}</span>}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {ackError && <p class="error" role="alert">{ackError}</p>}
      {data && data.alerts.length === 0 && <p class="muted">No open alerts.</p>}
      {data && data.alerts.length > 0 && (
        <table class="table" aria-label="Open alerts">
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Alert</th>
              <th scope="col">Target</th>
              <th scope="col">Value</th>
              <th scope="col">Since</th>
              <th scope="col">Acknowledged</th>
            </tr>
          </thead>
          <tbody>
            {data.alerts.map((a) => (
              <tr key={a.id} data-alert={a.id}>
                <td>
                  <span class={`sev ${a.severity}`}>{a.severity}</span>
                </td>
                <td>{a.message}</td>
                <td>
                  {a.target.device ? <a href={`#/devices/${enc(a.target.device)}`}>{a.target.device}</a> : null}
                  {a.target.metric ? ` · ${a.target.metric}` : ''}
                  {a.target.gateway ? (
                    <>
                      {a.target.device ? ' on ' : ''}
                      <a href={`#/gateways/${enc(a.target.gateway)}`}>{a.target.gateway}</a>
                    </>
                  ) : null}
                </td>
                <td class="num">{num(a.value, 3)}</td>
                <td title={dateTime(a.started_at)}>{relativeTime(a.started_at, Date.now())}</td>
                <td>
                  {a.acked_at ? (
                    <span title={dateTime(a.acked_at)}>by {a.acked_by}</span>
                  ) : mayAck ? (
                    <button type="button" onClick={() => void ack(a)} aria-label={`Acknowledge ${a.message}`}>
                      Acknowledge
                    </button>
                  ) : (
                    'no'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
