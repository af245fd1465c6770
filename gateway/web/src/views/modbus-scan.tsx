// The bus scan: which unit ids answer on which port and baud rate. The gateway runs it as a job
// (POST /modbus/scans) and the page polls it, so the progress shows while a serial line is swept
// unit by unit at each baud rate, which can take minutes.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describe, type Line, type ModbusView, type Parity, type ScanJob } from '../api';
import { duration } from '../format';
import { usePolling } from '../poll';
import { Badge, ErrorLine, Field, Panel, StateBadge } from '../ui';
import { BAUD_RATES, describeLine, type Target } from './modbus-types';

type Kind = 'tcp' | 'rtu' | 'bus';

interface ScanForm {
  kind: Kind;
  host: string;
  port: string;
  path: string;
  baudRates: number[];
  parity: Parity;
  stopBits: 1 | 2;
  bus: string;
  units: string;
  timeoutMs: string;
}

const INITIAL: ScanForm = { kind: 'tcp', host: '', port: '502', path: '', baudRates: [9600, 19200], parity: 'even', stopBits: 1, bus: '', units: '1-247', timeoutMs: '200' };

/** The line of the scan request, without the per-scan fields. */
function lineOf(f: ScanForm): Record<string, unknown> {
  if (f.kind === 'bus') return { bus: f.bus };
  if (f.kind === 'tcp') return { tcp: { host: f.host.trim(), port: Number(f.port) } };
  return { rtu: { path: f.path.trim(), baudRates: f.baudRates, parity: f.parity, stopBits: f.stopBits } };
}

/** The line a found unit is on, as a test read or a new bus wants it. */
function hitLine(f: ScanForm, hit: ScanJob['found'][number]): Line {
  if (f.kind === 'bus') return { bus: f.bus };
  if (f.kind === 'tcp') return { tcp: { host: f.host.trim(), port: Number(f.port) } };
  return { rtu: { path: hit.port || f.path.trim(), baudRate: hit.baudRate ?? f.baudRates[0] ?? 19200, parity: f.parity, stopBits: f.stopBits } };
}

