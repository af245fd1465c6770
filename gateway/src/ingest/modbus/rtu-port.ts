// The serial port under modbus-serial's RTU client. modbus-serial builds the request, checks the
// CRC, the exception flag and the length; this class only cuts the byte stream into one response
// frame per request. It differs from the library's own buffered port in two ways the poller needs:
// - bytes left over from an earlier exchange (a reply that came after its timeout, line noise) are
//   thrown away when the next request is written, so they can never be taken for its answer;
// - the reply is found by hunting for the addressed slave and function code, so noise ahead of a
//   reply costs nothing, and an exception reply is recognised by its length of 5 [MAP §7].
// RTU frames carry no length field and PC serial drivers and ptys deliver bytes with gaps that
// break timing-based framing, so the frame end comes from the expected length of the answer.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { SerialPort } from 'serialport';
import { EXCEPTION_FLAG } from './spec.js';

export interface RtuLineSettings {
  path: string;
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: 8;
  stopBits: 1 | 2;
}

/** slave(1) function(1) exception code(1) CRC(2) [MAP §7]. */
const EXCEPTION_FRAME_LENGTH = 5;
/** Longest serial ADU: 253-byte PDU + slave address + CRC = 256 bytes [MAP §4.1]. */
const MAX_FRAME = 256;

/** Length of the normal response to a request frame, or undefined for functions not read here. */
export function expectedResponseLength(request: Buffer): number | undefined {
  const fn = request[1];
  if (request.length < 6) return undefined;
  const quantity = request.readUInt16BE(4);
  switch (fn) {
    case 1:
    case 2:
      // slave, function, byte count, ceil(quantity / 8) data bytes, CRC [MAP §6.1, §6.2]
      return 3 + Math.ceil(quantity / 8) + 2;
    case 3:
    case 4:
      // slave, function, byte count, 2 × quantity data bytes, CRC [MAP §6.3, §6.4]
      return 3 + quantity * 2 + 2;
    case 5:
    case 6:
    case 15:
    case 16:
      return 8;
    default:
      return undefined;
  }
}

/** The port object modbus-serial's ModbusRTU drives (`new ModbusRTU(port)`). */
export class RtuFramedPort extends EventEmitter {
  // modbus-serial keys its transactions by these; a serial line has one exchange at a time.
  _transactionIdRead = 1;
  _transactionIdWrite = 1;
  private readonly serial: SerialPort;
  private buffer: Buffer = Buffer.alloc(0);
  private awaiting: { slave: number; fn: number; length: number } | null = null;

  constructor(line: RtuLineSettings) {
    super();
    // Required here rather than imported: see ModbusRTU() in transport.ts.
    const { SerialPort: Port } = createRequire(import.meta.url)('serialport') as typeof import('serialport');
    this.serial = new Port({
      path: line.path,
      baudRate: line.baudRate,
      parity: line.parity,
      dataBits: line.dataBits,
      stopBits: line.stopBits,
      autoOpen: false,
    });
    this.serial.on('data', (chunk: Buffer) => this.onData(chunk));
    // Re-emitted only to a listener: an 'error' event nobody hears would end the process.
    this.serial.on('error', (err: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    this.serial.on('close', () => this.emit('close'));
  }

  get isOpen(): boolean {
    return this.serial.isOpen;
  }

  open(callback: (err?: Error | null) => void): void {
    this.serial.open((err) => callback(err));
  }

  close(callback?: (err?: Error | null) => void): void {
    if (!this.serial.isOpen) {
      callback?.(null);
      return;
    }
    this.serial.close((err) => callback?.(err));
  }

  write(frame: Buffer): void {
    const length = expectedResponseLength(frame);
    this.buffer = Buffer.alloc(0);
    this.awaiting = length === undefined ? null : { slave: frame[0] as number, fn: frame[1] as number, length };
    this.serial.write(frame);
  }

  private onData(chunk: Buffer): void {
    const want = this.awaiting;
    if (!want) return; // nobody asked: noise, or a reply that came after its timeout
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    // Hunt for the start of the reply: our slave's address followed by our function code, plain or
    // with the exception flag. Anything before it is not ours.
    let start = 0;
    while (start < this.buffer.length) {
      if (this.buffer[start] === want.slave) {
        const fn = this.buffer[start + 1];
        if (fn === undefined || fn === want.fn || fn === (want.fn | EXCEPTION_FLAG)) break;
      }
      start++;
    }
    if (start > 0) this.buffer = this.buffer.subarray(start);
    if (this.buffer.length > MAX_FRAME) this.buffer = this.buffer.subarray(this.buffer.length - MAX_FRAME);
    if (this.buffer.length < 2) return;
    const length = this.buffer[1] === (want.fn | EXCEPTION_FLAG) ? EXCEPTION_FRAME_LENGTH : want.length;
    if (this.buffer.length < length) return;
    const frame = Buffer.from(this.buffer.subarray(0, length));
    this.buffer = Buffer.alloc(0);
    this.awaiting = null;
    this.emit('data', frame);
  }
}
