// iot.quarantine into the `quarantine` table: what a gateway refused, the raw payload byte for byte
// and the catalogued reason, so an operator can see in the cloud why a device's data is missing.
// A record's Kafka position (topic, partition, offset) is its key: a replay finds its row already there.
import type Kafka from 'node-rdkafka';
import { decodeQuarantined, SourceProtocol, WireError } from '../../../proto/src/wire.js';
import { CloudError } from '../errors.js';
import type { Db } from '../store/db.js';
import { isUsableTime, pgText, pgTextOrNull } from './text.js';

export interface QuarantineRecord {
  kafkaTopic: string;
  kafkaPartition: number;
  kafkaOffset: number;
  gatewayId: string;
  /** Null when the gateway could not name a device (a refused login, say). */
  deviceId: string | null;
  /** When the gateway received the payload (its clock); null when the record carries no time. */
  tsMs: number | null;
  /** mqtt, coap, modbus_rtu or modbus_tcp; null when unspecified. */
  source: string | null;
  reasonCode: string;
  reason: string;
  /** The MQTT topic or CoAP path the payload came on. */
  topic: string | null;
  raw: Buffer;
}

const SOURCES: Record<number, string> = {
  [SourceProtocol.SOURCE_PROTOCOL_MQTT]: 'mqtt',
  [SourceProtocol.SOURCE_PROTOCOL_COAP]: 'coap',
  [SourceProtocol.SOURCE_PROTOCOL_MODBUS_RTU]: 'modbus_rtu',
  [SourceProtocol.SOURCE_PROTOCOL_MODBUS_TCP]: 'modbus_tcp',
};

/** Decodes a message of iot.quarantine; throws a catalogued error for one that is not a usable record. */
export function quarantineRecord(msg: Kafka.Message): QuarantineRecord {
  if (!msg.value) throw new WireError('FL_ERR_WIRE_EMPTY');
  const q = decodeQuarantined(msg.value);
  if (!q.gatewayId) throw new CloudError('FL_ERR_FLEET_BAD_QUARANTINE', `message at ${msg.topic}/${msg.partition}/${msg.offset}`);
  const source = q.source ? (SOURCES[q.source] ?? `unknown_${q.source}`) : null;
  return {
    kafkaTopic: msg.topic,
    kafkaPartition: msg.partition,
    kafkaOffset: msg.offset,
    gatewayId: pgText(q.gatewayId),
    deviceId: pgTextOrNull(q.deviceId),
    tsMs: isUsableTime(q.tsMs) ? q.tsMs : null,
    source,
    reasonCode: pgText(q.reasonCode ?? ''),
    reason: pgText(q.reason ?? ''),
    topic: pgTextOrNull(q.topic),
    raw: Buffer.from(q.raw ?? new Uint8Array(0)),
  };
}

/** Inserts the records in one statement; returns how many were new (the rest were replays). */
export async function writeQuarantine(db: Db, records: readonly QuarantineRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  // Raw bytes travel as hex text: both backends take a text[] alike, and decode() makes bytea of it.
  const r = await db.query(
    `INSERT INTO quarantine (kafka_topic, kafka_partition, kafka_offset, gateway_id, device_id, ts, received_at,
                             source, reason_code, reason, topic, raw)
     SELECT u.kt, u.kp, u.ko, u.gw, u.dev, timestamptz 'epoch' + u.ms * INTERVAL '1 millisecond', now(),
            u.src, u.code, u.reason, u.topic, decode(u.raw, 'hex')
       FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[],
                   $9::text[], $10::text[], $11::text[]) AS u(kt, kp, ko, gw, dev, ms, src, code, reason, topic, raw)
      ORDER BY u.kt, u.kp, u.ko
     ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING
     RETURNING 1`,
    [
      records.map((q) => q.kafkaTopic),
      records.map((q) => q.kafkaPartition),
      records.map((q) => q.kafkaOffset),
      records.map((q) => q.gatewayId),
      records.map((q) => q.deviceId),
      records.map((q) => q.tsMs),
      records.map((q) => q.source),
      records.map((q) => q.reasonCode),
      records.map((q) => q.reason),
      records.map((q) => q.topic),
      records.map((q) => q.raw.toString('hex')),
    ],
  );
  return r.rows.length;
}
