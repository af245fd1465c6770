// The API's side of gateway configs (docs/ARCHITECTURE.md, "Config from the cloud"), built like
// alerts/rules-publisher.ts: the database is the truth and the compacted topic how gateways learn
// of it. A PUT is one transaction that numbers the version (per gateway, under an advisory lock, so
// two API processes cannot hand out the same number) and stores it unpublished; the sync then
// produces each gateway's newest unpublished version and marks it, and every older one, published
// once Kafka confirmed it. A PUT asks for a sync at once and waits for it briefly; the periodic sync
// catches what that missed (Kafka down, a crash between commit and publish).
//
// Only the newest version per gateway is produced: the topic is compacted to one per key anyway,
// and a gateway applies only the newest it finds. Should two API processes' messages land out of
// order (an older version last), the newest row is marked unpublished again and goes once more, so
// the last message of a key is always its newest version.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { StageCounters } from '../../../common/src/metrics.js';
import { configPartition, type CloudConfigMessage } from '../../../gateway/src/cloud-config/message.js';
import { DeliveredProducer, markDelivered, SyncLoop } from '../consume/durable-publish.js';
import type { KafkaSettings } from '../consume/group-consumer.js';
import { CloudError } from '../errors.js';
import type { Db } from '../store/db.js';
import type { ConfigBody } from './body.js';

/** The stage this publisher counts under on /metrics. */
export const CONFIG_PUBLISH_STAGE = 'config_publish';

export interface ConfigBookOptions {
  db: Db;
  kafka: KafkaSettings;
  /** gatewayConfig.topic. */
  topic: string;
  /** gatewayConfig.syncMs. */
  syncMs: number;
  log: Logger;
  /** How long a PUT waits for its own publish before answering anyway (default 2 s). */
  publishWaitMs?: number;
  /** librdkafka's message.timeout.ms (default 10 s). */
  deliveryTimeoutMs?: number;
  counters?: StageCounters;
}

export interface IssuedConfig {
  gatewayId: string;
  version: number;
  section: string | null;
  issuedAt: Date;
  issuedBy: string;
  /** Kafka confirmed it (or a newer version) before the answer. */
  published: boolean;
}

export interface ConfigBookStats {
  state: 'stopped' | 'idle' | 'up' | 'down';
  published: number;
  failedRuns: number;
  lastError: string;
}

interface Row {
  gateway_id: string;
  version: number | string;
  section: string | null;
  config: Record<string, unknown> | string;
  issued_at: Date;
  issued_by: string;
}

/** The message a stored version is on the topic. */
export function configMessage(row: Row): CloudConfigMessage {
  const config = typeof row.config === 'string' ? (JSON.parse(row.config) as Record<string, unknown>) : row.config;
  return {
    gateway_id: row.gateway_id,
    version: Number(row.version),
    issued_ms: row.issued_at.getTime(),
    issued_by: row.issued_by,
    ...(row.section ? { section: row.section as NonNullable<CloudConfigMessage['section']> } : {}),
    config,
  };
}

export class GatewayConfigBook {
  readonly stats: ConfigBookStats = { state: 'stopped', published: 0, failedRuns: 0, lastError: '' };
  private readonly out: DeliveredProducer;
  private readonly sync: SyncLoop;

  constructor(private readonly opts: ConfigBookOptions) {
    this.out = new DeliveredProducer({ kafka: opts.kafka, clientId: 'fieldline-config-publisher', deliveryTimeoutMs: opts.deliveryTimeoutMs });
    this.sync = new SyncLoop({
      log: opts.log,
      recoveredMessage: 'gateway config publishing recovered',
      failedMessage: 'gateway configs could not be published; the sync keeps trying (the database has them)',
      stats: this.stats,
      onError: () => opts.counters?.count(CONFIG_PUBLISH_STAGE, 'errors'),
      run: () => this.syncOnce(),
      dropProducer: () => this.out.close(),
      syncMs: opts.syncMs,
      // While Kafka is known to be down, a PUT answers at once: the sync sends the version later.
      publishWaitMs: opts.publishWaitMs,
    });
  }

