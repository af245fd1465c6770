// The evaluator's memory, one partition number at a time, and how it reaches the database.
//
// A checkpoint is one transaction holding, for one partition: the next Kafka offset of each of the
// evaluator's topics that the state reflects, the state entries that changed, and the alert changes
// the readings caused, with their events. So after a crash the evaluator resumes from exactly what
// the database says, and a reading is never counted twice nor an alert raised twice. The offsets
// double as a fence: a checkpoint that finds them moved by someone else (the partition went to
// another evaluator meanwhile) commits nothing.
import { randomUUID } from 'node:crypto';
import type { DbTx } from '../store/db.js';
import { ALERT_COLUMNS, recordEvent, type AlertRow, type Receiver } from './events.js';

/** An alert the evaluator holds open for a series. */
export interface OpenAlert {
  id: string;
  startedAt: number;
}

/** One alert change waiting for the next checkpoint. */
export type AlertAction =
  | {
      kind: 'fire';
      key: string;
      alertId: string;
      ruleId: string;
      targetKey: string;
      target: { gateway?: string; device?: string; metric?: string };
      severity: string;
      value: number | null;
      message: string;
      startedAt: number;
      late: boolean;
    }
  | { kind: 'resolve'; key: string; alertId: string; ruleId: string; resolvedAt: number; late: boolean; value: number | null; detail: string };

export class Fenced extends Error {
  constructor(readonly partition: number, topic: string) {
    super(`partition ${partition} of ${topic} was checkpointed by another evaluator`);
  }
}

/** Everything the evaluator keeps for one partition number across its topics. */
export class PartitionState {
  /** State entries by key (see evaluator.ts for the key scheme); plain JSON values. */
  readonly entries = new Map<string, Record<string, unknown>>();
  readonly dirty = new Set<string>();
  readonly removed = new Set<string>();
  readonly actions: AlertAction[] = [];
  /** Next offset per topic that memory reflects. */
  readonly offsets = new Map<string, number>();
  /** Next offset per topic as the database holds it (null: no row yet), for the fence. */
  readonly stored = new Map<string, number | null>();
  /** Per topic, when a check last found this evaluator at the partition's end. */
  readonly caughtUpAt = new Map<string, number>();

  constructor(readonly partition: number) {}

  get<T extends object>(key: string): T | undefined {
    return this.entries.get(key) as T | undefined;
  }

  set(key: string, value: object): void {
    this.entries.set(key, value as Record<string, unknown>);
    this.touch(key);
  }

  touch(key: string): void {
    this.dirty.add(key);
    this.removed.delete(key);
  }

  delete(key: string): void {
    if (this.entries.delete(key)) {
      this.removed.add(key);
      this.dirty.delete(key);
    }
  }

  /** Whether memory is ahead of the database. */
  get changed(): boolean {
    if (this.dirty.size > 0 || this.removed.size > 0 || this.actions.length > 0) return true;
    for (const [topic, next] of this.offsets) if (this.stored.get(topic) !== next) return true;
    return false;
  }
}

export async function loadPartition(tx: DbTx, group: string, partition: number, topics: readonly string[]): Promise<PartitionState> {
  const part = new PartitionState(partition);
  const offsets = await tx.query<{ topic: string; next_offset: string | number }>(
    `SELECT topic, next_offset FROM evaluator_offsets WHERE grp = $1 AND partition = $2 AND topic = ANY($3::text[])`,
    [group, partition, topics],
  );
  for (const t of topics) part.stored.set(t, null);
  for (const r of offsets.rows) {
    part.stored.set(r.topic, Number(r.next_offset));
    part.offsets.set(r.topic, Number(r.next_offset));
  }
  const entries = await tx.query<{ key: string; state: Record<string, unknown> | string }>(
    `SELECT key, state FROM evaluator_state WHERE grp = $1 AND partition = $2`,
    [group, partition],
  );
  for (const r of entries.rows) part.entries.set(r.key, typeof r.state === 'string' ? (JSON.parse(r.state) as Record<string, unknown>) : r.state);
  return part;
}

export interface RuleInfo {
  name: string;
  webhook?: Receiver;
}

/**
 * Writes `part`'s changes in `tx`. Returns how many events it recorded. Throws Fenced when another
 * evaluator checkpointed the partition since this one loaded it.
 */
