// The CoAP message format (RFC 7252 §3). Every byte the adapter receives is read here first, and
// nothing here throws: a datagram is either a well-formed message or a reason it is not. The coap
// package's own parser is only ever handed headers this module wrote (see adapter.ts).

export type MessageType = 'CON' | 'NON' | 'ACK' | 'RST';
const TYPES: readonly MessageType[] = ['CON', 'NON', 'ACK', 'RST'];

export interface CoapOption {
  number: number;
  value: Buffer;
}

export interface CoapMessage {
  type: MessageType;
  /** The 8-bit code: class << 5 | detail (§3, §12.1). */
  code: number;
  messageId: number;
  token: Buffer;
  /** In ascending option-number order, as on the wire (§3.1). */
  options: CoapOption[];
  payload: Buffer;
}

export type ParseResult =
  | { ok: true; message: CoapMessage }
  /** `header` is set when type and Message ID could be read, so a CON can be answered with RST (§4.2). */
  | { ok: false; reason: string; header?: { type: MessageType; messageId: number } };

/** Option numbers used by the adapter (§5.10, RFC 7641, RFC 7959). */
export const Opt = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
} as const;

/** Content-Format numbers (§12.3, RFC 7049 §7.4). */
export const ContentFormat = { JSON: 50, CBOR: 60 } as const;

export function code(cls: number, detail: number): number {
  return (cls << 5) | detail;
}

/** "2.04" for 0x44 (§3: "c.dd"). */
export function codeString(c: number): string {
  return `${c >> 5}.${String(c & 0x1f).padStart(2, '0')}`;
}

export const Code = {
  EMPTY: code(0, 0),
  POST: code(0, 2),
  CHANGED: code(2, 4),
  BAD_REQUEST: code(4, 0),
  UNAUTHORIZED: code(4, 1),
  BAD_OPTION: code(4, 2),
  FORBIDDEN: code(4, 3),
  NOT_FOUND: code(4, 4),
  METHOD_NOT_ALLOWED: code(4, 5),
  REQUEST_ENTITY_TOO_LARGE: code(4, 13),
  UNSUPPORTED_CONTENT_FORMAT: code(4, 15),
  TOO_MANY_REQUESTS: code(4, 29),
  INTERNAL_SERVER_ERROR: code(5, 0),
  SERVICE_UNAVAILABLE: code(5, 3),
  PROXYING_NOT_SUPPORTED: code(5, 5),
} as const;

/** Beyond this many options a datagram is refused: nothing legitimate sends that many. */
export const MAX_OPTIONS = 64;

export function parseMessage(buf: Buffer): ParseResult {
  if (buf.length < 4) return { ok: false, reason: `${buf.length}-byte datagram is shorter than the 4-byte header` };
  const b0 = buf[0] as number;
  // §3: "Messages with unknown version numbers MUST be silently ignored."
  if (b0 >> 6 !== 1) return { ok: false, reason: `version ${b0 >> 6}` };
  const type = TYPES[(b0 >> 4) & 3] as MessageType;
  const tkl = b0 & 0x0f;
  const c = buf[1] as number;
  const messageId = buf.readUInt16BE(2);
  const header = { type, messageId };
  // §3: token lengths 9-15 are reserved and "MUST be processed as a message format error".
  if (tkl > 8) return { ok: false, reason: `token length ${tkl}`, header };
  if (c === Code.EMPTY) {
    // §4.1: an Empty message has no token and no bytes after the Message ID.
    if (buf.length !== 4) return { ok: false, reason: 'Empty message with bytes after the header', header };
    return { ok: true, message: { type, code: c, messageId, token: EMPTY, options: [], payload: EMPTY } };
  }
  if (4 + tkl > buf.length) return { ok: false, reason: 'datagram ends inside the token', header };
  const token = buf.subarray(4, 4 + tkl);
  const options: CoapOption[] = [];
  let pos = 4 + tkl;
  let number = 0;
  let payload = EMPTY;
  while (pos < buf.length) {
    const byte = buf[pos++] as number;
    if (byte === 0xff) {
      // §3: a payload marker followed by a zero-length payload is a message format error.
      if (pos === buf.length) return { ok: false, reason: 'payload marker without a payload', header };
      payload = buf.subarray(pos);
      break;
    }
    // §3.1: nibble 15 is reserved in both fields (except as the whole 0xFF payload marker).
    const delta = extended(byte >> 4, buf, pos);
    if (delta === undefined) return { ok: false, reason: 'bad option delta', header };
    pos = delta.next;
    const length = extended(byte & 0x0f, buf, pos);
    if (length === undefined) return { ok: false, reason: 'bad option length', header };
    pos = length.next;
    number += delta.value;
    if (number > 0xffff) return { ok: false, reason: `option number ${number} exceeds 16 bits`, header };
    if (pos + length.value > buf.length) return { ok: false, reason: `option ${number} runs past the datagram`, header };
    if (options.length === MAX_OPTIONS) return { ok: false, reason: `more than ${MAX_OPTIONS} options`, header };
    options.push({ number, value: buf.subarray(pos, pos + length.value) });
    pos += length.value;
  }
  return { ok: true, message: { type, code: c, messageId, token, options, payload } };
}

const EMPTY: Buffer = Buffer.alloc(0);

/** §3.1 extended option delta/length: 13 → one more byte + 13, 14 → two more bytes + 269. */
function extended(nibble: number, buf: Buffer, pos: number): { value: number; next: number } | undefined {
  if (nibble < 13) return { value: nibble, next: pos };
  if (nibble === 13) return pos + 1 <= buf.length ? { value: (buf[pos] as number) + 13, next: pos + 1 } : undefined;
  if (nibble === 14) return pos + 2 <= buf.length ? { value: buf.readUInt16BE(pos) + 269, next: pos + 2 } : undefined;
  return undefined;
}

export function encodeMessage(m: CoapMessage): Buffer {
  if (m.token.length > 8) throw new RangeError(`token of ${m.token.length} bytes; at most 8 (§3)`);
  const sorted = [...m.options].sort((a, b) => a.number - b.number);
  const parts: Buffer[] = [Buffer.from([0x40 | (TYPES.indexOf(m.type) << 4) | m.token.length, m.code, m.messageId >> 8, m.messageId & 0xff]), m.token];
  let previous = 0;
  for (const o of sorted) {
    const delta = nibble(o.number - previous);
    const length = nibble(o.value.length);
    parts.push(Buffer.from([(delta.nibble << 4) | length.nibble]), delta.ext, length.ext, o.value);
    previous = o.number;
  }
  if (m.payload.length > 0) parts.push(Buffer.from([0xff]), m.payload);
  return Buffer.concat(parts);
}

function nibble(n: number): { nibble: number; ext: Buffer } {
  if (n < 13) return { nibble: n, ext: EMPTY };
  if (n < 269) return { nibble: 13, ext: Buffer.from([n - 13]) };
  const ext = Buffer.alloc(2);
  ext.writeUInt16BE(n - 269);
  return { nibble: 14, ext };
}

/** §3.2 uint: big-endian, leading zero bytes removed (so 0 is the empty string). */
export function encodeUint(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = Math.max(0, Math.floor(n)); v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

export function decodeUint(b: Buffer): number {
  let v = 0;
  for (const byte of b) v = v * 256 + byte;
  return v;
}

/** §4.2, §4.3: an Empty ACK or RST answering `messageId`. */
export function emptyMessage(type: 'ACK' | 'RST', messageId: number): Buffer {
  return encodeMessage({ type, code: Code.EMPTY, messageId, token: EMPTY, options: [], payload: EMPTY });
}
