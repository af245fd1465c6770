// The command wire (DESIGN.md topics iot.commands and iot.command-status), JSON both ways, checked
// field by field so a bad message is refused with the field that is wrong.
import { isDeviceId } from '../ingest/device-id.js';
import { GatewayError, catalogue, type ErrorCode } from '../errors.js';

import type { CommandMessage, CommandStatus as StatusName, StatusEvent as CommandStatus } from '../../../proto/src/commands.js';

// The gateway's names for the shared shapes: a status event is a CommandStatus here, its status a StatusName.
export type { CommandMessage, CommandStatus, StatusName };

/** The message a device receives on devices/{id}/commands. */
export function deviceMessage(cmd: CommandMessage): Buffer {
  return Buffer.from(JSON.stringify({ id: cmd.id, name: cmd.name, payload: cmd.payload ?? null }));
}

export function isModbusWrite(cmd: CommandMessage): boolean {
  return cmd.name === 'write' && cmd.tag !== undefined;
}

/** "FL_ERR_…: detail", the catalogue's message when there is no detail. */
export function statusError(code: ErrorCode, detail?: string): string {
  return `${code}: ${detail || catalogue[code].message}`;
}

/** The error text for any failure: catalogued errors keep their code, the rest are named by `fallback`. */
export function errorText(err: unknown, fallback: ErrorCode): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (typeof e?.code === 'string' && e.code in catalogue) return `${e.code}: ${message}`;
  return statusError(fallback, message);
}

const MAX_ID = 128;

function isValue(v: unknown): v is CommandMessage['value'] {
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'boolean') return true;
  if (!Array.isArray(v) || v.length === 0) return false;
  return v.every((x) => typeof x === 'boolean') || v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/**
 * The command in `raw`, or a GatewayError FL_ERR_COMMAND_MALFORMED naming the bad field. `id` on the
 * error is the message's id when it had a usable one, so the refusal can still be reported.
 */
export function parseCommand(raw: Buffer | null | undefined): CommandMessage {
  let body: unknown;
  try {
    body = JSON.parse(raw?.toString('utf8') ?? '');
  } catch {
    throw new MalformedCommand('the value is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new MalformedCommand('the value is not a JSON object');
  const b = body as Record<string, unknown>;
  const id = typeof b.id === 'string' && b.id.length >= 1 && b.id.length <= MAX_ID ? b.id : undefined;
  const bad = (what: string): never => {
    throw new MalformedCommand(what, id, typeof b.device_id === 'string' && isDeviceId(b.device_id) ? b.device_id : undefined);
  };
  if (!id) bad(`id: expected a string of 1-${MAX_ID} characters`);
  if (typeof b.gateway_id !== 'string' || b.gateway_id === '') bad('gateway_id: expected a string');
  if (typeof b.device_id !== 'string' || !isDeviceId(b.device_id)) bad('device_id: expected a device id (1-128 characters of A-Z a-z 0-9 _ . : -)');
  if (typeof b.name !== 'string' || b.name === '' || b.name.length > 128) bad('name: expected a string of 1-128 characters');
  if (typeof b.created_ms !== 'number' || !Number.isFinite(b.created_ms)) bad('created_ms: expected epoch milliseconds');
  if (typeof b.expires_ms !== 'number' || !Number.isFinite(b.expires_ms)) bad('expires_ms: expected epoch milliseconds');
  if (b.tag !== undefined && (typeof b.tag !== 'string' || b.tag === '')) bad('tag: expected a tag name');
  if (b.value !== undefined && !isValue(b.value)) bad('value: expected a number, a boolean, or a non-empty array of numbers or of booleans');
  if (b.name === 'write' && b.tag !== undefined && b.value === undefined) bad('value: a write needs a value');
  const cmd: CommandMessage = {
    id: id as string,
    gateway_id: b.gateway_id as string,
    device_id: b.device_id as string,
    name: b.name as string,
    created_ms: b.created_ms as number,
    expires_ms: b.expires_ms as number,
  };
  if (b.payload !== undefined) cmd.payload = b.payload;
  if (b.tag !== undefined) cmd.tag = b.tag as string;
  if (b.value !== undefined) cmd.value = b.value as CommandMessage['value'];
  return cmd;
}

export class MalformedCommand extends GatewayError {
  constructor(
    detail: string,
    readonly commandId?: string,
    readonly deviceId?: string,
  ) {
    super('FL_ERR_COMMAND_MALFORMED', detail);
  }
}

/** A device's answer on devices/{id}/commands/ack: {"id", "ok": true} or {"id", "ok": false, "error"}. */
export interface DeviceAck {
  id: string;
  ok: boolean;
  error?: string;
}

export function parseDeviceAck(raw: Buffer): DeviceAck | null {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if (typeof b.id !== 'string' || typeof b.ok !== 'boolean') return null;
  return { id: b.id, ok: b.ok, ...(typeof b.error === 'string' ? { error: b.error.slice(0, 500) } : {}) };
}
