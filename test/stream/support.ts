// What the stream tests need around a real API process: tokens with a fleet claim, a WebSocket
// client that keeps every frame, a client that never reads, and a producer that writes batches
// (as a gateway does) and alert events (as the relay does) to chosen partitions.
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import Kafka from 'node-rdkafka';
import WebSocket from 'ws';
import { encodeBatch, SCHEMA_VERSION } from '../../proto/src/wire.js';
import { waitUntil } from '../../devstack/net.js';

let jti = 0;

/** An HS256 token as the API's TokenAuthority checks it, with any claims (a `fleet` list among them). */
export function signToken(secret: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ ...claims, jti: `stream-test-${process.pid}-${jti++}` })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('fieldline')
    .setSubject('stream-test')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
}

export type Frame = Record<string, unknown>;

/** A stream client that keeps every frame it is sent. */
export class Listener {
  readonly frames: Frame[] = [];
  closeCode: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
    ws.on('close', (code) => (this.closeCode = code));
  }

  /** Opens a stream and waits for its `subscribed` frame; rejects with `status` and `body` when the upgrade is refused. */
  static open(url: string): Promise<Listener> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const l = new Listener(ws);
      ws.once('message', () => resolve(l));
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body || '{}') as Frame })));
      });
      ws.on('error', reject);
    });
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  readings(): Frame[] {
    return this.of('reading');
  }

  alerts(): { gateway?: string; device?: string; event_id: string }[] {
    return this.of('alert').map((f) => {
      const e = f.event as { event_id: string; alert: { target: { gateway?: string; device?: string } } };
      return { ...e.alert.target, event_id: e.event_id };
    });
  }

  /**
   * Sends a subscribe message and waits for its answer. The server answers after every frame it
   * sent this client before reading the message, so what the client has then is all it was going
   * to get of the messages fanned out before.
   */
  async subscribe(filter: Record<string, unknown>): Promise<Frame> {
    const before = this.of('subscribed').length;
    this.ws.send(JSON.stringify({ type: 'subscribe', ...filter }));
    await waitUntil(async () => this.of('subscribed').length > before, { what: 'the subscribed answer', timeoutMs: 30_000, intervalMs: 10 });
    return this.of('subscribed').at(-1)!;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((r) => this.ws.once('close', r));
    this.ws.close();
    await closed;
  }
}

/**
 * Does the WebSocket handshake by hand over TCP, then stops reading: the server's frames pile up in
 * the kernel's buffers and then in the server's, which is what a stalled browser tab looks like.
 */
export async function stalledClient(port: number, path: string): Promise<Socket> {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
    socket.once('error', reject);
  });
  assert.match(head, /^HTTP\/1\.1 101 /, 'the stalled client got its stream');
  socket.pause();
  return socket;
}

/** Produces to explicit partitions and waits for every delivery report. */
export class FeedProducer {
  private delivered = 0;
  private sent = 0;
  private readonly failures: string[] = [];

  private constructor(private readonly producer: Kafka.Producer) {
    producer.on('delivery-report', (err) => {
      this.delivered++;
      if (err) this.failures.push(err.message);
    });
  }

  static async connect(bootstrap: string): Promise<FeedProducer> {
    const p = new Kafka.Producer({ 'metadata.broker.list': bootstrap, 'client.id': 'fieldline-stream-test', 'enable.idempotence': true, dr_cb: true, 'linger.ms': 5 });
    await new Promise<void>((resolve, reject) => p.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    p.setPollInterval(20);
    return new FeedProducer(p);
  }

  /** A batch as a gateway sends it (LZ4-framed protobuf, key and headers); partition null: by key. */
  batch(topic: string, gatewayId: string, seq: number, readings: { device: string; ts: number; metrics: Record<string, number> }[], partition: number | null = null): void {
    const msg = encodeBatch({ gatewayId, seq, createdMs: Date.now(), schemaVersion: SCHEMA_VERSION, readings: readings.map((r) => ({ deviceId: r.device, tsMs: r.ts, metrics: r.metrics })) });
    this.produce(topic, partition, msg.value, msg.key, Object.entries(msg.headers).map(([k, v]) => ({ [k]: v })));
  }

  /** An alert event as the relay publishes it: key the alert id, the JSON object, its headers. */
  alert(topic: string, event: AlertEventLike, partition: number | null = null): void {
    const headers: Kafka.MessageHeader[] = [{ 'event-id': event.event_id }, { 'event-type': event.type }, { 'content-type': 'application/json' }];
    this.produce(topic, partition, Buffer.from(JSON.stringify(event)), event.alert.id, headers);
  }

  private produce(topic: string, partition: number | null, value: Buffer, key: string, headers: Kafka.MessageHeader[]): void {
    this.producer.produce(topic, partition, value, key, Date.now(), undefined, headers);
    this.sent++;
  }

  async settle(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.producer.flush(30_000, (err) => (err ? reject(err) : resolve())));
    await waitUntil(async () => this.delivered >= this.sent, { what: 'delivery reports', timeoutMs: 30_000, intervalMs: 10 });
    assert.deepEqual(this.failures, [], 'every message reached Kafka');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }
}

export interface AlertEventLike {
  event_id: string;
  type: string;
  alert: { id: string; target: { gateway?: string; device?: string; metric?: string } } & Record<string, unknown>;
}

let eventSeq = 0;

/** A `firing` event in the relay's shape (alerts/events.ts AlertEvent). */
export function firingEvent(target: { gateway: string; device?: string; metric?: string }): AlertEventLike & Record<string, unknown> {
  const n = eventSeq++;
  const now = new Date().toISOString();
  return {
    event_id: `ev-${process.pid}-${n}`,
    type: 'firing',
    at: now,
    emitted_at: now,
    late: false,
    rule_name: 'too hot',
    alert: {
      id: `al-${process.pid}-${n}`, rule_id: 'r-hot', target, state: 'firing', severity: 'warning', value: 99,
      started_at: now, resolved_at: null, acked_by: null, acked_at: null, message: 'too hot', late: false, raised_at: now,
    },
  };
}

/**
 * A group's committed offsets, read by a consumer that carries the group's id but never subscribes
 * (so it never joins the group); -1001 is "none".
 */
export async function committedOffsets(bootstrap: string, group: string, topic: string, partitions: number): Promise<number[]> {
  const c = new Kafka.KafkaConsumer({ 'metadata.broker.list': bootstrap, 'group.id': group, 'enable.auto.commit': false }, {});
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  try {
    const asked = Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 }));
    const got = await new Promise<Kafka.TopicPartitionOffset[]>((resolve, reject) => c.committed(asked, 10_000, (err, tps) => (err ? reject(err) : resolve(tps))));
    return got.map((t) => t.offset ?? -1001);
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}
