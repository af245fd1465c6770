// One device: its metadata (operators edit it), latest values, and a chart per metric from
// GET …/aggregates over the chosen range. The server picks the bucket from the range (no `bucket`
// sent), so zooming in gets finer buckets. Live readings from the stream are appended while the
// range ends now.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, enc, type Aggregates, type DeviceMeta, type Latest } from '../api';
import { dateTime, num, relativeTime } from '../format';
import { can, type Claims } from '../session';
import { openStream, type StreamState } from '../stream';
import { Chart } from './chart';

const PRESETS = [
  { id: '1h', ms: 3_600_000 },
  { id: '24h', ms: 86_400_000 },
  { id: '7d', ms: 7 * 86_400_000 },
  { id: '30d', ms: 30 * 86_400_000 },
  { id: '1y', ms: 365 * 86_400_000 },
] as const;

type Preset = (typeof PRESETS)[number]['id'];

interface Range {
  preset: Preset;
  fromMs: number;
  toMs: number;
  /** Set by a drag-select: the range is fixed and live readings are not appended. */
  zoomed: boolean;
}

function presetRange(preset: Preset): Range {
  const ms = PRESETS.find((p) => p.id === preset)!.ms;
  const now = Date.now();
  return { preset, fromMs: now - ms, toMs: now, zoomed: false };
}

function errorText(err: unknown): string {
  return err instanceof ApiError ? `${err.message} (${err.code})` : (err as Error).message;
}

