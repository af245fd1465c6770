// GET /v1/stream: the WebSocket of live readings and alert events (docs/ARCHITECTURE.md, "Live
// stream"). Everything that can refuse a stream runs as hooks before the upgrade, so a refusal is a
// plain HTTP answer with the usual JSON error: 401 (no or bad token), 403 (no scope for the kinds
// asked), 400 (a bad filter), 429 (too many streams on this token), 503 (too many on this process).
//
// The token: browsers cannot set Authorization on a WebSocket, so it may come three ways, taken in
// this order: the Authorization header; the subprotocol `bearer.<token>` offered beside
// `fieldline.v1` (the server answers `fieldline.v1`, never echoing the token when it can avoid it);
// the `access_token` query parameter, a last resort since URLs end up in proxies' logs.
import type { WebsocketPluginOptions } from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import type { RawData, WebSocket } from 'ws';
import { CloudError, FieldlineError } from '../errors.js';
import { principalOf } from './access.js';
import type { Authenticator } from './auth.js';
import type { Admission, LiveFeed, StreamClient } from './live-feed.js';
import { MAX_FILTER_VALUE_LENGTH, MAX_FILTER_VALUES, parseFilter, type FilterInput, type StreamFilter } from './stream-filter.js';

export const STREAM_PROTOCOL = 'fieldline.v1';
const BEARER_PROTOCOL = 'bearer.';
/** Largest frame a client may send (a subscribe message with a long device list fits). */
const MAX_CLIENT_FRAME = 256 * 1024;
/** What Retry-After says on a 429 or 503: streams end at any time, so soon is as good a guess as any. */
const RETRY_AFTER_S = 5;

export interface StreamRouteDeps {
  auth: Authenticator;
  stream?: LiveFeed;
}

/** The options @fastify/websocket is registered with (api/server.ts). */
export function streamSocketOptions(): WebsocketPluginOptions {
  return { options: { maxPayload: MAX_CLIENT_FRAME, perMessageDeflate: false, handleProtocols: chooseProtocol } };
}

/**
 * The subprotocol the server answers with. A browser fails the handshake when it offered protocols
 * and the answer names none, so a client that offered only `bearer.<token>` gets that one back.
 */
export function chooseProtocol(offered: Set<string>): string | false {
  if (offered.has(STREAM_PROTOCOL)) return STREAM_PROTOCOL;
  for (const p of offered) if (p.startsWith(BEARER_PROTOCOL)) return p;
  return false;
}

/** The token and where it came from; null when the request carries none. */
export function streamToken(req: Pick<FastifyRequest, 'headers' | 'query'>): string | null {
  const header = req.headers.authorization;
  if (header !== undefined) return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? header;
  const protocols = req.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const p of protocols.split(',')) {
      const t = p.trim();
      if (t.startsWith(BEARER_PROTOCOL) && t.length > BEARER_PROTOCOL.length) return t.slice(BEARER_PROTOCOL.length);
    }
  }
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  return typeof q === 'string' && q !== '' ? q : null;
}

interface Pending {
  filter: StreamFilter;
  admission: Admission;
  expiresAtMs: number | null;
}

type Query = FilterInput & { access_token?: string };