  /** Stores a new version of the gateway's config; answers once it is published, or after publishWaitMs. */
  async issue(gatewayId: string, body: ConfigBody, issuedBy: string): Promise<IssuedConfig> {
    const row = await this.opts.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('gateway_configs'), hashtext($1))`, [gatewayId]);
      const r = await tx.query<{ version: number | string; issued_at: Date }>(
        `INSERT INTO gateway_configs (gateway_id, version, section, config, issued_at, issued_by)
         SELECT $1, coalesce(max(version), 0) + 1, $2, $3::jsonb, now(), $4 FROM gateway_configs WHERE gateway_id = $1
         RETURNING version, issued_at`,
        [gatewayId, body.section ?? null, JSON.stringify(body.config), issuedBy],
      );
      return r.rows[0]!;
    });
    this.opts.counters?.count(CONFIG_PUBLISH_STAGE, 'received');
    const version = Number(row.version);
    await this.sync.publishSoon();
    const published = await this.isPublished(gatewayId, version);
    return { gatewayId, version, section: body.section ?? null, issuedAt: row.issued_at, issuedBy, published };
  }

  /** The newest version issued per gateway (all gateways, or the ones named). */
  async desiredVersions(gatewayIds?: readonly string[]): Promise<Map<string, number>> {
    const r = await this.opts.db.query<{ gateway_id: string; version: number | string }>(
      `SELECT gateway_id, max(version) AS version FROM gateway_configs ${gatewayIds ? 'WHERE gateway_id = ANY($1::text[])' : ''} GROUP BY gateway_id`,
      gatewayIds ? [gatewayIds] : [],
    );
    return new Map(r.rows.map((x) => [x.gateway_id, Number(x.version)]));
  }

  private async isPublished(gatewayId: string, version: number): Promise<boolean> {
    const r = await this.opts.db.query<{ published: boolean }>(
      `SELECT published_at IS NOT NULL AS published FROM gateway_configs WHERE gateway_id = $1 AND version = $2`,
      [gatewayId, version],
    );
    return r.rows[0]?.published === true;
  }

  /** A run now, then every syncMs and after each PUT. */
  start(): void {
    this.sync.start();
  }

  /** Resolves once a run that began after this call has finished (or after timeoutMs). */
  syncNow(timeoutMs = 30_000): Promise<void> {
    return this.sync.syncNow(timeoutMs);
  }

  /** Versions not yet published stay in the database; the next start sends them. */
  stop(): Promise<void> {
    return this.sync.stop();
  }

  /** Publishes each gateway's newest unpublished version. Returns true when there may be more. */
  private async syncOnce(): Promise<boolean> {
    const { db } = this.opts;
    const BATCH = 200;
    const r = await db.query<Row>(
      `SELECT DISTINCT ON (c.gateway_id) c.gateway_id, c.version, c.section, c.config, c.issued_at, c.issued_by
         FROM gateway_configs c
        WHERE c.gateway_id IN (SELECT gateway_id FROM gateway_configs WHERE published_at IS NULL)
        ORDER BY c.gateway_id, c.version DESC
        LIMIT ${BATCH}`,
    );
    if (r.rows.length === 0) return false;
    const partitions = await this.partitionCount(await this.out.connect());
    const results = await Promise.all(
      r.rows.map((row) => {
        const m = configMessage(row);
        // The partition is set, not left to the partitioner: gateways read only configPartition's.
        const partition = configPartition(m.gateway_id, partitions);
        return this.out.produce(this.opts.topic, m.gateway_id, Buffer.from(JSON.stringify(m)), [{ 'config-version': String(m.version) }], partition);
      }),
    );
    const firstError = await markDelivered(r.rows, results, async (row) => {
      this.stats.published++;
      this.opts.counters?.count(CONFIG_PUBLISH_STAGE, 'sent');
      await db.query(`UPDATE gateway_configs SET published_at = now() WHERE gateway_id = $1 AND version <= $2 AND published_at IS NULL`, [row.gateway_id, Number(row.version)]);
      // Another process may have issued and published a newer version meanwhile, which this
      // message now follows on the topic: that one goes again, to be last.
      await db.query(
        `UPDATE gateway_configs SET published_at = NULL
          WHERE gateway_id = $1 AND version = (SELECT max(version) FROM gateway_configs WHERE gateway_id = $1) AND version > $2`,
        [row.gateway_id, Number(row.version)],
      );
    });
    if (firstError) throw new CloudError('FL_ERR_CONFIG_PUBLISH', firstError.message, { cause: firstError });
    return r.rows.length === BATCH;
  }

  private async partitionCount(producer: Kafka.Producer): Promise<number> {
    const md = await new Promise<Kafka.Metadata>((resolve, reject) =>
      producer.getMetadata({ topic: this.opts.topic, timeout: 5_000 }, (err, m) => (err ? reject(err) : resolve(m))),
    );
    const n = md.topics.find((t) => t.name === this.opts.topic)?.partitions.length ?? 0;
    if (n === 0) throw new CloudError('FL_ERR_CONFIG_PUBLISH', `topic ${this.opts.topic} does not exist; create it compacted (cleanup.policy=compact)`);
    return n;
  }
}
