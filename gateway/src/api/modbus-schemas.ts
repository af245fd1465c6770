// The bodies of POST /modbus/scan and POST /modbus/read (api/modbus.ts), checked before they reach
// the adapter's commissioning tools (ingest/modbus/tools.ts), which take the parsed result as plain
// options. The CLI builds the same objects from its options and checks them here too, so a tech gets
// the same refusal, in the same words, with or without a running gateway.
import { z } from 'zod';
import { BYTE_ORDERS, itemCount, type RegisterType } from '../ingest/modbus/conversions.js';
import { MAX_ADDRESS, checkRead, isBitFunction, type ReadFunction } from '../ingest/modbus/spec.js';
import { DEFAULT_BAUD_RATE, DEFAULT_PARITY, DEFAULT_STOP_BITS, DEFAULT_TCP_PORT } from '../ingest/modbus/config.js';
import { DEFAULT_READ_TIMEOUT_MS, DEFAULT_SCAN_TIMEOUT_MS, DEFAULT_SCAN_UNITS, parseUnits } from '../ingest/modbus/tools.js';

export const MAX_SCAN_TIMEOUT_MS = 2_000;
export const MAX_READ_TIMEOUT_MS = 10_000;
/** Registers a decode-"all" test read takes when it names no count or type. */
export const DECODE_ALL_COUNT = 2;

/** The types a test read decodes: the register types of conversions.ts. */
export const READ_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const satisfies readonly RegisterType[];

const unitId = z.number().int().min(0).max(255);
const readFunction = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)], {
  error: 'expected a read function: 1 (coils), 2 (discrete inputs), 3 (holding registers) or 4 (input registers)',
});
const finite = z.number().refine(Number.isFinite, 'expected a finite number');

const unitList = z
  .union([z.string(), z.array(unitId).min(1).max(256)], { error: 'expected unit ids as "1-10,17" or a list of numbers 0-255' })
  .transform((units, ctx) => {
    if (typeof units !== 'string') return [...new Set(units)].sort((a, b) => a - b);
    try {
      return parseUnits(units);
    } catch (err) {
      ctx.addIssue({ code: 'custom', input: units, message: `expected unit ids as "1-10,17": ${(err as Error).message}` });
      return z.NEVER;
    }
  });

function refuseRead(v: { fn: ReadFunction; address: number; count: number }, ctx: z.core.$RefinementCtx): void {
  const why = checkRead(v.fn, v.address, v.count);
  if (why) ctx.addIssue({ code: 'custom', path: ['count'], input: v.count, message: why });
}

export const scanRequestSchema = z
  .strictObject({
    /** Unit ids to probe, "1-10,17" or [1, 2, 17]. Default 1-247, every serial slave address. */
    units: unitList.optional(),
    /** The probe: one read of `count` items at `address` with function `fn`. Default: holding register 0. */
    fn: readFunction.default(3),
    address: z.number().int().min(0).max(MAX_ADDRESS).default(0),
    count: z.number().int().min(1).default(1),
    /** Per unit; a silent unit costs this much. */
    timeoutMs: z.number().int().min(10).max(MAX_SCAN_TIMEOUT_MS).default(DEFAULT_SCAN_TIMEOUT_MS),
  })
  .superRefine(refuseRead)
  .transform((v) => ({ ...v, units: v.units ?? [...DEFAULT_SCAN_UNITS] }));
export type ScanRequest = z.output<typeof scanRequestSchema>;

