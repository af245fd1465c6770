// The evaluator's table of alert rules, read from the compacted rules topic (docs/ARCHITECTURE.md,
// "Alert rules: the database, iot.rules and the evaluator's table").
//
// Every evaluator reads the whole topic, so this is no consumer-group member: it assigns itself
// every partition from the beginning and never commits. Per rule id it keeps the highest version
// seen; an older version (a replay, a publisher that lost a race) never replaces a newer one, and a
// tombstone deletes the rule and is remembered with its version so an older value cannot bring the
// rule back.
//
// Lifecycle guarantees, which the evaluator relies on:
// - ready() resolves once the table holds everything that was on the topic when it first reached
//   Kafka (the high watermarks taken then), so no reading is judged before the rules are known.
//   It waits, logging why, while Kafka or the topic is missing.
// - After that the table keeps following the topic: librdkafka rides out a broker that goes away
//   and comes back, and a consumer that fails for good is replaced and reads from the beginning
//   again (versions make the replay harmless).
// - onChange listeners run for each change that took effect, after `version` moved.
// - A message that is no rule is counted and skipped, never fatal.
import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { headerText } from '../consume/dlq.js';
import { GroupConsumer, sleep, type KafkaSettings } from '../consume/group-consumer.js';
import { CloudError } from '../errors.js';
import type { WorkerTallies } from '../metrics.js';
import { RULE_VERSION_HEADER } from './rules-publisher.js';
import { parseRule, type Rule } from './rule.js';

/** librdkafka's RD_KAFKA_OFFSET_BEGINNING: the oldest offset the partition still holds. */
const OFFSET_BEGINNING = -2;

export interface RulesTableOptions {
  kafka: KafkaSettings;
  /** alerts.rulesTopic. */
  topic: string;
  log: Logger;
  clientId?: string;
}

export interface RulesTableStats {
  state: 'stopped' | 'connecting' | 'loading' | 'up' | 'down';
  ready: boolean;
  /** Messages read from the topic (a replay after a reconnection counts again). */
  messages: number;
  /** Messages that changed the table. */
  applied: number;
  /** Messages whose version was not newer than the one held (replays, late publishers). */
  stale: number;
  /** Messages that are no rule (bad JSON, a rule the schema refuses, no key or version). */
  invalid: number;
  /** Kafka failures ridden out. */
  kafkaErrors: number;
  lastError: string;
}

export type RuleListener = (rule: Rule | null, id: string) => void;

export class RulesTable {
  readonly stats: RulesTableStats = { state: 'stopped', ready: false, messages: 0, applied: 0, stale: 0, invalid: 0, kafkaErrors: 0, lastError: '' };
  private readonly table = new Map<string, Rule>();
  /** Versions of deleted rules, so an older value replayed after the tombstone stays deleted. */
  private readonly deleted = new Map<string, number>();
  private enabled: Map<string, Rule> | null = null;
  private readonly listeners = new Set<RuleListener>();
  private changes = 0;
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private consumer: Kafka.KafkaConsumer | null = null;
  /** Per partition: the high watermark when Kafka first answered, and the next offset to read. */
  private targets: Map<number, number> | null = null;
  private readonly position = new Map<number, number>();
  private readonly readyPromise: Promise<void>;
  private markReady!: () => void;
  private failReady!: (err: Error) => void;

  constructor(private readonly opts: RulesTableOptions) {
    this.readyPromise = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    // Rejected only by a stop before ready; nobody need be waiting for that to be harmless.
    this.readyPromise.catch(() => undefined);
  }

  /** Bumps on every change of the table: an evaluator rebuilds its index when it moves. */
  get version(): number {
    return this.changes;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stats.state = 'connecting';
    this.loopDone = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loopDone;
    this.stats.state = 'stopped';
    if (!this.stats.ready) this.failReady(new CloudError('FL_ERR_RULES_TOPIC', 'the rules table was stopped before it had read the topic'));
  }

  /** Resolves once the table holds what the topic held at start; rejects if stop() comes first. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  /** The enabled rules by id. */
  rules(): ReadonlyMap<string, Rule> {
    if (!this.enabled) this.enabled = new Map([...this.table].filter(([, r]) => r.enabled));
    return this.enabled;
  }

