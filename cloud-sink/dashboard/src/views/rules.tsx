// Alert rules: list for everyone who may read the fleet; create, edit, enable/disable and delete for
// operators (write:rules). The API checks every rule; its 400 message is shown beside the form.
import { useState } from 'preact/hooks';
import { api, ApiError, enc, type Rule, type RuleKind } from '../api';
import { can, type Claims } from '../session';
import { usePolling } from './polling';

const KINDS: RuleKind[] = ['threshold', 'rate', 'absence', 'gateway_offline', 'gateway_degraded', 'quality', 'anomaly'];

/** A starting point for each kind's params (the field names of cloud-sink/src/alerts/rule.ts). */
const PARAM_TEMPLATES: Record<RuleKind, Record<string, unknown>> = {
  threshold: { op: 'above', value: 30, clear: 28, for_s: 0 },
  rate: { op: 'above', value: 1, window_s: 60 },
  absence: { for_s: 300 },
  gateway_offline: { intervals: 3 },
  gateway_degraded: { max_backlog_age_s: 600 },
  quality: { max_quarantined_pct: 10 },
  anomaly: { z: 4 },
};

interface Form {
  id: string | null;
  version: number | undefined;
  name: string;
  kind: RuleKind;
  device: string;
  device_pattern: string;
  metric: string;
  gateway: string;
  params: string;
  severity: Rule['severity'];
  enabled: boolean;
  webhook: string;
  secret: string;
  hasSecret: boolean;
}

const EMPTY: Form = {
  id: null, version: undefined, name: '', kind: 'threshold', device: '', device_pattern: '', metric: '', gateway: '',
  params: JSON.stringify(PARAM_TEMPLATES.threshold, null, 2), severity: 'warning', enabled: true, webhook: '', secret: '', hasSecret: false,
};

function fromRule(r: Rule): Form {
  return {
    id: r.id, version: r.version, name: r.name, kind: r.kind, device: r.target.device ?? '', device_pattern: r.target.device_pattern ?? '',
    metric: r.target.metric ?? '', gateway: r.target.gateway ?? '', params: JSON.stringify(r.params, null, 2), severity: r.severity,
    enabled: r.enabled, webhook: r.webhook?.url ?? '', secret: '', hasSecret: r.webhook?.has_secret ?? false,
  };
}

function body(f: Form): Record<string, unknown> | string {
  let params: unknown;
  try {
    params = JSON.parse(f.params || '{}');
  } catch (err) {
    return `params: not JSON (${(err as Error).message})`;
  }
  const target: Record<string, string> = {};
  for (const k of ['device', 'device_pattern', 'metric', 'gateway'] as const) if (f[k].trim()) target[k] = f[k].trim();
  const out: Record<string, unknown> = { name: f.name.trim(), kind: f.kind, target, params, severity: f.severity, enabled: f.enabled };
  if (f.webhook.trim()) out.webhook = { url: f.webhook.trim(), ...(f.secret ? { secret: f.secret } : f.hasSecret ? { has_secret: true } : {}) };
  if (f.version !== undefined) out.version = f.version;
  return out;
}

function ruleBody(r: Rule): Record<string, unknown> {
  const { id: _id, webhook, ...rest } = r;
  return { ...rest, ...(webhook ? { webhook: { url: webhook.url, has_secret: webhook.has_secret ?? false } } : {}) };
}

function errorText(err: unknown): string {
  return err instanceof ApiError ? `${err.message} (${err.code})` : (err as Error).message;
}

function targetText(t: Rule['target']): string {
  return Object.entries(t)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || 'everything';
}

