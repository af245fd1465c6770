// fieldline-cloud outbox import FILE: feeds a gateway's backlog, carried on a USB stick, through the
// sink (docs/OPERATIONS.md, "Carrying the backlog on a USB stick"). Each batch goes to the readings
// topic with its original key, headers and bytes, so the store, the lake and the alert evaluator
// take it like any batch, and the store's ingested_batches ledger, keyed by (gateway_id, seq), keeps
// it exactly once: importing twice, or the gateway sending the same batches later, stores nothing twice.
// The whole file is checked before the first produce, so a damaged file feeds nothing.
// Exit codes: 0 every batch confirmed by Kafka, 1 a damaged file or Kafka failed, 2 bad arguments.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type Kafka from 'node-rdkafka';
import { outboxFileRecords, readOutboxFile, type OutboxFileSummary } from '../../../proto/src/outbox-file.js';
import type { CloudConfig } from '../config/schema.js';
import { connectProducer, disconnectProducer } from '../consume/group-consumer.js';
import { CloudError, FieldlineError } from '../errors.js';

export const OUTBOX_USAGE = `  fieldline-cloud outbox import FILE [--config cloud.yaml] [--json]
    checks a file written by \`fieldline-gateway outbox export\` (refuses a damaged one, naming the
    record), then produces each batch to the readings topic with its own key, headers and seq and
    waits for Kafka to confirm each; the sink stores a batch once, so importing twice is harmless.`;

/** Records produced and not yet confirmed, at most; bounds memory on a large file. */
const WINDOW = 1_000;

export interface ImportSummary extends OutboxFileSummary {
  file: string;
  topic: string;
  brokers: string;
  /** Batches Kafka confirmed (all of them on success). */
  produced: number;
}

export async function outboxMain(argv: string[], loadConfig: (file: string | undefined) => CloudConfig): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (err) {
    console.error(`fieldline-cloud outbox: ${(err as Error).message}\nusage:\n${OUTBOX_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(`usage:\n${OUTBOX_USAGE}`);
    return 0;
  }
  const [sub, file, ...extra] = positionals;
  if (sub !== 'import' || file === undefined || extra.length > 0) {
    const why = sub !== 'import' ? `expected import${sub === undefined ? '' : ` (got ${JSON.stringify(sub)})`}` : file === undefined ? 'say which FILE to import' : `unexpected argument ${JSON.stringify(extra[0])}`;
    console.error(`fieldline-cloud outbox: ${why}\nusage:\n${OUTBOX_USAGE}`);
    return 2;
  }
  const path = resolve(file);
  if (!existsSync(path)) {
    console.error(`fieldline-cloud outbox import: no file at ${path}`);
    return 2;
  }
  const cfg = loadConfig(values.config);
  try {
    const s = await importOutboxFile(path, cfg.kafka);
    if (values.json) console.log(JSON.stringify(s, null, 2));
    else {
      const seqs = s.firstSeq === null ? 'no batches' : `seqs ${s.firstSeq}-${s.lastSeq}`;
      console.log(`imported ${s.produced} batches, ${s.readings} readings (${seqs}) of gateway ${s.gatewayId}, exported ${new Date(s.createdMs).toISOString()}`);
      console.log(`to ${s.topic} on ${s.brokers}, every batch confirmed by Kafka; the sink stores each batch once, so an import again or the gateway's own resend adds nothing`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof FieldlineError)) throw err;
    console.error(`fieldline-cloud outbox import: ${err.message} [${err.code}]`);
    return 1;
  }
}

/** Checks the file whole, then produces every batch and waits for each delivery report. */
export async function importOutboxFile(path: string, kafka: CloudConfig['kafka']): Promise<ImportSummary> {
  const checked = readOutboxFile(path);
  let producer: Kafka.Producer;
  try {
    producer = await connectProducer(kafka, 'fieldline-outbox-import', { dr_cb: true, 'message.timeout.ms': 30_000 });
  } catch (err) {
    throw new CloudError('FL_ERR_IMPORT_KAFKA', `${kafka.brokers}: ${(err as Error).message}`, { cause: err });
  }
  const waiting = new Map<number, { seq: number; resolve(): void; reject(e: Error): void }>();
  producer.on('delivery-report', (err, report) => {
    const w = waiting.get(report.opaque as number);
    if (!w) return;
    waiting.delete(report.opaque as number);
    if (err) w.reject(new CloudError('FL_ERR_IMPORT_DELIVERY', `seq ${w.seq} to ${report.topic}: ${err.message}`, { cause: err }));
    else w.resolve();
  });
  let produced = 0;
  const pending: Promise<void>[] = [];
  try {
    const records = outboxFileRecords(path);
    for (let id = 0; ; id++) {
      const next = records.next();
      if (next.done) break;
      const { seq, message } = next.value;
      const delivered = new Promise<void>((resolve, reject) => waiting.set(id, { seq, resolve, reject }));
      // Caught at the await below; without this a rejection before then would be "unhandled".
      delivered.catch(() => undefined);
      pending.push(delivered);
      const headers = Object.entries(message.headers).map(([k, v]) => ({ [k]: v }));
      await produceWithRoom(producer, () => producer.produce(kafka.readingsTopic, null, message.value, message.key, null, id, headers), seq);
      if (pending.length >= WINDOW) {
        await Promise.all(pending.splice(0));
        produced += WINDOW;
      }
    }
    const rest = pending.length;
    await Promise.all(pending.splice(0));
    produced += rest;
  } finally {
    await disconnectProducer(producer);
  }
  return { ...checked, file: path, topic: kafka.readingsTopic, brokers: kafka.brokers, produced };
}

/** librdkafka refuses a produce while its local queue is full; the queue drains as reports come in. */
async function produceWithRoom(producer: Kafka.Producer, produce: () => void, seq: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      produce();
      return;
    } catch (err) {
      const full = /queue full/i.test((err as Error).message);
      if (!full || attempt > 600) throw new CloudError('FL_ERR_IMPORT_DELIVERY', `seq ${seq}: ${(err as Error).message}`, { cause: err });
      producer.poll();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
