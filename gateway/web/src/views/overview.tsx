// What a tech checks first and last: is the cloud link up, does anything wait in the outbox and for
// how long, has anything been lost, is every adapter up.
import { api, type Status } from '../api';
import { bytes, count, duration } from '../format';
import { usePolling } from '../poll';
import { Badge, ErrorLine, Panel, Stale, StateBadge } from '../ui';

export function Overview() {
  const s = usePolling(() => api<Status>('GET', '/status'), 3_000);
  const d = s.data;
  if (!d) return <ErrorLine error={s.error ?? null} />;
  const lost = d.loss.rateLimited + d.loss.quarantined + d.loss.evicted;
  return (
    <div class="overview">
      <div class="title-row">
        <h1>Overview</h1>
        <Stale at={s.at} error={s.error} />
      </div>
      <div class="cards">
        <Panel title="Gateway">
          <dl class="facts">
            <dt>Gateway id</dt>
            <dd data-testid="gateway-id">{d.gatewayId}</dd>
            <dt>Version</dt>
            <dd>{d.version}</dd>
            <dt>Uptime</dt>
            <dd data-testid="uptime">{duration(d.uptimeS * 1000)}</dd>
            {d.host && (
              <>
                <dt>Host</dt>
                <dd>
                  CPU {d.host.cpuPercent.toFixed(0)} % · memory {bytes(d.host.memoryUsedBytes)} / {bytes(d.host.memoryTotalBytes)} · disk free {bytes(d.host.diskFreeBytes)}
                  {d.host.temperatureC !== null && ` · ${d.host.temperatureC.toFixed(0)} °C`}
                </dd>
              </>
            )}
          </dl>
        </Panel>
        <Panel title="Cloud link">
          <dl class="facts">
            <dt>State</dt>
            <dd data-testid="cloud-link">
              <StateBadge state={d.cloud.link} />
            </dd>
            {d.cloud.lastError && (
              <>
                <dt>Last error</dt>
                <dd class="wrap">{d.cloud.lastError}</dd>
              </>
            )}
            <dt>Delivered</dt>
            <dd>
              {count(d.cloud.deliveredReadings)} readings in {count(d.cloud.deliveredBatches)} batches
            </dd>
            <dt>Drain</dt>
            <dd>
              out {d.cloud.drain.sentPerSecond.toFixed(0)}/s · in {d.cloud.drain.inPerSecond.toFixed(0)}/s ·{' '}
              {d.outbox.depthValues === 0 ? 'outbox empty' : d.cloud.drain.etaS === null ? 'backlog not shrinking' : `empty in ${duration(d.cloud.drain.etaS * 1000)}`}
            </dd>
            {d.cloudConfig && (
              <>
                <dt>Config</dt>
                <dd class="wrap" data-testid="cloud-config">
                  {d.cloudConfig.source === 'cloud'
                    ? `cloud version ${d.cloudConfig.version}`
                    : d.cloudConfig.source === 'local'
                      ? `changed on site${d.cloudConfig.version ? ` after cloud version ${d.cloudConfig.version}` : ''}`
                      : 'from the file'}
                  {d.cloudConfig.conflict && <div class="warn-text">Conflict: {d.cloudConfig.conflict}</div>}
                  {d.cloudConfig.error && <div class="warn-text">Refused: {d.cloudConfig.error}</div>}
                </dd>
              </>
            )}
          </dl>
        </Panel>
        <Panel title="Outbox">
          <dl class="facts">
            <dt>Waiting</dt>
            <dd data-testid="outbox-depth">
              <strong>{count(d.outbox.depthValues)}</strong> readings ({count(d.outbox.depthMessages)} messages, {bytes(d.outbox.depthBytes)})
            </dd>
            <dt>Oldest</dt>
            <dd>{d.outbox.depthMessages === 0 ? 'nothing waits' : duration(d.outbox.oldestAgeMs)}</dd>
            <dt>State</dt>
            <dd>{d.outbox.full ? <Badge tone="bad" title={d.outbox.full.code}>full: {d.outbox.full.reason}</Badge> : <Badge tone="ok">accepting</Badge>}</dd>
            {d.outbox.recovery && (
              <>
                <dt>Recovered</dt>
                <dd class="wrap">
                  <Badge tone="warn">damaged file moved aside</Badge> {d.outbox.recovery.reason} → {d.outbox.recovery.movedTo}
                </dd>
              </>
            )}
          </dl>
        </Panel>
        <Panel title="Loss since start">
          <dl class="facts" data-testid="loss">
            <dt>Total</dt>
            <dd>{lost === 0 ? <Badge tone="ok">none</Badge> : <Badge tone="warn">{count(lost)} readings</Badge>}</dd>
            <dt>Rate-limited</dt>
            <dd>{count(d.loss.rateLimited)}</dd>
            <dt>Quarantined</dt>
            <dd>
              {count(d.loss.quarantined)} {d.loss.quarantined > 0 && <a href="#/quarantine">see why</a>}
            </dd>
            <dt>Evicted</dt>
            <dd>{count(d.loss.evicted)}</dd>
          </dl>
        </Panel>
      </div>
      <Panel title="Adapters">
        <table class="table" data-testid="adapters">
          <thead>
            <tr>
              <th>Adapter</th>
              <th>State</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {d.adapters.map((a) => (
              <tr key={a.name}>
                <td>{a.name}</td>
                <td>
                  <StateBadge state={a.state} />
                </td>
                <td class="wrap">{a.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
    </div>
  );
}
