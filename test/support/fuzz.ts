// Seedable random input for the fuzz tests: a PRNG, byte-level mutators, and generators of
// malformed CoAP datagrams and MQTT connections. Everything derives from one seed, so a failing
// run repeats with FUZZ_SEED=<the seed it printed> (the order in which concurrent connections
// reach the gateway can still differ).
import { encode as cborgEncode } from 'cborg';
import { Code, Opt, encodeMessage, encodeUint, type CoapMessage, type MessageType } from '../../gateway/src/ingest/coap/message.js';
import * as mq from './mqtt-wire.js';

/** FUZZ_SEED when set (so a failure can be replayed), else one taken from the clock. */
export function fuzzSeed(): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return Date.now() % 1_000_000_000;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`FUZZ_SEED=${JSON.stringify(raw)}: expected an integer`);
  return n;
}

/** mulberry32: small, seedable, good enough to pick bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rand {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  /** 0 ≤ n < max. */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export type Mutator = (b: Buffer, r: Rand) => Buffer;

/** Format-blind mutations: bit flips, byte edits, truncation, insertion, deletion, repetition. */
export const byteMutators: Mutator[] = [
  (b, r) => (b.length ? set(b, r.int(b.length), (x) => x ^ (1 << r.int(8))) : b), // flip a bit
  (b, r) => (b.length ? set(b, r.int(b.length), () => r.int(256)) : b), // replace a byte
  (b, r) => (b.length ? set(b, r.int(b.length), () => r.pick([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff])) : b), // a boundary value
  (b, r) => b.subarray(0, r.int(b.length + 1)), // truncate
  (b, r) => {
    const at = r.int(b.length + 1);
    return Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(8)), b.subarray(at)]); // insert
  },
  (b, r) => {
    const at = r.int(b.length + 1);
    return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(8))]); // delete a few bytes
  },
  (b, r) => Buffer.concat([b, b.subarray(r.int(b.length + 1))]), // repeat a tail
];

function set(b: Buffer, at: number, f: (x: number) => number): Buffer {
  const c = Buffer.from(b);
  c[at] = f(c[at] as number) & 0xff;
  return c;
}

/** 1–4 rounds of mutators picked from `ops`. */
export function mutate(r: Rand, buf: Buffer, ops: readonly Mutator[] = byteMutators): Buffer {
  let b = buf;
  for (let n = 1 + r.int(4); n > 0; n--) b = r.pick(ops)(b, r);
  return b;
}

// ---------------------------------------------------------------------------------------------
// CoAP (RFC 7252 §3): datagrams

const coapMutators: Mutator[] = [
  ...byteMutators,
  (b, r) => (b.length ? set(b, 0, (x) => (x & 0xf0) | r.int(16)) : b), // token length nibble, 9–15 reserved (§3)
  (b, r) => (b.length > 4 ? set(b, 4 + r.int(b.length - 4), () => r.pick([0xff, 0xdd, 0xee, 0xf0, 0x0f])) : b), // option nibbles 13/14/15 (§3.1)
];

/** Random and mutated CoAP datagrams: about 30% random bytes, 20% valid, 50% mutated valid messages. */
export function coapDatagrams(seed: number): () => Buffer {
  const r = new Rand(seed);
  const int = (n: number) => r.int(n);
  const bytes = (n: number) => r.bytes(n);
  const types: MessageType[] = ['CON', 'NON', 'ACK', 'RST'];
  const path = (...p: string[]) => p.map((s) => ({ number: Opt.URI_PATH, value: Buffer.from(s) }));
  const cbor = (v: unknown) => Buffer.from(cborgEncode(v));
  const templates: Array<() => CoapMessage> = [
    () => ({ type: 'CON', code: Code.POST, messageId: int(65536), token: bytes(int(9)), options: [...path('telemetry', `fz-${int(50)}`), { number: Opt.CONTENT_FORMAT, value: encodeUint(50) }], payload: Buffer.from(JSON.stringify({ metrics: { temperature: int(200) - 60, humidity: int(120) } })) }),
    () => ({ type: 'NON', code: Code.POST, messageId: int(65536), token: bytes(int(9)), options: [...path('telemetry', `fz-${int(50)}`), { number: Opt.CONTENT_FORMAT, value: encodeUint(60) }], payload: cbor({ metrics: { t: r.next() } }) }),
    () => ({ type: 'CON', code: Code.POST, messageId: int(65536), token: bytes(4), options: [...path('telemetry', 'fz-block'), { number: Opt.BLOCK1, value: encodeUint((int(4) << 4) | (int(2) << 3) | int(8)) }], payload: bytes(1 + int(64)) }),
    () => ({ type: r.pick(types), code: int(256), messageId: int(65536), token: bytes(int(9)), options: Array.from({ length: int(6) }, () => ({ number: int(3000), value: bytes(int(20)) })), payload: bytes(int(80)) }),
    () => ({ type: r.pick(types), code: Code.EMPTY, messageId: int(65536), token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }),
    () => ({ type: 'CON', code: int(8), messageId: int(65536), token: bytes(2), options: [...path(...Array.from({ length: int(4) }, () => bytes(int(12)).toString('latin1'))), { number: Opt.PROXY_URI, value: bytes(int(3)) }], payload: bytes(int(10)) }),
  ];
  return (): Buffer => {
    const kind = int(10);
    if (kind < 3) return bytes(int(kind === 0 ? 1400 : 40)); // random bytes, mostly short
    if (kind < 4) return Buffer.concat([Buffer.from([0x40 | int(64)]), bytes(int(60))]); // version 1, then random
    const valid = encodeMessage(r.pick(templates)());
    return kind < 6 ? valid : mutate(r, valid, coapMutators);
  };
}

