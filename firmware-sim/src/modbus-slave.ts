// Simulated Modbus slaves: a Modbus/TCP server and an RTU slave on a serial port (a socat pty in
// tests), each answering one or more unit ids from register tables the caller fills. Reads only
// (functions 1-4 [MAP §6.1-6.4]); anything else is answered with exception 1, illegal function.
// Fault modes per unit: stop answering, answer every request with an exception, corrupt the CRC
// of every RTU answer, or answer late; or, through `faultFor`, a fault picked request by request.
import { createServer, type Server, type Socket } from 'node:net';
import { SerialPort } from 'serialport';

export type Table = 'coils' | 'discreteInputs' | 'holdingRegisters' | 'inputRegisters';
export type SimValueType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
export type SimByteOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

export type SlaveFault =
  | { kind: 'silent' }
  | { kind: 'exception'; code: number }
  /** RTU only: the answer's CRC is wrong. */
  | { kind: 'corrupt-crc' }
  | { kind: 'delay'; ms: number };

export interface UnitInit {
  /** Items per table; addresses from `size` on answer exception 2, illegal data address. Default 10000. */
  size?: number;
  coils?: Record<number, boolean>;
  discreteInputs?: Record<number, boolean>;
  holdingRegisters?: Record<number, number>;
  inputRegisters?: Record<number, number>;
  /** Typed values, laid out across registers as a device using `byteOrder` would. */
  values?: { table: 'holdingRegisters' | 'inputRegisters'; address: number; type: SimValueType; byteOrder?: SimByteOrder; value: number }[];
  fault?: SlaveFault;
}

export interface SlaveRequest {
  unit: number;
  fn: number;
  address: number;
  count: number;
  atMs: number;
}

/**
 * Asked for every request to a unit that has no fault set, just before it is answered: a fault for
 * this one request, or undefined to answer it normally. Lets a simulator fail a share of requests.
 */
export type FaultPicker = (unit: number, fn: number) => SlaveFault | undefined;

export class UnitMemory {
  readonly coils: Uint8Array;
  readonly discreteInputs: Uint8Array;
  readonly holdingRegisters: Uint16Array;
  readonly inputRegisters: Uint16Array;

  constructor(readonly size = 10_000) {
    this.coils = new Uint8Array(size);
    this.discreteInputs = new Uint8Array(size);
    this.holdingRegisters = new Uint16Array(size);
    this.inputRegisters = new Uint16Array(size);
  }

  setRegisters(table: 'holdingRegisters' | 'inputRegisters', address: number, values: readonly number[]): void {
    values.forEach((v, i) => (this[table][address + i] = v & 0xffff));
  }

  setBits(table: 'coils' | 'discreteInputs', address: number, values: readonly boolean[]): void {
    values.forEach((v, i) => (this[table][address + i] = v ? 1 : 0));
  }

  /** Stores `value` the way a device with layout `order` would (see gateway/src/ingest/modbus/conversions.ts). */
  setValue(table: 'holdingRegisters' | 'inputRegisters', address: number, type: SimValueType, value: number, order: SimByteOrder = 'ABCD'): void {
    this.setRegisters(table, address, encodeValue(type, value, order));
  }
}

