// Wires the cloud side: one database handle shared by the sink workers and the API. With the
// embedded TimescaleDB (no database.url) everything runs in this one process around it. The lake
// writer needs no database: the `lake` role runs it alone.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { TokenAuthority } from './api/auth.js';
import { buildApi } from './api/server.js';
import { LiveFeed } from './api/live-feed.js';
import { Alerting } from './alerts/alerting.js';
import { RuleBook } from './alerts/rules-publisher.js';
import { Commands } from './commands/commands.js';
import { CommandStore } from './commands/store.js';
import { GatewayConfigBook } from './gateway-config/publisher.js';
import type { CloudConfig } from './config/schema.js';
import { sanityLimits } from './consume/sanity.js';
import { StoreConsumer } from './consume/store-consumer.js';
import { LakeReader } from './lake/reader.js';
import { LakeWorker, type LakeStats } from './lake/worker.js';
import { Fleet } from './fleet/fleet.js';
import { FleetHealth } from './fleet/fleet-health.js';
import { CloudMetrics } from './metrics.js';
import { openDb, type Db } from './store/db.js';
import { Store } from './store/store.js';

export type Role = 'sink' | 'api' | 'lake' | 'alerts' | 'all';

export class Cloud {
  db?: Db;
  store?: Store;
  consumer?: StoreConsumer;
  lake?: LakeWorker;
  /** Heartbeats, quarantine and per-minute aggregates (sink and all roles). */
  fleet?: Fleet;
  api?: ReturnType<typeof buildApi>;
  /** The API's own pool on a PostgreSQL server, with short timeouts (config api.database); the embedded database is shared. */
  apiDb?: Db;
  /** Alert rules behind the API, published to alerts.rulesTopic (api and all roles). */
  rules?: RuleBook;
  /** Gateway configs behind PUT /v1/gateways/{id}/config, published to gatewayConfig.topic (api and all roles). */
  gatewayConfigs?: GatewayConfigBook;
  /** The evaluator and its pumps (alerts role; sink and all while alerts.enabled). */
  alerting?: Alerting;
  /** Device commands: the relay (api, sink, all), the status consumer and expiry sweep (sink, all). */
  commands?: Commands;
  /** GET /v1/stream's one Kafka consumer and its clients (api and all roles, while api.stream.enabled). */
  stream?: LiveFeed;
  apiPort = 0;
  readonly auth: TokenAuthority;
  /** This process's /metrics: one Registry per Cloud, never prom-client's global one. */
  readonly metrics = new CloudMetrics(
    () => this.consumer?.stats,
    () => [...(this.fleet?.tallies() ?? []), ...(this.lake ? [this.lake.tallies()] : []), ...(this.alerting?.tallies() ?? []), ...(this.stream ? [this.stream.tallies()] : []), ...(this.commands?.tallies() ?? [])],
    () => this.lake?.stats,
  );
  private refreshTimer?: NodeJS.Timeout;
  /** The API's reader of the lake, opened by the first query older than the database's retention. */
  private lakeOpening?: Promise<LakeReader | null>;

  constructor(
    readonly cfg: CloudConfig,
    readonly role: Role,
    readonly log: Logger = pino({ level: cfg.logLevel }),
    /** The alert evaluator's clock; tests move it through hours of event time. */
    private readonly opts: { alertClock?: () => number; commandClock?: () => number } = {},
  ) {
    this.auth = tokenAuthority(cfg);
  }

