// The cloud's settings; like the gateway's, this schema is their documentation and their check.
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

const kafka = z.strictObject({
  brokers: z.string().min(1).default('localhost:9092'),
  readingsTopic: z.string().min(1).default('iot.readings'),
  heartbeatsTopic: z.string().min(1).default('iot.heartbeats'),
  dlqTopic: z.string().min(1).default('iot.sink-dlq'),
  /** Consumer group of the database writer. */
  storeGroup: z.string().min(1).default('fieldline-store'),
  /** Consumer group session timeout: how long a lost sink holds its partitions. */
  sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(10_000),
  /** Most messages taken from Kafka and written in one transaction. */
  maxBatchMessages: z.number().int().min(1).max(10_000).default(256),
  /** Extra librdkafka properties (security.protocol, sasl.*, ssl.*), passed through as given. */
  rdkafka: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

const database = z.strictObject({
  /** postgres://… for a real server. Unset: the embedded TimescaleDB (PGlite) in dataDir. */
  url: z.string().optional(),
  poolSize: z.number().int().min(1).max(200).default(10),
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
});

const aggregates = z.strictObject({
  /**
   * How often the embedded database's continuous aggregates are refreshed. PGlite runs no
   * background workers, so TimescaleDB's own refresh policies never fire there.
   */
  embeddedRefreshMs: z.number().int().min(1_000).default(60_000),
});

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

export const cloudConfigSchema = z.strictObject({
  dataDir: z.string().default('./cloud-data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  kafka: kafka.default(() => kafka.parse({})),
  database: database.default(() => database.parse({})),
  api: api.default(() => api.parse({})),
  aggregates: aggregates.default(() => aggregates.parse({})),
  timescale: timescale.default(() => timescale.parse({})),
});

export type CloudConfig = z.infer<typeof cloudConfigSchema>;
export const CLOUD_ENV_PREFIX = 'FIELDLINE_CLOUD_';
