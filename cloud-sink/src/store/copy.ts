// COPY … FROM STDIN payloads in PostgreSQL's binary format (PostgreSQL docs, "COPY", section
// "Binary Format"), which the server backend streams into `readings` (Store.ingest).
//
// Binary rather than text: no escaping of tabs, newlines, backslashes or `\N` in ids, no float or
// timestamp formatting on our side and no parsing on the server's; it measured faster too
// (docs/ARCHITECTURE.md, "Readings go in by binary COPY").

/** Microseconds between the Unix epoch and PostgreSQL's, 2000-01-01 UTC. */
const PG_EPOCH_US = 946_684_800_000_000;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const CHUNK_BYTES = 256 * 1024;
const NO_BUFFERS: Buffer[] = [];

/**
 * Epoch milliseconds to epoch microseconds rounded as `timestamptz 'epoch' + ms * INTERVAL '1
 * millisecond'` rounds them (interval_mul: rint, ties to even), so a COPY stores the same instant
 * the unnest path does, fractional milliseconds included.
 */
export function epochMsToUs(ms: number): number {
  const x = ms * 1000;
  const r = Math.round(x);
  // Math.round takes ties up; rint takes them to the even neighbour.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Rows of typed fields in COPY's binary format, gathered in 256 KiB buffers: each buffer becomes
 * one CopyData message, so the number of writes to the socket does not grow with the rows.
 * Repeated text (a device id, a metric name) is UTF-8 encoded once.
 */
export class BinaryCopyWriter {
  private done: Buffer[] = [];
  private buf: Buffer;
  private pos: number;
  private readonly textCache = new Map<string, Buffer>();
  rows = 0;

  constructor(private readonly fields: number) {
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
    SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, SIGNATURE.length); // flags: no OIDs
    this.buf.writeInt32BE(0, SIGNATURE.length + 4); // no header extension
    this.pos = SIGNATURE.length + 8;
  }

  /** Starts a row; its `fields` values must follow. */
  beginRow(bytes: number): void {
    this.ensure(2 + bytes);
    this.buf.writeInt16BE(this.fields, this.pos);
    this.pos += 2;
    this.rows++;
  }

  /** Space a row of these text values and `fixed` bytes of fixed-size fields (with their length words) needs. */
  rowBytes(texts: readonly string[], fixed: number): number {
    let n = fixed;
    for (const t of texts) n += 4 + this.text(t).length;
    return n;
  }

  /** timestamptz from epoch microseconds (an integer). */
  timestampUs(us: number): void {
    // An int64 from a double, exact for every integer a double holds: no BigInt per row.
    this.int8(us - PG_EPOCH_US);
  }

  float8(v: number): void {
    this.buf.writeInt32BE(8, this.pos);
    this.buf.writeDoubleBE(v, this.pos + 4);
    this.pos += 12;
  }

  int2(v: number): void {
    this.buf.writeInt32BE(2, this.pos);
    this.buf.writeInt16BE(v, this.pos + 4);
    this.pos += 6;
  }

  int4(v: number): void {
    this.buf.writeInt32BE(4, this.pos);
    this.buf.writeInt32BE(v, this.pos + 4);
    this.pos += 8;
  }

  /** int8 from an integer-valued double. */
  int8(v: number): void {
    const hi = Math.floor(v / 4_294_967_296);
    this.buf.writeInt32BE(8, this.pos);
    this.buf.writeInt32BE(hi, this.pos + 4);
    this.buf.writeUInt32BE(v - hi * 4_294_967_296, this.pos + 8);
    this.pos += 12;
  }

  textField(s: string): void {
    const b = this.text(s);
    this.buf.writeInt32BE(b.length, this.pos);
    b.copy(this.buf, this.pos + 4);
    this.pos += 4 + b.length;
  }

  /** The buffers filled so far, handed over once each: a payload can stream while it is encoded. */
  take(): Buffer[] {
    if (this.done.length === 0) return NO_BUFFERS;
    const out = this.done;
    this.done = [];
    return out;
  }

  /** The rest of the payload, trailer included; the writer is spent afterwards. */
  finish(): Buffer[] {
    this.ensure(2);
    this.buf.writeInt16BE(-1, this.pos);
    this.pos += 2;
    this.done.push(this.buf.subarray(0, this.pos));
    return this.done;
  }

  private text(s: string): Buffer {
    let b = this.textCache.get(s);
    if (b === undefined) {
      b = Buffer.from(s, 'utf8');
      this.textCache.set(s, b);
    }
    return b;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    this.done.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    this.pos = 0;
  }
}
