// A Transport with scripted slaves, for testing the bus scheduler's timing and failure handling
// without a line. Register i of every slave holds the value i (bits are all set), answers take
// `latencyMs`, and a silent slave costs the full timeout, as on a real line. Time is the given
// clock's: pass the bus's VirtualClock (test/support/virtual-clock.ts) and the calls' startMs and
// endMs are virtual monotonic times, independent of how busy the machine is.
import { realClock, type BusClock } from '../../gateway/src/ingest/modbus/clock.js';
import { ModbusFailure, type Transport } from '../../gateway/src/ingest/modbus/transport.js';
import type { ReadFunction } from '../../gateway/src/ingest/modbus/spec.js';
import type { WriteRequest } from '../../gateway/src/ingest/modbus/writes.js';

export type FakeBehaviour =
  | { kind: 'ok' }
  | { kind: 'silent' }
  | { kind: 'exception'; code: number }
  | { kind: 'crc' }
  /** Answers `failFirst` tries with `then`, later ones normally. */
  | { kind: 'flaky'; failFirst: number; then: 'crc' | 'silent' | { exception: number } };

export interface FakeCall {
  unitId: number;
  fn: ReadFunction;
  address: number;
  count: number;
  startMs: number;
  endMs: number;
  outcome: 'ok' | 'timeout' | 'crc' | 'exception' | 'connection';
}

export class FakeTransport implements Transport {
  readonly calls: FakeCall[] = [];
  readonly behaviour = new Map<number, FakeBehaviour>();
  isOpen = false;
  opens = 0;
  /** Opens that fail before one succeeds. */
  failOpens = 0;
  /** The next this-many reads find the connection gone. */
  dropReads = 0;
  private tries = new Map<number, number>();
  onError: (err: ModbusFailure) => void = () => undefined;

  constructor(
    readonly kind: 'tcp' | 'rtu' = 'tcp',
    readonly latencyMs = 2,
    private readonly clock: BusClock = realClock,
  ) {}

  async open(): Promise<void> {
    await this.clock.sleep(1);
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new ModbusFailure('connection', 'connection refused (fake)');
    }
    this.opens++;
    this.isOpen = true;
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  /** Writes as they reached the line, in order. */
  readonly writes: { unitId: number; req: WriteRequest }[] = [];

  async write(unitId: number, req: WriteRequest): Promise<void> {
    await this.clock.sleep(this.latencyMs);
    if (!this.isOpen) throw new ModbusFailure('connection', 'not connected');
    const behaviour = this.behaviour.get(unitId) ?? { kind: 'ok' };
    if (behaviour.kind === 'exception') throw new ModbusFailure('exception', `exception ${behaviour.code}`, behaviour.code);
    if (behaviour.kind === 'silent') throw new ModbusFailure('timeout', 'no response within the timeout');
    this.writes.push({ unitId, req });
  }

  async read(unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number): Promise<Buffer> {
    const startMs = this.clock.monotonic();
    const record = (outcome: FakeCall['outcome']): void => {
      this.calls.push({ unitId, fn, address, count, startMs, endMs: this.clock.monotonic(), outcome });
    };
    if (!this.isOpen) {
      record('connection');
      throw new ModbusFailure('connection', 'not connected');
    }
    if (this.dropReads > 0) {
      this.dropReads--;
      this.isOpen = false;
      record('connection');
      throw new ModbusFailure('connection', 'connection reset (fake)');
    }
    const behaviour = this.behaviour.get(unitId) ?? { kind: 'ok' };
    const tries = (this.tries.get(unitId) ?? 0) + 1;
    this.tries.set(unitId, tries);
    let effective: 'ok' | 'silent' | 'crc' | { exception: number } = 'ok';
    if (behaviour.kind === 'silent') effective = 'silent';
    else if (behaviour.kind === 'crc') effective = 'crc';
    else if (behaviour.kind === 'exception') effective = { exception: behaviour.code };
    else if (behaviour.kind === 'flaky' && tries <= behaviour.failFirst) effective = behaviour.then;
    if (effective === 'silent') {
      await this.clock.sleep(timeoutMs);
      record('timeout');
      throw new ModbusFailure('timeout', 'no response within the timeout');
    }
    await this.clock.sleep(this.latencyMs);
    if (effective === 'crc') {
      record('crc');
      throw new ModbusFailure('crc', 'response failed its CRC check');
    }
    if (typeof effective === 'object') {
      record('exception');
      throw new ModbusFailure('exception', `exception ${effective.exception}`, effective.exception);
    }
    record('ok');
    if (fn <= 2) return Buffer.alloc(Math.ceil(count / 8), 0xff);
    const data = Buffer.alloc(count * 2);
    for (let i = 0; i < count; i++) data.writeUInt16BE((address + i) & 0xffff, i * 2);
    return data;
  }
}
