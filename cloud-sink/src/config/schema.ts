// The cloud's settings; like the gateway's, this schema is their documentation and their check.
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

const kafka = z.strictObject({
  brokers: z.string().min(1).default('localhost:9092'),
  readingsTopic: z.string().min(1).default('iot.readings'),
  heartbeatsTopic: z.string().min(1).default('iot.heartbeats'),
  /** Readings gateways refused, with the reason (fleet.quarantine stores them). */
  quarantineTopic: z.string().min(1).default('iot.quarantine'),
  /** Where fleet.aggregates publishes per-minute aggregates for downstream consumers. */
  aggregatesTopic: z.string().min(1).default('iot.aggregates.1m'),
  dlqTopic: z.string().min(1).default('iot.sink-dlq'),
  /** Consumer group of the database writer. */
  storeGroup: z.string().min(1).default('fieldline-store'),
  /** Consumer group session timeout: how long a lost sink holds its partitions. */
  sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(10_000),
  /** Most messages taken from Kafka and written in one transaction. */
  maxBatchMessages: z.number().int().min(1).max(10_000).default(256),
  /**
   * The store consumer fetches and decodes its next poll while the database commits the last one
   * (never more than one poll ahead; offsets are still committed only after their rows). false: one
   * poll at a time, the next fetched only once the last is committed.
   */
  prefetch: z.boolean().default(true),
  /** Extra librdkafka properties (security.protocol, sasl.*, ssl.*), passed through as given. */
  rdkafka: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

const database = z.strictObject({
  /** postgres://… for a real server. Unset: the embedded TimescaleDB (PGlite) in dataDir. */
  url: z.string().optional(),
  poolSize: z.number().int().min(1).max(200).default(10),
});

/** The dashboard's OIDC login (authorization code + PKCE in the browser), published at GET /v1/auth/oidc. */
const apiAuthOidc = z.strictObject({
  /** The provider's authorization endpoint, e.g. https://sso.example.com/realms/ops/protocol/openid-connect/auth. */
  authorizationUrl: z.url(),
  /** The provider's token endpoint. */
  tokenUrl: z.url(),
  /** A public client (no secret): the browser holds nothing it could leak. */
  clientId: z.string().min(1),
  /** Scopes asked for at login. */
  scope: z.string().min(1).default('openid'),
});

/** How API tokens are checked (api/auth.ts). */
const apiAuth = z.strictObject({
  /** The `iss` every token must carry; `fieldline-cloud token` sets it. For an OIDC provider, its issuer URL. */
  issuer: z.string().min(1).default('fieldline'),
  /** The `aud` every token must carry; unset: not checked. `fieldline-cloud token` sets it. */
  audience: z.string().min(1).optional(),
  /** Accept HS256 tokens signed with api.jwtSecret (dev tokens); false leaves only the JWKS's tokens. */
  secretTokens: z.boolean().default(true),
  /** An OIDC provider's key set (Keycloak: <realm URL>/protocol/openid-connect/certs). Unset: HS256 tokens only. */
  jwksUrl: z.url().optional(),
  /** Algorithms a JWKS key may sign with; a token with any other header `alg` is refused unread. */
  algorithms: z.array(z.enum(['RS256', 'ES256'])).min(1).default(['RS256', 'ES256']),
  /** One fetch of the key set, connect to last byte. */
  jwksTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  /** Least time between two fetches of the key set (a token with an unknown `kid` triggers one). */
  jwksCooldownMs: z.number().int().min(0).max(3_600_000).default(30_000),
  /** The key set is fetched again once it is this old, even when every `kid` matches. */
  jwksCacheMaxAgeMs: z.number().int().min(1_000).default(600_000),
  /** Dotted path of the role claim (viewer / operator / admin, a string or an array): `realm_access.roles` for Keycloak realm roles. */
  roleClaim: z.string().regex(/^[^.]+(\.[^.]+)*$/, 'expected a dotted claim path such as realm_access.roles').default('role'),
  /** Leeway for exp, nbf and iat against this host's clock. */
  clockToleranceS: z.number().int().min(0).max(300).default(30),
  oidc: apiAuthOidc.optional(),
}).refine((a) => a.secretTokens || a.jwksUrl !== undefined, { message: 'with secretTokens false, jwksUrl is required: no token could be checked', path: ['jwksUrl'] });

/** Per-token request limits (@fastify/rate-limit); /healthz and /metrics are not limited. */
const apiRateLimit = z.strictObject({
  enabled: z.boolean().default(true),
  /** Requests one token's subject (or, without a valid token, one client address) may make per window. */
  max: z.number().int().min(1).default(6_000),
  timeWindowMs: z.number().int().min(100).default(60_000),
});

/** 503 with Retry-After instead of queueing without bound when the process is overloaded (@fastify/under-pressure). */
const apiUnderPressure = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * Event-loop delay above which requests are turned away; 0: not checked. Not checked on the
   * embedded database, whose queries run on the event loop (a slow query is not an overload).
   */
  maxEventLoopDelayMs: z.number().int().min(0).default(2_000),
  /** Heap in use above which requests are turned away; 0: not checked. */
  maxHeapUsedBytes: z.number().int().min(0).default(0),
  /** Resident memory above which requests are turned away; 0: not checked. */
  maxRssBytes: z.number().int().min(0).default(0),
  /** The Retry-After of every 503 the API answers (overload, database unreachable). */
  retryAfterS: z.number().int().min(1).max(3_600).default(5),
});

