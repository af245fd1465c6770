// The forwarder's lanes with a fake producer over a real outbox: a live batch goes before the
// backlog, the backlog never takes the last in-flight slot, and the sink's lag (a fake offset
// reader) holds the backlog back while live batches still go. The real thing end to end is
// test/fault/gateway-live-first.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Header, v1 } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { Metrics } from '../metrics.js';
import { SqliteOutbox, type SqliteOutboxOptions } from '../outbox/sqlite-outbox.js';
import type { WalFile } from '../outbox/wal-sync.js';
import { Forwarder } from './forwarder.js';
import type { CommittedReader } from './sink-lag.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-fw-lanes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Produced {
  seq: number;
  lane: string;
  bytes: number;
}

interface Internals {
  link: { producer: unknown };
  sinkLag: { poll(): Promise<void> };
  onDelivery(err: { message: string } | null, opaque: unknown, report?: { partition: number; offset: number }): void;
}

let n = 0;
async function setup(forward: Record<string, unknown>, committed: { offset: number | null }, durability: Partial<SqliteOutboxOptions> = { synchronous: 'NORMAL' }) {
  const shift = { ms: -60_000 }; // the outbox's clock: a minute back while the backlog fills
  const outbox = new SqliteOutbox({ path: join(dir, `fw-${++n}.db`), ...durability, clock: () => Date.now() + shift.ms });
  const cfg = gatewayConfigSchema.parse({ kafka: { maxInflightBatches: 4, batchMaxReadings: 10 }, forward });
  const reader = (): CommittedReader => ({ committed: async () => committed.offset, close: async () => undefined });
  const fw = new Forwarder(cfg.kafka, 'gw-1', outbox, new Metrics(), pino({ level: 'silent' }), { forward: cfg.forward, committedReader: reader });
  const produced: Produced[] = [];
  const internals = fw as unknown as Internals;
  internals.link.producer = {
    isConnected: () => true,
    flush: (_ms: number, cb: () => void) => cb(),
    disconnect: (cb: () => void) => cb(),
    produce: (_t: string, _p: null, value: Buffer, _k: string, _ts: number, opaque: number, headers: Record<string, string>[]) => {
      const lane = headers.find((h) => Header.lane in h)![Header.lane]!;
      produced.push({ seq: opaque, lane, bytes: value.length });
    },
  };
  let offset = 0;
  const deliver = (seq: number) => internals.onDelivery(null, seq, { partition: 0, offset: offset++ });
  const append = async (count: number) => {
    for (let i = 0; i < count; i++) await outbox.append([{ deviceId: 'd', tsMs: Date.now(), metrics: { x: i }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT }]);
  };
  await append(200); // 20 backlog batches' worth
  shift.ms = 0;
  return { outbox, fw, produced, internals, deliver, append, close: async () => { await fw.stop(100); outbox.close(); } };
}

