// What the alerting tests share: rules made the way the API makes them, a rule table a test fills
// by hand (for tests of the evaluator alone), gateway traffic encoded exactly as a gateway encodes
// it, and the alerts as the database holds them.
import assert from 'node:assert/strict';
import type { RuleSource } from '../../cloud-sink/src/alerts/evaluator.js';
import { parseRule, type Rule } from '../../cloud-sink/src/alerts/rule.js';
import type { DbTx } from '../../cloud-sink/src/store/db.js';
import { encodeBatch, encodeHeartbeat, SCHEMA_VERSION, type EncodedMessage, type Reading } from '../../proto/src/wire.js';
import { heartbeat } from '../fleet/support.js';

export function makeRule(id: string, body: Record<string, unknown>, version = 1): Rule {
  const r = parseRule({ name: id, ...body }, id, version);
  assert.ok(r.ok, `rule ${id} is valid: ${r.ok ? '' : r.problems.join('; ')}`);
  return r.rule;
}

/** A rule table the test writes to directly, standing in for iot.rules. */
export class StaticRules implements RuleSource {
  private readonly map = new Map<string, Rule>();
  version = 0;

  constructor(rules: Rule[] = []) {
    for (const r of rules) this.put(r);
  }

  async ready(): Promise<void> {}

  rules(): ReadonlyMap<string, Rule> {
    return this.map;
  }

  put(rule: Rule): void {
    this.map.set(rule.id, rule);
    this.version++;
  }
}

/** A gateway's traffic: batches with increasing seqs, heartbeats with its interval. */
export class FakeGateway {
  private seq = 0;

  constructor(readonly gatewayId: string, readonly intervalMs: number) {}

  batch(readings: Reading[]): EncodedMessage {
    this.seq++;
    return encodeBatch({ gatewayId: this.gatewayId, seq: this.seq, createdMs: Date.now(), readings, schemaVersion: SCHEMA_VERSION });
  }

  heartbeat(tsMs: number, outbox: { depth: number; oldestAgeMs: number } = { depth: 0, oldestAgeMs: 0 }, over: Parameters<typeof heartbeat>[2] = {}): EncodedMessage {
    return encodeHeartbeat(
      heartbeat(this.gatewayId, tsMs, {
        intervalMs: this.intervalMs,
        outboxDepth: outbox.depth,
        outboxOldestAgeMs: outbox.oldestAgeMs,
        adapters: [{ name: 'mqtt', state: 'up', detail: '', counters: {} }],
        loss: { rateLimited: 0, quarantined: 0, evicted: 0 },
        ...over,
      }),
    );
  }
}

export interface StoredAlert {
  id: string;
  rule_id: string;
  device_id: string | null;
  gateway_id: string | null;
  metric: string | null;
  state: string;
  started_at: number;
  resolved_at: number | null;
  late: boolean;
  resolved_late: boolean | null;
  message: string;
}

export async function alertsOf(db: DbTx, ruleIds: string[]): Promise<StoredAlert[]> {
  const r = await db.query<Omit<StoredAlert, 'started_at' | 'resolved_at'> & { started_at: Date; resolved_at: Date | null }>(
    `SELECT id, rule_id, device_id, gateway_id, metric, state, started_at, resolved_at, late, resolved_late, message
       FROM alerts WHERE rule_id = ANY($1::text[]) ORDER BY started_at, id`,
    [ruleIds],
  );
  return r.rows.map((a) => ({ ...a, started_at: a.started_at.getTime(), resolved_at: a.resolved_at?.getTime() ?? null }));
}

export async function eventsOf(db: DbTx, ruleIds: string[]): Promise<Array<{ alert_id: string; type: string; event_id: string }>> {
  const r = await db.query<{ alert_id: string; type: string; event_id: string }>(
    `SELECT alert_id, type, event_id FROM alert_events WHERE rule_id = ANY($1::text[]) ORDER BY seq`,
    [ruleIds],
  );
  return r.rows;
}
