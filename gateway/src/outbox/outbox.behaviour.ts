// The behaviour every Outbox implementation must show (CONVENTIONS.md point 5). An implementation's
// test file calls outboxBehaviour with a factory that opens the same store again on each call.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v1, type Reading } from '../../../proto/src/wire.js';
import { OutboxFullError, type Outbox, type OutboxBounds } from './outbox.js';

export interface OutboxFactory {
  /** Opens the outbox under test; a second call with the same name reopens the same data. */
  open(name: string, bounds?: OutboxBounds): Outbox;
}

function reading(deviceId: string, n: number, metrics = 1): Reading {
  const m: Record<string, number> = { seq: n };
  for (let i = 1; i < metrics; i++) m[`m${i}`] = n + i / 10;
  return { deviceId, tsMs: 1_700_000_000_000 + n, metrics: m, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT };
}

function seqs(batch: { readings: Uint8Array[] }): number[] {
  return batch.readings.map((b) => v1.Reading.decode(b).metrics.seq as number);
}

export function outboxBehaviour(kind: string, factory: OutboxFactory): void {
  describe(`outbox behaviour: ${kind}`, () => {
    it('an appended reading is there after a reopen (replay after restart)', async () => {
      const a = factory.open('replay');
      await a.append([reading('d1', 1, 3)]);
      a.close();
      const b = factory.open('replay');
      assert.equal(b.stats().depthMessages, 1);
      assert.equal(b.stats().depthValues, 3);
      const batch = b.lease(100);
      assert.ok(batch);
      assert.deepEqual(v1.Reading.decode(batch.readings[0]!).toJSON(), v1.Reading.create(reading('d1', 1, 3)).toJSON());
      b.close();
    });

    it('leases in append order, bounded by values, without splitting a message', async () => {
      const o = factory.open('order');
      await Promise.all(Array.from({ length: 10 }, (_, i) => o.append([reading('d1', i + 1, 2)])));
      const first = o.lease(5)!;
      assert.deepEqual(seqs(first), [1, 2]);
      assert.equal(first.values, 4);
      const second = o.lease(100)!;
      assert.deepEqual(seqs(second), [3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(o.lease(100), null);
      o.close();
    });

    it('a message larger than the batch bound goes alone rather than being stuck', async () => {
      const o = factory.open('oversize');
      await o.append([reading('d1', 1, 8), reading('d1', 2, 1)]);
      assert.deepEqual(seqs(o.lease(3)!), [1]);
      assert.deepEqual(seqs(o.lease(3)!), [2]);
      o.close();
    });

    it('ack removes exactly the batch; unacked batches come back with the same seq and bytes after a reopen', async () => {
      const a = factory.open('ack');
      await a.append([1, 2, 3, 4].map((n) => reading('d1', n)));
      const b1 = a.lease(2)!;
      const b2 = a.lease(2)!;
      assert.ok(b2.seq > b1.seq);
      a.ack(b1.seq);
      assert.equal(a.stats().depthMessages, 2);
      a.close();
      const b = factory.open('ack');
      const again = b.unacked();
      assert.deepEqual(again.map((x) => x.seq), [b2.seq]);
      assert.deepEqual(again[0]!.readings.map((r) => Buffer.from(r)), b2.readings.map((r) => Buffer.from(r)));
      assert.equal(again[0]!.createdMs, b2.createdMs);
      assert.equal(b.lease(10), null, 'rows of an unacked batch are not leased twice');
      b.ack(b2.seq);
      assert.equal(b.stats().depthMessages, 0);
      b.close();
    });

    it('seq is strictly increasing and never reused, also after everything was acked and the outbox reopened', async () => {
      const a = factory.open('seq');
      await a.append([reading('d1', 1)]);
      const s1 = a.lease(10)!.seq;
      a.ack(s1);
      a.close();
      const b = factory.open('seq');
      await b.append([reading('d1', 2)]);
      const s2 = b.lease(10)!.seq;
      assert.ok(s2 > s1, `${s2} > ${s1}`);
      b.close();
    });

    it('keeps per-device order across many concurrent appends (group commit)', async () => {
      const o = factory.open('group');
      const devices = ['a', 'b', 'c'];
      await Promise.all(Array.from({ length: 3000 }, (_, i) => o.append([reading(devices[i % 3]!, Math.floor(i / 3) + 1)])));
      const seen = new Map<string, number[]>();
      for (let b = o.lease(1000); b; b = o.lease(1000)) {
        for (const raw of b.readings) {
          const r = v1.Reading.decode(raw);
          seen.set(r.deviceId, [...(seen.get(r.deviceId) ?? []), r.metrics.seq as number]);
        }
      }
      for (const d of devices) assert.deepEqual(seen.get(d), Array.from({ length: 1000 }, (_, i) => i + 1));
      o.close();
    });

    it('keeps quarantined payloads with their reason, newest first', async () => {
      const o = factory.open('quarantine');
      await o.quarantine({ deviceId: 'd1', raw: Buffer.from('not json'), reasonCode: 'FL_ERR_DECODE_JSON', reason: 'bad', topic: 't' });
      await o.quarantine({ deviceId: 'd2', raw: Buffer.from('{}'), reasonCode: 'FL_ERR_VALIDATE_SHAPE', reason: 'bad', topic: 't' });
      const rows = o.recentQuarantine(10);
      assert.deepEqual(rows.map((r) => r.deviceId), ['d2', 'd1']);
      assert.equal(rows[1]!.raw.toString(), 'not json');
      assert.equal(rows[1]!.reasonCode, 'FL_ERR_DECODE_JSON');
      assert.equal(o.stats().depthMessages, 0, 'quarantine is not forwarded as readings');
      o.close();
    });

    it('hands quarantined records to the forwarder oldest first until marked, also across a reopen', async () => {
      const a = factory.open('qforward');
      for (const n of [1, 2, 3]) {
        await a.quarantine({ deviceId: `d${n}`, raw: Buffer.from([n]), reasonCode: 'FL_ERR_DECODE_JSON', reason: 'bad', topic: 't', tsMs: 1_700_000_000_000 + n });
      }
      const first = a.pendingQuarantine(2);
      assert.deepEqual(first.map((r) => r.deviceId), ['d1', 'd2']);
      assert.equal(a.stats().quarantinePending, 3);
      a.markQuarantineForwarded(first.map((r) => r.id));
      assert.deepEqual(a.pendingQuarantine(10).map((r) => r.deviceId), ['d3']);
      a.close();
      const b = factory.open('qforward');
      assert.deepEqual(b.pendingQuarantine(10).map((r) => r.deviceId), ['d3'], 'the mark is durable');
      assert.equal(b.stats().quarantinePending, 1);
      assert.equal(b.recentQuarantine(10).length, 3, 'forwarded records stay for inspection');
      b.markQuarantineForwarded([]);
      b.close();
    });

    it('at the message bound, drop-oldest evicts the oldest unleased readings and counts each per device', async () => {
      const evicted = new Map<string, number>();
      const onEvict = (m: Map<string, number>) => m.forEach((n, d) => evicted.set(d, (evicted.get(d) ?? 0) + n));
      const o = factory.open('evict', { maxMessages: 100, onFull: 'drop-oldest', onEvict });
      for (let i = 1; i <= 100; i++) await o.append([reading(i % 2 ? 'odd' : 'even', i, 2)]);
      const leased = o.lease(20)!; // seq 1..10 are in flight: not evictable
      assert.deepEqual(seqs(leased), Array.from({ length: 10 }, (_, i) => i + 1));
      for (let i = 101; i <= 150; i++) await o.append([reading(i % 2 ? 'odd' : 'even', i, 2)]);
      const s = o.stats();
      assert.ok(s.depthMessages <= 100, `depth ${s.depthMessages} within the bound`);
      const kept: number[] = [...seqs(leased)];
      o.ack(leased.seq);
      for (let b = o.lease(1000); b; b = o.lease(1000)) kept.push(...seqs(b));
      const missing = Array.from({ length: 150 }, (_, i) => i + 1).filter((n) => !kept.includes(n));
      assert.ok(missing.length >= 50, `${missing.length} evicted`);
      assert.deepEqual(missing, Array.from({ length: missing.length }, (_, i) => i + 11), 'the oldest unleased ones went');
      const count = (d: string) => missing.filter((n) => (n % 2 ? 'odd' : 'even') === d).length * 2;
      assert.deepEqual(Object.fromEntries(evicted), { odd: count('odd'), even: count('even') }, 'each evicted reading counted against its device');
      assert.equal(s.evictedValues, missing.length * 2);
      assert.deepEqual(kept.slice(-50), Array.from({ length: 50 }, (_, i) => i + 101), 'every new reading kept');
      o.close();
    });

    it('at the byte bound, refuse-new rejects the append, commits none of it, and says why until there is room', async () => {
      const o = factory.open('refuse', { maxBytes: 2_000, onFull: 'refuse-new' });
      let accepted = 0;
      let refused: unknown;
      for (let i = 1; i <= 200 && !refused; i++) {
        try {
          await o.append([reading('d1', i)]);
          accepted++;
        } catch (err) {
          refused = err;
        }
      }
      assert.ok(refused instanceof OutboxFullError && refused.code === 'FL_ERR_OUTBOX_FULL', String(refused));
      assert.ok(accepted > 10);
      assert.equal(o.stats().depthMessages, accepted, 'the refused append left nothing behind');
      assert.ok(o.stats().depthBytes <= 2_000);
      assert.equal(o.stats().full?.code, 'FL_ERR_OUTBOX_FULL');
      assert.equal(o.stats().evictedValues, 0);
      const b = o.lease(1_000)!;
      o.ack(b.seq);
      assert.equal(o.stats().full, null, 'room again');
      await o.append([reading('d1', 999)]);
      o.close();
    });

    it('stores a resend (dup) of the message last committed under its key once, also after delivery and a reopen; a first send always', async () => {
      const key = (id: number) => ({ key: `client-1\u0000${id}`, digest: Buffer.from(`payload-${id}`), dup: false });
      const a = factory.open('redelivery');
      await a.append([reading('d1', 1)], key(7));
      // The resend and a second resend in one group commit: neither is stored.
      await Promise.all([a.append([reading('d1', 1)], { ...key(7), dup: true }), a.append([reading('d1', 1)], { ...key(7), dup: true })]);
      // Delivered to the cloud and deleted (key 7), or still waiting (key 9): either resend is recognised.
      a.ack(a.lease(100)!.seq);
      await a.append([reading('d1', 9)], key(9));
      a.close();
      const b = factory.open('redelivery');
      assert.equal(await b.append([reading('d1', 1)], { ...key(7), dup: true }), false);
      assert.equal(await b.append([reading('d1', 9)], { ...key(9), dup: true }), false);
      // Same id, other bytes: a different message, stored; a first send with the same bytes: stored.
      await b.append([reading('d1', 2)], { ...key(7), digest: Buffer.from('other'), dup: true });
      await b.append([reading('d1', 3)], key(8));
      await b.append([reading('d1', 3)], key(8));
      assert.deepEqual(seqs(b.lease(100)!), [9, 2, 3, 3]);
      assert.equal(b.stats().depthMessages, 4);
      assert.equal(b.stats().redeliveriesDropped, 2);
      b.close();
    });

    it('after a reopen, a resend without dup of a message committed just before is recognised once, until its sender sends something new', async (t) => {
      const key = (sender: string, id: number, digest = `payload-${sender}-${id}`) => ({ key: `${sender}\u0000${id}`, digest: Buffer.from(digest), dup: false });
      // old/1 was committed a minute before the others: not a candidate after the restart.
      t.mock.timers.enable({ apis: ['Date'], now: 1_800_000_000_000 });
      const a = factory.open('restart-resend');
      await a.append([reading('d1', 1)], key('old', 1));
      t.mock.timers.tick(60_000);
      await a.append([reading('d1', 2)], key('c1', 1));
      // c1/1 delivered and deleted, c1/2 and c2/5 still waiting: both kinds are candidates.
      a.ack(a.lease(100)!.seq);
      await a.append([reading('d1', 3)], key('c1', 2));
      await a.append([reading('d1', 4)], key('c2', 5));
      a.close();

      const b = factory.open('restart-resend');
      // One group commit: c1 resends 1, then sends 1 again (a new message under a reused id).
      const stored = await Promise.all([b.append([reading('d1', 2)], key('c1', 1)), b.append([reading('d1', 2)], key('c1', 1))]);
      assert.deepEqual(stored, [false, true], 'append resolves to whether it stored the message');
      // c1 is past its resends now: an exact copy of c1/2 is a new message.
      await b.append([reading('d1', 3)], key('c1', 2));
      // c2 first sends something new under id 5: its old candidates are gone.
      await b.append([reading('d1', 5)], key('c2', 5, 'other'));
      await b.append([reading('d1', 4)], key('c2', 5));
      await b.append([reading('d1', 1)], key('old', 1));
      assert.equal(b.stats().redeliveriesDropped, 1);
      assert.deepEqual(seqs(b.lease(100)!), [3, 4, 2, 3, 5, 4, 1]);
      b.close();
    });

    it('refuses appends after close instead of dropping them silently', async () => {
      const o = factory.open('closed');
      o.close();
      await assert.rejects(o.append([reading('d1', 1)]));
    });
  });
}
