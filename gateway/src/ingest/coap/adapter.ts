// CoAP ingest (stub until the adapter is written).
import type { Logger } from 'pino';
import type { Metrics } from '../../metrics.js';
import type { Adapter, AdapterStatus, Ingest } from '../adapter.js';
import type { CoapConfig } from './config.js';

export class CoapAdapter implements Adapter {
  readonly name = 'coap';
  boundPort = 0;
  constructor(
    private readonly cfg: CoapConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async start(_ingest: Ingest): Promise<void> {
    throw new Error(`CoAP ingest is not built yet (port ${this.cfg.port}); ${this.metrics ? '' : ''}${this.log ? '' : ''}`);
  }

  async stop(): Promise<void> {}

  status(): AdapterStatus {
    return { name: this.name, state: 'disabled', detail: 'not built' };
  }
}
