// Modbus adapter settings. The schema is the documentation: every field says what it does, every
// default is a named value below, unknown keys are refused, and the checks that span several fields
// (overlapping tags, types that do not fit a function, duplicate ids) refuse start-up with the key,
// the value and what was expected. sample.yaml shows the same settings as a file.
import { z } from 'zod';
import { deviceIdSchema } from '../device-id.js';
import { BYTE_ORDERS, VALUE_TYPES, itemCount, type ByteOrder, type ValueType } from './conversions.js';
import {
  MAX_ADDRESS,
  MAX_BITS_PER_READ,
  MAX_REGISTERS_PER_READ,
  MAX_SERIAL_SLAVE,
  MIN_SERIAL_SLAVE,
  bitsPerCharacter,
  isBitFunction,
  silentIntervalMs,
  type ReadFunction,
} from './spec.js';

// --- defaults -------------------------------------------------------------------------------------

/** Port 502 is reserved for Modbus/TCP [TCP §3.1.3]. */
export const DEFAULT_TCP_PORT = 502;
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** First and longest wait before reopening a bus whose connection or port failed. */
export const DEFAULT_RECONNECT_MIN_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
/**
 * The serial line's defaults: even parity [SERIAL §2.5.1] and 19200 bps ("19.2 Kbps ... is the
 * required default", [SERIAL] physical layer chapter).
 */
export const DEFAULT_BAUD_RATE = 19_200;
export const DEFAULT_PARITY = 'even';
/** RTU moves 8-bit bytes [SERIAL §2.5.1]. */
export const DEFAULT_DATA_BITS = 8;
export const DEFAULT_STOP_BITS = 1;
/** The unit id a Modbus/TCP device reached directly usually answers to, and the first serial slave address. */
export const DEFAULT_UNIT_ID = 1;
export const DEFAULT_TIMEOUT_MS = 1_000;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_BACKOFF_INITIAL_MS = 1_000;
export const DEFAULT_BACKOFF_MAX_MS = 60_000;
export const DEFAULT_BACKOFF_MULTIPLIER = 2;
/**
 * Unread items allowed between two tags merged into one request. 0 merges only adjacent tags: a
 * read across a hole in a device's map is answered with exception 2 (illegal data address) by many
 * devices, so gaps are opt-in per device.
 */
export const DEFAULT_MAX_GAP = 0;
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
export const DEFAULT_SCALE = 1;
export const DEFAULT_OFFSET = 0;
export const DEFAULT_BYTE_ORDER: ByteOrder = 'ABCD';
/** Functions 1 and 2 read bits; 3 and 4 default to one unsigned register. */
export const DEFAULT_TYPE_FOR_BITS: ValueType = 'bool';
export const DEFAULT_TYPE_FOR_REGISTERS: ValueType = 'uint16';

/**
 * t3.5 for the line settings [SERIAL §2.5.1.1]: 3.5 character times, fixed at 1.75 ms above
 * 19200 baud.
 */
export function defaultInterFrameDelayMs(bus: { baudRate: number; dataBits: number; parity: 'none' | 'even' | 'odd'; stopBits: number }): number {
  return silentIntervalMs(bus.baudRate, bitsPerCharacter(bus.dataBits, bus.parity, bus.stopBits));
}

// --- schema ---------------------------------------------------------------------------------------

/** Same rule as the pipeline's validate step, so a bad name fails at start-up instead of every poll. */
const METRIC_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);
const positiveMs = (min: number) => z.number().int().min(min);

