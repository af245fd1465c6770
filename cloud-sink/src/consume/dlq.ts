// The DLQ's message format (iot.sink-dlq, DESIGN.md "Kafka topics"): the original value, key and
// headers untouched, followed by four headers of the sink's own saying why and where from. Written
// by the store consumer, read by `fieldline-cloud dlq list|replay`.
import type Kafka from 'node-rdkafka';
import { countValues, decodeBatch, Header } from '../../../proto/src/wire.js';

export const DlqHeader = {
  /** `<FL_ERR_ code>: <message>`. */
  error: Header.error,
  sourceTopic: 'source-topic',
  sourcePartition: 'source-partition',
  sourceOffset: 'source-offset',
} as const;

const OWN: readonly string[] = Object.values(DlqHeader);

/** The headers a DLQ copy of `msg` carries: the message's own, then the sink's. */
export function dlqHeaders(msg: Kafka.Message, code: string, message: string): Kafka.MessageHeader[] {
  return [
    ...(msg.headers ?? []),
    { [DlqHeader.error]: `${code}: ${message}` },
    { [DlqHeader.sourceTopic]: msg.topic },
    { [DlqHeader.sourcePartition]: String(msg.partition) },
    { [DlqHeader.sourceOffset]: String(msg.offset) },
  ];
}

/**
 * The headers the message had before it was dead-lettered. The sink appended one of each of its own,
 * so the last occurrence of each is removed; an original header of the same name (a message that
 * came with an `error` header of its own) stays.
 */
export function originalHeaders(headers: readonly Kafka.MessageHeader[] | undefined): Kafka.MessageHeader[] {
  const list = [...(headers ?? [])];
  for (const name of OWN) {
    for (let i = list.length - 1; i >= 0; i--) {
      if (name in list[i]!) {
        list.splice(i, 1);
        break;
      }
    }
  }
  return list;
}

/** The last value of header `name` as text, or undefined. */
export function headerText(headers: readonly Kafka.MessageHeader[] | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (let i = headers.length - 1; i >= 0; i--) {
    const v = headers[i]![name];
    if (v !== undefined) return typeof v === 'string' ? v : v.toString('utf8');
  }
  return undefined;
}

const CODE = /^FL_ERR_[A-Z0-9_]+/;

export interface DlqEntry {
  partition: number;
  offset: number;
  /** The original message's timestamp (the DLQ copy keeps it), epoch ms; null when Kafka gave none. */
  timestampMs: number | null;
  /** The catalogued code from the `error` header; '' when there is none. */
  code: string;
  error: string;
  sourceTopic: string | undefined;
  sourcePartition: number | undefined;
  sourceOffset: number | undefined;
  /** From the batch when the value decodes, else from the headers (gateway-id, batch-seq) and the key. */
  gatewayId: string | undefined;
  seq: number | undefined;
  /** Readings (metric values) in the batch, or the reading-count header when the value does not decode. */
  readings: number | undefined;
}

export function describeDlqMessage(msg: Kafka.Message): DlqEntry {
  const error = headerText(msg.headers, DlqHeader.error) ?? '';
  const num = (text: string | undefined): number | undefined => (text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined);
  const entry: DlqEntry = {
    partition: msg.partition,
    offset: msg.offset,
    timestampMs: typeof msg.timestamp === 'number' && msg.timestamp > 0 ? msg.timestamp : null,
    code: CODE.exec(error)?.[0] ?? '',
    error,
    sourceTopic: headerText(msg.headers, DlqHeader.sourceTopic),
    sourcePartition: num(headerText(msg.headers, DlqHeader.sourcePartition)),
    sourceOffset: num(headerText(msg.headers, DlqHeader.sourceOffset)),
    gatewayId: headerText(msg.headers, Header.gatewayId) ?? keyText(msg.key),
    seq: num(headerText(msg.headers, Header.batchSeq)),
    readings: num(headerText(msg.headers, Header.readingCount)),
  };
  // What the value says beats what the headers claim, when the value can say anything at all.
  try {
    if (msg.value && msg.value.length > 0) {
      const b = decodeBatch(msg.value);
      if (b.gatewayId) entry.gatewayId = b.gatewayId;
      if (b.seq) entry.seq = b.seq;
      entry.readings = countValues(b.readings);
    }
  } catch {
    /* not a batch: the headers are all there is */
  }
  return entry;
}

function keyText(key: Kafka.MessageKey | undefined): string | undefined {
  if (key === null || key === undefined) return undefined;
  return typeof key === 'string' ? key : key.toString('utf8');
}
