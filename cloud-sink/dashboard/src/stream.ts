// GET /v1/stream: live readings and alert events over a WebSocket. Browsers cannot set headers on
// a WebSocket; the token goes in the subprotocols (`fieldline.v1`, `bearer.<token>`) rather than
// the URL, which proxies log. A dropped connection is retried with doubling delays (1 s up to 30 s,
// with jitter so a restarted API is not hit by every tab at once).

import { storedToken } from './session';

export interface ReadingMessage {
  type: 'reading';
  gateway_id: string;
  device_id: string;
  ts: string | number;
  metrics: Record<string, number>;
}

export interface AlertMessage {
  type: 'alert';
  event: Record<string, unknown>;
}

export type StreamMessage = ReadingMessage | AlertMessage;

export type StreamState = 'connecting' | 'live' | 'retrying';

export interface StreamHandle {
  close(): void;
}

export function openStream(
  filter: Record<string, string>,
  onMessage: (m: StreamMessage) => void,
  onState: (s: StreamState, detail?: string) => void,
): StreamHandle {
  let ws: WebSocket | null = null;
  let closed = false;
  let delay = 1000;
  let timer: number | undefined;

  const connect = (): void => {
    const token = storedToken();
    if (closed || !token) return;
    const q = new URLSearchParams(filter);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    onState('connecting');
    ws = new WebSocket(`${proto}//${location.host}/v1/stream?${q}`, ['fieldline.v1', `bearer.${token}`]);
    ws.onopen = () => {
      delay = 1000;
      onState('live');
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      try {
        const m = JSON.parse(ev.data) as StreamMessage;
        if (m && (m.type === 'reading' || m.type === 'alert')) onMessage(m);
      } catch {
        // A message that is not JSON is not one of ours; the stream goes on.
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      ws = null;
      if (closed) return;
      const wait = Math.min(30_000, delay) * (0.75 + Math.random() * 0.5);
      delay = Math.min(30_000, delay * 2);
      onState('retrying', `${ev.reason || `closed (${ev.code})`}; retrying in ${Math.round(wait / 1000)} s`);
      timer = window.setTimeout(connect, wait);
    };
  };
  connect();
  return {
    close() {
      closed = true;
      window.clearTimeout(timer);
      ws?.close();
    },
  };
}
