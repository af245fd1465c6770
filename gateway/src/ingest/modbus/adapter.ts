// Modbus ingest (stub until the adapter is written).
import type { Logger } from 'pino';
import type { Metrics } from '../../metrics.js';
import type { Adapter, AdapterStatus, Ingest } from '../adapter.js';
import type { ModbusConfig } from './config.js';

export class ModbusAdapter implements Adapter {
  readonly name = 'modbus';
  constructor(
    private readonly cfg: ModbusConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async start(_ingest: Ingest): Promise<void> {
    throw new Error(`Modbus ingest is not built yet (${this.cfg.enabled}${this.metrics ? '' : ''}${this.log ? '' : ''})`);
  }

  async stop(): Promise<void> {}

  status(): AdapterStatus {
    return { name: this.name, state: 'disabled', detail: 'not built' };
  }
}
