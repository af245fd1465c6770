// A write command as a Modbus request: the value in engineering units goes back through offset,
// scale, type and byte/word order (conversions.ts has the read direction), and becomes function 5
// (one coil), 6 (one 16-bit register), 15 (several coils) or 16 (several registers) [MAP §6.5, §6.6,
// §6.11, §6.12]. Every check runs before anything is sent, so a refused write leaves the device
// untouched.
import { GatewayError } from '../../errors.js';
import type { DeviceConfig, TagConfig } from './config.js';
import { encodeRegisters, itemCount, type RegisterType } from './conversions.js';

export const WRITE_SINGLE_COIL = 5; // [MAP §6.5]
export const WRITE_SINGLE_REGISTER = 6; // [MAP §6.6]
export const WRITE_MULTIPLE_COILS = 15; // [MAP §6.11] 0x0F, 1-1968 coils
export const WRITE_MULTIPLE_REGISTERS = 16; // [MAP §6.12] 0x10, 1-123 registers

export const MAX_COILS_PER_WRITE = 1968;
export const MAX_REGISTERS_PER_WRITE = 123;

export type WriteRequest =
  | { fn: 5; address: number; coil: boolean }
  | { fn: 15; address: number; coils: boolean[] }
  /** `registers`: the wire bytes, 2 per register, high byte first. */
  | { fn: 6 | 16; address: number; registers: Buffer };

export type WriteValue = number | boolean | number[] | boolean[];

/** Integer range each register type holds; floats take any finite value that survives the cast. */
const INTEGER_RANGE: Partial<Record<RegisterType, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

/** The tag named `tagName` and the ones after it at consecutive addresses, as many as `count`. */
function consecutiveTags(device: DeviceConfig, first: TagConfig, count: number): TagConfig[] {
  const byAddress = new Map<number, TagConfig>();
  for (const g of device.tagGroups) for (const t of g.tags) if (t.function === first.function) byAddress.set(t.address, t);
  const out: TagConfig[] = [first];
  let next = first.address + itemCount(first.type);
  while (out.length < count) {
    const tag = byAddress.get(next);
    if (!tag) {
      throw new GatewayError('FL_ERR_COMMAND_BAD_VALUE', `${count} values from ${JSON.stringify(first.metric)}, but no tag of the register map starts at address ${next} (value ${out.length + 1})`);
    }
    out.push(tag);
    next += itemCount(tag.type);
  }
  return out;
}

/** The device's tag whose metric name is `tagName`. */
export function findTag(device: DeviceConfig, tagName: string): TagConfig {
  for (const g of device.tagGroups) for (const t of g.tags) if (t.metric === tagName) return t;
  const names = device.tagGroups.flatMap((g) => g.tags.filter((t) => t.writable).map((t) => t.metric));
  throw new GatewayError('FL_ERR_COMMAND_UNKNOWN_TAG', `${JSON.stringify(tagName)} on ${device.deviceId}; writable tags: ${names.join(', ') || 'none'}`);
}

function checkRange(tag: TagConfig, value: number): void {
  if (tag.min !== undefined && value < tag.min) throw new GatewayError('FL_ERR_COMMAND_OUT_OF_RANGE', `${value} is below ${tag.metric}'s min ${tag.min}`);
  if (tag.max !== undefined && value > tag.max) throw new GatewayError('FL_ERR_COMMAND_OUT_OF_RANGE', `${value} is above ${tag.metric}'s max ${tag.max}`);
}

/**
 * The raw number the device holds for engineering value `value`: (value − offset) / scale. An
 * integer type takes it only when it is whole, allowing for the float error of the division
 * (21.5 / 0.1 is 214.99999999999997): a value finer than the tag's resolution is refused rather
 * than silently rounded to something else.
 */
