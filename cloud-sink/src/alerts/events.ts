// Alerts as rows, as the API shows them, and as events. Every change of an alert (firing, resolved,
// acknowledged) is recorded with recordEvent inside the transaction that makes the change: the
// event row (published to iot.alerts by the relay) and one webhook delivery per receiver commit
// with it or not at all, so no event is lost and none describes a change that did not happen.
import { randomUUID } from 'node:crypto';
import type { DbTx } from '../store/db.js';

export type AlertState = 'firing' | 'resolved';
export type EventType = 'firing' | 'resolved' | 'acknowledged';

/** A row of `alerts` (times as Date, as pg and PGlite return timestamptz). */
export interface AlertRow {
  id: string;
  rule_id: string;
  target_key: string;
  gateway_id: string | null;
  device_id: string | null;
  metric: string | null;
  state: AlertState;
  severity: string;
  value: number | null;
  message: string;
  started_at: Date;
  raised_at: Date;
  late: boolean;
  resolved_at: Date | null;
  resolved_late: boolean | null;
  acked_by: string | null;
  acked_at: Date | null;
}

export const ALERT_COLUMNS =
  'id, rule_id, target_key, gateway_id, device_id, metric, state, severity, value, message, started_at, raised_at, late, resolved_at, resolved_late, acked_by, acked_at';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The alert as GET /v1/alerts shows it (DESIGN.md "Cloud API", alert), plus `late` and `raised_at`. */
export function alertView(a: AlertRow): Record<string, unknown> {
  return {
    id: a.id,
    rule_id: a.rule_id,
    target: {
      ...(a.gateway_id !== null ? { gateway: a.gateway_id } : {}),
      ...(a.device_id !== null ? { device: a.device_id } : {}),
      ...(a.metric !== null ? { metric: a.metric } : {}),
    },
    state: a.state,
    severity: a.severity,
    value: a.value,
    started_at: iso(a.started_at),
    resolved_at: iso(a.resolved_at),
    acked_by: a.acked_by,
    acked_at: iso(a.acked_at),
    message: a.message,
    late: a.late,
    ...(a.resolved_late !== null ? { resolved_late: a.resolved_late } : {}),
    raised_at: iso(a.raised_at),
  };
}

/** What iot.alerts carries and a webhook receives: `event_id` is the receiver's deduplication key. */
export interface AlertEvent {
  event_id: string;
  type: EventType;
  /** When it happened: the readings' time for firing and resolved, the operator's for acknowledged. */
  at: string;
  /** When the cloud recorded it. */
  emitted_at: string;
  /** Raised or resolved from readings that reached the cloud after the fact (a drained backlog). */
  late: boolean;
  rule_name: string;
  alert: Record<string, unknown>;
}

export interface Receiver {
  url: string;
  secret?: string;
}

export interface EventToRecord {
  type: EventType;
  /** The alert's row as it is after the change. */
  alert: AlertRow;
  rule: { name: string; webhook?: Receiver };
}

/**
 * Records one event of `alert` (its row as it is after the change) in the outbox, and queues it for
 * `webhook` when the rule has one. Returns the event.
 */
export async function recordEvent(tx: DbTx, type: EventType, alert: AlertRow, rule: { name: string; webhook?: Receiver }, nowMs: number): Promise<AlertEvent> {
  return (await recordEvents(tx, [{ type, alert, rule }], nowMs))[0]!;
}

/**
 * recordEvent for several changes in two statements, in the given order (their seqs follow it):
 * the evaluator's checkpoints record a second's worth at once, and on a server each statement is a
 * round trip.
 */
export async function recordEvents(tx: DbTx, items: readonly EventToRecord[], nowMs: number): Promise<AlertEvent[]> {
  if (items.length === 0) return [];
  const events = items.map(({ type, alert, rule }) => {
    const at = type === 'firing' ? alert.started_at : type === 'resolved' ? (alert.resolved_at ?? new Date(nowMs)) : (alert.acked_at ?? new Date(nowMs));
    const late = type === 'firing' ? alert.late : type === 'resolved' ? alert.resolved_late === true : false;
    const event: AlertEvent = {
      event_id: randomUUID(),
      type,
      at: at.toISOString(),
      emitted_at: new Date(nowMs).toISOString(),
      late,
      rule_name: rule.name,
      alert: alertView(alert),
    };
    return event;
  });
  const payloads = events.map((e) => JSON.stringify(e));
  await tx.query(
    `INSERT INTO alert_events (event_id, alert_id, rule_id, type, payload, created_at)
     SELECT u.event_id, u.alert_id, u.rule_id, u.type, u.payload::jsonb, $6
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(event_id, alert_id, rule_id, type, payload, n)
      ORDER BY u.n`,
    [events.map((e) => e.event_id), items.map((i) => i.alert.id), items.map((i) => i.alert.rule_id), items.map((i) => i.type), payloads, new Date(nowMs)],
  );
  const hooks = items.flatMap((item, i) => (item.rule.webhook ? [{ i, hook: item.rule.webhook }] : []));
  if (hooks.length > 0) {
    await tx.query(
      `INSERT INTO webhook_deliveries (event_id, rule_id, url, secret, body, next_attempt_at, created_at)
       SELECT u.event_id, u.rule_id, u.url, u.secret, u.body, $6, $6
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(event_id, rule_id, url, secret, body)`,
      [
        hooks.map(({ i }) => events[i]!.event_id),
        hooks.map(({ i }) => items[i]!.alert.rule_id),
        hooks.map(({ hook }) => hook.url),
        hooks.map(({ hook }) => hook.secret ?? null),
        hooks.map(({ i }) => payloads[i]!),
        new Date(nowMs),
      ],
    );
  }
  return events;
}
