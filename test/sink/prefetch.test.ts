// The store consumer's prefetch (GroupConsumer with `prepare`), against a real Kafka broker: the
// next poll is fetched and prepared while the last one's handle still runs, yet handles run one at a
// time in poll order, offsets are committed only after their handle, and a failed handle replays
// its messages instead of skipping them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { GroupConsumer } from '../../cloud-sink/src/consume/group-consumer.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';

const MESSAGES = 20;
const PER_POLL = 5;

async function produceAll(bootstrap: string, topic: string): Promise<void> {
  const p = new Kafka.Producer({ 'metadata.broker.list': bootstrap, 'client.id': 'prefetch-test', 'enable.idempotence': true, dr_cb: true });
  await new Promise<void>((resolve, reject) => p.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  p.setPollInterval(20);
  let delivered = 0;
  let failed: Kafka.LibrdKafkaError | null = null;
  p.on('delivery-report', (err) => {
    if (err) failed = err;
    delivered++;
  });
  for (let i = 0; i < MESSAGES; i++) p.produce(topic, 0, Buffer.from(`m${i}`), 'k');
  try {
    await waitUntil(async () => delivered === MESSAGES, { timeoutMs: 30_000, what: 'delivery reports' });
    if (failed) throw new Error(`delivery failed: ${(failed as Kafka.LibrdKafkaError).message}`);
  } finally {
    await new Promise<void>((resolve) => p.disconnect(() => resolve()));
  }
}

/** What the consumer did, in order: prepare/handle-start/handle-end with the poll's first offset. */
type Event = { what: 'prepare' | 'handle-start' | 'handle-end' | 'handle-fail'; first: number; offsets: number[] };

function offsetsOf(messages: readonly Kafka.Message[]): number[] {
  return messages.map((m) => m.offset);
}

describe('GroupConsumer prefetch: one poll prepared ahead, handles in order, commits after them', { timeout: 240_000 }, () => {
  let dir = '';
  let kafka: KafkaBroker | undefined;
  const log = pino({ level: 'silent' });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fl-prefetch-'));
    kafka = await startKafka({ dataDir: join(dir, 'kafka'), logDir: dir });
    await kafka.createTopics([{ name: 'prefetch.a', partitions: 1 }, { name: 'prefetch.b', partitions: 1 }]);
    await produceAll(kafka.bootstrap, 'prefetch.a');
    await produceAll(kafka.bootstrap, 'prefetch.b');
  });

  after(async () => {
    await kafka?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prepares the next poll while a handle is held, commits nothing of a poll before its handle resolves, and hands each handle its own prepare', async () => {
    const events: Event[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    let running = 0;
    let maxRunning = 0;
    const consumer: GroupConsumer<number[]> = new GroupConsumer<number[]>({
      name: 'prefetch', kafka: { brokers: kafka!.bootstrap, sessionTimeoutMs: 6_000, rdkafka: {} }, topics: ['prefetch.a'],
      group: 'prefetch-a', clientId: 'prefetch-a', maxBatchMessages: PER_POLL, commit: 'after-handle', log,
      prepare: async (messages) => {
        events.push({ what: 'prepare', first: messages[0]!.offset, offsets: offsetsOf(messages) });
        return offsetsOf(messages);
      },
      handle: async (messages, prepared) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        events.push({ what: 'handle-start', first: messages[0]!.offset, offsets: prepared });
        // The first poll's handle waits until the test lets it go, as a slow transaction would.
        if (messages[0]!.offset === 0) await held;
        events.push({ what: 'handle-end', first: messages[0]!.offset, offsets: offsetsOf(messages) });
        running--;
      },
    });
    consumer.start();
    try {
      await waitUntil(async () => events.some((e) => e.what === 'handle-start' && e.first === 0), { timeoutMs: 60_000, what: 'the first handle' });
      // While it is held, the next poll arrives and is prepared, but not handled.
      await waitUntil(async () => events.some((e) => e.what === 'prepare' && e.first > 0), { timeoutMs: 30_000, what: 'the next poll prepared' });
      const ahead = events.find((e) => e.what === 'prepare' && e.first > 0)!;
      assert.ok(!events.some((e) => e.what === 'handle-start' && e.first === ahead.first), 'the prepared poll waits for the held handle');
      assert.equal(events.filter((e) => e.what === 'prepare').length, 2, 'no more than one poll is prepared ahead');
      const part = [{ topic: 'prefetch.a', partition: 0 }];
      const before = await consumer.committed(part);
      assert.ok(before, 'the group coordinator answered');
      assert.ok((before.get('prefetch.a\u00000') ?? -1001) <= 0, `nothing committed while the first handle runs (got ${String(before.get('prefetch.a\u00000'))})`);
      release();
      await waitUntil(async () => (await consumer.committed(part))?.get('prefetch.a\u00000') === MESSAGES, { timeoutMs: 30_000, what: 'all offsets committed' });
    } finally {
      release();
      await consumer.stop();
    }
    assert.equal(maxRunning, 1, 'handles never overlap');
    const starts = events.filter((e) => e.what === 'handle-start');
    assert.deepEqual(starts.flatMap((e) => e.offsets), Array.from({ length: MESSAGES }, (_, i) => i), 'every offset handled once, in order');
    for (const s of starts) assert.equal(s.offsets[0], s.first, 'each handle got the result of its own prepare');
    // Each handle-start comes after the previous handle-end: one at a time, in poll order.
    const order = events.filter((e) => e.what !== 'prepare').map((e) => `${e.what}:${e.first}`);
    for (let i = 0; i + 1 < order.length; i += 2) {
      assert.equal(order[i]!.split(':')[0], 'handle-start');
      assert.equal(order[i + 1], order[i]!.replace('start', 'end'));
    }
  });

  it('a handle that throws drops the prepared poll too: both replay from the last commit, nothing is skipped', async () => {
    const handled: number[] = [];
    let failures = 0;
    const consumer = new GroupConsumer<number[]>({
      name: 'prefetch', kafka: { brokers: kafka!.bootstrap, sessionTimeoutMs: 6_000, rdkafka: {} }, topics: ['prefetch.b'],
      group: 'prefetch-b', clientId: 'prefetch-b', maxBatchMessages: PER_POLL, commit: 'after-handle', log,
      prepare: async (messages) => offsetsOf(messages),
      handle: async (messages, prepared) => {
        // The poll holding offset 5 fails once, like a transaction the database aborted.
        if (prepared.includes(5) && failures === 0) {
          failures++;
          throw new Error('database went away');
        }
        handled.push(...offsetsOf(messages));
      },
    });
    consumer.start();
    try {
      await waitUntil(async () => (await consumer.committed([{ topic: 'prefetch.b', partition: 0 }]))?.get('prefetch.b\u00000') === MESSAGES, {
        timeoutMs: 90_000, what: 'all offsets committed after the failure',
      });
    } finally {
      await consumer.stop();
    }
    assert.equal(failures, 1);
    assert.ok(consumer.stats.consumeErrors >= 1, 'the failure dropped the connection');
    // Every offset was handled successfully at least once, the failed poll's included (a poll
    // committed before the failure may come again: commits are asynchronous, replays are allowed).
    assert.deepEqual([...new Set(handled)].sort((a, b) => a - b), Array.from({ length: MESSAGES }, (_, i) => i), 'no offset skipped');
  });
});
