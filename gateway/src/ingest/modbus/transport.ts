// One request at a time over one connection or serial port, on modbus-serial's client. The bus
// scheduler (bus.ts) is the only caller, so nothing here queues; it turns every way a request can end
// into a resolved data buffer or a ModbusFailure with a kind the scheduler can act on.
import { createRequire } from 'node:module';
import type { ErrorCode } from '../../errors.js';
import type { ModbusRTU as ModbusClient, ReadCoilResult, ReadRegisterResult } from 'modbus-serial/ModbusRTU.js';
import { RtuFramedPort, type RtuLineSettings } from './rtu-port.js';
import { exceptionName, type ReadFunction } from './spec.js';
import type { WriteRequest } from './writes.js';

// modbus-serial is CommonJS and sets module.exports to the client class.
type ModbusClientClass = new (port?: unknown) => ModbusClient;
let modbusRtu: ModbusClientClass | undefined;
/**
 * Loaded at the first Modbus connection, not at start-up: modbus-serial brings serialport and its
 * native bindings (about 17 MB of RSS), which a gateway with Modbus off (the default) never uses.
 */
function ModbusRTU(): ModbusClientClass {
  return (modbusRtu ??= createRequire(import.meta.url)('modbus-serial') as ModbusClientClass);
}

export type FailureKind = 'timeout' | 'crc' | 'exception' | 'connection' | 'protocol';

/** The catalogue code for each kind (gateway/src/errors.ts), for the local API and the status page. */
export const FAILURE_CODES: Record<FailureKind, ErrorCode> = {
  timeout: 'FL_ERR_MODBUS_TIMEOUT',
  crc: 'FL_ERR_MODBUS_CRC',
  exception: 'FL_ERR_MODBUS_EXCEPTION',
  connection: 'FL_ERR_MODBUS_UNREACHABLE',
  protocol: 'FL_ERR_MODBUS_PROTOCOL',
};

export class ModbusFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** The exception code of an exception response [MAP §7]. */
    readonly exceptionCode?: number,
  ) {
    super(message);
    this.name = 'ModbusFailure';
  }

  get code(): ErrorCode {
    return FAILURE_CODES[this.kind];
  }
}

export interface Transport {
  readonly kind: 'tcp' | 'rtu';
  readonly isOpen: boolean;
  /** Opens the connection or port; rejects with a 'connection' failure. */
  open(): Promise<void>;
  /**
   * One read request. Resolves with the response's data bytes: registers high byte first
   * (functions 3/4) or bits packed eight to a byte, first item in the lowest bit (functions 1/2).
   * Rejects only with ModbusFailure.
   */
  read(unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number): Promise<Buffer>;
  /** One write request (function 5, 6, 15 or 16); resolves on the device's normal response. Rejects only with ModbusFailure. */
  write(unitId: number, req: WriteRequest, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
  /** Set by the bus to hear about errors that arrive outside a request (a serial port failing). */
  onError: (err: ModbusFailure) => void;
}

interface ClientError {
  name?: unknown;
  message?: unknown;
  errno?: unknown;
  modbusCode?: unknown;
}

/** Sorts modbus-serial's errors (plain objects with errno/modbusCode, not always Error instances). */
export function classify(err: unknown): ModbusFailure {
  if (err instanceof ModbusFailure) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ClientError;
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.modbusCode === 'number') {
    return new ModbusFailure('exception', `exception ${e.modbusCode} (${exceptionName(e.modbusCode)})`, e.modbusCode);
  }
  if (e.errno === 'ETIMEDOUT' || e.name === 'TransactionTimedOutError') return new ModbusFailure('timeout', 'no response within the timeout');
  if (message === 'CRC error') return new ModbusFailure('crc', 'response failed its CRC check');
  if (e.name === 'PortNotOpenError' || e.errno === 'ECONNREFUSED' || e.errno === 'ECONNRESET' || e.errno === 'EPIPE') {
    return new ModbusFailure('connection', message || 'port not open');
  }
  return new ModbusFailure('protocol', message);
}

/** Extra wait past the request timeout before we stop trusting the client to call back at all. */
const GUARD_MS = 1_000;

function readWith(client: ModbusClient, unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const guard = setTimeout(() => finish(new ModbusFailure('timeout', 'no response within the timeout (client never called back)')), timeoutMs + GUARD_MS);
    function finish(err: unknown, res?: ReadCoilResult | ReadRegisterResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      if (err) reject(classify(err));
      else if (!res || !Buffer.isBuffer(res.buffer)) reject(new ModbusFailure('protocol', 'response carried no data'));
      else resolve(res.buffer);
    }
    try {
      client.setTimeout(timeoutMs);
      const cb = (err: unknown, res: ReadCoilResult | ReadRegisterResult): void => finish(err, res);
      if (fn === 1) client.writeFC1(unitId, address, count, cb);
      else if (fn === 2) client.writeFC2(unitId, address, count, cb);
      else if (fn === 3) client.writeFC3(unitId, address, count, cb);
      else client.writeFC4(unitId, address, count, cb);
    } catch (err) {
      finish(err);
    }
  });
}

