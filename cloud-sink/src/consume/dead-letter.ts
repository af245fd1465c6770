// The sink's dead-letter queue as one small piece any worker can use: a message that cannot be
// handled goes to kafka.dlqTopic byte for byte, with why and where it came from in the headers of
// dlq.ts, and the produce is flushed before the caller lets its offset move, so a crash cannot lose
// the bad message. `fieldline-cloud dlq list|replay` reads every worker's rejects alike.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { WireError } from '../../../proto/src/wire.js';
import { FieldlineError } from '../errors.js';
import { dlqHeaders } from './dlq.js';
import { connectProducer, disconnectProducer, flushProducer, type KafkaSettings } from './group-consumer.js';

export class DeadLetters {
  private producer: Kafka.Producer | null = null;
  /** Messages sent to the DLQ by this instance. */
  sent = 0;
  /** The same, by the code in their `error` header. */
  readonly byCode: Record<string, number> = {};

  constructor(
    private readonly kafka: KafkaSettings,
    private readonly topic: string,
    private readonly clientId: string,
    private readonly log: Logger,
  ) {}

  /** Resolves once the message is in the DLQ (flushed); throws when Kafka cannot take it. */
  async send(msg: Kafka.Message, err: Error): Promise<void> {
    this.producer ??= await connectProducer(this.kafka, this.clientId);
    // A catalogued error keeps its own code; anything else is a decoding failure.
    const known = err instanceof FieldlineError ? err : new WireError('FL_ERR_WIRE_DECODE', err.message, { cause: err });
    this.log.warn({ topic: msg.topic, partition: msg.partition, offset: msg.offset, code: known.code, err: known.message }, 'message sent to the DLQ');
    const headers = dlqHeaders(msg, known.code, known.message);
    this.producer.produce(this.topic, null, msg.value ?? null, msg.key ?? null, msg.timestamp ?? null, undefined, headers);
    await flushProducer(this.producer);
    this.sent++;
    this.byCode[known.code] = (this.byCode[known.code] ?? 0) + 1;
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) await disconnectProducer(p);
  }
}
