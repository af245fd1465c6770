// The configured buses and their devices' counters: is each device answering, and if not, why
// (timeouts: wiring or address; CRC errors: baud rate, parity or noise; exceptions: wrong register).
import { api, type BusStats, type ModbusView } from '../api';
import { ago, count } from '../format';
import { usePolling } from '../poll';
import { Badge, Panel, Stale, StateBadge } from '../ui';
import type { Target } from './modbus-types';

export function Buses({ onSelect }: { onSelect: (t: Target) => void }) {
  const s = usePolling(() => api<ModbusView>('GET', '/modbus'), 3_000);
  const disabled = s.error?.includes('FL_ERR_MODBUS_DISABLED');
  const buses = s.data?.stats.buses ?? [];
  return (
    <Panel title="Buses and devices" aside={<Stale at={s.at} error={disabled ? null : s.error} />}>
      {disabled && <p class="notice">Modbus is off on this gateway (modbus.enabled: false). Saving a device below turns it on.</p>}
      {!disabled && buses.length === 0 && <p class="muted">No bus is configured yet. Scan a line below, then add the devices it finds.</p>}
      {buses.map((b) => (
        <Bus key={b.name} bus={b} onSelect={onSelect} />
      ))}
    </Panel>
  );
}

function Bus({ bus, onSelect }: { bus: BusStats; onSelect: (t: Target) => void }) {
  return (
    <div class="bus" data-testid={`bus-${bus.name}`}>
      <div class="bus-head">
        <strong>{bus.name}</strong> <span class="muted">{bus.type.toUpperCase()}</span>
        <StateBadge state={bus.connected ? 'connected' : 'disconnected'} />
        <span class="muted">
          {count(bus.requests)} requests ({count(bus.manualRequests)} manual) · {count(bus.connects)} opens · {count(bus.connectErrors)} open errors
        </span>
        {bus.lastError && <span class="error-text">last error: {bus.lastError.message}</span>}
      </div>
      <table class="table compact">
        <thead>
          <tr>
            <th>Device</th>
            <th class="num">Unit</th>
            <th>State</th>
            <th class="num">OK</th>
            <th class="num">Timeouts</th>
            <th class="num">CRC</th>
            <th class="num">Exceptions</th>
            <th class="num">Malformed</th>
            <th class="num">Retries</th>
            <th class="num">Polls ok / partial / failed</th>
            <th class="num">Readings</th>
            <th>Last answer</th>
            <th>Last error</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {bus.devices.map((d) => {
            const exceptions = Object.entries(d.exception);
            return (
              <tr key={d.deviceId}>
                <td>{d.deviceId}</td>
                <td class="num">{d.unitId}</td>
                <td>
                  <StateBadge state={d.state} />
                </td>
                <td class="num">{count(d.ok)}</td>
                <td class="num">{count(d.timeout)}</td>
                <td class="num">{count(d.crcError)}</td>
                <td class="num" title={exceptions.map(([c, n]) => `exception ${c}: ${n}`).join(', ')}>
                  {count(exceptions.reduce((n, [, v]) => n + v, 0))}
                </td>
                <td class="num">{count(d.protocolError)}</td>
                <td class="num">{count(d.retries)}</td>
                <td class="num">
                  {count(d.polls.complete)} / {count(d.polls.partial)} / {count(d.polls.failed)}
                </td>
                <td class="num">
                  {count(d.readings.accepted)}
                  {d.readings.refused > 0 && <Badge tone="warn">{count(d.readings.refused)} refused</Badge>}
                </td>
                <td>{ago(d.lastOkMs)}</td>
                <td class="wrap">{d.lastError ? d.lastError.message : '—'}</td>
                <td>
                  <button type="button" class="secondary small" onClick={() => onSelect({ line: { bus: bus.name }, unit: d.unitId, label: `bus ${bus.name} unit ${d.unitId}` })}>
                    Test read
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