/** The API's own connection pool on a PostgreSQL server, so a hung database answers 503 in seconds rather than holding requests. */
const apiDatabase = z.strictObject({
  poolSize: z.number().int().min(1).max(200).default(10),
  /** Waiting for a connection (new, or free in the pool) longer than this answers 503. */
  connectTimeoutMs: z.number().int().min(100).max(120_000).default(3_000),
  /** A query running longer than this is cancelled (statement_timeout) and answers 503. */
  queryTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
});

/** GET /v1/stream (api/stream.ts, api/live-feed.ts): the WebSocket of live readings and alert events. */
const apiStream = z.strictObject({
  /** Serve GET /v1/stream. Off: the API runs no stream consumer and the path answers 404. */
  enabled: z.boolean().default(true),
  /**
   * The feed's consumer group id starts with this; each API process adds its host, pid and a random
   * part, so it never shares a group (or committed offsets) with another reader of the topics.
   */
  groupPrefix: z.string().min(1).default('fieldline-stream'),
  /** Most streams one API process serves at once; one more is refused with 503 before the upgrade. */
  maxClients: z.number().int().min(1).max(100_000).default(1_000),
  /** Most streams one token holds at once on one API process; one more is refused with 429 before the upgrade. */
  maxClientsPerToken: z.number().int().min(1).max(10_000).default(10),
  /**
   * A client whose frames waiting to be sent pass this many bytes cannot keep up: it is closed with
   * 1013 and counted (dropped{stage="stream",reason="slow_client"}), never buffered further.
   */
  maxBufferedBytes: z.number().int().min(1_024).max(1024 * 1024 * 1024).default(1024 * 1024),
  /** Each client is pinged this often; one that has not answered the previous ping by the next is cut off. */
  pingIntervalMs: z.number().int().min(100).max(600_000).default(30_000),
});

/** Limits and the cache of GET /v1/devices/{id}/aggregates (api/device-routes.ts). */
const apiQuery = z.strictObject({
  /** Most points (buckets) one aggregate answer may hold; a longer range needs a wider bucket. */
  maxPoints: z.number().int().min(10).max(100_000).default(10_000),
  /** Longest range (to − from) a request with percentiles may cover: they sort every raw reading in it. */
  percentilesMaxRangeMs: z.number().int().min(60_000).default(7 * 86_400_000),
  /** Most readings a request with percentiles may sort (counted from readings_1h before it runs). */
  percentilesMaxRows: z.number().int().min(1).default(2_000_000),
  /** How long a repeated aggregate query is answered from the cache; 0 turns the cache off. */
  cacheTtlMs: z.number().int().min(0).max(60_000).default(5_000),
  /** Answers the cache holds at most; the oldest goes first. */
  cacheEntries: z.number().int().min(0).max(1_000_000).default(1_000),
});

