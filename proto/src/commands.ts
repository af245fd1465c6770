// The command wire between the cloud and the gateways (issue 15; DESIGN.md topics iot.commands and
// iot.command-status), one definition for both sides. JSON rather than protobuf: a command's payload
// is whatever JSON the operator sent, and the device receives it as such.

export const COMMAND_STATUSES = ['queued', 'delivered', 'acknowledged', 'failed', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

export type WriteValue = number | boolean | number[] | boolean[];

/** A message of iot.commands, key = gateway id. `name: "write"` with tag and value is a Modbus write. */
export interface CommandMessage {
  id: string;
  gateway_id: string;
  device_id: string;
  name: string;
  payload?: unknown;
  tag?: string;
  value?: WriteValue;
  created_ms: number;
  expires_ms: number;
}

/** A message of iot.command-status, key = command id. */
export interface StatusEvent {
  id: string;
  device_id: string;
  gateway_id: string;
  status: CommandStatus;
  ts_ms: number;
  /** `FL_ERR_…: message` for failed and expired. */
  error?: string;
}