export const readRequestSchema = z
  .strictObject({
    unit: unitId,
    fn: readFunction.default(3),
    address: z.number().int().min(0).max(MAX_ADDRESS),
    /** Items to read. Default: the size of `type`, else 1. */
    count: z.number().int().min(1).optional(),
    /** Decode the registers as this type (functions 3 and 4 only). */
    type: z.enum(READ_TYPES).optional(),
    /** Layout of a multi-register value (conversions.ts). Default ABCD. */
    byteOrder: z.enum(BYTE_ORDERS).optional(),
    /** The decoded value is value × scale + offset, as for a tag. */
    scale: finite.optional(),
    offset: finite.optional(),
    timeoutMs: z.number().int().min(10).max(MAX_READ_TIMEOUT_MS).default(DEFAULT_READ_TIMEOUT_MS),
    /** "all": also show the registers as every type in every byte order, side by side (functions 3 and 4). */
    decode: z.literal('all', { error: 'expected "all" (or leave decode out)' }).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.decode === 'all' && isBitFunction(v.fn)) {
      ctx.addIssue({ code: 'custom', path: ['decode'], input: v.decode, message: `expected no decode: function ${v.fn} reads single bits, decoding applies to registers (functions 3 and 4)` });
      return;
    }
    if (v.type === undefined && v.decode === 'all') {
      if (v.byteOrder !== undefined) ctx.addIssue({ code: 'custom', path: ['byteOrder'], input: v.byteOrder, message: 'expected byteOrder only together with a type: decode "all" shows every order' });
    } else if (v.type === undefined) {
      for (const key of ['byteOrder', 'scale', 'offset'] as const) {
        if (v[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], input: v[key], message: `expected ${key} only together with a type to decode` });
      }
    } else if (isBitFunction(v.fn)) {
      ctx.addIssue({ code: 'custom', path: ['type'], input: v.type, message: `expected no type: function ${v.fn} reads single bits, a type applies to registers (functions 3 and 4)` });
      return;
    }
    const min = v.type === undefined ? 1 : itemCount(v.type);
    const count = v.count ?? (v.type === undefined && v.decode === 'all' ? DECODE_ALL_COUNT : min);
    if (count < min) ctx.addIssue({ code: 'custom', path: ['count'], input: count, message: `expected at least ${min}: a ${v.type} takes ${min} registers` });
    else refuseRead({ ...v, count }, ctx);
  })
  // decode "all" alone reads two registers: enough for the 32-bit types, the common puzzle, without
  // asking a device for registers it may not have (a read past its map is exception 2).
  .transform((v) => ({ ...v, count: v.count ?? (v.type !== undefined ? itemCount(v.type) : v.decode === 'all' ? DECODE_ALL_COUNT : 1) }));
export type ReadRequest = z.output<typeof readRequestSchema>;

/**
 * One line per problem, "<key>: <what was expected> (got <value>)"; `names` renames keys (the CLI
 * shows its option names).
 */
export function describeIssues(error: z.ZodError, names: Readonly<Record<string, string>> = {}): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.map((k) => names[k] ?? k).join(', ')}`;
      const key = issue.path.length ? issue.path.map((p) => names[String(p)] ?? String(p)).join('.') : '(body)';
      const got = 'input' in issue && issue.input !== undefined ? ` (got ${JSON.stringify(issue.input)})` : '';
      return `${key}: ${issue.message}${got}`;
    })
    .join('; ');
}

// --- ad-hoc lines ---------------------------------------------------------------------------------

const baudRate = z.number().int().min(300).max(4_000_000, 'expected a rate of 300-4000000 bit/s');
const serialSettings = {
  /** The serial device, e.g. /dev/ttyUSB0. */
  path: z.string().min(1, 'expected a serial device path such as /dev/ttyUSB0'),
  parity: z.enum(['none', 'even', 'odd']).default(DEFAULT_PARITY),
  stopBits: z.union([z.literal(1), z.literal(2)], { error: 'expected 1 or 2' }).default(DEFAULT_STOP_BITS),
};

/** `"tcp": {"host", "port"?}`: a Modbus/TCP device no bus polls yet. */
export const tcpLineSchema = z.strictObject({
  host: z.string().min(1, 'expected a host name or address'),
  port: z.number().int().min(1).max(65535).default(DEFAULT_TCP_PORT),
});

/** `"rtu": {"path", "baudRates"?, "parity"?, "stopBits"?}` for a scan: each rate is scanned in turn. */
export const rtuScanLineSchema = z.strictObject({
  ...serialSettings,
  baudRates: z
    .array(baudRate)
    .min(1, 'expected at least one baud rate')
    .max(16, 'expected at most 16 baud rates')
    .transform((rates) => [...new Set(rates)])
    .default([DEFAULT_BAUD_RATE]),
});

/** `"rtu": {"path", "baudRate"?, "parity"?, "stopBits"?}` for a test read. */
export const rtuReadLineSchema = z.strictObject({ ...serialSettings, baudRate: baudRate.default(DEFAULT_BAUD_RATE) });

export type LineRequest =
  | { bus: string }
  | { tcp: z.output<typeof tcpLineSchema> }
  | { rtu: z.output<typeof rtuScanLineSchema> | z.output<typeof rtuReadLineSchema> };
