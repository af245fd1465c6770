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
import { ALERT_COLUMNS, recordEvents, type AlertRow, type Receiver } from './events.js';

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
  // Each step is one statement whatever the number of rows: on a server every statement is a
  // round trip, and a checkpoint that took longer would carry more changes the next time.
  const topics = [...part.offsets.keys()];
  const found = new Map<string, number>();
  const cur = await tx.query<{ topic: string; next_offset: string | number }>(
    `SELECT topic, next_offset FROM evaluator_offsets WHERE grp = $1 AND partition = $2 AND topic = ANY($3::text[]) FOR UPDATE`,
    [group, part.partition, topics],
  );
  for (const r of cur.rows) found.set(r.topic, Number(r.next_offset));
  for (const topic of topics) {
    if ((found.get(topic) ?? null) !== (part.stored.get(topic) ?? null)) throw new Fenced(part.partition, topic);
  }
  const moved = topics.filter((t) => found.get(t) !== part.offsets.get(t));
  if (moved.length > 0) {
    await tx.query(
      `INSERT INTO evaluator_offsets (grp, topic, partition, next_offset, updated_at)
       SELECT $1, u.topic, $2, u.next_offset, $4 FROM unnest($3::text[], $5::int8[]) AS u(topic, next_offset)
       ON CONFLICT (grp, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at`,
      [group, part.partition, moved, new Date(nowMs), moved.map((t) => part.offsets.get(t)!)],
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
  const adopted = new Map<string, string>();
  let events = 0;
  for (const round of rounds(part.actions)) {
    const changed = [...(await insertFirings(tx, round.fires, nowMs, adopted)), ...(await applyResolutions(tx, round.resolves, adopted, nowMs))];
    await recordEvents(tx, changed.map(({ type, alert }) => ({ type, alert, rule: ruleInfo(alert.rule_id) })), nowMs);
    events += changed.length;
  }
  return { events, adopted };
}

type Fire = Extract<AlertAction, { kind: 'fire' }>;
type Resolve = Extract<AlertAction, { kind: 'resolve' }>;

/**
 * The actions in runs where no series appears twice, in order: a series that fired and resolved
 * (and fired again) within one checkpoint needs its steps applied one after the other, but
 * different series' can go in one statement.
 */
function* rounds(actions: readonly AlertAction[]): Generator<{ fires: Fire[]; resolves: Resolve[] }> {
  let seen = new Set<string>();
  let round = { fires: [] as Fire[], resolves: [] as Resolve[] };
  for (const a of actions) {
    if (seen.has(a.key)) {
      yield round;
      seen = new Set();
      round = { fires: [], resolves: [] };
    }
    seen.add(a.key);
    if (a.kind === 'fire') round.fires.push(a);
    else round.resolves.push(a);
  }
  if (round.fires.length + round.resolves.length > 0) yield round;
}

/**
 * Inserts the firings; one whose (rule, target) already has an open alert (one the database kept
 * across a lost checkpoint of ours, say) adopts that alert instead of raising a second one.
 */
async function insertFirings(tx: DbTx, fires: Fire[], nowMs: number, adopted: Map<string, string>): Promise<Array<{ type: 'firing'; alert: AlertRow }>> {
  if (fires.length === 0) return [];
  const inserted = await tx.query<AlertRow>(
    `INSERT INTO alerts (id, rule_id, target_key, gateway_id, device_id, metric, state, severity, value, message, started_at, raised_at, late, updated_at)
     SELECT u.id, u.rule_id, u.target_key, u.gateway_id, u.device_id, u.metric, 'firing', u.severity, u.value, u.message,
            timestamptz 'epoch' + u.started_ms * INTERVAL '1 millisecond', $13, u.late, $13
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[], $10::float8[], $11::bool[], $12::int4[])
            AS u(id, rule_id, target_key, gateway_id, device_id, metric, severity, value, message, started_ms, late, n)
      ORDER BY u.n
     ON CONFLICT (rule_id, target_key) WHERE state = 'firing' DO NOTHING
     RETURNING ${ALERT_COLUMNS}`,
    [
      fires.map((a) => a.alertId), fires.map((a) => a.ruleId), fires.map((a) => a.targetKey),
      fires.map((a) => a.target.gateway ?? null), fires.map((a) => a.target.device ?? null), fires.map((a) => a.target.metric ?? null),
      fires.map((a) => a.severity), fires.map((a) => a.value), fires.map((a) => a.message), fires.map((a) => a.startedAt), fires.map((a) => a.late),
      fires.map((_, i) => i), new Date(nowMs),
    ],
  );
  const byId = new Map(inserted.rows.map((r) => [r.id, r]));
  const refused = fires.filter((a) => !byId.has(a.alertId));
  if (refused.length > 0) {
    const open = await tx.query<{ id: string; rule_id: string; target_key: string }>(
      `SELECT a.id, a.rule_id, a.target_key FROM alerts a JOIN unnest($1::text[], $2::text[]) AS u(rule_id, target_key)
          ON a.rule_id = u.rule_id AND a.target_key = u.target_key WHERE a.state = 'firing'`,
      [refused.map((a) => a.ruleId), refused.map((a) => a.targetKey)],
    );
    const openBy = new Map(open.rows.map((r) => [`${r.rule_id}\u001f${r.target_key}`, r.id]));
    for (const a of refused) {
      const id = openBy.get(`${a.ruleId}\u001f${a.targetKey}`);
      if (id) adopted.set(a.alertId, id);
    }
  }
  return fires.flatMap((a) => (byId.has(a.alertId) ? [{ type: 'firing' as const, alert: byId.get(a.alertId)! }] : []));
}

async function applyResolutions(tx: DbTx, resolves: Resolve[], adopted: ReadonlyMap<string, string>, nowMs: number): Promise<Array<{ type: 'resolved'; alert: AlertRow }>> {
  if (resolves.length === 0) return [];
  const ids = resolves.map((a) => adopted.get(a.alertId) ?? a.alertId);
  const updated = await tx.query<AlertRow>(
    `UPDATE alerts a SET state = 'resolved', resolved_at = timestamptz 'epoch' + u.at_ms * INTERVAL '1 millisecond', resolved_late = u.late,
            value = coalesce(u.value, a.value), message = a.message || '; resolved: ' || u.detail, updated_at = $6
       FROM unnest($1::text[], $2::float8[], $3::bool[], $4::float8[], $5::text[]) AS u(id, at_ms, late, value, detail)
      WHERE a.id = u.id AND a.state = 'firing'
      RETURNING ${ALERT_COLUMNS.split(', ').map((c) => `a.${c}`).join(', ')}`,
    [ids, resolves.map((a) => a.resolvedAt), resolves.map((a) => a.late), resolves.map((a) => a.value), resolves.map((a) => a.detail), new Date(nowMs)],
  );
  // In the order the evaluator resolved them, so their events' seqs follow it.
  const byId = new Map(updated.rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => (byId.has(id) ? [{ type: 'resolved' as const, alert: byId.get(id)! }] : []));
}

/** After a committed checkpoint: memory and database agree again. */
export function checkpointed(part: PartitionState): void {
  for (const [topic, next] of part.offsets) part.stored.set(topic, next);
  part.dirty.clear();
  part.removed.clear();
  part.actions.length = 0;
}

export const newAlertId = (): string => randomUUID();
