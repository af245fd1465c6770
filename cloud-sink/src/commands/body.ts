// The body of POST /v1/devices/{id}/commands, checked here rather than by the route's JSON Schema
// alone so every refusal is one FL_ERR_API_BAD_COMMAND listing each problem (the schema is the
// document's; the route attaches its verdict and ignores it).
import { CloudError } from '../errors.js';
import { MODBUS_WRITE, type WriteValue } from './wire.js';

export interface CommandLimits {
  defaultExpiresInS: number;
  maxExpiresInS: number;
  maxPayloadBytes: number;
}

export interface CommandBody {
  name: string;
  payload?: unknown;
  tag?: string;
  value?: WriteValue;
  expiresInS: number;
}

export const MAX_NAME = 64;
export const MAX_TAG = 128;
/** Modbus function 15 writes at most 1968 coils in one request; 16, 123 registers. The gateway checks the tag's own range. */
export const MAX_WRITE_VALUES = 1968;
const KEYS = new Set(['name', 'payload', 'expires_in_s', 'tag', 'value']);
const CONTROL = /[\u0000-\u001f\u007f]/;

export function parseCommandBody(body: unknown, limits: CommandLimits): CommandBody {
  const problems: string[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad(['the body must be a JSON object {"name", "payload"?, "expires_in_s"?}']);
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!KEYS.has(k)) problems.push(`unknown key ${JSON.stringify(k)}`);

  const name = b.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME || CONTROL.test(name) || name.trim() !== name) {
    problems.push(`name: expected a string of 1 to ${MAX_NAME} characters without control characters or surrounding spaces`);
  }

  let expiresInS = limits.defaultExpiresInS;
  if (b.expires_in_s !== undefined) {
    const e = b.expires_in_s;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 1 || e > limits.maxExpiresInS) {
      problems.push(`expires_in_s: expected a whole number of seconds from 1 to ${limits.maxExpiresInS} (commands.maxExpiresInS), got ${JSON.stringify(e)}`);
    } else expiresInS = e;
  }

  const out: CommandBody = { name: typeof name === 'string' ? name : '', expiresInS };
  if (name === MODBUS_WRITE) {
    if (b.payload !== undefined) problems.push('payload: a Modbus write takes tag and value, not payload');
    const tag = b.tag;
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG || CONTROL.test(tag)) {
      problems.push(`tag: a Modbus write needs the register map's tag name, 1 to ${MAX_TAG} characters`);
    } else out.tag = tag;
    const value = writeValue(b.value);
    if (typeof value === 'string') problems.push(`value: ${value}`);
    else out.value = value;
  } else {
    if (b.tag !== undefined || b.value !== undefined) problems.push(`tag, value: only a Modbus write (name "${MODBUS_WRITE}") takes them; send other commands' data in payload`);
    if (b.payload !== undefined) {
      const bytes = Buffer.byteLength(JSON.stringify(b.payload));
      const shape = storable(b.payload, 0);
      if (bytes > limits.maxPayloadBytes) problems.push(`payload: ${bytes} bytes as JSON, more than commands.maxPayloadBytes (${limits.maxPayloadBytes})`);
      else if (shape) problems.push(`payload: ${shape}`);
      else out.payload = b.payload;
    }
  }
  if (problems.length > 0) throw bad(problems);
  return out;
}

export const MAX_PAYLOAD_DEPTH = 32;

/**
 * Why PostgreSQL's jsonb could not hold the payload, or null: it refuses the NUL character in any
 * string or key, and runs out of stack on deep nesting; either would be a 500, not the caller's 400.
 */
function storable(v: unknown, depth: number): string | null {
  if (depth > MAX_PAYLOAD_DEPTH) return `nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
  if (typeof v === 'string') return v.includes('\u0000') ? 'a string holds the NUL character (\\u0000), which cannot be stored' : null;
  if (typeof v !== 'object' || v === null) return null;
  for (const [k, x] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
    const why = (typeof k === 'string' ? storable(k, depth) : null) ?? storable(x, depth + 1);
    if (why) return why;
  }
  return null;
}

/** The value, or why it is not one: a number, a boolean, or a non-empty array of numbers or of booleans. */
function writeValue(v: unknown): WriteValue | string {
  const expected = `expected a number, a boolean, or an array of 1 to ${MAX_WRITE_VALUES} numbers or of booleans`;
  if (v === undefined) return `a Modbus write needs a value: ${expected}`;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_WRITE_VALUES) return `${expected}, got ${JSON.stringify(v)?.slice(0, 100)}`;
  if (v.every((x) => typeof x === 'number')) return v as number[];
  if (v.every((x) => typeof x === 'boolean')) return v as boolean[];
  return `${expected}; the array mixes types or holds something else`;
}

function bad(problems: string[]): CloudError {
  return new CloudError('FL_ERR_API_BAD_COMMAND', problems.length === 1 ? problems[0] : `\n${problems.map((p) => `- ${p}`).join('\n')}`);
}
