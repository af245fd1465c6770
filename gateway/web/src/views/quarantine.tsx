// Readings the gateway refused, newest first, with the reason: what a tech needs to fix a sensor's
// payload or a register map on the spot.
import { useState } from 'preact/hooks';
import { api, type QuarantineItem } from '../api';
import { clock, payload, source } from '../format';
import { usePolling } from '../poll';
import { Panel, Stale } from '../ui';

export function Quarantine() {
  const [limit, setLimit] = useState(50);
  const s = usePolling(() => api<{ items: QuarantineItem[] }>('GET', `/quarantine?limit=${limit}`), 5_000, [limit]);
  const items = s.data?.items ?? [];
  return (
    <div>
      <div class="title-row">
        <h1>Quarantine</h1>
        <Stale at={s.at} error={s.error} />
        <label class="inline">
          show the last
          <select value={String(limit)} onChange={(e) => setLimit(Number(e.currentTarget.value))}>
            {[50, 200, 1000].map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Panel title={`Recent quarantined readings: ${items.length}`}>
        {items.length === 0 ? (
          <p class="muted">Nothing quarantined. Readings with a bad shape, a value out of range or an unknown device show here.</p>
        ) : (
          <table class="table quarantine" data-testid="quarantine">
            <thead>
              <tr>
                <th>Time (UTC)</th>
                <th>Device</th>
                <th>Source</th>
                <th>Reason</th>
                <th>Topic</th>
                <th>Payload</th>
              </tr>
            </thead>
            <tbody>
              {items.map((q) => {
                const p = payload(q.raw);
                return (
                  <tr key={q.id}>
                    <td class="nowrap">{clock(q.tsMs)}</td>
                    <td>{q.deviceId}</td>
                    <td class="nowrap">{source(q.source)}</td>
                    <td>
                      <code>{q.reasonCode}</code>
                      <div class="wrap">{q.reason}</div>
                    </td>
                    <td class="wrap">{q.topic}</td>
                    <td>
                      <code class={`raw${p.binary ? ' hex' : ''}`} title={p.binary ? 'not text: shown as hex' : ''}>
                        {p.text.length > 160 ? `${p.text.slice(0, 160)}…` : p.text}
                      </code>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}
