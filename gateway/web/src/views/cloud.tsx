// The gateway's name and how it reaches the cloud: edited here, checked by the gateway against the
// same schema as the YAML file (PATCH /config, a JSON merge patch of only what changed), written to
// the file with a backup and applied without a restart. TLS material is uploaded as PEM files the
// gateway stores beside its config; the fields then hold their paths.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, SECRET, api, describe, withoutKey, type ConfigView, type Issue, type Json, type JsonObject, type PatchResult } from '../api';
import { ErrorLine, Field, Panel } from '../ui';

/** The librdkafka properties a field tech sets, under kafka.rdkafka. */
const RDKAFKA = {
  securityProtocol: 'security.protocol',
  sslCa: 'ssl.ca.location',
  sslCert: 'ssl.certificate.location',
  sslKey: 'ssl.key.location',
  saslMechanism: 'sasl.mechanisms',
  saslUser: 'sasl.username',
  saslPassword: 'sasl.password',
} as const;
type RdKey = keyof typeof RDKAFKA;

interface Form {
  gatewayId: string;
  brokers: string;
  securityProtocol: string;
  sslCa: string;
  sslCert: string;
  sslKey: string;
  saslMechanism: string;
  saslUser: string;
  saslPassword: string;
}
type FormKey = keyof Form;

/** The config path of each field, as the check's issues name it. */
const PATHS: Record<FormKey, string> = {
  gatewayId: 'gatewayId',
  brokers: 'kafka.brokers',
  ...(Object.fromEntries(Object.entries(RDKAFKA).map(([k, v]) => [k, `kafka.rdkafka.${v}`])) as Record<RdKey, string>),
};

const UPLOADS: Partial<Record<FormKey, string>> = { sslCa: 'kafka-ca.pem', sslCert: 'kafka-client-cert.pem', sslKey: 'kafka-client-key.pem' };

function obj(v: Json | undefined): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function str(v: Json | undefined): string {
  return v === undefined || v === null ? '' : String(v);
}

function formOf(view: ConfigView): Form {
  const file = view.config ?? {};
  const eff = view.effective;
  const rd = { ...obj(obj(eff.kafka).rdkafka), ...obj(obj(file.kafka).rdkafka) };
  return {
    gatewayId: str(file.gatewayId ?? eff.gatewayId),
    brokers: str(obj(file.kafka).brokers ?? obj(eff.kafka).brokers),
    ...(Object.fromEntries(Object.entries(RDKAFKA).map(([k, v]) => [k, str(rd[v])])) as Record<RdKey, string>),
  };
}

/** A merge patch of the fields that changed; a cleared librdkafka property is removed (null). */
function patchOf(before: Form, after: Form): JsonObject {
  const patch: JsonObject = {};
  const kafka: JsonObject = {};
  const rdkafka: JsonObject = {};
  if (after.gatewayId !== before.gatewayId) patch.gatewayId = after.gatewayId.trim();
  if (after.brokers !== before.brokers) kafka.brokers = after.brokers.trim();
  for (const [k, prop] of Object.entries(RDKAFKA) as [RdKey, string][]) {
    if (after[k] !== before[k]) rdkafka[prop] = after[k].trim() === '' ? null : after[k].trim();
  }
  if (Object.keys(rdkafka).length) kafka.rdkafka = rdkafka;
  if (Object.keys(kafka).length) patch.kafka = kafka;
  return patch;
}

export function issuesByField(issues: Issue[], paths: Record<string, string>): { byField: Record<string, string>; other: Issue[] } {
  const byField: Record<string, string> = {};
  const other: Issue[] = [];
  for (const issue of issues) {
    const field = Object.entries(paths).find(([, p]) => issue.path === p || issue.path.startsWith(`${p}.`))?.[0];
    const text = withoutKey(issue);
    if (field) byField[field] = byField[field] ? `${byField[field]}; ${text}` : text;
    else other.push(issue);
  }
  return { byField, other };
}

export function PatchOutcome({ result }: { result: PatchResult }) {
  return (
    <div class="notice" role="status" data-testid="save-result">
      Saved to the config file (backup: <code>{result.backup}</code>).
      {result.applied.length > 0 && <> Applied now: {result.applied.join(', ')}.</>}
      {result.restartRequired.length > 0 && <> Takes effect after a restart: {result.restartRequired.join(', ')}.</>}
      {result.failed.map((f) => (
        <div key={f.part} class="error">
          {f.part} failed to apply: {f.message} ({f.code})
        </div>
      ))}
    </div>
  );
}

