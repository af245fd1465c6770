// The parts of the Modbus specifications this adapter implements, in one place so each number is
// cited once:
//   [MAP]    MODBUS Application Protocol Specification V1.1b3 (modbus.org, 2012)
//   [SERIAL] MODBUS over Serial Line Specification and Implementation Guide V1.02 (modbus.org, 2006)
//   [TCP]    MODBUS Messaging on TCP/IP Implementation Guide V1.0b (modbus.org, 2006)

/** The four read functions [MAP §6.1-6.4]. Writes are not part of polling. */
export const READ_COILS = 1; // [MAP §6.1] 0x01 Read Coils
export const READ_DISCRETE_INPUTS = 2; // [MAP §6.2] 0x02 Read Discrete Inputs
export const READ_HOLDING_REGISTERS = 3; // [MAP §6.3] 0x03 Read Holding Registers
export const READ_INPUT_REGISTERS = 4; // [MAP §6.4] 0x04 Read Input Registers

export type ReadFunction = 1 | 2 | 3 | 4;
export const READ_FUNCTIONS: readonly ReadFunction[] = [1, 2, 3, 4];

/** Functions 1 and 2 address single bits; 3 and 4 address 16-bit registers. */
export function isBitFunction(fn: ReadFunction): fn is 1 | 2 {
  return fn === READ_COILS || fn === READ_DISCRETE_INPUTS;
}

/**
 * Most items one request may ask for: "Quantity of coils / inputs: 1 to 2000 (0x7D0)" [MAP §6.1, §6.2]
 * and "Quantity of Registers: 1 to 125 (0x7D)" [MAP §6.3, §6.4]. Both keep the response PDU within
 * the 253-byte limit [MAP §4.1].
 */
export const MAX_BITS_PER_READ = 2000;
export const MAX_REGISTERS_PER_READ = 125;

export function maxQuantity(fn: ReadFunction): number {
  return isBitFunction(fn) ? MAX_BITS_PER_READ : MAX_REGISTERS_PER_READ;
}

/** PDU addresses are 16 bits: 0x0000 to 0xFFFF [MAP §4.4]. */
export const MAX_ADDRESS = 0xffff;

/** Why a read request cannot be sent as asked, or undefined when it can. */
export function checkRead(fn: number, address: number, count: number): string | undefined {
  if (!(READ_FUNCTIONS as readonly number[]).includes(fn)) return `function ${fn} is not a read function (1-4)`;
  if (!Number.isInteger(address) || address < 0 || address > MAX_ADDRESS) return `address ${address} is not 0-${MAX_ADDRESS}`;
  const max = maxQuantity(fn as ReadFunction);
  if (!Number.isInteger(count) || count < 1 || count > max) return `count ${count} is not 1-${max} for function ${fn}`;
  if (address + count - 1 > MAX_ADDRESS) return `address ${address} + count ${count} runs past the last address ${MAX_ADDRESS}`;
  return undefined;
}

/** An exception response carries the request's function code with the high bit set [MAP §7]. */
export const EXCEPTION_FLAG = 0x80;

/** Exception codes [MAP §7, table "MODBUS Exception Codes"]. */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? `exception ${code}`;
}

/**
 * How the poller treats each exception:
 * - 5 ACKNOWLEDGE and 6 SERVER DEVICE BUSY mean "ask again later" [MAP §7]: retried.
 * - 10 and 11 come from a gateway whose target is unreachable or silent [MAP §7]: the device behind
 *   it is as good as dead, so they count towards backoff like a timeout.
 * - 1-4 and the rest say this request will never succeed as sent (wrong function, address or
 *   quantity, or a device fault): not retried; the next poll asks again.
 */
export type ExceptionHandling = 'retry' | 'dead' | 'final';

export function exceptionHandling(code: number): ExceptionHandling {
  if (code === 5 || code === 6) return 'retry';
  if (code === 10 || code === 11) return 'dead';
  return 'final';
}

/**
 * Slave addresses on a serial line: 0 is broadcast (never answered), 1-247 individual, 248-255
 * reserved [SERIAL §2.2]. Modbus/TCP carries the same byte as the unit identifier and a device
 * reached directly usually ignores it; any 0-255 is allowed there (MBAP header, [TCP §3.1.3]).
 */
export const MIN_SERIAL_SLAVE = 1;
export const MAX_SERIAL_SLAVE = 247;

/**
 * RTU frames are separated by a silent interval of at least 3.5 character times (t3.5). Above
 * 19200 baud the timer is fixed at 1.750 ms, because at high rates the computed value is shorter than
 * a UART's interrupt latency [SERIAL §2.5.1.1].
 *
 * The specification's RTU character is 11 bits (start, 8 data, parity or a second stop bit, stop)
 * [SERIAL §2.5.1]; many installations run 8N1 (10 bits), so the character length here comes from
 * the configured line settings.
 */
export function silentIntervalMs(baudRate: number, bitsPerCharacter: number): number {
  if (baudRate > 19200) return 1.75;
  return (3.5 * bitsPerCharacter * 1000) / baudRate;
}

export function bitsPerCharacter(dataBits: number, parity: 'none' | 'even' | 'odd', stopBits: number): number {
  return 1 + dataBits + (parity === 'none' ? 0 : 1) + stopBits;
}
