// A device for the selected unit, from a register-map template (or blank), edited before it is
// saved: the page adds it to the bus of its line in the config's modbus section (a new bus when the
// line is not configured yet) and sends the whole section with PATCH /config. The gateway checks it
// with the same schema as the YAML file and starts polling without a restart.
import { useState } from 'preact/hooks';
import { ApiError, api, describe, withoutKey, type ConfigView, type Json, type JsonObject, type Line, type PatchResult, type Tag, type TagGroup, type Template, type TemplateSummary } from '../api';
import { usePolling } from '../poll';
import { ErrorLine, Field, Panel } from '../ui';
import { PatchOutcome } from './cloud';
import { BYTE_ORDERS, REGISTER_TYPES, describeLine, type Draft, type Target } from './modbus-types';

const DEFAULT_TCP_PORT = 502;

function suggestId(base: string, unit: number): string {
  const clean = base.toLowerCase().replace(/[^a-z0-9_.:-]+/g, '-').replace(/^-+|-+$/g, '');
  return `${clean || 'device'}-${unit}`;
}

export function newDraft(target: Target, template: Template | null): Draft {
  return {
    line: target.line,
    templateName: template?.name ?? null,
    deviceId: suggestId(template?.id ?? 'device', target.unit),
    unitId: target.unit,
    tagGroups: template
      ? structuredClone(template.tagGroups).map((g) => ({ ...g, pollIntervalMs: g.pollIntervalMs ?? template.defaults.pollIntervalMs ?? 1000 }))
      : [{ name: 'main', pollIntervalMs: 1000, tags: [{ metric: 'value', function: 3, address: 0, type: 'uint16' }] }],
  };
}

function isObj(v: Json | undefined): v is JsonObject {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}

/** Whether a bus of the file is the one on this line. */
function sameLine(bus: JsonObject, line: Line): boolean {
  if ('bus' in line) {
    const name = bus.name ?? (bus.type === 'tcp' ? `tcp:${String(bus.host)}:${String(bus.port ?? DEFAULT_TCP_PORT)}` : `rtu:${String(bus.path)}`);
    return name === line.bus;
  }
  if ('tcp' in line) return bus.type === 'tcp' && bus.host === line.tcp.host && (bus.port ?? DEFAULT_TCP_PORT) === line.tcp.port;
  return bus.type === 'rtu' && bus.path === line.rtu.path;
}

function cleanTag(t: Tag): JsonObject {
  const out: JsonObject = { metric: t.metric.trim(), function: t.function, address: t.address };
  if (t.type) out.type = t.type;
  if (t.byteOrder && t.type && !['int16', 'uint16', 'bool'].includes(t.type)) out.byteOrder = t.byteOrder;
  if (t.scale !== undefined && t.scale !== 1) out.scale = t.scale;
  if (t.offset !== undefined && t.offset !== 0) out.offset = t.offset;
  if (t.unit) out.unit = t.unit;
  return out;
}

/** The modbus section with the draft added, and where in it the device landed (for the check's issues). */
export function withDevice(modbus: JsonObject, draft: Draft): { section: JsonObject; prefix: string } {
  const buses = Array.isArray(modbus.buses) ? [...(modbus.buses as Json[])] : [];
  const device: JsonObject = {
    deviceId: draft.deviceId.trim(),
    unitId: draft.unitId,
    tagGroups: draft.tagGroups.map((g) => ({ ...(g.name ? { name: g.name } : {}), ...(g.pollIntervalMs ? { pollIntervalMs: g.pollIntervalMs } : {}), tags: g.tags.map(cleanTag) })),
  };
  let b = buses.findIndex((bus) => isObj(bus) && sameLine(bus, draft.line));
  let d: number;
  if (b >= 0) {
    const bus = buses[b] as JsonObject;
    const devices = Array.isArray(bus.devices) ? [...(bus.devices as Json[])] : [];
    d = devices.length;
    buses[b] = { ...bus, devices: [...devices, device] };
  } else {
    const line = draft.line;
    if ('bus' in line) throw new Error(`bus ${line.bus} is not in the config file (it may come from an environment variable)`);
    const bus: JsonObject = 'tcp' in line ? { type: 'tcp', host: line.tcp.host, port: line.tcp.port } : { type: 'rtu', path: line.rtu.path, baudRate: line.rtu.baudRate, parity: line.rtu.parity, stopBits: line.rtu.stopBits };
    b = buses.length;
    d = 0;
    buses.push({ ...bus, devices: [device] });
  }
  return { section: { ...modbus, enabled: true, buses }, prefix: `modbus.buses.${b}.devices.${d}.` };
}

