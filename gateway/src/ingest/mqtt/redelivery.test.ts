// MQTT's resend rules, run through the outbox the gateway opens (SQLite with MqttResendScreen),
// since what they promise holds across a delivery and a restart.
import type { PublishPacket } from 'aedes';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { v1, type Reading } from '../../../../proto/src/wire.js';
import type { KeyLookup, MessageKey } from '../../outbox/outbox.js';
import { SqliteOutbox } from '../../outbox/sqlite-outbox.js';
import { fingerprint, MqttResendScreen, mqttKey, redeliveryOf } from './redelivery.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-mqtt-redelivery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function open(name: string, clock?: () => number): SqliteOutbox {
  return new SqliteOutbox({ path: join(dir, `${name}.db`), resends: new MqttResendScreen(), ...(clock ? { clock } : {}) });
}

function reading(deviceId: string, n: number): Reading {
  return { deviceId, tsMs: 1_700_000_000_000 + n, metrics: { seq: n }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT };
}

function seqs(batch: { readings: Uint8Array[] }): number[] {
  return batch.readings.map((b) => v1.Reading.decode(b).metrics.seq as number);
}

function publish(messageId: number, topic: string, payload: Buffer, dup: boolean): PublishPacket {
  return { cmd: 'publish', qos: 1, dup, retain: false, topic, payload, messageId };
}