export async function writeCheckpoint(
  tx: DbTx,
  group: string,
  part: PartitionState,
  ruleInfo: (ruleId: string) => RuleInfo,
  nowMs: number,
): Promise<{ events: number; adopted: Map<string, string> }> {
  for (const [topic, next] of part.offsets) {
    const expected = part.stored.get(topic) ?? null;
    const cur = await tx.query<{ next_offset: string | number }>(
      `SELECT next_offset FROM evaluator_offsets WHERE grp = $1 AND topic = $2 AND partition = $3 FOR UPDATE`,
      [group, topic, part.partition],
    );
    const found = cur.rows[0] ? Number(cur.rows[0].next_offset) : null;
    if (found !== expected) throw new Fenced(part.partition, topic);
    if (found === next) continue;
    await tx.query(
      `INSERT INTO evaluator_offsets (grp, topic, partition, next_offset, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (grp, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at`,
      [group, topic, part.partition, next, new Date(nowMs)],
    );
  }
  if (part.dirty.size > 0) {
    const keys = [...part.dirty];
    await tx.query(
      `INSERT INTO evaluator_state (grp, partition, key, state)
       SELECT $1, $2, u.k, u.s::jsonb FROM unnest($3::text[], $4::text[]) AS u(k, s)
       ON CONFLICT (grp, partition, key) DO UPDATE SET state = excluded.state`,
      [group, part.partition, keys, keys.map((k) => JSON.stringify(part.entries.get(k)))],
    );
  }
  if (part.removed.size > 0) {
    await tx.query(`DELETE FROM evaluator_state WHERE grp = $1 AND partition = $2 AND key = ANY($3::text[])`, [group, part.partition, [...part.removed]]);
  }
  // A firing whose (rule, target) already has an open alert (one the database kept across a lost
  // checkpoint of ours, say) adopts that alert instead of raising a second one.
  const adopted = new Map<string, string>();
  let events = 0;
  for (const a of part.actions) {
    if (a.kind === 'fire') {
      const inserted = await tx.query<AlertRow>(
        `INSERT INTO alerts (id, rule_id, target_key, gateway_id, device_id, metric, state, severity, value, message, started_at, raised_at, late, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'firing', $7, $8, $9, $10, $11, $12, $11)
         ON CONFLICT (rule_id, target_key) WHERE state = 'firing' DO NOTHING
         RETURNING ${ALERT_COLUMNS}`,
        [a.alertId, a.ruleId, a.targetKey, a.target.gateway ?? null, a.target.device ?? null, a.target.metric ?? null, a.severity, a.value, a.message, new Date(a.startedAt), new Date(nowMs), a.late],
      );
      const row = inserted.rows[0];
      if (row) {
        await recordEvent(tx, 'firing', row, ruleInfo(a.ruleId), nowMs);
        events++;
      } else {
        const open = await tx.query<{ id: string }>(`SELECT id FROM alerts WHERE rule_id = $1 AND target_key = $2 AND state = 'firing'`, [a.ruleId, a.targetKey]);
        if (open.rows[0]) adopted.set(a.alertId, open.rows[0].id);
      }
    } else {
      const id = adopted.get(a.alertId) ?? a.alertId;
      const updated = await tx.query<AlertRow>(
        `UPDATE alerts SET state = 'resolved', resolved_at = $2, resolved_late = $3, value = coalesce($4, value),
                message = message || '; resolved: ' || $5, updated_at = $6
          WHERE id = $1 AND state = 'firing'
          RETURNING ${ALERT_COLUMNS}`,
        [id, new Date(a.resolvedAt), a.late, a.value, a.detail, new Date(nowMs)],
      );
      if (updated.rows[0]) {
        await recordEvent(tx, 'resolved', updated.rows[0], ruleInfo(a.ruleId), nowMs);
        events++;
      }
    }
  }
  return { events, adopted };
}

/** After a committed checkpoint: memory and database agree again. */
export function checkpointed(part: PartitionState): void {
  for (const [topic, next] of part.offsets) part.stored.set(topic, next);
  part.dirty.clear();
  part.removed.clear();
  part.actions.length = 0;
}

export const newAlertId = (): string => randomUUID();