const tagSchema = z.strictObject({
  /** The metric name the value is reported under (1-64 characters of A-Z a-z 0-9 _ . -). */
  metric: z
    .string()
    .regex(METRIC_NAME, 'expected 1-64 characters of A-Z a-z 0-9 _ . -')
    .refine((m) => !RESERVED_NAMES.has(m), 'expected a name other than __proto__, constructor or prototype'),
  /** 1 read coils, 2 read discrete inputs, 3 read holding registers, 4 read input registers [MAP §6.1-6.4]. */
  function: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)], {
    error: 'expected a read function: 1 (coils), 2 (discrete inputs), 3 (holding registers) or 4 (input registers)',
  }),
  /**
   * The PDU address of the first register or bit, 0-65535 [MAP §4.4]: the number on the wire, not
   * the 1-based "40001" style reference of some manuals (holding register 40001 is address 0).
   */
  address: z.number().int().min(0).max(MAX_ADDRESS),
  /** How to read the value. Default: bool for functions 1 and 2, uint16 for 3 and 4. bool only fits 1 and 2. */
  type: z.enum(VALUE_TYPES).optional(),
  /**
   * Layout of multi-byte values as the letters of the big-endian value in wire order (conversions.ts):
   * ABCD big-endian, CDAB word-swapped, BADC byte-swapped, DCBA little-endian. Default ABCD.
   * Not allowed on bool tags.
   */
  byteOrder: z.enum(BYTE_ORDERS).optional(),
  /** Applied after decoding: value × scale + offset. */
  scale: z.number().refine(Number.isFinite, 'expected a finite number').default(DEFAULT_SCALE),
  offset: z.number().refine(Number.isFinite, 'expected a finite number').default(DEFAULT_OFFSET),
  /** Engineering unit, for people reading the config and the status page (not sent on the wire). */
  unit: z.string().max(32).optional(),
  /**
   * Commands from the cloud may write this tag (function 5/15 for a coil, 6/16 for holding
   * registers). Only function 1 and 3 tags can be writable: discrete and input registers are
   * read-only tables [MAP §4.3]. Default false.
   */
  writable: z.boolean().default(false),
  /** Lowest value a write may set, in engineering units (after scale and offset). Unset: the type's own range. */
  min: z.number().refine(Number.isFinite, 'expected a finite number').optional(),
  /** Highest value a write may set, in engineering units. Unset: the type's own range. */
  max: z.number().refine(Number.isFinite, 'expected a finite number').optional(),
});

/** One tag group as the config holds it; register-map templates (templates.ts) are checked with it too. */
export const tagGroupSchema = z.strictObject({
  /** Shown in logs and the quarantine record; default `group-<index>`. */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 characters of A-Z a-z 0-9 _ . -').optional(),
  /** How often the group is read. Each poll of a group becomes one reading per device. */
  pollIntervalMs: positiveMs(10).default(DEFAULT_POLL_INTERVAL_MS),
  tags: z.array(tagSchema).min(1, 'expected at least one tag'),
});

const backoffSchema = z.strictObject({
  /** Wait after a device first fails a whole poll (every try timed out). */
  initialMs: positiveMs(1).default(DEFAULT_BACKOFF_INITIAL_MS),
  /** The wait never grows beyond this. */
  maxMs: positiveMs(1).default(DEFAULT_BACKOFF_MAX_MS),
  /** Each further failed poll multiplies the wait by this. */
  multiplier: z.number().min(1).max(10).default(DEFAULT_BACKOFF_MULTIPLIER),
});

const deviceSchema = z.strictObject({
  /** The device id its readings carry. Unique across all buses. */
  deviceId: deviceIdSchema,
  /**
   * The slave address on a serial bus (1-247 [SERIAL §2.2]) or the unit identifier on Modbus/TCP
   * (0-255; a TCP-to-RTU gateway uses it to pick the serial slave). Unique on its bus.
   */
  unitId: z.number().int().min(0).max(255).default(DEFAULT_UNIT_ID),
  /** How long to wait for each response. */
  timeoutMs: positiveMs(10).default(DEFAULT_TIMEOUT_MS),
  /**
   * Extra tries of a request after a timeout, CRC error or busy answer. Tries of a device that is
   * not answering take turns with the other devices on the bus, so they never stall them.
   */
  retries: z.number().int().min(0).max(10).default(DEFAULT_RETRIES),
  /** After a poll fails with no answer on every try, the device is left alone this long, growing exponentially. */
  backoff: backoffSchema.default(() => backoffSchema.parse({})),
  /** Unread registers (or bits) allowed between two tags merged into one request; 0 merges only adjacent tags. */
  maxGap: z.number().int().min(0).max(MAX_REGISTERS_PER_READ).default(DEFAULT_MAX_GAP),
  /** Most registers one function 3/4 request asks for: 1-125 [MAP §6.3, §6.4]; some devices accept fewer. */
  maxRegistersPerRead: z
    .number()
    .int()
    .min(1)
    .max(MAX_REGISTERS_PER_READ, `expected at most ${MAX_REGISTERS_PER_READ}: a function 3/4 read carries 1-125 registers (Modbus Application Protocol §6.3)`)
    .default(MAX_REGISTERS_PER_READ),
  /** Most coils or inputs one function 1/2 request asks for: 1-2000 [MAP §6.1, §6.2]. */
  maxBitsPerRead: z
    .number()
    .int()
    .min(1)
    .max(MAX_BITS_PER_READ, `expected at most ${MAX_BITS_PER_READ}: a function 1/2 read carries 1-2000 bits (Modbus Application Protocol §6.1)`)
    .default(MAX_BITS_PER_READ),
  tagGroups: z.array(tagGroupSchema).min(1, 'expected at least one tag group'),
});