export function registerStreamRoutes(app: FastifyInstance, deps: StreamRouteDeps): void {
  const feed = deps.stream;
  if (!feed) return;
  const pending = new WeakMap<FastifyRequest, Pending>();
  const tokens = new WeakMap<FastifyRequest, string>();

  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const token = streamToken(req);
    req.principal = await deps.auth.verify(req.headers.authorization ?? (token === null ? undefined : `Bearer ${token}`));
    if (token !== null) tokens.set(req, token);
  };

  const admit = async (req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply): Promise<void> => {
    const filter = parseFilter(req.query, principalOf(req), 'FL_ERR_API_BAD_PARAM');
    if (!req.ws) return;
    const token = tokens.get(req) ?? '';
    let admission: Admission;
    try {
      admission = feed.admit(token);
    } catch (err) {
      if (err instanceof FieldlineError) reply.header('retry-after', String(RETRY_AFTER_S));
      throw err;
    }
    // The place is held for as long as the connection lasts, stream or not (a handshake ws refuses
    // never reaches the handler).
    req.raw.socket.once('close', () => admission.release());
    pending.set(req, { filter, admission, expiresAtMs: expiry(token) });
  };

  const list = (what: string) => ({
    type: 'array',
    items: { type: 'string', maxLength: MAX_FILTER_VALUE_LENGTH * 4 },
    maxItems: MAX_FILTER_VALUES,
    description: `${what}: repeat the parameter or give a comma list. Without it, every one the token may see.`,
  });
  const error = { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } };

  app.route<{ Querystring: Query }>({
    method: 'GET',
    url: '/v1/stream',
    schema: {
      tags: ['stream'],
      summary: 'WebSocket of live readings and alert events within the token’s fleet',
      description: STREAM_DESCRIPTION,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          device: list('Device ids'),
          metric: list('Metric names (a reading frame carries only these)'),
          gateway: list('Gateway ids'),
          kinds: { ...list('`readings`, `alerts` or both'), description: '`readings`, `alerts` or `readings,alerts`. Default: every kind the token’s scopes allow.' },
          access_token: { type: 'string', description: 'The bearer token, for clients that can set neither the Authorization header nor a subprotocol.' },
        },
      },
      response: {
        101: { description: 'Switching Protocols: the stream is open; frames are JSON text (see the description).' },
        400: { description: 'A filter parameter is invalid (FL_ERR_API_BAD_PARAM, naming it).', ...error },
        401: { description: 'No token, or not a valid one.', ...error },
        403: { description: 'The token lacks the scope of a kind asked for (read:telemetry for readings, read:fleet for alerts).', ...error },
        426: { description: 'Not a WebSocket upgrade.', ...error },
        429: { description: 'This token holds api.stream.maxClientsPerToken streams already (Retry-After).', ...error },
        503: { description: 'This API process serves api.stream.maxClients streams already (Retry-After).', ...error },
        '4xx': { description: 'Refused before the route: by the HTTP server itself (431 headers too large, 414) or the rate limit (429).' },
      },
    },
    onRequest: authenticate,
    preHandler: admit,
    handler: async (_req, reply) => {
      void reply.header('upgrade', 'websocket');
      throw new CloudError('FL_ERR_API_UPGRADE_REQUIRED');
    },
    wsHandler: (socket: WebSocket, req: FastifyRequest) => {
      const p = pending.get(req);
      if (!p) return void socket.terminate();
      const client = feed.attach(p.admission, socket, principalOf(req), p.filter, p.expiresAtMs);
      if (!client) return;
      socket.on('message', (data, isBinary) => onMessage(client, data, isBinary));
      socket.on('pong', () => client.heard());
      socket.on('close', () => client.closed());
    },
  });
}

/** The token's `exp` (verified already) in ms, or null when it has none. */
function expiry(token: string): number | null {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

const SUBSCRIBE_KEYS = new Set(['type', 'device', 'metric', 'gateway', 'kinds']);

/** A client frame: `{"type": "subscribe", …filters}` replaces the filter; anything else gets an error frame. */
export function onMessage(client: StreamClient, data: RawData, isBinary: boolean): void {
  client.heard();
  const bad = (detail: string): void => client.sendError(new CloudError('FL_ERR_API_BAD_REQUEST', detail));
  if (isBinary) return bad('frames are JSON text');
  let msg: unknown;
  try {
    msg = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8'));
  } catch {
    return bad('the frame is not JSON');
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return bad('expected {"type": "subscribe", …}');
  const m = msg as Record<string, unknown>;
  if (m.type !== 'subscribe') return bad(`type ${JSON.stringify(m.type)}: expected "subscribe"`);
  const unknown = Object.keys(m).find((k) => !SUBSCRIBE_KEYS.has(k));
  if (unknown !== undefined) return bad(`unknown key ${JSON.stringify(unknown)}; a subscribe message takes device, metric, gateway and kinds`);
  try {
    client.setFilter(parseFilter(m, client.principal, 'FL_ERR_API_BAD_REQUEST'));
  } catch (err) {
    if (err instanceof FieldlineError) client.sendError(err);
    else throw err;
  }
}

const STREAM_DESCRIPTION = `A WebSocket (send the request with \`Upgrade: websocket\`). Token: the Authorization header, or the subprotocols \`["${STREAM_PROTOCOL}", "bearer.<token>"]\` (answered with \`${STREAM_PROTOCOL}\`), or \`access_token\`. Every refusal comes before the upgrade as a plain HTTP error.

Server frames (JSON text):
- \`{"type": "subscribed", "kinds": [...], "device": [...]|null, "metric": [...]|null, "gateway": [...]|null}\`: first, and after each subscribe message: the filter in force.
- \`{"type": "reading", "gateway_id", "device_id", "ts" (RFC 3339), "metrics": {"<metric>": value}}\`: one per device message, only the metrics asked for.
- \`{"type": "alert", "event": {...}}\`: an iot.alerts event as the relay publishes it (\`event_id\`, \`type\` firing|resolved|acknowledged, \`at\`, \`emitted_at\`, \`late\`, \`rule_name\`, \`alert\`); at least once, deduplicate by \`event_id\`.
- \`{"type": "error", "error": {"code", "message"}}\`: a client frame was refused; the filter is unchanged.

Client frame: \`{"type": "subscribe", "device"?, "metric"?, "gateway"?, "kinds"?}\` replaces the whole filter (a string is a comma list, an array is taken as it is).

The token's \`fleet\` claim limits everything: a device or gateway outside it is treated like an unknown one (no error, nothing sent). Live only: nothing from before the connection. The server pings; a client that does not answer, or that falls more than api.stream.maxBufferedBytes behind (close 1013), is dropped. Close 1001: the server is stopping; 4401: the token expired.`;
