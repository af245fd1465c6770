// The cloud's side of the command wire (proto/src/commands.ts; docs/ARCHITECTURE.md "Device
// commands: the cloud side"): the records it produces and the status events it reads.
import type Kafka from 'node-rdkafka';
import { CloudError } from '../errors.js';

import { COMMAND_STATUSES, type CommandMessage, type CommandStatus, type StatusEvent, type WriteValue } from '../../../proto/src/commands.js';

export { COMMAND_STATUSES, type CommandMessage, type CommandStatus, type StatusEvent, type WriteValue };

/** The one command name that is a Modbus write of `tag` rather than a message to the device. */
export const MODBUS_WRITE = 'write';

const JSON_HEADERS: Kafka.MessageHeader[] = [{ 'content-type': 'application/json' }];

export function commandRecord(c: CommandMessage): { key: string; value: Buffer; headers: Kafka.MessageHeader[] } {
  return { key: c.gateway_id, value: Buffer.from(JSON.stringify(c)), headers: JSON_HEADERS };
}

export function statusRecord(e: StatusEvent): { key: string; value: Buffer; headers: Kafka.MessageHeader[] } {
  return { key: e.id, value: Buffer.from(JSON.stringify(e)), headers: JSON_HEADERS };
}

/**
 * The statuses a command may be in when an event moves it to `to`. Forward only: an event whose
 * status is not reachable from the row's (a `delivered` after `acknowledged`, a `queued` after
 * anything, a second terminal status) changes nothing. `acknowledged` straight from `queued` is
 * taken as forward: the device answered, so it had the command, whatever became of the `delivered`
 * event. `expired` only from `queued`: once the device has a command, its expiry no longer applies.
 */
export const PREDECESSORS: Readonly<Record<CommandStatus, readonly CommandStatus[]>> = {
  queued: [],
  delivered: ['queued'],
  acknowledged: ['queued', 'delivered'],
  failed: ['queued', 'delivered'],
  expired: ['queued'],
};

export function isTerminal(s: CommandStatus): boolean {
  return s === 'acknowledged' || s === 'failed' || s === 'expired';
}

const MAX_ID = 256;
const MAX_ERROR = 2_000;

/** Decodes a message of iot.command-status; throws FL_ERR_COMMANDS_BAD_STATUS for one that is not a status event. */
export function decodeStatusEvent(msg: Pick<Kafka.Message, 'value' | 'topic' | 'partition' | 'offset'>): StatusEvent {
  const where = `${msg.topic}/${msg.partition}/${msg.offset}`;
  const bad = (why: string): CloudError => new CloudError('FL_ERR_COMMANDS_BAD_STATUS', `${why} (message at ${where})`);
  if (!msg.value || msg.value.length === 0) throw bad('empty value');
  let v: unknown;
  try {
    v = JSON.parse(msg.value.toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a JSON object');
  const o = v as Record<string, unknown>;
  const id = (k: string): string => {
    const s = o[k];
    if (typeof s !== 'string' || s.length === 0 || s.length > MAX_ID || s.includes('\u0000')) throw bad(`${k}: expected a non-empty string of at most ${MAX_ID} characters`);
    return s;
  };
  const status = o.status;
  if (typeof status !== 'string' || !(COMMAND_STATUSES as readonly string[]).includes(status)) throw bad(`status: expected one of ${COMMAND_STATUSES.join(', ')}`);
  const ts = o.ts_ms;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) throw bad('ts_ms: expected epoch milliseconds');
  const error = o.error;
  if (error !== undefined && error !== null && typeof error !== 'string') throw bad('error: expected a string');
  const event: StatusEvent = { id: id('id'), device_id: id('device_id'), gateway_id: id('gateway_id'), status: status as CommandStatus, ts_ms: ts };
  if (typeof error === 'string' && error.length > 0) event.error = error.replace(/\u0000/g, '').slice(0, MAX_ERROR);
  return event;
}