export function rawValue(tag: TagConfig, value: number): number {
  const raw = (value - tag.offset) / tag.scale;
  if (!Number.isFinite(raw)) throw new GatewayError('FL_ERR_COMMAND_OUT_OF_RANGE', `${value} gives no finite raw value for ${tag.metric} (scale ${tag.scale}, offset ${tag.offset})`);
  const range = INTEGER_RANGE[tag.type as RegisterType];
  if (!range) {
    if (tag.type === 'float32' && Math.abs(raw) > 3.4028234663852886e38) {
      throw new GatewayError('FL_ERR_COMMAND_OUT_OF_RANGE', `${value} is beyond what a float32 holds (${tag.metric})`);
    }
    return raw;
  }
  const whole = Math.round(raw);
  if (Math.abs(raw - whole) > 1e-6 * Math.max(1, Math.abs(raw))) {
    throw new GatewayError('FL_ERR_COMMAND_BAD_VALUE', `${value} is finer than ${tag.metric}'s resolution (${tag.scale} per step of its ${tag.type})`);
  }
  if (whole < range[0] || whole > range[1]) {
    throw new GatewayError('FL_ERR_COMMAND_OUT_OF_RANGE', `${value} is raw ${whole}, outside ${tag.type} ${range[0]}..${range[1]} (${tag.metric})`);
  }
  return whole;
}

function coilState(tag: TagConfig, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    checkRange(tag, value);
    const raw = (value - tag.offset) / tag.scale;
    if (raw === 0 || raw === 1) return raw === 1;
  }
  throw new GatewayError('FL_ERR_COMMAND_BAD_VALUE', `${JSON.stringify(value)} for coil ${tag.metric}: expected true/false (or the number a read of it reports)`);
}

function registerBytes(tag: TagConfig, value: unknown): Buffer {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new GatewayError('FL_ERR_COMMAND_BAD_VALUE', `${JSON.stringify(value)} for register tag ${tag.metric}: expected a finite number`);
  }
  checkRange(tag, value);
  return encodeRegisters(rawValue(tag, value), tag.type as RegisterType, tag.byteOrder);
}

/**
 * The request that writes `value` to the tag named `tagName` of `device`. An array writes that
 * tag and the tags after it at consecutive addresses, one item each, every one of them writable.
 * Throws GatewayError (FL_ERR_COMMAND_UNKNOWN_TAG, _NOT_WRITABLE, _BAD_VALUE, _OUT_OF_RANGE).
 */
export function planWrite(device: DeviceConfig, tagName: string, value: unknown): WriteRequest {
  const first = findTag(device, tagName);
  const values: unknown[] = Array.isArray(value) ? value : [value];
  if (values.length === 0) throw new GatewayError('FL_ERR_COMMAND_BAD_VALUE', 'an empty array writes nothing');
  const tags = consecutiveTags(device, first, values.length);
  for (const t of tags) {
    if (!t.writable) throw new GatewayError('FL_ERR_COMMAND_NOT_WRITABLE', `${t.metric} (function ${t.function}, address ${t.address}) on ${device.deviceId}`);
  }
  if (first.type === 'bool') {
    const coils = tags.map((t, i) => coilState(t, values[i]));
    if (coils.length > MAX_COILS_PER_WRITE) throw new GatewayError('FL_ERR_COMMAND_BAD_VALUE', `${coils.length} coils; one write takes at most ${MAX_COILS_PER_WRITE}`);
    if (!Array.isArray(value)) return { fn: WRITE_SINGLE_COIL, address: first.address, coil: coils[0] as boolean };
    return { fn: WRITE_MULTIPLE_COILS, address: first.address, coils };
  }
  const registers = Buffer.concat(tags.map((t, i) => registerBytes(t, values[i])));
  if (registers.length / 2 > MAX_REGISTERS_PER_WRITE) {
    throw new GatewayError('FL_ERR_COMMAND_BAD_VALUE', `${registers.length / 2} registers; one write takes at most ${MAX_REGISTERS_PER_WRITE}`);
  }
  // Function 6 carries exactly one register; anything wider goes as 16 so the device sees the
  // value's registers change together instead of one half at a time.
  if (registers.length === 2 && !Array.isArray(value)) return { fn: WRITE_SINGLE_REGISTER, address: first.address, registers };
  return { fn: WRITE_MULTIPLE_REGISTERS, address: first.address, registers };
}

/** What a log line or status error says about a request. */
export function describeWrite(req: WriteRequest): string {
  const n = req.fn === 5 ? 1 : req.fn === 15 ? req.coils.length : req.registers.length / 2;
  return `function ${req.fn} at ${req.address} (${n} ${req.fn === 5 || req.fn === 15 ? 'coil' : 'register'}${n === 1 ? '' : 's'})`;
}
