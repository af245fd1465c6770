// The interface every protocol adapter implements (CONVENTIONS.md point 1).
// Lifecycle: start() is called once and resolves when the adapter is accepting traffic; from then on
// it hands every device message to the pipeline and acknowledges the device only after the
// pipeline's promise resolves. stop() stops accepting, lets in-flight messages finish, and resolves
// when no more will reach the pipeline.
import type { Envelope, Outcome } from '../pipeline/types.js';

export type Ingest = (env: Envelope) => Promise<Outcome>;

export interface AdapterStatus {
  name: string;
  state: 'up' | 'down' | 'degraded' | 'disabled';
  detail: string;
  /** The adapter's own counters, flat (e.g. `boiler-1.timeout`); they go into the heartbeat as they are. */
  counters?: Record<string, number>;
}

export interface Adapter {
  readonly name: string;
  start(ingest: Ingest): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
}
