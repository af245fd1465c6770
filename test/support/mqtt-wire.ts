// A tiny MQTT 3.1.1 / 5.0 packet encoder and reader for tests that must put exact bytes on the
// wire: valid packets to start from, and the pieces (variable byte integers, length-prefixed
// strings) to build broken ones. mqtt-packet is installed only as a dependency of mqtt and aedes,
// not of this project, so the tests do not import it. Section numbers are MQTT 5.0's; 3.1.1 is
// the same where no properties are involved.

export type Version = 3 | 4 | 5;

/** Control packet types [MQTT-2.1.2]. */
export const Type = {
  CONNECT: 1, CONNACK: 2, PUBLISH: 3, PUBACK: 4, PUBREC: 5, PUBREL: 6, PUBCOMP: 7,
  SUBSCRIBE: 8, SUBACK: 9, UNSUBSCRIBE: 10, UNSUBACK: 11, PINGREQ: 12, PINGRESP: 13, DISCONNECT: 14, AUTH: 15,
} as const;

/** Variable byte integer [MQTT-1.5.5]: 7 bits a byte, least significant first, at most four bytes (≤ 268,435,455). */
export function varint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 268_435_455) throw new RangeError(`${n} does not fit a variable byte integer`);
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** Decodes a variable byte integer at `at`; null when incomplete or longer than four bytes. */
export function readVarint(buf: Buffer, at: number): { value: number; bytes: number } | null {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const b = buf[at + i];
    if (b === undefined) return null;
    value += (b & 0x7f) * 128 ** i;
    if ((b & 0x80) === 0) return { value, bytes: i + 1 };
  }
  return null;
}

export const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A UTF-8 string or binary data with its two-byte length [MQTT-1.5.4, 1.5.6]. Buffers pass through unchecked. */
export function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u16(b.length), b]);
}

/** Fixed header + body. `lengthBytes` replaces the Remaining Length, to lie about it. */
export function frame(type: number, flags: number, body: Buffer, lengthBytes?: Buffer): Buffer {
  return Buffer.concat([Buffer.from([((type & 0x0f) << 4) | (flags & 0x0f)]), lengthBytes ?? varint(body.length), body]);
}

/** MQTT 5 properties [MQTT-2.2.2]: already encoded (id + value) entries, prefixed with their total length. */
export function properties(entries: Buffer[]): Buffer {
  const body = Buffer.concat(entries);
  return Buffer.concat([varint(body.length), body]);
}

/** Property encoders by value type [MQTT-2.2.2.2]. */
export const prop = {
  byte: (id: number, v: number) => Buffer.concat([varint(id), Buffer.from([v & 0xff])]),
  u16: (id: number, v: number) => Buffer.concat([varint(id), u16(v)]),
  u32: (id: number, v: number) => Buffer.concat([varint(id), u32(v)]),
  varint: (id: number, v: number) => Buffer.concat([varint(id), varint(v)]),
  string: (id: number, v: string | Buffer) => Buffer.concat([varint(id), str(v)]),
  pair: (id: number, k: string | Buffer, v: string | Buffer) => Buffer.concat([varint(id), str(k), str(v)]),
};

/** Property identifiers used below [MQTT-2.2.2.2]. */
export const Prop = {
  PAYLOAD_FORMAT: 0x01, MESSAGE_EXPIRY: 0x02, CONTENT_TYPE: 0x03, RESPONSE_TOPIC: 0x08, CORRELATION_DATA: 0x09,
  SUBSCRIPTION_ID: 0x0b, SESSION_EXPIRY: 0x11, AUTH_METHOD: 0x15, AUTH_DATA: 0x16, REQUEST_PROBLEM_INFO: 0x17,
  WILL_DELAY: 0x18, REQUEST_RESPONSE_INFO: 0x19, REASON_STRING: 0x1f, RECEIVE_MAXIMUM: 0x21, TOPIC_ALIAS_MAXIMUM: 0x22,
  TOPIC_ALIAS: 0x23, USER_PROPERTY: 0x26, MAXIMUM_PACKET_SIZE: 0x27,
} as const;

export interface ConnectOptions {
  version: Version;
  clientId: string | Buffer;
  clean?: boolean;
  keepalive?: number;
  username?: string | Buffer;
  password?: Buffer;
  will?: { topic: string | Buffer; payload: Buffer; qos?: 0 | 1 | 2; retain?: boolean; properties?: Buffer[] };
  /** MQTT 5 only. */
  properties?: Buffer[];
  /** Override the protocol name ("MQTT"; "MQIsdp" for 3.1) or the Connect Flags byte. */
  protocolName?: string | Buffer;
  flags?: number;
}

