// Register bytes → numbers. Modbus itself only moves 16-bit registers, each sent high byte first
// [MAP §4.2]; how a device lays a wider value across several registers is the device's choice, so
// each tag names its layout with the letters of the value's big-endian bytes as they appear on the wire:
//
//   ABCD  big-endian: registers in order, high byte first             (no swap)
//   CDAB  registers in reverse order (low word first), high byte first (word swap)
//   BADC  registers in order, low byte first in each                  (byte swap)
//   DCBA  fully little-endian                                         (word and byte swap)
//
// For 64-bit values "word swap" reverses all four registers (float64 under CDAB arrives as
// GH EF CD AB). For 16-bit values only the byte swap matters: CDAB reads as ABCD, DCBA as BADC.

export const VALUE_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];
export type RegisterType = Exclude<ValueType, 'bool'>;

export const BYTE_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type ByteOrder = (typeof BYTE_ORDERS)[number];

const REGISTERS: Record<ValueType, 1 | 2 | 4> = {
  bool: 1, // one coil or discrete input: one bit, counted like one item of the request
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  float64: 4,
};

/** Items (registers, or bits for bool) one value occupies. */
export function itemCount(type: ValueType): 1 | 2 | 4 {
  return REGISTERS[type];
}

/**
 * Decodes one value from `bytes`, which hold exactly its registers as they came off the wire
 * (2 bytes per register).
 */
export function decodeRegisters(bytes: Buffer, type: RegisterType, order: ByteOrder): number {
  const n = REGISTERS[type];
  if (bytes.length !== n * 2) throw new RangeError(`${type} needs ${n * 2} bytes, got ${bytes.length}`);
  const be = toBigEndian(bytes, order);
  switch (type) {
    case 'int16':
      return be.readInt16BE(0);
    case 'uint16':
      return be.readUInt16BE(0);
    case 'int32':
      return be.readInt32BE(0);
    case 'uint32':
      return be.readUInt32BE(0);
    case 'float32':
      return be.readFloatBE(0);
    case 'float64':
      return be.readDoubleBE(0);
  }
}

/**
 * The registers (2 bytes each, wire order) a device using `order` holds for `raw`, the inverse of
 * decodeRegisters. `raw` must already fit the type (writes.ts checks range and resolution first).
 */
export function encodeRegisters(raw: number, type: RegisterType, order: ByteOrder): Buffer {
  const be = Buffer.alloc(REGISTERS[type] * 2);
  switch (type) {
    case 'int16':
      be.writeInt16BE(raw, 0);
      break;
    case 'uint16':
      be.writeUInt16BE(raw, 0);
      break;
    case 'int32':
      be.writeInt32BE(raw, 0);
      break;
    case 'uint32':
      be.writeUInt32BE(raw, 0);
      break;
    case 'float32':
      be.writeFloatBE(raw, 0);
      break;
    case 'float64':
      be.writeDoubleBE(raw, 0);
      break;
  }
  // Swapping words and swapping bytes are each their own inverse, so the read reordering undoes itself.
  return toBigEndian(be, order);
}

/** Reorders wire bytes into the value's big-endian byte sequence (and back: the reordering is an involution). */
function toBigEndian(wire: Buffer, order: ByteOrder): Buffer {
  const wordSwap = order === 'CDAB' || order === 'DCBA';
  const byteSwap = order === 'BADC' || order === 'DCBA';
  const words = wire.length / 2;
  const out = Buffer.alloc(wire.length);
  for (let w = 0; w < words; w++) {
    const from = (wordSwap ? words - 1 - w : w) * 2;
    const hi = wire[from] as number;
    const lo = wire[from + 1] as number;
    out[w * 2] = byteSwap ? lo : hi;
    out[w * 2 + 1] = byteSwap ? hi : lo;
  }
  return out;
}

/**
 * Bit `index` of a coil/discrete-input response: the first item is the least significant bit of the
 * first data byte [MAP §6.1, §6.2].
 */
export function decodeBit(packed: Buffer, index: number): boolean {
  const byte = packed[index >> 3];
  if (byte === undefined) throw new RangeError(`bit ${index} is beyond the ${packed.length}-byte response`);
  return ((byte >> (index & 7)) & 1) === 1;
}

/** Engineering value: scale and offset apply to the decoded number, value × scale + offset. */
export function applyScale(raw: number, scale: number, offset: number): number {
  return raw * scale + offset;
}

export interface DecodableTag {
  type: ValueType;
  byteOrder: ByteOrder;
  scale: number;
  offset: number;
}

/**
 * The tag's engineering value from a response's data bytes; `item` is the tag's position in the
 * response in registers (or bits for bool).
 */
export function decodeTag(data: Buffer, item: number, tag: DecodableTag): number {
  if (tag.type === 'bool') return applyScale(decodeBit(data, item) ? 1 : 0, tag.scale, tag.offset);
  const start = item * 2;
  const end = start + REGISTERS[tag.type] * 2;
  if (end > data.length) throw new RangeError(`registers ${item}..${end / 2 - 1} are beyond the ${data.length / 2}-register response`);
  return applyScale(decodeRegisters(data.subarray(start, end), tag.type, tag.byteOrder), tag.scale, tag.offset);
}

/** One reading of a test read's registers as one type in one byte order (decodeAll). */
export interface Decoding {
  type: RegisterType;
  byteOrder: ByteOrder;
  /** The value at the first register read, × scale + offset. */
  value: number;
  /** Every whole value of the type in the registers read, from the first on. */
  values: number[];
}

/**
 * The orders worth showing per width: a 16-bit value has no word order, so CDAB and DCBA would
 * repeat ABCD and BADC.
 */
const ORDERS_BY_WIDTH: Record<1 | 2 | 4, readonly ByteOrder[]> = { 1: ['ABCD', 'BADC'], 2: BYTE_ORDERS, 4: BYTE_ORDERS };
const DECODE_ALL_TYPES: readonly RegisterType[] = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'];

/**
 * `registers` (2 bytes each, as off the wire) read as every register type in every distinct byte
 * order that fits, so a tech can pick the one whose value looks right. Types wider than the read are
 * left out.
 */
export function decodeAll(registers: Buffer, scale = 1, offset = 0): Decoding[] {
  const count = Math.floor(registers.length / 2);
  const out: Decoding[] = [];
  for (const type of DECODE_ALL_TYPES) {
    const width = REGISTERS[type] as 1 | 2 | 4;
    if (width > count) continue;
    for (const byteOrder of ORDERS_BY_WIDTH[width]) {
      const tag = { type, byteOrder, scale, offset };
      const values = Array.from({ length: Math.floor(count / width) }, (_, i) => decodeTag(registers, i * width, tag));
      out.push({ type, byteOrder, value: values[0] as number, values });
    }
  }
  return out;
}