const busCommon = {
  /** Shown in logs and status; default `tcp:<host>:<port>` or `rtu:<path>`. Unique. */
  name: z.string().regex(/^[A-Za-z0-9_.:/-]{1,64}$/, 'expected 1-64 characters of A-Z a-z 0-9 _ . : / -').optional(),
  /** First wait before reopening a failed connection or port; doubles up to reconnectMaxMs. */
  reconnectMinMs: positiveMs(10).default(DEFAULT_RECONNECT_MIN_MS),
  reconnectMaxMs: positiveMs(10).default(DEFAULT_RECONNECT_MAX_MS),
  devices: z.array(deviceSchema).min(1, 'expected at least one device'),
};

const tcpBusSchema = z.strictObject({
  /** Modbus/TCP: one connection to host:port; every device on it is a unit id behind that address. */
  type: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(DEFAULT_TCP_PORT),
  /** Give up on a connection attempt after this long. */
  connectTimeoutMs: positiveMs(10).default(DEFAULT_CONNECT_TIMEOUT_MS),
  ...busCommon,
});

const rtuBusSchema = z.strictObject({
  /** Modbus RTU: one serial port (RS-485 adapter, or a pty in tests) shared by every device on it. */
  type: z.literal('rtu'),
  /** Serial device, e.g. /dev/ttyUSB0. */
  path: z.string().min(1),
  baudRate: z.number().int().min(300).max(4_000_000).default(DEFAULT_BAUD_RATE),
  parity: z.enum(['none', 'even', 'odd']).default(DEFAULT_PARITY),
  /** RTU characters carry 8 data bits [SERIAL §2.5.1]. */
  dataBits: z.literal(8, { error: 'expected 8: RTU characters carry 8 data bits (7 is ASCII mode, which this adapter does not speak)' }).default(DEFAULT_DATA_BITS),
  stopBits: z.union([z.literal(1), z.literal(2)], { error: 'expected 1 or 2' }).default(DEFAULT_STOP_BITS),
  /**
   * Silence kept between the end of one frame and the next request. Default: 3.5 character times
   * at the configured line settings, 1.75 ms above 19200 baud [SERIAL §2.5.1.1].
   */
  interFrameDelayMs: z.number().min(0).max(1_000).optional(),
  ...busCommon,
});

const busSchema = z.discriminatedUnion('type', [tcpBusSchema, rtuBusSchema], {
  error: 'expected type: tcp or type: rtu',
});

const modbusObject = z.strictObject({
  /** Poll the configured buses. Off by default: the gateway has no Modbus devices until told. */
  enabled: z.boolean().default(false),
  buses: z.array(busSchema).default([]),
});

// --- resolved types (what the adapter sees) -------------------------------------------------------

type RawTag = z.output<typeof tagSchema>;
type RawDevice = z.output<typeof deviceSchema>;
type RawBus = z.output<typeof busSchema>;