export function Rules(props: { claims: Claims }) {
  const { data, error, refresh } = usePolling(() => api<{ rules: Rule[] }>('GET', '/v1/rules'), 15_000, []);
  const [form, setForm] = useState<Form | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const mayWrite = can(props.claims, 'write:rules');

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!form) return;
    const b = body(form);
    if (typeof b === 'string') {
      setFormError(b);
      return;
    }
    try {
      const saved = form.id ? await api<Rule>('PUT', `/v1/rules/${enc(form.id)}`, b) : await api<Rule>('POST', '/v1/rules', b);
      setNotice(`${form.id ? 'Saved' : 'Created'} rule "${saved.name}" (${saved.id}).`);
      setForm(null);
      setFormError(null);
      await refresh();
    } catch (err) {
      setFormError(errorText(err));
    }
  };

  const toggle = async (r: Rule): Promise<void> => {
    try {
      await api('PUT', `/v1/rules/${enc(r.id)}`, { ...ruleBody(r), enabled: !r.enabled });
      setListError(null);
      await refresh();
    } catch (err) {
      setListError(errorText(err));
    }
  };

  const remove = async (r: Rule): Promise<void> => {
    if (!window.confirm(`Delete rule "${r.name}"? Its firing alerts resolve.`)) return;
    try {
      await api('DELETE', `/v1/rules/${enc(r.id)}`);
      setListError(null);
      setNotice(`Deleted rule "${r.name}".`);
      await refresh();
    } catch (err) {
      setListError(errorText(err));
    }
  };

  const set = <K extends keyof Form>(k: K, v: Form[K]): void => setForm((f) => (f ? { ...f, [k]: v } : f));

  return (
    <section aria-labelledby="rules-title">
      <div class="title-row">
        <h1 id="rules-title">Alert rules</h1>
        {mayWrite && !form && (
          <button type="button" onClick={() => { setForm({ ...EMPTY }); setFormError(null); setNotice(null); }}>
            New rule
          </button>
        )}
      </div>
      {notice && <p class="notice" role="status">{notice}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {listError && <p class="error" role="alert">{listError}</p>}
      {form && (
        <form class="panel rule-form" onSubmit={(e) => void submit(e)} aria-label={form.id ? 'Edit rule' : 'New rule'}>
          <h2>{form.id ? `Edit ${form.name}` : 'New rule'}</h2>
          <div class="form-grid">
            <label>
              Name
              <input name="name" required value={form.name} onInput={(e) => set('name', e.currentTarget.value)} />
            </label>
            <label>
              Kind
              <select
                name="kind"
                value={form.kind}
                onChange={(e) => {
                  const kind = e.currentTarget.value as RuleKind;
                  setForm((f) => (f ? { ...f, kind, params: JSON.stringify(PARAM_TEMPLATES[kind], null, 2) } : f));
                }}
              >
                {KINDS.map((k) => (
                  <option key={k} value={k}>{k}</option>
                ))}
              </select>
            </label>
            <label>
              Severity
              <select name="severity" value={form.severity} onChange={(e) => set('severity', e.currentTarget.value as Rule['severity'])}>
                <option value="info">info</option>
                <option value="warning">warning</option>
                <option value="critical">critical</option>
              </select>
            </label>
            <label>
              Device
              <input name="device" value={form.device} onInput={(e) => set('device', e.currentTarget.value)} />
            </label>
            <label>
              Device pattern
              <input name="device_pattern" placeholder="boiler-*" value={form.device_pattern} onInput={(e) => set('device_pattern', e.currentTarget.value)} />
            </label>
            <label>
              Metric
              <input name="metric" value={form.metric} onInput={(e) => set('metric', e.currentTarget.value)} />
            </label>
            <label>
              Gateway
              <input name="gateway" value={form.gateway} onInput={(e) => set('gateway', e.currentTarget.value)} />
            </label>
            <label>
              Webhook URL
              <input name="webhook" type="url" value={form.webhook} onInput={(e) => set('webhook', e.currentTarget.value)} />
            </label>
            <label>
              Webhook secret
              <input name="secret" type="password" autocomplete="new-password" placeholder={form.hasSecret ? 'kept unless replaced' : ''} value={form.secret} onInput={(e) => set('secret', e.currentTarget.value)} />
            </label>
            <label class="wide">
              Parameters (JSON)
              <textarea name="params" rows={5} spellcheck={false} value={form.params} onInput={(e) => set('params', e.currentTarget.value)} />
            </label>
            <label class="check">
              <input type="checkbox" name="enabled" checked={form.enabled} onChange={(e) => set('enabled', e.currentTarget.checked)} /> Enabled
            </label>
          </div>
          {formError && <p class="error" role="alert" id="rule-error">{formError}</p>}
          <div class="actions">
            <button type="submit">{form.id ? 'Save rule' : 'Create rule'}</button>
            <button type="button" class="secondary" onClick={() => setForm(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {data && (
        <table class="table" aria-label="Rules">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Target</th>
              <th scope="col">Severity</th>
              <th scope="col">Enabled</th>
              {mayWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {data.rules.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">No rules yet.</td>
              </tr>
            )}
            {data.rules.map((r) => (
              <tr key={r.id} data-rule={r.id}>
                <td>{r.name}</td>
                <td>{r.kind}</td>
                <td>{targetText(r.target)}</td>
                <td>
                  <span class={`sev ${r.severity}`}>{r.severity}</span>
                </td>
                <td>{r.enabled ? 'yes' : 'no'}</td>
                {mayWrite && (
                  <td>
                    <div class="row-actions">
                    <button type="button" class="secondary" onClick={() => { setForm(fromRule(r)); setFormError(null); setNotice(null); }}>
                      Edit
                    </button>
                    <button type="button" class="secondary" onClick={() => void toggle(r)}>
                      {r.enabled ? 'Disable' : 'Enable'}
                    </button>
                    <button type="button" class="danger" onClick={() => void remove(r)}>
                      Delete
                    </button>
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