/** CONNECT [MQTT-3.1]. */
export function connect(o: ConnectOptions): Buffer {
  const v5 = o.version === 5;
  let flags = 0;
  if (o.clean ?? true) flags |= 0x02;
  if (o.will) flags |= 0x04 | ((o.will.qos ?? 0) << 3) | (o.will.retain ? 0x20 : 0);
  if (o.password !== undefined) flags |= 0x40;
  if (o.username !== undefined) flags |= 0x80;
  const parts: Buffer[] = [
    str(o.protocolName ?? (o.version === 3 ? 'MQIsdp' : 'MQTT')),
    Buffer.from([o.version, o.flags ?? flags]),
    u16(o.keepalive ?? 60),
  ];
  if (v5) parts.push(properties(o.properties ?? []));
  parts.push(str(o.clientId));
  if (o.will) {
    if (v5) parts.push(properties(o.will.properties ?? []));
    parts.push(str(o.will.topic), str(o.will.payload));
  }
  if (o.username !== undefined) parts.push(str(o.username));
  if (o.password !== undefined) parts.push(str(o.password));
  return frame(Type.CONNECT, 0, Buffer.concat(parts));
}

export interface PublishOptions {
  version: Version;
  topic: string | Buffer;
  payload: Buffer | string;
  qos?: 0 | 1 | 2 | 3;
  messageId?: number;
  dup?: boolean;
  retain?: boolean;
  properties?: Buffer[];
}

/** PUBLISH [MQTT-3.3]. A qos of 3 is encoded as asked (it is malformed [MQTT-3.3.1-4]). */
export function publish(o: PublishOptions): Buffer {
  const qos = o.qos ?? 0;
  const flags = (o.dup ? 0x08 : 0) | (qos << 1) | (o.retain ? 0x01 : 0);
  const parts: Buffer[] = [str(o.topic)];
  if (qos > 0) parts.push(u16(o.messageId ?? 1));
  if (o.version === 5) parts.push(properties(o.properties ?? []));
  parts.push(Buffer.isBuffer(o.payload) ? o.payload : Buffer.from(o.payload));
  return frame(Type.PUBLISH, flags, Buffer.concat(parts));
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP [MQTT-3.4 to 3.7]; PUBREL carries flags 0b0010 [MQTT-3.6.1-1]. */
export function ack(type: 4 | 5 | 6 | 7, messageId: number, version: Version = 4, reasonCode?: number): Buffer {
  const body = version === 5 && reasonCode !== undefined ? Buffer.concat([u16(messageId), Buffer.from([reasonCode])]) : u16(messageId);
  return frame(type, type === Type.PUBREL ? 0x02 : 0, body);
}

/** SUBSCRIBE [MQTT-3.8]: flags 0b0010; each filter with its options byte (QoS in bits 0-1). */
export function subscribe(version: Version, messageId: number, filters: Array<{ topic: string | Buffer; options?: number }>, props: Buffer[] = []): Buffer {
  const parts: Buffer[] = [u16(messageId)];
  if (version === 5) parts.push(properties(props));
  for (const f of filters) parts.push(str(f.topic), Buffer.from([f.options ?? 0]));
  return frame(Type.SUBSCRIBE, 0x02, Buffer.concat(parts));
}

/** UNSUBSCRIBE [MQTT-3.10]: flags 0b0010. */
export function unsubscribe(version: Version, messageId: number, topics: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [u16(messageId)];
  if (version === 5) parts.push(properties([]));
  for (const t of topics) parts.push(str(t));
  return frame(Type.UNSUBSCRIBE, 0x02, Buffer.concat(parts));
}

export const pingreq = (): Buffer => frame(Type.PINGREQ, 0, Buffer.alloc(0));

/** DISCONNECT [MQTT-3.14]; MQTT 5 may add a reason code and properties. */
export function disconnect(version: Version = 4, reasonCode?: number): Buffer {
  if (version !== 5 || reasonCode === undefined) return frame(Type.DISCONNECT, 0, Buffer.alloc(0));
  return frame(Type.DISCONNECT, 0, Buffer.concat([Buffer.from([reasonCode]), properties([])]));
}

/** AUTH [MQTT-3.15], MQTT 5 only. */
export function auth(reasonCode: number, props: Buffer[] = []): Buffer {
  return frame(Type.AUTH, 0, Buffer.concat([Buffer.from([reasonCode]), properties(props)]));
}

export interface RawPacket {
  type: number;
  flags: number;
  body: Buffer;
}

/**
 * Splits a byte stream from the server into packets; keeps an incomplete tail for the next push.
 * Just enough to see CONNACK return codes and PUBACK packet ids.
 */
export class PacketReader {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): RawPacket[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: RawPacket[] = [];
    for (;;) {
      if (this.buf.length < 2) return out;
      const len = readVarint(this.buf, 1);
      if (!len) return out;
      const end = 1 + len.bytes + len.value;
      if (this.buf.length < end) return out;
      const first = this.buf[0] as number;
      out.push({ type: first >> 4, flags: first & 0x0f, body: this.buf.subarray(1 + len.bytes, end) });
      this.buf = this.buf.subarray(end);
    }
  }
}
