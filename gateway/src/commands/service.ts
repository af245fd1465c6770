// What the gateway does with a command from the cloud. Each one is recorded in the ledger before
// anything else, so a command id seen again (a Kafka redelivery, a restart, a duplicate) is never
// handed to a device twice; then it is checked (expiry by the gateway clock, a device the gateway
// knows, a writable tag in range) and handed over: an MQTT publish to the device once it is
// connected and subscribed, or a Modbus write on its bus. Every state change queues a status event
// for iot.command-status in the same ledger transaction.
import type { Logger } from 'pino';
import type { ErrorCode } from '../errors.js';
import type { DeviceConfig } from '../ingest/modbus/config.js';
import { describeWrite, planWrite, type WriteRequest } from '../ingest/modbus/writes.js';
import type { CommandLedger, LedgerRow, LedgerState, Route } from './ledger.js';
import {
  MalformedCommand, deviceMessage, errorText, isModbusWrite, parseCommand, parseDeviceAck, statusError,
  type CommandMessage, type CommandStatus, type StatusName,
} from './wire.js';

/** The MQTT adapter as commands see it (ingest/mqtt/adapter.ts). */
export interface MqttCommandTarget {
  /** A client speaking for the device is connected and subscribed to devices/{id}/commands. */
  subscribed(deviceId: string): boolean;
  /** A client speaking for the device is connected now (it may not be in the registry yet). */
  online(deviceId: string): boolean;
  /**
   * Publishes `message` to one subscribed client of the device at QoS 1; `onPuback` runs when that
   * client acknowledges it. false: no subscribed client now, nothing sent.
   */
  send(deviceId: string, message: Buffer, onPuback: () => void): boolean;
}

/** The Modbus adapter as commands see it (ingest/modbus/adapter.ts). */
export interface ModbusCommandTarget {
  device(deviceId: string): { device: DeviceConfig } | undefined;
  write(deviceId: string, req: WriteRequest): Promise<void>;
}

export interface CommandTargets {
  /** Whichever adapter runs now (a reconfigure replaces them), or undefined when it is off. */
  mqtt(): MqttCommandTarget | undefined;
  modbus(): ModbusCommandTarget | undefined;
  /** The device registry knows the device (listed, enrolled, or heard from). */
  knownDevice(deviceId: string): boolean;
}

export interface CommandServiceOptions {
  gatewayId: string;
  ledger: CommandLedger;
  targets: CommandTargets;
  log: Logger;
  /** The gateway's clock (epoch ms); tests inject one. */
  now?: () => number;
  /** Called after a status event was queued, so the Kafka lane sends it at once. */
  onStatus?: () => void;
}

export interface CommandCounters {
  received: number;
  duplicates: number;
  malformed: number;
  delivered: number;
  acknowledged: number;
  failed: number;
  expired: number;
}

export class CommandService {
  readonly counters: CommandCounters = { received: 0, duplicates: 0, malformed: 0, delivered: 0, acknowledged: 0, failed: 0, expired: 0 };
  private readonly now: () => number;
  /** Modbus writes go one after another, in the order the commands came. */
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly opts: CommandServiceOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * At start: a Modbus write found `handing` was interrupted mid-write by the last stop; whether the
   * device carried it out is unknown, and it is not written again. MQTT commands found `handing`
   * may still be confirmed by the device (a persistent session delivers them after a reconnect) and
   * are left for expire() to close.
   */
  recover(): void {
    for (const row of this.opts.ledger.open()) {
      if (row.state === 'handing' && row.route === 'modbus') {
        this.finish(row, 'failed', statusError('FL_ERR_COMMAND_INTERRUPTED', `the write ${row.command.tag ?? ''} may or may not have reached ${row.deviceId}`));
      }
    }
  }

  /**
   * One message from iot.commands whose key is this gateway. Synchronous up to the ledger record,
   * so the consumer may commit its offset as soon as this returns.
   */
  receive(value: Buffer | null | undefined): void {
    const now = this.now();
    let cmd: CommandMessage;
    try {
      cmd = parseCommand(value);
    } catch (err) {
      return this.refuseMalformed(err as MalformedCommand, now);
    }
    if (cmd.gateway_id !== this.opts.gatewayId) {
      // Keyed to this gateway but addressed to another: a mistake upstream, not ours to carry out.
      const detail = `gateway_id ${JSON.stringify(cmd.gateway_id)} is not this gateway (${this.opts.gatewayId}), though the message is keyed to it`;
      return this.refuseMalformed(new MalformedCommand(detail, cmd.id, cmd.device_id), now);
    }
    this.counters.received++;
    const route: Route = isModbusWrite(cmd) ? 'modbus' : 'mqtt';
    if (!this.opts.ledger.admit(cmd, route, now)) {
      this.counters.duplicates++;
      this.opts.log.info({ commandId: cmd.id, device: cmd.device_id }, 'command seen before; not handed again');
      return;
    }
    const row = this.opts.ledger.get(cmd.id) as LedgerRow;
    const refusal = this.check(row, now);
    if (refusal) {
      this.finish(row, refusal.state, refusal.error);
      return;
    }
    if (route === 'modbus') this.queueWrite(row);
    else this.deliverMqtt(cmd.device_id);
  }

