// The behaviour every Outbox implementation must show (CONVENTIONS.md point 5). An implementation's
// test file calls outboxBehaviour with a factory that opens the same store again on each call.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v1, type Heartbeat, type Reading } from '../../../proto/src/wire.js';
import { OutboxFullError, type KeyLookup, type MessageKey, type Outbox, type OutboxBounds, type ResendScreen, type StoredKey } from './outbox.js';

export interface OutboxFactory {
  /** Opens the outbox under test; a second call with the same name reopens the same data. */
  open(name: string, bounds?: OutboxBounds, resends?: ResendScreen): Outbox;
}

function reading(deviceId: string, n: number, metrics = 1): Reading {
  const m: Record<string, number> = { seq: n };
  for (let i = 1; i < metrics; i++) m[`m${i}`] = n + i / 10;
  return { deviceId, tsMs: 1_700_000_000_000 + n, metrics: m, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT };
}

function seqs(batch: { readings: Uint8Array[] }): number[] {
  return batch.readings.map((b) => v1.Reading.decode(b).metrics.seq as number);
}

const hex = (s: string) => Buffer.from(s).toString('hex');

const T0 = 1_700_000_000_000;

function heartbeat(n: number): Heartbeat {
  return { gatewayId: 'gw-1', tsMs: T0 + n, uptimeS: n, intervalMs: 30_000, loss: { rateLimited: n, quarantined: 0, evicted: 0 } };
}

function slotView(hb: Heartbeat | null): { tsMs: number; uptimeS: number; intervalMs: number } | null {
  return hb && { tsMs: Number(hb.tsMs), uptimeS: Number(hb.uptimeS), intervalMs: Number(hb.intervalMs) };
}

function key(id: number, { digest = `payload-${id}`, resend = false } = {}): MessageKey {
  return { key: `k${id}`, digest: Buffer.from(digest), resend };
}

/**
 * The simplest screen the contract allows: a message marked as a resend is one when its digest is
 * the one the outbox remembers under its key. It records everything the outbox tells it.
 */
class RecordingScreen implements ResendScreen {
  loaded: StoredKey[] | null = null;
  readonly screened: string[][] = [];
  readonly commits: { keys: string[]; resends: boolean[] }[] = [];

  load(stored: readonly StoredKey[]): void {
    this.loaded = [...stored];
  }

  screen(group: readonly MessageKey[], known: KeyLookup): boolean[] {
    this.screened.push(group.map((k) => k.key));
    return group.map((k) => k.resend && known.lastDigest(k.key) === Buffer.from(k.digest).toString('hex'));
  }

  committed(group: readonly MessageKey[], resends: readonly boolean[]): void {
    this.commits.push({ keys: group.map((k) => k.key), resends: [...resends] });
  }
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
      assert.deepEqual(b.leasedSeqs(), [b2.seq], 'leasedSeqs names the same batches as unacked, without their readings');
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

    it('a message its resend screen recognises is acknowledged unstored; the screen can look up every stored key, waiting or delivered, also after a reopen', async () => {
      const s1 = new RecordingScreen();
      const a = factory.open('keys', undefined, s1);
      assert.deepEqual(s1.loaded, [], 'a new outbox holds no keys');
      assert.equal(await a.append([reading('d1', 1)], key(7)), true);
      // Two resends in one group commit: the screen is asked about both at once, and neither is stored.
      const twice = await Promise.all([a.append([reading('d1', 1)], key(7, { resend: true })), a.append([reading('d1', 1)], key(7, { resend: true }))]);
      assert.deepEqual(twice, [false, false]);
      assert.deepEqual(s1.screened, [['k7'], ['k7', 'k7']]);
      assert.deepEqual(s1.commits, [{ keys: ['k7'], resends: [false] }, { keys: ['k7', 'k7'], resends: [true, true] }]);
      assert.equal(a.stats().depthMessages, 1);
      assert.equal(a.stats().redeliveriesDropped, 2);
      // k7 delivered to the cloud and deleted, k9 still waiting: the next open hands back both.
      a.ack(a.lease(100)!.seq);
      await a.append([reading('d1', 9)], key(9));
      a.close();

      const s2 = new RecordingScreen();
      const b = factory.open('keys', undefined, s2);
      assert.deepEqual(s2.loaded!.map((k) => [k.key, k.digest]), [['k7', hex('payload-7')], ['k9', hex('payload-9')]], 'oldest first, digests in hex');
      const [t7, t9] = s2.loaded!.map((k) => k.receivedMs);
      assert.ok(typeof t7 === 'number' && typeof t9 === 'number' && t7 <= t9, `commit times kept: ${t7}, ${t9}`);
      assert.equal(await b.append([reading('d1', 1)], key(7, { resend: true })), false);
      assert.equal(await b.append([reading('d1', 9)], key(9, { resend: true })), false);
      // The screen says stored: a different message under a known key, and a repeated first send.
      assert.equal(await b.append([reading('d1', 2)], key(7, { digest: 'other', resend: true })), true);
      await b.append([reading('d1', 3)], key(8));
      await b.append([reading('d1', 3)], key(8));
      assert.deepEqual(seqs(b.lease(100)!), [9, 2, 3, 3]);
      assert.equal(b.stats().depthMessages, 4);
      assert.equal(b.stats().redeliveriesDropped, 2);
      assert.equal(await b.append([reading('d1', 2)], key(7, { digest: 'other', resend: true })), false, 'a key names the message stored under it last');
      b.close();
    });

