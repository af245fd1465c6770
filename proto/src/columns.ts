// Columns on the wire (telemetry.proto, ReadingBatch.columns; docs/ARCHITECTURE.md "Columns on the
// wire"). A sensor's values change slowly, but as 8-byte doubles their noisy low bits defeat LZ4; as
// decimal integers they differ from one reading to the next by a few units, a byte each. The encoder
// reads the outbox's stored Reading bytes directly (no protobufjs object per reading: this runs on
// the gateway's main thread, its busiest), and the decoder rebuilds the very Reading objects that
// decoding those bytes would have given, so no consumer can tell the two encodings apart.
import $protobuf from 'protobufjs/minimal.js';
import { fieldline } from '../gen/telemetry.js';
import { WireError } from './errors.js';

/**
 * A batch holding columns is of major 2 (checkSchemaVersion): a major-1 reader would skip them and
 * see part of the batch, so it must refuse it (the sink dead-letters it, to be replayed once it reads
 * major 2) rather than store the part it sees.
 */
export const COLUMNS_SCHEMA_VERSION = 2000;

/** The largest decimal scale tried; 10^9 keeps a 0.1 µ-unit reading within a small integer. */
const MAX_SCALE = 9;
/**
 * Scaled integers and timestamps stay within ±2^51, so a delta stays within ±2^52 and its zigzag
 * (2|d| or 2|d| - 1) within 2^53: every step is exact in a double. A reading beyond it stays plain.
 */
const MAX_INT = 2 ** 51 - 1;
const POW10 = Array.from({ length: MAX_SCALE + 1 }, (_, s) => 10 ** s);

const utf8 = ($protobuf.util as unknown as { utf8: { readStrict(buf: Uint8Array, start: number, end: number): string } }).utf8;