export function Scan({ onSelect, selected }: { onSelect: (t: Target) => void; selected: Target | null }) {
  const [form, setForm] = useState<ScanForm>(INITIAL);
  const [scanOf, setScanOf] = useState<ScanForm | null>(null);
  const [job, setJob] = useState<ScanJob | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  // Refreshed: a device saved below adds its bus to the "Configured bus" choices.
  const modbus = usePolling(() => api<ModbusView>('GET', '/modbus'), 5_000);
  const ports = usePolling(() => api<{ ports: { path: string; manufacturer: string | null; ownedBy: string | null }[] }>('GET', '/modbus/ports'), 0);

  useEffect(() => () => window.clearTimeout(timer.current), []);

  const follow = (id: string): void => {
    const tick = async (): Promise<void> => {
      try {
        const j = await api<ScanJob>('GET', `/modbus/scans/${encodeURIComponent(id)}`);
        setJob(j);
        if (j.state === 'running') timer.current = window.setTimeout(() => void tick(), 250);
      } catch (err) {
        setError(describe(err));
      }
    };
    void tick();
  };

  const start = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    setJob(null);
    try {
      const body = { ...lineOf(form), units: form.units.trim(), timeoutMs: Number(form.timeoutMs) };
      const { id } = await api<{ id: string }>('POST', '/modbus/scans', body);
      setScanOf(form);
      follow(id);
    } catch (err) {
      setError(describe(err));
    }
  };

  const cancel = async (): Promise<void> => {
    if (!job) return;
    try {
      await api('DELETE', `/modbus/scans/${encodeURIComponent(job.id)}`);
    } catch (err) {
      setError(describe(err));
    }
  };

  const set = <K extends keyof ScanForm>(k: K, v: ScanForm[K]): void => setForm({ ...form, [k]: v });
  const running = job?.state === 'running';
  const buses = modbus.data?.buses ?? [];
  const p = job?.progress;

  return (
    <Panel title="Scan a line">
      <form class="scan-form" onSubmit={(e) => void start(e)}>
        <div class="segmented" role="radiogroup" aria-label="Line">
          {(['tcp', 'rtu', 'bus'] as const).map((k) => (
            <label key={k} class={`seg${form.kind === k ? ' on' : ''}`}>
              <input type="radio" name="kind" value={k} checked={form.kind === k} onChange={() => set('kind', k)} />
              {k === 'tcp' ? 'Modbus/TCP' : k === 'rtu' ? 'Serial (RTU)' : 'Configured bus'}
            </label>
          ))}
        </div>
        <div class="form-row">
          {form.kind === 'tcp' && (
            <>
              <Field label="Host">
                <input name="host" value={form.host} placeholder="192.168.1.20" onInput={(e) => set('host', e.currentTarget.value)} required />
              </Field>
              <Field label="Port">
                <input name="port" class="short" inputMode="numeric" value={form.port} onInput={(e) => set('port', e.currentTarget.value)} />
              </Field>
            </>
          )}
          {form.kind === 'rtu' && (
            <>
              <Field label="Serial port">
                <input name="path" class="wide-input" list="serial-ports" value={form.path} placeholder="/dev/ttyUSB0" onInput={(e) => set('path', e.currentTarget.value)} required />
                <datalist id="serial-ports">
                  {(ports.data?.ports ?? []).map((sp) => (
                    <option key={sp.path} value={sp.path}>
                      {[sp.manufacturer, sp.ownedBy ? `bus ${sp.ownedBy}: scan it as a configured bus` : null].filter(Boolean).join(' · ')}
                    </option>
                  ))}
                </datalist>
              </Field>
              <fieldset class="bauds">
                <legend>Baud rates to try</legend>
                {BAUD_RATES.map((b) => (
                  <label key={b} class="check">
                    <input
                      type="checkbox"
                      name="baud"
                      value={String(b)}
                      checked={form.baudRates.includes(b)}
                      onChange={(e) => set('baudRates', e.currentTarget.checked ? [...form.baudRates, b].sort((x, y) => x - y) : form.baudRates.filter((x) => x !== b))}
                    />
                    {b}
                  </label>
                ))}
              </fieldset>
              <Field label="Parity">
                <select name="parity" value={form.parity} onChange={(e) => set('parity', e.currentTarget.value as Parity)}>
                  <option value="even">even</option>
                  <option value="none">none</option>
                  <option value="odd">odd</option>
                </select>
              </Field>
              <Field label="Stop bits">
                <select name="stopBits" value={String(form.stopBits)} onChange={(e) => set('stopBits', Number(e.currentTarget.value) === 2 ? 2 : 1)}>
                  <option value="1">1</option>
                  <option value="2">2</option>
                </select>
              </Field>
            </>
          )}
          {form.kind === 'bus' && (
            <Field label="Bus">
              <select name="bus" value={form.bus} onChange={(e) => set('bus', e.currentTarget.value)} required>
                <option value="">{buses.length ? 'choose…' : 'no bus configured'}</option>
                {buses.map((b) => (
                  <option key={b.name} value={b.name}>
                    {b.name} ({b.type})
                  </option>
                ))}
              </select>
            </Field>
          )}
          <Field label="Unit ids">
            <input name="units" class="mid" value={form.units} onInput={(e) => set('units', e.currentTarget.value)} />
          </Field>
          <Field label="Timeout per unit (ms)">
            <input name="timeoutMs" class="short" inputMode="numeric" value={form.timeoutMs} onInput={(e) => set('timeoutMs', e.currentTarget.value)} />
          </Field>
          <div class="actions inline-actions">
            <button type="submit" disabled={running}>
              Start scan
            </button>
            {running && (
              <button type="button" class="danger" onClick={() => void cancel()}>
                Stop
              </button>
            )}
          </div>
        </div>
      </form>
      <ErrorLine error={error} />
      {job && p && (
        <div class="scan-job">
          <div class="progress-row" data-testid="scan-progress" data-state={job.state} data-probed={p.probed} data-total={p.total}>
            <StateBadge state={job.state} />
            <progress max={p.total || 1} value={p.probed} aria-label="Scan progress" />
            <span class="progress-text">
              {p.probed} of {p.total} probed ({Math.round(p.percent)} %)
              {job.state === 'running' && p.current && (
                <>
                  {' '}
                  · now {p.current.baudRate ? `${p.current.baudRate} baud, ` : ''}unit {p.current.unitId}
                </>
              )}
              {job.state === 'running' && p.etaMs !== null && <> · about {duration(p.etaMs)} left</>}
              {' '}· {job.found.length} found
              {job.garbled.length > 0 && ` · ${job.garbled.length} garbled`}
            </span>
          </div>
          {job.error && (
            <p class="error">
              {job.error.message} ({job.error.code})
            </p>
          )}
          {job.garbled.length > 0 && (
            <p class="warn-text">
              <Badge tone="warn">{job.garbled.length} garbled answers</Badge> something answered with CRC errors or malformed frames (
              {[...new Set(job.garbled.map((g) => `${g.baudRate ? `${g.baudRate} baud ` : ''}unit ${g.unitId}`))].slice(0, 6).join(', ')}): another baud rate or parity, or two devices with one address.
            </p>
          )}
          {job.found.length > 0 && scanOf && (
            <table class="table compact" data-testid="scan-found">
              <thead>
                <tr>
                  <th>Port</th>
                  <th class="num">Baud</th>
                  <th class="num">Unit</th>
                  <th>Answer</th>
                  <th class="num">Time</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {job.found.map((h) => {
                  const line = hitLine(scanOf, h);
                  const label = `${describeLine(line)} unit ${h.unitId}`;
                  const isSel = selected?.label === label;
                  return (
                    <tr key={`${h.port}-${h.baudRate ?? ''}-${h.unitId}`} class={isSel ? 'selected' : ''}>
                      <td>{h.port}</td>
                      <td class="num">{h.baudRate ?? '—'}</td>
                      <td class="num">{h.unitId}</td>
                      <td>{h.answer === 'data' ? <Badge tone="ok">data</Badge> : <Badge tone="warn">exception {h.exceptionCode ?? ''} {h.exception ?? ''}</Badge>}</td>
                      <td class="num">{h.ms} ms</td>
                      <td>
                        <button type="button" class={isSel ? 'small' : 'secondary small'} onClick={() => onSelect({ line, unit: h.unitId, label })}>
                          {isSel ? 'Selected' : 'Select'}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
      )}
    </Panel>
  );
}
