// What travels on the config topic (DESIGN.md: iot.gateway-config, compacted, key = gateway id),
// shared by the cloud that writes it and the gateway that reads it, so both agree on the shape,
// on which sections the cloud may set, and on the partition a gateway's key lives in.
import { crc32 } from 'node:zlib';

/**
 * The sections a cloud version may set: the ones a running gateway applies live. The rest stay
 * local: identity and data directory (gatewayId, dataDir), the local API and its token, the outbox
 * (restart-only, and its bound guards the data), the log level, how cloud configs are followed, and
 * the Kafka link itself, since a wrong broker pushed from the cloud would cut the very link any
 * correction has to come back by.
 */
export const CLOUD_SECTIONS = ['mqtt', 'coap', 'modbus', 'pipeline', 'devices', 'rateLimit'] as const;
export type CloudSection = (typeof CLOUD_SECTIONS)[number];

export function isCloudSection(s: string): s is CloudSection {
  return (CLOUD_SECTIONS as readonly string[]).includes(s);
}

/** One version of a gateway's config as the topic carries it (JSON, snake_case as the cloud API). */
export interface CloudConfigMessage {
  gateway_id: string;
  /** Numbered by the cloud per gateway: 1, 2, 3 … never reused. */
  version: number;
  /** When the cloud issued it (cloud clock, epoch ms). */
  issued_ms: number;
  /** The API caller who issued it (the token's subject). */
  issued_by: string;
  /** Set: `config` is this one section, replacing it whole. Absent: `config` maps sections to values, each replacing its section whole. */
  section?: CloudSection;
  config: Record<string, unknown>;
}

/**
 * The partition `key` lives in: CRC-32 of its bytes modulo the partition count, which is what
 * librdkafka's default partitioner (consistent_random) picks for a non-empty key. The cloud
 * produces with this partition set explicitly, so a producer configured with another partitioner
 * cannot move a gateway's configs where the gateway does not read.
 */
export function configPartition(key: string, partitions: number): number {
  if (!(partitions >= 1)) throw new RangeError(`partition count ${partitions}`);
  return crc32(Buffer.from(key, 'utf8')) % partitions;
}

/** The sections a message sets, each to its whole new value. */
export function sectionsOf(m: CloudConfigMessage): Partial<Record<CloudSection, unknown>> {
  return m.section ? { [m.section]: m.config } : m.config;
}

/** Reads one message of the topic for `gatewayId`; a string says why it is not one (FL_ERR_CONFIG_CLOUD_MESSAGE). */
export function parseConfigMessage(key: string | null, value: Buffer | null, gatewayId: string): CloudConfigMessage | string {
  if (key !== gatewayId) return `key ${JSON.stringify(key)} is not this gateway`;
  if (value === null) return 'a tombstone (no value)';
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return 'the value is not JSON';
  }
  if (!isObject(json)) return 'the value is not a JSON object';
  const { gateway_id: id, version, issued_ms: issuedMs, issued_by: issuedBy, section, config } = json;
  if (id !== gatewayId) return `gateway_id ${JSON.stringify(id)} is not the key`;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return `version ${JSON.stringify(version)} is not a positive integer`;
  if (typeof issuedMs !== 'number' || !Number.isFinite(issuedMs)) return `issued_ms ${JSON.stringify(issuedMs)} is not a time`;
  if (typeof issuedBy !== 'string') return 'issued_by is not a string';
  if (section !== undefined && (typeof section !== 'string' || !isCloudSection(section))) return `section ${JSON.stringify(section)} is not one of ${CLOUD_SECTIONS.join(', ')}`;
  if (!isObject(config)) return 'config is not a JSON object';
  if (section === undefined) {
    const local = Object.keys(config).filter((k) => !isCloudSection(k));
    if (local.length) return `config sets ${local.join(', ')}, which only the gateway's own file sets`;
  }
  return { gateway_id: id, version, issued_ms: issuedMs, issued_by: issuedBy, ...(section === undefined ? {} : { section }), config };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
