// What the alert pump tests need: alert rows to record events of (the evaluator's part, faked), a
// webhook receiver on a real local HTTP server that can be closed and opened again on its port, and
// the outbox's state as the database has it.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { recordEvent, type AlertEvent, type AlertRow, type EventType, type Receiver } from '../../cloud-sink/src/alerts/events.js';
import type { Db } from '../../cloud-sink/src/store/db.js';

/** An alert as the evaluator would hold it after the change of `type` (only the fields events show matter). */
export function alertRow(id: string, type: EventType, atMs: number): AlertRow {
  return {
    id,
    rule_id: `rule-of-${id}`,
    target_key: `dev-${id}/temperature`,
    gateway_id: 'gw-1',
    device_id: `dev-${id}`,
    metric: 'temperature',
    state: type === 'resolved' ? 'resolved' : 'firing',
    severity: 'critical',
    value: 91.5,
    message: `temperature of dev-${id} above 90`,
    started_at: new Date(atMs - 60_000),
    raised_at: new Date(atMs - 60_000),
    late: false,
    resolved_at: type === 'resolved' ? new Date(atMs) : null,
    resolved_late: type === 'resolved' ? false : null,
    acked_by: type === 'firing' ? null : 'operator@example.com',
    acked_at: type === 'firing' ? null : new Date(atMs),
  };
}

/** Records one event in its own transaction, as the evaluator or the API does with the change. */
export async function record(db: Db, alertId: string, type: EventType, webhook?: Receiver): Promise<AlertEvent> {
  const now = Date.now();
  return db.transaction((tx) => recordEvent(tx, type, alertRow(alertId, type, now), { name: `rule ${alertId}`, ...(webhook ? { webhook } : {}) }, now));
}

/** Rows of alert_events not yet published. */
export async function unpublished(db: Db): Promise<number> {
  return Number((await db.query<{ n: number | string }>('SELECT count(*) AS n FROM alert_events WHERE published_at IS NULL')).rows[0]!.n);
}

/** Rows of webhook_deliveries neither delivered nor given up. */
export async function undelivered(db: Db): Promise<number> {
  return Number((await db.query<{ n: number | string }>('SELECT count(*) AS n FROM webhook_deliveries WHERE delivered_at IS NULL AND gave_up_at IS NULL')).rows[0]!.n);
}

export interface ReceivedHook {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The receiver's clock when it arrived, unix seconds. */
  atS: number;
  /** The status it was answered with; 0 when the connection was dropped. */
  status: number;
}

export type HookAnswer = (req: ReceivedHook, n: number) => Promise<number> | number;

/** A webhook receiver on 127.0.0.1:`port`; `answer` gives the status per request (0 drops the connection). */
export class HookReceiver {
  readonly received: ReceivedHook[] = [];
  private server: Server | null = null;

  constructor(
    readonly port: number,
    private answer: HookAnswer,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The requests answered 2xx. */
  get delivered(): ReceivedHook[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  setAnswer(answer: HookAnswer): void {
    this.answer = answer;
  }

  async listen(): Promise<void> {
    assert.equal(this.server, null, 'already listening');
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.port, host: '127.0.0.1', exclusive: true }, () => resolve());
    });
    this.server = server;
  }

  /** Unbinds the port and drops every connection, kept-alive ones included. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const hook: ReceivedHook = {
      path: req.url ?? '',
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')])),
      body: Buffer.concat(chunks).toString('utf8'),
      atS: Math.floor(Date.now() / 1000),
      status: 0,
    };
    this.received.push(hook);
    const status = await this.answer(hook, this.received.length);
    hook.status = status;
    if (status === 0) {
      req.socket.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(status < 300 ? 'ok' : 'not now');
  }
}
