// What the Modbus panels share: the line and unit the tech is working on, and the device being
// edited before it is saved into the config.
import type { Line, Parity, TagGroup } from '../api';

/** A unit on a line: picked from the scan's results or from a configured bus's devices. */
export interface Target {
  line: Line;
  unit: number;
  /** How the tech knows it: "tcp 10.0.0.5:502 unit 1", "/dev/ttyUSB0 19200 8N1 unit 7", "bus line-1 unit 3". */
  label: string;
}

export interface Draft {
  line: Line;
  templateName: string | null;
  deviceId: string;
  unitId: number;
  tagGroups: TagGroup[];
}

export const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const;

const PARITY_LETTER: Record<Parity, string> = { none: 'N', even: 'E', odd: 'O' };

export function describeLine(line: Line): string {
  if ('bus' in line) return `bus ${line.bus}`;
  if ('tcp' in line) return `tcp ${line.tcp.host}:${line.tcp.port}`;
  return `${line.rtu.path} ${line.rtu.baudRate} 8${PARITY_LETTER[line.rtu.parity]}${line.rtu.stopBits}`;
}

export const REGISTER_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const;
export const BYTE_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