const api = z.strictObject({
  host: z.string().default('0.0.0.0'),
  port: port.default(8090),
  /**
   * HMAC secret (HS256) that signs and checks API tokens; at least 32 characters. Unset: a random
   * secret is made at first start and kept in <dataDir>/jwt-secret.
   */
  jwtSecret: z.string().min(32, 'expected at least 32 characters').optional(),
  /** Largest page of readings one request may ask for. */
  maxLimit: z.number().int().min(1).max(100_000).default(10_000),
  auth: apiAuth.default(() => apiAuth.parse({})),
  rateLimit: apiRateLimit.default(() => apiRateLimit.parse({})),
  underPressure: apiUnderPressure.default(() => apiUnderPressure.parse({})),
  database: apiDatabase.default(() => apiDatabase.parse({})),
  stream: apiStream.default(() => apiStream.parse({})),
  /** Aggregates and percentiles (GET /v1/devices/{id}/aggregates). */
  query: apiQuery.default(() => apiQuery.parse({})),
});

const aggregates = z.strictObject({
  /**
   * How often the embedded database's continuous aggregates are refreshed. PGlite runs no
   * background workers, so TimescaleDB's own refresh policies never fire there.
   */
  embeddedRefreshMs: z.number().int().min(1_000).default(60_000),
});

const lakeS3 = z.strictObject({
  /** An S3-compatible server's URL (SeaweedFS, MinIO, …). Unset: AWS's own endpoint for `region`. */
  endpoint: z.url().optional(),
  region: z.string().min(1).default('us-east-1'),
  /** The bucket the lake goes to; it must exist. Required when `destination` is `s3`. */
  bucket: z.string().min(1).optional(),
  /** Key prefix inside the bucket (e.g. `fieldline/`); below it the keys have the local layout. */
  prefix: z.string().default(''),
  /** Static credentials. Unset: the AWS SDK's default chain (AWS_ACCESS_KEY_ID…, profiles, instance roles). */
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  /** Path-style URLs (http://host/bucket/key), which most S3-compatible servers need. */
  forcePathStyle: z.boolean().default(true),
  /** Multipart upload part size; 5 MiB is S3's minimum. */
  partSizeBytes: z.number().int().min(5 * 1024 * 1024).max(5 * 1024 * 1024 * 1024).default(8 * 1024 * 1024),
  /**
   * Range manifests must be created exclusively (PutObject with If-None-Match: *). `auto` probes the
   * server at start and, where it ignores the header, falls back to look-then-put guarded by
   * partition ownership alone (logged); `required` refuses to start instead.
   */
  conditionalPut: z.enum(['auto', 'required']).default('auto'),
  /** Where files are written before upload. Unset: <dataDir>/lake-staging. */
  stagingDir: z.string().optional(),
  /** Where the lake reader keeps its copy of the objects for DuckDB. Unset: <dataDir>/lake-cache. */
  cacheDir: z.string().optional(),
});

const lake = z
  .strictObject({
    /** Runs the Parquet lake writer inside `fieldline-cloud all`; the `lake` role runs it regardless. */
    enabled: z.boolean().default(true),
    /** The lake's own consumer group, so the lake and the database each read every batch. */
    group: z.string().min(1).default('fieldline-lake'),
    destination: z.enum(['local', 's3']).default('local'),
    /** The lake folder when `destination` is `local`. Unset: <dataDir>/lake. */
    dir: z.string().optional(),
    s3: lakeS3.default(() => lakeS3.parse({})),
    /**
     * A partition's buffered readings are written out once the oldest has waited this long, so a
     * quiet partition still reaches the lake within the interval.
     */
    rollIntervalMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /** … or once a partition holds this many readings (a file per UTC hour they touch). */
    maxRowsPerFile: z.number().int().min(1).max(10_000_000).default(500_000),
    /** … or once they take about this much memory (an estimate: strings plus per-row overhead). */
    maxBytesPerFile: z.number().int().min(1024).default(64 * 1024 * 1024),
    /**
     * Rows per Parquet row group. DuckDB's own row group size: the unit its reader parallelises
     * over and prunes with min/max statistics, and large enough for zstd to find the repetition in
     * sorted device ids and metric names. DuckDB rounds it up to a multiple of 2,048 (one vector).
     */
    rowGroupSize: z.number().int().min(2048).max(10_000_000).default(122_880),
    /** zstd level for the Parquet pages (1 fastest … 22 smallest); 3 is zstd's and DuckDB's default. */
    compressionLevel: z.number().int().min(1).max(22).default(3),
    /** DuckDB threads for sorting and encoding a file. */
    threads: z.number().int().min(1).max(64).default(1),
    /** DuckDB's memory limit while it writes files (e.g. `512MB`); beyond it DuckDB spills to the staging folder. */
    memoryLimit: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'expected a size such as 512MB').default('512MB'),
  })
  .refine((l) => l.destination !== 's3' || l.s3.bucket !== undefined, { message: 'lake.s3.bucket is required when lake.destination is s3', path: ['s3', 'bucket'] });

