// Commissioning tools for field techs: find the slaves on a line (scanUnits) and read a few items
// once, decoded the way a tag would be (testRead). Both take the read as a function, so the same code
// runs through a running gateway's bus (Bus.request, never interleaved with its polls) and over a
// Transport the CLI opens itself when no gateway runs. They take plain typed options; the HTTP
// request bodies that become those options are checked in the API layer (api/modbus-schemas.ts).
import { decodeAll, decodeTag, itemCount, type ByteOrder, type Decoding, type RegisterType } from './conversions.js';
import { MAX_SERIAL_SLAVE, MIN_SERIAL_SLAVE, checkRead, exceptionHandling, exceptionName, isBitFunction, type ReadFunction } from './spec.js';
import { keepSilence } from './bus.js';
import { realClock, type BusClock } from './clock.js';
import { ModbusFailure, type FailureKind, type Transport } from './transport.js';

/** One read request, as Transport.read and Bus.request take it; Modbus outcomes reject with ModbusFailure. */
export type ReadFn = (unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number) => Promise<Buffer>;

/** Short, because most unit ids of a scan are expected to stay silent and each one costs this. */
export const DEFAULT_SCAN_TIMEOUT_MS = 200;
export const DEFAULT_READ_TIMEOUT_MS = 1_000;
/** Every individual serial slave address [SERIAL §2.2]. */
export const DEFAULT_SCAN_UNITS: readonly number[] = Array.from({ length: MAX_SERIAL_SLAVE - MIN_SERIAL_SLAVE + 1 }, (_, i) => i + MIN_SERIAL_SLAVE);

/**
 * Reads over a Transport the caller opened itself (no gateway running), one at a time, keeping
 * `gapMs` of silence after every frame as the bus loop does on RTU [SERIAL §2.5.1.1].
 */
export function transportReader(transport: Transport, gapMs: number, clock: BusClock = realClock): ReadFn {
  let lastFrameEnd = -Infinity;
  let line: Promise<unknown> = Promise.resolve();
  return (unitId, fn, address, count, timeoutMs) => {
    const turn = line.then(async () => {
      await keepSilence(lastFrameEnd, gapMs, clock);
      try {
        return await transport.read(unitId, fn, address, count, timeoutMs);
      } finally {
        lastFrameEnd = clock.monotonic();
      }
    });
    line = turn.catch(() => undefined);
    return turn;
  };
}

// --- unit lists -----------------------------------------------------------------------------------

/** "1-10,17" → [1, …, 10, 17]: sorted, without repeats. Throws RangeError naming the bad part. */
export function parseUnits(text: string): number[] {
  const units = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(part);
    if (!m) throw new RangeError(`"${part}" is not a unit id or a range like 1-10`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > 255 || to > 255) throw new RangeError(`"${part}" goes past 255, the largest unit id`);
    if (to < from) throw new RangeError(`"${part}" runs backwards`);
    for (let u = from; u <= to; u++) units.add(u);
  }
  return [...units].sort((a, b) => a - b);
}

/**
 * Why `units` cannot be asked on a line of this kind, or undefined. A serial line has slave addresses
 * 1-247: 0 is broadcast and never answered, 248-255 are reserved [SERIAL §2.2]; Modbus/TCP takes 0-255.
 */
export function checkUnits(units: readonly number[], line: 'tcp' | 'rtu'): string | undefined {
  if (line === 'tcp') return undefined;
  const bad = units.filter((u) => u < MIN_SERIAL_SLAVE || u > MAX_SERIAL_SLAVE);
  if (bad.length === 0) return undefined;
  return `unit ${bad[0]} is not a serial slave address: expected ${MIN_SERIAL_SLAVE}-${MAX_SERIAL_SLAVE} (0 is broadcast, 248-255 are reserved)`;
}

// --- scan -----------------------------------------------------------------------------------------

export interface ScanHit {
  unitId: number;
  /** data: answered the probe; exception: answered with an exception, which proves a device is there. */
  answer: 'data' | 'exception';
  exceptionCode?: number;
  /** The exception's name [MAP §7]. */
  exception?: string;
  ms: number;
}

export interface ScanProblem {
  unitId: number;
  kind: FailureKind;
  message: string;
}

export interface ScanResult {
  fn: ReadFunction;
  address: number;
  count: number;
  timeoutMs: number;
  /** Every unit that answered, in unit order. */
  units: ScanHit[];
  probed: number;
  /** Units that answered, with data or an exception. */
  found: number;
  /** Of those, the ones that answered with an exception. */
  exceptions: number;
  /** No answer within the timeout, or exception 10/11 from a Modbus gateway that has no such target. */
  silent: number;
  /** Something answered but garbled (a CRC error or a malformed frame): wrong line settings, or two slaves with one address. */
  garbled: ScanProblem[];
  /** False when the scan was stopped before every unit was probed (the caller went away). */
  complete: boolean;
  elapsedMs: number;
}

export interface ScanOptions {
  units?: readonly number[];
  fn?: ReadFunction;
  address?: number;
  count?: number;
  timeoutMs?: number;
  /** Stops the scan between two units. */
  signal?: AbortSignal;
  /** Told before each unit is probed, for progress output ("probing unit 17"). */
  beforeUnit?: (unitId: number, index: number, total: number) => void;
  /** Told after each unit, for progress output; `outcome` is what the unit did (neither: silent). */
  onUnit?: (unitId: number, index: number, total: number, outcome: { hit?: ScanHit; garbled?: ScanProblem }) => void;
}

/**
 * Probes each unit id with one small read and reports the ones that answered. Exceptions count as
 * found (only a device sends one), except 10 and 11, which a Modbus gateway sends for a target that is
 * not there [MAP §7]. A failure of the line itself (kind 'connection') ends the scan with that failure.
 */
