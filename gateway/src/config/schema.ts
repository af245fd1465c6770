// The gateway's settings. This schema is the documentation: every field says what it does, and
// every default is here. gateway/gateway.sample.yaml shows the same settings as a file.
import { hostname } from 'node:os';
import { z } from 'zod';
import { coapConfigSchema } from '../ingest/coap/config.js';
import { modbusConfigSchema } from '../ingest/modbus/config.js';

const port = z.number().int().min(0).max(65535);
const id = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'expected 1-128 characters of A-Z a-z 0-9 _ . : -');

const mqtt = z.strictObject({
  /** Turn the MQTT listener off entirely. */
  enabled: z.boolean().default(true),
  host: z.string().default('0.0.0.0'),
  /** Plain MQTT (TCP). */
  port: port.default(1883),
  /** Larger payloads are refused and quarantined (the bytes kept are truncated to this size). */
  maxPayloadBytes: z.number().int().min(64).max(1_048_576).default(65_536),
});

const pipeline = z.strictObject({
  maxMetricsPerReading: z.number().int().min(1).max(1024).default(64),
  /** Readings stamped further ahead of the gateway clock than this are refused. */
  maxFutureSkewMs: z.number().int().min(0).default(5 * 60_000),
  /** Readings older than this are refused (an outage longer than this on the device side is lost). */
  maxAgeMs: z.number().int().min(0).default(7 * 24 * 3_600_000),
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
  heartbeatIntervalMs: z.number().int().min(1_000).default(30_000),
  /** Extra librdkafka properties (security.protocol, sasl.*, ssl.*), passed through as given. */
  rdkafka: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

const api = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().default('0.0.0.0'),
  port: port.default(8080),
  /** Bearer token for the local API. Unset: a random one is generated at start and logged once. */
  adminToken: z.string().min(16, 'expected at least 16 characters').optional(),
});

export const gatewayConfigSchema = z.strictObject({
  gatewayId: id.default(() => hostname().replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 128) || 'gateway'),
  /** Where the outbox and other state live. */
  dataDir: z.string().default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  mqtt: mqtt.default(() => mqtt.parse({})),
  coap: coapConfigSchema.default(() => coapConfigSchema.parse({})),
  modbus: modbusConfigSchema.default(() => modbusConfigSchema.parse({})),
  pipeline: pipeline.default(() => pipeline.parse({})),
  outbox: outbox.default(() => outbox.parse({})),
  kafka: kafka.default(() => kafka.parse({})),
  api: api.default(() => api.parse({})),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export const GATEWAY_ENV_PREFIX = 'FIELDLINE_GATEWAY_';
