// The Modbus section the tests and benches use most: one Modbus/TCP bus to a slave on this machine.
import { modbusConfigSchema, type ModbusConfig } from '../gateway/src/ingest/modbus/config.js';

/** `devices` as they would be written in gateway.yaml (checked by the real schema). */
export function localTcpModbus(port: number, devices: unknown[]): ModbusConfig {
  return modbusConfigSchema.parse({ enabled: true, buses: [{ type: 'tcp', host: '127.0.0.1', port, devices }] });
}