export async function scanUnits(read: ReadFn, opts: ScanOptions = {}): Promise<ScanResult> {
  const units = opts.units ?? DEFAULT_SCAN_UNITS;
  const fn = opts.fn ?? 3;
  const address = opts.address ?? 0;
  const count = opts.count ?? 1;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS;
  const why = checkRead(fn, address, count);
  if (why) throw new RangeError(why);
  const started = performance.now();
  const result: ScanResult = { fn, address, count, timeoutMs, units: [], probed: 0, found: 0, exceptions: 0, silent: 0, garbled: [], complete: true, elapsedMs: 0 };
  for (const [index, unitId] of units.entries()) {
    if (opts.signal?.aborted) {
      result.complete = false;
      break;
    }
    opts.beforeUnit?.(unitId, index, units.length);
    const t0 = performance.now();
    let failure: ModbusFailure | undefined;
    try {
      await read(unitId, fn, address, count, timeoutMs);
    } catch (err) {
      // Not a Modbus outcome (a full queue, a bad argument) or the line is gone: no point going on.
      if (!(err instanceof ModbusFailure) || err.kind === 'connection') throw err;
      failure = err;
    }
    result.probed++;
    const ms = Math.round(performance.now() - t0);
    const outcome: { hit?: ScanHit; garbled?: ScanProblem } = {};
    if (!failure) outcome.hit = { unitId, answer: 'data', ms };
    else if (failure.kind === 'exception' && exceptionHandling(failure.exceptionCode ?? 0) !== 'dead') {
      const code = failure.exceptionCode ?? 0;
      outcome.hit = { unitId, answer: 'exception', exceptionCode: code, exception: exceptionName(code), ms };
      result.exceptions++;
    } else if (failure.kind === 'timeout' || failure.kind === 'exception') result.silent++;
    else outcome.garbled = { unitId, kind: failure.kind, message: failure.message };
    if (outcome.hit) result.units.push(outcome.hit);
    if (outcome.garbled) result.garbled.push(outcome.garbled);
    opts.onUnit?.(unitId, index, units.length, outcome);
  }
  result.found = result.units.length;
  result.elapsedMs = Math.round(performance.now() - started);
  return result;
}

// --- test read ------------------------------------------------------------------------------------

export interface TestReadOptions {
  unit: number;
  fn?: ReadFunction;
  address: number;
  count?: number;
  type?: RegisterType;
  byteOrder?: ByteOrder;
  scale?: number;
  offset?: number;
  timeoutMs?: number;
  /** 'all': also decode the registers as every type in every byte order (TestReadResult.decodings). */
  decode?: 'all';
}

export interface TestReadResult {
  unit: number;
  fn: ReadFunction;
  address: number;
  count: number;
  elapsedMs: number;
  /** The response's data bytes, hex. */
  hex: string;
  /** Functions 3 and 4: the registers as unsigned 16-bit numbers. */
  registers?: number[];
  /** Functions 1 and 2: one boolean per coil or input. */
  bits?: boolean[];
  /** With a type: how it was decoded, and the value(s) × scale + offset. */
  decoded?: {
    type: RegisterType;
    byteOrder: ByteOrder;
    scale: number;
    offset: number;
    /** The value at `address`. */
    value: number;
    /** Every whole value of `type` in the registers read, from `address` on. */
    values: number[];
  };
  /** With decode 'all': the registers as every type and byte order that fits, × scale + offset. */
  decodings?: Decoding[];
}

/**
 * One read; when it gets no data, rejects with its ModbusFailure (timeout, exception, …), the
 * message saying which read it was.
 */
export async function testRead(read: ReadFn, opts: TestReadOptions): Promise<TestReadResult> {
  const fn = opts.fn ?? 3;
  const width = opts.type === undefined ? 1 : itemCount(opts.type);
  const count = opts.count ?? width;
  const why = checkRead(fn, opts.address, count) ?? (opts.type && isBitFunction(fn) ? `type ${opts.type} needs registers; function ${fn} reads bits` : undefined);
  if (why) throw new RangeError(why);
  if (count < width) throw new RangeError(`a ${opts.type} takes ${width} registers; count is ${count}`);
  const t0 = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  let data: Buffer;
  try {
    data = await read(opts.unit, fn, opts.address, count, timeoutMs);
  } catch (err) {
    if (!(err instanceof ModbusFailure) || err.kind === 'connection') throw err;
    const what = `unit ${opts.unit}, function ${fn}, address ${opts.address}, count ${count}`;
    throw new ModbusFailure(err.kind, `${what}: ${err.message}${err.kind === 'timeout' ? ` (${timeoutMs} ms)` : ''}`, err.exceptionCode);
  }
  const result: TestReadResult = { unit: opts.unit, fn, address: opts.address, count, elapsedMs: Math.round(performance.now() - t0), hex: data.toString('hex') };
  if (isBitFunction(fn)) {
    result.bits = Array.from({ length: count }, (_, i) => decodeTag(data, i, { type: 'bool', byteOrder: 'ABCD', scale: 1, offset: 0 }) === 1);
    return result;
  }
  result.registers = Array.from({ length: count }, (_, i) => data.readUInt16BE(i * 2));
  if (opts.type) {
    const tag = { type: opts.type, byteOrder: opts.byteOrder ?? 'ABCD', scale: opts.scale ?? 1, offset: opts.offset ?? 0 };
    const values = Array.from({ length: Math.floor(count / width) }, (_, i) => decodeTag(data, i * width, tag));
    result.decoded = { ...tag, value: values[0] as number, values };
  }
  if (opts.decode === 'all') result.decodings = decodeAll(data, opts.scale ?? 1, opts.offset ?? 0);
  return result;
}
