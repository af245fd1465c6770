// The test read: registers read once and decoded as every type in every byte order side by side.
// Manuals disagree about word order more often than about anything else; the tech knows roughly
// what the value should be (230 V, 21 °C) and picks the cell that shows it.
import { useEffect, useState } from 'preact/hooks';
import { api, describe, type Decoding, type ReadResult } from '../api';
import { value } from '../format';
import { ErrorLine, Field, Panel } from '../ui';
import { BYTE_ORDERS, REGISTER_TYPES, type Target } from './modbus-types';

export interface Choice {
  fn: 3 | 4;
  address: number;
  type: string;
  byteOrder: string;
  value: number;
}

export function TestRead({ target, onChoose, pickingFor }: { target: Target | null; onChoose: (c: Choice) => void; pickingFor: string | null }) {
  const [unit, setUnit] = useState('1');
  const [fn, setFn] = useState<3 | 4>(3);
  const [address, setAddress] = useState('0');
  const [count, setCount] = useState('4');
  const [result, setResult] = useState<ReadResult | null>(null);
  const [chosen, setChosen] = useState<Choice | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (target) setUnit(String(target.unit));
    setResult(null);
    setChosen(null);
  }, [target?.label]);

  const read = async (e?: Event): Promise<void> => {
    e?.preventDefault();
    if (!target) return;
    setBusy(true);
    setError(null);
    setChosen(null);
    try {
      const r = await api<ReadResult>('POST', '/modbus/read', { ...target.line, unit: Number(unit), fn, address: Number(address), count: Number(count), decode: 'all' });
      setResult(r);
    } catch (err) {
      setResult(null);
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const cell = (d: Decoding | undefined) => {
    if (!d || !result) return <td class="num muted">—</td>;
    const isChosen = chosen?.type === d.type && chosen.byteOrder === d.byteOrder;
    const choose = (): void => {
      const c = { fn, address: result.address, type: d.type, byteOrder: d.byteOrder, value: d.value };
      setChosen(c);
      onChoose(c);
    };
    return (
      <td class={`num decoding${isChosen ? ' chosen' : ''}`}>
        <button type="button" class="cell" data-type={d.type} data-order={d.byteOrder} aria-pressed={isChosen} title={d.values.length > 1 ? `following values: ${d.values.slice(1, 6).map(value).join(', ')}` : undefined} onClick={choose}>
          {isChosen && <span aria-hidden="true">✔ </span>}
          {value(d.value)}
        </button>
      </td>
    );
  };

  const decodings = result?.decodings ?? [];
  const types = REGISTER_TYPES.filter((t) => decodings.some((d) => d.type === t));
  return (
    <Panel title="Test read">
      {!target ? (
        <p class="muted">Select a found unit in the scan or a configured device above to read its registers.</p>
      ) : (
        <>
          <p class="target">
            Reading <strong>{target.label}</strong>
          </p>
          <form class="form-row" onSubmit={(e) => void read(e)}>
            <Field label="Unit">
              <input name="unit" class="short" inputMode="numeric" value={unit} onInput={(e) => setUnit(e.currentTarget.value)} />
            </Field>
            <Field label="Function">
              <select name="fn" value={String(fn)} onChange={(e) => setFn(e.currentTarget.value === '4' ? 4 : 3)}>
                <option value="3">3 holding registers</option>
                <option value="4">4 input registers</option>
              </select>
            </Field>
            <Field label="Address (0-based)">
              <input name="address" class="short" inputMode="numeric" value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
            </Field>
            <Field label="Registers">
              <input name="count" class="short" inputMode="numeric" value={count} onInput={(e) => setCount(e.currentTarget.value)} />
            </Field>
            <div class="actions inline-actions">
              <button type="submit" disabled={busy}>
                {busy ? 'Reading…' : 'Read'}
              </button>
            </div>
          </form>
        </>
      )}
      <ErrorLine error={error} />
      {result && (
        <div class="read-result">
          <p class="registers">
            {result.registers ? (
              <>
                Registers {result.address}–{result.address + result.count - 1}: <code>{result.registers.join(' ')}</code> · hex <code>{result.hex}</code>
              </>
            ) : (
              <>
                Bits: <code>{(result.bits ?? []).map((b) => (b ? 1 : 0)).join('')}</code>
              </>
            )}{' '}
            <span class="muted">({result.elapsedMs} ms)</span>
          </p>
          {types.length > 0 && (
            <>
              <p class="hint">
                Click the value that looks right{pickingFor ? <> — it goes into tag <strong>{pickingFor}</strong></> : ''}. The value at address {result.address} in each type and byte order:
              </p>
              <table class="table compact decodings" data-testid="decodings">
                <thead>
                  <tr>
                    <th>Type</th>
                    {BYTE_ORDERS.map((o) => (
                      <th key={o} class="num">
                        {o}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {types.map((t) => (
                    <tr key={t}>
                      <th>{t}</th>
                      {BYTE_ORDERS.map((o) => cell(decodings.find((d) => d.type === t && d.byteOrder === o)))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          {chosen && (
            <p class="notice" data-testid="chosen">
              Chosen: {chosen.type} {chosen.byteOrder} at address {chosen.address} = <strong>{value(chosen.value)}</strong>
            </p>
          )}
        </div>
      )}
    </Panel>
  );
}