  /**
   * A malformed command is failed when it has an id and a device to report it under (once: the id
   * is recorded like any other), and only logged and counted otherwise.
   */
  private refuseMalformed(m: MalformedCommand, now: number): void {
    this.counters.malformed++;
    this.opts.log.warn({ err: m.message, commandId: m.commandId }, 'command refused: malformed');
    if (m.commandId && m.deviceId && this.opts.ledger.admit(placeholder(m.commandId, m.deviceId, this.opts.gatewayId, now), 'mqtt', now, 'failed')) {
      this.opts.ledger.queueStatus(this.status(m.commandId, m.deviceId, 'failed', now, errorText(m, 'FL_ERR_COMMAND_MALFORMED')));
      this.counters.failed++;
      this.opts.onStatus?.();
    }
  }

  /** Why the command cannot be handed over, or null. */
  private check(row: LedgerRow, now: number): { state: 'expired' | 'failed'; error: string } | null {
    const cmd = row.command;
    if (cmd.expires_ms <= now) {
      return { state: 'expired', error: statusError('FL_ERR_COMMAND_EXPIRED', `expired at ${new Date(cmd.expires_ms).toISOString()}, gateway clock ${new Date(now).toISOString()}`) };
    }
    const fail = (code: ErrorCode, detail: string) => ({ state: 'failed' as const, error: statusError(code, detail) });
    if (row.route === 'modbus') {
      const modbus = this.opts.targets.modbus();
      if (!modbus) return fail('FL_ERR_MODBUS_DISABLED', `cannot write ${cmd.tag} on ${cmd.device_id}`);
      const found = modbus.device(cmd.device_id);
      if (!found) return fail('FL_ERR_COMMAND_UNKNOWN_DEVICE', `${cmd.device_id} is not a Modbus device of this gateway`);
      try {
        planWrite(found.device, cmd.tag as string, cmd.value);
      } catch (err) {
        return { state: 'failed', error: errorText(err, 'FL_ERR_COMMAND_BAD_VALUE') };
      }
      return null;
    }
    const mqtt = this.opts.targets.mqtt();
    if (!mqtt) return fail('FL_ERR_MQTT_DISABLED', `cannot deliver ${JSON.stringify(cmd.name)} to ${cmd.device_id}`);
    if (!this.opts.targets.knownDevice(cmd.device_id) && !mqtt.online(cmd.device_id)) {
      return fail('FL_ERR_COMMAND_UNKNOWN_DEVICE', `${cmd.device_id} has never connected to this gateway and is not listed or enrolled`);
    }
    return null;
  }

  /** Hands the device's pending MQTT commands over, oldest first, if a client of it is subscribed. */
  deliverMqtt(deviceId: string): void {
    const mqtt = this.opts.targets.mqtt();
    if (!mqtt || !mqtt.subscribed(deviceId)) return;
    for (const row of this.opts.ledger.pendingFor(deviceId)) {
      if (row.route !== 'mqtt') continue;
      const now = this.now();
      const refusal = this.check(row, now);
      if (refusal) {
        this.finish(row, refusal.state, refusal.error);
        continue;
      }
      // Durable before the publish: from here on this id is never handed again, whatever happens.
      if (!this.opts.ledger.move(row.id, 'handing', now)) continue;
      const sent = mqtt.send(deviceId, deviceMessage(row.command), () => this.delivered(row.id));
      if (!sent) {
        // Unsubscribed between the check and the send: nothing went out, so the id is not burnt.
        // Back to pending is the one backward move, made only because nothing was handed.
        this.opts.ledger.reopen(row.id, now);
        return;
      }
      this.opts.log.info({ commandId: row.id, device: deviceId, name: row.command.name }, 'command published to the device');
    }
  }

  /** The device's PUBACK for the command's publish. */
  delivered(id: string): void {
    const row = this.opts.ledger.get(id);
    if (row && this.move(row, 'delivered')) this.counters.delivered++;
  }