  async start(): Promise<void> {
    const dataDir = resolve(this.cfg.dataDir);
    mkdirSync(dataDir, { recursive: true });
    if (this.role === 'lake' || (this.role === 'all' && this.cfg.lake.enabled)) {
      this.lake = new LakeWorker({ kafka: this.cfg.kafka, lake: this.cfg.lake, sink: this.cfg.sink, dataDir, log: this.log.child({ part: 'lake' }) });
      await this.lake.start();
    }
    if (this.role === 'lake') return;
    this.db = await openDb({ databaseUrl: this.cfg.database.url, dataDir: join(dataDir, 'pgdata'), poolSize: this.cfg.database.poolSize });
    this.store = new Store(this.db);
    await this.store.migrate();
    this.log.info({ database: this.db.kind, capabilities: await this.store.capabilities() }, 'database ready');
    const sinkWork = this.role === 'sink' || this.role === 'all';
    if (sinkWork) {
      const applied = await this.store.applyTimescaleSettings(this.cfg.timescale);
      if (!applied.timescaledb) this.log.info('no TimescaleDB: the timescale settings (chunks, compression, retention) do not apply');
      else if (applied.changes.length > 0) this.log.info({ changes: applied.changes }, 'timescale settings applied');
    }
    if (this.db.kind === 'pglite' && sinkWork) {
      this.refreshTimer = setInterval(() => {
        // PGlite runs no background jobs: the aggregates' refresh and the compression and
        // retention policies run from here.
        const store = this.store;
        store
          ?.refreshAggregates()
          .then(() => store.runPolicyJobs())
          .catch((err: Error) => this.log.warn({ err: err.message }, 'aggregate refresh or policy jobs failed'));
      }, this.cfg.aggregates.embeddedRefreshMs);
      this.refreshTimer.unref();
    }
    if (sinkWork) {
      // Made first: the store consumer is to tell its aggregate publisher about late readings.
      this.fleet = new Fleet(this.cfg, this.db, this.log.child({ part: 'fleet' }));
      const publisher = this.fleet.aggregates;
      const store = this.store;
      this.consumer = new StoreConsumer(this.cfg.kafka, store, this.log.child({ part: 'consume' }), {
        limits: sanityLimits(this.cfg.sink),
        afterStore: async (batches, fresh) => {
          // Rows older than the continuous aggregates' materialised range stay out of them until
          // that range is refreshed (a backlog drained hours late): refresh it now, behind the
          // commit. Nothing waits for it; the periodic refresh covers one lost to a crash. A no-op
          // on vanilla PostgreSQL, whose rollups the ingest transaction already updated.
          if (fresh) {
            store.refreshRange(fresh.fromMs, fresh.toMs).catch((err: Error) => this.log.warn({ err: err.message }, 'aggregate refresh after a late batch failed'));
          }
          // Late readings into minutes already published on iot.aggregates.1m get corrections.
          if (publisher) {
            publisher.noteBatches(batches);
            await publisher.flushLate();
          }
        },
      });
      await this.consumer.start();
      this.fleet.start();
    }
    if (sinkWork || this.role === 'api') {
      this.commands = new Commands({
        cfg: this.cfg, db: this.db, log: this.log.child({ part: 'commands' }), sinkWork,
        ...(this.opts.commandClock ? { now: this.opts.commandClock } : {}),
      });
      this.commands.start();
    }
    if (this.role === 'alerts' || (sinkWork && this.cfg.alerts.enabled)) {
      this.alerting = new Alerting(this.cfg, this.db, this.log, this.opts.alertClock);
      await this.alerting.start();
    }
    if (this.role === 'api' || this.role === 'all') {
      const { kafka, alerts } = this.cfg;
      this.rules = new RuleBook({ db: this.db, kafka, topic: alerts.rulesTopic, syncMs: alerts.rulesSyncMs, log: this.log.child({ part: 'rules' }), counters: this.metrics });
      this.rules.start();
      const gc = this.cfg.gatewayConfig;
      this.gatewayConfigs = new GatewayConfigBook({ db: this.db, kafka, topic: gc.topic, syncMs: gc.syncMs, log: this.log.child({ part: 'gateway-config' }), counters: this.metrics });
      this.gatewayConfigs.start();
      const d = this.cfg.api.database;
      const apiDb = this.db.kind === 'postgres'
        ? await openDb({ databaseUrl: this.cfg.database.url, poolSize: d.poolSize, connectTimeoutMs: d.connectTimeoutMs, queryTimeoutMs: d.queryTimeoutMs })
        : this.db;
      this.apiDb = apiDb;
      if (this.cfg.api.stream.enabled) {
        this.stream = new LiveFeed({
          kafka, readingsTopic: kafka.readingsTopic, alertsTopic: alerts.alertsTopic, settings: this.cfg.api.stream,
          maxBatchMessages: kafka.maxBatchMessages, log: this.log.child({ part: 'stream' }),
        });
        this.stream.start();
      }
      this.api = buildApi({
        alerts: { rules: this.rules, db: apiDb },
        store: apiDb === this.db ? this.store : new Store(apiDb),
        auth: this.auth,
        maxLimit: this.cfg.api.maxLimit,
        health: () => this.health(),
        metrics: () => this.metrics.render(),
        counters: this.metrics,
        fleetHealth: new FleetHealth(apiDb, this.cfg.fleet.health),
        log: this.log.child({ part: 'api' }),
        // The embedded database runs its queries on this thread, so a migration or a refresh lags
        // the event loop by seconds while nothing is overloaded: shedding on loop delay would turn
        // that into 503s. There the heap and RSS limits still apply.
        protection: apiDb.kind === 'postgres' ? this.cfg.api : { ...this.cfg.api, underPressure: { ...this.cfg.api.underPressure, maxEventLoopDelayMs: 0 } },
        // The embedded database cannot become unreachable; a ping would only queue behind its work.
        ...(apiDb.kind === 'postgres' ? { ping: () => apiDb.query('SELECT 1') } : {}),
        ...(this.cfg.api.auth.oidc ? { oidc: this.cfg.api.auth.oidc } : {}),
        ...(this.stream ? { stream: this.stream } : {}),
        query: { ...this.cfg.api.query, retention: { readings: this.cfg.timescale.readingsRetention, ...this.cfg.timescale.rollupRetention } },
        lake: () => this.lakeReader(),
        ...(this.commands ? {
          commands: {
            store: apiDb === this.db ? this.commands.store : new CommandStore(apiDb), relay: this.commands.relay, limits: this.cfg.commands,
            ...(this.opts.commandClock ? { now: this.opts.commandClock } : {}),
          },
        } : {}),
        gatewayConfigs: this.gatewayConfigs,
      });
      await this.api.listen({ host: this.cfg.api.host, port: this.cfg.api.port });
      const addr = this.api.server.address();
      this.apiPort = typeof addr === 'object' && addr ? addr.port : this.cfg.api.port;
      this.log.info({ port: this.apiPort }, 'api listening');
    }
  }