export interface TagConfig extends Omit<RawTag, 'type' | 'byteOrder'> {
  function: ReadFunction;
  type: ValueType;
  byteOrder: ByteOrder;
}
export interface TagGroupConfig {
  name: string;
  pollIntervalMs: number;
  tags: TagConfig[];
}
export interface DeviceConfig extends Omit<RawDevice, 'tagGroups'> {
  tagGroups: TagGroupConfig[];
}
export type TcpBusConfig = Omit<z.output<typeof tcpBusSchema>, 'devices' | 'name'> & { name: string; devices: DeviceConfig[] };
export type RtuBusConfig = Omit<z.output<typeof rtuBusSchema>, 'devices' | 'name' | 'interFrameDelayMs'> & {
  name: string;
  interFrameDelayMs: number;
  devices: DeviceConfig[];
};
export type BusConfig = TcpBusConfig | RtuBusConfig;
export interface ModbusConfig {
  enabled: boolean;
  buses: BusConfig[];
}

function resolveTag(t: RawTag): TagConfig {
  const type = t.type ?? (isBitFunction(t.function) ? DEFAULT_TYPE_FOR_BITS : DEFAULT_TYPE_FOR_REGISTERS);
  return { ...t, type, byteOrder: t.byteOrder ?? DEFAULT_BYTE_ORDER };
}

function resolveBus(b: RawBus): BusConfig {
  const devices = b.devices.map((d) => ({
    ...d,
    tagGroups: d.tagGroups.map((g, i) => ({ name: g.name ?? `group-${i}`, pollIntervalMs: g.pollIntervalMs, tags: g.tags.map(resolveTag) })),
  }));
  if (b.type === 'tcp') return { ...b, name: b.name ?? `tcp:${b.host}:${b.port}`, devices };
  return { ...b, name: b.name ?? `rtu:${b.path}`, interFrameDelayMs: b.interFrameDelayMs ?? defaultInterFrameDelayMs(b), devices };
}

// --- checks that span fields ----------------------------------------------------------------------

type Ctx = z.core.$RefinementCtx<z.output<typeof modbusObject>>;
type Path = (string | number)[];

function refuse(ctx: Ctx, path: Path, input: unknown, message: string): void {
  ctx.addIssue({ code: 'custom', path, input, message });
}

function checkTags(device: RawDevice, devicePath: Path, ctx: Ctx): void {
  const metrics = new Map<string, Path>();
  const spans: { fn: ReadFunction; start: number; end: number; metric: string; path: Path }[] = [];
  device.tagGroups.forEach((group, g) => {
    group.tags.forEach((raw, t) => {
      const path = [...devicePath, 'tagGroups', g, 'tags', t];
      const tag = resolveTag(raw);
      const bits = isBitFunction(tag.function);
      if (bits && tag.type !== 'bool') {
        refuse(ctx, [...path, 'type'], tag.type, `expected bool (or no type): function ${tag.function} reads single bits, which cannot hold a value of type ${tag.type}`);
        return;
      }
      if (!bits && tag.type === 'bool') {
        refuse(ctx, [...path, 'type'], tag.type, `expected a register type (int16, uint16, int32, uint32, float32, float64): function ${tag.function} reads 16-bit registers`);
        return;
      }
      if (tag.writable && tag.function !== 1 && tag.function !== 3) {
        refuse(ctx, [...path, 'writable'], tag.writable, `expected false: function ${tag.function} reads a read-only table; only coils (1) and holding registers (3) can be written`);
      }
      if (tag.min !== undefined && tag.max !== undefined && tag.min > tag.max) {
        refuse(ctx, [...path, 'min'], tag.min, `expected min ≤ max (${tag.max})`);
      }
      if (tag.type === 'bool' && raw.byteOrder !== undefined) {
        refuse(ctx, [...path, 'byteOrder'], raw.byteOrder, 'expected no byteOrder on a bool tag: a single bit has no byte order');
      }
      const count = itemCount(tag.type);
      const end = tag.address + count - 1;
      if (end > MAX_ADDRESS) {
        refuse(ctx, [...path, 'address'], tag.address, `expected at most ${MAX_ADDRESS - count + 1}: a ${tag.type} at ${tag.address} would end at ${end}, past the last address ${MAX_ADDRESS}`);
        return;
      }
      const limit = bits ? device.maxBitsPerRead : device.maxRegistersPerRead;
      if (count > limit) {
        refuse(ctx, [...path, 'type'], tag.type, `expected a type of at most ${limit} registers: this device's maxRegistersPerRead is ${limit}`);
      }
      const seen = metrics.get(tag.metric);
      if (seen) refuse(ctx, [...path, 'metric'], tag.metric, `expected a metric name unique within the device; already used at ${seen.join('.')}`);
      else metrics.set(tag.metric, path);
      spans.push({ fn: tag.function, start: tag.address, end, metric: tag.metric, path });
    });
  });
  spans.sort((a, b) => a.fn - b.fn || a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    if (cur.fn === prev.fn && cur.start <= prev.end) {
      refuse(
        ctx,
        [...cur.path, 'address'],
        cur.start,
        `expected an address not inside another tag of function ${cur.fn}: ${JSON.stringify(prev.metric)} (${prev.path.join('.')}) occupies ${prev.start}-${prev.end}`,
      );
    }
  }
}

