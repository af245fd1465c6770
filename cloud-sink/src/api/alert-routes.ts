// /v1/rules and /v1/alerts (DESIGN.md "Cloud API"). Rules go through the RuleBook (the database,
// then iot.rules); alerts are read from the database, and an acknowledgement is recorded there with
// its event, like every other change of an alert (alerts/events.ts).
import type { FastifyInstance } from 'fastify';
import { ALERT_COLUMNS, alertView, recordEvent, type AlertEvent, type AlertRow, type Receiver } from '../alerts/events.js';
import { ruleView, type Rule } from '../alerts/rule.js';
import type { RuleBook } from '../alerts/rules-publisher.js';
import { CloudError } from '../errors.js';
import type { Db, DbTx } from '../store/db.js';
import { guard, principalOf } from './access.js';
import type { Scope } from './auth.js';
import type { ApiDeps } from './server.js';
import { parseLimit } from './time.js';
import { badCursor, decodeCursor, encodeCursor } from '../store/cursor.js';

export interface AlertApiDeps {
  rules: RuleBook;
  db: Db;
  now?: () => number;
}

const STATES = ['firing', 'resolved', 'all'] as const;
const SEVERITIES = ['info', 'warning', 'critical'] as const;
const MAX_NOTE = 1_000;

type Query = Record<string, string | undefined>;

