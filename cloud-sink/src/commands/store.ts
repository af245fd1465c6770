// The commands table's statements. Every status change is one UPDATE whose WHERE names the statuses
// it may move from (wire.ts PREDECESSORS), so two sink processes applying events or sweeping at
// once never move a row twice or backwards: the second waits for the first's row lock, then finds
// the row no longer matches.
import { randomUUID } from 'node:crypto';
import { CloudError } from '../errors.js';
import type { Db } from '../store/db.js';
import { PREDECESSORS, type CommandMessage, type CommandStatus, type StatusEvent, type WriteValue } from './wire.js';

export interface NewCommand {
  deviceId: string;
  gatewayId: string;
  name: string;
  payload?: unknown;
  tag?: string;
  value?: WriteValue;
  expiresInS: number;
  createdBy: string;
}

export interface CommandRow {
  id: string;
  device_id: string;
  gateway_id: string;
  name: string;
  payload: unknown;
  tag: string | null;
  value: unknown;
  status: CommandStatus;
  error: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  expires_at: Date;
  sent_at: Date | null;
  event_pending: 'queued' | 'expired' | null;
}

const COLUMNS = 'id, device_id, gateway_id, name, payload, tag, value, status, error, created_by, created_at, updated_at, expires_at, sent_at, event_pending';

/** What applying one status event did. */
export type ApplyOutcome = 'applied' | 'duplicate' | 'backwards' | 'unknown' | 'wrong_gateway';

export interface ListQuery {
  deviceId: string;
  status?: CommandStatus | undefined;
  /** Rows strictly older than this (created_at µs, id) key: the previous page's last. */
  before?: { us: number; id: string } | undefined;
  limit: number;
}

/** The reason an expired command carries (wire: `error`, `FL_ERR_…: message`). */
export const EXPIRED_REASON = `FL_ERR_COMMANDS_EXPIRED: ${new CloudError('FL_ERR_COMMANDS_EXPIRED', 'still queued at its expiry (the gateway offline, or not reading commands)').message}`;

export class CommandStore {
  constructor(readonly db: Db) {}

  /** Inserts a new command, queued, with its `queued` event owed. */
  async create(c: NewCommand, nowMs: number): Promise<CommandRow> {
    const at = new Date(nowMs);
    const r = await this.db.query<CommandRow>(
      `INSERT INTO commands (id, device_id, gateway_id, name, payload, tag, value, status, created_by, created_at, updated_at, expires_at, event_pending)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, 'queued', $8, $9, $9, $10, 'queued')
       RETURNING ${COLUMNS}`,
      [
        randomUUID(), c.deviceId, c.gatewayId, c.name,
        c.payload === undefined ? null : JSON.stringify(c.payload), c.tag ?? null, c.value === undefined ? null : JSON.stringify(c.value),
        c.createdBy, at, new Date(nowMs + c.expiresInS * 1000),
      ],
    );
    return r.rows[0]!;
  }

  async get(id: string): Promise<CommandRow | null> {
    const r = await this.db.query<CommandRow>(`SELECT ${COLUMNS} FROM commands WHERE id = $1`, [id]);
    return r.rows[0] ?? null;
  }

  /** The device's commands, newest first by (created_at, id); one more than `limit` tells the caller there is a next page. */
  async list(q: ListQuery): Promise<(CommandRow & { us: string | number })[]> {
    const r = await this.db.query<CommandRow & { us: string | number }>(
      `SELECT ${COLUMNS}, (extract(epoch FROM created_at) * 1000000)::int8 AS us FROM commands
        WHERE device_id = $1
          AND ($2::text IS NULL OR status = $2)
          AND ($3::float8 IS NULL OR (created_at, id COLLATE "C") < (timestamptz 'epoch' + $3::float8 * INTERVAL '1 microsecond', $4::text COLLATE "C"))
        ORDER BY created_at DESC, id COLLATE "C" DESC
        LIMIT $5`,
      [q.deviceId, q.status ?? null, q.before?.us ?? null, q.before?.id ?? null, q.limit],
    );
    return r.rows;
  }