// ---------------------------------------------------------------------------------------------
// MQTT: connections, each a few packets of which at least one is random, mutated or invalid

export interface MqttFuzzSession {
  /** Which generator made it (for the summary a failing run prints). */
  kind: string;
  transport: 'tcp' | 'ws';
  /** Written in order; on TCP in separate writes, on WebSocket one binary message each. */
  chunks: Buffer[];
  /** How many of the packets in `chunks` are random, mutated or invalid. */
  malformed: number;
  /** Close at once after writing, instead of giving the server a moment to answer or hang up. */
  drop: boolean;
}

export interface MqttFuzzOptions {
  /** Share of connections made over WebSocket (0 when the listener is off). */
  wsShare: number;
  /** Client ids are fz-0 … fz-(devices-1), so per-device state in the gateway stays bounded. */
  devices: number;
}

/** Strings that have crashed brokers or that name special things: prototype keys, $SYS, separators. */
const HOSTILE = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '$SYS', '..', '/', '', ' ', '#', '+'];

/** Byte strings that are not valid MQTT UTF-8 [MQTT-1.5.4-1, 1.5.4-2]. */
const BAD_UTF8 = [
  Buffer.from([0xff]), Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]),
  Buffer.from([0x00]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from('devices/\u0000/telemetry'),
];

/** Header-aware mutations: lie about the Remaining Length, or change the packet type or flags. */
function mqttMutators(): Mutator[] {
  const header = (b: Buffer) => {
    const len = mq.readVarint(b, 1);
    return len ? { at: 1 + len.bytes, value: len.value } : null;
  };
  const relength = (b: Buffer, lengthBytes: Buffer) => {
    const h = header(b);
    return h ? Buffer.concat([b.subarray(0, 1), lengthBytes, b.subarray(h.at)]) : b;
  };
  return [
    ...byteMutators,
    (b, r) => set(b, 0, (x) => (x & 0xf0) | r.int(16)), // flags nibble [MQTT-2.1.3-1]
    (b, r) => set(b, 0, (x) => (r.int(16) << 4) | (x & 0x0f)), // packet type, 0 and 15 included
    (b, r) => relength(b, mq.varint(Math.min(268_435_455, Math.max(0, (header(b)?.value ?? 0) + r.pick([-3, -2, -1, 1, 2, 100, 70_000]))))), // wrong length
    (b) => {
      const v = header(b)?.value ?? 0; // overlong: the right value in four bytes [MQTT-1.5.5-1]
      return relength(b, Buffer.from([(v & 0x7f) | 0x80, ((v >> 7) & 0x7f) | 0x80, ((v >> 14) & 0x7f) | 0x80, 0]));
    },
    (b, r) => relength(b, Buffer.from([0xff, 0xff, 0xff, 0xff, r.int(128)])), // five bytes
    (b) => relength(b, Buffer.from([0xff, 0xff, 0xff, 0x7f])), // 268,435,455, the four-byte maximum
  ];
}