/** A growable byte buffer; one serves every batch, so encoding allocates only its result. */
class ByteWriter {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  shrink(): void {
    this.buf = new Uint8Array(1 << 16);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  /** A non-negative integer up to 2^53 as a varint. */
  varint(n: number): void {
    this.reserve(8);
    const b = this.buf;
    while (n > 0x7fffffff) {
      b[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    while (n > 0x7f) {
      b[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[this.pos++] = n;
  }

  zigzag(n: number): void {
    this.varint(n >= 0 ? 2 * n : -2 * n - 1);
  }

  double(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  copy(src: Uint8Array, start: number, end: number): void {
    this.reserve(end - start);
    this.buf.set(src.subarray(start, end), this.pos);
    this.pos += end - start;
  }

  /** Field `tag` (length-delimited) holding src[start, end). */
  lenField(tag: number, src: Uint8Array, start: number, end: number): void {
    this.varint(tag);
    this.varint(end - start);
    this.copy(src, start, end);
  }

  string(tag: number, s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.lenField(tag, bytes, 0, bytes.length);
  }

  /** Starts a length-delimited field whose length is known only at its end (endLen). */
  beginLen(tag: number): number {
    this.varint(tag);
    this.reserve(5);
    const at = this.pos;
    this.pos += 5;
    return at;
  }

  /** Writes the length in the room beginLen left, and closes the gap behind it. */
  endLen(at: number): void {
    const start = at + 5;
    const len = this.pos - start;
    const end = this.pos;
    this.pos = at;
    this.varint(len);
    if (this.pos !== start) this.buf.copyWithin(this.pos, start, end);
    this.pos += len;
  }
}

const writer = new ByteWriter();

/** One metric's values over a run, gathered as they are read. */
interface MetricBuilder {
  /** The name's bytes as the first reading carrying it wrote them. */
  key: Uint8Array;
  keyStart: number;
  keyEnd: number;
  name: string;
  values: number[];
  /** The run's reading index of each value; null while they are 0, 1, 2… */
  rows: number[] | null;
  /** The stamp of the last reading that carried it. */
  mark: number;
}

interface Run {
  deviceId: string;
  /** The device id's bytes as the run's first reading wrote them, and their hash (deviceHash). */
  device: Uint8Array;
  deviceStart: number;
  deviceEnd: number;
  hash: number;
  /** A plain reading of the device came after it: its later readings go in a new run. */
  closed: boolean;
  source: number;
  readingsBefore: number;
  ts: number[];
  metrics: MetricBuilder[];
  byName: Map<string, MetricBuilder>;
}

/** The run's metrics the reading being added carries, in its order; reused from reading to reading. */
const found: MetricBuilder[] = [];

/** FNV-1a over a device id's bytes: finds the device's open run without making its id a string. */
function deviceHash(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  // 30 bits: a small integer to V8, so the Map lookup needs no boxed number.
  return h & 0x3fffffff;
}

/** What scanning one Reading found; reused from reading to reading. */
const scan = {
  deviceStart: 0,
  deviceEnd: 0,
  ts: 0,
  source: 0,
  keys: 0,
  keyStart: [] as number[],
  keyEnd: [] as number[],
  values: [] as number[],
};

function asBuffer(r: Uint8Array): Buffer {
  return Buffer.isBuffer(r) ? r : Buffer.from(r.buffer, r.byteOffset, r.byteLength);
}

/**
 * Reads a Reading's bytes (telemetry.proto: device_id 1, ts_ms 2, metrics 3 as {key 1, value 2}
 * entries, source 4) into `scan`. False for anything a column cannot carry exactly, which then
 * travels as the Reading it is: raw bytes, a time flag, a corrected time, a field it does not know,
 * a field twice, no device id or no metric, a negative or huge time, a map entry without its key or
 * its value, and any form a canonical encoder would not write.
 */
function scanReading(b: Buffer): boolean {
  const len = b.length;
  let pos = 0;
  let haveDevice = false;
  let haveTs = false;
  let haveSource = false;
  scan.keys = 0;
  scan.ts = 0;
  scan.source = 0;
  while (pos < len) {
    const tag = b[pos++]!;
    if (tag === 0x0a || tag === 0x1a) {
      // Lengths of a stored reading's strings and entries are far below 128, one byte; longer: plain.
      const n = b[pos++];
      if (n === undefined || n > 0x7f || pos + n > len) return false;
      const end = pos + n;
      if (tag === 0x0a) {
        if (haveDevice || n === 0) return false;
        haveDevice = true;
        scan.deviceStart = pos;
        scan.deviceEnd = end;
      } else {
        // A map entry: key (0x0a) then value (0x11, fixed64), as protobuf writes them.
        if (b[pos] !== 0x0a) return false;
        const kn = b[pos + 1];
        if (kn === undefined || kn > 0x7f) return false;
        const ks = pos + 2;
        const ke = ks + kn;
        if (ke + 9 !== end || b[ke] !== 0x11) return false;
        const k = scan.keys++;
        scan.keyStart[k] = ks;
        scan.keyEnd[k] = ke;
        scan.values[k] = b.readDoubleLE(ke + 1);
      }
      pos = end;
    } else if (tag === 0x10 || tag === 0x20) {
      // A varint of up to 7 bytes (49 bits); a longer one (a negative int64, a time past 2^49) stays plain.
      let v = 0;
      let mul = 1;
      let i = 0;
      for (;;) {
        const byte = b[pos++];
        if (byte === undefined || i === 7) return false;
        v += (byte & 0x7f) * mul;
        if (byte < 0x80) break;
        mul *= 128;
        i++;
      }
      if (tag === 0x10) {
        if (haveTs || v > MAX_INT) return false;
        haveTs = true;
        scan.ts = v;
      } else {
        if (haveSource || v > 0x7fffffff) return false;
        haveSource = true;
        scan.source = v;
      }
    } else {
      return false;
    }
  }
  return haveDevice && scan.keys > 0;
}

/** The name a metric key's bytes decode to, as the reader's decoder would make it; null where it would refuse them. */
function strictText(b: Uint8Array, start: number, end: number): string | null {
  try {
    return utf8.readStrict(b, start, end);
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let i = 0; i < ae - as; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}

/** Stamps the reading being added, so a metric seen twice in it shows without a search. */
let stamp = 0;

/** Drops the metrics the refused reading brought into its run. */
function refuse(run: Run, known: number): false {
  for (const m of run.metrics.splice(known)) run.byName.delete(m.name);
  return false;
}

/**
 * Adds the scanned reading to `run` as its next row. False (and `run` untouched) when its keys
 * repeat a name or do not decode; the reading then travels plain.
 */
function addToRun(run: Run, b: Buffer): boolean {
  const row = run.ts.length;
  const known = run.metrics.length;
  const mark = ++stamp;
  for (let k = 0; k < scan.keys; k++) {
    const ks = scan.keyStart[k]!;
    const ke = scan.keyEnd[k]!;
    // A device usually writes its metrics in one order: the k-th key is the run's k-th metric.
    let m = run.metrics[k];
    if (!m || !sameBytes(m.key, m.keyStart, m.keyEnd, b, ks, ke)) {
      const name = strictText(b, ks, ke);
      if (name === null) return refuse(run, known);
      m = run.byName.get(name);
      if (!m) {
        m = { key: b, keyStart: ks, keyEnd: ke, name, values: [], rows: null, mark: 0 };
        run.byName.set(name, m);
        run.metrics.push(m);
      }
    }
    if (m.mark === mark) return refuse(run, known);
    m.mark = mark;
    found[k] = m;
  }
  for (let k = 0; k < scan.keys; k++) {
    const m = found[k]!;
    // Rows are listed only once the metric has missed one; until then they are 0..values.length-1.
    if (m.rows === null && m.values.length !== row) m.rows = Array.from({ length: m.values.length }, (_, i) => i);
    m.rows?.push(row);
    m.values.push(scan.values[k]!);
  }
  run.ts.push(scan.ts);
  return true;
}

/** The smallest scale at which every value comes back bit for bit as int / 10^scale; -1 if none does. */
export function scaleOf(values: readonly number[]): number {
  for (let s = 0; s <= MAX_SCALE; s++) {
    const p = POW10[s]!;
    let ok = true;
    for (const v of values) {
      const i = Math.round(v * p);
      // -0 cannot come back from an integer; NaN and the infinities fail the comparison.
      if (!(i <= MAX_INT && i >= -MAX_INT) || i / p !== v || (v === 0 && 1 / v < 0)) {
        ok = false;
        break;
      }
    }
    if (ok) return s;
  }
  return -1;
}

export interface ColumnsBatchMeta {
  gatewayId: string;
  seq: number;
  createdMs: number;
  backlog?: boolean;
}

/**
 * The ReadingBatch protobuf bytes for `readings` (Reading messages as stored) with every reading a
 * column can carry moved into columns: runs of one device and source, each device's readings in
 * their order. `schemaVersion` is what the batch says it is: COLUMNS_SCHEMA_VERSION when it holds
 * columns, else `plainSchemaVersion` (then it is byte for byte the readings encoding).
 */
export function encodeColumnsBatch(meta: ColumnsBatchMeta, readings: readonly Uint8Array[], plainSchemaVersion: number): { bytes: Uint8Array; schemaVersion: number } {
  const runs: Run[] = [];
  // Each device's open run, by id; byHash finds it from the id's bytes alone, as a rule.
  const open = new Map<string, Run>();
  const byHash = new Map<number, Run>();
  const plain: Uint8Array[] = [];
  for (const r of readings) {
    const b = asBuffer(r);
    if (scanReading(b)) {
      const ds = scan.deviceStart;
      const de = scan.deviceEnd;
      const hash = deviceHash(b, ds, de);
      let run = byHash.get(hash);
      let deviceId: string | null = null;
      if (!run || run.closed || !sameBytes(run.device, run.deviceStart, run.deviceEnd, b, ds, de)) {
        deviceId = strictText(b, ds, de);
        run = deviceId === null ? undefined : open.get(deviceId);
      }
      if (run || deviceId !== null) {
        const fresh = !run || run.source !== scan.source;
        if (fresh) {
          // A new source starts a new run; the old one takes no more readings.
          if (run) run.closed = true;
          const id = deviceId ?? run!.deviceId;
          run = { deviceId: id, device: b, deviceStart: ds, deviceEnd: de, hash, closed: false, source: scan.source, readingsBefore: plain.length, ts: [], metrics: [], byName: new Map() };
        }
        if (addToRun(run!, b)) {
          if (fresh) {
            open.set(run!.deviceId, run!);
            runs.push(run!);
          }
          byHash.set(hash, run!);
          continue;
        }
      }
    }
    // A plain reading ends its device's run: the device's later readings start a new one, after it.
    plain.push(r);
    const id = plainDeviceId(r);
    if (id === null) {
      for (const run of open.values()) run.closed = true;
      open.clear();
    } else {
      const run = open.get(id);
      if (run) run.closed = true;
      open.delete(id);
    }
  }

  const w = writer;
  w.pos = 0;
  // Field numbers and wire types from telemetry.proto, ReadingBatch: (n << 3) | type.
  if (meta.gatewayId) w.string((1 << 3) | 2, meta.gatewayId);
  if (meta.seq) {
    w.varint((2 << 3) | 0);
    w.varint(meta.seq);
  }
  if (meta.createdMs) {
    w.varint((3 << 3) | 0);
    w.varint(meta.createdMs);
  }
  for (const r of plain) w.lenField((4 << 3) | 2, r, 0, r.length);
  const schemaVersion = runs.length > 0 ? COLUMNS_SCHEMA_VERSION : plainSchemaVersion;
  w.varint((5 << 3) | 0);
  w.varint(schemaVersion);
  if (meta.backlog) {
    w.varint((6 << 3) | 0);
    w.varint(1);
  }
  for (const run of runs) writeRun(w, run);
  const bytes = w.buf.subarray(0, w.pos);
  // A batch of large plain readings (raw payloads) grows the writer; the gateway does not keep that
  // (the old buffer lives on in `bytes` until LZ4 has read it).
  if (w.buf.length > 1 << 20) w.shrink();
  return { bytes, schemaVersion };
}

/**
 * The device id of a reading kept plain, as a reader will see it (the last device_id field, as
 * protobuf says), or null if the bytes do not parse. A walk over the fields rather than a decode:
 * when the clock is untrusted every reading carries a time_flag and goes this way.
 */
function plainDeviceId(r: Uint8Array): string | null {
  let pos = 0;
  let start = -1;
  let end = -1;
  const varint = (): number | null => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const byte = r[pos++];
      if (byte === undefined) return null;
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
    return null;
  };
  while (pos < r.length) {
    const tag = varint();
    if (tag === null) return null;
    const type = tag % 8;
    if (type === 0) {
      if (varint() === null) return null;
    } else if (type === 1 || type === 5) {
      pos += type === 1 ? 8 : 4;
    } else if (type === 2) {
      const n = varint();
      if (n === null || pos + n > r.length) return null;
      if (tag === 0x0a) {
        start = pos;
        end = pos + n;
      }
      pos += n;
    } else {
      return null;
    }
  }
  if (pos !== r.length) return null;
  return start < 0 ? '' : strictText(r, start, end);
}

function writeRun(w: ByteWriter, run: Run): void {
  const at = w.beginLen((7 << 3) | 2);
  w.string((1 << 3) | 2, run.deviceId);
  if (run.source) {
    w.varint((2 << 3) | 0);
    w.varint(run.source);
  }
  if (run.readingsBefore) {
    w.varint((3 << 3) | 0);
    w.varint(run.readingsBefore);
  }
  const ts = w.beginLen((4 << 3) | 2);
  let prev = 0;
  for (const t of run.ts) {
    w.zigzag(t - prev);
    prev = t;
  }
  w.endLen(ts);
  const n = run.ts.length;
  for (const m of run.metrics) {
    const mat = w.beginLen((5 << 3) | 2);
    w.lenField((1 << 3) | 2, m.key, m.keyStart, m.keyEnd);
    if (m.values.length !== n) {
      const bitmap = new Uint8Array((n + 7) >> 3);
      if (m.rows) for (const row of m.rows) bitmap[row >> 3]! |= 1 << (row & 7);
      else for (let row = 0; row < m.values.length; row++) bitmap[row >> 3]! |= 1 << (row & 7);
      w.lenField((2 << 3) | 2, bitmap, 0, bitmap.length);
    }
    const scale = scaleOf(m.values);
    if (scale >= 0) {
      if (scale) {
        w.varint((3 << 3) | 0);
        w.varint(scale);
      }
      const p = POW10[scale]!;
      const vat = w.beginLen((4 << 3) | 2);
      let last = 0;
      for (const v of m.values) {
        const i = Math.round(v * p);
        w.zigzag(i - last);
        last = i;
      }
      w.endLen(vat);
    } else {
      w.varint((5 << 3) | 2);
      w.varint(m.values.length * 8);
      for (const v of m.values) w.double(v);
    }
    w.endLen(mat);
  }
  w.endLen(at);
}

/** A column run that cannot be what an encoder wrote: the batch is refused whole, as bad bytes are. */
function malformed(detail: string): never {
  throw new WireError('FL_ERR_WIRE_COLUMNS', detail);
}

/**
 * Puts a decoded batch's columns back as Reading objects among its plain readings, in place:
 * `readings` then holds every reading and `columns` is empty, as if the batch had been sent as
 * readings. Throws WireError FL_ERR_WIRE_COLUMNS on a run that does not add up.
 */
export function expandColumns(batch: fieldline.v1.ReadingBatch): void {
  const runs = batch.columns;
  if (!runs || runs.length === 0) return;
  const plain = batch.readings ?? [];
  const out: fieldline.v1.IReading[] = [];
  let p = 0;
  runs.forEach((run, i) => {
    const before = run.readingsBefore ?? 0;
    if (before < p || before > plain.length) malformed(`run ${i} comes after ${before} plain readings, but ${p} of ${plain.length} were already placed`);
    while (p < before) out.push(plain[p++]!);
    expandRun(run, i, out);
  });
  while (p < plain.length) out.push(plain[p++]!);
  batch.readings = out as fieldline.v1.Reading[];
  batch.columns = [];
}

function expandRun(run: fieldline.v1.IDeviceColumns, index: number, out: fieldline.v1.IReading[]): void {
  const where = `run ${index} (device ${JSON.stringify(run.deviceId ?? '')})`;
  if (!run.deviceId) malformed(`run ${index} has no device_id`);
  const deltas = run.tsMsDelta ?? [];
  const n = deltas.length;
  if (n === 0) malformed(`${where} has no readings (no ts_ms_delta)`);
  const first = out.length;
  let ts = 0;
  for (let i = 0; i < n; i++) {
    ts += Number(deltas[i]);
    if (!Number.isSafeInteger(ts)) malformed(`${where}: ts_ms of reading ${i} is not an exact integer (${ts})`);
    const r = new fieldline.v1.Reading();
    r.deviceId = run.deviceId;
    if (ts !== 0) r.tsMs = ts;
    if (run.source) r.source = run.source;
    out.push(r);
  }
  const seen = new Set<string>();
  const carried = new Uint8Array(n);
  for (const m of run.metrics ?? []) {
    const name = m.name ?? '';
    if (seen.has(name)) malformed(`${where}: metric ${JSON.stringify(name)} twice`);
    seen.add(name);
    const rows = presentRows(m.present, n, `${where}, metric ${JSON.stringify(name)}`);
    const count = rows ? rows.length : n;
    const scaled = m.scaledDelta ?? [];
    const raw = m.raw ?? [];
    const what = `${where}, metric ${JSON.stringify(name)}`;
    if (count === 0) malformed(`${what} is in no reading`);
    let values: number[];
    if (raw.length > 0) {
      if (scaled.length > 0 || raw.length !== count) malformed(`${what}: ${raw.length} raw and ${scaled.length} scaled values for ${count} readings`);
      values = raw;
    } else {
      if (scaled.length !== count) malformed(`${what}: ${scaled.length} values for ${count} readings`);
      const scale = m.scale ?? 0;
      if (scale > MAX_SCALE) malformed(`${what}: scale ${scale} (0-${MAX_SCALE})`);
      const p = POW10[scale]!;
      values = new Array<number>(count);
      let int = 0;
      for (let i = 0; i < count; i++) {
        int += Number(scaled[i]);
        if (!Number.isSafeInteger(int)) malformed(`${what}: value ${i} is not an exact integer`);
        values[i] = int / p;
      }
    }
    for (let i = 0; i < count; i++) {
      const row = rows ? rows[i]! : i;
      carried[row] = 1;
      setMetric(out[first + row]!.metrics!, name, values[i]!);
    }
  }
  const empty = carried.indexOf(0);
  if (empty >= 0) malformed(`${where}: reading ${empty} carries no metric`);
}

/** What the generated decoder does with a map key, "__proto__" included. */
function setMetric(metrics: Record<string, number>, name: string, value: number): void {
  if (name === '__proto__') Object.defineProperty(metrics, name, { value, enumerable: true, writable: true, configurable: true });
  else metrics[name] = value;
}

/** The rows a presence bitmap marks, or null when it is empty (every row). */
function presentRows(bitmap: Uint8Array | null | undefined, n: number, what: string): number[] | null {
  if (!bitmap || bitmap.length === 0) return null;
  if (bitmap.length !== (n + 7) >> 3) malformed(`${what}: presence bitmap of ${bitmap.length} bytes for ${n} readings`);
  const rows: number[] = [];
  for (let byte = 0; byte < bitmap.length; byte++) {
    const bits = bitmap[byte]!;
    if (bits === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if (bits & (1 << bit)) {
        const row = byte * 8 + bit;
        if (row >= n) malformed(`${what}: presence bit ${row} past the run's ${n} readings`);
        rows.push(row);
      }
    }
  }
  return rows;
}