  /**
   * Moves the command forward to the event's status, or leaves it (and says why). The event must
   * come from the gateway the command was sent to: another gateway cannot have received it.
   */
  async apply(e: StatusEvent, nowMs: number): Promise<ApplyOutcome> {
    const from = PREDECESSORS[e.status];
    if (from.length > 0) {
      const r = await this.db.query(
        `UPDATE commands SET status = $2, error = COALESCE($3, error), updated_at = $4
          WHERE id = $1 AND gateway_id = $5 AND status = ANY($6::text[])
          RETURNING id`,
        [e.id, e.status, e.error ?? null, new Date(nowMs), e.gateway_id, from],
      );
      if (r.rows.length > 0) return 'applied';
    }
    const row = await this.db.query<{ status: CommandStatus; gateway_id: string }>(`SELECT status, gateway_id FROM commands WHERE id = $1`, [e.id]);
    const cur = row.rows[0];
    if (!cur) return 'unknown';
    if (cur.gateway_id !== e.gateway_id) return 'wrong_gateway';
    return cur.status === e.status ? 'duplicate' : 'backwards';
  }

  /**
   * Marks every command still queued `graceMs` past its expiry as expired, with its event owed;
   * returns the ids this call expired (a concurrent sweeper gets the others).
   */
  async expireDue(nowMs: number, graceMs: number): Promise<string[]> {
    const r = await this.db.query<{ id: string }>(
      `UPDATE commands SET status = 'expired', error = $3, updated_at = $1, event_pending = 'expired'
        WHERE status = 'queued' AND expires_at <= $2
        RETURNING id`,
      [new Date(nowMs), new Date(nowMs - graceMs), EXPIRED_REASON],
    );
    return r.rows.map((x) => x.id);
  }

  /**
   * Rows Kafka still lacks something of: a queued command not yet on the commands topic (and not
   * expired by the clock: the sweep expires it instead of sending it), or an owed status event.
   */
  async unpublished(nowMs: number, limit: number): Promise<CommandRow[]> {
    const r = await this.db.query<CommandRow>(
      `SELECT ${COLUMNS} FROM commands
        WHERE (sent_at IS NULL AND status = 'queued') OR event_pending IS NOT NULL
        ORDER BY created_at, id COLLATE "C"
        LIMIT $1`,
      [limit],
    );
    return r.rows.filter((row) => row.event_pending !== null || row.expires_at.getTime() > nowMs);
  }

  async markSent(id: string, nowMs: number): Promise<void> {
    await this.db.query(`UPDATE commands SET sent_at = $2 WHERE id = $1 AND sent_at IS NULL`, [id, new Date(nowMs)]);
  }

  /** Clears the owed event, unless the row owes a newer one by now (queued, then expired while the first was in flight). */
  async markEventPublished(id: string, status: 'queued' | 'expired'): Promise<void> {
    await this.db.query(`UPDATE commands SET event_pending = NULL WHERE id = $1 AND event_pending = $2`, [id, status]);
  }
}

/** The iot.commands message of a row. */
export function commandMessage(row: CommandRow): CommandMessage {
  const m: CommandMessage = {
    id: row.id, gateway_id: row.gateway_id, device_id: row.device_id, name: row.name,
    created_ms: row.created_at.getTime(), expires_ms: row.expires_at.getTime(),
  };
  if (row.payload !== null && row.payload !== undefined) m.payload = row.payload;
  if (row.tag !== null) m.tag = row.tag;
  if (row.value !== null && row.value !== undefined) m.value = row.value as WriteValue;
  return m;
}

/** The iot.command-status event the cloud owes for a row. */
export function cloudStatusEvent(row: CommandRow, status: 'queued' | 'expired'): StatusEvent {
  const e: StatusEvent = {
    id: row.id, device_id: row.device_id, gateway_id: row.gateway_id, status,
    ts_ms: (status === 'queued' ? row.created_at : row.updated_at).getTime(),
  };
  if (status === 'expired' && row.error) e.error = row.error;
  return e;
}