export function DeviceEditor({
  target,
  draft,
  setDraft,
  picking,
  setPicking,
}: {
  target: Target | null;
  draft: Draft | null;
  setDraft: (d: Draft | null) => void;
  picking: { g: number; t: number } | null;
  setPicking: (p: { g: number; t: number } | null) => void;
}) {
  const templates = usePolling(() => api<{ templates: TemplateSummary[] }>('GET', '/modbus/templates'), 0);
  const [templateId, setTemplateId] = useState('');
  const [issues, setIssues] = useState<Record<string, string>>({});
  const [other, setOther] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<PatchResult | null>(null);
  const [busy, setBusy] = useState(false);

  const start = async (): Promise<void> => {
    if (!target) return;
    setError(null);
    setResult(null);
    setIssues({});
    setOther([]);
    try {
      const template = templateId ? await api<Template>('GET', `/modbus/templates/${encodeURIComponent(templateId)}`) : null;
      setDraft(newDraft(target, template));
    } catch (err) {
      setError(describe(err));
    }
  };

  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!draft) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const view = await api<ConfigView>('GET', '/config');
      if (!view.file || !view.config) throw new Error('the gateway has no readable config file to save the device in (started without --config, or the file is broken: see Cloud & identity)');
      const { section, prefix } = withDevice(isObj(view.config.modbus) ? view.config.modbus : {}, draft);
      try {
        const r = await api<PatchResult>('PATCH', '/config', { modbus: section });
        setResult(r);
        setIssues({});
        setOther([]);
      } catch (err) {
        if (!(err instanceof ApiError) || err.issues.length === 0) throw err;
        const mine: Record<string, string> = {};
        const rest: string[] = [];
        for (const i of err.issues) {
          if (i.path.startsWith(prefix)) {
            const key = i.path.slice(prefix.length);
            mine[key] = mine[key] ? `${mine[key]}; ${withoutKey(i)}` : withoutKey(i);
          } else rest.push(i.message);
        }
        setIssues(mine);
        setOther(rest);
        setError('The gateway refused the device; the marked fields say why. Nothing was saved.');
      }
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const list = templates.data?.templates ?? [];
  if (!draft) {
    return (
      <Panel title="Add a device">
        {!target ? (
          <p class="muted">Select a found unit in the scan to add it as a device.</p>
        ) : (
          <div class="form-row">
            <p class="target">
              For <strong>{target.label}</strong>
            </p>
            <Field label="Register map">
              <select name="template" value={templateId} onChange={(e) => setTemplateId(e.currentTarget.value)}>
                <option value="">blank (one register)</option>
                {list.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name}
                    {t.manufacturer || t.model ? ` — ${[t.manufacturer, t.model].filter(Boolean).join(' ')}` : ''} ({t.tagCount} tags)
                  </option>
                ))}
              </select>
            </Field>
            <div class="actions inline-actions">
              <button type="button" onClick={() => void start()}>
                Edit device
              </button>
            </div>
          </div>
        )}
        {templateId && <p class="hint">{list.find((t) => t.id === templateId)?.description}</p>}
        {templates.error && !templates.error.includes('NOT_FOUND') && <ErrorLine error={`templates: ${templates.error}`} />}
        <ErrorLine error={error} />
        {result && <PatchOutcome result={result} />}
      </Panel>
    );
  }

  const setGroup = (g: number, patch: Partial<TagGroup>): void => setDraft({ ...draft, tagGroups: draft.tagGroups.map((x, i) => (i === g ? { ...x, ...patch } : x)) });
  const setTag = (g: number, t: number, patch: Partial<Tag>): void =>
    setGroup(g, { tags: (draft.tagGroups[g]?.tags ?? []).map((x, i) => (i === t ? { ...x, ...patch } : x)) });
  const removeTag = (g: number, t: number): void => setGroup(g, { tags: (draft.tagGroups[g]?.tags ?? []).filter((_, i) => i !== t) });
  const num = (s: string): number => (s.trim() === '' ? Number.NaN : Number(s));
  const optNum = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s));
  const issue = (k: string): string | undefined => issues[k];

  return (
    <Panel title={`New device on ${describeLine(draft.line)}`}>
      <form onSubmit={(e) => void save(e)} data-testid="device-editor">
        <div class="form-row">
          <Field label="Device id" issue={issue('deviceId')}>
            <input name="deviceId" value={draft.deviceId} onInput={(e) => setDraft({ ...draft, deviceId: e.currentTarget.value })} />
          </Field>
          <Field label="Unit id" issue={issue('unitId')}>
            <input name="unitId" class="short" inputMode="numeric" value={String(draft.unitId)} onInput={(e) => setDraft({ ...draft, unitId: num(e.currentTarget.value) })} />
          </Field>
          {draft.templateName && <span class="muted">from template {draft.templateName}</span>}
        </div>
        {draft.tagGroups.map((group, g) => (
          <div class="group" key={g}>
            <div class="form-row">
              <Field label="Group" issue={issue(`tagGroups.${g}.name`)}>
                <input value={group.name ?? ''} onInput={(e) => setGroup(g, { name: e.currentTarget.value || undefined })} />
              </Field>
              <Field label="Poll every (ms)" issue={issue(`tagGroups.${g}.pollIntervalMs`)}>
                <input class="short" inputMode="numeric" value={String(group.pollIntervalMs ?? '')} onInput={(e) => setGroup(g, { pollIntervalMs: optNum(e.currentTarget.value) })} />
              </Field>
            </div>
            <table class="table compact tags">
              <thead>
                <tr>
                  <th>Metric</th>
                  <th>Fn</th>
                  <th>Address</th>
                  <th>Type</th>
                  <th>Order</th>
                  <th>Scale</th>
                  <th>Offset</th>
                  <th>Unit</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {group.tags.map((tag, t) => {
                  const k = `tagGroups.${g}.tags.${t}.`;
                  const rowIssues = Object.entries(issues).filter(([p]) => p.startsWith(k));
                  const isPicking = picking?.g === g && picking.t === t;
                  return (
                    <>
                      <tr key={`${g}-${t}`} class={`${rowIssues.length ? 'invalid' : ''}${isPicking ? ' selected' : ''}`} data-metric={tag.metric}>
                        <td>
                          <input aria-label="metric" value={tag.metric} onInput={(e) => setTag(g, t, { metric: e.currentTarget.value })} />
                        </td>
                        <td>
                          <select aria-label="function" value={String(tag.function)} onChange={(e) => setTag(g, t, { function: Number(e.currentTarget.value) as Tag['function'] })}>
                            {[1, 2, 3, 4].map((f) => (
                              <option key={f} value={String(f)}>
                                {f}
                              </option>
                            ))}
                          </select>
                        </td>
                        <td>
                          <input aria-label="address" class="short" inputMode="numeric" value={String(tag.address)} onInput={(e) => setTag(g, t, { address: num(e.currentTarget.value) })} />
                        </td>
                        <td>
                          <select aria-label="type" value={tag.type ?? ''} onChange={(e) => setTag(g, t, { type: e.currentTarget.value || undefined })}>
                            <option value="">default</option>
                            {[...REGISTER_TYPES, 'bool'].map((x) => (
                              <option key={x} value={x}>
                                {x}
                              </option>
                            ))}
                          </select>
                        </td>
                        <td>
                          <select aria-label="byte order" value={tag.byteOrder ?? ''} onChange={(e) => setTag(g, t, { byteOrder: e.currentTarget.value || undefined })}>
                            <option value="">ABCD</option>
                            {BYTE_ORDERS.filter((o) => o !== 'ABCD').map((o) => (
                              <option key={o} value={o}>
                                {o}
                              </option>
                            ))}
                          </select>
                        </td>
                        <td>
                          <input aria-label="scale" class="short" value={tag.scale === undefined ? '' : String(tag.scale)} placeholder="1" onInput={(e) => setTag(g, t, { scale: optNum(e.currentTarget.value) })} />
                        </td>
                        <td>
                          <input aria-label="offset" class="short" value={tag.offset === undefined ? '' : String(tag.offset)} placeholder="0" onInput={(e) => setTag(g, t, { offset: optNum(e.currentTarget.value) })} />
                        </td>
                        <td>
                          <input aria-label="unit" class="short" value={tag.unit ?? ''} onInput={(e) => setTag(g, t, { unit: e.currentTarget.value || undefined })} />
                        </td>
                        <td class="row-actions">
                          <button
                            type="button"
                            class={isPicking ? 'small' : 'secondary small'}
                            title="Click a value in the test read to set this tag's address, type and order"
                            onClick={() => setPicking(isPicking ? null : { g, t })}
                          >
                            {isPicking ? 'Picking…' : 'Pick from read'}
                          </button>
                          <button type="button" class="danger small" aria-label={`remove ${tag.metric}`} onClick={() => removeTag(g, t)}>
                            ×
                          </button>
                        </td>
                      </tr>
                      {rowIssues.length > 0 && (
                        <tr class="issue-row" key={`${g}-${t}-issues`}>
                          <td colSpan={9} role="alert">
                            {rowIssues.map(([p, m]) => (
                              <div key={p}>
                                {p.slice(k.length)}: {m}
                              </div>
                            ))}
                          </td>
                        </tr>
                      )}
                    </>
                  );
                })}
              </tbody>
            </table>
            <button type="button" class="secondary small" onClick={() => setGroup(g, { tags: [...group.tags, { metric: `value_${group.tags.length + 1}`, function: 3, address: 0, type: 'uint16' }] })}>
              Add tag
            </button>
          </div>
        ))}
        {other.length > 0 && (
          <ul class="error">
            {other.map((o) => (
              <li key={o}>{o}</li>
            ))}
          </ul>
        )}
        <ErrorLine error={error} />
        {result && <PatchOutcome result={result} />}
        <div class="actions">
          <button type="submit" disabled={busy}>
            Save to gateway
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setDraft(null);
              setPicking(null);
              setResult(null);
            }}
          >
            {result ? 'Done' : 'Discard'}
          </button>
        </div>
      </form>
    </Panel>
  );
}