/**
 * The sink's sanity checks (consume/sanity.ts): a batch with any reading beyond these goes to the DLQ
 * whole, before the database sees it. After raising a limit, `fieldline-cloud dlq replay` re-feeds
 * what it held back.
 */
const sink = z.strictObject({
  /** Readings stamped before this (an RFC 3339 date or date-time) are implausible: a gateway that lost its clock. */
  earliestReadingTime: z
    .string()
    .refine((t) => /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(t) && Number.isFinite(Date.parse(t)), 'expected an RFC 3339 date or date-time, e.g. 2000-01-01')
    .default('2000-01-01'),
  /** Readings stamped further ahead of the cloud's clock than this are implausible. */
  maxFutureSkewMs: z.number().int().min(0).default(24 * 3_600_000),
  /** Most readings (metric values) one batch may hold; the gateway's own batchMaxReadings tops out at 1,000,000. */
  maxReadingsPerBatch: z.number().int().min(1).default(1_000_000),
  /** Longest device id, in characters; the gateway's rule allows 128. */
  maxDeviceIdLength: z.number().int().min(1).max(65_536).default(128),
  /** Longest metric name, in characters; the gateway's rule allows 64. */
  maxMetricNameLength: z.number().int().min(1).max(65_536).default(128),
  /**
   * Consumer group that keeps `dlq replay`'s place in the DLQ. A replay with filters keeps its own
   * place, in this group name followed by the filters (cli/dlq.ts).
   */
  dlqReplayGroup: z.string().min(1).default('fieldline-dlq-replay'),
});

const fleetHeartbeats = z.strictObject({
  /** Consume iot.heartbeats into `gateways` (latest state) and `gateway_heartbeats` (history). */
  enabled: z.boolean().default(true),
  /** Consumer group of the heartbeat writer. */
  group: z.string().min(1).default('fieldline-heartbeats'),
  /**
   * A stored heartbeat stamped further than this ahead of the cloud clock (a gateway clock that
   * jumped) no longer holds the latest state against later heartbeats, so one bad clock reading
   * cannot freeze a gateway's state until real time catches up with it.
   */
  futureToleranceMs: z.number().int().min(0).default(600_000),
});

const fleetQuarantine = z.strictObject({
  /** Consume iot.quarantine into the `quarantine` table. */
  enabled: z.boolean().default(true),
  /** Consumer group of the quarantine writer. */
  group: z.string().min(1).default('fieldline-quarantine'),
});

const fleetAggregates = z.strictObject({
  /** Publish readings_1m to kafka.aggregatesTopic. */
  enabled: z.boolean().default(true),
  /** A minute is published once it ended this long ago, so readings still in flight make it in. */
  graceMs: z.number().int().min(0).default(120_000),
  /** How often the publisher looks for minutes to publish and corrections to send. */
  intervalMs: z.number().int().min(100).default(15_000),
  /** Where a database's first run starts: this far before the first minute it may publish. */
  backfillMs: z.number().int().min(0).default(3_600_000),
  /** Most minutes one run publishes; a publisher behind by more runs again at once. */
  maxMinutesPerRun: z.number().int().min(1).max(1_440).default(10),
  /** Most (device, metric, minute) corrections one run sends. */
  maxCorrectionsPerRun: z.number().int().min(1).max(1_000_000).default(20_000),
});