describe('Forwarder lanes', () => {
  it('sends live readings first, and keeps one in-flight slot free of backlog for them', async () => {
    const t = await setup({ backlogMaxSinkLagBatches: 0 }, { offset: null });
    try {
      await t.append(3);
      t.fw.pump();
      assert.deepEqual(t.produced.map((p) => p.lane), ['live', 'backlog', 'backlog', 'backlog'], 'live first, then backlog into the rest of the window');
      t.deliver(t.produced[0]!.seq); // the live batch is confirmed: a slot frees
      assert.equal(t.produced.length, 4, 'the freed slot is not given to the backlog');
      assert.equal(t.fw.status().lanes.backlog.heldBy, 'live-reserve');
      await t.append(2);
      t.fw.pump();
      assert.deepEqual(t.produced.slice(4).map((p) => p.lane), ['live'], 'a live batch goes at once, behind no backlog');
      t.deliver(t.produced[1]!.seq);
      assert.equal(t.produced.at(-1)!.lane, 'backlog', 'a backlog batch confirmed makes room for the next');
      const lanes = t.fw.status().lanes;
      assert.equal(lanes.live.deliveredBatches, 1);
      assert.equal(lanes.backlog.deliveredBatches, 1);
      assert.equal(lanes.backlog.deliveredReadings, 10);
    } finally {
      await t.close();
    }
  });

  it('holds the backlog while the sink is behind, and never holds live batches', async () => {
    const committed = { offset: 0 as number | null };
    const t = await setup({ backlogMaxSinkLagBatches: 3 }, committed);
    const lanes = () => t.produced.map((p) => p.lane).join(' ');
    try {
      t.fw.pump();
      assert.equal(lanes(), 'backlog backlog backlog');
      // Confirmed at offsets 0..2. Until the sink's offset is read they count as unstored.
      for (const p of t.produced.slice()) t.deliver(p.seq);
      assert.equal(t.produced.length, 3, 'no flood before the first reading of the sink\'s offset');
      await t.internals.sinkLag.poll(); // the sink has stored none of them
      assert.equal(t.fw.status().lanes.sinkLag.lagBatches, 3);
      t.fw.pump();
      assert.equal(t.produced.length, 3, '3 backlog batches waiting in the sink: the bound is reached');
      assert.equal(t.fw.status().lanes.backlog.heldBy, 'sink-lag');
      await t.append(3);
      t.fw.pump();
      assert.equal(lanes(), 'backlog backlog backlog live', 'live goes though the backlog is held');
      t.deliver(t.produced[3]!.seq); // offset 3
      assert.equal(t.produced.length, 4, 'still held: the sink has stored nothing');
      committed.offset = 4; // the sink caught up
      await t.internals.sinkLag.poll();
      t.fw.pump();
      assert.equal(lanes(), 'backlog backlog backlog live backlog backlog backlog', 'the backlog resumes up to the bound');
      assert.equal(t.fw.status().lanes.backlog.heldBy, 'sink-lag');
    } finally {
      await t.close();
    }
  });

  it('caps the backlog\'s compressed bytes per second, live batches uncounted', async () => {
    const t = await setup({ backlogMaxSinkLagBatches: 0, backlogMaxBytesPerSecond: 1 }, { offset: null });
    try {
      t.fw.pump();
      assert.deepEqual(t.produced.map((p) => p.lane), ['backlog'], 'one batch spends the budget');
      t.deliver(t.produced[0]!.seq);
      assert.equal(t.fw.status().lanes.backlog.heldBy, 'byte-budget');
      assert.equal(t.fw.status().lanes.backlog.producedBytes, t.produced[0]!.bytes);
      await t.append(1);
      t.fw.pump();
      assert.deepEqual(t.produced.map((p) => p.lane), ['backlog', 'live']);
    } finally {
      await t.close();
    }
  });

  it('with liveFirst off, one lane: the oldest first, no holds', async () => {
    const t = await setup({ liveFirst: false }, { offset: 0 });
    try {
      await t.append(3);
      t.fw.pump();
      assert.deepEqual(t.produced.map((p) => p.lane), ['backlog', 'backlog', 'backlog', 'backlog'], 'the live readings wait behind the backlog');
      assert.equal(t.fw.status().lanes.sinkLag.state, 'off');
    } finally {
      await t.close();
    }
  });

  it('with synchronous=FULL a leased batch leaves only once its lease is on the disk, synced off the event loop', async () => {
    // The WAL's syncs complete only when the test says so (the real fdatasync runs on the thread pool).
    let syncs: ((err: Error | null) => void)[] = [];
    let blocking = 0;
    const walFile: WalFile = {
      open: () => 3,
      sync: (_fd, cb) => void syncs.push(cb),
      syncNow: () => void blocking++,
      close: () => undefined,
    };
    const finishSyncs = async () => {
      const held = syncs;
      syncs = [];
      for (const cb of held) cb(null);
      await new Promise((r) => setImmediate(r));
    };
    const setupHeld = async () => {
      const pending = setup({ backlogMaxSinkLagBatches: 0 }, { offset: null }, { walFile });
      // setup appends 200 readings one by one, each released by a sync.
      let done = false;
      void pending.then(() => (done = true), () => (done = true));
      while (!done) {
        await finishSyncs();
        await new Promise((r) => setImmediate(r));
      }
      return pending;
    };
    const t = await setupHeld();
    try {
      t.fw.pump();
      assert.equal(t.produced.length, 0, 'leased, but not produced before the sync');
      assert.equal(t.fw.status().inflightBatches, 3, 'the leased batches hold their window slots meanwhile (one kept for live)');
      assert.equal(syncs.length, 1, 'one sync covers every lease of the pump');
      await finishSyncs();
      assert.deepEqual(t.produced.map((p) => p.lane), ['backlog', 'backlog', 'backlog'], 'sent in seq order once durable');
      assert.deepEqual(t.produced.map((p) => p.seq), [...t.produced.map((p) => p.seq)].sort((a, b) => a - b));
      assert.equal(blocking, 0, 'no sync blocked the event loop');
    } finally {
      await t.close();
    }
  });
});
