// The gateway's settings. This schema is the documentation: every field says what it does, and
// every default is here, except the ingest adapters' sections, which live beside each adapter
// (ingest/<protocol>/config.ts) and are composed below. gateway/gateway.sample.yaml shows the same
// settings as a file.
import { hostname } from 'node:os';
import { z } from 'zod';
import { commandsConfigSchema } from '../commands/config.js';
import { clockConfigSchema } from '../clock/config.js';
import { coapConfigSchema } from '../ingest/coap/config.js';
import { deviceIdSchema, toDeviceId } from '../ingest/device-id.js';
import { modbusConfigSchema } from '../ingest/modbus/config.js';
import { mqttConfigSchema } from '../ingest/mqtt/config.js';

const port = z.number().int().min(0).max(65535);

const pipeline = z.strictObject({
  maxMetricsPerReading: z.number().int().min(1).max(1024).default(64),
  /** Readings stamped further ahead of the gateway clock than this are refused. */
  maxFutureSkewMs: z.number().int().min(0).default(5 * 60_000),
  /** Readings older than this are refused (an outage longer than this on the device side is lost). */
  maxAgeMs: z.number().int().min(0).default(7 * 24 * 3_600_000),
  /** Accepted range per metric name; a value outside it is quarantined. Metrics not listed are not range-checked. */
  ranges: z
    .record(z.string(), z.strictObject({ min: z.number(), max: z.number() }).refine((r) => r.min <= r.max, 'expected min ≤ max'))
    .default(() => ({ ...DEFAULT_RANGES })),
});

/** Defaults from issue 3: °C and % relative humidity. */
export const DEFAULT_RANGES = {
  temperature: { min: -50, max: 100 },
  humidity: { min: 0, max: 100 },
};

const bucket = z.strictObject({
  /** Messages per second a device may send on average. */
  ratePerSecond: z.number().positive(),
  /** Messages a device may send at once after being quiet. */
  burst: z.number().int().min(1),
});

const devices = z.strictObject({
  /** Accept devices not listed under `known` (and remember them). false: refuse them (FL_ERR_VALIDATE_UNKNOWN_DEVICE). */
  autoRegister: z.boolean().default(true),
  known: z.array(z.strictObject({ id: deviceIdSchema, profile: z.string().default('default') })).default([]),
});

const rateLimit = z.strictObject({
  enabled: z.boolean().default(true),
  /** Named token buckets; devices use `default` unless `devices.known` names another. */
  profiles: z.record(z.string(), bucket).default(() => ({ default: { ratePerSecond: 50, burst: 200 } })),
  /** Messages per second across all devices of one protocol (guards the outbox against a flood). */
  perProtocol: z
    .strictObject({
      mqtt: bucket.default({ ratePerSecond: 20_000, burst: 40_000 }),
      coap: bucket.default({ ratePerSecond: 5_000, burst: 10_000 }),
      modbus: bucket.default({ ratePerSecond: 20_000, burst: 40_000 }),
    })
    .default(() => ({
      mqtt: { ratePerSecond: 20_000, burst: 40_000 },
      coap: { ratePerSecond: 5_000, burst: 10_000 },
      modbus: { ratePerSecond: 20_000, burst: 40_000 },
    })),
  /** MQTT: a client throttled this many times in a row is disconnected. 0: never. */
  disconnectAfter: z.number().int().min(0).default(200),
});

const outbox = z.strictObject({
  /** SQLite file; defaults to <dataDir>/outbox.db. */
  path: z.string().optional(),
  /**
   * FULL syncs the WAL on every commit, so an acknowledged reading survives power loss.
   * NORMAL syncs only at checkpoints: faster, but the last commits can vanish on power loss.
   */
  synchronous: z.enum(['FULL', 'NORMAL']).default('FULL'),
  /** Most readings committed in one group commit. */
  groupCommitMaxRows: z.number().int().min(1).max(100_000).default(5_000),
  /** Quarantined payloads kept for the local API; older ones are deleted. */
  quarantineKeep: z.number().int().min(0).default(10_000),
  /** Most device messages waiting for the cloud; 0: no bound. */
  maxMessages: z.number().int().min(0).default(10_000_000),
  /** Most stored payload bytes waiting for the cloud (the file is larger by SQLite's overhead); 0: no bound. */
  maxBytes: z.number().int().min(0).default(1_073_741_824),
  /**
   * At maxMessages/maxBytes: drop-oldest evicts the oldest readings not yet sent (each counted per
   * device as evicted); refuse-new stops acknowledging new readings until the cloud takes some.
   */
  onFull: z.enum(['drop-oldest', 'refuse-new']).default('drop-oldest'),
  /** Below this much free space on the data filesystem the gateway stops acknowledging; 0: no floor. */
  minFreeBytes: z.number().int().min(0).default(134_217_728),
});