/** Registers the routes when `deps.alerts` is set; without it they answer 404 like any unknown path. */
export function registerAlertRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const alerts = deps.alerts;
  if (!alerts) return;
  const now = alerts.now ?? Date.now;
  const guarded = (scope: Scope) => guard(deps.auth, scope);

  // --- rules --------------------------------------------------------------------------------------

  app.get('/v1/rules', { onRequest: guarded('read:fleet') }, async () => ({ rules: (await alerts.rules.list()).map(ruleView) }));

  app.post('/v1/rules', { onRequest: guarded('write:rules') }, async (req, reply) => {
    const rule = await alerts.rules.create(req.body);
    return reply.status(201).header('location', `/v1/rules/${encodeURIComponent(rule.id)}`).send(ruleView(rule));
  });

  app.get<{ Params: { id: string } }>('/v1/rules/:id', { onRequest: guarded('read:fleet') }, async (req) => ruleView(await found(alerts.rules, req.params.id)));

  app.put<{ Params: { id: string } }>('/v1/rules/:id', { onRequest: guarded('write:rules') }, async (req) => ruleView(await alerts.rules.replace(req.params.id, req.body)));

  app.delete<{ Params: { id: string } }>('/v1/rules/:id', { onRequest: guarded('write:rules') }, async (req, reply) => {
    await alerts.rules.remove(req.params.id);
    return reply.status(204).send();
  });

  // --- alerts -------------------------------------------------------------------------------------

  app.get<{ Querystring: Query }>('/v1/alerts', { onRequest: guarded('read:fleet') }, async (req) => listAlerts(alerts.db, req.query));

  app.get<{ Params: { id: string } }>('/v1/alerts/:id', { onRequest: guarded('read:fleet') }, async (req) => {
    const r = await alerts.db.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1`, [req.params.id]);
    const row = r.rows[0];
    if (!row) throw new CloudError('FL_ERR_API_ALERT_NOT_FOUND', req.params.id);
    return alertView(row);
  });

  app.post<{ Params: { id: string } }>('/v1/alerts/:id/ack', { onRequest: guarded('write:rules') }, async (req) => {
    const p = principalOf(req);
    const note = ackNote(req.body);
    return alertView(await acknowledge(alerts.db, req.params.id, p.subject || 'unknown', note, now()));
  });
}

async function found(rules: RuleBook, id: string): Promise<Rule> {
  const rule = await rules.get(id);
  if (!rule) throw new CloudError('FL_ERR_API_RULE_NOT_FOUND', id);
  return rule;
}

// --- listing --------------------------------------------------------------------------------------

interface Page {
  alerts: Record<string, unknown>[];
  next_cursor: string | null;
}

/** Newest first by (started_at, id); the cursor is the last row's key, so a page boundary never skips or repeats an alert. */
async function listAlerts(db: Db, q: Query): Promise<Page> {
  const state = q.state ?? 'firing';
  if (!(STATES as readonly string[]).includes(state)) throw new CloudError('FL_ERR_API_BAD_PARAM', `state=${JSON.stringify(state)}: expected one of ${STATES.join(', ')}`);
  if (q.severity !== undefined && !(SEVERITIES as readonly string[]).includes(q.severity)) {
    throw new CloudError('FL_ERR_API_BAD_PARAM', `severity=${JSON.stringify(q.severity)}: expected one of ${SEVERITIES.join(', ')}`);
  }
  const limit = parseLimit(q.limit, 100, 1_000);
  const params: unknown[] = [];
  const where: string[] = [];
  const eq = (column: string, value: string | undefined): void => {
    if (value === undefined) return;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  };
  if (state !== 'all') eq('state', state);
  eq('rule_id', q.rule_id);
  eq('gateway_id', q.gateway);
  eq('device_id', q.device);
  eq('severity', q.severity);
  if (q.cursor !== undefined) {
    const c = decodeAlertsCursor(q.cursor);
    params.push(c.us, c.id);
    const n = params.length;
    where.push(`(started_at, id COLLATE "C") < (timestamptz 'epoch' + $${n - 1}::float8 * INTERVAL '1 microsecond', $${n}::text COLLATE "C")`);
  }
  params.push(limit + 1);
  const r = await db.query<AlertRow & { us: number | string | bigint }>(
    `SELECT ${ALERT_COLUMNS}, (extract(epoch FROM started_at) * 1000000)::int8 AS us
       FROM alerts
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY started_at DESC, id COLLATE "C" DESC
      LIMIT $${params.length}`,
    params,
  );
  const page = r.rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    alerts: page.map(alertView),
    next_cursor: r.rows.length > limit && last ? encodeAlertsCursor({ us: Number(last.us), id: last.id }) : null,
  };
}

interface Cursor {
  /** started_at in microseconds since the epoch: the database's own precision, so the bound is exact. */
  us: number;
  id: string;
}

const CURSOR_VERSION = 1;

function encodeAlertsCursor(c: Cursor): string {
  return encodeCursor(CURSOR_VERSION, [c.us, c.id]);
}

function decodeAlertsCursor(text: string): Cursor {
  const [us, id] = decodeCursor(text, CURSOR_VERSION, 2);
  if (typeof us !== 'number' || !Number.isSafeInteger(us)) throw badCursor('bad time');
  if (typeof id !== 'string' || id.includes('\u0000')) throw badCursor('bad id');
  return { us, id };
}

// --- acknowledging --------------------------------------------------------------------------------

/** The optional body of an ack: nothing, or {"note": "…"}. */
function ackNote(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) throw new CloudError('FL_ERR_API_BAD_REQUEST', 'the body is a JSON object {"note"?: string}, or nothing');
  const { note, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new CloudError('FL_ERR_API_BAD_REQUEST', `unknown key ${JSON.stringify(extra[0])}; the body is {"note"?: string}`);
  if (note === undefined) return undefined;
  if (typeof note !== 'string' || note.length > MAX_NOTE) throw new CloudError('FL_ERR_API_BAD_REQUEST', `note: expected a string of at most ${MAX_NOTE} characters`);
  return note;
}

/**
 * Sets acked_by and acked_at once and records the `acknowledged` event with it; an alert already
 * acknowledged is returned as it is, with no second event.
 */
async function acknowledge(db: Db, id: string, subject: string, note: string | undefined, nowMs: number): Promise<AlertRow> {
  return db.transaction(async (tx) => {
    const at = new Date(nowMs);
    const r = await tx.query<AlertRow>(
      `UPDATE alerts SET acked_by = $2, acked_at = $3, updated_at = $3 WHERE id = $1 AND acked_at IS NULL RETURNING ${ALERT_COLUMNS}`,
      [id, subject, at],
    );
    const row = r.rows[0];
    if (!row) {
      const existing = (await tx.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1`, [id])).rows[0];
      if (!existing) throw new CloudError('FL_ERR_API_ALERT_NOT_FOUND', id);
      return existing;
    }
    const event = await recordEvent(tx, 'acknowledged', row, await eventRule(tx, row.rule_id), nowMs);
    if (note !== undefined) await addNote(tx, event, note);
    return row;
  });
}

/** The rule's name and webhook for the event; a deleted rule's webhook is not called any more. */
async function eventRule(tx: DbTx, ruleId: string): Promise<{ name: string; webhook?: Receiver }> {
  const r = await tx.query<{ rule: { name: string; webhook?: Receiver }; deleted: boolean }>(
    `SELECT rule, deleted_at IS NOT NULL AS deleted FROM alert_rules WHERE id = $1`,
    [ruleId],
  );
  const row = r.rows[0];
  if (!row) return { name: ruleId };
  return { name: row.rule.name, ...(row.rule.webhook && !row.deleted ? { webhook: row.rule.webhook } : {}) };
}

/**
 * The operator's note goes with the event: on iot.alerts and in the webhook body, both written
 * just now in this transaction. recordEvent has no place for it, so both are rewritten with it.
 */
async function addNote(tx: DbTx, event: AlertEvent, note: string): Promise<void> {
  const payload = JSON.stringify({ ...event, note });
  await tx.query(`UPDATE alert_events SET payload = $2::jsonb WHERE event_id = $1`, [event.event_id, payload]);
  await tx.query(`UPDATE webhook_deliveries SET body = $2 WHERE event_id = $1`, [event.event_id, payload]);
}