/**
 * Connections with malformed MQTT: random bytes; mutated CONNECTs; a good CONNECT followed by
 * mutated or deliberately invalid packets (bad lengths, flags, UTF-8, wildcards in PUBLISH topics,
 * QoS 3, bad protocol names and levels, MQTT 5 property errors); packets before CONNECT; a second
 * CONNECT; and connections dropped half-way through a packet.
 */
export function mqttSessions(seed: number, opts: MqttFuzzOptions): () => MqttFuzzSession {
  const r = new Rand(seed);
  const mutators = mqttMutators();
  // aedes 1.x answers an MQTT 5 CONNECT with return code 1 (unsupported level), after parsing it:
  // MQTT 5 still exercises the parser, but a session that gets past CONNECT is 3.1 or 3.1.1.
  const version = (): mq.Version => r.pick([3, 4, 4, 4, 5] as const);
  const device = () => `fz-${r.int(opts.devices)}`;
  // Connections that publish nothing valid get an id never used before, as devices with random
  // client ids do: whatever the broker keeps per client id then shows up as growth.
  let freshIds = 0;
  const fresh = () => `fz-once-${seed}-${freshIds++}`;
  const hostile = () => (r.chance(0.5) ? r.pick(HOSTILE) : r.pick(BAD_UTF8).toString('latin1'));
  const messageId = () => (r.chance(0.05) ? 0 : 1 + r.int(65535));
  const payload = (): Buffer => {
    switch (r.int(6)) {
      case 0: return Buffer.from(JSON.stringify({ metrics: { temperature: r.int(200) - 60, humidity: r.int(120) } }));
      case 1: return Buffer.from(JSON.stringify({ ts: r.int(2) ? Date.now() : r.int(2 ** 31), metrics: { [r.pick(HOSTILE)]: r.next() } }));
      case 2: return Buffer.from(`{"metrics":{"t":${r.int(100)}`); // cut-off JSON
      case 3: return Buffer.alloc(0);
      case 4: return r.chance(0.02) ? r.bytes(70_000) : r.bytes(r.int(200)); // sometimes over maxPayloadBytes
      default: return Buffer.from(JSON.stringify({ metrics: Object.fromEntries(Array.from({ length: r.int(100) }, (_, i) => [`m${i}`, i])) }));
    }
  };
  const v5Props = (): Buffer[] =>
    Array.from({ length: r.int(3) }, () =>
      r.pick([
        () => mq.prop.u32(mq.Prop.SESSION_EXPIRY, r.int(2) ? 0 : 0xffffffff),
        () => mq.prop.u16(mq.Prop.RECEIVE_MAXIMUM, 1 + r.int(65535)),
        () => mq.prop.u16(mq.Prop.TOPIC_ALIAS_MAXIMUM, r.int(20)),
        () => mq.prop.pair(mq.Prop.USER_PROPERTY, r.pick(HOSTILE), 'x'),
        () => mq.prop.byte(mq.Prop.REQUEST_PROBLEM_INFO, r.int(2)),
      ])(),
    );
  const goodConnect = (v: mq.Version, clientId: string) =>
    mq.connect({
      version: v, clientId, clean: r.chance(0.8), keepalive: r.chance(0.1) ? 0 : 30 + r.int(600),
      ...(v === 5 ? { properties: v5Props() } : {}),
      ...(r.chance(0.15) ? { will: { topic: `devices/${clientId}/telemetry`, payload: payload(), qos: r.pick([0, 1, 2] as const), retain: r.chance(0.2) } } : {}),
    });
  const ownTopic = (id: string) => (r.chance(0.85) ? `devices/${id}/telemetry` : `devices/${id}/telemetry/pb`);
  /** Packets a connected client may legitimately send (the starting points for mutation). */
  const goodPacket = (v: mq.Version, id: string): Buffer =>
    r.pick([
      () => mq.publish({ version: v, topic: ownTopic(id), payload: payload(), qos: r.pick([0, 1, 2] as const), messageId: 1 + r.int(65535), retain: r.chance(0.05) }),
      () => mq.publish({ version: v, topic: ownTopic(id), payload: payload(), qos: 1, messageId: 1 + r.int(65535), ...(v === 5 ? { properties: [mq.prop.byte(mq.Prop.PAYLOAD_FORMAT, 1), mq.prop.u32(mq.Prop.MESSAGE_EXPIRY, 60), mq.prop.string(mq.Prop.CONTENT_TYPE, 'application/json')] } : {}) }),
      () => mq.subscribe(v, 1 + r.int(65535), [{ topic: `devices/${id}/commands`, options: r.int(3) }]),
      () => mq.subscribe(v, 1 + r.int(65535), [{ topic: r.pick(['#', '$SYS/#', 'devices/+/telemetry', `devices/${device()}/#`]), options: r.int(3) }]),
      () => mq.unsubscribe(v, 1 + r.int(65535), [`devices/${id}/commands`]),
      () => mq.ack(r.pick([4, 5, 6, 7] as const), 1 + r.int(65535), v),
      () => mq.pingreq(),
      () => mq.disconnect(v, v === 5 ? r.pick([0, 4, 0x80]) : undefined),
    ])();
  /** Packets that break a named rule; each returns one malformed packet. */
  const invalid: Array<(v: mq.Version, id: string) => Buffer> = [
    // CONNECT: protocol name and level [MQTT-3.1.2-1, 3.1.2-2], reserved flag [MQTT-3.1.2-3],
    // Will QoS 3 or Will flags without a Will [MQTT-3.1.2-11..15], password without user name
    // [MQTT-3.1.2-22], client ids that are not UTF-8.
    (v, id) => mq.connect({ version: v, clientId: id, protocolName: r.pick(['MQTs', 'mqtt', 'MQTTT', '', 'MQIsdp', Buffer.from([0xff, 0xfe, 0x00, 0x54])]) }),
    (_v, id) => mq.frame(mq.Type.CONNECT, 0, Buffer.concat([mq.str('MQTT'), Buffer.from([r.pick([0, 1, 2, 6, 7, 0x84, 255]), 0x02]), mq.u16(60), mq.str(id)])),
    (v, id) => mq.connect({ version: v, clientId: id, flags: 0x02 | 0x01 }),
    (v, id) => mq.connect({ version: v, clientId: id, flags: 0x02 | r.pick([0x18, 0x20, 0x08, 0x10]) }),
    (v, id) => mq.connect({ version: v, clientId: id, will: { topic: `devices/${id}/telemetry`, payload: Buffer.from('x'), qos: 3 as 2 } }),
    (v, id) => mq.connect({ version: v, clientId: id, password: Buffer.from('pw') }),
    (v) => mq.connect({ version: v, clientId: r.pick(BAD_UTF8) }),
    (v, id) => mq.connect({ version: v, clientId: id, clean: false, username: r.pick(BAD_UTF8), password: r.bytes(8) }),
    (v) => mq.connect({ version: v, clientId: 'x'.repeat(r.pick([129, 1000, 65535])) }),
    (v) => mq.connect({ version: v, clientId: '', clean: false }), // [MQTT-3.1.3-8]
    (v, id) => mq.connect({ version: v, clientId: id, will: { topic: r.pick(['devices/+/telemetry', '#', '']), payload: Buffer.from('x') } }),
    // PUBLISH: wildcards [MQTT-3.3.2-2], empty or non-UTF-8 topics, QoS 3 [MQTT-3.3.1-4], packet id 0
    // [MQTT-2.3.1-1], topics of others and hostile names.
    (v, id) => mq.publish({ version: v, topic: r.pick([`devices/${id}/#`, `devices/+/telemetry`, '#', '+', `devices/${id}/telemetry/+`]), payload: payload(), qos: r.pick([0, 1, 2] as const), messageId: 7 }),
    (v) => mq.publish({ version: v, topic: r.chance(0.3) ? '' : r.pick(BAD_UTF8), payload: payload(), qos: r.pick([0, 1] as const), messageId: 9 }),
    (v, id) => mq.publish({ version: v, topic: `devices/${id}/telemetry`, payload: payload(), qos: 3, messageId: messageId() }),
    (v, id) => mq.publish({ version: v, topic: `devices/${id}/telemetry`, payload: payload(), qos: r.pick([1, 2] as const), messageId: 0 }),
    (v) => mq.publish({ version: v, topic: `devices/${hostile()}/telemetry`, payload: payload(), qos: 1, messageId: messageId() }),
    (v) => mq.publish({ version: v, topic: r.pick(['$SYS/x', `devices/${device()}/telemetry`, 'devices//telemetry', 'x'.repeat(600)]), payload: payload(), qos: 1, messageId: messageId() }),
    // Acks, SUBSCRIBE, UNSUBSCRIBE: wrong fixed-header flags [MQTT-3.6.1-1, 3.8.1-1, 3.10.1-1], no
    // filters [MQTT-3.8.3-3, 3.10.3-2], QoS 3 and reserved option bits [MQTT-3.8.3-4, 3-5].
    () => mq.frame(mq.Type.PUBREL, 0, mq.u16(messageId())),
    (v) => mq.frame(mq.Type.SUBSCRIBE, r.pick([0, 1, 3, 15]), Buffer.concat([mq.u16(messageId()), ...(v === 5 ? [mq.properties([])] : []), mq.str('devices/x/commands'), Buffer.from([0])])),
    (v) => mq.subscribe(v, messageId(), []),
    (v, id) => mq.subscribe(v, messageId(), [{ topic: `devices/${id}/commands`, options: r.pick([3, 0x40, 0xc0, 0xff]) }]),
    (v) => mq.subscribe(v, messageId(), [{ topic: r.pick([...BAD_UTF8, Buffer.from('a/#/b'), Buffer.from('a+/b'), Buffer.alloc(0)]) }]),
    (v) => mq.unsubscribe(v, messageId(), []),
    () => mq.frame(mq.Type.PINGREQ, r.int(16), r.bytes(r.int(3))),
    () => mq.frame(mq.Type.DISCONNECT, r.int(16), r.bytes(1 + r.int(4))),
    () => mq.frame(r.pick([0, 15]), 0, r.bytes(r.int(10))), // reserved type 0; AUTH before MQTT 5
    () => mq.frame(mq.Type.CONNACK, 0, Buffer.from([0, 0])), // server-to-client packets from a client
    () => mq.frame(mq.Type.SUBACK, 0, Buffer.from([0, 1, 0])),
    // Remaining Length: truncated varint, five bytes, overlong, the four-byte maximum, and one over
    // the gateway's maxPacketBytes, each followed by a little of the body it announces.
    () => Buffer.concat([Buffer.from([0x30]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), r.bytes(r.int(64))]),
    () => Buffer.concat([Buffer.from([0x30, 0x80, 0x80, 0x80, 0x00])]),
    () => Buffer.concat([Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), r.bytes(r.int(2048))]),
    () => Buffer.concat([Buffer.from([0x32]), mq.varint(262_144 + r.int(1_000_000)), r.bytes(r.int(4096))]),
    () => Buffer.from([0x30, 0x80]), // the varint never ends
    // MQTT 5 properties: unknown id, the same one twice, length past the packet, Topic Alias 0 or
    // over the maximum, Receive Maximum 0 [MQTT-2.2.2, 3.3.2-8, 3.1.2.11.3].
    (_v, id) => mq.connect({ version: 5, clientId: id, properties: [r.pick([Buffer.from([0x7f, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])])] }),
    (_v, id) => mq.connect({ version: 5, clientId: id, properties: [mq.prop.u32(mq.Prop.SESSION_EXPIRY, 1), mq.prop.u32(mq.Prop.SESSION_EXPIRY, 2)] }),
    (_v, id) => mq.connect({ version: 5, clientId: id, properties: [r.pick([mq.prop.u16(mq.Prop.RECEIVE_MAXIMUM, 0), mq.prop.u32(mq.Prop.MAXIMUM_PACKET_SIZE, 0), mq.prop.byte(mq.Prop.REQUEST_RESPONSE_INFO, 7)])] }),
    (_v, id) => mq.frame(mq.Type.CONNECT, 0, Buffer.concat([mq.str('MQTT'), Buffer.from([5, 0x02]), mq.u16(60), mq.varint(200 + r.int(100_000)), mq.str(id)])),
    (_v, id) => mq.publish({ version: 5, topic: r.chance(0.5) ? '' : `devices/${id}/telemetry`, payload: payload(), qos: 1, messageId: messageId(), properties: [mq.prop.u16(mq.Prop.TOPIC_ALIAS, r.pick([0, 1, 65535]))] }),
    (_v, id) => mq.publish({ version: 5, topic: `devices/${id}/telemetry`, payload: r.pick(BAD_UTF8), qos: 1, messageId: messageId(), properties: [mq.prop.byte(mq.Prop.PAYLOAD_FORMAT, r.pick([1, 2, 255]))] }),
    (_v, id) => mq.publish({ version: 5, topic: `devices/${id}/telemetry`, payload: payload(), qos: 1, messageId: messageId(), properties: [mq.prop.varint(mq.Prop.SUBSCRIPTION_ID, r.int(3)), mq.prop.string(mq.Prop.RESPONSE_TOPIC, '#')] }),
    () => mq.auth(r.pick([0, 0x18, 0x19, 0xff]), [mq.prop.string(mq.Prop.AUTH_METHOD, r.pick(['SCRAM-SHA-1', '']))]),
  ];
  const malformed = (v: mq.Version, id: string): Buffer =>
    r.chance(0.5) ? r.pick(invalid)(v, id) : mutate(r, r.chance(0.3) ? goodConnect(v, id) : goodPacket(v, id), mutators);

  const kinds: Array<[weight: number, make: () => Omit<MqttFuzzSession, 'transport'>]> = [
    // Nothing but noise, sometimes behind a plausible first byte.
    [10, () => ({ kind: 'random', chunks: [Buffer.concat([r.chance(0.5) ? Buffer.from([r.int(16) << 4]) : Buffer.alloc(0), r.bytes(1 + r.int(r.chance(0.1) ? 4000 : 300))])], malformed: 1, drop: r.chance(0.3) })],
    [8, () => ({ kind: 'connect+random', chunks: [goodConnect(version(), fresh()), r.bytes(1 + r.int(300))], malformed: 1, drop: r.chance(0.3) })],
    [14, () => ({ kind: 'bad-connect', chunks: [r.chance(0.5) ? r.pick(invalid)(version(), fresh()) : mutate(r, goodConnect(version(), fresh()), mutators)], malformed: 1, drop: r.chance(0.2) })],
    // The common case: a client that connects properly, then misbehaves (sometimes after behaving).
    [40, () => {
      const v = version();
      const id = device();
      const chunks = [goodConnect(v, id)];
      let bad = 0;
      for (let n = 1 + r.int(4); n > 0; n--) {
        if (r.chance(0.3)) chunks.push(goodPacket(v, id));
        chunks.push(malformed(v, id));
        bad++;
      }
      return { kind: 'connected+bad', chunks, malformed: bad, drop: r.chance(0.2) };
    }],
    // [MQTT-3.1.0-1]: the first packet must be CONNECT.
    [8, () => {
      const v = version();
      const id = device();
      return { kind: 'before-connect', chunks: [r.pick([goodPacket(v, id), mq.pingreq(), mq.subscribe(v, 1, [{ topic: '#' }])]), goodConnect(v, id)], malformed: 1, drop: false };
    }],
    // [MQTT-3.1.0-2]: a second CONNECT is a protocol violation.
    [6, () => {
      const v = version();
      const id = device();
      return { kind: 'second-connect', chunks: [goodConnect(v, id), goodConnect(r.chance(0.5) ? v : version(), r.chance(0.5) ? id : device()), goodPacket(v, id)], malformed: 1, drop: false };
    }],
    // Opened and dropped: with nothing sent, part of a CONNECT (one malformed packet), or a whole
    // one (not malformed, but gone before the broker has finished taking it).
    [10, () => {
      const c = goodConnect(version(), fresh());
      const cut = r.chance(0.3) ? c.length : r.int(c.length);
      return { kind: 'dropped', chunks: cut === 0 ? [] : [c.subarray(0, cut)], malformed: cut === 0 || cut === c.length ? 0 : 1, drop: true };
    }],
    // A good packet cut short, then the connection dropped.
    [4, () => {
      const v = version();
      const id = device();
      const p = goodPacket(v, id);
      return { kind: 'truncated', chunks: [goodConnect(v, id), p.subarray(0, r.int(p.length))], malformed: 1, drop: true };
    }],
  ];
  const total = kinds.reduce((s, [w]) => s + w, 0);
  return () => {
    let pick = r.int(total);
    let make = kinds[0]![1];
    for (const [w, m] of kinds) {
      if (pick < w) {
        make = m;
        break;
      }
      pick -= w;
    }
    const s = make();
    const transport = r.chance(opts.wsShare) ? 'ws' : 'tcp';
    // Over TCP, also cut the bytes at random places so the parser sees packets across reads.
    const chunks = transport === 'tcp' && r.chance(0.2) && s.chunks.reduce((n, c) => n + c.length, 0) < 8192 ? resplit(r, Buffer.concat(s.chunks)) : s.chunks;
    return { ...s, chunks, transport };
  };
}

function resplit(r: Rand, all: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < all.length; ) {
    const n = 1 + r.int(Math.min(64, all.length - at));
    out.push(all.subarray(at, at + n));
    at += n;
  }
  return out;
}