const kafka = z.strictObject({
  /** Comma-separated bootstrap servers. */
  brokers: z.string().min(1).default('localhost:9092'),
  readingsTopic: z.string().min(1).default('iot.readings'),
  heartbeatsTopic: z.string().min(1).default('iot.heartbeats'),
  quarantineTopic: z.string().min(1).default('iot.quarantine'),
  /** Most readings (metric values) in one ReadingBatch. */
  batchMaxReadings: z.number().int().min(1).max(1_000_000).default(5_000),
  /** Batches produced and not yet confirmed by a delivery report. */
  maxInflightBatches: z.number().int().min(1).max(64).default(8),
  /** How long librdkafka keeps trying one produce before reporting failure; then we back off and resend. */
  messageTimeoutMs: z.number().int().min(1_000).default(30_000),
  retryBackoffMinMs: z.number().int().min(10).default(500),
  retryBackoffMaxMs: z.number().int().min(10).default(30_000),
  /**
   * A heartbeat to heartbeatsTopic this often (its interval_ms field says so to the cloud). While
   * Kafka is out of reach only the newest one waits, and a fresh one goes the moment it is back.
   */
  heartbeatIntervalMs: z.number().int().min(100).default(30_000),
  /** Extra librdkafka properties (security.protocol, sasl.*, ssl.*), passed through as given. */
  rdkafka: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

// ── forward: live first during a drain (issue 15) ──
const forward = z.strictObject({
  /**
   * While a backlog drains, lease readings that arrived within liveWindowMs ahead of it, so live
   * data is not stuck behind an outage's worth of old readings. false: one lane, oldest first.
   */
  liveFirst: z.boolean().default(true),
  /**
   * How old (since its commit to the outbox) a reading may be and still go in the live lane. One
   * that waited longer without being sent is backlog from then on.
   */
  liveWindowMs: z.number().int().min(100).max(3_600_000).default(5_000),
  /**
   * Most compressed bytes per second produced for backlog batches (a token bucket), for metered
   * links; live batches are not counted against it. 0: no cap.
   */
  backlogMaxBytesPerSecond: z.number().int().min(0).default(0),
  /**
   * Backlog is produced only while fewer than this many of this gateway's backlog batches (of up to
   * kafka.batchMaxReadings each) wait in Kafka beyond the sink store group's committed offset (read
   * with sinkGroup), so a live batch never queues behind more backlog than the sink stores in a
   * moment. Kafka acks a batch long before the sink has stored it; without this a fast drain fills
   * the partition and live latency grows with it. 0: no bound (the in-flight window alone).
   */
  backlogMaxSinkLagBatches: z.number().int().min(0).default(2),
  /** The cloud sink's store consumer group (its kafka.storeGroup), whose committed offsets are read, never joined. */
  sinkGroup: z.string().min(1).default('fieldline-store'),
  /** How often the sink group's committed offset is read while a backlog drains. */
  sinkLagPollMs: z.number().int().min(50).max(60_000).default(100),
  /**
   * How a batch carries its readings on iot.readings. 'columns': per device, timestamps and values
   * as small integer deltas (about a third of the bytes for sensor values; schema major 2, which
   * sinks read from this release on). 'readings': one Reading message each (major 1), for sinks
   * older than this release. Upgrade the cloud first (docs/OPERATIONS.md).
   */
  encoding: z.enum(['columns', 'readings']).default('columns'),
});

const api = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().default('0.0.0.0'),
  port: port.default(8080),
  /** Bearer token for the local API. Unset: a random one is generated at start and logged once. */
  adminToken: z.string().min(16, 'expected at least 16 characters').optional(),
});

// --- config from the cloud (issue 15) ---------------------------------------------------------
const cloudConfig = z.strictObject({
  /**
   * Follow the cloud's config for this gateway (the compacted kafka topic below, key = gatewayId)
   * and apply each new version live; false: only the file and the local API change the config.
   */
  enabled: z.boolean().default(true),
  /** The compacted topic the cloud publishes versioned configs to (cloud: gatewayConfig.topic). */
  topic: z.string().min(1).default('iot.gateway-config'),
  /**
   * After a cloud version restarted an adapter, how long it has to come up: one still down after
   * this (and not down before) fails the version, and the previous config is put back. 0: no wait.
   */
  verifyMs: z.number().int().min(0).max(600_000).default(10_000),
});

const gatewayObject = z.strictObject({
  /** The Kafka key of every batch; held to the device id rule. */
  gatewayId: deviceIdSchema.default(() => toDeviceId(hostname(), 'gateway')),
  /** Where the outbox and other state live. */
  dataDir: z.string().default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  mqtt: mqttConfigSchema.default(() => mqttConfigSchema.parse({})),
  coap: coapConfigSchema.default(() => coapConfigSchema.parse({})),
  modbus: modbusConfigSchema.default(() => modbusConfigSchema.parse({})),
  pipeline: pipeline.default(() => pipeline.parse({})),
  devices: devices.default(() => devices.parse({})),
  rateLimit: rateLimit.default(() => rateLimit.parse({})),
  outbox: outbox.default(() => outbox.parse({})),
  kafka: kafka.default(() => kafka.parse({})),
  forward: forward.default(() => forward.parse({})),
  api: api.default(() => api.parse({})),
  /** Commands from the cloud to devices (commands/config.ts). */
  commands: commandsConfigSchema.default(() => commandsConfigSchema.parse({})),
  cloudConfig: cloudConfig.default(() => cloudConfig.parse({})),
  /** Whether the wall clock can be trusted, and readings stamped while it cannot (clock/config.ts). */
  clock: clockConfigSchema.default(() => clockConfigSchema.parse({})),
});

export const gatewayConfigSchema = gatewayObject.superRefine((cfg, ctx) => {
  cfg.devices.known.forEach((d, i) => {
    if (!(d.profile in cfg.rateLimit.profiles)) {
      ctx.addIssue({
        code: 'custom',
        path: ['devices', 'known', i, 'profile'],
        message: `no rate-limit profile ${JSON.stringify(d.profile)} (expected one of ${Object.keys(cfg.rateLimit.profiles).join(', ')})`,
      });
    }
  });
  if (!('default' in cfg.rateLimit.profiles)) {
    ctx.addIssue({ code: 'custom', path: ['rateLimit', 'profiles'], message: 'expected a profile named default' });
  }
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
/** Each top-level section's own schema (the cloud checks a pushed section with it). */
export const gatewaySectionSchemas = gatewayObject.shape;
export type Bucket = z.infer<typeof bucket>;
export const GATEWAY_ENV_PREFIX = 'FIELDLINE_GATEWAY_';
