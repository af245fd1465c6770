// /v1/rules and /v1/alerts (DESIGN.md "Cloud API"). Rules go through the RuleBook (the database,
// then iot.rules); alerts are read from the database, and an acknowledgement is recorded there with
// its event, like every other change of an alert (alerts/events.ts).
import type { FastifyInstance } from 'fastify';
import { ALERT_COLUMNS, alertView, recordEvent, type AlertEvent, type AlertRow, type Receiver } from '../alerts/events.js';
import { ruleBodyJsonSchema, ruleView, type Rule } from '../alerts/rule.js';
import type { RuleBook } from '../alerts/rules-publisher.js';
import { CloudError } from '../errors.js';
import type { Db, DbTx } from '../store/db.js';
import { fleetFilter, guard, principalOf } from './access.js';
import type { Principal, Scope } from './auth.js';
import { ERROR_RESPONSES, idParams, isoTime, nullableIsoTime, pageQuery, text } from './schemas.js';
import type { ApiDeps } from './server.js';
import { badCursor, decodeCursor, encodeCursor } from '../store/cursor.js';

export interface AlertApiDeps {
  rules: RuleBook;
  db: Db;
  now?: () => number;
}

const STATES = ['firing', 'resolved', 'all'] as const;
const SEVERITIES = ['info', 'warning', 'critical'] as const;
const MAX_NOTE = 1_000;

interface Query {
  state?: (typeof STATES)[number];
  severity?: (typeof SEVERITIES)[number];
  rule_id?: string;
  gateway?: string;
  device?: string;
  limit?: number;
  cursor?: string;
}

/** Registers the routes when `deps.alerts` is set; without it they answer 404 like any unknown path. */
export function registerAlertRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const alerts = deps.alerts;
  if (!alerts) return;
  const now = alerts.now ?? Date.now;
  const guarded = (scope: Scope) => guard(deps.auth, scope);

  // --- rules --------------------------------------------------------------------------------------

  app.get('/v1/rules', { onRequest: guarded('read:fleet'), schema: RULES_LIST }, async (req) => {
    const p = principalOf(req);
    return { rules: (await alerts.rules.list()).filter((r) => ruleVisible(p, r)).map(ruleView) };
  });

  app.post('/v1/rules', { onRequest: guarded('write:rules'), schema: RULE_WRITE, attachValidation: true }, async (req, reply) => {
    fleetMayWrite(principalOf(req), req.body);
    const rule = await alerts.rules.create(req.body);
    return reply.status(201).header('location', `/v1/rules/${encodeURIComponent(rule.id)}`).send(ruleView(rule));
  });

  app.get<{ Params: { id: string } }>('/v1/rules/:id', { onRequest: guarded('read:fleet'), schema: RULE_ONE }, async (req) =>
    ruleView(await found(alerts.rules, req.params.id, principalOf(req))),
  );

  app.put<{ Params: { id: string } }>('/v1/rules/:id', { onRequest: guarded('write:rules'), schema: { ...RULE_WRITE, params: idParams, summary: 'Replace a rule' }, attachValidation: true }, async (req) => {
    const p = principalOf(req);
    fleetMayChange(p, await found(alerts.rules, req.params.id, p));
    fleetMayWrite(p, req.body);
    return ruleView(await alerts.rules.replace(req.params.id, req.body));
  });

  app.delete<{ Params: { id: string } }>('/v1/rules/:id', { onRequest: guarded('write:rules'), schema: RULE_DELETE }, async (req, reply) => {
    const p = principalOf(req);
    if (p.fleet !== null) fleetMayChange(p, await found(alerts.rules, req.params.id, p));
    await alerts.rules.remove(req.params.id);
    return reply.status(204).send();
  });

  // --- alerts -------------------------------------------------------------------------------------

  app.get<{ Querystring: Query }>('/v1/alerts', { onRequest: guarded('read:fleet'), schema: ALERTS_LIST }, async (req) =>
    listAlerts(alerts.db, req.query, fleetFilter(principalOf(req))),
  );

  app.get<{ Params: { id: string } }>('/v1/alerts/:id', { onRequest: guarded('read:fleet'), schema: ALERT_ONE }, async (req) => {
    const r = await alerts.db.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1`, [req.params.id]);
    const row = r.rows[0];
    if (!row || !alertVisible(principalOf(req), row)) throw new CloudError('FL_ERR_API_ALERT_NOT_FOUND', req.params.id);
    return alertView(row);
  });

  app.post<{ Params: { id: string } }>('/v1/alerts/:id/ack', { onRequest: guarded('write:rules'), schema: ALERT_ACK }, async (req) => {
    const p = principalOf(req);
    const note = ackNote(req.body);
    return alertView(await acknowledge(alerts.db, req.params.id, p, note, now()));
  });
}

// --- the fleet claim ------------------------------------------------------------------------------
// Rules are not owned by a fleet. A token limited to one sees the rules that target one of its
// gateways and those that target every gateway (they apply to its gateways too), and may create,
// change or delete only rules that name one of its gateways: a rule over every gateway would reach
// into other fleets.

function ruleVisible(p: Principal, rule: Rule): boolean {
  return p.fleet === null || rule.target.gateway === undefined || p.fleet.has(rule.target.gateway);
}

function fleetMayChange(p: Principal, rule: Rule): void {
  if (p.fleet !== null && rule.target.gateway === undefined) {
    throw new CloudError('FL_ERR_AUTH_SCOPE', 'a token limited to a fleet may change only rules that name one of its gateways (target.gateway)');
  }
}

/** Before parseRule: a fleet-limited token's rule must name one of its gateways. */
function fleetMayWrite(p: Principal, body: unknown): void {
  if (p.fleet === null) return;
  const target = (body as { target?: { gateway?: unknown } } | null)?.target;
  const gw = typeof target === 'object' && target !== null ? target.gateway : undefined;
  if (typeof gw !== 'string' || !p.fleet.has(gw)) {
    throw new CloudError('FL_ERR_API_BAD_RULE', 'target.gateway: a token limited to a fleet must name one of its gateways');
  }
}

function alertVisible(p: Principal, row: AlertRow): boolean {
  return p.fleet === null || (row.gateway_id !== null && p.fleet.has(row.gateway_id));
}

async function found(rules: RuleBook, id: string, p: Principal): Promise<Rule> {
  const rule = await rules.get(id);
  if (!rule || !ruleVisible(p, rule)) throw new CloudError('FL_ERR_API_RULE_NOT_FOUND', id);
  return rule;
}

// --- listing --------------------------------------------------------------------------------------

interface Page {
  alerts: Record<string, unknown>[];
  next_cursor: string | null;
}

/** Newest first by (started_at, id); the cursor is the last row's key, so a page boundary never skips or repeats an alert. */
async function listAlerts(db: Db, q: Query, fleet: string[] | null): Promise<Page> {
  const state = q.state ?? 'firing';
  const limit = q.limit ?? 100;
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
  if (fleet !== null) {
    params.push(fleet);
    where.push(`gateway_id = ANY($${params.length}::text[])`);
  }
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
async function acknowledge(db: Db, id: string, p: Principal, note: string | undefined, nowMs: number): Promise<AlertRow> {
  return db.transaction(async (tx) => {
    const existing = (await tx.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1 FOR UPDATE`, [id])).rows[0];
    if (!existing || !alertVisible(p, existing)) throw new CloudError('FL_ERR_API_ALERT_NOT_FOUND', id);
    if (existing.acked_at !== null) return existing;
    const at = new Date(nowMs);
    const r = await tx.query<AlertRow>(
      `UPDATE alerts SET acked_by = $2, acked_at = $3, updated_at = $3 WHERE id = $1 RETURNING ${ALERT_COLUMNS}`,
      [id, p.subject || 'unknown', at],
    );
    const row = r.rows[0]!;
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