  /** A message on devices/{deviceId}/commands/ack. Only the device the command was for can answer it. */
  deviceAck(deviceId: string, payload: Buffer): void {
    const ack = parseDeviceAck(payload);
    if (!ack) {
      this.opts.log.warn({ device: deviceId }, 'command ack is not {"id": "...", "ok": true|false}; ignored');
      return;
    }
    const row = this.opts.ledger.get(ack.id);
    if (!row || row.deviceId !== deviceId || row.route !== 'mqtt') {
      this.opts.log.warn({ device: deviceId, commandId: ack.id }, 'ack for a command this device was not sent; ignored');
      return;
    }
    // An answer proves the device got it: a PUBACK not seen (lost in a restart) is implied.
    if (row.state === 'handing') this.delivered(row.id);
    const fresh = this.opts.ledger.get(ack.id) as LedgerRow;
    if (ack.ok) {
      if (this.move(fresh, 'acknowledged')) this.counters.acknowledged++;
    } else {
      this.finish(fresh, 'failed', statusError('FL_ERR_COMMAND_REJECTED', ack.error ?? 'no reason given'));
    }
  }

  /**
   * The periodic sweep: pending commands past their expiry become expired; MQTT commands handed
   * over and not confirmed by their expiry fail as unconfirmed (they are not sent again); pending
   * commands of devices that subscribed meanwhile are handed over.
   */
  sweep(): void {
    const now = this.now();
    const devices = new Set<string>();
    for (const row of this.opts.ledger.open()) {
      if (row.expiresMs > now) {
        if (row.state === 'pending' && row.route === 'mqtt') devices.add(row.deviceId);
        continue;
      }
      if (row.state === 'pending') this.finish(row, 'expired', statusError('FL_ERR_COMMAND_EXPIRED', `the device did not subscribe to its commands topic before ${new Date(row.expiresMs).toISOString()}`));
      else if (row.route === 'mqtt') this.finish(row, 'failed', statusError('FL_ERR_COMMAND_UNCONFIRMED'));
    }
    for (const d of devices) this.deliverMqtt(d);
  }

  private queueWrite(row: LedgerRow): void {
    this.writes = this.writes.then(() => this.write(row.id));
  }

  private async write(id: string): Promise<void> {
    const row = this.opts.ledger.get(id);
    if (!row || row.state !== 'pending') return;
    // Checked again: the command may have waited behind others, or the register map changed.
    const refusal = this.check(row, this.now());
    if (refusal) return void this.finish(row, refusal.state, refusal.error);
    const modbus = this.opts.targets.modbus() as ModbusCommandTarget;
    const req = planWrite((modbus.device(row.deviceId) as { device: DeviceConfig }).device, row.command.tag as string, row.command.value);
    if (!this.opts.ledger.move(id, 'handing', this.now())) return;
    try {
      await modbus.write(row.deviceId, req);
    } catch (err) {
      this.opts.log.warn({ commandId: id, device: row.deviceId, write: describeWrite(req), err: (err as Error).message }, 'modbus write command failed');
      this.finish(row, 'failed', errorText(err, 'FL_ERR_MODBUS_PROTOCOL'));
      return;
    }
    this.opts.log.info({ commandId: id, device: row.deviceId, tag: row.command.tag, write: describeWrite(req) }, 'modbus write command done');
    // The normal response is the device's confirmation that it holds the value [MAP §6.6, §6.12].
    this.delivered(id);
    const after = this.opts.ledger.get(id);
    if (after && this.move(after, 'acknowledged')) this.counters.acknowledged++;
  }

  /** Waits for the Modbus writes queued so far (tests, stop()). */
  async idle(): Promise<void> {
    await this.writes;
  }

  private finish(row: LedgerRow, to: 'failed' | 'expired', error: string): void {
    if (!this.move(row, to, error)) return;
    this.counters[to]++;
    this.opts.log.info({ commandId: row.id, device: row.deviceId, status: to, error }, 'command ended');
  }

  private move(row: LedgerRow, to: LedgerState & StatusName, error?: string): boolean {
    const now = this.now();
    const moved = this.opts.ledger.move(row.id, to, now, this.status(row.id, row.deviceId, to, now, error));
    if (moved) this.opts.onStatus?.();
    return moved;
  }

  private status(id: string, deviceId: string, status: StatusName, now: number, error?: string): CommandStatus {
    return { id, device_id: deviceId, gateway_id: this.opts.gatewayId, status, ts_ms: now, ...(error ? { error } : {}) };
  }
}

/** The ledger row of a malformed command: enough to refuse the same id again without re-reporting it. */
function placeholder(id: string, deviceId: string, gatewayId: string, now: number): CommandMessage {
  return { id, gateway_id: gatewayId, device_id: deviceId, name: '', created_ms: now, expires_ms: now };
}
