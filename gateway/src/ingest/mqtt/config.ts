// MQTT adapter settings. The schema is the documentation (sample.yaml shows the same settings as a
// file); every default is here and unknown keys are refused. The rate limit that disconnects a
// client is not here: it lives with the other buckets under rateLimit.disconnectAfter.
import { z } from 'zod';
import { deviceIdSchema } from '../device-id.js';

const port = z.number().int().min(0).max(65535);

const tlsSchema = z.strictObject({
  /** MQTT over TLS with client certificates (mutual TLS). */
  enabled: z.boolean().default(false),
  port: port.default(8883),
  /**
   * PEM files: the gateway's certificate and key, and the CA that signs device certificates. Set
   * all three, or none: then the gateway's own CA under <dataDir>/pki is used (made at first start;
   * `fieldline-gateway device add` issues device certificates from it).
   */
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
  caFile: z.string().optional(),
  /** Where a device certificate carries the device id: its subject CN, or its first DNS/URI SAN. */
  identityFrom: z.enum(['cn', 'san']).default('cn'),
});

const credentialSchema = z.strictObject({
  username: z.string().min(1),
  /** Plain text, or scrypt:<salt base64>:<hash base64> (see docs/OPERATIONS.md). */
  password: z.string().min(1),
  /** The device this login speaks for; defaults to the username. */
  deviceId: deviceIdSchema.optional(),
});

export const mqttConfigSchema = z
  .strictObject({
    /** Turn MQTT ingest off entirely. */
    enabled: z.boolean().default(true),
    host: z.string().default('0.0.0.0'),
    /** Plain MQTT (TCP); 0 picks a free port. */
    port: port.default(1883),
    /** Turn the plain TCP listener off (TLS and WebSocket only). */
    plainEnabled: z.boolean().default(true),
    tls: tlsSchema.default(() => tlsSchema.parse({})),
    /** MQTT over WebSocket (path /mqtt and /) for devices behind proxies that pass only HTTP. */
    websocket: z.strictObject({ enabled: z.boolean().default(false), port: port.default(8081) }).default({ enabled: false, port: 8081 }),
    /**
     * Plain and WebSocket listeners: allow clients without a username. Their device id is their MQTT
     * client id. false: every client needs one of `credentials` (or a certificate on TLS).
     */
    allowAnonymous: z.boolean().default(true),
    credentials: z.array(credentialSchema).default([]),
    /** A device may publish only under devices/{its id}/ and subscribe only there. */
    enforceAcl: z.boolean().default(true),
    /** Sessions and QoS 1 state survive a restart (LevelDB under <dataDir>/mqtt). false: memory only. */
    persistSessions: z.boolean().default(true),
    /** Larger payloads are refused and quarantined (the bytes kept are truncated to this size). */
    maxPayloadBytes: z.number().int().min(64).max(1_048_576).default(65_536),
    /** Whole MQTT packets larger than this close the connection before they are buffered. */
    maxPacketBytes: z.number().int().min(1024).max(16 * 1_048_576).default(262_144),
    /** Longest accepted topic, in bytes. */
    maxTopicLength: z.number().int().min(16).max(65_535).default(512),
  })
  .superRefine((cfg, ctx) => {
    // Checked here rather than when the listener opens, so start-up stops before anything listens.
    if (!cfg.enabled || !cfg.tls.enabled) return;
    const keys = ['certFile', 'keyFile', 'caFile'] as const;
    const given = keys.filter((k) => cfg.tls[k]);
    // None: the gateway's own CA. Some: a half-configured listener, which is surely a mistake.
    if (given.length === 0) return;
    for (const key of keys) {
      // The missing value as `input`: left out, zod reports the whole section, credentials included.
      if (!cfg.tls[key]) {
        ctx.addIssue({
          code: 'custom', path: ['tls', key], input: cfg.tls[key],
          message: `expected a PEM file path beside ${given.join(' and ')} (set certFile, keyFile and caFile together, or none to use the gateway's own CA under dataDir/pki)`,
        });
      }
    }
  });

export type MqttConfig = z.infer<typeof mqttConfigSchema>;