export function CloudSettings() {
  const [view, setView] = useState<ConfigView | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [issues, setIssues] = useState<Record<string, string>>({});
  const [otherIssues, setOtherIssues] = useState<Issue[]>([]);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [result, setResult] = useState<PatchResult | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (): Promise<void> => {
    try {
      const v = await api<ConfigView>('GET', '/config');
      setView(v);
      setForm(formOf(v));
      setLoadError(null);
    } catch (err) {
      setLoadError(describe(err));
    }
  };
  useEffect(() => void load(), []);

  if (!view || !form) return <ErrorLine error={loadError} />;
  const initial = formOf(view);
  const patch = patchOf(initial, form);
  const changed = Object.keys(patch).length > 0;
  const env = new Set(view.envOverrides);
  const set = (k: FormKey, v: string): void => setForm({ ...form, [k]: v });

  const send = async (dryRun: boolean): Promise<void> => {
    setBusy(true);
    setMessage(null);
    setResult(null);
    try {
      const r = await api<PatchResult>('PATCH', `/config${dryRun ? '?dryRun=true' : ''}`, patch);
      setIssues({});
      setOtherIssues([]);
      if (dryRun) setMessage({ kind: 'ok', text: 'The gateway accepts these settings. Nothing was saved yet.' });
      else {
        setResult(r);
        await load();
      }
    } catch (err) {
      if (err instanceof ApiError && err.issues.length) {
        const { byField, other } = issuesByField(err.issues, PATHS);
        setIssues(byField);
        setOtherIssues(other);
        setMessage({ kind: 'error', text: 'The gateway refused these settings; the marked fields say why. Nothing was saved.' });
      } else setMessage({ kind: 'error', text: describe(err) });
    } finally {
      setBusy(false);
    }
  };

  const upload = async (k: FormKey, file: File | undefined): Promise<void> => {
    const name = UPLOADS[k];
    if (!file || !name) return;
    try {
      const text = await file.text();
      if (!text.includes('-----BEGIN ')) throw new Error(`${file.name} is not a PEM file (expected a -----BEGIN … block)`);
      const { path } = await api<{ path: string }>('PUT', `/config/files/${name}`, text, 'text/plain');
      setForm((f) => (f ? { ...f, [k]: path } : f));
      setMessage({ kind: 'ok', text: `Uploaded ${file.name} as ${path}; save to use it.` });
    } catch (err) {
      setMessage({ kind: 'error', text: `Upload of ${file.name} failed: ${describe(err)}` });
    }
  };

  const input = (k: FormKey, label: string, opts: { placeholder?: string; hint?: string | undefined; type?: 'text' | 'password' } = {}) => (
    <Field label={label} issue={issues[k]} hint={env.has(PATHS[k]) ? 'Set by an environment variable: that value wins over the file.' : opts.hint} wide={k === 'brokers'}>
      <input
        name={PATHS[k]}
        // Preact types a password input apart from a text one; this field is either.
        {...({ type: opts.type ?? 'text' } as { type: 'text' })}
        value={form[k]}
        placeholder={opts.placeholder}
        disabled={!view.writable}
        aria-invalid={issues[k] ? 'true' : undefined}
        onInput={(e) => set(k, e.currentTarget.value)}
      />
      {UPLOADS[k] && view.writable && (
        <input type="file" accept=".pem,.crt,.key,.cer" aria-label={`Upload ${label}`} onChange={(e) => void upload(k, e.currentTarget.files?.[0])} />
      )}
    </Field>
  );
  const select = (k: FormKey, label: string, options: string[]) => (
    <Field label={label} issue={issues[k]} hint={env.has(PATHS[k]) ? 'Set by an environment variable.' : undefined}>
      <select name={PATHS[k]} value={form[k]} disabled={!view.writable} onChange={(e) => set(k, e.currentTarget.value)}>
        <option value="">(librdkafka default)</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </Field>
  );
  const tls = form.securityProtocol === 'SSL' || form.securityProtocol === 'SASL_SSL';
  const sasl = form.securityProtocol.startsWith('SASL');

  return (
    <div>
      <div class="title-row">
        <h1>Cloud & identity</h1>
        <span class="muted">
          config file <code>{view.file ?? 'none'}</code>
        </span>
      </div>
      {!view.file && <p class="error">The gateway was started without a config file (--config); settings can be viewed but not saved here.</p>}
      {view.file && !view.writable && <p class="error">The config file is read-only for the gateway; settings can be viewed but not saved here.</p>}
      {view.issues && view.issues.length > 0 && (
        <div class="error" role="alert">
          The config file has problems (the gateway runs on the settings it loaded before):
          <ul>
            {view.issues.map((i) => (
              <li key={`${i.path}:${i.message}`}>{i.message}</li>
            ))}
          </ul>
        </div>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void send(false);
        }}
      >
        <Panel title="Identity">
          <div class="form-grid">
            {input('gatewayId', 'Gateway id', { hint: 'The key of every batch this gateway sends; 1-128 of A-Z a-z 0-9 _ . : -' })}
          </div>
        </Panel>
        <Panel title="Kafka">
          <div class="form-grid">
            {input('brokers', 'Brokers', { placeholder: 'kafka-1.example.com:9093,kafka-2.example.com:9093', hint: 'Comma-separated host:port' })}
            {select('securityProtocol', 'Security protocol', ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'])}
            {tls && input('sslCa', 'CA certificate (PEM)', { placeholder: '/etc/fieldline/kafka-ca.pem' })}
            {tls && input('sslCert', 'Client certificate (PEM)', { hint: 'Only for mutual TLS' })}
            {tls && input('sslKey', 'Client key (PEM)', { hint: 'Only for mutual TLS' })}
            {sasl && select('saslMechanism', 'SASL mechanism', ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'])}
            {sasl && input('saslUser', 'SASL username')}
            {sasl && input('saslPassword', 'SASL password', { type: 'password', hint: form.saslPassword === SECRET ? 'Set; leave as is to keep it.' : undefined })}
          </div>
        </Panel>
        {otherIssues.length > 0 && (
          <ul class="error">
            {otherIssues.map((i) => (
              <li key={i.path}>
                <code>{i.path}</code>: {i.message}
              </li>
            ))}
          </ul>
        )}
        {message && (
          <p class={message.kind === 'ok' ? 'notice' : 'error'} role={message.kind === 'ok' ? 'status' : 'alert'}>
            {message.text}
          </p>
        )}
        {result && <PatchOutcome result={result} />}
        <div class="actions">
          <button type="submit" disabled={!changed || busy || !view.writable}>
            Save and apply
          </button>
          <button type="button" class="secondary" disabled={!changed || busy} onClick={() => void send(true)}>
            Check only
          </button>
          <button type="button" class="secondary" disabled={!changed || busy} onClick={() => setForm(initial)}>
            Undo changes
          </button>
          {changed && <span class="muted">unsaved changes</span>}
        </div>
      </form>
    </div>
  );
}
