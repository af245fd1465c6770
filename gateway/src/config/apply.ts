// What a new config means for a running gateway: which parts restart, which rebuild in place, and
// which keys only a process restart can change. Pure (no I/O) so the plan is tested on its own;
// Gateway.reconfigure carries it out.
import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig } from './schema.js';

export type AdapterName = 'mqtt' | 'coap' | 'modbus';
export const ADAPTERS: readonly AdapterName[] = ['mqtt', 'coap', 'modbus'];

export type AdapterAction = 'none' | 'start' | 'stop' | 'restart';

export interface ApplyPlan {
  adapters: Record<AdapterName, AdapterAction>;
  /** pipeline, devices or rateLimit changed: the pipeline's steps are rebuilt. */
  pipeline: boolean;
  /** kafka or forward changed: the forwarder restarts (leased batches go again with their seqs). */
  kafka: boolean;
  /** Dotted keys whose new value is in the file but takes effect only at the next start. */
  restartRequired: string[];
}

export interface ApplyFailure {
  part: string;
  code: string;
  message: string;
}

/** The answer to an edit: parts applied, keys waiting for a restart, parts that failed. */
export interface ApplyResult {
  applied: string[];
  restartRequired: string[];
  failed: ApplyFailure[];
}

/**
 * Sections read only at construction: the outbox file and its bounds, the API's listener and token
 * (changing the token under the page that sent the change would lock it out), the identity the cloud
 * keys batches by, the log level (pino's child loggers copy it when made), how cloud configs are
 * followed and the commands consumer (each consumer is made once, at start), and the clock (the
 * outbox's lease hook holds the one made at start).
 */
const RESTART_ONLY = ['gatewayId', 'dataDir', 'logLevel', 'outbox', 'api', 'cloudConfig', 'commands', 'clock'] as const;

export function planApply(prev: GatewayConfig, next: GatewayConfig): ApplyPlan {
  const adapters = {} as Record<AdapterName, AdapterAction>;
  for (const name of ADAPTERS) {
    const a = prev[name];
    const b = next[name];
    let action: AdapterAction = 'none';
    if (a.enabled && !b.enabled) action = 'stop';
    else if (!a.enabled && b.enabled) action = 'start';
    else if (b.enabled && !isDeepStrictEqual(a, b)) action = 'restart';
    adapters[name] = action;
  }
  // The MQTT adapter reads rateLimit.disconnectAfter itself.
  if (adapters.mqtt === 'none' && next.mqtt.enabled && prev.rateLimit.disconnectAfter !== next.rateLimit.disconnectAfter) adapters.mqtt = 'restart';
  const pipeline = (['pipeline', 'devices', 'rateLimit'] as const).some((k) => !isDeepStrictEqual(prev[k], next[k]));
  // The forwarder reads forward.* at construction too.
  const kafka = !isDeepStrictEqual(prev.kafka, next.kafka) || !isDeepStrictEqual(prev.forward, next.forward);
  const restartRequired = RESTART_ONLY.flatMap((k) => changedKeys(prev[k], next[k], k));
  return { adapters, pipeline, kafka, restartRequired };
}

/** The dotted keys that differ, down to leaves and whole arrays. */
export function changedKeys(a: unknown, b: unknown, path: string): string[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (isPlain(a) && isPlain(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedKeys(a[k], b[k], `${path}.${k}`));
  }
  return [path];
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The config the gateway runs after an edit: `next`, except for the restart-only sections (they keep
 * their running values) and for adapters whose new settings failed to start (they keep the old).
 */
export function runningConfig(prev: GatewayConfig, next: GatewayConfig, failedAdapters: readonly AdapterName[]): GatewayConfig {
  const out = { ...next } as Record<string, unknown>;
  for (const k of RESTART_ONLY) out[k] = prev[k];
  for (const name of failedAdapters) out[name] = prev[name];
  return out as GatewayConfig;
}
