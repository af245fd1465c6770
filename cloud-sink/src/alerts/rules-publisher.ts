// The API's side of alert rules (docs/ARCHITECTURE.md, "Alert rules: the database, iot.rules and
// the evaluator's table"). The database is the truth: each change is one transaction that bumps the
// rule's version. The compacted rules topic is how evaluators learn of it: every row whose
// published_version is behind its version is produced there (key = rule id, value = the full rule
// or a tombstone), and marked published only after Kafka confirmed it. A change the API makes is
// published at once; the periodic sync catches whatever that missed (Kafka down, a crash between
// commit and publish), so no change stays unpublished.
import { randomBytes } from 'node:crypto';
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { StageCounters } from '../../../common/src/metrics.js';
import { DeliveredProducer, markDelivered, SyncLoop } from '../consume/durable-publish.js';
import type { KafkaSettings } from '../consume/group-consumer.js';
import { CloudError } from '../errors.js';
import type { Db, DbTx } from '../store/db.js';
import { ALERT_COLUMNS, recordEvent, type AlertRow } from './events.js';
import { parseRule, type Rule } from './rule.js';

/** The header that carries the version on every message of the rules topic, tombstones included. */
export const RULE_VERSION_HEADER = 'rule-version';

/** The stage this publisher counts under on /metrics. */
export const PUBLISH_STAGE = 'rules_publish';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `r_` and 12 base32 characters (60 random bits): short, URL-safe, never reused. */
export function newRuleId(): string {
  const bytes = randomBytes(12);
  let id = 'r_';
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

/** The message a rule is on the topic: the full rule (secret included, the evaluator signs with it), or null once deleted. */
export function ruleMessage(rule: Rule, deleted: boolean): { key: string; value: Buffer | null; headers: Kafka.MessageHeader[] } {
  return {
    key: rule.id,
    value: deleted ? null : Buffer.from(JSON.stringify(rule)),
    headers: [{ [RULE_VERSION_HEADER]: String(rule.version) }],
  };
}

export interface RuleBookOptions {
  db: Db;
  kafka: KafkaSettings;
  /** alerts.rulesTopic. */
  topic: string;
  log: Logger;
  /** How often the sync looks for rows not yet on the topic (alerts.rulesSyncMs). */
  syncMs: number;
  /**
   * How long an API change waits for its own publish before it answers anyway (default 2 s). Not
   * waited for at all while the last publish failed: the database has the change, the sync sends it.
   */
  publishWaitMs?: number;
  /** librdkafka's message.timeout.ms: a delivery not confirmed by then fails the run (default 10 s). */
  deliveryTimeoutMs?: number;
  counters?: StageCounters;
  now?: () => number;
}

export interface RuleBookStats {
  state: 'stopped' | 'idle' | 'up' | 'down';
  /** Messages (rules and tombstones) Kafka confirmed. */
  published: number;
  /** Sync runs that failed; each is retried after syncMs. */
  failedRuns: number;
  lastError: string;
  lastSyncMs: number | null;
}

interface RuleRow {
  id: string;
  rule: Omit<Rule, 'version'>;
  version: number | string;
  published_version: number | string;
  deleted_at: Date | null;
}

const RULE_COLUMNS = 'id, rule, version, published_version, deleted_at';
/** Most rows one sync run publishes; a run that found this many runs again at once. */
const SYNC_BATCH = 500;

function toRule(row: RuleRow): Rule {
  return { ...row.rule, id: row.id, version: Number(row.version) } as Rule;
}

export class RuleBook {
  readonly stats: RuleBookStats = { state: 'stopped', published: 0, failedRuns: 0, lastError: '', lastSyncMs: null };
  private readonly out: DeliveredProducer;
  private readonly sync: SyncLoop;
  private readonly now: () => number;

  constructor(private readonly opts: RuleBookOptions) {
    this.now = opts.now ?? Date.now;
    this.out = new DeliveredProducer({ kafka: opts.kafka, clientId: 'fieldline-rules-publisher', deliveryTimeoutMs: opts.deliveryTimeoutMs, now: this.now });
    this.sync = new SyncLoop({
      run: () => this.syncOnce(),
      syncMs: opts.syncMs,
      publishWaitMs: opts.publishWaitMs,
      stats: this.stats,
      log: opts.log,
      recoveredMessage: 'rule publishing recovered',
      failedMessage: 'rule changes could not be published; the sync keeps trying (the database has them)',
      onSuccess: () => {
        this.stats.lastSyncMs = this.now();
      },
      onError: () => opts.counters?.count(PUBLISH_STAGE, 'errors'),
      dropProducer: () => this.out.close(),
    });
  }

  // --- reads ------------------------------------------------------------------------------------

  /** Every rule not deleted, oldest first. */
  async list(): Promise<Rule[]> {
    const r = await this.opts.db.query<RuleRow>(`SELECT ${RULE_COLUMNS} FROM alert_rules WHERE deleted_at IS NULL ORDER BY created_at, id COLLATE "C"`);
    return r.rows.map(toRule);
  }

  /** The rule, or null when there is none or it was deleted. */
  async get(id: string): Promise<Rule | null> {
    const r = await this.opts.db.query<RuleRow>(`SELECT ${RULE_COLUMNS} FROM alert_rules WHERE id = $1 AND deleted_at IS NULL`, [id]);
    const row = r.rows[0];
    return row ? toRule(row) : null;
  }

  // --- changes ----------------------------------------------------------------------------------

  /** Adds a rule under a new id (a body `id` is refused: the server names rules). Throws FL_ERR_API_BAD_RULE. */
  async create(input: unknown): Promise<Rule> {
    const id = newRuleId();
    const body = prepareBody(input, undefined);
    if (isObject(input) && input.id !== undefined) body.problems.push('id: the server names a new rule; leave id out');
    const rule = checked(parseRule(body.body, id, 1), body.problems);
    const at = new Date(this.now());
    await this.opts.db.query(
      `INSERT INTO alert_rules (id, name, rule, enabled, created_at, updated_at, version, published_version)
       VALUES ($1, $2, $3::jsonb, $4, $5, $5, 1, 0)`,
      [id, rule.name, JSON.stringify(stored(rule)), rule.enabled, at],
    );
    this.opts.counters?.count(PUBLISH_STAGE, 'received');
    await this.publishSoon();
    return rule;
  }

  /**
   * Replaces a rule whole (PUT), version + 1. A body `version` must be the current one (else
   * FL_ERR_API_RULE_CONFLICT). The webhook secret, which the API never shows, is kept when the body
   * names the same URL without one; `"has_secret": false` drops it. Disabling resolves the rule's
   * firing alerts in the same transaction.
   */
  async replace(id: string, input: unknown): Promise<Rule> {
    const rule = await this.opts.db.transaction(async (tx) => {
      const current = await lockRule(tx, id);
      const before = toRule(current);
      if (isObject(input) && input.version !== undefined && input.version !== before.version) {
        throw new CloudError('FL_ERR_API_RULE_CONFLICT', `${id} is at version ${before.version}, the body names ${JSON.stringify(input.version)}`);
      }
      const body = prepareBody(input, before);
      const next = checked(parseRule(body.body, id, before.version + 1), body.problems);
      const nowMs = this.now();
      await tx.query(
        `UPDATE alert_rules SET name = $2, rule = $3::jsonb, enabled = $4, version = $5, updated_at = $6 WHERE id = $1`,
        [id, next.name, JSON.stringify(stored(next)), next.enabled, next.version, new Date(nowMs)],
      );
      if (before.enabled && !next.enabled) await resolveFiring(tx, next, 'the rule was disabled', nowMs);
      return next;
    });
    this.opts.counters?.count(PUBLISH_STAGE, 'received');
    await this.publishSoon();
    return rule;
  }

  /**
   * Deletes a rule: the row stays, marked deleted, so its tombstone can be published (and sent again
   * should an older version ever land after it); its firing alerts are resolved with it.
   */
  async remove(id: string): Promise<void> {
    await this.opts.db.transaction(async (tx) => {
      const rule = toRule(await lockRule(tx, id));
      const nowMs = this.now();
      await tx.query(`UPDATE alert_rules SET deleted_at = $2, updated_at = $2, enabled = false, version = version + 1 WHERE id = $1`, [id, new Date(nowMs)]);
      await resolveFiring(tx, rule, 'the rule was deleted', nowMs);
    });
    this.opts.counters?.count(PUBLISH_STAGE, 'received');
    await this.publishSoon();
  }

  // --- publishing -------------------------------------------------------------------------------

  /** Starts the sync: a run now, then every syncMs and after each change. */
  start(): void {
    this.sync.start();
  }

  /** Waits for the run in progress; rules not yet published stay in the database for the next start. */
  stop(): Promise<void> {
    return this.sync.stop();
  }

  /** Resolves once a sync run that started after this call has finished (or after timeoutMs). */
  syncNow(timeoutMs = 30_000): Promise<void> {
    return this.sync.syncNow(timeoutMs);
  }

  /**
   * After a change: so a caller usually gets its answer once the evaluators can see the change.
   * Never fails: the change is in the database either way.
   */
  private publishSoon(): Promise<void> {
    return this.sync.publishSoon();
  }

  /**
   * Publishes every row behind its version. Returns true when there may be more. A row is marked
   * published only if it still holds the version sent, compared and set in one statement; one whose
   * version moved on while the message was in flight is marked behind instead, so its newest state
   * is sent again and ends up last on the compacted topic, whatever order two publishers' messages
   * landed in.
   */
  private async syncOnce(): Promise<boolean> {
    const { db } = this.opts;
    const r = await db.query<RuleRow>(
      `SELECT ${RULE_COLUMNS} FROM alert_rules WHERE published_version < version ORDER BY updated_at, id COLLATE "C" LIMIT ${SYNC_BATCH}`,
    );
    if (r.rows.length === 0) return false;
    await this.out.connect();
    const deliveries = r.rows.map((row) => {
      const m = ruleMessage(toRule(row), row.deleted_at !== null);
      return this.out.produce(this.opts.topic, m.key, m.value, m.headers);
    });
    const results = await Promise.all(deliveries);
    const firstError = await markDelivered(r.rows, results, async (row) => {
      this.stats.published++;
      this.opts.counters?.count(PUBLISH_STAGE, 'sent');
      const version = Number(row.version);
      const marked = await db.query(
        `UPDATE alert_rules SET published_version = $2 WHERE id = $1 AND version = $2 AND published_version = $3 RETURNING id`,
        [row.id, version, Number(row.published_version)],
      );
      if (marked.rows.length === 0) {
        await db.query(`UPDATE alert_rules SET published_version = LEAST(published_version, 0) - 1 WHERE id = $1 AND version <> $2`, [row.id, version]);
      }
    });
    if (firstError) throw new CloudError('FL_ERR_RULES_PUBLISH', firstError.message, { cause: firstError });
    return r.rows.length === SYNC_BATCH;
  }
}

// --- helpers ----------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The rule as alert_rules.rule holds it: the version lives in its own column. */
function stored(rule: Rule): Omit<Rule, 'version'> {
  const { version: _version, ...rest } = rule;
  return rest;
}

function checked(parsed: ReturnType<typeof parseRule>, extra: string[]): Rule {
  const problems = [...extra, ...(parsed.ok ? [] : parsed.problems)];
  if (problems.length > 0 || !parsed.ok) throw new CloudError('FL_ERR_API_BAD_RULE', `\n${problems.map((p) => `- ${p}`).join('\n')}`);
  return parsed.rule;
}

/**
 * Takes out what a GET answer holds that a body may not (version, webhook.has_secret), so a rule
 * read, edited and sent back is accepted, and puts the stored secret back where the body keeps the
 * same webhook URL without one.
 */
function prepareBody(input: unknown, current: Rule | undefined): { body: unknown; problems: string[] } {
  if (!isObject(input)) return { body: input, problems: [] };
  const problems: string[] = [];
  const { version: _version, ...body } = input;
  if (current === undefined && _version !== undefined) problems.push('version: the server numbers versions; leave it out');
  const hook = body.webhook;
  if (isObject(hook)) {
    const { has_secret: hasSecret, ...rest } = hook;
    if (hasSecret !== undefined && typeof hasSecret !== 'boolean') problems.push('webhook.has_secret: expected a boolean');
    const keep = current?.webhook?.secret !== undefined && current.webhook.url === rest.url;
    if (rest.secret === undefined && hasSecret !== false && keep) rest.secret = current!.webhook!.secret;
    else if (rest.secret === undefined && hasSecret === true) problems.push('webhook.has_secret: no secret is stored for this URL; send webhook.secret');
    body.webhook = rest;
  }
  return { body, problems };
}

async function lockRule(tx: DbTx, id: string): Promise<RuleRow> {
  const r = await tx.query<RuleRow>(`SELECT ${RULE_COLUMNS} FROM alert_rules WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, [id]);
  const row = r.rows[0];
  if (!row) throw new CloudError('FL_ERR_API_RULE_NOT_FOUND', id);
  return row;
}

/**
 * Resolves the rule's firing alerts now, saying why, with a `resolved` event for each (its webhook
 * included) in the caller's transaction. The evaluator would never resolve them: it no longer
 * judges the rule.
 */
async function resolveFiring(tx: DbTx, rule: Rule, why: string, nowMs: number): Promise<number> {
  const at = new Date(nowMs);
  const r = await tx.query<AlertRow>(
    `UPDATE alerts SET state = 'resolved', resolved_at = $2, resolved_late = false, updated_at = $2, message = $3::text || message
      WHERE rule_id = $1 AND state = 'firing'
      RETURNING ${ALERT_COLUMNS}`,
    [rule.id, at, `resolved: ${why}; was: `],
  );
  for (const row of r.rows) await recordEvent(tx, 'resolved', row, rule, nowMs);
  return r.rows.length;
}