  /** Every rule held, disabled ones included. */
  all(): ReadonlyMap<string, Rule> {
    return this.table;
  }

  get(id: string): Rule | undefined {
    return this.table.get(id);
  }

  /** Calls `fn` after each change: the new rule (maybe disabled), or null when it was deleted. Returns an unsubscribe. */
  onChange(fn: RuleListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** For /metrics (stage `rules`), like the fleet workers'. */
  tallies(): WorkerTallies {
    const s = this.stats;
    return { stage: 'rules', received: s.messages, sent: s.applied, dropped: { stale: s.stale, invalid: s.invalid }, errors: s.kafkaErrors };
  }

  /**
   * Applies one message of the topic: key = rule id, value = the rule's JSON or null, header
   * rule-version. Returns what it did. Public so the evaluator's tests can feed a table directly.
   */
  apply(key: string | null, value: Buffer | null, headers: readonly Kafka.MessageHeader[] | undefined): 'applied' | 'stale' | 'invalid' {
    const why = (reason: string): 'invalid' => {
      this.stats.invalid++;
      this.opts.log.warn({ key, reason }, new CloudError('FL_ERR_RULES_BAD_MESSAGE', reason).message);
      return 'invalid';
    };
    if (!key) return why('the message has no key (a rule id)');
    if (value === null) {
      const header = headerText(headers, RULE_VERSION_HEADER);
      const version = header === undefined ? undefined : Number(header);
      if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) return why(`a tombstone whose ${RULE_VERSION_HEADER} header is ${JSON.stringify(header)}`);
      const held = this.table.get(key)?.version ?? this.deleted.get(key) ?? 0;
      // A tombstone without a version deletes whatever is held: it can only have come from outside
      // the publisher (an operator clearing a key), and means the rule is gone.
      if (version !== undefined && version <= held) return this.stale();
      if (version !== undefined) this.deleted.set(key, version);
      if (this.table.delete(key)) {
        this.changed(null, key);
        return 'applied';
      }
      if (version === undefined) return this.stale();
      // A rule this table never held: nothing to tell the listeners, but its version is kept.
      this.stats.applied++;
      return 'applied';
    }
    let json: unknown;
    try {
      json = JSON.parse(value.toString('utf8'));
    } catch {
      return why('the value is not JSON');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return why('the value is not a JSON object');
    const { version, ...body } = json as Record<string, unknown>;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return why(`version ${JSON.stringify(version)} is not a positive integer`);
    if (body.id !== key) return why(`the value's id ${JSON.stringify(body.id)} is not the key`);
    const parsed = parseRule(body, key, version);
    if (!parsed.ok) return why(parsed.problems.join('; '));
    const held = this.table.get(key)?.version ?? this.deleted.get(key) ?? 0;
    if (version <= held) return this.stale();
    this.deleted.delete(key);
    this.table.set(key, parsed.rule);
    this.changed(parsed.rule, key);
    return 'applied';
  }

  private stale(): 'stale' {
    this.stats.stale++;
    return 'stale';
  }

  private changed(rule: Rule | null, id: string): void {
    this.stats.applied++;
    this.changes++;
    this.enabled = null;
    for (const fn of this.listeners) {
      try {
        fn(rule, id);
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message, id }, 'a rules-table listener threw');
      }
    }
  }

  // --- Kafka ------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    let attempt = 0;
    let warned = false;
    while (!this.stopped) {
      try {
        const consumer = await this.connect();
        const partitions = await this.partitions(consumer);
        if (!this.targets) {
          this.targets = await this.highWatermarks(consumer, partitions);
          this.opts.log.info({ topic: this.opts.topic, ends: Object.fromEntries(this.targets) }, 'rules table loading');
        }
        // From the beginning every time, also after a reconnection: versions make the replay a no-op.
        consumer.assign(partitions.map((partition) => ({ topic: this.opts.topic, partition, offset: OFFSET_BEGINNING })));
        attempt = 0;
        warned = false;
        this.stats.state = this.stats.ready ? 'up' : 'loading';
        this.checkReady();
        await this.consumeLoop(consumer);
      } catch (err) {
        this.noteError(err as Error, !warned);
        warned = true;
        await this.disconnect();
        if (!this.stopped) await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt++, 5)));
      }
    }
    await this.disconnect();
  }

  private async connect(): Promise<Kafka.KafkaConsumer> {
    const consumer = new Kafka.KafkaConsumer(
      {
        ...GroupConsumer.clientConfig(this.opts.kafka),
        // librdkafka wants a group id even for a consumer that only assigns; this one never joins
        // the group nor commits, so a fresh one per table keeps it out of anyone's way.
        'group.id': `fieldline-rules-table-${randomBytes(6).toString('hex')}`,
        'client.id': this.opts.clientId ?? 'fieldline-rules-table',
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'enable.partition.eof': true,
        // A missing rules topic is a deployment error to report, not one to paper over with a
        // topic that is not compacted.
        'allow.auto.create.topics': false,
        'socket.keepalive.enable': true,
      } as Kafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.on('partition.eof', (eof) => {
      if (eof.topic !== this.opts.topic) return;
      this.advance(eof.partition, eof.offset);
    });
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 5_000 }, (err) => (err ? reject(err) : resolve())));
    this.consumer = consumer;
    consumer.setDefaultConsumeTimeout(100);
    return consumer;
  }

  private async partitions(consumer: Kafka.KafkaConsumer): Promise<number[]> {
    const md = await new Promise<Kafka.Metadata>((resolve, reject) =>
      consumer.getMetadata({ topic: this.opts.topic, timeout: 5_000 }, (err, m) => (err ? reject(err) : resolve(m))),
    );
    const ids = (md.topics.find((t) => t.name === this.opts.topic)?.partitions ?? []).map((p) => p.id).sort((a, b) => a - b);
    if (ids.length === 0) {
      throw new CloudError('FL_ERR_RULES_TOPIC', `topic ${this.opts.topic} does not exist; create it compacted (cleanup.policy=compact)`);
    }
    return ids;
  }

  private async highWatermarks(consumer: Kafka.KafkaConsumer, partitions: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (const p of partitions) {
      const w = await new Promise<Kafka.WatermarkOffsets>((resolve, reject) =>
        consumer.queryWatermarkOffsets(this.opts.topic, p, 5_000, (err, o) => (err ? reject(err) : resolve(o))),
      );
      out.set(p, w.highOffset);
    }
    return out;
  }

  private async consumeLoop(consumer: Kafka.KafkaConsumer): Promise<void> {
    while (!this.stopped) {
      let messages: Kafka.Message[];
      try {
        messages = await new Promise<Kafka.Message[]>((resolve, reject) => consumer.consume(256, (err, msgs) => (err ? reject(err) : resolve(msgs))));
      } catch (err) {
        if ((err as Kafka.LibrdKafkaError).isFatal) throw err;
        this.noteError(err as Error, this.stats.state !== 'down');
        this.stats.state = 'down';
        await sleep(500);
        continue;
      }
      if (this.stats.state === 'down') {
        this.opts.log.info({ topic: this.opts.topic }, 'rules table reading again');
      }
      this.stats.state = this.stats.ready ? 'up' : 'loading';
      for (const m of messages) {
        if (m.topic !== this.opts.topic) continue;
        this.stats.messages++;
        const key = m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key.toString('utf8') : String(m.key);
        this.apply(key, m.value ?? null, m.headers);
        this.advance(m.partition, m.offset + 1);
      }
    }
  }

  private advance(partition: number, next: number): void {
    if (next > (this.position.get(partition) ?? -1)) this.position.set(partition, next);
    this.checkReady();
  }

  private checkReady(): void {
    if (this.stats.ready || !this.targets) return;
    for (const [p, end] of this.targets) {
      if (end > 0 && (this.position.get(p) ?? 0) < end) return;
    }
    this.stats.ready = true;
    this.stats.state = 'up';
    this.opts.log.info({ topic: this.opts.topic, rules: this.table.size }, 'rules table ready');
    this.markReady();
  }

  private noteError(err: Error, log: boolean): void {
    this.stats.kafkaErrors++;
    this.stats.lastError = err.message;
    if (log) this.opts.log.warn({ err: err.message, topic: this.opts.topic }, 'rules topic unavailable; the rules table keeps trying');
    if (this.stats.state !== 'stopped') this.stats.state = 'down';
  }

  private async disconnect(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    if (c) await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}