/**
 * How GET /v1/gateways judges a gateway (fleet/health.ts). The thresholds are also what a
 * `gateway_degraded` alert rule overrides per rule; null switches a check off.
 */
const fleetHealthCompleteness = z
  .strictObject({
    /** The window GET /v1/gateways/{id} counts readings over when the request names none (`window=`). */
    windowS: z.number().int().min(60).multipleOf(60).default(3_600),
    /** The longest `window=` a request may ask for. */
    maxWindowS: z.number().int().min(60).multipleOf(60).max(7 * 86_400).default(86_400),
    /**
     * The window ends this long before now, at a whole minute, so readings still on their way (in
     * the gateway's batch, in Kafka, in the sink) are not counted as missing.
     */
    settleMs: z.number().int().min(0).max(600_000).default(15_000),
    /** A device's observed rate is taken from its newest this-many complete hours that hold readings … */
    observedHours: z.number().int().min(1).max(720).default(24),
    /** … within this many hours before now. */
    lookbackHours: z.number().int().min(1).max(2_160).default(168),
    /**
     * … as this percentile of their hourly counts: high, so hours with losses do not lower the rate
     * they are measured against, but not 1, so a burst does not raise it.
     */
    percentile: z.number().gt(0).max(1).default(0.9),
  })
  .refine((c) => c.windowS <= c.maxWindowS, { message: 'windowS is longer than maxWindowS', path: ['windowS'] });

const fleetHealth = z.strictObject({
  /** A gateway is offline once its newest heartbeat was stored longer ago than this many of its intervals. */
  offlineAfterIntervals: z.number().min(1).max(1_000).default(3),
  /** The heartbeat interval of a gateway that does not send one (interval_ms 0, before proto revision 2). */
  defaultIntervalMs: z.number().int().min(100).default(30_000),
  /** Degraded: the outbox's oldest reading waited longer than this. */
  maxBacklogAgeMs: z.number().int().min(0).default(300_000),
  /** Degraded: less than this share of the disk free (0.1 is 10 %). */
  minDiskFreeRatio: z.number().min(0).max(1).default(0.1),
  /** Degraded: CPU above this percentage; null: not checked. */
  maxCpuPercent: z.number().min(0).max(100).nullable().default(null),
  /** Degraded: the board's temperature above this (°C); null: not checked. */
  maxTemperatureC: z.number().nullable().default(null),
  /** Degraded: an adapter is down or degraded (a disabled one is not). */
  adaptersDown: z.boolean().default(true),
  /**
   * Degraded: a loss counter (rate-limited, quarantined, evicted) rose by more than this since the
   * previous heartbeat; 0: any rise; null: not checked.
   */
  lossIncrease: z.number().int().min(0).nullable().default(0),
  /** Degraded: the gateway refused the newest cloud config version, or holds it back for a change made on site. */
  configProblems: z.boolean().default(true),
  /** Per-device completeness on GET /v1/gateways/{id}. */
  completeness: fleetHealthCompleteness.default(() => fleetHealthCompleteness.parse({})),
});

const fleet = z.strictObject({
  heartbeats: fleetHeartbeats.default(() => fleetHeartbeats.parse({})),
  quarantine: fleetQuarantine.default(() => fleetQuarantine.parse({})),
  aggregates: fleetAggregates.default(() => fleetAggregates.parse({})),
  health: fleetHealth.default(() => fleetHealth.parse({})),
});
const alertWebhooks = z.strictObject({
  /** How often the deliverer looks for due deliveries when nothing woke it sooner. */
  intervalMs: z.number().int().min(50).default(1_000),
  /** One delivery's time limit (connect to the last byte of the answer). */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** The wait after the first failure; each further failure doubles it, with jitter, up to maxBackoffMs. */
  minBackoffMs: z.number().int().min(10).default(1_000),
  maxBackoffMs: z.number().int().min(10).default(5 * 60_000),
  /** A delivery still failing this long after its event is given up (kept in the table, counted). */
  giveUpAfterMs: z.number().int().min(1_000).default(24 * 3_600_000),
  /** Deliveries in flight at once, over all receivers. */
  concurrency: z.number().int().min(1).max(256).default(8),
  /** Deliveries in flight at once to one URL (per process), so a slow receiver holds at most this many of `concurrency`. */
  perUrlConcurrency: z.number().int().min(1).max(256).default(2),
  /** Delivered and given-up deliveries are deleted this long after they finished. */
  retentionMs: z.number().int().min(60_000).default(7 * 86_400_000),
});