function writeWith(client: ModbusClient, unitId: number, req: WriteRequest, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const guard = setTimeout(() => finish(new ModbusFailure('timeout', 'no response within the timeout (client never called back)')), timeoutMs + GUARD_MS);
    function finish(err: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      if (err) reject(classify(err));
      else resolve();
    }
    try {
      client.setTimeout(timeoutMs);
      const cb = (err: unknown): void => finish(err);
      // modbus-serial sends a Buffer as the register bytes as they are: the byte order is ours.
      if (req.fn === 5) client.writeFC5(unitId, req.address, req.coil, cb);
      else if (req.fn === 15) client.writeFC15(unitId, req.address, req.coils, cb);
      else if (req.fn === 6) client.writeFC6(unitId, req.address, req.registers as unknown as number, cb);
      else client.writeFC16(unitId, req.address, req.registers as unknown as number[], cb);
    } catch (err) {
      finish(err);
    }
  });
}

function checkLength(data: Buffer, fn: ReadFunction, count: number): Buffer {
  const want = fn <= 2 ? Math.ceil(count / 8) : count * 2;
  if (data.length !== want) throw new ModbusFailure('protocol', `response carried ${data.length} data bytes, expected ${want}`);
  return data;
}

abstract class ClientTransport implements Transport {
  abstract readonly kind: 'tcp' | 'rtu';
  protected client: ModbusClient | undefined;

  get isOpen(): boolean {
    return this.client?.isOpen === true;
  }

  abstract open(): Promise<void>;

  async read(unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number): Promise<Buffer> {
    const client = this.client;
    if (!client || !client.isOpen) throw new ModbusFailure('connection', 'not connected');
    return checkLength(await readWith(client, unitId, fn, address, count, timeoutMs), fn, count);
  }

  async write(unitId: number, req: WriteRequest, timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client || !client.isOpen) throw new ModbusFailure('connection', 'not connected');
    await writeWith(client, unitId, req, timeoutMs);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => {
      // Never wait long on a line that may already be gone.
      const t = setTimeout(resolve, 2_000);
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      try {
        this.release(client, done);
      } catch {
        done();
      }
    });
  }

  /** Lets go of the client's socket or port, then calls `done`. */
  protected abstract release(client: ModbusClient, done: () => void): void;

  /** A client whose errors are recorded, never thrown: an 'error' event without a listener would crash the process. */
  protected newClient(port?: unknown): ModbusClient {
    const Client = ModbusRTU();
    const client = port === undefined ? new Client() : new Client(port);
    client.on('error', (err: unknown) => this.onError(classify(err)));
    return client;
  }

  /** Set by the bus to hear about errors that arrive outside a request. */
  onError: (err: ModbusFailure) => void = () => undefined;
}

export class TcpTransport extends ClientTransport {
  readonly kind = 'tcp' as const;
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly connectTimeoutMs: number,
  ) {
    super();
  }

  async open(): Promise<void> {
    await this.close();
    const client = this.newClient();
    const connecting = client.connectTCP(this.host, { port: this.port });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ModbusFailure('connection', `no connection to ${this.host}:${this.port} within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    });
    try {
      await Promise.race([connecting, timeout]);
    } catch (err) {
      connecting.catch(() => undefined);
      client.destroy(() => undefined);
      const failure = classify(err);
      throw failure.kind === 'connection' ? failure : new ModbusFailure('connection', `cannot connect to ${this.host}:${this.port}: ${failure.message}`);
    } finally {
      clearTimeout(timer);
    }
    this.client = client;
  }

  protected release(client: ModbusClient, done: () => void): void {
    // close() would wait for a 'close' event that a socket the peer already closed never sends again.
    client.destroy(done);
  }
}

export class RtuTransport extends ClientTransport {
  readonly kind = 'rtu' as const;
  constructor(private readonly line: RtuLineSettings) {
    super();
  }

  async open(): Promise<void> {
    await this.close();
    const port = new RtuFramedPort(this.line);
    const client = this.newClient(port);
    await new Promise<void>((resolve, reject) => {
      client.open((err: unknown) => {
        if (err) reject(new ModbusFailure('connection', `cannot open ${this.line.path}: ${classify(err).message}`));
        else resolve();
      });
    });
    this.client = client;
  }

  protected release(client: ModbusClient, done: () => void): void {
    // modbus-serial's destroy() skips a port without destroy(); close() closes the serial port.
    client.close(done);
  }
}