  /** A lake that cannot be opened is logged once and treated as none: old ranges then come from the database. */
  private lakeReader(): Promise<LakeReader | null> {
    this.lakeOpening ??= LakeReader.fromConfig(this.cfg, this.log.child({ part: 'lake-reader' })).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'the lake could not be opened for queries; old ranges are answered from the database');
      return null;
    });
    return this.lakeOpening;
  }

  health(): { ok: boolean; detail: Record<string, unknown> } {
    const c = this.consumer?.stats;
    const l = this.lake?.stats;
    return {
      ok: this.role === 'lake' ? l !== undefined : this.db !== undefined,
      detail: {
        database: this.db?.kind ?? 'closed',
        ...(c ? { consumer: { state: c.state, lastCommitMs: c.lastCommitMs } } : {}),
        ...(this.fleet ? { fleet: this.fleet.health() } : {}),
        ...(this.rules ? { rules: this.rules.stats } : {}),
        ...(this.gatewayConfigs ? { gatewayConfig: this.gatewayConfigs.stats } : {}),
        ...(this.alerting ? { alerting: this.alerting.health() } : {}),
        ...(this.stream ? { stream: this.stream.health() } : {}),
        ...(this.commands ? { commands: this.commands.health() } : {}),
        ...(l ? { lake: lakeHealth(l, this.lake!.location) } : {}),
      },
    };
  }

  async stop(): Promise<void> {
    clearInterval(this.refreshTimer);
    // Before the API closes, so the clients get 1001 rather than the plugin's bare close.
    await this.stream?.stop();
    await this.api?.close();
    await (await this.lakeOpening)?.close();
    await this.rules?.stop();
    await this.gatewayConfigs?.stop();
    await this.consumer?.stop();
    await this.alerting?.stop();
    await this.commands?.stop();
    await this.fleet?.stop();
    await this.lake?.stop();
    if (this.apiDb !== this.db) await this.apiDb?.close();
    await this.db?.close();
  }
}

function lakeHealth(l: LakeStats, location: string): Record<string, unknown> {
  return {
    state: l.state, location, lastCommitMs: l.lastCommitMs, lastRollMs: l.lastRollMs, lastError: l.lastError,
    filesWritten: l.filesWritten, rowsWritten: l.rowsWritten, bytesWritten: l.bytesWritten, bufferedRows: l.bufferedRows,
    messagesSkipped: l.messagesSkipped, skippedByCode: l.skippedByCode, rangesReplayed: l.rangesReplayed,
  };
}

/**
 * The API's token checker, from config api.jwtSecret and api.auth. Made without starting anything,
 * so `fieldline-cloud token` signs with exactly the secret, issuer and audience the API checks.
 */
export function tokenAuthority(cfg: CloudConfig): TokenAuthority {
  const a = cfg.api.auth;
  return new TokenAuthority({
    ...(a.secretTokens ? { secret: cfg.api.jwtSecret ?? loadOrCreateSecret(resolve(cfg.dataDir)) } : {}),
    issuer: a.issuer,
    audience: a.audience,
    ...(a.jwksUrl
      ? { jwks: { url: a.jwksUrl, algorithms: a.algorithms, timeoutMs: a.jwksTimeoutMs, cooldownMs: a.jwksCooldownMs, cacheMaxAgeMs: a.jwksCacheMaxAgeMs } }
      : {}),
    roleClaim: a.roleClaim,
    clockToleranceS: a.clockToleranceS,
  });
}

/** Keeps one signing secret per data directory so tokens outlive a restart. */
function loadOrCreateSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