/** The alert evaluator (cloud-sink/src/alerts): rules on iot.rules joined with readings and heartbeats. */
const alerts = z.strictObject({
  /** Runs the evaluator inside the sink (and `all`); the `alerts` role runs it regardless. */
  enabled: z.boolean().default(true),
  /** The evaluator's consumer group over readings, heartbeats and quarantine. */
  group: z.string().min(1).default('fieldline-alerts'),
  rulesTopic: z.string().min(1).default('iot.rules'),
  /** How often the API looks for rule changes not yet on rulesTopic (Kafka was down); each change is also sent at once. */
  rulesSyncMs: z.number().int().min(100).default(5_000),
  alertsTopic: z.string().min(1).default('iot.alerts'),
  /**
   * A reading older than this when the evaluator sees it is history (a drained backlog): an alert
   * it raises or resolves says so (`late`), with the readings' own times.
   */
  lateAfterMs: z.number().int().min(0).default(60_000),
  /** Most time between two checkpoints of the evaluator's state (alerts changes checkpoint at once). */
  checkpointMs: z.number().int().min(10).default(1_000),
  /** How often absence and gateway-offline rules are judged against the clock. */
  tickMs: z.number().int().min(50).default(1_000),
  /**
   * Readings are taken to reach the cloud within this after a live gateway sent them: absence is
   * judged only up to this long ago, so a reading in flight does not count as missing.
   */
  transitGraceMs: z.number().int().min(0).default(2_000),
  /** How often the relay publishes recorded events to alertsTopic when nothing woke it sooner. */
  relayIntervalMs: z.number().int().min(10).default(500),
  /** Events already on alertsTopic are deleted from the outbox (alert_events) this long after they were published. */
  eventRetentionMs: z.number().int().min(60_000).default(7 * 86_400_000),
  webhooks: alertWebhooks.default(() => alertWebhooks.parse({})),
});
/** Device commands (cloud-sink/src/commands; docs/ARCHITECTURE.md "Device commands: the cloud side"). */
const commands = z
  .strictObject({
    /** Commands for devices, JSON keyed by gateway id; the gateway's commands.topic must name the same. */
    topic: z.string().min(1).default('iot.commands'),
    /** Status events (queued, delivered, acknowledged, failed, expired), JSON keyed by command id. */
    statusTopic: z.string().min(1).default('iot.command-status'),
    /** Consumer group of the status writer (sink and all roles). */
    statusGroup: z.string().min(1).default('fieldline-command-status'),
    /** The expiry of a POST that names no expires_in_s. */
    defaultExpiresInS: z.number().int().min(1).default(3_600),
    /** The longest expires_in_s a POST may ask for: a command waits this long at most for an offline gateway. */
    maxExpiresInS: z.number().int().min(1).max(30 * 86_400).default(86_400),
    /** Largest `payload`, as JSON text in bytes; devices get it whole in one MQTT message. */
    maxPayloadBytes: z.number().int().min(16).max(1024 * 1024).default(16 * 1024),
    /** How often the sink looks for queued commands past their expiry. */
    sweepIntervalMs: z.number().int().min(100).max(600_000).default(2_000),
    /**
     * A queued command is expired this long after its expiry, not at once, so a gateway's
     * `delivered` sent just before the expiry (and still on its way) is not overtaken by `expired`.
     */
    expiryGraceMs: z.number().int().min(0).max(600_000).default(5_000),
    /** How often the relay looks for commands and status events Kafka does not have yet (each new one is sent at once). */
    relaySyncMs: z.number().int().min(100).max(600_000).default(5_000),
  })
  .refine((c) => c.defaultExpiresInS <= c.maxExpiresInS, { message: 'defaultExpiresInS is longer than maxExpiresInS', path: ['defaultExpiresInS'] });
