// A line the gateway does not poll: a TCP device or a serial port a field tech names on the
// commissioning page or the CLI before any bus is configured. Opened for one scan or test read and
// closed right after, so nothing of it outlives the request.
import { realpathSync } from 'node:fs';
import { defaultInterFrameDelayMs, DEFAULT_CONNECT_TIMEOUT_MS } from './config.js';
import { transportReader, type ReadFn } from './tools.js';
import { ModbusFailure, RtuTransport, TcpTransport, type Transport } from './transport.js';

export type AdHocLine =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; stopBits: 1 | 2 };

export interface OpenLine {
  read: ReadFn;
  close(): Promise<void>;
}

/** "tcp:host:port" or the serial path as given: how a scan's `found` names the line. */
export function lineName(line: AdHocLine): string {
  return line.kind === 'tcp' ? `tcp:${line.host}:${line.port}` : line.path;
}

/**
 * The path a serial port really is (a udev or socat symlink resolved), so two names for one port
 * are seen as one; the path itself when it does not exist (yet).
 */
export function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Opens the line; rejects with a 'connection' ModbusFailure that says what to do when a serial port
 * is locked by another program.
 */
export async function openLine(line: AdHocLine): Promise<OpenLine> {
  const transport: Transport =
    line.kind === 'tcp'
      ? new TcpTransport(line.host, line.port, DEFAULT_CONNECT_TIMEOUT_MS)
      : new RtuTransport({ path: line.path, baudRate: line.baudRate, parity: line.parity, dataBits: 8, stopBits: line.stopBits });
  const gapMs = line.kind === 'rtu' ? defaultInterFrameDelayMs({ ...line, dataBits: 8 }) : 0;
  try {
    await transport.open();
  } catch (err) {
    await transport.close();
    const message = err instanceof Error ? err.message : String(err);
    if (line.kind === 'rtu' && /Cannot lock port|Resource temporarily unavailable/i.test(message)) {
      throw new ModbusFailure('connection', `${line.path} is in use by another program (a running gateway?); go through the gateway's bus instead`);
    }
    throw err instanceof ModbusFailure ? err : new ModbusFailure('connection', message);
  }
  return { read: transportReader(transport, gapMs), close: () => transport.close() };
}

/** Opens the line, runs `work`, and closes the line however `work` ends. */
export async function onLine<T>(line: AdHocLine, work: (read: ReadFn) => Promise<T>): Promise<T> {
  const open = await openLine(line);
  try {
    return await work(open.read);
  } finally {
    await open.close();
  }
}