describe('MQTT redelivery', () => {
  it('keys and digests are what outbox files already hold: client id NUL packet id, and the 64-bit fingerprint of topic and payload', () => {
    // Computed by the fingerprint as it was before it moved here; a change would make every resend
    // of a message committed before an upgrade go unrecognised.
    const payload = Buffer.from('{"metrics":{"temperature":21.5}}');
    assert.equal(fingerprint('devices/d1/telemetry', payload).toString('hex'), 'f934955f670dede0');
    assert.equal(fingerprint('devices/d1/telemetry/pb', Buffer.from([0, 1, 2, 255])).toString('hex'), '10df5f3bfb0067f1');
    assert.equal(fingerprint('', Buffer.alloc(0)).toString('hex'), '050c5d1f286ac06c');
    assert.deepEqual(redeliveryOf('c1', publish(42, 'devices/d1/telemetry', payload, true), payload), {
      key: 'c1\u000042', digest: Buffer.from('f934955f670dede0', 'hex'), resend: true,
    });
    assert.equal(redeliveryOf('c1', publish(42, 'devices/d1/telemetry', payload, false), payload).resend, false);
  });

  it('stores a resend (DUP=1) of the message last committed under its client and packet id once, also after delivery and a reopen; a first send always', async () => {
    const key = (id: number) => ({ key: mqttKey('client-1', id), digest: Buffer.from(`payload-${id}`), resend: false });
    const a = open('redelivery');
    await a.append([reading('d1', 1)], key(7));
    // The resend and a second resend in one group commit: neither is stored.
    await Promise.all([a.append([reading('d1', 1)], { ...key(7), resend: true }), a.append([reading('d1', 1)], { ...key(7), resend: true })]);
    // Delivered to the cloud and deleted (key 7), or still waiting (key 9): either resend is recognised.
    a.ack(a.lease(100)!.seq);
    await a.append([reading('d1', 9)], key(9));
    a.close();
    const b = open('redelivery');
    assert.equal(await b.append([reading('d1', 1)], { ...key(7), resend: true }), false);
    assert.equal(await b.append([reading('d1', 9)], { ...key(9), resend: true }), false);
    // Same id, other bytes: a different message, stored; a first send with the same bytes: stored.
    await b.append([reading('d1', 2)], { ...key(7), digest: Buffer.from('other'), resend: true });
    await b.append([reading('d1', 3)], key(8));
    await b.append([reading('d1', 3)], key(8));
    assert.deepEqual(seqs(b.lease(100)!), [9, 2, 3, 3]);
    assert.equal(b.stats().depthMessages, 4);
    assert.equal(b.stats().redeliveriesDropped, 2);
    b.close();
  });

  it('a DUP=1 resend in the same group commit as its first send is not stored', async () => {
    const key = { key: mqttKey('client-1', 3), digest: Buffer.from('payload-3'), resend: false };
    const o = open('redelivery-group');
    const stored = await Promise.all([o.append([reading('d1', 3)], key), o.append([reading('d1', 3)], { ...key, resend: true })]);
    assert.deepEqual(stored, [true, false]);
    assert.equal(o.stats().depthMessages, 1);
    o.close();
  });

  it('after a reopen, a resend without DUP of a message committed just before is recognised once, until its client sends something new', async () => {
    const key = (client: string, id: number, digest = `payload-${client}-${id}`) => ({ key: mqttKey(client, id), digest: Buffer.from(digest), resend: false });
    let now = 1_800_000_000_000;
    const clock = () => now;
    // old/1 was committed a minute before the others: not a candidate after the restart.
    const a = open('restart-resend', clock);
    await a.append([reading('d1', 1)], key('old', 1));
    now += 60_000;
    await a.append([reading('d1', 2)], key('c1', 1));
    // c1/1 delivered and deleted, c1/2 and c2/5 still waiting: both kinds are candidates.
    a.ack(a.lease(100)!.seq);
    await a.append([reading('d1', 3)], key('c1', 2));
    await a.append([reading('d1', 4)], key('c2', 5));
    a.close();

    const b = open('restart-resend', clock);
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

  it('a message whose PUBACK found its connection gone is recognised when its client sends it again without DUP, once', async () => {
    const screen = new MqttResendScreen();
    const o = new SqliteOutbox({ path: join(dir, 'unacked.db'), resends: screen });
    try {
      const message = { key: mqttKey('c9', 7), digest: Buffer.from('payload-c9-7'), resend: false };
      assert.equal(await o.append([reading('d9', 1)], message), true);
      // The adapter found the client closed when this commit's sync ended: no PUBACK went out.
      screen.unacknowledged(message);
      assert.equal(await o.append([reading('d9', 1)], message), false, 'MQTT.js 5 resends without DUP: not stored again');
      assert.equal(await o.append([reading('d9', 1)], message), true, 'used up: the same again is a new message');
      assert.equal(o.stats().redeliveriesDropped, 1);
      assert.deepEqual(seqs(o.lease(100)!), [1, 1]);
    } finally {
      o.close();
    }
  });

  it('restart candidates are the keys committed within 30 s of the newest key, measured from it, and only they', () => {
    const t = 1_800_000_000_000;
    const hex = (s: string) => Buffer.from(s).toString('hex');
    const screen = new MqttResendScreen();
    screen.load([
      { key: mqttKey('a', 1), digest: hex('a1'), receivedMs: t - 30_001 },
      { key: mqttKey('b', 1), digest: hex('b1'), receivedMs: t - 30_000 },
      { key: mqttKey('c', 1), digest: hex('c1'), receivedMs: null },
      { key: mqttKey('d', 1), digest: hex('d1'), receivedMs: t },
    ]);
    const nothingKnown: KeyLookup = { lastDigest: () => undefined };
    const first = (client: string): MessageKey => ({ key: mqttKey(client, 1), digest: Buffer.from(`${client}1`), resend: false });
    assert.deepEqual(screen.screen(['a', 'b', 'c', 'd'].map(first), nothingKnown), [false, true, false, true]);
  });

  it('candidates change only when a group commits: a group that failed leaves them as they were', () => {
    const screen = new MqttResendScreen();
    screen.load([{ key: mqttKey('c1', 1), digest: Buffer.from('m1').toString('hex'), receivedMs: 1 }]);
    const nothingKnown: KeyLookup = { lastDigest: () => undefined };
    const m1: MessageKey = { key: mqttKey('c1', 1), digest: Buffer.from('m1'), resend: false };
    assert.deepEqual(screen.screen([m1], nothingKnown), [true]);
    // Not committed (the transaction failed): the same message is still a resend.
    assert.deepEqual(screen.screen([m1], nothingKnown), [true]);
    screen.committed([m1], [true]);
    assert.deepEqual(screen.screen([m1], nothingKnown), [false], 'each candidate matches once');
  });

  it('an outbox file written before keys had commit times: its delivered keys still catch a DUP=1 resend, and are no restart candidates', async () => {
    // The layout the outbox had when sent_keys was added, as that version created and wrote it.
    const topic = 'devices/d1/telemetry';
    const payload = (n: number) => Buffer.from(`{"metrics":{"seq":${n}}}`);
    const path = join(dir, 'keys-without-time.db');
    const db = new Database(path);
    db.exec(`
      CREATE TABLE readings (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, received_ms INTEGER NOT NULL,
        n_values INTEGER NOT NULL, payload BLOB NOT NULL, rkey TEXT, rdigest BLOB);
      CREATE TABLE batches (seq INTEGER PRIMARY KEY, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL, n_values INTEGER NOT NULL, created_ms INTEGER NOT NULL);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO meta (key, value) VALUES ('next_seq', 4);
      CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, device_id TEXT NOT NULL, source INTEGER NOT NULL,
        reason_code TEXT NOT NULL, reason TEXT NOT NULL, topic TEXT NOT NULL, raw BLOB NOT NULL, forwarded INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX quarantine_pending ON quarantine (id) WHERE forwarded = 0;
      CREATE TABLE sent_keys (id INTEGER PRIMARY KEY, rkey TEXT NOT NULL, rdigest BLOB NOT NULL);
    `);
    const t = 1_800_000_000_000;
    db.prepare('INSERT INTO sent_keys (id, rkey, rdigest) VALUES (?, ?, ?)').run(1, 'c1\u00001', fingerprint(topic, payload(1)));
    db.prepare('INSERT INTO sent_keys (id, rkey, rdigest) VALUES (?, ?, ?)').run(2, 'c2\u00001', fingerprint(topic, payload(2)));
    db.prepare('INSERT INTO readings (id, device_id, received_ms, n_values, payload, rkey, rdigest) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(3, 'd1', t, 1, Buffer.from(v1.Reading.encode(reading('d1', 3)).finish()), 'c1\u00002', fingerprint(topic, payload(3)));
    db.close();

    const o = new SqliteOutbox({ path, resends: new MqttResendScreen(), clock: () => t + 5_000 });
    const resend = (client: string, id: number, n: number, dup: boolean) => o.append([reading('d1', n)], redeliveryOf(client, publish(id, topic, payload(n), dup), payload(n)));
    try {
      assert.equal(await resend('c1', 2, 3, false), false, 'a waiting row has its time: a restart candidate');
      assert.equal(await resend('c1', 1, 1, true), false, 'a delivered key without a time still knows its message');
      assert.equal(await resend('c2', 1, 2, false), true, 'without a time, no restart candidate');
      assert.deepEqual(seqs(o.lease(100)!), [3, 2]);
      assert.equal(o.stats().redeliveriesDropped, 2);
    } finally {
      o.close();
    }
  });
});
