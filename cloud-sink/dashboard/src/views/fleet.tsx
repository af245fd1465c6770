// Fleet overview: every gateway from GET /v1/gateways, refreshed every few seconds. Only the rows
// in view are in the DOM (a fixed row height makes the window a slice), so 1,000 gateways cost what
// 30 do; filtering and sorting run over plain objects once per change.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type GatewayItem } from '../api';
import { duration, relativeTime } from '../format';
import { usePolling } from './polling';

const ROW_HEIGHT = 36;
const OVERSCAN = 8;
const REFRESH_MS = 3000;
const STATUS_RANK: Record<GatewayItem['status'], number> = { offline: 0, degraded: 1, online: 2 };

type SortKey = 'gateway_id' | 'status' | 'depth' | 'oldest' | 'last_seen' | 'firmware';

const COLUMNS: { key: SortKey | null; label: string }[] = [
  { key: 'gateway_id', label: 'Gateway' },
  { key: 'status', label: 'Status' },
  { key: null, label: 'Reasons' },
  { key: 'depth', label: 'Outbox' },
  { key: 'oldest', label: 'Oldest' },
  { key: 'last_seen', label: 'Last seen' },
  { key: 'firmware', label: 'Firmware' },
];

function sortValue(g: GatewayItem, key: SortKey): string | number {
  switch (key) {
    case 'gateway_id':
      return g.gateway_id;
    case 'status':
      return STATUS_RANK[g.status];
    case 'depth':
      return g.outbox?.depth ?? -1;
    case 'oldest':
      return g.outbox?.oldest_age_ms ?? -1;
    case 'last_seen':
      return g.last_seen ? Date.parse(g.last_seen) : 0;
    case 'firmware':
      return g.firmware ?? '';
  }
}

export function Fleet() {
  const { data, error, at } = usePolling(() => api<{ gateways: GatewayItem[] }>('GET', '/v1/gateways'), REFRESH_MS, []);
  const [text, setText] = useState('');
  const [status, setStatus] = useState<'' | GatewayItem['status']>('');
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'status', dir: 1 });

  const rows = useMemo(() => {
    const all = data?.gateways ?? [];
    const needle = text.trim().toLowerCase();
    const kept = all.filter(
      (g) =>
        (!status || g.status === status) &&
        (!needle || g.gateway_id.toLowerCase().includes(needle) || (g.firmware ?? '').toLowerCase().includes(needle) || g.reasons.some((r) => r.toLowerCase().includes(needle))),
    );
    const { key, dir } = sort;
    return kept.sort((a, b) => {
      const x = sortValue(a, key);
      const y = sortValue(b, key);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return c !== 0 ? c * dir : a.gateway_id < b.gateway_id ? -1 : 1;
    });
  }, [data, text, status, sort]);

  const counts = useMemo(() => {
    const c = { online: 0, offline: 0, degraded: 0 };
    for (const g of data?.gateways ?? []) c[g.status]++;
    return c;
  }, [data]);

  const toggle = (key: SortKey): void => setSort((s) => (s.key === key ? { key, dir: s.dir === 1 ? -1 : 1 } : { key, dir: 1 }));

  return (
    <section aria-labelledby="fleet-title">
      <div class="title-row">
        <h1 id="fleet-title">Fleet</h1>
        <p class="summary" aria-live="polite">
          {data ? `${data.gateways.length.toLocaleString('en')} gateways: ` : 'loading… '}
          <span class="status online">{counts.online} online</span> <span class="status degraded">{counts.degraded} degraded</span>{' '}
          <span class="status offline">{counts.offline} offline</span>
          {at ? <span class="muted"> · updated {new Date(at).toLocaleTimeString('en-GB')}</span> : null}
        </p>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="filters">
        <label>
          Filter <input type="search" name="filter" value={text} placeholder="gateway, firmware or reason" onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label>
          Status{' '}
          <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value as typeof status)}>
            <option value="">any</option>
            <option value="online">online</option>
            <option value="degraded">degraded</option>
            <option value="offline">offline</option>
          </select>
        </label>
        <span class="muted">{rows.length.toLocaleString('en')} shown</span>
      </div>
      <div class="grid fleet-grid" role="table" aria-label="Gateways" aria-rowcount={rows.length + 1}>
        <div class="grid-head" role="row">
          {COLUMNS.map((c) => (
            <div role="columnheader" key={c.label} aria-sort={c.key && sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}>
              {c.key ? (
                <button type="button" class="sort" onClick={() => toggle(c.key!)}>
                  {c.label}
                  {sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
                </button>
              ) : (
                c.label
              )}
            </div>
          ))}
        </div>
        <WindowedRows rows={rows} now={at ?? Date.now()} />
      </div>
    </section>
  );
}

function WindowedRows(props: { rows: GatewayItem[]; now: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(scroll / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(props.rows.length, Math.ceil((scroll + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = props.rows.slice(first, last);
  return (
    <div class="grid-body" ref={box} onScroll={(e) => setScroll(e.currentTarget.scrollTop)} role="rowgroup">
      <div style={{ height: `${props.rows.length * ROW_HEIGHT}px`, position: 'relative' }}>
        {visible.map((g, i) => (
          <div class="grid-row" role="row" key={g.gateway_id} aria-rowindex={first + i + 2} style={{ top: `${(first + i) * ROW_HEIGHT}px` }} data-gateway={g.gateway_id}>
            <div role="cell">
              <a href={`#/gateways/${encodeURIComponent(g.gateway_id)}`}>{g.gateway_id}</a>
            </div>
            <div role="cell">
              <span class={`status ${g.status}`}>{g.status}</span>
            </div>
            <div role="cell" class="reasons" title={g.reasons.join('; ')}>
              {g.reasons.join('; ') || '—'}
            </div>
            <div role="cell" class="num">{g.outbox ? g.outbox.depth.toLocaleString('en') : '—'}</div>
            <div role="cell" class="num">{g.outbox ? duration(g.outbox.oldest_age_ms) : '—'}</div>
            <div role="cell" title={g.last_seen ?? ''}>{relativeTime(g.last_seen, props.now)}</div>
            <div role="cell">{g.firmware ?? '—'}</div>
          </div>
        ))}
      </div>
    </div>
  );
}