/** A PostgreSQL interval of one whole unit count: '1 day', '12 hours', '4 weeks', '1 year'. */
const interval = (units: string[]) =>
  z.string().regex(new RegExp(`^[1-9][0-9]* (${units.join('|')})s?$`), `expected a count and one of ${units.join(', ')}, like '7 days'`);
const span = interval(['minute', 'hour', 'day', 'week', 'month', 'year']);

/** Rough length of an interval accepted by `interval()`, for comparing two settings. */
function intervalMs(text: string): number {
  const [count, unit] = text.split(' ') as [string, string];
  const ms: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000, month: 2_592_000_000, year: 31_536_000_000 };
  return Number(count) * ms[unit.replace(/s$/, '')]!;
}

const timescale = z
  .strictObject({
  /**
   * TimescaleDB only (the embedded database, or a server with the extension); a vanilla PostgreSQL
   * server ignores this section. Applied at every start-up (Store.applyTimescaleSettings).
   * Time span of one chunk of `readings`; changes apply to chunks created afterwards.
   */
  chunkInterval: interval(['minute', 'hour', 'day', 'week']).default('1 day'),
  /**
   * Compress chunks of `readings` (segmented by device_id and metric, ordered by ts) once they are
   * older than compressAfter. Turning it off stops compressing; chunks already compressed stay so.
   */
  compression: z.boolean().default(true),
  compressAfter: span.default('7 days'),
  /** Drop chunks of raw readings older than this; null keeps them for ever. The rollups keep theirs. */
  readingsRetention: span.nullable().default(null),
  /** Drop each rollup's buckets older than this; null keeps them for ever. */
  rollupRetention: z
    .strictObject({
      readings_1m: span.nullable().default(null),
      readings_1h: span.nullable().default(null),
      readings_1d: span.nullable().default(null),
    })
    .default(() => ({ readings_1m: null, readings_1h: null, readings_1d: null })),
  })
  .superRefine((t, ctx) => {
    // Each rollup is refreshed from the level below only within that level's retention, and a
    // TimescaleDB refresh policy needs a window of at least two of its buckets beyond the newest one.
    const checks = [
      ['readingsRetention', t.readingsRetention, 'readings_1m', 3 * 60_000, '3 minutes'],
      ['rollupRetention.readings_1m', t.rollupRetention.readings_1m, 'readings_1h', 3 * 3_600_000, '3 hours'],
      ['rollupRetention.readings_1h', t.rollupRetention.readings_1h, 'readings_1d', 3 * 86_400_000, '3 days'],
    ] as const;
    for (const [key, value, above, minMs, min] of checks) {
      if (value !== null && intervalMs(value) < minMs) {
        ctx.addIssue({ code: 'custom', path: key.split('.'), message: `${value} is too short: ${above} is refreshed from it, so at least ${min}` });
      }
    }
  });

/** Gateway configs pushed through PUT /v1/gateways/{id}/config (gateway-config/): stored, then published. */
const gatewayConfig = z.strictObject({
  /** The compacted topic gateways read their configs from (gateway: cloudConfig.topic). */
  topic: z.string().min(1).default('iot.gateway-config'),
  /** How often the API looks for config versions not yet on the topic (Kafka was down); each PUT is also sent at once. */
  syncMs: z.number().int().min(100).default(5_000),
});

export const cloudConfigSchema = z.strictObject({
  dataDir: z.string().default('./cloud-data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  kafka: kafka.default(() => kafka.parse({})),
  database: database.default(() => database.parse({})),
  api: api.default(() => api.parse({})),
  aggregates: aggregates.default(() => aggregates.parse({})),
  lake: lake.default(() => lake.parse({})),
  sink: sink.default(() => sink.parse({})),
  /** The sink's fleet workers (cloud-sink/src/fleet): heartbeats, quarantine, per-minute aggregates. */
  fleet: fleet.default(() => fleet.parse({})),
  timescale: timescale.default(() => timescale.parse({})),
  alerts: alerts.default(() => alerts.parse({})),
  commands: commands.default(() => commands.parse({})),
  gatewayConfig: gatewayConfig.default(() => gatewayConfig.parse({})),
});

export type CloudConfig = z.infer<typeof cloudConfigSchema>;
export const CLOUD_ENV_PREFIX = 'FIELDLINE_CLOUD_';
