// What a test needs to drive device commands through the cloud API and to watch the command
// topics: send one, wait for a status, read the status events Kafka holds. The end-to-end tests
// of both halves use it (commands-offline here; the gateway half's MQTT and Modbus cases).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CommandStatus, StatusEvent } from '../../cloud-sink/src/commands/wire.js';

const run = promisify(execFile);

/** A command as the API answers it (POST, and each item of GET /v1/devices/{id}/commands). */
export interface CommandView {
  id: string;
  device_id: string;
  gateway_id: string;
  name: string;
  status: CommandStatus;
  created_at: string;
  updated_at: string;
  expires_at: string;
  error?: string;
}

/** POST /v1/devices/{deviceId}/commands with a token holding write:commands; throws unless the answer is 201. */
export async function postCommand(apiUrl: string, token: string, deviceId: string, body: Record<string, unknown>): Promise<CommandView> {
  const res = await fetch(`${apiUrl}/v1/devices/${encodeURIComponent(deviceId)}/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST command for ${deviceId}: ${res.status} ${text}`);
  return JSON.parse(text) as CommandView;
}

/** GET /v1/devices/{deviceId}/commands/{commandId}; throws unless 200. */
export async function getCommand(apiUrl: string, token: string, deviceId: string, commandId: string): Promise<CommandView> {
  const res = await fetch(`${apiUrl}/v1/devices/${encodeURIComponent(deviceId)}/commands/${encodeURIComponent(commandId)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET command ${commandId}: ${res.status} ${text}`);
  return JSON.parse(text) as CommandView;
}

/**
 * Polls the command until its status is one of `want`. Fails at once when it reaches a final status
 * (acknowledged, failed, expired) that is not wanted, since it can never move again, and on timeout;
 * either error names the last status and error seen.
 */
export async function waitForCommandStatus(
  apiUrl: string, token: string, deviceId: string, commandId: string,
  want: CommandStatus | readonly CommandStatus[], timeoutMs = 30_000,
): Promise<CommandView> {
  const wanted: readonly CommandStatus[] = typeof want === 'string' ? [want] : want;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await getCommand(apiUrl, token, deviceId, commandId);
    if (wanted.includes(c.status)) return c;
    const seen = `${c.status}${c.error ? ` (${c.error})` : ''}`;
    if (c.status === 'acknowledged' || c.status === 'failed' || c.status === 'expired') {
      throw new Error(`command ${commandId} ended ${seen}, not ${wanted.join(' or ')}`);
    }
    if (Date.now() > deadline) throw new Error(`command ${commandId} still ${seen} after ${timeoutMs} ms, not ${wanted.join(' or ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** postCommand, then waitForCommandStatus: the view with the status reached. */
export async function sendCommandAndWait(
  apiUrl: string, token: string, deviceId: string, body: Record<string, unknown>,
  want: CommandStatus | readonly CommandStatus[], timeoutMs = 30_000,
): Promise<CommandView> {
  const c = await postCommand(apiUrl, token, deviceId, body);
  return waitForCommandStatus(apiUrl, token, deviceId, c.id, want, timeoutMs);
}

export interface TopicRecord {
  key: string;
  headers: string;
  value: string;
}

/** Every message on the topic now, read with kcat (key, headers as `k=v,…`, value as text). */
export async function readTopicText(bootstrap: string, topic: string): Promise<TopicRecord[]> {
  const { stdout } = await run('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%h\t%s\n'], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean).map((line) => {
    const [key = '', headers = '', ...rest] = line.split('\t');
    return { key, headers, value: rest.join('\t') };
  });
}

/** The status events on iot.command-status (or `topic`) for one command, in the order Kafka holds them. */
export async function statusEventsFor(bootstrap: string, commandId: string, topic = 'iot.command-status'): Promise<StatusEvent[]> {
  const out: StatusEvent[] = [];
  for (const r of await readTopicText(bootstrap, topic)) {
    if (r.key !== commandId) continue;
    try {
      out.push(JSON.parse(r.value) as StatusEvent);
    } catch {
      /* not JSON: not a status event */
    }
  }
  return out;
}