const WIDTH: Record<SimValueType, number> = { int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

/** The registers that hold `value` in layout `order`. */
export function encodeValue(type: SimValueType, value: number, order: SimByteOrder): number[] {
  const be = Buffer.alloc(WIDTH[type]);
  if (type === 'int16') be.writeInt16BE(value);
  else if (type === 'uint16') be.writeUInt16BE(value);
  else if (type === 'int32') be.writeInt32BE(value);
  else if (type === 'uint32') be.writeUInt32BE(value);
  else if (type === 'float32') be.writeFloatBE(value);
  else be.writeDoubleBE(value);
  const words: [number, number][] = [];
  for (let i = 0; i < be.length; i += 2) words.push([be[i] as number, be[i + 1] as number]);
  if (order === 'CDAB' || order === 'DCBA') words.reverse();
  return words.map(([hi, lo]) => (order === 'BADC' || order === 'DCBA' ? (lo << 8) | hi : (hi << 8) | lo));
}

/** CRC-16/MODBUS: polynomial 0xA001 (reflected 0x8005), initial 0xFFFF, sent low byte first ([SERIAL], "CRC Checking" and "CRC Generation"). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** What every simulated slave shares: the units, their faults, the request log, and the PDU logic. */
class SlaveCore {
  readonly units = new Map<number, UnitMemory>();
  readonly faults = new Map<number, SlaveFault>();
  readonly requests: SlaveRequest[] = [];

  constructor(units: Record<number, UnitInit>, private readonly faultFor?: FaultPicker) {
    for (const [id, init] of Object.entries(units)) {
      const unit = Number(id);
      const mem = new UnitMemory(init.size);
      for (const table of ['coils', 'discreteInputs'] as const) {
        for (const [a, v] of Object.entries(init[table] ?? {})) mem.setBits(table, Number(a), [v]);
      }
      for (const table of ['holdingRegisters', 'inputRegisters'] as const) {
        for (const [a, v] of Object.entries(init[table] ?? {})) mem.setRegisters(table, Number(a), [v]);
      }
      for (const v of init.values ?? []) mem.setValue(v.table, v.address, v.type, v.value, v.byteOrder);
      this.units.set(unit, mem);
      if (init.fault) this.faults.set(unit, init.fault);
    }
  }

  /** The response PDU for a request PDU, or null for no answer. Also says how to mangle it. */
  handle(unit: number, pdu: Buffer): { pdu: Buffer; fault?: SlaveFault } | null {
    const mem = this.units.get(unit);
    if (!mem) return null; // not one of ours: another slave on the line answers, or nobody does
    const fn = pdu[0] ?? 0;
    const address = pdu.length >= 5 ? pdu.readUInt16BE(1) : 0;
    const count = pdu.length >= 5 ? pdu.readUInt16BE(3) : 0;
    if (this.requests.length >= 100_000) this.requests.splice(0, 50_000);
    this.requests.push({ unit, fn, address, count, atMs: Date.now() });
    const fault = this.faults.get(unit) ?? this.faultFor?.(unit, fn);
    if (fault?.kind === 'silent') return null;
    if (fault?.kind === 'exception') return { pdu: exception(fn, fault.code), fault };
    return { pdu: this.read(mem, fn, address, count, pdu.length), ...(fault ? { fault } : {}) };
  }

  private read(mem: UnitMemory, fn: number, address: number, count: number, pduLength: number): Buffer {
    if (fn < 1 || fn > 4) return exception(fn, 1); // [MAP §7] 01 illegal function
    if (pduLength !== 5) return exception(fn, 3);
    const bits = fn <= 2;
    // [MAP §6.1-6.4]: quantity 1-2000 bits or 1-125 registers, else exception 03 illegal data value
    if (count < 1 || count > (bits ? 2000 : 125)) return exception(fn, 3);
    // … and the range must exist, else exception 02 illegal data address
    if (address + count > mem.size) return exception(fn, 2);
    if (bits) {
      const table = fn === 1 ? mem.coils : mem.discreteInputs;
      const data = Buffer.alloc(Math.ceil(count / 8));
      for (let i = 0; i < count; i++) if (table[address + i]) data[i >> 3] = (data[i >> 3] as number) | (1 << (i & 7));
      return Buffer.concat([Buffer.from([fn, data.length]), data]);
    }
    const table = fn === 3 ? mem.holdingRegisters : mem.inputRegisters;
    const data = Buffer.alloc(count * 2);
    for (let i = 0; i < count; i++) data.writeUInt16BE(table[address + i] as number, i * 2);
    return Buffer.concat([Buffer.from([fn, data.length]), data]);
  }
}

/** Exception response: the function code with its high bit set, then the code [MAP §7]. */
function exception(fn: number, code: number): Buffer {
  return Buffer.from([(fn | 0x80) & 0xff, code]);
}

export interface ModbusSlave {
  /** Every request received, oldest first. */
  readonly requests: SlaveRequest[];
  unit(id: number): UnitMemory;
  setFault(unit: number, fault: SlaveFault | null): void;
  stop(): Promise<void>;
}

function api(core: SlaveCore, stop: () => Promise<void>, kind: 'tcp' | 'rtu'): ModbusSlave {
  return {
    requests: core.requests,
    unit(id) {
      const mem = core.units.get(id);
      if (!mem) throw new Error(`no unit ${id} on this slave`);
      return mem;
    },
    setFault(unit, fault) {
      if (fault?.kind === 'corrupt-crc' && kind === 'tcp') throw new Error('Modbus/TCP frames carry no CRC; corrupt-crc is an RTU fault');
      if (fault) core.faults.set(unit, fault);
      else core.faults.delete(unit);
    },
    stop,
  };
}

function later(fault: SlaveFault | undefined, send: () => void): void {
  if (fault?.kind === 'delay') setTimeout(send, fault.ms).unref();
  else send();
}

// --- Modbus/TCP ---------------------------------------------------------------------------------

export interface TcpSlaveOptions {
  host?: string;
  /** 0 (the default) picks a free port; read it back from `port`. */
  port?: number;
  units: Record<number, UnitInit>;
  /** Must not pick corrupt-crc: Modbus/TCP frames carry no CRC. */
  faultFor?: FaultPicker;
}

export type ModbusTcpSlave = ModbusSlave & { readonly port: number };

/** MBAP header: transaction id, protocol id (0), length of what follows, unit id [TCP §3.1.3]. */
const MBAP_LENGTH = 7;

export async function startModbusTcpSlave(opts: TcpSlaveOptions): Promise<ModbusTcpSlave> {
  const core = new SlaveCore(opts.units, opts.faultFor);
  for (const [unit, init] of Object.entries(opts.units)) {
    if (init.fault?.kind === 'corrupt-crc') throw new Error(`unit ${unit}: Modbus/TCP frames carry no CRC; corrupt-crc is an RTU fault`);
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= MBAP_LENGTH) {
        const protocol = buffer.readUInt16BE(2);
        const length = buffer.readUInt16BE(4);
        if (protocol !== 0 || length < 2 || length > 254) {
          socket.destroy(); // not Modbus/TCP: no way to find the next frame
          return;
        }
        if (buffer.length < 6 + length) return;
        const tid = buffer.readUInt16BE(0);
        const unit = buffer[6] as number;
        const pdu = Buffer.from(buffer.subarray(MBAP_LENGTH, 6 + length));
        buffer = buffer.subarray(6 + length);
        const answer = core.handle(unit, pdu);
        if (!answer) continue;
        const header = Buffer.alloc(MBAP_LENGTH);
        header.writeUInt16BE(tid, 0);
        header.writeUInt16BE(0, 2);
        header.writeUInt16BE(answer.pdu.length + 1, 4);
        header[6] = unit;
        later(answer.fault, () => {
          if (!socket.destroyed) socket.write(Buffer.concat([header, answer.pdu]));
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const stop = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { ...api(core, stop, 'tcp'), port };
}

// --- RTU ----------------------------------------------------------------------------------------

export interface RtuSlaveOptions {
  /** Serial device; in tests one end of a socat pty pair. */
  path: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
  units: Record<number, UnitInit>;
  faultFor?: FaultPicker;
}

/** Length of the request frame starting at buffer[0], or undefined while too little has arrived to tell. */
function requestFrameLength(buffer: Buffer): number | undefined {
  const fn = buffer[1];
  if (fn === undefined) return undefined;
  if (fn >= 1 && fn <= 6) return 8; // slave, function, address, quantity/value, CRC
  if (fn === 15 || fn === 16) {
    const byteCount = buffer[6];
    return byteCount === undefined ? undefined : 9 + byteCount;
  }
  return 4; // an unknown function: take slave, function and a CRC, and let the CRC check sort it out
}

export async function startModbusRtuSlave(opts: RtuSlaveOptions): Promise<ModbusSlave> {
  const core = new SlaveCore(opts.units, opts.faultFor);
  const port = new SerialPort({
    path: opts.path,
    baudRate: opts.baudRate ?? 19_200,
    parity: opts.parity ?? 'none',
    stopBits: opts.stopBits ?? 1,
    dataBits: 8,
    autoOpen: false,
  });
  port.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  let buffer = Buffer.alloc(0);
  port.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const length = requestFrameLength(buffer);
      if (length === undefined || buffer.length < length) return;
      const frame = buffer.subarray(0, length);
      // A request with a communication error gets no response [MAP §7]; drop one byte and look for
      // a frame start again.
      if (crc16(frame.subarray(0, length - 2)) !== frame.readUInt16LE(length - 2)) {
        buffer = buffer.subarray(1);
        continue;
      }
      buffer = buffer.subarray(length);
      const unit = frame[0] as number;
      if (unit === 0) continue; // broadcast: never answered [SERIAL §2.2]
      const answer = core.handle(unit, Buffer.from(frame.subarray(1, length - 2)));
      if (!answer) continue;
      const body = Buffer.concat([Buffer.from([unit]), answer.pdu]);
      const reply = Buffer.alloc(body.length + 2);
      body.copy(reply);
      let crc = crc16(body);
      if (answer.fault?.kind === 'corrupt-crc') crc ^= 0xffff;
      reply.writeUInt16LE(crc, body.length);
      later(answer.fault, () => {
        if (port.isOpen) port.write(reply);
      });
    }
  });
  const stop = async (): Promise<void> => {
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  };
  return api(core, stop, 'rtu');
}