function checkConfig(cfg: z.output<typeof modbusObject>, ctx: Ctx): void {
  const deviceIds = new Map<string, Path>();
  const busNames = new Map<string, number>();
  const endpoints = new Map<string, number>();
  cfg.buses.forEach((bus, b) => {
    const busPath: Path = ['buses', b];
    const resolvedName = bus.name ?? (bus.type === 'tcp' ? `tcp:${bus.host}:${bus.port}` : `rtu:${bus.path}`);
    const other = busNames.get(resolvedName);
    if (other !== undefined) refuse(ctx, [...busPath, 'name'], resolvedName, `expected a bus name unique among buses; buses.${other} already has it`);
    else busNames.set(resolvedName, b);
    // One owner per port or connection: two buses on the same line would interleave requests.
    const endpoint = bus.type === 'tcp' ? `${bus.host}:${bus.port}` : bus.path;
    const sharing = endpoints.get(endpoint);
    if (sharing !== undefined) {
      refuse(ctx, [...busPath, bus.type === 'tcp' ? 'host' : 'path'], endpoint, `expected each ${bus.type === 'tcp' ? 'host:port' : 'serial port'} on one bus only; buses.${sharing} already uses it (list every device under that bus)`);
    } else endpoints.set(endpoint, b);
    if (bus.reconnectMaxMs < bus.reconnectMinMs) {
      refuse(ctx, [...busPath, 'reconnectMaxMs'], bus.reconnectMaxMs, `expected at least reconnectMinMs (${bus.reconnectMinMs})`);
    }
    const units = new Map<number, number>();
    bus.devices.forEach((device, d) => {
      const devicePath: Path = [...busPath, 'devices', d];
      const seenAt = deviceIds.get(device.deviceId);
      if (seenAt) refuse(ctx, [...devicePath, 'deviceId'], device.deviceId, `expected a device id unique across all buses; ${seenAt.join('.')} already has it`);
      else deviceIds.set(device.deviceId, devicePath);
      if (bus.type === 'rtu' && (device.unitId < MIN_SERIAL_SLAVE || device.unitId > MAX_SERIAL_SLAVE)) {
        refuse(ctx, [...devicePath, 'unitId'], device.unitId, `expected ${MIN_SERIAL_SLAVE}-${MAX_SERIAL_SLAVE}: a serial slave address (0 is broadcast and never answers, 248-255 are reserved; Modbus over Serial Line §2.2)`);
      }
      const sameUnit = units.get(device.unitId);
      if (sameUnit !== undefined) {
        refuse(ctx, [...devicePath, 'unitId'], device.unitId, `expected a unit id unique on the bus; devices.${sameUnit} already uses it`);
      } else units.set(device.unitId, d);
      if (device.backoff.maxMs < device.backoff.initialMs) {
        refuse(ctx, [...devicePath, 'backoff', 'maxMs'], device.backoff.maxMs, `expected at least backoff.initialMs (${device.backoff.initialMs})`);
      }
      checkTags(device, devicePath, ctx);
    });
  });
}

export const modbusConfigSchema = modbusObject.superRefine(checkConfig).transform(
  (cfg): ModbusConfig => ({ enabled: cfg.enabled, buses: cfg.buses.map(resolveBus) }),
);
