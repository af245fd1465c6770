// The alert bench's reader, a child process of its own: the stack under test stalls its event loop
// for hundreds of milliseconds at a time (the embedded database runs on it), and a reader sharing
// that loop would time those stalls as the events' latency. Here the loop is idle, so "read" means
// when a consumer elsewhere could have had the event.
//
// It reads two topics, each in a consumer group of its own, and prints one JSON line per finding:
// - iot.alerts: every event of the bench's rule, with the Kafka timestamp the relay produced it at
//   and when it was read;
// - iot.readings: where each bench device's `level` changes (the readings that fire and resolve),
//   with the Kafka timestamp of the batch that carried it (when the gateway's forwarder leased it).
// `{"kind":"ready"}` once both are assigned their partitions; it stops when its stdin closes.
import { createInterface } from 'node:readline';
import type Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { GroupConsumer, type KafkaSettings } from '../cloud-sink/src/consume/group-consumer.js';
import { decodeBatch } from '../proto/src/wire.js';

export interface ReaderParams {
  kafka: KafkaSettings;
  alertsTopic: string;
  readingsTopic: string;
  ruleId: string;
  devicePrefix: string;
  metric: string;
  /** Readings batches produced before this (earlier benches on the same stack) are skipped undecoded. */
  fromMs: number;
  tag: string;
}

export type ReaderLine =
  | { kind: 'ready' }
  | { kind: 'event'; eventId: string; type: string; device: string; atMs: number; emittedMs: number; late: boolean; producedMs: number; readMs: number }
  | { kind: 'change'; device: string; tsMs: number; value: number; batchMs: number };

interface AlertEventPayload {
  event_id: string;
  type: string;
  at: string;
  emitted_at: string;
  late: boolean;
  alert: { rule_id: string; target: { device?: string } };
}

async function main(p: ReaderParams): Promise<void> {
  const say = (line: ReaderLine) => process.stdout.write(JSON.stringify(line) + '\n');
  const quiet = pino({ level: 'silent' });
  const alerts = new GroupConsumer({
    name: 'bench alerts reader',
    kafka: p.kafka,
    topics: [p.alertsTopic],
    group: `fieldline-bench-alerts-${p.tag}`,
    clientId: 'fieldline-bench-alerts',
    maxBatchMessages: 500,
    commit: 'manual',
    log: quiet,
    handle: async (messages: Kafka.Message[]) => {
      const readMs = Date.now();
      for (const m of messages) {
        const e = JSON.parse(m.value!.toString('utf8')) as AlertEventPayload;
        if (e.alert.rule_id !== p.ruleId) continue;
        say({
          kind: 'event', eventId: e.event_id, type: e.type, device: e.alert.target.device ?? '', atMs: Date.parse(e.at),
          emittedMs: Date.parse(e.emitted_at), late: e.late, producedMs: m.timestamp ?? NaN, readMs,
        });
      }
    },
  });
  const last = new Map<string, number>();
  const readings = new GroupConsumer({
    name: 'bench readings tracer',
    kafka: p.kafka,
    topics: [p.readingsTopic],
    group: `fieldline-bench-alerts-trace-${p.tag}`,
    clientId: 'fieldline-bench-alerts-trace',
    maxBatchMessages: 500,
    commit: 'manual',
    log: quiet,
    handle: async (messages: Kafka.Message[]) => {
      for (const m of messages) {
        if (!m.value || (m.timestamp ?? 0) < p.fromMs) continue;
        for (const r of decodeBatch(m.value).readings ?? []) {
          const value = r.metrics?.[p.metric];
          if (value === undefined || !r.deviceId?.startsWith(p.devicePrefix)) continue;
          if (last.get(r.deviceId) !== value) say({ kind: 'change', device: r.deviceId, tsMs: Number(r.tsMs), value, batchMs: m.timestamp ?? NaN });
          last.set(r.deviceId, value);
        }
      }
    },
  });
  alerts.start();
  readings.start();
  const stopped = new Promise<void>((resolve) => createInterface({ input: process.stdin }).on('close', resolve));
  let ready = false;
  while (!ready) {
    const done = await Promise.race([stopped.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))]);
    if (done) break;
    ready = alerts.assignments().length > 0 && readings.assignments().length > 0;
  }
  if (ready) say({ kind: 'ready' });
  await stopped;
  await Promise.all([alerts.stop(), readings.stop()]);
}

main(JSON.parse(process.argv[2] ?? '{}') as ReaderParams).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