export function Device(props: { id: string; claims: Claims }) {
  const [meta, setMeta] = useState<DeviceMeta | null>(null);
  const [metaError, setMetaError] = useState<string | null>(null);
  const [latest, setLatest] = useState<Latest | null>(null);
  const [range, setRange] = useState<Range>(() => presetRange('24h'));
  const [series, setSeries] = useState<Record<string, Aggregates>>({});
  const [chartError, setChartError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [stream, setStream] = useState<{ state: StreamState; detail?: string }>({ state: 'connecting' });
  const rangeRef = useRef(range);
  rangeRef.current = range;

  useEffect(() => {
    setMeta(null);
    setLatest(null);
    setSeries({});
    api<DeviceMeta>('GET', `/v1/devices/${enc(props.id)}`).then(setMeta, (e: unknown) => setMetaError(errorText(e)));
    api<Latest>('GET', `/v1/devices/${enc(props.id)}/latest`).then(setLatest, (e: unknown) => setChartError(errorText(e)));
  }, [props.id]);

  const metrics = useMemo(() => {
    const names = new Set<string>([...(meta?.metrics ?? []), ...Object.keys(latest?.metrics ?? {})]);
    return [...names].sort();
  }, [meta, latest]);

  useEffect(() => {
    if (metrics.length === 0) return;
    let cancelled = false;
    setLoading(true);
    const q = (m: string): string => new URLSearchParams({ metric: m, from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString() }).toString();
    Promise.all(metrics.map((m) => api<Aggregates>('GET', `/v1/devices/${enc(props.id)}/aggregates?${q(m)}`)))
      .then((all) => {
        if (cancelled) return;
        setSeries(Object.fromEntries(all.map((a) => [a.metric, a])));
        setChartError(null);
      })
      .catch((e: unknown) => !cancelled && setChartError(errorText(e)))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [props.id, metrics.join('\u0000'), range.fromMs, range.toMs]);

  useEffect(() => {
    const handle = openStream(
      { device: props.id, kinds: 'readings' },
      (m) => {
        if (m.type !== 'reading' || m.device_id !== props.id) return;
        const ts = typeof m.ts === 'number' ? new Date(m.ts).toISOString() : m.ts;
        setLatest((prev) => {
          const next: Latest = { device_id: props.id, metrics: { ...(prev?.metrics ?? {}) } };
          for (const [k, v] of Object.entries(m.metrics)) next.metrics[k] = { ts, value: v };
          return next;
        });
        if (rangeRef.current.zoomed) return;
        const t = Date.parse(ts);
        setRange((r) => (r.zoomed || t <= r.toMs ? r : { ...r, toMs: t }));
        setSeries((prev) => {
          const next = { ...prev };
          for (const [k, v] of Object.entries(m.metrics)) {
            const s = next[k];
            if (!s) continue;
            next[k] = { ...s, points: [...s.points, { ts, avg: v, min: v, max: v, count: 1, last: v }] };
          }
          return next;
        });
      },
      (state, detail) => setStream({ state, ...(detail ? { detail } : {}) }),
    );
    return () => handle.close();
  }, [props.id]);

  const onZoom = (fromMs: number, toMs: number): void => {
    if (toMs - fromMs < 60_000) {
      const mid = (fromMs + toMs) / 2;
      fromMs = mid - 30_000;
      toMs = mid + 30_000;
    }
    setRange((r) => ({ preset: r.preset, fromMs, toMs, zoomed: true }));
  };

  return (
    <section aria-labelledby="dev-title">
      <p class="crumbs">
        <a href="#/gateways">Fleet</a>
        {meta?.gateway_id && (
          <>
            {' / '}
            <a href={`#/gateways/${enc(meta.gateway_id)}`}>{meta.gateway_id}</a>
          </>
        )}{' '}
        / device
      </p>
      <div class="title-row">
        <h1 id="dev-title">{meta?.name ? `${meta.name} (${props.id})` : props.id}</h1>
        <span class={`stream ${stream.state}`} title={stream.detail ?? ''}>
          {stream.state === 'live' ? 'live' : stream.state === 'connecting' ? 'connecting…' : 'stream down'}
        </span>
      </div>
      <div class="device-top">
        <Metadata id={props.id} meta={meta} error={metaError} editable={can(props.claims, 'write:rules')} onSaved={setMeta} />
        <div class="panel">
          <h2>Latest values</h2>
          {latest && Object.keys(latest.metrics).length > 0 ? (
            <table class="table compact">
              <tbody>
                {Object.entries(latest.metrics)
                  .sort(([a], [b]) => (a < b ? -1 : 1))
                  .map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{k}</th>
                      <td class="num" data-latest={k}>{num(v.value, 3)}</td>
                      <td class="muted" title={dateTime(v.ts)}>{relativeTime(v.ts, Date.now())}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">no readings yet</p>
          )}
        </div>
      </div>
      <div class="range-bar" role="group" aria-label="Time range">
        {PRESETS.map((p) => (
          <button type="button" key={p.id} class={!range.zoomed && range.preset === p.id ? 'chip on' : 'chip'} aria-pressed={!range.zoomed && range.preset === p.id} onClick={() => setRange(presetRange(p.id))}>
            {p.id}
          </button>
        ))}
        <button type="button" class="secondary" disabled={!range.zoomed} onClick={() => setRange(presetRange(range.preset))}>
          Reset zoom
        </button>
        <span class="muted" data-range={`${range.fromMs}-${range.toMs}`}>
          {dateTime(new Date(range.fromMs).toISOString())} → {dateTime(new Date(range.toMs).toISOString())}
          {loading ? ' · loading…' : ''}
        </span>
      </div>
      {chartError && <p class="error" role="alert">{chartError}</p>}
      {metrics.map((m) => {
        const s = series[m];
        return (
          <div class="panel chart-panel" key={m} data-metric={m} data-from={range.fromMs} data-to={range.toMs} data-points={s?.points.length ?? 0} data-bucket={s?.bucket ?? ''}>
            <h2>
              {m} <span class="muted">{s ? `${s.points.length} points · ${s.bucket} buckets · ${s.source}` : 'loading…'}</span>
            </h2>
            <Chart metric={m} points={s?.points ?? []} fromMs={range.fromMs} toMs={range.toMs} onZoom={onZoom} />
          </div>
        );
      })}
    </section>
  );
}

function tagsText(tags: Record<string, string> | null | undefined): string {
  return Object.entries(tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function parseTags(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return `tag "${p}" is not key=value`;
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
}

function Metadata(props: { id: string; meta: DeviceMeta | null; error: string | null; editable: boolean; onSaved: (m: DeviceMeta) => void }) {
  const m = props.meta;
  const [editing, setEditing] = useState(false);
  const [form, setForm] = useState({ name: '', type: '', location: '', tags: '' });
  const [error, setError] = useState<string | null>(null);

  const start = (): void => {
    setForm({ name: m?.name ?? '', type: m?.type ?? '', location: m?.location?.label ?? '', tags: tagsText(m?.tags) });
    setError(null);
    setEditing(true);
  };

  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    const tags = parseTags(form.tags);
    if (typeof tags === 'string') {
      setError(tags);
      return;
    }
    const location = form.location.trim() ? { ...(m?.location ?? {}), label: form.location.trim() } : null;
    try {
      const saved = await api<DeviceMeta>('PATCH', `/v1/devices/${enc(props.id)}`, {
        name: form.name.trim() || null,
        type: form.type.trim() || null,
        location,
        tags,
      });
      props.onSaved(saved);
      setEditing(false);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const field = (key: keyof typeof form, label: string) => (
    <label>
      {label}
      <input name={key} value={form[key]} onInput={(e) => setForm({ ...form, [key]: e.currentTarget.value })} />
    </label>
  );

  return (
    <div class="panel">
      <h2>Device</h2>
      {props.error && <p class="muted">metadata unavailable: {props.error}</p>}
      {!editing && (
        <>
          <dl class="facts">
            <dt>Name</dt>
            <dd>{m?.name ?? '—'}</dd>
            <dt>Type</dt>
            <dd>{m?.type ?? '—'}</dd>
            <dt>Location</dt>
            <dd>{m?.location ? [m.location.label, m.location.lat !== undefined ? `${m.location.lat}, ${m.location.lon}` : ''].filter(Boolean).join(' · ') : '—'}</dd>
            <dt>Tags</dt>
            <dd>{tagsText(m?.tags) || '—'}</dd>
            <dt>Gateway</dt>
            <dd>{m?.gateway_id ?? '—'}</dd>
            <dt>First seen</dt>
            <dd>{dateTime(m?.first_seen)}</dd>
          </dl>
          {props.editable && m && (
            <button type="button" class="secondary" onClick={start}>
              Edit
            </button>
          )}
        </>
      )}
      {editing && (
        <form class="stack" onSubmit={(e) => void save(e)}>
          {field('name', 'Name')}
          {field('type', 'Type')}
          {field('location', 'Location')}
          {field('tags', 'Tags (key=value, comma-separated)')}
          {error && <p class="error" role="alert">{error}</p>}
          <div class="actions">
            <button type="submit">Save</button>
            <button type="button" class="secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