    it('a group that fails to commit is screened but never reported committed, and leaves no key behind', async () => {
      const s = new RecordingScreen();
      const o = factory.open('keys-refused', { maxMessages: 1, onFull: 'refuse-new' }, s);
      await o.append([reading('d1', 1)], key(1));
      await assert.rejects(o.append([reading('d1', 2)], key(2)), OutboxFullError);
      assert.deepEqual(s.screened, [['k1'], ['k2']]);
      assert.deepEqual(s.commits, [{ keys: ['k1'], resends: [false] }]);
      o.ack(o.lease(10)!.seq);
      assert.equal(await o.append([reading('d1', 2)], key(2, { resend: true })), true, 'k2 was never stored, so it is not known');
      assert.equal(await o.append([reading('d1', 1)], key(1, { resend: true })), false, 'k1 was, and is');
      o.close();
    });

    it('without a screen every keyed message is stored, and its key is kept for a screen at the next open', async () => {
      const a = factory.open('keys-unscreened');
      assert.equal(await a.append([reading('d1', 1)], key(1)), true);
      assert.equal(await a.append([reading('d1', 1)], key(1, { resend: true })), true);
      assert.equal(a.stats().depthMessages, 2);
      a.close();
      const s = new RecordingScreen();
      const b = factory.open('keys-unscreened', undefined, s);
      assert.deepEqual(s.loaded!.map((k) => k.key), ['k1', 'k1']);
      assert.equal(await b.append([reading('d1', 1)], key(1, { resend: true })), false);
      b.close();
    });

    it('refuses a key on an append of more than one message', async () => {
      const o = factory.open('keys-one');
      await assert.rejects(o.append([reading('d1', 1), reading('d1', 2)], key(1)), /exactly one device message/);
      assert.equal(o.stats().depthMessages, 0);
      o.close();
    });

    it('the heartbeat slot holds only the newest heartbeat however many are kept, and keeps it across a reopen', () => {
      const a = factory.open('heartbeat-slot');
      assert.equal(a.waitingHeartbeat(), null);
      for (let i = 1; i <= 500; i++) assert.equal(a.keepHeartbeat(heartbeat(i)), true);
      assert.deepEqual(slotView(a.waitingHeartbeat()), { tsMs: T0 + 500, uptimeS: 500, intervalMs: 30_000 });
      a.close();
      const b = factory.open('heartbeat-slot');
      assert.deepEqual(slotView(b.waitingHeartbeat()), { tsMs: T0 + 500, uptimeS: 500, intervalMs: 30_000 });
      // The slot is not a reading: it neither counts nor leases as one.
      assert.equal(b.stats().depthMessages, 0);
      assert.equal(b.lease(100), null);
      b.close();
    });

    it('clearing the heartbeat slot up to a time leaves a newer heartbeat waiting', () => {
      const o = factory.open('heartbeat-clear');
      o.keepHeartbeat(heartbeat(2));
      assert.equal(o.clearHeartbeat(T0 + 1), false, 'what waits is newer than what was sent');
      assert.equal(slotView(o.waitingHeartbeat())?.tsMs, T0 + 2);
      assert.equal(o.clearHeartbeat(T0 + 2), true);
      assert.equal(o.waitingHeartbeat(), null);
      assert.equal(o.clearHeartbeat(T0 + 3), false, 'nothing waits');
      o.close();
      const again = factory.open('heartbeat-clear');
      assert.equal(again.waitingHeartbeat(), null, 'the clear is durable');
      again.close();
    });

    it('refuses appends after close instead of dropping them silently', async () => {
      const o = factory.open('closed');
      o.close();
      await assert.rejects(o.append([reading('d1', 1)]));
    });
  });
}