// --- schemas --------------------------------------------------------------------------------------

const RULE = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    target: {
      type: 'object',
      properties: { device: { type: 'string' }, device_pattern: { type: 'string' }, metric: { type: 'string' }, gateway: { type: 'string' } },
    },
    params: { type: 'object', additionalProperties: true },
    severity: { type: 'string', enum: [...SEVERITIES] },
    enabled: { type: 'boolean' },
    version: { type: 'integer' },
    webhook: { type: 'object', properties: { url: { type: 'string' }, has_secret: { type: 'boolean' } } },
  },
} as const;

const RULES_LIST = {
  tags: ['rules'],
  summary: 'Every alert rule the token may see',
  response: { 200: { type: 'object', properties: { rules: { type: 'array', items: RULE } } }, ...ERROR_RESPONSES },
};

const RULE_ONE = { tags: ['rules'], summary: 'One rule', params: idParams, response: { 200: RULE, ...ERROR_RESPONSES } };

/** The body is checked by parseRule (zod, every problem named); the schema documents it. */
const RULE_WRITE = {
  tags: ['rules'],
  summary: 'Create a rule',
  body: ruleBodyJsonSchema(),
  response: { 200: RULE, 201: RULE, ...ERROR_RESPONSES },
};

const RULE_DELETE = {
  tags: ['rules'],
  summary: 'Delete a rule (its firing alerts resolve)',
  params: idParams,
  response: { 204: { type: 'null', description: 'deleted' }, ...ERROR_RESPONSES },
};

const ALERT = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    rule_id: { type: 'string' },
    target: { type: 'object', properties: { device: { type: 'string' }, metric: { type: 'string' }, gateway: { type: 'string' } } },
    state: { type: 'string', enum: ['firing', 'resolved'] },
    severity: { type: 'string' },
    value: { type: ['number', 'null'] },
    started_at: isoTime,
    resolved_at: nullableIsoTime,
    acked_by: { type: ['string', 'null'] },
    acked_at: nullableIsoTime,
    message: { type: ['string', 'null'] },
    late: { type: 'boolean' },
    resolved_late: { type: 'boolean' },
    raised_at: nullableIsoTime,
  },
} as const;

const ALERTS_LIST = {
  tags: ['alerts'],
  summary: 'Alerts, newest first',
  querystring: {
    type: 'object',
    properties: {
      state: { type: 'string', enum: [...STATES], default: 'firing' },
      severity: { type: 'string', enum: [...SEVERITIES] },
      rule_id: text(256),
      gateway: text(256),
      device: text(256),
      ...pageQuery(1_000),
    },
  },
  response: {
    200: { type: 'object', properties: { alerts: { type: 'array', items: ALERT }, next_cursor: { type: ['string', 'null'] } } },
    ...ERROR_RESPONSES,
  },
};

const ALERT_ONE = { tags: ['alerts'], summary: 'One alert', params: idParams, response: { 200: ALERT, ...ERROR_RESPONSES } };

const ALERT_ACK = {
  tags: ['alerts'],
  summary: 'Acknowledge an alert (once; again changes nothing)',
  params: idParams,
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: { note: { type: 'string', maxLength: MAX_NOTE } },
  },
  response: { 200: ALERT, ...ERROR_RESPONSES },
};
